//! Opaque (application/octet-stream, Content-Format 42): the raw bytes of one Opaque resource
//! or resource instance (Core 1.1 §7.4.2). Any other target or type is `Unsupported`.

use alloc::vec::Vec;

use super::text::ValueTarget;
use super::CodecError;
use crate::model::Schema;
use crate::path::Path;
use crate::value::{Instances, ResourceType, Value};

/// Decodes a write of raw bytes to an Opaque `/O/I/R` (single) or `/O/I/R/RI`.
pub fn decode(target: &Path, payload: &[u8], schema: &dyn Schema) -> Result<Instances, CodecError> {
    let t = ValueTarget::of(target)?;
    let shape = schema
        .shape(t.object, t.resource)
        .filter(|s| s.kind == ResourceType::Opaque)
        .ok_or(CodecError::Unsupported)?;
    t.check_shape(shape).map_err(|_| CodecError::Unsupported)?;
    Ok(t.wrap(Some(Value::Opaque(payload.to_vec()))))
}

/// Encodes the Opaque value at `/O/I/R` or `/O/I/R/RI` as its raw bytes.
pub fn encode<R: core::borrow::Borrow<crate::value::Resources>>(
    target: &Path,
    content: &crate::value::VecMap<u16, R>,
) -> Result<Vec<u8>, CodecError> {
    match ValueTarget::of(target)?.find(content)? {
        Value::Opaque(bytes) => Ok(bytes.clone()),
        _ => Err(CodecError::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::value::{ResourceValue, Resources};
    use alloc::string::ToString;
    use alloc::vec;

    fn one(iid: u16, rid: u16, rv: ResourceValue) -> Instances {
        let mut r = Resources::new();
        r.insert(rid, rv);
        let mut m = Instances::new();
        m.insert(iid, r);
        m
    }

    #[test]
    fn opaque_resource_both_directions() {
        let s = Store::with_standard_objects();
        // Security /0/0/3 "Public Key or Identity" is Opaque and single.
        let target = Path::resource(0, 0, 3);
        let bytes = [0xAB, 0xCD, 0x00, 0xEF];
        let expected = one(0, 3, ResourceValue::Single(Value::Opaque(bytes.to_vec())));
        assert_eq!(decode(&target, &bytes, &s).unwrap(), expected);
        assert_eq!(encode(&target, &expected).unwrap(), bytes);
        let empty = one(0, 3, ResourceValue::Single(Value::Opaque(vec![])));
        assert_eq!(decode(&target, &[], &s).unwrap(), empty);
        assert!(encode(&target, &empty).unwrap().is_empty());
    }

    #[test]
    fn opaque_resource_instance() {
        let mut s = Store::new();
        s.define(
            crate::model::ObjectDef {
                id: 9,
                name: "T".into(),
                version: "1.0".into(),
                multiple: true,
                mandatory: false,
                resources: vec![crate::model::ResourceDef::new(
                    1,
                    "blobs",
                    ResourceType::Opaque,
                    crate::model::Operations::RW,
                    true,
                    false,
                )]
                .into(),
            },
            false,
        );
        let target = Path::resource_instance(9, 2, 1, 5);
        let expected = one(
            2,
            1,
            ResourceValue::Multiple([(5, Value::Opaque(vec![1, 2]))].into_iter().collect()),
        );
        assert_eq!(decode(&target, &[1, 2], &s).unwrap(), expected);
        assert_eq!(encode(&target, &expected).unwrap(), [1, 2]);
        // The multiple resource as a whole has no raw form.
        assert_eq!(
            decode(&Path::resource(9, 2, 1), &[1], &s),
            Err(CodecError::Unsupported)
        );
        assert_eq!(
            encode(&Path::resource(9, 2, 1), &expected),
            Err(CodecError::Unsupported)
        );
    }

    #[test]
    fn other_targets_and_types_are_unsupported() {
        let s = Store::with_standard_objects();
        for target in [
            Path::ROOT,
            Path::object(0),
            Path::instance(0, 0),
            Path::resource(0, 0, 0),             // String
            Path::resource(3, 0, 9),             // Integer
            Path::resource(3, 0, 99),            // unknown
            Path::resource_instance(0, 0, 3, 0), // single resource
        ] {
            assert_eq!(
                decode(&target, &[1], &s),
                Err(CodecError::Unsupported),
                "{target}"
            );
        }
        let content = one(0, 0, ResourceValue::Single(Value::String("x".to_string())));
        assert_eq!(
            encode(&Path::resource(0, 0, 0), &content),
            Err(CodecError::Unsupported)
        );
        assert_eq!(
            encode(&Path::instance(0, 0), &content),
            Err(CodecError::Unsupported)
        );
        assert!(matches!(
            encode(&Path::resource(0, 0, 3), &content),
            Err(CodecError::WrongTarget(_))
        ));
    }
}
