//! Client-initiated bootstrap and registration, driven through the sans-I/O core with a
//! hand-driven clock (no sockets, no sleeps).

mod common;

use common::*;
use lwm2mc::coap::msg;
use lwm2mc::{Event, Path, Value};

fn answer_codes(net: &mut Net) -> Vec<(String, u8)> {
    net.bs()
        .answers
        .iter()
        .map(|a| (a.request.clone(), a.code))
        .collect()
}

#[test]
fn bootstrap_then_register_with_exact_messages() {
    let mut net = bootstrap_net(1, standard_plan(123, 300));
    net.client.start(net.now);
    assert!(
        net.run_until(10_000, registered),
        "events: {:?}",
        net.events
    );

    // The first datagram is the Bootstrap-Request: CON POST /bs?ep=sim-device.
    let first = &net.wire[0];
    assert_eq!((first.to_client, first.port), (false, BS_PORT));
    assert_eq!(
        lwm2mc::trace::describe(&first.bytes),
        "CON POST /bs?ep=sim-device"
    );
    assert_eq!(first.bytes[0], 0x48, "CON, token length 8");
    assert_eq!(first.bytes[1], 0x02, "POST");

    let codes: Vec<u8> = net.bs().answers.iter().map(|a| a.code).collect();
    assert_eq!(
        codes,
        [msg::DELETED, msg::CHANGED, msg::CHANGED, msg::CHANGED]
    );
    assert!(net.has_event(|e| *e == Event::Bootstrapped));

    let dm = net.dm(DM_PORT);
    assert_eq!(
        dm.registers,
        [vec!["ep=sim-device", "lt=300", "lwm2m=1.1", "b=U"]]
    );
    // One ct value on the root link: Wakaama's server answers a quoted list with 4.00
    // (RootFormats). Security is never announced (Core 1.1 §5.3.1).
    assert_eq!(
        dm.register_payloads[0],
        "</>;rt=\"oma.lwm2m\";ct=110,</1>;ver=1.1,</1/0>,</2>,</3>;ver=1.1,</3/0>"
    );
    assert_eq!(
        net.client.registration_location(123).as_deref(),
        Some("/rd/1")
    );

    // Committed: the BS account (kept by DELETE /), the new server account, the Device.
    let store = net.client.store();
    assert_eq!(store.instance_ids(0), [0, 1]);
    assert_eq!(
        store.value(&Path::resource(0, 1, 10)),
        Some(&Value::Integer(123))
    );
    assert_eq!(
        store.value(&Path::resource(1, 0, 1)),
        Some(&Value::Integer(300))
    );
    assert_eq!(store.instance_ids(3), [0]);
}

#[test]
fn write_regardless_of_existence_creates_instances_and_resources() {
    // /0/5 and /1/7 do not exist; a resource-level write creates /1/7 too.
    let plan = vec![
        put("/0/5", 11542, security_tlv(5, DM_PORT, 9)),
        put("/1/7/0", 0, b"9".to_vec()),
        put("/1/7/1", 0, b"60".to_vec()),
        // Written many times: the last value wins.
        put("/1/7/1", 0, b"120".to_vec()),
        // The instance lacks its other mandatory resources: Finish says which (4.06).
        finish(),
        put("/1/7/6", 0, b"0".to_vec()),
        put("/1/7/7", 0, b"U".to_vec()),
        finish(),
    ];
    let mut net = bootstrap_net(2, plan);
    net.client.start(net.now);
    let ok = net.run_until(10_000, registered);
    assert!(ok, "{:?}", answer_codes(&mut net));
    let first_finish = net.bs().answers[4].clone();
    assert_eq!(first_finish.code, msg::NOT_ACCEPTABLE);
    let diag = String::from_utf8(first_finish.payload).unwrap();
    assert!(
        diag.contains(
            "/1/7/6 (Notification Storing When Disabled or Offline, mandatory) is missing"
        ),
        "{diag}"
    );
    assert!(
        diag.contains("/1/7/7 (Binding, mandatory) is missing"),
        "{diag}"
    );
    let s = net.client.store();
    assert_eq!(
        s.value(&Path::resource(0, 5, 0)),
        Some(&Value::String(uri(DM_PORT)))
    );
    assert_eq!(
        s.value(&Path::resource(1, 7, 1)),
        Some(&Value::Integer(120))
    );
    assert_eq!(net.dm(DM_PORT).registers[0][1], "lt=120");
}

