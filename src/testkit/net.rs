//! The socket thread shared by the testkit servers: one UDP socket on 127.0.0.1, the sans-I/O
//! CoAP endpoint, and a handler that owns the server's logic. Other threads reach the handler by
//! sending it closures, followed by an empty wake-up datagram to the socket itself; the read
//! timeout never exceeds [`MAX_WAIT`], so the thread notices the stop flag quickly even if a
//! wake-up datagram were lost.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, Packet};

use crate::coap::blockwise::{block_option, Block1Outcome, Bounds, Reassembly};
use crate::coap::{msg, Endpoint, ExchangeId, Failure, Incoming, TransmissionParams};
use crate::request::{Reply, Request};

/// The largest request body a testkit server puts together from Block1 blocks.
const MAX_BODY: usize = 1 << 20;

/// How a server loop secures its socket: NoSec, or DTLS PSK with a table of identities
/// (feature `dtls`).
#[derive(Default, Clone)]
pub(crate) struct Security {
    #[cfg(feature = "dtls")]
    pub(crate) psk: Option<crate::transport::dtls::PskLookup>,
}

impl Security {
    pub(crate) fn is_secure(&self) -> bool {
        #[cfg(feature = "dtls")]
        return self.psk.is_some();
        #[cfg(not(feature = "dtls"))]
        return false;
    }
}

/// DTLS associations a secured server keeps at once (one per client address); a peer controls
/// how many addresses it speaks from, so this is bounded.
#[cfg(feature = "dtls")]
const MAX_SESSIONS: usize = 64;

/// Longest socket read timeout: bounds how late a handler deadline or the stop flag is seen.
const MAX_WAIT: Duration = Duration::from_millis(20);

/// What a handler can do while it runs on the socket thread.
pub(crate) struct Ctx<'a> {
    pub ep: &'a mut Endpoint<SocketAddr>,
    /// Milliseconds since the loop started (the endpoint's clock).
    pub now: u64,
    /// Raw datagrams sent as they are, after the endpoint's own (used to duplicate one).
    pub raw: Vec<(SocketAddr, Vec<u8>)>,
}

impl Ctx<'_> {
    /// Sends a confirmable request.
    pub(super) fn request(&mut self, peer: SocketAddr, packet: Packet) -> ExchangeId {
        self.ep.request(self.now, peer, packet, true)
    }
}

