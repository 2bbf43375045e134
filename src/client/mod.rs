//! The sans-I/O client (DESIGN §1): fed datagrams and the time, asked for datagrams, the next
//! timer and events. Bootstrap sessions, registrations and DM requests meet here.
//!
//! This module is the router: it turns a datagram into a typed request and hands it to the
//! interface it belongs to (`bootstrap_flow`, `dm_flow`), feeds answers and timer expiries to
//! the state machines (`crate::bootstrapping`, `crate::registrations`), and applies what they
//! return. The machines never call each other or the router.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use coap_lite::Packet;

use crate::accounts;
use crate::bootstrap::{self, Action};
use crate::bootstrapping::{Arrival, Bootstrapping, BsOutput};
use crate::coap::blockwise::requests::{BlockRequests, Outcome, Reassemble, RequestFailure, Sizes};
use crate::coap::blockwise::{self, Block1Outcome, Reassembly};
use crate::coap::endpoint::Received;
use crate::coap::message::{option, Message};
use crate::coap::message_buf::MessageBuf;
use crate::coap::{msg, Endpoint, ExchangeId, Failure, Incoming, TransmissionParams};
use crate::config::Config;
use crate::dm::{self, DmContext, Effect};
use crate::event::{Event, EventQueue};
use crate::object::ObjectHandler;
use crate::observe::attributes::AttributeStore;
use crate::observe::registry::Observations;
use crate::path::Path;
use crate::peer::{PeerId, PeerInfo};
use crate::persist::{self, LoadOutcome, Persister, Storage};
use crate::registration::{self, RegState};
use crate::registrations::{RegExchange, RegOutput, Registrations};
use crate::request::{Reply, Request};
use crate::rng::Rng;
use crate::smartcard::{self, Smartcard, SmartcardWrite};
use crate::store::{ObjectVersion, Store};
use crate::timers::{Timer, Timers};
use crate::transaction::Transaction;
use crate::value::{Instances, ResourceValue, Value};

mod bootstrap_flow;
mod dm_flow;
mod firmware_flow;
mod firmware_pull;
mod observe_flow;
mod offline;
mod peers;
mod persistence;
mod queue_mode;
mod registration_flow;
mod send_flow;

pub use firmware_pull::FirmwareError;
pub use peers::PeerChange;
pub use registration_flow::RegistrationState;
pub use send_flow::SendError;

use peers::peer_for;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where it goes (see `Client::peer_info` for the address and keys).
    pub peer: PeerId,
    /// One whole CoAP message (RFC 7252 §3), to be sent as one UDP datagram.
    pub data: Vec<u8>,
}

/// Smartcard data last applied, and the (object, instance) pairs it created.
type AppliedCard = (Vec<SmartcardWrite>, BTreeSet<(u16, u16)>);

/// Why the client is waiting on an outgoing exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    BootstrapRequest,
    Registration(RegExchange),
    /// A Send (`POST /dp`) to this server.
    Send(u16),
    /// A block of a firmware package pulled from its Package URI.
    FirmwarePull,
}