#[test]
fn object_level_write_with_several_instances() {
    let payload = object_tlv(&[
        (1, security_tlv(1, DM_PORT, 5)),
        (2, security_tlv(2, DM2_PORT, 6)),
    ]);
    let srv = object_tlv(&[(0, server_tlv(0, 5, 60)), (1, server_tlv(1, 6, 60))]);
    let plan = vec![put("/0", 11542, payload), put("/1", 11542, srv), finish()];
    let mut net = bootstrap_net(3, plan);
    net.servers.insert(DM2_PORT, Server::Dm(FakeDm::new(33)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, |n| n
        .count_events(|e| matches!(e, Event::Registered { .. }))
        == 2));
    assert_eq!(net.client.store().instance_ids(0), [0, 1, 2]);
    assert_eq!(net.client.registered_servers(), [5, 6]);
}

#[test]
fn bad_writes_get_the_spec_codes_and_change_nothing() {
    let plan = vec![
        put("/1/0", 9999, server_tlv(0, 1, 60)), // unknown format → 4.15
        put("/1/0", 11542, vec![0xC8, 0x00, 0x40, 0x01]), // truncated TLV → 4.00
        put("/1/0/1", 0, b"12x".to_vec()),       // bad integer text → 4.00
        put("/0/1/3", 42, vec![1, 2, 3]),        // opaque into an opaque resource: fine
        put("/1/0/1/0", 0, b"1".to_vec()),       // resource instance target → 4.00
        put("/99/0", 11542, vec![]),             // unknown object → 4.04
        finish(),                                // nothing usable → 4.06
    ];
    let mut net = bootstrap_net(4, plan);
    net.client.start(net.now);
    net.run_until(10_000, |n| n.bs().finished());
    let codes: Vec<u8> = net.bs().answers.iter().map(|a| a.code).collect();
    assert_eq!(
        codes,
        [
            msg::UNSUPPORTED_CONTENT_FORMAT,
            msg::BAD_REQUEST,
            msg::BAD_REQUEST,
            msg::CHANGED,
            msg::BAD_REQUEST,
            msg::NOT_FOUND,
            msg::NOT_ACCEPTABLE
        ]
    );
    // 4.06 carries a diagnostic saying what is inconsistent.
    let diag = String::from_utf8(net.bs().answers[6].payload.clone()).unwrap();
    assert!(diag.contains("no LwM2M Server account"), "{diag}");
    // Nothing was committed: the store is still the factory state.
    assert!(net.client.store().instance_ids(1).is_empty());
    assert_eq!(net.client.store().instance_ids(0), [0]);
    assert!(!net.has_event(|e| *e == Event::Bootstrapped));
}

#[test]
fn finish_after_correction_commits() {
    let plan = vec![
        put("/0/1", 11542, security_tlv(1, DM_PORT, 7)),
        finish(), // no Server instance yet → 4.06, session stays open
        put("/1/0", 11542, server_tlv(0, 7, 60)),
        finish(),
    ];
    let mut net = bootstrap_net(5, plan);
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    let codes: Vec<u8> = net.bs().answers.iter().map(|a| a.code).collect();
    assert_eq!(
        codes,
        [
            msg::CHANGED,
            msg::NOT_ACCEPTABLE,
            msg::CHANGED,
            msg::CHANGED
        ]
    );
}

