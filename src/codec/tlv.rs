//! LwM2M TLV (application/vnd.oma.lwm2m+tlv, Content-Format 11542).
//!
//! Two layers: the entry layer ([`TlvReader`], [`write_entry`]) knows only the byte layout
//! (Core 1.1 §7.4.3, FACTS §6.2); the value layer ([`decode_value`], [`encode_value`]) maps
//! bytes to [`Value`]s by resource type (Core 1.1 Appendix C); [`decode`] and [`encode`] apply the
//! codec contract of `codec/mod.rs` on top of both.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use super::CodecError;
use crate::model::{ResourceShape, Schema};
use crate::path::{Path, MAX_ID};
use crate::value::{Instances, ResourceType, ResourceValue, Resources, Value};

/// The four TLV kinds, from bits 7–6 of the type byte (Core 1.1 §7.4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlvKind {
    /// `00`: the value is a sequence of Resource / Multiple-Resource TLVs.
    ObjectInstance,
    /// `01`: one instance of a multiple-instance resource.
    ResourceInstance,
    /// `10`: the value is a sequence of Resource-Instance TLVs.
    MultipleResource,
    /// `11`: a single resource with its value.
    Resource,
}

impl TlvKind {
    fn from_type_byte(ty: u8) -> TlvKind {
        match ty >> 6 {
            0 => TlvKind::ObjectInstance,
            1 => TlvKind::ResourceInstance,
            2 => TlvKind::MultipleResource,
            _ => TlvKind::Resource,
        }
    }

    const fn type_bits(self) -> u8 {
        match self {
            TlvKind::ObjectInstance => 0x00,
            TlvKind::ResourceInstance => 0x40,
            TlvKind::MultipleResource => 0x80,
            TlvKind::Resource => 0xC0,
        }
    }

    /// The kinds allowed directly inside an entry of this kind (Core 1.1 §7.4.3: an Object
    /// Instance holds resources, a Multiple Resource holds resource instances).
    fn allowed_children(self) -> &'static [TlvKind] {
        match self {
            TlvKind::ObjectInstance => &[TlvKind::Resource, TlvKind::MultipleResource],
            TlvKind::MultipleResource => &[TlvKind::ResourceInstance],
            TlvKind::ResourceInstance | TlvKind::Resource => &[],
        }
    }
}

/// One parsed TLV entry; `value` borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvEntry<'a> {
    pub kind: TlvKind,
    pub id: u16,
    pub value: &'a [u8],
}

impl<'a> TlvEntry<'a> {
    /// The entries nested in an Object Instance or Multiple Resource, checked to be of a kind
    /// that may appear there. Other kinds have no nested entries: error.
    pub fn children(&self) -> Result<Vec<TlvEntry<'a>>, CodecError> {
        let allowed = self.kind.allowed_children();
        if allowed.is_empty() {
            return Err(malformed("a resource TLV has no nested TLVs"));
        }
        let children = parse_entries(self.value)?;
        if children.iter().any(|c| !allowed.contains(&c.kind)) {
            return Err(malformed(match self.kind {
                TlvKind::ObjectInstance => {
                    "object instance TLV holds something else than resources"
                }
                _ => "multiple resource TLV holds something else than resource instances",
            }));
        }
        Ok(children)
    }
}

/// Iterates over the TLV entries of a byte string. After the first error it yields nothing more.
#[derive(Debug, Clone)]
pub struct TlvReader<'a> {
    rest: &'a [u8],
}

