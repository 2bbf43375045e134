//! SenML JSON (application/senml+json, Content-Format 110; RFC 8428 §5, Core 1.1 §7.4.5).
//!
//! Input is parsed into a `serde_json::Value` tree (bounded by serde_json's recursion limit) and
//! mapped onto the shared record model in `senml.rs`; output is written directly so that the
//! field order is exactly `bn`, `n`, value, as in the TS and Leshan examples (VECTORS §4.2).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use serde_json::Value as Json;

use super::senml::{self, Dialect, Field, Number, OutRecord, RawRecord, RawValue};
use super::CodecError;
use crate::model::Schema;
use crate::path::Path;
use crate::value::{Instances, Value};

/// Decodes a SenML JSON write payload addressed to `target` (contract in `codec/mod.rs`).
pub fn decode(target: &Path, payload: &[u8], schema: &dyn Schema) -> Result<Instances, CodecError> {
    let records = parse_records(payload)?;
    senml::build_instances(target, senml::resolve(records)?, schema, Dialect::Senml)
}

/// The paths a composite request in SenML JSON names.
pub(crate) fn decode_paths(payload: &[u8]) -> Result<Vec<Path>, CodecError> {
    senml::resolve_paths(parse_records(payload)?)
}

/// Encodes the content of a Read of `target` as a SenML JSON pack.
pub fn encode<R: core::borrow::Borrow<crate::value::Resources>>(
    target: &Path,
    content: &crate::value::VecMap<u16, R>,
) -> Result<Vec<u8>, CodecError> {
    write_records(&senml::out_records(target, content)?)
}

/// Parses a JSON document, mapping "ran out of input" to `Truncated`.
pub(super) fn parse_document(payload: &[u8]) -> Result<Json, CodecError> {
    serde_json::from_slice(payload).map_err(|e| match e.classify() {
        serde_json::error::Category::Eof => CodecError::Truncated,
        _ => CodecError::Malformed(format!("invalid JSON: {e}")),
    })
}

fn parse_records(payload: &[u8]) -> Result<Vec<RawRecord>, CodecError> {
    let Json::Array(items) = parse_document(payload)? else {
        return Err(CodecError::Malformed(
            "a SenML pack is a JSON array of records".into(),
        ));
    };
    items.into_iter().map(parse_record).collect()
}

fn parse_record(item: Json) -> Result<RawRecord, CodecError> {
    let Json::Object(fields) = item else {
        return Err(CodecError::Malformed(
            "a SenML record is a JSON object".into(),
        ));
    };
    let mut r = RawRecord::default();
    for (key, v) in fields {
        match Field::from_key(&key) {
            Field::BaseName => r.set_base_name(text(v, &key)?)?,
            Field::Name => r.set_name(text(v, &key)?)?,
            Field::BaseTime | Field::Time | Field::BaseVersion => {
                number(&v, &key)?;
            }
            Field::BaseValue => senml::check_base_value(number(&v, &key)?)?,
            Field::Value => r.set_value(RawValue::Number(number(&v, &key)?))?,
            Field::BoolValue => match v {
                Json::Bool(b) => r.set_value(RawValue::Bool(b))?,
                _ => return Err(wrong_type(&key, "a boolean")),
            },
            Field::StringValue => r.set_value(RawValue::Text(text(v, &key)?))?,
            Field::DataValue => {
                // RFC 8428 §4.3: vd is base64url without padding (padding tolerated).
                let bytes = senml::BASE64_URL
                    .decode(text(v, &key)?.as_bytes())
                    .map_err(|_| CodecError::Malformed("vd is not valid base64url".into()))?;
                r.set_value(RawValue::Data(bytes))?
            }
            Field::ObjlnkValue => r.set_value(RawValue::Objlnk(text(v, &key)?))?,
            Field::MustUnderstand => {
                return Err(CodecError::Malformed(format!(
                    "unknown must-understand field {key:?}"
                )))
            }
            Field::Other => {}
        }
    }
    Ok(r)
}

fn wrong_type(key: &str, expected: &str) -> CodecError {
    CodecError::Malformed(format!("field {key:?} must be {expected}"))
}

pub(super) fn text(v: Json, key: &str) -> Result<String, CodecError> {
    match v {
        Json::String(s) => Ok(s),
        _ => Err(wrong_type(key, "a string")),
    }
}

