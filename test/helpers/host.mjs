// Starts the device bundle for browser tests, as `npm start` does: { url, stop() }.
// runtime "emulator" (the host profile), "espruino" (the linux profile on ESPRUINO_BIN) or
// "kaluma-emu" (the kaluma-picow profile on the Kaluma emulator, its driver's data routed per
// connection: docs/runtimes.md, known issue 1). The same `flash` path again means the same
// Storage, so settings survive a restart.
import { readFileSync, mkdirSync } from "node:fs";
import { startEmulator, startEspruino, startKalumaEmulator } from "../../tools/runtimes.mjs";
import { loadProfile } from "../../tools/profiles.mjs";

export async function startHost({ flash, zip, runtime = "emulator" } = {}) {
  const espruino = runtime === "espruino", kaluma = runtime === "kaluma-emu";
  const name = espruino ? "linux" : kaluma ? "kaluma-picow" : "host", p = loadProfile(`board-profiles/${name}.json`).values;
  const storage = zip ? { [p.webFile]: Buffer.isBuffer(zip) ? zip : readFileSync(zip) } : undefined;
  const bundle = `build/${name}/app.min.js`;
  let rt;
  if (espruino || kaluma) {
    // Espruino for Linux keeps Storage in ./espruino.flash, the Kaluma emulator in ./kaluma-lfs/:
    // one folder per flash path
    mkdirSync(flash + ".d", { recursive: true });
    rt = await (kaluma ? startKalumaEmulator : startEspruino)({ bundle, cwd: flash + ".d", keepFlash: true, storage });
  } else {
    rt = await startEmulator({ bundle, flash, flashSize: p.storageSize, pageSize: p.storagePage, storage });
  }
  return { url: `http://127.0.0.1:${rt.port}/`, port: rt.port, stop: () => rt.stop(), output: () => rt.output() };
}
