//! Other aircraft in the 3-D view: art made in code, and where and how a sprite lands in
//! a frame. The renderer draws them (`Renderer::render_scene`) with exact occlusion.
//!
//! The art is a small aircraft of a few triangles, drawn once at [`HEADINGS`] headings
//! as seen from slightly above, into bitmaps of shade classes (not colours): a frame
//! turns classes into palette entries for the player's tint ([`Tints`]), so one set of
//! bitmaps serves every map and palette. Everything here is `+ - * /` and `libm`, so
//! the server and the browser draw the same pixels.

use crate::camera::{Camera, Viewport};
use crate::map::{Palette, SKY_BASE};

/// Headings drawn: a sprite shows the one nearest to how the aircraft is turned
/// relative to the line of sight.
pub const HEADINGS: usize = 16;
/// Bitmap size, pixels; it spans [`SPAN`] map units across.
pub const ART_W: usize = 64;
pub const ART_H: usize = 32;
/// Map units the bitmap spans across (a little more than the wingspan).
pub const SPAN: f32 = 16.0;
/// Diameter of a gate's bead, map units (its bitmap spans twice that across).
pub const BEAD_SPAN: f32 = 5.0;
/// Tints players are told apart by.
pub const TINTS: usize = 8;

/// Shade classes in the bitmaps: 0 is transparent.
const CLASSES: usize = 5;
const DARK: u8 = 1;
const MID: u8 = 2;
const LIGHT: u8 = 3;
const GLASS: u8 = 4;

/// The tint of player `id`'s aircraft: the server and the browser pick the same.
pub fn tint_of(id: u16) -> u8 {
    (id as usize % TINTS) as u8
}

/// What a sprite shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Look {
    /// A player's aircraft.
    #[default]
    Plane,
    /// The course record's flight: the aircraft's outline only.
    Ghost,
    /// One bead of a gate's ring: a shaded disk, the same from every side.
    Bead,
}

/// Another player's aircraft (or a ghost, or a gate's bead), as the renderer needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aircraft {
    pub x: f32,
    pub y: f32,
    pub altitude: f32,
    /// Heading, as a camera's yaw.
    pub yaw: f32,
    /// Which of the [`TINTS`] colours.
    pub tint: u8,
    pub look: Look,
}

impl Aircraft {
    /// Player `id`'s aircraft, where its camera is: the server's frames and the
    /// browser's draw others this one way.
    pub fn of(id: u16, camera: &Camera) -> Aircraft {
        Aircraft {
            x: camera.x,
            y: camera.y,
            altitude: camera.altitude,
            yaw: camera.yaw,
            tint: tint_of(id),
            look: Look::Plane,
        }
    }
}

/// The bitmaps: the aircraft at each heading, then its outline (the ghost) at each
/// heading, then the bead; each `ART_W * ART_H` shade classes, row by row.
pub struct Art {
    headings: Vec<[u8; ART_W * ART_H]>,
    /// Per heading, the bitmap's opaque box: columns and rows `[start, end)`.
    boxes: Vec<([usize; 2], [usize; 2])>,
    /// The bitmaps column by column as opaque runs, top first (what the renderer draws
    /// down a screen column): texel column `u` of bitmap `i` is
    /// `runs[starts[i][u] as usize..starts[i][u + 1] as usize]`.
    runs: Vec<Run>,
    starts: Vec<[u32; ART_W + 1]>,
}

/// One bitmap of [`Art`] as opaque runs down each texel column.
#[derive(Clone, Copy, Debug)]
pub struct ColumnRuns<'a> {
    runs: &'a [Run],
    starts: &'a [u32; ART_W + 1],
}

impl<'a> ColumnRuns<'a> {
    /// The opaque runs of texel column `u`, top first.
    #[inline(always)]
    pub fn column(&self, u: usize) -> &'a [Run] {
        let u = u.min(ART_W - 1);
        self.runs
            .get(self.starts[u] as usize..self.starts[u + 1] as usize)
            .unwrap_or_default()
    }
}

