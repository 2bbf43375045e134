//! Over real UDP on 127.0.0.1 with the testkit servers: the demo flow, loss and
//! retransmission, failure and back-off, duplicates, and peers that must not be obeyed.

use std::net::UdpSocket;
use std::time::Duration;

use lwm2mc::accounts::factory;
use lwm2mc::coap::{msg, TransmissionParams};
use lwm2mc::config::Backoff;
use lwm2mc::testkit::{request, BootstrapConfig, BootstrapServer, DeviceThread, Lwm2mServer};
use lwm2mc::{Client, Config, Event, Path, Store, Value};

const T: Duration = Duration::from_secs(10);
const EP: &str = "udp-device";

/// Fast CoAP timers (ACK_TIMEOUT 100 ms) so that loss costs milliseconds, not seconds.
fn config() -> Config {
    let mut c = Config::new(EP);
    c.seed = 7;
    c.transmission = TransmissionParams {
        ack_timeout_ms: 100,
        ..TransmissionParams::default()
    };
    c.bootstrap_retry = Backoff {
        base_ms: 300,
        max_ms: 2_000,
        attempts: 0,
    };
    c
}

fn factory_state(bs_uri: &str) -> Store {
    let mut s = Store::with_standard_objects();
    factory::add_bootstrap_account(&mut s, bs_uri, 0).unwrap();
    factory::add_device(&mut s, "ACME", "UDP-1", "0042").unwrap();
    s
}

fn bootstrapped_device(dm: &Lwm2mServer) -> (BootstrapServer, DeviceThread) {
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .unwrap();
    let device =
        DeviceThread::start(Client::new(config(), factory_state(&bs.uri())), None).unwrap();
    device
        .wait_event(
            T,
            |e| matches!(e, Event::Registered { ssid: 1, .. }),
            |_| {},
        )
        .unwrap();
    dm.wait_registration(EP, T).unwrap();
    (bs, device)
}

#[test]
fn whole_flow_over_udp() {
    let dm = Lwm2mServer::start().unwrap();
    let (bs, device) = bootstrapped_device(&dm);
    let session = bs.wait_session(T).unwrap();
    assert_eq!(session.endpoint.as_deref(), Some(EP));
    assert!(session.finished(), "{session:?}");
    let codes: Vec<u8> = session.steps.iter().map(|(_, r)| r.code).collect();
    assert_eq!(
        codes,
        [msg::DELETED, msg::CHANGED, msg::CHANGED, msg::CHANGED]
    );

    let r = dm.read(EP, "/3/0/0", None).unwrap();
    assert_eq!(
        (r.code, r.content_format, r.payload.as_slice()),
        (msg::CONTENT, Some(0), &b"ACME"[..])
    );
    assert_eq!(
        dm.write(EP, "/3/0/15", 0, b"Europe/Berlin".to_vec())
            .unwrap()
            .code,
        msg::CHANGED
    );
    assert_eq!(dm.execute(EP, "/3/0/4", None).unwrap().code, msg::CHANGED);
    let d = dm.discover(EP, "/3/0").unwrap();
    assert!(String::from_utf8(d.payload)
        .unwrap()
        .starts_with("</3/0>,</3/0/0>"));
    let (client, events) = device.stop().unwrap();
    assert!(
        events.contains(&Event::Deregistered { ssid: 1 }),
        "{events:?}"
    );
    dm.wait_deregistration(EP, T).unwrap();
    assert_eq!(
        client.store().value(&Path::resource(3, 0, 15)),
        Some(&Value::String("Europe/Berlin".into()))
    );
}

#[test]
fn lost_datagrams_are_retransmitted() {
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .unwrap();
    // The Bootstrap-Server loses the first two datagrams (the Bootstrap-Request and its first
    // retransmission); the LwM2M Server loses the first Register.
    bs.drop_next_datagrams(2);
    dm.drop_next_datagrams(1);
    let device =
        DeviceThread::start(Client::new(config(), factory_state(&bs.uri())), None).unwrap();
    device
        .wait_event(
            T,
            |e| matches!(e, Event::Registered { .. }),
            |e| {
                assert!(
                    !matches!(
                        e,
                        Event::BootstrapFailed { .. } | Event::RegistrationFailed { .. }
                    ),
                    "{e:?}"
                )
            },
        )
        .unwrap();
    let seen: Vec<String> = bs.transcript();
    assert_eq!(
        seen.iter()
            .filter(|l| l.contains("(dropped) CON POST /bs"))
            .count(),
        2,
        "{seen:#?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|l| l.contains("<-") && l.contains("CON POST /bs?ep=udp-device"))
            .count(),
        3
    );
    let reg = dm.transcript();
    assert_eq!(
        reg.iter().filter(|l| l.contains("POST /rd?")).count(),
        2,
        "{reg:#?}"
    );
    drop(device);
}

