//! Plain text (text/plain, Content-Format 0): one value of a single resource or of one resource
//! instance (Core 1.1 §7.4.1; encodings from Appendix C, FACTS §6.3).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;

use super::CodecError;
use crate::model::{ResourceShape, Schema};
use crate::path::Path;
use crate::value::{Instances, ResourceType, ResourceValue, Resources, Value};

/// Decodes a text payload written to `/O/I/R` (single resource) or `/O/I/R/RI`.
pub fn decode(target: &Path, payload: &[u8], schema: &dyn Schema) -> Result<Instances, CodecError> {
    let t = ValueTarget::of(target)?;
    // Unknown resources are skipped (codec contract): the instance comes back empty.
    let Some(shape) = schema.shape(t.object, t.resource) else {
        return Ok(t.wrap(None));
    };
    t.check_shape(shape)?;
    let text = core::str::from_utf8(payload).map_err(|_| bad_value("text is not valid UTF-8"))?;
    let value = parse_value(shape.kind, text)?;
    Ok(t.wrap(Some(value)))
}

/// Encodes the value at `/O/I/R` (single resource) or `/O/I/R/RI` as text.
pub fn encode<R: core::borrow::Borrow<Resources>>(
    target: &Path,
    content: &crate::value::VecMap<u16, R>,
) -> Result<Vec<u8>, CodecError> {
    let t = ValueTarget::of(target)?;
    Ok(format_value(t.find(content)?)?.into_bytes())
}

/// Parses the text form of a value of type `kind` (Core 1.1 Appendix C, "Text" column).
/// Numbers must be bare: no surrounding whitespace, no overflow.
pub fn parse_value(kind: ResourceType, text: &str) -> Result<Value, CodecError> {
    Ok(match kind {
        ResourceType::String => Value::String(text.to_string()),
        ResourceType::Corelnk => Value::Corelnk(text.to_string()),
        // `str::parse` accepts an optional sign and digits only, and fails on overflow.
        ResourceType::Integer => Value::Integer(parse_number(text, "integer")?),
        ResourceType::Time => Value::Time(parse_number(text, "time")?),
        ResourceType::UnsignedInteger => Value::Unsigned(parse_number(text, "unsigned integer")?),
        ResourceType::Float => Value::Float(parse_float(text)?),
        ResourceType::Boolean => match text {
            "0" => Value::Boolean(false),
            "1" => Value::Boolean(true),
            _ => return Err(bad_value("boolean must be \"0\" or \"1\"")),
        },
        // Appendix C: opaque in text is Base64 (RFC 4648 §4, standard alphabet, padded).
        ResourceType::Opaque => Value::Opaque(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| bad_value("opaque text is not valid base64"))?,
        ),
        // Appendix C: "ObjectID:InstanceID", both 16-bit decimal.
        ResourceType::Objlnk => {
            let (o, i) = text
                .split_once(':')
                .ok_or_else(|| bad_value("object link must be \"OID:IID\""))?;
            Value::Objlnk(parse_id(o)?, parse_id(i)?)
        }
        ResourceType::None => return Err(bad_value("executable resource carries no value")),
    })
}

/// The text form of a value. Floats use the shortest decimal that reads back to the same
/// number, without exponent; NaN and infinities have no text form and are an error.
pub fn format_value(value: &Value) -> Result<String, CodecError> {
    Ok(match value {
        Value::String(s) | Value::Corelnk(s) => s.clone(),
        Value::Integer(v) | Value::Time(v) => v.to_string(),
        Value::Unsigned(v) => v.to_string(),
        Value::Float(v) if v.is_finite() => format!("{v}"),
        Value::Float(_) => return Err(bad_value("NaN and infinity have no text form")),
        Value::Boolean(b) => String::from(if *b { "1" } else { "0" }),
        Value::Opaque(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::Objlnk(o, i) => format!("{o}:{i}"),
    })
}

fn parse_number<T: core::str::FromStr>(text: &str, what: &str) -> Result<T, CodecError> {
    text.parse()
        .map_err(|_| CodecError::BadValue(format!("{text:?} is not a valid {what}")))
}

/// Decimal or exponent notation. `f64::from_str` also takes "inf" and "NaN": only digits,
/// signs, '.' and 'e' are let through, and the result must be finite ("1e999" is not).
fn parse_float(text: &str) -> Result<f64, CodecError> {
    let plausible = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    match text.parse::<f64>() {
        Ok(v) if plausible && v.is_finite() => Ok(v),
        _ => Err(CodecError::BadValue(format!(
            "{text:?} is not a valid float"
        ))),
    }
}

fn parse_id(text: &str) -> Result<u16, CodecError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_value("object link IDs must be decimal numbers"));
    }
    text.parse()
        .map_err(|_| bad_value("object link ID out of range"))
}

