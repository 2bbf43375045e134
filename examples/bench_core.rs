//! Core benchmark (issue 15, "Cheap enough for a device"): what the sans-I/O client costs per
//! operation, per client on the heap, and for a fleet in one process. No sockets, no sleeps: a
//! small Bootstrap-Server and LwM2M Server written on `lwm2mc::coap::Endpoint<u8>`
//! (examples/support/fake_servers.rs, shared with the `fleet` example) talk to the client in
//! memory, and time is advanced by hand.
//!
//!   cargo run --release --example bench_core                      # the whole report
//!   cargo run --release --example bench_core -- --n 2000 --fleet 1000
//!   cargo run --release --example bench_core -- --only read-tlv --n 5000
//!   scripts/bench-callgrind.sh                                    # instructions per operation
//!
//! What is measured is only the client's side: every call into the library an application
//! makes for an operation runs inside one of the `measured_*` functions below (never inlined),
//! and the time, allocation calls and bytes are taken around those calls. The fake servers'
//! work, building their requests and checking the answers, happens outside them.
//! `scripts/bench-callgrind.sh` counts instructions with callgrind collecting only inside the
//! `measured_*` functions (`--toggle-collect`), in `--only KIND` mode.
//!
//! Operations (`--only KIND`); the first six on a client that bootstrapped and registered:
//!   read-tlv            GET /3/0, Accept TLV (11542)
//!   read-text           GET /3/0/0, Accept text/plain (0)
//!   write               PUT /3/0/14 text/plain, "+01:00" and "+02:00" in turn
//!   execute             POST /3/0/4 (Reboot: an Executed event, nothing rebooted)
//!   discover            GET /3/0, Accept link format (40)
//!   notify              Client::set /3/0/9 (observed by the server), then the handle_timeout
//!                       that sends its NON notification
//!   bootstrap-register  Client::start to Registered: Bootstrap-Request, Delete /, Write /0/1,
//!                       Write /1/0, Finish, Register, and every call between them
//!   new-client          Store::with_standard_objects, a factory Bootstrap-Server account and
//!                       Device values, Client::new (left out of bootstrap-register)
//!
//! The server's requests are CON, one every simulated millisecond (a notification: one per
//! simulated second), so the client's duplicate cache is full (64 entries) in the steady state.
//! Figures are printed, never asserted: they depend on the machine; what is checked is that
//! each operation really gets the answer it should.

use std::hint::black_box;
use std::time::Instant;

use coap_lite::Packet;
use lwm2mc::accounts::factory;
use lwm2mc::coap::msg;
use lwm2mc::{Client, Config, Path, PeerId, Store, Value};

// ---- heap accounting, for the whole process (examples/support/counting_alloc.rs) ----

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{
    heap, live_bytes, peak_bytes as peak, reset_peak, reset_window, set_counting, window_peak, Heap,
};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// The client's own heap, told apart from the fake servers' and the harness's: whatever a
/// call into the library leaves live, or frees, is the client's (the harness frees none of
/// the client's blocks: datagrams are copied into its own buffers, events are dropped inside
/// the calls). So the client's live bytes are the sum of those changes, and its peak the
/// highest any call reached above what it held when the call began.
static CLIENT_LIVE: AtomicIsize = AtomicIsize::new(0);
static CLIENT_PEAK: AtomicIsize = AtomicIsize::new(0);

/// Runs one call into the library, keeping the client's live bytes and peak.
fn client_call<R>(f: impl FnOnce() -> R) -> R {
    let before = live_bytes() as isize;
    reset_window();
    let r = f();
    let (after, top) = (live_bytes() as isize, window_peak() as isize);
    let live = CLIENT_LIVE.load(Relaxed);
    CLIENT_PEAK.fetch_max(live + top - before, Relaxed);
    CLIENT_LIVE.store(live + after - before, Relaxed);
    r
}

