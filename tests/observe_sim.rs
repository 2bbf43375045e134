//! Information Reporting on the sans-I/O client, time driven by hand: Observe, notifications
//! (exact times, payloads and sequence numbers), Write-Attributes and their effect, and the
//! three ways an observation ends (RFC 7641; Core 1.1 §5.5, §5.4.4).

mod common;

use common::*;
use lwm2mc::coap::msg;
use lwm2mc::object::ErrorCode;
use lwm2mc::{Event, Path, Value};

/// A device registered with the fake DM server (lifetime 300 s), battery at `battery`.
fn registered_device(seed: u64, battery: i64) -> Net {
    registered_with(seed, battery, config(seed))
}

fn registered_with(seed: u64, battery: i64, cfg: lwm2mc::Config) -> Net {
    let mut client = lwm2mc::Client::new(cfg, factory_bs_only(0));
    client
        .set(&Path::resource(3, 0, 9), Value::Integer(battery))
        .unwrap();
    let mut net = Net::new(client);
    net.servers.insert(
        BS_PORT,
        Server::Bs(FakeBs::new(seed, standard_plan(1, 300))),
    );
    net.servers
        .insert(DM_PORT, Server::Dm(FakeDm::new(seed + 1)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    net
}

/// Write-Attributes: a PUT carrying only the query `query` (`&`-separated).
fn attrs(path: &str, query: &str) -> coap_lite::Packet {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let queries: Vec<&str> = query.split('&').collect();
    msg::new_request(msg::PUT, &segs, &queries)
}

fn observe(path: &str) -> coap_lite::Packet {
    let mut p = get(path, None);
    msg::set_observe(&mut p, 0);
    p
}

/// Sends an Observe and returns its exchange (the answer is in `answers`).
fn start_observing(net: &mut Net, path: &str) -> lwm2mc::coap::ExchangeId {
    let before = net.dm(DM_PORT).answers.len();
    let now = net.now;
    let id = net.dm(DM_PORT).send(now, observe(path));
    assert!(net.run_until(5_000, |n| n.dm(DM_PORT).answers.len() > before));
    id
}

/// The notifications received so far after the first `skip` answers: (time, Observe, payload).
fn notifications(net: &mut Net, skip: usize) -> Vec<Seen> {
    net.dm(DM_PORT).answers[skip..]
        .iter()
        .map(|a| {
            let text = String::from_utf8_lossy(&a.payload).into_owned();
            (a.at, a.observe, text)
        })
        .collect()
}

fn set_battery(net: &mut Net, level: i64) {
    net.client
        .set(&Path::resource(3, 0, 9), Value::Integer(level))
        .unwrap();
}

/// Lets `ms` of simulated time pass.
fn wait(net: &mut Net, ms: u64) {
    let end = net.now + ms;
    net.run_until(ms, |n| n.now >= end);
    net.now = net.now.max(end);
}

#[test]
fn an_observed_resource_notifies_each_change_with_a_rising_sequence_number() {
    let mut net = registered_device(11, 80);
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    let first = net.dm(DM_PORT).answers[skip].clone();
    assert_eq!(
        (first.code, first.content_format, first.payload.as_slice()),
        (msg::CONTENT, Some(0), &b"80"[..])
    );
    let seq0 = first
        .observe
        .expect("the Observe response carries the Observe option");
    assert_eq!(
        net.client.observations(),
        vec![(1, Path::resource(3, 0, 9))]
    );
    assert!(net.has_event(|e| matches!(e,
        Event::ObservationStarted { ssid: 1, path } if *path == Path::resource(3, 0, 9))));

    set_battery(&mut net, 79);
    wait(&mut net, 1_000);
    set_battery(&mut net, 78);
    wait(&mut net, 1_000);
    // A set that changes nothing notifies nothing.
    set_battery(&mut net, 78);
    wait(&mut net, 1_000);
    let seen = notifications(&mut net, skip + 1);
    let payloads: Vec<(Option<u32>, &str)> =
        seen.iter().map(|(_, o, p)| (*o, p.as_str())).collect();
    assert_eq!(
        payloads,
        vec![(Some(seq0 + 1), "79"), (Some(seq0 + 2), "78")]
    );
    // Every notification keeps the format of the first answer.
    assert!(net.dm(DM_PORT).answers[skip..]
        .iter()
        .all(|a| a.content_format == Some(0)));
}

#[test]
fn pmin_holds_a_change_back_and_sends_the_latest_value_at_pmin() {
    let mut net = registered_device(13, 80);
    assert_eq!(ask(&mut net, attrs("/3/0/9", "pmin=10")).0, msg::CHANGED);
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    let t0 = net.dm(DM_PORT).answers[skip].at;
    set_battery(&mut net, 70);
    wait(&mut net, 3_000);
    set_battery(&mut net, 60);
    wait(&mut net, 12_000);
    let seen = notifications(&mut net, skip + 1);
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (at, _, payload) = &seen[0];
    assert_eq!(payload, "60", "the value current at pmin");
    assert!(
        (t0 + 10_000..t0 + 10_010).contains(at),
        "sent at {at}, pmin ends at {}",
        t0 + 10_000
    );
}

#[test]
fn pmax_sends_a_notification_without_a_change() {
    let mut net = registered_device(15, 80);
    assert_eq!(ask(&mut net, attrs("/3/0/9", "pmax=20")).0, msg::CHANGED);
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    let t0 = net.dm(DM_PORT).answers[skip].at;
    wait(&mut net, 45_000);
    let seen = notifications(&mut net, skip + 1);
    let times: Vec<u64> = seen.iter().map(|(at, ..)| at - t0).collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(times[0] >= 20_000 && times[0] < 20_010, "{times:?}");
    assert!(times[1] >= 40_000 && times[1] < 40_020, "{times:?}");
    assert!(seen.iter().all(|(_, _, p)| p == "80"));
}

#[test]
fn the_server_default_periods_apply_where_no_attribute_is_attached() {
    let mut net = registered_device(17, 80);
    // /1/0/3 Default Maximum Period.
    net.client
        .set(&Path::resource(1, 0, 3), Value::Integer(15))
        .unwrap();
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    let t0 = net.dm(DM_PORT).answers[skip].at;
    wait(&mut net, 16_000);
    let seen = notifications(&mut net, skip + 1);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!((t0 + 15_000..t0 + 15_010).contains(&seen[0].0));
}

#[test]
fn gt_and_st_follow_the_transport_worked_example() {
    // Transport 1.2: `/3/0/9?gt=45&st=10` notifies 45→50 and 38→49, not 48→42.
    let mut net = registered_device(19, 45);
    assert_eq!(
        ask(&mut net, attrs("/3/0/9", "gt=45&st=10")).0,
        msg::CHANGED
    );
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    for level in [50, 48, 42, 38, 49] {
        set_battery(&mut net, level);
        wait(&mut net, 1_000);
    }
    let seen = notifications(&mut net, skip + 1);
    let payloads: Vec<&str> = seen.iter().map(|(_, _, p)| p.as_str()).collect();
    // 50 rises above gt; 48 and 42 neither rise above 45 nor step 10 from 50; 38 steps 12
    // from 50; 49 rises above gt again.
    assert_eq!(payloads, ["50", "38", "49"]);
}

#[test]
fn invalid_attribute_sets_are_refused_and_change_nothing() {
    let mut net = registered_device(21, 80);
    for (query, code) in [
        ("/3/0/9?lt=50&gt=40", msg::BAD_REQUEST),
        ("/3/0/9?lt=10&gt=40&st=15", msg::BAD_REQUEST),
        ("/3/0?gt=5", msg::BAD_REQUEST),
        ("/3/0/0?gt=1", msg::BAD_REQUEST),
        ("/3/0/9?pmin=abc", msg::BAD_REQUEST),
        ("/3/0/9?dim=1", msg::BAD_REQUEST),
        ("/3/0/9?pmin=1&pmin=2", msg::BAD_REQUEST),
        ("/3/0/9?color=red", msg::BAD_REQUEST),
        ("/3/7?pmin=1", msg::NOT_FOUND),
        ("/0/0?pmin=1", msg::UNAUTHORIZED),
    ] {
        let (path, q) = query.split_once('?').unwrap();
        assert_eq!(ask(&mut net, attrs(path, q)).0, code, "{query}");
    }
    let discover = |net: &mut Net, path: &str| {
        let (code, cf, body) = ask(net, get(path, Some(40)));
        assert_eq!((code, cf), (msg::CONTENT, Some(40)));
        String::from_utf8(body).unwrap()
    };
    assert_eq!(discover(&mut net, "/3/0/9"), "</3/0/9>");
    // Attached per level, shown on the level they were attached to.
    assert_eq!(ask(&mut net, attrs("/3", "pmax=60")).0, msg::CHANGED);
    assert_eq!(ask(&mut net, attrs("/3/0", "pmin=5")).0, msg::CHANGED);
    assert_eq!(
        ask(&mut net, attrs("/3/0/9", "gt=50&lt=20.5&st=2")).0,
        msg::CHANGED
    );
    assert_eq!(discover(&mut net, "/3/0/9"), "</3/0/9>;gt=50;lt=20.5;st=2");
    let instance = discover(&mut net, "/3/0");
    assert!(
        instance.starts_with("</3/0>;pmin=5,</3/0/0>,"),
        "{instance}"
    );
    assert!(
        instance.contains(",</3/0/9>;gt=50;lt=20.5;st=2,"),
        "{instance}"
    );
    assert!(discover(&mut net, "/3").starts_with("</3>;ver=1.1;pmax=60,</3/0>;pmin=5,"));
    // Unset one attribute (a parameter without value): the others stay.
    assert_eq!(ask(&mut net, attrs("/3/0/9", "st")).0, msg::CHANGED);
    assert_eq!(discover(&mut net, "/3/0/9"), "</3/0/9>;gt=50;lt=20.5");
    // A refused change leaves them as they were.
    assert_eq!(ask(&mut net, attrs("/3/0/9", "lt=60")).0, msg::BAD_REQUEST);
    assert_eq!(discover(&mut net, "/3/0/9"), "</3/0/9>;gt=50;lt=20.5");
}

#[test]
fn a_get_with_observe_1_cancels_and_is_answered_as_a_read() {
    let mut net = registered_device(23, 80);
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    // The cancelling GET carries the observation's token: taken from the wire.
    let token = observation_token(&net);
    let peer = dm_peer(&net);
    let mut cancel = get("/3/0/9", None);
    msg::set_observe(&mut cancel, 1);
    cancel.set_token(token);
    cancel.header.message_id = 0x7001;
    let now = net.now;
    net.client
        .handle_datagram(now, peer, &cancel.to_bytes().unwrap());
    let reply = std::iter::from_fn(|| net.client.poll_transmit())
        .map(|t| coap_lite::Packet::from_bytes(&t.data).unwrap())
        .find(|p| p.header.message_id == 0x7001)
        .expect("answered");
    assert_eq!(
        (
            msg::code_of(&reply),
            msg::observe(&reply),
            reply.payload.as_slice()
        ),
        (msg::CONTENT, None, &b"80"[..])
    );
    assert!(net.client.observations().is_empty());
    set_battery(&mut net, 10);
    wait(&mut net, 5_000);
    assert_eq!(notifications(&mut net, skip + 1), vec![]);
    assert!(net.has_event(|e| matches!(e, Event::ObservationCancelled { ssid: 1, .. })));
}

#[test]
fn an_rst_to_a_notification_cancels_the_observation() {
    // The fake server's endpoint rejects an unexpected CON response with RST (a NON one it
    // ignores, as RFC 7641 §3.6 allows): every notification confirmable here.
    let mut cfg = config(25);
    cfg.notify_con_interval_ms = 0;
    let mut net = registered_with(25, 80, cfg);
    let id = start_observing(&mut net, "/3/0/9");
    net.dm(DM_PORT).forget(id); // the server's endpoint now answers notifications with RST
    set_battery(&mut net, 50);
    wait(&mut net, 2_000);
    assert!(net.client.observations().is_empty());
    assert!(net.has_event(|e| matches!(e, Event::ObservationCancelled { ssid: 1, .. })));
    // The RST'd notification was the last one.
    set_battery(&mut net, 40);
    wait(&mut net, 2_000);
    let rst_count = net
        .wire
        .iter()
        .filter(|w| w.to_client && w.bytes.first().is_some_and(|b| (b >> 4) & 3 == 3))
        .count();
    assert_eq!(rst_count, 1);
}

#[test]
fn an_unacknowledged_confirmable_notification_cancels_the_observation() {
    let mut cfg = config(27);
    cfg.notify_con_interval_ms = 0; // every notification confirmable
    let mut net = registered_with(27, 80, cfg);
    start_observing(&mut net, "/3/0/9");
    net.dead.push(DM_PORT);
    set_battery(&mut net, 50);
    // RFC 7252 defaults: the last retransmission times out within MAX_TRANSMIT_WAIT (93 s).
    assert!(net.run_until(100_000, |n| n.client.observations().is_empty()));
    assert!(net.has_event(|e| matches!(e, Event::ObservationCancelled { ssid: 1, .. })));
}

#[test]
fn de_registration_and_a_new_register_end_the_observations() {
    let mut net = registered_device(29, 80);
    start_observing(&mut net, "/3/0/9");
    start_observing(&mut net, "/3/0");
    assert_eq!(net.client.observations().len(), 2);
    let now = net.now;
    net.client.stop(now);
    assert!(net.run_until(10_000, |n| n.client.is_stopped()));
    assert!(net.client.observations().is_empty());
    let ended = net
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::ObservationCancelled { ssid: 1, .. }))
        .count();
    assert_eq!(ended, 2);
}

