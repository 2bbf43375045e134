//! The Firmware Update state machine (object 5, [`FIRMWARE`](crate::model::FIRMWARE)) as a pure
//! type: fed what the server did and what the download, the storage and the installer reported,
//! it answers what to do next. No I/O, no clock (DESIGN.md §1, §7: state machines own their
//! state and return outputs; the router applies them).
//!
//! # Sources
//!
//! - `[XML /5/0/N]`: the `<Description>` of resource N in `models/5-1_1.xml` (object version
//!   1.1); `[XML 1.0 /5/0/N]` the same in `models/5-1_0.xml`.
//! - `[E.6]`: the Core TS firmware update state machine (Core 1.1 Appendix E.6). Its text was
//!   not re-read for this module; the two sentences used are quoted as they appear in
//!   AVSystem's documentation of the Advanced Firmware Update state diagram
//!   (Anjay-doc `FU-AFU-StateDiagram`), which reproduces them from the Core TS:
//!   "Any operation to the Firmware Update Object that would result in undefined behavior
//!   because that specific operation is not identified as a trigger in the state machine (e.g.
//!   Write to Package URI while in DOWNLOADING state) SHOULD be rejected." and "Errors during
//!   the Firmware Update process MUST be reported only by the 'Update Result' resource. [...]
//!   if the URI is invalid, it changes its 'Update Result' resource value to 7."
//! - FACTS §4.1: a Write whose value fails its range is rejected with 4.00; Execute on a
//!   resource that may not be executed is 4.05.
//!
//! # Transitions
//!
//! State / Update Result after each accepted input ("=" unchanged). Every other (state, input)
//! pair is refused and changes nothing: with 4.05 for server operations ([E.6] "SHOULD be
//! rejected"; [XML /5/0/2], [XML /5/0/10]), with [`Refusal::OutOfSequence`] for reports from the
//! application that do not fit the state. The Outputs column leaves out the final
//! [`Output::Changed`], which follows whenever State or Update Result differ from before.
//!
//! | From | Input | To | Result | Outputs |
//! |---|---|---|---|---|
//! | Idle | [`Input::PackageWriteStarted`] | Downloading | 0 | `OpenPackage` |
//! | Idle | [`Input::UriWritten`], URI fine | Downloading | 0 | `StartPull` |
//! | Idle | `UriWritten`, URI malformed | Idle | 7 | |
//! | Idle | `UriWritten`, scheme not supported | Idle | 9 | |
//! | Downloading (receiving) | [`Input::PackageChunk`] | = | = | `WriteChunk` |
//! | Downloading (receiving) | [`Input::PackageComplete`] | = (verifying) | = | `Verify` |
//! | Downloading (verifying) | [`Input::VerifyResult`] `Ok` | Downloaded | = (0) | |
//! | Downloading (verifying) | `VerifyResult` `Err(e)` | Idle | e | `Discard` |
//! | Downloading | [`Input::DownloadFailed`]`(e)` | Idle | e | `Discard` |
//! | Downloaded | [`Input::UpdateExecuted`] | Updating | 0 | `Apply` |
//! | Downloaded | `UpdateExecuted { defer: true }` | Downloaded | 11 | `AskUser` |
//! | Downloaded, result 11 | [`Input::UpdateAccepted`] | Updating | 0 | `Apply` |
//! | Updating | [`Input::UpdateFinished`] `Ok` | Idle | 1 | |
//! | Updating | `UpdateFinished(Err(Failed))` | Downloaded | 8 | |
//! | Updating | `UpdateFinished(Err(FailedImageLost))` | Idle | 8 | `Discard` |
//! | Updating | `UpdateFinished(Err(IntegrityFailure))` | Idle | 5 | `Discard` |
//! | Downloading, Downloaded | [`Input::CancelExecuted`] | Idle | 10 | `Discard` |
//! | Idle, Downloading, Downloaded | [`Input::PackageEmpty`], `UriWritten("")` | Idle | 0 | `Discard` (if not Idle) |
//!
//! Sources, row by row: download start and the reset of Update Result to 0 "once the updating
//! process is initiated (Download /Update)" [XML /5/0/5]; 7 and 9 reported through Update Result
//! only, the Write itself succeeding [E.6], [XML /5/0/5] item 9; "if writing the firmware package
//! to Package Resource has completed, or, if the device has downloaded the firmware package from
//! the Package URI the state changes to Downloaded" [XML /5/0/3] (the integrity check before it
//! is ours: result 5 is "Integrity check failure for new downloaded package" [XML /5/0/5]);
//! download failures 2-7, 9 back to Idle [XML /5/0/5], [E.6]; Update "only executable when the
//! value of the State Resource is Downloaded" [XML /5/0/2]; deferral "the state stays in
//! Downloaded state and the Update Result is set to 11. Once a user accepted the firmware
//! update, the state changes to Updating" [XML /5/0/3]; success to Idle [XML /5/0/3], result 1
//! [XML /5/0/5]; failure "may return to either Downloaded or Idle depending on the underlying
//! reason of update failure, e.g. Integrity Check Failure results in the client moving to the
//! Idle state" [XML /5/0/3], and "If the Update Resource failed, the state returns at
//! Downloaded" [XML 1.0 /5/0/3]; Cancel "can be executed if the device has not initiated the
//! Update process. If the device is in the process of installing the firmware or has already
//! completed installation it MUST respond with Method Not Allowed error code. Upon successful
//! Cancel operation, Update Result Resource is set to 10 and State is set to 0" [XML /5/0/10];
//! "Writing an empty string to Package URI Resource or setting the Package Resource to NULL
//! ('\0'), resets the Firmware Update State Machine: the State Resource value is set to Idle
//! and the Update Result Resource value is set to 0. The device should remove the downloaded
//! firmware image when the state is reset to Idle." [XML /5/0/3].
//!
//! Readings of ours where the text is silent (see also the tests):
//! - Reset (empty Package or URI) during Updating is refused with 4.05, like Cancel: the
//!   installation is under way and the text gives no transition out of Updating but its end.
//! - Cancel in Idle is refused with 4.05: nothing is in progress, and after a success it is
//!   "already completed installation" [XML /5/0/10].
//! - A Package URI longer than 255 bytes (`RangeEnumeration 0..255`) fails the Write with 4.00
//!   (FACTS §4.1), changing nothing; a malformed URI within range is accepted and reported as 7.
//! - A Write of Package on a pull-only device, or of a non-empty Package URI on a push-only one
//!   ([XML /5/0/9]), is refused with 4.05.
//!
//! # Using it
//!
//! The router (not wired up yet) turns DM operations on `/5/0` into [`Input`]s: a Write of
//! `/5/0/0` whose whole payload [`is_empty_package`] is [`Input::PackageEmpty`], otherwise its
//! first block is [`Input::PackageWriteStarted`] (with Size1, RFC 7959 §4, when given), every
//! block's payload a [`Input::PackageChunk`] and the last block [`Input::PackageComplete`]; a
//! Write of `/5/0/1` is [`Input::UriWritten`]; Execute `/5/0/2` and `/5/0/10` are
//! [`Input::UpdateExecuted`] and [`Input::CancelExecuted`]. A [`Refusal`] answers the request with
//! [`Refusal::code`]. After every accepted input the router saves [`Firmware::snapshot`] if it
//! differs from the last one saved — before carrying out the outputs, because
//! [`Output::Apply`] may reboot the device — then performs the outputs in order.
//! [`Output::Changed`] means State (`/5/0/3`) or Update Result (`/5/0/5`) changed: notify their
//! observers and set Last State Change Time (`/5/0/12`, "Device updates this resource before
//! making any change to the State" [XML /5/0/12]) when `state` is set.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::coap::msg;

