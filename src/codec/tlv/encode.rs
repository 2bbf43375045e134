//! Encoding the content of a Read as TLV under the codec contract of `codec/mod.rs`.

use alloc::vec::Vec;

use super::entry::{entry_len, write_entry, write_head, TlvKind};
use super::value::with_value_bytes;
use super::wrong_target;
use crate::codec::CodecError;
use crate::path::Path;
use core::borrow::Borrow;

use crate::value::{ResourceValue, Resources, VecMap};

/// Encodes the content of a Read of `target` (see the module contract in `codec/mod.rs`).
pub fn encode<R: Borrow<Resources>>(
    target: &Path,
    content: &VecMap<u16, R>,
) -> Result<Vec<u8>, CodecError> {
    // Room for a typical instance at once, instead of growing a few bytes at a time.
    let mut out = Vec::with_capacity(128);
    match *target.ids() {
        [] => return Err(wrong_target("TLV cannot carry the root")),
        // Core 1.1 §7.4.3: without an instance ID, Object Instance TLVs wrap each instance.
        [_] => {
            for (iid, resources) in content {
                let mut inner = Vec::with_capacity(128);
                write_resources(&mut inner, resources.borrow())?;
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

fn instance<R: Borrow<Resources>>(
    content: &VecMap<u16, R>,
    iid: u16,
) -> Result<&Resources, CodecError> {
    content
        .get(&iid)
        .map(Borrow::borrow)
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
            // The instances' length first, so that they are written straight after the
            // Multiple-Resource header rather than into a vector of their own first.
            let mut inner = 0usize;
            for (riid, v) in m {
                let len = with_value_bytes(v, |b| b.len());
                inner = inner.saturating_add(entry_len(*riid, len));
            }
            write_head(out, TlvKind::MultipleResource, rid, inner)?;
            for (riid, v) in m {
                with_value_bytes(v, |b| write_entry(out, TlvKind::ResourceInstance, *riid, b))?;
            }
            Ok(())
        }
    }
}