/// Texel rows `[start, end)` of one opaque class down a texel column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub start: u8,
    pub end: u8,
    pub class: u8,
}

/// A triangle of the model, in map units (x right wing, y nose, z up), and its class.
type Triangle = ([[f32; 3]; 3], u8);

/// The aircraft: fuselage, wings, tailplane, fin and canopy.
const MODEL: [Triangle; 9] = [
    // Fuselage, as two thin triangles seen from above and a keel.
    ([[0.0, 7.0, 0.3], [-0.9, -1.0, 0.3], [0.9, -1.0, 0.3]], MID),
    ([[-0.9, -1.0, 0.3], [0.9, -1.0, 0.3], [0.0, -6.5, 0.4]], MID),
    ([[0.0, 7.0, 0.3], [0.0, -6.0, 0.3], [0.0, 0.0, -0.9]], DARK),
    // Wings, swept a little.
    (
        [[-7.0, -1.2, 0.0], [0.0, 2.0, 0.2], [0.0, -2.0, 0.2]],
        LIGHT,
    ),
    ([[7.0, -1.2, 0.0], [0.0, 2.0, 0.2], [0.0, -2.0, 0.2]], LIGHT),
    // Tailplane.
    (
        [[-3.0, -6.2, 0.3], [3.0, -6.2, 0.3], [0.0, -4.2, 0.3]],
        LIGHT,
    ),
    // Fin.
    ([[0.0, -6.5, 0.4], [0.0, -4.0, 0.4], [0.0, -6.3, 2.8]], DARK),
    // Canopy.
    ([[0.0, 4.2, 0.9], [-0.6, 1.8, 0.5], [0.6, 1.8, 0.5]], GLASS),
    ([[0.0, 4.2, 0.9], [0.0, 1.0, 0.6], [0.0, 2.6, 1.2]], GLASS),
];

/// How far above the aircraft the art is seen from (radians): cameras usually fly a
/// little higher than others.
const ELEVATION: f32 = 0.35;

impl Art {
    /// Draws the model at every heading.
    pub fn new() -> Art {
        let mut headings: Vec<_> = (0..HEADINGS).map(draw_heading).collect();
        let ghosts: Vec<_> = headings.iter().map(outline).collect();
        headings.extend(ghosts);
        headings.push(draw_bead());
        let boxes = headings.iter().map(opaque_box).collect();
        let mut runs = Vec::new();
        let starts = headings
            .iter()
            .map(|b| {
                let mut starts = [0; ART_W + 1];
                for (u, start) in starts.iter_mut().enumerate() {
                    *start = runs.len() as u32;
                    if u < ART_W {
                        column_runs(b, u, &mut runs);
                    }
                }
                starts
            })
            .collect();
        Art {
            headings,
            boxes,
            runs,
            starts,
        }
    }

    /// Bitmap `i` as opaque runs down each texel column.
    pub fn runs(&self, i: usize) -> ColumnRuns<'_> {
        ColumnRuns {
            runs: &self.runs,
            starts: &self.starts[i % BITMAPS],
        }
    }

    /// The opaque part of bitmap `i`: texel columns and rows `[start, end)`.
    pub fn opaque(&self, i: usize) -> ([usize; 2], [usize; 2]) {
        self.boxes[i % BITMAPS]
    }

    /// Bitmap `i`: for `i < HEADINGS` the aircraft at heading `i` (0 shows the tail,
    /// flying away; `HEADINGS / 4` the nose pointing right), then the ghosts, then the
    /// bead ([`bitmap_of`]).
    pub fn heading(&self, i: usize) -> &[u8; ART_W * ART_H] {
        &self.headings[i % BITMAPS]
    }
}

impl core::fmt::Debug for Art {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Art({} headings)", self.headings.len())
    }
}

impl Default for Art {
    fn default() -> Self {
        Art::new()
    }
}

/// Bitmaps in [`Art`]: planes, ghosts, one bead.
const BITMAPS: usize = 2 * HEADINGS + 1;

