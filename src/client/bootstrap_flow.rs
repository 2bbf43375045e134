//! The router's side of the Bootstrap interface: which peer may bootstrap, the session's
//! commands and Bootstrap-Finish (validate, commit, persist), applying the bootstrap machine's
//! outputs, Bootstrap from Smartcard and the Bootstrap-Server account purge.

use super::*;

impl Client {
    /// True if `peer` is the Bootstrap-Server of an open session or of the committed account.
    pub(super) fn is_bootstrap_peer(&self, peer: PeerId) -> bool {
        self.bs.peer() == Some(peer)
            || self.peers.get(&peer).is_some_and(|info| {
                info.bootstrap
                    && accounts::bootstrap_security(&self.store)
                        .is_some_and(|a| a.transport().is(info))
            })
    }

    /// Opens a session for a Bootstrap-Server request if none is open. Server-initiated
    /// bootstrap (Core 1.0 §5.2.3.4) is possible only while the device retains the
    /// Bootstrap-Server account, after factory/smartcard provisioning (i.e. after `start`).
    pub(super) fn accept_bootstrap_request(&mut self, now: u64, peer: PeerId) -> bool {
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

    /// The copy of the store a bootstrap session works on.
    pub(super) fn staged_store(&mut self) -> Store {
        self.store.clone()
    }

    pub(super) fn on_bootstrap_request(
        &mut self,
        now: u64,
        peer: PeerId,
        packet: &Message<'_>,
        req: &Request,
    ) {
        let version = self.config.version;
        let max_instances = self.config.limits.max_instances;
        // Core 1.1 §5.2.3.3: the session fails EXCHANGE_LIFETIME after the last command.
        self.bs.command(now, self.params.exchange_lifetime_ms());
        self.apply_bootstrap_outputs(now);
        // Bootstrap-Discover lists the application's instances too (Core 1.1 §5.2.7.3);
        // nothing else asks for them.
        let app = match req.accept == Some(crate::codec::ContentFormat::LinkFormat.code()) {
            true => crate::data_model::app_instances(&mut self.handlers),
            false => Default::default(),
        };
        let Some(session) = self.bs.session_mut() else {
            return;
        };
        match bootstrap::handle(session, req, version, max_instances, &app) {
            Action::Reply(reply) => self.respond(now, peer, packet, reply),
            Action::Finish => self.finish_bootstrap(now, peer, packet),
        }
    }

    /// Bootstrap-Finish: validate, commit, answer, then register (Core 1.1 §5.2.6, §5.2.7.6).
    pub(super) fn finish_bootstrap(&mut self, now: u64, peer: PeerId, packet: &Message<'_>) {
        let Some(session) = self.bs.session() else {
            return;
        };
        let problems = bootstrap::validate(session.staged());
        if !problems.is_empty() {
            // 4.06 "Inconsistent loaded configuration"; the session stays open so the
            // Bootstrap-Server can correct it and finish again.
            let reason = problems.join("; ");
            self.emit(Event::BootstrapFinishRefused {
                reason: reason.clone(),
            });
            self.respond(now, peer, packet, Reply::error(msg::NOT_ACCEPTABLE, reason));
            return;
        }
        let (committed, _changes) = session.result_over(&self.store);
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
        let timeout_s = accounts::bootstrap_security(&self.store)
            .map(|a| a.account_timeout_s())
            .filter(|s| *s > 0);
        match timeout_s {
            Some(s) => self
                .timers
                .set_after(Timer::BootstrapPurge, now, seconds_to_ms(s)),
            None => self.timers.clear(Timer::BootstrapPurge),
        }
        // Core 1.1 §5.3.1: after bootstrap, Register with every server that has an account.
        self.sync_servers(now, true);
    }

    /// Plans a client-initiated bootstrap, after the ClientHoldOffTime (`/0/x/11`) if asked.
    pub(super) fn schedule_bootstrap(&mut self, now: u64, hold_off: bool) {
        if self.bs.is_active() {
            return;
        }
        let Some(acct) = accounts::bootstrap_security(&self.store) else {
            self.emit(Event::BootstrapFailed {
                reason: "no Bootstrap-Server account and no usable server account".to_string(),
                retry_at: None,
            });
            return;
        };
        let delay = if hold_off {
            seconds_to_ms(acct.hold_off_s())
        } else {
            0
        };
        self.bs.schedule(now, delay);
        self.apply_bootstrap_outputs(now);
    }

    pub(super) fn send_bootstrap_request(&mut self, now: u64) {
        let Some(peer) = self.bootstrap_peer() else {
            self.bootstrap_failed(
                now,
                "the Bootstrap-Server account has no usable URI".to_string(),
            );
            return;
        };
        self.bs.request(
            peer,
            &self.config.endpoint,
            self.config.version,
            self.config.preferred_format,
        );
        self.apply_bootstrap_outputs(now);
    }

    pub(super) fn bootstrap_failed(&mut self, now: u64, reason: String) {
        // With registered servers the device keeps working and does not retry on its own.
        let registered = self.regs.any_registered();
        let retry = (&self.config.bootstrap_retry, &mut self.rng);
        self.bs.failed(now, reason, registered, retry);
        self.apply_bootstrap_outputs(now);
    }

    pub(super) fn abandon_bootstrap(&mut self, now: u64) {
        self.bs.abandon();
        self.apply_bootstrap_outputs(now);
    }

    /// Applies what the bootstrap machine asked for.
    pub(super) fn apply_bootstrap_outputs(&mut self, now: u64) {
        let mut outputs = self.bs.take_outputs();
        for output in outputs.drain(..) {
            match output {
                BsOutput::Send { peer, packet } => {
                    self.request(now, peer, packet, Purpose::BootstrapRequest)
                }
                BsOutput::CancelRequest => {
                    self.cancel_exchanges(|p| *p == Purpose::BootstrapRequest)
                }
                BsOutput::Arm { timer, at } => self.timers.set_after(timer, at, 0),
                BsOutput::Disarm(timer) => self.timers.clear(timer),
                BsOutput::Event(event) => {
                    // Bootstrap-Delete of / took the firmware instance along: it is the
                    // library's, and comes back as the state machine has it.
                    if event == Event::Bootstrapped {
                        let _ = self.mirror_firmware();
                    }
                    self.emit(event)
                }
                BsOutput::PeersChanged => self.collect_peers(),
            }
        }
        self.bs.give_back(outputs);
    }

    /// Applies new or changed smartcard data, or removes what vanished data provisioned
    /// (Core 1.1 §5.2.3.2). Returns whether the configuration changed.
    pub(super) fn check_smartcard(&mut self) -> bool {
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
            self.emit(Event::SmartcardRemoved);
            changed = true;
        }
        let Some(writes) = data else { return changed };
        match smartcard::apply(&self.store, &writes, self.config.limits.max_instances) {
            Ok(p) => {
                self.store = p.store;
                self.smartcard_applied = Some((writes, p.instances));
                self.emit(Event::SmartcardProvisioned);
                true
            }
            Err(reason) => {
                // Remember the data so a bad card is reported once, not before every Update.
                self.smartcard_applied = Some((writes, BTreeSet::new()));
                self.emit(Event::BootstrapFailed {
                    reason,
                    retry_at: None,
                });
                changed
            }
        }
    }

