//! Fleet: many LwM2M clients in one process, on one thread, driven by the sans-I/O API; a
//! load test for a server, and a measure of what a registered client costs (issue 15).
//!
//!   cargo run --release --example fleet -- --clients 100000                  # in memory
//!   cargo run --release --example fleet -- --clients 10000 --rate 500 --read-every 60
//!   cargo run --example servers &                                             # then, over UDP:
//!   cargo run --release --example fleet -- --udp coap://127.0.0.1:5783 --clients 1000 --rate 200
//!   cargo run --release --example fleet -- --udp coap://127.0.0.1:5683 --no-bootstrap
//!
//! In memory (the default), every client bootstraps (or, with `--no-bootstrap`, starts
//! factory-provisioned with the LwM2M Server account) and registers against the fake servers
//! of examples/support/fake_servers.rs: one Bootstrap-Server and one LwM2M Server state per
//! client, in the same process, with datagrams handed over at once and simulated time advanced
//! by hand from one deadline to the next (no sleeps, no sockets). Registrations start at
//! `--rate` per simulated second; once all are registered the fleet stays registered for
//! `--for` simulated seconds, sending Updates (`--lifetime`), and the LwM2M Server reads /3/0
//! of every client every `--read-every` seconds. Then it prints what it took and what the
//! clients hold on the heap (counting allocator, examples/support/counting_alloc.rs), measured
//! again after the fake servers are dropped so that the figure is the clients' own.
//!
//! With `--udp URI` the clients talk real UDP to a real server: a Bootstrap-Server's URI, or
//! with `--no-bootstrap` an LwM2M Server's. One thread polls every socket (epoll) and sleeps
//! until a datagram arrives or the earliest client deadline or start is due. Each client has a
//! socket of its own (`--sockets per-client`), so the fleet needs one file descriptor per
//! client: the soft RLIMIT_NOFILE is raised to the hard one if needed, and beyond that the run
//! is refused. Shared sockets (`--sockets shared:K`) are refused with the reason: a server tells
//! clients apart by their source address and port alone (its registrations, Bootstrap sessions,
//! duplicate detection by message ID and NSTART are all per address), so clients behind one
//! socket would be one client to it; each client needs a source port of its own.
//! After `--for` real seconds (default 0) every client de-registers, at `--rate` too. It
//! prints the registration latency (start to Registered) besides the totals: at a rate the
//! server cannot take, lost datagrams show up as retransmissions and seconds of latency.
//! `coaps://` is not supported here (no DTLS in this loop).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use clap::Parser;
use lwm2mc::accounts::factory;
use lwm2mc::coap::msg;
use lwm2mc::uri::{Scheme, ServerUri};
use lwm2mc::{Client, Config, Event, PeerChange, PeerId, Store};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{heap, Heap};

#[path = "support/fake_servers.rs"]
mod fake_servers;
use fake_servers::{request, uri, FakeBs, FakeDm, FakeServer, BS_PORT, DM_PORT, SSID, TLV};

#[derive(Parser, Debug)]
#[command(about = "Many LwM2M clients on one thread: in memory, or over UDP against a server")]
struct Args {
    /// How many clients.
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Start factory-provisioned with the LwM2M Server account: register without bootstrapping
    /// (with --udp, the URI is then the LwM2M Server's).
    #[arg(long)]
    no_bootstrap: bool,
    /// Registrations (Client::start) per second, simulated in memory, real over UDP; 0: all at
    /// once.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds to stay registered after the last client registered (simulated in memory, real
    /// over UDP). Default: 600 in memory, 0 over UDP.
    #[arg(long = "for")]
    for_s: Option<f64>,
    /// Registration lifetime (s) of the server account (in memory, and with --no-bootstrap;
    /// a real Bootstrap-Server writes its own).
    #[arg(long, default_value_t = 300)]
    lifetime: u32,
    /// In memory: the LwM2M Server reads /3/0 (TLV) of every registered client every this many
    /// simulated seconds (0: never).
    #[arg(long, default_value_t = 0.0)]
    read_every: f64,
    /// Real UDP to this coap:// URI: a Bootstrap-Server, or an LwM2M Server with --no-bootstrap.
    #[arg(long, value_name = "URI")]
    udp: Option<String>,
    /// With --udp: `per-client` (one socket each). `shared:K` is refused (see the notes at the
    /// top of examples/fleet.rs).
    #[arg(long, default_value = "per-client")]
    sockets: String,
    /// Endpoint names are PREFIX-0, PREFIX-1, ...
    #[arg(long, default_value = "fleet")]
    prefix: String,
    /// Give up waiting for registrations after this many seconds (simulated in memory, real
    /// over UDP) from the last start.
    #[arg(long, default_value_t = 600.0)]
    give_up: f64,
}

