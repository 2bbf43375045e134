//! When and how the client bootstraps, as a state machine (Core 1.1 §5.2): Idle → Waiting
//! (ClientHoldOffTime or back-off) → Requesting (Bootstrap-Request in flight) → InSession (the
//! Bootstrap-Server's commands, staged) → Idle on Finish, or back to Waiting on failure.
//!
//! The operations of a session and the Finish check live in `bootstrap.rs`; committing and
//! persisting are the router's. This machine never does I/O and calls nothing else: its methods
//! record [`BsOutput`]s that the router takes with [`Bootstrapping::take_outputs`].

use alloc::string::String;
use alloc::vec::Vec;

use crate::coap::message::option;
use crate::coap::message_buf::MessageBuf;
use crate::decimal::Decimal;

use crate::bootstrap::Session;
use crate::coap::msg;
use crate::codec::ContentFormat;
use crate::config::{Backoff, Version};
use crate::event::Event;
use crate::outputs::Outputs;
use crate::peer::PeerId;
use crate::rng::Rng;
use crate::store::Store;
use crate::timers::Timer;

/// What the bootstrap machine asks the client to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BsOutput {
    /// Send the Bootstrap-Request `packet` (confirmable) to `peer`.
    Send {
        peer: PeerId,
        packet: MessageBuf,
    },
    /// Abandon the Bootstrap-Request in flight.
    CancelRequest,
    Arm {
        timer: Timer,
        at: u64,
    },
    Disarm(Timer),
    Event(Event),
    /// The peers in use may have changed (the session's peer is no longer needed).
    PeersChanged,
}

#[derive(Debug, Clone)]
enum State {
    Idle,
    /// Until `Timer::BootstrapRequest` fires.
    Waiting,
    Requesting {
        peer: PeerId,
    },
    InSession {
        peer: PeerId,
        session: Session,
    },
}

/// What an incoming request from a Bootstrap-Server peer means for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Part of the open session.
    InSession,
    /// Opens a session (call `open` with the staged store first): the answer to our
    /// Bootstrap-Request was overtaken, or it is a Server-Initiated Bootstrap.
    Opens,
    /// Another peer's session is open: not a bootstrap command.
    Refused,
}

/// The client's bootstrap state.
#[derive(Debug)]
pub(crate) struct Bootstrapping {
    state: State,
    /// Failed attempts since the last successful bootstrap (back-off).
    failures: u32,
    out: Outputs<BsOutput>,
}

impl Default for Bootstrapping {
    fn default() -> Self {
        Bootstrapping {
            state: State::Idle,
            failures: 0,
            out: Outputs::default(),
        }
    }
}

impl Bootstrapping {
    /// What the machine asked for since the last call, in order.
    pub(crate) fn take_outputs(&mut self) -> Vec<BsOutput> {
        self.out.take()
    }

    /// The list `take_outputs` gave, applied: its room serves the rest of the session.
    pub(crate) fn give_back(&mut self, spent: Vec<BsOutput>) {
        let busy = !matches!(self.state, State::Idle);
        self.out.give_back(spent, busy)
    }

    /// Drops the room of the output list (an idle client holds none).
    pub(crate) fn trim(&mut self) {
        self.out.trim()
    }

    /// Whether a Bootstrap-Request is in flight or a session is open.
    pub(crate) fn is_active(&self) -> bool {
        self.peer().is_some()
    }

    /// The Bootstrap-Server peer of the request in flight or of the open session.
    pub(crate) fn peer(&self) -> Option<PeerId> {
        match &self.state {
            State::Requesting { peer } | State::InSession { peer, .. } => Some(*peer),
            State::Idle | State::Waiting => None,
        }
    }

