//! A small LwM2M Bootstrap-Server: answers Bootstrap-Request with 2.04 and then runs a plan of
//! Bootstrap operations against that client, one at a time, recording every answer. It can also
//! run the plan unasked (Server-Initiated Bootstrap, Core 1.1 §5.2.3).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use coap_lite::Packet;

use super::lwm2m_server::request;
use super::net::{Ctx, Handler, Security, ServerLoop};
use super::{millis, Response, TestkitError, DEFAULT_REQUEST_TIMEOUT};
use crate::coap::{msg, ExchangeId, Failure, TransmissionParams};
use crate::codec::tlv;
use crate::path::Path;
use crate::value::{Instances, ResourceValue, Resources, Value};

/// Content-Format of the TLV payloads the account helpers write.
const TLV: u16 = 11542;
/// Content-Format of link-format (Bootstrap-Discover answers).
const LINK_FORMAT: u16 = 40;
/// Security Mode 3: NoSec (Core 1.1 §E.1, resource /0/x/2).
const NOSEC: i64 = 3;

/// The operations a Bootstrap-Server runs, in order. Bootstrap-Finish is appended when the plan
/// does not end with one.
#[derive(Debug, Clone)]
pub struct BootstrapConfig {
    ops: Vec<Packet>,
    next_security: u16,
    next_server: u16,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig::new()
    }
}

fn single(v: Value) -> ResourceValue {
    ResourceValue::Single(v)
}

/// One instance as a TLV payload for `PUT /oid/iid`, wrapped in an Object Instance TLV. The
/// wrapper is optional when the path has an instance ID (Core 1.1 §7.4.3); sending it matches
/// VECTORS §5 byte for byte and makes the client check that its ID equals the path's.
fn instance_tlv(oid: u16, iid: u16, resources: Resources) -> Vec<u8> {
    let mut inst = Instances::new();
    inst.insert(iid, resources);
    // Encoding a fixed, well-typed instance cannot fail; an empty payload would show up as a
    // 4.00 in the session record if it ever did.
    tlv::encode(&Path::object(oid), &inst).unwrap_or_default()
}

/// The resources every NoSec Security instance carries (Core 1.1 §E.1: 0-5 are mandatory).
fn security_resources(uri: &str, bootstrap: bool) -> Resources {
    let mut r = Resources::new();
    r.insert(0, single(Value::String(uri.to_string())));
    r.insert(1, single(Value::Boolean(bootstrap)));
    r.insert(2, single(Value::Integer(NOSEC)));
    r.insert(3, single(Value::Opaque(Vec::new())));
    r.insert(4, single(Value::Opaque(Vec::new())));
    r.insert(5, single(Value::Opaque(Vec::new())));
    r
}

/// Bootstrap-Finish is `POST /bs` (Core 1.1 §5.2.7.1, Transport 1.1 §6.2).
fn is_post_bs(p: &Packet) -> bool {
    msg::code_of(p) == msg::POST && msg::uri_path(p).is_some_and(|s| s == ["bs"])
}

impl BootstrapConfig {
    /// An empty plan. The account helpers number Security instances from 1 (leaving 0 for a
    /// Bootstrap-Server account) and Server instances from 0.
    pub fn new() -> BootstrapConfig {
        BootstrapConfig {
            ops: Vec::new(),
            next_security: 1,
            next_server: 0,
        }
    }

    /// Adds any request (method, path, options, payload); the server sets type, MID and token.
    pub fn op(mut self, packet: Packet) -> BootstrapConfig {
        self.ops.push(packet);
        self
    }

    /// Bootstrap-Delete: `DELETE path` (e.g. "/" or "/0/1").
    pub fn delete(self, path: &str) -> BootstrapConfig {
        self.op(request(msg::DELETE, path))
    }

    /// Bootstrap-Write: `PUT path` with the payload as given.
    pub fn write(self, path: &str, content_format: u16, payload: Vec<u8>) -> BootstrapConfig {
        let mut p = request(msg::PUT, path);
        msg::set_content_format(&mut p, content_format);
        p.payload = payload;
        self.op(p)
    }

