// The Pico W's network and Wifi devices as Kaluma 1.2.1 exposes them to JavaScript
// (src/modules/pico_cyw43/module_pico_cyw43.c: PicoCYW43Network = global.__netdev,
// PicoCYW43WIFI = global.__ieee80211dev), over host TCP on 127.0.0.1. lwIP's behaviour
// (pico_cyw43_arch_lwip_poll, src/modules/pico_cyw43/lwipopts.h) is modelled as far as the
// driver exposes it:
//
//  - 16 socket slots (KM_MAX_SOCKET_NO), the listener included; a connection is given the
//    lowest free slot (km_get_socket_fd), so a closed connection's fd is soon someone else's.
//    With none free the accept callback fails and lwIP aborts the connection (host: destroy).
//  - Received data: one read_cb(Uint8Array) call per lwIP pbuf chain, here per TCP_MSS
//    (1460) bytes, acknowledged at once (tcp_recved): the driver applies no backpressure.
//    The callback is looked up on the LISTENING socket's object when the connection has a
//    listener (`read_fd = server_fd`): that is routing "shipped". Routing "socket" (the
//    default here) uses the connection's own object when it has a read_cb, else the
//    listener's: what the firmware needs to serve two connections at once (docs/runtimes.md).
//  - A peer's FIN closes the socket completely (__net_socket_close: tcp_close, slot freed,
//    the connection object's close_cb called). A peer's RST is not reported at all
//    (tcp_err is NULL): the slot stays "connected", writes fail with errno -1 here (on the
//    board they touch a pcb lwIP has freed).
//  - write(fd, string, cb): chars 0-255 are single bytes (jerryxx_string_to_ascii_char_buffer;
//    other chars become 0). tcp_write copies into lwIP's send buffer, TCP_SND_BUF = 8 * 1460
//    bytes, or fails with ERR_MEM (errno -1, nothing written) when that is full. Here the
//    buffer empties into the host socket while Node accepts more (a stalled client shows once
//    the kernel's buffers are full) and at most opts.linkRate bytes per poll (default: no
//    limit; tests set a slow link). cb(errno) is called before write() returns.
//  - shutdown(fd, 1) sends FIN; close(fd) is tcp_close (FIN after queued data; later input
//    gets a RST). Both call back synchronously.
//  - Exceptions thrown by JavaScript callbacks the driver calls are discarded by it
//    (jerry_call's result is released unchecked); here they are also logged as
//    "Uncaught (discarded by the driver) ...", so tests notice them.
import net from "node:net";

export const CYW43 = { sockets: 16, mss: 1460, sndBuf: 8 * 1460 };
const CLOSED = 0, BIND = 1, CONNECTED = 2, LISTENING = 3;