    /// Re-reads the accounts after the configuration changed under a pending Register/Update;
    /// returns whether server `ssid` still exists. With no server left, bootstrap takes over.
    pub(super) fn after_reconfiguration(&mut self, now: u64, ssid: u16) -> bool {
        self.sync_servers(now, false);
        if self.regs.is_empty() {
            self.schedule_bootstrap(now, true);
        }
        self.regs.contains(ssid)
    }

    /// Removes the Bootstrap-Server account (its Security instance) and saves the result.
    pub(super) fn purge_bootstrap_account(&mut self) {
        self.timers.clear(Timer::BootstrapPurge);
        let Some(iid) = accounts::bootstrap_security(&self.store).map(|a| a.iid) else {
            return;
        };
        let mut txn = Transaction::begin(&self.store);
        txn.staged_mut()
            .remove_instance(crate::model::oid::SECURITY, iid);
        let (candidate, _) = txn.result_over(&self.store);
        if self.save_candidate(&candidate) {
            self.store = candidate;
            self.emit(Event::BootstrapAccountPurged);
            self.collect_peers();
        }
    }
}

/// A duration in seconds that a peer wrote (hold-off, account timeout) as milliseconds;
/// negative is 0, and an absurd value saturates instead of wrapping.
pub(super) fn seconds_to_ms(s: i64) -> u64 {
    u64::try_from(s).unwrap_or(0).saturating_mul(1000)
}
