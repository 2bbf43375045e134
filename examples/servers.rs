//! Something to point a device at: the embedded Bootstrap-Server and LwM2M Server (testkit) on
//! given ports, printing each bootstrap session, registration, update and de-registration, and
//! running a list of operations against every device that registers.
//!
//!   cargo run --example servers
//!   cargo run --example servers -- "read /3/0" "write /3/0/14 +02:00" "exec /1/0/8" "discover /3/0"
//!
//! Then, in another terminal, `cargo run --example client -- --bootstrap coap://127.0.0.1:5783`
//! (or `--server coap://127.0.0.1:5683`). The Bootstrap-Server deletes everything and writes one
//! NoSec account for the LwM2M Server (`--ssid`, `--lifetime`). Runs until SIGINT/SIGTERM, or
//! with `--exit-after-deregister` until the first device that registered de-registers.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use lwm2mc::coap::TransmissionParams;
use lwm2mc::testkit::{
    Activity, BootstrapConfig, BootstrapServer, Lwm2mServer, Response, TestkitError,
};
use lwm2mc::trace;

#[derive(Parser, Debug)]
#[command(about = "The embedded LwM2M Bootstrap-Server and Server, for trying a device")]
struct Args {
    /// Address both servers listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Bootstrap-Server UDP port (0: any free port).
    #[arg(long, default_value_t = 5783)]
    bs_port: u16,
    /// LwM2M Server UDP port (0: any free port).
    #[arg(long, default_value_t = 5683)]
    dm_port: u16,
    /// Short Server ID of the account the Bootstrap-Server writes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..65535))]
    ssid: u16,
    /// Lifetime (s) of the account the Bootstrap-Server writes.
    #[arg(long, default_value_t = 60)]
    lifetime: u32,
    /// Exit (0) once the first device that registered has de-registered.
    #[arg(long)]
    exit_after_deregister: bool,
    /// Exit (1) if still running after this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    max_seconds: u64,
    /// Operations to run on every device that registers, in order: "read PATH [ACCEPT]",
    /// "write PATH VALUE" (text/plain), "exec PATH [ARGS]", "discover PATH".
    ops: Vec<String>,
}

/// One operation from the command line.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Read { path: String, accept: Option<u16> },
    Write { path: String, value: String },
    Execute { path: String, args: Option<String> },
    Discover { path: String },
}

impl Op {
    fn parse(text: &str) -> Result<Op, String> {
        let mut words = text.splitn(3, ' ');
        let verb = words.next().unwrap_or_default();
        let path = words
            .next()
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| format!("{text:?}: expected \"VERB /PATH ...\""))?
            .to_string();
        let rest = words.next().map(str::to_string);
        Ok(match (verb, rest) {
            ("read", None) => Op::Read { path, accept: None },
            ("read", Some(a)) => Op::Read {
                path,
                accept: Some(
                    a.parse()
                        .map_err(|_| format!("{text:?}: Accept must be a number"))?,
                ),
            },
            ("write", Some(value)) => Op::Write { path, value },
            ("exec", args) => Op::Execute { path, args },
            ("discover", None) => Op::Discover { path },
            _ => return Err(format!("{text:?}: unknown operation or wrong arguments")),
        })
    }

    fn run(&self, dm: &Lwm2mServer, endpoint: &str) -> Result<Response, TestkitError> {
        match self {
            Op::Read { path, accept } => dm.read(endpoint, path, *accept),
            Op::Write { path, value } => dm.write(endpoint, path, 0, value.as_bytes().to_vec()),
            Op::Execute { path, args } => dm.execute(endpoint, path, args.as_deref()),
            Op::Discover { path } => dm.discover(endpoint, path),
        }
    }
}

fn main() {
    let args = Args::parse();
    let ops = match args
        .ops
        .iter()
        .map(|o| Op::parse(o).map(|op| (o.clone(), op)))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    match serve(&args, &ops) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

fn serve(args: &Args, ops: &[(String, Op)]) -> Result<(), String> {
    let params = TransmissionParams::default();
    let dm = Lwm2mServer::bind(SocketAddr::new(args.bind, args.dm_port), params)
        .map_err(|e| format!("LwM2M Server on port {}: {e}", args.dm_port))?;
    let plan = BootstrapConfig::new()
        .delete("/")
        .server_account(args.ssid, &dm.uri(), args.lifetime)
        .finish();
    let bs = BootstrapServer::bind(SocketAddr::new(args.bind, args.bs_port), plan, params)
        .map_err(|e| format!("Bootstrap-Server on port {}: {e}", args.bs_port))?;
    println!("bootstrap-server {}", bs.uri());
    println!("lwm2m-server {}", dm.uri());

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("signal handler: {e}"))?;
    let started = Instant::now();
    let mut first: Option<String> = None;
    let tick = Duration::from_millis(100);
    while !stop.load(Ordering::SeqCst) {
        if args.max_seconds > 0 && started.elapsed() > Duration::from_secs(args.max_seconds) {
            return Err(format!("still running after {} s", args.max_seconds));
        }
        print_sessions(&bs);
        let activity = match dm.wait_activity(tick) {
            Ok(a) => a,
            Err(TestkitError::Timeout(_)) => continue,
            Err(e) => return Err(e.to_string()),
        };
        // A session that ended before this activity is printed first.
        print_sessions(&bs);
        match activity {
            Activity::Registered(r) => {
                println!(
                    "registered {} at {} lt={} lwm2m={} b={} {}",
                    r.endpoint, r.location, r.lifetime, r.version, r.binding, r.links
                );
                first.get_or_insert_with(|| r.endpoint.clone());
                for (text, op) in ops {
                    let shown = match op.run(&dm, &r.endpoint) {
                        Ok(answer) => describe(&answer),
                        Err(e) => e.to_string(),
                    };
                    println!("{} {text} -> {shown}", r.endpoint);
                }
            }
            Activity::Updated(u) => {
                println!("updated {} {}", u.endpoint, u.queries.join("&"));
            }
            Activity::Deregistered(endpoint) => {
                println!("deregistered {endpoint}");
                if args.exit_after_deregister && first.as_deref() == Some(endpoint.as_str()) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Prints every bootstrap session that ended since the last call, one line per operation.
fn print_sessions(bs: &BootstrapServer) {
    while let Ok(s) = bs.wait_session(Duration::ZERO) {
        let who = s.endpoint.as_deref().unwrap_or("(server-initiated)");
        for (request, answer) in &s.steps {
            println!("bootstrap {who}: {request} -> {}", describe(answer));
        }
        match (&s.failure, s.finished()) {
            (Some(f), _) => println!("bootstrap {who}: failed: {f}"),
            (None, true) => println!("bootstrap {who}: finished"),
            (None, false) => println!("bootstrap {who}: not finished"),
        }
    }
}

/// `2.05 ct=text ACME`: the code, the Content-Format and the payload, on one line.
fn describe(r: &Response) -> String {
    let mut s = r.code_string();
    if let Some(cf) = r.content_format {
        s.push_str(&format!(" ct={}", trace::format_name(cf)));
    }
    if !r.payload.is_empty() {
        s.push(' ');
        s.push_str(&trace::payload_summary(r.content_format, &r.payload));
    }
    s
}
