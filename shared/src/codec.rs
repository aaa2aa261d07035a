//! Frame payload encodings. A Voxel Space column is a stack of one-colour spans, so the
//! frame is sent as runs, column by column: the run lengths, then their colours (two
//! planes that each deflate well), through a fast deflate. Raw row-major indices stay as
//! the baseline that every client understands.

use crate::camera::Viewport;
use crate::protocol::FrameEncoding;
use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("payload is not a valid {0}-pixel frame")]
    Corrupt(usize),
}

/// Deflate effort: level 1 already finds the repeats in both planes (level 6 gains 7 %
/// for 7x the time).
const LEVEL: u8 = 1;

/// Reusable scratch space for encoding frames.
#[derive(Default)]
pub struct FrameEncoder {
    planes: Vec<u8>,
    colours: Vec<u8>,
    out: Vec<u8>,
}

impl FrameEncoder {
    pub fn new() -> FrameEncoder {
        FrameEncoder::default()
    }

    /// Encodes row-major `indices` (`viewport.pixels()` bytes).
    pub fn encode<'a>(
        &'a mut self,
        indices: &'a [u8],
        viewport: Viewport,
        encoding: FrameEncoding,
    ) -> &'a [u8] {
        match encoding {
            FrameEncoding::Raw => indices,
            FrameEncoding::Runs => {
                let (w, h) = (viewport.width(), viewport.height());
                // planes = [run count u32][length-1 per run][colour per run]
                self.planes.clear();
                self.planes.extend_from_slice(&[0; 4]);
                self.colours.clear();
                for x in 0..w {
                    let mut y = 0;
                    while y < h {
                        let colour = indices[y * w + x];
                        let mut end = y + 1;
                        while end < h && end - y < 256 && indices[end * w + x] == colour {
                            end += 1;
                        }
                        self.planes.push((end - y - 1) as u8);
                        self.colours.push(colour);
                        y = end;
                    }
                }
                let runs = self.colours.len() as u32;
                self.planes[..4].copy_from_slice(&runs.to_le_bytes());
                self.planes.extend_from_slice(&self.colours);
                self.out = miniz_oxide::deflate::compress_to_vec(&self.planes, LEVEL);
                &self.out
            }
        }
    }
}

/// Decodes a payload into row-major indices in `out` (`viewport.pixels()` bytes).
/// Never panics on bad input.
pub fn decode(
    payload: &[u8],
    viewport: Viewport,
    encoding: FrameEncoding,
    out: &mut [u8],
) -> Result<(), CodecError> {
    let n = viewport.pixels();
    let corrupt = CodecError::Corrupt(n);
    if out.len() != n {
        return Err(corrupt);
    }
    match encoding {
        FrameEncoding::Raw => {
            if payload.len() != n {
                return Err(corrupt);
            }
            out.copy_from_slice(payload);
        }
        FrameEncoding::Runs => {
            // At most one run per pixel: 4 + 2n bytes bounds the inflated size.
            let planes = miniz_oxide::inflate::decompress_to_vec_with_limit(payload, 4 + 2 * n)
                .map_err(|_| CodecError::Corrupt(n))?;
            let (count, rest) = planes
                .split_first_chunk::<4>()
                .ok_or(CodecError::Corrupt(n))?;
            let runs = u32::from_le_bytes(*count) as usize;
            if rest.len() != 2 * runs {
                return Err(corrupt);
            }
            let (lengths, colours) = rest.split_at(runs);
            let (w, h) = (viewport.width(), viewport.height());
            let (mut x, mut y) = (0, 0);
            for (&len, &colour) in lengths.iter().zip(colours) {
                let end = y + len as usize + 1;
                if x >= w || end > h {
                    return Err(corrupt);
                }
                for row in y..end {
                    out[row * w + x] = colour;
                }
                (x, y) = if end == h { (x + 1, 0) } else { (x, end) };
            }
            if (x, y) != (w, 0) {
                return Err(corrupt);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns of spans, like a rendered frame.
    fn frame(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| ((i % w) / 7) as u8 ^ ((i / w) / 9) as u8)
            .collect()
    }

    #[test]
    fn round_trips() {
        for (w, h) in [(64, 48), (70, 50), (64, 300)] {
            let v = Viewport::new(w as u32, h as u32).unwrap();
            let f = frame(w, h);
            let mut enc = FrameEncoder::new();
            let mut out = vec![0; v.pixels()];
            for e in [FrameEncoding::Raw, FrameEncoding::Runs] {
                let payload = enc.encode(&f, v, e).to_vec();
                decode(&payload, v, e, &mut out).unwrap();
                assert_eq!(out, f, "{e:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn runs_are_small() {
        let v = Viewport::new(70, 50).unwrap();
        let f = frame(70, 50);
        let n = FrameEncoder::new().encode(&f, v, FrameEncoding::Runs).len();
        assert!(n * 10 < v.pixels(), "{n} bytes");
    }

    #[test]
    fn rejects_bad_payloads() {
        let v = Viewport::new(64, 48).unwrap();
        let mut out = vec![0; v.pixels()];
        let bad = CodecError::Corrupt(3072);
        let deflate = |bytes: &[u8]| miniz_oxide::deflate::compress_to_vec(bytes, 1);
        assert_eq!(
            decode(&[1, 2, 3], v, FrameEncoding::Raw, &mut out),
            Err(bad.clone())
        );
        assert_eq!(
            decode(b"junk", v, FrameEncoding::Runs, &mut out),
            Err(bad.clone())
        );
        // 64 columns of one 48-pixel run each is right; one run too few or too long is not.
        let mut good = 64u32.to_le_bytes().to_vec();
        good.extend([47; 64]);
        good.extend([5; 64]);
        assert_eq!(
            decode(&deflate(&good), v, FrameEncoding::Runs, &mut out),
            Ok(())
        );
        assert!(out.iter().all(|&c| c == 5));
        let mut short = 63u32.to_le_bytes().to_vec();
        short.extend([47; 63]);
        short.extend([5; 63]);
        assert_eq!(
            decode(&deflate(&short), v, FrameEncoding::Runs, &mut out),
            Err(bad.clone())
        );
        let mut overlong = good.clone();
        overlong[4] = 48;
        assert_eq!(
            decode(&deflate(&overlong), v, FrameEncoding::Runs, &mut out),
            Err(bad.clone())
        );
        let mut lying = good;
        lying[0] = 200;
        assert_eq!(
            decode(&deflate(&lying), v, FrameEncoding::Runs, &mut out),
            Err(bad)
        );
    }
}
