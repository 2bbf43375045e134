//! The rules every exported function follows (DESIGN §4): panics never cross the boundary,
//! pointers are checked, strings are validated, outputs are written only on success, and a
//! client refuses calls made from inside its own callbacks.

use core::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use super::result::lwm2mc_result;

pub(crate) type FfiResult<T = ()> = Result<T, lwm2mc_result>;

/// Runs `f`, turning a panic into `Panic` and `Err(r)` into `r`.
pub(crate) fn guard(f: impl FnOnce() -> FfiResult) -> lwm2mc_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => lwm2mc_result::Ok,
        Ok(Err(r)) => r,
        Err(_) => lwm2mc_result::Panic,
    }
}

/// Runs `f` with the busy flag held: a second entry (from a callback) gets `ReentrantCall`.
pub(crate) fn exclusive(busy: &AtomicBool, f: impl FnOnce() -> FfiResult) -> lwm2mc_result {
    if busy.swap(true, Ordering::AcqRel) {
        return lwm2mc_result::ReentrantCall;
    }
    let r = guard(f);
    busy.store(false, Ordering::Release);
    r
}

/// A shared reference from a C pointer.
///
/// # Safety
/// `p` must be NULL or point to a live `T` for the duration of the call.
pub(crate) unsafe fn as_ref<'a, T>(p: *const T) -> FfiResult<&'a T> {
    // SAFETY: the caller promises p is NULL or valid; NULL is rejected here.
    unsafe { p.as_ref() }.ok_or(lwm2mc_result::NullParameter)
}

/// A mutable reference from a C pointer.
///
/// # Safety
/// `p` must be NULL or point to a live `T` not aliased for the duration of the call.
pub(crate) unsafe fn as_mut<'a, T>(p: *mut T) -> FfiResult<&'a mut T> {
    // SAFETY: as above, and the caller guarantees exclusivity.
    unsafe { p.as_mut() }.ok_or(lwm2mc_result::NullParameter)
}

/// A UTF-8 string from a NUL-terminated C string.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn as_str<'a>(p: *const c_char) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(lwm2mc_result::NullParameter);
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| lwm2mc_result::InvalidArgument)
}

/// A byte slice from (pointer, length); a NULL pointer is allowed only with length 0.
///
/// # Safety
/// `p` must point to `len` readable bytes for the duration of the call (or be NULL with 0).
pub(crate) unsafe fn as_bytes<'a>(p: *const u8, len: usize) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(lwm2mc_result::NullParameter);
    }
    // SAFETY: non-NULL with len readable bytes per the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// Writes `value` through `out` (checked for NULL first).
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> FfiResult {
    if out.is_null() {
        return Err(lwm2mc_result::NullParameter);
    }
    // SAFETY: non-NULL and writable per the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Copies `data` into a caller buffer of `cap` bytes and reports the length through `out_len`;
/// `InsufficientSize` (with the needed length written) if it does not fit.
///
/// # Safety
/// `buf` must have `cap` writable bytes; `out_len` must be valid for a write.
pub(crate) unsafe fn copy_out(
    data: &[u8],
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> FfiResult {
    if out_len.is_null() || (buf.is_null() && cap > 0) {
        return Err(lwm2mc_result::NullParameter);
    }
    // SAFETY: out_len checked non-NULL above.
    unsafe { out_len.write(data.len()) };
    if data.len() > cap {
        return Err(lwm2mc_result::InsufficientSize);
    }
    if !data.is_empty() {
        // SAFETY: buf has cap >= data.len() writable bytes and does not overlap our data.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len()) };
    }
    Ok(())
}
