//! Reading and verifying a snapshot (the format is described in the module above).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

use super::crc::crc32;
use super::{
    PersistError, Snapshot, CRC_LEN, HEADER_LEN, MAGIC, SHAPE_MULTIPLE, SHAPE_SINGLE, TAG_BOOLEAN,
    TAG_CORELNK, TAG_FLOAT, TAG_INTEGER, TAG_OBJLNK, TAG_OPAQUE, TAG_STRING, TAG_TIME,
    TAG_UNSIGNED, VERSION,
};
use crate::value::{Instances, ResourceValue, Resources, Value};

/// Decodes and verifies a snapshot. Never panics, whatever the bytes.
///
/// Checks run in this order: magic, version (a newer format may lay out everything after the
/// version differently, so it is judged before anything else), length, checksum, body.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, PersistError> {
    // Magic: a short prefix of it is a truncated snapshot; anything else is not ours.
    let magic_have = bytes.get(..MAGIC.len()).unwrap_or(bytes);
    if !MAGIC.starts_with(magic_have) {
        return Err(PersistError::BadMagic);
    }
    let mut header = Reader::new(bytes.get(MAGIC.len()..).unwrap_or(&[]));
    let version = header.u16().ok_or(PersistError::Truncated)?;
    if version != VERSION {
        return Err(PersistError::UnsupportedVersion(version));
    }
    let generation = header.u64().ok_or(PersistError::Truncated)?;
    let body_len = header.u32().ok_or(PersistError::Truncated)?;

    let total = usize::try_from(body_len)
        .ok()
        .and_then(|n| n.checked_add(HEADER_LEN + CRC_LEN))
        .ok_or(PersistError::Truncated)?;
    if bytes.len() < total {
        return Err(PersistError::Truncated);
    }
    if bytes.len() > total {
        return Err(PersistError::Malformed(String::from(
            "bytes after the checksum",
        )));
    }
    let crc_at = total - CRC_LEN;
    let covered = bytes.get(..crc_at).ok_or(PersistError::Truncated)?;
    let stored = Reader::new(bytes.get(crc_at..).unwrap_or(&[]))
        .u32()
        .ok_or(PersistError::Truncated)?;
    if crc32(covered) != stored {
        return Err(PersistError::Checksum);
    }

    // The checksum matched, so running short inside the body is a writer bug, not a cut.
    let body = covered.get(HEADER_LEN..).unwrap_or(&[]);
    let mut r = Reader::new(body);
    let objects = read_objects(&mut r)?;
    if !r.is_empty() {
        return Err(PersistError::Malformed(String::from(
            "bytes after the last object",
        )));
    }
    Ok(Snapshot {
        generation,
        objects,
    })
}

fn read_objects(r: &mut Reader<'_>) -> Result<BTreeMap<u16, Instances>, PersistError> {
    let mut objects = BTreeMap::new();
    let mut last = None;
    for _ in 0..r.count()? {
        let oid = r.id(&mut last, "object")?;
        let mut instances = Instances::new();
        let mut last_iid = None;
        for _ in 0..r.count()? {
            let iid = r.id(&mut last_iid, "instance")?;
            let mut resources = Resources::new();
            let mut last_rid = None;
            for _ in 0..r.count()? {
                let rid = r.id(&mut last_rid, "resource")?;
                let rv = match r.u8().ok_or_else(short)? {
                    SHAPE_SINGLE => ResourceValue::Single(read_value(r)?),
                    SHAPE_MULTIPLE => {
                        let mut m = crate::value::VecMap::new();
                        let mut last_riid = None;
                        for _ in 0..r.count()? {
                            let riid = r.id(&mut last_riid, "resource instance")?;
                            m.insert(riid, read_value(r)?);
                        }
                        ResourceValue::Multiple(m)
                    }
                    other => return Err(malformed(format!("resource shape tag {other}"))),
                };
                resources.insert(rid, rv);
            }
            instances.insert(iid, resources);
        }
        objects.insert(oid, instances);
    }
    Ok(objects)
}

fn read_value(r: &mut Reader<'_>) -> Result<Value, PersistError> {
    let tag = r.u8().ok_or_else(short)?;
    Ok(match tag {
        TAG_STRING => Value::String(r.string()?),
        TAG_INTEGER => Value::Integer(r.i64().ok_or_else(short)?),
        TAG_UNSIGNED => Value::Unsigned(r.u64().ok_or_else(short)?),
        TAG_FLOAT => Value::Float(f64::from_bits(r.u64().ok_or_else(short)?)),
        TAG_BOOLEAN => match r.u8().ok_or_else(short)? {
            0 => Value::Boolean(false),
            1 => Value::Boolean(true),
            other => return Err(malformed(format!("boolean byte {other}"))),
        },
        TAG_OPAQUE => Value::Opaque(r.bytes()?.to_vec()),
        TAG_TIME => Value::Time(r.i64().ok_or_else(short)?),
        TAG_OBJLNK => {
            let o = r.u16().ok_or_else(short)?;
            let i = r.u16().ok_or_else(short)?;
            Value::Objlnk(o, i)
        }
        TAG_CORELNK => Value::Corelnk(r.string()?),
        other => return Err(malformed(format!("value type tag {other}"))),
    })
}

pub(super) fn malformed(msg: String) -> PersistError {
    PersistError::Malformed(msg)
}

fn short() -> PersistError {
    PersistError::Malformed(String::from("body ends inside an item"))
}

/// A cursor over a byte slice; every read is bounds-checked and returns `None` when short.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(rest: &'a [u8]) -> Reader<'a> {
        Reader { rest }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }
    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_be_bytes)
    }

    /// An item count. Loops over it stay bounded by the input: every item consumes bytes.
    fn count(&mut self) -> Result<u32, PersistError> {
        self.u32().ok_or_else(short)
    }

    /// An ID that must be strictly greater than the previous one at this level (the encoder
    /// writes map keys in order; a repeat would otherwise silently overwrite).
    fn id(&mut self, last: &mut Option<u16>, what: &str) -> Result<u16, PersistError> {
        let id = self.u16().ok_or_else(short)?;
        if last.is_some_and(|prev| id <= prev) {
            return Err(malformed(format!("{what} ID {id} out of order")));
        }
        *last = Some(id);
        Ok(id)
    }

    fn bytes(&mut self) -> Result<&'a [u8], PersistError> {
        let len = self.u32().ok_or_else(short)?;
        let len = usize::try_from(len).map_err(|_| short())?;
        self.take(len).ok_or_else(short)
    }

    fn string(&mut self) -> Result<String, PersistError> {
        let b = self.bytes()?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| malformed(String::from("string is not UTF-8")))
    }
}