#[test]
fn an_observed_instance_that_goes_away_ends_with_its_error() {
    let mut net = registered_device(31, 80);
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    // The observed value disappears: the notification is the Read's 4.04, without Observe.
    assert!(net.client.store_mut().remove_resource(3, 0, 9));
    wait(&mut net, 1_000);
    let seen = net.dm(DM_PORT).answers[skip + 1..].to_vec();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].code, seen[0].observe), (msg::NOT_FOUND, None));
    assert!(net.client.observations().is_empty());
}

#[test]
fn an_observation_of_an_instance_notifies_when_any_of_its_resources_changes() {
    let mut net = registered_device(33, 80);
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0");
    assert_eq!(net.dm(DM_PORT).answers[skip].content_format, Some(11542));
    set_battery(&mut net, 50);
    wait(&mut net, 1_000);
    let seen = net.dm(DM_PORT).answers[skip + 1..].to_vec();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].content_format, Some(11542));
    // The TLV of /3/0 carries 9 = 50: resource TLV header 0xC1, id 9, one byte 50.
    assert!(seen[0].payload.windows(3).any(|w| w == [0xC1, 9, 50]));
}

#[test]
fn a_server_write_to_an_observed_resource_notifies() {
    let mut net = registered_device(35, 80);
    net.client
        .set(&Path::resource(3, 0, 14), Value::String("+01:00".into()))
        .unwrap();
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/14"); // UTC Offset, writable
    assert_eq!(net.dm(DM_PORT).answers[skip].payload, b"+01:00");
    let now = net.now;
    net.dm(DM_PORT)
        .send(now, put("/3/0/14", 0, b"+02:00".to_vec()));
    wait(&mut net, 1_000);
    let seen: Vec<(u8, bool, Vec<u8>)> = net.dm(DM_PORT).answers[skip + 1..]
        .iter()
        .map(|a| (a.code, a.observe.is_some(), a.payload.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (msg::CHANGED, false, vec![]),
            (msg::CONTENT, true, b"+02:00".to_vec())
        ]
    );
}

