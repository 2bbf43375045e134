//! The benchmarks' global allocator: `System`, counting live bytes and blocks, their peak since
//! `reset_peak`, and every allocation call and the bytes it asked for. Included by each
//! benchmark with `#[path]` (a file here is no example of its own); each uses part of it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(true);
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);
/// A second peak, over a shorter window (one call into the library), kept apart from the
/// process's so that both can be taken at once.
static WINDOW_PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOC_CALLS: AtomicUsize = AtomicUsize::new(0);
static ALLOC_BYTES: AtomicUsize = AtomicUsize::new(0);

/// An allocation call that asked for `size` bytes, in `blocks` new blocks (a realloc: 0).
fn allocated(size: usize, blocks: usize) {
    let live = LIVE_BYTES.fetch_add(size, Relaxed) + size;
    PEAK_BYTES.fetch_max(live, Relaxed);
    WINDOW_PEAK.fetch_max(live, Relaxed);
    LIVE_BLOCKS.fetch_add(blocks, Relaxed);
    ALLOC_CALLS.fetch_add(1, Relaxed);
    ALLOC_BYTES.fetch_add(size, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            allocated(layout.size(), 1);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            allocated(layout.size(), 1);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
            LIVE_BLOCKS.fetch_sub(1, Relaxed);
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            // The old block stays counted until the new one is: a realloc that moves holds both.
            allocated(new_size, 0);
            LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counters at one moment.
#[derive(Clone, Copy)]
pub struct Heap {
    pub live: usize,
    pub blocks: usize,
    pub calls: usize,
    pub bytes: usize,
}

pub fn heap() -> Heap {
    Heap {
        live: LIVE_BYTES.load(Relaxed),
        blocks: LIVE_BLOCKS.load(Relaxed),
        calls: ALLOC_CALLS.load(Relaxed),
        bytes: ALLOC_BYTES.load(Relaxed),
    }
}

/// Switches the counting off (one load and branch per call then, e.g. under callgrind).
pub fn set_counting(on: bool) {
    COUNTING.store(on, Relaxed);
}

pub fn live_bytes() -> usize {
    LIVE_BYTES.load(Relaxed)
}

pub fn alloc_calls() -> usize {
    ALLOC_CALLS.load(Relaxed)
}

/// Starts a new peak window at what is live now.
pub fn reset_peak() {
    PEAK_BYTES.store(LIVE_BYTES.load(Relaxed), Relaxed);
}

pub fn peak_bytes() -> usize {
    PEAK_BYTES.load(Relaxed)
}

/// Starts a new window for [`window_peak`] at what is live now (the process's peak goes on).
pub fn reset_window() {
    WINDOW_PEAK.store(LIVE_BYTES.load(Relaxed), Relaxed);
}

/// The most that was live since [`reset_window`].
pub fn window_peak() -> usize {
    WINDOW_PEAK.load(Relaxed)
}
