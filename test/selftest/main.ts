// The core self-test: replays test/vectors/*.json against src/core on whatever engine runs
// this bundle (Espruino, the emulator, JerryScript, Duktape). Built by tools/core-selftest.mjs;
// prints "selftest: N passed, M failed", then the failures.
/// <reference path="./vectors.d.ts" />
import vectors from "sprat:vectors";
import { replayAll } from "./replay";

var out = typeof print != "undefined" ? print : function (s: string) { console.log(s); };
var res = replayAll(vectors), i = 0;
out("selftest: " + res.passed + " passed, " + res.failed + " failed");
for (; i < res.failures.length && i < 50; i++) out("FAIL " + res.failures[i]);
if (res.failures.length > 50) out("... and " + (res.failures.length - 50) + " more");
