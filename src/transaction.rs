//! One transaction type for every change to the data model (DESIGN §7): a Bootstrap session
//! (staged until Finish), a DM write, create or delete, smartcard provisioning and the account
//! purge all begin a [`Transaction`] on the committed store, change its staged copy, and then
//! either commit (the router persists the result once, then installs it) or drop it (rollback:
//! the committed store was never touched).
//!
//! The store is copy-on-write (`store.rs`), so beginning costs one shallow clone and the
//! objects a transaction changed are exactly those whose data it copied. Committing yields
//! [`Changes`], the paths that changed, which registration (an Update when the object list
//! changed) and, later, observations consume.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::path::Path;
use crate::store::Store;
use crate::value::{Instances, Resources};

/// What a committed transaction changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Instances created or deleted (`/O/I`): the object list changed (Core 1.1 §5.3.2).
    pub instances: BTreeSet<Path>,
    /// Resources whose value changed, appeared or disappeared in instances that exist before
    /// and after (`/O/I/R`).
    pub resources: BTreeSet<Path>,
}

impl Changes {
    /// True when nothing changed: no instance and no resource (only the unit tests ask).
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.resources.is_empty()
    }

    /// Whether Register/Update's object list is different now.
    pub(crate) fn object_list_changed(&self) -> bool {
        !self.instances.is_empty()
    }

    /// The object of every change (an object once per change: `any` over it needs no set).
    pub(crate) fn objects(&self) -> impl Iterator<Item = u16> + '_ {
        self.instances
            .iter()
            .chain(&self.resources)
            .filter_map(Path::object_id)
    }

    /// The changes between two versions of one object's instances.
    fn of_object(&mut self, o: u16, before: Option<&Instances>, after: Option<&Instances>) {
        let empty = Instances::new();
        let (before, after) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
        for (iid, res) in after {
            match before.get(iid) {
                None => {
                    self.instances.insert(Path::instance(o, *iid));
                }
                Some(old) => self.of_instance(o, *iid, old, res),
            }
        }
        for iid in before.keys().filter(|i| !after.contains_key(i)) {
            self.instances.insert(Path::instance(o, *iid));
        }
    }

    fn of_instance(&mut self, o: u16, iid: u16, before: &Resources, after: &Resources) {
        // Both are sorted by resource ID: one walk over the two side by side, comparing the
        // values of IDs present in both (no set of IDs put together first: issue 15).
        let (mut b, mut a) = (before.iter().peekable(), after.iter().peekable());
        loop {
            let changed = match (b.peek(), a.peek()) {
                (None, None) => return,
                (Some((rb, vb)), Some((ra, va))) if rb == ra => {
                    let rid = (vb != va).then_some(**rb);
                    b.next();
                    a.next();
                    rid
                }
                (Some((rb, _)), Some((ra, _))) if rb > ra => a.next().map(|(rid, _)| *rid),
                (Some(_), _) => b.next().map(|(rid, _)| *rid),
                (None, Some(_)) => a.next().map(|(rid, _)| *rid),
            };
            if let Some(rid) = changed {
                self.resources.insert(Path::resource(o, iid, rid));
            }
        }
    }
}

/// A change in progress over a snapshot of the committed store.
#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    /// The committed store as it was when the transaction began.
    base: Store,
    staged: Store,
}

impl Transaction {
    pub(crate) fn begin(store: &Store) -> Transaction {
        Transaction::over(store.clone())
    }

    /// The same over a copy the caller made already (one copy fewer).
    pub(crate) fn over(store: Store) -> Transaction {
        Transaction {
            base: store.clone(),
            staged: store,
        }
    }

    /// The store as the transaction sees it.
    pub(crate) fn staged(&self) -> &Store {
        &self.staged
    }

    pub(crate) fn staged_mut(&mut self) -> &mut Store {
        &mut self.staged
    }

    /// The objects this transaction changed, ascending.
    pub(crate) fn touched(&self) -> Vec<u16> {
        self.staged
            .object_ids()
            .filter(|o| !self.staged.shares_object(&self.base, *o))
            .collect()
    }