// ---- one client, whatever carries its datagrams ----

/// What the fleet counts, over all clients.
#[derive(Default)]
struct Tally {
    registered: usize,
    /// When the last client registered first (ms on the fleet's clock).
    last_registered_at: u64,
    /// BootstrapFailed and RegistrationFailed events.
    failures: usize,
    bootstrapped: usize,
    updates: usize,
    deregistered: usize,
    /// Requests from servers received, and responses sent to them (a duplicate answered again
    /// from the client's cache counts twice).
    requests_received: usize,
    requests_answered: usize,
    datagrams_sent: usize,
    datagrams_received: usize,
}

impl Tally {
    fn event(&mut self, member: &mut Member, now: u64, event: Event) {
        match event {
            Event::Registered { .. } if member.registered_at.is_none() => {
                member.registered_at = Some(now);
                self.registered += 1;
                self.last_registered_at = self.last_registered_at.max(now);
            }
            Event::RegistrationUpdated { .. } => self.updates += 1,
            Event::RegistrationFailed { .. } | Event::BootstrapFailed { .. } => self.failures += 1,
            Event::Bootstrapped => self.bootstrapped += 1,
            Event::Deregistered { .. } => self.deregistered += 1,
            _ => {}
        }
    }

    /// A datagram the client received: a request (code class 0, not empty) is counted.
    fn received(&mut self, data: &[u8]) {
        self.datagrams_received += 1;
        if data.get(1).is_some_and(|c| *c != 0 && c >> 5 == 0) {
            self.requests_received += 1;
        }
    }

    /// A datagram the client sent: a response (code class 2 to 5) is an answered request.
    fn sent(&mut self, data: &[u8]) {
        self.datagrams_sent += 1;
        if data.get(1).is_some_and(|c| c >> 5 >= 2) {
            self.requests_answered += 1;
        }
    }
}

/// One client and the fleet's bookkeeping for it.
struct Member {
    client: Box<Client>,
    /// When Client::start is due (ms), and when it ran.
    start_at: u64,
    started_at: Option<u64>,
    registered_at: Option<u64>,
    /// Client::stop was called; the client is done (de-registered, or gave up).
    stopping: bool,
    stopped: bool,
}

impl Member {
    fn new(client: Client, start_at: u64) -> Member {
        Member {
            client: Box::new(client),
            start_at,
            started_at: None,
            registered_at: None,
            stopping: false,
            stopped: false,
        }
    }

    fn started(&self) -> bool {
        self.started_at.is_some()
    }

    fn start(&mut self, now: u64) {
        self.started_at = Some(now);
        self.client.start(now);
    }
}

