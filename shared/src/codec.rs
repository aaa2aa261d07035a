//! Frame payload encodings. A Voxel Space column is the sky over a stack of one-colour
//! spans, so [`FrameEncoding::Runs`] sends a frame column by column as: how many rows of
//! sky (the decoder redraws the sky from the camera), then the runs below it — their
//! lengths (two short ones to a byte), and their colours XORed with the pixel to the
//! left (neighbouring columns mostly agree, so that is mostly zeros). Each is a plane of
//! its own and the planes go through a fast deflate — ours ([`FrameEncoding::Runs`]), or
//! the WebSocket's permessage-deflate ([`FrameEncoding::RunPlanes`]), which browsers undo
//! natively. Raw row-major indices stay as the baseline every client understands.

use crate::camera::Viewport;
use crate::protocol::FrameEncoding;
use crate::transpose::transpose;
use std::cell::RefCell;
use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("payload is not a valid {0}-pixel frame")]
    Corrupt(usize),
    #[error("video frames are for a video decoder (WebCodecs in the browser)")]
    Video,
}

/// How a deflated payload ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// The last block: a stream of its own ([`FrameEncoding::Runs`]).
    Finish,
    /// An empty stored block after the data: a permessage-deflate message.
    Sync,
}

/// Deflates run planes into `out` (cleared first), ending with `flush`. Huffman codes
/// for single bytes, no LZ77 matches: the planes repeat little, and at level 1 the
/// matches found cost more bits than the bytes they replace (46.7 against 52.2 KB on
/// the same frames, in the same time). zlib-rs (zlib-ng's Huffman-only pass) does this
/// in 0.30 ms a 640x360 frame where miniz_oxide took 0.49 ms, 1 % smaller.
///
/// Each of `parts` starts a block of its own, with codes for its own bytes: the sky
/// rows, run lengths and colours are unlike each other, and blocks cut where they meet
/// are ≈ 2 % smaller than blocks cut by count (`docs/BENCHMARKS.md`).
pub fn deflate_planes(parts: &[&[u8]], flush: Flush, out: &mut Vec<u8>) {
    COMPRESSOR.with_borrow_mut(|slot| {
        let deflate = slot.get_or_insert_with(|| {
            Box::new(zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
                level: 1,
                method: zlib_rs::Method::Deflated,
                window_bits: -15, // raw deflate: no zlib header
                // Blocks of up to 32 Ki codes: a plane is one or two of them.
                mem_level: 9,
                strategy: zlib_rs::Strategy::HuffmanOnly,
            }))
        });
        let total = parts.iter().map(|p| p.len()).sum();
        out.clear();
        out.resize(zlib_rs::compress_bound(total) + 16 * (parts.len() + 1), 0);
        let mut written = 0;
        'parts: for (k, part) in parts.iter().enumerate() {
            if part.is_empty() && k + 1 < parts.len() {
                continue; // no block for nothing
            }
            let mode = match flush {
                _ if k + 1 < parts.len() => zlib_rs::DeflateFlush::Block,
                Flush::Finish => zlib_rs::DeflateFlush::Finish,
                Flush::Sync => zlib_rs::DeflateFlush::SyncFlush,
            };
            let mut read = 0;
            loop {
                let (was_in, was_out) = (deflate.total_in(), deflate.total_out());
                let status = deflate.compress(&part[read..], &mut out[written..], mode);
                read += (deflate.total_in() - was_in) as usize;
                written += (deflate.total_out() - was_out) as usize;
                // Done when the stream ends, or (block, sync) when all is read and room
                // was left.
                let done = match status {
                    Ok(zlib_rs::Status::StreamEnd) => true,
                    Ok(_) => {
                        mode != zlib_rs::DeflateFlush::Finish
                            && read == part.len()
                            && written < out.len()
                    }
                    Err(e) => {
                        // A broken stream: nothing after it can be read either.
                        debug_assert!(false, "deflate: {e:?}");
                        break 'parts;
                    }
                };
                if done {
                    break;
                }
                out.resize(out.len() * 2, 0);
            }
        }
        out.truncate(written);
        deflate.reset();
    });
}

thread_local! {
    /// A compressor is a few hundred KiB: one a thread (encoding runs on the server's
    /// render threads), not one an encoder (one a player).
    static COMPRESSOR: RefCell<Option<Box<zlib_rs::Deflate>>> = const { RefCell::new(None) };
}