#[test]
fn an_observe_beyond_the_limit_is_answered_as_a_plain_read() {
    let mut cfg = config(37);
    cfg.limits.max_observations = 1;
    let mut net = registered_with(37, 80, cfg);
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    start_observing(&mut net, "/3/0/1");
    let answers = net.dm(DM_PORT).answers[skip..].to_vec();
    assert!(answers[0].observe.is_some());
    assert_eq!((answers[1].code, answers[1].observe), (msg::CONTENT, None));
    assert_eq!(net.client.observations().len(), 1);
}

fn dm_peer(net: &Net) -> lwm2mc::PeerId {
    net.client
        .peers()
        .find(|(_, i)| i.uri.port == DM_PORT)
        .map(|(p, _)| p)
        .unwrap()
}

/// The token of the client's last answer carrying an Observe option.
fn observation_token(net: &Net) -> Vec<u8> {
    net.wire
        .iter()
        .rev()
        .filter(|w| !w.to_client && w.port == DM_PORT)
        .filter_map(|w| coap_lite::Packet::from_bytes(&w.bytes).ok())
        .find(|p| msg::observe(p).is_some())
        .map(|p| p.get_token().to_vec())
        .unwrap()
}

#[test]
fn send_pushes_a_senml_pack_of_the_values_and_reports_the_answer() {
    let mut net = registered_device(41, 77);
    let now = net.now;
    let paths = [Path::resource(3, 0, 9), Path::resource(1, 0, 1)];
    net.client.send(now, 1, &paths).unwrap();
    assert!(net.run_until(5_000, |n| n
        .has_event(|e| matches!(e, Event::SendCompleted { ssid: 1 }))));
    let (cf, payload) = net.dm(DM_PORT).sends[0].clone();
    assert_eq!(cf, Some(110));
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        r#"[{"n":"/3/0/9","v":77},{"n":"/1/0/1","v":300}]"#
    );

    // A refusal by the server is reported with its code.
    net.dm(DM_PORT).send_answer = msg::BAD_REQUEST;
    let now = net.now;
    net.client.send(now, 1, &paths[..1]).unwrap();
    assert!(net.run_until(5_000, |n| n.has_event(|e| matches!(e,
        Event::SendRejected { ssid: 1, reason } if reason.contains("4.00")))));
}

