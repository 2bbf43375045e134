//! Registration lifecycle and Device Management through the sans-I/O core (hand-driven clock).

mod common;

use common::*;
use lwm2mc::coap::msg;
use lwm2mc::{Event, Path, Value};

/// Bootstrapped and registered with server 123 (lifetime 300 s).
fn registered_net(seed: u64) -> Net {
    let mut net = bootstrap_net(seed, standard_plan(123, 300));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    net
}

#[test]
fn read_device_in_tlv_and_single_values_in_text() {
    let mut net = registered_net(20);
    let (code, cf, payload) = ask(&mut net, get("/3/0", None));
    assert_eq!((code, cf), (msg::CONTENT, Some(11542)));
    // Exact TLV of the simulated Device: R0 "ACME", R1 "Sim-1", R2 "0001", R11 {0: 0}, R16 "U".
    let want: Vec<u8> = [
        &[0xC4, 0x00][..],
        b"ACME",
        &[0xC5, 0x01],
        b"Sim-1",
        &[0xC4, 0x02],
        b"0001",
        &[0x83, 0x0B, 0x41, 0x00, 0x00],
        &[0xC1, 0x10],
        b"U",
    ]
    .concat();
    assert_eq!(payload, want);
    assert_eq!(
        ask(&mut net, get("/3/0/0", None)),
        (msg::CONTENT, Some(0), b"ACME".to_vec())
    );
    assert_eq!(
        ask(&mut net, get("/3/0/0", Some(0))),
        (msg::CONTENT, Some(0), b"ACME".to_vec())
    );
    let (code, cf, payload) = ask(&mut net, get("/3/0/0", Some(110)));
    assert_eq!((code, cf), (msg::CONTENT, Some(110)));
    assert_eq!(payload, br#"[{"bn":"/3/0/0","vs":"ACME"}]"#);
    // Accept the client cannot meet → 4.06; text for an instance → 4.06.
    assert_eq!(ask(&mut net, get("/3/0", Some(0))).0, msg::NOT_ACCEPTABLE);
    assert_eq!(
        ask(&mut net, get("/3/0", Some(65000))).0,
        msg::NOT_ACCEPTABLE
    );
    // Missing targets → 4.04; executable resource → 4.05; Security → 4.01.
    assert_eq!(ask(&mut net, get("/3/1", None)).0, msg::NOT_FOUND);
    assert_eq!(ask(&mut net, get("/3/0/99", None)).0, msg::NOT_FOUND);
    assert_eq!(ask(&mut net, get("/4", None)).0, msg::NOT_FOUND);
    assert_eq!(
        ask(&mut net, get("/3/0/4", None)).0,
        msg::METHOD_NOT_ALLOWED
    );
    assert_eq!(ask(&mut net, get("/0/0", None)).0, msg::UNAUTHORIZED);
    assert_eq!(ask(&mut net, get("/0", None)).0, msg::UNAUTHORIZED);
}

#[test]
fn write_changes_values_and_lifetime_triggers_update() {
    let mut net = registered_net(21);
    assert_eq!(
        ask(&mut net, put("/3/0/14", 0, b"+01:00".to_vec())).0,
        msg::CHANGED
    );
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 14)),
        Some(&Value::String("+01:00".into()))
    );
    assert!(net.has_event(|e| *e
        == Event::Written {
            ssid: 123,
            path: Path::resource(3, 0, 14)
        }));
    // Read-only resource → 4.05 and unchanged; bad text → 4.00; no Content-Format → 4.00.
    assert_eq!(
        ask(&mut net, put("/3/0/0", 0, b"EVIL".to_vec())).0,
        msg::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 0)),
        Some(&Value::String("ACME".into()))
    );
    assert_eq!(
        ask(&mut net, put("/1/0/1", 0, b"ten".to_vec())).0,
        msg::BAD_REQUEST
    );
    assert_eq!(
        net.client.store().value(&Path::resource(1, 0, 1)),
        Some(&Value::Integer(300))
    );
    // A partial update of /3/0 with one good value and one for a read-only resource is
    // refused whole (4.05): the good one is not applied either.
    let mixed = [&[0xC6, 0x0E][..], b"+05:00", &[0xC4, 0x00], b"EVIL"].concat();
    assert_eq!(
        ask(&mut net, post("/3/0", Some(11542), &mixed)).0,
        msg::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 14)),
        Some(&Value::String("+01:00".into()))
    );
    assert_eq!(ask(&mut net, req(msg::PUT, "/1/0/1")).0, msg::BAD_REQUEST);
    assert_eq!(
        ask(&mut net, put("/1/0/1", 1234, b"1".to_vec())).0,
        msg::UNSUPPORTED_CONTENT_FORMAT
    );
    assert_eq!(
        ask(&mut net, put("/0/1/0", 0, b"coap://evil".to_vec())).0,
        msg::UNAUTHORIZED
    );
    assert_eq!(
        net.client.store().value(&Path::resource(0, 1, 0)),
        Some(&Value::String(uri(DM_PORT)))
    );
    // Lifetime write → Update carrying only lt=.
    assert_eq!(
        ask(&mut net, put("/1/0/1", 0, b"120".to_vec())).0,
        msg::CHANGED
    );
    assert!(net.run_until(10_000, |n| !n.dm(DM_PORT).updates.is_empty()));
    assert_eq!(net.dm(DM_PORT).updates[0], ["lt=120"]);
}

