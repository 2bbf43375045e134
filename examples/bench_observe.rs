//! Information Reporting benchmark: drives one `Client` on the sans-I/O API (no sockets, time
//! advanced by hand) and prints how fast it notifies and what an observation costs.
//!
//!   cargo run --release --example bench_observe            # 1, 100 and 10,000 observations
//!   cargo run --release --example bench_observe -- 1 100  # other sizes
//!
//! Figures are printed, never asserted: they depend on the machine. Each observation is on its
//! own path, `/32769/i/0`, one instance per observation of an application object held in the
//! store, so every `Client::set` in a round changes exactly one observed value.

use std::borrow::Cow;
use std::time::Instant;

use coap_lite::Packet;
use lwm2mc::accounts::factory;
use lwm2mc::coap::msg;
use lwm2mc::model::{ObjectDef, Operations, ResourceDef};
use lwm2mc::value::{Instances, Resources};
use lwm2mc::{Client, Config, Path, PeerId, ResourceType, ResourceValue, Store, Value};

// ---- heap accounting, for the whole process (examples/support/counting_alloc.rs) ----

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{alloc_calls, live_bytes};

// ---- the device under test ----

/// The application object: one instance per observation. Resource 0 is observed, resource 1
/// never is (the "set nobody observes" case).
const BENCH_OID: u16 = 32769;
const OBSERVED: u16 = 0;
const UNOBSERVED: u16 = 1;
const SSID: u16 = 1;
/// One simulated second per round: no pmin/pmax is set, so only changes make notifications.
const ROUND_MS: u64 = 1_000;

/// A mandatory, single, read-write Integer resource.
const fn integer(id: u16, name: &'static str) -> ResourceDef {
    ResourceDef::new(id, name, ResourceType::Integer, Operations::RW, false, true)
}

static BENCH_RESOURCES: [ResourceDef; 2] = [
    integer(OBSERVED, "Observed"),
    integer(UNOBSERVED, "Unobserved"),
];

fn bench_def() -> ObjectDef {
    ObjectDef {
        id: BENCH_OID,
        name: Cow::Borrowed("Bench"),
        version: Cow::Borrowed("1.0"),
        multiple: true,
        mandatory: false,
        resources: Cow::Borrowed(&BENCH_RESOURCES),
    }
}

/// Factory state: one NoSec server account (no bootstrap needed) and `instances` instances of
/// the bench object.
fn factory_store(instances: usize) -> Store {
    let mut store = Store::with_standard_objects();
    factory::add_server_account(&mut store, SSID, "coap://127.0.0.1:5683", 86_400)
        .expect("server account");
    factory::add_device(&mut store, "bench", "bench", "0").expect("device");
    store.define(bench_def(), false);
    let instances = u16::try_from(instances).expect("at most 65534 observations");
    for iid in 0..instances {
        for rid in [OBSERVED, UNOBSERVED] {
            store
                .set(&Path::resource(BENCH_OID, iid, rid), Value::Integer(0))
                .expect("bench instance");
        }
    }
    store
}

/// One registered client and the hand-made server side of its CoAP traffic.
struct Bench {
    client: Client,
    server: PeerId,
    now: u64,
    next_mid: u16,
    next_token: u64,
    observed: u16,
}

impl Bench {
    /// A client with `instances` bench instances, registered with SSID 1: the Register it
    /// sends is answered 2.01 with Location-Path rd/1 by hand.
    fn registered(instances: usize) -> Bench {
        let mut config = Config::new("bench-device");
        // Room for every observation and instance; the defaults (64, 32) suit small devices.
        config.limits.max_observations = instances.max(1);
        config.limits.max_instances = instances.max(32);
        let mut client = Client::new(config, factory_store(instances));
        let now = 1_000;
        client.start(now);
        let register = client.poll_transmit().expect("the client sends Register");
        let request = Packet::from_bytes(&register.data).expect("Register parses");
        assert_eq!(msg::uri_path(&request), Some(vec!["rd".to_string()]));
        let mut created = msg::new_response(msg::CREATED);
        created.header.set_version(1);
        created.header.message_id = request.header.message_id;
        created.set_token(request.get_token().to_vec());
        msg::add_location_path(&mut created, &["rd", "1"]);
        let bytes = created.to_bytes().expect("2.01 encodes");
        client.handle_datagram(now, register.peer, &bytes);
        while client.poll_transmit().is_some() {}
        while client.poll_event().is_some() {}
        assert_eq!(client.registered_servers(), vec![SSID], "registered");
        Bench {
            client,
            server: register.peer,
            now,
            next_mid: 1,
            next_token: 1,
            observed: 0,
        }
    }

