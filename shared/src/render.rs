//! The Voxel Space renderer: front to back, one column at a time, with a y-buffer.
//!
//! Per frame we first lay out the depth slices (one per z step, dz growing with z for
//! level of detail): where each slice's frustum line starts on the map and how far it
//! moves per screen column, in 16.16 fixed point. Then each screen column walks the
//! slices near to far, draws the span that rises above everything nearer, and stops as
//! soon as it reaches the top of the screen. Column-major order keeps the y-buffer in a
//! register and makes that early exit free.
//!
//! Determinism: all floating point is `+ - * /` and `libm` trig on f32, so x86_64 and
//! wasm32 produce the same bytes.

use crate::camera::{Camera, Viewport};
use crate::map::{BLOCK_SHIFT, FOG_LEVELS, Map, SKY_BASE, SKY_LEN};
use crate::sprite::{ART_H, ART_W, Aircraft, Placement, Projector, Tints};
use crate::transpose::transpose;

/// How a frame is drawn, beyond the camera. Server and browser must agree on these to
/// produce identical frames; [`RenderOptions::default`] is what the game uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderOptions {
    /// Fade far terrain into the horizon haze.
    pub fog: bool,
    /// Growth of the z step per slice (level of detail); 0 steps one map unit at a time.
    pub lod: f32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            fog: true,
            lod: 0.005,
        }
    }
}

/// One depth slice, prepared once per frame.
#[derive(Clone, Copy, Debug)]
struct Slice {
    /// Map position of column 0's sample, 16.16 fixed point.
    x: i32,
    y: i32,
    /// Map step per screen column, 16.16.
    dx: i32,
    dy: i32,
    /// Projection in 24.8 fixed point: a cell of height `h` reaches up to screen row
    /// `(base - h * scale) >> 8`, where `scale = focal / z` and `base` is the row of
    /// height 0 (clamped so the products never overflow).
    base: i32,
    scale: i32,
    /// The highest row the map's highest cell could reach here: columns whose y-buffer
    /// is already at or above it can skip this slice without sampling.
    reach: i32,
    /// Offset of this slice's fog level in the map's fog table.
    fog: u16,
}

/// What the drawing notes for aircraft in view: for each, the y-buffer of every column
/// it may cover after the slices nearer than it.
#[derive(Debug, Default)]
struct Snaps {
    /// By `slice`, ascending.
    requests: Vec<SnapRequest>,
    /// `requests[i]`'s columns' y-buffers at `cover[offset..][..cols.len()]`.
    cover: Vec<i32>,
    /// Per [`BUCKET`] columns of the screen, the requests that cover any of them (indices
    /// into `requests`, by slice): bucket `b`'s are `in_bucket[starts[b]..starts[b + 1]]`,
    /// so drawing a group of columns walks only the sprites over it.
    starts: Vec<usize>,
    in_bucket: Vec<u32>,
}

/// Columns per bucket of [`Snaps`]: the widest group drawn at once, and groups never
/// straddle two buckets (16, then 8, then single columns, from column 0).
const BUCKET: usize = 16;

#[derive(Debug)]
struct SnapRequest {
    /// Which of the frame's aircraft.
    index: usize,
    /// Slices nearer than the aircraft: its y-buffers are those before this slice.
    slice: usize,
    offset: usize,
    cols: core::ops::Range<usize>,
    rows: core::ops::Range<usize>,
    placement: Placement,
    aircraft: Aircraft,
}

impl Snaps {
    /// Files the requests (sorted by slice) under the buckets of a `w`-column screen.
    fn index(&mut self, w: usize) {
        let buckets = w.div_ceil(BUCKET);
        self.starts.clear();
        self.starts.resize(buckets + 1, 0);
        let spans = |r: &SnapRequest| r.cols.start / BUCKET..(r.cols.end - 1) / BUCKET + 1;
        for r in &self.requests {
            for b in spans(r) {
                self.starts[b + 1] += 1;
            }
        }
        for b in 0..buckets {
            self.starts[b + 1] += self.starts[b];
        }
        self.in_bucket.clear();
        self.in_bucket.resize(self.starts[buckets], 0);
        let mut fill = self.starts.clone();
        for (i, r) in self.requests.iter().enumerate() {
            for b in spans(r) {
                self.in_bucket[fill[b]] = i as u32;
                fill[b] += 1;
            }
        }
    }

    /// The requests over the bucket of column `col`.
    #[inline(always)]
    fn over(&self, col: usize) -> &[u32] {
        let b = col / BUCKET;
        match (self.starts.get(b), self.starts.get(b + 1)) {
            (Some(&from), Some(&to)) => &self.in_bucket[from..to],
            _ => &[],
        }
    }

    /// The slice at which the `next`th request over column `col` is due (`usize::MAX`
    /// past the last).
    #[inline(always)]
    fn due(&self, col: usize, next: usize) -> usize {
        self.over(col)
            .get(next)
            .map_or(usize::MAX, |&r| self.requests[r as usize].slice)
    }

    /// Notes the y-buffers of columns `col..col + N` for every request over them from
    /// the `next`th on whose slice has come (`at`: the next slice to draw; skipped slices
    /// changed no y-buffer, so a later `at` gives the same). Returns the first not due.
    #[inline(always)]
    fn note<const N: usize>(
        &mut self,
        mut next: usize,
        at: usize,
        col: usize,
        ybuf: &[i32; N],
    ) -> usize {
        let b = col / BUCKET;
        let (Some(&from), Some(&to)) = (self.starts.get(b), self.starts.get(b + 1)) else {
            return next;
        };
        while from + next < to {
            let r = &self.requests[self.in_bucket[from + next] as usize];
            if r.slice > at {
                break;
            }
            let start = r.cols.start.max(col);
            let end = r.cols.end.min(col + N);
            for c in start..end {
                self.cover[r.offset + c - r.cols.start] = ybuf[c - col];
            }
            next += 1;
        }
        next
    }
}

/// What every column of one frame needs.
struct Frame<'a> {
    cells: &'a [u16],
    blocks: &'a [u8],
    /// [`Map::block_shapes`].
    shapes: &'a [u8],
    max_height: i32,
    fog: &'a [u8],
    shift: u32,
    /// The bits of a cell index that hold its row.
    row_mask: u32,
    mask_x: i32,
    mask_y: i32,
    w: usize,
    h: usize,
    /// Bytes from one column to the next in the scratch buffer: `PAD + h`.
    stride: usize,
}

/// Rows of slack above each column of the scratch buffer, so spans can be written in
/// whole 16-byte words that overshoot upwards.
const PAD: usize = 16;

/// Slices skipped at once behind a ridge.
const SLAB: usize = 4;

