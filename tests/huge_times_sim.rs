//! Times a peer controls, at their extremes: a lifetime, an account timeout or a hold-off of
//! i64::MAX seconds must schedule nothing early and overflow nothing (deadlines saturate).
//! Before the timer table, `now + delay` wrapped: a panic with overflow checks, and in release
//! an Update storm and an immediate purge.

mod common;

use common::*;
use lwm2mc::coap::msg;
use lwm2mc::{Client, Event};

const HOUR_MS: u64 = 3_600_000;

#[test]
fn a_lifetime_of_i64_max_sends_one_update_and_then_waits() {
    let mut net = bootstrap_net(70, standard_plan(1, 300));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    // Past MAX_TRANSMIT_WAIT (93 s), where `now + (lifetime - 93 s)` used to overflow.
    net.now += 120_000;
    let now = net.now;
    net.client.handle_timeout(now);
    let written = ask(
        &mut net,
        put("/1/0/1", 0, i64::MAX.to_string().into_bytes()),
    );
    assert_eq!(written.0, msg::CHANGED);
    // The changed lifetime is sent in one Update; the next one is due "never" in practice.
    net.run_until(HOUR_MS, |_| false);
    let updates = &net.dm(DM_PORT).updates;
    assert_eq!(updates, &[vec![format!("lt={}", i64::MAX)]]);
    assert_eq!(
        net.count_events(|e| matches!(e, Event::RegistrationUpdated { .. })),
        1
    );
    assert!(net
        .client
        .poll_timeout()
        .is_none_or(|t| t > net.now + HOUR_MS));
}

#[test]
fn an_account_timeout_of_i64_max_never_purges() {
    let mut plan = standard_plan(1, 300);
    plan.insert(3, put("/0/0/12", 0, i64::MAX.to_string().into_bytes()));
    let mut net = bootstrap_net(71, plan);
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    net.run_until(HOUR_MS, |_| false);
    assert!(!net.has_event(|e| *e == Event::BootstrapAccountPurged));
    assert_eq!(net.client.store().instance_ids(0), [0, 1]);
}

#[test]
fn a_hold_off_of_i64_max_sends_no_bootstrap_request() {
    let mut net = Net::new(Client::new(config(72), factory_bs_only(i64::MAX)));
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(1, 60))));
    net.client.start(net.now);
    net.run_until(HOUR_MS, |_| false);
    assert!(net.wire.is_empty(), "sent {} datagrams", net.wire.len());
    assert!(net
        .client
        .poll_timeout()
        .is_some_and(|t| t > net.now + HOUR_MS));
}

#[test]
fn a_clock_that_goes_backwards_moves_no_deadline() {
    let mut net = bootstrap_net(73, standard_plan(1, 300));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    let next = net.client.poll_timeout();
    // The owner's clock jumps back to 0 (a careless caller, a reset counter).
    net.client.handle_timeout(0);
    assert!(net.client.poll_transmit().is_none());
    assert_eq!(net.client.poll_timeout(), next);
    // The Update comes when it was due, once.
    assert!(net.run_until(300_000, |n| !n.dm(DM_PORT).updates.is_empty()));
    assert_eq!(net.dm(DM_PORT).updates.len(), 1);
}