#[test]
fn send_refuses_what_it_cannot_send_and_sends_nothing() {
    use lwm2mc::client::SendError;
    let mut net = registered_device(43, 77);
    let now = net.now;
    let sent = net.wire.len();
    assert_eq!(
        net.client.send(now, 9, &[Path::resource(3, 0, 9)]),
        Err(SendError::NotRegistered(9))
    );
    assert_eq!(net.client.send(now, 1, &[]), Err(SendError::Empty));
    assert!(matches!(
        net.client.send(now, 1, &[Path::resource(3, 0, 4)]),
        Err(SendError::Unreadable { .. })
    ));
    assert!(matches!(
        net.client.send(now, 1, &[Path::instance(0, 0)]),
        Err(SendError::Unreadable { .. })
    ));
    // Core 1.1 §E.2 /1/x/23 Mute Send.
    net.client
        .set(&Path::resource(1, 0, 23), Value::Boolean(true))
        .unwrap();
    assert_eq!(
        net.client.send(now, 1, &[Path::resource(3, 0, 9)]),
        Err(SendError::Muted(1))
    );
    wait(&mut net, 1_000);
    assert!(net.dm(DM_PORT).sends.is_empty());
    assert!(net.wire[sent..]
        .iter()
        .all(|w| w.to_client || !w.bytes.windows(2).any(|x| x == b"dp")));
}