#[cfg(test)]
mod tests;

/// The longest Package URI: `RangeEnumeration 0..255` of `/5/0/1` (bytes).
pub(crate) const MAX_URI_LEN: usize = 255;

/// The State resource, `/5/0/3` [XML /5/0/3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum State {
    /// 0: "before downloading or after successful updating".
    Idle,
    /// 1: "The data sequence is on the way".
    Downloading,
    /// 2: the package is complete (and, here, verified).
    Downloaded,
    /// 3: the installation is under way.
    Updating,
}

impl State {
    /// The resource value (0..=3).
    pub(crate) const fn value(self) -> u8 {
        match self {
            State::Idle => 0,
            State::Downloading => 1,
            State::Downloaded => 2,
            State::Updating => 3,
        }
    }

    /// The state a resource value stands for; `None` outside `0..=3`.
    pub(crate) const fn from_value(value: u8) -> Option<State> {
        match value {
            0 => Some(State::Idle),
            1 => Some(State::Downloading),
            2 => Some(State::Downloaded),
            3 => Some(State::Updating),
            _ => None,
        }
    }
}

/// The Update Result resource, `/5/0/5`, with the meanings of [XML /5/0/5] (1.1: 0..=11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum UpdateResult {
    /// 0: "Initial value. Once the updating process is initiated (Download /Update), this
    /// Resource MUST be reset to Initial value."
    Initial,
    /// 1: "Firmware updated successfully."
    Success,
    /// 2: "Not enough flash memory for the new firmware package."
    NotEnoughFlash,
    /// 3: "Out of RAM during downloading process."
    OutOfRam,
    /// 4: "Connection lost during downloading process."
    ConnectionLost,
    /// 5: "Integrity check failure for new downloaded package."
    IntegrityFailure,
    /// 6: "Unsupported package type."
    UnsupportedPackage,
    /// 7: "Invalid URI."
    InvalidUri,
    /// 8: "Firmware update failed."
    UpdateFailed,
    /// 9: "Unsupported protocol": the Package URI's scheme is not one the client supports.
    UnsupportedProtocol,
    /// 10: "Firmware update cancelled. A Cancel operation has been executed successfully."
    Cancelled,
    /// 11: "Firmware update deferred."
    Deferred,
}

