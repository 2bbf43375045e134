//! The socket thread shared by the testkit servers: one UDP socket on 127.0.0.1, the sans-I/O
//! CoAP endpoint, and a handler that owns the server's logic. Other threads talk to the handler
//! by sending it closures; the loop wakes every few milliseconds, so nothing blocks forever.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use coap_lite::Packet;

use crate::coap::{Endpoint, ExchangeId, Failure, Incoming, TransmissionParams};

/// What a handler can do while it runs on the socket thread.
pub(crate) struct Ctx<'a> {
    pub ep: &'a mut Endpoint<SocketAddr>,
    pub now: u64,
    /// Raw datagrams to send as they are, after the endpoint's own (used to duplicate one).
    pub raw: Vec<(SocketAddr, Vec<u8>)>,
}

impl Ctx<'_> {
    pub fn request(&mut self, peer: SocketAddr, packet: Packet) -> ExchangeId {
        self.ep.request(self.now, peer, packet, true)
    }
}

/// A server's logic.
pub(crate) trait Handler: Send + 'static {
    /// A request from a client: the answer, or `None` to stay silent.
    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        from: SocketAddr,
        request: &Packet,
    ) -> Option<Packet>;
    /// The outcome of a request this server sent.
    fn on_outcome(&mut self, ctx: &mut Ctx<'_>, id: ExchangeId, outcome: Result<Packet, Failure>);
}

type Job<H> = Box<dyn FnOnce(&mut H, &mut Ctx<'_>) + Send>;

/// A running server: its address, its transcript and a way to reach its handler.
pub(crate) struct ServerLoop<H: Handler> {
    addr: SocketAddr,
    jobs: Sender<Job<H>>,
    stop: Arc<AtomicBool>,
    drop_next: Arc<AtomicUsize>,
    transcript: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl<H: Handler> ServerLoop<H> {
    pub fn start(handler: H, seed: u64) -> io::Result<ServerLoop<H>> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(5)))?;
        let addr = socket.local_addr()?;
        let (jobs, rx) = channel::<Job<H>>();
        let stop = Arc::new(AtomicBool::new(false));
        let drop_next = Arc::new(AtomicUsize::new(0));
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let state = LoopState {
            socket,
            handler,
            rx,
            stop: stop.clone(),
            drop_next: drop_next.clone(),
            transcript: transcript.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("testkit-{}", addr.port()))
            .spawn(move || state.run(seed))?;
        Ok(ServerLoop {
            addr,
            jobs,
            stop,
            drop_next,
            transcript,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `job` on the socket thread.
    pub fn post(&self, job: impl FnOnce(&mut H, &mut Ctx<'_>) + Send + 'static) {
        let _ = self.jobs.send(Box::new(job));
    }

    pub fn drop_next(&self, n: usize) {
        self.drop_next.store(n, Ordering::SeqCst);
    }

    pub fn transcript(&self) -> Vec<String> {
        self.transcript
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }
}

impl<H: Handler> Drop for ServerLoop<H> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct LoopState<H: Handler> {
    socket: UdpSocket,
    handler: H,
    rx: Receiver<Job<H>>,
    stop: Arc<AtomicBool>,
    drop_next: Arc<AtomicUsize>,
    transcript: Arc<Mutex<Vec<String>>>,
}

impl<H: Handler> LoopState<H> {
    fn log(&self, line: String) {
        if let Ok(mut t) = self.transcript.lock() {
            t.push(line);
        }
    }

    fn run(mut self, seed: u64) {
        let start = Instant::now();
        let mut ep = Endpoint::new(seed, TransmissionParams::default());
        let mut buf = vec![0u8; 65_536];
        while !self.stop.load(Ordering::SeqCst) {
            let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            while let Ok(job) = self.rx.try_recv() {
                let mut ctx = Ctx {
                    ep: &mut ep,
                    now,
                    raw: Vec::new(),
                };
                job(&mut self.handler, &mut ctx);
                let raw = ctx.raw;
                for (to, data) in raw {
                    self.log(format!("-> {to} {}", crate::trace::describe(&data)));
                    let _ = self.socket.send_to(&data, to);
                }
            }
            if let Ok((n, from)) = self.socket.recv_from(&mut buf) {
                let data = buf.get(..n).unwrap_or(&[]).to_vec();
                let dropped = self
                    .drop_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1))
                    .is_ok();
                self.log(format!(
                    "<- {from} {}{}",
                    if dropped { "(dropped) " } else { "" },
                    crate::trace::describe(&data)
                ));
                if !dropped {
                    let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                    match ep.handle_datagram(now, from, &data) {
                        Some(Incoming::Request { peer, request }) => {
                            let mut ctx = Ctx {
                                ep: &mut ep,
                                now,
                                raw: Vec::new(),
                            };
                            if let Some(resp) = self.handler.on_request(&mut ctx, peer, &request) {
                                ep.respond(now, peer, &request, resp);
                            }
                        }
                        Some(Incoming::Response { id, response, .. }) => {
                            self.handler.on_outcome(
                                &mut Ctx {
                                    ep: &mut ep,
                                    now,
                                    raw: Vec::new(),
                                },
                                id,
                                Ok(response),
                            );
                        }
                        Some(Incoming::Failed { id, reason, .. }) => {
                            self.handler.on_outcome(
                                &mut Ctx {
                                    ep: &mut ep,
                                    now,
                                    raw: Vec::new(),
                                },
                                id,
                                Err(reason),
                            );
                        }
                        None => {}
                    }
                }
            }
            let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            for inc in ep.handle_timeout(now) {
                if let Incoming::Failed { id, reason, .. } = inc {
                    self.handler.on_outcome(
                        &mut Ctx {
                            ep: &mut ep,
                            now,
                            raw: Vec::new(),
                        },
                        id,
                        Err(reason),
                    );
                }
            }
            while let Some((to, data)) = ep.poll_transmit() {
                self.log(format!("-> {to} {}", crate::trace::describe(&data)));
                let _ = self.socket.send_to(&data, to);
            }
        }
    }
}
