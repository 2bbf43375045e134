//! Writing a snapshot (the format is described in the module above).

use alloc::vec::Vec;

use super::crc::crc32;
use super::{
    HEADER_LEN, MAGIC, SHAPE_MULTIPLE, SHAPE_SINGLE, TAG_BOOLEAN, TAG_CORELNK, TAG_FLOAT,
    TAG_INTEGER, TAG_OBJLNK, TAG_OPAQUE, TAG_STRING, TAG_TIME, TAG_UNSIGNED, VERSION,
};
use crate::store::Store;
use crate::value::{Instances, ResourceValue, Value};

/// Encodes the persistent objects of `store` (those with `is_persistent`) as a snapshot.
/// Persistent objects with no instances are included, so that restoring clears them.
pub fn encode_snapshot(store: &Store, generation: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&[0; 4]); // body length, patched below

    let empty = Instances::new();
    let persistent: Vec<u16> = store
        .object_ids()
        .filter(|oid| store.is_persistent(*oid))
        .collect();
    put_len(&mut out, persistent.len());
    for oid in persistent {
        out.extend_from_slice(&oid.to_be_bytes());
        put_instances(&mut out, store.instances(oid).unwrap_or(&empty));
    }

    let body_len = len_u32(out.len().saturating_sub(HEADER_LEN));
    if let Some(slot) = out.get_mut(HEADER_LEN - 4..HEADER_LEN) {
        slot.copy_from_slice(&body_len.to_be_bytes());
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Lengths and counts are u32 on the wire. Nothing a device holds comes near 4 GiB; should it
/// ever, the saturated length makes the snapshot fail to decode instead of decoding wrongly.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&len_u32(n).to_be_bytes());
}

fn put_instances(out: &mut Vec<u8>, instances: &Instances) {
    put_len(out, instances.len());
    for (iid, resources) in instances {
        out.extend_from_slice(&iid.to_be_bytes());
        put_len(out, resources.len());
        for (rid, rv) in resources {
            out.extend_from_slice(&rid.to_be_bytes());
            match rv {
                ResourceValue::Single(v) => {
                    out.push(SHAPE_SINGLE);
                    put_value(out, v);
                }
                ResourceValue::Multiple(m) => {
                    out.push(SHAPE_MULTIPLE);
                    put_len(out, m.len());
                    for (riid, v) in m {
                        out.extend_from_slice(&riid.to_be_bytes());
                        put_value(out, v);
                    }
                }
            }
        }
    }
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    let put_bytes = |out: &mut Vec<u8>, tag: u8, b: &[u8]| {
        out.push(tag);
        put_len(out, b.len());
        out.extend_from_slice(b);
    };
    match v {
        Value::String(s) => put_bytes(out, TAG_STRING, s.as_bytes()),
        Value::Integer(i) => {
            out.push(TAG_INTEGER);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::Unsigned(u) => {
            out.push(TAG_UNSIGNED);
            out.extend_from_slice(&u.to_be_bytes());
        }
        Value::Float(f) => {
            // The bit pattern, so that -0.0 and NaN payloads survive exactly.
            out.push(TAG_FLOAT);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Boolean(b) => {
            out.push(TAG_BOOLEAN);
            out.push(u8::from(*b));
        }
        Value::Opaque(b) => put_bytes(out, TAG_OPAQUE, b),
        Value::Time(t) => {
            out.push(TAG_TIME);
            out.extend_from_slice(&t.to_be_bytes());
        }
        Value::Objlnk(o, i) => {
            out.push(TAG_OBJLNK);
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::Corelnk(s) => put_bytes(out, TAG_CORELNK, s.as_bytes()),
    }
}