/// Reusable scratch space for encoding frames.
#[derive(Default)]
pub struct FrameEncoder {
    /// The frame column by column: every run is contiguous.
    columns: Vec<u8>,
    planes: Vec<u8>,
    /// Each run's length, then coded into the planes ([`push_lengths`]), and its
    /// colour; only the first runs are this frame's (they are written by index).
    lengths: Vec<u16>,
    colours: Vec<u8>,
    /// Where one column's runs start ([`run_starts`]).
    starts: Vec<u32>,
    /// A column of black, left of the first.
    black: Vec<u8>,
    out: Vec<u8>,
}

impl FrameEncoder {
    pub fn new() -> FrameEncoder {
        FrameEncoder::default()
    }

    /// Encodes row-major `indices` (`viewport.pixels()` bytes); `sky` is
    /// [`crate::render::sky_rows`] for the frame's camera.
    pub fn encode<'a>(
        &'a mut self,
        indices: &'a [u8],
        viewport: Viewport,
        encoding: FrameEncoding,
        sky: &[u8],
    ) -> &'a [u8] {
        if encoding == FrameEncoding::Raw {
            return indices;
        }
        let (w, h) = (viewport.width(), viewport.height());
        let mut columns = std::mem::take(&mut self.columns);
        columns.resize(w * h, 0);
        transpose(indices, w, h, w, &mut columns);
        self.build_planes(&columns, h, viewport, sky);
        self.columns = columns;
        self.finish(encoding, viewport.width())
    }

    /// The same from a frame stored column by column, as [`crate::Renderer::columns`]
    /// gives it: column `x` is `columns[x * stride..][..height]`. Runs need columns, so
    /// this saves transposing the frame into rows and back.
    pub fn encode_columns(
        &mut self,
        columns: &[u8],
        stride: usize,
        viewport: Viewport,
        encoding: FrameEncoding,
        sky: &[u8],
    ) -> &[u8] {
        debug_assert!(
            encoding != FrameEncoding::Video,
            "video is the server's encoder"
        );
        let (w, h) = (viewport.width(), viewport.height());
        if encoding == FrameEncoding::Raw {
            self.out.resize(w * h, 0);
            transpose(columns, stride, w, h, &mut self.out);
            return &self.out;
        }
        self.build_planes(columns, stride, viewport, sky);
        self.finish(encoding, viewport.width())
    }

    /// `[run count u32][sky rows: w low bytes, w high bytes][length codes][colour per run]`
    /// into `self.planes` (length codes: [`push_lengths`]).
    fn build_planes(&mut self, columns: &[u8], stride: usize, viewport: Viewport, sky: &[u8]) {
        let (w, h) = (viewport.width(), viewport.height());
        self.planes.clear();
        self.planes.resize(4 + 2 * w, 0);
        // The first column's left neighbour is black.
        self.black.resize(h, 0);
        let mut n = 0;
        let mut left: &[u8] = &self.black;
        for x in 0..w {
            let column = &columns[x * stride..][..h];
            let sky_rows = common_prefix(column, &sky[..h.min(sky.len())]);
            self.planes[4 + x] = sky_rows as u8;
            self.planes[4 + w + x] = (sky_rows >> 8) as u8;
            if sky_rows < h {
                // Room for a run on every row of the column, so that a run is two
                // stores, with no capacity check.
                if self.lengths.len() < n + h {
                    let room = (n + h).max(2 * self.lengths.len());
                    self.lengths.resize(room, 0);
                    self.colours.resize(room, 0);
                }
                self.starts.resize(h + 1 + STARTS_AT_ONCE, 0);
                let count = run_starts(column, sky_rows, &mut self.starts);
                n = push_runs(
                    &self.starts[..=count],
                    column,
                    left,
                    (&mut self.lengths, &mut self.colours),
                    n,
                );
            }
            left = column;
        }
        self.planes[..4].copy_from_slice(&(n as u32).to_le_bytes());
        push_lengths(&self.lengths[..n], &mut self.planes);
        self.planes.extend_from_slice(&self.colours[..n]);
    }

    /// The planes as they are, or deflated.
    fn finish(&mut self, encoding: FrameEncoding, width: usize) -> &[u8] {
        if encoding == FrameEncoding::RunPlanes {
            return &self.planes;
        }
        deflate_planes(
            &plane_parts(&self.planes, width),
            Flush::Finish,
            &mut self.out,
        );
        &self.out
    }
}