impl UpdateResult {
    /// Every result, by value.
    pub(crate) const ALL: [UpdateResult; 12] = [
        UpdateResult::Initial,
        UpdateResult::Success,
        UpdateResult::NotEnoughFlash,
        UpdateResult::OutOfRam,
        UpdateResult::ConnectionLost,
        UpdateResult::IntegrityFailure,
        UpdateResult::UnsupportedPackage,
        UpdateResult::InvalidUri,
        UpdateResult::UpdateFailed,
        UpdateResult::UnsupportedProtocol,
        UpdateResult::Cancelled,
        UpdateResult::Deferred,
    ];

    /// The resource value (0..=11).
    pub(crate) const fn value(self) -> u8 {
        match self {
            UpdateResult::Initial => 0,
            UpdateResult::Success => 1,
            UpdateResult::NotEnoughFlash => 2,
            UpdateResult::OutOfRam => 3,
            UpdateResult::ConnectionLost => 4,
            UpdateResult::IntegrityFailure => 5,
            UpdateResult::UnsupportedPackage => 6,
            UpdateResult::InvalidUri => 7,
            UpdateResult::UpdateFailed => 8,
            UpdateResult::UnsupportedProtocol => 9,
            UpdateResult::Cancelled => 10,
            UpdateResult::Deferred => 11,
        }
    }

    /// The result a resource value stands for; `None` outside `0..=11`.
    pub(crate) fn from_value(value: u8) -> Option<UpdateResult> {
        UpdateResult::ALL.get(usize::from(value)).copied()
    }
}

/// Why a download (push or pull) or its verification failed: the Update Result values that
/// end Downloading in Idle ([XML /5/0/5] 2-7 and 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DownloadError {
    /// 2: the package does not fit in flash (the storage refused [`Output::OpenPackage`] or a
    /// [`Output::WriteChunk`]).
    NotEnoughFlash,
    /// 3: out of RAM while downloading.
    OutOfRam,
    /// 4: the connection was lost while downloading (a block-wise transfer abandoned, a pull
    /// that timed out).
    ConnectionLost,
    /// 5: the downloaded package failed its integrity check ([`Output::Verify`]).
    IntegrityFailure,
    /// 6: the package is not of a type the device can install.
    UnsupportedPackage,
    /// 7: the Package URI could not be used (for example its host does not resolve).
    InvalidUri,
    /// 9: the Package URI needs a protocol the device lacks.
    UnsupportedProtocol,
}

impl DownloadError {
    /// The Update Result it sets.
    pub(crate) const fn result(self) -> UpdateResult {
        match self {
            DownloadError::NotEnoughFlash => UpdateResult::NotEnoughFlash,
            DownloadError::OutOfRam => UpdateResult::OutOfRam,
            DownloadError::ConnectionLost => UpdateResult::ConnectionLost,
            DownloadError::IntegrityFailure => UpdateResult::IntegrityFailure,
            DownloadError::UnsupportedPackage => UpdateResult::UnsupportedPackage,
            DownloadError::InvalidUri => UpdateResult::InvalidUri,
            DownloadError::UnsupportedProtocol => UpdateResult::UnsupportedProtocol,
        }
    }
}

