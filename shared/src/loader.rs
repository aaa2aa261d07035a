//! Loading a colour-map + height-map PNG pair, the format of the classic Comanche maps.
//!
//! Takes bytes, not paths, so the crate stays free of I/O. Colour maps may be palette
//! PNGs (kept as they are when they use fewer than [`SKY_BASE`] colours) or any other
//! PNG (quantised to `SKY_BASE` colours with NeuQuant). Height maps are 8- or 16-bit grey
//! or palette; a height map of half the colour map's size is scaled up bilinearly.

use crate::map::{Map, MapError, Palette, SKY_BASE};
use std::io::Cursor;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot decode the {which} map PNG: {source}")]
    Png {
        which: &'static str,
        #[source]
        source: png::DecodingError,
    },
    #[error(
        "height map is {}x{}, colour map {}x{}: sizes must match or the height map be half as large",
        height.0, height.1, colour.0, colour.1
    )]
    SizeMismatch {
        colour: (u32, u32),
        height: (u32, u32),
    },
    #[error("{which} map: {source}")]
    Map {
        which: &'static str,
        #[source]
        source: MapError,
    },
}

/// Decodes a map from the bytes of its colour and height PNGs.
pub fn load_png_pair(colour_png: &[u8], height_png: &[u8]) -> Result<Map, LoadError> {
    let colour = decode("colour", colour_png)?;
    let height = decode("height", height_png)?;
    let (cw, ch) = (colour.width, colour.height);
    for (which, img) in [("colour", &colour), ("height", &height)] {
        // Reject odd sizes with a clear message before any scaling.
        if !(img.width.is_power_of_two() && img.height.is_power_of_two()) {
            return Err(LoadError::Map {
                which,
                source: MapError::BadSize {
                    width: img.width,
                    height: img.height,
                },
            });
        }
    }
    let heights = if (height.width, height.height) == (cw, ch) {
        height.luma()
    } else if (height.width * 2, height.height * 2) == (cw, ch) {
        upscale2(
            &height.luma(),
            height.width as usize,
            height.height as usize,
        )
    } else {
        return Err(LoadError::SizeMismatch {
            colour: (cw, ch),
            height: (height.width, height.height),
        });
    };
    let (colours, palette) = colour.indexed();
    Map::new(cw, ch, &heights, &colours, palette).map_err(|source| LoadError::Map {
        which: "colour",
        source,
    })
}

/// A decoded PNG: either palette indices with their palette, or 8-bit samples.
struct Image {
    width: u32,
    height: u32,
    /// 8-bit samples, `channels` per pixel.
    data: Vec<u8>,
    channels: usize,
    /// For palette images (then `channels` is 1 and `data` holds indices).
    palette: Option<Vec<[u8; 3]>>,
}

