//! Palette indices to the I420 pictures a video encoder takes: one table lookup a pixel
//! for luma, the mean of a 2x2 block's chroma for the colour planes.
//!
//! BT.601 with limited ("video") range: what an H.264 stream without colour signalling
//! means to every decoder, and what the stream also says in its VUI, so a browser turns
//! it back into the palette's colours without a shift.

use shared::map::Palette;

/// Each palette entry's Y, Cb and Cr, chroma kept to 1/4 unit so a 2x2 mean rounds
/// once, and luma to 1/16 with the share of its chroma that luma can make up for.
#[derive(Clone)]
pub struct YuvTable {
    /// Y times 16.
    y16: [i32; 256],
    /// Cb and Cr times 4, side by side.
    uv4: [[u16; 2]; 256],
    /// How much the pixel's R+G+B moves with its own chroma, in Y units times 16: a block
    /// shares one chroma, and each pixel's luma takes back what that costs its
    /// brightness (the least-squares best luma for the block's chroma: "sharp" YUV).
    mix16: [i32; 256],
}

impl YuvTable {
    pub fn new(palette: &Palette) -> YuvTable {
        // R+G+B per unit of Cb and Cr (the columns of the inverse matrix, summed), over
        // three times R+G+B per unit of Y: the luma change that restores the pixel's
        // mean channel when its chroma moves.
        let (kc, ky) = (255.0 / 224.0, 255.0 / 219.0);
        let (per_cb, per_cr) = (
            (1.772 - 0.344_136) * kc / (3.0 * ky),
            (1.402 - 0.714_136) * kc / (3.0 * ky),
        );
        let mut y16 = [0i32; 256];
        let mut uv4 = [[0u16; 2]; 256];
        let mut mix16 = [0i32; 256];
        for (i, &[r, g, b]) in palette.0.iter().enumerate() {
            let (y, cb, cr) = rgb_to_ycbcr(r, g, b);
            y16[i] = (y * 16.0).round() as i32;
            uv4[i] = [
                (cb * 4.0).round().clamp(64.0, 960.0) as u16,
                (cr * 4.0).round().clamp(64.0, 960.0) as u16,
            ];
            mix16[i] = (16.0 * (per_cb * cb + per_cr * cr)).round() as i32;
        }
        YuvTable { y16, uv4, mix16 }
    }
}

/// BT.601 limited range, the textbook coefficients.
pub fn rgb_to_ycbcr(r: u8, g: u8, b: u8) -> (f32, f32, f32) {
    let (r, g, b) = (r as f32, g as f32, b as f32);
    (
        16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0,
        128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0,
        128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0,
    )
}

/// The inverse, as a decoder does it: for measuring what a viewer sees.
pub fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let y = (y as f32 - 16.0) * 255.0 / 219.0;
    let cb = (cb as f32 - 128.0) * 255.0 / 224.0;
    let cr = (cr as f32 - 128.0) * 255.0 / 224.0;
    let c = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    [
        c(y + 1.402 * cr),
        c(y - 0.344_136 * cb - 0.714_136 * cr),
        c(y + 1.772 * cb),
    ]
}

/// An I420 picture of even size (a frame of odd size repeats its last row or column).
#[derive(Default)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Picture {
    /// Fills the picture from a frame stored column by column (`columns[x * stride..]`,
    /// `height` indices each, top first), as the renderer leaves it: the encoder needs no
    /// row-major copy of the frame.
    pub fn fill_from_columns(
        &mut self,
        table: &YuvTable,
        columns: &[u8],
        stride: usize,
        width: usize,
        height: usize,
    ) {
        let (w2, h2) = ((width + 1) & !1, (height + 1) & !1);
        self.width = w2;
        self.height = h2;
        self.y.resize(w2 * h2, 0);
        self.u.resize(w2 * h2 / 4, 0);
        self.v.resize(w2 * h2 / 4, 0);
        if width == 0 || height == 0 {
            return;
        }
        let column = |x: usize| {
            let x = x.min(width - 1);
            &columns[x * stride..][..height]
        };
        for cx in 0..w2 / 2 {
            let (c0, c1) = (column(2 * cx), column(2 * cx + 1));
            for cy in 0..h2 / 2 {
                let (r0, r1) = (2 * cy, (2 * cy + 1).min(height - 1));
                let p = [c0[r0], c1[r0], c0[r1], c1[r1]];
                let row0 = 2 * cy * w2 + 2 * cx;
                let mix = p.map(|i| table.mix16[i as usize]);
                let mean = (mix[0] + mix[1] + mix[2] + mix[3]) / 4;
                let y = |k: usize| {
                    ((table.y16[p[k] as usize] + mix[k] - mean + 8) >> 4).clamp(1, 254) as u8
                };
                self.y[row0] = y(0);
                self.y[row0 + 1] = y(1);
                self.y[row0 + w2] = y(2);
                self.y[row0 + w2 + 1] = y(3);
                let sum = |k: usize| -> u16 { p.iter().map(|&i| table.uv4[i as usize][k]).sum() };
                let at = cy * (w2 / 2) + cx;
                // Four quarter-units of four pixels: /16, rounded.
                self.u[at] = ((sum(0) + 8) / 16) as u8;
                self.v[at] = ((sum(1) + 8) / 16) as u8;
            }
        }
    }

    /// The RGB a decoder shows for this picture, cropped to `width` x `height`.
    pub fn to_rgb(&self, width: usize, height: usize) -> Vec<[u8; 3]> {
        self.planes().to_rgb(width, height)
    }
}

