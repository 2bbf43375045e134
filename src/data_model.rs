//! The data model a server's request works on (Core 1.1 §6.3): one interface over the objects
//! the library holds (the store, staged in a `Transaction`) and the objects the application
//! holds (`ObjectHandler`s). An application object is called directly, per operation, and only
//! after the request passed its checks; its values are never copied into the store.
//!
//! A request that changes an application object runs inside that object's transaction
//! (`begin` before the first change, then `validate` and `commit`, or `rollback`), the way the
//! store's changes run inside the staged copy that is committed or dropped.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::coap::msg;
use crate::model::{ObjectDef, ResourceDef};
use crate::object::{ErrorCode, ObjectHandler, PresentResources};
use crate::store::Store;
use crate::value::{ResourceValue, Resources};

/// The application's objects, by object ID.
pub(crate) type Handlers = BTreeMap<u16, Box<dyn ObjectHandler>>;

/// The instances of the application's objects, by object ID (the store holds none of them).
pub(crate) type AppInstances = BTreeMap<u16, Vec<u16>>;

/// The instance IDs of object `o`, from the application's list if it holds `o`.
pub(crate) fn instance_ids_of(store: &Store, app: &AppInstances, o: u16) -> Vec<u16> {
    match app.get(&o) {
        Some(ids) => ids.clone(),
        None => store.instance_ids(o),
    }
}

/// Asks each application object which instances it has now. One whose list cannot be had is
/// shown without instances: what it announces follows what it can answer.
pub(crate) fn app_instances(handlers: &mut Handlers) -> AppInstances {
    handlers
        .iter_mut()
        .map(|(o, h)| {
            let mut ids = h.instances().unwrap_or_default();
            ids.sort_unstable();
            ids.dedup();
            (*o, ids)
        })
        .collect()
}

/// How a Write treats the resources of the instance it does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMode {
    /// PUT on `/O/I` (Core 1.1 §5.4.3 "Replace"): writable optional resources absent from the
    /// payload are removed.
    Replace,
    /// PUT on `/O/I/R` or POST ("Partial Update"): only the named resources change.
    Update,
}

/// Who carried out an Execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Executed {
    /// The application's object handler ran it.
    ByApplication,
    /// A store-held resource: the application learns of it through an event.
    ToReport,
}

/// The objects one request works on.
pub(crate) struct DataModel<'a> {
    store: &'a mut Store,
    handlers: &'a mut Handlers,
    /// Application objects whose transaction was begun by this request.
    begun: BTreeSet<u16>,
}