impl<'a> TlvReader<'a> {
    pub fn new(bytes: &'a [u8]) -> TlvReader<'a> {
        TlvReader { rest: bytes }
    }
}

impl<'a> Iterator for TlvReader<'a> {
    type Item = Result<TlvEntry<'a>, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match read_entry(self.rest) {
            Ok((entry, rest)) => {
                self.rest = rest;
                Some(Ok(entry))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Parses a whole byte string into its top-level entries (nested ones stay in `value`).
pub fn parse_entries(bytes: &[u8]) -> Result<Vec<TlvEntry<'_>>, CodecError> {
    TlvReader::new(bytes).collect()
}

/// Reads one entry: type byte, 1- or 2-byte ID, 0–3 length bytes, value (Core 1.1 §7.4.3.1).
fn read_entry(bytes: &[u8]) -> Result<(TlvEntry<'_>, &[u8]), CodecError> {
    let (&ty, rest) = bytes.split_first().ok_or(CodecError::Truncated)?;
    // Bit 5: identifier length, 0 = 8 bits, 1 = 16 bits.
    let id_len = if ty & 0x20 != 0 { 2 } else { 1 };
    let (id, rest) = take_be(rest, id_len)?;
    // Bits 4–3: length type; 00 means the length is in bits 2–0, otherwise 1–3 length bytes
    // follow and bits 2–0 are ignored.
    let (len, rest) = match (ty >> 3) & 0b11 {
        0 => (u32::from(ty & 0b111), rest),
        n => take_be(rest, usize::from(n))?,
    };
    let len = usize::try_from(len).map_err(|_| CodecError::Truncated)?;
    let value = rest.get(..len).ok_or(CodecError::Truncated)?;
    let rest = rest.get(len..).ok_or(CodecError::Truncated)?;
    let entry = TlvEntry {
        kind: TlvKind::from_type_byte(ty),
        // At most two bytes were read, so the ID fits.
        id: u16::try_from(id).map_err(|_| malformed("identifier too long"))?,
        value,
    };
    Ok((entry, rest))
}

/// Reads an `n`-byte (n ≤ 3) big-endian number.
fn take_be(bytes: &[u8], n: usize) -> Result<(u32, &[u8]), CodecError> {
    let head = bytes.get(..n).ok_or(CodecError::Truncated)?;
    let rest = bytes.get(n..).ok_or(CodecError::Truncated)?;
    let v = head.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    Ok((v, rest))
}

/// Largest value a TLV can carry: the length field has at most 24 bits (Core 1.1 §7.4.3.1).
pub const MAX_VALUE_LEN: usize = 0xFF_FFFF;

/// Appends one entry, choosing the shortest ID and length forms (8-bit ID below 256; length in
/// the type byte below 8, else the fewest length bytes).
pub fn write_entry(
    out: &mut Vec<u8>,
    kind: TlvKind,
    id: u16,
    value: &[u8],
) -> Result<(), CodecError> {
    let len = value.len();
    if len > MAX_VALUE_LEN {
        return Err(CodecError::BadValue(String::from(
            "value longer than a TLV length field can express (16 MiB)",
        )));
    }
    let mut ty = kind.type_bits();
    let short_id = u8::try_from(id).ok();
    if short_id.is_none() {
        ty |= 0x20;
    }
    let len_bytes: usize = match u8::try_from(len) {
        Ok(l) if l < 8 => {
            ty |= l;
            0
        }
        Ok(_) => 1,
        Err(_) if len <= 0xFFFF => 2,
        Err(_) => 3,
    };
    ty |= (len_bytes as u8) << 3;
    out.push(ty);
    match short_id {
        Some(b) => out.push(b),
        None => out.extend_from_slice(&id.to_be_bytes()),
    }
    let len_be = (len as u32).to_be_bytes();
    out.extend_from_slice(len_be.get(4 - len_bytes..).unwrap_or(&[]));
    out.extend_from_slice(value);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Values (Core 1.1 Appendix C, "TLV" column)

/// Decodes a TLV value of the given resource type.
pub fn decode_value(kind: ResourceType, bytes: &[u8]) -> Result<Value, CodecError> {
    Ok(match kind {
        ResourceType::String => Value::String(decode_utf8(bytes)?),
        ResourceType::Corelnk => Value::Corelnk(decode_utf8(bytes)?),
        ResourceType::Integer => Value::Integer(decode_integer(bytes)?),
        ResourceType::Time => Value::Time(decode_integer(bytes)?),
        ResourceType::UnsignedInteger => Value::Unsigned(decode_unsigned(bytes)?),
        ResourceType::Float => Value::Float(decode_float(bytes)?),
        ResourceType::Boolean => match bytes {
            // Appendix C: Boolean is one byte, 0 or 1; anything else is invalid.
            [0] => Value::Boolean(false),
            [1] => Value::Boolean(true),
            _ => return Err(bad_value("boolean must be one byte 0 or 1")),
        },
        ResourceType::Opaque => Value::Opaque(bytes.to_vec()),
        ResourceType::Objlnk => match bytes {
            [o1, o2, i1, i2] => Value::Objlnk(
                u16::from_be_bytes([*o1, *o2]),
                u16::from_be_bytes([*i1, *i2]),
            ),
            _ => return Err(bad_value("object link must be 4 bytes")),
        },
        ResourceType::None => return Err(bad_value("executable resource carries no value")),
    })
}

/// Encodes a value in its TLV form (shortest integer form; binary32 floats when exact).
pub fn encode_value(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) | Value::Corelnk(s) => s.as_bytes().to_vec(),
        Value::Integer(v) | Value::Time(v) => encode_integer(*v),
        Value::Unsigned(v) => encode_unsigned(*v),
        Value::Float(v) => encode_float(*v),
        Value::Boolean(b) => alloc::vec![u8::from(*b)],
        Value::Opaque(b) => b.clone(),
        Value::Objlnk(o, i) => {
            let mut out = Vec::with_capacity(4);
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&i.to_be_bytes());
            out
        }
    }
}

fn decode_utf8(bytes: &[u8]) -> Result<String, CodecError> {
    core::str::from_utf8(bytes)
        .map(String::from)
        .map_err(|_| bad_value("string is not valid UTF-8"))
}

/// Signed two's complement, big-endian, 1, 2, 4 or 8 bytes (Appendix C; other sizes invalid).
pub fn decode_integer(bytes: &[u8]) -> Result<i64, CodecError> {
    if let Ok(b) = <[u8; 1]>::try_from(bytes) {
        Ok(i64::from(i8::from_be_bytes(b)))
    } else if let Ok(b) = <[u8; 2]>::try_from(bytes) {
        Ok(i64::from(i16::from_be_bytes(b)))
    } else if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        Ok(i64::from(i32::from_be_bytes(b)))
    } else if let Ok(b) = <[u8; 8]>::try_from(bytes) {
        Ok(i64::from_be_bytes(b))
    } else {
        Err(bad_value("integer must be 1, 2, 4 or 8 bytes"))
    }
}

/// Unsigned big-endian, 1, 2, 4 or 8 bytes (Appendix C, Unsigned Integer, LwM2M 1.1).
pub fn decode_unsigned(bytes: &[u8]) -> Result<u64, CodecError> {
    match bytes.len() {
        1 | 2 | 4 | 8 => Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))),
        _ => Err(bad_value("unsigned integer must be 1, 2, 4 or 8 bytes")),
    }
}

/// IEEE 754 binary32 (4 bytes) or binary64 (8 bytes), big-endian.
pub fn decode_float(bytes: &[u8]) -> Result<f64, CodecError> {
    if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        Ok(f64::from(f32::from_be_bytes(b)))
    } else if let Ok(b) = <[u8; 8]>::try_from(bytes) {
        Ok(f64::from_be_bytes(b))
    } else {
        Err(bad_value("float must be 4 or 8 bytes"))
    }
}

