//! Idle, drain and linger deadlines for every connection of one event loop.
//!
//! A binary heap of `(deadline, slot)` with lazy invalidation: each
//! connection remembers the deadline of its one live entry (`timer_at`) and
//! only pushes a new entry when it needs to wake *earlier*. When an entry
//! comes due and no longer matches its connection (the connection is gone,
//! or was re-armed), it is dropped; when it matches but the connection's
//! real deadline moved later (activity), it is pushed again. So activity
//! costs nothing, a wake-up costs O(log n), and nothing ever scans all
//! connections. Stale entries are compacted away when they outnumber live
//! ones, so churn cannot grow the heap without bound.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// "No timer armed" for a connection's `timer_at`.
pub(crate) const NEVER: u64 = u64::MAX;

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Timers {
    /// Makes sure slot `key` wakes by `at` (microseconds); `armed` is the
    /// connection's record of its live entry.
    pub(crate) fn arm(&mut self, armed: &mut u64, key: usize, at: u64) {
        if at < *armed {
            self.heap.push(Reverse((at, key as u32)));
            *armed = at;
        }
    }

    /// The earliest deadline in the heap, live or stale.
    pub(crate) fn next(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes one entry due by `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<(u64, usize)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => {
                let Reverse((at, key)) = self.heap.pop()?;
                Some((at, key as usize))
            }
            _ => None,
        }
    }

    /// Drops stale entries once they clearly outnumber the `live` ones;
    /// `is_live(at, key)` says whether an entry is still its slot's.
    pub(crate) fn compact(&mut self, live: usize, is_live: impl Fn(u64, usize) -> bool) {
        if self.heap.len() > 4 * live + 4096 {
            self.heap
                .retain(|Reverse((at, key))| is_live(*at, *key as usize));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn earlier_deadlines_push_later_ones_do_not() {
        let mut t = Timers::default();
        let mut armed = NEVER;
        t.arm(&mut armed, 3, 100);
        t.arm(&mut armed, 3, 200);
        assert_eq!(t.len(), 1);
        t.arm(&mut armed, 3, 50);
        assert_eq!((armed, t.len()), (50, 2));
        assert_eq!(t.pop_due(49), None);
        assert_eq!(t.pop_due(60), Some((50, 3)));
        assert_eq!(t.pop_due(60), None);
        assert_eq!(t.next(), Some(100));
    }

    proptest! {
        /// Entries come out in deadline order and never before they are due.
        #[test]
        fn pops_in_order(deadlines in proptest::collection::vec(0u64..1000, 1..200)) {
            let mut t = Timers::default();
            for (k, &d) in deadlines.iter().enumerate() {
                let mut armed = NEVER;
                t.arm(&mut armed, k, d);
            }
            let mut last = 0;
            let mut n = 0;
            while let Some((at, _)) = t.pop_due(1000) {
                prop_assert!(at >= last);
                last = at;
                n += 1;
            }
            prop_assert_eq!(n, deadlines.len());
        }

        /// Compaction keeps exactly the live entries.
        #[test]
        fn compaction_keeps_live(n in 5000usize..6000) {
            let mut t = Timers::default();
            for k in 0..n {
                let mut armed = NEVER;
                t.arm(&mut armed, k, k as u64);
            }
            t.compact(10, |_, k| k % 500 == 0);
            let mut kept = 0;
            while let Some((_, k)) = t.pop_due(u64::MAX - 1) {
                prop_assert_eq!(k % 500, 0);
                kept += 1;
            }
            prop_assert_eq!(kept, n.div_ceil(500));
        }
    }
}