fn bad_value(msg: &str) -> CodecError {
    CodecError::BadValue(String::from(msg))
}

/// A target naming one value: `/O/I/R` or `/O/I/R/RI`. Shared with the opaque codec, which has
/// the same shape rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ValueTarget {
    pub object: u16,
    pub instance: u16,
    pub resource: u16,
    pub resource_instance: Option<u16>,
}

impl ValueTarget {
    /// Core 1.1 §7.4.1: single-value formats only address a resource or a resource instance;
    /// anything above is `Unsupported` (4.15 on input, 4.06 on output).
    pub(super) fn of(target: &Path) -> Result<ValueTarget, CodecError> {
        match (
            target.object_id(),
            target.instance_id(),
            target.resource_id(),
        ) {
            (Some(object), Some(instance), Some(resource)) => Ok(ValueTarget {
                object,
                instance,
                resource,
                resource_instance: target.resource_instance_id(),
            }),
            _ => Err(CodecError::Unsupported),
        }
    }

    /// A multiple resource as a whole has no single-value form; a resource-instance path on a
    /// single resource names nothing.
    pub(super) fn check_shape(&self, shape: ResourceShape) -> Result<(), CodecError> {
        match (shape.multiple, self.resource_instance) {
            (false, None) | (true, Some(_)) => Ok(()),
            (true, None) => Err(CodecError::Unsupported),
            (false, Some(_)) => Err(CodecError::WrongTarget(String::from(
                "resource instance path on a single-instance resource",
            ))),
        }
    }

    /// The decode result: the target's instance holding the value (or nothing).
    pub(super) fn wrap(&self, value: Option<Value>) -> Instances {
        let mut resources = Resources::new();
        if let Some(v) = value {
            let rv = match self.resource_instance {
                None => ResourceValue::Single(v),
                Some(ri) => {
                    let mut m = crate::value::VecMap::new();
                    m.insert(ri, v);
                    ResourceValue::Multiple(m)
                }
            };
            resources.insert(self.resource, rv);
        }
        let mut out = Instances::new();
        out.insert(self.instance, resources);
        out
    }

