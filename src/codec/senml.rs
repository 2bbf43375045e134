//! The SenML record model (RFC 8428) as LwM2M uses it, shared by SenML JSON, SenML CBOR and the
//! legacy LwM2M JSON format: wire records in, typed [`Instances`] out, and the reverse.
//!
//! LwM2M names records by path: the base name `bn` (which persists until the next `bn`,
//! RFC 8428 §4.5.1) followed by the name `n` gives `/O/I/R` or `/O/I/R/RI` (Core 1.1 §7.4.4,
//! FACTS §6.4). Time fields are parsed for well-formedness and dropped: a Write carries no
//! history.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use super::CodecError;
use crate::model::Schema;
use crate::path::Path;
use crate::value::{Instances, ResourceType, ResourceValue, Value};

/// A number as the wire gave it. CBOR integers span -2^64..2^64, hence i128.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i128),
    Float(f64),
}

/// A record's value before the schema gives it a type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    /// `v`
    Number(Number),
    /// `vb`
    Bool(bool),
    /// `vs` (and legacy `sv`)
    Text(String),
    /// `vd`, already decoded to bytes
    Data(Vec<u8>),
    /// `vlo` (and legacy `ov`), still as "OID:IID"
    Objlnk(String),
}

/// One record as it appears on the wire, before base names are applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawRecord {
    pub base_name: Option<String>,
    pub name: Option<String>,
    pub value: Option<RawValue>,
}

impl RawRecord {
    pub(super) fn set_base_name(&mut self, s: String) -> Result<(), CodecError> {
        set_once(&mut self.base_name, s, "bn")
    }
    pub(super) fn set_name(&mut self, s: String) -> Result<(), CodecError> {
        set_once(&mut self.name, s, "n")
    }
    /// RFC 8428 §4.2: a record carries at most one value field.
    pub(super) fn set_value(&mut self, v: RawValue) -> Result<(), CodecError> {
        set_once(&mut self.value, v, "value")
    }
}

fn set_once<T>(slot: &mut Option<T>, v: T, what: &str) -> Result<(), CodecError> {
    if slot.is_some() {
        return Err(CodecError::Malformed(format!(
            "record has more than one {what} field"
        )));
    }
    *slot = Some(v);
    Ok(())
}

/// The SenML fields LwM2M cares about (RFC 8428 §4.1, labels from §6 Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    BaseName,
    BaseTime,
    BaseValue,
    BaseVersion,
    Name,
    Time,
    Value,
    BoolValue,
    StringValue,
    DataValue,
    ObjlnkValue,
    /// A field we do not know whose name ends in `_`: RFC 8428 §4.4 says such a pack must be
    /// rejected.
    MustUnderstand,
    /// Any other field (units, sums, update time, ...): ignored.
    Other,
}

impl Field {
    /// By JSON key (also accepted as a text key in CBOR).
    pub(super) fn from_key(key: &str) -> Field {
        match key {
            "bn" => Field::BaseName,
            "bt" => Field::BaseTime,
            "bv" => Field::BaseValue,
            "bver" => Field::BaseVersion,
            "n" => Field::Name,
            "t" => Field::Time,
            "v" => Field::Value,
            "vb" => Field::BoolValue,
            "vs" => Field::StringValue,
            "vd" => Field::DataValue,
            // Core 1.1 §7.4.4: the LwM2M extension for object links, text key in every format.
            "vlo" => Field::ObjlnkValue,
            k if k.ends_with('_') => Field::MustUnderstand,
            _ => Field::Other,
        }
    }

    /// By CBOR integer label (RFC 8428 §6 Table 4).
    #[cfg(feature = "cbor")]
    pub(super) fn from_label(label: i128) -> Field {
        match label {
            -1 => Field::BaseVersion,
            -2 => Field::BaseName,
            -3 => Field::BaseTime,
            -5 => Field::BaseValue,
            0 => Field::Name,
            2 => Field::Value,
            3 => Field::StringValue,
            4 => Field::BoolValue,
            6 => Field::Time,
            8 => Field::DataValue,
            _ => Field::Other,
        }
    }
}

/// A base value shifts every following `v` (RFC 8428 §4.5.2); LwM2M never sends one, and silently
/// ignoring it would write wrong numbers, so a non-zero one is refused.
pub(crate) fn check_base_value(n: Number) -> Result<(), CodecError> {
    let zero = match n {
        Number::Int(i) => i == 0,
        Number::Float(f) => f == 0.0,
    };
    if zero {
        Ok(())
    } else {
        Err(CodecError::Malformed(
            "base value (bv) is not supported".into(),
        ))
    }
}

