//! Plain C structs and constants shared by the C API.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_void};

/// What a callback returns: an `lwm2mc_result` value (the header names it `lwm2mc_result`).
/// The library receives it as a plain 32-bit integer, so any value a callback returns is
/// defined behaviour: LWM2MC_RESULT_OK is success, and a value this version does not know
/// (-1, 13, 99, ...) counts as a failure of the callback, like LWM2MC_RESULT_INTERNAL.
pub type lwm2mc_callback_result = u32;

/// Resource data types (Core 1.1 Appendix C), the values of `lwm2mc_value.type` and
/// `lwm2mc_resource_def.type`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_type {
    /// No value: the type of executable resources; not a valid `lwm2mc_value`.
    None = 0,
    /// UTF-8 text in `bytes`/`len`, not NUL-terminated.
    String = 1,
    /// Signed 64-bit integer in `integer`.
    Integer = 2,
    /// Unsigned 64-bit integer in `unsigned_integer` (LwM2M 1.1).
    Unsigned = 3,
    /// IEEE 754 binary64 in `floating`.
    Float = 4,
    /// True or false in `boolean`.
    Boolean = 5,
    /// Raw bytes in `bytes`/`len`.
    Opaque = 6,
    /// Unix time in seconds, signed, in `integer`.
    Time = 7,
    /// Object link in `objlnk_object` and `objlnk_instance`; 65535:65535 is the null link.
    Objlnk = 8,
    /// CoRE Link Format text (RFC 6690, LwM2M 1.1) in `bytes`/`len`, UTF-8.
    Corelnk = 9,
}

/// Operation bits of `lwm2mc_resource_def.operations`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_operation {
    /// Servers may Read the resource.
    Read = 1,
    /// Servers may Write the resource.
    Write = 2,
    /// Servers may Execute the resource; not combined with READ or WRITE.
    Execute = 4,
}

/// The steps of an application object's transaction (`lwm2mc_object_callbacks.transaction`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_transaction_step {
    /// A server request is about to change the object (before its first write, create or
    /// delete): remember what rollback must restore.
    Begin = 0,
    /// Every change of the request was made: return OK if the object is consistent, or an
    /// error, which refuses the request (ROLLBACK follows).
    Validate = 1,
    /// The request succeeded: keep the changes.
    Commit = 2,
    /// The request failed (in this object or another, or saving failed): restore the state
    /// seen at BEGIN.
    Rollback = 3,
}

/// Levels passed to the log hook.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_log_level {
    /// The most severe level; this version sends no message at it.
    Error = 0,
    /// Something was lost or refused: a transport `open` or `send` failed, `open` returned a
    /// handle another peer holds, a UDP send failed.
    Warn = 1,
    /// Every event the client hands out, in its Rust debug form.
    Info = 2,
    /// Every datagram sent (and, with the built-in UDP loop, received) as a one-line trace,
    /// Security keys redacted.
    Debug = 3,
}

pub(crate) const LWM2MC_TYPE_NONE: u32 = lwm2mc_type::None as u32;
pub(crate) const LWM2MC_TYPE_STRING: u32 = lwm2mc_type::String as u32;
pub(crate) const LWM2MC_TYPE_INTEGER: u32 = lwm2mc_type::Integer as u32;
pub(crate) const LWM2MC_TYPE_UNSIGNED: u32 = lwm2mc_type::Unsigned as u32;
pub(crate) const LWM2MC_TYPE_FLOAT: u32 = lwm2mc_type::Float as u32;
pub(crate) const LWM2MC_TYPE_BOOLEAN: u32 = lwm2mc_type::Boolean as u32;
pub(crate) const LWM2MC_TYPE_OPAQUE: u32 = lwm2mc_type::Opaque as u32;
pub(crate) const LWM2MC_TYPE_TIME: u32 = lwm2mc_type::Time as u32;
pub(crate) const LWM2MC_TYPE_OBJLNK: u32 = lwm2mc_type::Objlnk as u32;
pub(crate) const LWM2MC_TYPE_CORELNK: u32 = lwm2mc_type::Corelnk as u32;
pub(crate) const LWM2MC_LOG_WARN: u32 = lwm2mc_log_level::Warn as u32;
pub(crate) const LWM2MC_LOG_INFO: u32 = lwm2mc_log_level::Info as u32;
pub(crate) const LWM2MC_LOG_DEBUG: u32 = lwm2mc_log_level::Debug as u32;

