//! Hand-made seed inputs, one set per target: well-formed examples of what each harness reads,
//! so that a campaign starts from the interesting shapes instead of rediscovering the framing.
//! `tests/fuzz_corpus.rs` runs them too, and writes them into `fuzz/corpus/` on request.

use lwm2mc::value::VecMap;

use lwm2mc::codec::{self, ContentFormat};
use lwm2mc::value::{Instances, ResourceValue, Resources, Value};
use lwm2mc::{persist, Path, Store};

use super::codecs::FUZZ_OID;
use super::input::{put_chunk16, put_chunk8};

/// Every seed: (target, seed name, bytes).
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (target, seeds) in [
        ("tlv", structured(ContentFormat::Tlv)),
        ("senml_json", structured(ContentFormat::SenmlJson)),
        ("senml_cbor", structured(ContentFormat::SenmlCbor)),
        ("lwm2m_json", lwm2m_json()),
        ("text", text()),
        ("opaque", opaque()),
        ("link", link()),
        ("coap_endpoint", coap_endpoint()),
        ("snapshot", snapshot()),
        ("client_bootstrap", client_bootstrap()),
        ("client_registered", client_registered()),
    ] {
        for (n, s) in seeds.into_iter().enumerate() {
            out.push((target, format!("seed-{n:03}"), s));
        }
    }
    out
}

/// Content of the fuzz object: instance 0 with every type single (0–8) and multiple (10–18,
/// two instances each), instance 1 with a string.
pub fn every_type() -> Instances {
    let values = [
        Value::String("hello".into()),
        Value::Integer(-1234567),
        Value::Unsigned(u64::MAX),
        Value::Float(-2.5),
        Value::Boolean(true),
        Value::Opaque(vec![0, 1, 0xFE, 0xFF]),
        Value::Time(1_700_000_000),
        Value::Objlnk(3, 0),
        Value::Corelnk("</3/0>".into()),
    ];
    let mut r = Resources::new();
    for (k, v) in values.iter().enumerate() {
        r.insert(k as u16, ResourceValue::Single(v.clone()));
        let mut m = VecMap::new();
        m.insert(0, v.clone());
        m.insert(7, v.clone());
        r.insert(10 + k as u16, ResourceValue::Multiple(m));
    }
    let mut one = Resources::new();
    one.insert(0, ResourceValue::Single(Value::String("x".into())));
    let mut i = Instances::new();
    i.insert(0, r);
    i.insert(1, one);
    i
}

/// The target header of `codecs::target` for the fuzz object at `depth` with these IDs.
fn header(depth: u8, i: u8, r: u8, ri: u8) -> Vec<u8> {
    vec![4 | (depth << 3), i, r, ri]
}

/// The fuzz object's content encoded in `format` at several depths.
fn structured(format: ContentFormat) -> Vec<Vec<u8>> {
    let all = every_type();
    let mut seeds = Vec::new();
    let targets = [
        (1, Path::object(FUZZ_OID), 0, 0, 0),
        (2, Path::instance(FUZZ_OID, 0), 0, 0, 0),
        (3, Path::resource(FUZZ_OID, 0, 3), 0, 3, 0),
        (3, Path::resource(FUZZ_OID, 0, 15), 0, 15, 0),
        (4, Path::resource_instance(FUZZ_OID, 0, 17, 7), 0, 17, 7),
    ];
    for (depth, path, i, r, ri) in targets {
        let content = restrict(&all, &path);
        if let Ok(bytes) = codec::encode(format, &path, &content) {
            let mut s = header(depth, i, r, ri);
            s.extend_from_slice(&bytes);
            seeds.push(s);
        }
    }
    // The Device object at /3/0 with a few resources.
    let mut dev = Resources::new();
    dev.insert(0, ResourceValue::Single(Value::String("ACME".into())));
    dev.insert(9, ResourceValue::Single(Value::Integer(87)));
    let mut m = VecMap::new();
    m.insert(0, Value::Integer(1));
    dev.insert(6, ResourceValue::Multiple(m));
    let mut inst = Instances::new();
    inst.insert(0, dev);
    if let Ok(bytes) = codec::encode(format, &Path::instance(3, 0), &inst) {
        let mut s = vec![3 | (2 << 3), 0, 0, 0];
        s.extend_from_slice(&bytes);
        seeds.push(s);
    }
    seeds
}

/// The part of `content` below `target`.
fn restrict(content: &Instances, target: &Path) -> Instances {
    let mut out = Instances::new();
    for (&iid, resources) in content {
        if target.instance_id().is_some_and(|i| i != iid) {
            continue;
        }
        let mut rs = Resources::new();
        for (&rid, rv) in resources {
            if target.resource_id().is_some_and(|r| r != rid) {
                continue;
            }
            let rv = match (rv, target.resource_instance_id()) {
                (ResourceValue::Multiple(m), Some(ri)) => {
                    let mut one = VecMap::new();
                    if let Some(v) = m.get(&ri) {
                        one.insert(ri, v.clone());
                    }
                    ResourceValue::Multiple(one)
                }
                (rv, _) => rv.clone(),
            };
            rs.insert(rid, rv);
        }
        out.insert(iid, rs);
    }
    out
}