#[test]
fn execute_surfaces_an_event_once_even_when_duplicated() {
    let mut net = registered_net(22);
    net.dup = 100; // every datagram arrives twice from here on
    assert_eq!(ask(&mut net, post("/3/0/4", None, b"")).0, msg::CHANGED);
    net.run_until(5_000, |_| false);
    assert_eq!(
        net.count_events(
            |e| matches!(e, Event::Executed { path, .. } if *path == Path::resource(3, 0, 4))
        ),
        1
    );
    // A duplicated Write is applied once too: observable as one Written event.
    assert_eq!(
        ask(&mut net, put("/3/0/15", 0, b"Europe/Paris".to_vec())).0,
        msg::CHANGED
    );
    net.run_until(5_000, |_| false);
    assert_eq!(
        net.count_events(
            |e| matches!(e, Event::Written { path, .. } if *path == Path::resource(3, 0, 15))
        ),
        1
    );
    net.dup = 0;
    assert_eq!(
        ask(&mut net, post("/3/0/4", Some(0), b"0='x',1")).0,
        msg::CHANGED
    );
    assert!(net.has_event(|e| matches!(e, Event::Executed { args, .. } if args == b"0='x',1")));
    assert_eq!(
        ask(&mut net, post("/3/0/4", Some(0), b"nonsense")).0,
        msg::BAD_REQUEST
    );
    assert_eq!(
        ask(&mut net, post("/3/0/0", None, b"")).0,
        msg::METHOD_NOT_ALLOWED
    );
    assert_eq!(ask(&mut net, post("/3/0/77", None, b"")).0, msg::NOT_FOUND);
}

#[test]
fn discover_lists_instances_and_resources() {
    let mut net = registered_net(23);
    let (code, cf, payload) = ask(&mut net, get("/3/0", Some(40)));
    assert_eq!((code, cf), (msg::CONTENT, Some(40)));
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        "</3/0>,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/4>,</3/0/5>,</3/0/11>;dim=1,</3/0/12>,</3/0/16>"
    );
    let (_, _, payload) = ask(&mut net, get("/1", Some(40)));
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        "</1>;ver=1.1,</1/0>,</1/0/0>,</1/0/1>,</1/0/4>,</1/0/6>,</1/0/7>,</1/0/8>,</1/0/9>"
    );
    assert_eq!(ask(&mut net, get("/0", Some(40))).0, msg::UNAUTHORIZED);
}

#[test]
fn update_before_lifetime_and_reregister_on_404() {
    let mut net = registered_net(24);
    let registered_at = net.now;
    assert!(net.run_until(400_000, |n| !n.dm(DM_PORT).updates.is_empty()));
    // lifetime 300 s − MAX_TRANSMIT_WAIT 93 s.
    assert_eq!(net.now - registered_at, 207_000);
    assert!(
        net.dm(DM_PORT).updates[0].is_empty(),
        "a refresh carries no parameters"
    );
    net.dm(DM_PORT).forgotten = true;
    assert!(net.run_until(400_000, |n| n.dm(DM_PORT).registers.len() == 2));
    assert!(net.count_events(|e| matches!(e, Event::Registered { .. })) >= 2);
}

#[test]
fn update_trigger_and_deregister_on_stop() {
    let mut net = registered_net(25);
    assert_eq!(ask(&mut net, post("/1/0/8", None, b"")).0, msg::CHANGED);
    assert!(net.run_until(5_000, |n| n.dm(DM_PORT).updates.len() == 1));
    net.client.stop(net.now);
    assert!(net.run_until(100_000, |n| n.client.is_stopped()));
    assert_eq!(net.dm(DM_PORT).deregisters, 1);
    assert!(net.has_event(|e| *e == Event::Deregistered { ssid: 123 }));
    let last = net.wire.iter().rev().find(|w| !w.to_client).unwrap();
    assert_eq!(lwm2mc::trace::describe(&last.bytes), "CON DELETE /rd/1");
}

