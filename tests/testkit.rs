//! The testkit servers against a scripted fake client: this crate's CoAP endpoint over a real
//! UDP socket on 127.0.0.1, which sends exactly what each test says and answers exactly what
//! it says. The tests assert what went over the wire and what the servers recorded.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use coap_lite::Packet;
use lwm2mc::coap::{msg, Endpoint, ExchangeId, Failure, Incoming, TransmissionParams};
use lwm2mc::testkit::{
    request, BootstrapConfig, BootstrapServer, Lwm2mServer, Registration, Response, TestkitError,
    Update,
};

/// Bound for anything that should happen at once on the loopback interface.
const SOON: Duration = Duration::from_secs(3);
/// How long to listen when asserting that nothing arrives.
const QUIET: Duration = Duration::from_millis(150);

/// ACK_TIMEOUT 100 ms: a lost datagram costs the fake 100-150 ms, not 2-3 s.
fn fast() -> TransmissionParams {
    TransmissionParams {
        ack_timeout_ms: 100,
        ..TransmissionParams::default()
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A scripted LwM2M client.
struct Fake {
    socket: UdpSocket,
    ep: Endpoint<SocketAddr>,
    start: Instant,
    /// Requests received and not yet taken by `next_request`.
    inbox: VecDeque<(SocketAddr, Packet)>,
    outcomes: HashMap<ExchangeId, Result<Packet, Failure>>,
    /// Every datagram sent and received, as raw bytes.
    sent: Vec<Vec<u8>>,
    received: Vec<Vec<u8>>,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            socket: UdpSocket::bind("127.0.0.1:0").unwrap(),
            ep: Endpoint::new(42, fast()),
            start: Instant::now(),
            inbox: VecDeque::new(),
            outcomes: HashMap::new(),
            sent: Vec::new(),
            received: Vec::new(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn flush(&mut self) {
        while let Some((to, bytes)) = self.ep.poll_transmit() {
            self.socket.send_to(&bytes, to).unwrap();
            self.sent.push(bytes);
        }
    }

    /// Sends what is due, then waits up to `max` (or the next retransmission) for a datagram.
    fn turn(&mut self, max: Duration) {
        self.flush();
        let now = self.now();
        let wait = self
            .ep
            .poll_timeout()
            .map(|t| Duration::from_millis(t.saturating_sub(now)))
            .unwrap_or(max)
            .clamp(Duration::from_millis(1), max.max(Duration::from_millis(1)));
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 2048];
        if let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            self.received.push(buf[..n].to_vec());
            let now = self.now();
            match self.ep.handle_datagram(now, from, &buf[..n]) {
                Some(Incoming::Request { peer, request }) => self.inbox.push_back((peer, request)),
                Some(Incoming::Response { id, response, .. }) => {
                    self.outcomes.insert(id, Ok(response));
                }
                Some(Incoming::Failed { id, reason, .. }) => {
                    self.outcomes.insert(id, Err(reason));
                }
                None => {}
            }
        }
        let now = self.now();
        for inc in self.ep.handle_timeout(now) {
            if let Incoming::Failed { id, reason, .. } = inc {
                self.outcomes.insert(id, Err(reason));
            }
        }
        self.flush();
    }

    /// Sends a CON request and waits for its outcome, serving the socket meanwhile.
    fn request(&mut self, to: SocketAddr, packet: Packet) -> Result<Packet, Failure> {
        let now = self.now();
        let id = self.ep.request(now, to, packet, true);
        let deadline = Instant::now() + SOON;
        loop {
            if let Some(o) = self.outcomes.remove(&id) {
                return o;
            }
            assert!(Instant::now() < deadline, "no answer to our request");
            self.turn(Duration::from_millis(20));
        }
    }

    /// The next request from a server, if one arrives within `within`.
    fn next_request(&mut self, within: Duration) -> Option<(SocketAddr, Packet)> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(r) = self.inbox.pop_front() {
                return Some(r);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.turn(left);
        }
    }

    fn expect_request(&mut self) -> (SocketAddr, Packet) {
        self.next_request(SOON).expect("a request from the server")
    }

    fn respond(&mut self, peer: SocketAddr, req: &Packet, code: u8, cf: Option<u16>, body: &[u8]) {
        let mut resp = msg::new_response(code);
        if let Some(cf) = cf {
            msg::set_content_format(&mut resp, cf);
        }
        resp.payload = body.to_vec();
        let now = self.now();
        self.ep.respond(now, peer, req, resp);
        self.flush();
    }

    /// Rejects a CON request with an RST (RFC 7252 §4.2), bypassing the endpoint.
    fn reset(&mut self, peer: SocketAddr, req: &Packet) {
        let [hi, lo] = req.header.message_id.to_be_bytes();
        self.socket.send_to(&[0x70, 0x00, hi, lo], peer).unwrap();
    }

    /// Registers as `ep` and returns the location path.
    fn register(&mut self, dm: &Lwm2mServer, ep: &str) -> Vec<String> {
        let q = format!("ep={ep}");
        let mut p = msg::new_request(msg::POST, &["rd"], &[&q, "lt=300", "lwm2m=1.1", "b=U"]);
        msg::set_content_format(&mut p, 40);
        p.payload = b"</1/0>,</3/0>".to_vec();
        let r = self.request(dm.addr(), p).unwrap();
        assert_eq!(msg::code_of(&r), msg::CREATED);
        msg::location_path(&r).unwrap()
    }
}

