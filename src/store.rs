//! The object store: which objects exist, their instances and resource values.
//!
//! The store knows nothing about who is asking: permission rules (DM vs Bootstrap, the Security
//! object's invisibility, read-only resources) live in `dm.rs` and `bootstrap.rs`.
//!
//! Cloning is cheap and copy-on-write: each object's definition and instances sit behind an
//! `Arc`, so a clone shares them until one side changes an object, and only that object is
//! copied. A transaction (`crate::transaction`) is therefore a clone, and what it changed is
//! the objects whose `Arc` no longer points where the original's does.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::model::{ObjectDef, ResourceShape, Schema};
use crate::path::Path;
use crate::value::{Instances, ResourceValue, Resources, Value, VecMap};

/// Errors from store operations, each with the CoAP code a server would get.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The object's definition has no resource with this ID; carries the path asked for.
    #[error("{0} not found")]
    NotFound(Path),
    /// The instance to create, `/O/I`, already exists.
    #[error("{0} already exists")]
    AlreadyExists(Path),
    /// The store defines no object with this ID.
    #[error("object {0} is not defined")]
    UnknownObject(u16),
    /// The object with this ID is single-instance ([`ObjectDef::multiple`] is false) and
    /// already has its instance, so a second one cannot be added.
    #[error("object {0} is single-instance")]
    SingleInstance(u16),
    /// The value does not fit the resource at this path: a type other than the definition's,
    /// or one value for a multiple resource (or instances for a single one).
    #[error("value of wrong type for {0}")]
    WrongType(Path),
    /// The path has the wrong depth for the operation (e.g. [`Store::set`] wants `/O/I/R` for a
    /// single resource and `/O/I/R/RI` for a multiple one).
    #[error("path {0} does not name what this operation needs")]
    BadPath(Path),
}

/// An object's definition: the standard tables are statics shared by every client (issue 15:
/// no copy per client); a definition made at run time (C, Python) is owned.
#[derive(Debug, Clone)]
enum Def {
    Static(&'static ObjectDef),
    Owned(Arc<ObjectDef>),
}

impl core::ops::Deref for Def {
    type Target = ObjectDef;
    fn deref(&self) -> &ObjectDef {
        match self {
            Def::Static(def) => def,
            Def::Owned(def) => def,
        }
    }
}

impl PartialEq for Def {
    fn eq(&self, other: &Def) -> bool {
        **self == **other
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ObjectSlot {
    def: Def,
    instances: Arc<Instances>,
    /// Saved in the persistent snapshot (Security, Server, Access Control always; others when the
    /// application asks).
    persistent: bool,
}

/// See [`Store::version`].
#[derive(Debug, Clone)]
pub(crate) struct ObjectVersion(Weak<Instances>);

/// Objects, instances and values of one client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Store {
    objects: VecMap<u16, ObjectSlot>,
}

impl Store {
    /// An empty store with no objects defined.
    pub fn new() -> Store {
        Store::default()
    }

    /// A store with Security, Server, Access Control and Device defined, no instances.
    pub fn with_standard_objects() -> Store {
        let mut s = Store::new();
        for def in crate::model::standard_objects() {
            let persistent = def.id <= crate::model::oid::ACCESS_CONTROL;
            s.define_static(def, persistent);
        }
        s
    }

    /// Defines (or redefines, keeping instances) an object.
    pub fn define(&mut self, def: ObjectDef, persistent: bool) {
        let id = def.id;
        self.put_def(id, Def::Owned(Arc::new(def)), persistent);
    }

    /// Defines (or redefines, keeping instances) an object whose definition is a static table,
    /// such as [`crate::model::FIRMWARE`]: nothing of it is copied.
    pub fn define_static(&mut self, def: &'static ObjectDef, persistent: bool) {
        self.put_def(def.id, Def::Static(def), persistent);
    }

    fn put_def(&mut self, id: u16, def: Def, persistent: bool) {
        match self.objects.get_mut(&id) {
            Some(slot) => {
                slot.def = def;
                slot.persistent = persistent;
            }
            None => {
                self.objects.insert(
                    id,
                    ObjectSlot {
                        def,
                        instances: Arc::default(),
                        persistent,
                    },
                );
            }
        }
    }

    /// The definition of object `oid`, `None` when the store does not define it.
    pub fn def(&self, oid: u16) -> Option<&ObjectDef> {
        self.objects.get(&oid).map(|s| &*s.def)
    }

    /// IDs of every defined object, ascending.
    pub fn object_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.objects.keys().copied()
    }

    /// Whether object `oid` is saved in the persistent snapshot; false when it is not
    /// defined.
    pub fn is_persistent(&self, oid: u16) -> bool {
        self.objects.get(&oid).is_some_and(|s| s.persistent)
    }

