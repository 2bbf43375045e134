//! Object and resource definitions (the "object model").
//!
//! The standard objects are `const` tables (no allocation per client); objects the application
//! defines at run time (for example from C) own their tables. Both are `ObjectDef`.

use alloc::borrow::Cow;

use crate::value::ResourceType;

mod access_control;
mod device;
mod firmware;
mod security;
mod server;

pub use access_control::ACCESS_CONTROL;
pub use device::DEVICE;
pub use firmware::FIRMWARE;
pub use security::SECURITY;
pub use server::SERVER;

/// Object IDs with a fixed meaning in the core.
pub mod oid {
    /// LwM2M Security (Core 1.1 §E.1).
    pub const SECURITY: u16 = 0;
    /// LwM2M Server (Core 1.1 §E.2).
    pub const SERVER: u16 = 1;
    /// LwM2M Access Control (Core 1.1 §E.3).
    pub const ACCESS_CONTROL: u16 = 2;
    /// Device (Core 1.1 §E.4).
    pub const DEVICE: u16 = 3;
    /// Firmware Update (Core 1.1 §E.6); optional, see [`FIRMWARE`](super::FIRMWARE).
    pub const FIRMWARE: u16 = 5;
    /// LwM2M OSCORE (new in LwM2M 1.1); like Security, never shown to a DM server.
    pub const OSCORE: u16 = 21;
}

/// Which operations a DM server may perform on a resource (the `<Operations>` element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Operations(u8);

impl Operations {
    /// No operation (e.g. every Security resource: only bootstrap may touch it).
    pub const NONE: Operations = Operations(0);
    /// Read only.
    pub const R: Operations = Operations(1);
    /// Write only.
    pub const W: Operations = Operations(2);
    /// Read and write.
    pub const RW: Operations = Operations(3);
    /// Execute only (an executable resource, which has no value).
    pub const E: Operations = Operations(4);

    /// Whether Read is allowed.
    pub const fn readable(self) -> bool {
        self.0 & 1 != 0
    }
    /// Whether Write is allowed.
    pub const fn writable(self) -> bool {
        self.0 & 2 != 0
    }
    /// Whether Execute is allowed.
    pub const fn executable(self) -> bool {
        self.0 & 4 != 0
    }
    /// Builds from the model's letters ("R", "RW", "E", ""); unknown letters are ignored.
    pub fn from_letters(s: &str) -> Operations {
        let mut bits = 0;
        for c in s.chars() {
            match c {
                'R' | 'r' => bits |= 1,
                'W' | 'w' => bits |= 2,
                'E' | 'e' => bits |= 4,
                _ => {}
            }
        }
        Operations(bits)
    }
    /// From the bits READ=1, WRITE=2, EXECUTE=4 (as the C API passes them); `None` for
    /// other bits or for execute combined with read/write, which no resource has.
    pub const fn from_bits(bits: u8) -> Option<Operations> {
        match bits {
            0..=4 => Some(Operations(bits)),
            _ => None,
        }
    }

    /// The bits READ=1, WRITE=2, EXECUTE=4, as [`Operations::from_bits`] takes them.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

/// One resource of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    /// The resource ID within its object.
    pub id: u16,
    /// The resource name from the model (`<Name>`), for humans and logs.
    pub name: Cow<'static, str>,
    /// The data type of its values (`<Type>`; [`ResourceType::None`] for executables).
    pub kind: ResourceType,
    /// What a DM server may do with it (`<Operations>`).
    pub operations: Operations,
    /// Whether it is a multiple-instance resource (`<MultipleInstances>`).
    pub multiple: bool,
    /// Whether the model marks it Mandatory (`<Mandatory>`).
    pub mandatory: bool,
}

impl ResourceDef {
    /// Shorthand for the const tables below.
    pub const fn new(
        id: u16,
        name: &'static str,
        kind: ResourceType,
        operations: Operations,
        multiple: bool,
        mandatory: bool,
    ) -> ResourceDef {
        ResourceDef {
            id,
            name: Cow::Borrowed(name),
            kind,
            operations,
            multiple,
            mandatory,
        }
    }
}

/// One object: its ID, version and resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDef {
    /// The object ID (`<ObjectID>`).
    pub id: u16,
    /// The object name from the model (`<Name>`), for humans and logs.
    pub name: Cow<'static, str>,
    /// Object version ("1.1"); announced with `ver=` in Register and Discover when not "1.0".
    pub version: Cow<'static, str>,
    /// Whether the object may have several instances (`<MultipleInstances>`).
    pub multiple: bool,
    /// Whether the model marks the object Mandatory (`<Mandatory>`).
    pub mandatory: bool,
    /// The resource definitions (the standard tables list them by ascending ID).
    pub resources: Cow<'static, [ResourceDef]>,
}

impl ObjectDef {
    /// The definition of resource `id`, if the object has it.
    pub fn resource(&self, id: u16) -> Option<&ResourceDef> {
        // The standard tables are sorted by ID, so a binary search finds their resources; a
        // table given in another order is still searched whole when it misses.
        match self.resources.binary_search_by_key(&id, |r| r.id) {
            Ok(at) => self.resources.get(at),
            Err(_) => self.resources.iter().find(|r| r.id == id),
        }
    }

    /// A lookup of resources asked for in ascending ID order (an instance's, as it holds them):
    /// one walk along a sorted table instead of a search per resource.
    pub(crate) fn ascending(&self) -> Ascending<'_> {
        Ascending { def: self, at: 0 }
    }

    /// The `ver=` value to announce, or `None` for version 1.0 (Core 1.1 §6.2.2: omitted when 1.0).
    pub fn announced_version(&self) -> Option<&str> {
        if self.version == "1.0" || self.version.is_empty() {
            None
        } else {
            Some(&self.version)
        }
    }
}

