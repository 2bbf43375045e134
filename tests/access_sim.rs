//! Access Control (object 2, Core 1.1 §7.3) through the public API: a device bootstrapped with
//! two server accounts and ACL instances, each server asking over the simulated network. Every
//! refusal is checked for its exact code and for the store being left as it was.

mod common;

use std::borrow::Cow;

use coap_lite::Packet;
use common::*;
use lwm2mc::coap::msg;
use lwm2mc::codec::tlv;
use lwm2mc::model::{ObjectDef, Operations, ResourceDef};
use lwm2mc::value::{Instances, ResourceValue, Resources};
use lwm2mc::{Client, Event, Path, ResourceType, Store, Value};

/// An application object held in the store, that servers may create instances of.
const TEST: u16 = 10250;
/// Server accounts: Short Server ID 1 on DM_PORT, 2 on DM2_PORT.
const S1: u16 = 1;
const S2: u16 = 2;
const R: i64 = 1;
const W: i64 = 2;
const E: i64 = 4;
const C: i64 = 16;

fn test_object() -> ObjectDef {
    ObjectDef {
        id: TEST,
        name: Cow::Borrowed("ACL test"),
        version: Cow::Borrowed("1.0"),
        multiple: true,
        mandatory: false,
        resources: Cow::Owned(vec![
            ResourceDef::new(
                0,
                "Value",
                ResourceType::Integer,
                Operations::RW,
                false,
                false,
            ),
            ResourceDef::new(1, "Reset", ResourceType::None, Operations::E, false, false),
        ]),
    }
}

fn int(v: i64) -> ResourceValue {
    ResourceValue::Single(Value::Integer(v))
}

/// The resources of an ACL instance about `/o/i`.
fn acl_resources(o: u16, i: u16, entries: &[(u16, i64)], owner: u16) -> Resources {
    let mut r = Resources::new();
    r.insert(0, int(i64::from(o)));
    r.insert(1, int(i64::from(i)));
    r.insert(
        2,
        ResourceValue::Multiple(
            entries
                .iter()
                .map(|(k, v)| (*k, Value::Integer(*v)))
                .collect(),
        ),
    );
    r.insert(3, int(i64::from(owner)));
    r
}

/// `(iid, o, i, entries, owner)` as the Instances of object 2.
type AclSpec<'a> = (u16, u16, u16, &'a [(u16, i64)], u16);

