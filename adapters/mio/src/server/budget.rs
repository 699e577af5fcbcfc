//! The memory budget (`--max-buffered`): every byte the server holds for
//! its connections in user space, across all event loops.
//!
//! The budget is one atomic count of free bytes. Event loops do not touch
//! it per read: each takes credit from it in chunks ([`Share`]) and
//! reserves from that credit with plain integers, so the hot path (a read
//! answered and written at once) costs two subtractions and writes no
//! shared cache line. Credit a loop does not need goes back when it has
//! more than two chunks idle, or all of it when another loop is short.
//!
//! What a connection reserves is decided in `connection.rs`; this module
//! only keeps the count exact: the sum of every loop's credit and every
//! connection's charge never exceeds the limit.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use mio::Waker;

/// The budget the event loops share.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    free: AtomicUsize,
    /// A loop could not get the credit it needed: the others give back
    /// what they hold idle.
    short: AtomicBool,
    /// The most ever taken out of `free` at once (credit and charges).
    peak: AtomicUsize,
    /// The event loops, woken when one of them is short so that the
    /// others give back their idle credit at once.
    loops: OnceLock<Vec<Arc<Waker>>>,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Self {
        Budget {
            limit,
            free: AtomicUsize::new(limit),
            short: AtomicBool::new(false),
            peak: AtomicUsize::new(0),
            loops: OnceLock::new(),
        }
    }

    /// The event loops to wake when one is short (set once they exist).
    pub(crate) fn set_loops(&self, wakers: Vec<Arc<Waker>>) {
        let _ = self.loops.set(wakers);
    }

    /// The limit, in bytes.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The most bytes taken out of the budget at once so far (an upper
    /// bound of what was held: loops' idle credit counts as taken).
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Bytes taken out of the budget now.
    pub(crate) fn taken(&self) -> usize {
        self.limit - self.free.load(Ordering::Relaxed)
    }

    /// Takes `n` bytes if that many are free.
    fn grab(&self, n: usize) -> bool {
        let mut free = self.free.load(Ordering::Relaxed);
        loop {
            if free < n {
                return false;
            }
            match self.free.compare_exchange_weak(
                free,
                free - n,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.peak
                        .fetch_max(self.limit - (free - n), Ordering::Relaxed);
                    return true;
                }
                Err(now) => free = now,
            }
        }
    }

    /// Takes up to `n` bytes, as many as are free; returns how many.
    fn take_up_to(&self, n: usize) -> usize {
        let mut free = self.free.load(Ordering::Relaxed);
        loop {
            let after = free.saturating_sub(n);
            match self
                .free
                .compare_exchange_weak(free, after, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(self.limit - after, Ordering::Relaxed);
                    return free - after;
                }
                Err(now) => free = now,
            }
        }
    }

    fn put(&self, n: usize) {
        if n > 0 {
            self.free.fetch_add(n, Ordering::AcqRel);
        }
    }
}

/// One event loop's share of the budget: credit taken from it and not yet
/// reserved by a connection.
#[derive(Debug)]
pub(crate) struct Share {
    budget: Arc<Budget>,
    credit: usize,
    /// Bytes reserved by this loop's connections now.
    held: usize,
    /// Bytes forced past the limit and not yet returned (see
    /// [`Share::force`]).
    owed: usize,
    chunk: usize,
}

impl Share {
    /// A loop's share. Chunks are big enough for `typical` (what one read
    /// reserves) where the limit allows, so that a loop serving normal
    /// traffic never touches the shared count, and small enough that the
    /// idle credit of all `loops` together is a small part of the limit.
    pub(crate) fn new(budget: Arc<Budget>, loops: usize, typical: usize) -> Self {
        let most = (budget.limit / (8 * loops.max(1))).max(1);
        let chunk = typical.max(1 << 20).min(most);
        Share {
            budget,
            credit: 0,
            held: 0,
            owed: 0,
            chunk,
        }
    }

    /// The budget's limit.
    pub(crate) fn limit(&self) -> usize {
        self.budget.limit
    }

    /// Reserves `n` bytes; false (and nothing reserved) when the budget
    /// has not that many free.
    pub(crate) fn reserve(&mut self, n: usize) -> bool {
        if self.credit < n {
            let missing = n - self.credit;
            let more = missing.max(self.chunk);
            if self.budget.grab(more) {
                self.credit += more;
            } else if self.budget.grab(missing) {
                self.credit += missing;
            } else {
                if !self.budget.short.swap(true, Ordering::Relaxed) {
                    for w in self.budget.loops.get().into_iter().flatten() {
                        let _ = w.wake();
                    }
                }
                return false;
            }
        }
        self.credit -= n;
        self.held += n;
        true
    }

    /// Bytes reserved by this loop's connections now.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Counts `n` bytes that are held already, past the limit if need be;
    /// only for the few bytes a session may add beyond what was reserved
    /// for it (`connection.rs` says when).
    pub(crate) fn force(&mut self, n: usize) {
        self.held += n;
        if self.credit >= n {
            self.credit -= n;
        } else {
            let missing = n - self.credit;
            self.credit = 0;
            self.owed += missing - self.budget.take_up_to(missing);
        }
    }

    /// Gives back `n` reserved bytes.
    pub(crate) fn release(&mut self, n: usize) {
        self.held -= n;
        let repay = n.min(self.owed);
        self.owed -= repay;
        self.credit += n - repay;
        if self.credit > 2 * self.chunk {
            let back = self.credit - self.chunk;
            self.budget.put(back);
            self.credit -= back;
        }
    }

    /// When another loop is short, gives back all idle credit. Cheap
    /// enough to call on every turn of the event loop (one relaxed load).
    pub(crate) fn yield_if_short(&mut self) {
        if self.credit > 0 && self.budget.short.load(Ordering::Relaxed) {
            self.budget.short.store(false, Ordering::Relaxed);
            self.budget.put(self.credit);
            self.credit = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_exceed_the_limit() {
        let b = Arc::new(Budget::new(100));
        let mut a = Share::new(b.clone(), 2, 1);
        let mut c = Share::new(b.clone(), 2, 1);
        assert!(a.reserve(60));
        assert!(!c.reserve(60), "only 40 left");
        assert!(c.reserve(40));
        assert!(!a.reserve(1));
        a.release(60);
        assert!(
            c.reserve(1),
            "a's released credit beyond two chunks went back"
        );
        c.release(41);
        a.yield_if_short();
        c.yield_if_short();
        assert_eq!(b.taken(), a.credit + c.credit);
        assert!(b.peak() <= 100);
    }

    #[test]
    fn idle_credit_goes_back_when_another_loop_is_short() {
        let b = Arc::new(Budget::new(1 << 20));
        let mut a = Share::new(b.clone(), 1, 1);
        let mut c = Share::new(b.clone(), 1, 1);
        assert!(a.reserve(10));
        a.release(10);
        assert!(a.credit > 0, "a keeps a chunk of credit");
        assert!(!c.reserve(1 << 20));
        a.yield_if_short();
        assert_eq!(a.credit, 0);
        assert!(c.reserve(1 << 20));
    }

    #[test]
    fn forced_bytes_are_repaid_first() {
        let b = Arc::new(Budget::new(10));
        let mut a = Share::new(b.clone(), 1, 1);
        assert!(a.reserve(10));
        a.force(5);
        assert_eq!(b.taken(), 10, "free saturates at zero");
        a.release(15);
        a.yield_if_short();
        assert!(b.taken() <= a.credit);
    }
}
