// Video frames (server mode "video"): H.264 access units into WebCodecs' VideoDecoder,
// each decoded picture drawn on its own canvas over the view and closed at once.
// The wasm client owns the protocol; this is only the browser's decoder, kept here
// because WebCodecs is not in web-sys' stable API.

/** WebCodecs decodes H.264 here. */
export function videoSupported() {
  return typeof VideoDecoder === "function" && typeof EncodedVideoChunk === "function";
}

export class VideoView {
  /**
   * `shown(seq)` after each picture is on the canvas; `failed(text)` when the decoder
   * broke (the next key frame restarts it).
   */
  constructor(canvas, shown, failed) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false, desynchronized: true });
    this.shown = shown;
    this.failed = failed;
    this.decoder = null;
    this.waitKey = true;
    this.sizes = new Map(); // seq -> [width, height] of the frame in the picture
    this.decodeMs = 0; // moving average, for the HUD and the benchmarks
    // The last 1,000 frames' times, ms, for the benchmarks: arrival to decoded picture,
    // and drawing it on the canvas.
    this.times = [];
    this.drawTimes = [];
    window.voxelcastVideo = this;
  }

  open() {
    this.decoder = new VideoDecoder({
      output: (picture) => this.draw(picture),
      error: (e) => this.broke(String(e)),
    });
    // No description: Annex B stream. Main profile, level 4.0 covers 1920x1080@30.
    this.decoder.configure({ codec: "avc1.4d0028", optimizeForLatency: true });
  }

  /** One access unit; pictures before the first key frame cannot be decoded. */
  push(data, key, seq, width, height) {
    if (!this.decoder || this.decoder.state === "closed") this.open();
    if (this.waitKey && !key) return;
    this.waitKey = false;
    this.sizes.set(seq, [width, height, performance.now()]);
    try {
      this.decoder.decode(new EncodedVideoChunk({ type: key ? "key" : "delta", timestamp: seq, data }));
    } catch (e) {
      this.broke(String(e));
    }
  }

  draw(picture) {
    const decoded = performance.now();
    const seq = picture.timestamp;
    const [w, h, t] = this.sizes.get(seq) ?? [picture.displayWidth, picture.displayHeight, performance.now()];
    this.sizes.delete(seq);
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.ctx.drawImage(picture, 0, 0, w, h, 0, 0, w, h);
    picture.close();
    const ms = performance.now() - t;
    this.decodeMs = this.decodeMs * 0.9 + ms * 0.1;
    if (this.times.push(decoded - t) > 1000) this.times.shift();
    if (this.drawTimes.push(performance.now() - decoded) > 1000) this.drawTimes.shift();
    this.shown(seq);
  }

  broke(text) {
    this.waitKey = true;
    this.sizes.clear();
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
    // Later, not inside the call that pushed the chunk: the client is busy there.
    queueMicrotask(() => this.failed(text));
  }

  /** Leaves video mode: the decoder goes, the next stream starts from a key frame. */
  close() {
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
    this.waitKey = true;
    this.sizes.clear();
  }
}
