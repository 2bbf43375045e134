//! Firmware Update by push benchmark (object 5, Core 1.1 §E.6; RFC 7959 Block1): what it costs
//! the client to take a package a server writes to /5/0/0 in 1,024-byte blocks (SZX 6).
//!
//!   cargo run --release --example bench_firmware              # 256 KiB, 1 MiB, 4 MiB; UDP 1 MiB
//!   cargo run --release --example bench_firmware -- 64 16384  # other sans-I/O sizes, in KiB
//!
//! Two parts. (a) Sans-I/O: one `Client`, registered by hand, fed each block with
//! `handle_datagram` and drained with `poll_transmit`, time advanced by hand: ns per block
//! (and user-space instructions per block where the CPU's counters can be read), allocation
//! calls per block, and the heap the client holds during and after the transfer, from a
//! counting global allocator, for several package sizes: the library streams the package to
//! the installer, so none of these may grow with its size. (b) Real UDP on 127.0.0.1: the
//! crate's `UdpClient` on a thread of its own, and a pusher written here sending each block as
//! a CON and waiting for its piggybacked answer before the next (NSTART 1, as a server
//! must): throughput of a 1 MiB push, and the CPU time each side spends per block
//! (getrusage(RUSAGE_THREAD)).
//!
//! The installer here stores nothing (it counts bytes and checks their order), so the figures
//! are the library's, not a flash driver's. Figures are printed, never asserted: they depend
//! on the machine; what is checked is only that each push really ends in 2.04 with every byte
//! delivered.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, Packet};
use lwm2mc::accounts::factory;
use lwm2mc::coap::msg;
use lwm2mc::object::{Applied, DownloadFailure, FirmwareInstaller, InstallFailure};
use lwm2mc::transport::udp::UdpClient;
use lwm2mc::{Client, Config, Event, PeerId, Store};

// ---- heap accounting, for the whole process (examples/support/counting_alloc.rs) ----

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{alloc_calls, live_bytes, peak_bytes, reset_peak};

// ---- user-space instructions retired, where the kernel gives a counter ----

/// A perf_event counter of this thread's user-space instructions (perf_event_open(2)), or the
/// reason there is none (a VM without a PMU, a seccomp filter, perf_event_paranoid).
struct Instructions {
    fd: Option<libc::c_int>,
    why_not: String,
}

impl Instructions {
    fn open() -> Instructions {
        // struct perf_event_attr in its first published form (PERF_ATTR_SIZE_VER0, 64 bytes),
        // which every kernel accepts: type (u32) and size (u32), config, sample_period,
        // sample_type, read_format, then the flag bits. libc does not define the struct.
        const PERF_TYPE_HARDWARE: u64 = 0;
        const PERF_COUNT_HW_INSTRUCTIONS: u64 = 1;
        const EXCLUDE_KERNEL: u64 = 1 << 5;
        const EXCLUDE_HV: u64 = 1 << 6;
        let mut attr = [0u64; 8];
        attr[0] = PERF_TYPE_HARDWARE | (64 << 32);
        attr[1] = PERF_COUNT_HW_INSTRUCTIONS;
        attr[5] = EXCLUDE_KERNEL | EXCLUDE_HV; // enabled from the start: no ioctl needed
                                               // SAFETY: perf_event_open(attr, pid 0 = this thread, cpu -1 = any, no group, no
                                               // flags) reads the 64 bytes of `attr`, which live until it returns.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                0 as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                0 as libc::c_ulong,
            )
        };
        match libc::c_int::try_from(fd) {
            Ok(fd) if fd >= 0 => Instructions {
                fd: Some(fd),
                why_not: String::new(),
            },
            _ => Instructions {
                fd: None,
                why_not: format!("perf_event_open: {}", std::io::Error::last_os_error()),
            },
        }
    }

    /// The count so far, if there is a counter.
    fn read(&self) -> Option<u64> {
        let fd = self.fd?;
        let mut count = 0u64;
        // SAFETY: read(2) of 8 bytes into a u64 we own; a counter fd without read_format
        // flags yields exactly one u64.
        let n = unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
        (n == 8).then_some(count)
    }
}

impl Drop for Instructions {
    fn drop(&mut self) {
        if let Some(fd) = self.fd {
            // SAFETY: closing the fd we opened, once.
            unsafe { libc::close(fd) };
        }
    }
}

// ---- CPU time of the calling thread ----