fn acl_instances(acls: &[AclSpec<'_>]) -> Instances {
    acls.iter()
        .map(|(iid, o, i, e, owner)| (*iid, acl_resources(*o, *i, e, *owner)))
        .collect()
}

/// A Bootstrap-Write payload for `/2` carrying the ACL instances.
fn acl_tlv(acls: &[AclSpec<'_>]) -> Vec<u8> {
    let bodies: Vec<(u16, Vec<u8>)> = acl_instances(acls)
        .into_iter()
        .map(|(iid, res)| {
            let one: Instances = [(iid, res)].into_iter().collect();
            (iid, tlv::encode(&Path::instance(2, iid), &one).unwrap())
        })
        .collect();
    object_tlv(&bodies)
}

/// The resource TLVs of a TEST instance with Value = `v`.
fn test_instance_tlv(iid: u16, v: i64) -> Vec<u8> {
    let one: Instances = [(iid, [(0, int(v))].into_iter().collect())]
        .into_iter()
        .collect();
    tlv::encode(&Path::instance(TEST, iid), &one).unwrap()
}

/// The ACLs of the two-server device (Owner 65535: bootstrap only):
/// - /2/0 on /3/0: owned by 1, server 2 may Read;
/// - /2/1 on /1/0 and /2/2 on /1/1: each server owns its own Server instance, no entries;
/// - /2/3 on /TEST (object level): server 1 may Create;
/// - /2/4 on /TEST/0: default R|W for every server, no E or D.
const ACLS: [AclSpec<'static>; 5] = [
    (0, 3, 0, &[(S2, R)], S1),
    (1, 1, 0, &[], S1),
    (2, 1, 1, &[], S2),
    (3, TEST, 65535, &[(S1, C)], 65535),
    (4, TEST, 0, &[(0, R | W)], 65535),
];

/// A device with only a Bootstrap-Server account and the TEST object defined.
fn factory() -> Store {
    let mut s = factory_bs_only(0);
    s.define(test_object(), true); // saved with the configuration, as /2 is
    s
}

/// The Bootstrap-Server's plan: `servers` accounts (1 on DM_PORT, 2 on DM2_PORT), `/TEST/0`,
/// the `acls`, then `extra`.
fn plan(servers: &[u16], acls: &[AclSpec<'_>], extra: Vec<Packet>) -> Vec<Packet> {
    let mut plan = vec![req(msg::DELETE, "/")];
    for (n, ssid) in servers.iter().enumerate() {
        let port = if *ssid == S1 { DM_PORT } else { DM2_PORT };
        let n = n as u16;
        plan.push(put(
            &format!("/0/{}", n + 1),
            11542,
            security_tlv(n + 1, port, *ssid),
        ));
        plan.push(put(&format!("/1/{n}"), 11542, server_tlv(n, *ssid, 300)));
    }
    plan.push(put(&format!("/{TEST}/0"), 11542, test_instance_tlv(0, 7)));
    if !acls.is_empty() {
        plan.push(put("/2", 11542, acl_tlv(acls)));
    }
    plan.extend(extra);
    plan.push(finish());
    plan
}

/// Starts `client` with a Bootstrap-Server sending `plan` and both LwM2M Servers, and waits
/// until every one of `servers` is registered.
fn run(client: Client, seed: u64, plan: Vec<Packet>, servers: &[u16]) -> Net {
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(seed ^ 1, plan)));
    net.servers
        .insert(DM_PORT, Server::Dm(FakeDm::new(seed ^ 2)));
    net.servers
        .insert(DM2_PORT, Server::Dm(FakeDm::new(seed ^ 3)));
    net.client.start(net.now);
    let want = servers.to_vec();
    assert!(
        net.run_until(20_000, |n| n.client.registered_servers() == want),
        "{:?}",
        net.events
    );
    net
}

/// A device bootstrapped by `plan(servers, acls, extra)`, every server registered.
fn device(seed: u64, servers: &[u16], acls: &[AclSpec<'_>], extra: Vec<Packet>) -> Net {
    let client = Client::new(config(seed), factory());
    run(client, seed, plan(servers, acls, extra), servers)
}

fn two_servers(seed: u64) -> Net {
    device(seed, &[S1, S2], &ACLS, vec![])
}

/// Sends one request from the server with Short Server ID `ssid`; (code, format, payload).
fn ask_as(net: &mut Net, ssid: u16, p: Packet) -> (u8, Option<u16>, Vec<u8>) {
    let port = if ssid == S1 { DM_PORT } else { DM2_PORT };
    let before = net.dm(port).answers.len();
    let now = net.now;
    net.dm(port).send(now, p);
    assert!(net.run_until(60_000, |n| n.dm(port).answers.len() > before));
    let a = net.dm(port).answers.last().unwrap().clone();
    (a.code, a.content_format, a.payload)
}

fn code_as(net: &mut Net, ssid: u16, p: Packet) -> u8 {
    ask_as(net, ssid, p).0
}

/// Asks as `ssid`, expects `code` and, when it is an error, the store left as it was.
fn expect(net: &mut Net, ssid: u16, p: Packet, code: u8) {
    let label = lwm2mc::trace::describe(&p.to_bytes().unwrap());
    let before = net.client.store().clone();
    let got = code_as(net, ssid, p);
    assert_eq!(got, code, "server {ssid}: {label}");
    if code >= 0x80 {
        assert_eq!(
            *net.client.store(),
            before,
            "server {ssid}: {label} changed the store"
        );
    }
}

fn text_put(path: &str, v: &str) -> Packet {
    put(path, 0, v.as_bytes().to_vec())
}

fn attrs(path: &str, query: &str) -> Packet {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    msg::new_request(msg::PUT, &segs, &[query])
}

fn acl_of(net: &Net, o: u16, i: u16) -> Option<(u16, Resources)> {
    net.client
        .store()
        .instances(2)?
        .iter()
        .find(|(_, r)| {
            r.get(&0) == Some(&int(i64::from(o))) && r.get(&1) == Some(&int(i64::from(i)))
        })
        .map(|(iid, r)| (*iid, r.clone()))
}

#[test]
fn write_needs_the_w_bit_and_a_refusal_changes_nothing() {
    let mut net = two_servers(1);
    // /3/0: server 2 has R only → 4.01 (Core 1.1 §7.3; FACTS §4.1 "4.01 access denied").
    expect(&mut net, S2, text_put("/3/0/13", "1000"), msg::UNAUTHORIZED);
    expect(
        &mut net,
        S2,
        text_put("/3/0/14", "+01:00"),
        msg::UNAUTHORIZED,
    );
    // The owner without an ACL entry of its own has every right.
    expect(&mut net, S1, text_put("/3/0/14", "+01:00"), msg::CHANGED);
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 14)),
        Some(&Value::String("+01:00".into()))
    );
    // Server 1's Server instance is its own: server 2 has no right at all on it.
    expect(&mut net, S2, text_put("/1/0/1", "60"), msg::UNAUTHORIZED);
    expect(&mut net, S2, text_put("/1/1/1", "120"), msg::CHANGED);
    // A partial update (POST with a payload) is a Write too.
    let body = test_instance_tlv(0, 9);
    expect(
        &mut net,
        S2,
        post(&format!("/{TEST}/0"), Some(11542), &body),
        msg::CHANGED,
    );
    expect(
        &mut net,
        S2,
        post("/1/0", Some(11542), &body),
        msg::UNAUTHORIZED,
    );
    assert!(!net.has_event(
        |e| matches!(e, Event::Written { ssid: S2, path } if *path == Path::resource(3, 0, 14))
    ));
}

