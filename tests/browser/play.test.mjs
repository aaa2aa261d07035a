// The page in headless Chromium: frames arrive, keys move the view, and switching between
// server- and browser-side rendering shows the same pixels for the same camera.
// Run by `cargo xtask test`, which starts the server and sets VOXELCAST_URL and CHROMIUM.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { racer } from "./racer.mjs";
import { throttle } from "./throttle.mjs";

const url = process.env.VOXELCAST_URL;
const executablePath = process.env.CHROMIUM;
if (!url || !executablePath) throw new Error("set VOXELCAST_URL and CHROMIUM (cargo xtask test does)");

let context;
const profile = mkdtempSync(join(tmpdir(), "voxelcast-chromium-"));

before(async () => {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
  });
});

after(async () => {
  await context?.close();
  rmSync(profile, { recursive: true, force: true });
});

/**
 * Opens the page and records console errors and uncaught exceptions. Server-side
 * rendering unless the query picks a mode (the page's default, Auto, has its own test).
 */
async function open(query = "", base = url) {
  if (!query.includes("mode=")) query += (query ? "&" : "?") + "mode=server";
  const page = await context.newPage();
  const errors = [];
  page.log = [];
  page.on("console", (m) => {
    page.log.push(`${m.type()}: ${m.text()}`);
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.responses = [];
  page.on("response", (r) => page.responses.push({ url: r.url(), status: r.status() }));
  await page.goto(base + query);
  return { page, errors };
}

const frames = (page) => page.evaluate(() => Number(document.body.dataset.frames ?? 0));

/**
 * Waits until more than `since` frames have been drawn in all (and the page is in `mode`).
 * Callers take `since` before what should bring the frames: a frame that arrives
 * before the wait starts must count (frames stop while the camera rests).
 */
async function waitFrames(page, since, mode) {
  try {
    await page.waitForFunction(([n, m]) =>
      Number(document.body.dataset.frames ?? 0) > n && (!m || document.body.dataset.mode === m),
    [since, mode], { timeout: 20000 });
  } catch (e) {
    // Say what the page was doing, so a failure in CI can be understood afterwards.
    const state = await page.evaluate(() => ({
      dataset: { ...document.body.dataset },
      status: document.getElementById("status")?.textContent,
      hidden: document.hidden,
    }));
    throw new Error(`${e.message}\npage: ${JSON.stringify(state)}\nconsole:\n${page.log.join("\n")}`);
  }
}

/**
 * The canvas pixels, read back through a 2-D canvas (so WebGL2 and 2-D displays alike):
 * their SHA-256, how many distinct colours they hold, and the SHA-256 of the picture the
 * page expands on the CPU from the same palette indices, which they must equal.
 */
async function pixels(page) {
  const data = await page.evaluate(() => {
    const c = document.getElementById("view");
    const copy = document.createElement("canvas");
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext("2d");
    ctx.drawImage(c, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    return { w: c.width, h: c.height, bytes: Array.from(d), expected: Array.from(window.voxelcastPicture()) };
  });
  const buf = Buffer.from(data.bytes);
  const colours = new Set();
  for (let i = 0; i < buf.length; i += 4) colours.add(buf.readUInt32LE(i));
  const sha = (b) => createHash("sha256").update(b).digest("hex");
  return { w: data.w, h: data.h, hash: sha(buf), expected: sha(Buffer.from(data.expected)), colours: colours.size };
}

/** Presses M until the page renders in `mode` (M cycles auto → server → video → client). */
async function cycleTo(page, mode) {
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("KeyM");
    if ((await page.evaluate(() => document.body.dataset.mode)) === mode) return;
  }
  throw new Error(`M never brought the page to ${mode}`);
}

/** Waits until no new frame has arrived for a while: the camera is at rest. */
async function settle(page) {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    const n = await frames(page);
    if (n === last) return;
    last = n;
    await page.waitForTimeout(250);
  }
  throw new Error("frames never stopped arriving with no input");
}

test("frames arrive, keys move the view, both modes draw identical pixels", async () => {
  // WebGL2 forced: headless Chromium draws WebGL in software, where the page would
  // choose the 2-D canvas by itself (the next test).
  const { page, errors } = await open("?name=tester&display=webgl2");
  await waitFrames(page, 0, "server");
  await settle(page);
  const first = await pixels(page);
  assert.equal(await page.evaluate(() => document.body.dataset.display), "webgl2",
    "frames are drawn through WebGL2 (a palette lookup in a shader)");
  assert.equal(first.hash, first.expected, "the shader's pixels are exactly the palette's");
  assert.ok(first.w >= 64 && first.h >= 48, `canvas ${first.w}x${first.h}`);
  assert.ok(first.colours > 50, `a real picture has many colours, got ${first.colours}`);
  assert.equal(await page.evaluate(() => document.body.dataset.encoding), "run-planes",
    "Chromium negotiates permessage-deflate, so frames come as run planes it inflates natively");

  await page.keyboard.down("KeyW");
  await page.keyboard.down("KeyD");
  await page.waitForTimeout(600);
  await page.keyboard.up("KeyW");
  await page.keyboard.up("KeyD");
  await settle(page);
  const moved = await pixels(page);
  assert.notEqual(moved.hash, first.hash, "flying changes the view");

  let since = await frames(page);
  await cycleTo(page, "client");
  await waitFrames(page, since, "client");
  await settle(page);
  const local = await pixels(page);
  assert.equal(local.hash, moved.hash, "browser-rendered frame equals the server's, byte for byte");
  assert.ok(page.responses.some((r) => /\/map\/[0-9a-f]{16}$/.test(r.url) && r.status === 200),
    "the map came over HTTP, by its name");
  assert.equal(local.hash, local.expected);

  since = await frames(page);
  await page.keyboard.press("KeyM");
  await waitFrames(page, since, "server");
  await settle(page);
  assert.equal((await pixels(page)).hash, moved.hash, "and back");

  if (process.env.VOXELCAST_SCREENSHOT) await page.screenshot({ path: process.env.VOXELCAST_SCREENSHOT });
  assert.deepEqual(errors, []);
  await page.close();
});

test("software WebGL gets the 2-D canvas, with the same pixels in both modes", async () => {
  const { page, errors } = await open("");
  await waitFrames(page, 0, "server");
  assert.equal(await page.evaluate(() => document.body.dataset.display), "2d",
    "headless Chromium's WebGL is SwiftShader: the page picks the cheaper 2-D canvas");
  await settle(page);
  const server = await pixels(page);
  assert.equal(server.hash, server.expected);
  assert.ok(server.colours > 50);
  const since = await frames(page);
  await cycleTo(page, "client");
  await waitFrames(page, since, "client");
  await settle(page);
  assert.equal((await pixels(page)).hash, server.hash);
  assert.deepEqual(errors, []);
  await page.close();
});

test("late warp: a look moves the server's last frame before its answer arrives", async () => {
  // Frames are held back by the test, so only the page's own warp can move the picture.
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  let hold = false;
  await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => { if (!hold) ws.send(m); });
  });
  await page.goto(url + "?mode=server");
  await waitFrames(page, 0, "server");
  await settle(page);
  const before = await pixels(page);
  hold = true;
  const since = await frames(page);
  const box = await page.locator("#view").boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 15, box.y + box.height / 2, { steps: 3 });
  await page.mouse.up();
  await page.waitForTimeout(300);
  assert.equal(await frames(page), since, "no new frame came");
  const warped = await pixels(page);
  assert.notEqual(warped.hash, before.hash, "the picture moved anyway");
  assert.equal(warped.expected, before.expected, "the same frame, shifted");
  hold = false;
  assert.deepEqual(errors, []);
  await page.close();
});