    /// What committing would change (`result_over` gives it with the result; only the unit
    /// tests ask before).
    #[cfg(test)]
    pub(crate) fn changes(&self) -> Changes {
        let mut changes = Changes::default();
        for o in self.touched() {
            changes.of_object(o, self.base.instances(o), self.staged.instances(o));
        }
        changes
    }

    /// The store to commit: `current` (the committed store now; the application may have
    /// changed objects the transaction did not touch, such as a battery level, and those
    /// changes stay) with the objects this transaction changed taken from the staged copy.
    /// The caller persists it and then installs it; dropping it instead is a rollback.
    pub(crate) fn result_over(&self, current: &Store) -> (Store, Changes) {
        let mut result = current.clone();
        let mut changes = Changes::default();
        for o in self.touched() {
            result.adopt_object(&self.staged, o);
            changes.of_object(o, self.base.instances(o), self.staged.instances(o));
        }
        (result, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{ResourceValue, Value};

    fn store() -> Store {
        let mut s = Store::with_standard_objects();
        s.set(&Path::resource(3, 0, 0), Value::String("ACME".into()))
            .unwrap();
        s.set(&Path::resource(1, 0, 1), Value::Integer(300))
            .unwrap();
        s
    }

    #[test]
    fn changes_name_each_resource_added_removed_or_changed_and_no_other() {
        // Every pattern of four IDs: absent, 1 or 2 before, absent, 1 or 2 after.
        let of = |pattern: u32, shift: u32| -> Resources {
            (0..4u16)
                .filter_map(|rid| match (pattern >> (shift + 2 * u32::from(rid))) & 3 {
                    0 => None,
                    v => Some((rid * 3, ResourceValue::Single(Value::Integer(i64::from(v))))),
                })
                .collect()
        };
        for pattern in 0..(1u32 << 16) {
            let (before, after) = (of(pattern, 0), of(pattern, 8));
            let mut changes = Changes::default();
            changes.of_instance(3, 0, &before, &after);
            let expected: BTreeSet<Path> = (0..4u16)
                .map(|rid| rid * 3)
                .filter(|rid| before.get(rid) != after.get(rid))
                .map(|rid| Path::resource(3, 0, rid))
                .collect();
            assert_eq!(changes.resources, expected, "{pattern:#x}");
            assert!(changes.instances.is_empty());
        }
    }

    #[test]
    fn touched_objects_and_their_changes() {
        let committed = store();
        let mut t = Transaction::begin(&committed);
        assert!(t.touched().is_empty() && t.changes().is_empty());
        t.staged_mut()
            .set(&Path::resource(1, 0, 1), Value::Integer(60))
            .unwrap();
        t.staged_mut()
            .set(&Path::resource(1, 1, 1), Value::Integer(90))
            .unwrap();
        // Removing what is not there copies nothing.
        assert!(!t.staged_mut().remove_instance(3, 7));
        assert_eq!(t.touched(), [1]);
        let changes = t.changes();
        assert_eq!(
            changes.resources.iter().copied().collect::<Vec<_>>(),
            [Path::resource(1, 0, 1)]
        );
        assert_eq!(
            changes.instances.iter().copied().collect::<Vec<_>>(),
            [Path::instance(1, 1)]
        );
        assert!(changes.object_list_changed());
        assert!(changes.objects().all(|o| o == 1) && changes.objects().count() == 2);
        // The committed store never saw any of it.
        assert_eq!(
            committed.value(&Path::resource(1, 0, 1)),
            Some(&Value::Integer(300))
        );
    }

    #[test]
    fn the_result_keeps_what_changed_meanwhile_in_untouched_objects() {
        let mut committed = store();
        let mut t = Transaction::begin(&committed);
        t.staged_mut().remove_instance(1, 0);
        // Meanwhile the application updates the Device object.
        committed
            .set(&Path::resource(3, 0, 0), Value::String("Other".into()))
            .unwrap();
        let (result, changes) = t.result_over(&committed);
        assert!(result.instance_ids(1).is_empty());
        assert_eq!(
            result.value(&Path::resource(3, 0, 0)),
            Some(&Value::String("Other".into()))
        );
        assert_eq!(
            changes.instances.iter().copied().collect::<Vec<_>>(),
            [Path::instance(1, 0)]
        );
    }
}
