//! When one observation sends a notification: the `<NOTIFICATION>` conditions as a pure
//! schedule (FACTS §5.1; Core 1.2 "Notification Attributes" and `<NOTIFICATION>` rules;
//! RFC 7641 §3.2, §4.2).
//!
//! The router keeps one [`Schedule`] per observation and feeds it what happens: the Observe
//! response went out ([`Schedule::started`]), a value under the observation changed
//! ([`Schedule::changed`]), the value was re-read at an evaluation deadline
//! ([`Schedule::evaluated`]), a notification went out ([`Schedule::notified`]). It asks when to
//! wake up ([`Schedule::next_deadline`]) and, when woken, what is due ([`Schedule::due`]).
//! Every call takes the observation's effective attributes
//! ([`AttributeStore::effective`](super::attributes::AttributeStore::effective)), so a
//! Write-Attributes during the observation applies from the next call on.
//!
//! The rules:
//! - The Observe response is the first notification; the periods restart at each notification.
//! - Notify when a qualifying change is pending and `pmin` has elapsed since the last
//!   notification, or when `pmax` has elapsed (with or without change). `pmax` is ignored when
//!   absent, 0, or below `pmin` (FACTS §5.1).
//! - A change before `pmin` is held; at `pmin` the caller reads the value again and sends the
//!   latest one (RFC 7641 §4.2: the notification carries the current state, not a stale one).
//! - Without `gt`/`lt`/`st` every change qualifies. With any of them, see [`Schedule::changed`].
//! - `epmin`/`epmax` (1.1) bound how often the value is evaluated: a change reported sooner than
//!   `epmin` after the last evaluation is evaluated at that deadline; `epmax` forces an
//!   evaluation at the latest that long after the last one. `epmax` is ignored when 0 or below
//!   `epmin`, by analogy with `pmax` (the TS states that rule for `pmax` only).
//!
//! Times are milliseconds on the caller's monotonic clock; periods are seconds. All deadline
//! arithmetic saturates, so a clock near `u64::MAX` or a period near `u32::MAX` seconds cannot
//! wrap.

use super::attributes::Attributes;
use crate::value::Value;

/// What an observation needs at a given time ([`Schedule::due`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing before [`Schedule::next_deadline`].
    Nothing,
    /// Read the value and report it with [`Schedule::evaluated`] (`epmin` ended a deferral, or
    /// `epmax` elapsed).
    Evaluate,
    /// Read the value, send it as a notification, then call [`Schedule::notified`].
    Notify,
}

/// The scheduling state of one observation. Built by [`Schedule::started`] when the Observe
/// response is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Schedule {
    /// When the last notification (or the Observe response) went out.
    notified_at: u64,
    /// The numeric value it carried: the base of `st`.
    notified_value: Option<f64>,
    /// When the value was last evaluated (read and checked against the conditions).
    evaluated_at: u64,
    /// The value at that evaluation: the "before" side of a `gt`/`lt` crossing.
    current: Option<f64>,
    /// A qualifying change happened since the last notification; it goes out at `pmin`.
    pending: bool,
    /// A change was reported within `epmin` of the last evaluation and awaits evaluation.
    deferred: bool,
}

/// Seconds to milliseconds; cannot overflow from a u32, saturating all the same.
fn ms(seconds: u32) -> u64 {
    u64::from(seconds).saturating_mul(1000)
}

/// The periods of `attrs` in milliseconds, with the "ignored" rules applied.
struct Periods {
    pmin: u64,
    pmax: Option<u64>,
    epmin: u64,
    epmax: Option<u64>,
}

impl Periods {
    fn of(attrs: &Attributes) -> Periods {
        let pmin = attrs.pmin.unwrap_or(0);
        let epmin = attrs.epmin.unwrap_or(0);
        Periods {
            pmin: ms(pmin),
            pmax: attrs.pmax.filter(|&p| p > 0 && p >= pmin).map(ms),
            epmin: ms(epmin),
            epmax: attrs.epmax.filter(|&e| e > 0 && e >= epmin).map(ms),
        }
    }
}

impl Schedule {
    /// The Observe response carrying `value` (its numeric form, [`numeric`], or `None` for a
    /// non-numeric or composite target) was sent at `now`: it counts as the first notification
    /// (FACTS §5).
    pub(crate) fn started(now: u64, value: Option<f64>) -> Schedule {
        Schedule {
            notified_at: now,
            notified_value: value,
            evaluated_at: now,
            current: value,
            pending: false,
            deferred: false,
        }
    }

