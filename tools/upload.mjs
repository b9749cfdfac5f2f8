#!/usr/bin/env node
// npm run upload: put sprat on a board. npm run upload:web: replace only its web app.
//
//   npm run upload -- --port <serial port | tcp://host[:port]> [--profile esp32]
//                     [--wifi-ssid NAME --wifi-password PASS] [--http-port N]
//   npm run upload:web -- --port <...> [--profile esp32] [--zip file.zip]
//
// upload: builds build/<profile>/app.min.js and build/web.zip when stale, checks the board
//   (process.env.BOARD against the profile's `board`, free Storage, E.CRC32), then
//   reset()s it (stops the running app: sockets and RAM free for the upload; .bootcde does
//   not run after reset()), writes the web ZIP into the inactive slot and checks its CRC-32
//   on the board, writes the bundle as `.bootcde` (the file E.setBootCode writes: run at
//   power-on and by load(), not after reset()) and checks it, writes wifi.json if asked,
//   then the pointer web.ptr, and load()s: the app starts as it will at every power-on.
//   Prints the device's URL once the app reports it.
// upload:web: the same slot protocol as PUT /api/web (src/server/ota.ts) over the console,
//   without a reset: the running server serves the new ZIP from its next request. The
//   bundle in flash is not touched.
// docs/deploy.md explains the choices; `--help` lists every option.
import fs from "node:fs";
import path from "node:path";
import { loadProfile, loadProfiles } from "./profiles.mjs";
import { readCentral } from "./pack-web.mjs";
import {
  ROOT, PTR, DeployError, connect, ensureBundle, ensureWeb, infoExpr, crcExpr, activeSlot, inactiveSlot, cost, crc32, kb,
} from "./deploy-lib.mjs";

const USAGE = `usage: npm run upload -- --port <serial port | tcp://host[:port]> [options]
       npm run upload:web -- --port <...> [options]

  --port P            the board: a serial port (/dev/ttyUSB0, /dev/ttyACM0, COM3) or
                      tcp://host[:port] (its Telnet console: ESP32/ESP8266 port 23;
                      Espruino for Linux --telnet: tcp://127.0.0.1:2323)
  --profile NAME      board profile (board-profiles/NAME.json); default: the one whose
                      "board" is the board's process.env.BOARD
  --web               upload only the web app (what npm run upload:web does)
  --wifi-ssid S       write wifi.json {ssid, password} to the board's Storage (wifi profiles)
  --wifi-password P   (kept on the board only: never in the repository or the bundle)
  --http-port N       the app listens on N instead of the profile's port (var SPRAT_PORT=N;
                      before the bundle; for Espruino for Linux)
  --bundle FILE       upload this device bundle instead of building build/<profile>/app.min.js
  --zip FILE          upload this web ZIP instead of building build/web.zip
  --baud N            serial baud rate (default 115200)
  --slow              pause 250 ms after each Storage.write line (the CLI's default; for
                      serial links that lose data at full speed)
  --timeout MS        connecting and waiting for the board (default 10000)
  --net-timeout MS    waiting for the app to report its address after the upload (30000)
  --verbose           EspruinoTools' own log and the board's console
`;

const out = (s) => process.stdout.write(s + "\n");
class UsageError extends Error {}