/// A resource value. Only the field matching `type` is meaningful: `integer` for INTEGER and
/// TIME, `unsigned_integer` for UNSIGNED, `floating` for FLOAT, `boolean` for BOOLEAN,
/// `bytes`/`len` for STRING, CORELNK (UTF-8, not NUL-terminated) and OPAQUE, `objlnk_*` for
/// OBJLNK. `bytes` is borrowed: valid only during the call or callback that carries it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lwm2mc_value {
    /// An `lwm2mc_type` value: which of the fields below holds the value.
    pub r#type: u32,
    /// The value of an INTEGER, or of a TIME in Unix seconds.
    pub integer: i64,
    /// The value of an UNSIGNED.
    pub unsigned_integer: u64,
    /// The value of a FLOAT.
    pub floating: f64,
    /// The value of a BOOLEAN.
    pub boolean: bool,
    /// The first byte of a STRING, CORELNK or OPAQUE value (borrowed, see above).
    pub bytes: *const u8,
    /// The number of bytes at `bytes`.
    pub len: usize,
    /// The Object ID of an OBJLNK (65535 in the null link).
    pub objlnk_object: u16,
    /// The Object Instance ID of an OBJLNK (65535 in the null link).
    pub objlnk_instance: u16,
}

/// One resource of an application object.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lwm2mc_resource_def {
    /// The Resource ID within the object, 0 to 65534 (65535 is reserved, Core 1.1 §7.1).
    pub id: u16,
    /// An `lwm2mc_type` value.
    pub r#type: u32,
    /// `lwm2mc_operation` bits (READ | WRITE, or EXECUTE).
    pub operations: u8,
    /// Whether it is a multiple-instance resource, whose values are `/O/I/R/RI`.
    pub multiple: bool,
    /// Whether it is Mandatory: a Create must carry it if it is writable (else 4.00), and a
    /// replacing Write keeps its value when the payload leaves it out.
    pub mandatory: bool,
}

