#!/usr/bin/env node
// npm start: build what is missing or stale, put the web ZIP into Storage, run the device
// bundle on 127.0.0.1 until Ctrl-C.
//
//   npm start [-- --runtime emulator|espruino|kaluma-emu] [--port N] [--profile name]
//
// --runtime emulator (default): the host emulator (tools/emu), profile "host", Storage image
//   build/<profile>.flash (build/host.flash): it persists across restarts (settings the app
//   saved stay); only the web ZIP file is rewritten.
// --runtime espruino: Espruino for Linux from $ESPRUINO_BIN, profile "linux", run in
//   build/espruino-linux/ (its Storage is build/espruino-linux/espruino.flash, kept likewise),
//   bound to 127.0.0.1 by the LD_PRELOAD shim (tools/loopback-bind.c).
// --runtime kaluma-emu: the Kaluma (Pico W) emulator (tools/kaluma-emu), profile
//   "kaluma-picow", LittleFS in build/kaluma-emu/kaluma-lfs (kept likewise).
// --port N: default the profile's port (0: any free port). The bundle gets it as SPRAT_PORT.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { loadProfile } from "./profiles.mjs";
import { ROOT, ESPRUINO_FLASH, startEmulator, startEspruino, startKalumaEmulator, writeStorage, freePort } from "./runtimes.mjs";

const USAGE = "usage: npm start [-- --runtime emulator|espruino|kaluma-emu] [--port N] [--profile name]";
const die = (msg, code = 1) => { console.error(`sprat: ${msg}`); process.exit(code); };
const rel = (p) => path.relative(process.cwd(), p) || ".";

function parseArgs(argv) {
  const o = { runtime: "emulator", port: null, profile: null };
  for (let i = 0; i < argv.length; i++) {
    let [k, v] = argv[i].split(/=(.*)/s);
    if (k === "--help" || k === "-h") { console.log(USAGE); process.exit(0); }
    if (!["--runtime", "--port", "--profile"].includes(k)) die(`unknown argument ${argv[i]}\n${USAGE}`, 2);
    if (v === undefined) v = argv[++i];
    if (v === undefined) die(`${k} needs a value\n${USAGE}`, 2);
    o[k.slice(2)] = v;
  }
  if (!["emulator", "espruino", "kaluma-emu"].includes(o.runtime)) die(`--runtime ${o.runtime}: expected emulator, espruino or kaluma-emu`, 2);
  if (o.port !== null) {
    if (!/^\d+$/.test(o.port) || Number(o.port) > 65535) die(`--port ${o.port}: expected a port number`, 2);
    o.port = Number(o.port);
  }
  o.profile ??= { espruino: "linux", "kaluma-emu": "kaluma-picow" }[o.runtime] || "host";
  return o;
}

/** Newest mtime of files under the given paths (directories walked). */
function newest(paths) {
  let t = 0;
  const visit = (p) => {
    let st;
    try { st = fs.statSync(p); } catch { return; }
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    else t = Math.max(t, st.mtimeMs);
  };
  paths.forEach((p) => visit(path.join(ROOT, p)));
  return t;
}

/** build/<profile>/app.min.js, rebuilt (that profile only) when missing or older than its inputs. */
function ensureBundle(profile) {
  const bundle = path.join(ROOT, "build", profile, "app.min.js");
  const inputs = ["src", `board-profiles/${profile}.json`, "rollup.config.ts", "tsconfig.json",
    "tools/build-lib.mjs", "tools/gate.mjs", "tools/profiles.mjs", "package-lock.json"];
  let built = 0;
  try { built = fs.statSync(bundle).mtimeMs; } catch { /* missing */ }
  if (built && built >= newest(inputs)) return bundle;
  console.log(`sprat: building ${rel(bundle)} (${built ? "stale" : "missing"})`);
  const rollup = path.join(ROOT, "node_modules/rollup/dist/bin/rollup");
  const r = spawnSync(process.execPath, [rollup, "-c", "rollup.config.ts", "--configPlugin", "typescript={tsconfig:'tools/tsconfig.json'}"],
    { cwd: ROOT, stdio: "inherit", env: { ...process.env, PROFILE: profile } });
  if (r.status !== 0 || !fs.existsSync(bundle)) die(`building the ${profile} bundle failed`);
  return bundle;
}