impl<'a> Frame<'a> {
    fn new(map: &'a Map, viewport: Viewport) -> Frame<'a> {
        let h = viewport.height();
        Frame {
            cells: map.cells(),
            blocks: map.block_max(),
            shapes: map.block_shapes(),
            max_height: map.max_height() as i32,
            fog: map.fog(),
            shift: map.width().trailing_zeros(),
            row_mask: (map.height() - 1) << map.width().trailing_zeros(),
            mask_x: map.width() as i32 - 1,
            mask_y: map.height() as i32 - 1,
            w: viewport.width(),
            h,
            stride: h + PAD,
        }
    }

    /// Block coordinates of the sample of slice `s` for column `c`.
    fn block_at(s: &Slice, c: usize) -> (i32, i32) {
        let c = c as i32;
        let x = s.x.wrapping_add(s.dx.wrapping_mul(c)) >> 16;
        let y = s.y.wrapping_add(s.dy.wrapping_mul(c)) >> 16;
        (x >> BLOCK_SHIFT, y >> BLOCK_SHIFT)
    }

    /// The highest cell in the blocks spanned by `corners` (block coordinates), or the
    /// map's highest when they span more than a few blocks.
    #[inline(always)]
    fn highest_within(&self, corners: &[(i32, i32)]) -> i32 {
        let (mut x0, mut y0) = corners[0];
        let (mut x1, mut y1) = corners[0];
        for &(x, y) in &corners[1..] {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let (nx, ny) = (x1 - x0 + 1, y1 - y0 + 1);
        if nx * ny > 4 {
            return self.max_height;
        }
        let bw = (self.mask_x + 1) >> BLOCK_SHIFT;
        let bh = (self.mask_y + 1) >> BLOCK_SHIFT;
        // Up to 2x2 blocks: one lookup.
        if nx <= 2 && ny <= 2 {
            let i = ((y0 & (bh - 1)) * bw + (x0 & (bw - 1))) as usize;
            let shape = (nx - 1 + 2 * (ny - 1)) as usize;
            return self.shapes[(i * 4 + shape) & (self.shapes.len() - 1)] as i32;
        }
        let mut m = 0u8;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let i = ((y & (bh - 1)) * bw + (x & (bw - 1))) as usize;
                m = m.max(self.blocks[i & (self.blocks.len() - 1)]);
            }
        }
        m as i32
    }

    /// The highest row that the cells under this slice's samples for columns
    /// `col..col + N` could reach, from the block maxima around them.
    #[inline(always)]
    fn local_reach<const N: usize>(&self, s: &Slice, col: usize) -> i32 {
        let height = self.highest_within(&[Self::block_at(s, col), Self::block_at(s, col + N - 1)]);
        ((s.base - height * s.scale) >> 8).max(0)
    }

    /// The same for every slice from `near` to `far`: their samples lie within the four
    /// corner samples (positions are bilinear in depth and column), and a cell's exact row
    /// moves monotonically with depth, so the ends bound it. Each slice's fixed-point row
    /// is within about 3 rows of the exact one (truncated base and scale, then a floor):
    /// hence the margin of 4.
    #[inline(always)]
    fn slab_reach<const N: usize>(&self, near: &Slice, far: &Slice, col: usize) -> i32 {
        let last = col + N - 1;
        let height = self.highest_within(&[
            Self::block_at(near, col),
            Self::block_at(near, last),
            Self::block_at(far, col),
            Self::block_at(far, last),
        ]);
        let row = |s: &Slice| (s.base - height * s.scale) >> 8;
        row(near).min(row(far)) - 4
    }

    /// Columns in groups of 16 so that one branch decides for 16 samples (wider groups
    /// skip fewer slices); the rest in eights, then singly.
    /// With `SNAP`, also notes the y-buffers that `snaps` asks for.
    fn draw<const SNAP: bool>(
        &self,
        slices: &[Slice],
        sky: &[u8],
        out: &mut [u8],
        snaps: &mut Snaps,
    ) {
        let mut col = 0;
        while col + 16 <= self.w {
            self.columns::<16, true, SNAP>(col, slices, sky, out, snaps);
            col += 16;
        }
        while col + 8 <= self.w {
            self.columns::<8, true, SNAP>(col, slices, sky, out, snaps);
            col += 8;
        }
        for col in col..self.w {
            self.columns::<1, true, SNAP>(col, slices, sky, out, snaps);
        }
    }

    /// Draws `N` adjacent columns from `col`, front to back, each with its own y-buffer,
    /// into `out` stored column by column (`out[x * stride + PAD + y]`): every span is
    /// contiguous.
    /// `SKIP` passes over slices that cannot show (off only for the reference in tests).
    /// `SNAP` notes y-buffers for `snaps` on the way (aircraft in view; see [`Snaps`]):
    /// off, the loop is the same as without it.
    #[inline(always)]
    fn columns<const N: usize, const SKIP: bool, const SNAP: bool>(
        &self,
        col: usize,
        slices: &[Slice],
        sky: &[u8],
        out: &mut [u8],
        snaps: &mut Snaps,
    ) {
        // A slice exactly `mask + 1` long lets the compiler see that masked indices are in
        // bounds: no check in the sampling loop.
        let mask = self.cells.len() - 1;
        let cells = &self.cells[..=mask];
        let mut ybuf = [self.h as i32; N];
        let mut lowest = self.h as i32;
        let mut hidden = false;
        let mut drew = false;
        let mut i = 0;
        let (mut next_snap, mut due) = (0, if SNAP { snaps.due(col, 0) } else { usize::MAX });
        while i < slices.len() {
            if SNAP && i >= due {
                next_snap = snaps.note(next_snap, i, col, &ybuf);
                due = snaps.due(col, next_snap);
            }
            // Behind a ridge, the next slices are likely hidden too: try several at once.
            if SKIP
                && hidden
                && i + SLAB <= slices.len()
                && self.slab_reach::<N>(&slices[i], &slices[i + SLAB - 1], col) >= lowest
            {
                i += SLAB;
                continue;
            }
            let s = &slices[i];
            i += 1;
            // The block test only after a slice that drew nothing: after one that drew,
            // the next nearly always draws too, and the test (~50 instructions) would
            // only confirm it (render bench, turning: -12 / -8 / -3 %).
            hidden =
                SKIP && (s.reach >= lowest || (!drew && self.local_reach::<N>(s, col) >= lowest));
            if hidden {
                continue; // nothing here can rise above what is already drawn
            }
            let mut top = [0i32; N];
            let mut cell = [0u16; N];
            let start = [s.x as u32, s.y as u32];
            let step = [s.dx as u32, s.dy as u32];
            let masks = [self.mask_x as u32, self.row_mask];
            let row_shift = 16 - self.shift;
            // Negative tops are above the screen; clamped where spans are drawn (`spans`).
            #[cfg(target_arch = "x86_64")]
            {
                // In passes: indices four at a time in SSE2 registers, the loads, then
                // the tops (which the compiler vectorises).
                let index = cell_indices::<N>(start, col as u32, step, masks, row_shift);
                for k in 0..N {
                    let index = index[k] as usize;
                    debug_assert!(index < cells.len());
                    // SAFETY: `index` is an x in `0..width` or-ed with a row in
                    // `(0..height) << log2(width)` (`masks`; the map's sizes are powers of
                    // two), so below `width * height = cells.len()`. (Masking it once more
                    // instead cost an instruction a sample, 2-3 % of a frame.)
                    cell[k] = unsafe { *cells.get_unchecked(index) };
                }
                for k in 0..N {
                    top[k] = (s.base - (cell[k] & 0xff) as i32 * s.scale) >> 8;
                }
            }
            // Elsewhere in one loop: wasm runs it 10-15 % faster than the passes in
            // Chromium, even with the indices in simd128.
            #[cfg(not(target_arch = "x86_64"))]
            for k in 0..N {
                let index = cell_index(start, step, (col + k) as u32, masks, row_shift);
                cell[k] = cells[index as usize & mask];
                top[k] = (s.base - (cell[k] & 0xff) as i32 * s.scale) >> 8;
            }
            let mut visible = false;
            for k in 0..N {
                visible |= top[k] < ybuf[k];
            }
            drew = visible;
            if !visible {
                continue;
            }
            let group = &mut out[col * self.stride..(col + N) * self.stride];
            self.spans(s, &top, &cell, &mut ybuf, group);
            // Apart from the drawing, so that this compiles to vector operations.
            lowest = ybuf.iter().fold(0, |m, &y| m.max(y));
            if lowest == 0 {
                break; // every column has reached the top
            }
        }
        if SNAP {
            snaps.note(next_snap, usize::MAX, col, &ybuf);
        }
        for (k, &y) in ybuf.iter().enumerate() {
            let (base, y) = ((col + k) * self.stride + PAD, y as usize);
            out[base..base + y].copy_from_slice(&sky[..y]);
        }
    }

