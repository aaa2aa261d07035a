//! The embedded default map: seeded, tileable fractal terrain with baked-in light.
//!
//! Only `+ - * /` and `sqrt` on floats (all exactly rounded by IEEE 754), so a seed gives
//! the same map on every target.

use crate::map::{Map, Palette, Rgb, SKY_BASE};

/// Default map side; the classic Comanche maps are 1024x1024 as well.
pub const DEFAULT_SIZE: u32 = 1024;
pub const DEFAULT_SEED: u64 = 0x766f_7865_6c63_6173; // "voxelcas"

/// Shades per material: index = material * SHADES + shade. 7 ramps of 28 leave room
/// before the sky for the aircraft's own colours ([`crate::sprite::palette_entries`]).
const SHADES: usize = 28;

#[derive(Clone, Copy)]
#[repr(u8)]
enum Material {
    Water = 0,
    Sand,
    Grass,
    Meadow,
    Forest,
    Rock,
    Snow,
}

/// Base colour of each material, at shade "fully lit, flat".
const BASE: [Rgb; 7] = [
    [34, 96, 148],   // water (deep end of the ramp is darker)
    [206, 190, 140], // sand
    [92, 142, 58],   // grass
    [150, 156, 78],  // dry meadow
    [44, 92, 44],    // forest
    [128, 116, 104], // rock
    [236, 240, 246], // snow
];

/// Generates the default map for a seed.
pub fn generate(seed: u64) -> Map {
    generate_sized(DEFAULT_SIZE, seed)
}

/// Generates a `size`x`size` map (a power of two from 16 to 4096).
pub fn generate_sized(size: u32, seed: u64) -> Map {
    let n = size as usize;
    let mut rng = SplitMix64(seed);
    let elevation = normalise(diamond_square(n, &mut rng, 0.47));
    let vegetation = normalise(diamond_square(n, &mut rng, 0.62));

    let sea = 0.38f32;
    let mut heights = vec![0u8; n * n];
    let mut depth = vec![0f32; n * n];
    for (i, &e) in elevation.iter().enumerate() {
        // Flatten the lowlands and sharpen the peaks: e^2 above the sea, flat water below.
        let land = if e > sea {
            (e - sea) / (1.0 - sea)
        } else {
            0.0
        };
        let shaped = land * (0.35 + 0.65 * land);
        heights[i] = (24.0 + shaped * 230.0) as u8;
        depth[i] = if e > sea { 0.0 } else { (sea - e) / sea };
    }

    let mut colours = vec![0u8; n * n];
    let at = |x: usize, y: usize| heights[(y & (n - 1)) * n + (x & (n - 1))] as f32;
    for y in 0..n {
        for x in 0..n {
            let i = y * n + x;
            // Slope towards the light (from the upper left of the map) gives the shade.
            let dx = at(x + n - 1, y) - at(x + 1, y);
            let dy = at(x, y + n - 1) - at(x, y + 1);
            let steep = (dx * dx + dy * dy).sqrt();
            let grain = (hash(seed, x as u32, y as u32) % 5) as f32 - 2.0;
            let (material, shade) = if depth[i] > 0.0 {
                let d = depth[i] * 4.0;
                (Material::Water, 27.0 - d.min(1.0) * 18.0 + grain * 0.3)
            } else {
                let h = heights[i] as f32;
                let v = vegetation[i];
                let material = if h < 28.0 && steep < 6.0 {
                    Material::Sand
                } else if steep > 9.0 || (h > 165.0 && steep > 5.0) {
                    Material::Rock
                } else if h > 150.0 + v * 30.0 {
                    Material::Snow
                } else if v > 0.52 && h < 140.0 {
                    Material::Forest
                } else if v < 0.32 {
                    Material::Meadow
                } else {
                    Material::Grass
                };
                let lit = 18.0 + (dx + dy) * 1.6 + grain;
                (material, lit)
            };
            let shade = shade.clamp(0.0, (SHADES - 1) as f32) as usize;
            colours[i] = (material as usize * SHADES + shade) as u8;
        }
    }
    Map::new(size, size, &heights, &colours, palette())
        .expect("generated maps are valid by construction")
}