/// Time from Client::start to Registered (ms), over the clients that registered: mean, median,
/// 99th percentile, max.
fn latency_line<'a>(members: impl Iterator<Item = &'a Member>, unit: &str) -> String {
    let mut ms: Vec<u64> = members
        .filter_map(|m| Some(m.registered_at?.saturating_sub(m.started_at?)))
        .collect();
    if ms.is_empty() {
        return "none registered".into();
    }
    ms.sort_unstable();
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q) as usize];
    let mean = ms.iter().sum::<u64>() as f64 / ms.len() as f64;
    format!(
        "mean {mean:.1} ms, median {} ms, p99 {} ms, max {} ms ({unit})",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// A new client with a Bootstrap-Server account at `uri` (`bootstrap`), or else an LwM2M
/// Server account there (Short Server ID 1, `lifetime` s).
fn new_client(endpoint: String, uri: &str, bootstrap: bool, lifetime: u32, seed: u64) -> Client {
    let mut store = Store::with_standard_objects();
    if bootstrap {
        factory::add_bootstrap_account(&mut store, uri, 0).expect("bootstrap account");
    } else {
        factory::add_server_account(&mut store, SSID, uri, i64::from(lifetime))
            .expect("server account");
    }
    factory::add_device(&mut store, "ACME", "Fleet-1", "0001").expect("device");
    let mut config = Config::new(endpoint);
    config.seed = seed;
    Client::new(config, store)
}

/// What carries a client's datagrams.
trait Wire {
    /// A peer opened or closed (`Client::poll_peer_change`).
    fn peer_change(&mut self, client: &Client, change: PeerChange);
    /// A datagram for `peer`.
    fn send(&mut self, client: &Client, peer: PeerId, data: &[u8]);
}

/// Takes everything the client has to hand out after a call: peer changes and datagrams (to
/// `wire`), events (into the tally).
fn drain(m: &mut Member, now: u64, tally: &mut Tally, wire: &mut impl Wire) {
    // Peer changes before and after the datagrams: a peer opens before its first datagram and
    // closes once its last one is out.
    while let Some(change) = m.client.poll_peer_change() {
        wire.peer_change(&m.client, change);
    }
    while let Some(t) = m.client.poll_transmit() {
        tally.sent(&t.data);
        wire.send(&m.client, t.peer, &t.data);
    }
    while let Some(change) = m.client.poll_peer_change() {
        wire.peer_change(&m.client, change);
    }
    while let Some(event) = m.client.poll_event() {
        tally.event(m, now, event);
    }
}

/// Wake-ups by time: (deadline, member), the latest one per member remembered so that stale
/// entries are skipped when they come up.
struct Schedule {
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    due: Vec<Option<u64>>,
}

impl Schedule {
    fn new(n: usize) -> Schedule {
        Schedule {
            heap: BinaryHeap::with_capacity(n),
            due: vec![None; n],
        }
    }

    /// Member `i` next wants to run at `at` (None: nothing pending).
    fn set(&mut self, i: usize, at: Option<u64>) {
        if self.due[i] == at {
            return;
        }
        self.due[i] = at;
        if let Some(t) = at {
            self.heap.push(Reverse((t, i as u32)));
        }
    }

    /// The earliest live deadline.
    fn next(&mut self) -> Option<u64> {
        while let Some(Reverse((t, i))) = self.heap.peek().copied() {
            if self.due[i as usize] == Some(t) {
                return Some(t);
            }
            self.heap.pop();
        }
        None
    }

    /// A member whose deadline is at or before `now`, taken off the schedule.
    fn pop_due(&mut self, now: u64) -> Option<usize> {
        let t = self.next()?;
        if t > now {
            return None;
        }
        let Reverse((_, i)) = self.heap.pop()?;
        self.due[i as usize] = None;
        Some(i as usize)
    }
}

/// When member `i` starts: `rate` per second from 0 (0: all at once).
fn start_time(i: usize, rate: f64) -> u64 {
    if rate > 0.0 {
        (i as f64 * 1000.0 / rate) as u64
    } else {
        0
    }
}

/// A member's next deadline after it ran at `now`: never `now` again, so that a deadline
/// left in the past cannot keep one instant (or one real millisecond) spinning.
fn later(t: u64, now: u64) -> u64 {
    t.max(now + 1)
}

fn secs_to_ms(s: f64) -> u64 {
    (s.max(0.0) * 1000.0) as u64
}

// ---- in memory ----

/// One client with the fake servers' state for it.
struct MemSlot {
    m: Member,
    /// The Bootstrap-Server's session: made when the client sends it something, dropped once
    /// its plan is done.
    bs: Option<Box<FakeBs>>,
    dm: Option<Box<FakeDm>>,
    next_read: Option<u64>,
}

/// In memory, a datagram goes to the fake server on its port.
struct ToServers<'a>(&'a mut Vec<(u16, Vec<u8>)>);

impl Wire for ToServers<'_> {
    fn peer_change(&mut self, _: &Client, _: PeerChange) {}

    fn send(&mut self, client: &Client, peer: PeerId, data: &[u8]) {
        if let Some(info) = client.peer_info(peer) {
            self.0.push((info.uri.port, data.to_vec()));
        }
    }
}

struct MemRun<'a> {
    args: &'a Args,
    read_every: u64,
    tally: Tally,
    /// Server-side counts, over all clients.
    reads_answered: usize,
    reads_failed: usize,
    /// Datagrams between a client and its servers during one step (reused).
    to_servers: Vec<(u16, Vec<u8>)>,
}