    /// Draws each of `N` columns' span of one slice (`group` holds the columns) from
    /// its y-buffer up to its sample's `top`, in whole 16-byte words upwards, then
    /// lowers the y-buffers. Every column writes its first word, drawing or not: above
    /// the y-buffer it is overdrawn later by farther slices or the sky anyway (or lands
    /// in the padding), and a branch per column, taken or not as the terrain happens to
    /// be, costs more than the stores once frames change (render bench, camera turning:
    /// 0.112 / 0.385 / 0.686 -> 0.084 / 0.298 / 0.591 ms on x86; in Chromium 640x360
    /// frames 0.50 -> 0.40 ms, 0.44 with the stores bounds-checked: hence raw pointers).
    /// Nearly every span is one word (133k words for 130k drawing columns a 1280x720
    /// frame), so the first words get a straight pass of their own, the longer spans a
    /// second one behind a single test: -5 to -6 % against one loop doing both.
    #[inline(always)]
    fn spans<const N: usize>(
        &self,
        s: &Slice,
        top: &[i32; N],
        cell: &[u16; N],
        ybuf: &mut [i32; N],
        group: &mut [u8],
    ) {
        assert!(group.len() >= N * self.stride);
        // This slice's fog level as 256 entries, so that a colour index needs no bounds
        // check (one a column cost 4-10 %).
        let fog: &[u8; 256] = self.fog[s.fog as usize..][..256]
            .try_into()
            .expect("a fog level is 256 entries");
        // First words in passes apart from the rare longer spans: the rows and the test
        // for more words compile to vector operations, and the stores to a plain sequence.
        let mut first = [0i32; N];
        let mut at = [0i32; N];
        let mut more = false;
        for k in 0..N {
            debug_assert!((0..=self.h as i32).contains(&ybuf[k]));
            first[k] = ybuf[k] - 16;
            at[k] = (k * self.stride) as i32 + first[k];
            more |= first[k] > top[k].max(0);
        }
        let colour: [u8; N] = core::array::from_fn(|k| fog[(cell[k] >> 8) as u8 as usize]);
        let base = group.as_mut_ptr().wrapping_add(PAD);
        for k in 0..N {
            // SAFETY: column `k` is `group[k * stride..][..stride]`, its row `y` at
            // `PAD + y`, so `base + at[k]` is its row `first[k]`, which is within
            // `-16..=h - 16` because `ybuf[k] <= h` (y-buffers start at `h` and only
            // fall, to 0 at least): the word lies in the column's padding (`PAD` = 16
            // rows) or its rows. (One base plus vector-computed offsets, not a pointer a
            // column: -3 to -5 %.)
            unsafe {
                base.offset(at[k] as isize)
                    .cast::<[u8; 16]>()
                    .write_unaligned([colour[k]; 16]);
            }
        }
        if more {
            for k in 0..N {
                let (mut y, top) = (first[k], top[k].max(0));
                while y > top {
                    y -= 16;
                    // SAFETY: as above, and the rows stay above `top >= 0`, so at or
                    // above row -16.
                    unsafe {
                        base.add(k * self.stride)
                            .offset(y as isize)
                            .cast::<[u8; 16]>()
                            .write_unaligned([colour[k]; 16]);
                    }
                }
            }
        }
        for k in 0..N {
            ybuf[k] = ybuf[k].min(top[k]).max(0);
        }
    }
}

/// The cell indices of the samples of `N` adjacent columns from `col` on one slice whose
/// column 0 samples `start` (x, y in 16.16) and moves by `step` a column: the row lands
/// shifted into place (`>> row_shift`), then `masks` (x, row bits) wrap the map. Four
/// lanes at a time in SSE2 registers (the compiler left this scalar).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn cell_indices<const N: usize>(
    start: [u32; 2],
    col: u32,
    step: [u32; 2],
    masks: [u32; 2],
    row_shift: u32,
) -> [u32; N] {
    let first = [0, 1].map(|i| start[i].wrapping_add(step[i].wrapping_mul(col)));
    let mut out = [0u32; N];
    if N % 4 == 0 {
        use core::arch::x86_64::{
            _mm_add_epi32, _mm_and_si128, _mm_cvtsi32_si128, _mm_or_si128, _mm_set1_epi32,
            _mm_setr_epi32, _mm_srl_epi32, _mm_srli_epi32, _mm_storeu_si128,
        };
        let lanes = |i: usize| {
            let at = |k: u32| first[i].wrapping_add(step[i].wrapping_mul(k)) as i32;
            // SAFETY: SSE2 is in x86_64's baseline.
            unsafe { _mm_setr_epi32(at(0), at(1), at(2), at(3)) }
        };
        let (mut x, mut y) = (lanes(0), lanes(1));
        // SAFETY: SSE2 is in x86_64's baseline; each store writes one 4-lane chunk of
        // `out`, borrowed as exactly 16 bytes.
        unsafe {
            let (step_x, step_y) = (
                _mm_set1_epi32(step[0].wrapping_mul(4) as i32),
                _mm_set1_epi32(step[1].wrapping_mul(4) as i32),
            );
            let (mask_x, mask_row) = (
                _mm_set1_epi32(masks[0] as i32),
                _mm_set1_epi32(masks[1] as i32),
            );
            let shift = _mm_cvtsi32_si128(row_shift as i32);
            for chunk in out.chunks_exact_mut(4) {
                let px = _mm_and_si128(_mm_srli_epi32::<16>(x), mask_x);
                let py = _mm_and_si128(_mm_srl_epi32(y, shift), mask_row);
                _mm_storeu_si128(chunk.as_mut_ptr().cast(), _mm_or_si128(px, py));
                x = _mm_add_epi32(x, step_x);
                y = _mm_add_epi32(y, step_y);
            }
        }
        return out;
    }
    for (k, index) in out.iter_mut().enumerate() {
        *index = cell_index(start, step, col + k as u32, masks, row_shift);
    }
    out
}