/// FETCH on `/` naming `names` in SenML JSON, answered in SenML JSON (Read-Composite).
fn fetch(names: &[&str], observe: Option<u32>) -> coap_lite::Packet {
    let mut p = msg::new_request(msg::FETCH, &[], &[]);
    msg::set_content_format(&mut p, 110);
    msg::set_accept(&mut p, 110);
    if let Some(o) = observe {
        msg::set_observe(&mut p, o);
    }
    let records: Vec<String> = names.iter().map(|n| format!(r#"{{"n":"{n}"}}"#)).collect();
    p.payload = format!("[{}]", records.join(",")).into_bytes();
    p
}

#[test]
fn read_composite_answers_the_named_paths_in_one_pack_and_leaves_out_what_is_absent() {
    let mut net = registered_device(45, 64);
    let (code, cf, body) = ask(
        &mut net,
        fetch(&["/3/0/9", "/1/0/1", "/3/0/9999", "/3/0/4"], None),
    );
    assert_eq!((code, cf), (msg::CONTENT, Some(110)));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"[{"n":"/3/0/9","v":64},{"n":"/1/0/1","v":300}]"#
    );
    // A Security path refuses it whole; a list that is not SenML, or no list, is refused.
    assert_eq!(
        ask(&mut net, fetch(&["/3/0/9", "/0/0"], None)).0,
        msg::UNAUTHORIZED
    );
    assert_eq!(ask(&mut net, fetch(&[], None)).0, msg::BAD_REQUEST);
    let mut tlv = fetch(&["/3/0/9"], None);
    msg::set_content_format(&mut tlv, 11542);
    assert_eq!(ask(&mut net, tlv).0, msg::UNSUPPORTED_CONTENT_FORMAT);
    let mut text = fetch(&["/3/0/9"], None);
    msg::set_accept(&mut text, 0);
    assert_eq!(ask(&mut net, text).0, msg::NOT_ACCEPTABLE);
}

#[test]
fn observe_composite_notifies_when_any_named_path_changes() {
    let mut net = registered_device(47, 64);
    let skip = net.dm(DM_PORT).answers.len();
    let now = net.now;
    net.dm(DM_PORT)
        .send(now, fetch(&["/3/0/9", "/1/0/1"], Some(0)));
    assert!(net.run_until(5_000, |n| n.dm(DM_PORT).answers.len() > skip));
    let first = net.dm(DM_PORT).answers[skip].clone();
    assert_eq!(
        (first.code, first.content_format),
        (msg::CONTENT, Some(110))
    );
    assert!(first.observe.is_some());
    assert_eq!(net.client.observations(), vec![(1, Path::ROOT)]);
    set_battery(&mut net, 63);
    wait(&mut net, 1_000);
    net.client
        .set(
            &Path::resource(3, 0, 1),
            Value::String("other model".into()),
        )
        .unwrap(); // not observed: nothing
    wait(&mut net, 1_000);
    let seen = notifications(&mut net, skip + 1);
    let payloads: Vec<&str> = seen.iter().map(|(_, _, p)| p.as_str()).collect();
    assert_eq!(
        payloads,
        [r#"[{"n":"/3/0/9","v":63},{"n":"/1/0/1","v":300}]"#]
    );
}

#[test]
fn pmin_attached_to_the_instance_governs_an_observation_of_its_resource() {
    // Core 1.2 attribute rules: an OI-level attribute applies to every resource of the
    // instance unless the resource level sets its own.
    let mut net = registered_device(49, 80);
    assert_eq!(ask(&mut net, attrs("/3/0", "pmin=5")).0, msg::CHANGED);
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/9");
    let t0 = net.dm(DM_PORT).answers[skip].at;
    set_battery(&mut net, 70);
    wait(&mut net, 7_000);
    let seen = notifications(&mut net, skip + 1);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        (t0 + 5_000..t0 + 5_010).contains(&seen[0].0),
        "{seen:?} from {t0}"
    );
    // The resource level prevails: pmin=0 there lets the next change out at once.
    assert_eq!(ask(&mut net, attrs("/3/0/9", "pmin=0")).0, msg::CHANGED);
    let before = net.dm(DM_PORT).answers.len();
    set_battery(&mut net, 69);
    let at = net.now;
    wait(&mut net, 500);
    let next = net.dm(DM_PORT).answers[before..]
        .iter()
        .find(|a| a.observe.is_some())
        .cloned()
        .expect("a notification");
    assert_eq!(next.payload, b"69");
    assert!(
        next.at < at + 50,
        "sent at {} after the change at {at}",
        next.at
    );
}

/// A sensor the application holds, whose value changes without the application saying so.
struct Unreported(std::sync::Arc<std::sync::Mutex<f64>>);

impl lwm2mc::object::ObjectHandler for Unreported {
    fn instances(&mut self) -> Result<Vec<u16>, ErrorCode> {
        Ok(vec![0])
    }
    fn read(&mut self, _iid: u16, rid: u16) -> Result<lwm2mc::ResourceValue, ErrorCode> {
        match rid {
            5700 => Ok(lwm2mc::ResourceValue::Single(Value::Float(
                *self.0.lock().unwrap(),
            ))),
            _ => Err(ErrorCode::NotFound),
        }
    }
    fn write(&mut self, _: u16, _: u16, _: &lwm2mc::ResourceValue) -> Result<(), ErrorCode> {
        Err(ErrorCode::MethodNotAllowed)
    }
    fn execute(&mut self, _: u16, _: u16, _: &[u8]) -> Result<(), ErrorCode> {
        Err(ErrorCode::MethodNotAllowed)
    }
}

#[test]
fn epmax_evaluates_an_application_value_nobody_reported_and_gt_fires_on_it() {
    use lwm2mc::model::{ObjectDef, Operations, ResourceDef};
    let sensor = std::sync::Arc::new(std::sync::Mutex::new(20.0));
    let mut store = factory_bs_only(0);
    store.define(
        ObjectDef {
            id: 3303,
            name: "Temperature".into(),
            version: "1.0".into(),
            multiple: true,
            mandatory: false,
            resources: std::borrow::Cow::Owned(vec![ResourceDef::new(
                5700,
                "Sensor Value",
                lwm2mc::ResourceType::Float,
                Operations::R,
                false,
                true,
            )]),
        },
        false,
    );
    let mut client = lwm2mc::Client::new(config(51), store);
    client
        .set_handler(3303, Box::new(Unreported(sensor.clone())))
        .unwrap();
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(51, standard_plan(1, 300))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(52)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    assert_eq!(
        ask(&mut net, attrs("/3303/0/5700", "gt=30&epmax=2")).0,
        msg::CHANGED
    );
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3303/0/5700");
    let t0 = net.dm(DM_PORT).answers[skip].at;
    *sensor.lock().unwrap() = 25.0; // below gt: evaluated, not notified
    wait(&mut net, 2_500);
    *sensor.lock().unwrap() = 35.5; // rises above gt: notified at the next evaluation
    wait(&mut net, 2_000);
    let seen = notifications(&mut net, skip + 1);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].2, "35.5");
    assert!(
        (t0 + 4_000..t0 + 4_010).contains(&seen[0].0),
        "{seen:?} from {t0}"
    );
}

