//! Legacy LwM2M JSON (application/vnd.oma.lwm2m+json, Content-Format 11543), input only.
//!
//! A 1.0 server may still write with it; a 1.1 client "MUST NOT use" it for output (Core 1.1
//! §7.4.4), so there is no encoder. Shape (FACTS §6.4, VECTORS §4.1):
//! `{"bn":"/3/0/","bt":…,"e":[{"n":"0","sv":"…"},{"n":"6/0","v":1},…]}` with values `v`
//! (number), `bv` (boolean), `sv` (string, or Base64 for opaque) and `ov` (object link).
//! One `bn` for the whole pack; names are appended to it as in SenML.

use alloc::format;
use alloc::vec::Vec;

use serde_json::Value as Json;

use super::senml::{self, Dialect, RawRecord, RawValue};
use super::senml_json::{number, parse_document, text};
use super::CodecError;
use crate::model::Schema;
use crate::path::Path;
use crate::value::Instances;

/// Decodes a legacy LwM2M JSON write payload addressed to `target` (contract in
/// `codec/mod.rs`).
pub fn decode(target: &Path, payload: &[u8], schema: &dyn Schema) -> Result<Instances, CodecError> {
    let Json::Object(top) = parse_document(payload)? else {
        return Err(CodecError::Malformed(
            "an LwM2M JSON payload is a JSON object".into(),
        ));
    };
    let mut base_name = None;
    let mut entries = None;
    for (key, v) in top {
        match key.as_str() {
            "bn" => base_name = Some(text(v, "bn")?),
            "bt" => {
                number(&v, "bt")?;
            }
            "e" => match v {
                Json::Array(items) => entries = Some(items),
                _ => return Err(CodecError::Malformed("\"e\" must be an array".into())),
            },
            _ => {}
        }
    }
    let entries = entries.ok_or_else(|| CodecError::Malformed("no \"e\" array".into()))?;
    let mut records = Vec::with_capacity(entries.len());
    for (i, item) in entries.into_iter().enumerate() {
        let mut r = parse_entry(item)?;
        if i == 0 {
            r.base_name = base_name.clone();
        }
        records.push(r);
    }
    senml::build_instances(
        target,
        senml::resolve(records)?,
        schema,
        Dialect::LegacyJson,
    )
}

