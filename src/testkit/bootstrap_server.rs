//! A small LwM2M Bootstrap-Server: answers Bootstrap-Request with 2.04 and then runs a plan of
//! Bootstrap operations against that client, one at a time, recording every answer. It can also
//! run the plan unasked (Server-Initiated Bootstrap).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use coap_lite::Packet;

use super::lwm2m_server::request;
use super::net::{Ctx, Handler, ServerLoop};
use super::{Response, TestkitError};
use crate::coap::{msg, ExchangeId, Failure};
use crate::codec::tlv;
use crate::path::Path;
use crate::value::{Instances, ResourceValue, Resources, Value};

/// The operations a Bootstrap-Server runs, in order.
#[derive(Debug, Clone, Default)]
pub struct BootstrapConfig {
    ops: Vec<Packet>,
    next_security: u16,
    next_server: u16,
}

fn single(v: Value) -> ResourceValue {
    ResourceValue::Single(v)
}

fn instance_tlv(oid: u16, iid: u16, resources: Resources) -> Vec<u8> {
    let mut inst = Instances::new();
    inst.insert(iid, resources);
    // Encoding a fixed, well-typed instance cannot fail; an empty payload would show up as a
    // 4.xx in the session record if it ever did.
    tlv::encode(&Path::instance(oid, iid), &inst).unwrap_or_default()
}

fn security_resources(uri: &str, bootstrap: bool) -> Resources {
    let mut r = Resources::new();
    r.insert(0, single(Value::String(uri.to_string())));
    r.insert(1, single(Value::Boolean(bootstrap)));
    r.insert(2, single(Value::Integer(3)));
    r.insert(3, single(Value::Opaque(Vec::new())));
    r.insert(4, single(Value::Opaque(Vec::new())));
    r.insert(5, single(Value::Opaque(Vec::new())));
    r
}

impl BootstrapConfig {
    /// An empty plan (Security instance IDs for accounts start at 1, Server instance IDs at 0).
    pub fn new() -> BootstrapConfig {
        BootstrapConfig {
            ops: Vec::new(),
            next_security: 1,
            next_server: 0,
        }
    }

    /// Adds a raw request.
    pub fn op(mut self, packet: Packet) -> BootstrapConfig {
        self.ops.push(packet);
        self
    }

    /// `DELETE path`.
    pub fn delete(self, path: &str) -> BootstrapConfig {
        self.op(request(msg::DELETE, path))
    }

    /// `PUT path` with a payload.
    pub fn write(self, path: &str, content_format: u16, payload: Vec<u8>) -> BootstrapConfig {
        let mut p = request(msg::PUT, path);
        msg::set_content_format(&mut p, content_format);
        p.payload = payload;
        self.op(p)
    }

    /// A NoSec LwM2M Server account: `PUT /0/x` (Security) and `PUT /1/y` (Server) in TLV.
    pub fn server_account(mut self, ssid: u16, uri: &str, lifetime_s: u32) -> BootstrapConfig {
        let (sec, srv) = (self.next_security, self.next_server);
        self.next_security += 1;
        self.next_server += 1;
        let mut r = security_resources(uri, false);
        r.insert(10, single(Value::Integer(i64::from(ssid))));
        let mut s = Resources::new();
        s.insert(0, single(Value::Integer(i64::from(ssid))));
        s.insert(1, single(Value::Integer(i64::from(lifetime_s))));
        s.insert(6, single(Value::Boolean(false)));
        s.insert(7, single(Value::String("U".into())));
        self.write(&format!("/0/{sec}"), 11542, instance_tlv(0, sec, r))
            .write(&format!("/1/{srv}"), 11542, instance_tlv(1, srv, s))
    }

    /// A NoSec Bootstrap-Server account at Security instance `iid`.
    pub fn bootstrap_account(self, iid: u16, uri: &str, hold_off_s: u32) -> BootstrapConfig {
        let mut r = security_resources(uri, true);
        r.insert(11, single(Value::Integer(i64::from(hold_off_s))));
        r.insert(12, single(Value::Integer(0)));
        self.write(&format!("/0/{iid}"), 11542, instance_tlv(0, iid, r))
    }

    /// Bootstrap-Discover (`GET` with Accept 40).
    pub fn discover(self, path: &str) -> BootstrapConfig {
        let mut p = request(msg::GET, path);
        msg::set_accept(&mut p, 40);
        self.op(p)
    }

    /// Bootstrap-Read.
    pub fn read(self, path: &str, accept: Option<u16>) -> BootstrapConfig {
        let mut p = request(msg::GET, path);
        if let Some(a) = accept {
            msg::set_accept(&mut p, a);
        }
        self.op(p)
    }

    /// Bootstrap-Finish (`POST /bs`).
    pub fn finish(self) -> BootstrapConfig {
        self.op(request(msg::POST, "/bs"))
    }
}