/// How an installation ([`Output::Apply`]) failed. "If the Update Resource failed, the state
/// may return to either Downloaded or Idle depending on the underlying reason of update
/// failure, e.g. Integrity Check Failure results in the client moving to the Idle state"
/// [XML /5/0/3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum UpdateError {
    /// Result 8, back to Downloaded: the package is still stored and Update may be executed
    /// again ("the state returns at Downloaded", [XML 1.0 /5/0/3]).
    Failed,
    /// Result 8, to Idle: the installation failed and the package is gone or unusable.
    FailedImageLost,
    /// Result 5, to Idle: the package failed the integrity check done at installation.
    IntegrityFailure,
}

/// The delivery methods a device supports, `/5/0/9` [XML /5/0/9].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Delivery {
    /// 0: "Pull only" (Package URI).
    Pull,
    /// 1: "Push only" (Package).
    Push,
    /// 2: "Both".
    Both,
}

impl Delivery {
    /// The resource value (0..=2).
    pub(crate) const fn value(self) -> u8 {
        match self {
            Delivery::Pull => 0,
            Delivery::Push => 1,
            Delivery::Both => 2,
        }
    }

    const fn pull(self) -> bool {
        matches!(self, Delivery::Pull | Delivery::Both)
    }

    const fn push(self) -> bool {
        matches!(self, Delivery::Push | Delivery::Both)
    }
}

/// A protocol to pull a package with, `/5/0/8` [XML /5/0/8].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Protocol {
    /// 0: CoAP with block-wise transfer (RFC 7252), URI scheme `coap`.
    Coap,
    /// 1: CoAPS with block-wise transfer, scheme `coaps`.
    Coaps,
    /// 2: HTTP 1.1 (RFC 7230), scheme `http`.
    Http,
    /// 3: HTTPS 1.1, scheme `https`.
    Https,
    /// 4: CoAP over TCP (RFC 8323), scheme `coap+tcp` (RFC 8323 §8.1).
    CoapTcp,
    /// 5: CoAP over TLS (RFC 8323), scheme `coaps+tcp` (RFC 8323 §8.2).
    CoapTls,
}

impl Protocol {
    /// Every protocol, by value.
    pub(crate) const ALL: [Protocol; 6] = [
        Protocol::Coap,
        Protocol::Coaps,
        Protocol::Http,
        Protocol::Https,
        Protocol::CoapTcp,
        Protocol::CoapTls,
    ];

    /// The resource instance value (0..=5).
    pub(crate) const fn value(self) -> u8 {
        match self {
            Protocol::Coap => 0,
            Protocol::Coaps => 1,
            Protocol::Http => 2,
            Protocol::Https => 3,
            Protocol::CoapTcp => 4,
            Protocol::CoapTls => 5,
        }
    }

    /// The URI scheme, lowercase.
    pub(crate) const fn scheme(self) -> &'static str {
        match self {
            Protocol::Coap => "coap",
            Protocol::Coaps => "coaps",
            Protocol::Http => "http",
            Protocol::Https => "https",
            Protocol::CoapTcp => "coap+tcp",
            Protocol::CoapTls => "coaps+tcp",
        }
    }

    /// The protocol of a scheme (compared case-insensitively, RFC 3986 §3.1).
    fn from_scheme(scheme: &str) -> Option<Protocol> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.scheme().eq_ignore_ascii_case(scheme))
    }

    const fn bit(self) -> u8 {
        1 << self.value()
    }
}

/// What happened, as the router and the application report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// A server began a non-empty Write of Package (`/5/0/0`): its first block. `size` is the
    /// announced total (Size1, RFC 7959 §4), if any.
    PackageWriteStarted {
        /// The total size the server announced, in bytes.
        size: Option<u64>,
    },
    /// A server wrote an empty Package or the single byte 0 ("NULL ('\0')", [XML /5/0/3]):
    /// reset. See [`is_empty_package`].
    PackageEmpty,
    /// A server wrote Package URI (`/5/0/1`); the empty string resets [XML /5/0/3].
    UriWritten(String),
    /// `len` more bytes of the package arrived (a block of the Write, or of the pull); the
    /// caller hands them to storage at [`Output::WriteChunk`]'s offset.
    PackageChunk {
        /// How many bytes.
        len: usize,
    },
    /// The last block arrived: the package is complete.
    PackageComplete,
    /// The download failed (storage full, transfer abandoned, pull refused by its server, ...).
    DownloadFailed(DownloadError),
    /// The outcome of [`Output::Verify`].
    VerifyResult(Result<(), DownloadError>),
    /// A server executed Update (`/5/0/2`). `defer` is set when the device lets its user defer
    /// the update (a user interface, and Maximum Defer Period `/5/0/13` not 0 [XML /5/0/13]).
    UpdateExecuted {
        /// Ask the user first instead of installing now.
        defer: bool,
    },
    /// The user accepted a deferred update, or its Maximum Defer Period ran out [XML /5/0/13].
    UpdateAccepted,
    /// A server executed Cancel (`/5/0/10`).
    CancelExecuted,
    /// The outcome of [`Output::Apply`], possibly reported after a reboot
    /// ([`Firmware::restore`], [`Output::QueryOutcome`]).
    UpdateFinished(Result<(), UpdateError>),
}

