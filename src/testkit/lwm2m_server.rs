//! A small LwM2M Server: accepts Register/Update/De-register and lets a test (or the demo) send
//! Read, Write, Execute, Discover or any request to a registered endpoint.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use coap_lite::Packet;

use super::net::{Ctx, Handler, ServerLoop};
use super::{Response, TestkitError};
use crate::coap::{msg, ExchangeId, Failure};

/// A registration as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub endpoint: String,
    pub lifetime: String,
    pub version: String,
    pub binding: String,
    /// The object list, as sent.
    pub links: String,
    /// Where the server put it, e.g. `/rd/3`.
    pub location: String,
    pub client: SocketAddr,
    pub queries: Vec<String>,
}

/// An Update as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub endpoint: String,
    pub queries: Vec<String>,
    pub links: Option<String>,
}

#[derive(Debug, Clone)]
enum Record {
    Registered(Registration),
    Updated(Update),
    Deregistered(String),
}

#[derive(Default)]
struct Shared {
    records: Vec<Record>,
    /// Records already handed to a waiter, per (kind, endpoint).
    taken: HashMap<(u8, String), usize>,
}

type Log = Arc<(Mutex<Shared>, Condvar)>;

struct DmHandler {
    regs: HashMap<String, Registration>,
    next_id: u32,
    pending: HashMap<ExchangeId, Sender<Result<Response, TestkitError>>>,
    log: Log,
}

fn record(log: &Log, r: Record) {
    let (m, cv) = &**log;
    if let Ok(mut s) = m.lock() {
        s.records.push(r);
    }
    cv.notify_all();
}

