//! A command-line LwM2M device for trying lwm2mc against real servers (Leshan, Wakaama,
//! Anjay's demo servers, the testkit).
//!
//!   cargo run --example client -- --bootstrap coap://127.0.0.1:5783 --endpoint my-dev
//!   cargo run --example client -- --server coap://127.0.0.1:5683 --endpoint my-dev --lifetime 60
//!   cargo run --example client -- --bootstrap coaps://127.0.0.1:5784 --psk-identity my-dev \
//!       --psk-key 000102030405060708090a0b0c0d0e0f
//!
//! One line per state change; with --verbose also one per request handled and per datagram
//! (Security keys redacted, see `lwm2mc::trace`). SIGINT/SIGTERM de-registers and exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{ArgGroup, Parser, ValueEnum};
use lwm2mc::accounts::factory;
use lwm2mc::codec::ContentFormat;
use lwm2mc::object::{Applied, DownloadFailure, FirmwareInstaller, InstallFailure};
use lwm2mc::storage_file::FileStorage;
use lwm2mc::transport::udp::{os_seed, Direction, UdpClient};
use lwm2mc::{Client, Config, Event, Path, RootFormats, Store, Value};

/// `--root-ct` values (see `lwm2mc::RootFormats`).
#[derive(Clone, Copy, Debug, ValueEnum)]
enum RootCt {
    Preferred,
    All,
    None,
}

#[derive(Parser, Debug)]
#[command(about = "An LwM2M 1.1 device (NoSec over UDP) built on lwm2mc")]
#[command(group(ArgGroup::new("account").required(true).args(["bootstrap", "server"])))]
struct Args {
    /// Factory state: one Bootstrap-Server account at this URI (NoSec for coap://; with
    /// coaps:// give --psk-identity and --psk-key).
    #[arg(long, value_name = "URI")]
    bootstrap: Option<String>,
    /// Factory state: one LwM2M Server account (Short Server ID 1) at this URI (NoSec for
    /// coap://; with coaps:// give --psk-identity and --psk-key).
    #[arg(long, value_name = "URI")]
    server: Option<String>,
    /// PSK identity (Security Mode 0, /0/x/3) of the factory account, as text.
    #[arg(long, value_name = "TEXT", requires = "psk_key")]
    psk_identity: Option<String>,
    /// Pre-shared key (/0/x/5) of the factory account, in hex (never printed).
    #[arg(long, value_name = "HEX", requires = "psk_identity")]
    psk_key: Option<String>,
    /// Endpoint Client Name.
    #[arg(long, default_value = "lwm2mc-device")]
    endpoint: String,
    /// Local UDP port (0 = ephemeral).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Local address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Registration lifetime in seconds (with --server).
    #[arg(long, default_value_t = 300)]
    lifetime: u32,
    /// Keep the configuration in this directory; a restart registers without bootstrapping.
    #[arg(long, value_name = "PATH")]
    state_file: Option<PathBuf>,
    /// Preferred bootstrap Content-Format sent as pct= (110, 112 or 11542).
    #[arg(long, value_name = "N")]
    pct: Option<u16>,
    /// What Register announces as ct= on the root link: one SenML value (the default, accepted
    /// by every server tried), the full quoted list, or nothing.
    #[arg(long, value_enum, default_value_t = RootCt::Preferred)]
    root_ct: RootCt,
    /// Also print every request handled and every datagram sent and received (Security keys
    /// redacted).
    #[arg(long)]
    verbose: bool,
    /// Offer firmware update by push (object 5): a package a server writes to /5/0/0 is
    /// stored at this path; Update "installs" it by making its CRC-32 the Firmware Version
    /// (/3/0/3).
    #[arg(long, value_name = "PATH")]
    firmware: Option<PathBuf>,
}

/// The CLI device's firmware slot: a file. "Installing" swaps the version string.
struct FileFirmware {
    path: PathBuf,
    part: Option<std::fs::File>,
    crc: u32,
    /// The version the main loop puts into /3/0/3 once installed.
    installed: Arc<std::sync::Mutex<Option<String>>>,
}