impl<'a> DataModel<'a> {
    pub(crate) fn new(store: &'a mut Store, handlers: &'a mut Handlers) -> DataModel<'a> {
        DataModel {
            store,
            handlers,
            begun: BTreeSet::new(),
        }
    }

    /// The store-held side (object definitions for the codecs, the Server object's accounts).
    pub(crate) fn store(&self) -> &Store {
        self.store
    }

    /// The store-held side, to change directly: the Access Control instances that follow a
    /// Create or a Delete (`access`), which live in the store whoever holds the target.
    pub(crate) fn store_mut(&mut self) -> &mut Store {
        self.store
    }

    pub(crate) fn def(&self, o: u16) -> Option<&ObjectDef> {
        self.store.def(o)
    }

    fn def_owned(&self, o: u16) -> Result<ObjectDef, u8> {
        self.store.def(o).cloned().ok_or(msg::NOT_FOUND)
    }

    pub(crate) fn instance_ids(&mut self, o: u16) -> Result<Vec<u16>, u8> {
        match self.handlers.get_mut(&o) {
            Some(h) => {
                let mut ids = h.instances().map_err(ErrorCode::code)?;
                ids.sort_unstable();
                ids.dedup();
                Ok(ids)
            }
            None => Ok(self.store.instance_ids(o)),
        }
    }

    pub(crate) fn has_instance(&mut self, o: u16, i: u16) -> Result<bool, u8> {
        match self.handlers.contains_key(&o) {
            true => Ok(self.instance_ids(o)?.contains(&i)),
            false => Ok(self.store.has_instance(o, i)),
        }
    }

    /// The value of `/o/i/r`, `None` if the resource is not present. A value the application
    /// hands over that does not match the resource's declared shape and type is its fault: 5.00.
    pub(crate) fn read(&mut self, o: u16, i: u16, r: u16) -> Result<Option<ResourceValue>, u8> {
        let Some(h) = self.handlers.get_mut(&o) else {
            return Ok(self.store.resource(o, i, r).cloned());
        };
        let rdef = self
            .store
            .def(o)
            .and_then(|d| d.resource(r))
            .ok_or(msg::NOT_FOUND)?;
        match h.read(i, r) {
            Ok(v) if value_fits(&v, rdef) => Ok(Some(v)),
            Ok(_) => Err(msg::INTERNAL_SERVER_ERROR),
            Err(ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e.code()),
        }
    }

    /// The readable resources of instance `/o/i` with their values (Core 1.1 §6.3.1: a Read
    /// of an instance skips resources that do not support Read).
    /// Whether the store holds object `o`'s values (no application handler).
    pub(crate) fn store_held(&self, o: u16) -> bool {
        !self.handlers.contains_key(&o)
    }

    /// Instance `/o/i` of a store-held object as a Read shows it, borrowed when every
    /// resource it holds is readable (the usual case: no copy), else its readable ones copied.
    pub(crate) fn read_stored_instance<'s>(
        store: &'s Store,
        def: &ObjectDef,
        i: u16,
    ) -> Result<Cow<'s, Resources>, u8> {
        let inst = store.instance(def.id, i).ok_or(msg::NOT_FOUND)?;
        let mut defs = def.ascending();
        if inst
            .keys()
            .all(|rid| defs.get(*rid).is_some_and(|r| r.operations.readable()))
        {
            return Ok(Cow::Borrowed(inst));
        }
        let mut defs = def.ascending();
        Ok(Cow::Owned(
            inst.iter()
                .filter(|(rid, _)| defs.get(**rid).is_some_and(|r| r.operations.readable()))
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
        ))
    }

    pub(crate) fn read_instance(&mut self, o: u16, i: u16) -> Result<Resources, u8> {
        let def = self.def_owned(o)?;
        let readable = |r: &ResourceDef| r.operations.readable();
        if !self.handlers.contains_key(&o) {
            let inst = self.store.instance(o, i).ok_or(msg::NOT_FOUND)?;
            return Ok(inst
                .iter()
                .filter(|(rid, _)| def.resource(**rid).is_some_and(readable))
                .map(|(k, v)| (*k, v.clone()))
                .collect());
        }
        let mut out = Resources::new();
        for rdef in def.resources.iter().filter(|r| readable(r)) {
            if let Some(v) = self.read(o, i, rdef.id)? {
                out.insert(rdef.id, v);
            }
        }
        Ok(out)
    }

    /// What Discover shows of instance `/o/i`: its resources, with the number of instances of
    /// each multiple one. An application object that lists its resources is not read at all (a
    /// Discover must not read every sensor); one that does not is read, leaving out what fails.
    pub(crate) fn present(&mut self, o: u16, i: u16) -> Result<PresentResources, u8> {
        let def = self.def_owned(o)?;
        let dim = |v: &ResourceValue| match v {
            ResourceValue::Multiple(m) => Some(m.len()),
            ResourceValue::Single(_) => None,
        };
        let Some(h) = self.handlers.get_mut(&o) else {
            let inst = self.store.instance(o, i).ok_or(msg::NOT_FOUND)?;
            return Ok(inst.iter().map(|(rid, v)| (*rid, dim(v))).collect());
        };
        if let Some(listed) = h.resources(i).map_err(ErrorCode::code)? {
            return Ok(listed
                .into_iter()
                .filter(|(rid, _)| def.resource(*rid).is_some())
                .collect());
        }
        let mut out = PresentResources::new();
        for rdef in def.resources.iter().filter(|r| r.operations.readable()) {
            if let Ok(Some(v)) = self.read(o, i, rdef.id) {
                out.push((rdef.id, dim(&v)));
            }
        }
        Ok(out)
    }

    /// Writes `incoming` (resources the caller checked as writable) into the existing instance
    /// `/o/i`.
    pub(crate) fn write(
        &mut self,
        o: u16,
        i: u16,
        incoming: Resources,
        mode: WriteMode,
    ) -> Result<(), u8> {
        let def = self.store.def(o).ok_or(msg::NOT_FOUND)?;
        if self.handlers.contains_key(&o) {
            // The application holds its values: it is told what was written, nothing more
            // (Replace cannot remove what it holds; its `validate` may refuse the result).
            let h = self.begin(o)?;
            for (rid, value) in &incoming {
                h.write(i, *rid, value).map_err(ErrorCode::code)?;
            }
            return Ok(());
        }
        // Replace removes what the payload leaves out, but not what a server cannot write or
        // must find there (read-only and mandatory resources).
        let kept = |rid: &u16| {
            incoming.contains_key(rid)
                || def
                    .resource(*rid)
                    .is_some_and(|r| !r.operations.writable() || r.mandatory)
        };
        let removed: Vec<u16> = match (mode, self.store.instance(o, i)) {
            (WriteMode::Replace, Some(held)) => held.keys().copied().filter(|r| !kept(r)).collect(),
            _ => Vec::new(),
        };
        // Written in place in the transaction's copy of the object (issue 15: the instance and
        // then the whole object were copied to be put back with set_instances).
        let instances = self
            .store
            .instances_mut(o)
            .ok_or(msg::INTERNAL_SERVER_ERROR)?;
        let instance = instances.entry(i).or_default();
        for rid in removed {
            instance.remove(&rid);
        }
        instance.extend(incoming);
        Ok(())
    }

    /// Creates `/o/i` with `resources` (checked by the caller).
    pub(crate) fn create(&mut self, o: u16, i: u16, resources: Resources) -> Result<(), u8> {
        if self.handlers.contains_key(&o) {
            return self
                .begin(o)?
                .create(i, &resources)
                .map_err(ErrorCode::code);
        }
        self.store
            .create_instance(o, i, resources)
            .map_err(|_| msg::BAD_REQUEST)
    }

    /// Deletes `/o/i`; `Ok(false)` if it does not exist.
    pub(crate) fn delete(&mut self, o: u16, i: u16) -> Result<bool, u8> {
        if self.handlers.contains_key(&o) {
            if !self.has_instance(o, i)? {
                return Ok(false);
            }
            self.begin(o)?.delete(i).map_err(ErrorCode::code)?;
            return Ok(true);
        }
        Ok(self.store.remove_instance(o, i))
    }

    /// Executes `/o/i/r` (checked executable by the caller).
    pub(crate) fn execute(&mut self, o: u16, i: u16, r: u16, args: &[u8]) -> Result<Executed, u8> {
        match self.handlers.get_mut(&o) {
            Some(h) => h
                .execute(i, r, args)
                .map(|()| Executed::ByApplication)
                .map_err(ErrorCode::code),
            None => Ok(Executed::ToReport),
        }
    }

    /// The handler of `o` inside its transaction, begun on first use.
    fn begin(&mut self, o: u16) -> Result<&mut Box<dyn ObjectHandler>, u8> {
        let h = self.handlers.get_mut(&o).ok_or(msg::NOT_FOUND)?;
        if self.begun.insert(o) {
            h.begin().map_err(ErrorCode::code)?;
        }
        Ok(h)
    }

    /// Ends the request's use of the data model, handing over the transaction of the
    /// application objects it changed.
    pub(crate) fn end(self) -> AppTransaction {
        AppTransaction { begun: self.begun }
    }
}

