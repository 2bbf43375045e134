//! Bootstrap, registration and Execute over a seeded lossy network: 30 % of datagrams dropped in
//! each direction, 10 % duplicated, every copy delayed 0..3 s (so duplicates and
//! retransmissions arrive late). Time is driven by hand: 200 seeds run in about a second.

mod common;

use common::*;
use lwm2mc::coap::msg;
use lwm2mc::{Event, Path, Value};

/// A plan in which a late duplicate would be visible: if the retransmitted `DELETE /1/0` or the
/// first `PUT /1/0` (lifetime 111) were applied again after the second `PUT /1/0`, Finish would
/// fail or the registration would carry lt=111.
fn tell_tale_plan() -> Vec<coap_lite::Packet> {
    vec![
        req(msg::DELETE, "/"),
        put("/0/1", 11542, security_tlv(1, DM_PORT, 123)),
        put("/1/0", 11542, server_tlv(0, 123, 111)),
        req(msg::DELETE, "/1/0"),
        put("/1/0", 11542, server_tlv(0, 123, 300)),
        finish(),
    ]
}

fn run_seed(seed: u64) {
    let mut net = bootstrap_net(seed, tell_tale_plan()).with_loss(seed, 30, 10);
    net.delay_max = 3_000;
    net.client.start(net.now);
    // Generous simulated time: failed sessions are retried with back-off.
    let ok = net.run_until(6 * 3_600_000, |n| n.client.registered_servers() == [123]);
    assert!(ok, "seed {seed}: not registered; events {:?}", net.events);
    if std::env::var("LOSSY_STATS").is_ok() {
        let fails = net.count_events(|e| matches!(e, Event::BootstrapFailed { .. }));
        eprintln!(
            "seed {seed}: {} datagrams, {fails} failed bootstrap sessions, t={} s",
            net.wire.len(),
            net.now / 1000
        );
    }

    // No late duplicate was applied: every Finish that got an answer got 2.04, and the
    // committed and registered lifetime is the last one written.
    let finishes: Vec<u8> = net
        .bs()
        .answers
        .iter()
        .filter(|a| a.request.starts_with("CON POST /bs"))
        .map(|a| a.code)
        .collect();
    assert!(
        finishes.iter().all(|c| *c == msg::CHANGED),
        "seed {seed}: Finish answers {finishes:?}"
    );
    assert_eq!(
        net.client.store().value(&Path::resource(1, 0, 1)),
        Some(&Value::Integer(300)),
        "seed {seed}"
    );
    let lts: Vec<String> = net
        .dm(DM_PORT)
        .registers
        .iter()
        .map(|q| q[1].clone())
        .collect();
    assert!(lts.iter().all(|lt| lt == "lt=300"), "seed {seed}: {lts:?}");

    // One Execute from the server: applied at most once, exactly once if the server heard back.
    let now = net.now;
    net.dm(DM_PORT).send(now, req(msg::POST, "/3/0/4"));
    net.run_until(300_000, |n| !n.dm(DM_PORT).answers.is_empty());
    net.run_until(300_000, |_| false); // let every late copy land
    let executed = net.count_events(|e| matches!(e, Event::Executed { .. }));
    let answered = net
        .dm(DM_PORT)
        .answers
        .iter()
        .any(|a| a.code == msg::CHANGED);
    assert!(executed <= 1, "seed {seed}: executed {executed} times");
    if answered {
        assert_eq!(executed, 1, "seed {seed}");
    }
}

#[test]
fn two_hundred_lossy_seeds() {
    for seed in 0..200 {
        run_seed(seed);
    }
}

/// `poll_transmit_into` into one reused buffer sends exactly what `poll_transmit` sends: the
/// same datagrams, byte for byte, at the same times, in both directions, over a lossy network
/// with duplicates and late copies (so retransmissions, replayed duplicate answers, empty ACKs
/// and RSTs all go through the outbox while other datagrams wait in it).
#[test]
fn a_reused_send_buffer_sends_what_poll_transmit_sends() {
    for seed in 0..40 {
        let wire = |reuse: bool| {
            let mut net = bootstrap_net(seed, tell_tale_plan()).with_loss(seed, 30, 10);
            net.delay_max = 3_000;
            net.reuse_buffer = reuse;
            net.client.start(net.now);
            assert!(net.run_until(6 * 3_600_000, |n| n.client.registered_servers() == [123]));
            let now = net.now;
            net.dm(DM_PORT).send(now, get("/3/0", Some(11542)));
            net.dm(DM_PORT).send(now, req(msg::POST, "/3/0/4"));
            net.run_until(300_000, |_| false);
            net.wire
                .iter()
                .map(|w| (w.at, w.to_client, w.port, w.bytes.clone()))
                .collect::<Vec<_>>()
        };
        let (taken, reused) = (wire(false), wire(true));
        assert!(taken.len() > 12, "seed {seed}: {} datagrams", taken.len());
        assert_eq!(taken, reused, "seed {seed}");
    }
}