/// Run planes of a frame `width` columns wide cut where the length codes and the
/// colours start (see [`FrameEncoder::build_planes`]), for deflating each in a block of
/// its own; any bytes at all give three parts.
pub fn plane_parts(planes: &[u8], width: usize) -> [&[u8]; 3] {
    let runs = planes
        .first_chunk()
        .map_or(0, |n| u32::from_le_bytes(*n) as usize);
    let lengths_at = (4 + 2 * width).min(planes.len());
    let colours_at = planes.len().saturating_sub(runs).max(lengths_at);
    let (head, colours) = planes.split_at(colours_at);
    let (head, lengths) = head.split_at(lengths_at);
    [head, lengths, colours]
}

/// Writes the runs of `column` between consecutive `starts` ([`run_starts`]) into
/// `lengths` and `colours` from index `n` (room for a run a row); returns the new count.
/// Each run's colour is XORed with the pixel to its `left`.
#[inline(always)]
fn push_runs(
    starts: &[u32],
    column: &[u8],
    left: &[u8],
    (lengths, colours): (&mut [u16], &mut [u8]),
    n: usize,
) -> usize {
    if starts.windows(2).any(|p| p[1] - p[0] > 256) {
        return push_runs_long(starts, column, left, (lengths, colours), n);
    }
    let runs = starts.len() - 1;
    let places = lengths[n..n + runs]
        .iter_mut()
        .zip(&mut colours[n..n + runs]);
    for (p, (length, colour)) in starts.windows(2).zip(places) {
        let start = p[0] as usize;
        *length = (p[1] - p[0]) as u16;
        *colour = column[start] ^ left[start];
    }
    n + runs
}

/// [`push_runs`] for a column with a run longer than a length byte holds: those go in
/// pieces of at most 256 rows; rare.
#[cold]
fn push_runs_long(
    starts: &[u32],
    column: &[u8],
    left: &[u8],
    (lengths, colours): (&mut [u16], &mut [u8]),
    mut n: usize,
) -> usize {
    for p in starts.windows(2) {
        let (start, end) = (p[0] as usize, p[1] as usize);
        for y in (start..end).step_by(256) {
            lengths[n] = (end - y).min(256) as u16;
            colours[n] = column[start] ^ left[y];
            n += 1;
        }
    }
    n
}

/// Lengths of two runs in `1..=SHORT` share a byte (98 % of the flight's runs are that
/// short): the planes are a quarter smaller, and inflating them — which costs by the
/// byte it writes — a fifth cheaper (`docs/BENCHMARKS.md`).
const SHORT: u16 = 15;
/// Codes from here on are one run each: `1..=30` rows in one byte...
const SINGLE: u8 = (SHORT * SHORT) as u8;
/// ...and longer ones (up to 256) as this byte, then `length - 1`.
const LONG: u8 = 255;

/// Codes run lengths (each in `1..=256`): two short ones in one byte, `(a - 1) * 15 +
/// (b - 1)`; otherwise one, as `SINGLE + length - 1` up to 30, else `LONG, length - 1`.
fn push_lengths(lengths: &[u16], out: &mut Vec<u8>) {
    let mut k = 0;
    while let Some(&a) = lengths.get(k) {
        match lengths.get(k + 1) {
            Some(&b) if a <= SHORT && b <= SHORT => {
                out.push(((a - 1) * SHORT + (b - 1)) as u8);
                k += 2;
                continue;
            }
            _ if a <= u16::from(LONG - SINGLE) => out.push(SINGLE + (a - 1) as u8),
            _ => out.extend_from_slice(&[LONG, (a - 1) as u8]),
        }
        k += 1;
    }
}

/// For each length code below `LONG`: its first length - 1 in the low byte, the second
/// (if a pair) in the high byte.
const EXPAND: [u16; 256] = {
    let mut table = [0; 256];
    let mut c = 0;
    while c < SINGLE as usize {
        table[c] = (c / SHORT as usize) as u16 | ((c % SHORT as usize) as u16) << 8;
        c += 1;
    }
    while c < LONG as usize {
        table[c] = (c - SINGLE as usize) as u16;
        c += 1;
    }
    table
};