/// The cell index of one slice's sample for column `c`: `start + c * step`, row shifted
/// into place, masks wrapping the map (one lane of the x86 `cell_indices`).
#[inline(always)]
fn cell_index(start: [u32; 2], step: [u32; 2], c: u32, masks: [u32; 2], row_shift: u32) -> u32 {
    let [x, y] = [0, 1].map(|i| start[i].wrapping_add(step[i].wrapping_mul(c)));
    ((x >> 16) & masks[0]) | ((y >> row_shift) & masks[1])
}

/// An aircraft the last frame showed (at least one pixel of it): which of the frame's
/// `aircraft` and the middle of its top on screen, pixels, for a name label.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shown {
    pub index: usize,
    pub x: f32,
    pub y: f32,
}

/// Reusable per-viewport scratch space, so rendering a frame allocates nothing.
#[derive(Debug, Default)]
pub struct Renderer {
    slices: Vec<Slice>,
    /// Each slice's distance, for finding the slices nearer than an aircraft.
    slice_z: Vec<f32>,
    /// Aircraft art, drawn on first use, and the tints of the last map's palette.
    art: Option<Box<crate::sprite::Art>>,
    tints: Option<Box<Tints>>,
    /// The y-buffers to note for the aircraft of the frame being drawn.
    snaps: Snaps,
    /// The aircraft the last frame showed.
    shown: Vec<Shown>,
    sky: Vec<u8>,
    /// The frame column by column, transposed into the caller's buffer at the end.
    columns: Vec<u8>,
    /// Draw every column on its own and every slice, the reference for the grouped
    /// drawing and its skipping.
    #[cfg(test)]
    singly: bool,
}

impl Renderer {
    pub fn new() -> Renderer {
        Renderer::default()
    }

    /// The aircraft the last frame showed, farthest first.
    pub fn shown(&self) -> &[Shown] {
        &self.shown
    }

    /// The sky colour of each row of the last frame ([`sky_rows`] for its camera), for
    /// frame encoders, which leave the sky out.
    pub fn sky(&self) -> &[u8] {
        &self.sky
    }

    /// Renders `camera` over `map` into `out` as palette indices, row-major.
    ///
    /// # Panics
    /// If `out.len()` is not `viewport.pixels()`.
    pub fn render(
        &mut self,
        map: &Map,
        camera: &Camera,
        options: &RenderOptions,
        viewport: Viewport,
        out: &mut [u8],
    ) {
        self.render_scene(map, camera, options, viewport, &[], out);
    }

    /// [`Renderer::render`] with other players' `aircraft` in the view, each hidden
    /// exactly where nearer terrain covers it.
    ///
    /// # Panics
    /// If `out.len()` is not `viewport.pixels()`.
    pub fn render_scene(
        &mut self,
        map: &Map,
        camera: &Camera,
        options: &RenderOptions,
        viewport: Viewport,
        aircraft: &[Aircraft],
        out: &mut [u8],
    ) {
        assert_eq!(out.len(), viewport.pixels(), "frame buffer size");
        self.render_scene_columns(map, camera, options, viewport, aircraft);
        let (w, h) = (viewport.width(), viewport.height());
        let (columns, stride) = self.columns();
        transpose(columns, stride, w, h, out);
    }

    /// Draws the placed aircraft over the terrain in the column buffer, farthest first.
    /// A sprite pixel shows where no slice nearer than the aircraft drew: front to back,
    /// the y-buffer only rises, so a column's y-buffer after those slices, noted while
    /// drawing, is where nearer terrain begins. Exact, and nothing sampled twice.
    fn draw_aircraft(
        &mut self,
        map: &Map,
        cam: &Camera,
        options: &RenderOptions,
        viewport: Viewport,
        snaps: &Snaps,
    ) {
        if !self.tints.as_ref().is_some_and(|t| t.suit(map.palette())) {
            self.tints = Some(Box::new(Tints::new(map.palette())));
        }
        let (Some(tints), Some(art)) = (self.tints.as_deref(), self.art.as_deref()) else {
            return;
        };
        let stride = viewport.height() + PAD;
        let mut order: Vec<&SnapRequest> = snaps.requests.iter().collect();
        order.sort_by(|a, b| b.placement.z.total_cmp(&a.placement.z));
        let mut shown = std::mem::take(&mut self.shown);
        for r in order {
            let p = &r.placement;
            let fog = &map.fog()[fog_offset(p.z, cam, options) as usize..][..256];
            let colours: [u8; 8] = core::array::from_fn(|class| {
                fog[tints.colour(r.aircraft.tint, class as u8) as usize]
            });
            // A texel's row depends on the screen row only, its column on the screen
            // column only: each worked out once. Texel rows grow with screen rows, so
            // texel row `t` covers screen rows `row_at[t]..row_at[t + 1]` after
            // `r.rows.start` (none when it falls between two rows).
            let texel_row = TexelMap::new(p.top, p.height, ART_H);
            let mut row_at = [r.rows.len(); ART_H + 1];
            let mut t = 0;
            for (i, row) in r.rows.clone().enumerate() {
                let under = texel_row.at(row);
                while t <= under {
                    row_at[t] = i;
                    t += 1;
                }
            }
            let texel_col = TexelMap::new(p.left, p.width, ART_W);
            let runs = art.runs(p.heading);
            let mut any = false;
            for (i, col) in r.cols.clone().enumerate() {
                // Rows from `cover` down belong to nearer terrain.
                let cover = (snaps.cover[r.offset + i].max(0) as usize)
                    .saturating_sub(r.rows.start)
                    .min(r.rows.len());
                let column = &mut self.columns[col * stride + PAD + r.rows.start..][..r.rows.len()];
                for run in runs.column(texel_col.at(col)) {
                    let from = row_at[run.start as usize];
                    let to = row_at[run.end as usize];
                    if let Some(span) = column.get_mut(from..to.min(cover)) {
                        span.fill(colours[run.class as usize & 7]);
                        any |= !span.is_empty();
                    }
                    if to >= cover {
                        break;
                    }
                }
            }
            if any {
                Self::note_shown(&mut shown, art, r);
            }
        }
        self.shown = shown;
    }