/// A notification as the server saw it: (time, Observe, payload).
type Seen = (u64, Option<u32>, String);

/// Offline for three changes a second apart, then back: what the server gets afterwards, and
/// its Update count before and after.
fn offline_changes(net: &mut Net) -> (Vec<Seen>, usize, usize) {
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(net, "/3/0/9");
    let seq0 = net.dm(DM_PORT).answers[skip].observe.unwrap();
    let updates = net.dm(DM_PORT).updates.len();
    let now = net.now;
    net.client.set_offline(now, true);
    for level in [70, 60, 50] {
        set_battery(net, level);
        wait(net, 1_000);
    }
    // Longer than the registration's Update delay: nothing at all goes out while offline.
    let wire = net.wire.len();
    wait(net, 250_000);
    assert!(
        net.wire[wire..].iter().all(|w| w.to_client),
        "sent while offline"
    );
    assert_eq!(net.dm(DM_PORT).updates.len(), updates);
    let now = net.now;
    net.client.set_offline(now, false);
    wait(net, 2_000);
    let seen = notifications(net, skip + 1)
        .into_iter()
        .map(|(at, o, p)| (at, o.map(|o| o - seq0), p))
        .collect();
    (seen, updates, net.dm(DM_PORT).updates.len())
}

#[test]
fn notifications_made_offline_are_stored_and_sent_in_order_after_the_update() {
    let mut net = registered_device(53, 80);
    // The bootstrap plan wrote /1/0/6 = false (as the TS vector does); the server wants them.
    net.client
        .set(&Path::resource(1, 0, 6), Value::Boolean(true))
        .unwrap();
    let (seen, before, after) = offline_changes(&mut net);
    assert_eq!(after, before + 1, "back online, an Update first");
    let payloads: Vec<(Option<u32>, &str)> =
        seen.iter().map(|(_, o, p)| (*o, p.as_str())).collect();
    assert_eq!(
        payloads,
        [(Some(1), "70"), (Some(2), "60"), (Some(3), "50")]
    );
}