#[test]
fn read_observe_and_write_attributes_need_the_r_bit_discover_none() {
    let mut net = two_servers(2);
    let (code, _, payload) = ask_as(&mut net, S2, get("/3/0/0", None));
    assert_eq!((code, payload.as_slice()), (msg::CONTENT, &b"ACME"[..]));
    expect(&mut net, S2, get("/1/0", None), msg::UNAUTHORIZED);
    expect(&mut net, S2, get("/1/0/1", None), msg::UNAUTHORIZED);
    let mut observe = get("/1/0/1", None);
    msg::set_observe(&mut observe, 0);
    expect(&mut net, S2, observe, msg::UNAUTHORIZED);
    assert!(net.client.observations().is_empty());
    // Write-Attributes: R on the instance; on the object no instance's right applies.
    expect(&mut net, S2, attrs("/3/0/9", "pmin=5"), msg::CHANGED);
    expect(&mut net, S2, attrs("/1/0/1", "pmin=5"), msg::UNAUTHORIZED);
    expect(&mut net, S2, attrs("/1", "pmin=5"), msg::CHANGED);
    // Discover needs no right (FACTS §2.3 "Minimum right … Discover none").
    let (code, cf, links) = ask_as(&mut net, S2, get("/1/0", Some(40)));
    assert_eq!((code, cf), (msg::CONTENT, Some(40)));
    assert!(String::from_utf8(links).unwrap().starts_with("</1/0>"));
}