    /// A value under the observation changed at `now`; `value` is the new numeric value, or
    /// `None` when the target is not a single numeric resource.
    ///
    /// A numeric value equal to the last evaluated one is no change (the state did not change,
    /// RFC 7641 §4.2). Within `epmin` of the last evaluation the change is only remembered, and
    /// [`Due::Evaluate`] comes at the end of `epmin`.
    ///
    /// With `gt`, `lt` or `st` set, a change qualifies if **any** of these holds:
    /// - it rises above `gt`: the previous value was `<= gt` and the new one is `> gt`;
    /// - it falls below `lt`: the previous value was `>= lt` and the new one is `< lt`;
    /// - it steps: `|new − last notified| >= st`.
    ///
    /// "Crossing" is read as a crossing in the direction the threshold names. This is the one
    /// reading under which all the Transport 1.2 worked examples come out as the TS says:
    /// with `gt=45&st=10`, 45→50 (rises above gt) and 38→49 (rises, and steps 11) notify, while
    /// 48→42 does not although it crosses 45 downwards (and steps only 6); with
    /// `lt=20&gt=85&st=10`, 75→90 (above gt), 50→10 (below lt) and 87→99 (steps 12) notify,
    /// while 17→24 does not although it crosses 20 upwards (and steps only 7). A crossing in
    /// either direction would notify 48→42 and 17→24; requiring crossing *and* step would miss
    /// 45→50. A value with no numeric form, or no previous value to compare with, qualifies.
    pub(crate) fn changed(&mut self, attrs: &Attributes, now: u64, value: Option<f64>) {
        let p = Periods::of(attrs);
        if p.epmin > 0 && now < self.evaluated_at.saturating_add(p.epmin) {
            self.deferred = true;
            return;
        }
        self.evaluate(attrs, now, value, true);
    }

    /// The value was re-read at `now` because [`Due::Evaluate`] was returned. If a change was
    /// deferred by `epmin`, a non-numeric `value` counts as changed; otherwise only a numeric
    /// value different from the last evaluated one does.
    pub(crate) fn evaluated(&mut self, attrs: &Attributes, now: u64, value: Option<f64>) {
        let signalled = self.deferred;
        self.evaluate(attrs, now, value, signalled);
    }

    fn evaluate(&mut self, attrs: &Attributes, now: u64, value: Option<f64>, signalled: bool) {
        let is_change = match (value, self.current) {
            (Some(new), Some(old)) => new != old,
            (None, None) => signalled,
            _ => true,
        };
        if is_change {
            if self.qualifies(attrs, value) {
                // Sticky until the next notification: the change happened, and the value sent
                // at pmin is whatever is current then.
                self.pending = true;
            }
            self.current = value;
        }
        self.evaluated_at = now;
        self.deferred = false;
    }

    /// Whether a change to `new` is worth a notification (the rule is on [`Schedule::changed`]).
    fn qualifies(&self, attrs: &Attributes, new: Option<f64>) -> bool {
        if !attrs.has_value_conditions() {
            return true;
        }
        let Some(new) = new else {
            return true;
        };
        let Some(prev) = self.current else {
            return true;
        };
        let rises = attrs.gt.is_some_and(|gt| prev <= gt && new > gt);
        let falls = attrs.lt.is_some_and(|lt| prev >= lt && new < lt);
        let steps = attrs.st.is_some_and(|st| {
            self.notified_value
                .is_none_or(|last| (new - last).abs() >= st)
        });
        rises || falls || steps
    }

    /// A notification carrying `value` was sent at `now`. It is also an evaluation.
    pub(crate) fn notified(&mut self, now: u64, value: Option<f64>) {
        *self = Schedule::started(now, value);
    }

    /// The earliest time something may become due, or `None` when nothing will without a new
    /// change. A deadline at or before the caller's `now` means "due now".
    pub(crate) fn next_deadline(&self, attrs: &Attributes) -> Option<u64> {
        self.deadlines(attrs).into_iter().flatten().min()
    }

    /// What is due at `now`. Notify wins over Evaluate: sending reads the value anyway.
    pub(crate) fn due(&self, attrs: &Attributes, now: u64) -> Due {
        let [hold, pmax, defer, epmax] = self.deadlines(attrs);
        let reached = |d: Option<u64>| d.is_some_and(|d| now >= d);
        if reached(hold) || reached(pmax) {
            Due::Notify
        } else if reached(defer) || reached(epmax) {
            Due::Evaluate
        } else {
            Due::Nothing
        }
    }

    /// [pending change at pmin, pmax, deferred change at epmin, epmax].
    fn deadlines(&self, attrs: &Attributes) -> [Option<u64>; 4] {
        let p = Periods::of(attrs);
        let after_notify = |d: u64| self.notified_at.saturating_add(d);
        let after_eval = |d: u64| self.evaluated_at.saturating_add(d);
        [
            self.pending.then(|| after_notify(p.pmin)),
            p.pmax.map(after_notify),
            self.deferred.then(|| after_eval(p.epmin)),
            p.epmax.map(after_eval),
        ]
    }

    #[cfg(test)]
    /// True when a qualifying change waits for `pmin`.
    pub(crate) fn is_pending(&self) -> bool {
        self.pending
    }
}

/// The numeric form of a value for `gt`/`lt`/`st`: Integer, Unsigned Integer, Float and Time
/// (the types [`is_numeric_type`](super::attributes::is_numeric_type) accepts). Integers beyond
/// 2^53 lose precision, which thresholds written as decimals cannot resolve anyway.
pub(crate) fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) | Value::Time(i) => Some(*i as f64),
        Value::Unsigned(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
