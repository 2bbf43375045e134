//! The rest of the bootstrap interface through the sans-I/O core: server-initiated bootstrap
//! (1.0 push and 1.1 `/1/x/9`), Bootstrap-Discover and -Read, the account purge, persistence
//! with crash consistency, and Bootstrap from Smartcard.

mod common;

use common::*;
use lwm2mc::coap::msg;
use lwm2mc::persist::MemoryStorage;
use lwm2mc::smartcard::{Smartcard, SmartcardWrite};
use lwm2mc::{Client, Event, Path, Store, Value};

fn codes(net: &mut Net) -> Vec<u8> {
    net.bs().answers.iter().map(|a| a.code).collect()
}

fn text(p: &[u8]) -> String {
    String::from_utf8(p.to_vec()).unwrap()
}

#[test]
fn server_initiated_bootstrap_needs_no_request() {
    // Hold-off of an hour: the client would not ask on its own within the test.
    let mut net = Net::new(Client::new(config(40), factory_bs_only(3600)));
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(9, 60))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(2)));
    net.client.start(net.now);
    let now = net.now;
    net.bs().push(now);
    assert!(net.run_until(60_000, registered), "{:?}", net.events);
    assert_eq!(
        codes(&mut net),
        [msg::DELETED, msg::CHANGED, msg::CHANGED, msg::CHANGED]
    );
    assert!(
        net.bs().requests_seen.is_empty(),
        "no Bootstrap-Request was sent"
    );
}

#[test]
fn server_initiated_bootstrap_is_ignored_before_start() {
    let mut net = Net::new(Client::new(config(41), factory_bs_only(3600)));
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(9, 60))));
    let now = net.now;
    net.bs().push(now);
    // Smartcard and factory bootstrap have not been tried: every push is ignored, unanswered.
    net.run_until(200_000, |_| false);
    assert!(net.bs().answers.is_empty());
    assert!(net.client.store().instance_ids(1).is_empty());
}

#[test]
fn execute_bootstrap_trigger_reconfigures_and_leaves_removed_servers() {
    let mut net = bootstrap_net(42, standard_plan(1, 300));
    net.servers.insert(DM2_PORT, Server::Dm(FakeDm::new(3)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    // The next session moves the device to server 2 on another port.
    net.bs().plan = vec![
        req(msg::DELETE, "/"),
        put("/0/2", 11542, security_tlv(2, DM2_PORT, 2)),
        put("/1/1", 11542, server_tlv(1, 2, 300)),
        finish(),
    ];
    let now = net.now;
    net.dm(DM_PORT).send(now, req(msg::POST, "/1/0/9"));
    assert!(
        net.run_until(60_000, |n| n.client.registered_servers() == [2]),
        "{:?}",
        net.events
    );
    assert_eq!(net.dm(DM_PORT).answers[0].code, msg::CHANGED);
    assert_eq!(
        net.bs().requests_seen,
        ["CON POST /bs?ep=sim-device", "CON POST /bs?ep=sim-device"]
    );
    // The removed server heard a De-register; the new one a Register.
    assert!(net.run_until(60_000, |n| n.dm(DM_PORT).deregisters == 1));
    assert_eq!(net.dm(DM2_PORT).registers.len(), 1);
    assert!(net.has_event(|e| *e == Event::Deregistered { ssid: 1 }));
}

#[test]
fn bootstrap_discover_in_the_1_1_form() {
    let plan = vec![
        put("/0/1", 11542, security_tlv(1, DM_PORT, 101)),
        put("/1/0", 11542, server_tlv(0, 101, 60)),
        get("/", Some(40)),
        get("/0", Some(40)),
        get("/0/1", Some(40)),
        get("/99", Some(40)),
        finish(),
    ];
    let mut net = bootstrap_net(43, plan);
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    let a = net.bs().answers.clone();
    assert_eq!((a[2].code, a[2].content_format), (msg::CONTENT, Some(40)));
    assert_eq!(
        text(&a[2].payload),
        format!("</>;lwm2m=1.1,</0>;ver=1.1,</0/0>,</0/1>;ssid=101;uri=\"{}\",</1>;ver=1.1,</1/0>;ssid=101,</2>,</3>;ver=1.1,</3/0>", uri(DM_PORT))
    );
    assert_eq!(
        text(&a[3].payload),
        format!(
            "</>;lwm2m=1.1,</0>;ver=1.1,</0/0>,</0/1>;ssid=101;uri=\"{}\"",
            uri(DM_PORT)
        )
    );
    assert_eq!(a[4].code, msg::BAD_REQUEST);
    assert_eq!(a[5].code, msg::NOT_FOUND);
}

#[test]
fn bootstrap_discover_in_the_1_0_form() {
    let mut cfg = config(44);
    cfg.version = lwm2mc::Version::V1_0;
    let mut net = Net::new(Client::new(cfg, factory_bs_only(0)));
    let plan = vec![
        put("/0/1", 11542, security_tlv(1, DM_PORT, 101)),
        get("/0", Some(40)),
        get("/1", None),
    ];
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, plan)));
    net.client.start(net.now);
    net.run_until(10_000, |n| n.bs().answers.len() == 3);
    let a = net.bs().answers.clone();
    assert_eq!(text(&a[1].payload), "lwm2m=\"1.0\",</0/0>,</0/1>;ssid=101");
    // Bootstrap-Read does not exist in 1.0.
    assert_eq!(a[2].code, msg::BAD_REQUEST);
}