    /// Observes `/32769/i/0` for the next instance `i`: a CON GET with Observe=0 from the
    /// server, which must be answered 2.05 with the Observe option.
    fn observe_next(&mut self) {
        let iid = self.observed.to_string();
        let mut get = msg::new_request(msg::GET, &["32769", &iid, "0"], &[]);
        msg::set_observe(&mut get, 0);
        get.header.set_version(1);
        get.header.message_id = self.next_mid;
        self.next_mid = self.next_mid.wrapping_add(1);
        get.set_token(self.next_token.to_be_bytes().to_vec());
        self.next_token += 1;
        let bytes = get.to_bytes().expect("Observe encodes");
        self.client.handle_datagram(self.now, self.server, &bytes);
        while self.client.poll_event().is_some() {}
        let mut accepted = false;
        while let Some(t) = self.client.poll_transmit() {
            let answer = Packet::from_bytes(&t.data).expect("the answer parses");
            accepted |= msg::code_of(&answer) == msg::CONTENT && msg::observe(&answer).is_some();
        }
        assert!(accepted, "Observe /32769/{iid}/0 was accepted");
        self.observed += 1;
    }

    /// Lets `ms` of simulated time pass and runs what is due; returns the datagrams sent.
    fn tick(&mut self, ms: u64) -> Vec<Vec<u8>> {
        self.now += ms;
        self.client.handle_timeout(self.now);
        while self.client.poll_event().is_some() {}
        let mut sent = Vec::new();
        while let Some(t) = self.client.poll_transmit() {
            sent.push(t.data);
        }
        sent
    }

    /// One round: every observed value changes, time passes, the notifications go out.
    /// Returns (set phase, handle_timeout + drain) in ns and the datagrams sent.
    fn round(&mut self, value: i64) -> (u128, u128, Vec<Vec<u8>>) {
        let start = Instant::now();
        for iid in 0..self.observed {
            let path = Path::resource(BENCH_OID, iid, OBSERVED);
            self.client
                .set(&path, Value::Integer(value))
                .expect("set an observed value");
        }
        let set_ns = start.elapsed().as_nanos();
        let start = Instant::now();
        let sent = self.tick(ROUND_MS);
        (set_ns, start.elapsed().as_nanos(), sent)
    }
}

fn notifications(sent: &[Vec<u8>]) -> usize {
    sent.iter()
        .filter_map(|d| Packet::from_bytes(d).ok())
        .filter(|p| msg::code_of(p) == msg::CONTENT && msg::observe(p).is_some())
        .count()
}

/// What an observation's `snapshot` (the observed values, `Instances`) of one single Integer
/// resource costs on the heap.
fn one_value_snapshot_bytes() -> usize {
    let before = live_bytes();
    let mut resources = Resources::new();
    resources.insert(OBSERVED, ResourceValue::Single(Value::Integer(0)));
    let mut snapshot = Instances::new();
    snapshot.insert(0, resources);
    let bytes = live_bytes() - before;
    drop(std::hint::black_box(snapshot));
    bytes
}