/// One bootstrap session as the server saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// `ep=` of the Bootstrap-Request (`None` for a server-initiated session).
    pub endpoint: Option<String>,
    /// Every Uri-Query of the Bootstrap-Request (`ep=..`, `pct=..`).
    pub queries: Vec<String>,
    pub client: Option<SocketAddr>,
    /// Each operation (as a transcript line) with the client's answer.
    pub steps: Vec<(String, Response)>,
}

impl Session {
    /// True if the session ended with a Bootstrap-Finish answered 2.04.
    pub fn finished(&self) -> bool {
        self.steps
            .last()
            .is_some_and(|(req, r)| req.starts_with("CON POST /bs") && r.code == msg::CHANGED)
    }
}

struct Running {
    ops: VecDeque<Packet>,
    current: Option<(ExchangeId, String)>,
    session: Session,
}

type Done = Arc<(Mutex<(Vec<Session>, usize)>, Condvar)>;

struct BsHandler {
    plan: Vec<Packet>,
    request_code: u8,
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
        let session = Session {
            endpoint,
            queries,
            client: Some(client),
            steps: Vec::new(),
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
        let Some(run) = self.running.get_mut(&client) else {
            return;
        };
        match run.ops.pop_front() {
            Some(p) => {
                let label = crate::trace::describe(&p.to_bytes().unwrap_or_default());
                let id = ctx.request(client, p);
                run.current = Some((id, label));
            }
            None => {
                if let Some(run) = self.running.remove(&client) {
                    let (m, cv) = &*self.done;
                    if let Ok(mut d) = m.lock() {
                        d.0.push(run.session);
                    }
                    cv.notify_all();
                }
            }
        }
    }
}

impl Handler for BsHandler {
    fn on_request(&mut self, ctx: &mut Ctx<'_>, from: SocketAddr, req: &Packet) -> Option<Packet> {
        let path = msg::uri_path(req).unwrap_or_default();
        if msg::code_of(req) != msg::POST || path != ["bs"] {
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
        // The answer goes out before the first operation: the endpoint queues it first.
        let resp = msg::new_response(msg::CHANGED);
        ctx.ep.respond(ctx.now, from, req, resp);
        self.begin(ctx, from, endpoint, queries);
        None
    }

    fn on_outcome(&mut self, ctx: &mut Ctx<'_>, id: ExchangeId, outcome: Result<Packet, Failure>) {
        let Some(client) = self
            .running
            .iter()
            .find(|(_, r)| r.current.as_ref().is_some_and(|(c, _)| *c == id))
            .map(|(a, _)| *a)
        else {
            return;
        };
        let Some(run) = self.running.get_mut(&client) else {
            return;
        };
        let Some((_, label)) = run.current.take() else {
            return;
        };
        match outcome {
            Ok(p) => {
                run.session.steps.push((label, Response::from_packet(&p)));
                self.advance(ctx, client);
            }
            Err(f) => {
                // The client stopped answering: file what we have.
                run.session.steps.push((
                    label,
                    Response {
                        code: 0,
                        content_format: None,
                        payload: format!("{f:?}").into_bytes(),
                    },
                ));
                run.ops.clear();
                self.advance(ctx, client);
            }
        }
    }
}

/// A Bootstrap-Server on 127.0.0.1 with an ephemeral port.
pub struct BootstrapServer {
    lp: ServerLoop<BsHandler>,
    done: Done,
}

impl BootstrapServer {
    pub fn start(config: BootstrapConfig) -> io::Result<BootstrapServer> {
        let done: Done = Arc::default();
        let handler = BsHandler {
            plan: config.ops,
            request_code: msg::CHANGED,
            running: HashMap::new(),
            done: done.clone(),
        };
        let seed = crate::transport::udp::os_seed();
        Ok(BootstrapServer {
            lp: ServerLoop::start(handler, seed)?,
            done,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.lp.addr()
    }

    /// `coap://127.0.0.1:PORT`
    pub fn uri(&self) -> String {
        format!("coap://{}", self.addr())
    }

    pub fn transcript(&self) -> Vec<String> {
        self.lp.transcript()
    }

    /// Replaces the plan for the sessions that start from now on.
    pub fn set_plan(&self, config: BootstrapConfig) {
        self.lp.post(move |h, _| h.plan = config.ops);
    }

    /// Answers Bootstrap-Requests with `code` instead of 2.04 (to test failures).
    pub fn respond_to_request_with(&self, code: u8) {
        self.lp.post(move |h, _| h.request_code = code);
    }

    /// Server-Initiated Bootstrap: runs the plan against `client` without a Bootstrap-Request.
    pub fn push(&self, client: SocketAddr) {
        self.lp
            .post(move |h, ctx| h.begin(ctx, client, None, Vec::new()));
    }

    pub fn drop_next_datagrams(&self, n: usize) {
        self.lp.drop_next(n);
    }

    /// The next session that ran its whole plan (or stopped because the client went silent).
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
                return Err(TestkitError::Timeout(
                    "no finished bootstrap session".into(),
                ));
            }
            d = cv
                .wait_timeout(d, left)
                .map_err(|_| TestkitError::Poisoned)?
                .0;
        }
    }
}