/// What a request looked like on the wire, for exact comparisons.
#[derive(Debug, PartialEq)]
struct Seen {
    method: u8,
    path: String,
    content_format: Option<u16>,
    accept: Option<u16>,
    payload: Vec<u8>,
}

fn seen(p: &Packet) -> Seen {
    Seen {
        method: msg::code_of(p),
        path: format!("/{}", msg::uri_path(p).unwrap().join("/")),
        content_format: msg::content_format(p),
        accept: msg::accept(p),
        payload: p.payload.clone(),
    }
}

fn op(method: u8, path: &str, cf: Option<u16>, accept: Option<u16>, payload: &[u8]) -> Seen {
    Seen {
        method,
        path: path.into(),
        content_format: cf,
        accept,
        payload: payload.to_vec(),
    }
}

fn bootstrap_request(ep: &str) -> Packet {
    let q = format!("ep={ep}");
    msg::new_request(msg::POST, &["bs"], &[&q, "pct=112"])
}

// VECTORS.md §5 (derived vectors): the two writes of a NoSec server account (SSID 123, URI
// coap://127.0.0.1:5683, lifetime 300) and a Bootstrap-Server account (coap://127.0.0.1:5783,
// hold off 10 s, account timeout 0).
const SEC_0_1: &str =
    "080127c80015636f61703a2f2f3132372e302e302e313a35363833c10100c10203c003c004c005c10a7b";
const SRV_1_0: &str = "08000dc1007bc201012cc10600c10755";
const BS_0_0: &str =
    "08002ac80015636f61703a2f2f3132372e302e302e313a35373833c10101c10203c003c004c005c10b0ac10c00";