    pub(crate) fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting)
    }

    pub(crate) fn is_in_session(&self) -> bool {
        matches!(self.state, State::InSession { .. })
    }

    /// The open session, if any.
    pub(crate) fn session(&self) -> Option<&Session> {
        match &self.state {
            State::InSession { session, .. } => Some(session),
            _ => None,
        }
    }

    /// The open session, to apply a Bootstrap-Server command to.
    pub(crate) fn session_mut(&mut self) -> Option<&mut Session> {
        match &mut self.state {
            State::InSession { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Plans a client-initiated bootstrap `delay_ms` from now (the ClientHoldOffTime, or 0),
    /// unless one is already under way.
    pub(crate) fn schedule(&mut self, now: u64, delay_ms: u64) {
        if self.is_active() {
            return;
        }
        self.state = State::Waiting;
        self.out.push(BsOutput::Arm {
            timer: Timer::BootstrapRequest,
            at: now.saturating_add(delay_ms),
        });
    }

    /// Sends the Bootstrap-Request `POST /bs?ep=…[&pct=…]` to `peer` (Core 1.1 §5.2.7.1).
    pub(crate) fn request(
        &mut self,
        peer: PeerId,
        endpoint: &str,
        version: Version,
        preferred: Option<ContentFormat>,
    ) {
        let mut packet = MessageBuf::request(msg::POST, &["bs"], &[]);
        packet.add_joined(option::URI_QUERY, &[b"ep=", endpoint.as_bytes()]);
        if let (Version::V1_1, Some(f)) = (version, preferred) {
            // pct names the preferred Content-Format for the Bootstrap-Server's writes.
            let code = Decimal::of(i64::from(f.code()));
            packet.add_joined(option::URI_QUERY, &[b"pct=", code.as_bytes()]);
        }
        self.state = State::Requesting { peer };
        self.out.push(BsOutput::Send { peer, packet });
    }

    /// A request arrived from a Bootstrap-Server peer: what it means for the session.
    pub(crate) fn arrival(&self, peer: PeerId) -> Arrival {
        match &self.state {
            State::InSession { peer: p, .. } if *p == peer => Arrival::InSession,
            State::InSession { .. } => Arrival::Refused,
            _ => Arrival::Opens,
        }
    }

    /// Opens a session with `peer` over `staged`, a copy of the committed store. It fails
    /// `exchange_lifetime_ms` after the last command (Core 1.1 §5.2.3.3).
    pub(crate) fn open(
        &mut self,
        now: u64,
        peer: PeerId,
        staged: Store,
        exchange_lifetime_ms: u64,
    ) {
        if matches!(self.state, State::Requesting { .. }) {
            // The Bootstrap-Server's first command overtook its 2.04 (lost or late ACK).
            self.out.push(BsOutput::CancelRequest);
        }
        self.state = State::InSession {
            peer,
            session: Session::over(staged),
        };
        self.out.push(BsOutput::Disarm(Timer::BootstrapRequest));
        self.command(now, exchange_lifetime_ms);
    }

    /// A command of the open session arrived: the session's deadline moves.
    pub(crate) fn command(&mut self, now: u64, exchange_lifetime_ms: u64) {
        self.out.push(BsOutput::Arm {
            timer: Timer::BootstrapSession,
            at: now.saturating_add(exchange_lifetime_ms),
        });
    }

    /// The Bootstrap-Request was answered with `code`; on 2.04 the session opens over
    /// `staged` and this returns true (anything else is a failure for the caller to report).
    pub(crate) fn request_answered(
        &mut self,
        now: u64,
        code: u8,
        staged: Store,
        lifetime_ms: u64,
    ) -> bool {
        let State::Requesting { peer } = self.state else {
            return false;
        };
        if code == msg::CHANGED {
            self.open(now, peer, staged, lifetime_ms);
            true
        } else {
            false
        }
    }

    /// Bootstrap-Finish succeeded and was committed.
    pub(crate) fn finished(&mut self) {
        self.state = State::Idle;
        self.failures = 0;
        self.out.push(BsOutput::Disarm(Timer::BootstrapSession));
        self.out.push(BsOutput::Event(Event::Bootstrapped));
    }

    /// This attempt failed for `reason`: the committed configuration stays as it was. Another
    /// attempt follows per `policy`, unless `registered` (the device works with what it has) or
    /// the attempts are used up.
    pub(crate) fn failed(
        &mut self,
        now: u64,
        reason: String,
        registered: bool,
        (policy, rng): (&Backoff, &mut Rng),
    ) {
        self.failures += 1;
        let give_up = policy.attempts != 0 && self.failures >= policy.attempts;
        let retry_at = if give_up || registered {
            None
        } else {
            Some(now.saturating_add(policy.delay(self.failures, rng)))
        };
        self.out.push(BsOutput::Disarm(Timer::BootstrapSession));
        match retry_at {
            Some(at) => {
                self.state = State::Waiting;
                self.out.push(BsOutput::Arm {
                    timer: Timer::BootstrapRequest,
                    at,
                });
            }
            None => {
                self.state = State::Idle;
                self.out.push(BsOutput::Disarm(Timer::BootstrapRequest));
            }
        }
        self.out
            .push(BsOutput::Event(Event::BootstrapFailed { reason, retry_at }));
        self.out.push(BsOutput::PeersChanged);
    }

    /// Stops whatever is under way (the client is stopping).
    pub(crate) fn abandon(&mut self) {
        if matches!(self.state, State::Requesting { .. }) {
            self.out.push(BsOutput::CancelRequest);
        }
        self.out.push(BsOutput::Disarm(Timer::BootstrapRequest));
        self.out.push(BsOutput::Disarm(Timer::BootstrapSession));
        self.state = State::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry() -> Backoff {
        Backoff {
            base_ms: 10_000,
            max_ms: 600_000,
            attempts: 3,
        }
    }

    #[test]
    fn request_session_and_finish() {
        let mut bs = Bootstrapping::default();
        bs.schedule(5, 3_000);
        assert_eq!(
            bs.take_outputs(),
            [BsOutput::Arm {
                timer: Timer::BootstrapRequest,
                at: 3_005
            }]
        );
        bs.request(
            PeerId(1),
            "dev",
            Version::V1_1,
            Some(ContentFormat::SenmlCbor),
        );
        let out = bs.take_outputs();
        let [BsOutput::Send { peer, packet }] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(*peer, PeerId(1));
        assert_eq!(
            crate::trace::describe(&packet.encode_as(crate::coap::wire::CON, 0, &[])),
            "CON POST /bs?ep=dev&pct=112"
        );
        assert!(bs.is_active() && !bs.is_in_session());
        // 1.0 sends no pct (Core 1.0 has none).
        let mut old = Bootstrapping::default();
        old.request(
            PeerId(1),
            "dev",
            Version::V1_0,
            Some(ContentFormat::SenmlCbor),
        );
        let out = old.take_outputs();
        let [BsOutput::Send { packet, .. }] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(msg::uri_query(&packet.to_packet()).unwrap(), ["ep=dev"]);

        // A command overtakes the 2.04: the request is abandoned and the session opens.
        assert_eq!(bs.arrival(PeerId(1)), Arrival::Opens);
        bs.open(100, PeerId(1), Store::new(), 247_000);
        assert_eq!(
            bs.take_outputs(),
            [
                BsOutput::CancelRequest,
                BsOutput::Disarm(Timer::BootstrapRequest),
                BsOutput::Arm {
                    timer: Timer::BootstrapSession,
                    at: 247_100
                }
            ]
        );
        assert_eq!(bs.arrival(PeerId(1)), Arrival::InSession);
        assert_eq!(bs.arrival(PeerId(2)), Arrival::Refused);
        bs.finished();
        assert_eq!(
            bs.take_outputs(),
            [
                BsOutput::Disarm(Timer::BootstrapSession),
                BsOutput::Event(Event::Bootstrapped)
            ]
        );
        assert!(!bs.is_active());
    }

    #[test]
    fn failures_back_off_then_give_up_and_never_retry_while_registered() {
        let mut bs = Bootstrapping::default();
        let mut rng = Rng::new(3);
        bs.failed(0, "x".into(), false, (&retry(), &mut rng));
        let out = bs.take_outputs();
        let Some(BsOutput::Arm { at, .. }) = out.get(1) else {
            panic!("{out:?}")
        };
        assert!((10_000..=15_000).contains(at), "{at}");
        assert!(bs.is_waiting());
        bs.failed(0, "x".into(), true, (&retry(), &mut rng));
        assert!(!bs.is_waiting(), "registered: no retry");
        bs.failed(0, "x".into(), false, (&retry(), &mut rng));
        let out = bs.take_outputs();
        assert!(
            out.contains(&BsOutput::Event(Event::BootstrapFailed {
                reason: "x".into(),
                retry_at: None
            })),
            "third attempt of three: give up; {out:?}"
        );
    }
}