#[test]
fn execute_needs_the_e_bit() {
    let mut net = two_servers(3);
    expect(&mut net, S2, req(msg::POST, "/3/0/4"), msg::UNAUTHORIZED);
    assert!(!net.has_event(|e| matches!(e, Event::Executed { .. })));
    // Default R|W on /TEST/0 gives no E.
    expect(
        &mut net,
        S2,
        req(msg::POST, &format!("/{TEST}/0/1")),
        msg::UNAUTHORIZED,
    );
    expect(
        &mut net,
        S1,
        req(msg::POST, &format!("/{TEST}/0/1")),
        msg::UNAUTHORIZED,
    );
    expect(&mut net, S1, req(msg::POST, "/3/0/4"), msg::CHANGED);
    assert!(net.has_event(
        |e| matches!(e, Event::Executed { ssid: S1, path, .. } if *path == Path::resource(3, 0, 4))
    ));
    // Registration Update Trigger of the other server's account: no right on /1/0.
    let updates = net.dm(DM_PORT).updates.len();
    expect(&mut net, S2, req(msg::POST, "/1/0/8"), msg::UNAUTHORIZED);
    net.run_until(5_000, |_| false);
    assert_eq!(net.dm(DM_PORT).updates.len(), updates);
}

#[test]
fn a_missing_target_is_4_04_before_any_right_is_asked() {
    let mut net = two_servers(4);
    for p in [
        get("/1/7", None),
        text_put("/1/7/1", "60"),
        req(msg::POST, "/3/1/4"),
        req(msg::DELETE, &format!("/{TEST}/9")),
        get("/99/0", None),
        req(msg::POST, "/99"),
    ] {
        expect(&mut net, S2, p, msg::NOT_FOUND);
    }
    // The Security object stays 4.01, whatever exists.
    expect(&mut net, S2, get("/0/1", None), msg::UNAUTHORIZED);
    expect(&mut net, S1, get("/0/9", None), msg::UNAUTHORIZED);
}

#[test]
fn an_object_level_read_carries_only_the_instances_the_server_may_read() {
    let mut net = two_servers(5);
    let mut shown = |ssid: u16| {
        let (code, cf, payload) = ask_as(&mut net, ssid, get("/1", Some(11542)));
        assert_eq!((code, cf), (msg::CONTENT, Some(11542)));
        let store = net.client.store().clone();
        tlv::decode(&Path::object(1), &payload, &store)
            .unwrap()
            .keys()
            .copied()
            .collect::<Vec<u16>>()
    };
    assert_eq!(shown(S1), [0]);
    assert_eq!(shown(S2), [1]);
    // Every server reads the Access Control instances (only their owner manages them).
    let (code, _, payload) = ask_as(&mut net, S2, get("/2", Some(11542)));
    assert_eq!(code, msg::CONTENT);
    let store = net.client.store().clone();
    let all = tlv::decode(&Path::object(2), &payload, &store).unwrap();
    assert_eq!(all, acl_instances(&ACLS));
}

#[test]
fn create_needs_c_in_the_object_level_acl_and_gives_the_creator_its_instance() {
    let mut net = two_servers(6);
    let body = object_tlv(&[(1, test_instance_tlv(1, 5))]);
    let create = || post(&format!("/{TEST}"), Some(11542), &body);
    expect(&mut net, S2, create(), msg::UNAUTHORIZED);
    assert_eq!(net.client.store().instance_ids(TEST), [0]);
    expect(&mut net, S1, create(), msg::CREATED);
    assert_eq!(net.client.store().instance_ids(TEST), [0, 1]);
    // FACTS §2.3: "the client creates an ACL instance owned by S with full rights for S".
    let (acl_iid, acl) = acl_of(&net, TEST, 1).expect("an ACL instance for /TEST/1");
    assert_eq!(acl_iid, 5);
    assert_eq!(acl, acl_resources(TEST, 1, &[(S1, R | W | E | 8)], S1));
    // The other server has no right on it; its creator every one.
    expect(
        &mut net,
        S2,
        get(&format!("/{TEST}/1"), None),
        msg::UNAUTHORIZED,
    );
    expect(
        &mut net,
        S2,
        text_put(&format!("/{TEST}/1/0"), "3"),
        msg::UNAUTHORIZED,
    );
    expect(
        &mut net,
        S2,
        req(msg::DELETE, &format!("/{TEST}/1")),
        msg::UNAUTHORIZED,
    );
    expect(
        &mut net,
        S1,
        req(msg::POST, &format!("/{TEST}/1/1")),
        msg::CHANGED,
    );
    // D: the default R|W on /TEST/0 lets nobody delete it.
    expect(
        &mut net,
        S1,
        req(msg::DELETE, &format!("/{TEST}/0")),
        msg::UNAUTHORIZED,
    );
    // Deleting the instance removes its ACL instance with it.
    expect(
        &mut net,
        S1,
        req(msg::DELETE, &format!("/{TEST}/1")),
        msg::DELETED,
    );
    assert!(acl_of(&net, TEST, 1).is_none());
    assert_eq!(net.client.store().instances(2), Some(&acl_instances(&ACLS)));
}

