//! What a session may do: its framing, its transform and its limits.

use crate::time::Duration;
use crate::wire::HELLO_MIN_PAYLOAD;

/// How a byte stream is cut into requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Framing {
    /// The first byte decides: `0x00` (a HELLO frame) means [`Framing::Frame`],
    /// `GET ` the web framing (with the `web` feature), anything else
    /// [`Framing::Raw`].
    Auto,
    /// No boundaries: the output stream is the transformed input stream.
    Raw,
    /// A request is the bytes up to and including LF.
    Line,
    /// Length-prefixed binary frames with a HELLO handshake.
    Frame,
    /// HTTP/1.1 and WebSocket: the page at `/`, messages on `/ws`. Under
    /// [`Framing::Auto`] the first bytes `GET ` choose it.
    #[cfg(feature = "web")]
    Web,
}

/// Which uppercase mapping a session applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransformKind {
    /// `a..=z` to `A..=Z`, every other byte unchanged.
    Ascii,
    /// Full Unicode uppercase of UTF-8 (`ß` to `SS`); invalid bytes
    /// unchanged. Not length-preserving, so a DATA response waits for its
    /// whole request payload.
    Unicode,
}

impl TransformKind {
    /// The byte a server HELLO carries for this transform.
    pub const fn wire_id(self) -> u8 {
        match self {
            TransformKind::Ascii => 0,
            TransformKind::Unicode => 1,
        }
    }

    /// The name used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            TransformKind::Ascii => "ascii",
            TransformKind::Unicode => "unicode",
        }
    }

    /// Whether this build can apply the transform (unicode needs the
    /// `unicode` feature).
    pub const fn is_built_in(self) -> bool {
        match self {
            TransformKind::Ascii => true,
            TransformKind::Unicode => cfg!(feature = "unicode"),
        }
    }

    /// Whether each input byte maps to exactly one output byte.
    pub const fn is_length_preserving(self) -> bool {
        matches!(self, TransformKind::Ascii)
    }

    /// The most output bytes one input byte can become.
    pub const fn max_growth(self) -> usize {
        match self {
            TransformKind::Ascii => 1,
            TransformKind::Unicode => 3,
        }
    }

    /// The transform a server HELLO byte names, if this build knows it.
    pub const fn from_wire_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(TransformKind::Ascii),
            1 => Some(TransformKind::Unicode),
            _ => None,
        }
    }
}

/// Limits and choices for one session; the same value can configure many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How requests are delimited (server default: [`Framing::Auto`]).
    pub framing: Framing,
    /// The uppercase mapping (default: [`TransformKind::Ascii`]).
    pub transform: TransformKind,
    /// Largest frame payload accepted, in bytes (default 1 MiB). Also
    /// advertised in the server's HELLO.
    pub max_payload: u32,
    /// Longest accepted line in bytes, CR and LF included (default 64 KiB).
    pub max_line: u32,
    /// Close after this long with nothing received and nothing sent
    /// (default 60 s; `None` turns it off).
    pub idle_timeout: Option<Duration>,
    /// How long a shutdown lets requests in progress finish (default 5 s).
    pub drain_timeout: Duration,
}

/// Why a [`Config`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_payload` is below 6, too small for a HELLO.
    MaxPayloadTooSmall,
    /// `max_line` is zero.
    MaxLineZero,
    /// With the unicode transform, `max_payload` is over a third of
    /// `u32::MAX`, so a response length might not fit its header.
    MaxPayloadTooLargeForUnicode,
    /// The transform is not built in (unicode without the `unicode`
    /// feature).
    TransformNotBuilt,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::MaxPayloadTooSmall => write!(
                f,
                "max_payload must be at least {HELLO_MIN_PAYLOAD} bytes (a HELLO payload)"
            ),
            ConfigError::MaxLineZero => f.write_str("max_line must be at least 1 byte"),
            ConfigError::TransformNotBuilt => {
                f.write_str("this build has no unicode transform (cargo feature `unicode`)")
            }
            ConfigError::MaxPayloadTooLargeForUnicode => write!(
                f,
                "with the unicode transform max_payload must be at most {} bytes",
                u32::MAX / 3
            ),
        }
    }
}

