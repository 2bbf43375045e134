//! Several LwM2M Servers on the sans-I/O client (issue 13): each registration its own, one
//! server's failure leaving the others alone, the 1.1 registration procedure resources
//! (`/1/x/13` to `/1/x/20`) and Disable (`/1/x/4`, `/1/x/5`), with the servers' plans written
//! by a Bootstrap-Server as a real one would.

mod common;

use common::*;
use lwm2mc::coap::msg;
use lwm2mc::{Event, Value};

/// A device bootstrapped with server 1 on DM_PORT and server 2 on DM2_PORT, each Server
/// instance with the extra resources given.
fn two_servers(seed: u64, one: &[(u16, Value)], two: &[(u16, Value)]) -> Net {
    let plan = vec![
        req(msg::DELETE, "/"),
        put("/0/1", 11542, security_tlv(1, DM_PORT, 1)),
        put("/0/2", 11542, security_tlv(2, DM2_PORT, 2)),
        put("/1/0", 11542, server_tlv_with(0, 1, 120, one)),
        put("/1/1", 11542, server_tlv_with(1, 2, 120, two)),
        finish(),
    ];
    let mut net = bootstrap_net(seed, plan);
    net.servers
        .insert(DM2_PORT, Server::Dm(FakeDm::new(seed + 7)));
    net
}

fn registered_with(net: &Net, ssid: u16) -> bool {
    net.client.registered_servers().contains(&ssid)
}

#[test]
fn a_dead_server_fails_alone_while_the_other_registers_updates_and_is_served() {
    let mut net = two_servers(201, &[], &[]);
    net.dead.push(DM2_PORT);
    net.client.start(net.now);
    assert!(net.run_until(10_000, |n| registered_with(n, 1)));
    // Ten minutes: server 1's registration is kept alive by Updates (lifetime 120 s), while
    // server 2's Register times out and is retried.
    net.run_until(600_000, |_| false);
    assert_eq!(net.dm(DM_PORT).registers.len(), 1, "never registered again");
    assert!(
        net.dm(DM_PORT).updates.len() >= 5,
        "{}",
        net.dm(DM_PORT).updates.len()
    );
    assert!(net.count_events(|e| matches!(e, Event::RegistrationFailed { ssid: 2, .. })) >= 2);
    assert_eq!(net.client.registered_servers(), [1]);
    let (code, _, body) = ask(&mut net, get("/3/0/0", Some(0)));
    assert_eq!((code, body.as_slice()), (msg::CONTENT, &b"ACME"[..]));
    assert!(!net.has_event(|e| matches!(e, Event::RegistrationFailed { ssid: 1, .. })));
}

#[test]
fn the_priority_order_registers_server_2_first_and_server_1_after_its_initial_delay() {
    let mut net = two_servers(
        203,
        &[(13, Value::Unsigned(5)), (14, Value::Unsigned(30))],
        &[(13, Value::Unsigned(1))],
    );
    net.client.start(net.now);
    assert!(net.run_until(10_000, |n| registered_with(n, 2)));
    let registered_2 = net.now;
    assert!(net.dm(DM_PORT).registers.is_empty(), "1 waits for its turn");
    assert!(net.run_until(60_000, |n| registered_with(n, 1)));
    // XML /1/x/14: 30 s after server 2's registration completed.
    let register_1 = net
        .wire
        .iter()
        .find(|w| !w.to_client && w.port == DM_PORT)
        .map(|w| w.at)
        .unwrap();
    assert!(
        register_1 >= registered_2 + 30_000,
        "{register_1} vs {registered_2}"
    );
    assert!(register_1 <= registered_2 + 31_000);
}

#[test]
fn a_blocking_failure_keeps_the_next_server_from_registering() {
    let mut net = two_servers(
        205,
        &[(13, Value::Unsigned(2))],
        &[
            (13, Value::Unsigned(1)),
            (15, Value::Boolean(true)),
            (16, Value::Boolean(false)),
            (17, Value::Unsigned(2)),
            (18, Value::Unsigned(5)),
        ],
    );
    net.dm(DM2_PORT).refuse_register = Some(msg::FORBIDDEN);
    net.client.start(net.now);
    net.run_until(300_000, |_| false);
    // Two attempts 5 s apart (XML /1/x/17, /1/x/18), then failed; XML /1/x/15 blocks server
    // 1 and /1/x/16 false means no bootstrap.
    assert_eq!(
        net.count_events(|e| matches!(e, Event::RegistrationFailed { ssid: 2, .. })),
        2
    );
    assert!(net.dm(DM_PORT).registers.is_empty());
    assert_eq!(net.bs().requests_seen.len(), 1, "no second bootstrap");
}

#[test]
fn disable_deregisters_for_the_disable_timeout_then_registers_again() {
    let mut net = two_servers(207, &[(5, Value::Integer(300))], &[]);
    net.client.start(net.now);
    assert!(net.run_until(10_000, |n| registered_with(n, 1) && registered_with(n, 2)));
    let (code, _, _) = ask(&mut net, post("/1/0/4", None, b""));
    // XML /1/x/4: the response first, then the De-register.
    assert_eq!(code, msg::CHANGED);
    assert!(net.run_until(10_000, |n| n.dm(DM_PORT).deregisters == 1));
    let disabled_at = net.now;
    assert_eq!(net.client.registered_servers(), [2]);
    // Meanwhile server 1's requests are ignored.
    let now = net.now;
    net.dm(DM_PORT).send(now, get("/3/0/0", Some(0)));
    net.run_until(200_000, |_| false);
    assert!(
        net.dm(DM_PORT).answers.len() == 1,
        "only the Execute was answered"
    );
    assert_eq!(net.dm(DM_PORT).registers.len(), 1);
    // XML /1/x/5: 300 s later it registers again.
    assert!(net.run_until(200_000, |n| n.dm(DM_PORT).registers.len() == 2));
    assert!(
        net.now >= disabled_at + 300_000,
        "{} {}",
        net.now,
        disabled_at
    );
    assert!(registered_with(&net, 2) && net.run_until(10_000, |n| registered_with(n, 1)));
}