#[test]
fn without_notification_storing_only_the_latest_is_sent_after_the_update() {
    let mut net = registered_device(55, 80);
    // Core 1.1 §E.2 /1/x/6 Notification Storing When Disabled or Offline.
    net.client
        .set(&Path::resource(1, 0, 6), Value::Boolean(false))
        .unwrap();
    let (seen, before, after) = offline_changes(&mut net);
    assert_eq!(after, before + 1);
    let payloads: Vec<(Option<u32>, &str)> =
        seen.iter().map(|(_, o, p)| (*o, p.as_str())).collect();
    assert_eq!(payloads, [(Some(1), "50")]);
}

#[test]
fn observe_works_on_an_object_and_on_a_resource_instance() {
    let mut net = registered_device(57, 80);
    // /3/0/7/0: Power Source Voltage, instance 0 (a multiple resource).
    net.client
        .set(&Path::resource_instance(3, 0, 7, 0), Value::Integer(3800))
        .unwrap();
    let skip = net.dm(DM_PORT).answers.len();
    start_observing(&mut net, "/3/0/7/0");
    start_observing(&mut net, "/3");
    let first: Vec<(u8, Option<u16>, bool)> = net.dm(DM_PORT).answers[skip..]
        .iter()
        .map(|a| (a.code, a.content_format, a.observe.is_some()))
        .collect();
    assert_eq!(
        first,
        [
            (msg::CONTENT, Some(0), true),
            (msg::CONTENT, Some(11542), true)
        ]
    );
    net.client
        .set(&Path::resource_instance(3, 0, 7, 0), Value::Integer(3700))
        .unwrap();
    wait(&mut net, 1_000);
    let next: Vec<(Option<u16>, Vec<u8>)> = net.dm(DM_PORT).answers[skip + 2..]
        .iter()
        .map(|a| (a.content_format, a.payload.clone()))
        .collect();
    assert_eq!(next.len(), 2, "one notification each: {next:?}");
    assert!(next.contains(&(Some(0), b"3700".to_vec())));
    // The object's TLV carries 7/0 = 3700 (0x0E74): resource-instance entry 0x42 0x00 0x0E 0x74.
    assert!(next
        .iter()
        .any(|(cf, p)| *cf == Some(11542) && p.windows(4).any(|w| w == [0x42, 0x00, 0x0E, 0x74])));
}

