//! One harness per payload decoder: decode arbitrary bytes addressed to a path chosen by the
//! input; where decoding succeeds and the format has an encoder, encode the result and decode
//! it again, which must give the same content.

use std::sync::OnceLock;

use lwm2mc::codec::{self, link, ContentFormat};
use lwm2mc::model::{ObjectDef, Operations, ResourceDef};
use lwm2mc::value::{Instances, ResourceType, ResourceValue, Value};
use lwm2mc::{Path, Store};

use super::input::Input;

/// An object with one single and one multiple resource of every type: resource `k` (0–9) is
/// single of `TYPES[k]`, resource `10 + k` multiple of the same type.
pub const FUZZ_OID: u16 = 30000;

pub const TYPES: [ResourceType; 10] = ResourceType::ALL;

/// The standard objects plus [`FUZZ_OID`], built once.
pub fn schema() -> &'static Store {
    static SCHEMA: OnceLock<Store> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut resources = Vec::new();
        for (multiple, base) in [(false, 0u16), (true, 10)] {
            for (k, kind) in TYPES.iter().enumerate() {
                let ops = if *kind == ResourceType::None {
                    Operations::E
                } else {
                    Operations::RW
                };
                resources.push(ResourceDef::new(
                    base + k as u16,
                    "fuzz",
                    *kind,
                    ops,
                    multiple && *kind != ResourceType::None,
                    false,
                ));
            }
        }
        let mut store = Store::with_standard_objects();
        store.define(
            ObjectDef {
                id: FUZZ_OID,
                name: "Fuzz".into(),
                version: "1.0".into(),
                multiple: true,
                mandatory: false,
                resources: resources.into(),
            },
            false,
        );
        store
    })
}

/// A target path from one header byte and up to three ID bytes: the object (mostly the fuzz
/// object, sometimes a standard or an unknown one), the depth (0–4) and the IDs.
pub fn target(inp: &mut Input<'_>) -> Path {
    let h = inp.u8();
    let object = [0, 1, 2, 3, FUZZ_OID, FUZZ_OID, FUZZ_OID, 9999][usize::from(h & 7)];
    let depth = ((h >> 3) & 7) % 5;
    let instance = u16::from(inp.u8());
    let mut resource = u16::from(inp.u8());
    if object == FUZZ_OID {
        resource %= 24;
    }
    let resource_instance = u16::from(inp.u8());
    match depth {
        0 => Path::ROOT,
        1 => Path::object(object),
        2 => Path::instance(object, instance),
        3 => Path::resource(object, instance, resource),
        _ => Path::resource_instance(object, instance, resource, resource_instance),
    }
}

/// A resource or resource-instance path in the fuzz object whose type the header byte picks:
/// the "per resource type" target of the single-value formats (text, opaque).
pub fn value_target(inp: &mut Input<'_>) -> Path {
    let h = inp.u8();
    let kind = u16::from(h % 10);
    let multiple = h & 0x10 != 0;
    let instance_path = h & 0x20 != 0;
    let instance = u16::from(inp.u8());
    let resource_instance = u16::from(inp.u8());
    let rid = if multiple { 10 + kind } else { kind };
    if instance_path {
        Path::resource_instance(FUZZ_OID, instance, rid, resource_instance)
    } else {
        Path::resource(FUZZ_OID, instance, rid)
    }
}

/// Values equal, floats by bit pattern (so that -0.0 ≠ 0.0) except that any NaN equals any NaN.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => a == b,
    }
}

fn same_resource(a: &ResourceValue, b: &ResourceValue) -> bool {
    match (a, b) {
        (ResourceValue::Single(x), ResourceValue::Single(y)) => same_value(x, y),
        (ResourceValue::Multiple(x), ResourceValue::Multiple(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((i, v), (j, w))| i == j && same_value(v, w))
        }
        _ => false,
    }
}

/// Content equal in the sense of [`same_value`].
pub fn same_instances(a: &Instances, b: &Instances) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((i, r), (j, s))| {
            i == j
                && r.len() == s.len()
                && r.iter()
                    .zip(s)
                    .all(|((k, v), (l, w))| k == l && same_resource(v, w))
        })
}

