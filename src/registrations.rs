//! The Client Registration interface as a state machine (Core 1.1 §5.3): one registration per
//! LwM2M Server account, each Idle → Registering → Registered ⇄ Updating → Deregistering.
//!
//! The machine owns the registrations and never does I/O, reads the clock or calls another part
//! of the client: every method records what must happen next as [`RegOutput`]s (send this, arm
//! that timer, report this event, fall back to bootstrap), which the client's router takes with
//! [`Registrations::take_outputs`] and applies. What a Register needs from elsewhere (the object
//! list, the smartcard check) the router gathers before it calls [`Registrations::register`].

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::coap::message::option;
use crate::coap::message_buf::MessageBuf;

use crate::accounts::ServerAccount;
use crate::coap::msg;
use crate::config::{Backoff, Version};
use crate::event::Event;
use crate::outputs::Outputs;
use crate::peer::{PeerId, PeerInfo};
use crate::registration::procedure::{initial_delay_ms, Retry, RetryPlan};
use crate::registration::{self, RegState, Registration};
use crate::rng::Rng;
use crate::timers::Timer;
use crate::vec_map::VecMap;

/// Which registration exchange an outgoing request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegExchange {
    Register(u16),
    Update(u16),
    /// `forget`: the account is gone; drop the registration once answered.
    Deregister {
        ssid: u16,
        forget: bool,
    },
}

impl RegExchange {
    /// The server, for an exchange that a later state change of that server may abandon (a
    /// De-register of a removed account is never abandoned).
    fn cancellable_for(self) -> Option<u16> {
        match self {
            RegExchange::Register(s)
            | RegExchange::Update(s)
            | RegExchange::Deregister {
                ssid: s,
                forget: false,
            } => Some(s),
            RegExchange::Deregister { forget: true, .. } => None,
        }
    }

    /// Whether this exchange is one of server `ssid`'s that `RegOutput::Cancel` abandons.
    pub(crate) fn is_cancelled_by(self, ssid: u16) -> bool {
        self.cancellable_for() == Some(ssid)
    }
}

/// What the registration machine asks the client to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RegOutput {
    /// Send `packet` (confirmable) to `peer` and report its answer back as `exchange`.
    Send {
        peer: PeerId,
        packet: MessageBuf,
        exchange: RegExchange,
    },
    /// Abandon server `ssid`'s exchanges in flight (see `RegExchange::is_cancelled_by`).
    Cancel {
        ssid: u16,
    },
    /// Arm `timer` at the absolute time `at`.
    Arm {
        timer: Timer,
        at: u64,
    },
    /// Disarm `timer`.
    Disarm(Timer),
    Event(Event),
    /// Registration failed with every server: client-initiated bootstrap (Core 1.1 §5.2.4 step
    /// 4; 1.1 `/1/x/16` Bootstrap on Registration Failure defaults to true).
    Bootstrap,
}

/// Every registration, by Short Server ID.
#[derive(Debug, Default)]
pub(crate) struct Registrations {
    servers: VecMap<u16, Registration>,
    stopping: bool,
    /// Register announces queue mode (`Config::queue_mode`).
    queue_mode: bool,
    out: Outputs<RegOutput>,
}

impl Registrations {
    /// No registration yet; `queue_mode`: Register announces queue mode.
    pub(crate) fn new(queue_mode: bool) -> Registrations {
        Registrations {
            queue_mode,
            ..Registrations::default()
        }
    }

    /// What the machine asked for since the last call, in order.
    pub(crate) fn take_outputs(&mut self) -> Vec<RegOutput> {
        self.out.take()
    }

    /// The list `take_outputs` gave, applied: its room serves the next outputs while a
    /// registration is on its way (scheduled, in flight), not once all are settled.
    pub(crate) fn give_back(&mut self, spent: Vec<RegOutput>) {
        let busy = self
            .servers
            .values()
            .any(|r| !matches!(r.state, RegState::Registered | RegState::Failed));
        self.out.give_back(spent, busy)
    }

    /// Drops the room of the output list (an idle client holds none).
    pub(crate) fn trim(&mut self) {
        self.out.trim()
    }

    fn arm(&mut self, timer: Timer, at: u64) {
        self.out.push(RegOutput::Arm { timer, at });
    }

    fn disarm_server(&mut self, ssid: u16) {
        self.out.push(RegOutput::Disarm(Timer::Register(ssid)));
        self.out.push(RegOutput::Disarm(Timer::Update(ssid)));
    }

    /// Server `ssid` should register as soon as the router can (`Timer::Register` now).
    fn register_soon(&mut self, now: u64, ssid: u16) {
        self.out.push(RegOutput::Disarm(Timer::Update(ssid)));
        self.arm(Timer::Register(ssid), now);
    }