function parseArgs(argv) {
  const o = { port: null, profile: null, web: false, wifiSsid: null, wifiPassword: null, httpPort: null, bundle: null, zip: null,
    baud: 115200, slow: false, timeout: 10000, netTimeout: 30000, verbose: false };
  const flags = { "--web": "web", "--slow": "slow", "--verbose": "verbose" };
  const vals = { "--port": "port", "--profile": "profile", "--wifi-ssid": "wifiSsid", "--wifi-password": "wifiPassword",
    "--http-port": "httpPort", "--bundle": "bundle", "--zip": "zip", "--baud": "baud", "--timeout": "timeout", "--net-timeout": "netTimeout" };
  for (let i = 0; i < argv.length; i++) {
    let [k, v] = argv[i].split(/=(.*)/s);
    if (k === "--help" || k === "-h") { out(USAGE); process.exit(0); }
    if (flags[k]) { o[flags[k]] = true; continue; }
    if (!vals[k]) throw new UsageError(`unknown argument ${argv[i]}`);
    if (v === undefined) v = argv[++i];
    if (v === undefined) throw new UsageError(`${k} needs a value`);
    o[vals[k]] = v;
  }
  if (!o.port) throw new UsageError("--port is required");
  for (const k of ["httpPort", "baud", "timeout", "netTimeout"]) {
    if (o[k] === null || typeof o[k] === "number") continue;
    if (!/^\d+$/.test(o[k])) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} ${o[k]}: expected a number`);
    o[k] = Number(o[k]);
  }
  if (o.httpPort !== null && !(o.httpPort > 0 && o.httpPort < 65536)) throw new UsageError(`--http-port ${o.httpPort}: expected a port number`);
  if ((o.wifiSsid === null) !== (o.wifiPassword === null)) throw new UsageError("--wifi-ssid and --wifi-password go together");
  if (o.web && (o.wifiSsid !== null || o.httpPort !== null || o.bundle)) throw new UsageError("--web uploads only the web ZIP: --wifi-*, --http-port and --bundle need a full upload");
  return o;
}

/** The profile: --profile, else the one made for the board's process.env.BOARD. */
function pickProfile(o, info) {
  const dir = path.join(ROOT, "board-profiles");
  let all, p;
  try {
    all = loadProfiles(dir);
    if (o.profile) p = loadProfile(path.join(dir, o.profile + ".json"));
  } catch (e) { throw new DeployError(e.message); }
  if (p) {
    if (p.values.board !== info.board) {
      const fit = all.filter((q) => q.values.board === info.board).map((q) => q.name);
      throw new DeployError(`profile/board mismatch: profile ${p.name} is for board ${p.values.board}, but the board on ${o.port} ` +
        `is ${info.board} (Espruino ${info.version})` + (fit.length ? `: use --profile ${fit.join(" or --profile ")}` : `: no profile in board-profiles/ is for ${info.board}`));
    }
    return p;
  }
  const fit = all.filter((q) => q.values.board === info.board);
  if (fit.length === 1) return fit[0];
  if (!fit.length) throw new DeployError(`no profile in board-profiles/ is for board ${info.board} (Espruino ${info.version}); ` +
    `known boards: ${[...new Set(all.map((q) => q.values.board))].join(", ")}`);
  throw new DeployError(`several profiles are for board ${info.board}: ${fit.map((q) => q.name).join(", ")}: pick one with --profile`);
}

/** A progress bar on a terminal, or a line at each quarter otherwise. */
function progress(label, total) {
  const tty = process.stdout.isTTY;
  let lastQ = -1;
  const t0 = Date.now();
  return {
    step(done) {
      const f = total ? done / total : 1;
      if (tty) {
        const w = 24, n = Math.round(f * w);
        process.stdout.write(`\r  ${label.padEnd(26)} [${"#".repeat(n)}${".".repeat(w - n)}] ${String(Math.round(f * 100)).padStart(3)}%`);
      } else {
        const q = Math.floor(f * 4);
        if (q > lastQ) { lastQ = q; out(`  ${label}: ${Math.round(f * 100)}%`); }
      }
    },
    end(extra = "") {
      const s = (Date.now() - t0) / 1000;
      const line = `  ${label.padEnd(26)} ${kb(total)} in ${s.toFixed(2)} s (${kb(Math.round(total / Math.max(s, 0.001)))}/s)${extra}`;
      if (tty) process.stdout.write("\r" + line + " ".repeat(12) + "\n"); else out(line);
      return s;
    },
  };
}

/** Writes `data` to Storage `name` and checks length and CRC-32 on the board. Returns seconds. */
async function writeChecked(dev, name, data, label) {
  const p = progress(label, data.length);
  p.step(0);
  await dev.writeFile(name, data, (d) => p.step(d));
  const want = crc32(data);
  const got = await dev.eval(crcExpr(name), { minTimeout: 10 });
  if (!got || got.n !== data.length || got.crc !== want) {
    throw new DeployError(`${name} did not arrive intact: the board has ${got && got.n >= 0 ? `${got.n} bytes, CRC-32 ${(got.crc >>> 0).toString(16)}` : "no file"}, ` +
      `expected ${data.length} bytes, CRC-32 ${want.toString(16)} (a serial link losing data? try --slow)`);
  }
  return p.end(`, CRC-32 ${want.toString(16).padStart(8, "0")} checked on the board`);
}

async function main() {
  let o;
  try { o = parseArgs(process.argv.slice(2)); } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`upload: ${e.message}\n${USAGE}`); process.exit(2); }
    throw e;
  }
  const debug = o.verbose ? (s) => process.stderr.write(`  [espruino] ${s}\n`) : () => {};
  const T0 = Date.now();

  out(`upload: connecting to ${o.port}`);
  const dev = await connect(o.port, { baud: o.baud, slow: o.slow, timeout: o.timeout, debug });
  try {
    // what is there: board, firmware, Storage (names from the profile's webFile: the
    // default until we know the profile; re-read below if the profile's differs)
    let info = await dev.eval(infoExpr("web.zip"), { minTimeout: Math.max(2, o.timeout / 1000) });
    const profile = pickProfile(o, info);
    const P = profile.values;
    if (P.webFile !== "web.zip") info = await dev.eval(infoExpr(P.webFile));
    out(`upload: ${info.board}, Espruino ${info.version}, profile ${profile.name}; Storage ${kb(info.free)} free` +
      (info.stats ? ` (+${kb(info.stats.trashBytes)} reclaimable) of ${kb(info.stats.totalBytes)}` : ""));
    if (!info.crc) throw new DeployError("this firmware has no E.CRC32, which the upload needs to check what it wrote");
    if (o.wifiSsid !== null && !["wifi", "espruino-wifi"].includes(P.network))
      throw new DeployError(`--wifi-ssid: profile ${profile.name} has network "${P.network}", not Wifi`);

    // what to write
    const log = (s) => out(`upload: ${s}`);
    const zipFile = o.zip ? path.resolve(o.zip) : await ensureWeb({ log });
    let zip;
    try { zip = fs.readFileSync(zipFile); } catch (e) { throw new DeployError(`--zip ${o.zip}: ${e.code === "ENOENT" ? "no such file" : e.message}`); }
    // what PUT /api/web refuses (422), refused here before anything is written
    let names = null;
    try { names = readCentral(zip).map((e) => e.name); } catch { /* not a ZIP */ }
    if (!names) throw new DeployError(`${path.relative(process.cwd(), zipFile)} is not a ZIP file`);
    if (!names.includes("index.html")) throw new DeployError(`${path.relative(process.cwd(), zipFile)} has no index.html: not a web app`);
    let code = null;
    if (!o.web) {
      const bundleFile = o.bundle ? path.resolve(o.bundle) : ensureBundle(profile.name, { log });
      try { code = fs.readFileSync(bundleFile); } catch (e) { throw new DeployError(`--bundle ${o.bundle}: ${e.code === "ENOENT" ? "no such file" : e.message}`); }
      if (o.httpPort !== null) code = Buffer.concat([Buffer.from(`var SPRAT_PORT=${o.httpPort};\n`), code]);
    }
    const wifi = o.wifiSsid !== null ? Buffer.from(JSON.stringify({ ssid: o.wifiSsid, password: o.wifiPassword })) : null;

    // where, and is there room: new files against free space, trash, and the files they replace
    const size = (n) => info.size[n] ?? -1;
    // the inactive slot; or the active one if it holds nothing (then nothing is served from it)
    const active = activeSlot(info.ptr, P.webFile), slot = size(active) < 0 ? active : inactiveSlot(info.ptr, P.webFile);
    let need = cost(zip.length) + cost(slot.length), have = (info.stats ? info.stats.freeBytes + info.stats.trashBytes : info.free) + cost(size(slot)) + cost(size(PTR));
    if (code) { need += cost(code.length); have += cost(size(".bootcde")); }
    if (wifi) { need += cost(wifi.length); have += cost(size("wifi.json")); }
    let dropActive = false;
    if (need > have) {
      // a full upload stops the app first, so the old web app may go too (no roll-back copy)
      if (code && size(active) >= 0 && need <= have + cost(size(active))) dropActive = true;
      else throw new DeployError(`not enough Storage on the board: this upload needs ${need} bytes, ${have} are free or reclaimable ` +
        `(web ZIP ${zip.length} bytes${code ? `, bundle ${code.length} bytes` : ""}; profile ${profile.name} says ${P.storageSize} bytes of Storage)`);
    }
    if (info.size[".boot0"] >= 0 || info.size[".bootrst"] >= 0)
      out(`upload: note: the board also has ${[".boot0", ".bootrst"].filter((n) => info.size[n] >= 0).join(" and ")}, which runs after reset() too`);

    const t = {};
    if (code) {
      // stop the running app: .bootcde does not run after reset(), .boot0/.bootrst would
      out("upload: reset() (stops the app on the board)");
      await dev.send("\x10reset();\n");
      await new Promise((r) => setTimeout(r, 300));
      await dev.eval("1", { minTimeout: Math.max(2, o.timeout / 1000) });
      if (dropActive) {
        out(`upload: note: Storage is short, so the previous web app (${active}) is erased first: no roll-back copy this time`);
        await dev.eval(`require("Storage").erase(${JSON.stringify(active)})`);
      }
    }
    out(`upload: web app -> ${slot} (active now: ${size(active) >= 0 ? active : "none"})`);
    t.web = await writeChecked(dev, slot, zip, `${slot} (web ZIP)`);
    if (code) t.app = await writeChecked(dev, ".bootcde", code, ".bootcde (app bundle)");
    if (wifi) {
      await writeChecked(dev, "wifi.json", wifi, "wifi.json");
    }
    // the switch, last: until now the pointer named the previous, intact app
    await dev.eval(`require("Storage").write(${JSON.stringify(PTR)},${JSON.stringify(slot)})`);
    out(`upload: ${PTR} -> ${slot}`);

    if (!code) {
      // a running server reads the pointer once a sweep (250 ms): after that, it serves the new app
      await new Promise((r) => setTimeout(r, 600));
      out(`upload: done in ${((Date.now() - T0) / 1000).toFixed(1)} s: the running app serves ${slot} from its next request (the app in flash is unchanged; roll back with POST /api/web/rollback)`);
      return;
    }
    // start it the way a power-on does
    const mark = dev.text.length;
    await dev.send("\x10load();\n");
    const port = o.httpPort ?? P.port;
    if (P.network === "none") {
      const m = await dev.waitFor(/listening on port (\d+)/, o.netTimeout, mark);
      if (!m) throw new DeployError(`the app did not report "listening" within ${o.netTimeout} ms after load():\n${dev.text.slice(mark).trim()}`);
      out(`upload: done in ${((Date.now() - T0) / 1000).toFixed(1)} s: http://127.0.0.1:${m[1]}/`);
      return;
    }
    out(`upload: started; waiting for its network (${P.network})...`);
    const m = await dev.waitFor(/sprat: ip (\d+\.\d+\.\d+\.\d+)|sprat: (setup access point[^\r\n]*)|sprat: (network failed[^\r\n]*)/, o.netTimeout, mark);
    let ip = m && m[1];
    if (!m && P.network === "wifi") ip = await dev.eval(`require("Wifi").getIP().ip`).catch(() => null);
    if (ip && ip !== "0.0.0.0") out(`upload: done in ${((Date.now() - T0) / 1000).toFixed(1)} s: http://${ip}${port === 80 ? "" : ":" + port}/`);
    else if (m && m[2]) out(`upload: done, but the board has no Wifi credentials that work: it opened a ${m[2]}`);
    else throw new DeployError(`the app is in flash, but its network did not come up within ${o.netTimeout} ms` + (m && m[3] ? `: ${m[3]}` : "") +
      `; the board said:\n${dev.text.slice(mark).trim() || "(nothing)"}`);
  } finally {
    dev.close();
  }
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`upload: error: ${e instanceof DeployError || e.message && !e.stack ? e.message : e.stack || e}\n`);
  process.exit(1);
});
