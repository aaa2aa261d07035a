// Renderer speed in headless Chromium: our wasm build against the plain-JavaScript
// version of the same algorithm (voxel.js), in the same page and run.
// Run by `cargo xtask bench wasm`, which starts the server and sets VOXELCAST_URL, CHROMIUM.
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { inflateRawSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const profile = mkdtempSync(join(tmpdir(), "voxelcast-bench-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
});
const page = await context.newPage();
await page.goto(process.env.VOXELCAST_URL + "pkg/client.js");
const js = readFileSync(join(here, "voxel.js"), "utf8");
const results = await page.evaluate(async (js) => {
  const { render } = await import("data:text/javascript," + encodeURIComponent(js));
  const wasm = await import("/pkg/client.js");
  await wasm.default({ module_or_path: "/pkg/client_bg.wasm" });
  const bench = new wasm.RenderBench();
  const cells = bench.cells(), fog = bench.fog(), size = bench.map_size();
  const rows = [];
  const sizes = [[640, 360, 60], [800, 450, 60], [1280, 720, 30]];
  const cam = (i) => ({ x: 512, y: 800, altitude: 160, yaw: i * 0.01, horizon: 0.1, distance: 800, fov: Math.PI / 2 });
  const js_ms = (w, h, frames) => {
    const out = new Uint8Array(w * h);
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) render(cells, fog, size, cam(i), w, h, out);
    return (performance.now() - t0) / frames;
  };
  // Warm every size in both first: V8 starts wasm in its baseline compiler and
  // JavaScript in its interpreter, and tiers up later; whichever size came first
  // measured up to 1.4x slower before.
  for (const [w, h, frames] of sizes) {
    bench.render_ms(w, h, frames);
    js_ms(w, h, frames);
  }
  // Then five alternating rounds a size; the median of each.
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  for (const [w, h, frames] of sizes) {
    const wasmRuns = [], jsRuns = [];
    for (let round = 0; round < 5; round++) {
      wasmRuns.push(bench.render_ms(w, h, frames));
      jsRuns.push(js_ms(w, h, frames));
    }
    const wasmMs = median(wasmRuns), jsMs = median(jsRuns);
    // Decoding gets the same treatment: a warm-up pass (so V8 has tiered it up, as it
    // had the renderer), then the median of five.
    const decodeRuns = [], planesRuns = [];
    for (let round = 0; round < 6; round++) {
      decodeRuns.push(bench.decode_ms(w, h, frames, false));
      planesRuns.push(bench.decode_ms(w, h, frames, true));
    }
    const decodeMs = median(decodeRuns.slice(1)), planesMs = median(planesRuns.slice(1));
    const payloads = bench.runs_payloads(w, h, frames).map((p) => Array.from(p));
    // One frame shown an animation frame, as the game does (so the GPU process has
    // usually drawn the last one); the median and the mean of 60 calls each way
    // (performance.now() counts in steps of 0.1 ms here; the mean also shows the calls
    // that waited for a slow draw).
    const show = async (webgl, sync) => {
      const d = new wasm.DisplayBench(w, h, webgl);
      const times = [];
      for (let i = 0; i < 70; i++) {
        await new Promise((r) => requestAnimationFrame(r));
        const ms = d.show_ms(sync);
        if (i >= 10) times.push(ms);
      }
      d.free();
      return { median: median(times), mean: times.reduce((a, b) => a + b, 0) / times.length };
    };
    const display = { canvas2d: await show(false, false), gl: await show(true, false), glSync: await show(true, true) };
    rows.push({ w, h, frames, wasmMs, jsMs, decodeMs, planesMs, payloads, display });
  }
  return rows;
}, js);
console.log("\n### Renderer in headless Chromium: wasm against plain JavaScript\n");
console.log("| frame | wasm ms | JavaScript ms | JavaScript ÷ wasm |");
console.log("| --- | ---: | ---: | ---: |");
for (const r of results) {
  console.log(`| ${r.w}x${r.h} | ${r.wasmMs.toFixed(2)} | ${r.jsMs.toFixed(2)} | ${(r.jsMs / r.wasmMs).toFixed(1)}x |`);
}
console.log("\n### Showing a frame: WebGL2 palette lookup against the 2-D canvas\n");
console.log("| frame | 2-D: expand + putImageData ms, median / mean | WebGL2: upload + draw call | WebGL2 until drawn (software GL here) |");
console.log("| --- | ---: | ---: | ---: |");
const mm = (x) => `${x.median.toFixed(1)} / ${x.mean.toFixed(2)}`;
for (const r of results) {
  const d = r.display;
  console.log(`| ${r.w}x${r.h} | ${mm(d.canvas2d)} | ${mm(d.gl)} | ${mm(d.glSync)} |`);
}
// With permessage-deflate the browser's network stack inflates (zlib, native code): timed
// here with Node's zlib on the same payloads, as a stand-in.
console.log("\n### Decoding a server-rendered frame in the browser, against rendering it\n");
console.log("| frame | render (wasm) ms | runs: inflate + decode in wasm ms | ÷ render | run planes: native inflate + decode in wasm ms | ÷ render |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const r of results) {
  const buffers = r.payloads.map((p) => Buffer.from(p));
  for (const b of buffers.slice(0, 5)) inflateRawSync(b); // warm-up
  const t0 = performance.now();
  for (const b of buffers) inflateRawSync(b);
  const inflateMs = (performance.now() - t0) / buffers.length;
  const planes = inflateMs + r.planesMs;
  console.log(`| ${r.w}x${r.h} | ${r.wasmMs.toFixed(2)} | ${r.decodeMs.toFixed(2)} | ${(r.decodeMs / r.wasmMs).toFixed(2)} | ${inflateMs.toFixed(2)} + ${r.planesMs.toFixed(2)} = ${planes.toFixed(2)} | ${(planes / r.wasmMs).toFixed(2)} |`);
}
await context.close();
rmSync(profile, { recursive: true, force: true });
