//! The list a state machine records its outputs in, for the router to take and apply
//! (`Bootstrapping`, `Registrations`).
//!
//! The router takes the list, applies it, and gives the emptied buffer back, so that a burst of
//! commands (a bootstrap session, a Register and its answer) records everything into one
//! allocation instead of one per command (issue 15: eight buffers of 256 B in a bootstrap and
//! register). The client's `trim`, on its timeouts, drops the buffer again, so an idle client
//! holds none.

use alloc::vec::Vec;

/// Outputs in the order they were recorded.
#[derive(Debug)]
pub(crate) struct Outputs<T> {
    queue: Vec<T>,
}

impl<T> Default for Outputs<T> {
    fn default() -> Self {
        Outputs { queue: Vec::new() }
    }
}

impl<T> Outputs<T> {
    pub(crate) fn push(&mut self, output: T) {
        self.queue.push(output);
    }

    /// Everything recorded since the last call, in order.
    pub(crate) fn take(&mut self) -> Vec<T> {
        core::mem::take(&mut self.queue)
    }

    /// The buffer [`take`](Self::take) gave out, applied: kept for the next outputs if the
    /// machine is in the middle of something (`busy`) and nothing new was recorded meanwhile
    /// (applying an output can make the machine record more; those stay, in order).
    pub(crate) fn give_back(&mut self, mut spent: Vec<T>, busy: bool) {
        if busy && self.queue.is_empty() && self.queue.capacity() == 0 {
            spent.clear();
            self.queue = spent;
        }
    }

    /// Drops the buffer if nothing is waiting in it.
    pub(crate) fn trim(&mut self) {
        if self.queue.is_empty() {
            self.queue = Vec::new();
        }
    }

    /// Room held, in outputs (for tests of `trim`).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.queue.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_buffer_is_reused_and_trim_drops_it() {
        let mut out = Outputs::default();
        out.push(1u8);
        out.push(2);
        let taken = out.take();
        assert_eq!(taken, [1, 2]);
        let room = taken.capacity();
        let address = taken.as_ptr();
        out.give_back(taken, true);
        assert_eq!(out.capacity(), room);
        out.push(3);
        let again = out.take();
        assert_eq!((again.as_slice(), again.as_ptr()), (&[3][..], address));
        out.give_back(again, true);
        out.trim();
        assert_eq!(out.capacity(), 0);
        assert!(out.take().is_empty());
    }

    #[test]
    fn outputs_recorded_while_applying_are_kept_in_order() {
        let mut out = Outputs::default();
        out.push(1u8);
        let taken = out.take();
        // Applying 1 made the machine record 2.
        out.push(2);
        out.give_back(taken, true);
        assert_eq!(out.take(), [2]);
    }

    #[test]
    fn a_buffer_given_back_by_an_idle_machine_is_dropped() {
        let mut out = Outputs::default();
        out.push(1u8);
        let taken = out.take();
        out.give_back(taken, false);
        assert_eq!(out.capacity(), 0);
    }

    #[test]
    fn trim_keeps_outputs_that_wait() {
        let mut out = Outputs::default();
        out.push(7u8);
        out.trim();
        assert_eq!(out.take(), [7]);
    }
}