#[test]
fn bootstrap_runs_the_plan_one_request_at_a_time() {
    // No finish(): the server appends Bootstrap-Finish itself.
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(123, "coap://127.0.0.1:5683", 300)
            .bootstrap_account(0, "coap://127.0.0.1:5783", 10)
            .discover("/")
            .read("/1/0", Some(11542)),
    )
    .unwrap();
    let mut fake = Fake::new();
    let answer = fake.request(bs.addr(), bootstrap_request("x")).unwrap();
    assert_eq!(msg::code_of(&answer), msg::CHANGED);

    let discovered = b"lwm2m=\"1.1\",</0/0>,</0/1>;ssid=123,</1/0>;ssid=123".to_vec();
    let mut ops = Vec::new();
    for i in 0..7 {
        let (peer, req) = fake.expect_request();
        assert_eq!(peer, bs.addr());
        if i == 0 {
            // One request at a time: nothing else comes until this one is answered.
            assert!(fake.next_request(QUIET).is_none());
        }
        let s = seen(&req);
        match s.method {
            msg::DELETE => fake.respond(peer, &req, msg::DELETED, None, b""),
            msg::PUT => fake.respond(peer, &req, msg::CHANGED, None, b""),
            msg::GET if s.accept == Some(40) => {
                fake.respond(peer, &req, msg::CONTENT, Some(40), &discovered)
            }
            msg::GET => fake.respond(peer, &req, msg::CONTENT, Some(11542), &hex(SRV_1_0)),
            _ => fake.respond(peer, &req, msg::CHANGED, None, b""),
        }
        ops.push(s);
    }
    assert!(fake.next_request(QUIET).is_none(), "nothing after Finish");

    let tlv = Some(11542);
    assert_eq!(
        ops,
        [
            op(msg::DELETE, "/", None, None, b""),
            op(msg::PUT, "/0/1", tlv, None, &hex(SEC_0_1)),
            op(msg::PUT, "/1/0", tlv, None, &hex(SRV_1_0)),
            op(msg::PUT, "/0/0", tlv, None, &hex(BS_0_0)),
            op(msg::GET, "/", None, Some(40), b""),
            op(msg::GET, "/1/0", None, tlv, b""),
            op(msg::POST, "/bs", None, None, b""),
        ]
    );

    let session = bs.wait_session(SOON).unwrap();
    assert_eq!(session.endpoint.as_deref(), Some("x"));
    assert_eq!(session.queries, ["ep=x", "pct=112"]);
    assert_eq!(session.client, Some(fake.addr()));
    assert_eq!(session.failure, None);
    assert!(session.finished());
    assert_eq!(
        session.codes(),
        [
            msg::DELETED,
            msg::CHANGED,
            msg::CHANGED,
            msg::CHANGED,
            msg::CONTENT,
            msg::CONTENT,
            msg::CHANGED
        ]
    );
    let labels: Vec<&str> = session.steps.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels[0], "CON DELETE /");
    assert!(labels[1].starts_with("CON PUT /0/1 ct=tlv {OI1{R0=\"coap://127.0.0.1:5683\""));
    assert_eq!(labels[4], "CON GET / accept=link");
    assert_eq!(labels[6], "CON POST /bs");
    assert_eq!(
        session.steps[4].1,
        Response {
            code: msg::CONTENT,
            content_format: Some(40),
            payload: discovered
        }
    );
    assert_eq!(session.steps[5].1.payload, hex(SRV_1_0));
    assert_eq!(session.steps[5].1.content_format, Some(11542));

    // The transcript: the request, its ACK, then request/answer pairs.
    let t = bs.transcript();
    let me = fake.addr();
    assert_eq!(t[0], format!("<- {me} CON POST /bs?ep=x&pct=112"));
    assert_eq!(t[1], format!("-> {me} ACK 2.04"));
    assert_eq!(t[2], format!("-> {me} CON DELETE /"));
    assert_eq!(t[3], format!("<- {me} ACK 2.02"));
    assert_eq!(t.len(), 2 + 2 * 7, "{t:#?}");
    // Every session is returned once.
    assert!(matches!(
        bs.wait_session(Duration::from_millis(50)),
        Err(TestkitError::Timeout(_))
    ));
}

#[test]
fn bootstrap_request_can_be_refused() {
    let bs = BootstrapServer::start(BootstrapConfig::new().delete("/")).unwrap();
    let mut fake = Fake::new();
    // Without ep= the request is malformed (Transport 1.1 §6.1).
    let bare = msg::new_request(msg::POST, &["bs"], &[]);
    assert_eq!(
        msg::code_of(&fake.request(bs.addr(), bare).unwrap()),
        msg::BAD_REQUEST
    );
    bs.respond_to_request_with(msg::FORBIDDEN);
    let r = fake.request(bs.addr(), bootstrap_request("x")).unwrap();
    assert_eq!(msg::code_of(&r), msg::FORBIDDEN);
    assert!(
        fake.next_request(QUIET).is_none(),
        "no plan after a refusal"
    );
    assert!(matches!(
        bs.wait_session(Duration::from_millis(50)),
        Err(TestkitError::Timeout(_))
    ));
    // Anything but POST /bs is not found.
    let other = msg::new_request(msg::GET, &["bs"], &["ep=x"]);
    assert_eq!(
        msg::code_of(&fake.request(bs.addr(), other).unwrap()),
        msg::NOT_FOUND
    );
    // Back to normal.
    bs.respond_to_request_with(msg::CHANGED);
    let r = fake.request(bs.addr(), bootstrap_request("x")).unwrap();
    assert_eq!(msg::code_of(&r), msg::CHANGED);
    let (peer, req) = fake.expect_request();
    assert_eq!(seen(&req), op(msg::DELETE, "/", None, None, b""));
    fake.respond(peer, &req, msg::DELETED, None, b"");
}

