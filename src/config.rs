//! Client configuration: what the application decides before start.

use alloc::string::String;

use crate::coap::TransmissionParams;
use crate::codec::ContentFormat;

/// The LwM2M enabler version the client announces (`lwm2m=` in Register, Discover).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// LwM2M 1.0: `lwm2m=1.0`, no `pct` on Bootstrap-Request, no `ct` on the root link (TLV
    /// is assumed, Core 1.0 §6.4), the 1.0 form of Bootstrap-Discover, no Bootstrap-Read, and
    /// the core objects (`/0` to `/3`) announced without `ver`.
    V1_0,
    /// LwM2M 1.1 (the default): `lwm2m=1.1` and everything Core 1.1 adds.
    V1_1,
}

impl Version {
    /// The version as it appears in the `lwm2m=` parameter: `"1.0"` or `"1.1"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
        }
    }
}

/// What the root link of Register and Update announces as supported Content-Formats (`ct=`).
///
/// The spec allows a space-separated list (Core 1.1 §5.3.1 shows `</>;ct=110` and
/// `</>;ct="110 112 60"`), but servers in the field do not all parse it: Wakaama's server takes
/// one value, and only 110, 112 or 11543, and answers anything else with 4.00 (FACTS §3.1).
/// Wakaama's and Zephyr's clients send one SenML value; Leshan accepts both forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RootFormats {
    /// One value: the preferred format if it is a SenML one, else SenML JSON (110), else SenML
    /// CBOR (112), whichever this build encodes; no `ct` if it encodes neither. The most
    /// interoperable choice, and the default.
    #[default]
    Preferred,
    /// Every format this build encodes besides plain text and opaque (TLV, SenML JSON, SenML
    /// CBOR), quoted as a list when there are several. Spec-valid; some servers refuse it.
    All,
    /// No `ct` attribute: servers assume TLV (1.0 behaviour).
    Omit,
}

/// Bounds on what a peer (or an absent application) can make the client hold. Exceeding one
/// gets the CoAP code the spec names and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted, whole or put together from Block1 blocks; a larger one
    /// is answered 4.13 Request Entity Too Large with Size1 = this value (RFC 7959 §2.9.3, §4).
    /// 4096 by default. It also sizes the UDP adapter's receive buffer: a datagram longer than
    /// this (or `Config::block_size`) plus 512 bytes is not read at all.
    pub max_request_payload: usize,
    /// Largest response body sent (in Block2 blocks above `Config::block_size`); a larger
    /// answer is replaced by 5.00. 16384 by default.
    pub max_response_payload: usize,
    /// Most instances one object may hold; a Create or Bootstrap-Write beyond is refused
    /// (5.00 for Create, 4.00 for Bootstrap-Write) and nothing is written. 32 by default.
    pub max_instances: usize,
    /// Most events kept for the application; when full the oldest is dropped and
    /// `Event::EventsDropped` reports how many. 64 by default.
    pub max_queued_events: usize,
    /// Most observations served at once (all servers); an Observe beyond is answered as a
    /// plain Read, without the Observe option (RFC 7641 §4.1). 64 by default.
    pub max_observations: usize,
    /// Most levels (server, path) carrying Write-Attributes; a Write-Attributes that would
    /// add one beyond is 4.00. 128 by default.
    pub max_attribute_levels: usize,
    /// Most notifications kept while offline (all servers); beyond, the oldest is dropped.
    /// 32 by default.
    pub max_stored_notifications: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_payload: 4096,
            max_response_payload: 16384,
            max_instances: 32,
            max_queued_events: 64,
            max_observations: 64,
            max_attribute_levels: 128,
            max_stored_notifications: 32,
        }
    }
}

/// Retry policy for one kind of exchange: the n-th retry waits `base_ms * 2^(n-1)` plus up to
/// 50% random jitter, never more than `max_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry, in milliseconds, without jitter.
    pub base_ms: u64,
    /// Upper bound on any delay, jitter included, in milliseconds.
    pub max_ms: u64,
    /// Attempts before giving up (0 = never give up).
    pub attempts: u32,
}

impl Backoff {
    /// Delay before attempt `n` (1-based retry number), jitter in `0..=50%` chosen by `rng`.
    pub fn delay(&self, n: u32, rng: &mut crate::rng::Rng) -> u64 {
        let shift = n.saturating_sub(1).min(32);
        let base = self.base_ms.saturating_mul(1u64 << shift).min(self.max_ms);
        let jitter = rng.range(0, base / 2);
        base.saturating_add(jitter).min(self.max_ms.max(base))
    }
}