/// Callbacks through which the application holds an object's values. Each returns
/// LWM2MC_RESULT_OK or an error, which the requesting server receives as a CoAP code
/// (NOT_FOUND → 4.04, INVALID_ARGUMENT → 4.00, UNSUPPORTED → 4.05, anything else, including
/// values that are no `lwm2mc_result` at all, → 5.00).
/// They run inside the client call that handles the server's request; calling that client from
/// them returns LWM2MC_RESULT_REENTRANT_CALL. Any callback may be NULL (the operation is then
/// answered 4.05, or for `instances`, instance 0 is assumed). Only single-instance resources
/// go through `read` and `write`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lwm2mc_object_callbacks {
    /// Passed back as the first argument of every callback.
    pub userdata: *mut c_void,
    /// Writes up to `cap` instance IDs to `ids` and their number to `out_n`. With more than
    /// `cap` instances, write their number to `out_n` and return
    /// LWM2MC_RESULT_INSUFFICIENT_SIZE (or write the first `cap` and set `out_n` to the whole
    /// number): the library calls again once with room for them all.
    pub instances: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            object: u16,
            ids: *mut u16,
            cap: usize,
            out_n: *mut usize,
        ) -> lwm2mc_callback_result,
    >,
    /// Fills `out` with the current value of /object/instance/resource (single resources).
    pub read: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            object: u16,
            instance: u16,
            resource: u16,
            out: *mut lwm2mc_value,
        ) -> lwm2mc_callback_result,
    >,
    /// A server wrote /object/instance/resource.
    pub write: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            object: u16,
            instance: u16,
            resource: u16,
            value: *const lwm2mc_value,
        ) -> lwm2mc_callback_result,
    >,
    /// A server executed /object/instance/resource with these argument bytes.
    pub execute: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            object: u16,
            instance: u16,
            resource: u16,
            args: *const u8,
            args_len: usize,
        ) -> lwm2mc_callback_result,
    >,
    /// A server created /object/instance; the initial values then arrive through `write`.
    pub create_instance: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            object: u16,
            instance: u16,
        ) -> lwm2mc_callback_result,
    >,
    /// A server deleted /object/instance.
    pub delete_instance: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            object: u16,
            instance: u16,
        ) -> lwm2mc_callback_result,
    >,
    /// Optional: writes the IDs of the resources /object/instance holds to `ids` (up to `cap`,
    /// as `instances` does, INSUFFICIENT_SIZE for more) and their number to `out_n`. A
    /// Discover is then answered from it without calling `read`; when NULL, or when it returns
    /// LWM2MC_RESULT_UNSUPPORTED for an instance, Discover reads the readable resources to see
    /// which are present.
    pub resources: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            object: u16,
            instance: u16,
            ids: *mut u16,
            cap: usize,
            out_n: *mut usize,
        ) -> lwm2mc_callback_result,
    >,
    /// Optional: the object's transaction around each server request that changes it, one
    /// `lwm2mc_transaction_step` per call (BEGIN, then VALIDATE and COMMIT, or ROLLBACK).
    /// Results of COMMIT and ROLLBACK are ignored. When NULL, a write the object refuses half
    /// way leaves the writes made before it in place.
    pub transaction: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            object: u16,
            step: u32,
        ) -> lwm2mc_callback_result,
    >,
}

/// What a transport needs to reach a server. All pointers are borrowed for the duration of the
/// `open` callback only; copy what you keep.
#[repr(C)]
#[derive(Debug)]
pub struct lwm2mc_server_info {
    /// The Server URI as configured (`/0/x/0`), NUL-terminated.
    pub uri: *const c_char,
    /// Host part of the URI (name or IP literal without brackets), NUL-terminated.
    pub host: *const c_char,
    /// The port from the URI, or the scheme's default (5683, or 5684 for coaps); never 0.
    pub port: u16,
    /// True for coaps:// (the host runs DTLS with the keys below).
    pub secure: bool,
    /// True for the Bootstrap-Server.
    pub bootstrap: bool,
    /// Security Mode `/0/x/2`: 0 PSK, 1 RPK, 2 certificate, 3 NoSec, 4 certificate with EST.
    pub security_mode: u32,
    /// `/0/x/3` PSK identity or the client's public key / certificate.
    pub identity: *const u8,
    /// The length of `identity` in bytes; 0 when the resource is empty or absent.
    pub identity_len: usize,
    /// `/0/x/4` the server's public key or certificate.
    pub server_public_key: *const u8,
    /// The length of `server_public_key` in bytes; 0 when empty or absent.
    pub server_public_key_len: usize,
    /// `/0/x/5` the PSK or the client's private key.
    pub secret_key: *const u8,
    /// The length of `secret_key` in bytes; 0 when empty or absent.
    pub secret_key_len: usize,
}