impl MemRun<'_> {
    /// Runs whatever is due for slot `s` at `now`, then carries datagrams both ways until
    /// nothing moves. Returns the slot's next deadline.
    fn step(&mut self, s: &mut MemSlot, seed: u64, now: u64) -> Option<u64> {
        if !s.m.started() && now >= s.m.start_at {
            s.m.start(now);
        } else if s.m.client.poll_timeout().is_some_and(|t| t <= now) {
            s.m.client.handle_timeout(now);
        }
        if let Some(bs) = s.bs.as_mut() {
            if bs.ep.poll_timeout().is_some_and(|t| t <= now) {
                bs.timeout(now);
            }
        }
        if let Some(dm) = s.dm.as_mut() {
            if dm.ep.poll_timeout().is_some_and(|t| t <= now) {
                dm.timeout(now);
            }
            if s.next_read.is_some_and(|t| t <= now) {
                let mut read = request(msg::GET, "/3/0", None, &[]);
                msg::set_accept(&mut read, TLV);
                dm.ep.request(now, 0, read, true);
                s.next_read = Some(now + self.read_every);
            }
        }
        loop {
            drain(
                &mut s.m,
                now,
                &mut self.tally,
                &mut ToServers(&mut self.to_servers),
            );
            let mut moved = !self.to_servers.is_empty();
            for (port, data) in self.to_servers.drain(..) {
                match port {
                    BS_PORT => {
                        s.bs.get_or_insert_with(|| {
                            Box::new(FakeBs::new(seed ^ 0xB5, i64::from(self.args.lifetime)))
                        })
                        .receive(now, &data)
                    }
                    DM_PORT => {
                        s.dm.get_or_insert_with(|| Box::new(FakeDm::new(seed ^ 0xD3)))
                            .receive(now, &data)
                    }
                    _ => {}
                }
            }
            for port in [BS_PORT, DM_PORT] {
                let ep = match port {
                    BS_PORT => s.bs.as_mut().map(|b| &mut b.ep),
                    _ => s.dm.as_mut().map(|d| &mut d.ep),
                };
                let Some(ep) = ep else { continue };
                let Some(peer) =
                    s.m.client
                        .peers()
                        .find(|(_, info)| info.uri.port == port)
                        .map(|(id, _)| id)
                else {
                    // The client dropped this peer: what the server still sends is lost.
                    while ep.poll_transmit().is_some() {}
                    continue;
                };
                while let Some((_, data)) = ep.poll_transmit() {
                    moved = true;
                    self.tally.received(&data);
                    s.m.client.handle_datagram(now, peer, &data);
                }
            }
            if !moved {
                break;
            }
        }
        // The Bootstrap-Server forgets a finished session (the client will not come back; if
        // it does, a new session starts).
        if s.bs.as_ref().is_some_and(|b| b.done()) && !s.m.client.is_bootstrapping() {
            s.bs = None;
        }
        if self.read_every > 0 && s.next_read.is_none() && s.m.registered_at.is_some() {
            s.next_read = Some(now + self.read_every);
        }
        let dm = s.dm.as_ref();
        [
            (!s.m.started()).then_some(s.m.start_at),
            s.m.client.poll_timeout(),
            s.bs.as_ref().and_then(|b| b.ep.poll_timeout()),
            dm.and_then(|d| d.ep.poll_timeout()),
            s.next_read,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| later(t, now))
    }
}

/// Live heap above `base`, per client: (bytes, blocks).
fn per_client(h: Heap, base: Heap, n: usize) -> (f64, f64) {
    let n = n.max(1) as f64;
    (
        h.live.saturating_sub(base.live) as f64 / n,
        h.blocks.saturating_sub(base.blocks) as f64 / n,
    )
}