test("a look leaves with the pointer's raw update, not the next animation frame", async () => {
  // Chromium holds pointermove for the next animation frame; pointerrawupdate comes at
  // once. Every Input with a look that the page sends is logged with the event being
  // handled then.
  const { page, errors } = await open("");
  await waitFrames(page, 0, "server");
  await settle(page);
  await page.evaluate(() => {
    window.__sent = [];
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
      const bytes = new Uint8Array(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data);
      // An Input (tag 3) with a look: look_x, little-endian, at bytes 7 and 8.
      if (bytes[0] === 3 && (bytes[7] | bytes[8]) !== 0) window.__sent.push(window.event?.type ?? "none");
      return send.call(this, data);
    };
  });
  const box = await page.locator("#view").boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 12, box.y + box.height / 2);
  await page.waitForTimeout(200);
  await page.mouse.up();
  const sent = await page.evaluate(() => window.__sent);
  assert.ok(sent.length > 0, "the look went out");
  assert.equal(sent[0], "pointerrawupdate", `sent from: ${sent.join(", ")}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("two pages in one world see each other, the same in both modes", async () => {
  const a = await open("?name=alpha");
  await waitFrames(a.page, 0, "server");
  const b = await open("?name=bravo");
  await waitFrames(b.page, 0, "server");
  await a.page.bringToFront();
  await settle(a.page);
  const before = await pixels(a.page);
  // b spawns 24 units to a's right, both looking up the map: it flies ahead and a little
  // up, into a's view.
  await b.page.bringToFront();
  await b.page.keyboard.down("KeyW");
  await b.page.keyboard.down("KeyR");
  await b.page.waitForTimeout(200);
  await b.page.keyboard.up("KeyR");
  await b.page.waitForTimeout(800);
  await b.page.keyboard.up("KeyW");
  await settle(b.page);
  await a.page.bringToFront();
  await settle(a.page);
  const seen = await pixels(a.page);
  assert.notEqual(seen.hash, before.hash, "a held still, and b flew into its view");
  assert.equal(seen.hash, seen.expected);
  // b's name over its aircraft, as text, where the server's frame says it drew b.
  const label = () => a.page.evaluate(() => {
    const spans = [...document.querySelectorAll("#labels span")];
    const view = document.getElementById("view").getBoundingClientRect();
    return spans.map((s) => ({ text: s.textContent, x: parseFloat(s.style.left),
      y: parseFloat(s.style.top), inside: view.left <= parseFloat(s.style.left) &&
        parseFloat(s.style.left) <= view.right }));
  });
  const served = await label();
  assert.deepEqual(served.map((l) => l.text), ["bravo"]);
  assert.ok(served[0].inside, JSON.stringify(served));
  const since = await frames(a.page);
  await cycleTo(a.page, "client");
  await waitFrames(a.page, since, "client");
  await settle(a.page);
  assert.equal((await pixels(a.page)).hash, seen.hash, "browser-side rendering draws b the same");
  const local = await label();
  assert.deepEqual(local, served, "and puts its label in the same place");
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await b.page.close();
  await a.page.close();
});

test("a lap flown by another player is judged, announced and on the board, as text", async () => {
  const { page, errors } = await open("?name=watcher");
  await waitFrames(page, 0, "server");
  // The race line points the way to gate 0 (the HUD refreshes four times a second).
  await page.waitForFunction(() => / · \d+ m$/.test(document.getElementById("race").innerText),
    null, { timeout: 5000 });
  const race = await page.evaluate(() => ({
    line: document.getElementById("race").innerText,
    next: document.body.dataset.nextGate,
  }));
  assert.match(race.line, /Fly through the yellow gate to start · \d+ m/);
  assert.equal(race.next, "0");
  // Another player, a protocol client inside a second page, flies a lap.
  const other = await context.newPage();
  await other.goto(url + "stats");
  const name = "<i>racer</i>";
  const ws = url.replace(/^http/, "ws") + "ws";
  const result = await other.evaluate(racer, { url: ws, name });
  await other.close();
  assert.equal(result.name, name);
  assert.ok(result.time > 120, `a lap takes seconds: ${result.time} ticks`);
  const cs = Math.round((result.time / 60) * 100);
  const clock = `${Math.floor(cs / 6000)}:${String(Math.floor(cs / 100) % 60).padStart(2, "0")}.${String(cs % 100).padStart(2, "0")}`;
  // The watcher hears of it and its board shows it, names as plain text.
  await page.waitForFunction((n) => document.getElementById("feed").innerText.includes(n), name,
    { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll("#board-all li").length > 0 &&
    !document.getElementById("board-all").innerText.includes("no runs yet"), null, { timeout: 10000 });
  const shown = await page.evaluate(() => ({
    board: [...document.querySelectorAll("#board-all li")].map((li) => li.textContent),
    today: [...document.querySelectorAll("#board-today li")].map((li) => li.textContent),
    feed: document.getElementById("feed").innerText,
    markup: document.querySelectorAll("#board i, #feed i").length,
  }));
  const line = `${name} ${clock}`;
  assert.ok(shown.board.includes(line), `${JSON.stringify(shown.board)} has ${line}`);
  assert.ok(shown.today.includes(line));
  assert.ok(shown.feed.includes(`${name} finished in ${clock}`), shown.feed);
  assert.equal(shown.markup, 0, "names are never parsed as markup");
  // The same board over HTTP.
  const board = await (await fetch(`${url}api/leaderboard?name=${encodeURIComponent(name)}`)).json();
  assert.equal(board.you.ticks, result.time);
  assert.deepEqual(errors, []);
  await page.close();
});

/** A CPU throttle that makes this machine a slow device: an 800x450 wasm frame takes
 * ≈ 0.5 ms here, so 40x puts it near 20 ms, well past Auto's 14 ms (20x sat at the edge). */
const SLOW_DEVICE = 40;

test("Auto renders in the browser on a fast page, on the server when that gets slow", async () => {
  const { page, errors } = await open("?mode=auto&name=auto");
  const switches = [];
  await page.exposeFunction("noteMode", (m) => switches.push(m));
  await page.evaluate(() => new MutationObserver(() => window.noteMode(document.body.dataset.mode))
    .observe(document.body, { attributes: true, attributeFilter: ["data-mode"] }));
  await waitFrames(page, 0, "server");
  assert.equal(await page.evaluate(() => document.body.dataset.auto), "on");
  // The map loads in the background; probe frames time the device; it is fast here.
  await page.waitForFunction(() => document.body.dataset.mode === "client", null, { timeout: 30000 });
  const fast = await page.evaluate(() => document.getElementById("hud-mode").textContent);
  assert.match(fast, /^auto: browser — this device renders fast$/);
  // The device slows down (CPU throttled): back to the server, once.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: SLOW_DEVICE });
  await page.keyboard.down("KeyD"); // a turning view: frames to time
  try {
    await page.waitForFunction(() => document.body.dataset.mode === "server", null, { timeout: 40000 });
  } finally {
    await page.keyboard.up("KeyD");
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: 1 });
  }
  const slow = await page.evaluate(() => document.getElementById("hud-mode").textContent);
  assert.match(slow, /renders slowly/);
  const changes = switches.filter((m, i) => i === 0 || m !== switches[i - 1]);
  assert.ok(changes.length <= 3, `no flapping: ${JSON.stringify(changes)}`);
  assert.deepEqual(errors, []);
  await page.close();
});

/** A canvas's RGBA pixels, read back through a 2-D canvas. */
const canvasPixels = (page, id) => page.evaluate((id) => {
  const c = document.getElementById(id);
  const copy = document.createElement("canvas");
  copy.width = c.width;
  copy.height = c.height;
  const ctx = copy.getContext("2d");
  ctx.drawImage(c, 0, 0);
  return { w: c.width, h: c.height, data: Array.from(ctx.getImageData(0, 0, c.width, c.height).data) };
}, id);

/** PSNR over R, G and B of two same-sized RGBA pictures, in dB. */
function psnr(a, b) {
  assert.deepEqual([a.w, a.h], [b.w, b.h]);
  let se = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    for (let k = 0; k < 3; k++) se += (a.data[i + k] - b.data[i + k]) ** 2;
  }
  return 10 * Math.log10((255 * 255) / (se / (a.w * a.h * 3)));
}

test("video mode: WebCodecs shows the server's frames, a still view as sharp as lossless nearly", async () => {
  const { page, errors } = await open("?mode=video&name=vid");
  await waitFrames(page, 0, "video");
  assert.equal(await page.evaluate(() => document.body.dataset.encoding), "video");
  assert.match(await page.evaluate(() => document.getElementById("hud-mode").textContent), /^server video$/);
  // Fly: every frame is decoded and acknowledged (the server paces by those).
  const before = await frames(page);
  await page.keyboard.down("KeyW");
  await page.keyboard.down("KeyD");
  await page.waitForTimeout(2000);
  await page.keyboard.up("KeyW");
  await page.keyboard.up("KeyD");
  const flown = (await frames(page)) - before;
  // (Fewer than 60 a second while the suite's other pages and the server share 2 cores.)
  assert.ok(flown >= 20, `${flown} video frames in two seconds of flight`);
  const decodeMs = Number(await page.evaluate(() => document.body.dataset.decodeMs));
  assert.ok(decodeMs > 0 && decodeMs < 20, `arrival to picture ${decodeMs} ms`);
  await settle(page);
  await page.waitForTimeout(500); // the still picture's sharpening frames
  const video = await canvasPixels(page, "video");
  // The same camera drawn by the browser: exactly the lossless server frame.
  const since = await frames(page);
  await cycleTo(page, "client");
  await waitFrames(page, since, "client");
  await settle(page);
  assert.equal(await page.evaluate(() => document.getElementById("video").hidden), true);
  const lossless = await canvasPixels(page, "view");
  const db = psnr(video, lossless);
  assert.ok(db >= 28, `still video picture ${db.toFixed(2)} dB against the lossless one`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("Auto picks video on a throttled link when the device renders slowly", async () => {
  // 1.5 Mbit/s: lossless frames (≈ 50 KB) would come a few a second.
  const link = await throttle(new URL(url).host, 190_000);
  const { page, errors } = await open("?mode=auto&name=slowlink", `http://127.0.0.1:${link.port}/`);
  const cdp = await page.context().newCDPSession(page);
  try {
    const switches = [];
    await page.exposeFunction("noteMode", (m) => switches.push(m));
    await page.evaluate(() => new MutationObserver(() => window.noteMode(document.body.dataset.mode))
      .observe(document.body, { attributes: true, attributeFilter: ["data-mode"] }));
    await waitFrames(page, 0, "server");
    // A slow device too (else browser rendering is the right answer to a slow link).
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: SLOW_DEVICE });
    await page.keyboard.down("KeyD");
    await page.waitForFunction(() => document.body.dataset.mode === "video", null, { timeout: 60000 });
    await page.keyboard.up("KeyD");
    assert.match(await page.evaluate(() => document.getElementById("hud-mode").textContent),
      /^auto: server video — the link is slow$/);
    // Video frames flow over the slow link.
    const at = await frames(page);
    await page.keyboard.down("KeyW");
    await waitFrames(page, at + 20, "video");
    await page.keyboard.up("KeyW");
    const changes = switches.filter((m, i) => i === 0 || m !== switches[i - 1]);
    assert.deepEqual(changes.filter((m) => m === "video").length, 1, `no flapping: ${JSON.stringify(changes)}`);
    assert.deepEqual(errors, []);
  } finally {
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: 1 });
    await page.close();
    link.close();
  }
});