/// Which format the records came from: the legacy LwM2M JSON carries opaque data as a Base64
/// string in `sv` (FACTS §6.4), SenML in `vd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Senml,
    LegacyJson,
}

/// URL-safe Base64 for SenML JSON `vd` (RFC 8428 §4.3: "base64url ... without padding"); padding
/// is tolerated on input.
#[cfg(feature = "json")]
pub(crate) const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard Base64 for opaque values in legacy LwM2M JSON `sv`; padding optional on input.
const BASE64_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Applies base names and parses each full name as a path. Returns (path, value) per record.
pub(crate) fn resolve(
    records: impl IntoIterator<Item = RawRecord>,
) -> Result<Vec<(Path, Option<RawValue>)>, CodecError> {
    full_names(records)
        .into_iter()
        .map(|(full, value)| Ok((parse_name(&full)?, value)))
        .collect()
}

/// Each record's full name (RFC 8428 §4.5.1: the latest base name, then the name) and value.
fn full_names(records: impl IntoIterator<Item = RawRecord>) -> Vec<(String, Option<RawValue>)> {
    let mut base = String::new();
    records
        .into_iter()
        .map(|r| {
            if let Some(bn) = r.base_name {
                base = bn;
            }
            let mut full = base.clone();
            full.push_str(r.name.as_deref().unwrap_or(""));
            (full, r.value)
        })
        .collect()
}

/// The paths a composite request names (Read-Composite, Observe-Composite: Core 1.1 §5.4.1.1,
/// §5.5.1.1): base names applied, each full name `/O`, `/O/I`, `/O/I/R` or `/O/I/R/RI`;
/// values, if any, are ignored. An empty list is malformed.
pub(crate) fn resolve_paths(
    records: impl IntoIterator<Item = RawRecord>,
) -> Result<Vec<Path>, CodecError> {
    let out = full_names(records)
        .into_iter()
        .map(|(full, _)| parse_path(&full, 1))
        .collect::<Result<Vec<Path>, CodecError>>()?;
    if out.is_empty() {
        return Err(CodecError::Malformed(
            "a composite request names no path".into(),
        ));
    }
    Ok(out)
}

/// Parses `/O/I/R` or `/O/I/R/RI`, strictly: a leading `/`, no empty segments.
fn parse_name(full: &str) -> Result<Path, CodecError> {
    parse_path(full, 3)
}

/// Parses a path of at least `min_depth` segments, strictly: a leading `/`, no empty segments.
fn parse_path(full: &str, min_depth: usize) -> Result<Path, CodecError> {
    let bad = || CodecError::Malformed(format!("record name {full:?} is not a resource path"));
    let rest = full.strip_prefix('/').ok_or_else(bad)?;
    if rest.split('/').any(str::is_empty) {
        return Err(bad());
    }
    let path = Path::from_segments(rest.split('/')).map_err(|_| bad())?;
    if path.depth() < min_depth {
        return Err(bad());
    }
    Ok(path)
}

/// Builds the Instances of `target`'s object from resolved records (see the contract in
/// `codec/mod.rs`).
pub(crate) fn build_instances(
    target: &Path,
    entries: Vec<(Path, Option<RawValue>)>,
    schema: &dyn Schema,
    dialect: Dialect,
) -> Result<Instances, CodecError> {
    let oid = target
        .object_id()
        .ok_or_else(|| CodecError::WrongTarget("the root path carries no values".into()))?;
    let mut out = Instances::new();
    if let Some(iid) = target.instance_id() {
        out.insert(iid, Default::default());
    }
    let mut seen = BTreeSet::new();
    for (path, raw) in entries {
        if !target.contains(&path) {
            return Err(CodecError::WrongTarget(format!(
                "record {path} is outside {target}"
            )));
        }
        if !seen.insert(path) {
            return Err(CodecError::Malformed(format!(
                "record {path} appears twice"
            )));
        }
        let (Some(iid), Some(rid)) = (path.instance_id(), path.resource_id()) else {
            return Err(CodecError::Malformed(format!("{path} is not a resource")));
        };
        let raw =
            raw.ok_or_else(|| CodecError::Malformed(format!("record {path} has no value")))?;
        // Core 1.1 §6.3.3 (codec contract): unknown resources are skipped.
        let Some(shape) = schema.shape(oid, rid) else {
            continue;
        };
        let value = typed_value(shape.kind, raw, dialect)
            .map_err(|why| CodecError::BadValue(format!("{path}: {why}")))?;
        let resources = out.entry(iid).or_default();
        match (shape.multiple, path.resource_instance_id()) {
            (false, None) => {
                resources.insert(rid, ResourceValue::Single(value));
            }
            (true, Some(ri)) => {
                let slot = resources
                    .entry(rid)
                    .or_insert_with(|| ResourceValue::Multiple(Default::default()));
                if let ResourceValue::Multiple(m) = slot {
                    m.insert(ri, value);
                }
            }
            (true, None) => {
                return Err(CodecError::Malformed(format!(
                    "{path} is a multiple resource: records must name its instances"
                )))
            }
            (false, Some(_)) => {
                return Err(CodecError::Malformed(format!(
                    "{path} names an instance of a single resource"
                )))
            }
        }
    }
    complete_target(target, &mut out, schema)?;
    Ok(out)
}