/// Shape of a resource as codecs need it: its type and whether it has instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceShape {
    /// The data type of the resource's values.
    pub kind: ResourceType,
    /// Whether it is a multiple-instance resource.
    pub multiple: bool,
}

/// Looks up resource shapes by (object, resource). Codecs use it to type untyped payloads (TLV,
/// text) and to decide between single and multiple resources.
pub trait Schema {
    /// The shape of resource `resource` of object `object`, or `None` if either is unknown.
    fn shape(&self, object: u16, resource: u16) -> Option<ResourceShape>;

    /// Object `object`'s whole definition, when the schema holds it as one: a codec decoding
    /// many resources of one instance then finds each along the table instead of asking
    /// [`shape`](Self::shape) per resource. `None` (the default) keeps it asking `shape`.
    fn object(&self, object: u16) -> Option<&ObjectDef> {
        let _ = object;
        None
    }
}

impl ResourceShape {
    /// The shape a definition gives a resource.
    pub fn of(def: &ResourceDef) -> ResourceShape {
        ResourceShape {
            kind: def.kind,
            multiple: def.multiple,
        }
    }
}

impl Schema for [&ObjectDef] {
    fn shape(&self, object: u16, resource: u16) -> Option<ResourceShape> {
        self.object(object)?
            .resource(resource)
            .map(ResourceShape::of)
    }

    fn object(&self, object: u16) -> Option<&ObjectDef> {
        self.iter().find(|o| o.id == object).copied()
    }
}

impl Schema for ObjectDef {
    fn shape(&self, object: u16, resource: u16) -> Option<ResourceShape> {
        self.object(object)?
            .resource(resource)
            .map(ResourceShape::of)
    }

    fn object(&self, object: u16) -> Option<&ObjectDef> {
        (object == self.id).then_some(self)
    }
}

/// The standard objects this library defines.
pub fn standard_objects() -> [&'static ObjectDef; 4] {
    [&SECURITY, &SERVER, &ACCESS_CONTROL, &DEVICE]
}

/// See [`ObjectDef::ascending`].
pub(crate) struct Ascending<'d> {
    def: &'d ObjectDef,
    at: usize,
}

impl<'d> Ascending<'d> {
    /// The definition of resource `id`. IDs asked in ascending order cost one step each along
    /// a sorted table; a table in another order, or an ID asked out of order, is searched as
    /// [`ObjectDef::resource`] does.
    pub(crate) fn get(&mut self, id: u16) -> Option<&'d ResourceDef> {
        let defs = &self.def.resources;
        while defs.get(self.at).is_some_and(|d| d.id < id) {
            self.at += 1;
        }
        match defs.get(self.at) {
            Some(d) if d.id == id => Some(d),
            _ => self.def.resource(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_tables_have_unique_sorted_ids() {
        for def in standard_objects() {
            let ids: alloc::vec::Vec<u16> = def.resources.iter().map(|r| r.id).collect();
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(ids, sorted, "object {}", def.id);
        }
    }

    #[test]
    fn resources_are_found_in_sorted_and_unsorted_tables() {
        for id in 0..=23u16 {
            assert_eq!(DEVICE.resource(id).map(|r| r.id), (id <= 22).then_some(id));
        }
        let mut unsorted = DEVICE.clone();
        unsorted.resources.to_mut().reverse();
        for id in 0..=22u16 {
            assert_eq!(unsorted.resource(id).map(|r| r.id), Some(id), "{id}");
        }
        assert!(unsorted.resource(23).is_none());
    }

    #[test]
    fn an_ascending_lookup_finds_what_resource_finds_in_any_order_asked() {
        let mut unsorted = DEVICE.clone();
        unsorted.resources.to_mut().reverse();
        let ascending: alloc::vec::Vec<u16> = (0..=25).collect();
        let orders = [
            ascending.clone(),
            ascending.iter().rev().copied().collect(),
            alloc::vec![0, 0, 3, 2, 9, 24, 9, 22, 1],
            ascending.iter().copied().filter(|id| id % 3 == 0).collect(),
        ];
        for def in [&DEVICE, &unsorted] {
            for ids in &orders {
                let mut lookup = def.ascending();
                for id in ids {
                    let found = lookup.get(*id).map(|r| r.id);
                    assert_eq!(found, def.resource(*id).map(|r| r.id), "{id} in {ids:?}");
                }
            }
        }
    }

    #[test]
    fn shapes_come_from_the_models() {
        let objs = standard_objects();
        let schema: &[&ObjectDef] = &objs;
        assert_eq!(
            schema.shape(0, 16),
            Some(ResourceShape {
                kind: ResourceType::UnsignedInteger,
                multiple: true
            })
        );
        assert_eq!(
            schema.shape(3, 13),
            Some(ResourceShape {
                kind: ResourceType::Time,
                multiple: false
            })
        );
        assert_eq!(schema.shape(3, 99), None);
        assert_eq!(SERVER.announced_version(), Some("1.1"));
        assert_eq!(ACCESS_CONTROL.announced_version(), None);
        assert!(DEVICE.resource(4).unwrap().operations.executable());
    }

    #[test]
    fn operations_from_c_bits() {
        assert_eq!(Operations::from_bits(3), Some(Operations::RW));
        assert_eq!(Operations::from_bits(4), Some(Operations::E));
        assert_eq!(Operations::from_bits(0), Some(Operations::NONE));
        for bad in [5, 6, 7, 8, 255] {
            assert_eq!(Operations::from_bits(bad), None, "{bad}");
        }
    }
}
