#!/usr/bin/env node
// node tools/kaluma-emu/cli.mjs <bundle.js> [--flash DIR] [--port N] [--wifi SSID:PASSWORD]
//                               [--kv KEY=VALUE] [--routing socket|shipped]
// Runs a script in the Kaluma emulator (Raspberry Pi Pico W, Kaluma 1.2.1) until Ctrl-C.
//   --flash DIR    the LittleFS root, a host directory (default ./kaluma-lfs)
//   --port N       defines the global SPRAT_PORT = N before the script runs (sprat listens there)
//   --wifi S:P     a network the Wifi can join (repeatable; default: none, so sprat opens its
//                  setup access point)
//   --kv K=V       a key in Kaluma's `storage` (repeatable), e.g. --kv WIFI_SSID=home
//   --routing R    which socket object gets a connection's data (cyw43.mjs): "socket" (default)
//                  or "shipped" (Kaluma 1.2.1 as released: the listener's, see docs/runtimes.md)
// When the watchdog fires (sprat's E.reboot()), the board "reboots": a fresh emulator runs the
// script again on the same directory.
import fs from "node:fs";
import path from "node:path";
import { createKaluma } from "./index.mjs";
import { runUntilSignal } from "../emu/forever.mjs";

const args = process.argv.slice(2);
const flags = { wifi: [], kv: [] };
let file = null;
for (let i = 0; i < args.length; i++) {
  if (!args[i].startsWith("--")) { file = args[i]; continue; }
  const k = args[i].slice(2), v = args[++i];
  if (Array.isArray(flags[k])) flags[k].push(v); else flags[k] = v;
}
if (!file || "help" in flags || (flags.routing && !["socket", "shipped"].includes(flags.routing))) {
  console.error("usage: node tools/kaluma-emu/cli.mjs <bundle.js> [--flash DIR] [--port N] [--wifi SSID:PASSWORD] [--kv KEY=VALUE] [--routing socket|shipped]");
  process.exit(2);
}
const split = (s, sep) => { const i = s.indexOf(sep); return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)]; };
const code = fs.readFileSync(file, "latin1"); // bytes: sprat bundles are ASCII
let emu = null;

function boot() {
  emu = createKaluma({
    dir: path.resolve(flags.flash || "kaluma-lfs"),
    networks: Object.fromEntries(flags.wifi.map((w) => split(w, ":"))),
    kv: Object.fromEntries(flags.kv.map((w) => split(w, "="))),
    routing: flags.routing || "socket",
    write: (text) => process.stdout.write(text),
    onListen: (req, actual) => console.error(`[kaluma-emu] listening on 127.0.0.1:${actual}` + (req !== actual ? ` (asked ${req})` : "")),
    onReset: () => setImmediate(async () => {
      if (stopping()) return;
      await emu.stop();
      console.log("[kaluma-emu] reboot");
      boot();
    }),
  });
  if (flags.port !== undefined) emu.global.SPRAT_PORT = Number(flags.port);
  emu.run(code, file);
}

const stopping = runUntilSignal(() => emu.stop()); // a board runs forever
boot();