    /// Chooses whether object `oid` is saved in the persistent snapshot.
    /// [`StoreError::UnknownObject`] when it is not defined.
    pub fn set_persistent(&mut self, oid: u16, persistent: bool) -> Result<(), StoreError> {
        let slot = self
            .objects
            .get_mut(&oid)
            .ok_or(StoreError::UnknownObject(oid))?;
        slot.persistent = persistent;
        Ok(())
    }

    /// The instances of object `oid` held in the store, by instance ID; `None` when the object
    /// is not defined. An object the application holds (`Client::set_handler`) has its
    /// instances there, not here.
    pub fn instances(&self, oid: u16) -> Option<&Instances> {
        self.objects.get(&oid).map(|s| &*s.instances)
    }

    /// The IDs of object `oid`'s instances in the store, ascending; empty when it has none or is
    /// not defined.
    pub fn instance_ids(&self, oid: u16) -> Vec<u16> {
        self.instances(oid)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The resources of instance `/oid/iid`, by resource ID; `None` when it does not exist.
    pub fn instance(&self, oid: u16, iid: u16) -> Option<&Resources> {
        self.instances(oid)?.get(&iid)
    }

    /// Whether instance `/oid/iid` exists in the store.
    pub fn has_instance(&self, oid: u16, iid: u16) -> bool {
        self.instance(oid, iid).is_some()
    }

    /// The resource at `/O/I/R`.
    pub fn resource(&self, oid: u16, iid: u16, rid: u16) -> Option<&ResourceValue> {
        self.instance(oid, iid)?.get(&rid)
    }

    /// A single value at `/O/I/R` (single resource) or `/O/I/R/RI`.
    pub fn value(&self, path: &Path) -> Option<&Value> {
        let (o, i, r) = (path.object_id()?, path.instance_id()?, path.resource_id()?);
        match (self.resource(o, i, r)?, path.resource_instance_id()) {
            (ResourceValue::Single(v), None) => Some(v),
            (ResourceValue::Multiple(m), Some(ri)) => m.get(&ri),
            _ => None,
        }
    }

    /// Object `oid`'s instances to change in place (copied first if another store shares
    /// them); `None` for an object not defined. Nothing is checked: the caller decoded the
    /// values against the object's definition (Bootstrap-Write, a DM Write).
    pub(crate) fn instances_mut(&mut self, oid: u16) -> Option<&mut Instances> {
        let slot = self.objects.get_mut(&oid)?;
        Some(Arc::make_mut(&mut slot.instances))
    }

    /// Replaces all instances of an object (used when restoring a snapshot).
    pub fn set_instances(&mut self, oid: u16, instances: Instances) -> Result<(), StoreError> {
        let slot = self
            .objects
            .get_mut(&oid)
            .ok_or(StoreError::UnknownObject(oid))?;
        slot.instances = Arc::new(instances);
        Ok(())
    }

    /// Creates an instance; fails if it exists or the object is single-instance and already has one.
    pub fn create_instance(
        &mut self,
        oid: u16,
        iid: u16,
        resources: Resources,
    ) -> Result<(), StoreError> {
        let slot = self
            .objects
            .get_mut(&oid)
            .ok_or(StoreError::UnknownObject(oid))?;
        if slot.instances.contains_key(&iid) {
            return Err(StoreError::AlreadyExists(Path::instance(oid, iid)));
        }
        if !slot.def.multiple && !slot.instances.is_empty() {
            return Err(StoreError::SingleInstance(oid));
        }
        check_types(&slot.def, oid, iid, &resources)?;
        Arc::make_mut(&mut slot.instances).insert(iid, resources);
        Ok(())
    }

    /// Writes resources into an instance, creating it if missing, keeping resources not named.
    pub fn merge_instance(
        &mut self,
        oid: u16,
        iid: u16,
        resources: Resources,
    ) -> Result<(), StoreError> {
        let slot = self
            .objects
            .get_mut(&oid)
            .ok_or(StoreError::UnknownObject(oid))?;
        check_types(&slot.def, oid, iid, &resources)?;
        if !slot.instances.contains_key(&iid) && !slot.def.multiple && !slot.instances.is_empty() {
            return Err(StoreError::SingleInstance(oid));
        }
        let inst = Arc::make_mut(&mut slot.instances).entry(iid).or_default();
        for (rid, value) in resources {
            inst.insert(rid, value);
        }
        Ok(())
    }

    /// Sets one resource (`/O/I/R`) or resource instance (`/O/I/R/RI`), creating the instance if
    /// needed. This is the application's setter: no operation rights are checked, types are.
    pub fn set(&mut self, path: &Path, value: Value) -> Result<(), StoreError> {
        let (o, i, r) = match (path.object_id(), path.instance_id(), path.resource_id()) {
            (Some(o), Some(i), Some(r)) => (o, i, r),
            _ => return Err(StoreError::BadPath(*path)),
        };
        let def = self.def(o).ok_or(StoreError::UnknownObject(o))?;
        let rdef = def.resource(r).ok_or(StoreError::NotFound(*path))?;
        if rdef.kind != value.resource_type() {
            return Err(StoreError::WrongType(*path));
        }
        let rv = match (rdef.multiple, path.resource_instance_id()) {
            (false, None) => ResourceValue::Single(value),
            (true, Some(ri)) => {
                let mut m = match self.resource(o, i, r) {
                    Some(ResourceValue::Multiple(m)) => m.clone(),
                    _ => VecMap::new(),
                };
                m.insert(ri, value);
                ResourceValue::Multiple(m)
            }
            _ => return Err(StoreError::BadPath(*path)),
        };
        let mut res = Resources::new();
        res.insert(r, rv);
        self.merge_instance(o, i, res)
    }

    /// Removes one instance; returns whether it existed.
    pub fn remove_instance(&mut self, oid: u16, iid: u16) -> bool {
        let Some(slot) = self.objects.get_mut(&oid) else {
            return false;
        };
        // Only copy the object if the instance is there to remove.
        slot.instances.contains_key(&iid)
            && Arc::make_mut(&mut slot.instances).remove(&iid).is_some()
    }

    /// Removes one resource from an instance; returns whether it existed.
    pub fn remove_resource(&mut self, oid: u16, iid: u16, rid: u16) -> bool {
        let Some(slot) = self.objects.get_mut(&oid) else {
            return false;
        };
        if !slot
            .instances
            .get(&iid)
            .is_some_and(|i| i.contains_key(&rid))
        {
            return false;
        }
        Arc::make_mut(&mut slot.instances)
            .get_mut(&iid)
            .and_then(|inst| inst.remove(&rid))
            .is_some()
    }

    /// Whether object `oid` is the same, unmodified data in both stores (one is a clone of the
    /// other and neither changed the object since). An object only one of them defines is not
    /// shared.
    pub fn shares_object(&self, other: &Store, oid: u16) -> bool {
        match (self.objects.get(&oid), other.objects.get(&oid)) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a.instances, &b.instances),
            _ => false,
        }
    }

