// Headless Debian Chromium with a fresh profile, as the benchmarks use it; `close()`
// ends it and removes the profile.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export async function launch(name) {
  const profile = mkdtempSync(join(tmpdir(), `voxelcast-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
  });
  context.closeAll = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return context;
}