#[test]
fn requests_from_strangers_and_before_registration_are_ignored() {
    // A DM request to a client that is not registered with that server gets no answer.
    let mut net = bootstrap_net(26, standard_plan(123, 300));
    net.client.start(net.now);
    let now = net.now;
    net.dm(DM_PORT).send(now, get("/3/0", None));
    net.run_until(1_000, |_| false);
    // The BS has not finished yet when the DM request arrived... the request is retransmitted
    // by the server and answered once the registration exists.
    assert!(net.run_until(100_000, |n| !n.dm(DM_PORT).answers.is_empty()));
    assert!(registered(&mut net));
}

#[test]
fn a_server_has_no_bootstrap_powers() {
    let mut net = registered_net(27);
    // Bootstrap-only operations from a registered LwM2M Server.
    assert_eq!(
        ask(&mut net, put("/0/1", 11542, security_tlv(1, 9999, 5))).0,
        msg::UNAUTHORIZED
    );
    assert_eq!(
        ask(&mut net, req(msg::DELETE, "/")).0,
        msg::METHOD_NOT_ALLOWED
    );
    assert_eq!(ask(&mut net, req(msg::POST, "/bs")).0, msg::BAD_REQUEST);
    assert_eq!(net.client.store().instance_ids(0), [0, 1]);
    assert_eq!(
        net.client.store().value(&Path::resource(0, 1, 0)),
        Some(&Value::String(uri(DM_PORT)))
    );
}

#[test]
fn registration_failure_retries_then_falls_back_to_bootstrap() {
    let mut net = registered_net(28);
    // The server now refuses every Register.
    net.dm(DM_PORT).refuse_register = Some(msg::FORBIDDEN);
    net.dm(DM_PORT).forgotten = true;
    let bs_before = net.bs().requests_seen.len();
    assert!(net.run_until(20_000_000, |n| n.bs().requests_seen.len() > bs_before));
    let fails: Vec<Option<u64>> = net
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::RegistrationFailed { retry_at, .. } => Some(*retry_at),
            _ => None,
        })
        .collect();
    // Communication Retry Count default 5: four retries scheduled, the fifth failure gives up
    // and the client falls back to bootstrap (whose new session registers again).
    assert!(fails.len() >= 5, "{fails:?}");
    assert!(fails[..4].iter().all(Option::is_some), "{fails:?}");
    assert_eq!(fails[4], None);
}

#[test]
fn stop_during_register_lets_it_finish_then_deregisters() {
    let mut net = bootstrap_net(29, standard_plan(123, 300));
    // The LwM2M Server is unreachable for now: the Register stays in flight.
    net.dead.push(DM_PORT);
    net.client.start(net.now);
    assert!(net.run_until(10_000, |n| n.wire.iter().any(
        |w| !w.to_client && lwm2mc::trace::describe(&w.bytes).starts_with("CON POST /rd?")
    )));
    assert!(net.client.registered_servers().is_empty());
    net.client.stop(net.now);
    assert!(
        !net.client.is_stopped(),
        "the Register in flight is not abandoned"
    );
    // Its retransmission gets through and is accepted; the client then de-registers.
    net.dead.clear();
    assert!(net.run_until(100_000, |n| n.client.is_stopped()));
    assert_eq!(net.dm(DM_PORT).registers.len(), 1);
    assert_eq!(
        net.dm(DM_PORT).deregisters,
        1,
        "the accepted registration was removed"
    );
    assert!(net.has_event(|e| *e == Event::Deregistered { ssid: 123 }));
}

