//! The client's one timer table (DESIGN §7, in the manner of quinn-proto's
//! `connection/timer.rs`): every deadline the client keeps, by kind. `Client::poll_timeout` is
//! its earliest entry (with the CoAP endpoint's), and the client's drive loop takes what is due,
//! so the two can no longer disagree.
//!
//! Deadlines are absolute milliseconds on the caller's clock. Many delays come from values a
//! peer writes (lifetime `/1/x/1`, hold-off `/0/x/11`, account timeout `/0/x/12`), so they are
//! added with saturation: an absurd value means "never in practice", not a wrapped "now".

/// What a deadline is for. The order is the order in which due timers are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Purge the Bootstrap-Server account (`/0/x/12`, Core 1.1 §E.1).
    BootstrapPurge,
    /// Send the Bootstrap-Request: ClientHoldOffTime (`/0/x/11`) or back-off elapsed.
    BootstrapRequest,
    /// The open bootstrap session fails: EXCHANGE_LIFETIME after the Bootstrap-Server's last
    /// command (Core 1.1 §5.2.3.3).
    BootstrapSession,
    /// Register with the server of this Short Server ID (first attempt or retry).
    Register(u16),
    /// Send the periodic Update to the server of this Short Server ID (Core 1.1 §5.3.2).
    Update(u16),
}

/// Deadlines by kind; at most one per kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timers {
    /// A handful of entries (one per kind and server): a sorted `Vec`, not a `BTreeMap`
    /// leaf with room for eleven.
    table: crate::vec_map::VecMap<Timer, u64>,
}

impl Timers {
    /// Arms `timer` for `delay_ms` after `now` (saturating), replacing any earlier deadline.
    pub(crate) fn set_after(&mut self, timer: Timer, now: u64, delay_ms: u64) {
        self.table.insert(timer, now.saturating_add(delay_ms));
    }

    pub(crate) fn clear(&mut self, timer: Timer) {
        self.table.remove(&timer);
    }

    /// The earliest deadline, if any.
    pub(crate) fn next(&self) -> Option<u64> {
        self.table.values().min().copied()
    }

    /// Disarms and returns every timer due at `now`, in serving order.
    pub(crate) fn take_due(&mut self, now: u64) -> alloc::vec::Vec<Timer> {
        // The usual turn has nothing due: no walk, no empty `Vec` built and dropped (issue 15).
        if self.next().is_none_or(|at| at > now) {
            return alloc::vec::Vec::new();
        }
        let due: alloc::vec::Vec<Timer> = self
            .table
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(t, _)| *t)
            .collect();
        for t in &due {
            self.table.remove(t);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_saturate_and_due_timers_come_in_serving_order() {
        let mut t = Timers::default();
        t.set_after(Timer::Update(1), 10, u64::MAX);
        assert_eq!(t.next(), Some(u64::MAX));
        t.set_after(Timer::Register(2), 10, 5);
        t.set_after(Timer::BootstrapPurge, 12, 0);
        assert_eq!(t.next(), Some(12));
        assert!(t.take_due(11).is_empty());
        assert_eq!(
            t.next(),
            Some(12),
            "taking nothing due leaves every timer armed"
        );
        assert_eq!(t.take_due(15), [Timer::BootstrapPurge, Timer::Register(2)]);
        assert_eq!(t.next(), Some(u64::MAX));
        t.clear(Timer::Update(1));
        assert_eq!(t.next(), None);
    }
}