    /// A NoSec LwM2M Server account, as two TLV Bootstrap-Writes: `PUT /0/x` (URI,
    /// Bootstrap-Server false, Security Mode 3, empty keys, Short Server ID) and `PUT /1/y`
    /// (Short Server ID, Lifetime, Notification Storing false, Binding "U"). `x` counts from 1
    /// and `y` from 0 with each call.
    pub fn server_account(self, ssid: u16, uri: &str, lifetime_s: u32) -> BootstrapConfig {
        self.account(ssid, uri, lifetime_s, None)
    }

    /// Like [`server_account`](Self::server_account), a Pre-Shared Key account (Security Mode
    /// 0, `/0/x/3` the identity, `/0/x/5` the key): give it a `coaps://` URI.
    pub fn server_account_psk(
        self,
        ssid: u16,
        uri: &str,
        lifetime_s: u32,
        identity: &[u8],
        key: &[u8],
    ) -> BootstrapConfig {
        self.account(ssid, uri, lifetime_s, Some((identity, key)))
    }

    fn account(
        mut self,
        ssid: u16,
        uri: &str,
        lifetime_s: u32,
        psk: Option<(&[u8], &[u8])>,
    ) -> BootstrapConfig {
        let (sec, srv) = (self.next_security, self.next_server);
        self.next_security = self.next_security.saturating_add(1);
        self.next_server = self.next_server.saturating_add(1);
        let mut r = security_resources(uri, false);
        if let Some((identity, key)) = psk {
            r.insert(2, single(Value::Integer(0)));
            r.insert(3, single(Value::Opaque(identity.to_vec())));
            r.insert(5, single(Value::Opaque(key.to_vec())));
        }
        r.insert(10, single(Value::Integer(i64::from(ssid))));
        let mut s = Resources::new();
        s.insert(0, single(Value::Integer(i64::from(ssid))));
        s.insert(1, single(Value::Integer(i64::from(lifetime_s))));
        s.insert(6, single(Value::Boolean(false)));
        s.insert(7, single(Value::String("U".into())));
        self.write(&format!("/0/{sec}"), TLV, instance_tlv(0, sec, r))
            .write(&format!("/1/{srv}"), TLV, instance_tlv(1, srv, s))
    }

    /// A NoSec Bootstrap-Server account at Security instance `iid`: `PUT /0/iid` in TLV (URI,
    /// Bootstrap-Server true, Security Mode 3, empty keys, Client Hold Off Time, Bootstrap-Server
    /// Account Timeout 0 = never purged).
    pub fn bootstrap_account(self, iid: u16, uri: &str, hold_off_s: u32) -> BootstrapConfig {
        let mut r = security_resources(uri, true);
        r.insert(11, single(Value::Integer(i64::from(hold_off_s))));
        r.insert(12, single(Value::Integer(0)));
        self.write(&format!("/0/{iid}"), TLV, instance_tlv(0, iid, r))
    }

    /// Bootstrap-Discover: `GET path` with Accept 40 (Core 1.1 §5.2.7.3).
    pub fn discover(self, path: &str) -> BootstrapConfig {
        let mut p = request(msg::GET, path);
        msg::set_accept(&mut p, LINK_FORMAT);
        self.op(p)
    }

    /// Bootstrap-Read (1.1): `GET path`, with Accept if given.
    pub fn read(self, path: &str, accept: Option<u16>) -> BootstrapConfig {
        let mut p = request(msg::GET, path);
        if let Some(a) = accept {
            msg::set_accept(&mut p, a);
        }
        self.op(p)
    }

    /// Bootstrap-Finish: `POST /bs`.
    pub fn finish(self) -> BootstrapConfig {
        self.op(request(msg::POST, "/bs"))
    }