fn run_mem(args: &Args) {
    let n = args.clients;
    let for_ms = secs_to_ms(args.for_s.unwrap_or(600.0));
    let give_up = secs_to_ms(args.give_up);
    println!(
        "fleet: in memory, {n} clients, {}, rate {}, lifetime {} s, for {} s, reads every {} s \
         (simulated time)",
        if args.no_bootstrap {
            "factory-provisioned (no bootstrap)"
        } else {
            "bootstrapping"
        },
        rate_text(args.rate),
        args.lifetime,
        for_ms / 1000,
        args.read_every
    );
    let mut slots: Vec<MemSlot> = Vec::with_capacity(n);
    let mut run = MemRun {
        args,
        read_every: secs_to_ms(args.read_every),
        tally: Tally::default(),
        reads_answered: 0,
        reads_failed: 0,
        to_servers: Vec::with_capacity(8),
    };
    let rss_before = rss();
    // Above this: the slots themselves (one block); below, the clients, the fake servers'
    // state and the schedule (dropped before the clients' own heap is measured).
    let base = heap();
    let mut schedule = Schedule::new(n);
    let wall = Instant::now();
    let server_uri = uri(if args.no_bootstrap { DM_PORT } else { BS_PORT });
    for i in 0..n {
        let client = new_client(
            format!("{}-{i}", args.prefix),
            &server_uri,
            !args.no_bootstrap,
            args.lifetime,
            i as u64,
        );
        let start_at = start_time(i, args.rate);
        slots.push(MemSlot {
            m: Member::new(client, start_at),
            bs: None,
            dm: None,
            next_read: None,
        });
        schedule.set(i, Some(start_at));
    }
    let created_wall = wall.elapsed();
    let created = heap();
    let last_start = start_time(n.saturating_sub(1), args.rate);
    let mut all_registered: Option<(u64, Duration, Heap)> = None;
    let mut end = last_start + give_up;
    let mut now = 0;
    while let Some(t) = schedule.next() {
        if t > end {
            break;
        }
        now = t;
        while let Some(i) = schedule.pop_due(now) {
            let next = run.step(&mut slots[i], i as u64, now);
            schedule.set(i, next);
        }
        if all_registered.is_none() && run.tally.registered == n {
            all_registered = Some((now, wall.elapsed(), heap()));
            end = now + for_ms;
        }
    }
    let total_wall = wall.elapsed();
    let at_end = heap();
    let rss_end = rss();
    for s in &slots {
        if let Some(dm) = &s.dm {
            run.reads_answered += dm.answered;
            run.reads_failed += dm.failed;
        }
    }
    // The servers' state and the schedule go; what is left is the clients (and the slots,
    // allocated before `base`).
    for s in &mut slots {
        s.bs = None;
        s.dm = None;
    }
    drop(schedule);
    let clients_only = heap();

    let t = &run.tally;
    println!("registered:               {} of {n}", t.registered);
    println!(
        "failures:                 {} (BootstrapFailed/RegistrationFailed events), {} clients not registered",
        t.failures,
        n - t.registered
    );
    println!(
        "clients created:          wall {:.3} s ({:.1} us per client)",
        created_wall.as_secs_f64(),
        created_wall.as_secs_f64() * 1e6 / n.max(1) as f64
    );
    match all_registered {
        Some((sim, w, h)) => {
            let w = w - created_wall;
            println!(
                "time to register all:     wall {:.3} s ({:.1} us per client), simulated {:.3} s",
                w.as_secs_f64(),
                w.as_secs_f64() * 1e6 / n.max(1) as f64,
                sim as f64 / 1000.0
            );
            println!(
                "registrations per second: wall {:.0}, simulated {}",
                n as f64 / w.as_secs_f64().max(1e-9),
                if sim > 0 {
                    format!("{:.0}", n as f64 * 1000.0 / sim as f64)
                } else {
                    "all at t=0".into()
                }
            );
            let (b, blocks) = per_client(h, base, n);
            println!(
                "heap when all registered: {b:.0} B in {blocks:.1} blocks per client (clients and their fake servers' state)"
            );
        }
        None => println!(
            "time to register all:     not all registered after {:.0} s simulated",
            now as f64 / 1000.0
        ),
    }
    println!(
        "registration latency:     {}",
        latency_line(
            slots.iter().map(|s| &s.m),
            "start to Registered, simulated; no network delay"
        )
    );
    println!(
        "then registered for:      {:.0} s simulated, {} Updates, {} server Reads answered ({} failed), {} requests answered by the clients",
        for_ms as f64 / 1000.0,
        t.updates,
        run.reads_answered,
        run.reads_failed,
        t.requests_answered
    );
    println!(
        "wall, whole run:          {:.3} s ({} datagrams sent by clients, {} received)",
        total_wall.as_secs_f64(),
        t.datagrams_sent,
        t.datagrams_received
    );
    let (b, blocks) = per_client(created, base, n);
    println!("heap per client, created: {b:>8.0} B in {blocks:.1} blocks (before start)");
    let (b, blocks) = per_client(at_end, base, n);
    println!(
        "heap per client, at end:  {b:>8.0} B in {blocks:.1} blocks (clients, fake servers, schedule)"
    );
    let (own, own_blocks) = per_client(clients_only, base, n);
    println!(
        "heap per client, own:     {own:>8.0} B in {own_blocks:.1} blocks (clients alone, the fake servers dropped)"
    );
    let gib = (1u64 << 30) as f64;
    println!(
        "clients per GiB of heap:  {:.0} (own heap; malloc's overhead not included)",
        gib / own.max(1.0)
    );
    print_rss(
        rss_before,
        rss_end,
        n,
        ", fake servers and malloc overhead included",
    );
    if let Some(hwm) = peak_rss() {
        println!(
            "peak RSS:                 {:.1} MiB",
            hwm as f64 / (1 << 20) as f64
        );
    }
    drop(slots);
}

// ---- over UDP ----

/// Nonblocking sockets, one per client, watched by one epoll instance.
struct Poller {
    fd: i32,
}