fn lwm2m_json() -> Vec<Vec<u8>> {
    let docs = [
        (
            header(2, 0, 0, 0),
            r#"{"bn":"/30000/0/","e":[{"n":"0","sv":"abc"},{"n":"1","v":-5},{"n":"3","v":1.5},{"n":"4","bv":true},{"n":"5","sv":"AAEC"},{"n":"7","ov":"3:0"},{"n":"11/0","v":2},{"n":"11/3","v":4}]}"#,
        ),
        (
            header(3, 0, 1, 0),
            r#"{"bn":"/30000/0/1","bt":10,"e":[{"v":42}]}"#,
        ),
        (
            header(1, 0, 0, 0),
            r#"{"e":[{"n":"/30000/0/0","sv":"a"},{"n":"/30000/2/6","v":1000}]}"#,
        ),
        (
            vec![3 | (2 << 3), 0, 0, 0],
            r#"{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"6/0","v":1},{"n":"6/1","v":5}]}"#,
        ),
    ];
    docs.into_iter()
        .map(|(mut h, d)| {
            h.extend_from_slice(d.as_bytes());
            h
        })
        .collect()
}

fn text() -> Vec<Vec<u8>> {
    let samples: [&[u8]; 9] = [
        b"hello",
        b"-42",
        b"18446744073709551615",
        b"-2.5e-3",
        b"1",
        b"AAEC/w==",
        b"1700000000",
        b"3:0",
        b"</3/0>;ct=0",
    ];
    let mut seeds = Vec::new();
    for (k, s) in samples.iter().enumerate() {
        for flags in [0u8, 0x30] {
            let mut v = vec![k as u8 | flags, 0, 1];
            v.extend_from_slice(s);
            seeds.push(v);
        }
    }
    seeds
}

fn opaque() -> Vec<Vec<u8>> {
    vec![
        vec![5, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF],
        vec![5 | 0x30, 0, 3, 1, 2, 3],
        vec![5, 0, 0],
    ]
}

