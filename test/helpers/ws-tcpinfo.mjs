// The kernel's view of a loopback TCP connection (Linux /proc/net/tcp), for the slow-client
// test in test/ws.test.mjs: how many bytes sit in the socket buffers, and whether the
// server's side is still ESTABLISHED.
//
//   tcpInfo(localPort, remotePort) → { state, tx, rx } for the IPv4 socket bound to
//     127.0.0.1:localPort and connected to 127.0.0.1:remotePort, or null if there is none.
//     state: "ESTABLISHED", "FIN_WAIT1", "CLOSE_WAIT", ... tx/rx: bytes in its send queue
//     (unacknowledged) and receive queue (unread).
//   canReadProcTcp() → false where /proc/net/tcp does not exist
import fs from "node:fs";

const STATES = ["", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"];
const hexPort = (p) => p.toString(16).toUpperCase().padStart(4, "0");

export function canReadProcTcp() {
  try { fs.accessSync("/proc/net/tcp", fs.constants.R_OK); return true; } catch { return false; }
}

export function tcpInfo(localPort, remotePort) {
  const local = `0100007F:${hexPort(localPort)}`, remote = `0100007F:${hexPort(remotePort)}`;
  for (const line of fs.readFileSync("/proc/net/tcp", "latin1").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || f[1] !== local || f[2] !== remote) continue;
    const [tx, rx] = f[4].split(":").map((x) => parseInt(x, 16));
    return { state: STATES[parseInt(f[3], 16)] || f[3], tx, rx };
  }
  return null;
}