/// The host's transport. `open` is called once per server before the first datagram to it and
/// returns the host's own peer handle; `send` carries one datagram; `close` is called when the
/// client stops talking to that server. Datagrams from a peer are given back with
/// `lwm2mc_client_handle_datagram` and the same handle. Callbacks run inside client calls;
/// calling that client from them returns LWM2MC_RESULT_REENTRANT_CALL. An `open` that returns
/// anything but LWM2MC_RESULT_OK leaves the server unreachable (retried at the next call); a
/// `send` that does is one lost datagram (logged at WARN and counted by
/// `lwm2mc_client_send_failures`), never the end of the client.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lwm2mc_transport {
    /// Passed back as the first argument of every callback.
    pub userdata: *mut c_void,
    /// Makes the server described by `info` reachable and writes the host's handle for it to
    /// `peer_out`. Handles must differ between open peers: one another open peer holds leaves
    /// this server closed. When NULL, no server can be reached.
    pub open: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            info: *const lwm2mc_server_info,
            peer_out: *mut usize,
        ) -> lwm2mc_callback_result,
    >,
    /// Sends one datagram, `len` bytes at `buf` (borrowed for the call), to the peer with the
    /// handle `peer`. When NULL, datagrams are dropped.
    pub send: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            peer: usize,
            buf: *const u8,
            len: usize,
        ) -> lwm2mc_callback_result,
    >,
    /// The client no longer talks to the peer `peer`: release it. Also called by
    /// `lwm2mc_client_free` for every peer still open. May be NULL.
    pub close: Option<unsafe extern "C" fn(userdata: *mut c_void, peer: usize)>,
}

/// The host's persistent storage (flash, a file, NVS). `load` copies the value of `key` into
/// `buf` (`cap` bytes) and writes its length to `out_n`; it returns LWM2MC_RESULT_NOT_FOUND if
/// the key holds nothing, or LWM2MC_RESULT_INSUFFICIENT_SIZE with the needed length in `out_n`.
/// `store` must replace the value whole; `erase` removes it. Keys are short NUL-terminated
/// ASCII strings. Any other return value (an unknown one included) is a storage failure:
/// loading falls back to the factory state with a STORAGE_ERROR event, saving fails.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lwm2mc_storage {
    /// Passed back as the first argument of every callback.
    pub userdata: *mut c_void,
    /// Reads the value of `key` as described above. When NULL, nothing is ever found: every
    /// start is from the factory configuration.
    pub load: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            key: *const c_char,
            buf: *mut u8,
            cap: usize,
            out_n: *mut usize,
        ) -> lwm2mc_callback_result,
    >,
    /// Replaces the value of `key` with the `len` bytes at `buf` (borrowed for the call).
    /// When NULL, every save fails.
    pub store: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            key: *const c_char,
            buf: *const u8,
            len: usize,
        ) -> lwm2mc_callback_result,
    >,
    /// Removes the value of `key`; LWM2MC_RESULT_NOT_FOUND counts as success. When NULL,
    /// erasing does nothing.
    pub erase: Option<
        unsafe extern "C" fn(userdata: *mut c_void, key: *const c_char) -> lwm2mc_callback_result,
    >,
}

/// Log hook: `level` is an `lwm2mc_log_level`; `message` is NUL-terminated and valid only
/// during the call.
pub type lwm2mc_log_cb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: u32, message: *const c_char)>;

/// What the root link of Register and Update announces as supported Content-Formats
/// (`lwm2mc_config_set_root_formats`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_root_formats {
    /// One SenML value (`ct=110`, or 112 when that is the preferred format): the default.
    Preferred = 0,
    /// Every format the library encodes as a list (`ct="110 112 11542"`); some servers refuse it.
    All = 1,
    /// No `ct` attribute.
    Omit = 2,
}

/// The bounds `lwm2mc_config_set_limit` sets (see `lwm2mc::Limits`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_limit {
    /// Largest request body accepted, whole or from Block1 blocks, in bytes (default 4096).
    MaxRequestPayload = 0,
    /// Largest response body sent (in Block2 blocks above the block size), in bytes (default
    /// 16384).
    MaxResponsePayload = 1,
    /// Most instances one object may hold (default 32).
    MaxInstances = 2,
    /// Most events queued for the application (default 64).
    MaxQueuedEvents = 3,
    /// Most observations served at once (default 64).
    MaxObservations = 4,
    /// Most levels carrying Write-Attributes (default 128).
    MaxAttributeLevels = 5,
    /// Most notifications kept while offline (default 32).
    MaxStoredNotifications = 6,
}