impl Poller {
    fn new() -> io::Result<Poller> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller { fd })
    }

    fn add(&self, socket: &UdpSocket, key: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: key,
        };
        // SAFETY: both descriptors are open; `ev` outlives the call.
        let r =
            unsafe { libc::epoll_ctl(self.fd, libc::EPOLL_CTL_ADD, socket.as_raw_fd(), &mut ev) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `timeout_ms` (-1: forever) and puts the ready keys into `ready`.
    fn wait(&self, timeout_ms: i32, ready: &mut Vec<u64>) -> io::Result<()> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 256];
        // SAFETY: `events` is writable for its length.
        let n = unsafe {
            libc::epoll_wait(
                self.fd,
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        ready.clear();
        ready.extend(events.iter().take(n as usize).map(|e| e.u64));
        Ok(())
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// The largest datagram a client takes here: a 1,024-byte body with room for the CoAP header
/// and options (the default limits).
const MAX_DATAGRAM: usize = 1536;

/// Makes room for `n` sockets: raises the soft RLIMIT_NOFILE towards the hard one if needed.
fn ensure_fds(n: usize) -> Result<(), String> {
    let need = libc::rlim_t::try_from(n)
        .unwrap_or(libc::rlim_t::MAX)
        .saturating_add(64);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is writable.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", io::Error::last_os_error()));
    }
    if lim.rlim_cur >= need {
        return Ok(());
    }
    if lim.rlim_max < need {
        return Err(format!(
            "--sockets per-client needs one file descriptor per client: {n} clients need about \
             {need}, and the hard limit (ulimit -Hn) is {}",
            lim.rlim_max
        ));
    }
    lim.rlim_cur = need;
    // SAFETY: `lim` is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(format!("setrlimit: {}", io::Error::last_os_error()));
    }
    Ok(())
}

/// One client over its own socket, with its peers' addresses.
struct UdpSlot {
    m: Member,
    socket: UdpSocket,
    peers: Vec<(PeerId, SocketAddr)>,
}

/// Where a peer URI points (resolved once per host and port).
fn resolve(
    cache: &mut HashMap<(String, u16), Option<SocketAddr>>,
    uri: &ServerUri,
) -> Option<SocketAddr> {
    *cache
        .entry((uri.host.clone(), uri.port))
        .or_insert_with(|| {
            (uri.host.as_str(), uri.port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
        })
}

/// Over UDP, a datagram goes out of the client's own socket to its peer's address.
struct Socket<'a> {
    socket: &'a UdpSocket,
    peers: &'a mut Vec<(PeerId, SocketAddr)>,
    cache: &'a mut HashMap<(String, u16), Option<SocketAddr>>,
    send_errors: &'a mut usize,
}

impl Wire for Socket<'_> {
    fn peer_change(&mut self, client: &Client, change: PeerChange) {
        match change {
            PeerChange::Opened(id) => {
                let addr = client
                    .peer_info(id)
                    .filter(|i| i.uri.scheme == Scheme::Coap)
                    .and_then(|i| resolve(self.cache, &i.uri));
                if let Some(addr) = addr {
                    self.peers.push((id, addr));
                }
            }
            PeerChange::Closed(id) => self.peers.retain(|(p, _)| *p != id),
        }
    }

    fn send(&mut self, _: &Client, peer: PeerId, data: &[u8]) {
        let Some(addr) = self.peers.iter().find(|(p, _)| *p == peer).map(|(_, a)| *a) else {
            return; // unresolved or coaps://: the exchange times out and is reported
        };
        match self.socket.send_to(data, addr) {
            Ok(_) => {}
            // ICMP port unreachable from an earlier datagram; retransmissions handle it.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(_) => *self.send_errors += 1,
        }
    }
}

fn udp_drain(
    s: &mut UdpSlot,
    now: u64,
    tally: &mut Tally,
    cache: &mut HashMap<(String, u16), Option<SocketAddr>>,
    send_errors: &mut usize,
) {
    let mut wire = Socket {
        socket: &s.socket,
        peers: &mut s.peers,
        cache,
        send_errors,
    };
    drain(&mut s.m, now, tally, &mut wire);
}

/// Counts a client asked to stop once it is done (never started counts as done).
fn note_stopped(m: &mut Member, stopped: &mut usize) {
    if m.stopping && !m.stopped && (!m.started() || m.client.is_stopped()) {
        m.stopped = true;
        *stopped += 1;
    }
}

