// The protocol core (src/core) on every engine it must run on: the self-test bundle
// (tools/core-selftest.mjs) replays test/vectors/*.json — the same vectors the Node tests
// use — on the emulator (always), Duktape (`duk` on PATH), JerryScript ($JERRY_BIN) and
// Espruino for Linux ($ESPRUINO_BIN). Run: node --test test/selftest.test.mjs
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildSelftest, runCommand, runEmulator, vectorCount, loadVectors } from "../tools/core-selftest.mjs";

let built;
const build = () => (built ??= buildSelftest({ out: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sprat-selftest-")), "selftest.js") }));
test.after(async () => { if (built) fs.rmSync(path.dirname((await built).file), { recursive: true, force: true }); });

const onPath = (cmd) => (process.env.PATH || "").split(path.delimiter).some((d) => {
  try { fs.accessSync(path.join(d, cmd), fs.constants.X_OK); return true; } catch { return false; }
});

function check(r, count, engine) {
  assert.notEqual(r.passed, null, `${engine} printed no "selftest: N passed, M failed" line:\n${r.output}`);
  assert.equal(r.failed, 0, `${engine}: failures:\n${r.output}`);
  assert.equal(r.passed, count, `${engine}: ran ${r.passed} vectors, the vector files hold ${count}`);
}

test("the vector files hold vectors", () => {
  assert.ok(vectorCount() > 200, String(vectorCount()));
});

test("core self-test on the emulator", async () => {
  const { code, count } = await build();
  check(await runEmulator(code), count, "emulator");
});

test("the self-test reports broken vectors (negative control, emulator)", async () => {
  const { code, count } = await build();
  const v = loadVectors();
  v.http.cases[0].st = 400;                   // wrong status
  v.utf8.cases[1].expect = "partial";         // wrong verdict
  v.ws.frames[0].expect.events[0][2] = "00";  // wrong payload
  v.ws.accept[0].expect = "x";
  v.zip.cases[0].files[Object.keys(v.zip.cases[0].files)[0]] += "!";
  const r = await runEmulator(code, `var SELFTEST_VECTORS=${JSON.stringify(v)};\n`);
  assert.equal(r.failed, 5, r.output);
  assert.equal(r.passed, count - 5, r.output);
  for (const what of ["http " + v.http.cases[0].name, "utf8 " + v.utf8.cases[1].name, "ws frames " + v.ws.frames[0].name, "ws accept", "zip " + v.zip.cases[0].name])
    assert.ok(r.output.includes("FAIL " + what), `${what} not reported:\n${r.output}`);
});

test("core self-test on Duktape", { skip: !onPath("duk") && "duk not on PATH: Duktape self-test skipped (apt-get install duktape)" }, async () => {
  const { file, count } = await build();
  check(runCommand(["duk"], file), count, "duk");
});

test("core self-test on JerryScript", { skip: !process.env.JERRY_BIN && "JERRY_BIN not set: JerryScript self-test skipped (see README 'Real runtimes')" }, async () => {
  const { file, count } = await build();
  check(runCommand([process.env.JERRY_BIN], file), count, "jerry");
});

test("core self-test on Espruino for Linux", { skip: !process.env.ESPRUINO_BIN && "ESPRUINO_BIN not set: real Espruino tests skipped (see README 'Real runtimes')" }, async () => {
  const { file, count } = await build();
  // cwd: Espruino would put espruino.flash there if anything touched Storage
  check(runCommand([process.env.ESPRUINO_BIN], file, { cwd: path.dirname(file) }), count, "espruino");
});