#[test]
fn access_control_instances_are_managed_by_their_owner_only() {
    let mut net = two_servers(7);
    let grant = |entries: &[(u16, i64)]| {
        let acl: Instances = [(0, acl_resources(3, 0, entries, S1))]
            .into_iter()
            .collect();
        let mut only_acl = acl.clone();
        only_acl.get_mut(&0).unwrap().retain(|r, _| *r == 2);
        put(
            "/2/0/2",
            11542,
            tlv::encode(&Path::resource(2, 0, 2), &only_acl).unwrap(),
        )
    };
    // Core 1.1 §7.3.1: only the Access Control Owner manages the instance.
    expect(&mut net, S2, grant(&[(S2, R | W)]), msg::UNAUTHORIZED);
    expect(&mut net, S2, text_put("/2/0/3", "2"), msg::UNAUTHORIZED);
    expect(
        &mut net,
        S2,
        text_put("/3/0/14", "+02:00"),
        msg::UNAUTHORIZED,
    );
    expect(&mut net, S1, grant(&[(S2, R | W)]), msg::CHANGED);
    expect(&mut net, S2, text_put("/3/0/14", "+02:00"), msg::CHANGED);
    // Owner 65535: "created and modified during a Bootstrap phase only".
    expect(&mut net, S1, text_put("/2/3/3", "1"), msg::UNAUTHORIZED);
    // ACL entries name configured servers (the bound on an ACL's size), the owner too.
    expect(&mut net, S1, grant(&[(9, R)]), msg::BAD_REQUEST);
    expect(&mut net, S1, text_put("/2/0/3", "9"), msg::BAD_REQUEST);
    // Access Control instances are the client's and the Bootstrap-Server's to make.
    let body = object_tlv(&[(9, acl_tlv_instance(9))]);
    expect(
        &mut net,
        S1,
        post("/2", Some(11542), &body),
        msg::UNAUTHORIZED,
    );
    expect(&mut net, S1, req(msg::DELETE, "/2/0"), msg::UNAUTHORIZED);
    // Handing the instance over: server 2 owns it now, and server 1 no longer manages it.
    expect(&mut net, S1, text_put("/2/0/3", "2"), msg::CHANGED);
    expect(&mut net, S1, grant(&[]), msg::UNAUTHORIZED);
}

fn acl_tlv_instance(iid: u16) -> Vec<u8> {
    let one: Instances = [(iid, acl_resources(3, 0, &[], S1))].into_iter().collect();
    tlv::encode(&Path::instance(2, iid), &one).unwrap()
}