fn run_udp(args: &Args, target: &str) -> Result<(), String> {
    if args.sockets != "per-client" {
        return Err(format!(
            "--sockets {}: only per-client sockets work. A server tells clients apart by their \
             source address and port alone (registrations, Bootstrap sessions, duplicate \
             detection by message ID and NSTART are kept per address, and its requests go to \
             the address of the registration), so clients sharing a socket would be one client \
             to it; each client needs a source port of its own.",
            args.sockets
        ));
    }
    let parsed = ServerUri::parse(target).map_err(|e| format!("--udp {target}: {e:?}"))?;
    if parsed.scheme != Scheme::Coap {
        return Err(format!(
            "--udp {target}: only coap:// (no DTLS in this loop)"
        ));
    }
    let server = (parsed.host.as_str(), parsed.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("--udp {target}: the host does not resolve"))?;
    let n = args.clients;
    ensure_fds(n)?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("address")
    } else {
        "[::]:0".parse().expect("address")
    };
    let for_ms = secs_to_ms(args.for_s.unwrap_or(0.0));
    let give_up = secs_to_ms(args.give_up);
    println!(
        "fleet: UDP to {target} ({}), {n} clients, one socket each, rate {}, for {} s",
        if args.no_bootstrap {
            "LwM2M Server, no bootstrap"
        } else {
            "Bootstrap-Server"
        },
        rate_text(args.rate),
        for_ms as f64 / 1000.0
    );
    let poller = Poller::new().map_err(|e| format!("epoll: {e}"))?;
    let rss_before = rss();
    let base = heap();
    let mut slots: Vec<UdpSlot> = Vec::with_capacity(n);
    for i in 0..n {
        let socket = UdpSocket::bind(bind).map_err(|e| format!("socket {i}: {e}"))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("socket {i}: {e}"))?;
        poller
            .add(&socket, i as u64)
            .map_err(|e| format!("epoll_ctl: {e}"))?;
        let client = new_client(
            format!("{}-{i}", args.prefix),
            target,
            !args.no_bootstrap,
            args.lifetime,
            lwm2mc::transport::udp::os_seed() ^ i as u64,
        );
        slots.push(UdpSlot {
            m: Member::new(client, start_time(i, args.rate)),
            socket,
            peers: Vec::new(),
        });
    }
    let mut schedule = Schedule::new(n);
    let mut tally = Tally::default();
    let mut cache = HashMap::new();
    let mut send_errors = 0usize;
    let mut ready = Vec::with_capacity(256);
    // One byte more than the largest datagram taken, so that a longer one is seen as such and
    // dropped rather than cut short (as the UDP adapter does).
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let clock = Instant::now();
    let ms = |c: &Instant| u64::try_from(c.elapsed().as_millis()).unwrap_or(u64::MAX);
    for (i, s) in slots.iter().enumerate() {
        schedule.set(i, Some(s.m.start_at));
    }
    let last_start = start_time(n.saturating_sub(1), args.rate);
    let mut end = last_start + give_up;
    let mut registered_all: Option<u64> = None;
    // The de-registration phase: when it began, the next client to stop (at the same rate as
    // the starts, so that the server is not flooded with De-registers either), how many are done.
    let mut stop_from: Option<u64> = None;
    let mut next_stop = 0usize;
    let mut stopped = 0usize;
    loop {
        let now = ms(&clock);
        if registered_all.is_none() && tally.registered == n {
            registered_all = Some(now);
            end = now + for_ms;
        }
        if now >= end && stop_from.is_none() {
            stop_from = Some(now);
            end = now + last_start + 10_000;
        }
        if let Some(from) = stop_from {
            while next_stop < n && from + start_time(next_stop, args.rate) <= now {
                let s = &mut slots[next_stop];
                s.m.stopping = true;
                s.m.client.stop(now);
                udp_drain(s, now, &mut tally, &mut cache, &mut send_errors);
                note_stopped(&mut s.m, &mut stopped);
                schedule.set(next_stop, s.m.client.poll_timeout().map(|t| later(t, now)));
                next_stop += 1;
            }
            if now >= end || stopped == n {
                break;
            }
        }
        // Due starts and timers.
        while let Some(i) = schedule.pop_due(now) {
            let s = &mut slots[i];
            if !s.m.started() {
                if s.m.stopping {
                    continue;
                }
                s.m.start(now);
            } else {
                s.m.client.handle_timeout(now);
            }
            udp_drain(s, now, &mut tally, &mut cache, &mut send_errors);
            note_stopped(&mut s.m, &mut stopped);
            schedule.set(i, s.m.client.poll_timeout().map(|t| later(t, now)));
        }
        // Sleep until the earliest deadline (rounded up: never woken early into a spin), a
        // datagram, the next stop, or the end of this phase.
        let next_stop_at = stop_from
            .filter(|_| next_stop < n)
            .map(|from| from + start_time(next_stop, args.rate));
        let next = [schedule.next(), next_stop_at, Some(end)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
        let wait = next.saturating_sub(ms(&clock));
        let wait = i32::try_from(wait).unwrap_or(i32::MAX);
        poller
            .wait(wait, &mut ready)
            .map_err(|e| format!("epoll_wait: {e}"))?;
        for &key in &ready {
            let i = key as usize;
            let Some(s) = slots.get_mut(i) else { continue };
            let now = ms(&clock);
            loop {
                match s.socket.recv_from(&mut buf) {
                    Ok((len, _)) if len > MAX_DATAGRAM => {}
                    Ok((len, from)) => {
                        let Some(peer) = s.peers.iter().find(|(_, a)| *a == from).map(|(p, _)| *p)
                        else {
                            continue; // not one of this client's servers
                        };
                        let data = &buf[..len.min(buf.len())];
                        tally.received(data);
                        s.m.client.handle_datagram(now, peer, data);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // ICMP port unreachable, or a signal: try the next socket.
                    Err(_) => break,
                }
            }
            udp_drain(s, now, &mut tally, &mut cache, &mut send_errors);
            note_stopped(&mut s.m, &mut stopped);
            schedule.set(i, s.m.client.poll_timeout().map(|t| later(t, now)));
        }
    }
    let wall = clock.elapsed();
    let at_end = heap();
    let rss_end = rss();

    println!("registered:               {} of {n}", tally.registered);
    println!(
        "failures:                 {} (BootstrapFailed/RegistrationFailed events), {} clients not registered, {} datagrams not sent",
        tally.failures,
        n - tally.registered,
        send_errors
    );
    match registered_all {
        Some(t) => println!(
            "time to register all:     wall {:.3} s ({:.1} us per client) -> {:.0} registrations per second",
            t as f64 / 1000.0,
            t as f64 * 1000.0 / n.max(1) as f64,
            n as f64 * 1000.0 / (t.max(1)) as f64
        ),
        None => println!(
            "time to register all:     not all registered; last registration at {:.3} s",
            tally.last_registered_at as f64 / 1000.0
        ),
    }
    println!(
        "registration latency:     {}",
        latency_line(slots.iter().map(|s| &s.m), "start to Registered, real")
    );
    println!(
        "server requests:          {} received, {} answered; {} Updates, {} de-registered",
        tally.requests_received, tally.requests_answered, tally.updates, tally.deregistered
    );
    println!(
        "datagrams:                {} sent, {} received, wall {:.3} s in all",
        tally.datagrams_sent,
        tally.datagrams_received,
        wall.as_secs_f64()
    );
    let (b, blocks) = per_client(at_end, base, n);
    println!(
        "heap per client:          {b:.0} B in {blocks:.1} blocks (client, socket bookkeeping; the kernel's socket buffers not included)"
    );
    let gib = (1u64 << 30) as f64;
    println!("clients per GiB of heap:  {:.0}", gib / b.max(1.0));
    print_rss(rss_before, rss_end, n, "");
    Ok(())
}

// ---- main ----

fn rate_text(rate: f64) -> String {
    if rate > 0.0 {
        format!("{rate} per second")
    } else {
        "unlimited".into()
    }
}

/// Resident set size of the process, from /proc/self/statm (Linux), in bytes.
fn rss() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The peak resident set size (VmHWM in /proc/self/status), in bytes.
fn peak_rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn main() {
    let args = Args::parse();
    if args.clients == 0 || args.clients > u32::MAX as usize {
        eprintln!("error: --clients must be between 1 and {}", u32::MAX);
        std::process::exit(2);
    }
    match &args.udp {
        None => run_mem(&args),
        Some(target) => {
            if let Err(e) = run_udp(&args, target) {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }
}

/// The "RSS at end" line: the process's RSS and what it grew by per client, `note` after the
/// per-client figure.
fn print_rss(before: Option<usize>, end: Option<usize>, n: usize, note: &str) {
    let (Some(a), Some(e)) = (before, end) else {
        return;
    };
    let per = e.saturating_sub(a) as f64 / n.max(1) as f64;
    println!(
        "RSS at end:               {:.1} MiB ({per:.0} B per client above the start{note}) -> {:.0} clients per GiB of RSS",
        e as f64 / (1 << 20) as f64,
        (1u64 << 30) as f64 / per.max(1.0)
    );
}