/// What the router or the application does next, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// Prepare storage for a pushed package of `size` bytes if known (erase a slot). Too small:
    /// report [`DownloadError::NotEnoughFlash`].
    OpenPackage {
        /// The announced size, in bytes.
        size: Option<u64>,
    },
    /// Store the chunk just reported at `offset` in the package.
    WriteChunk {
        /// Where the chunk goes: the bytes received before it.
        offset: u64,
        /// Its length.
        len: usize,
    },
    /// The package is complete: check it and report [`Input::VerifyResult`].
    Verify,
    /// Download the package from `uri` (block-wise for CoAP, [XML object description]) into
    /// fresh storage and report chunks, completion or failure.
    StartPull {
        /// The Package URI, as written.
        uri: String,
    },
    /// Stop any transfer in progress and remove the stored package ("The device should remove
    /// the downloaded firmware image when the state is reset to Idle", [XML /5/0/3]).
    Discard,
    /// Ask the user whether to update now; report [`Input::UpdateAccepted`] when they accept.
    AskUser,
    /// Install the stored package (may reboot); report [`Input::UpdateFinished`].
    Apply,
    /// After [`Firmware::restore`] in Updating: find out whether the installation that was
    /// running at shutdown succeeded (is the new image running?) and report
    /// [`Input::UpdateFinished`].
    QueryOutcome,
    /// State and/or Update Result changed: notify their observers.
    Changed {
        /// State (`/5/0/3`) changed.
        state: bool,
        /// Update Result (`/5/0/5`) changed.
        result: bool,
    },
}

/// Why an input was not taken. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 4.05 Method Not Allowed: a server operation the current state does not take ([E.6]
    /// "SHOULD be rejected"; Update [XML /5/0/2]; Cancel "MUST respond with Method Not
    /// Allowed" [XML /5/0/10]), or a delivery method the device lacks [XML /5/0/9].
    NotAllowed(&'static str),
    /// 4.00 Bad Request: a written value out of its range (FACTS §4.1).
    BadValue(&'static str),
    /// A report from the application or the transfer that does not fit the state (a chunk in
    /// Idle, a verification nobody asked for): a bug in the caller. 5.00 if it must answer a
    /// request.
    OutOfSequence(&'static str),
}

impl Refusal {
    /// The CoAP response code for the request that carried the input.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Refusal::NotAllowed(_) => msg::METHOD_NOT_ALLOWED,
            Refusal::BadValue(_) => msg::BAD_REQUEST,
            Refusal::OutOfSequence(_) => msg::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short diagnostic, for the response payload or a log.
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Refusal::NotAllowed(r) | Refusal::BadValue(r) | Refusal::OutOfSequence(r) => r,
        }
    }
}

/// What a restart needs: State, Update Result and Package URI as resource values. Saved by the
/// caller after every accepted input that changes it (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// `/5/0/3`.
    pub(crate) state: u8,
    /// `/5/0/5`.
    pub(crate) result: u8,
    /// `/5/0/1`.
    pub(crate) package_uri: String,
}

/// A [`Snapshot`] no run of the machine produces (a value out of range, a State and Update
/// Result never seen together, a URI over 255 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidSnapshot;

/// Where a download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Receiving bytes; `received` so far.
    Receiving { received: u64 },
    /// Complete; [`Output::Verify`] is out.
    Verifying,
}

/// The machine's state with what each state needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Machine {
    Idle,
    Downloading(Phase),
    Downloaded,
    Updating,
}

/// The Firmware Update object's state (one instance, `/5/0`: the object is Single
/// [`FIRMWARE`](crate::model::FIRMWARE)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Firmware {
    machine: Machine,
    result: UpdateResult,
    package_uri: String,
    delivery: Delivery,
    /// Bit [`Protocol::value`] set for each supported protocol.
    protocols: u8,
}