fn decode(which: &'static str, bytes: &[u8]) -> Result<Image, LoadError> {
    let err = |source| LoadError::Png { which, source };
    // Look at the header first: keep 8-bit palettes as indices, expand everything else.
    let header = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .map_err(err)?
        .info()
        .clone();
    let (w, h) = (header.width, header.height);
    if w > Map::MAX_SIDE || h > Map::MAX_SIDE {
        return Err(LoadError::Map {
            which,
            source: MapError::BadSize {
                width: w,
                height: h,
            },
        });
    }
    let keep_indices =
        header.color_type == png::ColorType::Indexed && header.bit_depth == png::BitDepth::Eight;
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(if keep_indices {
        png::Transformations::IDENTITY
    } else {
        png::Transformations::EXPAND | png::Transformations::STRIP_16
    });
    let mut reader = decoder.read_info().map_err(err)?;
    let size = reader
        .output_buffer_size()
        .ok_or(err(png::DecodingError::LimitsExceeded))?;
    let mut data = vec![0; size];
    let frame = reader.next_frame(&mut data).map_err(err)?;
    data.truncate(frame.buffer_size());
    let palette = match (keep_indices, &reader.info().palette) {
        (true, Some(p)) => Some(
            p.chunks_exact(3)
                .map(|c| [c[0], c[1], c[2]])
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    Ok(Image {
        width: w,
        height: h,
        channels: frame.color_type.samples(),
        data,
        palette,
    })
}

impl Image {
    fn rgb(&self, i: usize) -> [u8; 3] {
        if let Some(p) = &self.palette {
            return p.get(self.data[i] as usize).copied().unwrap_or_default();
        }
        let px = &self.data[i * self.channels..];
        match self.channels {
            1 | 2 => [px[0]; 3],
            _ => [px[0], px[1], px[2]],
        }
    }

    fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Grey level per pixel (heights).
    fn luma(&self) -> Vec<u8> {
        (0..self.pixels())
            .map(|i| {
                let [r, g, b] = self.rgb(i).map(u32::from);
                ((r * 77 + g * 150 + b * 29) >> 8) as u8
            })
            .collect()
    }

    /// Colour indices into a palette of at most `SKY_BASE` terrain colours.
    fn indexed(&self) -> (Vec<u8>, Palette) {
        let mut palette = Palette([[0; 3]; 256]);
        if let Some(p) = &self.palette {
            let max_used = self.data.iter().copied().max().unwrap_or(0) as usize;
            if max_used < SKY_BASE {
                for (dst, src) in palette.0.iter_mut().zip(p) {
                    *dst = *src;
                }
                return (self.data.clone(), palette);
            }
        }
        let rgba: Vec<u8> = (0..self.pixels())
            .flat_map(|i| {
                let [r, g, b] = self.rgb(i);
                [r, g, b, 255]
            })
            .collect();
        let quant = color_quant::NeuQuant::new(10, SKY_BASE, &rgba);
        for (dst, src) in palette
            .0
            .iter_mut()
            .zip(quant.color_map_rgb().chunks_exact(3))
        {
            *dst = [src[0], src[1], src[2]];
        }
        let indices = rgba
            .chunks_exact(4)
            .map(|px| quant.index_of(px) as u8)
            .collect();
        (indices, palette)
    }
}

/// Doubles a wrapping height map in both directions, bilinearly.
fn upscale2(src: &[u8], w: usize, h: usize) -> Vec<u8> {
    let at = |x: usize, y: usize| src[(y % h) * w + (x % w)] as u32;
    let mut out = vec![0u8; w * h * 4];
    for y in 0..h * 2 {
        for x in 0..w * 2 {
            let (sx, sy) = (x / 2, y / 2);
            let (fx, fy) = ((x % 2) as u32, (y % 2) as u32);
            let top = at(sx, sy) * (2 - fx) + at(sx + 1, sy) * fx;
            let bottom = at(sx, sy + 1) * (2 - fx) + at(sx + 1, sy + 1) * fx;
            out[y * w * 2 + x] = ((top * (2 - fy) + bottom * fy + 2) / 4) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(
        w: u32,
        h: u32,
        colour: png::ColorType,
        palette: Option<Vec<u8>>,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(colour);
        enc.set_depth(png::BitDepth::Eight);
        if let Some(p) = palette {
            enc.set_palette(p);
        }
        enc.write_header().unwrap().write_image_data(data).unwrap();
        out
    }

    fn grey(w: u32, h: u32, v: impl Fn(usize) -> u8) -> Vec<u8> {
        let data: Vec<u8> = (0..(w * h) as usize).map(v).collect();
        png(w, h, png::ColorType::Grayscale, None, &data)
    }

    #[test]
    fn palette_colour_map_keeps_indices() {
        let pal: Vec<u8> = (0..16u8).flat_map(|i| [i * 16, 0, 255 - i * 16]).collect();
        let data: Vec<u8> = (0..256).map(|i| (i % 16) as u8).collect();
        let colour = png(16, 16, png::ColorType::Indexed, Some(pal), &data);
        let map = load_png_pair(&colour, &grey(16, 16, |i| i as u8)).unwrap();
        assert_eq!(map.at(5, 0), (5, 5));
        assert_eq!(map.at(3, 2), (35, 3));
        assert_eq!(map.palette().0[3], [48, 0, 207]);
    }

    #[test]
    fn rgb_colour_map_is_quantised() {
        let data: Vec<u8> = (0..256)
            .flat_map(|i| {
                if i < 128 {
                    [250, 10, 10]
                } else {
                    [10, 10, 250]
                }
            })
            .collect();
        let colour = png(16, 16, png::ColorType::Rgb, None, &data);
        let map = load_png_pair(&colour, &grey(16, 16, |_| 7)).unwrap();
        let red = map.palette().0[map.at(0, 0).1 as usize];
        let blue = map.palette().0[map.at(0, 15).1 as usize];
        assert!(red[0] > 200 && red[2] < 60, "{red:?}");
        assert!(blue[2] > 200 && blue[0] < 60, "{blue:?}");
        assert!((map.at(0, 0).1 as usize) < SKY_BASE);
    }

    #[test]
    fn half_size_height_map_is_scaled_up() {
        let colour = grey(32, 32, |_| 1);
        let height = grey(16, 16, |i| if i % 16 == 0 { 100 } else { 0 });
        let map = load_png_pair(&colour, &height).unwrap();
        assert_eq!(map.at(0, 0).0, 100);
        assert_eq!(map.at(1, 0).0, 50);
        assert_eq!(map.at(2, 0).0, 0);
    }

    #[test]
    fn clear_errors() {
        let ok = grey(16, 16, |_| 0);
        let err = load_png_pair(b"nope", &ok).unwrap_err();
        assert!(
            matches!(
                err,
                LoadError::Png {
                    which: "colour",
                    ..
                }
            ),
            "{err}"
        );
        let err = load_png_pair(&ok, &grey(16, 8, |_| 0)).unwrap_err();
        assert!(matches!(err, LoadError::SizeMismatch { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "height map is 16x8, colour map 16x16: sizes must match or the height map be half as large"
        );
        let err = load_png_pair(&grey(24, 16, |_| 0), &ok).unwrap_err();
        assert!(
            matches!(
                err,
                LoadError::Map {
                    source: MapError::BadSize { width: 24, .. },
                    ..
                }
            ),
            "{err}"
        );
        let truncated = &ok[..ok.len() - 20];
        assert!(matches!(
            load_png_pair(&ok, truncated),
            Err(LoadError::Png {
                which: "height",
                ..
            })
        ));
    }
}
