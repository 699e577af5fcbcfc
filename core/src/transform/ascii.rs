use super::Transform;

/// `a..=z` become `A..=Z`; every other byte is unchanged (Python's
/// `bytes.upper()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ascii;

impl Transform for Ascii {
    const MAX_HELD: usize = 0;
    const LENGTH_PRESERVING: bool = true;

    #[inline]
    fn apply(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let n = input.len().min(out.len());
        upper_into(&input[..n], &mut out[..n]);
        (n, n)
    }

    fn flush(&mut self, _out: &mut [u8]) -> usize {
        0
    }
}

/// One pass, branch-free per byte, so the compiler vectorises it.
#[inline]
pub(crate) fn upper_into(input: &[u8], out: &mut [u8]) {
    for (o, &b) in out.iter_mut().zip(input) {
        *o = b ^ (((b.wrapping_sub(b'a') < 26) as u8) << 5);
    }
}

/// [`upper_into`] onto the same bytes.
#[inline]
pub(crate) fn upper_in_place(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        *b ^= ((b.wrapping_sub(b'a') < 26) as u8) << 5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_for_every_byte() {
        let input: [u8; 256] = core::array::from_fn(|i| i as u8);
        let mut out = [0u8; 256];
        assert_eq!(Ascii.apply(&input, &mut out), (256, 256));
        for (i, o) in input.iter().zip(out.iter()) {
            assert_eq!(*o, i.to_ascii_uppercase());
        }
    }

    #[test]
    fn stops_at_the_smaller_side() {
        let mut out = [0u8; 3];
        assert_eq!(Ascii.apply(b"hello", &mut out), (3, 3));
        assert_eq!(&out, b"HEL");
    }
}