impl FirmwareInstaller for FileFirmware {
    fn open(&mut self, size: Option<u64>) -> Result<(), DownloadFailure> {
        println!("firmware: receiving a package ({size:?} bytes)");
        self.crc = 0;
        let file = std::fs::File::create(self.path.with_extension("part"))
            .map_err(|_| DownloadFailure::NotEnoughFlash)?;
        self.part = Some(file);
        Ok(())
    }
    fn write(&mut self, _offset: u64, chunk: &[u8]) -> Result<(), DownloadFailure> {
        use std::io::Write;
        self.crc = crc32(self.crc, chunk);
        let file = self.part.as_mut().ok_or(DownloadFailure::NotEnoughFlash)?;
        file.write_all(chunk)
            .map_err(|_| DownloadFailure::NotEnoughFlash)
    }
    fn verify(&mut self) -> Result<(), DownloadFailure> {
        self.part = None; // closed
        std::fs::rename(self.path.with_extension("part"), &self.path)
            .map_err(|_| DownloadFailure::NotEnoughFlash)?;
        println!("firmware: package complete, crc32 {:08x}", self.crc);
        Ok(())
    }
    fn apply(&mut self) -> Result<Applied, InstallFailure> {
        let version = format!("fw-{:08x}", self.crc);
        println!("firmware: installed {version}");
        if let Ok(mut slot) = self.installed.lock() {
            *slot = Some(version);
        }
        Ok(Applied::Running)
    }
    fn discard(&mut self) {
        self.part = None;
        let _ = std::fs::remove_file(self.path.with_extension("part"));
    }
}

/// CRC-32 (IEEE), bit by bit: a sample device's checksum, not a fast one.
fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for b in data {
        c ^= u32::from(*b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Memory free in KiB from /proc/meminfo, if the system has it.
fn memory_free_kib() -> Option<i64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `--psk-key`: hex digits (an even number, at least one byte) to bytes.
fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if s.is_empty() || s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("--psk-key: expected an even number of hex digits".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| "--psk-key: bad hex".to_string())
        })
        .collect()
}