pub(super) fn number(v: &Json, key: &str) -> Result<Number, CodecError> {
    let Json::Number(n) = v else {
        return Err(wrong_type(key, "a number"));
    };
    if let Some(i) = n.as_i64() {
        Ok(Number::Int(i.into()))
    } else if let Some(u) = n.as_u64() {
        Ok(Number::Int(u.into()))
    } else {
        n.as_f64()
            .map(Number::Float)
            .ok_or_else(|| wrong_type(key, "a number"))
    }
}

/// Writes records as a JSON array, fields in the order `bn`, `n`, value.
pub(crate) fn write_records(records: &[OutRecord<'_>]) -> Result<Vec<u8>, CodecError> {
    let mut out = String::from("[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if let Some(bn) = &r.base_name {
            out.push_str("\"bn\":");
            push_string(&mut out, bn)?;
            out.push(',');
        }
        if let Some(n) = &r.name {
            out.push_str("\"n\":");
            push_string(&mut out, n)?;
            out.push(',');
        }
        push_value(&mut out, r.value)?;
        out.push('}');
    }
    out.push(']');
    Ok(out.into_bytes())
}

fn push_value(out: &mut String, value: &Value) -> Result<(), CodecError> {
    match value {
        Value::Integer(i) | Value::Time(i) => out.push_str(&format!("\"v\":{i}")),
        Value::Unsigned(u) => out.push_str(&format!("\"v\":{u}")),
        Value::Float(f) => {
            // JSON has no NaN or infinity (RFC 8259 §6).
            if !f.is_finite() {
                return Err(CodecError::BadValue(format!(
                    "{f} cannot be written in JSON"
                )));
            }
            out.push_str("\"v\":");
            out.push_str(&serde_json::to_string(f).map_err(json_out_error)?);
        }
        Value::Boolean(b) => out.push_str(if *b { "\"vb\":true" } else { "\"vb\":false" }),
        Value::String(s) | Value::Corelnk(s) => {
            out.push_str("\"vs\":");
            push_string(out, s)?;
        }
        Value::Opaque(d) => {
            out.push_str("\"vd\":\"");
            out.push_str(&senml::BASE64_URL.encode(d));
            out.push('"');
        }
        // TYPES-1.1 Objlnk: two decimal 16-bit IDs; the null link is "65535:65535".
        Value::Objlnk(o, i) => out.push_str(&format!("\"vlo\":\"{o}:{i}\"")),
    }
    Ok(())
}

fn push_string(out: &mut String, s: &str) -> Result<(), CodecError> {
    out.push_str(&serde_json::to_string(s).map_err(json_out_error)?);
    Ok(())
}