#[test]
fn a_revoked_read_right_ends_the_observation_with_4_01() {
    let mut net = two_servers(8);
    let mut observe = get("/3/0/0", None);
    msg::set_observe(&mut observe, 0);
    let (code, ..) = ask_as(&mut net, S2, observe);
    assert_eq!(code, msg::CONTENT);
    assert_eq!(net.client.observations(), [(S2, Path::resource(3, 0, 0))]);
    // The owner takes server 2's right away; the next notification is the Read's 4.01.
    let none: Instances = [(
        0,
        [(
            2,
            ResourceValue::Multiple([(S2, Value::Integer(0))].into_iter().collect()),
        )]
        .into_iter()
        .collect(),
    )]
    .into_iter()
    .collect();
    let revoke = put(
        "/2/0/2",
        11542,
        tlv::encode(&Path::resource(2, 0, 2), &none).unwrap(),
    );
    expect(&mut net, S1, revoke, msg::CHANGED);
    let seen = net.dm(DM2_PORT).answers.len();
    net.client
        .set(&Path::resource(3, 0, 0), Value::String("Other".into()))
        .unwrap();
    assert!(net.run_until(10_000, |n| n.dm(DM2_PORT).answers.len() > seen));
    let last = net.dm(DM2_PORT).answers.last().unwrap().clone();
    assert_eq!((last.code, last.observe), (msg::UNAUTHORIZED, None));
    assert!(net.client.observations().is_empty());
    assert!(net.has_event(|e| matches!(e, Event::ObservationCancelled { ssid: S2, .. })));
}

/// FETCH on `/` naming `names` in SenML JSON (Read-Composite).
fn fetch(names: &[&str]) -> Packet {
    let mut p = msg::new_request(msg::FETCH, &[], &[]);
    msg::set_content_format(&mut p, 110);
    msg::set_accept(&mut p, 110);
    let records: Vec<String> = names.iter().map(|n| format!(r#"{{"n":"{n}"}}"#)).collect();
    p.payload = format!("[{}]", records.join(",")).into_bytes();
    p
}

#[test]
fn read_composite_refuses_a_path_the_server_may_not_read() {
    let mut net = two_servers(9);
    let (code, _, payload) = ask_as(&mut net, S2, fetch(&["/3/0/0", "/1/1/1"]));
    assert_eq!(code, msg::CONTENT);
    let text = String::from_utf8(payload).unwrap();
    assert!(text.contains("/3/0/0") && text.contains("/1/1/1"), "{text}");
    expect(
        &mut net,
        S2,
        fetch(&["/3/0/0", "/1/0/1"]),
        msg::UNAUTHORIZED,
    );
    // An object path carries what the server may read, as a Read of /O does.
    let (code, _, payload) = ask_as(&mut net, S2, fetch(&["/1"]));
    assert_eq!(code, msg::CONTENT);
    let text = String::from_utf8(payload).unwrap();
    assert!(text.contains("/1/1/") && !text.contains("/1/0/"), "{text}");
}

#[test]
fn bootstrap_writes_to_2_are_honoured_and_bootstrap_read_of_2_answers_them() {
    let net_plan = vec![get("/2", Some(11542)), get("/2/3", Some(11542))];
    let mut net = device(10, &[S1, S2], &ACLS, net_plan);
    let answers = net.bs().answers.clone();
    let reads: Vec<_> = answers
        .iter()
        .filter(|a| a.request.contains("GET /2"))
        .collect();
    assert_eq!(reads.len(), 2, "{answers:?}");
    let store = net.client.store().clone();
    assert_eq!(reads[0].code, msg::CONTENT);
    assert_eq!(
        tlv::decode(&Path::object(2), &reads[0].payload, &store).unwrap(),
        acl_instances(&ACLS)
    );
    assert_eq!(
        tlv::decode(&Path::instance(2, 3), &reads[1].payload, &store).unwrap(),
        acl_instances(&ACLS[3..4])
    );
    // The committed ACLs are the ones written, and they govern the servers.
    assert_eq!(store.instances(2), Some(&acl_instances(&ACLS)));
    expect(&mut net, S2, text_put("/3/0/14", "x"), msg::UNAUTHORIZED);
}

#[test]
fn finish_refuses_two_acl_instances_for_one_target() {
    let plan = vec![
        req(msg::DELETE, "/"),
        put("/0/1", 11542, security_tlv(1, DM_PORT, S1)),
        put("/1/0", 11542, server_tlv(0, S1, 300)),
        put(
            "/2",
            11542,
            acl_tlv(&[(0, 3, 0, &[], S1), (1, 3, 0, &[(0, R)], S1)]),
        ),
        finish(),
    ];
    let mut net = Net::new(Client::new(config(11), factory()));
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(11, plan)));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(12)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, |n| n.bs().finished()));
    let last = net.bs().answers.last().unwrap().clone();
    assert_eq!(last.code, msg::NOT_ACCEPTABLE);
    assert!(
        String::from_utf8_lossy(&last.payload)
            .contains("two Access Control instances are about /3/0"),
        "{:?}",
        String::from_utf8_lossy(&last.payload)
    );
    assert!(net.client.store().instance_ids(2).is_empty());
}