#[test]
fn server_initiated_bootstrap_runs_the_replaced_plan() {
    let bs = BootstrapServer::start(BootstrapConfig::new().delete("/0/1")).unwrap();
    bs.set_plan(BootstrapConfig::new().write("/3/0/14", 0, b"+02:00".to_vec()));
    let mut fake = Fake::new();
    bs.push(fake.addr());
    let (peer, req) = fake.expect_request();
    assert_eq!(
        seen(&req),
        op(msg::PUT, "/3/0/14", Some(0), None, b"+02:00")
    );
    fake.respond(peer, &req, msg::CHANGED, None, b"");
    let (peer, req) = fake.expect_request();
    assert_eq!(seen(&req), op(msg::POST, "/bs", None, None, b""));
    fake.respond(peer, &req, msg::CHANGED, None, b"");

    let session = bs.wait_session(SOON).unwrap();
    assert_eq!(session.endpoint, None);
    assert!(session.queries.is_empty());
    assert_eq!(session.client, Some(fake.addr()));
    assert_eq!(session.codes(), [msg::CHANGED, msg::CHANGED]);
    assert!(session.finished());
}

#[test]
fn a_reset_or_silence_ends_the_session_with_a_failure() {
    // Fast retransmissions, to see that a timed-out operation is no longer retransmitted.
    let bs =
        BootstrapServer::start_with(BootstrapConfig::new().delete("/").finish(), fast()).unwrap();
    bs.set_request_timeout(Duration::from_millis(250));
    let mut fake = Fake::new();
    fake.request(bs.addr(), bootstrap_request("x")).unwrap();
    let (peer, req) = fake.expect_request();
    fake.reset(peer, &req);
    let session = bs.wait_session(SOON).unwrap();
    assert!(session.steps.is_empty());
    assert_eq!(
        session.failure.as_deref(),
        Some("CON DELETE /: the client sent RST")
    );
    assert!(!session.finished());
    assert!(
        fake.next_request(QUIET).is_none(),
        "no Finish after a failure"
    );

    // Silence: the operation times out on the server's own clock.
    let t0 = Instant::now();
    fake.request(bs.addr(), bootstrap_request("x")).unwrap();
    let (_, req) = fake.expect_request();
    assert_eq!(msg::code_of(&req), msg::DELETE);
    let session = bs.wait_session(SOON).unwrap();
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    assert_eq!(
        session.failure.as_deref(),
        Some("CON DELETE /: no answer within the request timeout")
    );
    // The exchange was cancelled: its later retransmissions (due 300-450 ms and 700-1050 ms
    // after the first transmission with ACK_TIMEOUT 100 ms) never go out.
    let lines = bs.transcript().len();
    let deadline = Instant::now() + Duration::from_millis(900);
    while Instant::now() < deadline {
        fake.turn(Duration::from_millis(50));
    }
    let t = bs.transcript();
    assert_eq!(t.len(), lines, "{t:#?}");
    let deletes = t.iter().filter(|l| l.ends_with("CON DELETE /")).count();
    assert!((2..=3).contains(&deletes), "{t:#?}");
}