/// The bitmap of a sprite that looks like `look` and is turned to heading `heading`.
pub fn bitmap_of(look: Look, heading: usize) -> usize {
    match look {
        Look::Plane => heading % HEADINGS,
        Look::Ghost => HEADINGS + heading % HEADINGS,
        Look::Bead => 2 * HEADINGS,
    }
}

/// The outline of an aircraft bitmap: opaque texels next to a transparent one, lit.
fn outline(bitmap: &[u8; ART_W * ART_H]) -> [u8; ART_W * ART_H] {
    let opaque = |r: i32, c: i32| {
        (0..ART_H as i32).contains(&r)
            && (0..ART_W as i32).contains(&c)
            && bitmap[r as usize * ART_W + c as usize] != 0
    };
    core::array::from_fn(|i| {
        let (r, c) = ((i / ART_W) as i32, (i % ART_W) as i32);
        let edge = opaque(r, c)
            && !(opaque(r - 1, c) && opaque(r + 1, c) && opaque(r, c - 1) && opaque(r, c + 1));
        if edge { LIGHT } else { 0 }
    })
}

/// A bead: a disk `ART_H` texels across in the middle of the bitmap, lit from above
/// left, dark at the rim.
fn draw_bead() -> [u8; ART_W * ART_H] {
    let r = ART_H as f32 * 0.5;
    core::array::from_fn(|i| {
        let (row, col) = ((i / ART_W) as f32 + 0.5, (i % ART_W) as f32 + 0.5);
        let (dx, dy) = ((col - ART_W as f32 * 0.5) / r, (row - r) / r);
        let d2 = dx * dx + dy * dy;
        let light = (dx + 0.35) * (dx + 0.35) + (dy + 0.35) * (dy + 0.35);
        match () {
            _ if d2 > 1.0 => 0,
            _ if d2 > 0.72 => DARK,
            _ if light < 0.25 => LIGHT,
            _ => MID,
        }
    })
}

/// Appends texel column `u` of `bitmap` as runs of one opaque class.
fn column_runs(bitmap: &[u8; ART_W * ART_H], u: usize, runs: &mut Vec<Run>) {
    let mut t = 0;
    while t < ART_H {
        let class = bitmap[t * ART_W + u];
        let start = t;
        while t < ART_H && bitmap[t * ART_W + u] == class {
            t += 1;
        }
        if class != 0 {
            runs.push(Run {
                start: start as u8,
                end: t as u8,
                class,
            });
        }
    }
}

/// The smallest box holding every opaque texel.
fn opaque_box(bitmap: &[u8; ART_W * ART_H]) -> ([usize; 2], [usize; 2]) {
    let (mut cols, mut rows) = ([ART_W, 0], [ART_H, 0]);
    for (i, &class) in bitmap.iter().enumerate() {
        if class != 0 {
            let (r, c) = (i / ART_W, i % ART_W);
            cols = [cols[0].min(c), cols[1].max(c + 1)];
            rows = [rows[0].min(r), rows[1].max(r + 1)];
        }
    }
    (cols, rows)
}

/// Rasterizes the model turned by heading `i`: every pixel centre takes the class of the
/// nearest triangle covering it.
fn draw_heading(i: usize) -> [u8; ART_W * ART_H] {
    let theta = i as f32 * core::f32::consts::TAU / HEADINGS as f32;
    let (st, ct) = (libm::sinf(theta), libm::cosf(theta));
    let (se, ce) = (libm::sinf(ELEVATION), libm::cosf(ELEVATION));
    let px = ART_W as f32 / SPAN;
    // Model to bitmap: (column, row, depth); the nose turns right as the heading grows.
    let project = |[mx, my, mz]: [f32; 3]| {
        let vx = mx * ct + my * st;
        let vd = -mx * st + my * ct;
        let up = mz * ce + vd * se;
        let depth = vd * ce - mz * se;
        (
            (vx + SPAN * 0.5) * px,
            (ART_H as f32 * 0.5) - up * px,
            depth,
        )
    };
    let mut out = [0u8; ART_W * ART_H];
    let mut nearest = [f32::INFINITY; ART_W * ART_H];
    for (corners, class) in MODEL {
        let [a, b, c] = corners.map(project);
        let area = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
        if area.abs() < 1e-6 {
            continue; // seen edge-on
        }
        for row in 0..ART_H {
            for col in 0..ART_W {
                let (x, y) = (col as f32 + 0.5, row as f32 + 0.5);
                let w0 = ((b.0 - x) * (c.1 - y) - (b.1 - y) * (c.0 - x)) / area;
                let w1 = ((c.0 - x) * (a.1 - y) - (c.1 - y) * (a.0 - x)) / area;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let depth = w0 * a.2 + w1 * b.2 + w2 * c.2;
                let at = row * ART_W + col;
                if depth < nearest[at] {
                    nearest[at] = depth;
                    out[at] = class;
                }
            }
        }
    }
    out
}

