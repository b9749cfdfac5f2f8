#!/usr/bin/env node
// The core self-test bundle: src/core/* plus test/selftest/ (replays test/vectors/*.json,
// baked in as a JSON literal, so the engine needs no file I/O), built like a device bundle
// (TypeScript ES5, the Espruino gate, terser ecma 5) into one script that prints
// "selftest: N passed, M failed" and the failures. It runs on Espruino, the emulator,
// JerryScript and Duktape.
//
//   node tools/core-selftest.mjs                      build build/selftest/selftest.js
//   node tools/core-selftest.mjs duk jerry espruino emulator   build, then run on each
//     (jerry: $JERRY_BIN, espruino: $ESPRUINO_BIN, duk: `duk` on PATH)
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { rollup } from "rollup";
import typescript from "@rollup/plugin-typescript";
import terser from "@rollup/plugin-terser";
import { TERSER, gatePlugin } from "./build-lib.mjs";
import { createEspruino } from "./emu/index.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const VECTOR_FILES = ["http", "utf8", "ws", "zip"];
export const OUT = path.join(ROOT, "build/selftest/selftest.js");
const VECTORS_ID = "sprat:vectors";

export function loadVectors() {
  const v = {};
  for (const n of VECTOR_FILES) v[n] = JSON.parse(fs.readFileSync(path.join(ROOT, "test/vectors", n + ".json"), "utf8"));
  return v;
}

/** How many vectors there are: every array at the top level of each vector file. */
export function vectorCount(v = loadVectors()) {
  let n = 0;
  for (const file of Object.values(v)) for (const x of Object.values(file)) if (Array.isArray(x)) n += x.length;
  return n;
}

function vectorsPlugin(v) {
  return {
    name: "sprat-vectors",
    resolveId: (id) => (id === VECTORS_ID ? "\0" + VECTORS_ID : null),
    load: (id) => (id === "\0" + VECTORS_ID ? `export default ${JSON.stringify(v)};\n` : null),
  };
}

/** Builds the bundle; returns { file, code, count }. */
export async function buildSelftest({ out = OUT } = {}) {
  const v = loadVectors();
  const cwd = process.cwd();
  process.chdir(ROOT); // the typescript plugin resolves tsconfig and include globs from cwd
  let code;
  try {
    const bundle = await rollup({
      input: "test/selftest/main.ts",
      plugins: [
        vectorsPlugin(v),
        typescript({ tsconfig: "test/selftest/tsconfig.json", include: ["src/**/*.ts", "test/selftest/**/*.ts"], noEmitOnError: true, sourceMap: false, inlineSources: false }),
        gatePlugin(),
        terser(TERSER),
      ],
      onwarn(w, warn) { if (w.code !== "CIRCULAR_DEPENDENCY") warn(w); },
    });
    ({ output: [{ code }] } = await bundle.generate({ format: "iife", strict: false }));
    await bundle.close();
  } finally { process.chdir(cwd); }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code, "latin1");
  fs.renameSync(tmp, out);
  return { file: out, code, count: vectorCount(v) };
}

/** Parses the self-test's output: { passed, failed, output } (passed null if no summary line). */
export function parseResult(output) {
  const m = /selftest: (\d+) passed, (\d+) failed/.exec(output);
  return { passed: m ? Number(m[1]) : null, failed: m ? Number(m[2]) : null, output };
}

/** Runs the bundle on a command-line engine: [bin, ...args, file]. */
export function runCommand(cmd, file, { timeout = 120000, cwd } = {}) {
  const [bin, ...args] = cmd;
  const r = spawnSync(bin, [...args, file], { encoding: "utf8", timeout, killSignal: "SIGKILL", input: "", cwd, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${bin}: ${r.error.message}`);
  const res = parseResult((r.stdout || "") + (r.stderr || ""));
  res.status = r.status;
  res.signal = r.signal;
  return res;
}

/** Runs the bundle in the host emulator, in-process; prelude: code run first (e.g. "var SELFTEST_VECTORS=...;"). */
export async function runEmulator(code, prelude = "") {
  const lines = [];
  const emu = createEspruino({ log: (l) => lines.push(l) });
  try { emu.run(prelude + code, "selftest.js"); } finally { await emu.stop(); }
  return parseResult(lines.join("\n"));
}

const ENGINES = {
  duk: () => ["duk"],
  jerry: () => (process.env.JERRY_BIN ? [process.env.JERRY_BIN] : null),
  espruino: () => (process.env.ESPRUINO_BIN ? [process.env.ESPRUINO_BIN] : null),
};

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const t0 = Date.now();
  const { file, code, count } = await buildSelftest();
  console.log(`built ${path.relative(process.cwd(), file)} (${code.length} bytes, ${count} vectors) in ${Date.now() - t0} ms`);
  let bad = 0;
  for (const name of process.argv.slice(2)) {
    const t1 = Date.now();
    let r;
    if (name === "emulator") r = await runEmulator(code);
    else if (!ENGINES[name]) { console.error(`unknown engine ${name} (duk, jerry, espruino, emulator)`); process.exit(2); }
    else {
      const cmd = ENGINES[name]();
      if (!cmd) { console.log(`${name}: skipped (${name === "jerry" ? "JERRY_BIN" : "ESPRUINO_BIN"} not set)`); continue; }
      // Espruino writes ./espruino.flash if a script touches Storage: run it in build/
      r = runCommand(cmd, file, { cwd: path.dirname(file) });
    }
    const ok = r.failed === 0 && r.passed === count;
    if (!ok) bad++;
    console.log(`${name}: ${r.passed ?? "?"} passed, ${r.failed ?? "?"} failed (${Date.now() - t1} ms)${ok ? "" : "\n" + r.output}`);
  }
  process.exit(bad ? 1 : 0);
}
