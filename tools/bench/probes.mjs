// Runtime instances for tools/bench.mjs's memory measurements, each with eval(expr) -> string
// run inside the runtime, and mem() -> process.memory().usage in JsVars (GC first).
//
//   emulator  in-process createEspruino (tools/emu): eval is emu.run; memory is the
//             emulator's approximate model (tools/emu/README.md).
//   espruino  Espruino for Linux with --telnet: expressions go to its REPL on 127.0.0.1:2323
//             as "\x10print(...)" lines (\x10: no echo), so the measured bundle is the shipped
//             one. The telnet port is fixed, so it is waited for; if another process keeps it,
//             a bench-only probe server is appended to the bundle instead (said in the notes).
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import { createEspruino } from "../emu/index.mjs";
import { startEspruino, writeStorage, freePort, canConnect, listeners, ESPRUINO_FLASH, TELNET_PORT } from "../runtimes.mjs";
import { sleep, HOST } from "./clients.mjs";

/** Reads fn() until two readings 60 ms apart agree (at most 8 tries): a settled value. */
async function settled(fn) {
  let a = await fn();
  for (let i = 0; i < 8; i++) {
    await sleep(60);
    const b = await fn();
    if (b === a) return b;
    a = b;
  }
  return a;
}

async function waitListening(port, ms) {
  const t0 = Date.now();
  while (!(await canConnect(port))) {
    if (Date.now() - t0 > ms) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await sleep(20);
  }
}

/** The emulator, in this process. opts: { code (latin1 string), storage: { name: Buffer } }. */
export async function emulatorInstance({ code, storage, jsvars = 12000 }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-bench-emu-"));
  const flash = path.join(dir, "emulator.flash");
  await writeStorage(flash, storage, ESPRUINO_FLASH);
  const port = await freePort();
  const lines = [];
  const emu = createEspruino({ flash, flashSize: ESPRUINO_FLASH.flashSize, pageSize: ESPRUINO_FLASH.pageSize, jsvars, log: (l) => lines.push(l) });
  emu.global.SPRAT_PORT = port;
  emu.run(code, "app.min.js");
  try { await waitListening(port, 5000); } catch (e) { await emu.stop(); throw new Error(`${e.message}\n${lines.join("\n")}`); }
  const evalJs = async (expr) => String(emu.run(`(${expr})`, "bench-eval.js"));
  return {
    runtime: "emulator", method: "in-process emulator model", port, output: () => lines.join("\n"), errors: emu.errors,
    eval: evalJs,
    mem: () => settled(() => emu.memory().usage),
    async stop() { await emu.stop(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/** A line-oriented connection to Espruino's telnet REPL. */
async function telnetRepl(port) {
  const sock = net.connect({ port, host: HOST });
  let buf = "", seq = 0;
  const waiters = new Set();
  sock.on("data", (d) => { buf += d.toString("latin1"); for (const w of waiters) w(); });
  sock.on("error", () => {});
  await new Promise((resolve, reject) => { sock.once("connect", resolve); sock.once("error", reject); });
  await sleep(150); // the console moves to Telnet; let its banner/prompt pass
  const evalJs = (expr, ms = 5000) => new Promise((resolve, reject) => {
    const tag = `#B${++seq}=`, re = new RegExp(`${tag}([^\\r\\n]*)\\r?\\n`);
    const check = () => {
      const m = re.exec(buf);
      if (!m) return;
      waiters.delete(check); clearTimeout(t);
      buf = buf.slice(m.index + m[0].length);
      resolve(m[1]);
    };
    const t = setTimeout(() => { waiters.delete(check); reject(new Error(`Espruino REPL: no answer to ${expr} within ${ms} ms (got ${JSON.stringify(buf.slice(-300))})`)); }, ms);
    waiters.add(check);
    sock.write(`\x10print(${JSON.stringify(tag)}+(${expr}))\n`);
  });
  return { eval: evalJs, close: () => sock.destroy() };
}

/** A bench-only probe server (ES5) appended to the bundle when the telnet port is taken. */
const PROBE = `
;require("net").createServer(function (c) { var b = ""; c.on("data", function (d) { b += d; if (b.indexOf("\\n") >= 0) c.end("" + eval(b)); }); }).listen(BENCH_PROBE);
`;

async function probeEval(port, expr, ms = 5000) {
  const sock = net.connect({ port, host: HOST });
  return new Promise((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`bench probe: no answer to ${expr}`)); }, ms);
    sock.on("data", (d) => { out += d.toString("latin1"); });
    sock.on("error", (e) => { clearTimeout(t); reject(e); });
    sock.on("close", () => { clearTimeout(t); resolve(out); });
    sock.write(`(${expr})\n`);
  });
}

/**
 * Espruino for Linux running the bundle, with a REPL for eval/mem. opts: { code: Buffer,
 * storage, env (extra environment for the child: e.g. LD_PRELOAD), telnetWaitMs }.
 */
export async function espruinoInstance({ code, storage, env = {}, telnetWaitMs = 30000 }) {
  const t0 = Date.now();
  while (listeners(TELNET_PORT).length && Date.now() - t0 < telnetWaitMs) await sleep(200);
  if (!listeners(TELNET_PORT).length) {
    const h = await withEnv(env, () => startEspruino({ code, storage, telnet: true, timeout: 10000 }));
    let repl = null;
    try {
      repl = await telnetRepl(TELNET_PORT);
      // the port is fixed: another Espruino may have taken it first
      if (Number(await repl.eval("SPRAT_PORT")) === h.port) return instance(h, repl.eval, () => repl.close(), `telnet REPL (127.0.0.1:${TELNET_PORT})`);
    } catch { /* fall through to the probe */ }
    if (repl) repl.close();
    await h.stop();
  }
  const probePort = await freePort();
  const h = await withEnv(env, () => startEspruino({ code: Buffer.concat([Buffer.from(`var BENCH_PROBE=${probePort};\n`), code, Buffer.from(PROBE)]), storage, timeout: 10000 }));
  try { await waitListening(probePort, 5000); } catch (e) { await h.stop(); throw e; }
  return instance(h, (expr) => probeEval(probePort, expr), () => {}, `a bench-only probe server appended to the bundle (telnet port ${TELNET_PORT} was taken)`);
}

async function withEnv(env, fn) {
  const saved = {};
  for (const k of Object.keys(env)) { saved[k] = process.env[k]; process.env[k] = env[k]; }
  try { return await fn(); } finally {
    for (const k of Object.keys(env)) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k]; }
  }
}

function instance(h, evalJs, close, method) {
  return {
    runtime: "espruino", port: h.port, pid: h.pid, output: h.output, handle: h, method,
    eval: evalJs,
    mem: () => settled(async () => Number(await evalJs("process.memory().usage"))),
    async stop() { close(); await h.stop(); },
  };
}
