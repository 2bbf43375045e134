//! The router's side of the Registration interface: what Register and Update need from the rest
//! of the client, and applying the registration machine's outputs.

use super::*;

/// Where the registration with one server stands (`Client::registration_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationState {
    /// Not registered; a Register is scheduled (first attempt or a retry).
    Idle,
    /// Waiting for its turn in the Registration Priority Order (`/1/x/13`).
    Waiting,
    /// Disabled (`/1/x/4`) until its Disable Timeout is over.
    Disabled,
    /// A Register is in flight.
    Registering,
    /// Registered.
    Registered,
    /// Registered, an Update is in flight.
    Updating,
    /// A De-register is in flight.
    Deregistering,
    /// Every attempt failed (the retry policy is exhausted).
    Failed,
}

impl Client {
    /// The registration with server `ssid`, or `None` for no such server account.
    pub fn registration_state(&self, ssid: u16) -> Option<RegistrationState> {
        let (state, waiting, disabled) = self.regs.detail(ssid)?;
        Some(match state {
            _ if disabled && state == &RegState::Idle => RegistrationState::Disabled,
            _ if waiting => RegistrationState::Waiting,
            RegState::Idle => RegistrationState::Idle,
            RegState::Registering => RegistrationState::Registering,
            RegState::Registered => RegistrationState::Registered,
            RegState::Updating => RegistrationState::Updating,
            RegState::Deregistering => RegistrationState::Deregistering,
            RegState::Failed => RegistrationState::Failed,
        })
    }
}

impl Client {
    /// When the next Update to `ssid` is due after a successful Register or Update.
    pub(super) fn update_delay_ms(&self, ssid: u16) -> u64 {
        let lifetime = self.regs.lifetime_s(ssid).unwrap_or(0);
        registration::update_delay_ms(lifetime, self.params.max_transmit_wait_ms())
    }

    /// Applies what the registration machine asked for.
    pub(super) fn apply_registration_outputs(&mut self, now: u64) {
        let mut outputs = self.regs.take_outputs();
        for output in outputs.drain(..) {
            match output {
                RegOutput::Send {
                    peer,
                    packet,
                    exchange,
                } => self.request(now, peer, packet, Purpose::Registration(exchange)),
                RegOutput::Cancel { ssid } => self.cancel_exchanges(
                    |p| matches!(p, Purpose::Registration(x) if x.is_cancelled_by(ssid)),
                ),
                RegOutput::Arm { timer, at } => self.timers.set_after(timer, at, 0),
                RegOutput::Disarm(timer) => self.timers.clear(timer),
                RegOutput::Event(event) => {
                    // A new registration, or none: the server observes anew (Core 1.1 §5.5).
                    if let Event::Registered { ssid, .. }
                    | Event::Deregistered { ssid }
                    | Event::RegistrationFailed { ssid, .. } = &event
                    {
                        self.end_observations_of(*ssid);
                        self.drop_stored(*ssid);
                    }
                    // A registration that ended takes its server's attributes along.
                    if let Event::Deregistered { ssid } = &event {
                        self.attributes.forget_server(*ssid);
                    }
                    // Core 1.1 §E.2 /1/x/6: stored notifications follow the next Update.
                    if let Event::RegistrationUpdated { ssid } = &event {
                        self.flush_stored(now, *ssid);
                        self.release_sends(now, *ssid);
                    }
                    self.emit(event)
                }
                RegOutput::Bootstrap => {
                    if accounts::bootstrap_security(&self.store).is_some() {
                        self.schedule_bootstrap(now, true);
                    }
                }
            }
        }
        self.regs.give_back(outputs);
    }

    /// What Register and Update need from the rest of the client, gathered before the
    /// registration machine sends: a smartcard change applied (and the accounts re-read), the
    /// application's instance lists, the object list. None if server `ssid` went away.
    pub(super) fn prepare_registration(&mut self, now: u64, ssid: u16) -> Option<String> {
        if self.check_smartcard() && !self.after_reconfiguration(now, ssid) {
            return None;
        }
        Some(self.object_links())
    }

    /// The object list as it is now, the application's instances included.
    pub(super) fn object_links(&mut self) -> String {
        let app = crate::data_model::app_instances(&mut self.handlers);
        registration::object_links(&self.store, &self.config, &app)
    }

    pub(super) fn send_register(&mut self, now: u64, ssid: u16) {
        if let Some(links) = self.prepare_registration(now, ssid) {
            self.regs
                .register(ssid, &self.config.endpoint, self.config.version, &links);
            self.apply_registration_outputs(now);
        }
    }

    pub(super) fn send_update(&mut self, now: u64, ssid: u16) {
        if let Some(links) = self.prepare_registration(now, ssid) {
            self.regs.update(ssid, &links);
            self.apply_registration_outputs(now);
        }
    }

    /// Brings the registrations in line with the server accounts in the store. Removed or
    /// changed accounts are de-registered; new ones (all, with `register_all`) register now.
    pub(super) fn sync_servers(&mut self, now: u64, register_all: bool) {
        let accounts = accounts::server_accounts_by_ssid(&self.store);
        let peers = &mut self.peers;
        let next_peer = &mut self.next_peer;
        self.regs.sync(now, accounts, register_all, |info| {
            peer_for(peers, next_peer, info)
        });
        self.apply_registration_outputs(now);
        self.collect_peers();
    }
}