/// Undoes [`push_lengths`] into `out`, one `length - 1` a byte (the layout runs had
/// before the codes), through a table and with both bytes of a pair written as one
/// unconditionally: no branch per code but for the rare long ones. `None` if a long
/// length is cut off.
fn expand_lengths(codes: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    // At most two lengths a code, and one byte of slack for the second write.
    out.resize(2 * codes.len() + 1, 0);
    let (mut j, mut k) = (0, 0);
    while let Some(&code) = codes.get(k) {
        if code == LONG {
            *out.get_mut(j)? = *codes.get(k + 1)?;
            (j, k) = (j + 1, k + 2);
            continue;
        }
        out.get_mut(j..j + 2)?
            .copy_from_slice(&EXPAND[code as usize].to_le_bytes());
        (j, k) = (j + 1 + usize::from(code < SINGLE), k + 1);
    }
    out.truncate(j);
    Some(())
}

/// How many leading bytes `a` and `b` share, eight at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while let (Some(x), Some(y)) = (a.get(i..i + 8), b.get(i..i + 8)) {
        let diff = word(x) ^ word(y);
        if diff != 0 {
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + a[i..n]
        .iter()
        .zip(&b[i..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// A block's first starts that [`run_starts`] writes whether the block has that many
/// or not; `starts` needs this much room past a column's height.
const STARTS_AT_ONCE: usize = 8;

/// Writes where each run of `column` starts from row `from` on (the first at `from`),
/// then the column's height, into `starts` (`column.len() + 1 + STARTS_AT_ONCE` long);
/// returns the number of runs. A run starts where a row's colour differs from the row
/// above: found a block of rows at a time ([`changes`]), and a block's first
/// [`STARTS_AT_ONCE`] starts are written without asking how many it has (98 % of runs
/// are under 16 rows, so a block rarely has more). A branch per start mispredicted
/// about once a block: run planes 0.30 → 0.25 ms at 800x450 (`docs/BENCHMARKS.md`).
fn run_starts(column: &[u8], from: usize, starts: &mut [u32]) -> usize {
    starts[0] = from as u32;
    let mut k = 1;
    let mut row = from + 1;
    while let Some(mut changed) = changes(column, row) {
        let count = changed.count_ones() as usize;
        for slot in &mut starts[k..k + STARTS_AT_ONCE] {
            // Past the last start: a harmless value, written over by the next block.
            *slot = row as u32 + changed.trailing_zeros();
            changed &= changed.wrapping_sub(1);
        }
        let mut j = k + STARTS_AT_ONCE;
        while changed != 0 {
            starts[j] = row as u32 + changed.trailing_zeros();
            changed &= changed - 1;
            j += 1;
        }
        k += count;
        row += CHANGES;
    }
    for r in row..column.len() {
        if column[r] != column[r - 1] {
            starts[k] = r as u32;
            k += 1;
        }
    }
    starts[k] = column.len() as u32;
    k
}

/// Rows [`changes`] looks at a time.
const CHANGES: usize = if cfg!(target_arch = "x86_64") { 16 } else { 8 };

/// Bit `i` set where `column[row + i] != column[row + i - 1]`, for `i < CHANGES` (`row`
/// ≥ 1); `None` if the column ends before. SSE2 (every x86_64): a compare and a movemask
/// for 16 rows.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn changes(column: &[u8], row: usize) -> Option<u32> {
    use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8};
    let here = column.get(row..row + 16)?;
    let above = column.get(row - 1..row + 15)?;
    // SAFETY: both slices are 16 bytes long; unaligned loads.
    let same = unsafe {
        _mm_movemask_epi8(_mm_cmpeq_epi8(
            _mm_loadu_si128(here.as_ptr().cast()),
            _mm_loadu_si128(above.as_ptr().cast()),
        ))
    };
    Some(!same as u32 & 0xffff)
}

/// The same eight rows at a time in a `u64` elsewhere (wasm32 never encodes; this is for
/// other native servers).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn changes(column: &[u8], row: usize) -> Option<u32> {
    changes_in_words(column, row)
}

/// [`changes`] for eight rows from `u64`s, on any target.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn changes_in_words(column: &[u8], row: usize) -> Option<u32> {
    const LOW7: u64 = u64::MAX / 255 * 0x7f;
    const HIGH: u64 = u64::MAX / 255 * 0x80;
    let diff = word(column.get(row..row + 8)?) ^ word(column.get(row - 1..row + 7)?);
    // The high bit of every byte that is not zero, then byte k's into bit 56 + k.
    let changed = (((diff & LOW7) + LOW7) | diff) & HIGH;
    Some((changed.wrapping_mul(0x0002_0408_1020_4081) >> 56) as u32)
}