/// A payload for a resource target must say something about that resource: an empty pack for a
/// multiple resource means "no instances", for a single resource it is an error.
fn complete_target(
    target: &Path,
    out: &mut Instances,
    schema: &dyn Schema,
) -> Result<(), CodecError> {
    let (Some(oid), Some(iid), Some(rid)) = (
        target.object_id(),
        target.instance_id(),
        target.resource_id(),
    ) else {
        return Ok(());
    };
    let Some(shape) = schema.shape(oid, rid) else {
        return Ok(());
    };
    let resources = out.entry(iid).or_default();
    let present = resources.get(&rid);
    match (shape.multiple, target.resource_instance_id(), present) {
        (true, None, None) => {
            resources.insert(rid, ResourceValue::Multiple(Default::default()));
            Ok(())
        }
        (_, _, None) => Err(CodecError::Malformed(format!("no record for {target}"))),
        (true, Some(ri), Some(ResourceValue::Multiple(m))) if !m.contains_key(&ri) => {
            Err(CodecError::Malformed(format!("no record for {target}")))
        }
        _ => Ok(()),
    }
}

/// Types a wire value by the resource's declared type (Core 1.1 Appendix C; FACTS §6.4).
fn typed_value(kind: ResourceType, raw: RawValue, dialect: Dialect) -> Result<Value, String> {
    let mismatch = |raw: &RawValue| format!("{} value for a {kind:?} resource", raw_kind(raw));
    match (kind, raw) {
        (ResourceType::Integer, RawValue::Number(n)) => number_to_i64(n)
            .map(Value::Integer)
            .ok_or_else(|| "not an integer in the 64-bit signed range".to_string()),
        (ResourceType::Time, RawValue::Number(n)) => number_to_i64(n)
            .map(Value::Time)
            .ok_or_else(|| "not an integer number of seconds".to_string()),
        (ResourceType::UnsignedInteger, RawValue::Number(n)) => number_to_u64(n)
            .map(Value::Unsigned)
            .ok_or_else(|| "not an integer in the 64-bit unsigned range".to_string()),
        (ResourceType::Float, RawValue::Number(n)) => Ok(Value::Float(match n {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        })),
        (ResourceType::Boolean, RawValue::Bool(b)) => Ok(Value::Boolean(b)),
        (ResourceType::String, RawValue::Text(s)) => Ok(Value::String(s)),
        (ResourceType::Corelnk, RawValue::Text(s)) => Ok(Value::Corelnk(s)),
        (ResourceType::Opaque, RawValue::Data(d)) => Ok(Value::Opaque(d)),
        (ResourceType::Opaque, RawValue::Text(s)) if dialect == Dialect::LegacyJson => BASE64_STD
            .decode(s.as_bytes())
            .map(Value::Opaque)
            .map_err(|_| "opaque value is not valid Base64".to_string()),
        (ResourceType::Objlnk, RawValue::Objlnk(s)) => parse_objlnk(&s)
            .map(|(o, i)| Value::Objlnk(o, i))
            .ok_or_else(|| format!("object link {s:?} is not \"OID:IID\"")),
        (ResourceType::None, _) => Err("executable resources carry no value".to_string()),
        (_, raw) => Err(mismatch(&raw)),
    }
}