/// User + system CPU time of the calling thread so far, in µs (getrusage(RUSAGE_THREAD)).
fn thread_cpu_us() -> u64 {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct getrusage fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the struct we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_THREAD)");
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

// ---- the device side: an installer that keeps nothing ----

const BLOCK: usize = 1024;
/// SZX 6: 2^(6+4) = 1,024-byte blocks (RFC 7959 §2.2).
const SZX: u32 = 6;
const OPAQUE: u16 = 42;
const SSID: u16 = 1;

/// Counts what arrives and checks it comes in order; stores nothing, so the heap and time
/// measured are the library's.
struct Sink {
    received: Arc<AtomicU64>,
}

impl FirmwareInstaller for Sink {
    fn open(&mut self, _size: Option<u64>) -> Result<(), DownloadFailure> {
        self.received.store(0, Relaxed);
        Ok(())
    }
    fn write(&mut self, offset: u64, chunk: &[u8]) -> Result<(), DownloadFailure> {
        // Out of order would be a library bug; the bench reports it as a failed download.
        if offset != self.received.load(Relaxed) {
            return Err(DownloadFailure::IntegrityFailure);
        }
        self.received.fetch_add(chunk.len() as u64, Relaxed);
        Ok(())
    }
    fn verify(&mut self) -> Result<(), DownloadFailure> {
        Ok(())
    }
    fn apply(&mut self) -> Result<Applied, InstallFailure> {
        Ok(Applied::Running)
    }
    fn discard(&mut self) {}
}

/// A client with one factory NoSec account (SSID 1) on `server_uri` and firmware by push.
fn device(server_uri: &str) -> (Client, Arc<AtomicU64>) {
    let mut store = Store::with_standard_objects();
    factory::add_server_account(&mut store, SSID, server_uri, 86_400).expect("server account");
    factory::add_device(&mut store, "bench", "bench-fw", "0").expect("device");
    let mut client = Client::new(Config::new("bench-fw"), store);
    let received = Arc::new(AtomicU64::new(0));
    client
        .set_firmware(Box::new(Sink {
            received: received.clone(),
        }))
        .expect("firmware object");
    (client, received)
}

// ---- the server side: CoAP messages built with coap-lite ----

/// Byte `i` of the package: any pattern will do, the installer does not look.
fn package_byte(i: usize) -> u8 {
    (i * 31 % 251) as u8
}

/// Block `num` of a `total`-byte package into `part`.
fn fill_block(part: &mut Vec<u8>, num: usize, total: usize) {
    part.clear();
    let start = num * BLOCK;
    part.extend((start..total.min(start + BLOCK)).map(package_byte));
}

fn blocks_of(total: usize) -> usize {
    total.div_ceil(BLOCK)
}

/// The CON PUT /5/0/0 carrying block `num` of a `total`-byte package: Block1 (NUM, M, SZX 6)
/// and, on the first, Size1 with the total (RFC 7959 §4).
fn block_request(mid: u16, num: usize, total: usize, part: &[u8]) -> Vec<u8> {
    let mut p = msg::new_request(msg::PUT, &["5", "0", "0"], &[]);
    p.header.set_version(1);
    p.header.message_id = mid;
    p.set_token(
        u32::try_from(num)
            .expect("block number")
            .to_be_bytes()
            .to_vec(),
    );
    msg::set_content_format(&mut p, OPAQUE);
    let more = num + 1 < blocks_of(total);
    let num = u32::try_from(num).expect("block number");
    p.add_option(
        CoapOption::Block1,
        msg::encode_uint((num << 4) | (u32::from(more) << 3) | SZX),
    );
    if num == 0 {
        p.add_option(
            CoapOption::Size1,
            msg::encode_uint(u32::try_from(total).expect("package under 4 GiB")),
        );
    }
    p.payload = part.to_vec();
    p.to_bytes().expect("a block encodes")
}

/// The piggybacked 2.01 to the device's Register, Location-Path rd/1.
fn created(register: &Packet) -> Vec<u8> {
    let mut p = msg::new_response(msg::CREATED);
    p.header.set_version(1);
    p.header.message_id = register.header.message_id;
    p.set_token(register.get_token().to_vec());
    msg::add_location_path(&mut p, &["rd", "1"]);
    p.to_bytes().expect("2.01 encodes")
}