#[test]
fn a_single_server_has_full_access_whatever_the_acls_say() {
    // Core 1.1 §7.3: with one LwM2M Server account, it "MUST have full access right".
    let acls: [AclSpec<'_>; 2] = [(0, 3, 0, &[(S1, 0)], 65535), (1, TEST, 65535, &[], 65535)];
    let mut net = device(12, &[S1], &acls, vec![]);
    expect(&mut net, S1, text_put("/3/0/14", "+03:00"), msg::CHANGED);
    expect(&mut net, S1, req(msg::POST, "/3/0/4"), msg::CHANGED);
    let body = object_tlv(&[(3, test_instance_tlv(3, 1))]);
    expect(
        &mut net,
        S1,
        post(&format!("/{TEST}"), Some(11542), &body),
        msg::CREATED,
    );
    // No ACL instance is made where none is enforced.
    assert!(acl_of(&net, TEST, 3).is_none());
    expect(
        &mut net,
        S1,
        req(msg::DELETE, &format!("/{TEST}/3")),
        msg::DELETED,
    );
    expect(&mut net, S1, text_put("/2/0/3", "1"), msg::CHANGED);
}

#[test]
fn two_servers_without_any_acl_instance_both_have_full_access() {
    // FACTS §2.3: no /2 instance is the Access-Control-Disabled context (see src/access.rs
    // for why that reading is ours).
    let mut net = device(13, &[S1, S2], &[], vec![]);
    expect(&mut net, S2, text_put("/3/0/14", "+04:00"), msg::CHANGED);
    expect(&mut net, S2, text_put("/1/0/1", "90"), msg::CHANGED);
    let body = object_tlv(&[(2, test_instance_tlv(2, 1))]);
    expect(
        &mut net,
        S2,
        post(&format!("/{TEST}"), Some(11542), &body),
        msg::CREATED,
    );
    assert!(net.client.store().instance_ids(2).is_empty());
}

#[test]
fn the_acls_and_the_ones_made_for_created_instances_survive_a_restart() {
    let shared = FaultyStorage::new(usize::MAX, false);
    let client = Client::with_storage(config(14), factory(), Box::new(shared.clone()));
    let mut net = run(client, 14, plan(&[S1, S2], &ACLS, vec![]), &[S1, S2]);
    let body = object_tlv(&[(1, test_instance_tlv(1, 5))]);
    expect(
        &mut net,
        S1,
        post(&format!("/{TEST}"), Some(11542), &body),
        msg::CREATED,
    );
    let acls = net.client.store().instances(2).cloned();
    assert_eq!(acls.as_ref().map(|a| a.len()), Some(ACLS.len() + 1));
    // "Reboot": the same storage, no bootstrap; the ACLs are loaded and enforced.
    let client = Client::with_storage(config(15), factory(), Box::new(shared));
    let mut net = run(client, 15, vec![], &[S1, S2]);
    assert!(
        net.bs().requests_seen.is_empty(),
        "no bootstrap after the restart"
    );
    assert_eq!(net.client.store().instances(2).cloned(), acls);
    expect(
        &mut net,
        S2,
        get(&format!("/{TEST}/1"), None),
        msg::UNAUTHORIZED,
    );
    expect(&mut net, S1, get(&format!("/{TEST}/1"), None), msg::CONTENT);
}
