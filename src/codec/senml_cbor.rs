//! SenML CBOR (application/senml+cbor, Content-Format 112; RFC 8428 §6, Core 1.1 §7.4.6).
//!
//! Same records as SenML JSON with integer labels (bn -2, bt -3, n 0, v 2, vs 3, vb 4, t 6,
//! vd 8) and `vlo` as a text key (FACTS §6.4). Output uses definite lengths and the shortest
//! integer forms, which reproduces the TS example byte for byte (VECTORS §4.3).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

use super::senml::{self, Dialect, Field, Number, OutRecord, RawRecord, RawValue};
use super::CodecError;
use crate::model::Schema;
use crate::path::Path;
use crate::value::{Instances, Value};

// RFC 8428 §6 Table 4.
const LABEL_BASE_NAME: i8 = -2;
const LABEL_NAME: u8 = 0;
const LABEL_VALUE: u8 = 2;
const LABEL_STRING_VALUE: u8 = 3;
const LABEL_BOOL_VALUE: u8 = 4;
const LABEL_DATA_VALUE: u8 = 8;
/// RFC 8949 §3.4.4.
const TAG_DECIMAL_FRACTION: u64 = 4;

/// Decodes a SenML CBOR write payload addressed to `target` (contract in `codec/mod.rs`).
pub fn decode(target: &Path, payload: &[u8], schema: &dyn Schema) -> Result<Instances, CodecError> {
    let records = parse_records(payload)?;
    senml::build_instances(target, senml::resolve(records)?, schema, Dialect::Senml)
}

/// The paths a composite request in SenML CBOR names.
pub(crate) fn decode_paths(payload: &[u8]) -> Result<Vec<Path>, CodecError> {
    senml::resolve_paths(parse_records(payload)?)
}

/// Encodes the content of a Read of `target` as a SenML CBOR pack.
pub fn encode<R: core::borrow::Borrow<crate::value::Resources>>(
    target: &Path,
    content: &crate::value::VecMap<u16, R>,
) -> Result<Vec<u8>, CodecError> {
    write_records(&senml::out_records(target, content)?)
}

fn cbor_err(e: minicbor::decode::Error) -> CodecError {
    if e.is_end_of_input() {
        CodecError::Truncated
    } else {
        CodecError::Malformed(format!("invalid CBOR: {e}"))
    }
}

fn parse_records(payload: &[u8]) -> Result<Vec<RawRecord>, CodecError> {
    let mut d = Decoder::new(payload);
    if d.datatype().map_err(cbor_err)? != Type::Array
        && d.datatype().map_err(cbor_err)? != Type::ArrayIndef
    {
        return Err(CodecError::Malformed(
            "a SenML pack is a CBOR array of records".into(),
        ));
    }
    let mut records = Vec::new();
    // The length comes from the peer: no pre-allocation, each record must really be there.
    let mut remaining = d.array().map_err(cbor_err)?;
    while more_items(&mut d, &mut remaining)? {
        records.push(parse_record(&mut d)?);
    }
    if d.position() != payload.len() {
        return Err(CodecError::Malformed("bytes after the SenML pack".into()));
    }
    Ok(records)
}

/// Steps through a definite (`Some(count)`) or indefinite (`None`, ends at a break byte) array
/// or map.
fn more_items(d: &mut Decoder<'_>, remaining: &mut Option<u64>) -> Result<bool, CodecError> {
    match remaining {
        Some(0) => Ok(false),
        Some(n) => {
            *n -= 1;
            Ok(true)
        }
        None => {
            if d.datatype().map_err(cbor_err)? == Type::Break {
                d.set_position(d.position().saturating_add(1));
                Ok(false)
            } else {
                Ok(true)
            }
        }
    }
}