    /// Notes that request `r`, which drew a pixel, shows its aircraft.
    fn note_shown(shown: &mut Vec<Shown>, art: &crate::sprite::Art, r: &SnapRequest) {
        let p = &r.placement;
        let (_, [top, _]) = art.opaque(p.heading);
        shown.push(Shown {
            index: r.index,
            x: p.left + p.width * 0.5,
            y: p.top + p.height * top as f32 / ART_H as f32,
        });
    }

    /// Renders `camera` over `map` column by column only, for [`Renderer::columns`]:
    /// frame encoders want columns, so the transpose into rows would be undone.
    pub fn render_columns(
        &mut self,
        map: &Map,
        camera: &Camera,
        options: &RenderOptions,
        viewport: Viewport,
    ) {
        self.render_scene_columns(map, camera, options, viewport, &[]);
    }

    /// [`Renderer::render_columns`] with `aircraft`, as [`Renderer::render_scene`].
    pub fn render_scene_columns(
        &mut self,
        map: &Map,
        camera: &Camera,
        options: &RenderOptions,
        viewport: Viewport,
        aircraft: &[Aircraft],
    ) {
        let cam = camera.sanitized();
        let w = viewport.width();
        let horizon = horizon_row(&cam, viewport);
        self.prepare_slices(map, &cam, options, w, horizon);
        sky_rows(&cam, viewport, &mut self.sky);
        let frame = Frame::new(map, viewport);
        let mut snaps = std::mem::take(&mut self.snaps);
        self.shown.clear();
        self.place_aircraft(map, &cam, viewport, aircraft, &mut snaps);

        // Drawn column by column: every span contiguous.
        self.columns.resize(w * frame.stride, 0);
        let (slices, sky, out) = (&self.slices, &self.sky, &mut self.columns);
        #[cfg(test)]
        if self.singly {
            for col in 0..w {
                frame.columns::<1, false, true>(col, slices, sky, out, &mut snaps);
            }
            self.draw_aircraft(map, &cam, options, viewport, &snaps);
            self.snaps = snaps;
            return;
        }
        if snaps.requests.is_empty() {
            frame.draw::<false>(slices, sky, out, &mut snaps);
        } else {
            frame.draw::<true>(slices, sky, out, &mut snaps);
            self.draw_aircraft(map, &cam, options, viewport, &snaps);
        }
        self.snaps = snaps;
    }

    /// Which of `aircraft` show on screen, where, and which y-buffers the drawing must
    /// note for them: one a column they may cover, after the slices nearer than them.
    fn place_aircraft(
        &mut self,
        map: &Map,
        cam: &Camera,
        viewport: Viewport,
        aircraft: &[Aircraft],
        snaps: &mut Snaps,
    ) {
        snaps.requests.clear();
        snaps.cover.clear();
        snaps.starts.clear();
        snaps.in_bucket.clear();
        if aircraft.is_empty() {
            return;
        }
        let art = self.art.get_or_insert_with(Default::default);
        let (w, h) = (viewport.width(), viewport.height());
        let map_size = (map.width() as f32, map.height() as f32);
        let projector = Projector::for_frame(cam, map_size, viewport);
        for (index, a) in aircraft.iter().enumerate() {
            let Some(p) = projector.place(a) else {
                continue;
            };
            let (cols, rows) = opaque_span(&p, art.opaque(p.heading), w, h);
            if cols.is_empty() || rows.is_empty() {
                continue;
            }
            snaps.requests.push(SnapRequest {
                index,
                slice: self.slice_z.partition_point(|&z| z < p.z),
                offset: snaps.cover.len(),
                cols: cols.clone(),
                rows,
                placement: p,
                aircraft: *a,
            });
            snaps.cover.resize(snaps.cover.len() + cols.len(), 0);
        }
        snaps.requests.sort_by_key(|r| r.slice);
        snaps.index(w);
    }

    /// The last frame column by column, and the distance between columns: column `x`
    /// is `columns[x * stride..][..height]`, top row first.
    /// (Empty before the first frame.)
    pub fn columns(&self) -> (&[u8], usize) {
        (
            self.columns.get(PAD..).unwrap_or_default(),
            self.sky.len() + PAD,
        )
    }

    fn prepare_slices(
        &mut self,
        map: &Map,
        cam: &Camera,
        options: &RenderOptions,
        w: usize,
        horizon: f32,
    ) {
        const ONE: f32 = 65536.0;
        // |base| and 255 * scale stay below 2^30: their difference fits an i32.
        const LIMIT: f32 = (1 << 30) as f32;
        let tan = libm::tanf(cam.fov * 0.5);
        let focal = w as f32 * 0.5 / tan;
        let (sin, cos) = (libm::sinf(cam.yaw), libm::cosf(cam.yaw));
        // Forward is (sin, -cos): yaw 0 looks up the map; right is forward turned 90°.
        let (fx, fy, rx, ry) = (sin, -cos, cos, sin);
        // Wrap the eye into the map so fixed point never overflows.
        let (mw, mh) = (map.width() as f32, map.height() as f32);
        let ex = cam.x - libm::floorf(cam.x / mw) * mw;
        let ey = cam.y - libm::floorf(cam.y / mh) * mh;
        let lod = options.lod.clamp(0.0, 1.0);

        self.slices.clear();
        self.slice_z.clear();
        let mut z = 1.0f32;
        let mut dz = 1.0f32;
        while z < cam.distance {
            let half = z * tan;
            let step = 2.0 * half / w as f32;
            // Sample at column centres: start half a column in from the left edge.
            let lx = ex + fx * z - rx * (half - step * 0.5);
            let ly = ey + fy * z - ry * (half - step * 0.5);
            let fog = fog_offset(z, cam, options);
            let base = ((horizon + cam.altitude * (focal / z)) * 256.0).clamp(-LIMIT, LIMIT) as i32;
            let scale = ((focal / z) * 256.0).min(LIMIT / 256.0) as i32;
            self.slices.push(Slice {
                x: (lx * ONE) as i32,
                y: (ly * ONE) as i32,
                dx: (rx * step * ONE) as i32,
                dy: (ry * step * ONE) as i32,
                base,
                scale,
                reach: ((base - map.max_height() as i32 * scale) >> 8).max(0),
                fog,
            });
            self.slice_z.push(z);
            z += dz;
            dz += lod;
        }
    }
}