/// Whether a complete Package payload means "reset": empty, or the single byte 0 ("setting the
/// Package Resource to NULL ('\0')", [XML /5/0/3]).
pub(crate) fn is_empty_package(payload: &[u8]) -> bool {
    matches!(payload, [] | [0])
}

/// Checks a Package URI for a pull: the protocol to use, or the Update Result to report
/// (7 malformed, 9 scheme not supported; [XML /5/0/5]).
///
/// Well-formed here means: printable ASCII without spaces (RFC 3986 §2), a scheme
/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` then `:` (RFC 3986 §3.1), then `//` and a
/// non-empty host, which all six schemes of `/5/0/8` require (RFC 7252 §6, RFC 8323 §8,
/// RFC 7230 §2.7). A well-formed scheme that is not one of the six, or not in `supported`, is
/// 9 ("the URI contained a URI scheme unsupported by the client").
fn check_uri(uri: &str, supported: u8) -> Result<Protocol, UpdateResult> {
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UpdateResult::InvalidUri);
    }
    let (scheme, rest) = uri.split_once(':').ok_or(UpdateResult::InvalidUri)?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(UpdateResult::InvalidUri);
    }
    let protocol = Protocol::from_scheme(scheme)
        .filter(|p| supported & p.bit() != 0)
        .ok_or(UpdateResult::UnsupportedProtocol)?;
    let authority = rest.strip_prefix("//").ok_or(UpdateResult::InvalidUri)?;
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        // An IP literal (RFC 3986 §3.2.2): up to the closing bracket.
        match host_port.find(']') {
            Some(end) => &host_port[..=end],
            None => return Err(UpdateResult::InvalidUri),
        }
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() || host == "[]" {
        return Err(UpdateResult::InvalidUri);
    }
    Ok(protocol)
}

impl Firmware {
    /// A device in Idle with result 0 that accepts packages by `delivery` and pulls them with
    /// `protocols` (`/5/0/8`; when empty, CoAP only: "CoAP is the default setting"
    /// [XML /5/0/8]).
    pub(crate) fn new(delivery: Delivery, protocols: &[Protocol]) -> Firmware {
        let mut bits = protocols.iter().fold(0, |bits, p| bits | p.bit());
        if bits == 0 {
            bits = Protocol::Coap.bit();
        }
        Firmware {
            machine: Machine::Idle,
            result: UpdateResult::Initial,
            package_uri: String::new(),
            delivery,
            protocols: bits,
        }
    }

    /// State, `/5/0/3`.
    pub(crate) fn state(&self) -> State {
        match self.machine {
            Machine::Idle => State::Idle,
            Machine::Downloading(_) => State::Downloading,
            Machine::Downloaded => State::Downloaded,
            Machine::Updating => State::Updating,
        }
    }

    /// Update Result, `/5/0/5`.
    pub(crate) fn result(&self) -> UpdateResult {
        self.result
    }

    /// Package URI, `/5/0/1`: the last one written (empty after a reset or a Cancel).
    pub(crate) fn package_uri(&self) -> &str {
        &self.package_uri
    }

