// The Espruino globals sprat's app and server touch, defined on Kaluma where it lacks them.
// Imported first by src/runtime/kaluma.ts, so it runs before any module body that reads
// them (rollup orders a module's imports before it; http.ts imports the binding first).
// Only what is used (docs/runtimes.md, "Globals"): no `print`, no Storage, no crypto.
//
// E gets getTemperature and reboot only. The library reaches Espruino's natives (E.toUint8Array,
// E.CRC32, E.fromUTF8, E.isUTF8, E.sum and friends) only behind `typeof E` tests, which Kaluma
// builds fold to "undefined" (tools/build-lib.mjs typeofEPlugin): the JS paths, what Kaluma
// needs. The WebSocket handshake uses the JS SHA-1 (profiles set nativeSha1: false) and btoa.
declare function analogRead(pin: any): number;

var g: any = global;

if (typeof E == "undefined") g.E = {
  // The RP2040's sensor is ADC input 4, which Kaluma's analogRead reaches as pin 30 (0..1 of
  // 3.3 V; targets/rp2/src/adc.c). RP2040 datasheet §4.9.5: T = 27 - (V - 0.706) / 0.001721.
  getTemperature: function () {
    try { return 27 - (analogRead(30) * 3.3 - 0.706) / 0.001721; } catch (e) { return NaN; }
  },
  // Kaluma's JS API has no reset: a 1 ms watchdog that nobody feeds (src/modules/wdt).
  reboot: function () {
    var W = require("wdt").WDT;
    return new W(1);
  }
};

// process.memoryUsage() is JerryScript's heap in bytes (src/global.c); sprat's app reads
// process.memory() as Espruino gives it (usage/total in JsVars; here in bytes).
// (Kaluma 1.2.x always has memoryUsage: global.c, docs/runtimes.md)
if (!process.memory) process.memory = function () {
  var m = process.memoryUsage();
  return { usage: m.heapUsed, total: m.heapTotal, free: m.heapTotal - m.heapUsed };
};
if (!process.env) process.env = { VERSION: "kaluma " + process.version, BOARD: g.board && g.board.name };
if (typeof getTime == "undefined") g.getTime = function () { return Date.now() / 1000; };
