//! Turning frames drawn column by column (where every Voxel Space span is contiguous)
//! into the row-major order of screens, and back.

/// `src` is `rows` x `cols`, row-major with rows `stride` bytes apart; writes its
/// transpose into `dst`. Whole 8x8 blocks go through registers as eight `u64`s; the
/// ragged edges byte by byte.
pub(crate) fn transpose(src: &[u8], stride: usize, rows: usize, cols: usize, dst: &mut [u8]) {
    let (r8, c8) = (rows / 8 * 8, cols / 8 * 8);
    for r0 in (0..r8).step_by(8) {
        for c0 in (0..c8).step_by(8) {
            let mut x = [0u64; 8];
            for (i, word) in x.iter_mut().enumerate() {
                let at = (r0 + i) * stride + c0;
                *word = u64::from_le_bytes(src[at..at + 8].try_into().unwrap_or_default());
            }
            transpose8(&mut x);
            for (j, word) in x.iter().enumerate() {
                let at = (c0 + j) * rows + r0;
                dst[at..at + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
    }
    let edge = |r: usize, c: usize, dst: &mut [u8]| dst[c * rows + r] = src[r * stride + c];
    for r in 0..rows {
        for c in c8..cols {
            edge(r, c, dst);
        }
    }
    for r in r8..rows {
        for c in 0..c8 {
            edge(r, c, dst);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_any_shape() {
        for (rows, cols) in [(8, 8), (16, 24), (13, 7), (3, 20), (21, 45)] {
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
