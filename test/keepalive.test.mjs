// keepAliveMax: a response whose body needs more than one TCP segment closes the connection
// (Nagle + delayed ACK would stall it on a reused one); small ones keep it. The shipped
// profiles' default (536) on each runtime.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { runtimes, writeStorage } from "../tools/runtimes.mjs";
import { loadProfile } from "../tools/profiles.mjs";
import { buildWeb } from "../tools/build-web.mjs";

function exchange(port, req) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, "127.0.0.1"), chunks = [];
    c.on("data", (d) => chunks.push(d));
    c.on("error", reject);
    // wait for the server to close, or give up keeping it open after 600 ms
    const t = setTimeout(() => { c.destroy(); resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: false }); }, 600);
    c.on("close", () => { clearTimeout(t); resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: true }); });
    c.write(req);
  });
}

for (const rt of runtimes().missing) test(`keepAliveMax (${rt.name})`, { skip: rt.skipReason }, () => {});
for (const rt of runtimes()) {
  test(`keepAliveMax (${rt.name}): big responses close the connection, small ones keep it`, async (t) => {
    const p = loadProfile(`board-profiles/${rt.profile}.json`).values;
    assert.equal(p.keepAliveMax, 536);
    await buildWeb({ out: `build/test-keepalive-${rt.name}.zip`, stage: `build/test-keepalive-${rt.name}`, quiet: true });
    const { readFileSync } = await import("node:fs");
    const h = await rt.start({ bundle: `build/${rt.profile}/app.min.js`, storage: { [p.webFile]: readFileSync(`build/test-keepalive-${rt.name}.zip`) }, flashSize: p.storageSize > 262144 && rt.name == "emulator" ? p.storageSize : undefined, pageSize: rt.name == "emulator" ? p.storagePage : undefined });
    t.after(() => h.stop());
    const big = await exchange(h.port, "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: deflate\r\n\r\n");
    assert.match(big.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(big.text, /\r\nConnection: close\r\n/);
    assert.ok(+/Content-Length: (\d+)/.exec(big.text)[1] > 536);
    assert.equal(big.closed, true);
    const small = await exchange(h.port, "GET /api/control.get HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(small.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(small.text, /Connection: close/);
    assert.equal(small.closed, false);
  });
}