/// Each material as a ramp from dark to bright; shade 19 is the base colour.
fn palette() -> Palette {
    let mut p = [[0u8; 3]; 256];
    for (m, base) in BASE.iter().enumerate() {
        for s in 0..SHADES {
            let f = 0.3 + s as f32 * (0.7 / 19.0);
            p[m * SHADES + s] = base.map(|c| (c as f32 * f).min(255.0) as u8);
        }
    }
    let sprites = crate::sprite::palette_entries();
    let first = BASE.len() * SHADES;
    debug_assert!(first + sprites.len() <= SKY_BASE);
    p[first..first + sprites.len()].copy_from_slice(&sprites);
    Palette(p)
}

/// Tileable diamond-square: the grid wraps, so the terrain has no seams at the edges.
fn diamond_square(n: usize, rng: &mut SplitMix64, roughness: f32) -> Vec<f32> {
    let mut h = vec![0f32; n * n];
    let m = n - 1;
    // Seed a coarse grid so that large features (continents, ranges) are random too.
    let mut step = (n / 8).max(2);
    let mut amp = 1.0f32;
    for y in (0..n).step_by(step) {
        for x in (0..n).step_by(step) {
            h[y * n + x] = rng.unit() * amp;
        }
    }
    while step > 1 {
        let half = step / 2;
        amp *= roughness;
        // Diamond: centres of squares.
        for y in (half..n).step_by(step) {
            for x in (half..n).step_by(step) {
                let avg = (h[((y - half) & m) * n + ((x - half) & m)]
                    + h[((y - half) & m) * n + ((x + half) & m)]
                    + h[((y + half) & m) * n + ((x - half) & m)]
                    + h[((y + half) & m) * n + ((x + half) & m)])
                    * 0.25;
                h[y * n + x] = avg + rng.signed() * amp;
            }
        }
        // Square: edge midpoints.
        for y in (0..n).step_by(half) {
            let x0 = if (y / half) % 2 == 0 { half } else { 0 };
            for x in (x0..n).step_by(step) {
                let avg = (h[((y + n - half) & m) * n + x]
                    + h[((y + half) & m) * n + x]
                    + h[y * n + ((x + n - half) & m)]
                    + h[y * n + ((x + half) & m)])
                    * 0.25;
                h[y * n + x] = avg + rng.signed() * amp;
            }
        }
        step = half;
    }
    h
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let (lo, hi) = v
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let span = (hi - lo).max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x = (*x - lo) / span);
    v
}

/// SplitMix64: tiny, fast, and the same on every platform.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[lo, hi)`.
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f32 {
        self.unit() * 2.0 - 1.0
    }
}

fn hash(seed: u64, x: u32, y: u32) -> u64 {
    SplitMix64(seed ^ ((x as u64) << 32 | y as u64)).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_map_other_seed_other_map() {
        let a = generate_sized(128, 1);
        assert_eq!(a, generate_sized(128, 1));
        assert_ne!(a.cells(), generate_sized(128, 2).cells());
    }

    #[test]
    fn default_map_has_every_material() {
        let map = generate(DEFAULT_SEED);
        let mut count = [0usize; 7];
        for &c in map.cells() {
            count[(c >> 8) as usize / SHADES] += 1;
        }
        let total = map.cells().len();
        for (m, &c) in count.iter().enumerate() {
            assert!(c > total / 1000, "material {m} covers only {c} cells");
        }
        // Neither a water world nor a desert: water covers 10-60 %.
        assert!(
            (total / 10..total * 6 / 10).contains(&count[0]),
            "{count:?}"
        );
    }
}