#[test]
fn failure_after_max_retransmit_is_reported_then_retried() {
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .unwrap();
    // 1 transmission + MAX_RETRANSMIT 4 = 5 datagrams lost: the first attempt fails.
    bs.drop_next_datagrams(5);
    let device =
        DeviceThread::start(Client::new(config(), factory_state(&bs.uri())), None).unwrap();
    let failed = device
        .wait_event(T, |e| matches!(e, Event::BootstrapFailed { .. }), |_| {})
        .unwrap();
    let Event::BootstrapFailed { reason, retry_at } = failed else {
        unreachable!()
    };
    assert!(reason.contains("MAX_RETRANSMIT"), "{reason}");
    assert!(retry_at.is_some());
    // The retry (after 300..450 ms of back-off) goes through.
    device
        .wait_event(T, |e| matches!(e, Event::Registered { .. }), |_| {})
        .unwrap();
    assert_eq!(
        bs.transcript()
            .iter()
            .filter(|l| l.contains("(dropped)"))
            .count(),
        5
    );
}

#[test]
fn duplicated_write_and_execute_are_applied_once() {
    let dm = Lwm2mServer::start().unwrap();
    let (_bs, device) = bootstrapped_device(&dm);
    let r = dm.request_twice(EP, request(msg::POST, "/3/0/4")).unwrap();
    assert_eq!(r.code, msg::CHANGED);
    let mut w = request(msg::PUT, "/3/0/14");
    msg::set_content_format(&mut w, 0);
    w.payload = b"+05:00".to_vec();
    assert_eq!(dm.request_twice(EP, w).unwrap().code, msg::CHANGED);
    // Both copies were answered (the second from the duplicate cache); the last ACK may still
    // be on its way when the first one completed the request.
    let acks = || {
        dm.transcript()
            .iter()
            .filter(|l| l.starts_with("<-") && l.contains("ACK 2.04"))
            .count()
    };
    let deadline = std::time::Instant::now() + T;
    while acks() < 4 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(acks(), 4, "{:#?}", dm.transcript());
    let (_, events) = device.stop().unwrap();
    let executed = events
        .iter()
        .filter(|e| matches!(e, Event::Executed { .. }))
        .count();
    let written = events
        .iter()
        .filter(|e| matches!(e, Event::Written { path, .. } if *path == Path::resource(3, 0, 14)))
        .count();
    assert_eq!((executed, written), (1, 1), "{events:?}");
}

#[test]
fn strangers_and_garbage_change_nothing() {
    let dm = Lwm2mServer::start().unwrap();
    let (_bs, device) = bootstrapped_device(&dm);
    let rogue = UdpSocket::bind("127.0.0.1:0").unwrap();
    rogue
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    // A Bootstrap-Write of a new server account and a Bootstrap-Delete of everything, from a
    // peer that is not the Bootstrap-Server; then garbage.
    let mut w = request(msg::PUT, "/0/7");
    msg::set_content_format(&mut w, 0);
    w.payload = b"x".to_vec();
    let mut d = request(msg::DELETE, "/");
    w.header.message_id = 0x1001;
    d.header.message_id = 0x1002;
    for bytes in [
        w.to_bytes().unwrap(),
        d.to_bytes().unwrap(),
        vec![0x40],
        vec![0xFF; 40],
        vec![0x48, 0x03, 0x00],
    ] {
        rogue.send_to(&bytes, device.addr()).unwrap();
    }
    let mut buf = [0u8; 1500];
    assert!(
        rogue.recv_from(&mut buf).is_err(),
        "a stranger gets no answer at all"
    );
    // The device still works for its server, and nothing changed.
    assert_eq!(dm.read(EP, "/3/0/0", None).unwrap().payload, b"ACME");
    let (client, events) = device.stop().unwrap();
    assert_eq!(client.store().instance_ids(0), [0, 1]);
    assert_eq!(client.store().instance_ids(1), [0]);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Bootstrapped | Event::Written { .. })),
        "{events:?}"
    );
}

/// The adapter's count of failed sends, (peer, datagram size) of each one its hook saw, and
/// how many `Event::SendFailed` it returned.
type LoopEnd = (u64, Vec<(std::net::SocketAddr, usize)>, u64);

/// A device on its own thread with the loop written out (not `DeviceThread`), so the test can
/// read the adapter's send-error count and hook when it stops.
struct Loop {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Result<LoopEnd, String>>,
}

fn run_loop(client: Client) -> Loop {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut udp =
            lwm2mc::transport::udp::UdpClient::bind(client, "127.0.0.1:0".parse().unwrap())
                .map_err(|e| e.to_string())?;
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = reports.clone();
        udp.set_send_error_hook(Box::new(move |peer, data, _| {
            if let Ok(mut r) = sink.lock() {
                r.push((peer, data.len()));
            }
        }));
        udp.start().map_err(|e| e.to_string())?;
        let mut failed_events = 0u64;
        while !flag.load(Ordering::SeqCst) {
            let events = udp
                .turn(Duration::from_millis(10))
                .map_err(|e| format!("the loop ended: {e}"))?;
            failed_events += events
                .iter()
                .filter(|e| {
                    matches!(e, lwm2mc::Event::SendFailed { reason, .. }
                        if reason.starts_with("udp send of ") && reason.contains(" failed: "))
                })
                .count() as u64;
        }
        let reports = reports.lock().map(|r| r.clone()).unwrap_or_default();
        Ok((udp.send_errors(), reports, failed_events))
    });
    Loop { stop, thread }
}