/// Planes of a decoded picture and their strides (Y, then U and V).
pub struct Planes<'a> {
    pub y: &'a [u8],
    pub u: &'a [u8],
    pub v: &'a [u8],
    pub strides: (usize, usize, usize),
}

impl<'a> Planes<'a> {
    /// The planes of a decoded picture (OpenH264's decoder or any other source).
    pub fn of(source: &'a impl openh264::formats::YUVSource) -> Planes<'a> {
        Planes {
            y: source.y(),
            u: source.u(),
            v: source.v(),
            strides: source.strides(),
        }
    }

    /// The RGB a viewer sees of the top-left `width` x `height`, row by row.
    pub fn to_rgb(&self, width: usize, height: usize) -> Vec<[u8; 3]> {
        let (s0, s1, _) = self.strides;
        let mut out = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                let c = (y / 2) * s1 + x / 2;
                out.push(ycbcr_to_rgb(self.y[y * s0 + x], self.u[c], self.v[c]));
            }
        }
        out
    }
}

impl Picture {
    pub fn planes(&self) -> Planes<'_> {
        Planes {
            y: &self.y,
            u: &self.u,
            v: &self.v,
            strides: (self.width, self.width / 2, self.width / 2),
        }
    }
}

/// PSNR (RGB, dB) of a decoded picture against the frame it was made from, stored
/// column by column like [`Picture::fill_from_columns`] takes it.
pub fn psnr_columns(
    palette: &Palette,
    columns: &[u8],
    stride: usize,
    (width, height): (usize, usize),
    seen: &Planes,
) -> f64 {
    let mut se = 0u64;
    for x in 0..width {
        let column = &columns[x * stride..][..height];
        for (y, &index) in column.iter().enumerate() {
            let (s0, s1, _) = seen.strides;
            let c = (y / 2) * s1 + x / 2;
            let rgb = ycbcr_to_rgb(seen.y[y * s0 + x], seen.u[c], seen.v[c]);
            let want = palette.0[index as usize];
            se += (0..3)
                .map(|k| (want[k] as i64 - rgb[k] as i64).pow(2) as u64)
                .sum::<u64>();
        }
    }
    mse_to_psnr(se as f64 / (width * height * 3).max(1) as f64)
}

fn mse_to_psnr(mse: f64) -> f64 {
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// Peak signal-to-noise ratio of `seen` against the palette colours of `indices`, over
/// R, G and B, in dB (infinite when equal).
pub fn psnr(palette: &Palette, indices: &[u8], seen: &[[u8; 3]]) -> f64 {
    let se: f64 = (indices.iter().zip(seen))
        .map(|(&i, s)| {
            let p = palette.0[i as usize];
            (0..3)
                .map(|k| (p[k] as f64 - s[k] as f64).powi(2))
                .sum::<f64>()
        })
        .sum();
    mse_to_psnr(se / (indices.len().max(1) * 3) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn palette() -> Palette {
        let mut p = Palette([[0; 3]; 256]);
        for (i, c) in p.0.iter_mut().enumerate() {
            *c = [i as u8, (i * 7 % 256) as u8, (255 - i) as u8];
        }
        p
    }

    #[test]
    fn a_flat_picture_comes_back_within_rounding() {
        let palette = palette();
        let table = YuvTable::new(&palette);
        for index in [0u8, 17, 128, 255] {
            let columns = vec![index; 6 * 4];
            let mut pic = Picture::default();
            pic.fill_from_columns(&table, &columns, 4, 6, 4);
            let rgb = pic.to_rgb(6, 4);
            for (k, (&seen, &want)) in rgb[0].iter().zip(&palette.0[index as usize]).enumerate() {
                assert!(
                    seen.abs_diff(want) <= 2,
                    "index {index} channel {k}: {seen} vs {want}"
                );
            }
            assert!(psnr(&palette, &[index; 24], &rgb) > 40.0);
        }
    }

    #[test]
    fn odd_sizes_are_padded_by_repeating_the_edge() {
        let table = YuvTable::new(&palette());
        // 3 columns of 3 rows: column x holds index 10 * x + row.
        let columns: Vec<u8> = (0..3)
            .flat_map(|x| (0..3).map(move |y| 10 * x + y))
            .collect();
        let mut pic = Picture::default();
        pic.fill_from_columns(&table, &columns, 3, 3, 3);
        assert_eq!((pic.width, pic.height), (4, 4));
        let y = |x: usize, row: usize| pic.y[row * 4 + x];
        assert_eq!(y(3, 1), y(2, 1), "last column repeated");
        assert_eq!(y(2, 3), y(2, 2), "last row repeated");
        assert_eq!(pic.u.len(), 4);
    }
}