#[test]
fn delete_spares_the_bootstrap_account_and_the_device() {
    let plan = vec![
        put("/0/1", 11542, security_tlv(1, DM_PORT, 7)),
        put("/1/0", 11542, server_tlv(0, 7, 60)),
        req(msg::DELETE, "/"),
        req(msg::DELETE, "/0/0"), // the BS account: not affected, still 2.02
        req(msg::DELETE, "/3"),   // the Device: not affected
        req(msg::DELETE, "/1/0/1"), // a resource: 4.00
        req(msg::DELETE, "/4242"), // unknown object: 4.00
        put("/0/1", 11542, security_tlv(1, DM_PORT, 7)),
        put("/1/0", 11542, server_tlv(0, 7, 60)),
        finish(),
    ];
    let mut net = bootstrap_net(6, plan);
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    let codes: Vec<u8> = net.bs().answers.iter().map(|a| a.code).collect();
    assert_eq!(
        codes,
        [
            msg::CHANGED,
            msg::CHANGED,
            msg::DELETED,
            msg::DELETED,
            msg::DELETED,
            msg::BAD_REQUEST,
            msg::BAD_REQUEST,
            msg::CHANGED,
            msg::CHANGED,
            msg::CHANGED
        ]
    );
    let s = net.client.store();
    assert_eq!(s.instance_ids(0), [0, 1]);
    assert_eq!(
        s.value(&Path::resource(0, 0, 1)),
        Some(&Value::Boolean(true))
    );
    assert_eq!(
        s.value(&Path::resource(3, 0, 0)),
        Some(&Value::String("ACME".into()))
    );
}

#[test]
fn bootstrap_request_failure_is_reported_and_retried_with_backoff() {
    let mut net = bootstrap_net(7, standard_plan(1, 60));
    net.dead.push(BS_PORT);
    net.client.start(net.now);
    let t0 = net.now;
    assert!(net.run_until(200_000, |n| n
        .has_event(|e| matches!(e, Event::BootstrapFailed { .. }))));
    let (at, ev) = net
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::BootstrapFailed { .. }))
        .cloned()
        .unwrap();
    // RFC 7252 §4.8: 5 transmissions, failure after ~ACK_TIMEOUT*(2^5-1)*[1, 1.5] = 62..93 s.
    assert!(
        (62_000..=93_000).contains(&(at - t0)),
        "failed after {} ms",
        at - t0
    );
    let sent: Vec<u64> = net
        .wire
        .iter()
        .filter(|w| !w.to_client)
        .map(|w| w.at)
        .collect();
    assert_eq!(sent.len(), 5, "1 transmission + MAX_RETRANSMIT 4");
    let Event::BootstrapFailed {
        retry_at: Some(retry_at),
        ..
    } = ev
    else {
        panic!("{ev:?}")
    };
    // Back-off: bootstrap_retry base 10 s plus up to 50 % jitter.
    assert!(
        (10_000..=15_000).contains(&(retry_at - at)),
        "retry in {} ms",
        retry_at - at
    );
    // The server comes back: the retry succeeds.
    net.dead.clear();
    assert!(net.run_until(100_000, registered), "{:?}", net.events);
    let requests = net
        .wire
        .iter()
        .filter(|w| {
            !w.to_client
                && w.port == BS_PORT
                && lwm2mc::trace::describe(&w.bytes).starts_with("CON POST /bs")
        })
        .count();
    assert!(requests >= 6);
}

#[test]
fn second_failure_waits_longer() {
    let mut net = bootstrap_net(8, standard_plan(1, 60));
    net.dead.push(BS_PORT);
    net.client.start(net.now);
    net.run_until(400_000, |n| {
        n.count_events(|e| matches!(e, Event::BootstrapFailed { .. })) >= 2
    });
    let fails: Vec<(u64, u64)> = net
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::BootstrapFailed {
                retry_at: Some(r), ..
            } => Some((*at, *r)),
            _ => None,
        })
        .collect();
    assert!(fails.len() >= 2);
    let (d1, d2) = (fails[0].1 - fails[0].0, fails[1].1 - fails[1].0);
    assert!((20_000..=30_000).contains(&d2) && d2 > d1, "{d1} then {d2}");
}