/// Palette entries for each tint's shade classes, found in the map's own palette (the
/// nearest colour outside the sky), so any map's aircraft look alike.
pub struct Tints {
    /// The palette these were found in.
    palette: Palette,
    colours: [[u8; CLASSES]; TINTS],
}

/// The tints' base colours: red, orange, yellow, green, cyan, blue, magenta, white.
const TINT_RGB: [[i32; 3]; TINTS] = [
    [220, 40, 40],
    [240, 140, 30],
    [240, 220, 40],
    [60, 200, 70],
    [50, 210, 220],
    [60, 90, 230],
    [210, 60, 210],
    [235, 235, 235],
];

impl core::fmt::Debug for Tints {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Tints({:?})", self.colours)
    }
}

/// The shades of a tint: dark, mid and light.
fn shades(base: [i32; 3]) -> [[i32; 3]; 3] {
    let scale = |c: [i32; 3], num: i32, den: i32| c.map(|v| v * num / den);
    let lighten = |c: [i32; 3]| c.map(|v| v + (255 - v) * 2 / 5);
    [scale(base, 11, 20), base, lighten(base)]
}

/// The canopy's colour, the same in every tint.
const GLASS_RGB: [i32; 3] = [40, 50, 70];

/// Every colour the aircraft use, for a map's palette to hold exactly (the generated
/// map does; a loaded map's palette gives the nearest it has).
pub fn palette_entries() -> Vec<[u8; 3]> {
    TINT_RGB
        .iter()
        .flat_map(|&base| shades(base))
        .chain([GLASS_RGB])
        .map(|c| c.map(|v| v.clamp(0, 255) as u8))
        .collect()
}

impl Tints {
    pub fn new(palette: &Palette) -> Tints {
        let nearest = |want: [i32; 3]| -> u8 {
            let mut best = (i32::MAX, 0u8);
            for (i, c) in palette.0.iter().enumerate().take(SKY_BASE) {
                let d: i32 = (0..3).map(|k| (c[k] as i32 - want[k]).pow(2)).sum();
                if d < best.0 {
                    best = (d, i as u8);
                }
            }
            best.1
        };
        let colours = TINT_RGB.map(|base| {
            let [dark, mid, light] = shades(base);
            [
                0,
                nearest(dark),
                nearest(mid),
                nearest(light),
                nearest(GLASS_RGB),
            ]
        });
        Tints {
            palette: palette.clone(),
            colours,
        }
    }

    /// Whether these were found in `palette`.
    pub fn suit(&self, palette: &Palette) -> bool {
        self.palette == *palette
    }

    /// The palette entry of shade class `class` (1..) in tint `tint`.
    pub fn colour(&self, tint: u8, class: u8) -> u8 {
        self.colours[tint as usize % TINTS][class as usize % CLASSES]
    }
}

/// Where a sprite lands on screen, from the renderer's projection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Distance along the view direction, map units.
    pub z: f32,
    /// Screen position of the bitmap's top-left corner and its size, pixels.
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
    /// Which bitmap of [`Art`] ([`bitmap_of`]).
    pub heading: usize,
}

