// The core self-test: replays test/vectors/*.json against src/core on whatever engine runs
// this bundle (Espruino, the emulator, JerryScript, Duktape). Built by tools/core-selftest.mjs;
// prints "selftest: N passed, M failed", then the failures.
/// <reference path="./vectors.d.ts" />
import vectors from "sprat:vectors";
import { replayAll } from "./replay";

var out = typeof print != "undefined" ? print : function (s: string) { console.log(s); };
// A runner may define SELFTEST_VERBOSE to see each vector's name before it runs, and
// SELFTEST_VECTORS to replay other vectors than the baked-in ones (the Node test checks
// that broken vectors are reported).
declare var SELFTEST_VERBOSE: any;
declare var SELFTEST_VECTORS: any;
var res = replayAll(typeof SELFTEST_VECTORS != "undefined" ? SELFTEST_VECTORS : vectors,
  typeof SELFTEST_VERBOSE != "undefined" && SELFTEST_VERBOSE ? out : undefined), i = 0;
out("selftest: " + res.passed + " passed, " + res.failed + " failed");
for (; i < res.failures.length && i < 50; i++) out("FAIL " + res.failures[i]);
if (res.failures.length > 50) out("... and " + (res.failures.length - 50) + " more");
