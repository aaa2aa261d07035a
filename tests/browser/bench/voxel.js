// A straightforward plain-JavaScript Voxel Space renderer: the same algorithm as
// shared/src/render.rs (front to back, a y-buffer per column, growing z steps, fog
// levels, sky gradient), written the way the s-macke demo is, for the wasm-vs-JS benchmark.
export function render(cells, fog, mapSize, cam, w, h, out) {
  const mask = mapSize - 1;
  const shift = Math.log2(mapSize);
  const tan = Math.tan(cam.fov / 2);
  const focal = (w / 2) / tan;
  const sin = Math.sin(cam.yaw), cos = Math.cos(cam.yaw);
  const horizon = h / 2 - cam.horizon * h;
  const ybuf = new Int32Array(w).fill(h);
  let z = 1, dz = 1;
  while (z < cam.distance) {
    const half = z * tan;
    const step = (2 * half) / w;
    let px = cam.x + sin * z - cos * (half - step / 2);
    let py = cam.y - cos * z - sin * (half - step / 2);
    const dx = cos * step, dy = sin * step;
    const scale = focal / z;
    const t = Math.min(Math.max((z / cam.distance - 0.45) / 0.55, 0), 1);
    const fogBase = Math.floor(t * 15) * 256;
    for (let x = 0; x < w; x++) {
      const cell = cells[((Math.floor(py) & mask) << shift) | (Math.floor(px) & mask)];
      const top = Math.max(Math.floor(horizon + (cam.altitude - (cell & 255)) * scale), 0);
      if (top < ybuf[x]) {
        const colour = fog[fogBase + (cell >> 8)];
        for (let y = top; y < ybuf[x]; y++) out[y * w + x] = colour;
        ybuf[x] = top;
      }
      px += dx;
      py += dy;
    }
    z += dz;
    dz += 0.005;
  }
  const span = h * 0.75;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < ybuf[x]; y++) {
      const up = Math.min(Math.max((horizon - y) / span, 0), 1);
      out[y * w + x] = 224 + 31 - Math.floor(up * 31);
    }
  }
}
