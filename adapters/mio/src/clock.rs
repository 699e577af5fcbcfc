//! Maps `std::time::Instant` onto the core's microsecond [`Instant`]: the
//! core never reads a clock, so each event loop reads this one once per
//! wake-up and passes the value down.

use shout_core::Instant;

/// A monotonic clock whose epoch is the moment it was made.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: std::time::Instant,
}

impl Clock {
    /// A clock starting at zero now.
    pub fn new() -> Self {
        Clock {
            epoch: std::time::Instant::now(),
        }
    }

    /// Microseconds since the epoch, as the core's [`Instant`].
    pub fn now(&self) -> Instant {
        let micros = self.epoch.elapsed().as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