    /// The requests to send, ending with Bootstrap-Finish.
    fn into_ops(self) -> Vec<Packet> {
        if self.ops.last().is_some_and(is_post_bs) {
            self.ops
        } else {
            self.finish().ops
        }
    }
}

/// One bootstrap session as the server saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// `ep=` of the Bootstrap-Request (`None` for a server-initiated session).
    pub endpoint: Option<String>,
    /// Every Uri-Query of the Bootstrap-Request (`ep=..`, `pct=..`), in order.
    pub queries: Vec<String>,
    /// The client's address.
    pub client: Option<SocketAddr>,
    /// Each operation that was answered, as a transcript line (`CON PUT /0/1 ct=tlv {...}`),
    /// with the answer.
    pub steps: Vec<(String, Response)>,
    /// Set when the session stopped early: the operation and why (RST, no answer in time).
    pub failure: Option<String>,
}

impl Session {
    /// True if the session ended with a Bootstrap-Finish answered 2.04.
    pub fn finished(&self) -> bool {
        self.failure.is_none()
            && self
                .steps
                .last()
                .is_some_and(|(req, r)| req.starts_with("CON POST /bs") && r.code == msg::CHANGED)
    }

    /// The response codes, in order.
    pub fn codes(&self) -> Vec<u8> {
        self.steps.iter().map(|(_, r)| r.code).collect()
    }
}

/// The operation in flight for one client.
struct Current {
    id: ExchangeId,
    label: String,
    deadline: u64,
}

struct Running {
    ops: VecDeque<Packet>,
    current: Option<Current>,
    session: Session,
}

/// Finished sessions, and how many of them `wait_session` already returned.
type Done = Arc<(Mutex<(Vec<Session>, usize)>, Condvar)>;

struct BsHandler {
    plan: Vec<Packet>,
    request_code: u8,
    timeout_ms: Arc<AtomicU64>,
    running: HashMap<SocketAddr, Running>,
    done: Done,
}

impl BsHandler {
    fn begin(
        &mut self,
        ctx: &mut Ctx<'_>,
        client: SocketAddr,
        endpoint: Option<String>,
        queries: Vec<String>,
    ) {
        // A new session replaces one still running for the same client (it asked again).
        if let Some(old) = self.running.remove(&client) {
            if let Some(c) = old.current {
                ctx.ep.cancel(c.id);
            }
        }
        let session = Session {
            endpoint,
            queries,
            client: Some(client),
            steps: Vec::new(),
            failure: None,
        };
        let run = Running {
            ops: self.plan.iter().cloned().collect(),
            current: None,
            session,
        };
        self.running.insert(client, run);
        self.advance(ctx, client);
    }

    /// Sends the next operation for `client`, or files the session when the plan is done.
    fn advance(&mut self, ctx: &mut Ctx<'_>, client: SocketAddr) {
        let timeout = self.timeout_ms.load(Ordering::SeqCst);
        let Some(run) = self.running.get_mut(&client) else {
            return;
        };
        if let Some(p) = run.ops.pop_front() {
            let label = crate::trace::describe(&p.to_bytes().unwrap_or_default());
            let id = ctx.request(client, p);
            run.current = Some(Current {
                id,
                label,
                deadline: ctx.now.saturating_add(timeout),
            });
            return;
        }
        if let Some(run) = self.running.remove(&client) {
            let (m, cv) = &*self.done;
            if let Ok(mut d) = m.lock() {
                d.0.push(run.session);
            }
            cv.notify_all();
        }
    }

    /// Ends `client`'s session early.
    fn abort(&mut self, ctx: &mut Ctx<'_>, client: SocketAddr, label: &str, why: &str) {
        if let Some(run) = self.running.get_mut(&client) {
            run.session.failure = Some(format!("{label}: {why}"));
            run.ops.clear();
        }
        self.advance(ctx, client);
    }
}

