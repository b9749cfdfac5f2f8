// test/ws.test.mjs, the WebSocket conformance suite, on the Kaluma emulator (kaluma-emu) in
// its own process: node's --test-timeout is per file, and the suite on two runtimes comes close.
// Run: node --test test/ws-kaluma.test.mjs
globalThis.SPRAT_WS_RUNTIME = "kaluma-emu";
await import("./ws.test.mjs");