/// One LwM2M client: its objects, its servers, its exchanges.
///
/// # How to drive it
///
/// The client does no I/O and reads no clock. Its owner (an adapter such as
/// `transport::udp::UdpClient`, the C ABI, or a test) calls, in any order and from one thread
/// at a time:
///
/// - [`start`](Self::start) once, to begin (smartcard, factory configuration, Register or
///   client-initiated bootstrap);
/// - [`handle_datagram`](Self::handle_datagram) for every datagram from a peer it knows
///   ([`peers`](Self::peers), [`peer_info`](Self::peer_info));
/// - [`handle_timeout`](Self::handle_timeout) when the time [`poll_timeout`](Self::poll_timeout)
///   returned has come (calling it early is harmless);
/// - then, after each of these calls, [`poll_peer_change`](Self::poll_peer_change) until it
///   returns `None` (open a transport for each new peer), [`poll_transmit`](Self::poll_transmit)
///   until `None` (send each datagram to its peer), `poll_peer_change` again (release the peers
///   now closed), [`poll_event`](Self::poll_event) until `None`, and `poll_timeout` again: a
///   call may change all of them;
/// - [`stop`](Self::stop) to de-register, then keep driving until
///   [`is_stopped`](Self::is_stopped).
///
/// `now` is milliseconds on a monotonic clock of the owner's choosing. It must not go
/// backwards; if it does, the client keeps using the latest time it was given, so timers never
/// fire early or twice.
pub struct Client {
    config: Config,
    store: Store,
    params: TransmissionParams,
    endpoint: Endpoint<PeerId>,
    rng: Rng,
    peers: crate::vec_map::VecMap<PeerId, PeerInfo>,
    next_peer: u64,
    events: EventQueue,
    exchanges: crate::vec_map::VecMap<ExchangeId, Purpose>,
    /// The bootstrap state machine (requests, sessions, retries).
    bs: Bootstrapping,
    /// One registration per LwM2M Server account (the registration state machine).
    regs: Registrations,
    started: bool,
    stopping: bool,
    storage: Option<Box<dyn Storage + Send>>,
    persister: Persister,
    smartcard: Option<Box<dyn Smartcard + Send>>,
    /// The card data last applied and the instances it created.
    smartcard_applied: Option<AppliedCard>,
    /// Every deadline: bootstrap wait and session, account purge, Register retries, Updates.
    timers: Timers,
    /// The latest `now` the owner handed in (see "How to drive it").
    now: u64,
    /// Objects whose values the application holds.
    handlers: BTreeMap<u16, Box<dyn ObjectHandler>>,
    /// The observations served (Information Reporting).
    observations: Observations,
    /// The Write-Attributes of every server.
    attributes: AttributeStore,
    /// The versions of the observed objects when observed values were last compared. None
    /// while nothing is observed.
    observed_baseline: Option<crate::vec_map::VecMap<u16, ObjectVersion>>,
    /// Offline mode (see `offline`): nothing new is sent.
    offline: bool,
    /// Queue mode's awake window (`Config::queue_mode`).
    queue: Option<queue_mode::QueueMode>,
    /// Notifications kept while offline, oldest first.
    stored: Vec<offline::Stored>,
    /// The peers reported by `poll_peer_change` as opened and not yet as closed.
    announced: crate::vec_map::VecMap<PeerId, ()>,
    /// Request bodies arriving in Block1 blocks (RFC 7959).
    blocks: Reassembly,
    /// Our own requests, sent in Block1 blocks and answered in Block2 blocks as needed.
    requests: BlockRequests,
    /// Firmware update (object 5), when the application enabled it.
    /// Boxed: 200 B that most clients never use.
    firmware: Option<Box<firmware_flow::FirmwareUpdate>>,
}

impl Client {
    /// A client over `store` (factory state: the objects the device ships with).
    pub fn new(config: Config, store: Store) -> Client {
        let params = config.transmission;
        let queue_mode = config.queue_mode;
        let max_attribute_levels = config.limits.max_attribute_levels;
        let mut rng = Rng::new(config.seed);
        let mut endpoint = Endpoint::new(rng.next_u64(), params);
        // Responses in blocks are put together (or streamed) by `requests`.
        endpoint.accept_block_responses(true);
        Client {
            config,
            store,
            params,
            endpoint,
            rng,
            peers: Default::default(),
            next_peer: 1,
            events: EventQueue::default(),
            exchanges: Default::default(),
            bs: Bootstrapping::default(),
            regs: Registrations::new(queue_mode),
            started: false,
            stopping: false,
            storage: None,
            persister: Persister::new(),
            smartcard: None,
            smartcard_applied: None,
            timers: Timers::default(),
            now: 0,
            handlers: BTreeMap::new(),
            observations: Observations::new(),
            attributes: AttributeStore::new(max_attribute_levels),
            observed_baseline: None,
            offline: false,
            queue: queue_mode.then(queue_mode::QueueMode::default),
            stored: Vec::new(),
            announced: Default::default(),
            blocks: Reassembly::default(),
            requests: BlockRequests::default(),
            firmware: None,
        }
    }

