//! A small LwM2M Server: accepts Register/Update/De-register (Core 1.1 §5.3, Transport 1.1
//! §6.3) and lets a test (or the demo) send Read, Write, Execute, Discover or any request to a
//! registered endpoint.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use coap_lite::Packet;

use super::net::{Ctx, Handler, Security, ServerLoop};
use super::{millis, Response, TestkitError, DEFAULT_REQUEST_TIMEOUT};
use crate::coap::{msg, ExchangeId, Failure, TransmissionParams};

/// A Register as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// `ep=`, the endpoint name.
    pub endpoint: String,
    /// `lt=` as sent (empty if absent: the client relies on the default of 86400 s).
    pub lifetime: String,
    /// `lwm2m=` as sent, e.g. "1.1".
    pub version: String,
    /// `b=` as sent (empty if absent).
    pub binding: String,
    /// The object list (link-format payload), as sent.
    pub links: String,
    /// Where the server put the registration, e.g. `/rd/3` (Location-Path "rd", "3").
    pub location: String,
    /// The client's address.
    pub client: SocketAddr,
    /// Every Uri-Query, in order.
    pub queries: Vec<String>,
}

/// An Update as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The endpoint name of the registration it updated.
    pub endpoint: String,
    /// The registration's location, e.g. `/rd/3`.
    pub location: String,
    /// The client's address (the server follows it if it changed).
    pub client: SocketAddr,
    /// Every Uri-Query (`lt=`, `b=`, ...), in order; empty for a bare Update.
    pub queries: Vec<String>,
    /// The new object list, if the Update carried one.
    pub links: Option<String>,
}

/// What a device did at the server, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// A Register was accepted.
    Registered(Registration),
    /// An Update was accepted.
    Updated(Update),
    /// The endpoint de-registered.
    Deregistered(String),
}

use Activity as Record;

/// What a waiter waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Register,
    Update,
    Deregister,
    Any,
}

#[derive(Default)]
struct Shared {
    records: Vec<Record>,
    /// Index just after the last record handed to a waiter, per (kind, endpoint).
    taken: HashMap<(Kind, String), usize>,
}

type Log = Arc<(Mutex<Shared>, Condvar)>;

/// The answer channel of a request in flight and when to give up on it.
struct Pending {
    tx: Sender<Result<Response, TestkitError>>,
    deadline: u64,
}

struct DmHandler {
    /// Registrations by location id ("3" for `/rd/3`).
    regs: HashMap<String, Registration>,
    next_id: u32,
    pending: HashMap<ExchangeId, Pending>,
    timeout_ms: Arc<AtomicU64>,
    log: Log,
}

fn record(log: &Log, r: Record) {
    let (m, cv) = &**log;
    if let Ok(mut s) = m.lock() {
        s.records.push(r);
    }
    cv.notify_all();
}

