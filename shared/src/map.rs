//! Palette-indexed terrain maps: a colour index and a height per cell, power-of-two sides.
//!
//! Height and colour sit side by side in one `u16` per cell so that the renderer's
//! inner loop touches one cache line per sample, not two.

use thiserror::Error;

/// Palette entries `SKY_BASE..256` are the sky gradient, whatever the map: terrain uses
/// at most `SKY_BASE` colours, so the renderer can paint the sky into any map's frames.
pub const SKY_BASE: usize = 224;
pub const SKY_LEN: usize = 256 - SKY_BASE;
/// Number of distance-fog steps; step 0 is the identity.
pub const FOG_LEVELS: usize = 16;

pub type Rgb = [u8; 3];

/// 256 RGB colours.
#[derive(Clone, PartialEq, Eq)]
pub struct Palette(pub [Rgb; 256]);

impl std::fmt::Debug for Palette {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Palette([{:?}, ..])", self.0[0])
    }
}

impl Palette {
    /// The sky gradient, from the zenith (index `SKY_BASE`) to the horizon haze (255).
    pub fn with_sky(mut self) -> Palette {
        let zenith = [58i32, 104, 176];
        let haze = [200i32, 218, 232];
        for i in 0..SKY_LEN {
            let t = i as i32;
            let n = SKY_LEN as i32 - 1;
            let mix = |c: usize| (zenith[c] * (n - t) + haze[c] * t) / n;
            self.0[SKY_BASE + i] = [mix(0) as u8, mix(1) as u8, mix(2) as u8];
        }
        self
    }

    /// The colour fog fades towards: the horizon end of the sky.
    pub fn fog_colour(&self) -> Rgb {
        self.0[255]
    }

    /// Expands palette indices into RGBA8 pixels (alpha 255); `rgba` must be 4x `indices`.
    pub fn expand_rgba(&self, indices: &[u8], rgba: &mut [u8]) {
        assert_eq!(rgba.len(), indices.len() * 4, "rgba buffer size");
        for (px, &i) in rgba.chunks_exact_mut(4).zip(indices) {
            let [r, g, b] = self.0[i as usize];
            px.copy_from_slice(&[r, g, b, 255]);
        }
    }

    /// The palette as 768 bytes, RGB RGB …
    pub fn to_bytes(&self) -> [u8; 768] {
        let mut out = [0; 768];
        for (dst, c) in out.chunks_exact_mut(3).zip(&self.0) {
            dst.copy_from_slice(c);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8; 768]) -> Palette {
        let mut p = [[0; 3]; 256];
        for (c, src) in p.iter_mut().zip(bytes.chunks_exact(3)) {
            c.copy_from_slice(src);
        }
        Palette(p)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MapError {
    #[error("map size {width}x{height} is not a power of two from 16 to 4096 on each side")]
    BadSize { width: u32, height: u32 },
    #[error("map has {got} cells, {width}x{height} needs {expected}")]
    CellCount {
        width: u32,
        height: u32,
        expected: usize,
        got: usize,
    },
    #[error("colour index {index} is in the sky range {SKY_BASE}..256")]
    SkyColourInTerrain { index: u8 },
    #[error("map data is truncated or corrupt")]
    Corrupt,
}

/// A terrain map. Immutable once built; clone it or share it behind an `Arc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    width: u32,
    height: u32,
    /// `height | colour << 8` per cell, row-major.
    cells: Vec<u16>,
    palette: Palette,
    /// `fog[level * 256 + colour]`: the palette entry closest to `colour` faded by `level`.
    fog: Vec<u8>,
    /// The highest cell, so the renderer can skip what cannot rise into view.
    max_height: u8,
    /// The highest cell of each `BLOCK`x`BLOCK` block, row-major, for the same purpose.
    block_max: Vec<u8>,
    /// For each block, four maxima: of the block alone, with its right neighbour, with the
    /// one below, and of the 2x2 blocks it is the top left of (wrapping around).
    block_shapes: Vec<u8>,
}

fn block_shapes(block_max: &[u8], bw: usize, bh: usize) -> Vec<u8> {
    let at = |x: usize, y: usize| block_max[(y % bh) * bw + x % bw];
    let mut out = Vec::with_capacity(block_max.len() * 4);
    for y in 0..bh {
        for x in 0..bw {
            let (b, r, d, rd) = (at(x, y), at(x + 1, y), at(x, y + 1), at(x + 1, y + 1));
            out.extend([b, b.max(r), b.max(d), b.max(r).max(d).max(rd)]);
        }
    }
    out
}

/// Side of the blocks of [`Map::block_max`], in cells.
pub const BLOCK_SHIFT: u32 = 4;

impl Map {
    pub const MIN_SIDE: u32 = 16;
    pub const MAX_SIDE: u32 = 4096;

