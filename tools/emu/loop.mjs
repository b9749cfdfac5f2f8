// Espruino's main loop (jsiIdle in src/jsinteractive.c), one "idle pass" at a time:
//   1. timers that are due            (setTimeout/setInterval)
//   2. idle handlers                  (net/http sockets: 1 recv + 1 send per socket, pipes)
//   3. the event queue until empty    (emit(), socket 'connect'/'end'/'close'/'drain', ...)
// A pass runs from a host setImmediate while there is work, else the loop sleeps until
// the next timer or until a host socket wakes it. Uncaught exceptions in callbacks are
// reported as "Uncaught ..." and the loop carries on (listeners stay registered, other
// listeners of the same event still run: checked on the 2v29 binary).
import vm from "node:vm";
import { performance } from "node:perf_hooks";

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

export class Loop {
  constructor(rt) {
    this.rt = rt;
    this.timers = new Map(); // id -> {fn, args, time, interval}
    this.events = [];        // {self, cb, args}
    this.idlers = [];        // () => busy
    this.immediate = null;
    this.sleeper = null;
    this.stopped = false;
  }

  // ---- callbacks ---------------------------------------------------------------
  uncaught(e) {
    const proc = this.rt.process;
    if (proc && hasOwn(proc, "#onuncaughtException")) {
      this.execute(proc, proc["#onuncaughtException"], [e]);
      return;
    }
    this.rt.errors.push(e);
    let text;
    try { text = String(e); } catch { text = Object.prototype.toString.call(e); }
    this.rt.log("Uncaught " + text);
  }
  /** jsiExecuteEventCallback: a function, an array of functions, or a string of code. */
  execute(self, cb, args = []) {
    if (Array.isArray(cb)) {
      for (let i = 0; i < cb.length; i++) this.execute(self, cb[i], args);
      return;
    }
    try {
      if (typeof cb === "function") Reflect.apply(cb, self, args);
      else if (typeof cb === "string") vm.runInContext(cb, this.rt.realm.context);
    } catch (e) { this.uncaught(e); }
  }
  queue(self, cb, args = []) { this.events.push({ self, cb, args }); this.wake(); }
  /** jsiQueueObjectCallbacks: listeners are looked up now, run later. */
  queueObj(obj, event, args = []) {
    const key = "#on" + event;
    if (hasOwn(obj, key)) this.queue(obj, obj[key], args);
  }

  // ---- timers ------------------------------------------------------------------
  addTimer(fn, ms, args, repeat) {
    if (typeof fn !== "function" && typeof fn !== "string")
      throw this.rt.realm.mkErr("Error", "Function or String not supplied!");
    ms = Number(ms);
    if (!(ms >= 0.1)) ms = 0.1; // TIMER_MIN_INTERVAL, NaN too
    let id = 1; // jsvArrayAddToEnd: last timer's id + 1
    for (const k of this.timers.keys()) id = k + 1;
    this.timers.set(id, { fn, args, time: performance.now() + ms, interval: repeat ? ms : 0 });
    this.wake();
    return id;
  }
  clearTimer(argc, id) {
    if (argc === 0) return this.timers.clear(); // clearTimeout() clears everything
    if (id === undefined) throw this.rt.realm.mkErr("Error", "clearTimeout(undefined) not allowed. Use clearTimeout() instead");
    this.timers.delete(Number(id));
  }

  // ---- the pass ----------------------------------------------------------------
  pass() {
    this.immediate = this.sleeper = null;
    if (this.stopped) return;
    const now = performance.now();
    for (const [id, t] of [...this.timers]) {
      if (this.timers.get(id) !== t || t.time > now) continue;
      if (t.interval) t.time += t.interval; else this.timers.delete(id);
      this.execute(undefined, t.fn, t.args);
    }
    let busy = false;
    for (const idle of this.idlers) {
      try { busy = idle() || busy; } catch (e) { this.rt.log("EMULATOR BUG in idle handler: " + e.stack); }
    }
    while (this.events.length && !this.stopped) {
      const ev = this.events.shift();
      this.execute(ev.self, ev.cb, ev.args);
    }
    this.schedule(busy);
  }
  schedule(busy) {
    if (this.stopped || this.immediate) return;
    if (busy || this.events.length) {
      if (this.sleeper) { clearTimeout(this.sleeper); this.sleeper = null; }
      this.immediate = setImmediate(() => this.pass());
      return;
    }
    if (this.sleeper) { clearTimeout(this.sleeper); this.sleeper = null; }
    let next = Infinity;
    for (const t of this.timers.values()) next = Math.min(next, t.time);
    if (next < Infinity) this.sleeper = setTimeout(() => this.pass(), Math.max(0, Math.ceil(next - performance.now())));
  }
  /** Something happened (host socket data, new timer, queued event): run a pass soon. */
  wake() { if (!this.stopped && !this.immediate) this.schedule(true); }
  stop() {
    this.stopped = true;
    clearImmediate(this.immediate); clearTimeout(this.sleeper);
    this.timers.clear(); this.events.length = 0;
  }
}
