//! Access Control over real UDP on 127.0.0.1 (Core 1.1 §7.3): the testkit Bootstrap-Server
//! provisions two LwM2M Server accounts and their ACLs, both testkit LwM2M Servers see the
//! device register, and the second server sees the ACL refusal (4.01) where the first, the
//! owner, is obeyed.

use std::time::Duration;

use lwm2mc::accounts::factory;
use lwm2mc::coap::{msg, TransmissionParams};
use lwm2mc::codec::tlv;
use lwm2mc::testkit::{request, BootstrapConfig, BootstrapServer, DeviceThread, Lwm2mServer};
use lwm2mc::value::{Instances, ResourceValue, Resources};
use lwm2mc::{Client, Config, Event, Path, Store, Value};

const T: Duration = Duration::from_secs(10);
const EP: &str = "acl-device";

fn config() -> Config {
    let mut c = Config::new(EP);
    c.seed = 21;
    c.transmission = TransmissionParams {
        ack_timeout_ms: 100,
        ..TransmissionParams::default()
    };
    c
}

fn int(v: i64) -> ResourceValue {
    ResourceValue::Single(Value::Integer(v))
}

/// `/2` with one ACL instance about `/3/0`: owned by server 1, server 2 may Read (R = 1).
fn acl_payload() -> Vec<u8> {
    let mut r = Resources::new();
    r.insert(0, int(3));
    r.insert(1, int(0));
    r.insert(
        2,
        ResourceValue::Multiple([(2, Value::Integer(1))].into_iter().collect()),
    );
    r.insert(3, int(1));
    let one: Instances = [(0, r)].into_iter().collect();
    let body = tlv::encode(&Path::instance(2, 0), &one).unwrap();
    let mut out = Vec::new();
    tlv::write_entry(&mut out, tlv::TlvKind::ObjectInstance, 0, &body).unwrap();
    out
}

#[test]
fn the_second_server_sees_the_acl_refusal_the_owner_is_obeyed() {
    let dm1 = Lwm2mServer::start().unwrap();
    let dm2 = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm1.uri(), 60)
            .server_account(2, &dm2.uri(), 60)
            .write("/2", 11542, acl_payload())
            .finish(),
    )
    .unwrap();
    let mut store = Store::with_standard_objects();
    factory::add_bootstrap_account(&mut store, &bs.uri(), 0).unwrap();
    factory::add_device(&mut store, "ACME", "ACL-UDP", "0007").unwrap();
    let device = DeviceThread::start(Client::new(config(), store), None).unwrap();
    dm1.wait_registration(EP, T).unwrap();
    dm2.wait_registration(EP, T).unwrap();

    let refused = dm2.write(EP, "/3/0/14", 0, b"+05:00".to_vec()).unwrap();
    assert_eq!(refused.code, msg::UNAUTHORIZED, "{refused:?}");
    let r = dm2.read(EP, "/3/0/14", None).unwrap();
    assert_eq!(r.code, msg::NOT_FOUND, "nothing was written: {r:?}");
    let r = dm2.execute(EP, "/3/0/4", None).unwrap();
    assert_eq!(r.code, msg::UNAUTHORIZED);
    let r = dm2.read(EP, "/3/0/0", None).unwrap();
    assert_eq!((r.code, r.payload.as_slice()), (msg::CONTENT, &b"ACME"[..]));
    // Server 1's own Server instance has no ACL instance: nothing for server 2 there.
    let r = dm2.request(EP, request(msg::GET, "/1/0")).unwrap();
    assert_eq!(r.code, msg::UNAUTHORIZED);

    let ok = dm1.write(EP, "/3/0/14", 0, b"+05:00".to_vec()).unwrap();
    assert_eq!(ok.code, msg::CHANGED);
    let r = dm2.read(EP, "/3/0/14", None).unwrap();
    assert_eq!(
        (r.code, r.payload.as_slice()),
        (msg::CONTENT, &b"+05:00"[..])
    );

    let mut events = device.drain_events();
    let (client, last) = device.stop().unwrap();
    events.extend(last);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Written { ssid: 1, .. })));
    assert!(events
        .iter()
        .all(|e| !matches!(e, Event::Written { ssid: 2, .. })));
    assert_eq!(
        client.store().value(&Path::resource(3, 0, 14)),
        Some(&Value::String("+05:00".into()))
    );
}
