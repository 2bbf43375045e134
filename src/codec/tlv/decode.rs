//! Decoding a TLV write payload under the codec contract of `codec/mod.rs`.

use super::entry::{Entries, TlvEntry, TlvKind};
use super::value::decode_value;
use super::{malformed, wrong_target};
use crate::codec::CodecError;
use crate::model::{ObjectDef, ResourceShape, Schema};
use crate::path::{Path, MAX_ID};
use alloc::vec::Vec;

use crate::value::{Instances, ResourceValue, Resources, Value};

/// Decodes a TLV write payload addressed to `target` into the instances it carries.
pub fn decode(target: &Path, payload: &[u8], schema: &dyn Schema) -> Result<Instances, CodecError> {
    let entries = Entries::parse(payload)?;
    let mut out = Instances::new();
    match *target.ids() {
        [] => {
            return Err(wrong_target(
                "TLV payloads address an object or below, not /",
            ))
        }
        [o] => {
            // Core 1.1 §7.4.3: without an instance ID the Object Instance TLV MUST be used.
            for e in entries.iter() {
                if e.kind != TlvKind::ObjectInstance {
                    return Err(malformed(
                        "payload for an object must hold object instance TLVs",
                    ));
                }
                check_id(e.id)?;
                let resources = decode_resources(o, e.nested()?, schema)?;
                if out.insert(e.id, resources).is_some() {
                    return Err(malformed("object instance appears twice"));
                }
            }
        }
        [o, i] => {
            // With an instance ID the Object Instance TLV is optional (Core 1.1 §7.4.3).
            let resources = match entries.only() {
                Some(only) if only.kind == TlvKind::ObjectInstance => {
                    if only.id != i {
                        return Err(wrong_target(
                            "object instance TLV has another ID than the path",
                        ));
                    }
                    decode_resources(o, only.nested()?, schema)?
                }
                _ => decode_resources(o, entries, schema)?,
            };
            out.insert(i, resources);
        }
        [o, i, r] => {
            let mut resources = Resources::new();
            if let Some(rv) = decode_resource_target(r, entries, schema.shape(o, r))? {
                resources.insert(r, rv);
            }
            out.insert(i, resources);
        }
        [o, i, r, ri] => {
            let mut resources = Resources::new();
            if let Some(v) = decode_instance_target(ri, entries, schema.shape(o, r))? {
                let mut m = crate::value::VecMap::new();
                m.insert(ri, v);
                resources.insert(r, ResourceValue::Multiple(m));
            }
            out.insert(i, resources);
        }
        _ => return Err(wrong_target("path deeper than a resource instance")),
    }
    Ok(out)
}

/// The resources of one instance from its Resource / Multiple-Resource TLVs.
fn decode_resources(
    object: u16,
    entries: Entries<'_>,
    schema: &dyn Schema,
) -> Result<Resources, CodecError> {
    // Room for every entry at once (issue 15: growing one by one reallocated per resource).
    let mut out = Resources::with_capacity(entries.len());
    // The IDs of resources skipped as unknown, to find those twice too (rarely any).
    let mut skipped = Vec::new();
    // One walk along the object's table when the schema has it (entries usually come in
    // ascending ID order, as encoders write them).
    let def = schema.object(object);
    let mut table = def.map(ObjectDef::ascending);
    for e in entries.iter() {
        check_id(e.id)?;
        let shape = match table.as_mut() {
            Some(table) => table.get(e.id).map(ResourceShape::of),
            None => schema.shape(object, e.id),
        };
        let rv = match e.kind {
            TlvKind::Resource => decode_single(&e, shape)?,
            TlvKind::MultipleResource => decode_multiple(e.nested()?, shape)?,
            _ => return Err(malformed("instance holds something else than resources")),
        };
        let twice = match rv {
            Some(rv) => out.insert(e.id, rv).is_some(),
            // Core 1.1 §7.4.3: "a parser can skip TLVs for which the Resource is not known".
            None if skipped.contains(&e.id) => true,
            None => {
                skipped.push(e.id);
                false
            }
        };
        if twice {
            return Err(malformed("resource appears twice in one instance"));
        }
    }
    out.shrink();
    Ok(out)
}