/// A library-held application object for Create/Delete: IPSO-like 3303 with 5700 Sensor Value
/// (R) and 5750 Application Type (RW, mandatory here so that Create must carry it).
fn with_app_object(seed: u64) -> Net {
    use lwm2mc::model::{ObjectDef, Operations, ResourceDef};
    use lwm2mc::ResourceType;
    use std::borrow::Cow;
    let mut store = factory_bs_only(0);
    store.define(
        ObjectDef {
            id: 3303,
            name: Cow::Borrowed("Temperature"),
            version: Cow::Borrowed("1.0"),
            multiple: true,
            mandatory: false,
            resources: Cow::Owned(vec![
                ResourceDef::new(
                    5700,
                    "Sensor Value",
                    ResourceType::Float,
                    Operations::R,
                    false,
                    false,
                ),
                ResourceDef::new(
                    5750,
                    "Application Type",
                    ResourceType::String,
                    Operations::RW,
                    false,
                    true,
                ),
            ]),
        },
        false,
    );
    let mut net = Net::new(lwm2mc::Client::new(config(seed), store));
    net.servers.insert(
        BS_PORT,
        Server::Bs(FakeBs::new(seed ^ 1, standard_plan(123, 300))),
    );
    net.servers
        .insert(DM_PORT, Server::Dm(FakeDm::new(seed ^ 2)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    net
}

fn app_instance_tlv(iid: Option<u16>, app_type: &str) -> Vec<u8> {
    use lwm2mc::codec::tlv;
    let mut body = Vec::new();
    tlv::write_entry(
        &mut body,
        tlv::TlvKind::Resource,
        5700,
        &tlv::encode_float(99.0),
    )
    .unwrap();
    tlv::write_entry(&mut body, tlv::TlvKind::Resource, 5750, app_type.as_bytes()).unwrap();
    match iid {
        None => body,
        Some(i) => object_tlv(&[(i, body)]),
    }
}

#[test]
fn create_and_delete_instances() {
    let mut net = with_app_object(30);
    // No instance ID in the payload: the client picks 0 and says where (Location-Path).
    let (code, _, _) = ask(
        &mut net,
        post("/3303", Some(11542), &app_instance_tlv(None, "room")),
    );
    assert_eq!(code, msg::CREATED);
    let acks: Vec<String> = net
        .wire
        .iter()
        .filter(|w| !w.to_client)
        .map(|w| lwm2mc::trace::describe(&w.bytes))
        .filter(|d| d.starts_with("ACK 2.01"))
        .collect();
    assert_eq!(acks, ["ACK 2.01 location=/3303/0"]);
    assert_eq!(
        net.client.store().value(&Path::resource(3303, 0, 5750)),
        Some(&Value::String("room".into()))
    );
    // Read-only values in a Create payload are ignored.
    assert_eq!(
        net.client.store().value(&Path::resource(3303, 0, 5700)),
        None
    );
    assert!(net.has_event(|e| *e
        == Event::Created {
            ssid: 123,
            path: Path::instance(3303, 0)
        }));
    // With an Object Instance TLV the server chooses the ID.
    assert_eq!(
        ask(
            &mut net,
            post("/3303", Some(11542), &app_instance_tlv(Some(7), "hall"))
        )
        .0,
        msg::CREATED
    );
    assert_eq!(net.client.store().instance_ids(3303), [0, 7]);
    // The object list changed: an Update carries it.
    assert!(net.run_until(10_000, |n| n.dm(DM_PORT).updates.len() == 2));
    // Errors create nothing: existing ID, missing mandatory resource, no Content-Format.
    assert_eq!(
        ask(
            &mut net,
            post("/3303", Some(11542), &app_instance_tlv(Some(7), "x"))
        )
        .0,
        msg::BAD_REQUEST
    );
    assert_eq!(
        net.client.store().value(&Path::resource(3303, 7, 5750)),
        Some(&Value::String("hall".into()))
    );
    assert_eq!(
        ask(&mut net, post("/3303", Some(11542), &[])).0,
        msg::BAD_REQUEST
    );
    assert_eq!(
        ask(&mut net, post("/3303", None, &app_instance_tlv(None, "y"))).0,
        msg::BAD_REQUEST
    );
    assert_eq!(
        ask(&mut net, post("/3", Some(11542), &[])).0,
        msg::BAD_REQUEST,
        "Device is single-instance"
    );
    assert_eq!(
        ask(&mut net, post("/0", Some(11542), &[])).0,
        msg::UNAUTHORIZED
    );
    assert_eq!(net.client.store().instance_ids(3303), [0, 7]);

    assert_eq!(ask(&mut net, req(msg::DELETE, "/3303/7")).0, msg::DELETED);
    assert!(net.has_event(|e| *e
        == Event::Deleted {
            ssid: 123,
            path: Path::instance(3303, 7)
        }));
    assert_eq!(ask(&mut net, req(msg::DELETE, "/3303/7")).0, msg::NOT_FOUND);
    assert_eq!(
        ask(&mut net, req(msg::DELETE, "/3303")).0,
        msg::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        ask(&mut net, req(msg::DELETE, "/3/0")).0,
        msg::METHOD_NOT_ALLOWED
    );
    assert_eq!(ask(&mut net, req(msg::DELETE, "/0/1")).0, msg::UNAUTHORIZED);
    assert_eq!(net.client.store().instance_ids(3303), [0]);
    assert_eq!(net.client.store().instance_ids(3), [0]);
}

#[test]
fn a_block_wise_write_is_applied_once_whole_never_as_fragments() {
    // Before block-wise transfer, each Block1 fragment was applied as the whole value and
    // answered 2.04, so a two-block write kept only its last block.
    let mut net = registered_net(29);
    let mut first = put("/3/0/14", 0, b"ABCDEFGHIJKLMNOP".to_vec());
    first.add_option(coap_lite::CoapOption::Block1, vec![0x08]); // NUM 0, more, 16 B
    let mut last = put("/3/0/14", 0, b"QRST".to_vec());
    last.add_option(coap_lite::CoapOption::Block1, vec![0x10]); // NUM 1, last, 16 B
    assert_eq!(ask(&mut net, first).0, msg::CONTINUE);
    // Nothing is applied before the last block.
    assert_eq!(net.client.store().value(&Path::resource(3, 0, 14)), None);
    assert_eq!(ask(&mut net, last).0, msg::CHANGED);
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 14)),
        Some(&Value::String("ABCDEFGHIJKLMNOPQRST".into()))
    );
    // A body sent as one whole block is an ordinary write.
    let mut whole = put("/3/0/14", 0, b"+01:00".to_vec());
    whole.add_option(coap_lite::CoapOption::Block1, vec![0x00]);
    assert_eq!(ask(&mut net, whole).0, msg::CHANGED);
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 14)),
        Some(&Value::String("+01:00".into()))
    );
}