#[test]
fn a_new_register_ends_the_observations_of_the_old_registration() {
    let mut net = registered_device(59, 80);
    start_observing(&mut net, "/3/0/9");
    // The server lost the registration: the Update gets 4.04 and the device registers anew
    // (Core 1.1 §5.3.2); the server observes again after a Register (Core 1.1 §5.5).
    net.dm(DM_PORT).forgotten = true;
    let registers = net.dm(DM_PORT).registers.len();
    let now = net.now;
    net.client.set_offline(now, true);
    net.client.set_offline(now, false); // sends an Update now
    assert!(net.run_until(60_000, |n| n.dm(DM_PORT).registers.len() > registers));
    wait(&mut net, 1_000);
    assert!(net.client.observations().is_empty());
    assert!(net.has_event(|e| matches!(e, Event::ObservationCancelled { ssid: 1, .. })));
}

#[test]
fn a_confirmable_notification_goes_out_once_per_interval_the_rest_non() {
    let mut cfg = config(61);
    cfg.notify_con_interval_ms = 5_000;
    let mut net = registered_with(61, 80, cfg);
    start_observing(&mut net, "/3/0/9");
    let wire = net.wire.len();
    for (i, level) in [79, 78, 77, 76, 75, 74, 73, 72].into_iter().enumerate() {
        set_battery(&mut net, level);
        wait(&mut net, 1_000 + 10 * i as u64);
    }
    // Type bits of the client's 2.05 notifications: CON (0) or NON (1), in order.
    let types: Vec<u8> = net.wire[wire..]
        .iter()
        .filter(|w| !w.to_client && w.bytes.get(1) == Some(&msg::CONTENT))
        .map(|w| (w.bytes[0] >> 4) & 3)
        .collect();
    // Sent at about 0, 1.0, 2.0, 3.0, 4.1, 5.1, 6.2 and 7.2 s after the Observe answer, which
    // counts as contact: NON until 5 s have passed, then one CON, then NON again.
    assert_eq!(types, [1, 1, 1, 1, 1, 0, 1, 1], "{types:?}");
}

#[test]
fn a_fetch_with_observe_1_cancels_an_observe_composite() {
    let mut net = registered_device(63, 64);
    let skip = net.dm(DM_PORT).answers.len();
    let now = net.now;
    net.dm(DM_PORT).send(now, fetch(&["/3/0/9"], Some(0)));
    assert!(net.run_until(5_000, |n| n.dm(DM_PORT).answers.len() > skip));
    assert_eq!(net.client.observations().len(), 1);
    let token = observation_token(&net);
    let peer = dm_peer(&net);
    let mut cancel = fetch(&["/3/0/9"], Some(1));
    cancel.set_token(token);
    cancel.header.message_id = 0x7002;
    let now = net.now;
    net.client
        .handle_datagram(now, peer, &cancel.to_bytes().unwrap());
    let reply = std::iter::from_fn(|| net.client.poll_transmit())
        .map(|t| coap_lite::Packet::from_bytes(&t.data).unwrap())
        .find(|p| p.header.message_id == 0x7002)
        .expect("answered");
    assert_eq!(
        (msg::code_of(&reply), msg::observe(&reply)),
        (msg::CONTENT, None)
    );
    assert!(net.client.observations().is_empty());
}