/// Starts counting the client's heap from nothing (before its `Client::new`).
fn reset_client_heap() {
    CLIENT_LIVE.store(0, Relaxed);
    CLIENT_PEAK.store(0, Relaxed);
}

/// Resident set size of the process, from /proc/self/statm (Linux), in bytes.
fn rss() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

// ---- the client's side: every library call of an operation, and nothing else ----

/// What the application does after each call into the core (the "How to drive it" rules on
/// `Client`): take peer changes, datagrams (into `out`, whose room is reserved outside so
/// taking them allocates nothing), events, and the next deadline.
fn drain(client: &mut Client, out: &mut Sent) {
    while let Some(change) = client.poll_peer_change() {
        black_box(change);
    }
    while out.take_from(client) {}
    while let Some(change) = client.poll_peer_change() {
        black_box(change);
    }
    while let Some(event) = client.poll_event() {
        black_box(event);
    }
    black_box(client.poll_timeout());
}

#[inline(never)]
fn measured_new(endpoint: &str, bootstrap_uri: &str, seed: u64) -> Box<Client> {
    let mut store = Store::with_standard_objects();
    factory::add_bootstrap_account(&mut store, bootstrap_uri, 0).expect("bootstrap account");
    factory::add_device(&mut store, "ACME", "Bench-1", "0001").expect("device");
    // Battery Level (notified) and UTC Offset (written) exist from the start.
    store
        .set(&Path::resource(3, 0, 9), Value::Integer(100))
        .expect("battery level");
    store
        .set(&Path::resource(3, 0, 14), Value::String("+01:00".into()))
        .expect("utc offset");
    let mut config = Config::new(endpoint);
    config.seed = seed;
    Box::new(Client::new(config, store))
}

#[inline(never)]
fn measured_start(client: &mut Client, now: u64, out: &mut Sent) {
    client.start(now);
    drain(client, out);
}

#[inline(never)]
fn measured_datagram(client: &mut Client, now: u64, peer: PeerId, bytes: &[u8], out: &mut Sent) {
    client.handle_datagram(now, peer, bytes);
    drain(client, out);
}

#[inline(never)]
fn measured_timeout(client: &mut Client, now: u64, out: &mut Sent) {
    client.handle_timeout(now);
    drain(client, out);
}

/// A value the application changes, then the timer turn that notifies it.
#[inline(never)]
fn measured_notify(client: &mut Client, now: u64, value: i64, out: &mut Sent) {
    client
        .set(&Path::resource(3, 0, 9), Value::Integer(value))
        .expect("set /3/0/9");
    drain(client, out);
    client.handle_timeout(now);
    drain(client, out);
}

/// Datagrams the client sent during one measured call, each in a buffer of its own reserved
/// outside the measured calls: `poll_transmit_into` writes each straight into one, as into
/// the send buffer an application keeps, so taking them allocates nothing.
struct Sent {
    buffers: Vec<(PeerId, Vec<u8>)>,
    len: usize,
}

/// Room for each datagram: more than any of this benchmark's.
const DATAGRAM_ROOM: usize = 1024;

impl Sent {
    fn new() -> Sent {
        let room = || (PeerId(0), Vec::with_capacity(DATAGRAM_ROOM));
        Sent {
            buffers: (0..OUT_CAPACITY).map(|_| room()).collect(),
            len: 0,
        }
    }

    /// Takes the client's next datagram; false when there is none.
    fn take_from(&mut self, client: &mut Client) -> bool {
        if self.len == self.buffers.len() {
            self.buffers.push((PeerId(0), Vec::new()));
        }
        let Some((peer, buffer)) = self.buffers.get_mut(self.len) else {
            return false;
        };
        let Some(to) = client.poll_transmit_into(buffer) else {
            return false;
        };
        *peer = to;
        self.len += 1;
        true
    }