#[test]
fn events_nobody_takes_are_bounded_and_the_drop_is_counted() {
    let mut cfg = config(30);
    cfg.limits.max_queued_events = 4;
    let mut net = Net::new(lwm2mc::Client::new(cfg, factory_bs_only(0)));
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(123, 300))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(2)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    // The application stops polling; a server executes /3/0/4 (Reboot) ten times.
    net.poll_events = false;
    for _ in 0..10 {
        assert_eq!(ask(&mut net, post("/3/0/4", None, b"")).0, msg::CHANGED);
    }
    let mut got = Vec::new();
    while let Some(e) = net.client.poll_event() {
        got.push(e);
    }
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0], Event::EventsDropped { count: 6 });
    assert!(got[1..]
        .iter()
        .all(|e| matches!(e, Event::Executed { path, .. } if *path == Path::resource(3, 0, 4))));
    assert_eq!(net.client.poll_event(), None);
}

#[test]
fn limits_bound_what_a_server_can_make_the_device_hold_or_send() {
    // Creates beyond Limits::max_instances (32) are refused and write nothing: 7,000 Creates
    // once rewrote the snapshot 7,000 times and grew the object list past a datagram.
    let mut net = with_app_object(31);
    for i in 0..32 {
        let tlv = app_instance_tlv(Some(i), "room");
        assert_eq!(
            ask(&mut net, post("/3303", Some(11542), &tlv)).0,
            msg::CREATED
        );
    }
    let tlv = app_instance_tlv(Some(40), "room");
    let (code, _, diag) = ask(&mut net, post("/3303", Some(11542), &tlv));
    assert_eq!(code, msg::INTERNAL_SERVER_ERROR);
    assert_eq!(
        String::from_utf8(diag).unwrap(),
        "object 3303 holds its maximum of 32 instances"
    );
    assert_eq!(net.client.store().instance_ids(3303).len(), 32);

    // A request payload over max_request_payload (4096): 4.13 with Size1 = 4096, unchanged.
    let before = net.client.store().value(&Path::resource(3, 0, 15)).cloned();
    let huge = vec![b'x'; 4097];
    assert_eq!(
        ask(&mut net, put("/3/0/15", 0, huge)).0,
        msg::REQUEST_ENTITY_TOO_LARGE
    );
    let size1: Vec<String> = net
        .wire
        .iter()
        .filter(|w| !w.to_client)
        .map(|w| coap_lite::Packet::from_bytes(&w.bytes).unwrap())
        .filter(|p| msg::code_of(p) == msg::REQUEST_ENTITY_TOO_LARGE)
        .map(|p| format!("{:?}", p.get_first_option(coap_lite::CoapOption::Size1)))
        .collect();
    assert_eq!(size1, ["Some([16, 0])"]);
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 15)),
        before.as_ref()
    );

    // An answer over the block size (1024) goes out in Block2 blocks, not as one datagram.
    let long = "E".repeat(1000);
    assert_eq!(
        ask(&mut net, put("/3/0/15", 0, long.clone().into_bytes())).0,
        msg::CHANGED
    );
    assert_eq!(
        ask(&mut net, get("/3/0/15", None)),
        (msg::CONTENT, Some(0), long.into_bytes())
    );
    let (code, _, first_block) = ask(&mut net, get("/3/0", None));
    assert_eq!((code, first_block.len()), (msg::CONTENT, 1024));
}