#[test]
fn bootstrap_read_only_of_server_and_access_control() {
    let plan = vec![
        put("/0/1", 11542, security_tlv(1, DM_PORT, 7)),
        put("/1/0", 11542, server_tlv(0, 7, 60)),
        get("/1", Some(11542)),
        get("/1/0", Some(110)),
        get("/1/0/1", None),
        get("/0", None),
        get("/3/0", None),
        get("/2", None),
        get("/1", Some(0)),
        finish(),
    ];
    let mut net = bootstrap_net(45, plan);
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    let a = net.bs().answers.clone();
    assert_eq!(
        (a[2].code, a[2].content_format),
        (msg::CONTENT, Some(11542))
    );
    assert_eq!(a[2].payload, object_tlv(&[(0, server_tlv(0, 7, 60))]));
    assert_eq!((a[3].code, a[3].content_format), (msg::CONTENT, Some(110)));
    assert_eq!(
        text(&a[3].payload),
        r#"[{"bn":"/1/0/","n":"0","v":7},{"n":"1","v":60},{"n":"6","vb":false},{"n":"7","vs":"U"}]"#
    );
    // Anything but /1, /1/I, /2, /2/I → 4.05; an unsupported Accept → 4.06.
    assert_eq!(
        [a[4].code, a[5].code, a[6].code],
        [msg::METHOD_NOT_ALLOWED; 3]
    );
    assert_eq!((a[7].code, a[7].payload.is_empty()), (msg::CONTENT, true));
    assert_eq!(a[8].code, msg::NOT_ACCEPTABLE);
}

#[test]
fn bootstrap_account_is_purged_after_its_timeout() {
    let mut plan = standard_plan(1, 300);
    // /0/0/12 Bootstrap-Server Account Timeout = 30 s, written during the session.
    plan.insert(3, put("/0/0/12", 0, b"30".to_vec()));
    let mut net = bootstrap_net(46, plan);
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    let finished_at = net.now;
    assert!(net.run_until(100_000, |n| n
        .has_event(|e| *e == Event::BootstrapAccountPurged)));
    let (at, _) = net
        .events
        .iter()
        .find(|(_, e)| *e == Event::BootstrapAccountPurged)
        .cloned()
        .unwrap();
    assert!(
        (30_000..30_100).contains(&(at - finished_at)),
        "{}",
        at - finished_at
    );
    assert_eq!(net.client.store().instance_ids(0), [1]);
    // Without the account, a Server-Initiated Bootstrap is no longer accepted.
    let answers = net.bs().answers.len();
    let now = net.now;
    net.bs().push(now);
    net.run_until(200_000, |_| false);
    assert_eq!(net.bs().answers.len(), answers);
}

#[test]
fn a_restart_loads_the_persisted_configuration_and_registers_directly() {
    let storage = MemoryStorage::new();
    let shared = FaultyStorage {
        inner: std::sync::Arc::new(std::sync::Mutex::new(storage)),
        writes: Default::default(),
        cut_at: usize::MAX,
        half: false,
    };
    let mut net = Net::new(Client::with_storage(
        config(47),
        factory_bs_only(0),
        Box::new(shared.clone()),
    ));
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(5, 60))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(2)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));

    // "Reboot": a new client over the same storage and the same factory objects.
    let mut net2 = Net::new(Client::with_storage(
        config(48),
        factory_bs_only(0),
        Box::new(shared),
    ));
    net2.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(3, vec![])));
    net2.servers.insert(DM_PORT, Server::Dm(FakeDm::new(4)));
    net2.client.start(net2.now);
    assert!(net2.run_until(10_000, registered));
    assert!(
        net2.bs().requests_seen.is_empty(),
        "no bootstrap after the restart"
    );
    assert_eq!(
        net2.client.store().value(&Path::resource(0, 1, 10)),
        Some(&Value::Integer(5))
    );
}

#[test]
fn corrupt_storage_is_reported_and_factory_state_used() {
    let mut storage = MemoryStorage::new();
    lwm2mc::persist::Storage::store(
        &mut storage,
        "lwm2mc.a",
        b"LWMC garbage that is no snapshot",
    )
    .unwrap();
    let client = Client::with_storage(config(49), factory_bs_only(0), Box::new(storage));
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(5, 60))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(2)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    assert!(
        matches!(&net.events[0].1, Event::StorageError { reason } if reason.contains("factory state")),
        "{:?}",
        net.events
    );
}