    /// Builds a map from per-cell heights and colour indices. The palette's sky range is
    /// replaced by the sky gradient.
    pub fn new(
        width: u32,
        height: u32,
        heights: &[u8],
        colours: &[u8],
        palette: Palette,
    ) -> Result<Map, MapError> {
        check_size(width, height)?;
        let expected = width as usize * height as usize;
        for got in [heights.len(), colours.len()] {
            if got != expected {
                return Err(MapError::CellCount {
                    width,
                    height,
                    expected,
                    got,
                });
            }
        }
        if let Some(&index) = colours.iter().find(|&&c| c as usize >= SKY_BASE) {
            return Err(MapError::SkyColourInTerrain { index });
        }
        let cells = heights
            .iter()
            .zip(colours)
            .map(|(&h, &c)| h as u16 | (c as u16) << 8)
            .collect();
        Ok(Self::from_cells(width, height, cells, palette))
    }

    fn from_cells(width: u32, height: u32, cells: Vec<u16>, palette: Palette) -> Map {
        let palette = palette.with_sky();
        let mut used = [false; 256];
        for &c in &cells {
            used[(c >> 8) as usize] = true;
        }
        let fog = fog_table(&palette, &used);
        let max_height = cells.iter().map(|&c| c as u8).max().unwrap_or(0);
        let (bw, bh) = (width >> BLOCK_SHIFT, height >> BLOCK_SHIFT);
        let mut block_max = vec![0u8; (bw * bh) as usize];
        for (i, &c) in cells.iter().enumerate() {
            let (x, y) = (i as u32 % width, i as u32 / width);
            let b = &mut block_max[((y >> BLOCK_SHIFT) * bw + (x >> BLOCK_SHIFT)) as usize];
            *b = (*b).max(c as u8);
        }
        let block_shapes = block_shapes(&block_max, bw as usize, bh as usize);
        Map {
            width,
            height,
            block_shapes,
            cells,
            palette,
            fog,
            max_height,
            block_max,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn palette(&self) -> &Palette {
        &self.palette
    }

    /// Row-major cells, `height | colour << 8`.
    pub fn cells(&self) -> &[u16] {
        &self.cells
    }

    pub fn max_height(&self) -> u8 {
        self.max_height
    }

    /// Highest cell per block of `1 << BLOCK_SHIFT` cells square, row-major.
    pub fn block_max(&self) -> &[u8] {
        &self.block_max
    }

    /// Four maxima a block (see the field): one lookup bounds a box of up to 2x2 blocks.
    pub fn block_shapes(&self) -> &[u8] {
        &self.block_shapes
    }

    /// `fog[level * 256 + colour]`: `colour` faded towards the haze by `level`.
    pub fn fog(&self) -> &[u8] {
        &self.fog
    }

    /// Height and colour at a cell; coordinates wrap around.
    pub fn at(&self, x: i64, y: i64) -> (u8, u8) {
        let xi = (x & (self.width as i64 - 1)) as usize;
        let yi = (y & (self.height as i64 - 1)) as usize;
        let c = self.cells[yi * self.width as usize + xi];
        (c as u8, (c >> 8) as u8)
    }

    /// Terrain height under a point, bilinearly interpolated, for terrain following.
    pub fn height_at(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (libm::floorf(x), libm::floorf(y));
        let (tx, ty) = (x - fx, y - fy);
        let (ix, iy) = (fx as i64, fy as i64);
        let h = |dx, dy| self.at(ix + dx, iy + dy).0 as f32;
        let top = h(0, 0) * (1.0 - tx) + h(1, 0) * tx;
        let bottom = h(0, 1) * (1.0 - tx) + h(1, 1) * tx;
        top * (1.0 - ty) + bottom * ty
    }

    /// Compact serialisation for sending the map to a browser: a header, the palette and
    /// the cells, deflated. Inverse of [`Map::from_compressed`].
    pub fn to_compressed(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(8 + 768 + self.cells.len() * 2);
        raw.extend_from_slice(&self.width.to_le_bytes());
        raw.extend_from_slice(&self.height.to_le_bytes());
        raw.extend_from_slice(&self.palette.to_bytes());
        // Heights then colours, as planes: each plane alone is smooth and deflates better.
        raw.extend(self.cells.iter().map(|&c| c as u8));
        raw.extend(self.cells.iter().map(|&c| (c >> 8) as u8));
        miniz_oxide::deflate::compress_to_vec(&raw, 6)
    }

    /// Decodes [`Map::to_compressed`] output; never panics on bad bytes.
    pub fn from_compressed(bytes: &[u8]) -> Result<Map, MapError> {
        let max = 8 + 768 + 2 * (Self::MAX_SIDE as usize).pow(2);
        let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(bytes, max)
            .map_err(|_| MapError::Corrupt)?;
        let (header, rest) = raw.split_at_checked(8 + 768).ok_or(MapError::Corrupt)?;
        let width = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default());
        let height = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
        check_size(width, height)?;
        let palette = Palette::from_bytes(header[8..].try_into().map_err(|_| MapError::Corrupt)?);
        let n = width as usize * height as usize;
        if rest.len() != 2 * n {
            return Err(MapError::Corrupt);
        }
        let (heights, colours) = rest.split_at(n);
        Map::new(width, height, heights, colours, palette)
    }
}

fn check_size(width: u32, height: u32) -> Result<(), MapError> {
    let ok = |s: u32| s.is_power_of_two() && (Map::MIN_SIDE..=Map::MAX_SIDE).contains(&s);
    if ok(width) && ok(height) {
        Ok(())
    } else {
        Err(MapError::BadSize { width, height })
    }
}

/// The name of a compressed map ([`Map::to_compressed`]): FNV-1a of its bytes. The server
/// names its map with it (`/map/<id>`) and the browser checks what it fetched with it.
pub fn map_id(compressed: &[u8]) -> u64 {
    compressed.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Distance fog for an indexed renderer: for each fog level and colour, the nearest
/// palette entry to that colour blended towards the fog colour (as Doom's colormaps).
/// Terrain colours (`used` by a cell) never fade into an entry that holds one of the
/// aircraft's colours and no terrain ([`crate::sprite::palette_entries`]), so those
/// never speckle distant hills.
fn fog_table(palette: &Palette, used: &[bool; 256]) -> Vec<u8> {
    let fog = palette.fog_colour().map(i32::from);
    let sprites = crate::sprite::palette_entries();
    let for_terrain: Vec<usize> = (0..256)
        .filter(|&i| used[i] || !sprites.contains(&palette.0[i]))
        .collect();
    let every: Vec<usize> = (0..256).collect();
    let mut table = vec![0u8; FOG_LEVELS * 256];
    for level in 0..FOG_LEVELS {
        // Levels fade up to 7/8 of the way to the fog colour; the last step is never opaque.
        let t = (level * 224 / (FOG_LEVELS - 1)) as i32; // 0..=224 of 256
        for c in 0..256 {
            let src = palette.0[c].map(i32::from);
            let want: [i32; 3] = core::array::from_fn(|k| (src[k] * (256 - t) + fog[k] * t) >> 8);
            let candidates = if used[c] { &for_terrain } else { &every };
            table[level * 256 + c] = if level == 0 {
                c as u8
            } else {
                nearest(palette, want, candidates)
            };
        }
    }
    table
}

fn nearest(palette: &Palette, want: [i32; 3], candidates: &[usize]) -> u8 {
    let mut best = (i32::MAX, 0u8);
    for &i in candidates {
        let c = palette.0[i];
        let d: i32 = (0..3).map(|k| (c[k] as i32 - want[k]).pow(2)).sum();
        if d < best.0 {
            best = (d, i as u8);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey_palette() -> Palette {
        Palette(core::array::from_fn(|i| [i as u8; 3]))
    }

    #[test]
    fn block_shapes_are_the_maxima_of_their_blocks_wrapping_around() {
        let map = crate::mapgen::generate_sized(64, 9);
        let b = 1usize << BLOCK_SHIFT;
        let n = 64 / b;
        let highest = |bx: usize, by: usize, w: usize, h: usize| {
            let mut m = 0;
            for y in by * b..(by + h) * b {
                for x in bx * b..(bx + w) * b {
                    m = m.max(map.at(x as i64, y as i64).0);
                }
            }
            m
        };
        for by in 0..n {
            for bx in 0..n {
                let i = (by * n + bx) * 4;
                let got = &map.block_shapes()[i..i + 4];
                let want = [(1, 1), (2, 1), (1, 2), (2, 2)].map(|(w, h)| highest(bx, by, w, h));
                assert_eq!(got, want, "block {bx},{by}");
            }
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        let p = grey_palette();
        let err = Map::new(100, 64, &[], &[], p.clone()).unwrap_err();
        assert_eq!(
            err,
            MapError::BadSize {
                width: 100,
                height: 64
            }
        );
        assert!(Map::new(8, 8, &[0; 64], &[0; 64], p.clone()).is_err());
        assert!(matches!(
            Map::new(16, 16, &[0; 255], &[0; 256], p),
            Err(MapError::CellCount { got: 255, .. })
        ));
    }

    #[test]
    fn rejects_sky_colours_in_terrain() {
        let mut colours = [0u8; 256];
        colours[7] = 230;
        assert_eq!(
            Map::new(16, 16, &[0; 256], &colours, grey_palette()),
            Err(MapError::SkyColourInTerrain { index: 230 })
        );
    }

    #[test]
    fn wraps_and_interpolates() {
        let heights: Vec<u8> = (0..256).map(|i| (i % 16 * 10) as u8).collect();
        let map = Map::new(16, 16, &heights, &[1; 256], grey_palette()).unwrap();
        assert_eq!(map.at(3, 0), (30, 1));
        assert_eq!(map.at(-13, 16), (30, 1));
        assert_eq!(map.height_at(3.5, 2.0), 35.0);
        // Between x=15 (150) and x=16, which wraps to x=0 (0).
        assert_eq!(map.height_at(15.5, 0.0), 75.0);
    }

    #[test]
    fn compressed_round_trip_and_corruption() {
        let heights: Vec<u8> = (0..32 * 16).map(|i| (i * 7) as u8).collect();
        let colours: Vec<u8> = (0..32 * 16).map(|i| (i % 200) as u8).collect();
        let map = Map::new(32, 16, &heights, &colours, grey_palette()).unwrap();
        let bytes = map.to_compressed();
        assert_eq!(Map::from_compressed(&bytes), Ok(map));
        assert_eq!(
            Map::from_compressed(&bytes[..bytes.len() / 2]),
            Err(MapError::Corrupt)
        );
        assert_eq!(Map::from_compressed(b"not deflate"), Err(MapError::Corrupt));
    }

    #[test]
    fn fog_level_zero_is_identity_and_last_is_near_fog() {
        let map = Map::new(16, 16, &[0; 256], &[0; 256], grey_palette()).unwrap();
        let fog = map.fog();
        assert!((0..256).all(|c| fog[c] as usize == c));
        // Black fogged 7/8 towards the haze lands on a light colour.
        let last = map.palette().0[fog[(FOG_LEVELS - 1) * 256] as usize];
        assert!(last.iter().all(|&v| v > 150), "{last:?}");
    }
}
