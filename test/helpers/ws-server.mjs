// Test bundles for sprat's WebSocket conformance suite (test/ws.test.mjs), built through
// the real pipeline (tools/build-lib.mjs: TypeScript, gate, terser) from a board profile
// with a few limits overridden, and started on a runtime from tools/runtimes.mjs.
//
//   LIMITS: the overrides (short keep-alive timers, a small send queue, fast telemetry)
//   buildTestBundle(runtime, overrides?) → Promise<path of app.min.js>; runtime: an entry of
//     runtimes() (its .profile names the board profile) or a name in PROFILES; built once per
//     (runtime, overrides) in this process, into build/test-ws-<runtime>[-<tag>]/
//   startServer(runtime, overrides?) → Promise<handle of tools/runtimes.mjs> (stop() it)
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rollup } from "rollup";
import { loadProfile } from "../../tools/profiles.mjs";
import { bundleConfig } from "../../tools/build-lib.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The board profile each runtime's bundle is built from. */
export const PROFILES = { emulator: "board-profiles/host.json", espruino: "board-profiles/linux.json", "kaluma-emu": "board-profiles/kaluma-picow.json" };

/**
 * What the suite needs beyond LIMITS, per profile: kaluma-picow (a board profile, unlike host
 * and linux) has no /echo and 4 clients; 15 is what its driver's 16 socket slots leave
 * besides the listener.
 */
const NEEDS = { "kaluma-picow": { echo: true, maxClients: 15 } };

export const LIMITS = {
  pingInterval: 1000,  // ms without traffic from the client before the server pings
  pongTimeout: 800,    // ms to answer that ping; also how long a send queue may stay over wsQueue
  closeTimeout: 800,   // ms the server waits for the client's close reply
  maxMessage: 4096,    // whole-message limit on /ws (1009 above)
  wsQueue: 1024,       // bytes a client may have queued before telemetry is skipped for it
  telemetryMs: 50,     // telemetry push period
};

const builds = new Map();

const profileFile = (r) => (typeof r === "string" ? PROFILES[r] : r.profile ? `board-profiles/${r.profile}.json` : PROFILES[r.name]);

/** The profile object (as loadProfile returns it) with `overrides` applied to its values. */
export function testProfile(r, overrides = {}) {
  const file = profileFile(r);
  const p = loadProfile(path.join(ROOT, file));
  return { ...p, values: { ...p.values, ...NEEDS[path.basename(file, ".json")], ...LIMITS, ...overrides } };
}

export function buildTestBundle(r, overrides = {}, tag = "") {
  const runtime = typeof r === "string" ? r : r.name;
  const id = `${runtime}|${tag}|${JSON.stringify(overrides)}`;
  if (!builds.has(id)) builds.set(id, (async () => {
    // bundleConfig's paths (src/app/main.ts, tsconfig.json) are relative to the repository
    if (process.cwd() !== ROOT) process.chdir(ROOT);
    const outDir = `build/test-ws-${runtime}${tag ? "-" + tag : ""}`;
    const cfg = bundleConfig(testProfile(r, overrides), { outDir, quiet: true });
    const b = await rollup(cfg);
    try { await b.write(cfg.output); } finally { await b.close(); }
    return path.join(ROOT, outDir, "app.min.js");
  })());
  return builds.get(id);
}

/** Starts the test bundle on runtime r (an entry of runtimes()); Storage stays empty. */
export async function startServer(r, overrides = {}, tag = "") {
  const bundle = await buildTestBundle(r, overrides, tag);
  return r.start({ bundle, storage: {}, timeout: 10000 });
}