export function createCyw43(rt) {
  const { opts, realm, loop } = rt;
  const { api, obj, u8 } = realm;
  const slots = Array.from({ length: CYW43.sockets }, () => ({ fd: -1 }));
  const wifiState = { up: false, ap: false, ssid: "", gateway: "192.168.4.1" };
  const valid = (fd) => Number.isInteger(fd) && fd >= 0 && fd < CYW43.sockets;
  const sysErr = (errno) => new rt.global.SystemError(errno);

  /** Calls a JS callback as the driver does: this = undefined, exceptions discarded (logged). */
  function call(fn, args = []) {
    if (typeof fn !== "function") return;
    try { Reflect.apply(fn, undefined, args); }
    catch (e) {
      rt.errors.push(e);
      let t;
      try { t = String(e); } catch { t = "?"; }
      rt.log("Uncaught (discarded by the driver) " + t);
    }
  }
  function freeFd() {
    for (let i = 0; i < CYW43.sockets; i++) if (slots[i].fd !== i) { slots[i].fd = i; return i; }
    return -1;
  }

  // ---- host connections --------------------------------------------------------------------
  // lwIP's send buffer per connection: tcp_write copies into it (or fails with ERR_MEM when
  // TCP_SND_BUF bytes are waiting); each poll moves bytes on to the host socket while Node
  // does not ask to wait ('drain'), at most opts.linkRate bytes per poll (a slow link), and
  // the FIN of a shutdown or close goes after them.
  const conns = new Set();
  class Conn {
    constructor(sock) {
      this.sock = sock; this.rx = []; this.eof = false; this.freed = false; this.rxClosed = false; this.txShut = false;
      this.unsent = []; this.unsentLen = 0; this.fin = false;
      sock.setNoDelay(true);
      sock.on("data", (b) => {
        if (this.rxClosed && this.fin) { sock.resetAndDestroy(); this.freed = true; return; } // input after tcp_close: RST
        this.rx.push(b);
        loop.wake();
      });
      sock.on("end", () => { this.eof = true; loop.wake(); });
      sock.on("error", () => { this.freed = true; loop.wake(); });
      sock.on("close", () => { if (!this.eof) this.freed = true; conns.delete(this); rt.hostSockets.delete(sock); loop.wake(); });
      sock.on("drain", () => loop.wake());
      rt.hostSockets.add(sock);
      conns.add(this);
    }
    room() { return CYW43.sndBuf - this.unsentLen; }
    send(b) { this.unsent.push(b); this.unsentLen += b.length; }
    /** Moves buffered bytes to the host socket; true if it did something. */
    pump() {
      let busy = false, budget = opts.linkRate;
      while (this.unsentLen && budget > 0 && !this.sock.destroyed && !this.sock.writableNeedDrain) {
        let b = this.unsent[0];
        if (b.length > budget) { this.unsent[0] = b.subarray(budget); b = b.subarray(0, budget); } else this.unsent.shift();
        this.unsentLen -= b.length;
        budget -= b.length;
        this.sock.write(b);
        busy = true;
      }
      if (this.fin && !this.unsentLen && !this.ended) {
        this.ended = true;
        if (!this.sock.destroyed) this.sock.end(() => { if (this.rxClosed) this.sock.destroy(); });
      }
      return busy || (this.unsentLen > 0 && !this.sock.writableNeedDrain);
    }
    shutdownTx() { this.txShut = this.fin = true; }
    close() { this.rxClosed = this.txShut = this.fin = true; }
  }

  /** __net_socket_close: the slot is free at once, then the connection object's close_cb. */
  function socketClose(fd) {
    const s = slots[fd];
    s.state = CLOSED;
    s.fd = -1;
    s.serverFd = -1;
    if (s.server) { s.server.close(); s.server = null; }
    if (s.conn) { s.conn.close(); s.conn = null; loop.wake(); }
    const o = s.obj;
    s.obj = null;
    if (o) call(o.close_cb);
  }

  // ---- PicoCYW43Network --------------------------------------------------------------------
  const netdev = obj({ errno: 0, mac: "28:CD:C1:00:00:01", ip: "0.0.0.0" });
  const setErr = (e) => { netdev.errno = e; return e; };
  const cb = (f, errno) => { if (f !== undefined) call(f, [errno]); };
  const methods = {
    socket(domain, protocol) {
      if (typeof domain !== "string" || typeof protocol !== "string") throw new TypeError("domain and protocol must be strings");
      if (protocol !== "STREAM" && protocol !== "DGRAM") throw new TypeError("un-supported domain or protocol.");
      if (!wifiState.up && !wifiState.ap) throw new Error("WiFi is not connected.");
      if (protocol !== "STREAM") throw new Error("UDP sockets are not emulated");
      const fd = freeFd();
      if (fd < 0) throw sysErr(-121); // EREMOTEIO
      const ip = wifiState.ap ? wifiState.gateway : opts.ip;
      Object.assign(slots[fd], { serverFd: -1, state: CLOSED, lport: 0, server: null, conn: null, pending: [],
        obj: obj({ fd, ptcl: "STREAM", state: CLOSED, laddr: ip, lport: 0, raddr: "0.0.0.0", rport: 0 }) });
      netdev.ip = ip;
      return fd;
    },
    get(fd) {
      if (!valid(fd) || !valid(slots[fd].fd)) return undefined;
      return slots[fd].obj || undefined;
    },
    bind(fd, addr, port, f) {
      const s = valid(fd) ? slots[fd] : null;
      if (s && s.fd === fd && s.state === CLOSED) {
        s.lport = port | 0;
        s.obj.laddr = String(addr);
        s.obj.lport = s.lport;
        s.state = s.obj.state = BIND;
        setErr(0);
      } else setErr(-1);
      cb(f, netdev.errno);
    },
    listen(fd, f) {
      const s = valid(fd) ? slots[fd] : null;
      if (s && s.fd === fd && s.state === BIND) {
        const server = net.createServer({ allowHalfOpen: true });
        s.server = server;
        server.on("connection", (sock) => { s.pending.push(sock); loop.wake(); });
        server.on("error", (e) => rt.log(`[kaluma-emu] cannot listen on port ${s.lport}: ${e.message}`));
        const actual = opts.port ? opts.port(s.lport) : s.lport;
        server.listen(actual, opts.host, () => opts.onListen && opts.onListen(s.lport, server.address().port));
        s.state = s.obj.state = LISTENING;
        setErr(0);
      } else setErr(-1);
      cb(f, netdev.errno);
    },
    write(fd, data, f) {
      if (typeof fd !== "number") throw new TypeError('"fd" argument must be number');
      if (typeof data !== "string") throw new TypeError('"data" argument must be string');
      const s = valid(fd) ? slots[fd] : null;
      let errno = -1;
      if (s && s.state >= CONNECTED && s.conn && !s.conn.freed && !s.conn.txShut) {
        const b = Buffer.alloc(data.length);
        let wide = false;
        for (let i = 0; i < data.length; i++) { const c = data.charCodeAt(i); if (c > 255) wide = true; else b[i] = c; }
        if (wide) rt.warn("char > 255 written to a socket: the driver sends 0 for it");
        if (b.length <= s.conn.room()) { // else ERR_MEM
          s.conn.send(b);
          rt.stats.tx += b.length;
          errno = 0;
          loop.wake();
        } else rt.stats.errMem++;
      }
      setErr(errno);
      cb(f, errno);
    },
    close(fd, f) {
      if (valid(fd) && (slots[fd].state !== CLOSED || slots[fd].obj)) socketClose(fd);
      setErr(0);
      cb(f, 0);
    },
    shutdown(fd, how, f) {
      if (!valid(fd)) { setErr(-1); return cb(f, -1); }
      const s = slots[fd];
      if (s.conn) {
        if (how !== 0) s.conn.shutdownTx();
        if (how !== 1) s.conn.rxClosed = true;
        loop.wake();
      }
      setErr(0);
      if (s.obj) call(s.obj.shutdown_cb);
      cb(f, 0);
    },
    connect() { throw new Error("client sockets are not emulated"); },
  };
  for (const [k, fn] of Object.entries(methods)) Object.defineProperty(netdev, k, { value: api(fn), writable: true, configurable: true });

  // ---- PicoCYW43WIFI -----------------------------------------------------------------------
  const wifidev = obj({ errno: 0 });
  const wifi = {
    reset(f) { wifiState.up = wifiState.ap = false; wifidev.errno = 0; cb(f, 0); },
    scan(f) {
      wifidev.errno = 0;
      if (f !== undefined) call(f, [0, realm.arr(Object.keys(opts.networks).map((ssid) => obj({ ssid, bssid: "00:00:00:00:00:00", security: "WPA2_PSK", rssi: -50, channel: 6 })))]);
    },
    connect(info, f) {
      const ssid = info && info.ssid, pw = info && info.password;
      if (typeof ssid !== "string") throw new TypeError("SSID error");
      // cyw43_arch_wifi_connect_bssid_timeout_ms: blocks up to 30 s; here it answers at once
      const ok = Object.hasOwn(opts.networks, ssid) && String(opts.networks[ssid] || "") === (typeof pw === "string" ? pw : "");
      if (ok) {
        wifiState.up = true;
        wifiState.ssid = ssid;
        wifidev.errno = 0;
        call(wifidev.assoc_cb);
        call(wifidev.connect_cb);
      } else wifidev.errno = -1;
      rt.log(`[kaluma-emu] wifi: ${ok ? "joined" : "cannot join"} "${ssid}"`);
      cb(f, wifidev.errno);
    },
    disconnect(f) { wifiState.up = false; wifidev.errno = 0; call(wifidev.disconnect_cb); cb(f, 0); },
    get_connection(f) {
      wifidev.errno = wifiState.up ? 0 : -1;
      if (f === undefined) return;
      if (wifiState.up) call(f, [0, obj({ ssid: wifiState.ssid, bssid: "" })]);
      else call(f, [-1]);
    },
    ap_mode(info, f) {
      const ssid = info && info.ssid, pw = info && info.password;
      if (typeof ssid !== "string") throw new TypeError("SSID error");
      if (typeof pw === "string" && pw.length < 8) throw new Error("PASSWORD need to have at least 8 characters");
      wifiState.ap = true;
      wifiState.gateway = typeof info.gateway === "string" ? info.gateway : "192.168.4.1";
      wifidev.gateway = wifiState.gateway;
      wifidev.subnet_mask = typeof info.subnet_mask === "string" ? info.subnet_mask : "255.255.255.0";
      wifidev.errno = 0;
      rt.log(`[kaluma-emu] wifi: access point "${ssid}" (WPA2${typeof pw === "string" ? "" : ", no password given"}) on ${wifiState.gateway}`);
      cb(f, 0);
    },
    disable_ap_mode() { wifiState.ap = false; },
  };
  for (const [k, fn] of Object.entries(wifi)) Object.defineProperty(wifidev, k, { value: api(fn), writable: true, configurable: true });

  // ---- the poll: what cyw43_arch_poll() hands to the driver's lwIP callbacks -----------------
  function idle() {
    let busy = false;
    for (const s of slots) {
      if (s.state !== LISTENING || !s.pending.length) continue;
      while (s.pending.length) {
        const sock = s.pending.shift();
        busy = true;
        const fd = freeFd();
        if (fd < 0) { sock.destroy(); rt.stats.refused++; continue; } // accept_cb fails: lwIP aborts
        const ip = netdev.ip;
        Object.assign(slots[fd], { serverFd: slots.indexOf(s), state: CONNECTED, lport: s.lport, server: null, pending: [], conn: new Conn(sock),
          obj: obj({ fd, ptcl: "STREAM", state: CONNECTED, laddr: ip, lport: s.lport, raddr: "0.0.0.0", rport: 0 }) });
        call(s.obj && s.obj.accept_cb, [fd]);
      }
    }
    for (let fd = 0; fd < CYW43.sockets; fd++) {
      const s = slots[fd], c = s.conn;
      if (s.fd !== fd || !c || s.state !== CONNECTED) continue;
      if (c.freed) { c.rx.length = 0; continue; } // RST: lwIP freed the pcb, nobody is told
      while (c.rx.length && s.conn === c) {
        let b = c.rx.shift();
        if (b.length > CYW43.mss) { c.rx.unshift(b.subarray(CYW43.mss)); b = b.subarray(0, CYW43.mss); }
        busy = true;
        rt.stats.rx += b.length;
        const own = s.obj, srv = s.serverFd >= 0 ? slots[s.serverFd] : s;
        let target = srv.obj;
        if (opts.routing === "socket" && own && typeof own.read_cb === "function") target = own;
        if (!target || target === srv.obj && srv.state === CLOSED) continue; // the driver drops it
        call(target.read_cb, [u8(b)]);
      }
      if (c.eof && !c.rx.length && s.conn === c && s.fd === fd) { busy = true; socketClose(fd); }
    }
    for (const c of conns) busy = c.pump() || busy;
    return busy;
  }

  return {
    netdev, wifidev, idle, slots, wifiState,
    /** Closes every server and connection; resolves once the ports are free again. */
    stop() {
      const closing = [];
      for (const s of slots) {
        if (s.server) closing.push(new Promise((r) => s.server.close(() => r())));
        for (const p of s.pending || []) p.destroy();
        s.server = null;
      }
      for (const c of conns) c.sock.destroy();
      return Promise.all(closing);
    },
  };
}