/// Shortest of 1, 2, 4, 8 bytes that holds `v`.
pub fn encode_integer(v: i64) -> Vec<u8> {
    if let Ok(b) = i8::try_from(v) {
        b.to_be_bytes().to_vec()
    } else if let Ok(b) = i16::try_from(v) {
        b.to_be_bytes().to_vec()
    } else if let Ok(b) = i32::try_from(v) {
        b.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}

/// Shortest of 1, 2, 4, 8 bytes that holds `v`.
pub fn encode_unsigned(v: u64) -> Vec<u8> {
    if let Ok(b) = u8::try_from(v) {
        alloc::vec![b]
    } else if let Ok(b) = u16::try_from(v) {
        b.to_be_bytes().to_vec()
    } else if let Ok(b) = u32::try_from(v) {
        b.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}

/// binary32 when it represents `v` exactly (bit for bit after widening), else binary64.
pub fn encode_float(v: f64) -> Vec<u8> {
    let narrow = v as f32;
    if f64::from(narrow).to_bits() == v.to_bits() {
        narrow.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}

// ---------------------------------------------------------------------------------------------
// The codec contract (codec/mod.rs)

/// Decodes a TLV write payload addressed to `target` into the instances it carries.
pub fn decode(target: &Path, payload: &[u8], schema: &dyn Schema) -> Result<Instances, CodecError> {
    let entries = parse_entries(payload)?;
    let mut out = Instances::new();
    match *target.ids() {
        [] => {
            return Err(wrong_target(
                "TLV payloads address an object or below, not /",
            ))
        }
        [o] => {
            // Core 1.1 §7.4.3: without an instance ID the Object Instance TLV MUST be used.
            for e in &entries {
                if e.kind != TlvKind::ObjectInstance {
                    return Err(malformed(
                        "payload for an object must hold object instance TLVs",
                    ));
                }
                check_id(e.id)?;
                let resources = decode_resources(o, &e.children()?, schema)?;
                if out.insert(e.id, resources).is_some() {
                    return Err(malformed("object instance appears twice"));
                }
            }
        }
        [o, i] => {
            // With an instance ID the Object Instance TLV is optional (Core 1.1 §7.4.3).
            let resources = match entries.as_slice() {
                [only] if only.kind == TlvKind::ObjectInstance => {
                    if only.id != i {
                        return Err(wrong_target(
                            "object instance TLV has another ID than the path",
                        ));
                    }
                    decode_resources(o, &only.children()?, schema)?
                }
                _ => decode_resources(o, &entries, schema)?,
            };
            out.insert(i, resources);
        }
        [o, i, r] => {
            let mut resources = Resources::new();
            if let Some(rv) = decode_resource_target(r, &entries, schema.shape(o, r))? {
                resources.insert(r, rv);
            }
            out.insert(i, resources);
        }
        [o, i, r, ri] => {
            let mut resources = Resources::new();
            if let Some(v) = decode_instance_target(ri, &entries, schema.shape(o, r))? {
                let mut m = BTreeMap::new();
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
    entries: &[TlvEntry<'_>],
    schema: &dyn Schema,
) -> Result<Resources, CodecError> {
    let mut seen = BTreeSet::new();
    let mut out = Resources::new();
    for e in entries {
        check_id(e.id)?;
        if !seen.insert(e.id) {
            return Err(malformed("resource appears twice in one instance"));
        }
        let shape = schema.shape(object, e.id);
        let rv = match e.kind {
            TlvKind::Resource => decode_single(e, shape)?,
            TlvKind::MultipleResource => decode_multiple(&e.children()?, shape)?,
            _ => return Err(malformed("instance holds something else than resources")),
        };
        // Core 1.1 §7.4.3: "a parser can skip TLVs for which the Resource is not known".
        if let Some(rv) = rv {
            out.insert(e.id, rv);
        }
    }
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
    instances: &[TlvEntry<'_>],
    shape: Option<ResourceShape>,
) -> Result<Option<ResourceValue>, CodecError> {
    if shape.is_some_and(|s| !s.multiple) {
        return Err(malformed(
            "single-instance resource sent as a multiple resource TLV",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut m = BTreeMap::new();
    for e in instances {
        check_id(e.id)?;
        if e.kind != TlvKind::ResourceInstance {
            return Err(malformed("expected resource instance TLVs"));
        }
        // Duplicates are checked even for unknown resources: the payload is malformed either way.
        if !seen.insert(e.id) {
            return Err(malformed("resource instance appears twice"));
        }
        if let Some(s) = shape {
            m.insert(e.id, decode_value(s.kind, e.value)?);
        }
    }
    Ok(shape.map(|_| ResourceValue::Multiple(m)))
}

/// Payload of a write to `/O/I/R`.
fn decode_resource_target(
    rid: u16,
    entries: &[TlvEntry<'_>],
    shape: Option<ResourceShape>,
) -> Result<Option<ResourceValue>, CodecError> {
    match entries {
        // FACTS §6.2 / VECTORS §1.8: empty means "no instances" for a multiple resource and is
        // an error for a single one.
        [] => match shape {
            Some(s) if s.multiple => Ok(Some(ResourceValue::Multiple(BTreeMap::new()))),
            Some(_) => Err(malformed("empty payload for a single resource")),
            None => Ok(None),
        },
        [e] if e.kind == TlvKind::Resource => {
            if e.id != rid {
                return Err(wrong_target("resource TLV has another ID than the path"));
            }
            decode_single(e, shape)
        }
        [e] if e.kind == TlvKind::MultipleResource => {
            if e.id != rid {
                return Err(wrong_target("resource TLV has another ID than the path"));
            }
            decode_multiple(&e.children()?, shape)
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
    entries: &[TlvEntry<'_>],
    shape: Option<ResourceShape>,
) -> Result<Option<Value>, CodecError> {
    let e = match entries {
        [e] if matches!(e.kind, TlvKind::ResourceInstance | TlvKind::Resource) => e,
        [] => return Err(malformed("empty payload for a resource instance")),
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
            write_entry(&mut out, TlvKind::ResourceInstance, ri, &encode_value(v))?;
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
        ResourceValue::Single(v) => write_entry(out, TlvKind::Resource, rid, &encode_value(v)),
        ResourceValue::Multiple(m) => {
            let mut inner = Vec::new();
            for (riid, v) in m {
                write_entry(
                    &mut inner,
                    TlvKind::ResourceInstance,
                    *riid,
                    &encode_value(v),
                )?;
            }
            write_entry(out, TlvKind::MultipleResource, rid, &inner)
        }
    }
}

fn malformed(msg: &str) -> CodecError {
    CodecError::Malformed(String::from(msg))
}

fn bad_value(msg: &str) -> CodecError {
    CodecError::BadValue(String::from(msg))
}

fn wrong_target(msg: &str) -> CodecError {
    CodecError::WrongTarget(String::from(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectDef, Operations, ResourceDef};
    use crate::rng::Rng;
    use crate::store::Store;
    use alloc::borrow::Cow;
    use alloc::string::ToString;
    use alloc::vec;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s
            .bytes()
            .filter(|b| b.is_ascii_hexdigit())
            .map(|b| (b as char).to_digit(16).unwrap() as u8)
            .collect();
        assert_eq!(digits.len() % 2, 0, "odd hex string");
        digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
    }

    /// The standard objects as a schema (a `[&ObjectDef]` slice cannot be a `&dyn Schema`).
    fn std_schema() -> Store {
        Store::with_standard_objects()
    }

    /// A small object for the vectors that use objects outside the standard set.
    fn test_object(id: u16, resources: &[(u16, ResourceType, bool)]) -> ObjectDef {
        ObjectDef {
            id,
            name: Cow::Borrowed("Test"),
            version: Cow::Borrowed("1.0"),
            multiple: true,
            mandatory: false,
            resources: Cow::Owned(
                resources
                    .iter()
                    .map(|&(rid, kind, multiple)| ResourceDef {
                        id: rid,
                        name: Cow::Borrowed("r"),
                        kind,
                        operations: Operations::RW,
                        multiple,
                        mandatory: false,
                    })
                    .collect(),
            ),
        }
    }

    fn single(v: Value) -> ResourceValue {
        ResourceValue::Single(v)
    }
    fn string(s: &str) -> ResourceValue {
        single(Value::String(s.to_string()))
    }
    fn int(v: i64) -> ResourceValue {
        single(Value::Integer(v))
    }
    fn multi_int(items: &[(u16, i64)]) -> ResourceValue {
        ResourceValue::Multiple(items.iter().map(|&(k, v)| (k, Value::Integer(v))).collect())
    }
    fn one(iid: u16, resources: Resources) -> Instances {
        let mut m = Instances::new();
        m.insert(iid, resources);
        m
    }
    fn res(items: Vec<(u16, ResourceValue)>) -> Resources {
        items.into_iter().collect()
    }

    const DEVICE: &str = "C800144F70656E204D6F62696C6520416C6C69616E6365C801164C69676874776569676874204D324D20436C69656E74
        C80209333435303030313233C303312E30860641000141010588070842000ED842011388870841007D42010384C10964
        C10A0F830B410000C40D5182428FC60E2B30323A3030C11055";

    fn device_resources() -> Resources {
        res(vec![
            (0, string("Open Mobile Alliance")),
            (1, string("Lightweight M2M Client")),
            (2, string("345000123")),
            (3, string("1.0")),
            (6, multi_int(&[(0, 1), (1, 5)])),
            (7, multi_int(&[(0, 3800), (1, 5000)])),
            (8, multi_int(&[(0, 125), (1, 900)])),
            (9, int(100)),
            (10, int(15)),
            (11, multi_int(&[(0, 0)])),
            (13, single(Value::Time(1367491215))),
            (14, string("+02:00")),
            (16, string("U")),
        ])
    }

    // VECTORS §1.1: Read /3/0, resources only, 121 bytes, both directions byte-exactly.
    #[test]
    fn device_instance_round_trips() {
        let bytes = hex(DEVICE);
        assert_eq!(bytes.len(), 121);
        let s = std_schema();
        let got = decode(&Path::instance(3, 0), &bytes, &s).unwrap();
        assert_eq!(got, one(0, device_resources()));
        assert_eq!(encode(&Path::instance(3, 0), &got).unwrap(), bytes);
    }

    // VECTORS §1.2: the same wrapped in OI 0 (Read /3); /3/0 accepts the wrapper too.
    #[test]
    fn device_object_with_instance_wrapper() {
        let bytes = hex(&("080079".to_string() + DEVICE));
        assert_eq!(bytes.len(), 124);
        let s = std_schema();
        let expected = one(0, device_resources());
        assert_eq!(decode(&Path::object(3), &bytes, &s).unwrap(), expected);
        assert_eq!(decode(&Path::instance(3, 0), &bytes, &s).unwrap(), expected);
        assert_eq!(encode(&Path::object(3), &expected).unwrap(), bytes);
        // The wrapper's ID must match the path.
        assert!(matches!(
            decode(&Path::instance(3, 1), &bytes, &s),
            Err(CodecError::WrongTarget(_))
        ));
        // Without an instance in the path the wrapper is mandatory.
        assert!(matches!(
            decode(&Path::object(3), &hex(DEVICE), &s),
            Err(CodecError::Malformed(_))
        ));
    }

    // VECTORS §1.3: Access Control, two instances (Read /2).
    #[test]
    fn access_control_object() {
        let bytes =
            hex("08000EC10001C101008302417F07C1037F080212C10003C101008702417F0761013601C1037F");
        let s = std_schema();
        let mut expected = Instances::new();
        expected.insert(
            0,
            res(vec![
                (0, int(1)),
                (1, int(0)),
                (2, multi_int(&[(127, 7)])),
                (3, int(127)),
            ]),
        );
        expected.insert(
            2,
            res(vec![
                (0, int(3)),
                (1, int(0)),
                (2, multi_int(&[(127, 7), (310, 1)])),
                (3, int(127)),
            ]),
        );
        assert_eq!(decode(&Path::object(2), &bytes, &s).unwrap(), expected);
        assert_eq!(encode(&Path::object(2), &expected).unwrap(), bytes);
    }

    // VECTORS §1.4: Server object, one instance (Read /1).
    #[test]
    fn server_object() {
        let bytes = hex("08000FC10001C40100015180C10601C10755");
        let s = std_schema();
        let expected = one(
            0,
            res(vec![
                (0, int(1)),
                (1, int(86400)),
                (6, single(Value::Boolean(true))),
                (7, string("U")),
            ]),
        );
        assert_eq!(decode(&Path::object(1), &bytes, &s).unwrap(), expected);
        assert_eq!(encode(&Path::object(1), &expected).unwrap(), bytes);
    }

    // VECTORS §1.5: object links in objects 65 and 66.
    #[test]
    fn object_links() {
        let o65 = test_object(
            65,
            &[
                (0, ResourceType::Objlnk, true),
                (1, ResourceType::String, false),
                (2, ResourceType::Integer, false),
            ],
        );
        let bytes =
            hex("88000C440000420000440100420001C8010D38363133383030373535353030C40212345678");
        let expected = one(
            0,
            res(vec![
                (
                    0,
                    ResourceValue::Multiple(
                        [(0, Value::Objlnk(66, 0)), (1, Value::Objlnk(66, 1))]
                            .into_iter()
                            .collect(),
                    ),
                ),
                (1, string("8613800755500")),
                (2, int(305419896)),
            ]),
        );
        assert_eq!(
            decode(&Path::instance(65, 0), &bytes, &o65).unwrap(),
            expected
        );
        assert_eq!(encode(&Path::instance(65, 0), &expected).unwrap(), bytes);

        let o66 = test_object(
            66,
            &[
                (0, ResourceType::String, false),
                (1, ResourceType::String, false),
                (2, ResourceType::Objlnk, false),
            ],
        );
        let bytes = hex("080026C8000B6D79536572766963652031C8010F496E7465726E65742E31352E323334C40200430000080126C8000B6D79536572766963652032C8010F496E7465726E65742E31352E323335C402FFFFFFFF");
        let mut expected = Instances::new();
        expected.insert(
            0,
            res(vec![
                (0, string("myService 1")),
                (1, string("Internet.15.234")),
                (2, single(Value::Objlnk(67, 0))),
            ]),
        );
        expected.insert(
            1,
            res(vec![
                (0, string("myService 2")),
                (1, string("Internet.15.235")),
                (2, single(Value::Objlnk(65535, 65535))),
            ]),
        );
        assert_eq!(decode(&Path::object(66), &bytes, &o66).unwrap(), expected);
        assert_eq!(encode(&Path::object(66), &expected).unwrap(), bytes);

        assert_eq!(
            decode_value(ResourceType::Objlnk, &hex("12345678")),
            Ok(Value::Objlnk(0x1234, 0x5678))
        );
    }

    // VECTORS §1.6: every ID/length form, parsed and written.
    #[test]
    fn identifier_and_length_forms() {
        let cases: [(&str, TlvKind, u16, usize); 9] = [
            ("C700", TlvKind::Resource, 0, 7),
            ("E7A410", TlvKind::Resource, 42000, 7),
            ("C8FF08", TlvKind::Resource, 255, 8),
            ("E8FFFE08", TlvKind::Resource, 65534, 8),
            ("D02A03E8", TlvKind::Resource, 42, 1000),
            ("F0A5B403E8", TlvKind::Resource, 42420, 1000),
            ("D8450186A0", TlvKind::Resource, 69, 100000),
            ("F801020186A0", TlvKind::Resource, 258, 100000),
            ("4700", TlvKind::ResourceInstance, 0, 7),
        ];
        for (header, kind, id, len) in cases {
            let value: Vec<u8> = (0..len).map(|n| n as u8).collect();
            let mut bytes = hex(header);
            bytes.extend_from_slice(&value);
            let entries = parse_entries(&bytes).unwrap();
            assert_eq!(
                entries,
                [TlvEntry {
                    kind,
                    id,
                    value: &value
                }],
                "{header}"
            );
            let mut out = Vec::new();
            write_entry(&mut out, kind, id, &value).unwrap();
            assert_eq!(out, bytes, "{header}");
        }
        // MULTI 33 with a 16-bit length.
        let mut out = Vec::new();
        write_entry(&mut out, TlvKind::MultipleResource, 33, &[0; 400]).unwrap();
        assert_eq!(out.get(..4).unwrap(), hex("90210190"));
        // Bits 2–0 are ignored when a length field follows.
        let ignored_bits = hex("CF0101AA");
        let e = parse_entries(&ignored_bits).unwrap();
        assert_eq!(e[0].value, [0xAA]);
        // ID or length cut short.
        assert_eq!(parse_entries(&hex("E7")), Err(CodecError::Truncated));
        assert_eq!(
            parse_entries(&hex("F801020186")),
            Err(CodecError::Truncated)
        );
        let too_long = vec![0; MAX_VALUE_LEN + 1];
        assert!(matches!(
            write_entry(&mut out, TlvKind::Resource, 0, &too_long),
            Err(CodecError::BadValue(_))
        ));
    }

    // VECTORS §1.6: top-level resource instance, /0/0/0/0 style target.
    #[test]
    fn top_level_resource_instance() {
        let obj = test_object(9, &[(0, ResourceType::String, true)]);
        let bytes = hex("4700 31323334353637");
        let got = decode(&Path::resource_instance(9, 0, 0, 0), &bytes, &obj).unwrap();
        let expected = one(
            0,
            res(vec![(
                0,
                ResourceValue::Multiple(
                    [(0, Value::String("1234567".to_string()))]
                        .into_iter()
                        .collect(),
                ),
            )]),
        );
        assert_eq!(got, expected);
        assert_eq!(
            encode(&Path::resource_instance(9, 0, 0, 0), &expected).unwrap(),
            bytes
        );
        // A Resource TLV with the instance's ID is accepted too.
        let got = decode(
            &Path::resource_instance(9, 0, 0, 0),
            &hex("C700 31323334353637"),
            &obj,
        );
        assert_eq!(got.unwrap(), expected);
        // The ID must match the path.
        assert!(matches!(
            decode(&Path::resource_instance(9, 0, 0, 1), &bytes, &obj),
            Err(CodecError::WrongTarget(_))
        ));
    }

    // VECTORS §1.6: nested forms from Anjay and Wakaama, both directions.
    #[test]
    fn nested_forms() {
        // MULTI 1 with a 16-bit RI ID, then RES 2, written to an instance.
        let obj = test_object(
            9,
            &[
                (1, ResourceType::Integer, true),
                (2, ResourceType::Integer, false),
                (33, ResourceType::Opaque, false),
                (55, ResourceType::Opaque, false),
                (66, ResourceType::Opaque, false),
                (77, ResourceType::Opaque, true),
            ],
        );
        let bytes = hex("88010A412A456402020 00AA289 C10204");
        let expected = one(
            4,
            res(vec![
                (1, multi_int(&[(42, 69), (514, 696969)])),
                (2, int(4)),
            ]),
        );
        assert_eq!(
            decode(&Path::instance(9, 4), &bytes, &obj).unwrap(),
            expected
        );
        assert_eq!(encode(&Path::instance(9, 4), &expected).unwrap(), bytes);

        // OI 0x203 (16-bit ID, 8-bit length) with RES 55 and RES 66.
        let bytes = hex("28020311C337010203C84209040506070809 0A0B0C");
        let expected = one(
            0x203,
            res(vec![
                (55, single(Value::Opaque(vec![1, 2, 3]))),
                (66, single(Value::Opaque((4..=12).collect()))),
            ]),
        );
        assert_eq!(decode(&Path::object(9), &bytes, &obj).unwrap(), expected);
        assert_eq!(encode(&Path::object(9), &expected).unwrap(), bytes);

        // OI 11 › MULTI 77 › RI 0 (3 B), RI 1 (160 B, 8-bit length).
        let mut bytes = hex("080BAB884DA843000102034801A0");
        let long: Vec<u8> = (0..160).map(|n| n as u8).collect();
        bytes.extend_from_slice(&long);
        let expected = one(
            11,
            res(vec![(
                77,
                ResourceValue::Multiple(
                    [(0, Value::Opaque(vec![1, 2, 3])), (1, Value::Opaque(long))]
                        .into_iter()
                        .collect(),
                ),
            )]),
        );
        assert_eq!(decode(&Path::object(9), &bytes, &obj).unwrap(), expected);
        assert_eq!(encode(&Path::object(9), &expected).unwrap(), bytes);

        // Serializer: OI 3 with RES 66 (4 B) and MULTI 77 › RI 0 (170 B).
        let content = one(
            3,
            res(vec![
                (66, single(Value::Opaque(vec![1, 2, 3, 4]))),
                (
                    77,
                    ResourceValue::Multiple(
                        [(0, Value::Opaque(vec![7; 170]))].into_iter().collect(),
                    ),
                ),
            ]),
        );
        let out = encode(&Path::object(9), &content).unwrap();
        assert_eq!(
            out.get(..15).unwrap(),
            hex("0803B6 C44201020304 884DAD 4800AA")
        );
        assert_eq!(out.len(), 3 + 182);

        // Wakaama test_1: three OIs with the length in the type byte.
        let obj = test_object(9, &[(1, ResourceType::Integer, false)]);
        let bytes = hex("030AC10114030BC10115030CC10116");
        let mut expected = Instances::new();
        for (iid, v) in [(10, 20), (11, 21), (12, 22)] {
            expected.insert(iid, res(vec![(1, int(v))]));
        }
        assert_eq!(decode(&Path::object(9), &bytes, &obj).unwrap(), expected);
        assert_eq!(encode(&Path::object(9), &expected).unwrap(), bytes);
    }

    // VECTORS §1.7: integer value bytes, both directions, and the invalid sizes.
    #[test]
    fn integer_values() {
        let cases: [(i64, &str); 10] = [
            (42, "2A"),
            (4242, "1092"),
            (424242, "00067932"),
            (42424242, "028757B2"),
            (-52543054, "FCDE41B2"),
            (4242424242, "00000000FCDE41B2"),
            (424242424242, "00000062C6D1A9B2"),
            (424242424242424242, "05E3363CB39EC9B2"),
            (-0x1234, "EDCC"),
            (0x7f34567891223344, "7F34567891223344"),
        ];
        for (v, h) in cases {
            assert_eq!(encode_value(&Value::Integer(v)), hex(h), "{v}");
            assert_eq!(
                decode_value(ResourceType::Integer, &hex(h)),
                Ok(Value::Integer(v))
            );
        }
        for bad in [
            "",
            "067932",
            "00FCDE41B2",
            "0000FCDE41B2",
            "000000FCDE41B2",
            "0005E3363CB39EC9B2",
        ] {
            assert!(
                matches!(
                    decode_value(ResourceType::Integer, &hex(bad)),
                    Err(CodecError::BadValue(_))
                ),
                "{bad}"
            );
        }
        // Full TLVs for RES 1.
        let obj = test_object(9, &[(1, ResourceType::Integer, false)]);
        for (v, h) in [
            (42, "C1012A"),
            (4242, "C2011092"),
            (424242, "C40100067932"),
            (4242424242, "C8010800000000FCDE41B2"),
        ] {
            let expected = one(0, res(vec![(1, int(v))]));
            assert_eq!(
                decode(&Path::resource(9, 0, 1), &hex(h), &obj).unwrap(),
                expected
            );
            assert_eq!(encode(&Path::resource(9, 0, 1), &expected).unwrap(), hex(h));
        }
        // Time picks the shortest form too.
        assert_eq!(encode_value(&Value::Time(127)), hex("7F"));
        assert_eq!(encode_value(&Value::Time(32000)), hex("7D00"));
        assert_eq!(
            decode_value(ResourceType::Time, &hex("5182428F")),
            Ok(Value::Time(1367491215))
        );
    }

    #[test]
    fn unsigned_values() {
        let obj = test_object(9, &[(1, ResourceType::UnsignedInteger, false)]);
        for (v, h) in [
            (4294967295u64, "C401FFFFFFFF"),
            (4294967296, "C801080000000100000000"),
            (u64::MAX, "C80108FFFFFFFFFFFFFFFF"),
            (200, "C101C8"),
        ] {
            let expected = one(0, res(vec![(1, single(Value::Unsigned(v)))]));
            assert_eq!(
                decode(&Path::resource(9, 0, 1), &hex(h), &obj).unwrap(),
                expected
            );
            assert_eq!(encode(&Path::resource(9, 0, 1), &expected).unwrap(), hex(h));
        }
        // Wakaama: 8F34… is a valid unsigned but negative as a signed integer.
        assert_eq!(
            decode_value(ResourceType::UnsignedInteger, &hex("8F34567891223344")),
            Ok(Value::Unsigned(0x8f34567891223344))
        );
        assert!(decode_value(ResourceType::UnsignedInteger, &hex("010203")).is_err());
    }

    #[test]
    fn float_values() {
        assert_eq!(encode_value(&Value::Float(1.0)), hex("3F800000"));
        assert_eq!(encode_value(&Value::Float(-42000.0)), hex("C7241000"));
        assert_eq!(encode_value(&Value::Float(1.1)), hex("3FF199999999999A"));
        for (h, v) in [
            ("3F800000", 1.0),
            ("3FF0000000000000", 1.0),
            ("C7241000", -42000.0),
            ("C0E4820000000000", -42000.0),
            ("3FF199999999999A", 1.1),
        ] {
            assert_eq!(
                decode_value(ResourceType::Float, &hex(h)),
                Ok(Value::Float(v))
            );
        }
        for len in [0, 1, 2, 3, 5, 6, 7, 9] {
            assert!(
                decode_value(ResourceType::Float, &vec![0; len]).is_err(),
                "{len}"
            );
        }
    }

    #[test]
    fn boolean_objlnk_string_values() {
        assert_eq!(
            decode_value(ResourceType::Boolean, &[0]),
            Ok(Value::Boolean(false))
        );
        assert_eq!(
            decode_value(ResourceType::Boolean, &[1]),
            Ok(Value::Boolean(true))
        );
        for bad in [&[2u8][..], &[0, 1], &[]] {
            assert!(matches!(
                decode_value(ResourceType::Boolean, bad),
                Err(CodecError::BadValue(_))
            ));
        }
        assert_eq!(encode_value(&Value::Boolean(true)), [1]);
        for ((o, i), h) in [
            ((0, 0), "00000000"),
            ((1, 0), "00010000"),
            ((0, 1), "00000001"),
            ((1, 65535), "0001FFFF"),
            ((65535, 1), "FFFF0001"),
            ((65535, 65535), "FFFFFFFF"),
        ] {
            assert_eq!(encode_value(&Value::Objlnk(o, i)), hex(h));
            assert_eq!(
                decode_value(ResourceType::Objlnk, &hex(h)),
                Ok(Value::Objlnk(o, i))
            );
        }
        assert!(decode_value(ResourceType::Objlnk, &hex("000000")).is_err());
        assert!(matches!(
            decode_value(ResourceType::String, &[0x66, 0xFF]),
            Err(CodecError::BadValue(_))
        ));
        assert_eq!(
            decode_value(ResourceType::Corelnk, b"</1>"),
            Ok(Value::Corelnk("</1>".to_string()))
        );
        assert!(decode_value(ResourceType::None, &[]).is_err());
    }

    // VECTORS §1.8: lenient and strict cases.
    #[test]
    fn multiple_resource_targets() {
        let s = std_schema();
        let target = Path::resource(3, 0, 6);
        let expected = one(0, res(vec![(6, multi_int(&[(0, 1), (1, 5)]))]));
        let normal = hex("8606 410001 410105");
        assert_eq!(decode(&target, &normal, &s).unwrap(), expected);
        assert_eq!(decode(&target, &hex("410001410105"), &s).unwrap(), expected);
        assert_eq!(encode(&target, &expected).unwrap(), normal);
        // Multiple resources always use MULTI, even with 0 or 1 instance.
        let empty = one(0, res(vec![(6, multi_int(&[]))]));
        assert_eq!(encode(&target, &empty).unwrap(), hex("8006"));
        assert_eq!(decode(&target, &hex("8006"), &s).unwrap(), empty);
        assert_eq!(decode(&target, &[], &s).unwrap(), empty);
        let single_inst = one(0, res(vec![(6, multi_int(&[(0, 1)]))]));
        assert_eq!(encode(&target, &single_inst).unwrap(), hex("8306410001"));
        // One resource instance.
        let ri = Path::resource_instance(3, 0, 6, 1);
        assert_eq!(encode(&ri, &expected).unwrap(), hex("410105"));
        assert_eq!(
            decode(&ri, &hex("410105"), &s).unwrap(),
            one(0, res(vec![(6, multi_int(&[(1, 5)]))]))
        );
        // A multiple resource sent as a single one, and the reverse.
        assert!(decode(&target, &hex("C10601"), &s).is_err());
        assert!(decode(&Path::resource(3, 0, 9), &hex("8309410064"), &s).is_err());
        assert!(decode(&Path::instance(3, 0), &hex("8309410064"), &s).is_err());
        assert!(decode(&Path::instance(3, 0), &hex("C10601"), &s).is_err());
        // A resource-instance path on a single resource.
        assert!(decode(&Path::resource_instance(3, 0, 9, 0), &hex("410064"), &s).is_err());
    }

    #[test]
    fn empty_payloads() {
        let s = std_schema();
        assert_eq!(decode(&Path::object(2), &[], &s).unwrap(), Instances::new());
        assert_eq!(
            decode(&Path::instance(3, 0), &[], &s).unwrap(),
            one(0, Resources::new())
        );
        assert!(matches!(
            decode(&Path::resource(3, 0, 9), &[], &s),
            Err(CodecError::Malformed(_))
        ));
        assert!(decode(&Path::resource_instance(3, 0, 6, 0), &[], &s).is_err());
    }

    #[test]
    fn duplicates_are_rejected() {
        let s = std_schema();
        // Two OIs with the same ID.
        assert!(decode(&Path::object(1), &hex("0300C10001 0300C10002"), &s).is_err());
        // Two resources with the same ID in one instance.
        assert!(decode(&Path::instance(1, 0), &hex("C10001 C10002"), &s).is_err());
        // Two resource instances with the same ID.
        assert!(decode(&Path::resource(3, 0, 6), &hex("8606 410001 410005"), &s).is_err());
        assert!(decode(&Path::resource(3, 0, 6), &hex("410001 410005"), &s).is_err());
        // Duplicates count even for resources the schema does not know.
        assert!(decode(&Path::instance(1, 0), &hex("C16301 C16302"), &s).is_err());
    }

    #[test]
    fn unknown_resources_are_skipped() {
        let s = std_schema();
        // RES 99 and MULTI 98 are not in the Device model.
        let bytes = hex("C1630A 8362410107 C10964");
        assert_eq!(
            decode(&Path::instance(3, 0), &bytes, &s).unwrap(),
            one(0, res(vec![(9, int(100))]))
        );
        assert_eq!(
            decode(&Path::resource(3, 0, 99), &hex("C1630A"), &s).unwrap(),
            one(0, Resources::new())
        );
        // Their structure is still checked.
        assert!(decode(&Path::instance(3, 0), &hex("8362030001"), &s).is_err());
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let s = std_schema();
        let inst = Path::instance(3, 0);
        let cases: &[(&Path, &str)] = &[
            (&inst, "C1"),                          // header without ID
            (&inst, "C809"),                        // missing length byte
            (&inst, "D009 01"),                     // 16-bit length cut short
            (&inst, "C30901"),                      // length past the end
            (&inst, "C30901 0203"),                 // 3-byte integer
            (&Path::instance(1, 0), "C2060001"),    // 2-byte boolean
            (&Path::instance(1, 0), "C10602"),      // boolean 2
            (&inst, "C30EFFFEFD"),                  // invalid UTF-8 string
            (&inst, "410001"),                      // RI directly in an instance
            (&Path::object(3), "0300 410001"),      // RI inside an OI
            (&Path::object(3), "0500 03010000 00"), // OI inside an OI
            (&inst, "8206 0000"),                   // OI inside a MULTI
            (&inst, "8406 C1000A"),                 // RES inside a MULTI
            (&Path::object(3), "C10964"),           // RES without OI for /O
            (&inst, "0011223344556677889900"),      // Leshan decode_broken_tlv
            (&Path::resource(3, 0, 9), "C10A64"),   // other resource ID than the path
            (&Path::resource(3, 0, 9), "C10964 C10964"),
            (&inst, "0300C10964 0300C10964"), // two OIs for one instance
            (&Path::object(3), "23FFFFC10964"), // reserved instance ID 65535
        ];
        for (target, h) in cases {
            assert!(decode(target, &hex(h), &s).is_err(), "{target} {h}");
        }
        assert!(matches!(
            decode(&Path::ROOT, &hex(DEVICE), &s),
            Err(CodecError::WrongTarget(_))
        ));
        assert!(matches!(
            decode(&Path::instance(1, 1), &hex("0300C10001"), &s),
            Err(CodecError::WrongTarget(_))
        ));
    }

    #[test]
    fn encode_needs_the_target_in_the_content() {
        let content = one(0, device_resources());
        for p in [
            Path::ROOT,
            Path::instance(3, 1),
            Path::resource(3, 0, 5),
            Path::resource_instance(3, 0, 6, 7),
            Path::resource_instance(3, 0, 9, 0),
        ] {
            assert!(
                matches!(encode(&p, &content), Err(CodecError::WrongTarget(_))),
                "{p}"
            );
        }
        assert_eq!(
            encode(&Path::resource(3, 0, 9), &content).unwrap(),
            hex("C10964")
        );
        assert!(encode(&Path::object(3), &Instances::new())
            .unwrap()
            .is_empty());
    }

    /// Targets and schemas the fuzz loops decode against.
    fn fuzz_targets() -> [Path; 8] {
        [
            Path::ROOT,
            Path::object(3),
            Path::instance(3, 0),
            Path::resource(3, 0, 6),
            Path::resource(3, 0, 14),
            Path::resource_instance(3, 0, 7, 1),
            Path::object(2),
            Path::instance(1, 0),
        ]
    }

    #[test]
    fn random_bytes_never_panic() {
        let s = std_schema();
        let mut rng = Rng::new(0x7157);
        for _ in 0..3000 {
            let len = rng.range(0, 64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            for t in fuzz_targets() {
                let _ = decode(&t, &bytes, &s);
            }
            for e in TlvReader::new(&bytes).flatten() {
                let _ = e.children();
            }
        }
    }

    #[test]
    fn mutated_vectors_never_panic() {
        let s = std_schema();
        let mut rng = Rng::new(42);
        let seeds = [
            hex(&("080079".to_string() + DEVICE)),
            hex("08000EC10001C101008302417F07C1037F080212C10003C101008702417F0761013601C1037F"),
            hex("08000FC10001C40100015180C10601C10755"),
        ];
        for seed in &seeds {
            for _ in 0..1000 {
                let mut bytes = seed.clone();
                for _ in 0..rng.range(1, 4) {
                    let at = rng.range(0, bytes.len() as u64 - 1) as usize;
                    bytes[at] = rng.next_u64() as u8;
                }
                bytes.truncate(rng.range(0, bytes.len() as u64) as usize);
                for t in fuzz_targets() {
                    if let Ok(got) = decode(&t, &bytes, &s) {
                        // Whatever decodes must encode again.
                        if !t.is_root() && t.depth() < 3 {
                            encode(&t, &got).unwrap();
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn random_values_round_trip() {
        let mut rng = Rng::new(5);
        for _ in 0..2000 {
            let x = rng.next_u64();
            let shift = rng.range(0, 63) as u32;
            let i = (x as i64) >> shift;
            let bytes = encode_value(&Value::Integer(i));
            assert_eq!(
                decode_value(ResourceType::Integer, &bytes),
                Ok(Value::Integer(i))
            );
            let u = x >> shift;
            let bytes = encode_value(&Value::Unsigned(u));
            assert_eq!(
                decode_value(ResourceType::UnsignedInteger, &bytes),
                Ok(Value::Unsigned(u))
            );
            let f = f64::from_bits(x);
            if f.is_finite() {
                let bytes = encode_value(&Value::Float(f));
                assert_eq!(
                    decode_value(ResourceType::Float, &bytes),
                    Ok(Value::Float(f))
                );
            }
        }
    }
}
