//! CoAP transmission parameters (RFC 7252 §4.8) and the times derived from them (§4.8.2).

/// MAX_LATENCY is fixed by RFC 7252 §4.8.2 ("100 seconds"), not configurable.
const MAX_LATENCY_MS: u64 = 100_000;

/// The tunable transmission parameters of RFC 7252 §4.8. `Default` gives the RFC's values.
///
/// RFC 7252 §4.8.1 warns against lowering `ack_timeout` below 1 s or the random factor below 1.0;
/// the endpoint does not enforce it, it only guards against division by zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransmissionParams {
    /// ACK_TIMEOUT in milliseconds (default 2000).
    pub ack_timeout_ms: u64,
    /// ACK_RANDOM_FACTOR as a fraction `(numerator, denominator)` (default 3/2 = 1.5); kept
    /// rational so that all timer arithmetic stays in integers.
    pub ack_random_factor: (u64, u64),
    /// MAX_RETRANSMIT (default 4, i.e. at most 5 transmissions of one message).
    pub max_retransmit: u32,
    /// NSTART: confirmable requests outstanding at once per peer (default 1; 0 is treated as 1).
    pub nstart: usize,
}

impl Default for TransmissionParams {
    fn default() -> Self {
        TransmissionParams {
            ack_timeout_ms: 2_000,
            ack_random_factor: (3, 2),
            max_retransmit: 4,
            nstart: 1,
        }
    }
}

impl TransmissionParams {
    /// `value × ACK_RANDOM_FACTOR`, rounded down, saturating.
    pub(crate) fn scale_by_random_factor(&self, value: u64) -> u64 {
        let (num, den) = self.ack_random_factor;
        // In u64 when the product fits (always, for real parameters): a u128 division is a
        // library call, and this runs several times per message.
        if let Some(product) = value.checked_mul(num) {
            return product / den.max(1);
        }
        let scaled = u128::from(value) * u128::from(num) / u128::from(den.max(1));
        u64::try_from(scaled).unwrap_or(u64::MAX)
    }

    /// The upper end of the initial retransmission timeout: ACK_TIMEOUT × ACK_RANDOM_FACTOR
    /// (RFC 7252 §4.2: the initial timeout is random in [ACK_TIMEOUT, this]).
    pub fn max_initial_timeout_ms(&self) -> u64 {
        self.scale_by_random_factor(self.ack_timeout_ms)
            .max(self.ack_timeout_ms)
    }

    /// `(2^exp − 1) × ACK_TIMEOUT × ACK_RANDOM_FACTOR`, saturating.
    fn doubling_sum(&self, exp: u32) -> u64 {
        let factor = 2u64.saturating_pow(exp).saturating_sub(1);
        self.scale_by_random_factor(self.ack_timeout_ms.saturating_mul(factor))
    }

    /// MAX_TRANSMIT_SPAN = ACK_TIMEOUT × (2^MAX_RETRANSMIT − 1) × ACK_RANDOM_FACTOR: the longest
    /// time from the first to the last transmission of a CON message (RFC 7252 §4.8.2). 45 s.
    pub fn max_transmit_span_ms(&self) -> u64 {
        self.doubling_sum(self.max_retransmit)
    }

    /// MAX_TRANSMIT_WAIT = ACK_TIMEOUT × (2^(MAX_RETRANSMIT + 1) − 1) × ACK_RANDOM_FACTOR: the
    /// longest time from the first transmission until the sender gives up (RFC 7252 §4.8.2). 93 s.
    pub fn max_transmit_wait_ms(&self) -> u64 {
        self.doubling_sum(self.max_retransmit.saturating_add(1))
    }

    /// PROCESSING_DELAY, which RFC 7252 §4.8.2 sets to ACK_TIMEOUT.
    pub fn processing_delay_ms(&self) -> u64 {
        self.ack_timeout_ms
    }

    /// EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 × MAX_LATENCY + PROCESSING_DELAY
    /// (RFC 7252 §4.8.2): how long a message ID stays "in use" and how long duplicates are
    /// detected. 247 s.
    pub fn exchange_lifetime_ms(&self) -> u64 {
        self.max_transmit_span_ms()
            .saturating_add(2 * MAX_LATENCY_MS)
            .saturating_add(self.processing_delay_ms())
    }

    /// NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY (RFC 7252 §4.8.2). 145 s.
    pub fn non_lifetime_ms(&self) -> u64 {
        self.max_transmit_span_ms().saturating_add(MAX_LATENCY_MS)
    }

    /// NSTART with 0 read as 1, so that requests are never blocked forever.
    pub fn effective_nstart(&self) -> usize {
        self.nstart.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::TransmissionParams;

    #[test]
    fn rfc7252_derived_defaults() {
        let p = TransmissionParams::default();
        assert_eq!(p.max_initial_timeout_ms(), 3_000);
        assert_eq!(p.max_transmit_span_ms(), 45_000);
        assert_eq!(p.max_transmit_wait_ms(), 93_000);
        assert_eq!(p.exchange_lifetime_ms(), 247_000);
        assert_eq!(p.non_lifetime_ms(), 145_000);
    }

    #[test]
    fn extreme_values_saturate_instead_of_overflowing() {
        let p = TransmissionParams {
            ack_timeout_ms: u64::MAX,
            ack_random_factor: (u64::MAX, 0),
            max_retransmit: u32::MAX,
            nstart: 0,
        };
        assert_eq!(p.max_transmit_wait_ms(), u64::MAX);
        assert_eq!(p.exchange_lifetime_ms(), u64::MAX);
        assert_eq!(p.effective_nstart(), 1);
    }
}
