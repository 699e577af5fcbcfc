//! Idle, drain and linger deadlines for every connection of one event loop.
//!
//! A binary heap of `(deadline, slot)` with lazy invalidation: each
//! connection remembers the deadline of its one live entry ([`Armed`]) and
//! only pushes a new entry when it needs to wake *earlier*. When an entry
//! comes due and no longer matches its connection (the connection is gone,
//! or was re-armed), it is dropped; when it matches but the connection's
//! real deadline moved later (activity), it is pushed again. So activity
//! costs nothing, a wake-up costs O(log n), and nothing ever scans all
//! connections. Stale entries are compacted away when they outnumber live
//! ones, so churn cannot grow the heap without bound.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::num::NonZeroU64;

use shout_core::Instant;

/// A connection's record of its live timer entry, if it has one: 8 bytes,
/// since every connection holds one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Armed(Option<NonZeroU64>);

impl Armed {
    fn new(at: Instant) -> Self {
        Armed(NonZeroU64::new(at.as_micros().saturating_add(1)))
    }

    /// The deadline of the live entry.
    pub(crate) fn at(self) -> Option<Instant> {
        self.0.map(|m| Instant::from_micros(m.get() - 1))
    }

    /// The entry came due and was taken.
    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }
}

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
}

impl Timers {
    /// Makes sure slot `key` wakes by `at`; `armed` is the connection's
    /// record of its live entry.
    pub(crate) fn arm(&mut self, armed: &mut Armed, key: usize, at: Instant) {
        if armed.at().is_none_or(|live| at < live) {
            self.heap.push(Reverse((at, key as u32)));
            *armed = Armed::new(at);
        }
    }

    /// The earliest deadline in the heap, live or stale.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes one entry due by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize)> {
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
    pub(crate) fn compact(&mut self, live: usize, is_live: impl Fn(Instant, usize) -> bool) {
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

    fn at(micros: u64) -> Instant {
        Instant::from_micros(micros)
    }

    #[test]
    fn earlier_deadlines_push_later_ones_do_not() {
        let mut t = Timers::default();
        let mut armed = Armed::default();
        t.arm(&mut armed, 3, at(100));
        t.arm(&mut armed, 3, at(200));
        assert_eq!(t.len(), 1);
        t.arm(&mut armed, 3, at(50));
        assert_eq!((armed.at(), t.len()), (Some(at(50)), 2));
        assert_eq!(t.pop_due(at(49)), None);
        assert_eq!(t.pop_due(at(60)), Some((at(50), 3)));
        assert_eq!(t.pop_due(at(60)), None);
        assert_eq!(t.next(), Some(at(100)));
    }

    #[test]
    fn the_epoch_is_a_deadline_too() {
        let mut t = Timers::default();
        let mut armed = Armed::default();
        t.arm(&mut armed, 1, at(0));
        assert_eq!(armed.at(), Some(at(0)));
        assert_eq!(t.pop_due(at(0)), Some((at(0), 1)));
    }

    proptest! {
        /// Entries come out in deadline order and never before they are due.
        #[test]
        fn pops_in_order(deadlines in proptest::collection::vec(0u64..1000, 1..200)) {
            let mut t = Timers::default();
            for (k, &d) in deadlines.iter().enumerate() {
                let mut armed = Armed::default();
                t.arm(&mut armed, k, at(d));
            }
            let mut last = 0;
            let mut n = 0;
            while let Some((due, _)) = t.pop_due(at(1000)) {
                let due = due.as_micros();
                prop_assert!(due >= last);
                last = due;
                n += 1;
            }
            prop_assert_eq!(n, deadlines.len());
        }

        /// Compaction keeps exactly the live entries.
        #[test]
        fn compaction_keeps_live(n in 5000usize..6000) {
            let mut t = Timers::default();
            for k in 0..n {
                let mut armed = Armed::default();
                t.arm(&mut armed, k, at(k as u64));
            }
            t.compact(10, |_, k| k % 500 == 0);
            let mut kept = 0;
            while let Some((_, k)) = t.pop_due(at(u64::MAX - 1)) {
                prop_assert_eq!(k % 500, 0);
                kept += 1;
            }
            prop_assert_eq!(kept, n.div_ceil(500));
        }
    }
}