impl Config {
    /// The contract's server defaults.
    pub const DEFAULT: Config = Config {
        framing: Framing::Auto,
        transform: TransformKind::Ascii,
        max_payload: 1 << 20,
        max_line: 1 << 16,
        idle_timeout: Some(Duration::from_secs(60)),
        drain_timeout: Duration::from_secs(5),
    };

    /// Checks the limits the contract puts on a configuration, once: the
    /// result is what every [`crate::Server`] is made from, so making a
    /// session cannot fail.
    pub const fn validate(self) -> Result<ValidConfig, ConfigError> {
        match self.check() {
            Ok(()) => Ok(ValidConfig(self)),
            Err(e) => Err(e),
        }
    }

    const fn check(&self) -> Result<(), ConfigError> {
        if (self.max_payload as usize) < HELLO_MIN_PAYLOAD {
            return Err(ConfigError::MaxPayloadTooSmall);
        }
        if self.max_line == 0 {
            return Err(ConfigError::MaxLineZero);
        }
        if !self.transform.is_built_in() {
            return Err(ConfigError::TransformNotBuilt);
        }
        if !self.transform.is_length_preserving()
            && self.max_payload as u64 * self.transform.max_growth() as u64 > u32::MAX as u64
        {
            return Err(ConfigError::MaxPayloadTooLargeForUnicode);
        }
        Ok(())
    }

    /// This configuration with another framing.
    pub const fn with_framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// This configuration with another transform.
    pub const fn with_transform(mut self, transform: TransformKind) -> Self {
        self.transform = transform;
        self
    }

    /// This configuration with another payload limit.
    pub const fn with_max_payload(mut self, bytes: u32) -> Self {
        self.max_payload = bytes;
        self
    }

    /// This configuration with another line limit.
    pub const fn with_max_line(mut self, bytes: u32) -> Self {
        self.max_line = bytes;
        self
    }

    /// This configuration with another idle timeout (`None`: never).
    pub const fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// This configuration with another drain timeout.
    pub const fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// A [`Config`] that [`Config::validate`] accepted; the only way to get
/// one, so a session never sees limits the contract forbids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidConfig(Config);

impl ValidConfig {
    /// The contract's server defaults.
    pub const DEFAULT: ValidConfig = ValidConfig(Config::DEFAULT);

    /// The settings themselves.
    pub const fn get(&self) -> &Config {
        &self.0
    }
}

impl Default for ValidConfig {
    fn default() -> Self {
        ValidConfig::DEFAULT
    }
}

impl core::ops::Deref for ValidConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.0
    }
}

/// What a session keeps of its [`ValidConfig`]: the same settings,
/// packed (an idle timeout of zero is "off" in the contract, so the
/// timeout is a non-zero count), because every connection holds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) framing: Framing,
    /// The web framing may be chosen: on TCP, never on a serial link.
    #[cfg(feature = "web")]
    pub(crate) web: bool,
    pub(crate) transform: TransformKind,
    pub(crate) max_payload: u32,
    pub(crate) max_line: u32,
    idle_micros: Option<core::num::NonZeroU64>,
    pub(crate) drain_timeout: Duration,
}

impl Settings {
    pub(crate) const fn new(c: &ValidConfig) -> Self {
        let c = c.get();
        let idle_micros = match c.idle_timeout {
            Some(t) => core::num::NonZeroU64::new(t.as_micros()),
            None => None,
        };
        Settings {
            framing: c.framing,
            #[cfg(feature = "web")]
            web: true,
            transform: c.transform,
            max_payload: c.max_payload,
            max_line: c.max_line,
            idle_micros,
            drain_timeout: c.drain_timeout,
        }
    }

    /// The idle timeout; `None` when off (or configured as zero).
    pub(crate) fn idle_timeout(&self) -> Option<Duration> {
        self.idle_micros.map(|m| Duration::from_micros(m.get()))
    }
}
