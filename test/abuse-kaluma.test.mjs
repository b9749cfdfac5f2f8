// test/abuse.test.mjs's per-runtime tests (slow clients, floods, fuzz over the socket, soak,
// Storage faults) on the Kaluma emulator (kaluma-emu) in their own process: node's
// --test-timeout is per file, and three runtimes' worth in one file comes close to it.
// Run: node --import tsx --test test/abuse-kaluma.test.mjs
globalThis.SPRAT_ABUSE_RUNTIME = "kaluma-emu";
await import("./abuse.test.mjs");