/// Kinds of `lwm2mc_event`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_event_kind {
    /// A bootstrap session finished and its configuration was committed.
    Bootstrapped = 0,
    /// A bootstrap attempt failed; `message` says why.
    BootstrapFailed = 1,
    /// Registered with server `ssid`; `message` is the registration's location (`/rd/...`).
    Registered = 2,
    /// Server `ssid` accepted a registration Update.
    RegistrationUpdated = 3,
    /// Register or Update with server `ssid` failed; `message` says why.
    RegistrationFailed = 4,
    /// De-registered from server `ssid` (on stop, or because its account was removed).
    Deregistered = 5,
    /// Server `ssid` executed the library-held resource `path`; `data`/`data_len` are the
    /// Execute arguments as received (Core 1.1 §5.4.5). Resources of objects with callbacks
    /// go to their `execute` callback instead.
    Executed = 6,
    /// Server `ssid` wrote `path`; the write has been applied.
    Written = 7,
    /// Saving or loading the persistent configuration failed; `message` says why.
    StorageError = 8,
    /// The smartcard's bootstrap data was applied.
    SmartcardProvisioned = 9,
    /// The smartcard's data went away; what it provisioned was removed.
    SmartcardRemoved = 10,
    /// The Bootstrap-Server account was purged after its Account Timeout (`/0/x/12`).
    BootstrapAccountPurged = 11,
    /// Server `ssid` created the instance `path` (`/O/I`).
    Created = 12,
    /// Server `ssid` deleted the instance `path` (`/O/I`).
    Deleted = 13,
    /// Bootstrap-Finish was answered 4.06 because the configuration is inconsistent;
    /// `message` is the diagnostic. Nothing was committed; the session stays open for
    /// corrections (Core 1.1 §5.2.6).
    BootstrapFinishRefused = 14,
    /// Older events were dropped (queue full); `message` says how many.
    EventsDropped = 15,
    /// A datagram could not be sent (one lost datagram); `message` says where and why.
    SendFailed = 16,
    /// Server `ssid` observes `path`.
    ObservationStarted = 17,
    /// The observation of `path` by `ssid` ended.
    ObservationCancelled = 18,
    /// Server `ssid` accepted a Send (`lwm2mc_client_send`).
    SendCompleted = 19,
    /// Server `ssid` refused a Send or left it unanswered; `message` says which.
    SendRejected = 20,
    /// A firmware update waits for the user's yes (`defer_update` said so):
    /// `lwm2mc_client_firmware_accept_update` installs it.
    FirmwareUpdateAwaitingUser = 21,
    /// A DTLS session with a `coaps://` peer is up (built-in DTLS); `message` is the cipher
    /// suite's IANA name, with " (resumed)" after an abbreviated handshake.
    SecureSessionEstablished = 22,
    /// A DTLS handshake failed or a session went down (wrong PSK, alert, no answer,
    /// unsupported Security Mode); `message` says why. Nothing from the peer was applied;
    /// the handshake is tried again after a back-off.
    SecureSessionFailed = 23,
    /// Queue mode: MAX_TRANSMIT_WAIT since the last datagram and nothing in flight; the
    /// device may sleep (radio off) until the time `lwm2mc_client_step` returned.
    Sleeping = 24,
    /// Queue mode: awake again (a datagram to send, or one came in).
    Awake = 25,
}