    /// A client whose configuration lives in `storage`: the last committed snapshot is loaded
    /// over the factory `store` now, and every commit is saved there. A corrupt or unknown
    /// snapshot is reported as `Event::StorageError` and the factory state is used.
    pub fn with_storage(config: Config, store: Store, storage: Box<dyn Storage + Send>) -> Client {
        let mut client = Client::new(config, store);
        client.storage = Some(storage);
        client.load_snapshot();
        client
    }

    /// The configuration the client was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The committed objects.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The application's access to its objects (Device values, sensor readings). Changing the
    /// Security or Server objects here is factory provisioning: call it before `start`.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Lets the application hold the values of object `oid` (defined in the store): Reads,
    /// Writes and Executes on it go through `handler`.
    pub fn set_handler(
        &mut self,
        oid: u16,
        handler: Box<dyn ObjectHandler>,
    ) -> Result<(), crate::store::StoreError> {
        if self.store.def(oid).is_none() {
            return Err(crate::store::StoreError::UnknownObject(oid));
        }
        self.handlers.insert(oid, handler);
        Ok(())
    }

    /// Plugs in a smartcard; it is consulted at `start` and before every Register and Update.
    pub fn set_smartcard(&mut self, card: Box<dyn Smartcard + Send>) {
        self.smartcard = Some(card);
    }

    /// Starts the bootstrap sequence in the order of Core 1.1 §5.2.4: Bootstrap from Smartcard,
    /// then the factory configuration (what `store` and storage hold), then Register with the
    /// configured servers, else client-initiated bootstrap after the ClientHoldOffTime.
    pub fn start(&mut self, now: u64) {
        let now = self.clock(now);
        if self.started {
            return;
        }
        self.started = true;
        self.stopping = false;
        self.regs.resume();
        self.check_smartcard();
        self.ensure_bootstrap_peer();
        if accounts::server_accounts(&self.store).is_empty() {
            self.schedule_bootstrap(now, true);
        } else {
            self.sync_servers(now, true);
        }
        self.drive(now);
    }

    /// De-registers from every registered server. The client is done when `is_stopped`.
    pub fn stop(&mut self, now: u64) {
        let now = self.clock(now);
        if !self.started {
            return;
        }
        self.stopping = true;
        self.abandon_bootstrap(now);
        self.regs.stop();
        self.apply_registration_outputs(now);
    }

    /// True after `stop` once every De-register was answered or gave up.
    pub fn is_stopped(&self) -> bool {
        self.stopping && self.regs.is_stopped()
    }

    /// Short Server IDs of the servers the client is registered with.
    pub fn registered_servers(&self) -> Vec<u16> {
        self.regs.registered()
    }

    /// The location (`/rd/...`) of the registration with `ssid`.
    pub fn registration_location(&self, ssid: u16) -> Option<String> {
        self.regs.location(ssid)
    }

    /// Whether a bootstrap session is open.
    pub fn is_bootstrapping(&self) -> bool {
        self.bs.is_active()
    }

    /// Where and how to reach a peer the client sends to.
    pub fn peer_info(&self, peer: PeerId) -> Option<&PeerInfo> {
        self.peers.get(&peer)
    }

    /// Every peer currently in use.
    pub fn peers(&self) -> impl Iterator<Item = (PeerId, &PeerInfo)> {
        self.peers.iter().map(|(k, v)| (*k, v))
    }

    /// Starts a client-initiated bootstrap now (e.g. the application's own trigger).
    pub fn request_bootstrap(&mut self, now: u64) {
        let now = self.clock(now);
        self.schedule_bootstrap(now, false);
        self.drive(now);
    }