fn json_out_error(e: serde_json::Error) -> CodecError {
    CodecError::BadValue(format!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::senml::test_data;
    use crate::value::ResourceValue;

    /// VECTORS §4.2: Leshan `senml_json_encode_device_object_instance` = the TS example.
    const DEVICE_JSON: &str = concat!(
        r#"[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},"#,
        r#"{"n":"1","vs":"Lightweight M2M Client"},{"n":"2","vs":"345000123"},"#,
        r#"{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},"#,
        r#"{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},"#,
        r#"{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},"#,
        r#"{"n":"13","v":1367491215},{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]"#
    );

    fn dec(target: &str, payload: &str) -> Result<Instances, CodecError> {
        let s = &crate::store::Store::with_standard_objects();
        decode(&target.parse().unwrap(), payload.as_bytes(), s)
    }

    fn enc(target: &str, content: &Instances) -> String {
        String::from_utf8(encode(&target.parse().unwrap(), content).unwrap()).unwrap()
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
        let content = dec("/3/0", DEVICE_JSON).unwrap();
        assert_eq!(content, test_data::device_instance());
        assert_eq!(enc("/3/0", &content), DEVICE_JSON);
        // VECTORS §4.2 calls it 399 bytes; the string it quotes is 384.
        assert_eq!(DEVICE_JSON.len(), 384);
    }

    #[test]
    fn single_and_multiple_resource_vectors() {
        let v = r#"[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]"#;
        let c = dec("/3/0/0", v).unwrap();
        assert_eq!(
            c,
            single(0, 0, Value::String("Open Mobile Alliance".into()))
        );
        assert_eq!(enc("/3/0/0", &c), v);

        let v = r#"[{"bn":"/3/0/7/","n":"0","v":3800},{"n":"1","v":5000}]"#;
        let c = dec("/3/0/7", v).unwrap();
        let mut m = crate::value::VecMap::new();
        m.insert(0, Value::Integer(3800));
        m.insert(1, Value::Integer(5000));
        assert_eq!(c[&0][&7], ResourceValue::Multiple(m));
        assert_eq!(enc("/3/0/7", &c), v);

        // One resource instance.
        let v = r#"[{"bn":"/3/0/7/1","v":5000}]"#;
        let c = dec("/3/0/7/1", v).unwrap();
        assert_eq!(enc("/3/0/7/1", &c), v);
    }

    #[test]
    fn opaque_vector_and_padding() {
        let v = r#"[{"bn":"/0/0/3","vd":"q83v"}]"#;
        let c = dec("/0/0/3", v).unwrap();
        assert_eq!(c, single(0, 3, Value::Opaque(vec![0xAB, 0xCD, 0xEF])));
        assert_eq!(enc("/0/0/3", &c), v);
        // Two bytes: unpadded on output, padding accepted on input.
        let c = single(0, 3, Value::Opaque(vec![0xFB, 0xFF]));
        assert_eq!(enc("/0/0/3", &c), r#"[{"bn":"/0/0/3","vd":"-_8"}]"#);
        assert_eq!(
            dec("/0/0/3", r#"[{"bn":"/0/0/3","vd":"-_8="}]"#).unwrap(),
            c
        );
        // Standard-alphabet characters are not base64url.
        assert!(dec("/0/0/3", r#"[{"bn":"/0/0/3","vd":"+/8"}]"#).is_err());
    }

    #[test]
    fn object_link_vectors() {
        // TS shape: bn "/" and full names; the null link as FFFF:FFFF.
        let v = r#"[{"bn":"/","n":"0/1/17","vlo":"66:0"}]"#;
        assert_eq!(dec("/0/1", v).unwrap(), single(1, 17, Value::Objlnk(66, 0)));
        let v = r#"[{"bn":"/","n":"0/1/17","vlo":"FFFF:FFFF"}]"#;
        let c = dec("/0", v).unwrap();
        assert_eq!(c, single(1, 17, Value::Objlnk(65535, 65535)));
        assert_eq!(
            enc("/0/1/17", &c),
            r#"[{"bn":"/0/1/17","vlo":"65535:65535"}]"#
        );
        assert_eq!(
            enc("/0", &c),
            r#"[{"bn":"/0/","n":"1/17","vlo":"65535:65535"}]"#
        );
        // Objlnk only from vlo.
        assert!(matches!(
            dec("/0/1/17", r#"[{"bn":"/0/1/17","vs":"66:0"}]"#),
            Err(CodecError::BadValue(_))
        ));
    }

    #[test]
    fn timestamps_are_accepted_and_ignored() {
        let v = r#"[{"bn":"/3/0/13","bt":268500000,"t":-5,"v":1367491215}]"#;
        assert_eq!(
            dec("/3/0/13", v).unwrap(),
            single(0, 13, Value::Time(1367491215))
        );
        // The VECTORS §4.2 time series names one resource three times: a Write cannot carry it.
        let v = r#"[{"bn":"/3/0/13","bt":268500000,"v":1},{"bn":"/3/0/13","bt":268500010,"v":2}]"#;
        assert!(matches!(dec("/3/0/13", v), Err(CodecError::Malformed(_))));
        assert!(dec("/3/0/13", r#"[{"bn":"/3/0/13","bt":"x","v":1}]"#).is_err());
    }

    #[test]
    fn every_value_type_round_trips() {
        let values = [
            (
                0,
                0,
                Value::String("coap://[::1]:5683 \"q\" \\ \u{1}\u{e9}".into()),
            ),
            (0, 1, Value::Boolean(true)),
            (0, 2, Value::Integer(i64::MIN)),
            (0, 3, Value::Opaque((0..=255).collect())),
            (0, 5, Value::Opaque(vec![])),
            (0, 10, Value::Integer(i64::MAX)),
            (0, 13, Value::Unsigned(u64::MAX)),
            (0, 17, Value::Objlnk(21, 3)),
        ];
        for (iid, rid, v) in values {
            let c = single(iid, rid, v);
            let bytes = encode(&Path::resource(0, iid, rid), &c).unwrap();
            let s = &crate::store::Store::with_standard_objects();
            assert_eq!(
                decode(&Path::resource(0, iid, rid), &bytes, s).unwrap(),
                c,
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let mut rng = crate::rng::Rng::new(110);
        let def = test_data::test_object();
        let s = &def;
        for _ in 0..2000 {
            let f = f64::from_bits(rng.next_u64());
            if !f.is_finite() {
                continue;
            }
            let c = single(0, 4, Value::Float(f));
            let bytes = encode(&Path::resource(1024, 0, 4), &c).unwrap();
            assert_eq!(decode(&Path::resource(1024, 0, 4), &bytes, s).unwrap(), c);
        }
        for f in [0.0, -0.0, 1.0, 22.9, 1e300, 5e-324] {
            let c = single(0, 4, Value::Float(f));
            let bytes = encode(&Path::resource(1024, 0, 4), &c).unwrap();
            let back = decode(&Path::resource(1024, 0, 4), &bytes, s).unwrap();
            let ResourceValue::Single(Value::Float(g)) = back[&0][&4] else {
                panic!()
            };
            assert_eq!(g.to_bits(), f.to_bits());
        }
        // Float → JSON float, Integer → JSON integer.
        assert_eq!(
            enc("/1024/0/4", &single(0, 4, Value::Float(1.0))),
            r#"[{"bn":"/1024/0/4","v":1.0}]"#
        );
        assert!(encode(
            &Path::resource(1024, 0, 4),
            &single(0, 4, Value::Float(f64::NAN))
        )
        .is_err());
    }

    #[test]
    fn every_type_at_every_depth_round_trips() {
        let content = test_data::every_type();
        let def = test_data::test_object();
        for target in [
            Path::object(1024),
            Path::instance(1024, 7),
            Path::resource(1024, 0, 1),
            Path::resource(1024, 0, 3),
            Path::resource_instance(1024, 7, 3, 2),
            Path::resource(1024, 0, 8),
        ] {
            let part = test_data::restrict(&content, &target);
            let bytes = encode(&target, &part).unwrap();
            assert_eq!(decode(&target, &bytes, &def).unwrap(), part, "{target}");
        }
        let part = test_data::restrict(&content, &Path::resource(1024, 7, 1));
        assert_eq!(
            enc("/1024/7/1", &part),
            r#"[{"bn":"/1024/7/1/","n":"0","v":-1},{"n":"9","v":-9223372036854775808}]"#
        );
        let part = test_data::restrict(&content, &Path::object(1024));
        let inst = concat!(
            r#"{"n":"I/0","vs":"héllo \"x\""},{"n":"I/1/0","v":-1},"#,
            r#"{"n":"I/1/9","v":-9223372036854775808},{"n":"I/2","v":18446744073709551615},"#,
            r#"{"n":"I/3/1","vd":"AAH_"},{"n":"I/3/2","vd":""},{"n":"I/4","v":-22.9},"#,
            r#"{"n":"I/5","vb":B},{"n":"I/6","v":-5},{"n":"I/7","vlo":"65535:65535"},"#,
            r#"{"n":"I/8","vs":"</3/0>"}"#
        );
        let want = format!(
            "[{},{}]",
            inst.replace("I/", "0/")
                .replace('B', "true")
                .replacen("{", r#"{"bn":"/1024/","#, 1),
            inst.replace("I/", "7/").replace('B', "false")
        );
        assert_eq!(enc("/1024", &part), want);
    }

    #[test]
    fn number_typing_from_json() {
        // Integer resource: integral floats accepted, fractions and overflow refused.
        assert_eq!(
            dec("/3/0/9", r#"[{"bn":"/3/0/9","v":1e2}]"#).unwrap(),
            single(0, 9, Value::Integer(100))
        );
        for bad in ["1.5", "9223372036854775808", "true", "\"1\"", "null"] {
            let p = format!(r#"[{{"bn":"/3/0/9","v":{bad}}}]"#);
            assert!(dec("/3/0/9", &p).is_err(), "{bad}");
        }
        // Unsigned: non-negative only, up to 2^64-1.
        assert_eq!(
            dec("/0/0/13", r#"[{"bn":"/0/0/13","v":18446744073709551615}]"#).unwrap(),
            single(0, 13, Value::Unsigned(u64::MAX))
        );
        assert!(dec("/0/0/13", r#"[{"bn":"/0/0/13","v":-1}]"#).is_err());
        assert!(dec("/0/0/13", r#"[{"bn":"/0/0/13","v":18446744073709551616}]"#).is_err());
        // Opaque only from vd, String only from vs, Boolean only from vb.
        assert!(dec("/0/0/3", r#"[{"bn":"/0/0/3","vs":"q83v"}]"#).is_err());
        assert!(dec("/0/0/0", r#"[{"bn":"/0/0/0","vd":"q83v"}]"#).is_err());
        assert!(dec("/0/0/1", r#"[{"bn":"/0/0/1","v":1}]"#).is_err());
        assert!(dec("/0/0/1", r#"[{"bn":"/0/0/1","vb":"true"}]"#).is_err());
    }

    #[test]
    fn dispatch_through_the_codec_module() {
        use crate::codec::{self, ContentFormat};
        let s = &crate::store::Store::with_standard_objects();
        let format = ContentFormat::SenmlJson;
        assert!(format.can_decode() && format.can_encode());
        let bytes = DEVICE_JSON.as_bytes().to_vec();
        let content = codec::decode(format, &Path::instance(3, 0), &bytes, s).unwrap();
        assert_eq!(content, test_data::device_instance());
        assert_eq!(
            codec::encode(format, &Path::instance(3, 0), &content).unwrap(),
            bytes
        );
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let cases = [
            ("", CodecError::Truncated),
            (r#"[{"bn":"/3/0/9","v":1"#, CodecError::Truncated),
            (
                r#"{"bn":"/3/0/9","v":1}"#,
                CodecError::Malformed(String::new()),
            ),
            (r#"[1]"#, CodecError::Malformed(String::new())),
            (r#"[{"bn":"/3/0/9"}]"#, CodecError::Malformed(String::new())),
            (
                r#"[{"bn":"/3/0/9","v":1,"vs":"x"}]"#,
                CodecError::Malformed(String::new()),
            ),
            (
                r#"[{"bn":"/3/0/9","v":1,"foo_":1}]"#,
                CodecError::Malformed(String::new()),
            ),
            (
                r#"[{"bn":"/3/0/9","bv":1,"v":1}]"#,
                CodecError::Malformed(String::new()),
            ),
            (r#"[{"bn":3,"v":1}]"#, CodecError::Malformed(String::new())),
            (
                r#"[{"bn":"/3/0/9","v":1}] x"#,
                CodecError::Malformed(String::new()),
            ),
            (
                r#"[{"bn":"/3/1/9","v":1}]"#,
                CodecError::WrongTarget(String::new()),
            ),
            (
                r#"[{"n":"/4/0/9","v":1}]"#,
                CodecError::WrongTarget(String::new()),
            ),
        ];
        for (payload, want) in cases {
            let got = dec("/3/0", payload);
            assert_eq!(
                core::mem::discriminant(&got.clone().unwrap_err()),
                core::mem::discriminant(&want),
                "{payload}: {got:?}"
            );
        }
        // Unknown fields without the trailing "_" are ignored, and so is a zero base value.
        assert!(dec("/3/0/9", r#"[{"bn":"/3/0/9","u":"%","bv":0,"v":1}]"#).is_ok());
        // Nesting deeper than serde_json's limit is an error, not a stack overflow.
        let deep = "[".repeat(100_000);
        assert!(dec("/3/0", &deep).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let s = &crate::store::Store::with_standard_objects();
        let mut rng = crate::rng::Rng::new(0x5e41);
        let alphabet = br#"[]{}",:0123456789-+.eE/bnvsdlotru_ \x"#;
        for round in 0..20_000 {
            let len = rng.range(0, 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    if round % 2 == 0 {
                        alphabet[rng.range(0, alphabet.len() as u64 - 1) as usize]
                    } else {
                        rng.next_u64() as u8
                    }
                })
                .collect();
            let _ = decode(&Path::instance(3, 0), &bytes, s);
        }
        // Mutations of a valid pack.
        for _ in 0..5_000 {
            let mut bytes = DEVICE_JSON.as_bytes().to_vec();
            for _ in 0..rng.range(1, 4) {
                let at = rng.range(0, bytes.len() as u64 - 1) as usize;
                bytes[at] = alphabet[rng.range(0, alphabet.len() as u64 - 1) as usize];
            }
            let _ = decode(&Path::instance(3, 0), &bytes, s);
        }
    }
}