fn raw_kind(raw: &RawValue) -> &'static str {
    match raw {
        RawValue::Number(_) => "numeric",
        RawValue::Bool(_) => "boolean",
        RawValue::Text(_) => "string",
        RawValue::Data(_) => "data",
        RawValue::Objlnk(_) => "object link",
    }
}

// 2^63 and 2^64 are exact in f64; the bounds are checked before casting so that the saturating
// `as` cannot turn 2^63 into i64::MAX.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

fn number_to_i64(n: Number) -> Option<i64> {
    match n {
        Number::Int(i) => i64::try_from(i).ok(),
        Number::Float(f) if (-TWO_POW_63..TWO_POW_63).contains(&f) => {
            let i = f as i64;
            (i as f64 == f).then_some(i)
        }
        Number::Float(_) => None,
    }
}

fn number_to_u64(n: Number) -> Option<u64> {
    match n {
        Number::Int(i) => u64::try_from(i).ok(),
        Number::Float(f) if (0.0..TWO_POW_64).contains(&f) => {
            let u = f as u64;
            (u as f64 == f).then_some(u)
        }
        Number::Float(_) => None,
    }
}

/// "OID:IID" with decimal IDs; the null link may also be written "FFFF:FFFF" as the TS
/// examples do (VECTORS §4.2).
fn parse_objlnk(s: &str) -> Option<(u16, u16)> {
    if s.eq_ignore_ascii_case("FFFF:FFFF") {
        return Some((u16::MAX, u16::MAX));
    }
    let (o, i) = s.split_once(':')?;
    Some((parse_u16(o)?, parse_u16(i)?))
}

fn parse_u16(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Decimal fraction (CBOR tag 4, RFC 8949 §3.4.4) `mantissa × 10^exponent` as a number: an
/// integer when exact, else the nearest float.
#[cfg(feature = "cbor")]
pub(crate) fn decimal_fraction(exponent: i64, mantissa: i128) -> Number {
    let exact = if exponent >= 0 {
        u32::try_from(exponent)
            .ok()
            .and_then(|e| 10i128.checked_pow(e))
            .and_then(|p| mantissa.checked_mul(p))
    } else {
        exponent
            .checked_neg()
            .and_then(|e| u32::try_from(e).ok())
            .and_then(|e| 10i128.checked_pow(e))
            .filter(|p| mantissa % p == 0)
            .map(|p| mantissa / p)
    };
    match exact {
        Some(i) => Number::Int(i),
        // core's float parser rounds correctly, unlike repeated multiplication.
        None => Number::Float(format!("{mantissa}e{exponent}").parse().unwrap_or(f64::NAN)),
    }
}

/// One output record: the base name on the first record only, the name relative to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutRecord<'a> {
    pub base_name: Option<String>,
    pub name: Option<String>,
    pub value: &'a Value,
}

/// Records for several targets, each leaf named by its full path and no base name, in the
/// order given (Send and Read-Composite, Core 1.1 §7.4.4 and §6.4.1).
pub(crate) fn composite_records(
    items: &[(Path, Instances)],
) -> Result<Vec<OutRecord<'_>>, CodecError> {
    let mut out = Vec::new();
    for (target, content) in items {
        for record in out_records(target, content)? {
            let leaf = match (&record.base_name, &record.name) {
                (Some(bn), None) => bn.clone(),
                (_, Some(n)) => format!("{target}/{n}"),
                (None, None) => target.to_string(),
            };
            out.push(OutRecord {
                base_name: None,
                name: Some(leaf),
                value: record.value,
            });
        }
    }
    Ok(out)
}