#[test]
fn registration_update_and_deregistration_are_answered_and_recorded() {
    let dm = Lwm2mServer::start().unwrap();
    assert_eq!(dm.uri(), format!("coap://127.0.0.1:{}", dm.addr().port()));
    let mut fake = Fake::new();
    let me = fake.addr();

    assert_eq!(fake.register(&dm, "x"), ["rd", "1"]);
    assert_eq!(
        dm.wait_registration("x", SOON).unwrap(),
        Registration {
            endpoint: "x".into(),
            lifetime: "300".into(),
            version: "1.1".into(),
            binding: "U".into(),
            links: "</1/0>,</3/0>".into(),
            location: "/rd/1".into(),
            client: me,
            queries: vec![
                "ep=x".into(),
                "lt=300".into(),
                "lwm2m=1.1".into(),
                "b=U".into()
            ],
        }
    );

    // Update, bare and with a new object list.
    let bare = msg::new_request(msg::POST, &["rd", "1"], &[]);
    assert_eq!(
        msg::code_of(&fake.request(dm.addr(), bare).unwrap()),
        msg::CHANGED
    );
    let mut full = msg::new_request(msg::POST, &["rd", "1"], &["lt=60"]);
    msg::set_content_format(&mut full, 40);
    full.payload = b"</1/0>,</3/0>,</5/0>".to_vec();
    assert_eq!(
        msg::code_of(&fake.request(dm.addr(), full).unwrap()),
        msg::CHANGED
    );
    let update = |queries: &[&str], links: Option<&str>| Update {
        endpoint: "x".into(),
        location: "/rd/1".into(),
        client: me,
        queries: queries.iter().map(|q| q.to_string()).collect(),
        links: links.map(str::to_string),
    };
    assert_eq!(dm.wait_update("x", SOON).unwrap(), update(&[], None));
    assert_eq!(
        dm.wait_update("x", SOON).unwrap(),
        update(&["lt=60"], Some("</1/0>,</3/0>,</5/0>"))
    );
    // Each record is returned once; waits are bounded.
    assert!(matches!(
        dm.wait_update("x", Duration::from_millis(50)),
        Err(TestkitError::Timeout(_))
    ));
    assert!(matches!(
        dm.wait_registration("y", Duration::from_millis(50)),
        Err(TestkitError::Timeout(_))
    ));

    // An Update to an unknown location gets 4.04.
    let stray = msg::new_request(msg::POST, &["rd", "7"], &[]);
    assert_eq!(
        msg::code_of(&fake.request(dm.addr(), stray).unwrap()),
        msg::NOT_FOUND
    );
    // A Register without ep= gets 4.00.
    let no_ep = msg::new_request(msg::POST, &["rd"], &["lt=300"]);
    assert_eq!(
        msg::code_of(&fake.request(dm.addr(), no_ep).unwrap()),
        msg::BAD_REQUEST
    );

    // De-register: 2.02, recorded; the location is gone afterwards.
    let dereg = msg::new_request(msg::DELETE, &["rd", "1"], &[]);
    assert_eq!(
        msg::code_of(&fake.request(dm.addr(), dereg).unwrap()),
        msg::DELETED
    );
    dm.wait_deregistration("x", SOON).unwrap();
    let late = msg::new_request(msg::POST, &["rd", "1"], &[]);
    assert_eq!(
        msg::code_of(&fake.request(dm.addr(), late).unwrap()),
        msg::NOT_FOUND
    );
    assert!(matches!(
        dm.read("x", "/3/0/0", None),
        Err(TestkitError::UnknownEndpoint(e)) if e == "x"
    ));

    let t = dm.transcript();
    assert_eq!(
        t[0],
        format!("<- {me} CON POST /rd?ep=x&lt=300&lwm2m=1.1&b=U ct=link \"</1/0>,</3/0>\"")
    );
    assert_eq!(t[1], format!("-> {me} ACK 2.01 location=/rd/1"));
}

#[test]
fn forget_makes_the_next_update_fail() {
    let dm = Lwm2mServer::start().unwrap();
    let mut fake = Fake::new();
    assert_eq!(fake.register(&dm, "x"), ["rd", "1"]);
    dm.forget("x");
    let update = msg::new_request(msg::POST, &["rd", "1"], &[]);
    assert_eq!(
        msg::code_of(&fake.request(dm.addr(), update).unwrap()),
        msg::NOT_FOUND
    );
    // Registering again gives a new location.
    assert_eq!(fake.register(&dm, "x"), ["rd", "2"]);
    dm.wait_registration("x", SOON).unwrap();
    assert_eq!(dm.wait_registration("x", SOON).unwrap().location, "/rd/2");
}