/// The code of a CoAP datagram: its second byte (RFC 7252 §3), read without parsing it, so
/// that looking costs neither time nor heap inside the measured calls.
fn code_byte(datagram: &[u8]) -> u8 {
    datagram.get(1).copied().unwrap_or(0)
}

// ---- (a) sans-I/O ----

/// A client registered by hand, with the simulated clock and the server's MID counter.
struct Registered {
    client: Client,
    received: Arc<AtomicU64>,
    server: PeerId,
    now: u64,
    mid: u16,
}

fn registered_device() -> Registered {
    let (mut client, received) = device("coap://127.0.0.1:5683");
    let now = 1_000;
    client.start(now);
    let register = client.poll_transmit().expect("the client sends Register");
    let request = Packet::from_bytes(&register.data).expect("Register parses");
    assert_eq!(msg::uri_path(&request), Some(vec!["rd".to_string()]));
    client.handle_datagram(now, register.peer, &created(&request));
    while client.poll_transmit().is_some() {}
    while client.poll_event().is_some() {}
    assert_eq!(client.registered_servers(), vec![SSID], "registered");
    Registered {
        client,
        received,
        server: register.peer,
        now,
        mid: 1,
    }
}

impl Registered {
    /// Sends `request` from the server, returns the code of the answer and its payload.
    fn ask(&mut self, mut request: Packet) -> (u8, Vec<u8>) {
        request.header.set_version(1);
        request.header.message_id = self.mid;
        self.mid = self.mid.wrapping_add(1);
        request.set_token(vec![0xF0, self.mid as u8]);
        let bytes = request.to_bytes().expect("request encodes");
        self.client.handle_datagram(self.now, self.server, &bytes);
        while self.client.poll_event().is_some() {}
        let answer = self.client.poll_transmit().expect("an answer");
        let answer = Packet::from_bytes(&answer.data).expect("the answer parses");
        (msg::code_of(&answer), answer.payload)
    }
}

struct SansIo {
    kib: usize,
    blocks: usize,
    median_ns: u64,
    mean_ns: f64,
    max_ns: u64,
    instructions: Option<f64>,
    allocs_per_block: f64,
    /// Highest heap above the pre-transfer baseline while the client handled a block.
    peak: usize,
    /// Highest heap above the baseline between blocks, and at the end of the transfer.
    live_max: isize,
    live_end: isize,
    /// After EXCHANGE_LIFETIME, once the duplicate cache and the transfer's state expired.
    live_settled: isize,
}

fn sans_io(total: usize, counter: &Instructions) -> SansIo {
    let mut dev = registered_device();
    let blocks = blocks_of(total);
    // Everything the bench itself keeps is allocated before the baseline is taken.
    let mut times: Vec<u64> = Vec::with_capacity(blocks);
    let mut part: Vec<u8> = Vec::with_capacity(BLOCK);
    let mut wire: Vec<u8> = Vec::with_capacity(2 * BLOCK);
    let (mut instructions, mut counted) = (0u64, true);
    let (mut peak, mut live_max, mut allocs) = (0usize, isize::MIN, 0usize);
    let mut last_code = 0;
    let baseline = live_bytes();
    for num in 0..blocks {
        fill_block(&mut part, num, total);
        let bytes = block_request(dev.mid, num, total, &part);
        dev.mid = dev.mid.wrapping_add(1);
        wire.clear();
        wire.extend_from_slice(&bytes);
        drop(bytes); // what the "server" built is gone before the client runs
        dev.now += 1;
        reset_peak();
        let allocs_before = alloc_calls();
        let i0 = counter.read();
        let t0 = Instant::now();
        dev.client.handle_datagram(dev.now, dev.server, &wire);
        while let Some(t) = dev.client.poll_transmit() {
            last_code = code_byte(&t.data);
        }
        while dev.client.poll_event().is_some() {}
        let ns = t0.elapsed().as_nanos();
        match (i0, counter.read()) {
            (Some(a), Some(b)) => instructions += b - a,
            _ => counted = false,
        }
        allocs += alloc_calls() - allocs_before;
        peak = peak.max(peak_bytes().saturating_sub(baseline));
        live_max = live_max.max(live_bytes() as isize - baseline as isize);
        times.push(u64::try_from(ns).unwrap_or(u64::MAX));
        let want = if num + 1 < blocks {
            msg::CONTINUE
        } else {
            msg::CHANGED
        };
        assert_eq!(last_code, want, "answer to block {num}");
    }
    let live_end = live_bytes() as isize - baseline as isize;
    assert_eq!(
        dev.received.load(Relaxed),
        total as u64,
        "every byte reached the installer"
    );
    // Past EXCHANGE_LIFETIME the answers cached for duplicates have expired.
    dev.now += lwm2mc::coap::TransmissionParams::default().exchange_lifetime_ms() + 1_000;
    dev.client.handle_timeout(dev.now);
    while dev.client.poll_transmit().is_some() {}
    while dev.client.poll_event().is_some() {}
    let live_settled = live_bytes() as isize - baseline as isize;

    // The package is whole: State Downloaded, then Update installs it (Result 1).
    assert_eq!(
        dev.ask(msg::new_request(msg::GET, &["5", "0", "3"], &[])),
        (msg::CONTENT, b"2".to_vec())
    );
    assert_eq!(
        dev.ask(msg::new_request(msg::POST, &["5", "0", "2"], &[]))
            .0,
        msg::CHANGED
    );
    assert_eq!(
        dev.ask(msg::new_request(msg::GET, &["5", "0", "5"], &[])),
        (msg::CONTENT, b"1".to_vec())
    );

    let mean_ns = times.iter().sum::<u64>() as f64 / blocks as f64;
    let max_ns = times.iter().copied().max().unwrap_or(0);
    times.sort_unstable();
    SansIo {
        kib: total / 1024,
        blocks,
        median_ns: times[blocks / 2],
        mean_ns,
        max_ns,
        instructions: counted.then(|| instructions as f64 / blocks as f64),
        allocs_per_block: allocs as f64 / blocks as f64,
        peak,
        live_max,
        live_end,
        live_settled,
    }
}