/// Projects `a` for `cam` on a `w`-column screen whose horizon is at row `horizon`
/// (`focal`: pixels per map unit at distance 1). `None` behind the camera, too near, or
/// beyond the camera's distance. The nearest image of `a` counts: the world wraps.
pub fn place(
    a: &Aircraft,
    cam: &Camera,
    map_size: (f32, f32),
    w: usize,
    horizon: f32,
    focal: f32,
) -> Option<Placement> {
    Projector::new(cam, map_size, w, horizon, focal).place(a)
}

/// [`place`] for many sprites of one frame: the camera's sine and cosine worked out once.
#[derive(Clone, Copy, Debug)]
pub struct Projector {
    cam: Camera,
    map_size: (f32, f32),
    w: usize,
    horizon: f32,
    focal: f32,
    sin: f32,
    cos: f32,
}

impl Projector {
    pub fn new(cam: &Camera, map_size: (f32, f32), w: usize, horizon: f32, focal: f32) -> Self {
        Projector {
            cam: *cam,
            map_size,
            w,
            horizon,
            focal,
            sin: libm::sinf(cam.yaw),
            cos: libm::cosf(cam.yaw),
        }
    }

    /// The projector the renderer uses for a frame of `camera` at `viewport` over a map
    /// of `map_size`.
    pub fn for_frame(camera: &Camera, map_size: (f32, f32), viewport: Viewport) -> Projector {
        let cam = camera.sanitized();
        let w = viewport.width();
        let focal = w as f32 * 0.5 / libm::tanf(cam.fov * 0.5);
        let horizon = crate::render::horizon_row(&cam, viewport);
        Projector::new(&cam, map_size, w, horizon, focal)
    }