    /// The version of object `oid`'s data now, to tell later whether it changed
    /// ([`is_version`](Self::is_version)) without keeping the data alive: a snapshot kept as a
    /// `Store` clone made every later write copy the object first (issue 15: a notification of
    /// the battery level copied and dropped the whole Device object).
    pub(crate) fn version(&self, oid: u16) -> Option<ObjectVersion> {
        let slot = self.objects.get(&oid)?;
        Some(ObjectVersion(Arc::downgrade(&slot.instances)))
    }

    /// Whether object `oid`'s data is still `version`. Every change goes through
    /// `Arc::make_mut` or replaces the `Arc`, and either gives the data another address while a
    /// `Weak` to the old one exists (the `Weak` also keeps that address from being reused).
    pub(crate) fn is_version(&self, oid: u16, version: &ObjectVersion) -> bool {
        self.objects
            .get(&oid)
            .is_some_and(|slot| core::ptr::eq(Arc::as_ptr(&slot.instances), version.0.as_ptr()))
    }

    /// Takes object `oid`'s instances from `from` (sharing them), if both stores define it.
    pub fn adopt_object(&mut self, from: &Store, oid: u16) {
        if let (Some(slot), Some(src)) = (self.objects.get_mut(&oid), from.objects.get(&oid)) {
            slot.instances = src.instances.clone();
        }
    }

    /// The smallest instance ID not in use (for creation without an explicit ID).
    pub fn free_instance_id(&self, oid: u16) -> Option<u16> {
        let used = self.instances(oid)?;
        (0..crate::path::MAX_ID).find(|id| !used.contains_key(id))
    }
}

fn check_types(
    def: &ObjectDef,
    oid: u16,
    iid: u16,
    resources: &Resources,
) -> Result<(), StoreError> {
    for (rid, rv) in resources {
        let path = Path::resource(oid, iid, *rid);
        let rdef = def.resource(*rid).ok_or(StoreError::NotFound(path))?;
        let ok = match rv {
            ResourceValue::Single(v) => !rdef.multiple && v.resource_type() == rdef.kind,
            ResourceValue::Multiple(m) => {
                rdef.multiple && m.values().all(|v| v.resource_type() == rdef.kind)
            }
        };
        if !ok {
            return Err(StoreError::WrongType(path));
        }
    }
    Ok(())
}

impl Schema for Store {
    fn shape(&self, object: u16, resource: u16) -> Option<ResourceShape> {
        self.def(object)?.resource(resource).map(ResourceShape::of)
    }

