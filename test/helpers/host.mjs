// Starts the host bundle (as `npm start` does) for browser tests: { url, stop() }.
// The same `flash` path again means the same Storage, so settings survive a restart.
import { readFileSync } from "node:fs";
import { startEmulator } from "../../tools/runtimes.mjs";
import { loadProfile } from "../../tools/profiles.mjs";

export async function startHost({ flash, zip } = {}) {
  const p = loadProfile("board-profiles/host.json").values;
  const rt = await startEmulator({
    bundle: "build/host/app.min.js", flash, flashSize: p.storageSize, pageSize: p.storagePage,
    storage: zip ? { [p.webFile]: Buffer.isBuffer(zip) ? zip : readFileSync(zip) } : undefined,
  });
  return { url: `http://127.0.0.1:${rt.port}/`, port: rt.port, stop: () => rt.stop(), output: () => rt.output() };
}
