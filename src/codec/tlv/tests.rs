use super::*;
use crate::codec::CodecError;
use crate::model::{ObjectDef, Operations, ResourceDef};
use crate::path::Path;
use crate::rng::Rng;
use crate::store::Store;
use crate::value::{Instances, ResourceType, ResourceValue, Resources, Value};
use alloc::borrow::Cow;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

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
    let bytes = hex("08000EC10001C101008302417F07C1037F080212C10003C101008702417F0761013601C1037F");
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
    let bytes = hex("88000C440000420000440100420001C8010D38363133383030373535353030C40212345678");
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
                ResourceValue::Multiple([(0, Value::Opaque(vec![7; 170]))].into_iter().collect()),
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

/// A schema that answers only `shape`, so decoding asks it per resource.
struct ShapesOnly<'a>(&'a Store);

impl crate::model::Schema for ShapesOnly<'_> {
    fn shape(&self, object: u16, resource: u16) -> Option<crate::model::ResourceShape> {
        self.0.shape(object, resource)
    }
}

#[test]
fn decoding_along_the_object_table_gives_what_asking_shape_per_resource_gives() {
    // The same payloads, entries in any order, unknown and repeated resources among them.
    let s = std_schema();
    let mut rng = Rng::new(77);
    let seeds = [
        hex(&("080079".to_string() + DEVICE)),
        hex("08000EC10001C101008302417F07C1037F080212C10003C101008702417F0761013601C1037F"),
        hex("08000FC10001C40100015180C10601C10755"),
        hex("C10755C10601C40100015180C10001"), // Server resources in descending order
        hex("C10001C10001"),                   // a resource twice
        hex("C16301C10001"),                   // an unknown resource (99) first
    ];
    let mut compared = 0;
    for seed in &seeds {
        for round in 0..300 {
            let mut bytes = seed.clone();
            if round > 0 {
                let at = rng.range(0, bytes.len() as u64 - 1) as usize;
                bytes[at] = rng.next_u64() as u8;
            }
            for t in fuzz_targets() {
                let along = decode(&t, &bytes, &s);
                let asked = decode(&t, &bytes, &ShapesOnly(&s));
                assert_eq!(
                    format!("{along:?}"),
                    format!("{asked:?}"),
                    "{t} {bytes:02x?}"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 6 * 300 * 8);
}

/// `entry_len` is the length `write_entry` writes, at every ID and length-field boundary; and
/// a Multiple-Resource TLV written in place (its length reckoned first) is the same bytes as
/// one wrapping its instances encoded apart.
#[test]
fn entry_lengths_and_multiple_resources_written_in_place() {
    for id in [0u16, 1, 255, 256, 65534] {
        for len in [0usize, 1, 7, 8, 255, 256, 65535, 65536, 70000] {
            let mut out = Vec::new();
            write_entry(&mut out, TlvKind::Resource, id, &vec![0xA5; len]).unwrap();
            assert_eq!(
                super::entry::entry_len(id, len),
                out.len(),
                "id {id}, len {len}"
            );
        }
    }
    let values = [
        Value::Integer(-1),
        Value::String("x".repeat(300)),
        Value::Boolean(true),
        Value::Opaque(vec![1; 7]),
        Value::Float(1.5),
    ];
    for rid in [5u16, 300] {
        let m: crate::value::VecMap<u16, Value> = values
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, v)| (if i == 3 { 256 } else { i as u16 }, v))
            .collect();
        let mut apart = Vec::new();
        for (riid, v) in &m {
            value::with_value_bytes(v, |b| {
                write_entry(&mut apart, TlvKind::ResourceInstance, *riid, b)
            })
            .unwrap();
        }
        let mut expected = Vec::new();
        write_entry(&mut expected, TlvKind::MultipleResource, rid, &apart).unwrap();
        let mut ours = Vec::new();
        write_resource(&mut ours, rid, &ResourceValue::Multiple(m)).unwrap();
        assert_eq!(ours, expected, "resource {rid}");
    }
}