/// The codec contract (`codec/mod.rs`) on a decode result: everything lies below `target`, and
/// every resource is one the schema knows, with its declared shape and type.
fn check_contract(format: ContentFormat, target: &Path, content: &Instances) {
    let schema = schema();
    let Some(oid) = target.object_id() else {
        panic!("{format:?} decoded something for the root");
    };
    let fail = |what: &str, path: Path| -> ! {
        panic!("{format:?} decode at {target}: {what} {path}\n content {content:?}")
    };
    for (&iid, resources) in content {
        let ipath = Path::instance(oid, iid);
        if !target.contains(&ipath) && !ipath.contains(target) {
            fail("instance outside the target:", ipath);
        }
        for (&rid, rv) in resources {
            let rpath = Path::resource(oid, iid, rid);
            if !target.contains(&rpath) && !rpath.contains(target) {
                fail("resource outside the target:", rpath);
            }
            let Some(def) = schema.def(oid).and_then(|d| d.resource(rid)) else {
                fail("resource unknown to the schema:", rpath);
            };
            let values: Vec<(Path, &Value)> = match rv {
                ResourceValue::Single(v) if !def.multiple => vec![(rpath, v)],
                ResourceValue::Multiple(m) if def.multiple => m
                    .iter()
                    .map(|(&ri, v)| (Path::resource_instance(oid, iid, rid, ri), v))
                    .collect(),
                _ => fail("resource of the wrong shape:", rpath),
            };
            for (path, v) in values {
                if !target.contains(&path) && !path.contains(target) {
                    fail("resource instance outside the target:", path);
                }
                if v.resource_type() != def.kind {
                    fail("value of the wrong type:", path);
                }
            }
        }
    }
}

/// Decodes `payload` at `target`; if that works, the result must keep the codec contract, and
/// if `encoder` can encode it, the encoding must decode (with `encoder`) to the same content.
fn check(decoder: ContentFormat, encoder: Option<ContentFormat>, target: &Path, payload: &[u8]) {
    let schema = schema();
    let Ok(first) = codec::decode(decoder, target, payload, schema) else {
        return;
    };
    check_contract(decoder, target, &first);
    let Some(encoder) = encoder else { return };
    // Encoding may legitimately refuse (a target with nothing in it, NaN in text, ...).
    let Ok(bytes) = codec::encode(encoder, target, &first) else {
        return;
    };
    match codec::decode(encoder, target, &bytes, schema) {
        Ok(second) => assert!(
            same_instances(&first, &second),
            "{encoder:?} round trip at {target} changed the content:\n first  {first:?}\n \
             encoded {bytes:02x?}\n second {second:?}"
        ),
        Err(e) => panic!(
            "{encoder:?} cannot decode its own encoding at {target}: {e}\n content {first:?}\n \
             encoded {bytes:02x?}"
        ),
    }
}

pub fn tlv(data: &[u8]) {
    let mut inp = Input::new(data);
    let target = target(&mut inp);
    check(
        ContentFormat::Tlv,
        Some(ContentFormat::Tlv),
        &target,
        inp.rest(),
    );
}

pub fn text(data: &[u8]) {
    let mut inp = Input::new(data);
    let target = value_target(&mut inp);
    check(
        ContentFormat::Text,
        Some(ContentFormat::Text),
        &target,
        inp.rest(),
    );
}

pub fn opaque(data: &[u8]) {
    let mut inp = Input::new(data);
    let target = value_target(&mut inp);
    check(
        ContentFormat::Opaque,
        Some(ContentFormat::Opaque),
        &target,
        inp.rest(),
    );
}

pub fn senml_json(data: &[u8]) {
    let mut inp = Input::new(data);
    let target = target(&mut inp);
    check(
        ContentFormat::SenmlJson,
        Some(ContentFormat::SenmlJson),
        &target,
        inp.rest(),
    );
}

pub fn senml_cbor(data: &[u8]) {
    let mut inp = Input::new(data);
    let target = target(&mut inp);
    check(
        ContentFormat::SenmlCbor,
        Some(ContentFormat::SenmlCbor),
        &target,
        inp.rest(),
    );
}

/// LwM2M JSON has no encoder (input only, Core 1.1 §7.4.4): what it decodes is re-encoded as
/// SenML JSON, the format that replaced it, and must read back the same.
pub fn lwm2m_json(data: &[u8]) {
    let mut inp = Input::new(data);
    let target = target(&mut inp);
    check(
        ContentFormat::LwM2mJson,
        Some(ContentFormat::SenmlJson),
        &target,
        inp.rest(),
    );
}

/// Link format: parse, format, parse again; the two parses must agree, and formatting the
/// second must give the same text as formatting the first.
pub fn link_format(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(links) = link::parse_links(text) else {
        return;
    };
    for l in &links {
        let _ = l.path();
    }
    let formatted = link::format_links(&links);
    match link::parse_links(&formatted) {
        Ok(again) => assert_eq!(
            links, again,
            "link format round trip changed the links; formatted as {formatted:?}"
        ),
        Err(e) => panic!("cannot parse the formatted links {formatted:?}: {e}"),
    }
}