/// Flattens the content of a Read of `target` into records, in path order.
///
/// Shapes as Leshan and the TS examples write them (VECTORS §4.2): for an object, instance or
/// multiple-resource target the first record has `bn` = the target path with a trailing `/`
/// and each record a relative `n`; for a single resource or resource instance there is one
/// record with `bn` = its full path and no `n`.
pub(crate) fn out_records<'a, R: core::borrow::Borrow<crate::value::Resources>>(
    target: &Path,
    content: &'a crate::value::VecMap<u16, R>,
) -> Result<Vec<OutRecord<'a>>, CodecError> {
    let oid = target
        .object_id()
        .ok_or_else(|| CodecError::WrongTarget("the root path carries no values".into()))?;
    let mut leaves: Vec<(Path, &Value)> = Vec::new();
    for (&iid, resources) in content {
        for (&rid, rv) in resources.borrow() {
            let rpath = Path::resource(oid, iid, rid);
            match rv {
                ResourceValue::Single(v) => leaves.push((rpath, v)),
                ResourceValue::Multiple(m) => {
                    for (&ri, v) in m {
                        leaves.push((Path::resource_instance(oid, iid, rid, ri), v));
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(leaves.len());
    for (n, (path, value)) in leaves.into_iter().enumerate() {
        if !target.contains(&path) {
            return Err(CodecError::WrongTarget(format!(
                "content {path} is outside {target}"
            )));
        }
        let first = n == 0;
        let rec = if path == *target {
            OutRecord {
                base_name: first.then(|| path.to_string()),
                name: None,
                value,
            }
        } else {
            let rel = path.ids().get(target.depth()..).unwrap_or(&[]);
            let name = rel
                .iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join("/");
            OutRecord {
                base_name: first.then(|| format!("{target}/")),
                name: Some(name),
                value,
            }
        };
        out.push(rec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(bn: Option<&str>, n: Option<&str>, v: RawValue) -> RawRecord {
        RawRecord {
            base_name: bn.map(String::from),
            name: n.map(String::from),
            value: Some(v),
        }
    }

    fn decode(target: &str, recs: Vec<RawRecord>) -> Result<Instances, CodecError> {
        let schema = &crate::store::Store::with_standard_objects();
        build_instances(
            &target.parse().unwrap(),
            resolve(recs)?,
            schema,
            Dialect::Senml,
        )
    }

    fn int(i: i128) -> RawValue {
        RawValue::Number(Number::Int(i))
    }

    #[test]
    fn base_name_persists_until_replaced() {
        let got = resolve(vec![
            rec(Some("/3/0/"), Some("0"), int(1)),
            rec(None, Some("9"), int(2)),
            rec(Some("/3/0/7/"), Some("1"), int(3)),
            rec(None, Some("2"), int(4)),
        ])
        .unwrap();
        let paths: Vec<String> = got.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(paths, ["/3/0/0", "/3/0/9", "/3/0/7/1", "/3/0/7/2"]);
    }

    #[test]
    fn names_must_be_strict_resource_paths() {
        for bad in [
            "3/0/0",
            "/3/0",
            "/3//0/0",
            "/3/0/0/",
            "/3/0/x",
            "/3/0/65535",
            "",
        ] {
            let r = resolve(vec![rec(None, Some(bad), int(1))]);
            assert!(matches!(r, Err(CodecError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn integer_typing_rules() {
        let ok = |v: RawValue| decode("/3/0/9", vec![rec(Some("/3/0/9"), None, v)]);
        assert_eq!(
            ok(RawValue::Number(Number::Float(100.0))).unwrap()[&0][&9],
            ResourceValue::Single(Value::Integer(100))
        );
        for bad in [
            RawValue::Number(Number::Float(1.5)),
            RawValue::Number(Number::Float(TWO_POW_63)),
            RawValue::Number(Number::Float(f64::NAN)),
            RawValue::Number(Number::Int(i128::from(i64::MAX) + 1)),
            RawValue::Text("100".into()),
            RawValue::Bool(true),
        ] {
            assert!(
                matches!(ok(bad.clone()), Err(CodecError::BadValue(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            number_to_i64(Number::Float(-TWO_POW_63)),
            Some(i64::MIN),
            "-2^63 is in range"
        );
        assert_eq!(number_to_u64(Number::Float(-1.0)), None);
        assert_eq!(number_to_u64(Number::Int(-1)), None);
        assert_eq!(number_to_u64(Number::Float(TWO_POW_64)), None);
        assert_eq!(number_to_u64(Number::Int(u64::MAX.into())), Some(u64::MAX));
    }

    #[test]
    fn object_links() {
        assert_eq!(parse_objlnk("66:0"), Some((66, 0)));
        assert_eq!(parse_objlnk("FFFF:FFFF"), Some((65535, 65535)));
        assert_eq!(parse_objlnk("ffff:ffff"), Some((65535, 65535)));
        assert_eq!(parse_objlnk("65535:65535"), Some((65535, 65535)));
        for bad in [
            "66", "66:", ":0", "66:0:1", "-1:0", "65536:0", "+1:0", "1 :0",
        ] {
            assert_eq!(parse_objlnk(bad), None, "{bad:?}");
        }
    }

    #[test]
    #[cfg(feature = "cbor")]
    fn decimal_fractions() {
        assert_eq!(decimal_fraction(0, 500_000_004), Number::Int(500_000_004));
        assert_eq!(decimal_fraction(2, 5), Number::Int(500));
        assert_eq!(decimal_fraction(-2, 500), Number::Int(5));
        assert_eq!(decimal_fraction(-1, 229), Number::Float(22.9));
        assert_eq!(decimal_fraction(-400, 1), Number::Float(0.0));
        assert!(matches!(
            decimal_fraction(i64::MIN, 1),
            Number::Float(f) if f == 0.0
        ));
        assert!(matches!(
            decimal_fraction(400, 1),
            Number::Float(f) if f.is_infinite()
        ));
    }

    #[test]
    fn single_and_multiple_shapes_are_enforced() {
        // /3/0/7 is multiple, /3/0/9 single.
        assert!(matches!(
            decode("/3/0", vec![rec(Some("/3/0/7"), None, int(1))]),
            Err(CodecError::Malformed(_))
        ));
        assert!(matches!(
            decode("/3/0", vec![rec(Some("/3/0/9/0"), None, int(1))]),
            Err(CodecError::Malformed(_))
        ));
        // An empty pack for a multiple resource clears it; for a single one it is an error.
        assert_eq!(
            decode("/3/0/7", vec![]).unwrap()[&0][&7],
            ResourceValue::Multiple(Default::default())
        );
        assert!(decode("/3/0/9", vec![]).is_err());
        assert!(decode("/3/0/7/1", vec![]).is_err());
        assert!(decode("/3/0/7/1", vec![rec(Some("/3/0/7/0"), None, int(1))]).is_err());
    }

    #[test]
    fn targets_duplicates_and_unknown_resources() {
        assert!(matches!(
            decode("/3/0", vec![rec(Some("/3/1/9"), None, int(1))]),
            Err(CodecError::WrongTarget(_))
        ));
        assert!(matches!(
            decode("/", vec![rec(Some("/3/0/9"), None, int(1))]),
            Err(CodecError::WrongTarget(_))
        ));
        assert!(matches!(
            decode(
                "/3/0",
                vec![
                    rec(Some("/3/0/"), Some("9"), int(1)),
                    rec(None, Some("9"), int(2))
                ]
            ),
            Err(CodecError::Malformed(_))
        ));
        // Resource 99 is not in the Device model: skipped, not an error.
        let got = decode(
            "/3/0",
            vec![
                rec(Some("/3/0/"), Some("99"), RawValue::Text("x".into())),
                rec(None, Some("9"), int(50)),
            ],
        )
        .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[&0].len(), 1);
        assert_eq!(got[&0][&9], ResourceValue::Single(Value::Integer(50)));
        // Executable resources cannot be written.
        assert!(matches!(
            decode("/3/0/4", vec![rec(Some("/3/0/4"), None, int(1))]),
            Err(CodecError::BadValue(_))
        ));
    }

    #[test]
    fn out_record_shapes() {
        let mut content = Instances::new();
        content
            .entry(0)
            .or_default()
            .insert(9, ResourceValue::Single(Value::Integer(1)));
        let recs = out_records(&Path::resource(3, 0, 9), &content).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].base_name.as_deref(), Some("/3/0/9"));
        assert_eq!(recs[0].name, None);
        let recs = out_records(&Path::object(3), &content).unwrap();
        assert_eq!(recs[0].base_name.as_deref(), Some("/3/"));
        assert_eq!(recs[0].name.as_deref(), Some("0/9"));
        assert!(matches!(
            out_records(&Path::instance(3, 1), &content),
            Err(CodecError::WrongTarget(_))
        ));
        assert!(matches!(
            out_records(&Path::ROOT, &content),
            Err(CodecError::WrongTarget(_))
        ));
    }
}

/// Fixtures shared by the format tests.
#[cfg(test)]
pub(crate) mod test_data {
    use crate::value::VecMap;
    use alloc::borrow::Cow;

    use crate::model::{ObjectDef, Operations as Op, ResourceDef as R};
    use crate::value::{Instances, ResourceType as T, ResourceValue, Value};

    /// The Device instance of VECTORS §1.1 / §4.1–4.3 as Instances of object 3.
    pub(crate) fn device_instance() -> Instances {
        let s = |v: &str| ResourceValue::Single(Value::String(v.into()));
        let i = |v: i64| ResourceValue::Single(Value::Integer(v));
        let m = |vs: &[i64]| {
            ResourceValue::Multiple(
                vs.iter()
                    .enumerate()
                    .map(|(k, v)| (k as u16, Value::Integer(*v)))
                    .collect::<VecMap<_, _>>(),
            )
        };
        let mut r = VecMap::new();
        r.insert(0, s("Open Mobile Alliance"));
        r.insert(1, s("Lightweight M2M Client"));
        r.insert(2, s("345000123"));
        r.insert(3, s("1.0"));
        r.insert(6, m(&[1, 5]));
        r.insert(7, m(&[3800, 5000]));
        r.insert(8, m(&[125, 900]));
        r.insert(9, i(100));
        r.insert(10, i(15));
        r.insert(11, m(&[0]));
        r.insert(13, ResourceValue::Single(Value::Time(1367491215)));
        r.insert(14, s("+02:00"));
        r.insert(16, s("U"));
        let mut c = Instances::new();
        c.insert(0, r);
        c
    }

    /// Object 1024 with one resource of each type; 1 and 3 are multiple.
    pub(crate) fn test_object() -> ObjectDef {
        ObjectDef {
            id: 1024,
            name: Cow::Borrowed("Codec test"),
            version: Cow::Borrowed("1.0"),
            multiple: true,
            mandatory: false,
            resources: Cow::Owned(alloc::vec![
                R::new(0, "String", T::String, Op::RW, false, false),
                R::new(1, "Integers", T::Integer, Op::RW, true, false),
                R::new(2, "Unsigned", T::UnsignedInteger, Op::RW, false, false),
                R::new(3, "Opaques", T::Opaque, Op::RW, true, false),
                R::new(4, "Float", T::Float, Op::RW, false, false),
                R::new(5, "Boolean", T::Boolean, Op::RW, false, false),
                R::new(6, "Time", T::Time, Op::RW, false, false),
                R::new(7, "Objlnk", T::Objlnk, Op::RW, false, false),
                R::new(8, "Corelnk", T::Corelnk, Op::RW, false, false),
                R::new(9, "Run", T::None, Op::E, false, false),
            ]),
        }
    }

    /// The part of `content` that lies under `target`.
    pub(crate) fn restrict(content: &Instances, target: &crate::path::Path) -> Instances {
        let mut out = Instances::new();
        for (&iid, res) in content {
            if target.instance_id().is_some_and(|t| t != iid) {
                continue;
            }
            let mut kept = crate::value::Resources::new();
            for (&rid, rv) in res {
                if target.resource_id().is_some_and(|t| t != rid) {
                    continue;
                }
                let rv = match (rv, target.resource_instance_id()) {
                    (ResourceValue::Multiple(m), Some(ri)) => ResourceValue::Multiple(
                        m.iter()
                            .filter(|(k, _)| **k == ri)
                            .map(|(k, v)| (*k, v.clone()))
                            .collect(),
                    ),
                    (rv, _) => rv.clone(),
                };
                kept.insert(rid, rv);
            }
            out.insert(iid, kept);
        }
        out
    }

    /// Two instances of 1024 holding every value type, multiple resources included.
    pub(crate) fn every_type() -> Instances {
        let mut c = Instances::new();
        for iid in [0u16, 7] {
            let mut r = VecMap::new();
            r.insert(
                0,
                ResourceValue::Single(Value::String("h\u{e9}llo \"x\"".into())),
            );
            r.insert(
                1,
                ResourceValue::Multiple(
                    [(0, Value::Integer(-1)), (9, Value::Integer(i64::MIN))]
                        .into_iter()
                        .collect(),
                ),
            );
            r.insert(2, ResourceValue::Single(Value::Unsigned(u64::MAX)));
            r.insert(
                3,
                ResourceValue::Multiple(
                    [
                        (1, Value::Opaque(alloc::vec![0, 1, 0xFF])),
                        (2, Value::Opaque(alloc::vec![])),
                    ]
                    .into_iter()
                    .collect(),
                ),
            );
            r.insert(4, ResourceValue::Single(Value::Float(-22.9)));
            r.insert(5, ResourceValue::Single(Value::Boolean(iid == 0)));
            r.insert(6, ResourceValue::Single(Value::Time(-5)));
            r.insert(7, ResourceValue::Single(Value::Objlnk(65535, 65535)));
            r.insert(8, ResourceValue::Single(Value::Corelnk("</3/0>".into())));
            c.insert(iid, r);
        }
        c
    }
}