fn parse_entry(item: Json) -> Result<RawRecord, CodecError> {
    let Json::Object(fields) = item else {
        return Err(CodecError::Malformed(
            "an LwM2M JSON entry is a JSON object".into(),
        ));
    };
    let mut r = RawRecord::default();
    for (key, v) in fields {
        match key.as_str() {
            "n" => r.set_name(text(v, "n")?)?,
            "t" => {
                number(&v, "t")?;
            }
            "v" => r.set_value(RawValue::Number(number(&v, "v")?))?,
            "bv" => match v {
                Json::Bool(b) => r.set_value(RawValue::Bool(b))?,
                _ => {
                    return Err(CodecError::Malformed(format!(
                        "field {key:?} must be a boolean"
                    )))
                }
            },
            "sv" => r.set_value(RawValue::Text(text(v, "sv")?))?,
            "ov" => r.set_value(RawValue::Objlnk(text(v, "ov")?))?,
            _ => {}
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::senml::test_data;
    use crate::value::{ResourceValue, Value};

    /// VECTORS §4.1: Leshan `json_device_object_instance0`.
    const DEVICE: &str = concat!(
        r#"{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},"#,
        r#"{"n":"1","sv":"Lightweight M2M Client"},{"n":"2","sv":"345000123"},"#,
        r#"{"n":"3","sv":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},"#,
        r#"{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},{"n":"9","v":100},"#,
        r#"{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},"#,
        r#"{"n":"14","sv":"+02:00"},{"n":"16","sv":"U"}]}"#
    );

    fn dec(target: &str, payload: &str) -> Result<Instances, CodecError> {
        let s = &crate::store::Store::with_standard_objects();
        decode(&target.parse().unwrap(), payload.as_bytes(), s)
    }

    #[test]
    fn device_instance_in_all_three_name_styles() {
        let want = test_data::device_instance();
        assert_eq!(dec("/3/0", DEVICE).unwrap(), want);
        // "bn":"/" with names 3/0/R, and no bn with names /3/0/R (Leshan accepts both).
        let root = DEVICE
            .replace(r#""bn":"/3/0/""#, r#""bn":"/""#)
            .replace(r#""n":""#, r#""n":"3/0/"#);
        assert_eq!(dec("/3/0", &root).unwrap(), want);
        let none = DEVICE
            .replace(r#""bn":"/3/0/","#, "")
            .replace(r#""n":""#, r#""n":"/3/0/"#);
        assert_eq!(dec("/3/0", &none).unwrap(), want);
        assert_eq!(dec("/3", &none).unwrap(), want);
    }

    #[test]
    fn every_value_key() {
        let def = test_data::test_object();
        let d = |p: &str| decode(&Path::instance(1024, 0), p.as_bytes(), &def);
        let got = d(concat!(
            r#"{"bn":"/1024/0/","bt":25462634,"e":[{"n":"0","sv":"x"},{"n":"1/3","v":-7,"t":-5},"#,
            r#"{"n":"3/0","sv":"AQIDBAU="},{"n":"3/1","sv":"AQIDBAU"},{"n":"4","v":22.4},"#,
            r#"{"n":"5","bv":true},{"n":"6","v":1476186613},{"n":"7","ov":"66:0"},"#,
            r#"{"n":"8","sv":"</1>"}]}"#
        ))
        .unwrap();
        let r = &got[&0];
        assert_eq!(r[&0], ResourceValue::Single(Value::String("x".into())));
        assert_eq!(
            r[&1],
            ResourceValue::Multiple([(3, Value::Integer(-7))].into_iter().collect())
        );
        let five = Value::Opaque(vec![1, 2, 3, 4, 5]);
        assert_eq!(
            r[&3],
            ResourceValue::Multiple([(0, five.clone()), (1, five)].into_iter().collect())
        );
        assert_eq!(r[&4], ResourceValue::Single(Value::Float(22.4)));
        assert_eq!(r[&5], ResourceValue::Single(Value::Boolean(true)));
        assert_eq!(r[&6], ResourceValue::Single(Value::Time(1476186613)));
        assert_eq!(r[&7], ResourceValue::Single(Value::Objlnk(66, 0)));
        assert_eq!(r[&8], ResourceValue::Single(Value::Corelnk("</1>".into())));
        // Wrong keys for the type.
        for bad in [
            r#"{"bn":"/1024/0/","e":[{"n":"3/0","sv":"!!"}]}"#,
            r#"{"bn":"/1024/0/","e":[{"n":"5","v":1}]}"#,
            r#"{"bn":"/1024/0/","e":[{"n":"7","sv":"66:0"}]}"#,
            r#"{"bn":"/1024/0/","e":[{"n":"0","v":1}]}"#,
            r#"{"bn":"/1024/0/","e":[{"n":"6","v":1.5}]}"#,
            r#"{"bn":"/1024/0/","e":[{"n":"5","bv":1}]}"#,
        ] {
            assert!(
                matches!(
                    d(bad),
                    Err(CodecError::BadValue(_) | CodecError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn dispatch_through_the_codec_module() {
        use crate::codec::{self, ContentFormat};
        let s = &crate::store::Store::with_standard_objects();
        for code in [11543, 1543] {
            let format = ContentFormat::from_code(code).unwrap();
            assert!(format.can_decode());
            let got = codec::decode(format, &Path::instance(3, 0), DEVICE.as_bytes(), s);
            assert_eq!(got.unwrap(), test_data::device_instance());
        }
        // Input only (Core 1.1 §7.4.4).
        assert_eq!(
            codec::encode(
                ContentFormat::LwM2mJson,
                &Path::instance(3, 0),
                &test_data::device_instance()
            ),
            Err(CodecError::Unsupported)
        );
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let cases = [
            "",
            "[]",
            r#"{"bn":"/3/0/"}"#,
            r#"{"bn":"/3/0/","e":{}}"#,
            r#"{"bn":"/3/0/","e":[1]}"#,
            r#"{"bn":3,"e":[]}"#,
            r#"{"bn":"/3/0/","e":[{"n":"9"}]}"#,
            r#"{"bn":"/3/0/","e":[{"n":"9","v":1,"sv":"1"}]}"#,
            r#"{"bn":"/3/0/","e":[{"n":"9","v":1},{"n":"9","v":2}]}"#,
            r#"{"bn":"/3/1/","e":[{"n":"9","v":1}]}"#,
            r#"{"bn":"/3/0/","e":[{"n":"7","v":1}]}"#,
            r#"{"bn":"/3/0/","e":[{"n":"9","v":1}]"#,
        ];
        for c in cases {
            assert!(dec("/3/0", c).is_err(), "{c}");
        }
        assert_eq!(
            dec("/3/0", r#"{"bn":"/3/0/","e":["#),
            Err(CodecError::Truncated)
        );
        assert!(matches!(
            dec("/3/0", r#"{"bn":"/3/1/","e":[{"n":"9","v":1}]}"#),
            Err(CodecError::WrongTarget(_))
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        let s = &crate::store::Store::with_standard_objects();
        let mut rng = crate::rng::Rng::new(11543);
        let alphabet = br#"[]{}",:0123456789-./bnvsoe "#;
        for _ in 0..5_000 {
            let mut bytes = DEVICE.as_bytes().to_vec();
            for _ in 0..rng.range(1, 4) {
                let at = rng.range(0, bytes.len() as u64 - 1) as usize;
                bytes[at] = alphabet[rng.range(0, alphabet.len() as u64 - 1) as usize];
            }
            let _ = decode(&Path::instance(3, 0), &bytes, s);
        }
    }
}