/// The value of `key=value` among the queries ("" if absent).
fn query(queries: &[String], key: &str) -> String {
    queries
        .iter()
        .find_map(|q| q.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or("")
        .to_string()
}

impl DmHandler {
    /// Register: `POST /rd?ep=..` → 2.01 with Location-Path "rd", id (Transport 1.1 §6.3.1).
    fn register(&mut self, from: SocketAddr, queries: Vec<String>, links: String) -> Packet {
        let endpoint = query(&queries, "ep");
        if endpoint.is_empty() {
            return msg::new_response(msg::BAD_REQUEST);
        }
        // A new Register from a known endpoint replaces the old registration (Core 1.1 §6.2.1).
        self.regs.retain(|_, r| r.endpoint != endpoint);
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id.to_string();
        let reg = Registration {
            endpoint,
            lifetime: query(&queries, "lt"),
            version: query(&queries, "lwm2m"),
            binding: query(&queries, "b"),
            links,
            location: format!("/rd/{id}"),
            client: from,
            queries,
        };
        self.regs.insert(id.clone(), reg.clone());
        record(&self.log, Record::Registered(reg));
        let mut resp = msg::new_response(msg::CREATED);
        msg::add_location_path(&mut resp, &["rd", &id]);
        resp
    }

    /// Sends `packet` to `endpoint`; the answer (or the failure) goes to `tx`. With `twice`, the
    /// first transmission is sent a second time with the same MID (a duplicate).
    fn send(
        &mut self,
        ctx: &mut Ctx<'_>,
        endpoint: &str,
        packet: Packet,
        twice: bool,
        tx: Sender<Result<Response, TestkitError>>,
    ) {
        let Some(client) = self
            .regs
            .values()
            .find(|r| r.endpoint == endpoint)
            .map(|r| r.client)
        else {
            let _ = tx.send(Err(TestkitError::UnknownEndpoint(endpoint.to_string())));
            return;
        };
        let id = ctx.request(client, packet);
        if twice {
            // The request's first transmission is in the outbox now (unless NSTART holds it
            // back); every datagram for this client found there goes out twice.
            while let Some((to, data)) = ctx.ep.poll_transmit() {
                if to == client {
                    ctx.raw.push((to, data.clone()));
                }
                ctx.raw.push((to, data));
            }
        }
        let timeout = self.timeout_ms.load(Ordering::SeqCst);
        self.pending.insert(
            id,
            Pending {
                tx,
                deadline: ctx.now.saturating_add(timeout),
            },
        );
    }
}

impl Handler for DmHandler {
    fn on_request(&mut self, _ctx: &mut Ctx<'_>, from: SocketAddr, req: &Packet) -> Option<Packet> {
        let path = msg::uri_path(req).unwrap_or_default();
        let queries = msg::uri_query(req).unwrap_or_default();
        let code = msg::code_of(req);
        let links = String::from_utf8_lossy(&req.payload).into_owned();
        if code == msg::POST && path == ["rd"] {
            return Some(self.register(from, queries, links));
        }
        let [rd, id] = path.as_slice() else {
            return Some(msg::new_response(msg::NOT_FOUND));
        };
        if rd != "rd" {
            return Some(msg::new_response(msg::NOT_FOUND));
        }
        // An unknown (or forgotten) location: 4.04, which tells the client to register again
        // (Core 1.1 §6.2.2).
        let Some(reg) = self.regs.get_mut(id) else {
            return Some(msg::new_response(msg::NOT_FOUND));
        };
        match code {
            // Update: POST /rd/id → 2.04 (Transport 1.1 §6.3.2).
            msg::POST => {
                // The client's address may change between messages (NAT); follow it.
                reg.client = from;
                let update = Update {
                    endpoint: reg.endpoint.clone(),
                    location: reg.location.clone(),
                    client: from,
                    queries,
                    links: (!req.payload.is_empty()).then_some(links),
                };
                record(&self.log, Record::Updated(update));
                Some(msg::new_response(msg::CHANGED))
            }
            // De-register: DELETE /rd/id → 2.02 (Transport 1.1 §6.3.3).
            msg::DELETE => {
                let endpoint = reg.endpoint.clone();
                self.regs.remove(id.as_str());
                record(&self.log, Record::Deregistered(endpoint));
                Some(msg::new_response(msg::DELETED))
            }
            _ => Some(msg::new_response(msg::METHOD_NOT_ALLOWED)),
        }
    }

    fn on_outcome(&mut self, _ctx: &mut Ctx<'_>, id: ExchangeId, outcome: Result<Packet, Failure>) {
        if let Some(p) = self.pending.remove(&id) {
            let _ = p.tx.send(match outcome {
                Ok(packet) => Ok(Response::from_packet(&packet)),
                Err(f) => Err(TestkitError::from_failure("request to the device", f)),
            });
        }
    }

    fn on_tick(&mut self, ctx: &mut Ctx<'_>) {
        let late: Vec<ExchangeId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= ctx.now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            ctx.ep.cancel(id);
            if let Some(p) = self.pending.remove(&id) {
                let _ = p.tx.send(Err(TestkitError::Timeout(
                    "no answer from the device within the request timeout".into(),
                )));
            }
        }
    }
}

/// An LwM2M Server on 127.0.0.1 with an ephemeral port. It accepts every registration, records
/// Register/Update/De-register for the `wait_*` methods, and sends requests to registered
/// endpoints. Dropping it stops its thread.
pub struct Lwm2mServer {
    lp: ServerLoop<DmHandler>,
    log: Log,
    timeout_ms: Arc<AtomicU64>,
    secure: bool,
}

impl Lwm2mServer {
    /// Binds 127.0.0.1 on an ephemeral port, with the RFC 7252 default transmission parameters.
    pub fn start() -> io::Result<Lwm2mServer> {
        Lwm2mServer::start_with(TransmissionParams::default())
    }