/// Runs `call` against the server while the fake answers the one request it causes with
/// `answer`; returns what the request looked like and what `call` returned.
fn serve_one<T: Send>(
    fake: &mut Fake,
    call: impl FnOnce() -> T + Send,
    answer: (u8, Option<u16>, &[u8]),
) -> (Seen, T) {
    std::thread::scope(|s| {
        let h = s.spawn(call);
        let (peer, req) = fake.expect_request();
        fake.respond(peer, &req, answer.0, answer.1, answer.2);
        (seen(&req), h.join().unwrap())
    })
}

#[test]
fn dm_operations_reach_the_device_and_return_its_answers() {
    let dm = Lwm2mServer::start().unwrap();
    let mut fake = Fake::new();
    fake.register(&dm, "x");

    let (req, r) = serve_one(
        &mut fake,
        || dm.read("x", "/3/0/0", Some(0)),
        (msg::CONTENT, Some(0), b"ACME"),
    );
    assert_eq!(req, op(msg::GET, "/3/0/0", None, Some(0), b""));
    let r = r.unwrap();
    assert_eq!(
        r,
        Response {
            code: msg::CONTENT,
            content_format: Some(0),
            payload: b"ACME".to_vec()
        }
    );
    assert_eq!(r.code_string(), "2.05");

    let (req, r) = serve_one(
        &mut fake,
        || dm.discover("x", "/3"),
        (msg::CONTENT, Some(40), b"</3>,</3/0>"),
    );
    assert_eq!(req, op(msg::GET, "/3", None, Some(40), b""));
    assert_eq!(r.unwrap().payload, b"</3>,</3/0>");

    let (req, r) = serve_one(
        &mut fake,
        || dm.write("x", "/1/0", 11542, hex(SRV_1_0)),
        (msg::CHANGED, None, b""),
    );
    assert_eq!(req, op(msg::PUT, "/1/0", Some(11542), None, &hex(SRV_1_0)));
    assert_eq!(r.unwrap().code, msg::CHANGED);

    let (req, r) = serve_one(
        &mut fake,
        || dm.execute("x", "/3/0/4", Some("0='now'")),
        (msg::CHANGED, None, b""),
    );
    assert_eq!(req, op(msg::POST, "/3/0/4", Some(0), None, b"0='now'"));
    assert_eq!(r.unwrap().code, msg::CHANGED);
    let (req, _) = serve_one(
        &mut fake,
        || dm.execute("x", "/3/0/4", None),
        (msg::CHANGED, None, b""),
    );
    assert_eq!(req, op(msg::POST, "/3/0/4", None, None, b""));

    // Any request, with any answer.
    let (req, r) = serve_one(
        &mut fake,
        || dm.request("x", request(msg::DELETE, "/3/0")),
        (msg::METHOD_NOT_ALLOWED, None, b""),
    );
    assert_eq!(req, op(msg::DELETE, "/3/0", None, None, b""));
    assert_eq!(r.unwrap().code_string(), "4.05");
}

#[test]
fn requests_to_a_silent_or_resetting_device_fail_in_time() {
    let dm = Lwm2mServer::start().unwrap();
    let mut fake = Fake::new();
    fake.register(&dm, "x");
    dm.set_request_timeout(Duration::from_millis(300));

    let t0 = Instant::now();
    let r = std::thread::scope(|s| {
        let h = s.spawn(|| dm.read("x", "/3/0/0", None));
        let (_, req) = fake.expect_request();
        assert_eq!(msg::code_of(&req), msg::GET);
        h.join().unwrap()
    });
    assert!(matches!(r, Err(TestkitError::Timeout(_))), "{r:?}");
    assert!(t0.elapsed() < Duration::from_millis(1500));

    let r = std::thread::scope(|s| {
        let h = s.spawn(|| dm.read("x", "/3/0/0", None));
        let (peer, req) = fake.expect_request();
        fake.reset(peer, &req);
        h.join().unwrap()
    });
    assert!(matches!(r, Err(TestkitError::Rejected(_))), "{r:?}");
}

