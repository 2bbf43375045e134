//! The sans-I/O client (DESIGN §1): fed datagrams and the time, asked for datagrams, the next
//! timer and events. Bootstrap sessions, registrations and DM requests meet here.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use coap_lite::Packet;

use crate::accounts;
use crate::bootstrap::{self, Action};
use crate::bootstrapping::{Arrival, Bootstrapping, BsOutput};
use crate::coap::{msg, Endpoint, ExchangeId, Failure, Incoming, TransmissionParams};
use crate::config::Config;
use crate::dm::{self, DmContext, Effect};
use crate::event::Event;
use crate::object::ObjectHandler;
use crate::path::Path;
use crate::peer::{PeerId, PeerInfo};
use crate::persist::{self, LoadOutcome, Persister, Storage};
use crate::registration::{self, RegState};
use crate::registrations::{RegExchange, RegOutput, Registrations};
use crate::request::{Reply, Request};
use crate::rng::Rng;
use crate::smartcard::{self, Smartcard, SmartcardWrite};
use crate::store::Store;
use crate::timers::{Timer, Timers};
use crate::value::{Instances, ResourceValue};

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub peer: PeerId,
    pub data: Vec<u8>,
}

/// What to read from an application-held object before answering a server.
#[derive(Debug, Clone, Copy)]
enum Refresh {
    /// Only which instances exist.
    Instances,
    /// Also the readable values (only the target resource's, if given); with `tolerate`, a
    /// resource whose read fails is left out instead of failing the request.
    Values { only: Option<Path>, tolerate: bool },
}

/// Smartcard data last applied, and the (object, instance) pairs it created.
type AppliedCard = (Vec<SmartcardWrite>, BTreeSet<(u16, u16)>);

/// Why the client is waiting on an outgoing exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    BootstrapRequest,
    Registration(RegExchange),
}

/// One LwM2M client: its objects, its servers, its exchanges.
pub struct Client {
    config: Config,
    store: Store,
    params: TransmissionParams,
    endpoint: Endpoint<PeerId>,
    rng: Rng,
    peers: BTreeMap<PeerId, PeerInfo>,
    next_peer: u64,
    events: VecDeque<Event>,
    exchanges: BTreeMap<ExchangeId, Purpose>,
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
    /// Objects whose values the application holds.
    handlers: BTreeMap<u16, Box<dyn ObjectHandler>>,
}

