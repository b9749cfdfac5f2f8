#!/usr/bin/env node
// npm run dev:web: the dashboard served from this computer, talking to a device.
//
//   npm run dev:web -- --device host:port [--port 8081] [--out build] [--src web]
//
// Builds web/ with tools/build-web.mjs into its staging folder (<out>/web/, and
// <out>/web.zip: what `npm run upload:web` sends), serves that folder on
// http://127.0.0.1:<port>/, and rebuilds when a file under web/ changes (fs.watch). Open
// http://127.0.0.1:8081/?device=host:port: the page (web/src/client.ts deviceBase()) opens
// its WebSocket and REST calls to the device, whose profile must allow the page's origin
// (features.origins: host.json and linux.json list http://127.0.0.1:8081; add it to a
// board's profile to develop against the board). Reload the page after a rebuild.
import fs from "node:fs";
import path from "node:path";
import http from "node:http";
import { ROOT } from "./deploy-lib.mjs";

const USAGE = "usage: npm run dev:web -- --device host:port [--port 8081] [--out build] [--src web]";
const say = (s) => process.stdout.write(`dev:web: ${s}\n`);
const die = (msg, code = 1) => { process.stderr.write(`dev:web: ${msg}\n`); process.exit(code); };

function parseArgs(argv) {
  const o = { device: null, port: 8081, out: "build", src: "web" };
  for (let i = 0; i < argv.length; i++) {
    let [k, v] = argv[i].split(/=(.*)/s);
    if (k === "--help" || k === "-h") { process.stdout.write(USAGE + "\n"); process.exit(0); }
    if (!["--device", "--port", "--out", "--src"].includes(k)) die(`unknown argument ${argv[i]}\n${USAGE}`, 2);
    if (v === undefined) v = argv[++i];
    if (v === undefined) die(`${k} needs a value\n${USAGE}`, 2);
    o[k.slice(2)] = v;
  }
  if (!o.device) die(`--device is required (the device's host:port, e.g. 192.168.1.50 or 127.0.0.1:8080)\n${USAGE}`, 2);
  o.device = o.device.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  if (!/^[\w.-]+(:\d+)?$|^\[[\d:a-f]+\](:\d+)?$/i.test(o.device)) die(`--device ${o.device}: expected host or host:port`, 2);
  if (!/^\d+$/.test(String(o.port)) || Number(o.port) > 65535) die(`--port ${o.port}: expected a port number`, 2);
  o.port = Number(o.port);
  return o;
}

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8" };

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const out = path.resolve(ROOT, o.out), zip = path.join(out, "web.zip"), stage = path.join(out, "web"), src = path.resolve(ROOT, o.src);
  if (!fs.existsSync(path.join(src, "index.html"))) die(`--src ${o.src}: no index.html there`);
  const { buildWeb } = await import("./build-web.mjs");
  let building = null, again = false, ok = false;
  const build = async () => {
    if (building) { again = true; return building; }
    building = (async () => {
      do {
        again = false;
        const t0 = Date.now();
        try {
          const r = await buildWeb({ out: zip, stage, src, quiet: true });
          ok = true;
          say(`built ${path.relative(process.cwd(), stage) || stage}/ in ${Date.now() - t0} ms (packed ${r.total} bytes; ${path.relative(process.cwd(), zip)} ready for npm run upload:web)`);
        } catch (e) {
          say(`build failed, still serving the last good build:\n${e.message}`);
        }
      } while (again);
      building = null;
    })();
    return building;
  };
  await build();
  if (!ok) die("the first build failed: nothing to serve");

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let p = decodeURIComponent(url.pathname);
    if (p.endsWith("/")) p += "index.html";
    const file = path.resolve(stage, "." + p);
    if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405, { Allow: "GET, HEAD" }); return res.end(); }
    if (!file.startsWith(stage + path.sep)) { res.writeHead(403); return res.end("forbidden\n"); }
    fs.readFile(file, (err, data) => {
      if (err) {
        // like the device: an unknown extension-less path is the single-page app
        if (!path.extname(p)) return fs.readFile(path.join(stage, "index.html"), (e2, d2) => send(e2 ? 404 : 200, ".html", e2 ? "not found\n" : d2));
        return send(404, ".txt", "not found\n");
      }
      send(200, path.extname(file), data);
    });
    function send(code, ext, body) {
      res.writeHead(code, { "Content-Type": TYPES[ext] || "application/octet-stream", "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
    }
  });
  server.on("error", (e) => die(e.code === "EADDRINUSE" ? `port ${o.port} is in use: pick another with --port (and allow its origin on the device)` : e.message));
  server.listen(o.port, "127.0.0.1", () => {
    const port = server.address().port;
    say(`serving http://127.0.0.1:${port}/?device=${o.device}`);
    if (port !== 8081) say(`note: the device must allow the origin http://127.0.0.1:${port} (profile features.origins)`);
  });

  // rebuild on change; editors save in bursts, so wait for quiet first
  let timer = null;
  const watcher = fs.watch(src, { recursive: true }, (ev, name) => {
    if (name && /(^|[\\/])\.|~$|\.swp$/.test(name)) return;
    clearTimeout(timer);
    timer = setTimeout(() => { say(`${name || "web/"} changed: rebuilding`); build(); }, 150);
  });
  const stop = () => { watcher.close(); server.close(); process.exit(0); };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, stop);
}

main().catch((e) => die(e.stack || e.message));