    fn object(&self, object: u16) -> Option<&ObjectDef> {
        self.def(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn single(v: Value) -> ResourceValue {
        ResourceValue::Single(v)
    }

    #[test]
    fn a_version_tells_every_change_of_its_object_and_no_other() {
        let mut s = Store::with_standard_objects();
        let battery = Path::resource(3, 0, 9);
        s.set(&battery, Value::Integer(80)).unwrap();
        s.set(&Path::resource(1, 0, 1), Value::Integer(300))
            .unwrap();
        // Each way a store's object changes, run on a store whose Device (3) and Server (1)
        // versions were just taken: Device must read as changed, Server as not.
        let changes: [fn(&mut Store); 8] = [
            |s| s.set(&Path::resource(3, 0, 9), Value::Integer(81)).unwrap(),
            // Written back to the same value: still a write, reported (the observer then
            // compares values and finds nothing to notify).
            |s| s.set(&Path::resource(3, 0, 9), Value::Integer(80)).unwrap(),
            |s| assert!(s.remove_resource(3, 0, 9)),
            |s| assert!(s.remove_instance(3, 0)),
            |s| s.merge_instance(3, 0, Resources::new()).unwrap(),
            |s| s.set_instances(3, Instances::new()).unwrap(),
            |s| {
                let mut staged = s.clone();
                staged
                    .set(&Path::resource(3, 0, 9), Value::Integer(5))
                    .unwrap();
                s.adopt_object(&staged, 3);
            },
            |s| {
                // Two writes: the second no longer has a Weak to move away from.
                s.set(&Path::resource(3, 0, 9), Value::Integer(1)).unwrap();
                s.set(&Path::resource(3, 0, 9), Value::Integer(2)).unwrap();
            },
        ];
        for (n, change) in changes.iter().enumerate() {
            // Its own copy of the data, as a client's store holds it (no other holder).
            let mut store = Store::with_standard_objects();
            for o in [1, 3] {
                let instances = s.instances(o).cloned().unwrap_or_default();
                store.set_instances(o, instances).unwrap();
            }
            let (device, server) = (store.version(3).unwrap(), store.version(1).unwrap());
            assert!(store.is_version(3, &device) && store.is_version(1, &server));
            change(&mut store);
            assert!(!store.is_version(3, &device), "change {n} not seen");
            assert!(store.is_version(1, &server), "change {n} seen on object 1");
        }
        assert!(s.version(4242).is_none());
    }

    #[test]
    fn set_creates_instance_and_checks_types() {
        let mut s = Store::with_standard_objects();
        s.set(&Path::resource(3, 0, 0), Value::String("ACME".to_string()))
            .unwrap();
        assert_eq!(
            s.value(&Path::resource(3, 0, 0)),
            Some(&Value::String("ACME".to_string()))
        );
        assert_eq!(
            s.set(&Path::resource(3, 0, 9), Value::String("x".to_string())),
            Err(StoreError::WrongType(Path::resource(3, 0, 9)))
        );
        assert_eq!(
            s.set(&Path::resource(3, 0, 99), Value::Integer(1)),
            Err(StoreError::NotFound(Path::resource(3, 0, 99)))
        );
        s.set(&Path::resource_instance(3, 0, 11, 0), Value::Integer(0))
            .unwrap();
        s.set(&Path::resource_instance(3, 0, 11, 3), Value::Integer(4))
            .unwrap();
        assert_eq!(
            s.value(&Path::resource_instance(3, 0, 11, 3)),
            Some(&Value::Integer(4))
        );
        // Device is single-instance: a second instance is refused, the first stays.
        assert_eq!(
            s.set(&Path::resource(3, 1, 0), Value::String("x".to_string())),
            Err(StoreError::SingleInstance(3))
        );
        assert_eq!(s.instance_ids(3), [0]);
    }

    #[test]
    fn create_merge_remove() {
        let mut s = Store::with_standard_objects();
        let mut r = Resources::new();
        r.insert(0, single(Value::Integer(1)));
        r.insert(1, single(Value::Integer(300)));
        s.create_instance(1, 0, r.clone()).unwrap();
        assert_eq!(
            s.create_instance(1, 0, r),
            Err(StoreError::AlreadyExists(Path::instance(1, 0)))
        );
        let mut upd = Resources::new();
        upd.insert(1, single(Value::Integer(60)));
        s.merge_instance(1, 0, upd).unwrap();
        assert_eq!(s.value(&Path::resource(1, 0, 0)), Some(&Value::Integer(1)));
        assert_eq!(s.value(&Path::resource(1, 0, 1)), Some(&Value::Integer(60)));
        assert_eq!(s.free_instance_id(1), Some(1));
        assert!(s.remove_instance(1, 0));
        assert!(!s.remove_instance(1, 0));
        assert!(s.instance_ids(1).is_empty());
    }
}