fn parse_record(d: &mut Decoder<'_>) -> Result<RawRecord, CodecError> {
    if !matches!(d.datatype().map_err(cbor_err)?, Type::Map | Type::MapIndef) {
        return Err(CodecError::Malformed("a SenML record is a CBOR map".into()));
    }
    let mut r = RawRecord::default();
    let mut remaining = d.map().map_err(cbor_err)?;
    while more_items(d, &mut remaining)? {
        let field = match d.datatype().map_err(cbor_err)? {
            t if is_int(t) => Field::from_label(d.int().map_err(cbor_err)?.into()),
            Type::String | Type::StringIndef => Field::from_key(&read_text(d)?),
            _ => {
                return Err(CodecError::Malformed(
                    "SenML labels are integers or text".into(),
                ))
            }
        };
        match field {
            Field::BaseName => r.set_base_name(read_text(d)?)?,
            Field::Name => r.set_name(read_text(d)?)?,
            Field::BaseTime | Field::Time | Field::BaseVersion => {
                read_number(d)?;
            }
            Field::BaseValue => senml::check_base_value(read_number(d)?)?,
            Field::Value => r.set_value(RawValue::Number(read_number(d)?))?,
            Field::BoolValue => r.set_value(RawValue::Bool(d.bool().map_err(cbor_err)?))?,
            Field::StringValue => r.set_value(RawValue::Text(read_text(d)?))?,
            Field::DataValue => r.set_value(RawValue::Data(read_bytes(d)?))?,
            Field::ObjlnkValue => r.set_value(RawValue::Objlnk(read_text(d)?))?,
            Field::MustUnderstand => {
                return Err(CodecError::Malformed(
                    "unknown must-understand field".into(),
                ))
            }
            Field::Other => d.skip().map_err(cbor_err)?,
        }
    }
    Ok(r)
}

fn is_int(t: Type) -> bool {
    matches!(
        t,
        Type::U8
            | Type::U16
            | Type::U32
            | Type::U64
            | Type::I8
            | Type::I16
            | Type::I32
            | Type::I64
            | Type::Int
    )
}

/// A text string, definite or chunked.
fn read_text(d: &mut Decoder<'_>) -> Result<String, CodecError> {
    let mut s = String::new();
    for chunk in d.str_iter().map_err(cbor_err)? {
        s.push_str(chunk.map_err(cbor_err)?);
    }
    Ok(s)
}

/// A byte string, definite or chunked.
fn read_bytes(d: &mut Decoder<'_>) -> Result<Vec<u8>, CodecError> {
    let mut v = Vec::new();
    for chunk in d.bytes_iter().map_err(cbor_err)? {
        v.extend_from_slice(chunk.map_err(cbor_err)?);
    }
    Ok(v)
}

/// An integer, a float of any width, or a decimal fraction (Leshan sends times as tag 4,
/// VECTORS §4.3).
fn read_number(d: &mut Decoder<'_>) -> Result<Number, CodecError> {
    match d.datatype().map_err(cbor_err)? {
        t if is_int(t) => Ok(Number::Int(d.int().map_err(cbor_err)?.into())),
        Type::F16 => {
            let at = d.position();
            let input = d.input();
            let (Some(&hi), Some(&lo)) = (
                input.get(at.saturating_add(1)),
                input.get(at.saturating_add(2)),
            ) else {
                return Err(CodecError::Truncated);
            };
            d.set_position(at.saturating_add(3));
            let bits = u16::from_be_bytes([hi, lo]);
            Ok(Number::Float(f16_to_f64(bits)))
        }
        Type::F32 | Type::F64 => Ok(Number::Float(d.f64().map_err(cbor_err)?)),
        Type::Tag => {
            let tag = u64::from(d.tag().map_err(cbor_err)?);
            if tag != TAG_DECIMAL_FRACTION {
                return Err(CodecError::Malformed(format!(
                    "tag {tag} is not a number SenML accepts"
                )));
            }
            if d.array().map_err(cbor_err)? != Some(2) {
                return Err(CodecError::Malformed(
                    "a decimal fraction is [exponent, mantissa]".into(),
                ));
            }
            let exponent = d.i64().map_err(cbor_err)?;
            let mantissa = d.i128().map_err(cbor_err)?;
            Ok(senml::decimal_fraction(exponent, mantissa))
        }
        _ => Err(CodecError::Malformed("expected a number".into())),
    }
}