/// Where distance `z`'s fog level starts in the map's fog table.
fn fog_offset(z: f32, cam: &Camera, options: &RenderOptions) -> u16 {
    if !options.fog {
        return 0;
    }
    let t = (z / cam.distance - 0.45) / 0.55;
    (t.clamp(0.0, 1.0) * (FOG_LEVELS - 1) as f32) as u16 * 256
}

/// The columns and rows a sprite covers on a `w` x `h` screen: those whose pixel
/// centres fall inside it.
fn sprite_span(
    p: &Placement,
    w: usize,
    h: usize,
) -> (core::ops::Range<usize>, core::ops::Range<usize>) {
    let first = |start: f32| (start - 0.5).ceil().max(0.0) as usize;
    let cols = first(p.left)..first(p.left + p.width).min(w);
    let rows = first(p.top)..first(p.top + p.height).min(h);
    (cols, rows)
}

/// The columns and rows of a sprite that can show its `opaque` texels (columns and rows
/// `[start, end)` of the bitmap): [`sprite_span`] less the transparent margins.
fn opaque_span(
    p: &Placement,
    ([c0, c1], [r0, r1]): ([usize; 2], [usize; 2]),
    w: usize,
    h: usize,
) -> (core::ops::Range<usize>, core::ops::Range<usize>) {
    let (cols, rows) = sprite_span(p, w, h);
    // Pixel centres map to texels by `(x + 0.5 - left) / size * ART`, truncated: texel t
    // starts at pixel centre left + t * size / ART - 0.5. A pixel early or late makes no
    // difference to what is drawn (its texel is transparent), so the bounds may be loose.
    let first = |start: f32, t: usize, size: f32, art: usize| {
        ((start + t as f32 * size / art as f32 - 0.5)
            .floor()
            .max(0.0) as usize)
            .saturating_sub(1)
    };
    let c = first(p.left, c0, p.width, ART_W)..first(p.left, c1, p.width, ART_W) + 2;
    let r = first(p.top, r0, p.height, ART_H)..first(p.top, r1, p.height, ART_H) + 2;
    (
        cols.start.max(c.start)..cols.end.min(c.end),
        rows.start.max(r.start)..rows.end.min(r.end),
    )
}

/// The bitmap texel under pixel (`col`, `row`) of a placed sprite.
#[cfg(test)]
fn sprite_texel(p: &Placement, col: usize, row: usize) -> usize {
    TexelMap::new(p.top, p.height, ART_H).at(row) * ART_W
        + TexelMap::new(p.left, p.width, ART_W).at(col)
}

/// Which texel lies under each pixel along one side of a placed sprite (the nearest,
/// by the pixel's centre), in 16.16 fixed point: a pixel costs an add and a shift, no
/// division or float conversion, and native and wasm agree to the bit.
#[derive(Clone, Copy, Debug)]
struct TexelMap {
    /// Texel position of pixel 0's centre, and of one pixel, 16.16.
    origin: i64,
    step: i64,
    last: i64,
}

impl TexelMap {
    /// For a side starting at pixel position `start`, `size` pixels long, `texels` long.
    fn new(start: f32, size: f32, texels: usize) -> TexelMap {
        const ONE: f32 = 65536.0;
        let scale = texels as f32 / size;
        TexelMap {
            origin: ((0.5 - start) * scale * ONE) as i64,
            step: (scale * ONE) as i64,
            last: texels as i64 - 1,
        }
    }

    /// The texel under pixel `at`.
    #[inline(always)]
    fn at(&self, at: usize) -> usize {
        ((self.origin + at as i64 * self.step) >> 16).clamp(0, self.last) as usize
    }
}

/// Screen row of the horizon.
pub(crate) fn horizon_row(cam: &Camera, viewport: Viewport) -> f32 {
    let h = viewport.height() as f32;
    h * 0.5 - cam.horizon * h
}