/// Everything the client needs besides its objects.
#[derive(Debug, Clone)]
pub struct Config {
    /// Endpoint Client Name (`ep=`).
    pub endpoint: String,
    /// The LwM2M version the client speaks: announced in Register and Bootstrap-Discover, and
    /// deciding which 1.1 additions are used. 1.1 by default.
    pub version: Version,
    /// Preferred bootstrap Content-Format, sent as `pct=` on Bootstrap-Request (1.1 only,
    /// Core 1.1 §5.2.7.1). `None` sends no `pct`.
    pub preferred_format: Option<ContentFormat>,
    /// The `ct=` of the root link in Register and Update (1.1 only; see `RootFormats`).
    pub root_formats: RootFormats,
    /// Format of Read answers carrying several values when the server sends no Accept.
    pub default_format: ContentFormat,
    /// Seed for tokens, message IDs and jitter. Adapters seed it from the OS.
    pub seed: u64,
    /// Client-initiated bootstrap retries after a failed attempt. FACTS §1.3: retry policy is
    /// implementation dependent; Leshan waits 10 min, we start lower and double.
    pub bootstrap_retry: Backoff,
    /// Registration retries per server. Core 1.1 §6.2.1.1 defaults: Communication Retry Count 5,
    /// Retry Timer 60 s doubling.
    pub registration_retry: Backoff,
    /// CoAP transmission parameters (RFC 7252 §4.8). The defaults are the RFC's; links with long
    /// round trips may need a larger ACK_TIMEOUT, tests a smaller one.
    pub transmission: TransmissionParams,
    /// Resource bounds (see `Limits`).
    pub limits: Limits,
    /// How often a notification goes confirmable, in milliseconds: the others are NON. RFC
    /// 7641 §4.5 asks for a CON one at least every 24 hours (the default) so that a server
    /// that went away is noticed; 0 makes every notification confirmable.
    pub notify_con_interval_ms: u64,
    /// Queue mode (LwM2M 1.1 `Q` on Register; 1.0 binding `UQ`): the servers queue their
    /// requests while the device sleeps; see `Event::Sleeping`. Off by default.
    pub queue_mode: bool,
    /// Answers (and notifications) longer than this go out in Block2 blocks of this size
    /// (RFC 7959 §2.4), and the block size of the client's own long requests (Register,
    /// Update, Send: Block1, §2.3), also the largest response block it asks for
    /// (rounded down to a power of two, 16 to 1024 bytes; 1024 by default, the
    /// payload RFC 7252 §4.6 allows without a known path MTU). `None` sends every answer whole
    /// in one datagram.
    pub block_size: Option<usize>,
}

impl Config {
    /// A configuration for the endpoint `endpoint` with the defaults: LwM2M 1.1, TLV for
    /// multi-value Reads, bootstrap retries from 10 s doubling up to 10 min without end,
    /// registration retries from 60 s doubling up to 1 h until 5 attempts failed, the RFC 7252
    /// transmission parameters,
    /// the default [`Limits`], a confirmable notification at least every 24 h, and a fixed
    /// seed (set [`seed`](Self::seed) from the OS for a real device).
    pub fn new(endpoint: impl Into<String>) -> Config {
        Config {
            endpoint: endpoint.into(),
            version: Version::V1_1,
            preferred_format: None,
            root_formats: RootFormats::Preferred,
            default_format: ContentFormat::Tlv,
            seed: 0x6c77_6d32_6d63,
            bootstrap_retry: Backoff {
                base_ms: 10_000,
                max_ms: 600_000,
                attempts: 0,
            },
            registration_retry: Backoff {
                base_ms: 60_000,
                max_ms: 3_600_000,
                attempts: 5,
            },
            transmission: TransmissionParams::default(),
            limits: Limits::default(),
            notify_con_interval_ms: 86_400_000,
            queue_mode: false,
            block_size: Some(1024),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let b = Backoff {
            base_ms: 1000,
            max_ms: 10_000,
            attempts: 0,
        };
        let mut rng = crate::rng::Rng::new(1);
        for (n, lo) in [(1u32, 1000u64), (2, 2000), (3, 4000), (4, 8000)] {
            let d = b.delay(n, &mut rng);
            assert!(d >= lo && d <= (lo + lo / 2).min(10_000), "n={n} d={d}");
        }
        assert_eq!(b.delay(40, &mut rng), 10_000);
    }
}
