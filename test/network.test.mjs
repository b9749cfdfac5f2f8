// src/runtime/network.ts on a Wifi profile (esp32), in the emulator with a stand-in for the
// firmware's Wifi module: joining with wifi.json, the setup access point and its /setup
// page when there are no (working) credentials. Real boards: docs/deploy.md.
// Run: node --test test/network.test.mjs
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmulator, readStorage } from "../tools/runtimes.mjs";
import { ensureBundle } from "../tools/deploy-lib.mjs";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-net-test-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const GEO = { flashSize: 262144, pageSize: 4096 };

// The ESP32's require("Wifi") as far as network.ts uses it (espruino.com/Reference#Wifi),
// and E.reboot, recorded on the console.
const fake = (join) => `var _req=require;var FAKEWIFI={
connect:function(s,o,cb){print("FAKE connect "+s+" / "+o.password);setTimeout(function(){cb(${join ? "null" : '"auth failed"'})},20)},
getIP:function(cb){setTimeout(function(){cb(null,{ip:"10.9.8.7"})},5)},
startAP:function(s,o,cb){print("FAKE startAP "+s+" "+o.authMode);setTimeout(function(){cb(null)},5)}};
require=function(n){return n=="Wifi"?FAKEWIFI:_req(n)};E.reboot=function(){print("FAKE reboot")};\n`;

async function boot(name, { join = true, wifi } = {}) {
  const bundle = fs.readFileSync(ensureBundle("esp32"));
  const flash = path.join(tmp, name + ".flash");
  return startEmulator({ code: Buffer.concat([Buffer.from(fake(join)), bundle]), flash, ...GEO, storage: wifi ? { "wifi.json": JSON.stringify(wifi) } : undefined });
}

test("wifi: joins the network in wifi.json and reports its address", async (t) => {
  const rt = await boot("join", { wifi: { ssid: "Home Net", password: "s3cret" } });
  t.after(() => rt.stop());
  await rt.waitFor("FAKE connect Home Net / s3cret");
  await rt.waitFor("sprat: ip 10.9.8.7");
  assert.doesNotMatch(rt.output(), /startAP/);
  const r = await fetch(`http://127.0.0.1:${rt.port}/setup`);
  assert.doesNotMatch(await r.text(), /Wifi for this device/, "no setup page outside setup mode");
  assert.equal((await fetch(`http://127.0.0.1:${rt.port}/api/status`).then((x) => x.json())).profile, "esp32");
});

test("wifi: without wifi.json, the setup access point and /setup save credentials, then reboot", async (t) => {
  const rt = await boot("setup");
  t.after(() => rt.stop());
  await rt.waitFor("sprat: no wifi.json");
  await rt.waitFor("FAKE startAP sprat-setup open");
  await rt.waitFor(/sprat: setup access point sprat-setup: join it and open http:\/\/192\.168\.4\.1\/setup/);
  const base = `http://127.0.0.1:${rt.port}`;
  const form = await fetch(base + "/setup");
  assert.equal(form.status, 200);
  assert.match(await form.text(), /<form method=post action=\/setup>[\s\S]*name=ssid[\s\S]*name=password/);
  const bad = await fetch(base + "/setup", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "password=x" });
  assert.equal(bad.status, 400, "a network name is required");
  const evil = await fetch(base + "/setup", { method: "POST", headers: { origin: "http://evil.example" }, body: "ssid=x&password=y" });
  assert.equal(evil.status, 403, "only the page itself may post");
  const ok = await fetch(base + "/setup", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "ssid=Caf%C3%A9+Wifi&password=p%40ss+w%26rd" });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /Saved/);
  await rt.waitFor("FAKE reboot");
  await rt.stop();
  const saved = JSON.parse((await readStorage(rt.flash, "wifi.json", GEO)).toString("latin1"));
  assert.deepEqual(saved, { ssid: "Caf\u00c3\u00a9 Wifi", password: "p@ss w&rd" }, "stored as the browser's UTF-8 bytes, decoded from the form");
});

test("wifi: a refused join falls back to the setup access point", async (t) => {
  const rt = await boot("refused", { join: false, wifi: { ssid: "Home", password: "wrong" } });
  t.after(() => rt.stop());
  await rt.waitFor("sprat: cannot join Home: auth failed");
  await rt.waitFor("FAKE startAP sprat-setup open");
  assert.equal((await fetch(`http://127.0.0.1:${rt.port}/setup`)).status, 200);
});
