use super::{ErrorCode, Header, Kind, HEADER_LEN};

/// The longest ERROR frame this crate builds: header, code and up to 57
/// bytes of reason, so that it fits a session's control queue.
pub const ERROR_FRAME_MAX: usize = 64;

/// An ERROR frame built on the stack: header, code u16 BE, reason.
///
/// ```
/// use shout_core::wire::{ErrorCode, ErrorFrame};
/// let f = ErrorFrame::new(ErrorCode::Busy, &[b"server busy"]);
/// assert_eq!(f.as_bytes(), b"\x05\0\0\0\x0d\0\x06server busy");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorFrame {
    bytes: [u8; ERROR_FRAME_MAX],
    len: u8,
}

impl ErrorFrame {
    /// An ERROR with `code` and the reason made of `parts` in order, cut
    /// to fit [`ERROR_FRAME_MAX`] (the reason is free text; a cut can only
    /// shorten it).
    pub fn new(code: ErrorCode, parts: &[&[u8]]) -> ErrorFrame {
        let mut bytes = [0u8; ERROR_FRAME_MAX];
        let mut n = HEADER_LEN + 2;
        for p in parts {
            let take = p.len().min(ERROR_FRAME_MAX - n);
            bytes[n..n + take].copy_from_slice(&p[..take]);
            n += take;
        }
        let header = Header::new(Kind::Error, (n - HEADER_LEN) as u32).to_bytes();
        bytes[..HEADER_LEN].copy_from_slice(&header);
        bytes[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&code.as_u16().to_be_bytes());
        ErrorFrame {
            bytes,
            len: n as u8,
        }
    }

    /// The frame's wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reason_is_cut_to_fit() {
        let long = [b'x'; 100];
        let f = ErrorFrame::new(ErrorCode::Malformed, &[&long]);
        assert_eq!(f.as_bytes().len(), ERROR_FRAME_MAX);
        let h = Header::parse_prefix(f.as_bytes()).unwrap();
        assert_eq!(h.len as usize, ERROR_FRAME_MAX - HEADER_LEN);
    }
}
