//! Result codes of every fallible C function, and their messages.

use core::ffi::c_char;

/// What a C function did. Values are stable: new codes are added at the end, never renumbered.
/// Callbacks return these too; the library reads a callback's return value as a plain
/// uint32_t, and any value that is none of these counts as that callback failing.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_result {
    /// Success.
    Ok = 0,
    /// A pointer argument was NULL.
    NullParameter = 1,
    /// An argument was out of range, not UTF-8, or not a valid path, URI or value.
    InvalidArgument = 2,
    /// The caller's buffer is too small; the needed size was written to the length output.
    InsufficientSize = 3,
    /// Nothing there: no such path, no pending event, no stored value.
    NotFound = 4,
    /// A panic inside the library was caught; the call had no other effect it could promise.
    /// Returned only by a library built with `panic = "unwind"` (the release profile, what
    /// scripts/install.sh and the Python package ship). In one built with the `release-small`
    /// profile (`panic = "abort"`) a panic aborts the process instead: no call returns this
    /// code, and no unwinding ever reaches the caller in either build.
    Panic = 5,
    /// The function was called from inside one of this client's callbacks; nothing was done.
    ReentrantCall = 6,
    /// The object is not in a state that allows this call.
    InvalidState = 7,
    /// The storage hook failed.
    StorageError = 8,
    /// The transport hook or socket failed.
    TransportError = 9,
    /// The thing to create exists already.
    AlreadyExists = 10,
    /// The operation or value type is not supported.
    Unsupported = 11,
    /// An unexpected internal error.
    Internal = 12,
    /// Another thread is inside a call on this client; nothing was done (nothing was consumed
    /// either: make the same call again later).
    Busy = 13,
}

impl lwm2mc_result {
    pub(crate) fn message(self) -> &'static [u8] {
        match self {
            lwm2mc_result::Ok => b"ok\0",
            lwm2mc_result::NullParameter => b"a pointer argument was NULL\0",
            lwm2mc_result::InvalidArgument => b"invalid argument\0",
            lwm2mc_result::InsufficientSize => b"buffer too small\0",
            lwm2mc_result::NotFound => b"not found\0",
            lwm2mc_result::Panic => b"internal panic caught\0",
            lwm2mc_result::ReentrantCall => b"re-entrant call from a callback refused\0",
            lwm2mc_result::InvalidState => b"not allowed in the current state\0",
            lwm2mc_result::StorageError => b"storage hook failed\0",
            lwm2mc_result::TransportError => b"transport failed\0",
            lwm2mc_result::AlreadyExists => b"already exists\0",
            lwm2mc_result::Unsupported => b"not supported\0",
            lwm2mc_result::Internal => b"internal error\0",
            lwm2mc_result::Busy => b"another thread is using this client\0",
        }
    }

    pub(crate) fn from_u32(v: u32) -> Option<lwm2mc_result> {
        use lwm2mc_result::*;
        [
            Ok,
            NullParameter,
            InvalidArgument,
            InsufficientSize,
            NotFound,
            Panic,
            ReentrantCall,
            InvalidState,
            StorageError,
            TransportError,
            AlreadyExists,
            Unsupported,
            Internal,
            Busy,
        ]
        .into_iter()
        .find(|r| *r as u32 == v)
    }
}

/// A static, NUL-terminated English message for a result code (any value, even one this
/// version does not know). Never NULL; do not free it.
#[no_mangle]
pub extern "C" fn lwm2mc_result_str(result: u32) -> *const c_char {
    let msg: &'static [u8] = match lwm2mc_result::from_u32(result) {
        Some(r) => r.message(),
        None => b"unknown result\0",
    };
    msg.as_ptr().cast()
}

/// The library version, a static NUL-terminated string such as "0.1.0". Never NULL.
#[no_mangle]
pub extern "C" fn lwm2mc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