    /// Feeds one datagram received from `peer`.
    pub fn handle_datagram(&mut self, now: u64, peer: PeerId, bytes: &[u8]) {
        let now = self.clock(now);
        self.queue_traffic();
        match self.endpoint.receive(now, peer, bytes) {
            Some(Received::Request { peer, request }) => self.on_request(now, peer, &request),
            Some(Received::Response { id, response, .. }) => {
                let sizes = self.request_sizes();
                // Kept as read (options and payload copied once): block-wise may hold it while
                // it fetches the next block.
                let response = MessageBuf::of(&response);
                match self
                    .requests
                    .on_response(&mut self.endpoint, now, id, response, sizes)
                {
                    Outcome::Done { id, response } => self.on_response(now, id, &response),
                    Outcome::Failed { id, reason } => self.on_failure(now, id, reason),
                    Outcome::Pending | Outcome::Unknown => {}
                }
            }
            // Requests and responses come as `Received::Request` and `Received::Response`.
            Some(Received::Other(Incoming::Request { .. } | Incoming::Response { .. })) => {}
            Some(Received::Other(Incoming::Failed { id, reason, .. })) => {
                self.on_message_failure(now, id, reason)
            }
            None => {}
        }
        self.drive(now);
    }

    /// Sends a request of ours for `purpose`, in blocks if it is long (RFC 7959).
    fn request(&mut self, now: u64, peer: PeerId, packet: MessageBuf, purpose: Purpose) {
        let sizes = self.request_sizes();
        let id = self.requests.send(
            &mut self.endpoint,
            now,
            peer,
            packet,
            sizes,
            Reassemble::Whole,
        );
        self.exchanges.insert(id, purpose);
    }

    /// The block size of our requests, and the largest response body we put together (the
    /// same bound as for a request body a peer sends us).
    fn request_sizes(&self) -> Sizes {
        Sizes {
            block_size: self.config.block_size,
            response_limit: self.config.limits.max_request_payload,
        }
    }

    /// The endpoint gave up on one of its messages: a block of one of our requests, or a
    /// notification.
    fn on_message_failure(&mut self, now: u64, id: ExchangeId, reason: Failure) {
        match self.requests.on_failure(id) {
            Some(request) => self.on_failure(now, request, RequestFailure::Transport(reason)),
            None => {
                self.notification_failed(id);
            }
        }
    }