// ---- (b) real UDP on 127.0.0.1 ----

struct UdpRun {
    seconds: f64,
    rtt_median_us: f64,
    device_cpu_us: u64,
    pusher_cpu_us: u64,
}

/// Bounds every wait of the pusher: loopback loses nothing, so reaching one is a failure.
const WAIT: Duration = Duration::from_secs(5);

/// Receives datagrams until one satisfies `want`: its length and source. Panics after `WAIT`.
fn recv_until(
    socket: &UdpSocket,
    buf: &mut [u8],
    mut want: impl FnMut(&[u8]) -> bool,
) -> (usize, SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no answer from the device within {WAIT:?}");
        socket.set_read_timeout(Some(left)).expect("read timeout");
        match socket.recv_from(buf) {
            Ok((n, from)) if want(&buf[..n]) => return (n, from),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("pusher recv: {e}"),
        }
    }
}

/// One push of `total` bytes to a fresh `UdpClient` running on a thread of its own.
fn udp_push(total: usize) -> UdpRun {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("pusher socket");
    let server: SocketAddr = socket.local_addr().expect("pusher address");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let uri = format!("coap://{server}");
    // The device's thread: its CPU time from Registered (before it can have read a block) to
    // the stop, which comes right after the last answer; the waits in between cost none.
    let device = thread::spawn(move || {
        let (client, received) = device(&uri);
        let mut udp = UdpClient::bind(client, "127.0.0.1:0".parse().expect("address"))
            .expect("device socket");
        udp.start().expect("start");
        let mut from = None;
        while !flag.load(Relaxed) {
            let events = udp.turn(Duration::from_millis(50)).expect("turn");
            if from.is_none() && events.iter().any(|e| matches!(e, Event::Registered { .. })) {
                from = Some(thread_cpu_us());
            }
        }
        let cpu = thread_cpu_us() - from.expect("registered before the push");
        (cpu, received.load(Relaxed))
    });

    let mut buf = vec![0u8; 2048];
    let (n, device_addr) = recv_until(&socket, &mut buf, |d| {
        Packet::from_bytes(d).is_ok_and(|p| msg::uri_path(&p) == Some(vec!["rd".to_string()]))
    });
    let register = Packet::from_bytes(&buf[..n]).expect("Register parses");
    socket
        .send_to(&created(&register), device_addr)
        .expect("send 2.01");

    let blocks = blocks_of(total);
    let mut part = Vec::with_capacity(BLOCK);
    let mut rtts = Vec::with_capacity(blocks);
    let cpu0 = thread_cpu_us();
    let start = Instant::now();
    for num in 0..blocks {
        fill_block(&mut part, num, total);
        let mid = num as u16;
        let request = block_request(mid, num, total, &part);
        let sent = Instant::now();
        socket.send_to(&request, device_addr).expect("send a block");
        // The piggybacked answer: an ACK (type bits 10) with this block's Message ID.
        let (n, _) = recv_until(&socket, &mut buf, |d| {
            d.len() >= 4 && (d[0] >> 4) & 0b11 == 0b10 && u16::from_be_bytes([d[2], d[3]]) == mid
        });
        rtts.push(sent.elapsed().as_secs_f64() * 1e6);
        let want = if num + 1 < blocks {
            msg::CONTINUE
        } else {
            msg::CHANGED
        };
        assert_eq!(code_byte(&buf[..n]), want, "answer to block {num}");
    }
    let seconds = start.elapsed().as_secs_f64();
    let pusher_cpu_us = thread_cpu_us() - cpu0;
    stop.store(true, Relaxed);
    let (device_cpu_us, received) = device.join().expect("the device thread");
    assert_eq!(received, total as u64, "every byte reached the installer");
    rtts.sort_by(f64::total_cmp);
    UdpRun {
        seconds,
        rtt_median_us: rtts[blocks / 2],
        device_cpu_us,
        pusher_cpu_us,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are package sizes in KiB"))
        .collect();
    let sizes = if args.is_empty() {
        vec![256, 1024, 4096]
    } else {
        args
    };

    let counter = Instructions::open();
    println!("(a) sans-I/O: handle_datagram(block) + drain poll_transmit/poll_event, 1,024-byte");
    println!(
        "    blocks (SZX 6), one Client registered by hand, 1 ms of simulated time per block."
    );
    println!(
        "{:>6} {:>6} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "KiB",
        "blocks",
        "median ns",
        "mean ns",
        "max ns",
        "instr/blk",
        "allocs/bk",
        "peak B",
        "live max",
        "live end",
        "settled"
    );
    for kib in sizes {
        let r = sans_io(kib * 1024, &counter);
        println!(
            "{:>6} {:>6} {:>9} {:>9.0} {:>9} {:>10} {:>9.1} {:>9} {:>9} {:>9} {:>9}",
            r.kib,
            r.blocks,
            r.median_ns,
            r.mean_ns,
            r.max_ns,
            r.instructions
                .map_or_else(|| "n/a".to_string(), |i| format!("{i:.0}")),
            r.allocs_per_block,
            r.peak,
            r.live_max,
            r.live_end,
            r.live_settled,
        );
    }
    println!("  ns: wall time per block, the client's calls only (the block is encoded before)");
    if counter.fd.is_none() {
        println!("  instr/blk: n/a here ({})", counter.why_not);
    } else {
        println!("  instr/blk: user-space instructions retired per block (perf_event_open)");
    }
    println!("  heap, in bytes above what was live before the first block: peak while a block");
    println!("  is handled; live max between blocks; live end after the last; settled after");
    println!("  EXCHANGE_LIFETIME (duplicate cache and transfer state expired)");

    const UDP_KIB: usize = 1024;
    const RUNS: usize = 5;
    println!();
    println!("(b) UDP on 127.0.0.1: UdpClient on its own thread; the pusher sends each block as a");
    println!("    CON and waits for its piggybacked answer (one block in flight). {UDP_KIB} KiB,");
    println!("    {RUNS} runs, a fresh device each.");
    println!(
        "{:>4} {:>9} {:>8} {:>12} {:>15} {:>15}",
        "run", "ms", "MiB/s", "rtt med us", "device cpu us/b", "pusher cpu us/b"
    );
    let blocks = blocks_of(UDP_KIB * 1024) as f64;
    let mut rates = Vec::new();
    for run in 1..=RUNS {
        let r = udp_push(UDP_KIB * 1024);
        let rate = UDP_KIB as f64 / 1024.0 / r.seconds;
        rates.push(rate);
        println!(
            "{run:>4} {:>9.1} {rate:>8.1} {:>12.1} {:>15.1} {:>15.1}",
            r.seconds * 1e3,
            r.rtt_median_us,
            r.device_cpu_us as f64 / blocks,
            r.pusher_cpu_us as f64 / blocks,
        );
    }
    rates.sort_by(f64::total_cmp);
    println!("  median {:.1} MiB/s", rates[RUNS / 2]);
    println!("  cpu: getrusage(RUSAGE_THREAD), user + system, per block; the device's from its");
    println!("  Registered event to the end of the push (its idle waits cost none)");
}
