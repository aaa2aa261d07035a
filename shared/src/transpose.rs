//! Turning frames drawn column by column (where every Voxel Space span is contiguous)
//! into the row-major order of screens, and back.

/// `src` is `rows` x `cols`, row-major with rows `stride` bytes apart; writes its
/// transpose into `dst`. Whole 16x16 blocks go through SSE2 registers on x86_64, the rest
/// in 8x8 blocks through `u64`s, the ragged edges byte by byte. (The same interleaving
/// with wasm's `i8x16.shuffle` measured no faster than the `u64`s in Chromium.)
pub(crate) fn transpose(src: &[u8], stride: usize, rows: usize, cols: usize, dst: &mut [u8]) {
    let (r16, c16) = if simd::AVAILABLE {
        (rows / 16 * 16, cols / 16 * 16)
    } else {
        (0, 0)
    };
    for r0 in (0..r16).step_by(16) {
        for c0 in (0..c16).step_by(16) {
            simd::block16(src, stride, r0, c0, rows, dst);
        }
    }
    let part = Part { src, stride, rows };
    part.by_eights(0..rows, c16..cols, dst);
    part.by_eights(r16..rows, 0..c16, dst);
}

/// The source matrix, for transposing a rectangle of it.
struct Part<'a> {
    src: &'a [u8],
    stride: usize,
    rows: usize,
}

impl Part<'_> {
    fn by_eights(&self, rs: core::ops::Range<usize>, cs: core::ops::Range<usize>, dst: &mut [u8]) {
        let (rows, stride, src) = (self.rows, self.stride, self.src);
        let r8 = rs.start + rs.len() / 8 * 8;
        let c8 = cs.start + cs.len() / 8 * 8;
        for r0 in (rs.start..r8).step_by(8) {
            for c0 in (cs.start..c8).step_by(8) {
                // One bounds check for each side of the block, as in `block16`.
                let block = &src[r0 * stride + c0..][..7 * stride + 8];
                // SAFETY: row `i < 8` of the block is `block[i * stride..][..8]`, within
                // the `7 * stride + 8` bytes checked.
                let mut x: [u64; 8] = core::array::from_fn(|i| unsafe {
                    u64::from_le(
                        block
                            .as_ptr()
                            .add(i * stride)
                            .cast::<u64>()
                            .read_unaligned(),
                    )
                });
                transpose8(&mut x);
                let out = &mut dst[c0 * rows + r0..][..7 * rows + 8];
                for (j, word) in x.iter().enumerate() {
                    // SAFETY: as for the loads, in `out` with rows `rows` bytes apart.
                    unsafe {
                        out.as_mut_ptr()
                            .add(j * rows)
                            .cast::<u64>()
                            .write_unaligned(word.to_le())
                    }
                }
            }
        }
        let edge = |r: usize, c: usize, dst: &mut [u8]| dst[c * rows + r] = src[r * stride + c];
        for r in rs.clone() {
            for c in c8..cs.end {
                edge(r, c, dst);
            }
        }
        for r in r8..rs.end {
            for c in cs.start..c8 {
                edge(r, c, dst);
            }
        }
    }
}

/// Transposes an 8x8 byte matrix held as eight little-endian rows: swap the 4x4
/// quadrants, then the 2x2 blocks, then single bytes.
fn transpose8(x: &mut [u64; 8]) {
    for (half, mask, pairs) in [
        (
            32,
            0x0000_0000_FFFF_FFFF_u64,
            [(0, 4), (1, 5), (2, 6), (3, 7)],
        ),
        (16, 0x0000_FFFF_0000_FFFF, [(0, 2), (1, 3), (4, 6), (5, 7)]),
        (8, 0x00FF_00FF_00FF_00FF, [(0, 1), (2, 3), (4, 5), (6, 7)]),
    ] {
        for (i, j) in pairs {
            let t = ((x[i] >> half) ^ x[j]) & mask;
            x[i] ^= t << half;
            x[j] ^= t;
        }
    }
}

/// 16x16 blocks by interleaving: with rows `r` and `r + 8` interleaved into rows `2r`
/// and `2r + 1`, a byte at row `abcd`, column `efgh` (bits) moves to row `bcde`, column
/// `fgha` — its 8-bit position rotates left by one. Four rounds rotate it by four, which
/// swaps row and column.
#[cfg(target_arch = "x86_64")]
mod simd {
    use core::arch::x86_64::{
        __m128i as V, _mm_loadu_si128, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };

    pub(super) const AVAILABLE: bool = true;

    fn interleave(a: V, b: V) -> (V, V) {
        // SAFETY: SSE2 is in x86_64's baseline.
        unsafe { (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b)) }
    }

    /// Transposes the 16x16 block at row `r0`, column `c0` of `src` into `dst`, whose
    /// rows are `rows` bytes long. One bounds check for each side of the block, not one
    /// per row: the checks were two thirds of the instructions of a block.
    ///
    /// # Panics
    /// If the block lies outside `src` or its transpose outside `dst`.
    #[inline(always)]
    pub(super) fn block16(
        src: &[u8],
        stride: usize,
        r0: usize,
        c0: usize,
        rows: usize,
        dst: &mut [u8],
    ) {
        let src = &src[r0 * stride + c0..][..15 * stride + 16];
        let dst = &mut dst[c0 * rows + r0..][..15 * rows + 16];
        // SAFETY: row `i < 16` of the block is `src[i * stride..][..16]`, within the
        // `15 * stride + 16` bytes checked above; SSE2 is in x86_64's baseline.
        let mut x: [V; 16] = core::array::from_fn(|i| unsafe {
            _mm_loadu_si128(src.as_ptr().add(i * stride).cast())
        });
        for _ in 0..4 {
            let mut y = x;
            for i in 0..8 {
                (y[2 * i], y[2 * i + 1]) = interleave(x[i], x[i + 8]);
            }
            x = y;
        }
        for (j, v) in x.into_iter().enumerate() {
            // SAFETY: as for the loads, in `dst` with rows `rows` bytes apart.
            unsafe { _mm_storeu_si128(dst.as_mut_ptr().add(j * rows).cast(), v) }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub(super) const AVAILABLE: bool = false;

    pub(super) fn block16(_: &[u8], _: usize, _: usize, _: usize, _: usize, _: &mut [u8]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_any_shape() {
        for (rows, cols) in [
            (8, 8),
            (16, 24),
            (13, 7),
            (3, 20),
            (21, 45),
            (16, 16),
            (40, 200),
            (200, 40),
            (33, 50),
        ] {
            let src: Vec<u8> = (0..rows * cols).map(|i| (i * 7 + 3) as u8).collect();
            let mut dst = vec![0; rows * cols];
            transpose(&src, cols, rows, cols, &mut dst);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} at {r},{c}"
                    );
                }
            }
        }
    }
}