    /// Runs whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        let now = self.clock(now);
        for incoming in self.endpoint.handle_timeout(now) {
            if let Incoming::Failed { id, reason, .. } = incoming {
                self.on_message_failure(now, id, reason);
            }
        }
        self.drive(now);
        self.trim();
    }

    /// Gives back the room a burst of traffic left in queues and tables that are now short or
    /// empty, so that an idle client holds only its state (issue 15). Timeouts are when a
    /// client goes idle; doing it there keeps the request path free of reallocations.
    fn trim(&mut self) {
        self.exchanges.shrink();
        self.events.trim();
        self.requests.trim();
        self.bs.trim();
        self.regs.trim();
    }

    /// `now`, or the latest time seen if `now` went backwards.
    fn clock(&mut self, now: u64) -> u64 {
        self.now = self.now.max(now);
        self.now
    }

    /// The next datagram to send, oldest first; `None` when there is nothing (more) to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let (peer, data) = self.endpoint.poll_transmit()?;
        self.queue_traffic();
        Some(Transmit { peer, data })
    }

    /// The same, written into `datagram` (cleared first) instead of a `Vec` of its own: the
    /// peer to send it to, or `None` (and `datagram` empty) when there is nothing to send. A
    /// caller that keeps one buffer for sending allocates nothing per datagram; the client's
    /// own datagrams wait back to back in one buffer too (issue 15).
    pub fn poll_transmit_into(&mut self, datagram: &mut Vec<u8>) -> Option<PeerId> {
        let peer = self.endpoint.poll_transmit_into(datagram)?;
        self.queue_traffic();
        Some(peer)
    }

    /// The next event for the application, oldest first (bounded: see `Limits`).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Queues an event for the application, dropping the oldest when the queue is full
    /// (`Limits::max_queued_events`): an application that never polls cannot make the client
    /// grow without bound (a server's 20,000 Executes with 60 KB arguments once took 1.1 GiB).
    fn emit(&mut self, event: Event) {
        self.events
            .push(event, self.config.limits.max_queued_events);
    }

    /// When `handle_timeout` must be called next: a retransmission, a timer, a notification
    /// deadline, or now if an observed value changed since the last call.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.started && !self.stopping && self.observed_change_pending() {
            return Some(self.now);
        }
        [
            // Duplicate-cache expiries are swept at the next call: no wake-up for them.
            self.endpoint.poll_exchange_timeout(),
            self.timers.next().filter(|_| !self.offline),
            self.next_observation_deadline(),
            self.firmware_deadline(),
            self.queue_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- incoming requests ----

    fn on_request(&mut self, now: u64, peer: PeerId, packet: &Message<'_>) {
        let Some(mut req) = Request::parse(packet) else {
            self.respond(
                now,
                peer,
                packet,
                Reply::error(msg::BAD_REQUEST, "options are not valid UTF-8"),
            );
            return;
        };
        let limit = self.config.limits.max_request_payload;
        let bootstrap = self.is_bootstrap_peer(peer) && self.accept_bootstrap_request(now, peer);
        // Core 1.1 §6: DM requests before registration completes MUST be ignored; a peer that
        // is neither our Bootstrap-Server nor a registered server gets nothing either.
        let ssid = match bootstrap {
            true => None,
            false => match self.regs.registered_ssid_of(peer) {
                Some(ssid) => Some(ssid),
                None => return,
            },
        };
        // Object 5 streams its package to the application, block by block, whatever its size.
        if ssid.is_some() && self.firmware_request(now, peer, packet, &req) {
            return;
        }
        if req.payload.len() > limit {
            self.respond(now, peer, packet, Reply::too_large(limit));
            return;
        }
        // RFC 7959 §2.3: a body in Block1 blocks is handled once, whole, on its last block.
        match blockwise::block_in(packet.first_option(option::BLOCK1)) {
            None => {}
            Some(None) => {
                let reply = Reply::error(msg::BAD_REQUEST, "malformed Block1 option");
                self.respond(now, peer, packet, reply);
                return;
            }
            Some(Some(block)) => {
                let size1 = packet.uint_option(option::SIZE1);
                let bounds = blockwise::Bounds {
                    lifetime_ms: self.params.exchange_lifetime_ms(),
                    limit,
                };
                match self.blocks.accept(now, bounds, peer, &req, block, size1) {
                    Block1Outcome::Continue => {
                        self.respond(now, peer, packet, Reply::code(msg::CONTINUE));
                        return;
                    }
                    Block1Outcome::Refuse(reply) => {
                        self.respond(now, peer, packet, reply);
                        return;
                    }
                    Block1Outcome::Complete(body) => req.payload = body,
                }
            }
        }
        match ssid {
            None => self.on_bootstrap_request(now, peer, packet, &req),
            Some(ssid) => self.on_dm_request(now, peer, ssid, packet, &req),
        }
    }

    /// Sends `reply` to `request`: 5.00 instead of an answer over
    /// `Limits::max_response_payload`; the block the request asks for (or the first) of an
    /// answer over the block size (RFC 7959 §2.4); the request's Block1 echoed (§2.3).
    fn respond(&mut self, now: u64, peer: PeerId, request: &Message<'_>, reply: Reply) {
        let success = reply.is_success();
        let reply = self.bounded(reply);
        let block1 = request.first_option(option::BLOCK1);
        let whole = |size: usize| {
            reply.payload.len() <= (16usize << blockwise::szx_for(size))
                && request.first_option(option::BLOCK2).is_none()
        };
        let one_block =
            !success || reply.payload.is_empty() || self.config.block_size.is_none_or(whole);
        if block1.is_none() && one_block {
            // Nothing of block-wise applies: the datagram is written straight from the reply.
            self.endpoint
                .respond_encoded(now, peer, request.reply_to(), |head, out| {
                    reply.encode_into(head, out)
                });
            return;
        }
        let mut packet = reply.into_packet();
        if let Some(b1) = block1 {
            packet.add_option(coap_lite::CoapOption::Block1, b1.to_vec());
        }
        if success && !packet.payload.is_empty() {
            let wanted = blockwise::block_in(request.first_option(option::BLOCK2));
            if let Err(reply) = self.cut_block2(&mut packet, wanted) {
                packet = reply.into_packet();
            }
        }
        self.endpoint
            .respond_packet(now, peer, request.reply_to(), packet);
    }

    /// Cuts `packet` to the Block2 block `wanted` asks for, or to the first block when it is
    /// longer than `Config::block_size`; a malformed Block2 option is 4.00.
    fn cut_block2(
        &self,
        packet: &mut Packet,
        wanted: Option<Option<blockwise::Block>>,
    ) -> Result<(), Reply> {
        let Some(size) = self.config.block_size else {
            return Ok(());
        };
        let szx = blockwise::szx_for(size);
        match wanted {
            Some(None) => Err(Reply::error(msg::BAD_REQUEST, "malformed Block2 option")),
            Some(Some(block)) => blockwise::cut_block2(packet, Some(block), szx),
            None if packet.payload.len() > (16usize << szx) => {
                blockwise::cut_block2(packet, None, szx)
            }
            None => Ok(()),
        }
    }

    /// `reply`, or 5.00 if its payload exceeds `Limits::max_response_payload`.
    fn bounded(&self, reply: Reply) -> Reply {
        let limit = self.config.limits.max_response_payload;
        if reply.payload.len() <= limit {
            return reply;
        }
        Reply::error(
            msg::INTERNAL_SERVER_ERROR,
            format!(
                "the answer ({} bytes) exceeds the {limit}-byte limit",
                reply.payload.len()
            ),
        )
    }

    // ---- responses to our requests ----

    fn on_response(&mut self, now: u64, id: ExchangeId, response: &MessageBuf) {
        let Some(purpose) = self.exchanges.remove(&id) else {
            return;
        };
        let code = response.code;
        match purpose {
            Purpose::BootstrapRequest => {
                let staged = self.staged_store();
                let lifetime = self.params.exchange_lifetime_ms();
                if !self.bs.request_answered(now, code, staged, lifetime) {
                    self.bootstrap_failed(
                        now,
                        format!("Bootstrap-Request answered {}", msg::code_string(code)),
                    );
                }
                self.apply_bootstrap_outputs(now);
            }
            Purpose::Registration(RegExchange::Register(ssid)) => {
                let delay = self.update_delay_ms(ssid);
                let retry = (&self.config.registration_retry, &mut self.rng);
                self.regs
                    .on_register_response(now, ssid, response, delay, retry);
            }
            Purpose::Registration(RegExchange::Update(ssid)) => {
                let delay = self.update_delay_ms(ssid);
                self.regs.on_update_response(now, ssid, code, delay);
            }
            Purpose::Registration(RegExchange::Deregister { ssid, forget }) => {
                self.deregister_done(now, ssid, forget)
            }
            Purpose::Send(ssid) => self.send_answered(ssid, code),
            Purpose::FirmwarePull => self.pull_answered(response),
        }
        self.apply_registration_outputs(now);
    }

    fn on_failure(&mut self, now: u64, id: ExchangeId, reason: RequestFailure) {
        let Some(purpose) = self.exchanges.remove(&id) else {
            return;
        };
        let why = match reason {
            RequestFailure::Transport(Failure::Timeout) => {
                "no answer after MAX_RETRANSMIT retransmissions"
            }
            RequestFailure::Transport(Failure::Reset) => "reset by peer",
            RequestFailure::Blocks(why) => why,
        };
        match purpose {
            Purpose::BootstrapRequest => {
                self.bootstrap_failed(now, format!("Bootstrap-Request: {why}"))
            }
            Purpose::Registration(RegExchange::Register(ssid)) => {
                let retry = (&self.config.registration_retry, &mut self.rng);
                self.regs
                    .failed(now, ssid, format!("Register: {why}"), false, retry);
            }
            Purpose::Registration(RegExchange::Update(ssid)) => self.regs.on_update_lost(now, ssid),
            Purpose::Registration(RegExchange::Deregister { ssid, forget }) => {
                self.deregister_done(now, ssid, forget)
            }
            Purpose::Send(ssid) => self.emit(Event::SendRejected {
                ssid,
                reason: why.to_string(),
            }),
            Purpose::FirmwarePull => self.pull_lost(),
        }
        self.apply_registration_outputs(now);
    }

    /// Abandons every exchange in flight whose purpose `which` selects: no retransmission,
    /// and a late answer is ignored.
    fn cancel_exchanges(&mut self, which: impl Fn(&Purpose) -> bool) {
        let cancelled: Vec<ExchangeId> = self
            .exchanges
            .iter()
            .filter(|(_, p)| which(p))
            .map(|(id, _)| *id)
            .collect();
        for id in cancelled {
            self.requests.cancel(&mut self.endpoint, id);
            self.exchanges.remove(&id);
        }
    }

    /// A De-register was answered, or gave up (either way the registration is over). For a
    /// removed account, its peer may be released.
    fn deregister_done(&mut self, now: u64, ssid: u16, forget: bool) {
        self.regs.on_deregistered(ssid, forget);
        self.apply_registration_outputs(now);
        if forget {
            self.collect_peers();
        }
    }

    // ---- scheduling ----

    /// Sends whatever is due: Bootstrap-Request, Register, Update; fails an expired session.
    fn drive(&mut self, now: u64) {
        if !self.started || self.stopping {
            return;
        }
        if self.offline {
            // Timers stay due until the client is back online; notifications are stored.
            self.drive_observations(now);
            self.drive_firmware(now);
            return;
        }
        for timer in self.timers.take_due(now) {
            match timer {
                Timer::BootstrapPurge => self.purge_bootstrap_account(),
                Timer::BootstrapRequest if self.bs.is_waiting() => self.send_bootstrap_request(now),
                Timer::BootstrapSession if self.bs.is_in_session() => {
                    self.bootstrap_failed(
                        now,
                        "no Bootstrap-Finish within EXCHANGE_LIFETIME".to_string(),
                    );
                }
                Timer::Register(ssid) if self.regs.state(ssid) == Some(&RegState::Idle) => {
                    self.send_register(now, ssid)
                }
                // While an Update is in flight its answer re-arms the timer.
                Timer::Update(ssid) if self.regs.state(ssid) == Some(&RegState::Registered) => {
                    self.send_update(now, ssid)
                }
                // A timer whose state moved on meanwhile: nothing to do.
                _ => {}
            }
        }
        // Notifications first: asleep in queue mode, one that is due asks for the Update
        // that wakes the client, sent just below.
        self.drive_observations(now);
        // Updates asked for by events (parameter or object-list changes, `/1/x/8`, a wake-up).
        if self.regs.any_update_wanted() {
            for ssid in self.regs.updates_wanted() {
                self.send_update(now, ssid);
            }
        }
        self.drive_firmware(now);
        self.drive_queue_mode(now);
    }

    // ---- application-held objects ----

    // ---- smartcard and account purge ----

    // ---- peers ----
}