    fn iter(&self) -> impl Iterator<Item = (PeerId, &[u8])> + '_ {
        self.buffers[..self.len]
            .iter()
            .map(|(peer, data)| (*peer, data.as_slice()))
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Time, allocation calls and bytes spent inside `measured_*` calls, summed.
#[derive(Default, Clone, Copy)]
struct Meter {
    ns: u128,
    calls: usize,
    bytes: usize,
}

impl Meter {
    fn run<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let before = heap();
        let start = Instant::now();
        let r = client_call(f);
        self.ns += start.elapsed().as_nanos();
        let after = heap();
        self.calls += after.calls - before.calls;
        self.bytes += after.bytes - before.bytes;
        r
    }
}

// ---- the fake servers (examples/support/fake_servers.rs, shared with the fleet example) ----

#[path = "support/fake_servers.rs"]
mod fake_servers;
use fake_servers::{params, request, uri, FakeBs, FakeDm, FakeServer, BS_PORT, DM_PORT, TLV};

const LIFETIME_S: i64 = 86_400;
const TEXT: u16 = 0;
const LINK: u16 = 40;

// ---- one client and its two servers ----

struct Sim {
    client: Box<Client>,
    bs: FakeBs,
    dm: FakeDm,
    now: u64,
    /// Datagrams the client sent during the last measured call (room reserved).
    out: Sent,
    /// The previous batch, being delivered.
    spare: Sent,
    meter: Meter,
}

/// Room for every datagram one call can produce.
const OUT_CAPACITY: usize = 32;

impl Sim {
    /// A new client (`new-client` is metered on its own meter) with fresh fake servers.
    fn new(seed: u64, new_meter: &mut Meter) -> Sim {
        Sim::with_sent(seed, new_meter, (Sent::new(), Sent::new()))
    }

    /// The same with the datagram room `sent` made before (kept apart from the client's and
    /// the fake servers' heap, and reused from client to client).
    fn with_sent(seed: u64, new_meter: &mut Meter, mut sent: (Sent, Sent)) -> Sim {
        sent.0.clear();
        sent.1.clear();
        let (endpoint, bootstrap_uri) = (format!("bench-{seed}"), uri(BS_PORT));
        let client = new_meter.run(|| measured_new(&endpoint, &bootstrap_uri, seed));
        Sim {
            client,
            bs: FakeBs::new(seed ^ 0xB5, LIFETIME_S),
            dm: FakeDm::new(seed ^ 0xD3),
            now: 1_000,
            out: sent.0,
            spare: sent.1,
            meter: Meter::default(),
        }
    }

    fn peer(&self, port: u16) -> Option<PeerId> {
        self.client
            .peers()
            .find(|(_, info)| info.uri.port == port)
            .map(|(id, _)| id)
    }

    fn deliver_to_client(&mut self, port: u16, bytes: &[u8]) {
        let Some(peer) = self.peer(port) else { return };
        let (client, out, now) = (&mut self.client, &mut self.out, self.now);
        self.meter
            .run(|| measured_datagram(client, now, peer, bytes, out));
    }

    /// Delivers every datagram once each way; whether anything moved.
    fn pump(&mut self) -> bool {
        let now = self.now;
        std::mem::swap(&mut self.out, &mut self.spare);
        let moved_out = !self.spare.is_empty();
        for (peer, data) in self.spare.iter() {
            let port = self.client.peer_info(peer).map(|i| i.uri.port);
            match port {
                Some(BS_PORT) => self.bs.receive(now, data),
                Some(DM_PORT) => self.dm.receive(now, data),
                _ => {}
            }
        }
        self.spare.clear();
        let mut moved = moved_out;
        while let Some((_, data)) = self.bs.ep.poll_transmit() {
            moved = true;
            self.deliver_to_client(BS_PORT, &data);
        }
        while let Some((_, data)) = self.dm.ep.poll_transmit() {
            moved = true;
            self.deliver_to_client(DM_PORT, &data);
        }
        moved
    }

    fn settle(&mut self) {
        while self.pump() {}
    }