#[test]
fn bootstrap_request_answered_with_an_error_fails() {
    let mut net = bootstrap_net(9, standard_plan(1, 60));
    net.bs().request_code = msg::BAD_REQUEST;
    net.client.start(net.now);
    assert!(net.run_until(10_000, |n| n
        .has_event(|e| matches!(e, Event::BootstrapFailed { .. }))));
    let Some((_, Event::BootstrapFailed { reason, .. })) = net
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::BootstrapFailed { .. }))
    else {
        unreachable!()
    };
    assert!(reason.contains("4.00"), "{reason}");
}

#[test]
fn session_without_finish_times_out_and_rolls_back() {
    let plan = vec![
        put("/0/1", 11542, security_tlv(1, DM_PORT, 7)),
        put("/1/0", 11542, server_tlv(0, 7, 60)),
    ];
    let mut net = bootstrap_net(10, plan);
    net.client.start(net.now);
    net.run_until(1_000, |n| n.bs().answers.len() == 2);
    let t = net.now;
    assert!(net.run_until(400_000, |n| n
        .has_event(|e| matches!(e, Event::BootstrapFailed { .. }))));
    let (at, _) = net
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::BootstrapFailed { .. }))
        .cloned()
        .unwrap();
    // EXCHANGE_LIFETIME (247 s) after the last Bootstrap-Server message.
    assert!((247_000..=248_000).contains(&(at - t)), "{}", at - t);
    assert!(
        net.client.store().instance_ids(1).is_empty(),
        "staged writes were not committed"
    );
}

#[test]
fn hold_off_delays_the_bootstrap_request() {
    let client = lwm2mc::Client::new(config(11), factory_bs_only(3));
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(5, standard_plan(1, 60))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(6)));
    let t0 = net.now;
    net.client.start(t0);
    assert!(net.run_until(20_000, registered));
    assert_eq!(
        net.wire[0].at - t0,
        3_000,
        "ClientHoldOffTime /0/0/11 = 3 s"
    );
}

#[test]
fn pct_is_sent_when_configured() {
    let mut cfg = config(12);
    cfg.preferred_format = Some(lwm2mc::codec::ContentFormat::SenmlCbor);
    let mut net = Net::new(lwm2mc::Client::new(cfg, factory_bs_only(0)));
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(5, standard_plan(1, 60))));
    net.client.start(net.now);
    net.run_until(1_000, |n| !n.wire.is_empty());
    assert_eq!(
        lwm2mc::trace::describe(&net.wire[0].bytes),
        "CON POST /bs?ep=sim-device&pct=112"
    );
}

/// The Security and Server instances exactly as Wakaama's `bootstrap_server` writes them for a
/// NoSec `[Server]` section of its ini (`bootstrap_info.c prv_add_server`): resources in the
/// order 0 (URI), 1 (Bootstrap-Server), 10 (Short Server ID), 2 (Security Mode 3), and no keys.
fn wakaama_nosec_plan(ssid: u8) -> Vec<coap_lite::Packet> {
    let uri = uri(DM_PORT).into_bytes();
    let mut security = vec![0xC8, 0x00, u8::try_from(uri.len()).unwrap()];
    security.extend_from_slice(&uri);
    security.extend_from_slice(&[0xC1, 0x01, 0x00, 0xC1, 0x0A, ssid, 0xC1, 0x02, 0x03]);
    // Server: 0 = ssid, 1 = lifetime 300 (0x012C), 6 = false, 7 = "U".
    let server = vec![
        0xC1, 0x00, ssid, 0xC2, 0x01, 0x01, 0x2C, 0xC1, 0x06, 0x00, 0xC1, 0x07, b'U',
    ];
    vec![
        req(msg::DELETE, "/0"),
        req(msg::DELETE, "/1"),
        put("/0/1", 11542, security),
        put("/1/1", 11542, server),
        finish(),
    ]
}

