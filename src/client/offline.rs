//! Offline mode: the application says the link is down (a modem off, no coverage). Nothing new
//! is sent: Register and Update wait, and notifications are stored per the Server object's
//! Notification Storing When Disabled or Offline (`/1/x/6`, Core 1.1 §E.2): all of them in
//! order (bounded by `Limits::max_stored_notifications`) when true, the default, only the
//! latest of each observation when false. Back online, every registration sends an Update and
//! the stored notifications follow, in order, once it succeeds.

use super::*;

/// A notification kept while offline: to whom, and the answer it carries.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub ssid: u16,
    pub peer: PeerId,
    pub token: Vec<u8>,
    pub reply: Reply,
    /// An error that ended its observation: sent even though the observation is gone.
    pub ends: bool,
}

impl Client {
    /// Goes offline (`true`) or back online (`false`); see the module notes. Exchanges
    /// already in flight carry on (and may fail).
    pub fn set_offline(&mut self, now: u64, offline: bool) {
        let now = self.clock(now);
        if self.offline == offline {
            return;
        }
        self.offline = offline;
        if !offline {
            self.regs.want_update_all();
            self.drive(now);
        }
    }

    /// Whether the client is in offline mode.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Keeps a notification that could not go out: all of them when server `ssid` stores
    /// notifications (`/1/x/6`, true when absent), else only the latest of this observation.
    pub(super) fn store_notification(&mut self, stored: Stored) {
        if !self.stores_notifications(stored.ssid) && !stored.ends {
            self.stored
                .retain(|s| !(s.peer == stored.peer && s.token == stored.token));
        }
        if self.stored.len() >= self.config.limits.max_stored_notifications {
            self.stored.remove(0); // the oldest goes first: bounded, newest kept
        }
        self.stored.push(stored);
    }

    fn stores_notifications(&self, ssid: u16) -> bool {
        accounts::server_accounts(&self.store)
            .into_iter()
            .find(|a| a.ssid == ssid)
            .and_then(|a| {
                let p = Path::resource(crate::model::oid::SERVER, a.server_iid, 6);
                self.store.value(&p).cloned()
            })
            != Some(Value::Boolean(false))
    }

    /// Server `ssid`'s registration was refreshed: what was stored for it goes out, in order,
    /// for the observations still there.
    pub(super) fn flush_stored(&mut self, now: u64, ssid: u16) {
        let (mine, rest) = core::mem::take(&mut self.stored)
            .into_iter()
            .partition(|s| s.ssid == ssid);
        self.stored = rest;
        let mine: Vec<Stored> = mine;
        for s in mine {
            if s.ends || self.is_observing(s.peer, &s.token) {
                self.send_notification(now, s.peer, &s.token, s.reply);
            }
        }
    }

    /// Observations of ending servers drop what was stored for them.
    pub(super) fn drop_stored(&mut self, ssid: u16) {
        self.stored.retain(|s| s.ssid != ssid);
    }
}