/// IEEE 754 binary16 to binary64 (RFC 8949 Appendix D), exact.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = u64::from(bits >> 15) << 63;
    let exp = u64::from((bits >> 10) & 0x1f);
    let frac = u64::from(bits & 0x3ff);
    let magnitude = match exp {
        // Subnormal: frac × 2^-24, exact in f64.
        0 => frac as f64 * f64::from_bits((1023 - 24) << 52),
        0x1f if frac == 0 => f64::INFINITY,
        0x1f => f64::NAN,
        // Re-bias the exponent (15 → 1023) and widen the fraction (10 → 52 bits).
        e => f64::from_bits(((e + 1023 - 15) << 52) | (frac << 42)),
    };
    f64::from_bits(magnitude.to_bits() | sign)
}

/// Writes records as a definite-length CBOR array of maps.
pub(crate) fn write_records(records: &[OutRecord<'_>]) -> Result<Vec<u8>, CodecError> {
    let mut e = Encoder::new(Vec::new());
    write_into(&mut e, records)
        .map_err(|err| CodecError::BadValue(format!("CBOR output: {err}")))?;
    Ok(e.into_writer())
}

type EncodeResult = Result<(), minicbor::encode::Error<core::convert::Infallible>>;

fn write_into(e: &mut Encoder<Vec<u8>>, records: &[OutRecord<'_>]) -> EncodeResult {
    e.array(records.len() as u64)?;
    for r in records {
        let fields = 1 + u64::from(r.base_name.is_some()) + u64::from(r.name.is_some());
        e.map(fields)?;
        if let Some(bn) = &r.base_name {
            e.i8(LABEL_BASE_NAME)?.str(bn)?;
        }
        if let Some(n) = &r.name {
            e.u8(LABEL_NAME)?.str(n)?;
        }
        match r.value {
            Value::Integer(i) | Value::Time(i) => {
                e.u8(LABEL_VALUE)?.i64(*i)?;
            }
            Value::Unsigned(u) => {
                e.u8(LABEL_VALUE)?.u64(*u)?;
            }
            Value::Float(f) => {
                e.u8(LABEL_VALUE)?;
                // The shorter float when it is exact (RFC 8949 §4.1 preferred serialization).
                let narrow = *f as f32;
                if f64::from(narrow) == *f {
                    e.f32(narrow)?;
                } else {
                    e.f64(*f)?;
                }
            }
            Value::Boolean(b) => {
                e.u8(LABEL_BOOL_VALUE)?.bool(*b)?;
            }
            Value::String(s) | Value::Corelnk(s) => {
                e.u8(LABEL_STRING_VALUE)?.str(s)?;
            }
            Value::Opaque(d) => {
                e.u8(LABEL_DATA_VALUE)?.bytes(d)?;
            }
            Value::Objlnk(o, i) => {
                e.str("vlo")?.str(&format!("{o}:{i}"))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::senml::test_data;
    use crate::value::ResourceValue;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// VECTORS §4.3: the TS example for Read /3/0, 196 bytes.
    const DEVICE_CBOR: &str = concat!(
        "90a321652f332f302f00613003744f70656e204d6f62696c6520416c6c69616e6365",
        "a200613103764c69676874776569676874204d324d20436c69656e74",
        "a20061320369333435303030313233a20061330363312e30",
        "a20063362f300201a20063362f310205a20063372f3002190ed8a20063372f3102191388",
        "a20063382f3002187da20063382f3102190384a2006139021864a200623130020f",
        "a2006431312f300200a200623133021a5182428fa20062313403662b30323a3030",
        "a200623136036155"
    );

    fn dec(target: &str, payload: &[u8]) -> Result<Instances, CodecError> {
        let s = &crate::store::Store::with_standard_objects();
        decode(&target.parse().unwrap(), payload, s)
    }

    fn dec_test(target: &str, payload: &[u8]) -> Result<Instances, CodecError> {
        let def = test_data::test_object();
        decode(&target.parse().unwrap(), payload, &def)
    }

    fn single(iid: u16, rid: u16, v: Value) -> Instances {
        let mut c = Instances::new();
        c.entry(iid)
            .or_default()
            .insert(rid, ResourceValue::Single(v));
        c
    }

    #[test]
    fn device_instance_both_directions() {
        let bytes = hex(DEVICE_CBOR);
        assert_eq!(bytes.len(), 196);
        let content = dec("/3/0", &bytes).unwrap();
        assert_eq!(content, test_data::device_instance());
        assert_eq!(encode(&Path::instance(3, 0), &content).unwrap(), bytes);
    }

    #[test]
    fn leshan_opaque_vector() {
        let bytes = hex("81a221662f302f302f330843abcdef");
        let c = dec("/0/0/3", &bytes).unwrap();
        assert_eq!(c, single(0, 3, Value::Opaque(vec![0xAB, 0xCD, 0xEF])));
        assert_eq!(encode(&Path::resource(0, 0, 3), &c).unwrap(), bytes);
    }

    #[test]
    fn leshan_timestamped_records_decode_one_by_one() {
        // VECTORS §4.3: three records with tag-4 base times. As one Write they would need a
        // target of /0/0 and a String, Boolean and Integer resource: /0/0/0, /0/0/1, /0/0/2 are
        // exactly that in the Security model.
        let bytes = hex(concat!(
            "83a321662f302f302f3022c482001a1dcd6504036c53616d706c65537472696e67",
            "a321662f302f302f3122c482001a1dcd650504f4",
            "a321662f302f302f3222c482001a1dcd6506021901c8"
        ));
        let c = dec("/0/0", &bytes).unwrap();
        let r = &c[&0];
        assert_eq!(
            r[&0],
            ResourceValue::Single(Value::String("SampleString".into()))
        );
        assert_eq!(r[&1], ResourceValue::Single(Value::Boolean(false)));
        assert_eq!(r[&2], ResourceValue::Single(Value::Integer(456)));
    }

    #[test]
    fn numbers_in_every_cbor_form() {
        // /1024/0/4 is a Float, /1024/0/6 a Time. Pack header: 81 a2 21 69 "/1024/0/x" 02.
        let pack = |rid: char, v: &str| {
            let mut b = hex("81a22169");
            b.extend_from_slice(format!("/1024/0/{rid}").as_bytes());
            b.push(0x02);
            b.extend(hex(v));
            b
        };
        let float = |v: &str| match dec_test("/1024/0/4", &pack('4', v)).unwrap()[&0][&4] {
            ResourceValue::Single(Value::Float(f)) => f,
            ref other => panic!("{other:?}"),
        };
        assert_eq!(float("f93e00"), 1.5); // half
        assert_eq!(float("f90001"), 5.960464477539063e-8); // smallest half subnormal
        assert_eq!(float("f9c400"), -4.0);
        assert_eq!(float("f97c00"), f64::INFINITY);
        assert!(float("f97e00").is_nan());
        assert_eq!(float("fa47c35000"), 100000.0); // single
        assert_eq!(float("fb3ff199999999999a"), 1.1); // double
        assert_eq!(float("1864"), 100.0); // integer into a Float
        assert_eq!(float("c48221190e5b"), 36.75); // 4([-2, 3675])
        let time = |v: &str| dec_test("/1024/0/6", &pack('6', v));
        assert_eq!(
            time("c482001a1dcd6504").unwrap()[&0][&6],
            ResourceValue::Single(Value::Time(500000004))
        );
        assert_eq!(
            time("3863").unwrap()[&0][&6],
            ResourceValue::Single(Value::Time(-100))
        );
        assert!(time("f93e00").is_err()); // 1.5 s is not a Time
        assert!(time("c48221190e5b").is_err()); // neither is 36.75
        assert!(time("3bffffffffffffffff").is_err()); // -2^64
        assert!(time("c18200").is_err()); // tag 1 is not accepted
        assert!(time("c48100").is_err()); // tag 4 needs two items
        assert!(time("c4").is_err());
    }

    #[test]
    fn every_value_type_round_trips() {
        let content = test_data::every_type();
        for target in [
            Path::object(1024),
            Path::instance(1024, 7),
            Path::resource(1024, 0, 1),
            Path::resource(1024, 0, 3),
            Path::resource_instance(1024, 7, 3, 2),
            Path::resource(1024, 0, 7),
        ] {
            let part = test_data::restrict(&content, &target);
            let bytes = encode(&target, &part).unwrap();
            let def = test_data::test_object();
            assert_eq!(decode(&target, &bytes, &def).unwrap(), part, "{target}");
        }
        // Floats: f32 when exact, else f64, and both read back bit for bit.
        let enc_float =
            |f: f64| encode(&Path::resource(1024, 0, 4), &single(0, 4, Value::Float(f))).unwrap();
        assert!(enc_float(22.5).ends_with(&hex("02fa41b40000")));
        assert!(enc_float(22.9).ends_with(&hex("02fb4036e66666666666")));
        let mut rng = crate::rng::Rng::new(112);
        for _ in 0..2000 {
            let f = f64::from_bits(rng.next_u64());
            let back = dec_test("/1024/0/4", &enc_float(f)).unwrap();
            let ResourceValue::Single(Value::Float(g)) = back[&0][&4] else {
                panic!()
            };
            assert!(g.to_bits() == f.to_bits() || (f.is_nan() && g.is_nan()));
        }
        // The object-link key is the text "vlo".
        let bytes = encode(
            &Path::resource(1024, 0, 7),
            &single(0, 7, Value::Objlnk(66, 1)),
        )
        .unwrap();
        assert!(bytes.ends_with(&hex("63766c6f6436363a31")));
    }

    #[test]
    fn lenient_forms_are_accepted() {
        // Indefinite array and map, chunked strings, text keys for standard fields.
        let bytes = hex(concat!(
            "9f", "bf", "21", "7f", "62", "2f33", "64", "2f302f39", "ff", "02", "1864", "ff", "ff"
        ));
        assert_eq!(
            dec("/3/0/9", &bytes).unwrap(),
            single(0, 9, Value::Integer(100))
        );
        let bytes = hex("81a2616e662f332f302f39021864");
        assert_eq!(
            dec("/3/0/9", &bytes).unwrap(),
            single(0, 9, Value::Integer(100))
        );
        // Unknown labels are skipped, whatever their value.
        let bytes = hex("81a321662f332f302f391863820102021864");
        assert_eq!(
            dec("/3/0/9", &bytes).unwrap(),
            single(0, 9, Value::Integer(100))
        );
    }

    #[test]
    fn dispatch_through_the_codec_module() {
        use crate::codec::{self, ContentFormat};
        let s = &crate::store::Store::with_standard_objects();
        let format = ContentFormat::SenmlCbor;
        assert!(format.can_decode() && format.can_encode());
        let bytes = hex(DEVICE_CBOR);
        let content = codec::decode(format, &Path::instance(3, 0), &bytes, s).unwrap();
        assert_eq!(content, test_data::device_instance());
        assert_eq!(
            codec::encode(format, &Path::instance(3, 0), &content).unwrap(),
            bytes
        );
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let valid = hex(DEVICE_CBOR);
        // Every truncation of a valid pack is an error, most of them Truncated.
        for cut in 0..valid.len() {
            let got = dec("/3/0", &valid[..cut]);
            assert!(got.is_err(), "cut at {cut}");
        }
        assert_eq!(dec("/3/0", &valid[..100]), Err(CodecError::Truncated));
        let cases: &[(&str, &str)] = &[
            ("a0", "not an array"),
            ("8101", "record not a map"),
            ("81a12163", "truncated"),
            ("81a1f400", "bool label"),
            ("81a221662f332f302f3902", "no value after label"),
            ("81a221662f332f302f39", "map shorter than announced"),
            ("81a121662f332f302f39", "no value"),
            ("81a321662f332f302f39021864036178", "two values"),
            ("81a321662f332f302f3902186421662f332f302f39", "two bn"),
            ("81a221662f332f302f390218640a", "trailing bytes"),
            ("81a221662f332f302f3903f5", "vs not a string"),
            ("81a221662f332f302f3902f5", "v not a number"),
            ("81a221662f332f302f3902c2410a", "bignum tag"),
            ("82a221662f332f302f39021864a1000a", "n 10 not text"),
            (
                "82a221662f332f302f39021864a221662f332f302f39020a",
                "duplicate",
            ),
            ("81a221662f332f312f39021864", "outside target"),
            ("81a221662f332f302f3902ff", "break as value"),
            ("81a221622f33621864", "bad text"),
            ("81a22163ff2f3302", "bad utf-8"),
            ("81a2216a2f332f302f39303030300201", "bad id"),
        ];
        for (h, why) in cases {
            assert!(dec("/3/0", &hex(h)).is_err(), "{why}: {h}");
        }
        let exact: &[(&str, CodecError)] = &[
            (
                "82a221662f332f302f39021864a221662f332f302f39020a",
                CodecError::Malformed("record /3/0/9 appears twice".into()),
            ),
            (
                "81a221662f332f312f39021864",
                CodecError::WrongTarget("record /3/1/9 is outside /3/0".into()),
            ),
            (
                "81a221662f332f302f3903f5",
                CodecError::Malformed(String::new()),
            ),
            (
                "81a221662f332f302f390363616263",
                CodecError::BadValue(String::new()),
            ),
        ];
        for (h, want) in exact {
            let got = dec("/3/0", &hex(h)).unwrap_err();
            match want {
                CodecError::Malformed(m) | CodecError::WrongTarget(m) if !m.is_empty() => {
                    assert_eq!(&got, want)
                }
                _ => assert_eq!(
                    core::mem::discriminant(&got),
                    core::mem::discriminant(want),
                    "{h}: {got:?}"
                ),
            }
        }
        // Huge announced lengths are not trusted.
        assert_eq!(
            dec("/3/0", &hex("9bffffffffffffffff")),
            Err(CodecError::Truncated)
        );
        assert!(dec("/3/0", &hex("81bbffffffffffffffff")).is_err());
        assert!(dec("/3/0", &hex("81a2217bffffffffffffffff")).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let s = &crate::store::Store::with_standard_objects();
        let def = test_data::test_object();
        let mut rng = crate::rng::Rng::new(0xC0B0);
        for _ in 0..20_000 {
            let len = rng.range(0, 48) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            // Start most of them like a pack so that the record parser gets exercised.
            if let Some(b) = bytes.first_mut() {
                *b = 0x80 | (*b & 0x1f);
            }
            let _ = decode(&Path::instance(3, 0), &bytes, s);
            let _ = decode(&Path::object(1024), &bytes, &def);
        }
        let valid = encode(&Path::object(1024), &test_data::every_type()).unwrap();
        for _ in 0..5_000 {
            let mut bytes = valid.clone();
            for _ in 0..rng.range(1, 4) {
                let at = rng.range(0, bytes.len() as u64 - 1) as usize;
                bytes[at] = rng.next_u64() as u8;
            }
            let _ = decode(&Path::object(1024), &bytes, &def);
        }
    }
}