/// A server's logic.
pub(crate) trait Handler: Send + 'static {
    /// A request from a client: the answer, or `None` to stay silent (or to answer through
    /// `ctx.ep` itself).
    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        from: SocketAddr,
        request: &Packet,
    ) -> Option<Packet>;
    /// The outcome of a request this server sent.
    fn on_outcome(&mut self, ctx: &mut Ctx<'_>, id: ExchangeId, outcome: Result<Packet, Failure>);
    /// Called on every turn of the loop (at least every [`MAX_WAIT`]), for the handler's own
    /// deadlines.
    fn on_tick(&mut self, _ctx: &mut Ctx<'_>) {}
}

type Job<H> = Box<dyn FnOnce(&mut H, &mut Ctx<'_>) + Send>;

/// A running server: its address, its transcript and a way to reach its handler. Dropping it
/// stops and joins the thread.
pub(crate) struct ServerLoop<H: Handler> {
    addr: SocketAddr,
    /// A clone of the server's socket, used only to send wake-up datagrams to itself.
    waker: UdpSocket,
    jobs: Sender<Job<H>>,
    stop: Arc<AtomicBool>,
    drop_next: Arc<AtomicUsize>,
    transcript: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl<H: Handler> ServerLoop<H> {
    /// Binds `addr` (port 0: an ephemeral one) and starts the thread.
    pub(super) fn start(
        addr: SocketAddr,
        handler: H,
        seed: u64,
        params: TransmissionParams,
        security: Security,
    ) -> io::Result<ServerLoop<H>> {
        let socket = UdpSocket::bind(addr)?;
        let addr = socket.local_addr()?;
        let waker = socket.try_clone()?;
        let (jobs, rx) = channel::<Job<H>>();
        let stop = Arc::new(AtomicBool::new(false));
        let drop_next = Arc::new(AtomicUsize::new(0));
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let state = LoopState {
            socket,
            addr,
            handler,
            ep: Endpoint::new(seed, params),
            start: Instant::now(),
            raw: Vec::new(),
            rx,
            stop: stop.clone(),
            drop_next: drop_next.clone(),
            transcript: transcript.clone(),
            blocks: Reassembly::default(),
            security,
            #[cfg(feature = "dtls")]
            sessions: std::collections::HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("testkit-{}", addr.port()))
            .spawn(move || state.run())?;
        Ok(ServerLoop {
            addr,
            waker,
            jobs,
            stop,
            drop_next,
            transcript,
            thread: Some(thread),
        })
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `job` on the socket thread (soon: the thread is woken up).
    pub(super) fn post(&self, job: impl FnOnce(&mut H, &mut Ctx<'_>) + Send + 'static) {
        let _ = self.jobs.send(Box::new(job));
        self.wake();
    }

    fn wake(&self) {
        // Best effort: if it is lost, the read timeout (MAX_WAIT) wakes the thread anyway.
        let _ = self.waker.send_to(&[], self.addr);
    }

    /// Silently drops the next `n` datagrams received (replacing any count still pending).
    pub(super) fn drop_next(&self, n: usize) {
        self.drop_next.store(n, Ordering::SeqCst);
    }

    pub(super) fn transcript(&self) -> Vec<String> {
        self.transcript
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }
}

impl<H: Handler> Drop for ServerLoop<H> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct LoopState<H: Handler> {
    socket: UdpSocket,
    addr: SocketAddr,
    handler: H,
    ep: Endpoint<SocketAddr>,
    start: Instant,
    /// Raw datagrams handlers asked for, sent after the endpoint's own.
    raw: Vec<(SocketAddr, Vec<u8>)>,
    rx: Receiver<Job<H>>,
    stop: Arc<AtomicBool>,
    drop_next: Arc<AtomicUsize>,
    transcript: Arc<Mutex<Vec<String>>>,
    /// Request bodies arriving in Block1 blocks (a device's long Register or Send).
    blocks: Reassembly<SocketAddr>,
    security: Security,
    /// One DTLS server session per client address (secured servers only).
    #[cfg(feature = "dtls")]
    sessions: std::collections::HashMap<SocketAddr, crate::transport::dtls::DtlsSession>,
}

impl<H: Handler> LoopState<H> {
    fn log(&self, line: String) {
        if let Ok(mut t) = self.transcript.lock() {
            t.push(line);
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `f` with a fresh context and keeps the raw datagrams it asked for.
    fn call<R>(&mut self, now: u64, f: impl FnOnce(&mut H, &mut Ctx<'_>) -> R) -> R {
        let mut ctx = Ctx {
            ep: &mut self.ep,
            now,
            raw: Vec::new(),
        };
        let r = f(&mut self.handler, &mut ctx);
        let raw = ctx.raw;
        self.raw.extend(raw);
        r
    }

    fn run(mut self) {
        let mut buf = vec![0u8; 65_536];
        while !self.stop.load(Ordering::SeqCst) {
            let now = self.now();
            while let Ok(job) = self.rx.try_recv() {
                self.call(now, job);
            }
            self.call(now, |h, ctx| h.on_tick(ctx));
            self.dtls_timers();
            for inc in self.ep.handle_timeout(now) {
                self.dispatch(now, inc);
            }
            self.flush();

            let wait = self
                .ep
                .poll_timeout()
                .map(|t| Duration::from_millis(t.saturating_sub(self.now())))
                .unwrap_or(MAX_WAIT)
                .clamp(Duration::from_millis(1), MAX_WAIT);
            if self.socket.set_read_timeout(Some(wait)).is_err() {
                break;
            }
            let Ok((n, from)) = self.socket.recv_from(&mut buf) else {
                continue; // timeout, or an error worth no more than a retry
            };
            if n == 0 && from == self.addr {
                continue; // our own wake-up call
            }
            let data = buf.get(..n).unwrap_or(&[]).to_vec();
            let dropped = self
                .drop_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1))
                .is_ok();
            if self.security.is_secure() {
                if dropped {
                    self.log(format!("<- {from} (dropped) DTLS record"));
                    continue;
                }
                let now = self.now();
                for plain in self.dtls_in(from, &data) {
                    self.log(format!("<- {from} {}", crate::trace::describe(&plain)));
                    if let Some(inc) = self.ep.handle_datagram(now, from, &plain) {
                        self.dispatch(now, inc);
                    }
                }
                self.flush();
                continue;
            }
            self.log(format!(
                "<- {from} {}{}",
                if dropped { "(dropped) " } else { "" },
                crate::trace::describe(&data)
            ));
            if dropped {
                continue;
            }
            let now = self.now();
            if let Some(inc) = self.ep.handle_datagram(now, from, &data) {
                self.dispatch(now, inc);
            }
            self.flush();
        }
    }

    /// A datagram for the DTLS side: the application data it carried (already authenticated).
    #[cfg(feature = "dtls")]
    fn dtls_in(&mut self, from: SocketAddr, data: &[u8]) -> Vec<Vec<u8>> {
        use crate::transport::dtls::DtlsSession;
        let Some(lookup) = self.security.psk.clone() else {
            return Vec::new();
        };
        // A ClientHello at epoch 0 (RFC 6347 §4.1, §4.2.8) from an address with a finished or
        // dead association starts a new one: the client rehandshakes (e.g. before Register).
        // Its record version may be DTLS 1.0 ({254, 255}) for compatibility (RFC 6347 §4.1).
        let client_hello = matches!(data, [22, 254, _, 0, 0, ..]) && data.get(13) == Some(&1);
        let stale = self
            .sessions
            .get(&from)
            .is_some_and(|s| s.is_closed() || (client_hello && s.is_connected()));
        if stale {
            self.sessions.remove(&from);
        }
        if !self.sessions.contains_key(&from) {
            if !client_hello {
                return Vec::new();
            }
            if self.sessions.len() >= MAX_SESSIONS {
                self.sessions
                    .retain(|_, s| s.is_connected() && !s.is_closed());
                if self.sessions.len() >= MAX_SESSIONS {
                    return Vec::new();
                }
            }
            let Ok(s) = DtlsSession::server_psk(lookup) else {
                return Vec::new();
            };
            self.sessions.insert(from, s);
        }
        let Some(s) = self.sessions.get_mut(&from) else {
            return Vec::new();
        };
        let was = s.is_connected();
        let res = s.handle_datagram(data);
        let mut wire = Vec::new();
        while let Some(d) = s.poll_transmit() {
            wire.push(d);
        }
        let now_connected = s.is_connected();
        for d in wire {
            let _ = self.socket.send_to(&d, from);
        }
        if !was && now_connected {
            self.log(format!("<- {from} DTLS session up"));
        }
        match res {
            Ok(plain) => plain,
            Err(e) => {
                self.log(format!("<- {from} {e}"));
                Vec::new()
            }
        }
    }

    #[cfg(not(feature = "dtls"))]
    fn dtls_in(&mut self, _from: SocketAddr, _data: &[u8]) -> Vec<Vec<u8>> {
        Vec::new()
    }

    /// Runs the handshake retransmission timers of the DTLS sessions (RFC 6347 §4.2.4).
    fn dtls_timers(&mut self) {
        #[cfg(feature = "dtls")]
        for (addr, s) in self.sessions.iter_mut() {
            if !s.is_connected() && s.timeout().is_some_and(|d| d.is_zero()) {
                let _ = s.handle_timeout();
                while let Some(d) = s.poll_transmit() {
                    let _ = self.socket.send_to(&d, *addr);
                }
            }
        }
    }

    /// Puts a CoAP datagram on the wire, through the client's DTLS session when secured
    /// (dropped if it has none yet: nothing goes out in clear from a secured server).
    fn send_coap(&mut self, to: SocketAddr, data: &[u8]) {
        if !self.security.is_secure() {
            let _ = self.socket.send_to(data, to);
            return;
        }
        #[cfg(feature = "dtls")]
        if let Some(s) = self.sessions.get_mut(&to) {
            if s.is_connected() && s.send(data).is_ok() {
                while let Some(d) = s.poll_transmit() {
                    let _ = self.socket.send_to(&d, to);
                }
            }
        }
    }

    fn dispatch(&mut self, now: u64, inc: Incoming<SocketAddr>) {
        match inc {
            Incoming::Request { peer, request } => {
                let Some(request) = self.whole_request(now, peer, request) else {
                    return;
                };
                if let Some(resp) = self.call(now, |h, ctx| h.on_request(ctx, peer, &request)) {
                    self.ep.respond(now, peer, &request, resp);
                }
            }
            Incoming::Response { id, response, .. } => {
                self.call(now, |h, ctx| h.on_outcome(ctx, id, Ok(response)));
            }
            Incoming::Failed { id, reason, .. } => {
                self.call(now, |h, ctx| h.on_outcome(ctx, id, Err(reason)));
            }
        }
    }

    /// The request whole: as it came, or put together from its Block1 blocks (RFC 7959 §2.3).
    /// `None` once a block before the last, or a refused one, has been answered.
    fn whole_request(&mut self, now: u64, peer: SocketAddr, request: Packet) -> Option<Packet> {
        let Some(block) = block_option(&request, CoapOption::Block1) else {
            return Some(request);
        };
        let echo = |mut reply: Packet| {
            if let Some(b1) = request.get_first_option(CoapOption::Block1) {
                reply.add_option(CoapOption::Block1, b1.clone());
            }
            reply
        };
        let parsed = Request::parse_packet(&request);
        let outcome = match (block, parsed) {
            (Some(block), Some(req)) => {
                let size1 = msg::uint_option(&request, CoapOption::Size1);
                let bounds = Bounds {
                    lifetime_ms: self.ep.params().exchange_lifetime_ms(),
                    limit: MAX_BODY,
                };
                self.blocks.accept(now, bounds, peer, &req, block, size1)
            }
            _ => Block1Outcome::Refuse(Reply::code(msg::BAD_REQUEST)),
        };
        let reply = match outcome {
            Block1Outcome::Complete(body) => {
                let mut whole = request;
                whole.clear_option(CoapOption::Block1);
                whole.clear_option(CoapOption::Size1);
                whole.payload = body;
                return Some(whole);
            }
            Block1Outcome::Continue => msg::new_response(msg::CONTINUE),
            Block1Outcome::Refuse(reply) => reply.into_packet(),
        };
        let reply = echo(reply);
        self.ep.respond(now, peer, &request, reply);
        None
    }

    /// Sends what the endpoint queued, then the raw datagrams.
    fn flush(&mut self) {
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            out.push(t);
        }
        out.append(&mut self.raw);
        for (to, data) in out {
            self.log(format!("-> {to} {}", crate::trace::describe(&data)));
            self.send_coap(to, &data);
        }
    }
}