    /// Runs whatever is due next (the client's or a server's timer).
    fn next_timer(&mut self) {
        let next = [
            self.client.poll_timeout(),
            self.bs.ep.poll_timeout(),
            self.dm.ep.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("something is pending before registration");
        self.now = self.now.max(next);
        let (client, out, now) = (&mut self.client, &mut self.out, self.now);
        self.meter.run(|| measured_timeout(client, now, out));
        self.bs.timeout(now);
        self.dm.timeout(now);
    }

    /// Client::start until the client is registered with the fake LwM2M Server.
    fn bootstrap_register(&mut self) {
        let (client, out, now) = (&mut self.client, &mut self.out, self.now);
        self.meter.run(|| measured_start(client, now, out));
        for _ in 0..100 {
            self.settle();
            if self.dm.registers > 0 && !self.client.registered_servers().is_empty() {
                assert_eq!(self.bs.answers.len(), 4, "every bootstrap request answered");
                assert!(
                    self.bs
                        .answers
                        .iter()
                        .all(|c| *c == msg::CHANGED || *c == msg::DELETED),
                    "bootstrap answers {:x?}",
                    self.bs.answers
                );
                return;
            }
            self.next_timer();
        }
        panic!("the client did not register");
    }

    /// The LwM2M Server sends one CON request; the client's answer lands in `dm.last`.
    fn dm_request(&mut self, p: Packet) -> (u8, Option<u16>, usize, Option<u32>) {
        self.dm.last = None;
        self.dm.ep.request(self.now, 0, p, true);
        self.settle();
        self.dm.last.expect("the client answered")
    }

    /// The client once the servers are gone, and the datagram room for the next client.
    fn into_parts(self) -> (Box<Client>, u64, (Sent, Sent)) {
        (self.client, self.now, (self.out, self.spare))
    }
}

// ---- the operations ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    NewClient,
    BootstrapRegister,
    ReadTlv,
    ReadText,
    Write,
    Execute,
    Discover,
    Notify,
}

const KINDS: [(Kind, &str, &str); 8] = [
    (Kind::ReadTlv, "read-tlv", "Read /3/0 TLV"),
    (Kind::ReadText, "read-text", "Read /3/0/0 text"),
    (Kind::Write, "write", "Write /3/0/14 text"),
    (Kind::Execute, "execute", "Execute /3/0/4"),
    (Kind::Discover, "discover", "Discover /3/0"),
    (Kind::Notify, "notify", "Notification /3/0/9 (set + NON)"),
    (
        Kind::BootstrapRegister,
        "bootstrap-register",
        "Bootstrap + Register",
    ),
    (
        Kind::NewClient,
        "new-client",
        "New client (store + Client::new)",
    ),
];

/// Per-operation figures: median ns, mean allocation calls and bytes, and a note.
struct Row {
    median_ns: u128,
    calls: f64,
    bytes: f64,
    note: String,
}

fn median(mut xs: Vec<u128>) -> u128 {
    if xs.is_empty() {
        return 0;
    }
    xs.sort_unstable();
    xs[xs.len() / 2]
}

/// The request the LwM2M Server makes for operation `kind` number `i`.
fn dm_packet(kind: Kind, i: usize) -> Packet {
    match kind {
        Kind::ReadTlv => {
            let mut p = request(msg::GET, "/3/0", None, &[]);
            msg::set_accept(&mut p, TLV);
            p
        }
        Kind::ReadText => {
            let mut p = request(msg::GET, "/3/0/0", None, &[]);
            msg::set_accept(&mut p, TEXT);
            p
        }
        Kind::Write => {
            let offset = if i % 2 == 0 { "+02:00" } else { "+01:00" };
            request(msg::PUT, "/3/0/14", Some(TEXT), offset.as_bytes())
        }
        Kind::Execute => request(msg::POST, "/3/0/4", None, &[]),
        Kind::Discover => {
            let mut p = request(msg::GET, "/3/0", None, &[]);
            msg::set_accept(&mut p, LINK);
            p
        }
        _ => unreachable!("not a server request"),
    }
}