    /// The value to encode. A multiple resource as a whole is `Unsupported`.
    pub(super) fn find<'a, R: core::borrow::Borrow<Resources>>(
        &self,
        content: &'a crate::value::VecMap<u16, R>,
    ) -> Result<&'a Value, CodecError> {
        let missing = || CodecError::WrongTarget(String::from("target missing from the content"));
        let rv = content
            .get(&self.instance)
            .map(core::borrow::Borrow::borrow)
            .and_then(|r| r.get(&self.resource))
            .ok_or_else(missing)?;
        match (rv, self.resource_instance) {
            (ResourceValue::Single(v), None) => Ok(v),
            (ResourceValue::Multiple(m), Some(ri)) => m.get(&ri).ok_or_else(missing),
            (ResourceValue::Multiple(_), None) => Err(CodecError::Unsupported),
            (ResourceValue::Single(_), Some(_)) => Err(missing()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectDef, Operations, ResourceDef};
    use crate::store::Store;
    use alloc::vec;

    const T: u16 = 9;

    /// Standard objects plus object 9 with one single resource of each type (id = row) and
    /// a multiple Integer resource 20.
    fn schema() -> Store {
        let kinds = ResourceType::ALL;
        let mut resources: Vec<ResourceDef> = kinds
            .iter()
            .enumerate()
            .map(|(n, &k)| ResourceDef::new(n as u16, "r", k, Operations::RW, false, false))
            .collect();
        resources.push(ResourceDef::new(
            20,
            "m",
            ResourceType::Integer,
            Operations::RW,
            true,
            false,
        ));
        let mut s = Store::with_standard_objects();
        s.define(
            ObjectDef {
                id: T,
                name: "Types".into(),
                version: "1.0".into(),
                multiple: true,
                mandatory: false,
                resources: resources.into(),
            },
            false,
        );
        s
    }

    fn at(rid: u16, v: Value) -> Instances {
        let mut r = Resources::new();
        r.insert(rid, ResourceValue::Single(v));
        let mut m = Instances::new();
        m.insert(0, r);
        m
    }

    fn dec(rid: u16, text: &str) -> Result<Value, CodecError> {
        let got = decode(&Path::resource(T, 0, rid), text.as_bytes(), &schema())?;
        Ok(got[&0][&rid].single().unwrap().clone())
    }

    fn enc(rid: u16, v: Value) -> String {
        String::from_utf8(encode(&Path::resource(T, 0, rid), &at(rid, v)).unwrap()).unwrap()
    }

    // VECTORS §4.5, both directions.
    #[test]
    fn appendix_c_examples() {
        let cases = [
            (1, "-750", Value::Integer(-750)),
            (2, "18", Value::Unsigned(18)),
            (3, "0.00000000006667", Value::Float(6.667e-11)),
            (4, "0", Value::Boolean(false)),
            (4, "1", Value::Boolean(true)),
            (5, "AQIDBAU=", Value::Opaque(vec![1, 2, 3, 4, 5])),
            (6, "1476186613", Value::Time(1476186613)),
            (7, "66:0", Value::Objlnk(66, 0)),
            (7, "65535:65535", Value::Objlnk(65535, 65535)),
            (
                0,
                "Open Mobile Alliance",
                Value::String("Open Mobile Alliance".into()),
            ),
            (8, "</1/0>;ssid=1", Value::Corelnk("</1/0>;ssid=1".into())),
            (1, "-14678", Value::Integer(-14678)),
            (3, "1234.56", Value::Float(1234.56)),
            (3, "-123456789.987", Value::Float(-123456789.987)),
            (2, "18446744073709551615", Value::Unsigned(u64::MAX)),
            (1, "-9223372036854775808", Value::Integer(i64::MIN)),
        ];
        for (rid, text, value) in cases {
            assert_eq!(dec(rid, text), Ok(value.clone()), "{text}");
            assert_eq!(enc(rid, value), text);
        }
        // Leshan: "100" written to /3/0/9 is Integer 100.
        let s = schema();
        let got = decode(&Path::resource(3, 0, 9), b"100", &s).unwrap();
        assert_eq!(got[&0][&9], ResourceValue::Single(Value::Integer(100)));
    }

    #[test]
    fn lenient_numeric_input() {
        assert_eq!(dec(3, "6.667e-11"), Ok(Value::Float(6.667e-11)));
        assert_eq!(dec(3, "1E3"), Ok(Value::Float(1000.0)));
        assert_eq!(dec(3, "-2"), Ok(Value::Float(-2.0)));
        assert_eq!(dec(1, "+5"), Ok(Value::Integer(5)));
        assert_eq!(enc(3, Value::Float(1.0)), "1");
        assert_eq!(enc(3, Value::Float(1.1)), "1.1");
        // Shortest round-tripping form for awkward values too.
        for f in [0.1 + 0.2, f64::MAX, f64::MIN_POSITIVE, -1e-300, 123456789.0] {
            let text = enc(3, Value::Float(f));
            assert_eq!(dec(3, &text), Ok(Value::Float(f)), "{text}");
        }
    }

    #[test]
    fn invalid_text_is_rejected() {
        let cases: &[(u16, &[u8])] = &[
            (1, b" 1"),
            (1, b"1 "),
            (1, b""),
            (1, b"1.5"),
            (1, b"9223372036854775808"),
            (1, b"0x10"),
            (2, b"-1"),
            (2, b"18446744073709551616"),
            (3, b"inf"),
            (3, b"NaN"),
            (3, b"infinity"),
            (3, b"1e999"),
            (3, b" 1.5"),
            (3, b""),
            (3, b"."),
            (4, b"true"),
            (4, b"2"),
            (4, b""),
            (5, b"!,-INVALID$_'"),
            (5, b"AQIDBAU"),
            (5, b"AQID BAU="),
            (6, b"12:00"),
            (7, b"66"),
            (7, b"66:"),
            (7, b"66:65536"),
            (7, b"+66:0"),
            (7, b"FFFF:FFFF"),
            (0, &[0x66, 0xFF, 0x6F]),
            (9, b""),
        ];
        let s = schema();
        for (rid, text) in cases {
            let got = decode(&Path::resource(T, 0, *rid), text, &s);
            assert!(
                matches!(got, Err(CodecError::BadValue(_))),
                "{rid} {text:?} {got:?}"
            );
        }
    }

    #[test]
    fn targets() {
        let s = schema();
        // Only a resource or a resource instance.
        for p in [Path::ROOT, Path::object(T), Path::instance(T, 0)] {
            assert_eq!(decode(&p, b"1", &s), Err(CodecError::Unsupported));
            assert_eq!(
                encode(&p, &at(1, Value::Integer(1))),
                Err(CodecError::Unsupported)
            );
        }
        // A multiple resource as a whole has no text form; one instance of it has.
        assert_eq!(
            decode(&Path::resource(T, 0, 20), b"1", &s),
            Err(CodecError::Unsupported)
        );
        let ri = Path::resource_instance(T, 0, 20, 3);
        let got = decode(&ri, b"-7", &s).unwrap();
        assert_eq!(
            got[&0][&20],
            ResourceValue::Multiple([(3, Value::Integer(-7))].into_iter().collect())
        );
        assert_eq!(encode(&ri, &got).unwrap(), b"-7");
        assert_eq!(
            encode(&Path::resource(T, 0, 20), &got),
            Err(CodecError::Unsupported)
        );
        assert!(matches!(
            encode(&Path::resource_instance(T, 0, 20, 4), &got),
            Err(CodecError::WrongTarget(_))
        ));
        // A resource-instance path on a single resource.
        assert!(matches!(
            decode(&Path::resource_instance(T, 0, 1, 0), b"1", &s),
            Err(CodecError::WrongTarget(_))
        ));
        // Unknown resources are skipped.
        let got = decode(&Path::resource(T, 0, 99), b"x", &s).unwrap();
        assert_eq!(got[&0], Resources::new());
        // Missing content.
        assert!(matches!(
            encode(&Path::resource(T, 0, 2), &at(1, Value::Integer(1))),
            Err(CodecError::WrongTarget(_))
        ));
        // NaN has no text form.
        assert!(matches!(
            encode(&Path::resource(T, 0, 3), &at(3, Value::Float(f64::NAN))),
            Err(CodecError::BadValue(_))
        ));
        assert!(encode(
            &Path::resource(T, 0, 3),
            &at(3, Value::Float(f64::INFINITY))
        )
        .is_err());
    }

    #[test]
    fn random_text_never_panics() {
        let s = schema();
        let mut rng = crate::rng::Rng::new(11);
        let alphabet = b"0123456789+-.eE:=/ABCxyz\xff";
        for _ in 0..2000 {
            let len = rng.range(0, 12) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.range(0, alphabet.len() as u64 - 1) as usize])
                .collect();
            for rid in 0..10 {
                if let Ok(got) = decode(&Path::resource(T, 0, rid), &bytes, &s) {
                    // What decodes encodes back to text that decodes to the same value.
                    let text = encode(&Path::resource(T, 0, rid), &got).unwrap();
                    assert_eq!(decode(&Path::resource(T, 0, rid), &text, &s).unwrap(), got);
                }
            }
        }
    }
}
