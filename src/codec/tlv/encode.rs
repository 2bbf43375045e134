//! Encoding the content of a Read as TLV under the codec contract of `codec/mod.rs`.

use alloc::vec::Vec;

use super::entry::{write_entry, TlvKind};
use super::value::with_value_bytes;
use super::wrong_target;
use crate::codec::CodecError;
use crate::path::Path;
use crate::value::{Instances, ResourceValue, Resources};

/// Encodes the content of a Read of `target` (see the module contract in `codec/mod.rs`).
pub fn encode(target: &Path, content: &Instances) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    match *target.ids() {
        [] => return Err(wrong_target("TLV cannot carry the root")),
        // Core 1.1 §7.4.3: without an instance ID, Object Instance TLVs wrap each instance.
        [_] => {
            for (iid, resources) in content {
                let mut inner = Vec::new();
                write_resources(&mut inner, resources)?;
                write_entry(&mut out, TlvKind::ObjectInstance, *iid, &inner)?;
            }
        }
        [_, i] => write_resources(&mut out, instance(content, i)?)?,
        [_, i, r] => {
            let rv = instance(content, i)?
                .get(&r)
                .ok_or_else(|| wrong_target("resource missing from the content"))?;
            write_resource(&mut out, r, rv)?;
        }
        [_, i, r, ri] => {
            let v = match instance(content, i)?.get(&r) {
                Some(ResourceValue::Multiple(m)) => m.get(&ri),
                _ => None,
            }
            .ok_or_else(|| wrong_target("resource instance missing from the content"))?;
            with_value_bytes(v, |b| {
                write_entry(&mut out, TlvKind::ResourceInstance, ri, b)
            })?;
        }
        _ => return Err(wrong_target("path deeper than a resource instance")),
    }
    Ok(out)
}

fn instance(content: &Instances, iid: u16) -> Result<&Resources, CodecError> {
    content
        .get(&iid)
        .ok_or_else(|| wrong_target("instance missing from the content"))
}

/// Appends the Resource / Multiple-Resource TLVs of one instance, by ascending resource ID.
pub fn write_resources(out: &mut Vec<u8>, resources: &Resources) -> Result<(), CodecError> {
    for (rid, rv) in resources {
        write_resource(out, *rid, rv)?;
    }
    Ok(())
}

/// Appends one resource. A multiple resource always uses the Multiple-Resource TLV, even with
/// zero or one instance (Core 1.1 §7.4.3).
pub fn write_resource(out: &mut Vec<u8>, rid: u16, rv: &ResourceValue) -> Result<(), CodecError> {
    match rv {
        ResourceValue::Single(v) => {
            with_value_bytes(v, |b| write_entry(out, TlvKind::Resource, rid, b))
        }
        ResourceValue::Multiple(m) => {
            let mut inner = Vec::new();
            for (riid, v) in m {
                with_value_bytes(v, |b| {
                    write_entry(&mut inner, TlvKind::ResourceInstance, *riid, b)
                })?;
            }
            write_entry(out, TlvKind::MultipleResource, rid, &inner)
        }
    }
}