/// The application objects one request changed, whose transactions are still open.
#[must_use = "an open transaction must be committed or rolled back"]
pub(crate) struct AppTransaction {
    begun: BTreeSet<u16>,
}

impl AppTransaction {
    /// Asks every application object the request changed whether the result is consistent.
    pub(crate) fn validate(&self, handlers: &mut Handlers) -> Result<(), u8> {
        for o in &self.begun {
            if let Some(h) = handlers.get_mut(o) {
                h.validate().map_err(ErrorCode::code)?;
            }
        }
        Ok(())
    }

    /// The application objects changed commit (`true`) or roll back.
    pub(crate) fn finish(self, handlers: &mut Handlers, commit: bool) {
        for o in &self.begun {
            if let Some(h) = handlers.get_mut(o) {
                match commit {
                    true => h.commit(),
                    false => h.rollback(),
                }
            }
        }
    }
}

/// Whether a value handed over by the application has the shape and type its resource declares.
pub(crate) fn value_fits(v: &ResourceValue, rdef: &ResourceDef) -> bool {
    match v {
        ResourceValue::Single(x) => !rdef.multiple && x.resource_type() == rdef.kind,
        ResourceValue::Multiple(m) => {
            rdef.multiple && m.values().all(|x| x.resource_type() == rdef.kind)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Path;
    use crate::value::Value;

    fn int(v: i64) -> ResourceValue {
        ResourceValue::Single(Value::Integer(v))
    }

    /// Server instance /1/0 holding SSID (0, read-only), Lifetime (1, mandatory), Default
    /// Minimum and Maximum Period (2, 3: writable, optional), Binding (7, mandatory) and a
    /// resource its definition does not know (99).
    fn store() -> Store {
        let mut s = Store::with_standard_objects();
        let held: Resources = [
            (0, int(101)),
            (1, int(300)),
            (2, int(5)),
            (3, int(50)),
            (7, ResourceValue::Single(Value::String("U".into()))),
        ]
        .into_iter()
        .collect();
        let mut instances = crate::value::Instances::new();
        let mut with_unknown = held;
        with_unknown.insert(99, int(1));
        instances.insert(0, with_unknown);
        s.set_instances(1, instances).unwrap();
        s
    }

    #[test]
    fn a_replace_removes_what_it_leaves_out_but_read_only_and_mandatory_resources() {
        // Core 1.1 §5.4.3 "Replace": PUT on /O/I replaces the instance's writable resources.
        let mut s = store();
        let mut handlers = Handlers::new();
        let mut model = DataModel::new(&mut s, &mut handlers);
        let incoming: Resources = [(1, int(60))].into_iter().collect();
        model.write(1, 0, incoming, WriteMode::Replace).unwrap();
        let ids: Vec<u16> = s.instance(1, 0).unwrap().keys().copied().collect();
        assert_eq!(ids, [0, 1, 7]);
        assert_eq!(s.value(&Path::resource(1, 0, 1)), Some(&Value::Integer(60)));
        assert_eq!(
            s.value(&Path::resource(1, 0, 0)),
            Some(&Value::Integer(101))
        );
    }

    #[test]
    fn an_update_changes_only_what_it_names_and_a_write_creates_a_missing_instance() {
        let mut s = store();
        let mut handlers = Handlers::new();
        let mut model = DataModel::new(&mut s, &mut handlers);
        let incoming: Resources = [(2, int(7))].into_iter().collect();
        model.write(1, 0, incoming, WriteMode::Update).unwrap();
        let ids: Vec<u16> = s.instance(1, 0).unwrap().keys().copied().collect();
        assert_eq!(ids, [0, 1, 2, 3, 7, 99]);
        assert_eq!(s.value(&Path::resource(1, 0, 2)), Some(&Value::Integer(7)));
        let mut model = DataModel::new(&mut s, &mut handlers);
        let incoming: Resources = [(1, int(90))].into_iter().collect();
        model.write(1, 4, incoming, WriteMode::Replace).unwrap();
        assert_eq!(s.instance_ids(1), [0, 4]);
        assert_eq!(s.value(&Path::resource(1, 4, 1)), Some(&Value::Integer(90)));
        // An object not defined is 4.04 and changes nothing.
        let before = s.clone();
        let mut model = DataModel::new(&mut s, &mut handlers);
        assert_eq!(
            model.write(4242, 0, Resources::new(), WriteMode::Update),
            Err(msg::NOT_FOUND)
        );
        assert_eq!(s, before);
    }
}
