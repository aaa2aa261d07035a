// A protocol client that flies a lap of the course, written from docs/PROTOCOL.md: run
// inside a page (its WebSocket) by `page.evaluate(racer, { url, name })`. It climbs
// above every hill between gates, hovers down to each gate's height near it, and
// steers at its centre. Resolves with the announced result of its lap.
export async function racer({ url, name }) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error("no socket")); });
  const nameBytes = new TextEncoder().encode(name);
  const hello = new DataView(new ArrayBuffer(11 + nameBytes.length));
  hello.setUint8(0, 1); // Hello
  hello.setUint16(1, 5, true); // protocol version
  hello.setUint8(3, 1); // client-side rendering: a State every tick, no frames
  hello.setUint16(4, 160, true);
  hello.setUint16(6, 100, true);
  hello.setUint8(8, 1); // raw frames
  hello.setUint16(9, nameBytes.length, true);
  new Uint8Array(hello.buffer).set(nameBytes, 11);
  ws.send(hello.buffer);

  const KEYS = { FORWARD: 1, UP: 64, DOWN: 128, FAST: 256 };
  const gates = [];
  let next = 0, seq = 0, crashes = 0, lastAltitude = 0, finished = null, myName = name, size = [1024, 1024];
  const wrap = (d, p) => d - Math.floor(d / p + 0.5) * p;
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no lap after 120 s (next gate ${next}, ${crashes} crashes)`)), 120000);
    ws.onmessage = (e) => {
      const v = new DataView(e.data);
      const f32 = (at) => v.getFloat32(at, true);
      switch (v.getUint8(0)) {
        case 2: { // Welcome: map size at 10 and 12, the name the server gave us at 15
          size = [v.getUint16(10, true), v.getUint16(12, true)];
          const len = v.getUint16(15, true);
          myName = new TextDecoder().decode(new Uint8Array(e.data, 17, len));
          break;
        }
        case 14: // Course: u64 id, u8 count, then x, y, altitude, yaw, radius
          for (let i = 0, n = v.getUint8(9); i < n; i++) {
            const at = 10 + i * 20;
            gates.push({ x: f32(at), y: f32(at + 4), altitude: f32(at + 8), yaw: f32(at + 12) });
          }
          break;
        case 15: { // Race
          const kind = v.getUint8(1);
          if (kind === 0 && finished === null) next = 1;
          if (kind === 1) next = (v.getUint8(2) + 1) % gates.length;
          if (kind === 2) finished = v.getUint32(2, true);
          if (kind === 3) crashes++;
          if (kind === 5) { clearTimeout(timer); reject(new Error("run not saved")); }
          break;
        }
        case 16: { // Result: u64 course, name, u32 time, u32 rank, u8 record
          const len = v.getUint16(9, true);
          const who = new TextDecoder().decode(new Uint8Array(e.data, 11, len));
          if (who === myName && finished !== null) {
            clearTimeout(timer);
            ws.close();
            resolve({ name: who, time: v.getUint32(11 + len, true), rank: v.getUint32(15 + len, true) });
          }
          break;
        }
        case 11: { // State: u32 tick, u32 last input, camera x, y, altitude, yaw, …
          if (!gates.length || finished !== null) break;
          const [x, y, altitude, yaw] = [f32(9), f32(13), f32(17), f32(21)];
          const g = gates[next];
          // Line up 70 units behind the gate (its corridor is clear of the ground from 100
          // before it), then fly through along its direction.
          const [fx, fy] = [Math.sin(g.yaw), -Math.cos(g.yaw)];
          const rx = wrap(x - g.x, size[0]), ry = wrap(y - g.y, size[1]);
          const along = rx * fx + ry * fy, lateral = -rx * fy + ry * fx;
          const lined = along < 5 && along > -80 && Math.abs(lateral) < 10;
          const reach = lined ? 30 : -70;
          const dx = wrap(g.x + fx * reach - x, size[0]), dy = wrap(g.y + fy * reach - y, size[1]);
          const distance = lined ? -along : Math.hypot(dx, dy);
          const turn = wrap(Math.atan2(dx, -dy) - yaw, 2 * Math.PI);
          const target = distance > 30 && !lined ? 290 : g.altitude;
          const error = target - altitude;
          let keys = KEYS.FAST | (error > 2 ? KEYS.UP : error < -2 ? KEYS.DOWN : 0);
          // Near a gate, sink to its height first (unless the ground holds us up), then go.
          const grounded = error < 0 && lastAltitude - altitude < 0.5;
          if ((distance > 30 && !lined) || Math.abs(error) < 12 || grounded) keys |= KEYS.FORWARD;
          lastAltitude = altitude;
          const input = new DataView(new ArrayBuffer(15));
          input.setUint8(0, 3);
          input.setUint32(1, ++seq, true);
          input.setUint16(5, keys, true);
          input.setInt16(7, Math.max(-3000, Math.min(3000, Math.round(turn * 1000))), true);
          input.setInt16(9, 0, true);
          input.setUint32(11, 0, true);
          ws.send(input.buffer);
          break;
        }
      }
    };
  });
}