fn expected_code(kind: Kind) -> u8 {
    match kind {
        Kind::ReadTlv | Kind::ReadText | Kind::Discover => msg::CONTENT,
        Kind::Write | Kind::Execute => msg::CHANGED,
        _ => unreachable!(),
    }
}

/// Runs `n` operations of `kind` and returns their figures.
fn run_kind(kind: Kind, n: usize) -> Row {
    let mut new_meter = Meter::default();
    match kind {
        Kind::NewClient | Kind::BootstrapRegister => {
            let mut samples = Vec::with_capacity(n);
            let mut total = Meter::default();
            let mut sent = (Sent::new(), Sent::new());
            for i in 0..n {
                let mut sim = Sim::with_sent(i as u64, &mut new_meter, sent);
                sim.bootstrap_register();
                samples.push(match kind {
                    Kind::NewClient => new_meter.ns,
                    _ => sim.meter.ns,
                });
                total.calls += sim.meter.calls;
                total.bytes += sim.meter.bytes;
                new_meter.ns = 0;
                sent = sim.into_parts().2;
            }
            let per = |x: usize| x as f64 / n.max(1) as f64;
            match kind {
                Kind::NewClient => Row {
                    median_ns: median(samples),
                    calls: per(new_meter.calls),
                    bytes: per(new_meter.bytes),
                    note: format!("{} B Client struct", std::mem::size_of::<Client>()),
                },
                _ => Row {
                    median_ns: median(samples),
                    calls: per(total.calls),
                    bytes: per(total.bytes),
                    note: "start .. Registered, 6 requests".into(),
                },
            }
        }
        Kind::Notify => {
            let mut sim = Sim::new(1, &mut new_meter);
            sim.bootstrap_register();
            let mut observe = request(msg::GET, "/3/0/9", None, &[]);
            msg::set_observe(&mut observe, 0);
            let (code, _, _, obs) = sim.dm_request(observe);
            assert!(code == msg::CONTENT && obs.is_some(), "Observe accepted");
            let before = sim.dm.notifications;
            sim.meter = Meter::default();
            let mut samples = Vec::with_capacity(n);
            for i in 0..n {
                sim.now += 1_000;
                let (client, out, now) = (&mut sim.client, &mut sim.out, sim.now);
                let ns = sim.meter.ns;
                sim.meter
                    .run(|| measured_notify(client, now, (i % 100) as i64, out));
                samples.push(sim.meter.ns - ns);
                sim.settle();
            }
            let sent = sim.dm.notifications - before;
            assert_eq!(sent, n, "one notification per set");
            let bytes = sim.dm.last.map_or(0, |l| l.2);
            Row {
                median_ns: median(samples),
                calls: sim.meter.calls as f64 / n.max(1) as f64,
                bytes: sim.meter.bytes as f64 / n.max(1) as f64,
                note: format!("{bytes} B payload"),
            }
        }
        _ => {
            let mut sim = Sim::new(1, &mut new_meter);
            sim.bootstrap_register();
            sim.meter = Meter::default();
            let mut samples = Vec::with_capacity(n);
            let mut answer = None;
            for i in 0..n {
                sim.now += 1;
                let ns = sim.meter.ns;
                let got = sim.dm_request(dm_packet(kind, i));
                samples.push(sim.meter.ns - ns);
                assert_eq!(got.0, expected_code(kind), "{kind:?} answered");
                answer = Some(got);
            }
            let note = match answer {
                Some((_, cf, len, _)) => format!(
                    "{len} B payload{}",
                    cf.map(|c| format!(", cf {c}")).unwrap_or_default()
                ),
                None => String::new(),
            };
            Row {
                median_ns: median(samples),
                calls: sim.meter.calls as f64 / n.max(1) as f64,
                bytes: sim.meter.bytes as f64 / n.max(1) as f64,
                note,
            }
        }
    }
}

// ---- heap per client ----