/// A Resource TLV: the resource must be single-instance. `None` for an unknown resource.
fn decode_single(
    e: &TlvEntry<'_>,
    shape: Option<ResourceShape>,
) -> Result<Option<ResourceValue>, CodecError> {
    match shape {
        None => Ok(None),
        Some(s) if s.multiple => Err(malformed(
            "multiple-instance resource sent as a single resource TLV",
        )),
        Some(s) => Ok(Some(ResourceValue::Single(decode_value(s.kind, e.value)?))),
    }
}

/// Resource-Instance TLVs of a multiple resource. `None` for an unknown resource.
fn decode_multiple(
    instances: Entries<'_>,
    shape: Option<ResourceShape>,
) -> Result<Option<ResourceValue>, CodecError> {
    if shape.is_some_and(|s| !s.multiple) {
        return Err(malformed(
            "single-instance resource sent as a multiple resource TLV",
        ));
    }
    let mut seen = crate::value::VecMap::with_capacity(instances.len());
    let mut m = crate::value::VecMap::with_capacity(instances.len());
    for e in instances.iter() {
        check_id(e.id)?;
        if e.kind != TlvKind::ResourceInstance {
            return Err(malformed("expected resource instance TLVs"));
        }
        // Duplicates are checked even for unknown resources: the payload is malformed either way.
        if seen.insert(e.id, ()).is_some() {
            return Err(malformed("resource instance appears twice"));
        }
        if let Some(s) = shape {
            m.insert(e.id, decode_value(s.kind, e.value)?);
        }
    }
    m.shrink();
    Ok(shape.map(|_| ResourceValue::Multiple(m)))
}

/// Payload of a write to `/O/I/R`.
fn decode_resource_target(
    rid: u16,
    entries: Entries<'_>,
    shape: Option<ResourceShape>,
) -> Result<Option<ResourceValue>, CodecError> {
    let only = entries.only();
    match only {
        // FACTS §6.2 / VECTORS §1.8: empty means "no instances" for a multiple resource and is
        // an error for a single one.
        None if entries.len() == 0 => match shape {
            Some(s) if s.multiple => Ok(Some(ResourceValue::Multiple(crate::value::VecMap::new()))),
            Some(_) => Err(malformed("empty payload for a single resource")),
            None => Ok(None),
        },
        Some(e) if e.kind == TlvKind::Resource => {
            if e.id != rid {
                return Err(wrong_target("resource TLV has another ID than the path"));
            }
            decode_single(&e, shape)
        }
        Some(e) if e.kind == TlvKind::MultipleResource => {
            if e.id != rid {
                return Err(wrong_target("resource TLV has another ID than the path"));
            }
            decode_multiple(e.nested()?, shape)
        }
        // VECTORS §1.8 (lenient, as Leshan): bare Resource-Instance TLVs without the wrapper.
        _ if entries.iter().all(|e| e.kind == TlvKind::ResourceInstance) => {
            decode_multiple(entries, shape)
        }
        _ => Err(malformed(
            "payload for a resource must hold exactly that resource",
        )),
    }
}

/// Payload of a write to `/O/I/R/RI`: one Resource-Instance TLV with ID RI (a Resource TLV
/// with that ID is accepted as well).
fn decode_instance_target(
    riid: u16,
    entries: Entries<'_>,
    shape: Option<ResourceShape>,
) -> Result<Option<Value>, CodecError> {
    let e = match entries.only() {
        Some(e) if matches!(e.kind, TlvKind::ResourceInstance | TlvKind::Resource) => e,
        None if entries.len() == 0 => {
            return Err(malformed("empty payload for a resource instance"))
        }
        _ => {
            return Err(malformed(
                "payload for a resource instance must hold one TLV",
            ))
        }
    };
    if e.id != riid {
        return Err(wrong_target(
            "TLV has another ID than the resource instance",
        ));
    }
    match shape {
        None => Ok(None),
        Some(s) if !s.multiple => Err(wrong_target(
            "resource instance path on a single-instance resource",
        )),
        Some(s) => decode_value(s.kind, e.value).map(Some),
    }
}

/// Core 1.1 §7.1: ID 65535 is reserved in every position.
fn check_id(id: u16) -> Result<(), CodecError> {
    if id == MAX_ID {
        Err(malformed("ID 65535 is reserved"))
    } else {
        Ok(())
    }
}