impl Handler for BsHandler {
    fn on_request(&mut self, ctx: &mut Ctx<'_>, from: SocketAddr, req: &Packet) -> Option<Packet> {
        // Bootstrap-Request: POST /bs?ep={name} (Transport 1.1 §6.1).
        if !is_post_bs(req) {
            return Some(msg::new_response(msg::NOT_FOUND));
        }
        let queries = msg::uri_query(req).unwrap_or_default();
        let endpoint = queries
            .iter()
            .find_map(|q| q.strip_prefix("ep="))
            .map(str::to_string);
        if endpoint.is_none() {
            return Some(msg::new_response(msg::BAD_REQUEST));
        }
        if self.request_code != msg::CHANGED {
            return Some(msg::new_response(self.request_code));
        }
        // The answer is queued before the first operation, so it goes out first.
        ctx.ep
            .respond(ctx.now, from, req, msg::new_response(msg::CHANGED));
        self.begin(ctx, from, endpoint, queries);
        None
    }

    fn on_outcome(&mut self, ctx: &mut Ctx<'_>, id: ExchangeId, outcome: Result<Packet, Failure>) {
        let Some((client, run)) = self
            .running
            .iter_mut()
            .find(|(_, r)| r.current.as_ref().is_some_and(|c| c.id == id))
        else {
            return;
        };
        let client = *client;
        let Some(current) = run.current.take() else {
            return;
        };
        match outcome {
            Ok(p) => {
                run.session
                    .steps
                    .push((current.label, Response::from_packet(&p)));
                self.advance(ctx, client);
            }
            Err(Failure::Reset) => self.abort(ctx, client, &current.label, "the client sent RST"),
            Err(Failure::Timeout) => {
                self.abort(ctx, client, &current.label, "no answer (MAX_RETRANSMIT)")
            }
        }
    }

    fn on_tick(&mut self, ctx: &mut Ctx<'_>) {
        let late: Vec<(SocketAddr, ExchangeId, String)> = self
            .running
            .iter_mut()
            .filter(|(_, r)| r.current.as_ref().is_some_and(|c| c.deadline <= ctx.now))
            .filter_map(|(a, r)| r.current.take().map(|c| (*a, c.id, c.label)))
            .collect();
        for (client, id, label) in late {
            ctx.ep.cancel(id);
            self.abort(ctx, client, &label, "no answer within the request timeout");
        }
    }
}

/// A Bootstrap-Server on 127.0.0.1 with an ephemeral port, running a [`BootstrapConfig`] plan
/// for each client that sends a Bootstrap-Request. Dropping it stops its thread.
pub struct BootstrapServer {
    lp: ServerLoop<BsHandler>,
    done: Done,
    timeout_ms: Arc<AtomicU64>,
    secure: bool,
}

impl BootstrapServer {
    /// Binds 127.0.0.1 on an ephemeral port and starts serving `config`, with the RFC 7252
    /// default transmission parameters.
    pub fn start(config: BootstrapConfig) -> io::Result<BootstrapServer> {
        BootstrapServer::start_with(config, TransmissionParams::default())
    }

    /// Like [`start`](Self::start), with other CoAP transmission parameters (e.g. a short
    /// ACK_TIMEOUT so that loss tests run fast).
    pub fn start_with(
        config: BootstrapConfig,
        params: TransmissionParams,
    ) -> io::Result<BootstrapServer> {
        BootstrapServer::bind(super::LOOPBACK_EPHEMERAL, config, params)
    }

    /// Like [`start_with`](Self::start_with), over DTLS 1.2 with the PSKs of `psk` (feature
    /// `dtls`): [`uri`](Self::uri) is then `coaps://`, and nothing is answered in clear.
    #[cfg(feature = "dtls")]
    pub fn start_psk(
        config: BootstrapConfig,
        params: TransmissionParams,
        psk: super::PskTable,
    ) -> io::Result<BootstrapServer> {
        BootstrapServer::bind_secure(super::LOOPBACK_EPHEMERAL, config, params, psk.security())
    }

