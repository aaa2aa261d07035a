// The page against the cluster (`cargo xtask test` runs this after server/tests/deployed.rs,
// through nginx): when the process that holds its room dies, the page finds another room
// through the lobby by itself, under the same name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const front = process.env.VOXELCAST_CLUSTER_URL;
const servers = process.env.VOXELCAST_CLUSTER_SERVERS; // addr=pid,…
const executablePath = process.env.CHROMIUM;
if (!front || !servers || !executablePath) {
  throw new Error("set VOXELCAST_CLUSTER_URL, VOXELCAST_CLUSTER_SERVERS and CHROMIUM (cargo xtask test does)");
}

test("a page whose room's process dies is back in another room, same name, within seconds", async () => {
  const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${front}?mode=client&name=wanderer`);
  await page.waitForFunction(() => /^p\d+-r\d+$/.test(document.getElementById("hud-room").textContent),
    null, { timeout: 20000 });
  const first = await page.textContent("#hud-room");
  // Find the pid of the process that owns the room, and kill it outright.
  const process = first.split("-")[0];
  let victim;
  for (const entry of servers.split(",")) {
    const [addr, pid] = entry.split("=");
    try {
      const rooms = await (await fetch(`http://${addr}/api/rooms`)).json();
      if (rooms.rooms[0]?.process === process) victim = pid;
    } catch { /* a process already gone */ }
  }
  assert.ok(victim, `the process of ${first}`);
  const killed = Date.now();
  execFileSync("kill", ["-9", victim]);
  await page.waitForFunction((r) => {
    const room = document.getElementById("hud-room").textContent;
    return room !== r && /^p\d+-r\d+$/.test(room) && document.getElementById("status").hidden;
  }, first, { timeout: 30000 });
  const took = (Date.now() - killed) / 1000;
  const now = await page.evaluate(() => ({
    room: document.getElementById("hud-room").textContent,
    name: document.getElementById("hud-name").textContent,
  }));
  console.log(`killed ${process}: the page went from ${first} to ${now.room} in ${took.toFixed(1)} s`);
  assert.equal(now.name, "wanderer");
  assert.ok(took < 20, `${took} s`);
  assert.deepEqual(errors, []);
  await browser.close();
});
