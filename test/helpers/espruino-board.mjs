// Espruino for Linux as a stand-in for a board: started in interactive mode (no script
// argument), so at start it runs what is stored in its flash (.bootcde, .boot0..3) like a
// board at power-on, with its Telnet console (--telnet) for the upload tool.
//
//   const b = await startBoard({ cwd });          // cwd holds espruino.flash (kept)
//   run upload with --port b.url                   // tcp://127.0.0.1:<telnetPort>
//   await b.kill();                                // "power off": SIGKILL (it ignores SIGTERM)
//   const b2 = await startBoard({ cwd });         // "power on": same flash
//
// The Linux build's Telnet port is fixed at 2323 (libs/network/telnet/jswrap_telnet.c);
// build/loopback-bind.so (tools/loopback-bind.c, built by tools/runtimes.mjs) moves it to a
// free port (SPRAT_TELNET_PORT) so that several can run at once, and keeps everything on
// 127.0.0.1. Needs ESPRUINO_BIN and a C compiler.
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { ESPRUINO_FLASH, ESPRUINO_SKIP, freePort, listeners, loopbackShim } from "../../tools/runtimes.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const live = new Set();
process.on("exit", () => { for (const c of live) try { c.kill("SIGKILL"); } catch { /* gone */ } });

/**
 * opts: cwd (required: the flash image is <cwd>/espruino.flash), bin ($ESPRUINO_BIN),
 * telnetPort (0: a free one), timeout (ms, 5000).
 * Resolves once the Telnet console listens: { url, telnetPort, pid, cwd, flash, output(),
 * waitFor(re, ms), kill(), exited }.
 */
export async function startBoard(opts = {}) {
  const { bin = process.env.ESPRUINO_BIN, timeout = 5000 } = opts;
  if (!bin) throw new Error(ESPRUINO_SKIP);
  const cwd = path.resolve(opts.cwd);
  fs.mkdirSync(cwd, { recursive: true });
  const telnetPort = opts.telnetPort || await freePort();
  const preload = [loopbackShim(), process.env.LD_PRELOAD].filter(Boolean).join(":");
  // stdin stays an open pipe: at EOF, or with --telnet and no stdin, it misbehaves
  const child = spawn(bin, ["--telnet"], {
    cwd, stdio: ["pipe", "pipe", "pipe"], detached: true,
    env: { ...process.env, LD_PRELOAD: preload, SPRAT_TELNET_PORT: String(telnetPort) },
  });
  live.add(child);
  let text = "", exitInfo = null;
  const waiters = new Set();
  const poke = () => { for (const w of waiters) w(); };
  const onData = (d) => { text += d.toString("latin1"); poke(); };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  child.stdin.on("error", () => {});
  const exited = new Promise((resolve) => child.on("close", (code, signal) => { exitInfo = { code, signal }; live.delete(child); poke(); resolve(exitInfo); }));
  child.on("error", (e) => { text += `\n[spawn error: ${e.message}]`; });
  const kill = async () => { if (!exitInfo) try { process.kill(-child.pid, "SIGKILL"); } catch { try { child.kill("SIGKILL"); } catch { /* gone */ } } return exited; };
  const waitFor = (re, ms = 5000) => new Promise((resolve, reject) => {
    let timer;
    const check = () => {
      const m = text.match(re);
      if (m) { waiters.delete(check); clearTimeout(timer); resolve(m); } else if (exitInfo) { waiters.delete(check); clearTimeout(timer); reject(new Error(`espruino exited before printing ${re}\n${text}`)); }
    };
    timer = setTimeout(() => { waiters.delete(check); reject(new Error(`espruino: no ${re} within ${ms} ms\n--- output ---\n${text}`)); }, ms);
    waiters.add(check);
    check();
  });
  const t0 = Date.now();
  while (!listeners(telnetPort).length) {
    if (exitInfo || Date.now() - t0 > timeout) {
      await kill();
      throw new Error(`espruino --telnet: nothing listens on port ${telnetPort} after ${Date.now() - t0} ms\n--- output ---\n${text}`);
    }
    await sleep(25);
  }
  const wide = listeners(telnetPort).filter((a) => !a.startsWith("127.0.0.1:"));
  if (wide.length) { await kill(); throw new Error(`espruino listens on ${wide.join(", ")}: the LD_PRELOAD shims did not take effect`); }
  return { url: `tcp://127.0.0.1:${telnetPort}`, telnetPort, pid: child.pid, cwd, flash: path.join(cwd, ESPRUINO_FLASH.file), output: () => text, waitFor, kill, exited, child };
}