#[test]
fn a_dropped_register_is_retransmitted_and_recorded_once() {
    let dm = Lwm2mServer::start().unwrap();
    dm.drop_next_datagrams(1);
    let mut fake = Fake::new();
    assert_eq!(fake.register(&dm, "x"), ["rd", "1"]);
    // The first transmission vanished; the retransmission (same bytes) got the 2.01.
    assert_eq!(fake.sent.len(), 2);
    assert_eq!(fake.sent[0], fake.sent[1]);
    assert_eq!(fake.received.len(), 1);

    let t = dm.transcript();
    let me = fake.addr();
    let register = "CON POST /rd?ep=x&lt=300&lwm2m=1.1&b=U ct=link \"</1/0>,</3/0>\"";
    assert_eq!(
        t,
        [
            format!("<- {me} (dropped) {register}"),
            format!("<- {me} {register}"),
            format!("-> {me} ACK 2.01 location=/rd/1"),
        ]
    );
    dm.wait_registration("x", SOON).unwrap();
    assert!(dm
        .wait_registration("x", Duration::from_millis(50))
        .is_err());
}

#[test]
fn a_dropped_answer_makes_the_server_retransmit() {
    let dm = Lwm2mServer::start_with(fast()).unwrap();
    let mut fake = Fake::new();
    fake.register(&dm, "x");
    dm.drop_next_datagrams(1);
    let r = std::thread::scope(|s| {
        let h = s.spawn(|| dm.read("x", "/3/0/0", None));
        let (peer, req) = fake.expect_request();
        fake.respond(peer, &req, msg::CONTENT, Some(0), b"ACME");
        // The server's retransmission (same MID) is a GET, so the fake's endpoint serves it
        // again rather than from a cache (RFC 7252 §4.5 allows it for a safe request): it
        // surfaces once more, with the same MID, and gets the same answer.
        let (peer2, again) = fake.expect_request();
        assert_eq!(peer2, peer);
        assert_eq!(again.header.message_id, req.header.message_id);
        fake.respond(peer2, &again, msg::CONTENT, Some(0), b"ACME");
        let deadline = Instant::now() + SOON;
        while !h.is_finished() && Instant::now() < deadline {
            assert!(fake.next_request(Duration::from_millis(20)).is_none());
        }
        h.join().unwrap()
    });
    assert_eq!(r.unwrap().payload, b"ACME");
    let gets = fake
        .received
        .iter()
        .filter(|d| d.get(1) == Some(&msg::GET))
        .count();
    assert_eq!(gets, 2, "the GET was sent twice");
    let dropped: Vec<String> = dm
        .transcript()
        .into_iter()
        .filter(|l| l.contains("(dropped)"))
        .collect();
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].ends_with("(dropped) ACK 2.05 ct=text \"ACME\""));
}

#[test]
fn request_twice_sends_the_same_datagram_twice() {
    let dm = Lwm2mServer::start().unwrap();
    let mut fake = Fake::new();
    fake.register(&dm, "x");
    let before = fake.received.len();
    let (req, r) = serve_one(
        &mut fake,
        || dm.request_twice("x", request(msg::POST, "/3/0/4")),
        (msg::CHANGED, None, b""),
    );
    assert_eq!(req, op(msg::POST, "/3/0/4", None, None, b""));
    assert_eq!(r.unwrap().code, msg::CHANGED);
    // Both copies arrive (the second may still be in the socket buffer).
    while fake.received.len() < before + 2 {
        fake.turn(Duration::from_millis(20));
    }
    assert_eq!(fake.received[before], fake.received[before + 1]);
    assert!(
        fake.next_request(QUIET).is_none(),
        "the copy is a duplicate"
    );
}

#[test]
fn dropping_a_server_releases_its_port() {
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(BootstrapConfig::new()).unwrap();
    let (a, b) = (dm.addr(), bs.addr());
    let t0 = Instant::now();
    drop(dm);
    drop(bs);
    // The threads were woken up and joined; their sockets are closed.
    assert!(t0.elapsed() < Duration::from_millis(500));
    UdpSocket::bind(a).unwrap();
    UdpSocket::bind(b).unwrap();
}
