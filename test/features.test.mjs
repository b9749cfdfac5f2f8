// Profile features ota and auth (tools/profiles.mjs): off, their code is not in the bundle
// and their routes and methods are gone; the rest of the server is unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { rollup } from "rollup";
import { runtimes, ROOT } from "../tools/runtimes.mjs";
import { loadProfile } from "../tools/profiles.mjs";
import { bundleConfig } from "../tools/build-lib.mjs";
import { buildWeb } from "../tools/build-web.mjs";

async function build(rt, features) {
  const p = loadProfile(path.join(ROOT, `board-profiles/${rt.profile}.json`));
  const outDir = `build/test-features-${rt.name}-off`;
  const cfg = bundleConfig({ ...p, values: { ...p.values, ...features } }, { outDir, quiet: true });
  const b = await rollup(cfg);
  try { await b.write(cfg.output); } finally { await b.close(); }
  return { file: path.join(ROOT, outDir, "app.min.js"), values: p.values };
}

async function call(port, method, p, body, headers = {}) {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, { method, body, headers: { Origin: `http://127.0.0.1:${port}`, ...headers } });
  return { status: r.status, text: await r.text() };
}

for (const rt of runtimes().missing) test(`features ota/auth off (${rt.name})`, { skip: rt.skipReason }, () => {});
for (const rt of runtimes()) {
  test(`features ota/auth off (${rt.name}): smaller bundle, no update or login routes, the rest serves`, async (t) => {
    // the full bundle is the profile's own build (npm test builds every profile first)
    const off = await build(rt, { ota: false, auth: false });
    const a = fs.readFileSync(off.file, "latin1"), b = fs.readFileSync(path.join(ROOT, `build/${rt.profile}/app.min.js`), "latin1");
    assert.ok(a.length < b.length - 3000, `off ${a.length} B vs on ${b.length} B`);
    for (const s of ["auth.login", "web.info", "/api/web"]) {
      assert.ok(b.includes(s), `${s} in the full bundle`);
      assert.ok(!a.includes(s), `${s} left out`);
    }
    const zip = `build/test-features-${rt.name}.zip`;
    await buildWeb({ out: zip, stage: `build/test-features-${rt.name}`, quiet: true });
    const v = off.values;
    const h = await rt.start({ bundle: off.file, storage: { [v.webFile]: fs.readFileSync(zip) }, ...(rt.name == "emulator" ? { flashSize: v.storageSize, pageSize: v.storagePage } : {}) });
    t.after(() => h.stop());
    // PUT /api/web falls through to the REST mirror, which only takes GET and POST
    const put = await call(h.port, "PUT", "/api/web", "x", { "X-Sprat-Size": "1", "X-Sprat-CRC32": "8cdc1683" });
    assert.equal(put.status, 405, put.text);
    for (const m of ["web.info", "auth.login"]) {
      const r = await call(h.port, "POST", "/api/" + m, "{}", { "Content-Type": "application/json" });
      assert.equal(r.status, 404, r.text);
      assert.equal(JSON.parse(r.text).error.code, -32601);
    }
    // a preflight offers what the build serves: no PUT (upload), no Authorization (password)
    const pre = await fetch(`http://127.0.0.1:${h.port}/api/control.set`, { method: "OPTIONS", headers: { Origin: `http://127.0.0.1:${h.port}`, "Access-Control-Request-Method": "POST" } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-methods"), "GET, POST");
    assert.equal(pre.headers.get("access-control-allow-headers"), "Content-Type");
    // state-changing calls are open: there is no password to check
    const set = await call(h.port, "POST", "/api/control.set", JSON.stringify({ led: true }), { "Content-Type": "application/json" });
    assert.equal(set.status, 200, set.text);
    const page = await call(h.port, "GET", "/");
    assert.equal(page.status, 200);
    assert.match(page.text, /<html/i);
  });
}
