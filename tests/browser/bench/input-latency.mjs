// Input to picture as a player feels it, in headless Chromium: from the key event (its
// timeStamp) to the first picture the page puts on the canvas, in browser-side and
// server-side rendering; and from a mouse look to the late-warped picture and to the
// exact frame in server-side rendering.
// Run by `cargo xtask bench latency`, which starts the server and sets VOXELCAST_URL and
// CHROMIUM. The canvas is watched through the page's data-shows counter (every picture
// drawn, warped ones included) and data-frames (new frames only).
import { launch } from "./chromium.mjs";

const url = process.env.VOXELCAST_URL;
const context = await launch("latency");

const ROUNDS = 40;
const KEYS = ["KeyW", "KeyD", "KeyR", "KeyA", "KeyS", "KeyF"];

/** Installs the watchers: the time of the last input event, and the delays to the next
 * change of each counter after it. */
async function watch(page) {
  await page.evaluate(() => {
    const w = (window.__latency = { at: 0, shows: [], frames: [], pendingShows: false, pendingFrames: false });
    const mark = (e) => { w.at = e.timeStamp; w.pendingShows = true; w.pendingFrames = true; };
    window.addEventListener("keydown", mark, { capture: true });
    // A move's first event: pointerrawupdate where Chromium has it (the page looks from
    // it; pointermove waits for the next animation frame).
    const move = "onpointerrawupdate" in window ? "pointerrawupdate" : "pointermove";
    document.getElementById("view").addEventListener(move, mark, { capture: true });
    new MutationObserver((records) => {
      const now = performance.now();
      for (const r of records) {
        if (r.attributeName === "data-shows" && w.pendingShows) { w.shows.push(now - w.at); w.pendingShows = false; }
        if (r.attributeName === "data-frames" && w.pendingFrames) { w.frames.push(now - w.at); w.pendingFrames = false; }
      }
    }).observe(document.body, { attributes: true, attributeFilter: ["data-shows", "data-frames"] });
  });
}

async function rest(page) {
  // Frames stop once the camera rests (and prediction has caught up).
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const n = await page.evaluate(() => Number(document.body.dataset.shows ?? 0));
    if (n === last) return;
    last = n;
    await page.waitForTimeout(120);
  }
}

async function open(query) {
  const page = await context.newPage();
  await page.goto(url + query);
  await page.waitForFunction(() => Number(document.body.dataset.frames ?? 0) > 0, null, { timeout: 20000 });
  await watch(page);
  await rest(page);
  return page;
}

const take = (page) => page.evaluate(() => {
  const w = window.__latency;
  const out = { shows: w.shows, frames: w.frames };
  w.shows = []; w.frames = [];
  return out;
});

async function keys(query) {
  const page = await open(query);
  for (let i = 0; i < ROUNDS; i++) {
    const key = KEYS[i % KEYS.length];
    await page.keyboard.down(key);
    await page.waitForTimeout(120);
    await page.keyboard.up(key);
    await rest(page);
  }
  const r = await take(page);
  await page.close();
  return r;
}

async function looks(query) {
  const page = await open(query);
  const box = await page.locator("#view").boundingBox();
  const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  for (let i = 0; i < ROUNDS; i++) {
    await page.mouse.move(cx + (i % 2 ? -12 : 12), cy);
    await rest(page);
  }
  await page.mouse.up();
  const r = await take(page);
  await page.close();
  return r;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.round((s.length - 1) * p)] : NaN;
};
const cell = (xs) => `${pct(xs, 0.5).toFixed(1)} / ${pct(xs, 0.95).toFixed(1)} (${xs.length})`;

const clientKeys = await keys("?mode=client");
const serverKeys = await keys("?mode=server");
const serverLooks = await looks("?mode=server");
console.log("\n### Input to picture in headless Chromium (ms, p50 / p95, samples)\n");
console.log("| input | browser-side rendering: picture | server-side: late-warped picture | server-side: exact frame |");
console.log("| --- | ---: | ---: | ---: |");
console.log(`| key press | ${cell(clientKeys.shows)} | – | ${cell(serverKeys.frames)} |`);
console.log(`| mouse look | – | ${cell(serverLooks.shows)} | ${cell(serverLooks.frames)} |`);
await context.closeAll();