    /// Like [`start_with`](Self::start_with), on `addr` (port 0: an ephemeral one).
    pub fn bind(
        addr: SocketAddr,
        config: BootstrapConfig,
        params: TransmissionParams,
    ) -> io::Result<BootstrapServer> {
        BootstrapServer::bind_secure(addr, config, params, Security::default())
    }

    pub(crate) fn bind_secure(
        addr: SocketAddr,
        config: BootstrapConfig,
        params: TransmissionParams,
        security: Security,
    ) -> io::Result<BootstrapServer> {
        let secure = security.is_secure();
        let done: Done = Arc::default();
        let timeout_ms = Arc::new(AtomicU64::new(millis(DEFAULT_REQUEST_TIMEOUT)));
        let handler = BsHandler {
            plan: config.into_ops(),
            request_code: msg::CHANGED,
            timeout_ms: timeout_ms.clone(),
            running: HashMap::new(),
            done: done.clone(),
        };
        let seed = crate::transport::udp::os_seed();
        Ok(BootstrapServer {
            lp: ServerLoop::start(addr, handler, seed, params, security)?,
            done,
            timeout_ms,
            secure,
        })
    }

    /// The server's UDP address.
    pub fn addr(&self) -> SocketAddr {
        self.lp.addr()
    }

    /// `coap://127.0.0.1:PORT` (`coaps://` when secured), for the client's Bootstrap-Server
    /// account.
    pub fn uri(&self) -> String {
        let scheme = if self.secure { "coaps" } else { "coap" };
        format!("{scheme}://{}", self.addr())
    }

    /// Every datagram in and out, one line each: `<- 127.0.0.1:40000 CON POST /bs?ep=dev`,
    /// `-> 127.0.0.1:40000 ACK 2.04`; dropped ones are marked `(dropped)`.
    pub fn transcript(&self) -> Vec<String> {
        self.lp.transcript()
    }

    /// Replaces the plan for the sessions that start from now on.
    pub fn set_plan(&self, config: BootstrapConfig) {
        let ops = config.into_ops();
        self.lp.post(move |h, _| h.plan = ops);
    }

    /// Answers Bootstrap-Requests with `code` instead of 2.04 (to test failures); no session
    /// starts then. `msg::CHANGED` restores the normal behaviour.
    pub fn respond_to_request_with(&self, code: u8) {
        self.lp.post(move |h, _| h.request_code = code);
    }

    /// How long one operation may wait for its answer before the session is filed as failed
    /// (default [`DEFAULT_REQUEST_TIMEOUT`]); applies to operations sent from now on.
    pub fn set_request_timeout(&self, timeout: Duration) {
        self.timeout_ms.store(millis(timeout), Ordering::SeqCst);
    }

    /// Server-Initiated Bootstrap: runs the plan against `client` without a Bootstrap-Request.
    pub fn push(&self, client: SocketAddr) {
        self.lp
            .post(move |h, ctx| h.begin(ctx, client, None, Vec::new()));
    }

    /// Silently drops the next `n` datagrams this server receives (simulated loss).
    pub fn drop_next_datagrams(&self, n: usize) {
        self.lp.drop_next(n);
    }

    /// The next session (in the order they ended) that ran its whole plan or stopped early (see
    /// [`Session::failure`]), and that no earlier call returned.
    pub fn wait_session(&self, timeout: Duration) -> Result<Session, TestkitError> {
        let (m, cv) = &*self.done;
        let deadline = Instant::now() + timeout;
        let mut d = m.lock().map_err(|_| TestkitError::Poisoned)?;
        loop {
            let taken = d.1;
            if let Some(s) = d.0.get(taken).cloned() {
                d.1 += 1;
                return Ok(s);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TestkitError::Timeout(format!(
                    "no bootstrap session ended within {timeout:?}"
                )));
            }
            d = cv
                .wait_timeout(d, left)
                .map_err(|_| TestkitError::Poisoned)?
                .0;
        }
    }
}
