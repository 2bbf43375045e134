//! The rules every exported function follows (DESIGN §4): panics never cross the boundary,
//! pointers are checked, strings are validated, outputs are written only on success, and a
//! client runs one call at a time: it refuses calls made from inside its own callbacks
//! (`ReentrantCall`) and from other threads while a call runs (`Busy`).

use core::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::result::lwm2mc_result;

pub(crate) type FfiResult<T = ()> = Result<T, lwm2mc_result>;

/// Runs `f`, turning a panic into `Panic` and `Err(r)` into `r`.
///
/// With `panic = "unwind"` (the release profile) a panic unwinds to the `catch_unwind` here and
/// the C call returns `Panic`. With `panic = "abort"` (the `release-small` profile) the panic
/// hook runs and the process aborts: nothing unwinds, so `catch_unwind` never returns `Err` and
/// no call returns `Panic`. Either way nothing unwinds out of an `extern "C"` function (and
/// were one to, Rust aborts there rather than unwind into C).
pub(crate) fn guard(f: impl FnOnce() -> FfiResult) -> lwm2mc_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => lwm2mc_result::Ok,
        Ok(Err(r)) => r,
        Err(_) => lwm2mc_result::Panic,
    }
}

thread_local! {
    /// Its address tells the threads apart (no destructor, so it is there until the thread ends).
    static THREAD_TOKEN: u8 = const { 0 };
}

/// A non-zero number unique to the calling thread among the running threads.
fn thread_token() -> usize {
    THREAD_TOKEN.with(|t| core::ptr::from_ref(t) as usize)
}

/// How long a free from another thread sleeps between looks at a running call.
const FREE_POLL: Duration = Duration::from_micros(200);

/// Who may run a call on a client: at most one thread at a time. A second call from the same
/// thread (a callback calling back) gets `ReentrantCall`, one from another thread `Busy`; a
/// free asked for from inside a call is carried out when that call returns.
pub(crate) struct Gate {
    /// `thread_token()` of the thread inside a call, 0 when none is.
    owner: AtomicUsize,
    /// A free from another thread is waiting for the running call: new calls get `Busy`.
    closing: AtomicBool,
    /// The thread inside the call asked for a free (from a callback): the call frees the
    /// client when it returns, and runs no more callbacks meanwhile. Shared with the client's
    /// state so that its loops can look at it while the gate is held.
    dying: Arc<AtomicBool>,
}

/// What `Gate::claim_for_free` found.
pub(crate) enum FreeClaim {
    /// Nobody is inside a call (any more): free now.
    Now,
    /// The calling thread is inside a call on this client: that call frees it when it returns.
    Deferred,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            owner: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            dying: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The flag that says a free is pending for the call that is running.
    pub(crate) fn dying_flag(&self) -> Arc<AtomicBool> {
        self.dying.clone()
    }

    /// Enters a call, or says why not (nothing was done then).
    pub(crate) fn enter(&self) -> FfiResult {
        let me = thread_token();
        match self
            .owner
            .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) if self.closing.load(Ordering::SeqCst) => {
                self.owner.store(0, Ordering::SeqCst);
                Err(lwm2mc_result::Busy)
            }
            Ok(_) => Ok(()),
            Err(owner) if owner == me => Err(lwm2mc_result::ReentrantCall),
            Err(_) => Err(lwm2mc_result::Busy),
        }
    }

    /// Leaves a call entered with `enter`. Returns true if the client must now be freed (a
    /// callback asked for it); the gate then stays closed.
    pub(crate) fn leave(&self) -> bool {
        if self.dying.load(Ordering::SeqCst) {
            return true;
        }
        self.owner.store(0, Ordering::SeqCst);
        false
    }

    /// For a free: takes the gate for good, waiting for another thread's running call to
    /// return, or defers the free to the call the calling thread is inside.
    pub(crate) fn claim_for_free(&self) -> FreeClaim {
        let me = thread_token();
        loop {
            match self
                .owner
                .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return FreeClaim::Now,
                Err(owner) if owner == me => {
                    self.dying.store(true, Ordering::SeqCst);
                    return FreeClaim::Deferred;
                }
                Err(_) => {
                    self.closing.store(true, Ordering::SeqCst);
                    std::thread::sleep(FREE_POLL);
                }
            }
        }
    }
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