impl Client {
    /// A client over `store` (factory state: the objects the device ships with).
    pub fn new(config: Config, store: Store) -> Client {
        let params = config.transmission;
        let mut rng = Rng::new(config.seed);
        let endpoint = Endpoint::new(rng.next_u64(), params);
        Client {
            config,
            store,
            params,
            endpoint,
            rng,
            peers: BTreeMap::new(),
            next_peer: 1,
            events: VecDeque::new(),
            exchanges: BTreeMap::new(),
            bs: Bootstrapping::default(),
            regs: Registrations::default(),
            started: false,
            stopping: false,
            storage: None,
            persister: Persister::new(),
            smartcard: None,
            smartcard_applied: None,
            timers: Timers::default(),
            handlers: BTreeMap::new(),
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

    fn load_snapshot(&mut self) {
        let Some(storage) = self.storage.as_mut() else {
            return;
        };
        let loaded = self.persister.load(storage.as_mut());
        let snapshot = match loaded {
            Ok(LoadOutcome::Empty) => return,
            Ok(LoadOutcome::Loaded(s)) => s,
            Ok(LoadOutcome::Recovered { snapshot, ignored }) => {
                self.events.push_back(Event::StorageError {
                    reason: format!(
                        "one snapshot copy was unreadable ({ignored}); loaded the other"
                    ),
                });
                snapshot
            }
            Err(e) => {
                self.events.push_back(Event::StorageError {
                    reason: format!("stored configuration unusable ({e}); using factory state"),
                });
                return;
            }
        };
        let mut restored = self.store.clone();
        match persist::apply_snapshot(&snapshot, &mut restored) {
            Ok(()) => self.store = restored,
            Err(e) => self.events.push_back(Event::StorageError {
                reason: format!(
                    "stored configuration does not fit the objects ({e}); using factory state"
                ),
            }),
        }
    }

    /// Saves the committed configuration now (after the application changed a persistent
    /// object through `store_mut`). Without storage this does nothing.
    pub fn persist(&mut self) -> Result<(), persist::PersistError> {
        let Some(storage) = self.storage.as_mut() else {
            return Ok(());
        };
        self.persister
            .save(storage.as_mut(), &self.store)
            .map(|_| ())
    }

    /// Saves `candidate` as the new committed configuration; on failure reports it.
    fn save_candidate(&mut self, candidate: &Store) -> bool {
        let Some(storage) = self.storage.as_mut() else {
            return true;
        };
        match self.persister.save(storage.as_mut(), candidate) {
            Ok(_) => true,
            Err(e) => {
                self.events.push_back(Event::StorageError {
                    reason: format!("saving the configuration failed: {e}"),
                });
                false
            }
        }
    }

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
        self.schedule_bootstrap(now, false);
        self.drive(now);
    }

    /// Feeds one datagram received from `peer`.
    pub fn handle_datagram(&mut self, now: u64, peer: PeerId, bytes: &[u8]) {
        match self.endpoint.handle_datagram(now, peer, bytes) {
            Some(Incoming::Request { peer, request }) => self.on_request(now, peer, &request),
            Some(Incoming::Response { id, response, .. }) => self.on_response(now, id, &response),
            Some(Incoming::Failed { id, reason, .. }) => self.on_failure(now, id, reason),
            None => {}
        }
        self.drive(now);
    }

    /// Runs whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        for incoming in self.endpoint.handle_timeout(now) {
            if let Incoming::Failed { id, reason, .. } = incoming {
                self.on_failure(now, id, reason);
            }
        }
        self.drive(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.endpoint
            .poll_transmit()
            .map(|(peer, data)| Transmit { peer, data })
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<u64> {
        match (self.endpoint.poll_timeout(), self.timers.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- incoming requests ----

    fn on_request(&mut self, now: u64, peer: PeerId, packet: &Packet) {
        let Some(req) = Request::parse(packet) else {
            self.respond(
                now,
                peer,
                packet,
                Reply::error(msg::BAD_REQUEST, "options are not valid UTF-8"),
            );
            return;
        };
        if self.is_bootstrap_peer(peer) && self.accept_bootstrap_request(now, peer) {
            self.on_bootstrap_request(now, peer, packet, &req);
            return;
        }
        let ssid = self.regs.registered_ssid_of(peer);
        // Core 1.1 §6: DM requests before registration completes MUST be ignored; a peer that
        // is neither our Bootstrap-Server nor a registered server gets nothing either.
        if let Some(ssid) = ssid {
            self.on_dm_request(now, peer, ssid, packet, &req);
        }
    }

    /// True if `peer` is the Bootstrap-Server of an open session or of the committed account.
    fn is_bootstrap_peer(&self, peer: PeerId) -> bool {
        self.bs.peer() == Some(peer)
            || self.peers.get(&peer).is_some_and(|i| i.bootstrap)
                && accounts::bootstrap_account(&self.store)
                    .and_then(|a| a.peer_info())
                    .is_some_and(|info| self.peers.get(&peer) == Some(&info))
    }

    /// Opens a session for a Bootstrap-Server request if none is open. Server-initiated
    /// bootstrap (Core 1.0 §5.2.3.4) is possible only while the device retains the
    /// Bootstrap-Server account, after factory/smartcard provisioning (i.e. after `start`).
    fn accept_bootstrap_request(&mut self, now: u64, peer: PeerId) -> bool {
        if !self.started || self.stopping {
            return false;
        }
        match self.bs.arrival(peer) {
            Arrival::InSession => true,
            Arrival::Refused => false,
            Arrival::Opens => {
                let staged = self.staged_store();
                let lifetime = self.params.exchange_lifetime_ms();
                self.bs.open(now, peer, staged, lifetime);
                self.apply_bootstrap_outputs(now);
                true
            }
        }
    }

    /// The copy of the store a bootstrap session works on. It must list the application's
    /// instances too, or Bootstrap-Discover would show its objects empty (Core 1.1 §5.2.7.3).
    fn staged_store(&mut self) -> Store {
        self.refresh_all_handlers();
        self.store.clone()
    }

    fn on_bootstrap_request(&mut self, now: u64, peer: PeerId, packet: &Packet, req: &Request) {
        let version = self.config.version;
        // Core 1.1 §5.2.3.3: the session fails EXCHANGE_LIFETIME after the last command.
        self.bs.command(now, self.params.exchange_lifetime_ms());
        self.apply_bootstrap_outputs(now);
        let Some(session) = self.bs.session_mut() else {
            return;
        };
        match bootstrap::handle(session, req, version) {
            Action::Reply(reply) => self.respond(now, peer, packet, reply),
            Action::Finish => self.finish_bootstrap(now, peer, packet),
        }
    }

    /// Bootstrap-Finish: validate, commit, answer, then register (Core 1.1 §5.2.6, §5.2.7.6).
    fn finish_bootstrap(&mut self, now: u64, peer: PeerId, packet: &Packet) {
        let Some(session) = self.bs.session() else {
            return;
        };
        let problems = bootstrap::validate(&session.staged);
        if !problems.is_empty() {
            // 4.06 "Inconsistent loaded configuration"; the session stays open so the
            // Bootstrap-Server can correct it and finish again.
            let reason = problems.join("; ");
            self.events.push_back(Event::BootstrapFinishRefused {
                reason: reason.clone(),
            });
            self.respond(now, peer, packet, Reply::error(msg::NOT_ACCEPTABLE, reason));
            return;
        }
        let mut committed = self.store.clone();
        for o in &session.touched {
            let instances = session.staged.instances(*o).cloned().unwrap_or_default();
            if committed.set_instances(*o, instances).is_err() {
                let reply =
                    Reply::error(msg::INTERNAL_SERVER_ERROR, format!("object {o} vanished"));
                self.respond(now, peer, packet, reply);
                return;
            }
        }
        // Commit and persist in one step (DESIGN §3): if the snapshot cannot be written the
        // Bootstrap-Server hears 5.00 and the device keeps its previous configuration.
        if !self.save_candidate(&committed) {
            let reply = Reply::error(
                msg::INTERNAL_SERVER_ERROR,
                "could not persist the configuration",
            );
            self.respond(now, peer, packet, reply);
            return;
        }
        self.store = committed;
        self.respond(now, peer, packet, Reply::code(msg::CHANGED));
        self.bs.finished();
        self.apply_bootstrap_outputs(now);
        // Core 1.1 §E.1 /0/x/12: purge the Bootstrap-Server account after its timeout, counted
        // from this successful bootstrap (FACTS §1.3); 0 or absent means never.
        match accounts::bootstrap_account(&self.store).filter(|a| a.account_timeout_s > 0) {
            Some(a) => self.timers.set_after(
                Timer::BootstrapPurge,
                now,
                seconds_to_ms(a.account_timeout_s),
            ),
            None => self.timers.clear(Timer::BootstrapPurge),
        }
        // Core 1.1 §5.3.1: after bootstrap, Register with every server that has an account.
        self.sync_servers(now, true);
    }

    fn on_dm_request(&mut self, now: u64, peer: PeerId, ssid: u16, packet: &Packet, req: &Request) {
        if req.is_bs() {
            // Bootstrap-Finish from a server that is not the Bootstrap-Server (Leshan: 4.00).
            self.respond(
                now,
                peer,
                packet,
                Reply::error(msg::BAD_REQUEST, "not a Bootstrap-Server"),
            );
            return;
        }
        let ctx = DmContext {
            ssid,
            default_format: self.config.default_format,
        };
        let target = req.path().ok();
        let handled = target
            .and_then(|p| p.object_id())
            .filter(|o| self.handlers.contains_key(o));
        if let Some(o) = handled {
            // Bring the application's state into the store before answering: values for a
            // Read (only the target for a single resource), values where readable for a
            // Discover, and only the instance list for anything else.
            let refresh = match (req.method, req.accept) {
                (msg::GET, Some(40)) => Refresh::Values {
                    only: None,
                    tolerate: true,
                },
                (msg::GET, _) => Refresh::Values {
                    only: target,
                    tolerate: false,
                },
                _ => Refresh::Instances,
            };
            if let Err(code) = self.refresh_handler(o, refresh) {
                let reply = Reply::error(code, "the application could not read the object");
                self.respond(now, peer, packet, reply);
                return;
            }
        }
        // What a refused or unsaved change must restore: a DM request changes at most its
        // target object.
        let before = target
            .and_then(|p| p.object_id())
            .filter(|o| {
                req.method != msg::GET
                    && (handled == Some(*o)
                        || self.storage.is_some() && self.store.is_persistent(*o))
            })
            .map(|o| (o, self.store.instances(o).cloned().unwrap_or_default()));
        let (mut reply, mut effects) = dm::handle(&mut self.store, &ctx, req);
        if let Some(o) = handled {
            if let Err(code) = self.apply_to_handler(o, &mut effects) {
                // The application refused: the server hears its code and nothing changed,
                // in the library's copy either.
                if let Some((o, instances)) = &before {
                    let _ = self.store.set_instances(*o, instances.clone());
                }
                reply = Reply::error(code, "the application refused the operation");
                effects.clear();
            }
        }
        let wrote_persistent = effects.iter().any(|e| match e {
            Effect::Written { path } | Effect::Created { path } | Effect::Deleted { path } => path
                .object_id()
                .is_some_and(|o| self.store.is_persistent(o)),
            _ => false,
        });
        if wrote_persistent {
            // Save the store as it now is, without copying it.
            let current = std::mem::take(&mut self.store);
            let saved = self.save_candidate(&current);
            self.store = current;
            if !saved {
                if let Some((o, instances)) = before {
                    let _ = self.store.set_instances(o, instances);
                }
                reply = Reply::error(
                    msg::INTERNAL_SERVER_ERROR,
                    "could not persist the configuration",
                );
                effects.clear();
            }
        }
        self.respond(now, peer, packet, reply);
        for effect in effects {
            match effect {
                Effect::Executed { path, args } => {
                    self.events.push_back(Event::Executed { ssid, path, args })
                }
                Effect::Written { path } => self.events.push_back(Event::Written { ssid, path }),
                Effect::Created { path } | Effect::Deleted { path } => {
                    self.events
                        .push_back(if matches!(effect, Effect::Created { .. }) {
                            Event::Created { ssid, path }
                        } else {
                            Event::Deleted { ssid, path }
                        });
                    // Core 1.1 §5.3.2: the object list changed, so every registration gets an
                    // Update carrying the new list.
                    self.regs.want_update_all();
                }
                Effect::UpdateTrigger { ssid } => self.regs.want_update(ssid),
                Effect::RegistrationParamsChanged { .. } => self.sync_servers(now, false),
                Effect::BootstrapTrigger => self.schedule_bootstrap(now, false),
            }
        }
    }

    fn respond(&mut self, now: u64, peer: PeerId, request: &Packet, reply: Reply) {
        self.endpoint
            .respond(now, peer, request, reply.into_packet());
    }

    // ---- responses to our requests ----

    fn on_response(&mut self, now: u64, id: ExchangeId, response: &Packet) {
        let Some(purpose) = self.exchanges.remove(&id) else {
            return;
        };
        let code = msg::code_of(response);
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
                let links = registration::object_links(&self.store, &self.config);
                let delay = self.update_delay_ms(ssid);
                let retry = (&self.config.registration_retry, &mut self.rng);
                self.regs
                    .on_register_response(now, ssid, response, links, delay, retry);
            }
            Purpose::Registration(RegExchange::Update(ssid)) => {
                let links = registration::object_links(&self.store, &self.config);
                let delay = self.update_delay_ms(ssid);
                self.regs.on_update_response(now, ssid, code, links, delay);
            }
            Purpose::Registration(RegExchange::Deregister { ssid, forget }) => {
                self.regs.on_deregistered(ssid, forget);
                self.apply_registration_outputs(now);
                if forget {
                    self.collect_peers();
                }
            }
        }
        self.apply_registration_outputs(now);
    }

    fn on_failure(&mut self, now: u64, id: ExchangeId, reason: Failure) {
        let Some(purpose) = self.exchanges.remove(&id) else {
            return;
        };
        let why = match reason {
            Failure::Timeout => "no answer after MAX_RETRANSMIT retransmissions",
            Failure::Reset => "reset by peer",
        };
        match purpose {
            Purpose::BootstrapRequest => {
                self.bootstrap_failed(now, format!("Bootstrap-Request: {why}"))
            }
            Purpose::Registration(RegExchange::Register(ssid)) => {
                let retry = (&self.config.registration_retry, &mut self.rng);
                self.regs
                    .failed(now, ssid, format!("Register: {why}"), retry);
            }
            Purpose::Registration(RegExchange::Update(ssid)) => self.regs.on_update_lost(now, ssid),
            Purpose::Registration(RegExchange::Deregister { ssid, forget }) => {
                self.regs.on_deregistered(ssid, forget);
                self.apply_registration_outputs(now);
                if forget {
                    self.collect_peers();
                }
            }
        }
        self.apply_registration_outputs(now);
    }

    /// When the next Update to `ssid` is due after a successful Register or Update.
    fn update_delay_ms(&self, ssid: u16) -> u64 {
        let lifetime = self.regs.lifetime_s(ssid).unwrap_or(0);
        registration::update_delay_ms(lifetime, self.params.max_transmit_wait_ms())
    }

    /// Applies what the registration machine asked for.
    fn apply_registration_outputs(&mut self, now: u64) {
        for output in self.regs.take_outputs() {
            match output {
                RegOutput::Send {
                    peer,
                    packet,
                    exchange,
                } => {
                    let id = self.endpoint.request(now, peer, packet, true);
                    self.exchanges.insert(id, Purpose::Registration(exchange));
                }
                RegOutput::Cancel { ssid } => {
                    let cancelled: Vec<ExchangeId> = self
                        .exchanges
                        .iter()
                        .filter(|(_, p)| {
                            matches!(p, Purpose::Registration(x) if x.is_cancelled_by(ssid))
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    for id in cancelled {
                        self.endpoint.cancel(id);
                        self.exchanges.remove(&id);
                    }
                }
                RegOutput::Arm { timer, at } => self.timers.set_after(timer, at, 0),
                RegOutput::Disarm(timer) => self.timers.clear(timer),
                RegOutput::Event(event) => self.events.push_back(event),
                RegOutput::Bootstrap => {
                    if accounts::bootstrap_account(&self.store).is_some() {
                        self.schedule_bootstrap(now, true);
                    }
                }
            }
        }
    }

    // ---- scheduling ----

    /// Sends whatever is due: Bootstrap-Request, Register, Update; fails an expired session.
    fn drive(&mut self, now: u64) {
        if !self.started || self.stopping {
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
        // Updates asked for by events (parameter or object-list changes, `/1/x/8`).
        for ssid in self.regs.updates_wanted() {
            self.send_update(now, ssid);
        }
    }

    /// What Register and Update need from the rest of the client, gathered before the
    /// registration machine sends: a smartcard change applied (and the accounts re-read), the
    /// application's instance lists, the object list. None if server `ssid` went away.
    fn prepare_registration(&mut self, now: u64, ssid: u16) -> Option<String> {
        if self.check_smartcard() && !self.after_reconfiguration(now, ssid) {
            return None;
        }
        self.refresh_all_handlers();
        Some(registration::object_links(&self.store, &self.config))
    }

    fn send_register(&mut self, now: u64, ssid: u16) {
        if let Some(links) = self.prepare_registration(now, ssid) {
            self.regs
                .register(ssid, &self.config.endpoint, self.config.version, &links);
            self.apply_registration_outputs(now);
        }
    }

    fn send_update(&mut self, now: u64, ssid: u16) {
        if let Some(links) = self.prepare_registration(now, ssid) {
            self.regs.update(ssid, &links);
            self.apply_registration_outputs(now);
        }
    }

    /// Plans a client-initiated bootstrap, after the ClientHoldOffTime (`/0/x/11`) if asked.
    fn schedule_bootstrap(&mut self, now: u64, hold_off: bool) {
        if self.bs.is_active() {
            return;
        }
        let Some(acct) = accounts::bootstrap_account(&self.store) else {
            self.events.push_back(Event::BootstrapFailed {
                reason: "no Bootstrap-Server account and no usable server account".to_string(),
                retry_at: None,
            });
            return;
        };
        let delay = if hold_off {
            seconds_to_ms(acct.hold_off_s)
        } else {
            0
        };
        self.bs.schedule(now, delay);
        self.apply_bootstrap_outputs(now);
    }

    fn send_bootstrap_request(&mut self, now: u64) {
        let Some(info) = accounts::bootstrap_account(&self.store).and_then(|a| a.peer_info())
        else {
            self.bootstrap_failed(
                now,
                "the Bootstrap-Server account has no usable URI".to_string(),
            );
            return;
        };
        let peer = self.peer_for(info);
        self.bs.request(
            peer,
            &self.config.endpoint,
            self.config.version,
            self.config.preferred_format,
        );
        self.apply_bootstrap_outputs(now);
    }

    fn bootstrap_failed(&mut self, now: u64, reason: String) {
        // With registered servers the device keeps working and does not retry on its own.
        let registered = !self.regs.registered().is_empty();
        let retry = (&self.config.bootstrap_retry, &mut self.rng);
        self.bs.failed(now, reason, registered, retry);
        self.apply_bootstrap_outputs(now);
    }

    fn abandon_bootstrap(&mut self, now: u64) {
        self.bs.abandon();
        self.apply_bootstrap_outputs(now);
    }

    /// Applies what the bootstrap machine asked for.
    fn apply_bootstrap_outputs(&mut self, now: u64) {
        for output in self.bs.take_outputs() {
            match output {
                BsOutput::Send { peer, packet } => {
                    let id = self.endpoint.request(now, peer, packet, true);
                    self.exchanges.insert(id, Purpose::BootstrapRequest);
                }
                BsOutput::CancelRequest => {
                    let requests: Vec<ExchangeId> = self
                        .exchanges
                        .iter()
                        .filter(|(_, p)| **p == Purpose::BootstrapRequest)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in requests {
                        self.endpoint.cancel(id);
                        self.exchanges.remove(&id);
                    }
                }
                BsOutput::Arm { timer, at } => self.timers.set_after(timer, at, 0),
                BsOutput::Disarm(timer) => self.timers.clear(timer),
                BsOutput::Event(event) => self.events.push_back(event),
                BsOutput::PeersChanged => self.collect_peers(),
            }
        }
    }

    /// Brings the registrations in line with the server accounts in the store. Removed or
    /// changed accounts are de-registered; new ones (all, with `register_all`) register now.
    fn sync_servers(&mut self, now: u64, register_all: bool) {
        let accounts = accounts::server_accounts(&self.store);
        let peers = &mut self.peers;
        let next_peer = &mut self.next_peer;
        self.regs.sync(now, accounts, register_all, |info| {
            peer_for(peers, next_peer, info)
        });
        self.apply_registration_outputs(now);
        self.collect_peers();
    }

    // ---- application-held objects ----

    /// Reloads object `o` from its handler (see `Refresh`). Instances the handler no longer
    /// lists disappear; values of instances it still lists are kept unless re-read.
    fn refresh_handler(&mut self, o: u16, refresh: Refresh) -> Result<(), u8> {
        let Some(def) = self.store.def(o).cloned() else {
            return Ok(());
        };
        let Some(handler) = self.handlers.get_mut(&o) else {
            return Ok(());
        };
        let old = self.store.instances(o).cloned().unwrap_or_default();
        let mut instances = Instances::new();
        for iid in handler.instances()? {
            let mut res = old.get(&iid).cloned().unwrap_or_default();
            if let Refresh::Values { only, tolerate } = refresh {
                let target = only.and_then(|p| Some((p.instance_id()?, p.resource_id()?)));
                for rdef in def.resources.iter().filter(|r| r.operations.readable()) {
                    if target.is_some_and(|t| t != (iid, rdef.id)) {
                        continue;
                    }
                    match handler.read(iid, rdef.id) {
                        Ok(v) if value_fits(&v, rdef) => {
                            res.insert(rdef.id, v);
                        }
                        Err(msg::NOT_FOUND) => {
                            res.remove(&rdef.id);
                        }
                        _ if tolerate => {
                            res.remove(&rdef.id);
                        }
                        Ok(_) => return Err(msg::INTERNAL_SERVER_ERROR),
                        Err(code) => return Err(code),
                    }
                }
            }
            instances.insert(iid, res);
        }
        self.store
            .set_instances(o, instances)
            .map_err(|_| msg::INTERNAL_SERVER_ERROR)
    }

    /// Passes writes and executes on a handled object to the application. Executes it handles
    /// are not reported as events.
    fn apply_to_handler(&mut self, o: u16, effects: &mut Vec<Effect>) -> Result<(), u8> {
        let Some(def) = self.store.def(o).cloned() else {
            return Ok(());
        };
        let Some(handler) = self.handlers.get_mut(&o) else {
            return Ok(());
        };
        for effect in effects.iter() {
            match effect {
                Effect::Written { path } => {
                    let Some(iid) = path.instance_id() else {
                        continue;
                    };
                    let Some(inst) = self.store.instance(o, iid) else {
                        continue;
                    };
                    for (rid, value) in inst {
                        let named = path.resource_id().is_none_or(|r| r == *rid);
                        if named && def.resource(*rid).is_some_and(|r| r.operations.writable()) {
                            handler.write(iid, *rid, value)?;
                        }
                    }
                }
                Effect::Executed { path, args } => {
                    if let (Some(iid), Some(rid)) = (path.instance_id(), path.resource_id()) {
                        handler.execute(iid, rid, args)?;
                    }
                }
                Effect::Created { path } => {
                    let Some(iid) = path.instance_id() else {
                        continue;
                    };
                    let values = self.store.instance(o, iid).cloned().unwrap_or_default();
                    handler.create(iid, &values)?;
                }
                Effect::Deleted { path } => {
                    if let Some(iid) = path.instance_id() {
                        handler.delete(iid)?;
                    }
                }
                _ => {}
            }
        }
        effects.retain(|e| !matches!(e, Effect::Executed { .. }));
        Ok(())
    }

    /// Refreshes the instance list of every handled object (before Register/Update, so the
    /// object list is current). Values are not read here: a failing sensor must not change
    /// what the device announces.
    fn refresh_all_handlers(&mut self) {
        let objects: Vec<u16> = self.handlers.keys().copied().collect();
        for o in objects {
            let _ = self.refresh_handler(o, Refresh::Instances);
        }
    }

    // ---- smartcard and account purge ----

    /// Applies new or changed smartcard data, or removes what vanished data provisioned
    /// (Core 1.1 §5.2.3.2). Returns whether the configuration changed.
    fn check_smartcard(&mut self) -> bool {
        let Some(card) = self.smartcard.as_mut() else {
            return false;
        };
        let data = card.bootstrap_data();
        let current = self.smartcard_applied.as_ref().map(|(w, _)| w);
        if data.as_ref() == current {
            return false;
        }
        // Remove what the previous data provisioned before applying anything new.
        let mut changed = false;
        if let Some((_, instances)) = self.smartcard_applied.take() {
            for (o, i) in instances {
                self.store.remove_instance(o, i);
            }
            self.events.push_back(Event::SmartcardRemoved);
            changed = true;
        }
        let Some(writes) = data else { return changed };
        match smartcard::apply(&self.store, &writes, self.config.version) {
            Ok(p) => {
                self.store = p.store;
                self.smartcard_applied = Some((writes, p.instances));
                self.events.push_back(Event::SmartcardProvisioned);
                true
            }
            Err(reason) => {
                // Remember the data so a bad card is reported once, not before every Update.
                self.smartcard_applied = Some((writes, BTreeSet::new()));
                self.events.push_back(Event::BootstrapFailed {
                    reason,
                    retry_at: None,
                });
                changed
            }
        }
    }

    /// Re-reads the accounts after the configuration changed under a pending Register/Update;
    /// returns whether server `ssid` still exists. With no server left, bootstrap takes over.
    fn after_reconfiguration(&mut self, now: u64, ssid: u16) -> bool {
        self.sync_servers(now, false);
        if self.regs.is_empty() {
            self.schedule_bootstrap(now, true);
        }
        self.regs.contains(ssid)
    }

    /// Removes the Bootstrap-Server account (its Security instance) and saves the result.
    fn purge_bootstrap_account(&mut self) {
        self.timers.clear(Timer::BootstrapPurge);
        let Some(acct) = accounts::bootstrap_account(&self.store) else {
            return;
        };
        let mut candidate = self.store.clone();
        candidate.remove_instance(crate::model::oid::SECURITY, acct.iid);
        if self.save_candidate(&candidate) {
            self.store = candidate;
            self.events.push_back(Event::BootstrapAccountPurged);
            self.collect_peers();
        }
    }

    // ---- peers ----

    /// The peer for a transport description, allocating an id the first time. A changed
    /// description (new URI or keys) is a new peer: Core 1.1 §5.2.5 wants a new session then.
    fn peer_for(&mut self, info: PeerInfo) -> PeerId {
        peer_for(&mut self.peers, &mut self.next_peer, info)
    }

    /// Gives the Bootstrap-Server account a peer id even before we send to it, so that an
    /// adapter can map its datagrams (Server-Initiated Bootstrap, Core 1.0 §5.2.3.4).
    fn ensure_bootstrap_peer(&mut self) {
        if let Some(info) = accounts::bootstrap_account(&self.store).and_then(|a| a.peer_info()) {
            self.peer_for(info);
        }
    }

    /// Forgets peers nothing refers to any more and tells the transport.
    fn collect_peers(&mut self) {
        let mut used: BTreeSet<PeerId> = self.regs.peers().collect();
        used.extend(self.bs.peer());
        if let Some(info) = accounts::bootstrap_account(&self.store).and_then(|a| a.peer_info()) {
            if let Some((id, _)) = self.peers.iter().find(|(_, i)| **i == info) {
                used.insert(*id);
            }
        }
        let unused: Vec<PeerId> = self
            .peers
            .keys()
            .filter(|p| !used.contains(p))
            .copied()
            .collect();
        for peer in unused {
            if self.endpoint.outstanding(peer) > 0 {
                continue;
            }
            self.peers.remove(&peer);
            self.endpoint.forget_peer(peer);
            self.events.push_back(Event::PeerClosed { peer });
        }
    }
}

/// The peer id for a transport description in `peers`, allocating one the first time.
fn peer_for(peers: &mut BTreeMap<PeerId, PeerInfo>, next: &mut u64, info: PeerInfo) -> PeerId {
    if let Some((id, _)) = peers.iter().find(|(_, i)| **i == info) {
        return *id;
    }
    let id = PeerId(*next);
    *next += 1;
    peers.insert(id, info);
    id
}

/// A duration in seconds that a peer wrote (hold-off, account timeout) as milliseconds;
/// negative is 0, and an absurd value saturates instead of wrapping.
fn seconds_to_ms(s: i64) -> u64 {
    u64::try_from(s).unwrap_or(0).saturating_mul(1000)
}

/// Whether a value handed over by the application has the shape and type its resource declares.
fn value_fits(v: &ResourceValue, rdef: &crate::model::ResourceDef) -> bool {
    match v {
        ResourceValue::Single(x) => !rdef.multiple && x.resource_type() == rdef.kind,
        ResourceValue::Multiple(m) => {
            rdef.multiple && m.values().all(|x| x.resource_type() == rdef.kind)
        }
    }
}