    /// Like [`start`](Self::start), with other CoAP transmission parameters (e.g. a short
    /// ACK_TIMEOUT so that loss tests run fast).
    pub fn start_with(params: TransmissionParams) -> io::Result<Lwm2mServer> {
        Lwm2mServer::bind(super::LOOPBACK_EPHEMERAL, params)
    }

    /// Like [`start_with`](Self::start_with), over DTLS 1.2 with the PSKs of `psk` (feature
    /// `dtls`): [`uri`](Self::uri) is then `coaps://`, and nothing is answered in clear.
    #[cfg(feature = "dtls")]
    pub fn start_psk(params: TransmissionParams, psk: super::PskTable) -> io::Result<Lwm2mServer> {
        Lwm2mServer::bind_secure(super::LOOPBACK_EPHEMERAL, params, psk.security())
    }

    /// Like [`start_with`](Self::start_with), on `addr` (port 0: an ephemeral one).
    pub fn bind(addr: SocketAddr, params: TransmissionParams) -> io::Result<Lwm2mServer> {
        Lwm2mServer::bind_secure(addr, params, Security::default())
    }

    pub(crate) fn bind_secure(
        addr: SocketAddr,
        params: TransmissionParams,
        security: Security,
    ) -> io::Result<Lwm2mServer> {
        let secure = security.is_secure();
        let log: Log = Arc::default();
        let timeout_ms = Arc::new(AtomicU64::new(millis(DEFAULT_REQUEST_TIMEOUT)));
        let handler = DmHandler {
            regs: HashMap::new(),
            next_id: 0,
            pending: HashMap::new(),
            timeout_ms: timeout_ms.clone(),
            log: log.clone(),
        };
        let seed = crate::transport::udp::os_seed();
        Ok(Lwm2mServer {
            lp: ServerLoop::start(addr, handler, seed, params, security)?,
            log,
            timeout_ms,
            secure,
        })
    }

    /// The server's UDP address.
    pub fn addr(&self) -> SocketAddr {
        self.lp.addr()
    }

    /// `coap://127.0.0.1:PORT` (`coaps://` when secured), for the client's server account.
    pub fn uri(&self) -> String {
        let scheme = if self.secure { "coaps" } else { "coap" };
        format!("{scheme}://{}", self.addr())
    }

    /// Every datagram in and out, one line each: `<- 127.0.0.1:40000 CON POST /rd?ep=dev...`,
    /// `-> 127.0.0.1:40000 ACK 2.01 location=/rd/1`; dropped ones are marked `(dropped)`.
    pub fn transcript(&self) -> Vec<String> {
        self.lp.transcript()
    }

    /// Silently drops the next `n` datagrams this server receives (simulated loss).
    pub fn drop_next_datagrams(&self, n: usize) {
        self.lp.drop_next(n);
    }

    /// How long [`request`](Self::request) and the helpers built on it wait for the device's
    /// answer (default [`DEFAULT_REQUEST_TIMEOUT`]); applies to requests sent from now on.
    pub fn set_request_timeout(&self, timeout: Duration) {
        self.timeout_ms.store(millis(timeout), Ordering::SeqCst);
    }

