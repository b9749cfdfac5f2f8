// Network bring-up per board profile: up(cb) calls cb() once the board can serve. The
// profile's `network` is a constant baked in by the build, so terser drops every branch but
// the board's own (and on "none" boards, all of this).
//
// Once up, it prints "sprat: ip <address>" (tools/upload.mjs waits for that line). Wifi
// credentials are the Storage file wifi.json, {"ssid": ..., "password": ...}, written by
// `npm run upload -- --wifi-ssid X --wifi-password Y` or by the /setup page: never in the
// bundle or the repository. Without working credentials the board opens the access point
// "sprat-setup" (open, no password: first setup only) serving /setup.
import * as P from "sprat:profile";
import { store, routes, reply, fail } from "../server/index";
import { pct } from "../core/http";

declare var SPI2: any, B10: any, B13: any, B14: any, B15: any;
declare var __netdev: any;

export var WIFI = "wifi.json", AP = "sprat-setup";

function say(ip: string) { console.log("sprat: ip " + ip); }

/** {ssid, password} from wifi.json, or null. */
export function creds(): any {
  var c: any = store.read(WIFI);
  try { c = c && JSON.parse(c); } catch (e) { c = 0; }
  return c && typeof c.ssid == "string" && c.ssid ? c : null;
}

// ---- first setup: the access point's /setup page ------------------------------------------
var FORM = "<!doctype html><meta name=viewport content=\"width=device-width\"><title>sprat setup</title>" +
  "<h1>Wifi for this device</h1><form method=post action=/setup><p><label>Network <input name=ssid required maxlength=32></label>" +
  "<p><label>Password <input name=password type=password maxlength=64></label><p><button>Save and restart</button></form>";

/** One field of an application/x-www-form-urlencoded body ("" if absent, null if malformed). */
export function field(b: string, k: string): string | null {
  var a = ("&" + b).split("&" + k + "="), v: string;
  if (a.length < 2) return "";
  v = a[1];
  if (v.indexOf("&") >= 0) v = v.substr(0, v.indexOf("&"));
  return pct(v.split("+").join(" "));
}

function save(s: any, d: string, end: boolean) {
  var ssid: any, pw: any;
  s._b += d;
  if (!end) return;
  ssid = field(s._b, "ssid");
  pw = field(s._b, "password");
  if (!ssid || pw === null || ssid.length > 32 || pw.length > 64) return fail(s, 400, "a network name (1 to 32 bytes) and a password (at most 64)");
  store.write(WIFI, JSON.stringify({ ssid: ssid, password: pw }));
  reply(s, 200, "text/html; charset=utf-8", "<!doctype html><title>sprat setup</title><p>Saved. The device restarts and joins " +
    "the network; find its address on your router, or with <code>npm run upload</code>'s output.");
  // E.reboot(): "as close as possible to if the reset pin had been toggled" (espruino.com/Reference#l_E_reboot);
  // at boot .bootcde runs again and up() finds wifi.json
  setTimeout(function () { E.reboot(); }, 500);
}

/** GET /setup: the form; POST /setup: save wifi.json, reboot. Only while the access point is up. */
export function setupRoute(s: any, q: any): any {
  if (q.p != "/setup") return false;
  var o = q.h.origin;
  if (o && o.substr(o.indexOf("://") + 3) != q.h.host) return fail(s, 403, "origin not allowed");
  if (q.m == "GET" || q.m == "HEAD") return reply(s, 200, "text/html; charset=utf-8", FORM);
  if (q.m != "POST") return fail(s, 405, "", "Allow: GET, POST\r\n");
  if (q.n > P.maxBody) return fail(s, 413, "at most " + P.maxBody + " bytes");
  s._b = "";
  s._y = save;
  if (!q.n) save(s, "", true);
  return 1;
}

