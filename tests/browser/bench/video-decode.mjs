// Video mode in headless Chromium: from a video frame's arrival on the page to its
// decoded picture on the canvas (WebCodecs' software H.264 decoder, then drawImage),
// over 20 seconds of a turning, climbing flight at 800x450; and what the page received.
// Run by `cargo xtask bench video`, which starts the server and sets VOXELCAST_URL and
// CHROMIUM.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.VOXELCAST_URL;
const profile = mkdtempSync(join(tmpdir(), "voxelcast-video-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
});
try {
  const page = await context.newPage();
  await page.goto(`${url}?mode=video&name=bench`);
  await page.waitForFunction(() => document.body.dataset.encoding === "video", null, { timeout: 30000 });
  const frames = () => page.evaluate(() => Number(document.body.dataset.frames ?? 0));
  const start = await frames();
  const t0 = Date.now();
  for (let i = 0; i < 10; i++) {
    await page.keyboard.down("KeyW");
    await page.keyboard.down(i % 2 ? "KeyA" : "KeyD");
    if (i % 3 === 0) await page.keyboard.down("KeyR");
    await page.waitForTimeout(2000);
    for (const k of ["KeyA", "KeyD", "KeyR"]) await page.keyboard.up(k);
  }
  await page.keyboard.up("KeyW");
  const seconds = (Date.now() - t0) / 1000;
  const shown = (await frames()) - start;
  const times = await page.evaluate(() => window.voxelcastVideo.times.slice());
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`\n### Video in Chromium, 800x450, ${seconds.toFixed(0)} s of flight\n`);
  console.log("| frames shown a second | arrival to canvas: mean | p50 | p95 | p99 |");
  console.log("| ---: | ---: | ---: | ---: | ---: |");
  console.log(`| ${(shown / seconds).toFixed(1)} | ${mean.toFixed(2)} ms | ${at(0.5).toFixed(2)} ms | ${at(0.95).toFixed(2)} ms | ${at(0.99).toFixed(2)} ms |`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
