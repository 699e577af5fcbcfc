//! The session's own notion of time.
//!
//! The core never reads a clock: the caller passes "now" into every call that
//! can move time forward. An [`Instant`] is a count of microseconds since an
//! epoch the caller picks (boot, process start, anything monotonic), so a
//! firmware tick counter and `std::time::Instant` both map onto it cheaply.

use core::ops::{Add, Sub};

/// A point in time, in microseconds since a caller-chosen epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    micros: u64,
}

/// A span of time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    micros: u64,
}

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant { micros: 0 };

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant { micros }
    }

    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.micros
    }

    /// Milliseconds since the epoch, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.micros / 1_000
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration {
            micros: self.micros.saturating_sub(earlier.micros),
        }
    }
}

/// Why a text is not a number of seconds ([`Duration::parse_secs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecsError {
    /// Not a number.
    NotANumber,
    /// Negative, infinite or not a number at all (`NaN`).
    Negative,
    /// Over a billion seconds.
    TooLong,
}

impl core::fmt::Display for SecsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SecsError::NotANumber => "is not a number of seconds",
            SecsError::Negative => "must be a finite number of seconds, 0 or more",
            SecsError::TooLong => "seconds is too long (at most 1000000000)",
        })
    }
}

impl Duration {
    /// Reads seconds as the contract writes them on a command line: a
    /// decimal number, fractions allowed (`0.5`), rounded to the
    /// microsecond.
    ///
    /// ```
    /// use shout_core::Duration;
    /// assert_eq!(Duration::parse_secs("0.25"), Ok(Duration::from_millis(250)));
    /// assert!(Duration::parse_secs("-1").is_err());
    /// ```
    pub fn parse_secs(s: &str) -> Result<Duration, SecsError> {
        let v: f64 = s.trim().parse().map_err(|_| SecsError::NotANumber)?;
        if !v.is_finite() || v < 0.0 {
            return Err(SecsError::Negative);
        }
        if v > 1e9 {
            return Err(SecsError::TooLong);
        }
        // At most 1e15 microseconds: exact in an f64, and in a u64.
        let micros = v * 1e6;
        let whole = micros as u64;
        let rounded = if micros - whole as f64 >= 0.5 {
            whole + 1
        } else {
            whole
        };
        Ok(Duration::from_micros(rounded))
    }

    /// No time at all.
    pub const ZERO: Duration = Duration { micros: 0 };

    /// `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Duration { micros }
    }

    /// `millis` milliseconds (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Duration {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// `secs` seconds (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Whole microseconds.
    pub const fn as_micros(self) -> u64 {
        self.micros
    }

    /// Whole milliseconds, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.micros / 1_000
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the far future rather than wrapping or panicking.
    fn add(self, d: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_add(d.micros),
        }
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero: time never runs backwards for the session.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_since(earlier)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, d: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_add(d.micros),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let far = Instant::from_micros(u64::MAX);
        assert_eq!(far + Duration::from_secs(1), far);
        assert_eq!(Instant::ZERO - far, Duration::ZERO);
        assert_eq!(
            Instant::from_millis(1500) - Instant::from_millis(500),
            Duration::from_secs(1)
        );
    }
}
