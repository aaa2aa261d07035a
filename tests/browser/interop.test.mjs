// Interop with a WebSocket client other than our own: the `ws` package from npm.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";

const base = process.env.VOXELCAST_URL?.replace(/^http/, "ws");
if (!base) throw new Error("set VOXELCAST_URL (cargo xtask test does)");

function connect(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path.replace(/^\//, ""));
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

const next = (ws) => new Promise((resolve) => ws.once("message", (data, binary) => resolve({ data, binary })));

test("echo: text, binary, fragmented and large messages (compressed), ping, close code", async () => {
  const ws = await connect("/echo");
  assert.match(ws.extensions, /^permessage-deflate/, "compression negotiated with ws");
  ws.send("héllo wörld");
  let m = await next(ws);
  assert.equal(m.binary, false);
  assert.equal(m.data.toString(), "héllo wörld");

  const big = Buffer.alloc(3 << 20, 7);
  big[12345] = 1;
  ws.send(big);
  m = await next(ws);
  assert.ok(m.binary);
  assert.ok(Buffer.compare(m.data, big) === 0, "3 MiB binary echoed intact");

  ws.send("frag", { fin: false });
  ws.send("ment", { fin: true });
  assert.equal((await next(ws)).data.toString(), "fragment");

  const pong = new Promise((resolve) => ws.once("pong", resolve));
  ws.ping(Buffer.from("p1"));
  assert.equal((await pong).toString(), "p1");

  const closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.close(4000, "done");
  assert.deepEqual(await closed, { code: 4000, reason: "" });
});

test("game: Hello gets a Welcome; text messages are refused with 1003", async () => {
  const ws = await connect("/ws");
  assert.equal(ws.extensions, "permessage-deflate", "compression negotiated with ws on /ws too");
  const hello = Buffer.from([1, 5, 0, 0, 0x40, 1, 200, 0, 0, 3, 0, 0x61, 0x63, 0x65]); // protocol 5, 320x200, raw, "ace"
  ws.send(hello);
  const welcome = (await next(ws)).data;
  assert.equal(welcome[0], 2, "Welcome tag");
  assert.equal(welcome.readUInt16LE(6), 320);
  assert.equal(welcome.readUInt16LE(8), 200);
  const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
  ws.send("text is not the protocol");
  assert.equal(await closed, 1003);
});
