#!/usr/bin/env node
// node tools/emu/cli.mjs <bundle.js> [--flash file] [--flash-size N] [--page-size N]
//                         [--chunk-size N] [--port N] [--jsvars N]
// Runs an Espruino script in the emulator until Ctrl-C (SIGINT/SIGTERM -> stop(), exit 0).
// --port N defines the global SPRAT_PORT = N before the bundle runs (sprat uses it to
// override the profile's port) and binds that port on 127.0.0.1.
import fs from "node:fs";
import path from "node:path";
import { createEspruino } from "./index.mjs";
import { runUntilSignal } from "./forever.mjs";

const args = process.argv.slice(2);
const flags = {};
let file = null;
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith("--")) flags[args[i].slice(2)] = args[++i];
  else file = args[i];
}
if (!file || "help" in flags) {
  console.error("usage: node tools/emu/cli.mjs <bundle.js> [--flash file] [--flash-size N] [--page-size N] [--chunk-size N] [--port N] [--jsvars N]");
  process.exit(2);
}
const num = (k, d) => (flags[k] === undefined ? d : Number(flags[k]));
const emu = createEspruino({
  flash: path.resolve(flags.flash || "espruino.flash"),
  flashSize: num("flash-size", 262144),
  pageSize: num("page-size", 1024),
  chunkSize: num("chunk-size", 536),
  jsvars: num("jsvars", 12000),
  onListen: (req, actual) => console.error(`[emu] listening on 127.0.0.1:${actual}` + (req !== actual ? ` (asked ${req})` : "")),
});
if (flags.port !== undefined) emu.global.SPRAT_PORT = Number(flags.port);

runUntilSignal(() => emu.stop()); // Espruino runs forever
emu.run(fs.readFileSync(file, "latin1"), file); // bytes, like Espruino reads them
