// Video mode in headless Chromium: from a video frame's arrival on the page to its
// decoded picture on the canvas (WebCodecs' software H.264 decoder, then drawImage),
// over 20 seconds of a turning, climbing flight at 800x450; and what the page received.
// Run by `cargo xtask bench video`, which starts the server and sets VOXELCAST_URL and
// CHROMIUM.
import { launch } from "./chromium.mjs";

const url = process.env.VOXELCAST_URL;
const context = await launch("video");
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
  const { times, drawTimes } = await page.evaluate(() => ({
    times: window.voxelcastVideo.times.slice(),
    drawTimes: window.voxelcastVideo.drawTimes.slice(),
  }));
  const row = (name, list) => {
    list.sort((a, b) => a - b);
    const at = (q) => list[Math.min(list.length - 1, Math.floor(q * list.length))].toFixed(2);
    const mean = (list.reduce((a, b) => a + b, 0) / list.length).toFixed(2);
    console.log(`| ${name} | ${mean} | ${at(0.5)} | ${at(0.95)} | ${at(0.99)} |`);
  };
  console.log(`\n### Video in Chromium, 800x450, ${seconds.toFixed(0)} s of flight: ${(shown / seconds).toFixed(1)} frames shown a second\n`);
  console.log("| ms a frame | mean | p50 | p95 | p99 |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  row("arrival to decoded picture (VideoDecoder)", times);
  row("decoded picture to canvas (drawImage)", drawTimes);
} finally {
  await context.closeAll();
}