/// Eight bytes as a little-endian word (`bytes` is eight long).
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

/// Reusable scratch space for decoding frames.
#[derive(Default)]
pub struct FrameDecoder {
    planes: Vec<u8>,
    /// The run lengths, expanded from their codes.
    lengths: Vec<u8>,
    /// The frame column by column, `h + WORD` bytes apart: runs are filled in whole
    /// words that may overshoot downwards, into the next run or the padding.
    columns: Vec<u8>,
}

const WORD: usize = 16;

/// Draws run planes into `columns` (`h + WORD` bytes apart); `None` if they do not fill
/// the frame exactly.
fn draw_runs(
    planes: &[u8],
    viewport: Viewport,
    sky: &[u8],
    lengths: &mut Vec<u8>,
    columns: &mut Vec<u8>,
) -> Option<()> {
    let (w, h) = (viewport.width(), viewport.height());
    let (count, rest) = planes.split_first_chunk::<4>()?;
    let count = u32::from_le_bytes(*count) as usize;
    // Checked: on wasm32 a lying count could wrap the sum and split out of bounds.
    let codes = rest
        .len()
        .checked_sub(w.checked_mul(2)?.checked_add(count)?)?;
    let (skies, rest) = rest.split_at(2 * w);
    let (codes, colours) = rest.split_at(codes);
    expand_lengths(codes, lengths)?;
    if lengths.len() != count {
        return None;
    }
    let mut runs = lengths.iter().zip(colours);
    let stride = h + WORD;
    columns.resize(w * stride, 0);
    for x in 0..w {
        let (before, column) = columns.split_at_mut(x * stride);
        let left = before.get(before.len().wrapping_sub(stride)..);
        let mut y = skies[x] as usize | (skies[w + x] as usize) << 8;
        if y > h {
            return None;
        }
        column[..y].copy_from_slice(&sky[..y]);
        while y < h {
            let (&len, &colour) = runs.next()?;
            let end = y + len as usize + 1;
            if end > h {
                return None;
            }
            let colour = colour ^ left.map_or(0, |l| l[y]);
            let word = [colour; WORD];
            while y < end {
                column[y..y + WORD].copy_from_slice(&word);
                y += WORD;
            }
            y = end;
        }
    }
    runs.next().is_none().then_some(())
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Decodes a payload into row-major indices in `out` (`viewport.pixels()` bytes);
    /// `sky` is [`crate::render::sky_rows`] for the frame's camera. Never panics on bad
    /// input.
    pub fn decode(
        &mut self,
        payload: &[u8],
        viewport: Viewport,
        encoding: FrameEncoding,
        sky: &[u8],
        out: &mut [u8],
    ) -> Result<(), CodecError> {
        let n = viewport.pixels();
        let corrupt = || CodecError::Corrupt(n);
        let (w, h) = (viewport.width(), viewport.height());
        if out.len() != n {
            return Err(corrupt());
        }
        match encoding {
            FrameEncoding::Raw => {
                if payload.len() != n {
                    return Err(corrupt());
                }
                out.copy_from_slice(payload);
            }
            FrameEncoding::Video => return Err(CodecError::Video),
            FrameEncoding::Runs | FrameEncoding::RunPlanes => {
                if sky.len() != h {
                    return Err(corrupt());
                }
                let planes = if encoding == FrameEncoding::RunPlanes {
                    payload
                } else {
                    // At most one run per pixel: this bounds the inflated size.
                    self.planes.resize(4 + 2 * w + 2 * n, 0);
                    let len = miniz_oxide::inflate::decompress_slice_iter_to_slice(
                        &mut self.planes,
                        core::iter::once(payload),
                        false,
                        true,
                    )
                    .map_err(|_| corrupt())?;
                    &self.planes[..len]
                };
                draw_runs(planes, viewport, sky, &mut self.lengths, &mut self.columns)
                    .ok_or_else(corrupt)?;
                transpose(&self.columns, h + WORD, w, h, out);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repeatable stream of pseudo-random numbers: a linear congruential generator's
    /// high bits.
    fn lcg(mut x: u32) -> impl FnMut() -> u32 {
        move || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            x >> 16
        }
    }

    #[test]
    fn change_masks_mark_every_row_unlike_the_one_above() {
        let mut next = lcg(99);
        let column: Vec<u8> = (0..300)
            .map(|_| [0u8, 0, 0, 7, 200][next() as usize % 5])
            .collect();
        let naive = |row: usize, rows: usize| -> u32 {
            (0..rows)
                .filter(|&i| column[row + i] != column[row + i - 1])
                .map(|i| 1 << i)
                .sum()
        };
        for row in 1..column.len() {
            let words = changes_in_words(&column, row);
            assert_eq!(
                words,
                (row + 8 <= column.len()).then(|| naive(row, 8)),
                "{row}"
            );
            let blocks = changes(&column, row);
            assert_eq!(
                blocks,
                (row + CHANGES <= column.len()).then(|| naive(row, CHANGES))
            );
        }
    }

    #[test]
    fn run_starts_are_the_rows_unlike_the_one_above() {
        let mut next = lcg(7);
        let h = 300;
        let columns: [Vec<u8>; 4] = [
            // Runs of one to three rows: blocks with more than eight starts.
            (0..h)
                .map(|_| [0u8, 0, 0, 7, 200][next() as usize % 5])
                .collect(),
            (0..h).map(|y| y as u8 % 2).collect(), // a start every row
            vec![9; h],                            // one run, longer than 256 rows
            (0..h).map(|y| (y / 20) as u8).collect(),
        ];
        for column in &columns {
            for from in [0, 1, 5, 17, 250, h - 17, h - 1] {
                let mut starts = vec![u32::MAX; h + 1 + STARTS_AT_ONCE];
                let count = run_starts(column, from, &mut starts);
                let expected: Vec<u32> = std::iter::once(from)
                    .chain((from + 1..h).filter(|&r| column[r] != column[r - 1]))
                    .chain([h])
                    .map(|r| r as u32)
                    .collect();
                assert_eq!(&starts[..=count], expected, "from {from}");
            }
        }
    }

    #[test]
    fn plane_parts_cut_where_lengths_and_colours_start() {
        let (w, h) = (64, 48);
        let sky = sky(h);
        let v = Viewport::new(w as u32, h as u32).unwrap();
        let mut encoder = FrameEncoder::new();
        let indices = frame(w, h, &sky);
        let planes = encoder.encode(&indices, v, FrameEncoding::RunPlanes, &sky);
        let runs = u32::from_le_bytes(planes[..4].try_into().unwrap()) as usize;
        let [head, lengths, colours] = plane_parts(planes, w);
        assert_eq!((head.len(), colours.len()), (4 + 2 * w, runs));
        assert!(!lengths.is_empty());
        // Anything else is cut somewhere, never lost.
        let mut next = lcg(7);
        for len in [0, 3, 4, 50, 200] {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            assert_eq!(plane_parts(&bytes, w).concat(), bytes);
        }
    }

    #[test]
    fn deflated_planes_inflate_to_themselves() {
        // Planes-like bytes (mostly zeros), and bytes that do not compress at all.
        let mut next = lcg(12345);
        let noise: Vec<u8> = (0..100_000).map(|_| next() as u8).collect();
        let sparse: Vec<u8> = noise.iter().map(|&b| b.saturating_sub(230)).collect();
        let mixed = [&sparse[..70_000], &noise[..30_000]].concat();
        // Whole, and in parts (a block each, one of them empty).
        let cases: [&[&[u8]]; 5] = [
            &[&sparse],
            &[&noise],
            &[&[]],
            &[&mixed[..10], &mixed[10..70_000], &mixed[70_000..]],
            &[&mixed[..40_000], &[], &mixed[40_000..]],
        ];
        for parts in cases {
            let input = parts.concat();
            let input = &input[..];
            let mut out = Vec::new();
            deflate_planes(parts, Flush::Finish, &mut out);
            let back = miniz_oxide::inflate::decompress_to_vec(&out).expect("a whole stream");
            assert_eq!(back, input);
            deflate_planes(parts, Flush::Sync, &mut out);
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "ends with a sync flush");
            let mut state =
                miniz_oxide::inflate::stream::InflateState::new_boxed(miniz_oxide::DataFormat::Raw);
            let mut back = vec![0; input.len() + 1];
            let r = miniz_oxide::inflate::stream::inflate(
                &mut state,
                &out,
                &mut back,
                miniz_oxide::MZFlush::Sync,
            );
            assert_eq!(&back[..r.bytes_written], input);
        }
        let mut out = Vec::new();
        deflate_planes(&[&sparse], Flush::Finish, &mut out);
        assert!(
            out.len() < sparse.len() / 3,
            "mostly zeros: {} bytes",
            out.len()
        );
        // Unlike parts coded apart: the sparse part keeps its short codes.
        deflate_planes(
            &[&mixed[..70_000], &mixed[70_000..]],
            Flush::Finish,
            &mut out,
        );
        let apart = out.len();
        deflate_planes(&[&mixed], Flush::Finish, &mut out);
        assert!(apart < out.len(), "{apart} against {} bytes", out.len());
    }

    fn decode(
        payload: &[u8],
        viewport: Viewport,
        encoding: FrameEncoding,
        sky: &[u8],
        out: &mut [u8],
    ) -> Result<(), CodecError> {
        FrameDecoder::new().decode(payload, viewport, encoding, sky, out)
    }

    /// Sky over columns of spans, like a rendered frame.
    fn frame(w: usize, h: usize, sky: &[u8]) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if y < (x * 3) % h {
                    sky[y]
                } else {
                    (x / 7) as u8 ^ (y / 9) as u8
                }
            })
            .collect()
    }

    fn sky(h: usize) -> Vec<u8> {
        (0..h).map(|y| 224 + (y * 32 / h) as u8).collect()
    }

    #[test]
    fn round_trips() {
        // One encoder and one decoder for every size: scratch space is reused.
        let (mut enc, mut dec) = (FrameEncoder::new(), FrameDecoder::new());
        for (w, h) in [(64, 48), (70, 50), (64, 300), (65, 49)] {
            let v = Viewport::new(w as u32, h as u32).unwrap();
            let sky = sky(h);
            let mut f = frame(w, h, &sky);
            // Column 3 is one colour from top to bottom: runs longer than 256 rows split.
            for y in 0..h {
                f[y * w + 3] = 17;
            }
            let mut out = vec![0; v.pixels()];
            for e in [
                FrameEncoding::Raw,
                FrameEncoding::Runs,
                FrameEncoding::RunPlanes,
            ] {
                let payload = enc.encode(&f, v, e, &sky).to_vec();
                dec.decode(&payload, v, e, &sky, &mut out).unwrap();
                assert_eq!(out, f, "{e:?} {w}x{h}");
            }
        }
    }

    proptest::proptest! {
        /// Any frame of runs, any lengths (up to whole columns of 300 rows) and ragged
        /// tails, comes back as it was.
        #[test]
        fn random_runs_round_trip(
            (w, h) in (64usize..80, 48usize..300),
            runs in proptest::collection::vec((0u8..4, 1usize..320), 1..400),
        ) {
            let v = Viewport::new(w as u32, h as u32).unwrap();
            let sky = sky(h);
            let mut runs = runs.iter().cycle();
            let mut f = vec![0; w * h];
            for x in 0..w {
                let mut y = 0;
                while y < h {
                    let &(colour, len) = runs.next().unwrap();
                    for y in y..(y + len).min(h) {
                        f[y * w + x] = colour;
                    }
                    y += len;
                }
            }
            let mut out = vec![0; v.pixels()];
            for e in [FrameEncoding::Runs, FrameEncoding::RunPlanes] {
                let payload = FrameEncoder::new().encode(&f, v, e, &sky).to_vec();
                decode(&payload, v, e, &sky, &mut out).unwrap();
                proptest::prop_assert_eq!(&out, &f);
            }
        }
    }

    #[test]
    fn rendered_frames_round_trip() {
        let map = crate::mapgen::generate_sized(256, 3);
        let v = Viewport::new(333, 201).unwrap();
        let (mut enc, mut dec) = (FrameEncoder::new(), FrameDecoder::new());
        let mut renderer = crate::Renderer::new();
        let (mut f, mut out) = (vec![0; v.pixels()], vec![0; v.pixels()]);
        for yaw in [0.0, 1.0, 2.5] {
            let cam = crate::Camera {
                yaw,
                ..crate::Camera::default()
            };
            renderer.render(&map, &cam, &Default::default(), v, &mut f);
            let payload = enc.encode(&f, v, FrameEncoding::Runs, renderer.sky());
            assert!(payload.len() * 4 < f.len(), "{} bytes", payload.len());
            let payload = payload.to_vec();
            dec.decode(&payload, v, FrameEncoding::Runs, renderer.sky(), &mut out)
                .unwrap();
            assert_eq!(out, f, "yaw {yaw}");
            // Straight from the renderer's columns: the same bytes, every encoding.
            let (columns, stride) = renderer.columns();
            let mut from_columns = FrameEncoder::new();
            for e in [
                FrameEncoding::Raw,
                FrameEncoding::Runs,
                FrameEncoding::RunPlanes,
            ] {
                let expected = enc.encode(&f, v, e, renderer.sky()).to_vec();
                let got = from_columns.encode_columns(columns, stride, v, e, renderer.sky());
                assert_eq!(got, &expected[..], "{e:?}, yaw {yaw}");
            }
        }
    }

    #[test]
    fn runs_are_small() {
        let v = Viewport::new(70, 50).unwrap();
        let sky = sky(50);
        let f = frame(70, 50, &sky);
        let n = FrameEncoder::new()
            .encode(&f, v, FrameEncoding::Runs, &sky)
            .len();
        assert!(n * 10 < v.pixels(), "{n} bytes");
    }

    #[test]
    fn rejects_bad_payloads() {
        let v = Viewport::new(64, 48).unwrap();
        let sky = sky(48);
        let mut out = vec![0; v.pixels()];
        let bad = Err(CodecError::Corrupt(3072));
        // Both run encodings: deflated, and the planes as they are.
        let runs = |bytes: &[u8], out: &mut [u8]| {
            let payload = miniz_oxide::deflate::compress_to_vec(bytes, 1);
            let deflated = decode(&payload, v, FrameEncoding::Runs, &sky, out);
            let plain = decode(bytes, v, FrameEncoding::RunPlanes, &sky, out);
            assert_eq!(deflated, plain);
            plain
        };
        assert_eq!(
            decode(&[1, 2, 3], v, FrameEncoding::Raw, &sky, &mut out),
            bad
        );
        assert_eq!(decode(b"junk", v, FrameEncoding::Runs, &sky, &mut out), bad);
        // Each column: 8 rows of sky, then one 40-row run of colour 5 (a long length:
        // `LONG`, then 39).
        let mut good = 64u32.to_le_bytes().to_vec();
        good.extend([8; 64]);
        good.extend([0; 64]);
        good.extend([LONG, 39].repeat(64));
        good.extend(std::iter::once(5).chain([0; 63]));
        assert_eq!(runs(&good, &mut out), Ok(()));
        assert_eq!(out[7 * 64 + 9], sky[7]);
        assert!(out[8 * 64..].iter().all(|&c| c == 5));
        let mut overlong = good.clone();
        overlong[4 + 128 + 1] = 40;
        assert_eq!(runs(&overlong, &mut out), bad);
        // The same 40 rows as a pair (15 + 15) and a single (10): still whole.
        let mut split = 64u32.to_le_bytes().to_vec();
        split.extend([8; 64]);
        split.extend([0; 64]);
        split.extend([14 * 15 + 14, SINGLE + 9].repeat(64));
        split.extend([5, 5, 5].into_iter().chain([0; 189]));
        split[..4].copy_from_slice(&192u32.to_le_bytes());
        assert_eq!(runs(&split, &mut out), Ok(()));
        assert!(out[8 * 64..].iter().all(|&c| c == 5));
        // A pair whose second length is left over at the end.
        let mut left_over = split.clone();
        let last = 4 + 128 + 127;
        left_over[last - 1] = 14 * 15 + 14;
        left_over[last] = 9 * 15;
        assert_eq!(runs(&left_over, &mut out), bad);
        // A long length cut off.
        let mut cut = good.clone();
        cut.truncate(4 + 128 + 127);
        cut.extend(std::iter::once(5).chain([0; 63]));
        assert_eq!(runs(&cut, &mut out), bad);
        let mut too_much_sky = good.clone();
        too_much_sky[4 + 64] = 1;
        assert_eq!(runs(&too_much_sky, &mut out), bad);
        let mut lying = good.clone();
        lying[0] = 63;
        assert_eq!(runs(&lying, &mut out), bad);
        for count in [u32::MAX, 1 << 31, 1 << 30] {
            let mut huge = good.clone();
            huge[..4].copy_from_slice(&count.to_le_bytes());
            assert_eq!(runs(&huge, &mut out), bad, "run count {count}");
        }
        assert_eq!(
            decode(&[], v, FrameEncoding::Runs, &sky[1..], &mut out),
            bad
        );
    }
}