    /// Whether sprite lists `a` and `b` draw the same picture through this projector: as
    /// many sprites, each pair equal, or both out of sight, or placed alike with the
    /// same tint and look. An aircraft that turns a little still shows the same bitmap,
    /// and one out of sight may do anything: no new frame for those.
    pub fn same_picture(&self, a: &[Aircraft], b: &[Aircraft]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x == y || (x.tint == y.tint && x.look == y.look && self.place(x) == self.place(y))
            })
    }

    /// See [`place`].
    pub fn place(&self, a: &Aircraft) -> Option<Placement> {
        let cam = &self.cam;
        let wrapped = |d: f32, period: f32| d - (d / period + 0.5).floor() * period;
        let dx = wrapped(a.x - cam.x, self.map_size.0);
        let dy = wrapped(a.y - cam.y, self.map_size.1);
        // Forward (sin, -cos) and right (cos, sin), as the renderer's slices.
        let z = dx * self.sin - dy * self.cos;
        let r = dx * self.cos + dy * self.sin;
        if !(2.0..cam.distance).contains(&z) {
            return None;
        }
        let k = self.focal / z;
        let span = match a.look {
            Look::Bead => 2.0 * BEAD_SPAN,
            Look::Plane | Look::Ghost => SPAN,
        };
        let width = span * k;
        let height = width * (ART_H as f32 / ART_W as f32);
        // Column c samples at the lateral offset of its centre: c + 0.5 = w / 2 + r * k.
        let centre_x = self.w as f32 * 0.5 + r * k;
        let centre_y = self.horizon + (cam.altitude - a.altitude) * k;
        let heading = match a.look {
            Look::Bead => 0, // the same from every side
            Look::Plane | Look::Ghost => {
                // How the aircraft is turned against the line of sight: 0 flies away.
                let bearing = cam.yaw + libm::atan2f(r, z);
                let steps = (a.yaw - bearing) / core::f32::consts::TAU * HEADINGS as f32;
                ((steps + 0.5).floor() as i64).rem_euclid(HEADINGS as i64) as usize
            }
        };
        Some(Placement {
            z,
            left: centre_x - width * 0.5,
            top: centre_y - height * 0.5,
            width,
            height,
            heading: bitmap_of(a.look, heading),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirrored(a: &[u8; ART_W * ART_H]) -> Vec<u8> {
        a.chunks(ART_W)
            .flat_map(|row| row.iter().rev().copied())
            .collect()
    }

    #[test]
    fn every_heading_is_drawn_and_the_art_is_symmetric() {
        let art = Art::new();
        for i in 0..HEADINGS {
            let filled = art.heading(i).iter().filter(|&&c| c != 0).count();
            assert!(filled > 60, "heading {i}: {filled} pixels");
        }
        // Tail-on and nose-on are their own mirror images; turned right mirrors left.
        for i in [0, HEADINGS / 2] {
            assert_eq!(mirrored(art.heading(i)), art.heading(i).to_vec(), "{i}");
        }
        let right = art.heading(HEADINGS / 4);
        let left = art.heading(3 * HEADINGS / 4);
        assert_eq!(mirrored(right), left.to_vec());
        assert_ne!(right, art.heading(0), "side-on differs from tail-on");
        // The opaque box holds every opaque texel, and no row or column of it is empty
        // at its edges.
        for i in 0..HEADINGS {
            let ([c0, c1], [r0, r1]) = art.opaque(i);
            let b = art.heading(i);
            let inside =
                |t: usize| (c0..c1).contains(&(t % ART_W)) && (r0..r1).contains(&(t / ART_W));
            assert!(b.iter().enumerate().all(|(t, &c)| c == 0 || inside(t)));
            assert!((r0..r1).any(|r| b[r * ART_W + c0] != 0));
            assert!((c0..c1).any(|c| b[(r1 - 1) * ART_W + c] != 0));
        }
        // Side-on, the fin stands above the fuselage: dark pixels in the upper half.
        let upper_dark = right[..ART_W * ART_H / 2]
            .iter()
            .filter(|&&c| c == DARK)
            .count();
        assert!(upper_dark > 3);
    }

    #[test]
    fn tints_are_told_apart_and_never_sky() {
        let map = crate::mapgen::generate_sized(64, 3);
        let tints = Tints::new(map.palette());
        let mids: Vec<u8> = (0..TINTS as u8).map(|t| tints.colour(t, MID)).collect();
        let mut unique = mids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), TINTS, "{mids:?}");
        // The generated map holds them exactly: red is red, not the nearest brown.
        let red = map.palette().0[tints.colour(0, MID) as usize];
        assert_eq!(red, [220, 40, 40]);
        for t in 0..TINTS as u8 {
            for class in 1..CLASSES as u8 {
                assert!((tints.colour(t, class) as usize) < SKY_BASE);
            }
        }
    }

    #[test]
    fn placement_follows_the_projection() {
        let cam = Camera {
            x: 100.0,
            y: 100.0,
            altitude: 150.0,
            yaw: 0.0,
            horizon: 0.0,
            ..Camera::default()
        };
        // 100 units straight ahead (yaw 0 looks towards -y), at eye height, flying away.
        let ahead = Aircraft {
            x: 100.0,
            y: 0.0,
            altitude: 150.0,
            yaw: 0.0,
            tint: 0,
            look: Default::default(),
        };
        let (w, focal) = (200, 100.0);
        let p = place(&ahead, &cam, (1024.0, 1024.0), w, 50.0, focal).unwrap();
        assert_eq!(p.z, 100.0);
        assert_eq!(p.width, SPAN);
        assert_eq!(p.left + p.width / 2.0, 100.0);
        assert_eq!(p.top + p.height / 2.0, 50.0);
        assert_eq!(p.heading, 0, "seen from behind");
        // Across the map's edge it is still 100 units ahead; turned to fly right.
        let wrapped = Aircraft {
            y: 1024.0,
            yaw: core::f32::consts::FRAC_PI_2,
            ..ahead
        };
        let q = place(&wrapped, &cam, (1024.0, 1024.0), w, 50.0, focal).unwrap();
        assert_eq!((q.z, q.heading), (100.0, HEADINGS / 4));
        // Behind the camera or past its distance: not drawn.
        let behind = Aircraft { y: 200.0, ..ahead };
        assert_eq!(place(&behind, &cam, (1024.0, 1024.0), w, 50.0, focal), None);
        let far = Aircraft {
            y: 100.0 - cam.distance,
            ..ahead
        };
        assert_eq!(place(&far, &cam, (1024.0, 1024.0), w, 50.0, focal), None);
    }
}