#[test]
fn an_answer_too_large_for_udp_is_one_lost_datagram_not_the_end_of_the_loop() {
    let dm = Lwm2mServer::start().unwrap();
    let mut store = Store::with_standard_objects();
    factory::add_server_account(&mut store, 1, &dm.uri(), 60).unwrap();
    factory::add_device(&mut store, "ACME", "UDP-1", "0042").unwrap();
    // Limits let the answers be built at full size (and the writes in): the socket refuses.
    let mut cfg = config();
    cfg.limits.max_response_payload = 1 << 20;
    cfg.limits.max_request_payload = 1 << 20;
    cfg.block_size = None; // whole answers, one datagram each
    let device = run_loop(Client::new(cfg, store));
    dm.wait_registration(EP, T).unwrap();
    // Two 33 KB strings fit one datagram each; /3/0 with both does not (EMSGSIZE).
    let big = vec![b'x'; 33 * 1024];
    for path in ["/3/0/15", "/3/0/14"] {
        let r = dm.write(EP, path, 0, big.clone()).unwrap();
        assert_eq!(r.code, msg::CHANGED, "write {path}");
    }
    dm.set_request_timeout(Duration::from_millis(1500));
    match dm.read(EP, "/3/0", None) {
        Err(_) => {}
        Ok(r) => assert!(r.code >= 0x80, "an answer that cannot be sent: {r:?}"),
    }
    // The device keeps serving.
    dm.set_request_timeout(T);
    let r = dm.read(EP, "/3/0/0", None).unwrap();
    assert_eq!((r.code, r.payload.as_slice()), (msg::CONTENT, &b"ACME"[..]));
    device.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (errors, reports, failed_events) = device.thread.join().unwrap().unwrap();
    assert!(errors >= 1, "the failed send was counted");
    assert_eq!(reports.len() as u64, errors);
    // ... and reported as an event, one per lost datagram.
    assert_eq!(failed_events, errors);
    // Every failed datagram is the oversized answer (and its resends from the duplicate
    // cache when the server retransmitted the Read).
    assert!(
        reports
            .iter()
            .all(|(peer, len)| *peer == dm.addr() && *len > 65_507),
        "{reports:?}"
    );
}

#[test]
fn a_register_in_block1_blocks_reaches_the_testkit_server_whole() {
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .unwrap();
    let mut c = config();
    c.block_size = Some(16);
    let device = DeviceThread::start(Client::new(c, factory_state(&bs.uri())), None).unwrap();
    let registered = device.wait_event(
        T,
        |e| matches!(e, Event::Registered { ssid: 1, .. }),
        |_| {},
    );
    assert!(registered.is_ok(), "{:#?}", dm.transcript());
    let reg = dm.wait_registration(EP, T).unwrap();
    assert!(
        reg.links.starts_with("</>;rt=\"oma.lwm2m\""),
        "{}",
        reg.links
    );
    assert!(reg.links.contains("</3/0>"), "{}", reg.links);
    // RFC 7959 §2.3: one 2.31 per block but the last, then 2.01 for the whole.
    let continues = dm
        .transcript()
        .iter()
        .filter(|l| l.starts_with("->") && l.contains("2.31"))
        .count();
    assert_eq!(
        continues,
        reg.links.len().div_ceil(16) - 1,
        "{:#?}",
        dm.transcript()
    );
    drop(device);
}

#[test]
fn a_datagram_longer_than_the_client_takes_is_not_read_and_one_within_gets_4_13() {
    let dm = Lwm2mServer::start().unwrap();
    let (_bs, device) = bootstrapped_device(&dm);
    // 4,300 bytes fit the receive buffer (4,096 + 512): answered 4.13 with Size1 (RFC 7959
    // §2.9.3), nothing written.
    let r = dm.write(EP, "/3/0/15", 0, vec![b'a'; 4_300]).unwrap();
    assert_eq!(r.code, msg::REQUEST_ENTITY_TOO_LARGE);
    // 6,000 bytes do not: the datagram is not read at all (rather than cut short and taken
    // for the whole Write), so the request goes unanswered.
    dm.set_request_timeout(Duration::from_millis(1_500));
    assert!(dm.write(EP, "/3/0/15", 0, vec![b'b'; 6_000]).is_err());
    dm.set_request_timeout(T);
    assert_eq!(
        dm.write(EP, "/3/0/15", 0, b"Europe/Oslo".to_vec())
            .unwrap()
            .code,
        msg::CHANGED
    );
    let (client, _) = device.stop().unwrap();
    assert_eq!(
        client.store().value(&Path::resource(3, 0, 15)),
        Some(&Value::String("Europe/Oslo".into()))
    );
}