    /// Server `ssid` registers for the first time (after start-up or a bootstrap): after its
    /// Initial Registration Delay Timer, and with a Registration Priority Order only when its
    /// turn comes (`advance_order`): "The LwM2M Client sequences the LwM2M Server
    /// registrations in increasing order of this value. If this value is not defined,
    /// registration attempts to this server are not impacted by other server registrations"
    /// [XML /1/x/13].
    fn schedule(&mut self, now: u64, ssid: u16) {
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return;
        };
        let delay = match reg.initial_delay_applies {
            true => initial_delay_ms(&reg.account.procedure),
            false => 0,
        };
        let ordered = reg.account.procedure.priority.is_some();
        reg.waiting = ordered;
        self.out.push(RegOutput::Disarm(Timer::Update(ssid)));
        match ordered {
            true => self.out.push(RegOutput::Disarm(Timer::Register(ssid))),
            false => self.arm(Timer::Register(ssid), now.saturating_add(delay)),
        }
    }

    /// Starts the next server in the Registration Priority Order once every server before it
    /// is registered, failed without Registration Failure Block, or disabled: "the delay ...
    /// before registration is attempted for this LwM2M Server based upon the completion of
    /// registration of the previous LwM2M Server in the registration order" [XML /1/x/14];
    /// "When set to true and registration to this LwM2M server fails, the LwM2M Client blocks
    /// registration to other servers in the order. When set to false, the LwM2M Client
    /// proceeds with registration to the next server in the order" [XML /1/x/15].
    fn advance_order(&mut self, now: u64) {
        let mut order: Vec<(u64, u16)> = self
            .servers
            .iter()
            .filter_map(|(ssid, r)| r.account.procedure.priority.map(|p| (p, *ssid)))
            .collect();
        order.sort_unstable();
        for (_, ssid) in order {
            let Some(reg) = self.servers.get_mut(&ssid) else {
                continue;
            };
            if reg.waiting {
                reg.waiting = false;
                let delay = match reg.initial_delay_applies {
                    true => initial_delay_ms(&reg.account.procedure),
                    false => 0,
                };
                self.arm(Timer::Register(ssid), now.saturating_add(delay));
                return;
            }
            let blocks = reg.account.procedure.failure_block == Some(true);
            match reg.state {
                RegState::Registered | RegState::Updating => {}
                RegState::Failed if !blocks => {}
                _ if reg.disabled_until.is_some() => {}
                // Registering, retrying, or failed and blocking: the order stops here.
                _ => return,
            }
        }
    }

    /// No server is left to register with: every one failed, or waits behind one that
    /// failed with Registration Failure Block.
    fn none_left(&self) -> bool {
        self.servers
            .values()
            .all(|r| r.state == RegState::Failed || r.waiting)
    }

    // ---- queries ----

    /// Short Server IDs of the servers the client is registered with.
    pub(crate) fn registered(&self) -> Vec<u16> {
        self.servers
            .values()
            .filter(|r| r.is_registered())
            .map(|r| r.account.ssid)
            .collect()
    }

    /// The location (`/rd/...`) of the registration with `ssid`.
    pub(crate) fn location(&self, ssid: u16) -> Option<String> {
        self.servers
            .get(&ssid)
            .filter(|r| r.is_registered())
            .map(Registration::location_path)
    }

    /// The server registered through `peer`: only those may manage the device (Core 1.1 §6).
    pub(crate) fn registered_ssid_of(&self, peer: PeerId) -> Option<u16> {
        self.servers
            .values()
            .find(|r| r.peer == peer && r.is_registered())
            .map(|r| r.account.ssid)
    }

    /// Whether the client is registered with server `ssid` (no list built: on hot paths).
    pub(crate) fn is_registered_with(&self, ssid: u16) -> bool {
        self.servers
            .get(&ssid)
            .is_some_and(Registration::is_registered)
    }

    /// Whether the client is registered with any server.
    pub(crate) fn any_registered(&self) -> bool {
        self.servers.values().any(Registration::is_registered)
    }

    /// The peer of server `ssid`, if the client is registered with it.
    pub(crate) fn registered_peer(&self, ssid: u16) -> Option<PeerId> {
        self.servers
            .get(&ssid)
            .filter(|r| r.is_registered())
            .map(|r| r.peer)
    }

    pub(crate) fn state(&self, ssid: u16) -> Option<&RegState> {
        self.servers.get(&ssid).map(|r| &r.state)
    }

    /// Server `ssid`'s state, whether it waits for its turn, and whether it is disabled.
    pub(crate) fn detail(&self, ssid: u16) -> Option<(&RegState, bool, bool)> {
        self.servers
            .get(&ssid)
            .map(|r| (&r.state, r.waiting, r.disabled_until.is_some()))
    }

    /// The lifetime (s) of server `ssid`'s account.
    pub(crate) fn lifetime_s(&self, ssid: u16) -> Option<i64> {
        self.servers.get(&ssid).map(|r| r.account.lifetime_s)
    }

    pub(crate) fn contains(&self, ssid: u16) -> bool {
        self.servers.contains_key(&ssid)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The peers the registrations use.
    pub(crate) fn peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.servers.values().map(|r| r.peer)
    }

    /// True after `stop` once every De-register was answered or gave up.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopping
            && !self
                .servers
                .values()
                .any(|r| matches!(r.state, RegState::Deregistering | RegState::Registering))
    }

    /// Whether `updates_wanted` is not empty, without collecting it (asked on every turn).
    pub(crate) fn any_update_wanted(&self) -> bool {
        self.servers.values().any(Registration::wants_update_now)
    }

    /// Registered servers that want an Update now (parameters or object list changed,
    /// `/1/x/8` executed) and have no exchange running.
    pub(crate) fn updates_wanted(&self) -> Vec<u16> {
        self.servers
            .values()
            .filter(|r| r.wants_update_now())
            .map(|r| r.account.ssid)
            .collect()
    }

    // ---- inputs ----

    /// Server `ssid` wants an Update (e.g. Registration Update Trigger `/1/x/8`).
    pub(crate) fn want_update(&mut self, ssid: u16) {
        if let Some(reg) = self.servers.get_mut(&ssid) {
            reg.update_wanted = true;
        }
    }

    /// Every registered server wants an Update carrying the new object list (Core 1.1 §5.3.2);
    /// one whose Register is in flight too, since that Register carries the list before the
    /// change.
    pub(crate) fn want_update_all(&mut self) {
        let wants = |r: &&mut Registration| r.is_registered() || r.state == RegState::Registering;
        for reg in self.servers.values_mut().filter(wants) {
            reg.update_wanted = true;
        }
    }

    /// Brings the registrations in line with `accounts` (the store's server accounts, by
    /// Short Server ID: `accounts::server_accounts_by_ssid`). Removed
    /// or changed accounts are de-registered; new ones (all of them, with `register_all`)
    /// register now; a changed lifetime or binding of a registered one wants an Update.
    pub(crate) fn sync(
        &mut self,
        now: u64,
        accounts: VecMap<u16, ServerAccount>,
        register_all: bool,
        mut peer_for: impl FnMut(PeerInfo) -> PeerId,
    ) {
        let existing: Vec<u16> = self.servers.keys().copied().collect();
        for ssid in existing {
            let same_endpoint = match (self.servers.get(&ssid), accounts.get(&ssid)) {
                (Some(reg), Some(acct)) => reg.account.security == acct.security,
                _ => false,
            };
            if same_endpoint {
                continue;
            }
            self.out.push(RegOutput::Cancel { ssid });
            self.disarm_server(ssid);
            let Some(reg) = self.servers.remove(&ssid) else {
                continue;
            };
            if reg.is_registered() {
                self.out.push(RegOutput::Send {
                    peer: reg.peer,
                    packet: registration::deregister_packet(&reg),
                    exchange: RegExchange::Deregister { ssid, forget: true },
                });
            }
        }
        for (ssid, acct) in accounts {
            let Some(reg) = self.servers.get_mut(&ssid) else {
                let Some(info) = acct.security.peer_info() else {
                    self.out.push(RegOutput::Event(Event::RegistrationFailed {
                        ssid,
                        reason: format!("server URI {:?} is not usable", acct.security.uri),
                        retry_at: None,
                    }));
                    continue;
                };
                let peer = peer_for(info);
                self.servers.insert(ssid, Registration::new(acct, peer));
                self.schedule(now, ssid);
                continue;
            };
            let changed =
                reg.account.lifetime_s != acct.lifetime_s || reg.account.binding != acct.binding;
            reg.account = acct;
            if register_all && reg.state != RegState::Registering {
                reg.failures = 0;
                reg.initial_delay_applies = true;
                reg.disabled_until = None;
                if reg.state != RegState::Updating {
                    reg.state = RegState::Idle;
                    self.schedule(now, ssid);
                }
            } else if changed && reg.is_registered() {
                reg.update_wanted = true;
            }
        }
        self.advance_order(now);
    }

    /// Disable (`/1/x/4`) was executed on server `ssid`'s instance: "the LwM2M Client MUST
    /// send response of the operation and perform de-registration process ... the LwM2M
    /// Client MUST NOT send any message to the Server and ignore all the messages from the
    /// LwM2M Server for the period", after which it "MUST perform registration process"
    /// [XML /1/x/4, /1/x/5].
    pub(crate) fn disable(&mut self, now: u64, ssid: u16) {
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return;
        };
        let timeout_ms = reg.account.disable_timeout_s.saturating_mul(1000);
        let until = now.saturating_add(timeout_ms);
        reg.disabled_until = Some(until);
        reg.waiting = false;
        if !self.wind_down(ssid) {
            self.arm(Timer::Register(ssid), until);
        }
        self.advance_order(now);
    }

    /// Sends Register to server `ssid` if it is waiting to register.
    pub(crate) fn register(&mut self, ssid: u16, endpoint: &str, version: Version, links: &str) {
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return;
        };
        if reg.state != RegState::Idle {
            return;
        }
        let packet =
            registration::register_packet(endpoint, version, &reg.account, links, self.queue_mode);
        reg.state = RegState::Registering;
        // The list this Register carries; a change flagged from now on needs an Update after.
        reg.pending_links = links.to_string();
        reg.update_wanted = false;
        reg.disabled_until = None;
        let peer = reg.peer;
        self.out.push(RegOutput::Send {
            peer,
            packet,
            exchange: RegExchange::Register(ssid),
        });
    }

    /// Sends an Update (with only what changed, Core 1.1 §5.3.2) to a registered server that has
    /// no exchange running.
    pub(crate) fn update(&mut self, ssid: u16, links: &str) {
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return;
        };
        if reg.state != RegState::Registered {
            return;
        }
        let packet = registration::update_packet(reg, links);
        reg.state = RegState::Updating;
        reg.update_wanted = false;
        reg.pending_links = links.to_string();
        let peer = reg.peer;
        self.out.push(RegOutput::Send {
            peer,
            packet,
            exchange: RegExchange::Update(ssid),
        });
    }

    fn deregister(&mut self, ssid: u16) {
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return;
        };
        let packet = registration::deregister_packet(reg);
        reg.state = RegState::Deregistering;
        let peer = reg.peer;
        self.out.push(RegOutput::Send {
            peer,
            packet,
            exchange: RegExchange::Deregister {
                ssid,
                forget: false,
            },
        });
    }

    /// De-registers from every registered server. A Register in flight may already be accepted:
    /// it finishes first, then De-register follows (`on_register_response`), rather than leave
    /// the server a stale registration.
    pub(crate) fn stop(&mut self) {
        self.stopping = true;
        let ssids: Vec<u16> = self.servers.keys().copied().collect();
        for ssid in ssids {
            let Some(reg) = self.servers.get_mut(&ssid) else {
                continue;
            };
            if reg.state == RegState::Registering {
                continue;
            }
            self.wind_down(ssid);
        }
    }

    /// A new start after `stop`.
    /// Stops server `ssid`'s exchanges and timers, and de-registers it if it is registered
    /// (else it is left Idle); whether a De-register went out.
    fn wind_down(&mut self, ssid: u16) -> bool {
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return false;
        };
        let registered = reg.is_registered();
        if !registered {
            reg.state = RegState::Idle;
        }
        self.out.push(RegOutput::Cancel { ssid });
        self.disarm_server(ssid);
        if registered {
            self.deregister(ssid);
        }
        registered
    }

    pub(crate) fn resume(&mut self) {
        self.stopping = false;
    }

    /// The answer to a Register. `update_delay_ms`: when the next Update is due after success.
    pub(crate) fn on_register_response(
        &mut self,
        now: u64,
        ssid: u16,
        response: &MessageBuf,
        update_delay_ms: u64,
        retry: (&Backoff, &mut Rng),
    ) {
        let code = response.code;
        // Every segment, or none if one is not UTF-8 (RFC 7252 §5.10.7: they are strings).
        let location: Vec<String> = response
            .values(option::LOCATION_PATH)
            .map(|v| core::str::from_utf8(v).ok().map(String::from))
            .collect::<Option<_>>()
            .unwrap_or_default();
        if code != msg::CREATED || location.is_empty() {
            let why = if code == msg::CREATED {
                "2.01 without Location-Path".to_string()
            } else {
                msg::code_string(code)
            };
            // An error code is the server's explicit rejection (XML /1/x/16).
            let rejected = code >= msg::BAD_REQUEST;
            self.failed(
                now,
                ssid,
                format!("Register answered {why}"),
                rejected,
                retry,
            );
            return;
        }
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return;
        };
        reg.location = location;
        reg.state = RegState::Registered;
        reg.failures = 0;
        reg.initial_delay_applies = false;
        reg.sent_lifetime_s = reg.account.lifetime_s;
        reg.sent_binding = reg.account.binding.clone();
        // The object list the server now has: the one this Register carried, even if the
        // objects changed while it was in flight (that change then needs its own Update).
        reg.sent_links = core::mem::take(&mut reg.pending_links);
        let location = reg.location_path();
        self.arm(Timer::Update(ssid), now.saturating_add(update_delay_ms));
        self.out
            .push(RegOutput::Event(Event::Registered { ssid, location }));
        if self.stopping {
            self.out.push(RegOutput::Disarm(Timer::Update(ssid)));
            self.deregister(ssid);
        }
        self.advance_order(now);
    }

    /// The answer to an Update.
    pub(crate) fn on_update_response(
        &mut self,
        now: u64,
        ssid: u16,
        code: u8,
        update_delay_ms: u64,
    ) {
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return;
        };
        if code == msg::CHANGED {
            reg.state = RegState::Registered;
            reg.sent_lifetime_s = reg.account.lifetime_s;
            reg.sent_binding = reg.account.binding.clone();
            reg.sent_links = core::mem::take(&mut reg.pending_links);
            self.arm(Timer::Update(ssid), now.saturating_add(update_delay_ms));
            self.out
                .push(RegOutput::Event(Event::RegistrationUpdated { ssid }));
        } else {
            // Core 1.1 §5.3.2: on 4.04 "the LwM2M Client MUST re-register" ("Update is not
            // sufficient"); any other error means the same in practice.
            reg.state = RegState::Idle;
            reg.location.clear();
            self.register_soon(now, ssid);
        }
    }

    /// An Update got no answer: the registration may be gone; register afresh (as Zephyr does).
    pub(crate) fn on_update_lost(&mut self, now: u64, ssid: u16) {
        if let Some(reg) = self.servers.get_mut(&ssid) {
            reg.state = RegState::Idle;
            self.register_soon(now, ssid);
        }
    }

    /// A De-register was answered or gave up.
    pub(crate) fn on_deregistered(&mut self, ssid: u16, forget: bool) {
        if forget {
            self.out
                .push(RegOutput::Event(Event::Deregistered { ssid }));
            return;
        }
        if let Some(reg) = self.servers.get_mut(&ssid) {
            reg.state = RegState::Idle;
            reg.location.clear();
            let disabled_until = reg.disabled_until;
            self.disarm_server(ssid);
            // Disabled: registering again once the Disable Timeout is over.
            if let Some(at) = disabled_until.filter(|_| !self.stopping) {
                self.arm(Timer::Register(ssid), at);
            }
            self.out
                .push(RegOutput::Event(Event::Deregistered { ssid }));
        }
    }

    /// Register failed (refused or unanswered): retry per `retry`'s policy, or give up; when
    /// every server gave up, fall back to bootstrap.
    /// A Register failed: `rejected` when the server answered with an error code. The retry
    /// follows the server's Communication Retry resources (`/1/x/17` to `/1/x/20`) when it has
    /// any, else the device's `policy`.
    pub(crate) fn failed(
        &mut self,
        now: u64,
        ssid: u16,
        reason: String,
        rejected: bool,
        (policy, rng): (&Backoff, &mut Rng),
    ) {
        let stopping = self.stopping;
        let Some(reg) = self.servers.get_mut(&ssid) else {
            return;
        };
        reg.failures = reg.failures.saturating_add(1);
        let procedure = reg.account.procedure;
        // XML /1/x/16: "re-bootstrap when either registration is explicitly rejected by the
        // LwM2M Server or registration is considered as failing".
        let bootstrap_now = rejected && procedure.bootstrap_on_failure == Some(true);
        let retry_at = match (stopping || bootstrap_now, RetryPlan::of(&procedure)) {
            (true, _) => None,
            (false, Some(plan)) => match plan.after_failure(reg.failures) {
                Retry::After(delay) => Some(now.saturating_add(delay)),
                Retry::GiveUp => None,
            },
            (false, None) => (policy.attempts == 0 || reg.failures < policy.attempts)
                .then(|| now.saturating_add(policy.delay(reg.failures, rng))),
        };
        match retry_at {
            Some(at) => {
                reg.state = RegState::Idle;
                self.arm(Timer::Register(ssid), at);
            }
            None => {
                reg.state = RegState::Failed;
                self.disarm_server(ssid);
            }
        }
        self.out.push(RegOutput::Event(Event::RegistrationFailed {
            ssid,
            reason,
            retry_at,
        }));
        if retry_at.is_some() || stopping {
            return;
        }
        self.advance_order(now);
        let bootstrap = match procedure.bootstrap_on_failure {
            Some(explicit) => explicit,
            // Absent: FACTS §1.10 recommends true; taken once no server is left, so that one
            // server's failure does not end the registrations of the others (Core 1.1 §5.2.4
            // step 4: bootstrap when registration with every server failed).
            None => self.none_left(),
        };
        if bootstrap {
            self.out.push(RegOutput::Bootstrap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{factory, server_accounts_by_ssid};
    use crate::store::Store;

    fn accounts() -> VecMap<u16, ServerAccount> {
        let mut s = Store::with_standard_objects();
        factory::add_server_account(&mut s, 7, "coap://127.0.0.1:5683", 300).unwrap();
        server_accounts_by_ssid(&s)
    }

    fn registered(now: u64) -> Registrations {
        let mut r = Registrations::default();
        r.sync(now, accounts(), true, |_| PeerId(3));
        r.register(7, "dev", Version::V1_1, "</1/0>");
        let mut created = MessageBuf::new(msg::CREATED);
        created.add(option::LOCATION_PATH, b"rd");
        created.add(option::LOCATION_PATH, b"9");
        let policy = Backoff {
            base_ms: 1000,
            max_ms: 1000,
            attempts: 2,
        };
        r.on_register_response(now, 7, &created, 207_000, (&policy, &mut Rng::new(1)));
        r.take_outputs();
        r
    }

    #[test]
    fn a_new_account_registers_and_arms_its_update() {
        let mut r = Registrations::default();
        r.sync(100, accounts(), true, |_| PeerId(3));
        assert_eq!(
            r.take_outputs(),
            [
                RegOutput::Disarm(Timer::Update(7)),
                RegOutput::Arm {
                    timer: Timer::Register(7),
                    at: 100
                }
            ]
        );
        r.register(7, "dev", Version::V1_1, "</1/0>");
        let out = r.take_outputs();
        let [RegOutput::Send {
            peer,
            packet,
            exchange,
        }] = out.as_slice()
        else {
            panic!("{out:?}")
        };
        assert_eq!((*peer, *exchange), (PeerId(3), RegExchange::Register(7)));
        assert_eq!(
            msg::uri_query(&packet.to_packet()).unwrap(),
            ["ep=dev", "lt=300", "lwm2m=1.1", "b=U"]
        );
        // Not Idle any more: a second Register is not sent.
        r.register(7, "dev", Version::V1_1, "</1/0>");
        assert!(r.take_outputs().is_empty());

        let r = registered(1_000);
        assert_eq!(r.location(7).as_deref(), Some("/rd/9"));
        assert_eq!(r.registered_ssid_of(PeerId(3)), Some(7));
    }

    #[test]
    fn an_update_refused_with_4_04_registers_again() {
        let mut r = registered(0);
        r.update(7, "</1/0>");
        assert!(matches!(
            r.take_outputs().as_slice(),
            [RegOutput::Send {
                exchange: RegExchange::Update(7),
                ..
            }]
        ));
        r.on_update_response(5_000, 7, msg::NOT_FOUND, 1);
        assert_eq!(r.state(7), Some(&RegState::Idle));
        assert_eq!(
            r.take_outputs(),
            [
                RegOutput::Disarm(Timer::Update(7)),
                RegOutput::Arm {
                    timer: Timer::Register(7),
                    at: 5_000
                }
            ]
        );
    }

    #[test]
    fn giving_up_on_every_server_asks_for_bootstrap() {
        let mut r = Registrations::default();
        r.sync(0, accounts(), true, |_| PeerId(3));
        let policy = Backoff {
            base_ms: 1000,
            max_ms: 1000,
            attempts: 2,
        };
        let mut rng = Rng::new(1);
        r.take_outputs();
        r.failed(
            10,
            7,
            "Register answered 4.03".into(),
            true,
            (&policy, &mut rng),
        );
        let out = r.take_outputs();
        assert!(
            matches!(out.as_slice(), [RegOutput::Arm { timer: Timer::Register(7), at }, RegOutput::Event(_)] if (1_010..=1_510).contains(at)),
            "{out:?}"
        );
        r.failed(
            2_000,
            7,
            "Register answered 4.03".into(),
            true,
            (&policy, &mut rng),
        );
        let out = r.take_outputs();
        assert_eq!(out.last(), Some(&RegOutput::Bootstrap), "{out:?}");
        assert_eq!(r.state(7), Some(&RegState::Failed));
    }

    #[test]
    fn stop_deregisters_the_registered_and_waits_for_the_answer() {
        let mut r = registered(0);
        r.stop();
        let out = r.take_outputs();
        assert!(
            matches!(
                out.last(),
                Some(RegOutput::Send {
                    exchange: RegExchange::Deregister {
                        ssid: 7,
                        forget: false
                    },
                    ..
                })
            ),
            "{out:?}"
        );
        assert!(!r.is_stopped());
        r.on_deregistered(7, false);
        assert!(r.is_stopped());
        assert_eq!(
            r.take_outputs().last(),
            Some(&RegOutput::Event(Event::Deregistered { ssid: 7 }))
        );
    }

    // ---- the 1.1 registration procedure (/1/x/4, /1/x/5, /1/x/13 to /1/x/20) ----

    use crate::path::Path;
    use crate::value::Value;

    /// Accounts for `(ssid, resources of its Server instance)`.
    fn accounts_with(servers: &[(u16, &[(u16, Value)])]) -> VecMap<u16, ServerAccount> {
        let mut s = Store::with_standard_objects();
        for (ssid, resources) in servers {
            let uri = format!("coap://127.0.0.1:{}", 5600 + ssid);
            factory::add_server_account(&mut s, *ssid, &uri, 300).unwrap();
            let iid = crate::accounts::server_instance_of(&s, *ssid).unwrap();
            for (rid, v) in resources.iter() {
                s.set(&Path::resource(1, iid, *rid), v.clone()).unwrap();
            }
        }
        server_accounts_by_ssid(&s)
    }

    fn armed(out: &[RegOutput]) -> Vec<(u16, u64)> {
        out.iter()
            .filter_map(|o| match o {
                RegOutput::Arm {
                    timer: Timer::Register(ssid),
                    at,
                } => Some((*ssid, *at)),
                _ => None,
            })
            .collect()
    }

    fn created() -> MessageBuf {
        let mut c = MessageBuf::new(msg::CREATED);
        c.add(option::LOCATION_PATH, b"rd");
        c.add(option::LOCATION_PATH, b"1");
        c
    }

    const POLICY: Backoff = Backoff {
        base_ms: 1000,
        max_ms: 1000,
        attempts: 2,
    };

    fn succeed(r: &mut Registrations, now: u64, ssid: u16) -> Vec<RegOutput> {
        r.register(ssid, "dev", Version::V1_1, "</1/0>");
        r.take_outputs();
        let c = created();
        r.on_register_response(now, ssid, &c, 1_000, (&POLICY, &mut Rng::new(1)));
        r.take_outputs()
    }

    fn fail(r: &mut Registrations, now: u64, ssid: u16, rejected: bool) -> Vec<RegOutput> {
        r.register(ssid, "dev", Version::V1_1, "</1/0>");
        r.take_outputs();
        r.failed(
            now,
            ssid,
            "no".into(),
            rejected,
            (&POLICY, &mut Rng::new(1)),
        );
        r.take_outputs()
    }

    #[test]
    fn servers_with_a_priority_register_in_its_order_after_their_initial_delay() {
        let accounts = accounts_with(&[
            (1, &[(13, Value::Unsigned(20)), (14, Value::Unsigned(5))]),
            (2, &[(13, Value::Unsigned(10))]),
            (3, &[(14, Value::Unsigned(7))]),
        ]);
        let mut r = Registrations::default();
        r.sync(100, accounts, true, |i| PeerId(u64::from(i.uri.port)));
        // XML /1/x/13: 3 has no priority and is not held up (but waits its own delay); of the
        // ordered ones, 2 (priority 10) goes first.
        assert_eq!(armed(&r.take_outputs()), [(3, 7_100), (2, 100)]);
        assert_eq!(r.state(1), Some(&RegState::Idle));
        // XML /1/x/14: 1's delay counts from the completion of 2's registration.
        let out = succeed(&mut r, 1_000, 2);
        assert_eq!(armed(&out), [(1, 6_000)]);
        // Once registered, a later Register (after a 4.04 Update) has no initial delay.
        succeed(&mut r, 6_000, 1);
        r.on_update_response(7_000, 1, msg::NOT_FOUND, 1_000);
        assert_eq!(armed(&r.take_outputs()), [(1, 7_000)]);
    }

    #[test]
    fn a_failure_with_registration_failure_block_stops_the_order_and_without_it_goes_on() {
        for (block, next) in [(true, vec![]), (false, vec![(1, 500)])] {
            let accounts = accounts_with(&[
                (1, &[(13, Value::Unsigned(2))]),
                (2, &[(13, Value::Unsigned(1)), (15, Value::Boolean(block))]),
            ]);
            let mut r = Registrations::default();
            r.sync(0, accounts, true, |i| PeerId(u64::from(i.uri.port)));
            assert_eq!(armed(&r.take_outputs()), [(2, 0)]);
            fail(&mut r, 100, 2, false);
            let out = fail(&mut r, 500, 2, false); // POLICY: two attempts
            assert_eq!(armed(&out), next, "block {block}");
            // XML /1/x/15 true: nothing left to register with, so (16 absent) bootstrap.
            assert_eq!(out.contains(&RegOutput::Bootstrap), block, "{out:?}");
        }
    }

    #[test]
    fn the_servers_retry_resources_replace_the_devices_policy() {
        let accounts = accounts_with(&[(
            4,
            &[
                (17, Value::Unsigned(2)),
                (18, Value::Unsigned(30)),
                (19, Value::Unsigned(600)),
                (20, Value::Unsigned(2)),
            ],
        )]);
        let mut r = Registrations::default();
        r.sync(0, accounts, true, |_| PeerId(1));
        r.take_outputs();
        // Attempt 1 fails: 30 s; attempt 2 ends the sequence: 600 s; then 30 s; then failed.
        let at: Vec<Vec<(u16, u64)>> = [1_000, 31_000, 631_000, 661_000]
            .iter()
            .map(|now| armed(&fail(&mut r, *now, 4, false)))
            .collect();
        assert_eq!(
            at,
            [
                vec![(4, 31_000)],
                vec![(4, 631_000)],
                vec![(4, 661_000)],
                vec![]
            ]
        );
        assert_eq!(r.state(4), Some(&RegState::Failed));
    }

    #[test]
    fn bootstrap_on_registration_failure_true_bootstraps_on_a_rejection_and_false_never() {
        let accounts = accounts_with(&[(1, &[(16, Value::Boolean(true))]), (2, &[])]);
        let mut r = Registrations::default();
        r.sync(0, accounts, true, |i| PeerId(u64::from(i.uri.port)));
        r.take_outputs();
        succeed(&mut r, 10, 2);
        // XML /1/x/16: "explicitly rejected" → re-bootstrap at once, no retry.
        let out = fail(&mut r, 100, 1, true);
        assert_eq!(armed(&out), []);
        assert!(out.contains(&RegOutput::Bootstrap), "{out:?}");
        assert_eq!(
            r.state(2),
            Some(&RegState::Registered),
            "the other server is untouched"
        );

        let accounts = accounts_with(&[(1, &[(16, Value::Boolean(false))])]);
        let mut r = Registrations::default();
        r.sync(0, accounts, true, |_| PeerId(1));
        r.take_outputs();
        fail(&mut r, 100, 1, true);
        let out = fail(&mut r, 200, 1, true);
        assert_eq!(r.state(1), Some(&RegState::Failed));
        assert!(!out.contains(&RegOutput::Bootstrap), "{out:?}");
    }

    #[test]
    fn disable_deregisters_then_registers_again_after_the_disable_timeout() {
        let accounts = accounts_with(&[(1, &[(5, Value::Integer(30))]), (2, &[])]);
        let mut r = Registrations::default();
        r.sync(0, accounts, true, |i| PeerId(u64::from(i.uri.port)));
        r.take_outputs();
        succeed(&mut r, 10, 1);
        succeed(&mut r, 10, 2);
        r.disable(1_000, 1);
        let out = r.take_outputs();
        assert!(out.contains(&RegOutput::Cancel { ssid: 1 }));
        assert!(
            matches!(
                out.last(),
                Some(RegOutput::Send {
                    exchange: RegExchange::Deregister {
                        ssid: 1,
                        forget: false
                    },
                    ..
                })
            ),
            "{out:?}"
        );
        r.on_deregistered(1, false);
        let out = r.take_outputs();
        assert_eq!(armed(&out), [(1, 31_000)], "XML /1/x/5: 30 s");
        assert!(out.contains(&RegOutput::Event(Event::Deregistered { ssid: 1 })));
        assert_eq!(r.registered(), [2], "the other server stays registered");
        assert_eq!(
            r.registered_ssid_of(PeerId(5601)),
            None,
            "ignored meanwhile"
        );
        // Default 86400 s when Disable Timeout is absent; and when not registered, at once.
        r.disable(40_000, 2);
        r.take_outputs();
        r.on_deregistered(2, false);
        assert_eq!(armed(&r.take_outputs()), [(2, 86_440_000)]);
    }

    #[test]
    fn an_object_list_change_while_register_is_in_flight_is_sent_in_an_update_after_it() {
        let mut r = Registrations::default();
        r.sync(0, accounts(), true, |_| PeerId(3));
        r.register(7, "dev", Version::V1_1, "</1/0>");
        r.take_outputs();
        // Core 1.1 §5.3.2: the list changes while the Register (with the old one) flies.
        r.want_update_all();
        let c = created();
        r.on_register_response(10, 7, &c, 1_000, (&POLICY, &mut Rng::new(1)));
        r.take_outputs();
        assert_eq!(r.updates_wanted(), [7]);
        assert!(r.any_update_wanted());
        r.update(7, "</1/0>,</3303/0>");
        let out = r.take_outputs();
        let Some(RegOutput::Send { packet, .. }) = out.first() else {
            panic!("{out:?}")
        };
        assert_eq!(
            packet.payload, b"</1/0>,</3303/0>",
            "the new list, since the server has the old"
        );
        r.on_update_response(20, 7, msg::CHANGED, 1_000);
        r.take_outputs();
        assert!(r.updates_wanted().is_empty());
        assert!(!r.any_update_wanted());
        // Answered: the next Update carries no list.
        r.want_update(7);
        r.update(7, "</1/0>,</3303/0>");
        let out = r.take_outputs();
        let Some(RegOutput::Send { packet, .. }) = out.first() else {
            panic!("{out:?}")
        };
        assert!(packet.payload.is_empty());
    }
}
