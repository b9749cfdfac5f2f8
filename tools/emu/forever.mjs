// What both emulator CLIs do once the device code runs: stay up like a board (a timer keeps
// node's event loop alive), and on SIGINT/SIGTERM stop the emulator (its sockets and timers)
// and exit 0. Returns stopping(): true once a signal came.
export function runUntilSignal(stop) {
  const keepAlive = setInterval(() => {}, 1 << 30);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(keepAlive);
    await stop();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  return () => stopping;
}