    /// Firmware Update Delivery Method, `/5/0/9`.
    pub(crate) fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// Firmware Update Protocol Support, `/5/0/8`: the supported protocols by value.
    pub(crate) fn protocols(&self) -> impl Iterator<Item = Protocol> + '_ {
        Protocol::ALL
            .into_iter()
            .filter(|p| self.protocols & p.bit() != 0)
    }

    /// Feeds one input. On success the outputs to carry out, in order, ending with
    /// [`Output::Changed`] when State or Update Result changed; on a [`Refusal`] nothing
    /// changed.
    pub(crate) fn handle(&mut self, input: Input) -> Result<Vec<Output>, Refusal> {
        let before = (self.state(), self.result);
        let mut out = self.step(input)?;
        let (state, result) = (self.state() != before.0, self.result != before.1);
        if state || result {
            out.push(Output::Changed { state, result });
        }
        Ok(out)
    }

    /// The transition itself; every check comes before the first change.
    fn step(&mut self, input: Input) -> Result<Vec<Output>, Refusal> {
        match input {
            Input::PackageEmpty => self.reset(),
            Input::UriWritten(uri) if uri.is_empty() => self.reset(),
            Input::UriWritten(uri) => self.uri_written(uri),
            Input::PackageWriteStarted { size } => {
                if !self.delivery.push() {
                    return Err(Refusal::NotAllowed(
                        "this device does not take packages by Write (pull only)",
                    ));
                }
                if self.machine != Machine::Idle {
                    return Err(Refusal::NotAllowed(
                        "a package can only be written in state Idle",
                    ));
                }
                self.start_download();
                Ok(vec![Output::OpenPackage { size }])
            }
            Input::PackageChunk { len } => match self.machine {
                Machine::Downloading(Phase::Receiving { received }) => {
                    let received_now = received.saturating_add(len as u64);
                    self.machine = Machine::Downloading(Phase::Receiving {
                        received: received_now,
                    });
                    Ok(if len == 0 {
                        Vec::new()
                    } else {
                        vec![Output::WriteChunk {
                            offset: received,
                            len,
                        }]
                    })
                }
                _ => Err(Refusal::OutOfSequence("a package chunk outside a download")),
            },
            Input::PackageComplete => match self.machine {
                Machine::Downloading(Phase::Receiving { .. }) => {
                    self.machine = Machine::Downloading(Phase::Verifying);
                    Ok(vec![Output::Verify])
                }
                _ => Err(Refusal::OutOfSequence("a package end outside a download")),
            },
            Input::DownloadFailed(error) => match self.machine {
                Machine::Downloading(_) => Ok(self.fail_download(error)),
                _ => Err(Refusal::OutOfSequence(
                    "a download failure outside a download",
                )),
            },
            Input::VerifyResult(outcome) => match (self.machine, outcome) {
                (Machine::Downloading(Phase::Verifying), Ok(())) => {
                    self.machine = Machine::Downloaded;
                    Ok(Vec::new())
                }
                (Machine::Downloading(Phase::Verifying), Err(error)) => {
                    Ok(self.fail_download(error))
                }
                _ => Err(Refusal::OutOfSequence("a verification nobody asked for")),
            },
            Input::UpdateExecuted { defer } => {
                if self.machine != Machine::Downloaded {
                    return Err(Refusal::NotAllowed(
                        "Update is only executable in state Downloaded",
                    ));
                }
                if defer {
                    self.result = UpdateResult::Deferred;
                    Ok(vec![Output::AskUser])
                } else {
                    Ok(self.start_update())
                }
            }
            Input::UpdateAccepted => {
                if self.machine != Machine::Downloaded || self.result != UpdateResult::Deferred {
                    return Err(Refusal::OutOfSequence("no deferred update to accept"));
                }
                Ok(self.start_update())
            }
            Input::CancelExecuted => match self.machine {
                Machine::Downloading(_) | Machine::Downloaded => {
                    self.go_idle(UpdateResult::Cancelled);
                    self.package_uri.clear();
                    Ok(vec![Output::Discard])
                }
                Machine::Idle => Err(Refusal::NotAllowed("no firmware update to cancel")),
                Machine::Updating => Err(Refusal::NotAllowed(
                    "the firmware is being installed: it cannot be cancelled",
                )),
            },
            Input::UpdateFinished(outcome) => {
                if self.machine != Machine::Updating {
                    return Err(Refusal::OutOfSequence("an update outcome outside Updating"));
                }
                Ok(match outcome {
                    Ok(()) => {
                        self.go_idle(UpdateResult::Success);
                        Vec::new()
                    }
                    Err(UpdateError::Failed) => {
                        self.machine = Machine::Downloaded;
                        self.result = UpdateResult::UpdateFailed;
                        Vec::new()
                    }
                    Err(UpdateError::FailedImageLost) => {
                        self.go_idle(UpdateResult::UpdateFailed);
                        vec![Output::Discard]
                    }
                    Err(UpdateError::IntegrityFailure) => {
                        self.go_idle(UpdateResult::IntegrityFailure);
                        vec![Output::Discard]
                    }
                })
            }
        }
    }

    /// Empty Package or empty Package URI [XML /5/0/3].
    fn reset(&mut self) -> Result<Vec<Output>, Refusal> {
        let out = match self.machine {
            Machine::Updating => {
                return Err(Refusal::NotAllowed(
                    "the firmware is being installed: it cannot be reset",
                ))
            }
            Machine::Idle => Vec::new(),
            Machine::Downloading(_) | Machine::Downloaded => vec![Output::Discard],
        };
        self.go_idle(UpdateResult::Initial);
        self.package_uri.clear();
        Ok(out)
    }

    /// A non-empty Package URI.
    fn uri_written(&mut self, uri: String) -> Result<Vec<Output>, Refusal> {
        if !self.delivery.pull() {
            return Err(Refusal::NotAllowed(
                "this device does not pull packages (push only)",
            ));
        }
        if self.machine != Machine::Idle {
            return Err(Refusal::NotAllowed(
                "Package URI can only be written in state Idle",
            ));
        }
        if uri.len() > MAX_URI_LEN {
            return Err(Refusal::BadValue("Package URI is longer than 255 bytes"));
        }
        let checked = check_uri(&uri, self.protocols);
        self.package_uri = uri;
        match checked {
            Ok(_) => {
                self.start_download();
                Ok(vec![Output::StartPull {
                    uri: self.package_uri.clone(),
                }])
            }
            Err(result) => {
                self.result = result;
                Ok(Vec::new())
            }
        }
    }

    /// Idle → Downloading; "Once the updating process is initiated (Download /Update), this
    /// Resource MUST be reset to Initial value" [XML /5/0/5].
    fn start_download(&mut self) {
        self.machine = Machine::Downloading(Phase::Receiving { received: 0 });
        self.result = UpdateResult::Initial;
    }

    /// Downloaded → Updating, result 0 [XML /5/0/5].
    fn start_update(&mut self) -> Vec<Output> {
        self.machine = Machine::Updating;
        self.result = UpdateResult::Initial;
        vec![Output::Apply]
    }

    /// Downloading → Idle with the failure's result.
    fn fail_download(&mut self, error: DownloadError) -> Vec<Output> {
        self.go_idle(error.result());
        vec![Output::Discard]
    }

    /// To Idle with `result`.
    fn go_idle(&mut self, result: UpdateResult) {
        self.machine = Machine::Idle;
        self.result = result;
    }

    /// What to save (see the module docs).
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            state: self.state().value(),
            result: self.result.value(),
            package_uri: self.package_uri.clone(),
        }
    }

    /// Takes up a saved [`Snapshot`] at start-up, on a machine fresh from [`Firmware::new`] and
    /// before any input; the outputs are carried out like [`Firmware::handle`]'s.
    ///
    /// - Idle and Downloaded come back as they were; Downloaded with result 11 (deferred)
    ///   asks the user again ([`Output::AskUser`]).
    /// - Downloading does not survive a restart (the transfer, block-wise or pull, is gone):
    ///   Idle with result 4 "Connection lost during downloading process", the partial package
    ///   discarded.
    /// - Updating stays Updating and asks for the outcome ([`Output::QueryOutcome`]); the
    ///   application reports it with [`Input::UpdateFinished`], which gives Idle with 1, or 8/5
    ///   as for an installation that ends without a restart.
    ///
    /// A snapshot no run produces is refused and the machine left as it was. Reachable
    /// pairs: Idle with any result but 11; Downloading and Updating with 0; Downloaded with 0,
    /// 8 or 11.
    pub(crate) fn restore(&mut self, snapshot: &Snapshot) -> Result<Vec<Output>, InvalidSnapshot> {
        let state = State::from_value(snapshot.state).ok_or(InvalidSnapshot)?;
        let result = UpdateResult::from_value(snapshot.result).ok_or(InvalidSnapshot)?;
        let reachable = match state {
            State::Idle => result != UpdateResult::Deferred,
            State::Downloading | State::Updating => result == UpdateResult::Initial,
            State::Downloaded => matches!(
                result,
                UpdateResult::Initial | UpdateResult::UpdateFailed | UpdateResult::Deferred
            ),
        };
        if !reachable || snapshot.package_uri.len() > MAX_URI_LEN {
            return Err(InvalidSnapshot);
        }
        self.package_uri.clone_from(&snapshot.package_uri);
        self.result = result;
        Ok(match state {
            State::Idle => {
                self.machine = Machine::Idle;
                Vec::new()
            }
            State::Downloaded => {
                self.machine = Machine::Downloaded;
                if result == UpdateResult::Deferred {
                    vec![Output::AskUser]
                } else {
                    Vec::new()
                }
            }
            State::Updating => {
                self.machine = Machine::Updating;
                vec![Output::QueryOutcome]
            }
            State::Downloading => {
                self.go_idle(UpdateResult::ConnectionLost);
                vec![
                    Output::Discard,
                    Output::Changed {
                        state: true,
                        result: true,
                    },
                ]
            }
        })
    }
}