fn query(queries: &[String], key: &str) -> String {
    queries
        .iter()
        .find_map(|q| q.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or("")
        .to_string()
}

impl Handler for DmHandler {
    fn on_request(&mut self, _ctx: &mut Ctx<'_>, from: SocketAddr, req: &Packet) -> Option<Packet> {
        let path = msg::uri_path(req).unwrap_or_default();
        let queries = msg::uri_query(req).unwrap_or_default();
        let code = msg::code_of(req);
        let links = String::from_utf8_lossy(&req.payload).into_owned();
        if code == msg::POST && path == ["rd"] {
            let endpoint = query(&queries, "ep");
            if endpoint.is_empty() {
                return Some(msg::new_response(msg::BAD_REQUEST));
            }
            // A new Register from a known endpoint replaces the old registration (Core 1.1 §6.2.1).
            self.regs.retain(|_, r| r.endpoint != endpoint);
            self.next_id += 1;
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
            return Some(resp);
        }
        let [rd, id] = path.as_slice() else {
            return Some(msg::new_response(msg::NOT_FOUND));
        };
        if rd != "rd" {
            return Some(msg::new_response(msg::NOT_FOUND));
        }
        let Some(reg) = self.regs.get_mut(id) else {
            return Some(msg::new_response(msg::NOT_FOUND));
        };
        match code {
            msg::POST => {
                // The client's address may change between messages (NAT); follow it.
                reg.client = from;
                let links = (!req.payload.is_empty()).then_some(links);
                record(
                    &self.log,
                    Record::Updated(Update {
                        endpoint: reg.endpoint.clone(),
                        queries,
                        links,
                    }),
                );
                Some(msg::new_response(msg::CHANGED))
            }
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
        if let Some(tx) = self.pending.remove(&id) {
            let _ = tx.send(match outcome {
                Ok(p) => Ok(Response::from_packet(&p)),
                Err(f) => Err(TestkitError::Timeout(format!("request failed: {f:?}"))),
            });
        }
    }
}

/// An LwM2M Server on 127.0.0.1 with an ephemeral port.
pub struct Lwm2mServer {
    lp: ServerLoop<DmHandler>,
    log: Log,
}

/// How long a request to the device may take (covers the CoAP retransmissions of a lost packet).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

impl Lwm2mServer {
    pub fn start() -> io::Result<Lwm2mServer> {
        let log: Log = Arc::default();
        let handler = DmHandler {
            regs: HashMap::new(),
            next_id: 0,
            pending: HashMap::new(),
            log: log.clone(),
        };
        let seed = crate::transport::udp::os_seed();
        Ok(Lwm2mServer {
            lp: ServerLoop::start(handler, seed)?,
            log,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.lp.addr()
    }

    /// `coap://127.0.0.1:PORT`
    pub fn uri(&self) -> String {
        format!("coap://{}", self.addr())
    }

    /// Every datagram in and out, one line each.
    pub fn transcript(&self) -> Vec<String> {
        self.lp.transcript()
    }

    /// Silently drops the next `n` datagrams this server receives (simulated loss).
    pub fn drop_next_datagrams(&self, n: usize) {
        self.lp.drop_next(n);
    }

    fn wait_record<T>(
        &self,
        kind: u8,
        endpoint: &str,
        timeout: Duration,
        pick: impl Fn(&Record) -> Option<T>,
    ) -> Result<T, TestkitError> {
        let (m, cv) = &*self.log;
        let deadline = Instant::now() + timeout;
        let mut s = m.lock().map_err(|_| TestkitError::Poisoned)?;
        loop {
            let key = (kind, endpoint.to_string());
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
                    "no record of kind {kind} for {endpoint}"
                )));
            }
            s = cv
                .wait_timeout(s, left)
                .map_err(|_| TestkitError::Poisoned)?
                .0;
        }
    }

    /// The next Register from `endpoint` not returned before.
    pub fn wait_registration(
        &self,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<Registration, TestkitError> {
        self.wait_record(0, endpoint, timeout, |r| match r {
            Record::Registered(reg) if reg.endpoint == endpoint => Some(reg.clone()),
            _ => None,
        })
    }

    /// The next Update from `endpoint` not returned before.
    pub fn wait_update(&self, endpoint: &str, timeout: Duration) -> Result<Update, TestkitError> {
        self.wait_record(1, endpoint, timeout, |r| match r {
            Record::Updated(u) if u.endpoint == endpoint => Some(u.clone()),
            _ => None,
        })
    }

    /// The next De-register from `endpoint` not returned before.
    pub fn wait_deregistration(
        &self,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<(), TestkitError> {
        self.wait_record(2, endpoint, timeout, |r| match r {
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

    /// Sends `packet` (method, path, options, payload) to the registered `endpoint` and waits
    /// for the answer.
    pub fn request(&self, endpoint: &str, packet: Packet) -> Result<Response, TestkitError> {
        let (tx, rx) = channel();
        let endpoint = endpoint.to_string();
        self.lp.post(move |h, ctx| {
            let Some(client) = h
                .regs
                .values()
                .find(|r| r.endpoint == endpoint)
                .map(|r| r.client)
            else {
                let _ = tx.send(Err(TestkitError::UnknownEndpoint(endpoint)));
                return;
            };
            let id = ctx.request(client, packet);
            h.pending.insert(id, tx);
        });
        rx.recv_timeout(REQUEST_TIMEOUT)
            .map_err(|_| TestkitError::Timeout("no answer from the device".into()))?
    }

    /// Sends the same request datagram twice (same message ID): a duplicate the device must
    /// answer identically and apply once. Returns the answer.
    pub fn request_twice(&self, endpoint: &str, packet: Packet) -> Result<Response, TestkitError> {
        let (tx, rx) = channel();
        let endpoint = endpoint.to_string();
        self.lp.post(move |h, ctx| {
            let Some(client) = h
                .regs
                .values()
                .find(|r| r.endpoint == endpoint)
                .map(|r| r.client)
            else {
                let _ = tx.send(Err(TestkitError::UnknownEndpoint(endpoint)));
                return;
            };
            let id = ctx.request(client, packet);
            // The first transmission is queued now; send its bytes a second time.
            let mut copies = Vec::new();
            while let Some(t) = ctx.ep.poll_transmit() {
                copies.push(t);
            }
            for (to, data) in copies {
                ctx.raw.push((to, data.clone()));
                ctx.raw.push((to, data));
            }
            h.pending.insert(id, tx);
        });
        rx.recv_timeout(REQUEST_TIMEOUT)
            .map_err(|_| TestkitError::Timeout("no answer from the device".into()))?
    }

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

    pub fn discover(&self, endpoint: &str, path: &str) -> Result<Response, TestkitError> {
        self.read(endpoint, path, Some(40))
    }

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

/// A request for `path` ("/3/0/1").
pub fn request(code: u8, path: &str) -> Packet {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    msg::new_request(code, &segs, &[])
}