/**
 * Joins the network in wifi.json; without it (or if joining fails or takes over 30 s) opens
 * the setup access point. Either way cb() then starts the server.
 * ESP32/ESP8266: require("Wifi") (espruino.com/Reference#Wifi: connect(ssid, {password},
 * cb(err)), getIP(cb(err, {ip})), startAP(ssid, {authMode}, cb(err))). Espruino WiFi: the
 * EspruinoWiFi module built into its firmware, same calls (espruino.com/WiFi).
 */
function wifi(cb: () => void) {
  var w = require(P.network == "wifi" ? "Wifi" : "EspruinoWiFi"), c = creds(), t: any, done = 0;
  function ap(why: string) {
    if (done++) return;
    if (t) clearTimeout(t);
    console.log("sprat: " + why);
    routes.unshift(setupRoute);
    w.startAP(AP, { authMode: "open" }, function (e: any) {
      if (e) console.log("sprat: network failed: access point: " + e);
      // the ESP32/ESP8266 access point's address is 192.168.4.1 unless setAPIP() changed it
      else console.log("sprat: setup access point " + AP + ": join it and open http://192.168.4.1/setup");
      cb();
    });
  }
  if (!c) return ap("no wifi.json");
  t = setTimeout(function () { t = 0; ap("no connection to " + c.ssid + " within 30 s"); }, 30000);
  w.connect(c.ssid, { password: c.password }, function (e: any) {
    if (done) return;
    if (e) return ap("cannot join " + c.ssid + ": " + e);
    done = 1;
    clearTimeout(t);
    w.getIP(function (e2: any, i: any) { say(i && i.ip || "unknown"); });
    cb();
  });
}

/**
 * Espruino Pico + WIZnet W5500 (the "_wiznet" firmware), wired as in espruino.com/WIZnet:
 * SPI2 (SCK B13, MISO B14, MOSI B15), CS B10. setIP() without options runs DHCP.
 */
function wiznet(cb: () => void) {
  SPI2.setup({ mosi: B15, miso: B14, sck: B13 });
  var eth = require("WIZnet").connect(SPI2, B10);
  if (!eth.setIP()) console.log("sprat: network failed: no DHCP lease (is the cable in?)");
  else say(eth.getIP().ip);
  cb();
}

/**
 * Raspberry Pi Pico W on Kaluma: require("wifi").WiFi (src/modules/wifi/wifi.js in
 * kaluma-project/kaluma): connect({ssid, password, enforce}, cb(err)) blocks until joined (at
 * most 30 s); without wifi.json it takes the credentials Kaluma keeps in its `storage`
 * (WIFI_SSID, WIFI_PASSWORD). wifiApMode({ssid, password, gateway}, cb(err)): Kaluma's access
 * point is always WPA2, with a password of at least 8 characters (module_pico_cyw43.c), so the
 * setup network's password is its name. The address is the net device's `ip` once the
 * server's socket exists. docs/runtimes.md.
 */
function kwifi(cb: () => void) {
  var W = require("wifi").WiFi, w = new W(), c = creds();
  w.connect(c ? { ssid: c.ssid, password: c.password, enforce: true } : { enforce: true }, function (e: any) {
    if (!e) {
      cb();
      return say(__netdev.ip || "unknown");
    }
    console.log("sprat: " + (c ? "cannot join " + c.ssid + ": " + (e.message || e) : "no wifi.json"));
    routes.unshift(setupRoute);
    w.wifiApMode({ ssid: AP, password: AP, gateway: "192.168.4.1" }, function (e2: any) {
      if (e2) console.log("sprat: network failed: access point: " + (e2.message || e2));
      else console.log("sprat: setup access point " + AP + " (password " + AP + "): join it and open http://192.168.4.1/setup");
      cb();
    });
  });
}

/** Brings the profile's network up, then calls cb(). "none": at once. */
export function up(cb: () => void) {
  if (P.network == "wifi" || P.network == "espruino-wifi") wifi(cb);
  else if (P.network == "wiznet") wiznet(cb);
  else if (P.network == "kaluma-wifi") kwifi(cb);
  else cb();
}
