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

/// One byte's uppercase, branch-free. With vectors, adding 0x1F puts
/// `a..=z` at 0x80..=0x99, the only bytes below -102 as `i8`: one signed
/// compare (SSE2 has no unsigned one), so 16 bytes cost an add, a
/// compare, an and and a xor. Byte by byte, the unsigned range check is
/// the shorter code.
#[inline(always)]
pub(crate) const fn upper(b: u8) -> u8 {
    let lower = if STEP == 1 {
        is_lower_unsigned(b)
    } else {
        is_lower_signed(b)
    };
    b ^ ((lower as u8) << 5)
}

#[inline(always)]
const fn is_lower_unsigned(b: u8) -> bool {
    b.wrapping_sub(b'a') < 26
}

#[inline(always)]
const fn is_lower_signed(b: u8) -> bool {
    (b.wrapping_add(0x1F) as i8) < -102
}

/// Bytes per step of the loops below: four SSE2 or NEON vectors, so the
/// loop's own counting is paid once per 64 bytes. A target without such
/// vectors (a Cortex-M) takes a byte a step and keeps the flash of one
/// small loop.
const STEP: usize = if cfg!(any(target_feature = "sse2", target_feature = "neon")) {
    64
} else {
    1
};

/// `input` uppercased into `out`, as many bytes as the shorter has: with
/// feature `runtime-avx2`, long passes in AVX2 where the CPU has it, else
/// [`portable::upper_into`].
#[inline]
pub(crate) fn upper_into(input: &[u8], out: &mut [u8]) {
    #[cfg(all(feature = "runtime-avx2", target_arch = "x86_64"))]
    if input.len() >= super::avx2::MIN_LEN && super::avx2::upper_into(input, out) {
        return;
    }
    portable::upper_into(input, out);
}

/// [`upper_into`] onto the same bytes.
#[inline]
pub(crate) fn upper_in_place(buf: &mut [u8]) {
    #[cfg(all(feature = "runtime-avx2", target_arch = "x86_64"))]
    if buf.len() >= super::avx2::MIN_LEN && super::avx2::upper_in_place(buf) {
        return;
    }
    portable::upper_in_place(buf);
}

/// The passes every target has: branch-free per byte, so the compiler
/// vectorises them for the vectors the build assumes.
pub(crate) mod portable {
    use super::{upper, STEP};

    /// `input` uppercased into `out`, as many bytes as the shorter has.
    #[inline]
    pub(crate) fn upper_into(input: &[u8], out: &mut [u8]) {
        if STEP == 1 {
            for (o, &b) in out.iter_mut().zip(input) {
                *o = upper(b);
            }
            return;
        }
        let n = input.len().min(out.len());
        let (input, out) = (&input[..n], &mut out[..n]);
        let mut ins = input.chunks_exact(STEP);
        let mut outs = out.chunks_exact_mut(STEP);
        for (i, o) in (&mut ins).zip(&mut outs) {
            for (o, &b) in o.iter_mut().zip(i) {
                *o = upper(b);
            }
        }
        for (o, &b) in outs.into_remainder().iter_mut().zip(ins.remainder()) {
            *o = upper(b);
        }
    }

    /// [`upper_into`] onto the same bytes.
    #[inline]
    pub(crate) fn upper_in_place(buf: &mut [u8]) {
        if STEP == 1 {
            for b in buf.iter_mut() {
                *b = upper(*b);
            }
            return;
        }
        let mut steps = buf.chunks_exact_mut(STEP);
        for c in &mut steps {
            for b in c.iter_mut() {
                *b = upper(*b);
            }
        }
        for b in steps.into_remainder() {
            *b = upper(*b);
        }
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
    fn both_range_checks_find_exactly_the_lowercase_letters() {
        for b in 0..=255u8 {
            assert_eq!(is_lower_unsigned(b), b.is_ascii_lowercase(), "{b:#04x}");
            assert_eq!(is_lower_signed(b), b.is_ascii_lowercase(), "{b:#04x}");
        }
    }

    #[test]
    fn every_length_and_offset_in_place_and_into() {
        let all: [u8; 256] = core::array::from_fn(|i| i as u8);
        let bytes: [u8; 600] = core::array::from_fn(|i| all[(i * 7 + 3) % 256]);
        for start in 0..3 {
            for len in 0..bytes.len() - start {
                let src = &bytes[start..start + len];
                let mut into = [0u8; 600];
                upper_into(src, &mut into[..len]);
                let mut here = [0u8; 600];
                here[..len].copy_from_slice(src);
                upper_in_place(&mut here[..len]);
                // The portable loops too, whichever path the machine
                // takes above.
                let mut p_into = [0u8; 600];
                portable::upper_into(src, &mut p_into[..len]);
                let mut p_here = [0u8; 600];
                p_here[..len].copy_from_slice(src);
                portable::upper_in_place(&mut p_here[..len]);
                for (k, &b) in src.iter().enumerate() {
                    let want = b.to_ascii_uppercase();
                    assert_eq!(into[k], want, "start {start} len {len} at {k}");
                    assert_eq!(here[k], want);
                    assert_eq!(p_into[k], want, "portable, start {start} len {len} at {k}");
                    assert_eq!(p_here[k], want);
                }
            }
        }
    }

    #[test]
    fn stops_at_the_smaller_side() {
        let mut out = [0u8; 3];
        assert_eq!(Ascii.apply(b"hello", &mut out), (3, 3));
        assert_eq!(&out, b"HEL");
    }
}
