//! Applying a decoded snapshot to a store, checked against the store's object definitions.

use super::{PersistError, Snapshot};
use crate::path::Path;
use crate::store::Store;
use crate::value::{Instances, ResourceValue};

/// Replaces, in `store`, the instances of every object the snapshot carries and the store
/// defines. Objects the store does not define are skipped (an application that dropped an
/// object keeps booting). Everything is checked against the store's definitions first; on any
/// mismatch the store is left exactly as it was.
pub fn apply_snapshot(snapshot: &Snapshot, store: &mut Store) -> Result<(), PersistError> {
    for (oid, instances) in &snapshot.objects {
        if let Some(def) = store.def(*oid) {
            check_object(def, *oid, instances)?;
        }
    }
    for (oid, instances) in &snapshot.objects {
        if store.def(*oid).is_some() {
            store
                .set_instances(*oid, instances.clone())
                .map_err(|_| PersistError::Mismatch(Path::object(*oid)))?;
        }
    }
    Ok(())
}

fn check_object(
    def: &crate::model::ObjectDef,
    oid: u16,
    instances: &Instances,
) -> Result<(), PersistError> {
    if !def.multiple && instances.len() > 1 {
        return Err(PersistError::Mismatch(Path::object(oid)));
    }
    for (iid, resources) in instances {
        for (rid, rv) in resources {
            let path = Path::resource(oid, *iid, *rid);
            let rdef = def.resource(*rid).ok_or(PersistError::Mismatch(path))?;
            let fits = match rv {
                ResourceValue::Single(v) => !rdef.multiple && v.resource_type() == rdef.kind,
                ResourceValue::Multiple(m) => {
                    rdef.multiple && m.values().all(|v| v.resource_type() == rdef.kind)
                }
            };
            if !fits {
                return Err(PersistError::Mismatch(path));
            }
        }
    }
    Ok(())
}