fn device_store(args: &Args) -> Result<Store, String> {
    let mut store = Store::with_standard_objects();
    let psk = match (&args.psk_identity, &args.psk_key) {
        (Some(id), Some(key)) => Some((id.as_bytes().to_vec(), parse_hex(key)?)),
        _ => None,
    };
    let mut factory_iid = None;
    if let Some(uri) = &args.bootstrap {
        factory_iid =
            Some(factory::add_bootstrap_account(&mut store, uri, 0).map_err(|e| e.to_string())?);
    }
    if let Some(uri) = &args.server {
        factory::add_server_account(&mut store, 1, uri, i64::from(args.lifetime))
            .map_err(|e| e.to_string())?;
        factory_iid = factory::security_instance_of(&store, 1);
    }
    if let (Some((identity, key)), Some(iid)) = (&psk, factory_iid) {
        factory::set_psk(&mut store, iid, identity, key).map_err(|e| e.to_string())?;
    }
    let serial = format!(
        "LWM2MC-{:08X}",
        args.endpoint
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
    );
    factory::add_device(&mut store, "lwm2mc project", "lwm2mc-cli", &serial)
        .map_err(|e| e.to_string())?;
    let set =
        |store: &mut Store, path: Path, v: Value| store.set(&path, v).map_err(|e| e.to_string());
    set(
        &mut store,
        Path::resource(3, 0, 3),
        Value::String(env!("CARGO_PKG_VERSION").to_string()),
    )?;
    set(
        &mut store,
        Path::resource_instance(3, 0, 6, 0),
        Value::Integer(1),
    )?; // internal battery
    set(
        &mut store,
        Path::resource_instance(3, 0, 7, 0),
        Value::Integer(3800),
    )?;
    set(&mut store, Path::resource(3, 0, 9), Value::Integer(87))?;
    set(
        &mut store,
        Path::resource(3, 0, 10),
        Value::Integer(memory_free_kib().unwrap_or(4096)),
    )?;
    set(
        &mut store,
        Path::resource(3, 0, 13),
        Value::Time(unix_now()),
    )?;
    set(
        &mut store,
        Path::resource(3, 0, 14),
        Value::String("+00:00".into()),
    )?;
    set(
        &mut store,
        Path::resource(3, 0, 15),
        Value::String(std::env::var("TZ").unwrap_or_else(|_| "Etc/UTC".into())),
    )?;
    set(
        &mut store,
        Path::resource(3, 0, 17),
        Value::String("sensor".into()),
    )?;
    set(&mut store, Path::resource(3, 0, 20), Value::Integer(0))?;
    Ok(store)
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let store = device_store(&args)?;
    let mut config = Config::new(args.endpoint.clone());
    config.seed = os_seed();
    config.root_formats = match args.root_ct {
        RootCt::Preferred => RootFormats::Preferred,
        RootCt::All => RootFormats::All,
        RootCt::None => RootFormats::Omit,
    };
    if let Some(pct) = args.pct {
        config.preferred_format = match ContentFormat::from_code(pct) {
            Some(
                f @ (ContentFormat::SenmlJson | ContentFormat::SenmlCbor | ContentFormat::Tlv),
            ) => Some(f),
            _ => return Err(format!("--pct {pct}: use 110, 112 or 11542")),
        };
    }
    let mut client = match &args.state_file {
        Some(dir) => {
            let storage = FileStorage::new(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Client::with_storage(config, store, Box::new(storage))
        }
        None => Client::new(config, store),
    };
    let installed = Arc::new(std::sync::Mutex::new(None::<String>));
    if let Some(path) = &args.firmware {
        let slot = FileFirmware {
            path: path.clone(),
            part: None,
            crc: 0,
            installed: installed.clone(),
        };
        client
            .set_firmware(Box::new(slot))
            .map_err(|e| e.to_string())?;
    }
    let bind = SocketAddr::new(args.bind, args.port);
    let mut udp = UdpClient::bind(client, bind).map_err(|e| format!("bind {bind}: {e}"))?;
    println!(
        "endpoint {} on udp {}",
        args.endpoint,
        udp.local_addr().map_err(|e| e.to_string())?
    );
    let verbose = args.verbose;
    if verbose {
        udp.set_tap(Box::new(move |dir, peer, bytes| {
            let arrow = if dir == Direction::Received {
                "<-"
            } else {
                "->"
            };
            println!("{arrow} {peer} {}", lwm2mc::trace::describe(bytes));
        }));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;

    udp.start().map_err(|e| e.to_string())?;
    let started = unix_now();
    let mut last_reading = None;
    while !stop.load(Ordering::SeqCst) {
        let now = unix_now();
        // A Device object that lives, so that a server observing it sees notifications; read
        // once a second, not on every turn of the loop (one per datagram).
        if last_reading != Some(now) {
            last_reading = Some(now);
            for (rid, value) in device_readings(now, now.saturating_sub(started)) {
                let _ = udp.client_mut().set(&Path::resource(3, 0, rid), value);
            }
        }
        if let Some(version) = installed.lock().ok().and_then(|mut v| v.take()) {
            let _ = udp
                .client_mut()
                .set(&Path::resource(3, 0, 3), Value::String(version));
        }
        for event in udp
            .turn(Duration::from_millis(250))
            .map_err(|e| e.to_string())?
        {
            report(&event, verbose);
        }
    }
    println!("stopping: de-registering");
    match udp.shutdown(Duration::from_secs(10)) {
        Ok(events) => events.iter().for_each(|e| report(e, verbose)),
        Err(e) => println!("de-register incomplete: {e}"),
    }
    Ok(())
}

/// The Device object's changing values at Unix time `now`, `up` seconds after start: Current
/// Time (13) every second, Battery Level (9) from 87 % draining one percent a minute and
/// recharging at 10 %, Memory Free (10, KiB, the host's) read every five seconds.
fn device_readings(now: i64, up: i64) -> Vec<(u16, Value)> {
    let battery = 100 - (13 + up / 60) % 91;
    let mut readings = vec![(13, Value::Time(now)), (9, Value::Integer(battery))];
    if up % 5 == 0 {
        if let Some(kib) = memory_free_kib() {
            readings.push((10, Value::Integer(kib)));
        }
    }
    readings
}

/// Prints an event: state changes always, requests handled only when `verbose`.
fn report(event: &Event, verbose: bool) {
    let request = matches!(
        event,
        Event::Executed { .. }
            | Event::Written { .. }
            | Event::Created { .. }
            | Event::Deleted { .. }
    );
    if request && !verbose {
        return;
    }
    match event {
        Event::Bootstrapped => println!("state: bootstrapped"),
        Event::BootstrapFailed { reason, retry_at } => {
            println!("state: bootstrap failed: {reason} (retry at {retry_at:?} ms)")
        }
        Event::BootstrapFinishRefused { reason } => {
            println!("state: bootstrap configuration refused (4.06 to Finish): {reason}")
        }
        Event::Registered { ssid, location } => {
            println!("state: registered with server {ssid} at {location}")
        }
        Event::RegistrationUpdated { ssid } => {
            println!("state: registration updated with server {ssid}")
        }
        Event::RegistrationFailed {
            ssid,
            reason,
            retry_at,
        } => {
            println!("state: registration with server {ssid} failed: {reason} (retry at {retry_at:?} ms)")
        }
        Event::Deregistered { ssid } => println!("state: de-registered from server {ssid}"),
        Event::Executed { ssid, path, args } if *path == Path::resource(3, 0, 4) => {
            println!("request: server {ssid} asked for a reboot ({} B args); a real device would reboot now", args.len())
        }
        Event::Executed { ssid, path, .. } => println!("request: server {ssid} executed {path}"),
        Event::Written { ssid, path } => println!("request: server {ssid} wrote {path}"),
        Event::Created { ssid, path } => println!("request: server {ssid} created {path}"),
        Event::Deleted { ssid, path } => println!("request: server {ssid} deleted {path}"),
        Event::StorageError { reason } => println!("storage: {reason}"),
        Event::SmartcardProvisioned => println!("state: provisioned from smartcard"),
        Event::SmartcardRemoved => println!("state: smartcard data removed"),
        Event::BootstrapAccountPurged => {
            println!("state: Bootstrap-Server account purged (account timeout)")
        }
        Event::EventsDropped { count } => println!("events: {count} dropped (queue full)"),
        Event::SendFailed { reason, .. } => println!("transport: {reason}"),
        Event::ObservationStarted { ssid, path } => {
            println!("observe: server {ssid} observes {path}")
        }
        Event::ObservationCancelled { ssid, path } => {
            println!("observe: server {ssid} no longer observes {path}")
        }
        Event::SendCompleted { ssid } => println!("send: server {ssid} accepted"),
        Event::SendRejected { ssid, reason } => println!("send: server {ssid}: {reason}"),
        Event::FirmwareUpdateAwaitingUser => {
            println!("firmware: the update waits for the user's yes")
        }
        Event::SecureSessionEstablished {
            cipher_suite,
            resumed,
            ..
        } => println!(
            "dtls: session up, {cipher_suite}{}",
            if *resumed { " (resumed)" } else { "" }
        ),
        Event::Sleeping => println!("queue mode: may sleep until the next deadline"),
        Event::Awake => println!("queue mode: awake"),
        Event::SecureSessionFailed {
            reason, retry_at, ..
        } => println!("dtls: {reason} (retry at {retry_at:?} ms)"),
        other => println!("event: {other:?}"),
    }
}