impl lwm2mc_event_kind {
    /// Every kind, in numbering order.
    pub const ALL: [lwm2mc_event_kind; 26] = [
        Self::Bootstrapped,
        Self::BootstrapFailed,
        Self::Registered,
        Self::RegistrationUpdated,
        Self::RegistrationFailed,
        Self::Deregistered,
        Self::Executed,
        Self::Written,
        Self::StorageError,
        Self::SmartcardProvisioned,
        Self::SmartcardRemoved,
        Self::BootstrapAccountPurged,
        Self::Created,
        Self::Deleted,
        Self::BootstrapFinishRefused,
        Self::EventsDropped,
        Self::SendFailed,
        Self::ObservationStarted,
        Self::ObservationCancelled,
        Self::SendCompleted,
        Self::SendRejected,
        Self::FirmwareUpdateAwaitingUser,
        Self::SecureSessionEstablished,
        Self::SecureSessionFailed,
        Self::Sleeping,
        Self::Awake,
    ];

    /// The kind's name in lower snake case, NUL-terminated (the Python binding uses the same).
    pub const fn name(self) -> &'static [u8] {
        match self {
            Self::Bootstrapped => b"bootstrapped\0",
            Self::BootstrapFailed => b"bootstrap_failed\0",
            Self::Registered => b"registered\0",
            Self::RegistrationUpdated => b"registration_updated\0",
            Self::RegistrationFailed => b"registration_failed\0",
            Self::Deregistered => b"deregistered\0",
            Self::Executed => b"executed\0",
            Self::Written => b"written\0",
            Self::StorageError => b"storage_error\0",
            Self::SmartcardProvisioned => b"smartcard_provisioned\0",
            Self::SmartcardRemoved => b"smartcard_removed\0",
            Self::BootstrapAccountPurged => b"bootstrap_account_purged\0",
            Self::Created => b"created\0",
            Self::Deleted => b"deleted\0",
            Self::BootstrapFinishRefused => b"bootstrap_finish_refused\0",
            Self::EventsDropped => b"events_dropped\0",
            Self::SendFailed => b"send_failed\0",
            Self::ObservationStarted => b"observation_started\0",
            Self::ObservationCancelled => b"observation_cancelled\0",
            Self::SendCompleted => b"send_completed\0",
            Self::SendRejected => b"send_rejected\0",
            Self::FirmwareUpdateAwaitingUser => b"firmware_update_awaiting_user\0",
            Self::SecureSessionEstablished => b"secure_session_established\0",
            Self::SecureSessionFailed => b"secure_session_failed\0",
            Self::Sleeping => b"sleeping\0",
            Self::Awake => b"awake\0",
        }
    }
}

/// The name of an event kind ("registered", "bootstrap_failed", ...), a static NUL-terminated
/// string; "unknown" for a value this version does not know. Never NULL; do not free it.
/// Takes a plain integer so that any value a caller passes is defined behaviour.
#[no_mangle]
pub extern "C" fn lwm2mc_event_kind_str(kind: u32) -> *const c_char {
    let name: &'static [u8] = lwm2mc_event_kind::ALL
        .iter()
        .find(|k| **k as u32 == kind)
        .map_or(b"unknown\0", |k| k.name());
    name.as_ptr().cast()
}

/// Something that happened in the client. `path` is NUL-terminated ("" when not relevant);
/// `data`/`data_len` carry Execute arguments; `message` is a NUL-terminated description
/// (failure reason, registration location). `data` and `message` are owned by the client and
/// valid until the next call on that client.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lwm2mc_event {
    /// What happened; its documentation says which of the other fields are set.
    pub kind: lwm2mc_event_kind,
    /// Short Server ID of the server concerned, 0 if none.
    pub ssid: u16,
    /// The path concerned (`/3/0/4`), NUL-terminated; empty when the kind has none.
    pub path: [c_char; 32],
    /// The Execute arguments of an EXECUTED event; owned by the client (see above).
    pub data: *const u8,
    /// The number of bytes at `data`; 0 for other kinds.
    pub data_len: usize,
    /// The reason, location or count the kind documents, NUL-terminated; empty (never NULL)
    /// for kinds without one. Owned by the client (see above).
    pub message: *const c_char,
}
