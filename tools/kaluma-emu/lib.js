// Kaluma 1.2.1's JavaScript modules as sprat uses them, re-implemented for the emulator and
// evaluated inside its context (so `this`, synchronous emits and exceptions behave as on the
// board). Not Kaluma's code: the behaviour below is what its sources do, cited per item as
// kaluma-project/kaluma@1.2.1 paths (the same in 1.3.0-beta.2). `native` holds the host side:
// the CYW43 network and Wifi devices (cyw43.mjs), the LittleFS mount (lfs.mjs), storage, wdt.
(function (native) {
  "use strict";
  var modules = {};

  // ---- events (src/modules/events/events.js) ---------------------------------------------
  // emit() is synchronous, listeners run with this = the emitter over a copy of the list;
  // 'error' without a listener throws the error (or Error("Uncaught 'error' event")).
  modules.events = function (exports) {
    class EventEmitter {
      constructor() { this._events = {}; }
      emit(type, ...args) {
        if (!this._events) this._events = {};
        if (type === "error" && !this._events.error) {
          throw args[0] instanceof Error ? args[0] : new Error("Uncaught 'error' event");
        }
        const list = this._events[type];
        if (!Array.isArray(list)) return false;
        for (const fn of list.slice()) fn.apply(this, args);
        return true;
      }
      addListener(type, fn) {
        if (typeof fn !== "function") throw new TypeError("listener must be a function");
        if (!this._events) this._events = {};
        (this._events[type] || (this._events[type] = [])).push(fn);
        return this;
      }
      on(type, fn) { return this.addListener(type, fn); }
      removeListener(type, fn) {
        if (typeof fn !== "function") throw new TypeError("listener must be a function");
        const list = this._events[type];
        if (Array.isArray(list)) {
          for (let i = list.length - 1; i >= 0; i--) {
            if (list[i] === fn || list[i].listener === fn) {
              list.splice(i, 1);
              if (!list.length) delete this._events[type];
              break;
            }
          }
        }
        return this;
      }
      off(type, fn) { return this.removeListener(type, fn); }
      removeAllListeners(type) {
        if (arguments.length === 0) this._events = {};
        else delete this._events[type];
        return this;
      }
      listeners(type) { return this._events[type] || []; }
      listenerCount(type) { return this.listeners(type).length; }
      once(type, fn) {
        if (typeof fn !== "function") throw new TypeError("listener must be a function");
        const once = function (...a) { this.removeListener(type, once); fn.apply(this, a); };
        once.listener = fn;
        return this.on(type, once);
      }
    }
    exports.EventEmitter = EventEmitter;
  };

  // ---- stream (src/modules/stream/stream.js: Writable, Duplex) ---------------------------
  // write(chunk): appends to the string _wbuf (a Uint8Array through
  // String.fromCharCode.apply), schedules flush() with setTimeout(0), returns
  // `_wbuf.length === 0` (false whenever it was given data). flush() hands the whole _wbuf to
  // _write() at once; when _write's callback reports success and nothing new was buffered,
  // 'drain'; on error _wbuf is dropped and 'error' is emitted. end(): flush, then _final
  // (a TCP shutdown for sockets), then 'finish'. A write after end() is ignored.
  modules.stream = function (exports, require) {
    const { EventEmitter } = require("events");
    const str = (c) => (c instanceof Uint8Array ? String.fromCharCode.apply(null, c) : c);
    class Writable extends EventEmitter {
      constructor() {
        super();
        this.destroyed = false;
        this._wbuf = "";
        this.writableEnded = false;
        this.writableFinished = false;
      }
      _afterDestroy() { if (!this.destroyed) { this.destroyed = true; this.emit("close"); } }
      destroy() {
        if (this.destroyed) return;
        this._destroy((err) => { if (err) this.emit("error", err); else this._afterDestroy(); });
      }
      _afterFinish() { if (!this.writableFinished) { this.emit("finish"); this.writableFinished = true; } }
      write(chunk, cb) {
        if (!this.writableEnded) {
          if (chunk) this._wbuf += str(chunk);
          setTimeout(() => this.flush(), 0);
          if (cb) cb();
        }
        return this._wbuf.length === 0;
      }
      end(chunk, cb) {
        if (typeof chunk === "function") { cb = chunk; chunk = undefined; }
        if (chunk) this._wbuf += str(chunk);
        if (cb) this.once("finish", cb);
        this.writableEnded = true;
        if (this._wbuf.length > 0) this.flush(() => this.finish());
        else this.finish();
        return this;
      }
      flush(cb) {
        if (this.writableFinished || this._wbuf.length === 0) { if (cb) cb(); return; }
        this._write(this._wbuf, (err) => {
          if (err) { this._wbuf = ""; this.emit("error", err); }
          else if (this._wbuf.length > 0) setTimeout(() => this.flush(cb), 0);
          else { this.emit("drain"); if (cb) cb(); }
        });
        this._wbuf = "";
      }
      finish() {
        if (this.writableEnded && this._wbuf.length === 0) {
          this._final((err) => { if (err) this.emit("error", err); else this._afterFinish(); });
        }
      }
    }
    class Duplex extends Writable {
      constructor() { super(); this.readableEnded = false; }
      _afterEnd() { if (!this.readableEnded) { this.readableEnded = true; this.emit("end"); } }
      push(chunk) { this.emit("data", chunk); return this; }
    }
    exports.Writable = Writable;
    exports.Duplex = Duplex;
  };

  // ---- net (src/modules/net/net.js) ------------------------------------------------------
  // Over the network device global.__netdev. Reproduced as shipped:
  //  - createServer(options, listener) calls new Server(options, listener), whose constructor
  //    takes only a listener: createServer(fn) works, createServer({}, fn) does not;
  //  - accept_cb gives the new Socket the LISTENING socket's driver object
  //    (client._socket(fd, sck)): its read/close/shutdown callbacks land there, replacing
  //    the previous connection's;
  //  - device errors become SystemError(errno) events.
  modules.net = function (exports, require) {
    const { EventEmitter } = require("events");
    const { Duplex } = require("stream");
    const dev = () => global.__netdev;
    class Socket extends Duplex {
      constructor() {
        super();
        if (!dev()) throw new Error("Network device not found");
        this.localAddress = this.localPort = this.remoteAddress = this.remotePort = null;
        this._fd = -1;
        this._dev = dev();
      }
      _socket(fd, sck) {
        this._fd = fd;
        if (!sck) sck = this._dev.get(this._fd);
        if (!sck) return;
        this.localAddress = sck.laddr; this.localPort = sck.lport;
        this.remoteAddress = sck.raddr; this.remotePort = sck.rport;
        sck.connect_cb = () => this.emit("connect");
        sck.close_cb = () => this._afterDestroy();
        sck.read_cb = (data) => this.push(data);
        sck.shutdown_cb = () => this._afterEnd();
      }
      connect() { throw new Error("client sockets are not emulated"); }
      _destroy(cb) {
        this._dev.close(this._fd, (err) => { if (cb) cb(err ? new SystemError(this._dev.errno) : undefined); });
      }
      _write(chunk, cb) {
        this._dev.write(this._fd, chunk, (err) => { if (cb) cb(err ? new SystemError(this._dev.errno) : undefined); });
      }
      _final(cb) {
        this._dev.shutdown(this._fd, 1, (err) => { if (cb) cb(err ? new SystemError(this._dev.errno) : undefined); });
      }
    }
    class Server extends EventEmitter {
      constructor(listener) {
        super();
        if (!dev()) throw new Error("Network device not found");
        if (listener) this.on("connection", listener);
        this._fd = -1;
        this._dev = dev();
      }
      listen(port, cb) {
        this._fd = this._dev.socket("AF_INET", "STREAM");
        if (this._fd < 0) { this.emit("error", new SystemError(this._dev.errno)); return; }
        const sck = this._dev.get(this._fd);
        sck.accept_cb = (fd) => {
          const client = new Socket();
          client._socket(fd, sck);
          this.emit("connection", client);
        };
        this._dev.bind(this._fd, this._dev.ip, port, (err) => {
          if (err) return this.emit("error", new SystemError(this._dev.errno));
          this._dev.listen(this._fd, (err2) => {
            if (err2) return this.emit("error", new SystemError(this._dev.errno));
            if (cb) this.on("listening", cb);
            this.emit("listening");
          });
        });
        return this;
      }
      close(cb) {
        this._dev.close(this._fd, (err) => {
          if (err) this.emit("error", new SystemError(this._dev.errno));
          else { this.emit("close"); if (cb) cb(); }
        });
        return this;
      }
    }
    exports.Socket = Socket;
    exports.Server = Server;
    exports.createServer = function (options, listener) { return new Server(options, listener); };
    exports.createConnection = exports.connect = function () { throw new Error("client sockets are not emulated"); };
  };

  // ---- wifi (src/modules/wifi/wifi.js) ---------------------------------------------------
  // connect(info, cb): without info.enforce it first asks the device for the current
  // connection, whose callback reports an error while not connected, so only enforce: true
  // joins a network from scratch. Missing ssid/password come from `storage` (WIFI_SSID,
  // WIFI_PASSWORD). wifiApMode(info, cb): defaults Kaluma_AP / kalumaAp / 192.168.4.1.
  modules.wifi = function (exports, require) {
    const { EventEmitter } = require("events");
    const kv = () => require("storage");
    class WiFi extends EventEmitter {
      constructor() {
        super();
        if (!global.__ieee80211dev) throw new Error("IEEE 802.11 device not found");
        this._dev = global.__ieee80211dev;
        this._dev.assoc_cb = () => this.emit("associated");
        this._dev.connect_cb = () => this.emit("connected");
        this._dev.disconnect_cb = () => this.emit("disconnected");
      }
      connect(info, cb) {
        if (typeof info === "function") { cb = info; info = null; }
        if (!info) info = { enforce: false };
        if (!info.ssid) {
          info.ssid = kv().getItem("WIFI_SSID");
          if (!info.ssid) { if (cb) cb(new Error("WIFI SSID is required")); return; }
        }
        if (!info.password) info.password = kv().getItem("WIFI_PASSWORD");
        if (!info.security) info.security = kv().getItem("WIFI_SECURITY");
        const join = () => this._dev.connect(info, (err) => { if (cb) cb(err ? new SystemError(this._dev.errno) : null, err ? undefined : info); });
        if (info.enforce) return join();
        this._dev.get_connection((err, conn) => {
          if (err) { if (cb) cb(new SystemError(this._dev.errno)); }
          else if (!conn) join();
          else if (cb) cb(null, conn);
        });
      }
      disconnect(cb) { this._dev.disconnect((err) => { if (cb) cb(err ? new SystemError(this._dev.errno) : undefined); }); }
      getConnection(cb) { this._dev.get_connection((err, c) => { if (cb) cb(err ? new SystemError(this._dev.errno) : null, c); }); }
      wifiApMode(info, cb) {
        if (typeof info === "function") { cb = info; info = null; }
        if (!info) info = { ssid: "Kaluma_AP", password: "kalumaAp", gateway: "192.168.4.1", subnet_mask: "255.255.255.0" };
        if (!info.ssid) info.ssid = kv().getItem("WIFI_AP_SSID") || "Kaluma_AP";
        if (!info.password) info.password = kv().getItem("WIFI_AP_PASSWORD") || "kalumaAp";
        if (!info.gateway) info.gateway = kv().getItem("WIFI_AP_GATEWAY") || "192.168.4.1";
        if (!info.subnet_mask) info.subnet_mask = kv().getItem("WIFI_AP_SUBNET_MASK") || "255.255.255.0";
        this._dev.ap_mode(info, (err) => { if (cb) cb(err ? new SystemError(this._dev.errno) : null, err ? undefined : info); });
      }
    }
    exports.WiFi = WiFi;
  };

  // ---- fs (src/modules/fs/fs.js over src/modules/vfs_lfs) ---------------------------------
  // One LittleFS mount on "/" (targets/rp2/boards/pico-w/board.js). Flags: r, r+, w, wx, w+,
  // a, a+ ... as fs.js maps them; read/write(fd, typedArray, offset, length, position).
  modules.fs = function (exports, require) {
    const vfs = native.lfs;
    const FLAGS = { r: 1, rs: 1, sr: 1, "r+": 3, "rs+": 3, "sr+": 3, w: 38, wx: 18, xw: 18, "w+": 35, "wx+": 19, "xw+": 19, a: 8, ax: 24, xa: 24, "a+": 9, "ax+": 25, "xa+": 25 };
    const opens = [];
    const fobj = (fd) => (fd < opens.length ? opens[fd] : null);
    const abs = (p) => (String(p).charAt(0) === "/" ? String(p) : "/" + p);
    class Stats {
      constructor(t) { this.type = t.type; this.size = t.size; }
      isDirectory() { return this.type === 2; }
      isFile() { return this.type === 1; }
    }
    exports.Stats = Stats;
    exports.open = function (path, flags = "r") {
      const id = vfs.open(abs(path), FLAGS[flags] || 0, 0o666);
      let fd = opens.indexOf(null);
      if (fd < 0) fd = opens.push(null) - 1;
      opens[fd] = { id };
      return fd;
    };
    exports.read = function (fd, ...a) { const f = fobj(fd); if (!f) throw new SystemError(-9); return vfs.read(f.id, ...a); };
    exports.write = function (fd, ...a) { const f = fobj(fd); if (!f) throw new SystemError(-9); return vfs.write(f.id, ...a); };
    exports.close = function (fd) { const f = fobj(fd); if (!f) throw new SystemError(-9); vfs.close(f.id); opens[fd] = null; };
    exports.stat = function (path) { return new Stats(vfs.stat(abs(path))); };
    exports.exists = function (path) { try { return !!vfs.stat(abs(path)); } catch (e) { return false; } };
    exports.unlink = function (path) { vfs.unlink(abs(path)); };
    exports.rename = function (a, b) { vfs.rename(abs(a), abs(b)); };
    exports.mkdir = function (path) { vfs.mkdir(abs(path)); };
    exports.rmdir = function (path) { vfs.rmdir(abs(path)); };
    exports.readdir = function (path) { return vfs.readdir(abs(path)); };
    exports.readFile = function (path) {
      const st = exports.stat(path), buf = new Uint8Array(st.size), fd = exports.open(path, "r");
      exports.read(fd, buf, 0, buf.length, 0);
      exports.close(fd);
      return buf;
    };
    exports.writeFile = function (path, data) {
      const fd = exports.open(path, "w");
      exports.write(fd, data, 0, data.length, 0);
      exports.close(fd);
    };
    exports.rm = function (path) { const s = exports.stat(path); if (s.isDirectory()) exports.rmdir(path); else exports.unlink(path); };
    exports.cwd = () => "/";
  };

  // ---- storage (src/modules/storage/storage.js): key-value strings in its own flash area --
  modules.storage = function (exports) {
    const kv = native.kv;
    exports.setItem = (k, v) => kv.setItem(String(k), String(v));
    exports.getItem = (k) => kv.getItem(String(k));
    exports.removeItem = (k) => kv.removeItem(String(k));
    exports.clear = () => kv.clear();
    exports.key = (i) => kv.key(i);
    Object.defineProperty(exports, "length", { get: () => kv.length() });
  };

  // ---- wdt (src/modules/wdt/module_wdt.c): new WDT(timeoutMs), feed() --------------------
  modules.wdt = function (exports) {
    exports.WDT = function WDT(timeout) {
      if (typeof timeout !== "number") throw new TypeError('"timeout" argument must be number');
      this.timeout = timeout;
      native.wdt.enable(timeout);
    };
    exports.WDT.prototype.feed = function () { native.wdt.feed(); };
  };

  return modules;
})