/** build/web.zip from tools/build-web.mjs (the dashboard), or web/ packed as it is. */
async function ensureWeb() {
  const out = path.join(ROOT, "build/web.zip");
  const builder = path.join(ROOT, "tools/build-web.mjs");
  try {
    if (fs.existsSync(builder)) {
      const { buildWeb } = await import(pathToFileURL(builder).href);
      await buildWeb({ out, quiet: true });
    } else {
      const { packDir } = await import("./pack-web.mjs");
      await packDir(path.join(ROOT, "web"), out, { quiet: true });
    }
  } catch (e) { die(`building the web ZIP failed: ${e.message}`); }
  return fs.readFileSync(out);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.runtime === "espruino" && !process.env.ESPRUINO_BIN)
    die("--runtime espruino needs ESPRUINO_BIN=/path/to/espruino (Espruino built for Linux; see README 'Real runtimes')");
  let profile;
  try { profile = loadProfile(path.join(ROOT, "board-profiles", o.profile + ".json")); } catch (e) { die(e.message); }
  const { port: profilePort, webFile, storageSize, storagePage } = profile.values;
  const bundle = ensureBundle(profile.name);
  const zip = await ensureWeb();
  const port = o.port === 0 ? await freePort() : o.port ?? profilePort;
  const onOutput = (d) => process.stdout.write(d);

  let rt;
  try {
    if (o.runtime === "emulator") {
      const flash = path.join(ROOT, "build", profile.name + ".flash");
      await writeStorage(flash, { [webFile]: zip }, { flashSize: storageSize, pageSize: storagePage });
      console.log(`sprat: ${webFile} (${zip.length} bytes) in ${rel(flash)}`);
      rt = await startEmulator({ bundle, port, flash, flashSize: storageSize, pageSize: storagePage, onOutput });
    } else if (o.runtime === "kaluma-emu") {
      // LittleFS is a directory of files there: build/kaluma-emu/kaluma-lfs, kept between runs
      const cwd = path.join(ROOT, "build/kaluma-emu");
      fs.mkdirSync(cwd, { recursive: true });
      console.log(`sprat: ${webFile} (${zip.length} bytes) in ${rel(path.join(cwd, "kaluma-lfs"))}`);
      rt = await startKalumaEmulator({ bundle, port, cwd, keepFlash: true, storage: { [webFile]: zip }, onOutput });
    } else {
      if (storageSize !== ESPRUINO_FLASH.flashSize)
        console.warn(`sprat: note: profile ${profile.name} says ${storageSize} bytes of Storage; Espruino for Linux has ${ESPRUINO_FLASH.flashSize}`);
      const cwd = path.join(ROOT, "build/espruino-linux");
      const flash = path.join(cwd, ESPRUINO_FLASH.file);
      await writeStorage(flash, { [webFile]: zip }, ESPRUINO_FLASH);
      console.log(`sprat: ${webFile} (${zip.length} bytes) in ${rel(flash)}`);
      rt = await startEspruino({ bundle, port, cwd, keepFlash: true, onOutput });
    }
  } catch (e) { die(e.message); }

  console.log(`sprat (${profile.name}, ${o.runtime}) serving http://127.0.0.1:${rt.port}/`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await rt.stop();
    process.exit(0);
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, shutdown);
  const info = await rt.exited;
  if (!stopping) die(`${o.runtime} exited (${info.signal ? "signal " + info.signal : "code " + info.code})`);
}

main().catch((e) => die(e.stack || e.message));