    fn wait_record<T>(
        &self,
        kind: Kind,
        endpoint: &str,
        timeout: Duration,
        pick: impl Fn(&Record) -> Option<T>,
    ) -> Result<T, TestkitError> {
        let (m, cv) = &*self.log;
        let deadline = Instant::now() + timeout;
        let key = (kind, endpoint.to_string());
        let mut s = m.lock().map_err(|_| TestkitError::Poisoned)?;
        loop {
            let start = s.taken.get(&key).copied().unwrap_or(0);
            let found = s
                .records
                .iter()
                .enumerate()
                .skip(start)
                .find_map(|(i, r)| pick(r).map(|t| (i, t)));
            if let Some((i, t)) = found {
                s.taken.insert(key, i + 1);
                return Ok(t);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TestkitError::Timeout(format!(
                    "no {kind:?} from {endpoint:?} within {timeout:?}"
                )));
            }
            s = cv
                .wait_timeout(s, left)
                .map_err(|_| TestkitError::Poisoned)?
                .0;
        }
    }

    /// The next Register from `endpoint` that no earlier call returned.
    pub fn wait_registration(
        &self,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<Registration, TestkitError> {
        self.wait_record(Kind::Register, endpoint, timeout, |r| match r {
            Record::Registered(reg) if reg.endpoint == endpoint => Some(reg.clone()),
            _ => None,
        })
    }

    /// The next activity of any endpoint that no earlier call of this method returned.
    pub fn wait_activity(&self, timeout: Duration) -> Result<Activity, TestkitError> {
        self.wait_record(Kind::Any, "", timeout, |r| Some(r.clone()))
    }

    /// The next Update from `endpoint` that no earlier call returned.
    pub fn wait_update(&self, endpoint: &str, timeout: Duration) -> Result<Update, TestkitError> {
        self.wait_record(Kind::Update, endpoint, timeout, |r| match r {
            Record::Updated(u) if u.endpoint == endpoint => Some(u.clone()),
            _ => None,
        })
    }

    /// The next De-register from `endpoint` that no earlier call returned.
    pub fn wait_deregistration(
        &self,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<(), TestkitError> {
        self.wait_record(Kind::Deregister, endpoint, timeout, |r| match r {
            Record::Deregistered(ep) if ep == endpoint => Some(()),
            _ => None,
        })
    }

    /// Drops the registration of `endpoint`: its next Update gets 4.04.
    pub fn forget(&self, endpoint: &str) {
        let endpoint = endpoint.to_string();
        self.lp
            .post(move |h, _| h.regs.retain(|_, r| r.endpoint != endpoint));
    }

    fn exchange(
        &self,
        endpoint: &str,
        packet: Packet,
        twice: bool,
    ) -> Result<Response, TestkitError> {
        let (tx, rx) = channel();
        let endpoint = endpoint.to_string();
        self.lp
            .post(move |h, ctx| h.send(ctx, &endpoint, packet, twice, tx));
        // The socket thread enforces the request timeout; the margin only covers a thread that
        // died.
        let limit = Duration::from_millis(self.timeout_ms.load(Ordering::SeqCst))
            .saturating_add(Duration::from_secs(1));
        rx.recv_timeout(limit)
            .map_err(|_| TestkitError::Timeout("the server thread did not answer".into()))?
    }

    /// Sends `packet` (method, path, options, payload; the server sets type CON, MID and
    /// token) to the registered `endpoint` and waits for the answer.
    pub fn request(&self, endpoint: &str, packet: Packet) -> Result<Response, TestkitError> {
        self.exchange(endpoint, packet, false)
    }

    /// Sends the request datagram twice (same message ID): a duplicate the device must answer
    /// identically and apply once (RFC 7252 §4.5). Returns the answer.
    pub fn request_twice(&self, endpoint: &str, packet: Packet) -> Result<Response, TestkitError> {
        self.exchange(endpoint, packet, true)
    }

    /// Read: `GET path`, with Accept if given.
    pub fn read(
        &self,
        endpoint: &str,
        path: &str,
        accept: Option<u16>,
    ) -> Result<Response, TestkitError> {
        let mut p = request(msg::GET, path);
        if let Some(a) = accept {
            msg::set_accept(&mut p, a);
        }
        self.request(endpoint, p)
    }

    /// Discover: `GET path` with Accept 40 (link-format).
    pub fn discover(&self, endpoint: &str, path: &str) -> Result<Response, TestkitError> {
        self.read(endpoint, path, Some(40))
    }

    /// Write (replace): `PUT path` with the payload as given.
    pub fn write(
        &self,
        endpoint: &str,
        path: &str,
        content_format: u16,
        payload: Vec<u8>,
    ) -> Result<Response, TestkitError> {
        let mut p = request(msg::PUT, path);
        msg::set_content_format(&mut p, content_format);
        p.payload = payload;
        self.request(endpoint, p)
    }

    /// Execute: `POST path`, with the arguments as a text/plain payload if given
    /// (Core 1.1 §5.4.5).
    pub fn execute(
        &self,
        endpoint: &str,
        path: &str,
        args: Option<&str>,
    ) -> Result<Response, TestkitError> {
        let mut p = request(msg::POST, path);
        if let Some(a) = args {
            msg::set_content_format(&mut p, 0);
            p.payload = a.as_bytes().to_vec();
        }
        self.request(endpoint, p)
    }
}

/// A request with method `code` for `path` ("/3/0/1"; "/" is the root, no Uri-Path option).
pub fn request(code: u8, path: &str) -> Packet {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    msg::new_request(code, &segs, &[])
}
