//! The ascii passes with AVX2, chosen at run time (feature `runtime-avx2`,
//! x86-64 only).
//!
//! A portable x86-64 build may assume SSE2 and nothing newer, yet most
//! machines it runs on have AVX2, which does the pass in half the
//! instructions (32 bytes a vector instead of 16). Picking it at run time
//! means calling code compiled for a feature the build does not assume,
//! which in Rust takes `unsafe`; this crate forbids `unsafe`, so the call
//! goes through `pulp`: [`V3::try_new`] checks the CPU (and, with `std`,
//! that the OS saves the 256-bit registers) once and caches the answer,
//! and [`V3::vectorize`] runs a closure compiled with AVX2, whose
//! intrinsics `pulp` wraps as safe methods of that proof.
//!
//! `pulp`'s `V3` is x86-64-v3: AVX2 with FMA, BMI1/2, LZCNT and SSE4,
//! which CPUs with AVX2 have in practice (a VM may hide some: then the
//! portable loops run). Each function returns `false` (doing nothing)
//! without it, and the caller runs its portable loop. Both compute the
//! same bytes:
//! the tests below compare the two directly, and those of `ascii.rs` and
//! `ws.rs` run whichever this machine takes.

use core::arch::x86_64::__m256i;
use pulp::bytemuck::cast;
use pulp::x86::V3;

/// Below this many bytes the portable loop is as fast, and a line's
/// answer pays no dispatch.
pub(crate) const MIN_LEN: usize = 128;

const LANES: usize = 32;

/// The constants of the signed range check (see `ascii::upper`).
struct Upper {
    shift: __m256i,
    below: __m256i,
    bit: __m256i,
}

impl Upper {
    #[inline(always)]
    fn new(simd: V3) -> Self {
        Upper {
            shift: simd.avx._mm256_set1_epi8(0x1F),
            below: simd.avx._mm256_set1_epi8(-102),
            bit: simd.avx._mm256_set1_epi8(0x20),
        }
    }

    /// `a..=z` of 32 bytes become `A..=Z`.
    #[inline(always)]
    fn apply(&self, simd: V3, x: __m256i) -> __m256i {
        let shifted = simd.avx2._mm256_add_epi8(x, self.shift);
        let lower = simd.avx2._mm256_cmpgt_epi8(self.below, shifted);
        simd.avx2
            ._mm256_xor_si256(x, simd.avx2._mm256_and_si256(lower, self.bit))
    }
}

/// Runs `f` compiled with AVX2, given the proof and the constants, or
/// `None` when the CPU is not x86-64-v3.
#[inline(always)]
fn run<R>(f: impl FnOnce(V3, &Upper) -> R) -> Option<R> {
    let simd = V3::try_new()?;
    Some(simd.vectorize(
        #[inline(always)]
        || f(simd, &Upper::new(simd)),
    ))
}

/// Uppercases `buf` in place; `false` (and nothing done) without
/// x86-64-v3.
pub(crate) fn upper_in_place(buf: &mut [u8]) -> bool {
    run(
        #[inline(always)]
        |simd, up| {
            let (blocks, rest) = pulp::as_arrays_mut::<LANES, u8>(buf);
            for b in blocks {
                *b = cast(up.apply(simd, cast(*b)));
            }
            for b in rest {
                *b = super::ascii::upper(*b);
            }
        },
    )
    .is_some()
}

/// Uppercases `input` into `out` (as many bytes as the shorter has);
/// `false` (and nothing done) without x86-64-v3.
pub(crate) fn upper_into(input: &[u8], out: &mut [u8]) -> bool {
    run(
        #[inline(always)]
        |simd, up| {
            let n = input.len().min(out.len());
            let (ins, in_rest) = pulp::as_arrays::<LANES, u8>(&input[..n]);
            let (outs, out_rest) = pulp::as_arrays_mut::<LANES, u8>(&mut out[..n]);
            for (o, i) in outs.iter_mut().zip(ins) {
                *o = cast(up.apply(simd, cast(*i)));
            }
            for (o, &b) in out_rest.iter_mut().zip(in_rest) {
                *o = super::ascii::upper(b);
            }
        },
    )
    .is_some()
}

/// `ws::unmask_within` with AVX2: unmasks the `n` bytes at `from` with
/// `key` (the mask repeated from the payload's phase), writes them at
/// `to <= from`, uppercased when `UPPER`. `Some(all ASCII)`, or `None`
/// (nothing done) without x86-64-v3. Blocks go in ascending order, each read
/// whole before it is written, so none overwrites input not yet read.
#[cfg(feature = "web")]
pub(crate) fn unmask_within<const UPPER: bool>(
    buf: &mut [u8],
    from: usize,
    to: usize,
    n: usize,
    key: [u8; LANES],
) -> Option<bool> {
    // One slice from the first write to the last read: the loop below
    // then indexes it with offsets only, and its bounds are checked once.
    let gap = from - to;
    let span = &mut buf[to..from + n];
    run(
        #[inline(always)]
        move |simd, up| {
            let key_v: __m256i = cast(key);
            let mut high = simd.avx._mm256_setzero_si256();
            let mut i = 0;
            while i + LANES <= n {
                let block: [u8; LANES] = span[gap + i..gap + i + LANES]
                    .try_into()
                    .expect("a block is LANES bytes");
                let plain = simd.avx2._mm256_xor_si256(cast(block), key_v);
                high = simd.avx2._mm256_or_si256(high, plain);
                let answer = if UPPER { up.apply(simd, plain) } else { plain };
                span[i..i + LANES].copy_from_slice(&cast::<__m256i, [u8; LANES]>(answer));
                i += LANES;
            }
            let mut tail = 0u8;
            for (j, k) in (i..n).enumerate() {
                let b = span[gap + k] ^ key[j];
                tail |= b;
                span[k] = if UPPER { super::ascii::upper(b) } else { b };
            }
            // A byte of 0x80 or more sets its sign bit, which movemask
            // gathers.
            simd.avx2._mm256_movemask_epi8(high) == 0 && tail < 0x80
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::ascii::portable;

    /// Every byte value at every position, over lengths around the
    /// vector's and the threshold's.
    fn sample(len: usize) -> [u8; 700] {
        core::array::from_fn(|i| if i < len { (i * 37 + 11) as u8 } else { 0 })
    }

    #[test]
    fn avx2_matches_the_portable_loops() {
        // Without x86-64-v3 there is nothing to compare; the next test
        // shows which path this machine takes.
        for len in (0..300).chain([511, 512, 513, 699]) {
            let input = sample(len);
            let mut want = input;
            portable::upper_in_place(&mut want[..len]);
            let mut std_want = input;
            std_want[..len].make_ascii_uppercase();
            assert_eq!(want, std_want, "portable, len {len}");
            let mut here = input;
            if upper_in_place(&mut here[..len]) {
                assert_eq!(here[..], want[..], "in place, len {len}");
            }
            let mut out = [0u8; 700];
            let mut portable_out = [0u8; 700];
            portable::upper_into(&input[..len], &mut portable_out[..len]);
            assert_eq!(portable_out[..len], want[..len], "portable into, len {len}");
            if upper_into(&input[..len], &mut out[..len]) {
                assert_eq!(out[..len], want[..len], "into, len {len}");
            }
        }
    }

    #[test]
    fn the_avx2_path_is_taken_where_the_cpu_has_it() {
        let has = V3::is_available();
        assert_eq!(upper_in_place(&mut [0u8; 64]), has);
        assert_eq!(upper_into(&[0u8; 64], &mut [0u8; 64]), has);
    }
}