/// Two bootstraps (configurations A then B) with a power cut at storage write k, for every k;
/// a fresh client then sees the configuration before or after the cut, never a mix or nothing.
#[test]
fn power_cut_at_every_write_of_every_commit() {
    let lifetime = |s: &Store| s.value(&Path::resource(1, 0, 1)).and_then(Value::as_i64);
    for half in [false, true] {
        for k in 0..4 {
            let storage = FaultyStorage::new(k, half);
            let mut net = Net::new(Client::with_storage(
                config(50),
                factory_bs_only(0),
                Box::new(storage.clone()),
            ));
            net.servers
                .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(5, 111))));
            net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(2)));
            net.client.start(net.now);
            net.run_until(10_000, |n| n.bs().finished());
            let after_a = lifetime(net.client.store());
            // Second configuration, B.
            net.bs().plan = standard_plan(5, 222);
            net.client.request_bootstrap(net.now);
            net.run_until(10_000, |n| n.bs().finished() && n.bs().answers.len() == 8);
            let after_b = lifetime(net.client.store());
            let finish_codes: Vec<u8> = net
                .bs()
                .answers
                .iter()
                .filter(|a| a.request.starts_with("CON POST /bs"))
                .map(|a| a.code)
                .collect();
            // A failed save is answered 5.00 and the configuration stays as it was.
            if k == 0 {
                assert_eq!(
                    (finish_codes[0], after_a),
                    (msg::INTERNAL_SERVER_ERROR, None),
                    "k={k}"
                );
                assert!(net.has_event(|e| matches!(e, Event::StorageError { .. })));
            } else {
                assert_eq!(
                    (finish_codes[0], after_a),
                    (msg::CHANGED, Some(111)),
                    "k={k}"
                );
            }
            // Reboot with the power back: whatever survived.
            let survived = MemoryStorage::clone(&storage.inner.lock().unwrap());
            let fresh = Client::with_storage(config(51), factory_bs_only(0), Box::new(survived));
            let loaded = lifetime(fresh.store());
            let allowed = match k {
                0 => vec![None],                 // cut during A's save: factory state
                1 => vec![Some(111)],            // cut during B's save: A
                _ => vec![Some(111), Some(222)], // no cut during these commits
            };
            assert!(
                allowed.contains(&loaded),
                "half={half} k={k}: loaded {loaded:?}, client had {after_b:?}"
            );
            assert_eq!(
                loaded,
                after_b.or(after_a),
                "half={half} k={k}: what the device committed is what it reloads"
            );
        }
    }
}

struct Card(std::sync::Arc<std::sync::Mutex<Option<Vec<SmartcardWrite>>>>);

impl Smartcard for Card {
    fn bootstrap_data(&mut self) -> Option<Vec<SmartcardWrite>> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn smartcard_provisions_first_and_its_removal_unprovisions() {
    let data = vec![
        SmartcardWrite {
            path: Path::instance(0, 1),
            format: lwm2mc::codec::ContentFormat::Tlv,
            payload: security_tlv(1, DM_PORT, 77),
        },
        SmartcardWrite {
            path: Path::instance(1, 0),
            format: lwm2mc::codec::ContentFormat::Tlv,
            payload: server_tlv(0, 77, 300),
        },
    ];
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(data)));
    let mut client = Client::new(config(52), factory_bs_only(0));
    client.set_smartcard(Box::new(Card(slot.clone())));
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(5, 60))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(2)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    assert!(net.has_event(|e| *e == Event::SmartcardProvisioned));
    assert_eq!(net.client.registered_servers(), [77]);
    assert!(
        net.bs().requests_seen.is_empty(),
        "smartcard first: no client-initiated bootstrap"
    );

    // The card goes away: at the next Update its account is removed and the device bootstraps.
    *slot.lock().unwrap() = None;
    assert!(
        net.run_until(400_000, |n| n.client.registered_servers() == [5]),
        "{:?}",
        net.events
    );
    assert!(net.has_event(|e| *e == Event::SmartcardRemoved));
    assert_eq!(net.bs().requests_seen.len(), 1);
    assert!(net.client.store().value(&Path::resource(0, 1, 10)) != Some(&Value::Integer(77)));
}

#[test]
fn a_dm_change_that_cannot_be_saved_is_refused_and_undone() {
    // The first save (the bootstrap commit) succeeds; storage dies after that.
    let storage = FaultyStorage::new(1, false);
    let mut net = Net::new(Client::with_storage(
        config(53),
        factory_bs_only(0),
        Box::new(storage),
    ));
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(5, 60))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(2)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    // A Write to the (persistent) Server object: 5.00, and the lifetime stays 60.
    assert_eq!(
        ask(&mut net, put("/1/0/1", 0, b"120".to_vec())).0,
        msg::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        net.client.store().value(&Path::resource(1, 0, 1)),
        Some(&Value::Integer(60))
    );
    // A Delete of it: 5.00, and the instance is back.
    assert_eq!(
        ask(&mut net, req(msg::DELETE, "/1/0")).0,
        msg::INTERNAL_SERVER_ERROR
    );
    assert_eq!(net.client.store().instance_ids(1), [0]);
    assert!(!net.has_event(|e| matches!(e, Event::Deleted { .. } | Event::Written { .. })));
    assert!(net.has_event(|e| matches!(e, Event::StorageError { .. })));
    // A change to a non-persistent object needs no save and goes through.
    assert_eq!(
        ask(&mut net, put("/3/0/14", 0, b"+01:00".to_vec())).0,
        msg::CHANGED
    );
}
