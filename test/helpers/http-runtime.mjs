// Test bundles and runtimes for test/http.test.mjs: the device app built through the real
// pipeline (rollup + gate + terser, tools/build-lib.mjs) with short test limits, and started
// on a runtime from tools/runtimes.mjs with the profile's Storage geometry.
import fs from "node:fs";
import path from "node:path";
import { rollup } from "rollup";
import { loadProfile } from "../../tools/profiles.mjs";
import { bundleConfig } from "../../tools/build-lib.mjs";
import { ROOT, ESPRUINO_FLASH } from "../../tools/runtimes.mjs";

/** The limits every HTTP test bundle is built with (the test's timings follow from them). */
// keepAliveMax 0: these tests are about keep-alive itself (test/keepalive.test.mjs covers the policy)
export const LIMITS = { headTimeout: 800, idleTimeout: 1500, maxClients: 4, keepAliveMax: 0 };
/** One extra origin allowed to call the REST API (profile feature `origins`). */
export const ORIGIN = "http://allowed.example:8081";

const built = new Map();

/**
 * Builds src/app/main.ts for runtime `rt` ({ name, profile } from runtimes()) into
 * build/test-http-<name>/app.min.js, once per process. Returns { bundle, values } where
 * values are the profile's values as built.
 */
export function buildBundle(rt) {
  if (!built.has(rt.name)) {
    built.set(rt.name, (async () => {
      const p = loadProfile(path.join(ROOT, "board-profiles", `${rt.profile}.json`));
      const profile = { ...p, values: { ...p.values, ...LIMITS, origins: ORIGIN } };
      const cwd = process.cwd();
      process.chdir(ROOT); // bundleConfig's paths (src/app/main.ts, tsconfig.json) are relative to the root
      try {
        const cfg = bundleConfig(profile, { outDir: `build/test-http-${rt.name}`, quiet: true });
        const b = await rollup(cfg);
        try { await b.write(cfg.output); } finally { await b.close(); }
      } finally { process.chdir(cwd); }
      return { bundle: path.join(ROOT, `build/test-http-${rt.name}/app.min.js`), values: profile.values };
    })());
  }
  return built.get(rt.name);
}

/**
 * Storage geometry of a runtime: the emulator gets the profile's flash size and page size, and
 * the Kaluma emulator's LittleFS has them (512 KB of 4 KB blocks); Espruino for Linux has its
 * own fixed image (ESPRUINO_FLASH, the linux profile's sizes).
 */
export function geometry(rt, values) {
  return rt.name === "espruino" ? { flashSize: ESPRUINO_FLASH.flashSize, pageSize: ESPRUINO_FLASH.pageSize } : { flashSize: values.storageSize, pageSize: values.storagePage };
}

/**
 * Starts the test bundle on runtime rt with Storage files `storage`. dir: keep the Storage
 * image in this directory (for a restart with keep: true, the same image again). append:
 * ES5 code run after the bundle (a test's own probe).
 */
export async function startApp(rt, { storage, dir, keep = false, append } = {}) {
  const { bundle, values } = await buildBundle(rt);
  const geo = geometry(rt, values);
  const opts = append ? { code: Buffer.concat([fs.readFileSync(bundle), Buffer.from(append, "latin1")]), storage, timeout: 8000 } : { bundle, storage, timeout: 8000 };
  if (rt.name === "emulator") {
    Object.assign(opts, geo);
    if (dir) Object.assign(opts, { flash: path.join(dir, "emulator.flash"), keepFlash: keep ? undefined : false });
  } else if (dir) Object.assign(opts, { cwd: dir, keepFlash: keep });
  const h = await rt.start(opts);
  h.values = values;
  h.geometry = geo;
  return h;
}
