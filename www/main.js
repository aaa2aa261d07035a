// Loads the wasm client and starts it; everything else happens in Rust.
import init, { start, picture_rgba } from "./pkg/client.js";

try {
  await init({ module_or_path: new URL("./pkg/client_bg.wasm", import.meta.url) });
  start();
  window.voxelcastPicture = picture_rgba; // for the browser tests

} catch (e) {
  document.getElementById("status").textContent = `Could not start: ${e}`;
  throw e;
}