/// One client: live bytes and blocks after Register, with a full duplicate cache, after
/// EXCHANGE_LIFETIME, and the process's peak on the way.
fn one_client() {
    let mut new_meter = Meter::default();
    // The harness's datagram room is made first: not the client's heap, nor the servers'.
    let sent = (Sent::new(), Sent::new());
    let base = heap();
    reset_peak();
    reset_client_heap();
    let mut sim = Sim::with_sent(7, &mut new_meter, sent);
    sim.bootstrap_register();
    let with_servers = heap();
    let peak = peak() - base.live;
    let client_peak = CLIENT_PEAK.load(Relaxed);
    let client_live = CLIENT_LIVE.load(Relaxed);
    let dm = sim.peer(DM_PORT).expect("the LwM2M Server is a peer");
    let (mut client, mut now, (mut out, _spare)) = sim.into_parts();
    let registered = heap();
    // 64 CON Writes from the LwM2M Server: its duplicate cache is full (dedup::SeenCache::CAP),
    // each entry holding the answer sent. (Reads would leave it empty: a duplicate GET is
    // served again, nothing of it is kept.)
    for mid in 0..64u16 {
        let mut p = dm_packet(Kind::Write, usize::from(mid));
        p.header.set_version(1);
        p.header.set_type(coap_lite::MessageType::Confirmable);
        p.header.message_id = 0x4000 + mid;
        p.set_token(mid.to_be_bytes().to_vec());
        now += 1;
        let bytes = p.to_bytes().expect("request encodes");
        client_call(|| measured_datagram(&mut client, now, dm, &bytes, &mut out));
        assert_eq!(out.len(), 1, "one answer per Write");
        out.clear();
    }
    let full_cache = heap();
    // A timer turn a millisecond later expires nothing but gives back the rooms the Writes
    // left (outbox, exchange and peer tables), as the client's next real timeout would.
    client_call(|| measured_timeout(&mut client, now + 1, &mut out));
    assert!(out.is_empty(), "nothing due a millisecond later");
    let full_trimmed = heap();
    let later = now + params().exchange_lifetime_ms() + 1_000;
    let cache_peak = CLIENT_PEAK.load(Relaxed);
    client_call(|| measured_timeout(&mut client, later, &mut out));
    assert!(out.is_empty(), "nothing to send while idle");
    let settled = heap();
    let row = |label: &str, h: Heap, note: &str| {
        println!(
            "  {label:<26} {:>7} B in {:>4} blocks  {note}",
            h.live - base.live,
            h.blocks - base.blocks
        );
    };
    println!();
    println!("Heap of one client (counting allocator: sizes asked for, malloc's own overhead not");
    println!("included; the Box<Client> counted)");
    row(
        "after Register:",
        registered,
        "(duplicate caches hold the answers to the Bootstrap-Server)",
    );
    row(
        "full duplicate cache:",
        full_cache,
        "(+ 64 answered Writes from the LwM2M Server)",
    );
    row(
        "  and after a timer turn:",
        full_trimmed,
        "(the rooms a burst left given back; the caches still full)",
    );
    row(
        "after EXCHANGE_LIFETIME:",
        settled,
        "(idle, registered: caches expired)",
    );
    println!(
        "  process peak:              {peak:>7} B above the start (client, both fake servers, no socket buffers)"
    );
    println!(
        "  of which the fake servers: {:>7} B live at the end",
        with_servers.live - registered.live
    );
    println!(
        "  the client's own peak:     {client_peak:>7} B from Client::new to Registered ({client_live} B live then), {cache_peak} B through the 64 Writes"
    );
    drop(black_box(client));
}

// ---- a fleet in one process ----