fn link() -> Vec<Vec<u8>> {
    [
        r#"</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>,</30000>;ver=2.0"#,
        r#"lwm2m="1.0", </0/0>;ssid=101;uri="coap://a.example:5683", </1/0/>;ssid=101"#,
        r#"</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/6>;dim=2,</3/0/7/0>;obs"#,
        r#"<coap://x/>;title="say \"hi\", \\o/";e="";anchor=/x"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn coap_endpoint() -> Vec<Vec<u8>> {
    let base = |ops: &[u8]| {
        let mut v = vec![0x01, 0x00, 0x10, 0, 0, 0, 9, 0, 0, 0x10, 0];
        v.extend_from_slice(ops);
        v
    };
    vec![
        // A request to peer 0, delivered, answered, delivered back.
        base(&[0x08, 0x05, 0, 0, 0x04, 0, 0x06, 0, 10]),
        // An observe request, lost, retransmitted after a timeout, then answered.
        base(&[0x88, 0x06, 0x10, 0x00, 0x05, 1, 0, 0, 0x04, 0]),
        // A raw ping and a raw CON GET from peer 1, answered.
        base(&[
            0x10, 4, 0x40, 0, 0x12, 0x34, 0x10, 8, 0x41, 0x01, 0, 1, 0xAA, 0xB1, b'3', 0, 0,
        ]),
        // Requests from peer 2 with chosen MIDs (a duplicate), a message, a cancel, a forget.
        base(&[
            0x2E, 0x12, 0x34, 2, 1, 2, 0, 0, 0x2E, 0x12, 0x34, 2, 1, 2, 0x1A, 3, 1, 2, 3, 0x0B, 0,
            0x2D, 0x46, 0xFF, 0xFF,
        ]),
    ]
}

fn snapshot() -> Vec<Vec<u8>> {
    let store = super::snapshot::factory_store();
    let mut empty = Store::with_standard_objects();
    let _ = lwm2mc::accounts::factory::add_device(&mut empty, "a", "b", "c");
    let good = persist::encode_snapshot(store, 7);
    let older = persist::encode_snapshot(&empty, 3);
    let body = good[18..good.len() - 4].to_vec();
    let mut seeds = Vec::new();
    for (mode, a, b) in [
        (0u8, &good, &older),
        (0, &older, &good),
        (8, &good, &good),
        (1 | 2, &body, &body),
        (0, &good[..good.len() / 2].to_vec(), &older),
    ] {
        let mut s = vec![mode, 0, 0, 0, 5];
        put_chunk16(&mut s, a);
        s.extend_from_slice(b);
        seeds.push(s);
    }
    seeds
}

/// A request frame as `client::frames` reads it.
pub struct Req {
    code: u8,
    segments: Vec<String>,
    content_format: Option<u16>,
    accept: Option<u16>,
    queries: Vec<String>,
    payload: Vec<u8>,
}

impl Req {
    pub fn new(code: u8, path: &str) -> Req {
        Req {
            code,
            segments: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            content_format: None,
            accept: None,
            queries: Vec::new(),
            payload: Vec::new(),
        }
    }
    pub fn cf(mut self, cf: u16, payload: Vec<u8>) -> Req {
        self.content_format = Some(cf);
        self.payload = payload;
        self
    }
    pub fn accept(mut self, a: u16) -> Req {
        self.accept = Some(a);
        self
    }
    pub fn query(mut self, q: &str) -> Req {
        self.queries.push(q.into());
        self
    }

    pub fn frame(&self) -> Vec<u8> {
        let code_index = match self.code {
            lwm2mc::coap::msg::GET => 0,
            lwm2mc::coap::msg::PUT => 1,
            lwm2mc::coap::msg::POST => 2,
            lwm2mc::coap::msg::DELETE => 3,
            lwm2mc::coap::msg::FETCH => 4,
            lwm2mc::coap::msg::IPATCH => 5,
            _ => 7,
        };
        let mut flags = code_index;
        if !self.queries.is_empty() {
            flags |= 32;
        }
        if self.content_format.is_some() || self.accept.is_some() {
            flags |= 64;
        }
        let nseg = self.segments.len().min(5) as u8;
        let mut v = vec![2 | (nseg << 5), flags];
        if code_index == 7 {
            v.push(self.code);
        }
        v.push(2);
        v.extend_from_slice(&[0xA1, 0xB2]);
        for s in self.segments.iter().take(5) {
            match s.parse::<u32>() {
                Ok(n @ 0..=3) => v.push(n as u8),
                Ok(n) if u32::from(FUZZ_OID) == n => v.push(4),
                Ok(n @ 4..=15) => v.push(((n as u8) << 4) | 11),
                Ok(n @ 16..=255) => v.extend_from_slice(&[8, n as u8]),
                Ok(n @ 256..=65535) => {
                    v.push(9);
                    v.extend_from_slice(&(n as u16).to_be_bytes());
                }
                _ if s == "bs" => v.push(5),
                _ if s == "rd" => v.push(6),
                _ => {
                    v.push(10);
                    put_chunk8(&mut v, s.as_bytes());
                }
            }
        }
        if !self.queries.is_empty() {
            v.push(self.queries.len().min(3) as u8 - 1);
            for q in self.queries.iter().take(3) {
                put_chunk8(&mut v, q.as_bytes());
            }
        }
        if flags & 64 != 0 {
            for f in [self.content_format, self.accept] {
                match f {
                    None => v.push(0xF0),
                    Some(cf) => match super::client::FORMATS.iter().position(|x| *x == cf) {
                        Some(i) => v.push(i as u8),
                        None => {
                            v.push(0xB0);
                            v.extend_from_slice(&cf.to_be_bytes());
                        }
                    },
                }
            }
        }
        put_chunk16(&mut v, &self.payload);
        v
    }
}

/// A time-step frame of `ms` milliseconds (rounded to the frame's scales).
pub fn wait(ms: u64) -> Vec<u8> {
    let (scale_bits, scale) = if ms <= 65_535 {
        (0u8, 1)
    } else if ms <= 6_553_500 {
        (1, 100)
    } else {
        (2, 10_000)
    };
    let n = (ms / scale).min(65_535) as u16;
    let mut v = vec![6 | (scale_bits << 6)];
    v.extend_from_slice(&n.to_be_bytes());
    v
}

fn tlv_instance(oid: u16, iid: u16, values: &[(u16, Value)]) -> Vec<u8> {
    let mut r = Resources::new();
    for (rid, v) in values {
        r.insert(*rid, ResourceValue::Single(v.clone()));
    }
    let mut i = Instances::new();
    i.insert(iid, r);
    codec::encode(ContentFormat::Tlv, &Path::instance(oid, iid), &i).unwrap_or_default()
}

fn security(port: u16, ssid: i64) -> Vec<u8> {
    tlv_instance(
        0,
        1,
        &[
            (0, Value::String(format!("coap://127.0.0.1:{port}"))),
            (1, Value::Boolean(false)),
            (2, Value::Integer(3)),
            (3, Value::Opaque(vec![])),
            (4, Value::Opaque(vec![])),
            (5, Value::Opaque(vec![])),
            (10, Value::Integer(ssid)),
        ],
    )
}

fn server(ssid: i64, lifetime: i64) -> Vec<u8> {
    tlv_instance(
        1,
        0,
        &[
            (0, Value::Integer(ssid)),
            (1, Value::Integer(lifetime)),
            (6, Value::Boolean(false)),
            (7, Value::String("U".into())),
        ],
    )
}

fn client_bootstrap() -> Vec<Vec<u8>> {
    use lwm2mc::coap::msg::{DELETE, GET, POST, PUT};
    let port = super::client::DM_PORT;
    let plans: Vec<Vec<Req>> = vec![
        // The usual plan: delete, write a server account, finish.
        vec![
            Req::new(DELETE, "/"),
            Req::new(PUT, "/0/1").cf(11542, security(port, 101)),
            Req::new(PUT, "/1/0").cf(11542, server(101, 60)),
            Req::new(POST, "/bs"),
        ],
        // Discover and Read first, a Finish that is refused, then corrections.
        vec![
            Req::new(GET, "/").accept(40),
            Req::new(GET, "/0").accept(40),
            Req::new(GET, "/1").accept(11542),
            Req::new(POST, "/bs"),
            Req::new(DELETE, "/0/0"),
            Req::new(PUT, "/0/1").cf(11542, security(port, 7)),
            Req::new(PUT, "/1/0/1").cf(0, b"120".to_vec()),
            Req::new(POST, "/bs"),
        ],
        // SenML writes, a write to the fuzz object and a write of /3/0.
        vec![
            Req::new(PUT, "/30000/0").cf(
                110,
                br#"[{"bn":"/30000/0/","n":"0","vs":"a"},{"n":"1","v":3},{"n":"12/4","v":9}]"#
                    .to_vec(),
            ),
            Req::new(PUT, "/3/0/14").cf(0, b"+02:00".to_vec()),
            Req::new(PUT, "/1").cf(
                110,
                br#"[{"bn":"/1/0/","n":"0","v":5},{"n":"1","v":300},{"n":"7","vs":"U"}]"#.to_vec(),
            ),
            Req::new(POST, "/bs"),
        ],
    ];
    let mut seeds: Vec<Vec<u8>> = plans
        .iter()
        .map(|plan| plan.iter().flat_map(Req::frame).collect())
        .collect();
    // The usual plan, then the session's EXCHANGE_LIFETIME passes without a Finish.
    let mut v: Vec<u8> = plans[0][..3].iter().flat_map(Req::frame).collect();
    v.extend(wait(300_000));
    v.extend(Req::new(GET, "/0").accept(40).frame());
    seeds.push(v);
    seeds
}

fn client_registered() -> Vec<Vec<u8>> {
    use lwm2mc::coap::msg::{DELETE, GET, POST, PUT};
    let plans: Vec<Vec<Req>> = vec![
        vec![
            Req::new(GET, "/3/0"),
            Req::new(GET, "/3/0").accept(110),
            Req::new(GET, "/3/0/0").accept(0),
            Req::new(GET, "/30000/0").accept(112),
            Req::new(GET, "/3").accept(40),
            Req::new(GET, "/1/0/1").accept(11542),
        ],
        vec![
            Req::new(PUT, "/30000/0").cf(
                110,
                br#"[{"bn":"/30000/0/","n":"0","vs":"a"},{"n":"3","v":1.5},{"n":"15/1","vd":"AAE"}]"#
                    .to_vec(),
            ),
            Req::new(POST, "/30000/0").cf(0, b"x".to_vec()),
            Req::new(POST, "/30000/0/1").cf(0, b"17".to_vec()),
            Req::new(PUT, "/1/0/1").cf(0, b"30".to_vec()),
            Req::new(POST, "/30000").cf(11542, vec![0xC1, 0x01, 0x05]),
            Req::new(DELETE, "/30000/0"),
            Req::new(GET, "/30000").accept(40),
        ],
        vec![
            Req::new(POST, "/1/0/8"),
            Req::new(POST, "/3/0/4").cf(0, b"0='x',1".to_vec()),
            Req::new(POST, "/1/0/9"),
            Req::new(PUT, "/3/0").query("pmin=10"),
            Req::new(POST, "/bs"),
            Req::new(POST, "/1/0/4"),
        ],
    ];
    let mut seeds: Vec<Vec<u8>> = plans
        .iter()
        .map(|plan| plan.iter().flat_map(Req::frame).collect())
        .collect();
    // Reads with Updates in between: a lifetime's worth of time passes twice.
    let mut v = Req::new(GET, "/3/0/0").frame();
    v.extend(wait(60_000));
    v.extend(Req::new(GET, "/1/0").frame());
    v.extend(wait(3_600_000));
    v.extend(Req::new(GET, "/1/0/1").accept(0).frame());
    seeds.push(v);
    seeds
}
