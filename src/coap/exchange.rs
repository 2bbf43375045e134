//! The state of one outgoing request or message (RFC 7252 §4.2, §5.2).

use alloc::vec::Vec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Expects a response matched by token; `observe` when it carried Observe=0.
    Request { observe: bool },
    /// Expects only an ACK (CON) or nothing (NON); e.g. a notification.
    Message,
}

#[derive(Debug, Clone)]
pub(crate) enum State {
    /// Waiting for an NSTART slot: the datagram, encoded when queued, with message ID 0; the
    /// real one is written into bytes 2–3 when it starts (RFC 7252 §3: the header is fixed).
    Queued(Vec<u8>),
    /// A CON sent `sent` times so far, next retransmission (or failure) at `deadline`.
    AwaitAck {
        mid: u16,
        bytes: Vec<u8>,
        sent: u32,
        interval: u64,
        deadline: u64,
    },
    /// CON request after its empty ACK, or any NON: waits for a response (or an RST, for a
    /// NON) until `deadline`.
    AwaitResponse { mid: u16, deadline: u64 },
    /// An observation that got its first notification; no deadline.
    Observing,
}

#[derive(Debug, Clone)]
pub(crate) struct Exchange<P> {
    pub peer: P,
    pub token: Vec<u8>,
    pub kind: Kind,
    pub confirmable: bool,
    pub state: State,
}

impl<P> Exchange<P> {
    pub(crate) fn deadline(&self) -> Option<u64> {
        match self.state {
            State::AwaitAck { deadline, .. } | State::AwaitResponse { deadline, .. } => {
                Some(deadline)
            }
            State::Queued(_) | State::Observing => None,
        }
    }

    /// Whether a message with this ID from the peer (an ACK or RST) refers to this exchange.
    pub(crate) fn awaits_ack(&self, mid: u16) -> bool {
        matches!(self.state, State::AwaitAck { mid: m, .. } if m == mid)
    }

    /// RST may answer a CON not yet acknowledged, or a NON (RFC 7252 §4.3).
    pub(crate) fn resettable_by(&self, mid: u16) -> bool {
        self.awaits_ack(mid)
            || (!self.confirmable
                && matches!(self.state, State::AwaitResponse { mid: m, .. } if m == mid))
    }

    /// Whether a separate response with `token` answers this exchange.
    pub(crate) fn awaits_response(&self, token: &[u8]) -> bool {
        matches!(self.kind, Kind::Request { .. })
            && self.token == token
            && !matches!(self.state, State::Queued(_))
    }
}