fn median(mut xs: Vec<u128>) -> u128 {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

/// Median ns per call of `op` over `reps` batches of `per_batch` calls, and allocation calls
/// per call (over all batches).
fn per_op(reps: usize, per_batch: usize, mut op: impl FnMut(usize)) -> (f64, f64) {
    let allocs = alloc_calls();
    let mut times = Vec::with_capacity(reps);
    for rep in 0..reps {
        let start = Instant::now();
        for i in 0..per_batch {
            op(rep * per_batch + i);
        }
        times.push(start.elapsed().as_nanos());
    }
    let calls = (reps * per_batch) as f64;
    let allocs = (alloc_calls() - allocs) as f64 / calls;
    (median(times) as f64 / per_batch as f64, allocs)
}

// ---- the report ----

/// Establishes `n` observations and prints one row: the heap they take, notification rounds,
/// idle wake-ups. Returns the client (for the `set` costs) and a note for under the table.
fn run_size(n: usize) -> (Bench, String) {
    let mut bench = Bench::registered(n);
    bench.tick(ROUND_MS); // settled first, so that the difference is the observations only
    let before = live_bytes();
    let start = Instant::now();
    for _ in 0..n {
        bench.observe_next();
    }
    let observe_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    let heap_after = (live_bytes() as f64 - before as f64) / n as f64;
    // The answers to the CON Observe requests sit in the duplicate cache for EXCHANGE_LIFETIME
    // (247 s); what stays after that is the observation itself.
    let lifetime = lwm2mc::coap::TransmissionParams::default().exchange_lifetime_ms();
    bench.tick(lifetime + ROUND_MS);
    let heap_settled = (live_bytes() as f64 - before as f64) / n as f64;

    // Warm-up: the first look after establishing only sets the copy-on-write baseline.
    bench.round(1);
    let held_before = live_bytes();
    let rounds = if n >= 10_000 { 5 } else { 51 };
    let (mut sets, mut ticks, mut notified) = (Vec::new(), Vec::new(), usize::MAX);
    for r in 0..rounds {
        let (set_ns, tick_ns, sent) = bench.round(2 + r as i64);
        sets.push(set_ns);
        ticks.push(tick_ns);
        notified = notified.min(notifications(&sent));
    }
    // NON notifications stay in the endpoint for NON_LIFETIME (145 s, to match a RST): the
    // growth over the rounds divided by what was sent is the heap each one holds meanwhile.
    let held = (live_bytes() as f64 - held_before as f64) / (rounds * notified).max(1) as f64;
    // Nothing changed or due: what a timer wake-up costs. About 20,000 observation visits per
    // batch, since a wake-up looks at every observation.
    let (idle_ns, idle_allocs) = per_op(5, (20_000 / n).max(2), |_| {
        bench.now += 1;
        bench.client.handle_timeout(bench.now);
        std::hint::black_box(bench.client.poll_timeout());
    });
    let (set_ns, tick_ns) = (median(sets), median(ticks));
    let rate = notified as f64 * 1e9 / (set_ns + tick_ns).max(1) as f64;
    println!(
        "{n:>7} {rounds:>7} {notified:>10} {:>11.3} {:>11.3} {rate:>10.0} {observe_us:>11.1} \
         {heap_after:>11.0} {heap_settled:>10.0} {:>10.1}",
        set_ns as f64 / 1e6,
        tick_ns as f64 / 1e6,
        idle_ns / 1e3,
    );
    let note = format!(
        "  {n} obs: {idle_allocs:.0} allocations per idle wake-up; {held:.0} B held per NON \
         notification sent, until NON_LIFETIME"
    );
    (bench, note)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are numbers of observations"))
        .collect();
    let sizes = if args.is_empty() {
        vec![1, 100, 10_000]
    } else {
        args
    };

    println!("Notifications. One round: Client::set on every observed value, handle_timeout,");
    println!("drain poll_transmit. Median over the rounds, wall time.");
    println!(
        "{:>7} {:>7} {:>10} {:>11} {:>11} {:>10} {:>11} {:>11} {:>10} {:>10}",
        "obs",
        "rounds",
        "notif/rnd",
        "set-all ms",
        "timeout ms",
        "notif/s",
        "observe us",
        "heap B/obs",
        "settled B",
        "idle us"
    );
    let mut notes = Vec::new();
    let mut largest = None;
    for &n in &sizes {
        let (bench, note) = run_size(n);
        notes.push(note);
        largest = Some(bench); // the previous client is dropped here
    }
    println!("  observe us: one Observe request handled while the others are established");
    println!("  heap B/obs: right after establishing; settled: after EXCHANGE_LIFETIME");
    println!("  idle us: handle_timeout + poll_timeout with nothing changed or due");
    for note in notes {
        println!("{note}");
    }
    println!(
        "  of the heap per observation, its snapshot of one Integer value takes {} B",
        one_value_snapshot_bytes()
    );

    // ---- the cost of one set, and of the look that follows it ----
    let mut big = largest.expect("at least one size");
    let n = usize::from(big.observed).max(1);
    let mut detached = factory_store(n);
    let mut plain = Bench::registered(n);
    let unobserved = |i: usize| Path::resource(BENCH_OID, (i % n) as u16, UNOBSERVED);
    let battery = Path::resource(3, 0, 9);
    let value = |i: usize| Value::Integer((i % 100) as i64);
    let (reps, sets, looks) = (5, 20_000, (20_000 / n).max(2));
    let rows = [
        (
            "Store::set, detached store".to_string(),
            per_op(reps, sets, |i| {
                detached.set(&unobserved(i), value(i)).expect("set")
            }),
        ),
        (
            "Client::set, 0 observations".to_string(),
            per_op(reps, sets, |i| {
                plain.client.set(&unobserved(i), value(i)).expect("set")
            }),
        ),
        (
            format!("Client::set unobserved resource, {n} obs"),
            per_op(reps, sets, |i| {
                big.client.set(&unobserved(i), value(i)).expect("set")
            }),
        ),
        (
            format!("Client::set /3/0/9 (unobserved object), {n} obs"),
            per_op(reps, sets, |i| {
                big.client.set(&battery, value(i)).expect("set")
            }),
        ),
        (
            format!("  same + handle_timeout, {n} obs"),
            per_op(reps, looks, |i| {
                big.client.set(&battery, value(i)).expect("set");
                big.now += 1;
                big.client.handle_timeout(big.now);
            }),
        ),
        (
            format!("Client::set unobserved + handle_timeout, {n} obs"),
            per_op(reps, looks, |i| {
                big.client.set(&unobserved(i), value(i)).expect("set");
                big.now += 1;
                big.client.handle_timeout(big.now);
            }),
        ),
    ];
    println!();
    println!("Cost of one operation (median of {reps} batches)");
    println!("{:<52} {:>12} {:>12}", "operation", "ns/op", "allocs/op");
    for (name, (ns, allocs)) in &rows {
        println!("{name:<52} {ns:>12.0} {allocs:>12.1}");
    }
    println!("  unobserved resource: /32769/i/1, in the object whose /32769/i/0 are observed");
}