fn fleet(n: usize) {
    let mut clients: Vec<(Box<Client>, u64)> = Vec::with_capacity(n);
    let mut new_meter = Meter::default();
    let mut in_client = Meter::default();
    let mut sent = (Sent::new(), Sent::new());
    let base = heap();
    let rss_before = rss();
    let start = Instant::now();
    for i in 0..n {
        let mut sim = Sim::with_sent(i as u64, &mut new_meter, sent);
        sim.bootstrap_register();
        in_client.ns += sim.meter.ns;
        let (client, now, room) = sim.into_parts();
        clients.push((client, now));
        sent = room;
    }
    let mut out = sent.0;
    let wall = start.elapsed();
    let registered = heap();
    let rss_registered = rss();
    let later =
        clients.iter().map(|c| c.1).max().unwrap_or(0) + params().exchange_lifetime_ms() + 1_000;
    let settle_start = Instant::now();
    for (client, _) in &mut clients {
        measured_timeout(client, later, &mut out);
    }
    let settle = settle_start.elapsed();
    assert!(out.is_empty(), "nothing to send while idle");
    let settled = heap();
    let per = |h: Heap| {
        (
            (h.live - base.live) as f64 / n as f64,
            (h.blocks - base.blocks) as f64 / n as f64,
        )
    };
    let (reg_b, reg_blocks) = per(registered);
    let (idle_b, idle_blocks) = per(settled);
    let gib = (1u64 << 30) as f64;
    println!();
    println!("{n} clients in one process, one after the other, each with fresh fake servers");
    println!(
        "  bootstrap + register, wall:   {:>8.3} s  (of which in the client: new {:.3} s, start..Registered {:.3} s)",
        wall.as_secs_f64(),
        new_meter.ns as f64 / 1e9,
        in_client.ns as f64 / 1e9
    );
    println!(
        "  heap per client registered:   {reg_b:>8.0} B in {reg_blocks:.1} blocks  -> {:.0} clients per GiB",
        gib / reg_b
    );
    println!(
        "  heap per client idle (after EXCHANGE_LIFETIME): {idle_b:.0} B in {idle_blocks:.1} blocks -> {:.0} clients per GiB  (handle_timeout on all: {:.3} s)",
        gib / idle_b,
        settle.as_secs_f64()
    );
    if let (Some(a), Some(b)) = (rss_before, rss_registered) {
        println!(
            "  RSS growth per client registered: {:.0} B (malloc overhead and fragmentation included)",
            b.saturating_sub(a) as f64 / n as f64
        );
    }
    drop(black_box(clients));
}

// ---- main ----

fn usage() -> ! {
    eprintln!("usage: bench_core [--n N] [--fleet CLIENTS] [--only KIND]");
    eprintln!(
        "  KIND: {}",
        KINDS.iter().map(|k| k.1).collect::<Vec<_>>().join(", ")
    );
    std::process::exit(2)
}

fn main() {
    let mut n = 5_000usize;
    let mut fleet_size = 10_000usize;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--n" => n = value().parse().unwrap_or_else(|_| usage()),
            "--fleet" => fleet_size = value().parse().unwrap_or_else(|_| usage()),
            "--only" => {
                let name = value();
                let kind = KINDS
                    .iter()
                    .find(|k| k.1 == name)
                    .unwrap_or_else(|| usage());
                only = Some(kind.0);
            }
            _ => usage(),
        }
    }

    if let Some(kind) = only {
        // For callgrind: the setup, then exactly `n` operations; figures left to the caller.
        set_counting(false);
        let row = run_kind(kind, n);
        black_box(row);
        println!("{kind:?}: {n} operations");
        return;
    }

    println!("Sans-I/O core, per operation: client calls only (handle_datagram / handle_timeout /");
    println!(
        "start / set, and draining poll_transmit, poll_event, poll_peer_change, poll_timeout)."
    );
    println!(
        "ns: median over N = {n}; allocs and bytes: mean allocation calls and bytes asked for."
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10}  note",
        "operation", "ns/op", "allocs/op", "bytes/op"
    );
    for (kind, _, label) in KINDS {
        let row = run_kind(kind, n);
        println!(
            "{label:<34} {:>10} {:>10.1} {:>10.0}  {}",
            row.median_ns, row.calls, row.bytes, row.note
        );
    }
    one_client();
    if fleet_size > 0 {
        fleet(fleet_size);
    }
}