#[test]
fn nosec_account_without_keys_is_accepted() {
    // Core 1.1 §E.1: the keys mean something only in the modes that use them (Anjay, Wakaama
    // and Leshan agree; see bootstrap.rs exempt_keys). Before the fix Finish got 4.06
    // "/0/1/3 (Public Key or Identity, mandatory) is missing; …".
    let mut net = bootstrap_net(7, wakaama_nosec_plan(1));
    net.client.start(net.now);
    assert!(
        net.run_until(10_000, registered),
        "{:?}",
        answer_codes(&mut net)
    );
    assert_eq!(
        answer_codes(&mut net),
        [
            ("CON DELETE /0".to_string(), msg::DELETED),
            ("CON DELETE /1".to_string(), msg::DELETED),
            (
                "CON PUT /0/1 ct=tlv {R0=\"coap://127.0.0.1:5683\" R1=0 R10=1 R2=3}".to_string(),
                msg::CHANGED
            ),
            (
                "CON PUT /1/1 ct=tlv {R0=1 R1=300 R6=0 R7=85}".to_string(),
                msg::CHANGED
            ),
            ("CON POST /bs".to_string(), msg::CHANGED),
        ]
    );
    let s = net.client.store();
    assert_eq!(s.value(&Path::resource(0, 1, 2)), Some(&Value::Integer(3)));
    assert_eq!(s.value(&Path::resource(0, 1, 3)), None);
    assert_eq!(net.dm(DM_PORT).registers[0][1], "lt=300");
}

#[test]
fn psk_account_needs_identity_and_secret_key_but_not_the_server_key() {
    // The same instance in PSK mode (0): identity and secret key are what the handshake uses.
    let mut plan = wakaama_nosec_plan(1);
    let security = &mut plan[2].payload;
    let last = security.len() - 1;
    security[last] = 0x00;
    // An empty identity is as useless as none.
    plan.insert(3, put("/0/1/3", 42, Vec::new()));
    plan.push(put("/0/1/3", 42, b"id".to_vec()));
    plan.push(put("/0/1/5", 42, vec![0x5A; 16]));
    plan.push(finish());
    let mut net = bootstrap_net(8, plan);
    net.client.start(net.now);
    assert!(
        net.run_until(10_000, registered),
        "{:?}",
        answer_codes(&mut net)
    );
    let refused = net.bs().answers[5].clone();
    assert_eq!(
        (refused.request.as_str(), refused.code),
        ("CON POST /bs", msg::NOT_ACCEPTABLE)
    );
    assert_eq!(
        String::from_utf8(refused.payload).unwrap(),
        "/0/1/5 (Secret Key, mandatory) is missing; \
         /0/1/3 is empty, but Security Mode 0 needs it"
    );
    let s = net.client.store();
    assert_eq!(
        s.value(&Path::resource(0, 1, 3)),
        Some(&Value::Opaque(b"id".to_vec()))
    );
    assert_eq!(s.value(&Path::resource(0, 1, 4)), None);
}

#[test]
fn a_bootstrap_write_beyond_the_instance_limit_writes_nothing() {
    // Write regardless of existence, but not without bound (Limits::max_instances = 32).
    use lwm2mc::codec::tlv;
    use lwm2mc::value::{Instances, ResourceValue, Resources};
    let mut many = Instances::new();
    for i in 0..33u16 {
        let mut r = Resources::new();
        r.insert(0, ResourceValue::Single(Value::Integer(i64::from(i) + 1)));
        r.insert(1, ResourceValue::Single(Value::Integer(60)));
        many.insert(i, r);
    }
    let payload = tlv::encode(&Path::object(1), &many).unwrap();
    let mut plan = standard_plan(1, 300);
    plan.insert(3, put("/1", 11542, payload));
    let mut net = bootstrap_net(9, plan);
    net.client.start(net.now);
    assert!(
        net.run_until(10_000, registered),
        "{:?}",
        answer_codes(&mut net)
    );
    let refused = net.bs().answers[3].clone();
    assert_eq!(refused.code, msg::BAD_REQUEST);
    assert_eq!(
        String::from_utf8(refused.payload).unwrap(),
        "object 1 would hold more than 32 instances"
    );
    assert_eq!(net.client.store().instance_ids(1), [0]);
}
