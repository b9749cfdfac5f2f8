// The example device app: the dashboard's methods and topics (docs/protocol.md).
import * as P from "sprat:profile";
import { start, store, method, rpcError, publish, clients, onClient, onWeb, save } from "../server/index";
import * as network from "../runtime/network";

var T0 = Date.now(), SETTINGS = "sprat.json";
var state = { led: false, level: 40 };
var settings: any, logs: any[] = [];

function log(level: string, msg: string) {
  var e = { t: up(), level: level, msg: msg };
  logs.push(e);
  if (logs.length > 20) logs.shift();
  publish("log", e);
}

function up() { return Math.round((Date.now() - T0) / 100) / 10; }

// Settings schema: each check returns an error message or "".
var CHECKS: { [k: string]: (v: any) => string } = {
  name: function (v: any) { return typeof v == "string" && v.length > 0 && v.length <= 32 ? "" : "1 to 32 bytes of text"; },
  telemetryMs: function (v: any) { return typeof v == "number" && v >= 50 && v <= 60000 && v == Math.round(v) ? "" : "a whole number of ms from 50 to 60000"; }
};

function defaults() { return { name: P.deviceName, telemetryMs: P.telemetryMs }; }

function validate(p: any, base: any) {
  var out: any = {}, errs: any = 0, k: string;
  for (k in base) out[k] = base[k];
  if (!p || typeof p != "object" || Array.isArray(p)) throw rpcError(-32602, "invalid params", { "": "an object of settings" });
  for (k in p) {
    var e = CHECKS.hasOwnProperty(k) ? CHECKS[k](p[k]) : "unknown setting";
    if (e) (errs || (errs = {}))[k] = e;
    else out[k] = p[k];
  }
  if (errs) throw rpcError(-32602, "invalid params", errs);
  return out;
}

function load() {
  settings = defaults();
  var raw = store.read(SETTINGS);
  if (raw === undefined) return;
  try { settings = validate(JSON.parse(raw), settings); }
  catch (e) { settings = defaults(); log("error", "settings file is corrupt; using defaults"); }
}

function apply() {
  if (P.ledPin) {
    var pin: any = (global as any)[P.ledPin];
    if (state.led) analogWrite(pin, state.level / 100); else digitalWrite(pin, 0);
  }
}

var timer: any;
function tick() {
  var m = process.memory(false), t = up(), temp = E.getTemperature();
  publish("telemetry", {
    t: t,
    temp: temp === temp ? Math.round(temp * 10) / 10 : Math.round((36 + 2 * Math.sin(t / 5) + Math.random() * 0.3) * 10) / 10,
    load: P.analogPin ? Math.round(analogRead((global as any)[P.analogPin]) * 100) : Math.round(50 + 30 * Math.sin(t / 3) + Math.random() * 10),
    mem: m.usage
  });
}
function schedule() {
  if (timer) clearInterval(timer);
  timer = setInterval(tick, settings.telemetryMs);
}

method("status", function () {
  var m = process.memory(false), w: any = null;
  return {
    name: settings.name, profile: P.profileName, version: process.env.VERSION, uptime: up(),
    mem: { used: m.usage, total: m.total }, flash: { free: store.getFree(), total: P.storageSize },
    net: w, clients: clients()
  };
}, true);

// JsVars in use after a garbage collection (status's mem.used skips it: cheaper, noisier)
method("mem", function () { return process.memory().usage; }, true);

method("control.get", function () { return state; }, true);
method("control.set", function (p: any) {
  if (!p || typeof p != "object" || p.led !== undefined && typeof p.led != "boolean" ||
    p.level !== undefined && !(typeof p.level == "number" && p.level >= 0 && p.level <= 100))
    throw rpcError(-32602, "invalid params", { level: "0 to 100", led: "true or false" });
  if (p.led !== undefined) state.led = p.led;
  if (p.level !== undefined) state.level = Math.round(p.level);
  apply();
  publish("control", state);
  return state;
});

method("settings.get", function () { return settings; }, true);
method("settings.set", function (p: any) {
  var next = validate(p, settings);
  save(SETTINGS, JSON.stringify(next)); // Storage full: error -32004, old settings kept (in RAM and flash)
  settings = next;
  schedule();
  log("info", "settings saved");
  publish("settings", settings);
  return settings;
});

method("log.get", function () { return logs; }, true);

onWeb(log); // web-app updates and roll-backs (docs/ota.md)
onClient(function () { log("info", "client connected (" + clients() + " now)"); },
  function () { log("info", "client left (" + clients() + " now)"); });

load();
apply();
schedule();
network.up(start); // the profile's network first (src/runtime/network.ts)
log("info", "sprat started on " + P.profileName);
console.log("sprat (" + P.profileName + ") listening on port " + (typeof SPRAT_PORT == "number" ? SPRAT_PORT : P.port));