/// The sky colour of each screen row for a camera: haze at the horizon, deepening towards
/// the zenith. Public because frame decoders rebuild the sky instead of receiving it.
pub fn sky_rows(camera: &Camera, viewport: Viewport, out: &mut Vec<u8>) {
    let cam = camera.sanitized();
    let horizon = horizon_row(&cam, viewport);
    let h = viewport.height();
    let span = h as f32 * 0.75;
    out.clear();
    out.extend((0..h).map(|y| {
        let up = ((horizon - y as f32) / span).clamp(0.0, 1.0);
        let i = (SKY_LEN - 1) - (up * (SKY_LEN - 1) as f32) as usize;
        (SKY_BASE + i) as u8
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Palette;
    use crate::sprite::{Look, place};

    fn vp(w: u32, h: u32) -> Viewport {
        Viewport::new(w, h).unwrap()
    }

    /// A flat map at height 0 with one wall of height 200 across x = 40..44, colour 9.
    fn wall_map() -> Map {
        let n = 128usize;
        let mut heights = vec![0u8; n * n];
        let mut colours = vec![1u8; n * n];
        for y in 0..n {
            for x in 40..44 {
                heights[y * n + x] = 200;
                colours[y * n + x] = 9;
            }
            // A marker behind the wall that must stay hidden.
            for x in 20..24 {
                heights[y * n + x] = 100;
                colours[y * n + x] = 5;
            }
        }
        let palette = Palette(core::array::from_fn(|i| [i as u8; 3]));
        Map::new(n as u32, n as u32, &heights, &colours, palette).unwrap()
    }

    fn render(map: &Map, cam: Camera, v: Viewport) -> Vec<u8> {
        let mut out = vec![0; v.pixels()];
        let options = RenderOptions {
            fog: false,
            ..RenderOptions::default()
        };
        Renderer::new().render(map, &cam, &options, v, &mut out);
        out
    }

    fn looking_west(x: f32) -> Camera {
        Camera {
            x,
            y: 64.0,
            altitude: 50.0,
            yaw: -core::f32::consts::FRAC_PI_2,
            horizon: 0.0,
            distance: 120.0,
            fov: core::f32::consts::FRAC_PI_2,
        }
    }

    #[test]
    fn near_ridge_hides_what_is_behind_it() {
        let map = wall_map();
        let frame = render(&map, looking_west(60.0), vp(64, 48));
        assert!(frame.contains(&9), "the wall is visible");
        assert!(!frame.contains(&5), "the marker behind the wall is hidden");
        // Move past the wall: now the marker shows.
        let frame = render(&map, looking_west(38.0), vp(64, 48));
        assert!(frame.contains(&5));
    }

    /// Low over flat ground, looking east where nothing rises within `distance`.
    fn looking_east(distance: f32) -> Camera {
        Camera {
            altitude: 10.0,
            yaw: core::f32::consts::FRAC_PI_2,
            distance,
            ..looking_west(60.0)
        }
    }

    #[test]
    fn ground_below_sky_above() {
        let frame = render(&wall_map(), looking_east(60.0), vp(64, 48));
        // Row 0 is 24 rows above the horizon, 2/3 of the sky span of 36 rows: 31 - 20 steps.
        assert_eq!(frame[0], 224 + 11, "deep blue at the top");
        assert_eq!(frame[23 * 64], 255, "haze at the horizon");
        assert_eq!(frame[frame.len() - 1], 1, "flat ground at the bottom");
    }

    #[test]
    fn grouped_skipping_columns_draw_what_the_plain_algorithm_draws() {
        let map = crate::mapgen::generate_sized(256, 7);
        // 16- and 8-column groups, then single columns.
        let v = vp(16 * 9 + 8 + 5, 97);
        for cam in [Camera::default(), looking_east(300.0), looking_west(10.0)] {
            let (mut grouped, mut single) = (vec![0; v.pixels()], vec![1; v.pixels()]);
            let options = RenderOptions::default();
            Renderer::new().render(&map, &cam, &options, v, &mut grouped);
            let mut reference = Renderer {
                singly: true,
                ..Renderer::new()
            };
            reference.render(&map, &cam, &options, v, &mut single);
            assert_eq!(grouped, single, "{cam:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Skipping is exact: any camera draws what the plain algorithm draws.
        #[test]
        fn skipping_never_changes_a_pixel(
            x in 0.0f32..512.0, y in 0.0f32..512.0, altitude in 0.0f32..400.0,
            yaw in -7.0f32..7.0, horizon in -0.6f32..0.6, distance in 20.0f32..1200.0,
        ) {
            thread_local! {
                static MAP: Map = crate::mapgen::generate_sized(256, 11);
            }
            let cam = Camera { x, y, altitude, yaw, horizon, distance, ..Camera::default() };
            let v = vp(16 * 5 + 8 + 3, 71);
            let (mut fast, mut plain) = (vec![0; v.pixels()], vec![1; v.pixels()]);
            MAP.with(|map| {
                let options = RenderOptions::default();
                Renderer::new().render(map, &cam, &options, v, &mut fast);
                let mut reference = Renderer { singly: true, ..Renderer::new() };
                reference.render(map, &cam, &options, v, &mut plain);
            });
            proptest::prop_assert_eq!(fast, plain);
        }
    }

    /// Aircraft drawn the plain way: every pixel keeps the index of the slice that drew
    /// it (terrain sampled through `Map::at`, not the renderer's masks), and a sprite
    /// pixel shows where that slice is not nearer than the aircraft.
    fn reference_scene(map: &Map, cam: &Camera, v: Viewport, aircraft: &[Aircraft]) -> Vec<u8> {
        let options = RenderOptions::default();
        let mut r = Renderer {
            singly: true,
            ..Renderer::new()
        };
        let mut out = vec![0; v.pixels()];
        r.render(map, cam, &options, v, &mut out);
        let (w, h) = (v.width(), v.height());
        let mut depth = vec![usize::MAX; v.pixels()];
        for col in 0..w {
            let mut ybuf = h as i32;
            for (i, s) in r.slices.iter().enumerate() {
                let c = col as u32;
                let x = (s.x as u32).wrapping_add((s.dx as u32).wrapping_mul(c)) >> 16;
                let y = (s.y as u32).wrapping_add((s.dy as u32).wrapping_mul(c)) >> 16;
                let (height, _) = map.at(x as i64, y as i64);
                let top = ((s.base - height as i32 * s.scale) >> 8).max(0);
                for row in top..ybuf {
                    depth[row as usize * w + col] = i;
                }
                ybuf = ybuf.min(top);
            }
        }
        let cam = cam.sanitized();
        let tints = Tints::new(map.palette());
        let art = crate::sprite::Art::new();
        let size = (map.width() as f32, map.height() as f32);
        let projector = Projector::for_frame(&cam, size, v);
        let mut placed: Vec<_> = aircraft
            .iter()
            .filter_map(|a| Some((projector.place(a)?, a)))
            .collect();
        placed.sort_by(|a, b| b.0.z.total_cmp(&a.0.z));
        for (p, a) in placed {
            let nearer = r.slice_z.iter().filter(|&&z| z < p.z).count();
            let fog = fog_offset(p.z, &cam, &options) as usize;
            let (cols, rows) = sprite_span(&p, w, h);
            for row in rows {
                for col in cols.clone() {
                    let class = art.heading(p.heading)[sprite_texel(&p, col, row)];
                    if class != 0 && depth[row * w + col] >= nearer {
                        out[row * w + col] = map.fog()[fog + tints.colour(a.tint, class) as usize];
                    }
                }
            }
        }
        out
    }

    fn aircraft(x: f32, y: f32, altitude: f32, yaw: f32, tint: u8) -> Aircraft {
        Aircraft {
            x,
            y,
            altitude,
            yaw,
            tint,
            look: Default::default(),
        }
    }

    /// `aircraft` over the terrain, seen from `cam`.
    fn scene(map: &Map, cam: &Camera, v: Viewport, aircraft: &[Aircraft]) -> Vec<u8> {
        let mut out = vec![0; v.pixels()];
        Renderer::new().render_scene(map, cam, &RenderOptions::default(), v, aircraft, &mut out);
        out
    }

    #[test]
    fn what_draws_the_same_picture_renders_the_same_pixels() {
        let map = wall_map();
        let cam = Camera {
            altitude: 230.0,
            horizon: 0.3,
            ..looking_west(60.0)
        };
        let v = vp(96, 128);
        let draw = |a: &[Aircraft]| scene(&map, &cam, v, a);
        let at = |x: f32, y: f32, yaw: f32| aircraft(x, y, 220.0, yaw, 1);
        // One in view, one behind the camera.
        let before = [at(40.0, 66.0, 0.3), at(90.0, 64.0, 0.0)];
        let picture = draw(&before);
        let projector = Projector::for_frame(&cam, (128.0, 128.0), v);
        let (mut same, mut new) = (0, 0);
        for step in -40..=40 {
            let turn = step as f32 * 0.02;
            let mut after = before;
            after[0].yaw += turn;
            after[1].yaw -= 3.0 * turn; // out of sight: anything goes
            after[1].x += turn;
            if projector.same_picture(&before, &after) {
                assert!(draw(&after) == picture, "turned {turn}: same picture");
                same += 1;
            } else {
                assert!(draw(&after) != picture, "turned {turn}: another bitmap");
                new += 1;
            }
        }
        assert!(same > 5 && new > 5, "{same} the same, {new} new");
    }

    #[test]
    fn an_aircraft_behind_a_wall_is_hidden_in_front_of_it_shown() {
        let map = wall_map();
        // Just above the wall's top (200), 16 units east of it, looking west and down:
        // the wall's top edge crosses the screen at row 43 of 128.
        let cam = Camera {
            altitude: 210.0,
            horizon: 0.4,
            ..looking_west(60.0)
        };
        let v = vp(96, 128);
        let at = |x: f32, altitude: f32| aircraft(x, 64.0, altitude, 0.5, 2);
        let draw = |a: &[Aircraft]| scene(&map, &cam, v, a);
        let terrain = draw(&[]);
        let changed = |a: &[Aircraft]| draw(a).iter().zip(&terrain).filter(|(p, t)| p != t).count();
        // Between the camera and the wall: drawn over the wall.
        assert!(changed(&[at(50.0, 190.0)]) > 100);
        // Behind the wall, below its top as seen from here: on screen, but hidden, the
        // picture is the terrain's.
        let focal = 48.0; // 96 columns, 90 degrees
        let p = place(
            &at(30.0, 150.0),
            &cam,
            (128.0, 128.0),
            96,
            horizon_row(&cam, v),
            focal,
        );
        let (cols, rows) = sprite_span(&p.unwrap(), 96, 128);
        assert!(cols.len() > 10 && rows.len() > 5, "{cols:?} {rows:?}");
        assert_eq!(changed(&[at(30.0, 150.0)]), 0);
        // Behind the wall, above its top as seen from here: shown.
        assert!(changed(&[at(30.0, 205.0)]) > 20);
        for a in [at(50.0, 190.0), at(30.0, 150.0), at(30.0, 205.0)] {
            assert_eq!(draw(&[a]), reference_scene(&map, &cam, v, &[a]));
        }
        // Labels go to the aircraft shown, not to one the wall hides.
        let mut r = Renderer::new();
        let mut out = vec![0; v.pixels()];
        let all = [at(30.0, 150.0), at(50.0, 190.0), at(30.0, 205.0)];
        r.render_scene(&map, &cam, &RenderOptions::default(), v, &all, &mut out);
        let mut shown: Vec<usize> = r.shown().iter().map(|s| s.index).collect();
        shown.sort();
        assert_eq!(shown, [1, 2]);
        let s = r.shown()[0];
        assert!(
            (0.0..96.0).contains(&s.x) && (0.0..128.0).contains(&s.y),
            "{s:?}"
        );
    }

    #[test]
    fn near_sprites_drawn_as_runs_match_the_reference() {
        // Large on screen, so that each texel row covers several screen rows (drawn as
        // runs), and partly behind the wall's top; every look.
        let map = wall_map();
        let cam = Camera {
            altitude: 205.0,
            ..looking_west(60.0)
        };
        let v = vp(640, 400);
        let focal = 320.0;
        let terrain = scene(&map, &cam, v, &[]);
        for (i, look) in [Look::Plane, Look::Ghost, Look::Bead]
            .into_iter()
            .enumerate()
        {
            // Beads are smaller: nearer.
            let x = if look == Look::Bead { 38.0 } else { 35.0 };
            for altitude in [197.0, 200.0, 205.0] {
                let a = Aircraft {
                    x,
                    y: 64.0 + i as f32,
                    altitude,
                    yaw: 0.3 * i as f32,
                    tint: 5,
                    look,
                };
                let p = place(&a, &cam, (128.0, 128.0), 640, horizon_row(&cam, v), focal).unwrap();
                assert!(p.height >= 2.0 * ART_H as f32 + 4.0, "{look:?} {p:?}");
                let out = scene(&map, &cam, v, &[a]);
                let shown = out.iter().zip(&terrain).filter(|(o, t)| o != t).count();
                assert!(shown > 10, "{look:?} at {altitude}: {shown} pixels");
                assert!(
                    out == reference_scene(&map, &cam, v, &[a]),
                    "{look:?} at {altitude}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Occlusion is exact: aircraft, ghosts and gates' beads anywhere in view draw
        /// what the per-pixel-depth reference draws, over any terrain.
        #[test]
        fn aircraft_are_hidden_exactly_where_nearer_terrain_covers_them(
            x in 0.0f32..256.0, y in 0.0f32..256.0, altitude in 60.0f32..300.0,
            yaw in -7.0f32..7.0, horizon in -0.4f32..0.4,
            planes in proptest::collection::vec(
                (10.0f32..400.0, -0.7f32..0.7, -80.0f32..80.0, -7.0f32..7.0, 0u8..8, 0u8..3), 1..5),
        ) {
            thread_local! {
                static MAP: Map = crate::mapgen::generate_sized(256, 11);
            }
            let cam = Camera { x, y, altitude, yaw, horizon, distance: 500.0, ..Camera::default() };
            // Each aircraft at a distance and bearing from the camera, above or below it.
            let aircraft: Vec<Aircraft> = planes
                .iter()
                .map(|&(d, bearing, climb, heading, tint, look)| Aircraft {
                    x: x + d * libm::sinf(yaw + bearing),
                    y: y - d * libm::cosf(yaw + bearing),
                    altitude: altitude + climb,
                    yaw: heading,
                    tint,
                    look: [Look::Plane, Look::Ghost, Look::Bead][look as usize],
                })
                .collect();
            let v = vp(16 * 5 + 8 + 3, 71);
            MAP.with(|map| {
                let fast = scene(map, &cam, v, &aircraft);
                proptest::prop_assert_eq!(fast, reference_scene(map, &cam, v, &aircraft));
                Ok(())
            })?;
        }
    }

    #[test]
    fn world_wraps_around() {
        let map = wall_map();
        let v = vp(80, 60);
        let a = render(&map, looking_west(60.0), v);
        let b = render(&map, looking_west(60.0 + 128.0 * 3.0), v);
        let c = render(&map, looking_west(60.0 - 128.0 * 5.0), v);
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn insane_cameras_do_not_panic() {
        let map = wall_map();
        for cam in [
            Camera {
                x: f32::NAN,
                altitude: f32::INFINITY,
                ..looking_west(1.0)
            },
            Camera {
                distance: 1.0e30,
                fov: 3.1,
                horizon: -100.0,
                ..looking_west(1.0e9)
            },
        ] {
            let frame = render(&map, cam, vp(64, 48));
            assert_eq!(frame.len(), 64 * 48);
        }
    }

    #[test]
    fn fog_fades_far_terrain() {
        let map = wall_map();
        let mut out = vec![0; 64 * 48];
        let cam = looking_east(60.0);
        Renderer::new().render(&map, &cam, &RenderOptions::default(), vp(64, 48), &mut out);
        // Row 30 shows ground about 50 units away: fogged towards the haze.
        let far = map.palette().0[out[30 * 64 + 32] as usize];
        assert!(far[0] > 100, "{far:?}");
        assert_eq!(out[47 * 64 + 32], 1, "near ground is not fogged");
    }
}
