//! Queue mode on the sans-I/O client (issue 13; Transport 1.1 §Queue Mode): `Q` on Register,
//! the awake window of MAX_TRANSMIT_WAIT after the last datagram, `Sleeping` and `Awake`,
//! and a notification or Send that comes due while asleep going out only after the Update
//! that wakes the client.

mod common;

use coap_lite::Packet;
use common::*;
use lwm2mc::coap::msg;
use lwm2mc::{Event, Path, Value};

/// MAX_TRANSMIT_WAIT with the RFC 7252 defaults (93 s).
const MTW: u64 = 93_000;

fn queued_device(seed: u64, version: lwm2mc::config::Version) -> Net {
    let mut cfg = config(seed);
    cfg.queue_mode = true;
    cfg.version = version;
    let mut client = lwm2mc::Client::new(cfg, factory_bs_only(0));
    client
        .set(&Path::resource(3, 0, 9), Value::Integer(50))
        .unwrap();
    let mut net = Net::new(client);
    net.servers.insert(
        BS_PORT,
        Server::Bs(FakeBs::new(seed, standard_plan(1, 3600))),
    );
    net.servers
        .insert(DM_PORT, Server::Dm(FakeDm::new(seed + 1)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    net
}

/// When the client last sent or received a datagram.
fn last_datagram(net: &Net) -> u64 {
    net.wire.last().map(|w| w.at).unwrap()
}

fn sleeping_at(net: &Net) -> Vec<u64> {
    net.events
        .iter()
        .filter(|(_, e)| *e == Event::Sleeping)
        .map(|(at, _)| *at)
        .collect()
}

/// The client's datagrams to the DM server from `from` on, described.
fn sent_since(net: &Net, from: usize) -> Vec<String> {
    net.wire[from..]
        .iter()
        .filter(|w| !w.to_client && w.port == DM_PORT)
        .map(|w| lwm2mc::trace::describe(&w.bytes))
        .collect()
}

#[test]
fn register_says_q_and_the_client_sleeps_max_transmit_wait_after_its_last_datagram() {
    let mut net = queued_device(301, lwm2mc::config::Version::V1_1);
    let q = &net.dm(DM_PORT).registers[0];
    assert!(
        q.contains(&"Q".to_string()) && q.contains(&"b=U".to_string()),
        "{q:?}"
    );
    let last = last_datagram(&net);
    assert_eq!(
        net.client.poll_timeout(),
        Some(last + MTW),
        "the window is the next deadline"
    );
    assert!(!net.client.is_sleeping());
    net.run_until(MTW + 1_000, |n| n.client.is_sleeping());
    assert_eq!(sleeping_at(&net), [last + MTW]);
    // Asleep, the next deadline is the Update's (lifetime 3600 s), not the window.
    let next = net.client.poll_timeout().unwrap();
    assert!(next > last + 3_000_000, "{next}");
}

#[test]
fn a_notification_due_while_asleep_waits_for_the_update_that_wakes_the_client() {
    let mut net = queued_device(303, lwm2mc::config::Version::V1_1);
    let now = net.now;
    let mut observe = get("/3/0/9", None);
    msg::set_observe(&mut observe, 0);
    net.dm(DM_PORT).send(now, observe);
    assert!(net.run_until(5_000, |n| !n.dm(DM_PORT).answers.is_empty()));
    assert!(net.run_until(MTW + 1_000, |n| n.client.is_sleeping()));
    let from = net.wire.len();
    let now = net.now + 10_000;
    net.now = now;
    net.client
        .set(&Path::resource(3, 0, 9), Value::Integer(42))
        .unwrap();
    net.client.handle_timeout(now);
    let arrived = net.run_until(5_000, |n| n.dm(DM_PORT).answers.len() == 2);
    assert!(arrived, "{:?} {:?}", sent_since(&net, from), net.events);
    // The Update (empty: a refresh) first, the notification only after its 2.04.
    let sent = sent_since(&net, from);
    assert!(sent[0].starts_with("CON POST /rd/1"), "{sent:?}");
    assert!(sent[1].contains("2.05"), "{sent:?}");
    assert_eq!(net.dm(DM_PORT).answers[1].payload, b"42");
    assert!(net.has_event(|e| *e == Event::Awake));
    assert_eq!(net.dm(DM_PORT).updates.len(), 1);
    // And asleep again MAX_TRANSMIT_WAIT after the notification.
    let last = last_datagram(&net);
    assert!(net.run_until(MTW + 1_000, |n| n.client.is_sleeping()));
    assert_eq!(sleeping_at(&net).last(), Some(&(last + MTW)));
}

#[test]
fn a_send_while_asleep_follows_an_update_and_lwm2m_1_0_says_uq() {
    let mut net = queued_device(305, lwm2mc::config::Version::V1_1);
    assert!(net.run_until(MTW + 1_000, |n| n.client.is_sleeping()));
    let from = net.wire.len();
    let now = net.now;
    net.client.send(now, 1, &[Path::resource(3, 0, 9)]).unwrap();
    assert!(net.run_until(5_000, |n| n
        .has_event(|e| matches!(e, Event::SendCompleted { ssid: 1 }))));
    let sent = sent_since(&net, from);
    assert!(sent[0].starts_with("CON POST /rd/1"), "{sent:?}");
    assert!(sent[1].starts_with("CON POST /dp"), "{sent:?}");

    let mut net = queued_device(307, lwm2mc::config::Version::V1_0);
    let q = net.dm(DM_PORT).registers[0].clone();
    assert!(
        q.contains(&"b=UQ".to_string()) && !q.contains(&"Q".to_string()),
        "{q:?}"
    );
}

#[test]
fn a_request_the_server_queued_wakes_the_client_and_is_answered() {
    let mut net = queued_device(309, lwm2mc::config::Version::V1_1);
    assert!(net.run_until(MTW + 1_000, |n| n.client.is_sleeping()));
    let now = net.now + 5_000;
    net.now = now;
    let read: Packet = get("/3/0/0", Some(0));
    net.dm(DM_PORT).send(now, read);
    assert!(net.run_until(5_000, |n| !n.dm(DM_PORT).answers.is_empty()));
    assert_eq!(net.dm(DM_PORT).answers[0].code, msg::CONTENT);
    assert!(!net.client.is_sleeping());
    let awake: Vec<u64> = net
        .events
        .iter()
        .filter(|(_, e)| *e == Event::Awake)
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(awake, [now]);
    let last = last_datagram(&net);
    assert!(net.run_until(MTW + 1_000, |n| n.client.is_sleeping()));
    assert_eq!(sleeping_at(&net).last(), Some(&(last + MTW)));
}