test("client mode from the URL, names shown as text, HUD and minimap filled", async () => {
  const { page, errors } = await open("?mode=client&name=" + encodeURIComponent("<b>bold</b>"));
  await waitFrames(page, 0, "client");
  const hud = await page.evaluate(() => ({
    name: document.getElementById("hud-name").textContent,
    markup: document.getElementById("hud-name").children.length,
    mode: document.getElementById("hud-mode").textContent,
    res: document.getElementById("hud-res").textContent,
    status: document.getElementById("status").hidden,
  }));
  assert.equal(hud.name, "<b>bold</b>");
  assert.equal(hud.markup, 0, "no element was parsed from the name");
  assert.equal(hud.mode, "browser-side");
  assert.match(hud.res, /^\d+x\d+$/);
  assert.equal(hud.status, true, "no status message once playing");
  assert.ok((await pixels(page)).colours > 50);
  // The minimap shows at least this player after the first Players message.
  await page.waitForFunction(() => document.getElementById("hud-players").textContent !== "–" &&
    Number(document.getElementById("hud-players").textContent) >= 1, null, { timeout: 5000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test("a dropped connection shows a message and reconnects by itself", async () => {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Proxy the game socket through Playwright so the test can cut it.
  const sockets = [];
  await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
    ws.connectToServer();
    sockets.push(ws);
  });
  await page.goto(url + "?mode=server");
  await waitFrames(page, 0, "server");
  await sockets[0].close({ code: 1011, reason: "test cut" });
  await page.waitForFunction(() => /Connection lost/.test(document.getElementById("status").textContent) &&
    !document.getElementById("status").hidden, null, { timeout: 5000 });
  // Backoff starts at half a second; a new socket, a new Welcome, new frames.
  await page.waitForFunction(() => document.getElementById("status").hidden, null, { timeout: 10000 });
  assert.equal(sockets.length, 2, "one reconnect");
  assert.match(sockets[1].url(), /\/ws\?room=r1$/, "back into the same room");
  const since = await frames(page);
  await page.keyboard.down("KeyD");
  await waitFrames(page, since + 1, "server");
  await page.keyboard.up("KeyD");
  assert.deepEqual(errors, []);
  await page.close();
});

test("touch devices get on-screen controls that fly", async () => {
  const touchProfile = mkdtempSync(join(tmpdir(), "voxelcast-touch-"));
  const touch = await chromium.launchPersistentContext(touchProfile, {
    executablePath,
    headless: true,
    viewport: { width: 800, height: 450 },
    hasTouch: true,
    isMobile: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
  });
  try {
    const page = await touch.newPage();
    await page.goto(url + "?mode=server");
    await waitFrames(page, 0, "server");
    await settle(page);
    const before = await pixels(page);
    const forward = page.locator('#touch button[data-key="KeyW"]');
    assert.ok(await forward.isVisible(), "the pad shows on a touch screen");
    await forward.dispatchEvent("pointerdown");
    await page.waitForTimeout(500);
    await forward.dispatchEvent("pointerup");
    await settle(page);
    assert.notEqual((await pixels(page)).hash, before.hash, "holding ▲ flies forward");

    // Turning the phone: the frames follow the new shape, in both modes, with the
    // picture's own pixels (not stretched).
    const shape = () => page.evaluate(() => {
      const c = document.getElementById("view");
      return { w: c.width, h: c.height };
    });
    for (const [size, mode] of [[{ width: 390, height: 844 }, "server"], [{ width: 844, height: 390 }, "server"]]) {
      const since = await frames(page);
      await page.setViewportSize(size);
      await page.waitForFunction(([w, h]) => {
        const c = document.getElementById("view");
        return Math.abs(c.width / c.height - Math.max(0.75, Math.min(3, w / h))) < 0.05;
      }, [size.width, size.height], { timeout: 10000 });
      await waitFrames(page, since, mode);
      const s = await shape();
      const p = await pixels(page);
      assert.equal(p.hash, p.expected, `${size.width}x${size.height}: the frame is drawn as sent`);
      assert.ok(p.colours > 50, `${size.width}x${size.height}: a real picture (${s.w}x${s.h})`);
      await page.screenshot({ path: join(tmpdir(), `voxelcast-phone-${size.width}x${size.height}.png`) });
    }
    const since = await frames(page);
    // The button cycles like M: server → video → client.
    for (let i = 0; i < 4 && (await page.evaluate(() => document.body.dataset.mode)) !== "client"; i++) {
      await page.evaluate(() => document.getElementById("mode-btn").click());
    }
    await waitFrames(page, since, "client");
    const local = await shape();
    assert.ok(local.w / local.h > 1.5, `landscape in browser-side rendering too: ${JSON.stringify(local)}`);
  } finally {
    await touch.close();
    rmSync(touchProfile, { recursive: true, force: true });
  }
});

test("rooms: invite links, the lobby, a full room says so and offers the others", async () => {
  const base = process.env.VOXELCAST_ROOMS_URL;
  if (!base) throw new Error("set VOXELCAST_ROOMS_URL (cargo xtask test does): a server with --rooms 2 --max-players 1");
  // An invite link into r2.
  const first = await open("?room=r2&name=host", base);
  await waitFrames(first.page, 0, "server");
  const hud = await first.page.evaluate(() => ({
    room: document.getElementById("hud-room").textContent,
    invite: document.getElementById("invite").getAttribute("href"),
  }));
  assert.deepEqual(hud, { room: "r2", invite: "/?room=r2" });
  // The lobby lists both rooms, as text: r2 is ours (and full), r1 has space.
  await first.page.keyboard.press("KeyO");
  await first.page.waitForFunction(() => document.querySelectorAll("#lobby-list li").length === 2);
  const rooms = await first.page.evaluate(() => [...document.querySelectorAll("#lobby-list li")].map((li) => ({
    id: li.dataset.room, text: li.textContent, href: li.querySelector("a").getAttribute("href"),
  })));
  assert.equal(rooms[1].id, "r2");
  assert.match(rooms[1].text, /^r2 · seed \d+ · 1\/1 players · no record yet you are here$/);
  assert.match(rooms[0].text, /^r1 · seed \d+ · 0\/1 players/);
  assert.equal(rooms[0].href, "/?room=r1&name=host");
  // Someone else follows the invite: r2 is full, so the page says so and shows the
  // lobby, and does not hammer the full room with reconnections.
  const second = await open("?room=r2&name=guest", base);
  await second.page.waitForFunction(() => !document.getElementById("lobby").hidden, null, { timeout: 10000 });
  const why = await second.page.evaluate(() => document.getElementById("lobby-why").textContent);
  assert.match(why, /room r2 is full \(1 players\): pick another/);
  await second.page.waitForTimeout(1500);
  assert.equal(await frames(second.page), 0, "no frames from a full room");
  // "Play" puts the guest in the room with space.
  assert.equal(await second.page.getAttribute("#lobby-play", "href"), "/?name=guest");
  await second.page.click("#lobby-play");
  await second.page.waitForFunction(() => document.getElementById("hud-room").textContent === "r1",
    null, { timeout: 10000 });
  assert.match(second.page.url(), /name=guest/);
  const count = await (await fetch(`${base}api/rooms`)).json();
  assert.equal(count.players, 2);
  // Every room full: a visitor without an invite is told so before any socket opens.
  const third = await open("?name=late", base);
  const sockets = [];
  third.page.on("websocket", (ws) => sockets.push(ws.url()));
  await third.page.waitForFunction(() => !document.getElementById("lobby").hidden, null, { timeout: 10000 });
  assert.match(await third.page.evaluate(() => document.getElementById("lobby-why").textContent),
    /every room is full/);
  await third.page.waitForTimeout(1000);
  assert.deepEqual(sockets, [], "no socket while every room is full");
  assert.deepEqual(third.errors.filter((e) => !/409/.test(e)), []);
  await third.page.close();
  assert.deepEqual([...first.errors, ...second.errors], []);
  await second.page.close();
  await first.page.close();
});

test("chat: two pages talk, markup stays text, typing never flies, direct messages get a tab", async () => {
  const a = await open("?name=ann");
  const b = await open("?name=bob");
  await waitFrames(a.page, 0, "server");
  await waitFrames(b.page, 0, "server");
  // Enter opens the box; what is typed there is text, not flight.
  await a.page.keyboard.press("Enter");
  assert.equal(await a.page.evaluate(() => document.activeElement?.id), "chat-input");
  const before = await frames(a.page);
  await a.page.keyboard.type("www <img src=x onerror=window.pwned=1> <b>hi</b>");
  await a.page.waitForTimeout(400);
  assert.equal(await frames(a.page), before, "no frames: the aircraft did not move");
  await a.page.keyboard.press("Enter");
  const said = "www <img src=x onerror=window.pwned=1> <b>hi</b>";
  for (const p of [a.page, b.page]) {
    await p.waitForFunction((t) => document.getElementById("chat-log").textContent.includes(t), said,
      { timeout: 10000 });
  }
  const seen = await b.page.evaluate(() => ({
    markup: document.querySelectorAll("#chat-log img, #chat-log b").length,
    pwned: window.pwned === 1,
    who: [...document.querySelectorAll("#chat-log .who")].map((w) => w.textContent),
  }));
  assert.deepEqual({ ...seen, who: [...new Set(seen.who)] }, { markup: 0, pwned: false, who: ["ann"] });
  assert.equal(await a.page.inputValue("#chat-input"), "", "sent: the box is empty again");
  // Esc goes back to flying.
  await a.page.keyboard.press("Escape");
  assert.notEqual(await a.page.evaluate(() => document.activeElement?.id), "chat-input");
  // A name in the log starts a direct message; the addressee gets a tab of its own.
  await b.page.click("#chat-log .who");
  assert.equal(await b.page.inputValue("#chat-input"), "@ann ");
  await b.page.keyboard.type("psst");
  await b.page.keyboard.press("Enter");
  await a.page.waitForFunction(() => [...document.querySelectorAll("#chat-tabs button")]
    .some((t) => t.textContent === "@bob (1)"), null, { timeout: 10000 });
  assert.ok(!(await a.page.evaluate(() => document.getElementById("chat-log").textContent.includes("psst"))),
    "filed under @bob, not #world");
  // Refused messages say why, in the box's tab.
  await a.page.keyboard.press("KeyT");
  await a.page.keyboard.type(said);
  await a.page.keyboard.press("Enter");
  await a.page.waitForFunction(() => document.querySelector("#chat-log li.notice")?.textContent
    .includes("you said that a moment ago"), null, { timeout: 10000 });
  assert.deepEqual([...a.errors, ...b.errors], []);
  if (process.env.VOXELCAST_SCREENSHOTS) {
    await a.page.screenshot({ path: join(process.env.VOXELCAST_SCREENSHOTS, "chat.png") });
  }
  await b.page.close();
  await a.page.close();
});

test("accounts: a guest claims its name, is still signed in after a reload, then signs out", async () => {
  const name = `Zara${Date.now() % 100000}`; // a server keeps claims: a fresh name each run
  const { page, errors } = await open(`?name=${name}`);
  await waitFrames(page, 0, "server");
  await page.waitForFunction(() => document.getElementById("account-state").textContent === "playing as a guest");
  await page.click("#account-btn");
  assert.equal(await page.inputValue("#account-name"), name);
  await page.fill("#account-password", "short");
  await page.click("#account-submit");
  await page.waitForFunction(() => document.getElementById("account-why").textContent !== "");
  assert.match(await page.textContent("#account-why"), /8 to 128 characters/);
  await page.fill("#account-password", "zara's secret");
  await Promise.all([page.waitForNavigation(), page.click("#account-submit")]);
  await page.waitForFunction((n) => document.getElementById("account-state").textContent === `signed in as ${n} ✓`,
    name, { timeout: 10000 });
  // The session is in a cookie no script can read; the game knows the name from it.
  assert.ok(!(await page.evaluate(() => document.cookie)).includes("vc_session"));
  const cookies = await context.cookies(url);
  const session = cookies.find((c) => c.name === "vc_session");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
  await page.goto(url + "?mode=server&name=somebody");
  await page.waitForFunction((n) => document.getElementById("hud-name").textContent === n,
    name, { timeout: 10000 });
  // Signed-in words carry the mark.
  await page.keyboard.press("Enter");
  await page.keyboard.type("claimed and proud");
  await page.keyboard.press("Enter");
  await page.waitForFunction((n) => [...document.querySelectorAll("#chat-log li")]
    .some((li) => li.textContent.includes(`${n} ✓`) && li.textContent.includes("claimed and proud")),
  name, { timeout: 10000 });
  await page.keyboard.press("Escape");
  await Promise.all([page.waitForNavigation(), page.click("#account-btn")]);
  await page.waitForFunction(() => document.getElementById("account-state").textContent === "playing as a guest",
    null, { timeout: 10000 });
  assert.equal((await context.cookies(url)).find((c) => c.name === "vc_session"), undefined);
  assert.deepEqual(errors.filter((e) => !/40[01]/.test(e)), []);
  if (process.env.VOXELCAST_SCREENSHOTS) {
    await page.screenshot({ path: join(process.env.VOXELCAST_SCREENSHOTS, "account.png") });
  }
  await page.close();
});

test("without its Redis, a server plays on and its lobby says so", async () => {
  const base = process.env.VOXELCAST_NO_REDIS_URL;
  if (!base) throw new Error("set VOXELCAST_NO_REDIS_URL (cargo xtask test does): a server whose --redis is down");
  const { page, errors } = await open("?name=alone", base);
  await waitFrames(page, 0, "server");
  await page.keyboard.press("KeyO");
  await page.waitForFunction(() => !document.getElementById("lobby-note").hidden, null, { timeout: 10000 });
  const note = await page.textContent("#lobby-note");
  assert.match(note, /registry \(Redis\) is unavailable: only this server's rooms are listed\. Play goes on\./);
  const rooms = await page.evaluate(() => [...document.querySelectorAll("#lobby-list li")].map((li) => li.dataset.room));
  assert.deepEqual(rooms, ["r1"]);
  const stats = await (await fetch(`${base}stats`)).json();
  assert.equal(stats.redis, "down");
  assert.deepEqual(errors, []);
  await page.close();
});
