// Espruino's EventEmitter, present on every object (src/jswrap_object.c):
//  - listeners live in an *enumerable* property "#on<event>" holding an array
//    (Object.keys/JSON.stringify show it on Espruino: checked on the 2v29 binary);
//  - on() builds a new array each time, removeListener() edits it in place;
//  - emit() is asynchronous (jsiQueueEvents) with at most 4 arguments: with more it
//    still queues the first 4, then throws "Too many arguments (>4)";
//  - handlers run with `this` = the emitter.
// Stream buffering (src/jswrap_stream.c): data pushed to an object with no 'data'
// listener is kept (up to STREAM_MAX_BUFFER_SIZE=512 once a first chunk is held) and
// delivered, queued, when a 'data' listener is added.

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
export const STREAM_MAX_BUFFER_SIZE = 512;

export function installEvents(rt) {
  const { realm, loop } = rt;
  const { api, arr, mkErr } = realm;
  const streamBufs = new WeakMap(); // obj -> buffered string

  const check = (self, event) => {
    if (self === null || (typeof self !== "object" && typeof self !== "function"))
      throw mkErr("TypeError", "Parent must be an object - not a String, Integer, etc");
    if (typeof event !== "string") throw mkErr("TypeError", "First argument must be String");
  };
  function add(self, event, listener, first) {
    check(self, event);
    if (typeof listener !== "function" && typeof listener !== "string")
      throw mkErr("TypeError", "Second argument must be a function or a String");
    const key = "#on" + event;
    const cur = hasOwn(self, key) ? self[key] : undefined;
    const old = Array.isArray(cur) ? [...cur] : cur === undefined ? [] : [cur];
    const list = arr(first ? [listener, ...old] : [...old, listener]);
    self[key] = list;
    if (event === "data" && streamBufs.has(self)) {
      loop.queue(self, list, [streamBufs.get(self)]);
      streamBufs.delete(self);
    }
  }
  const methods = {
    on(event, listener) { add(this, event, listener, false); },
    addListener(event, listener) { add(this, event, listener, false); },
    prependListener(event, listener) { add(this, event, listener, true); },
    emit(event, ...args) {
      check(this, event);
      const key = "#on" + event;
      if (hasOwn(this, key)) loop.queue(this, this[key], args.slice(0, 4));
      if (args.length > 4) throw mkErr("TypeError", "Too many arguments (>4)");
    },
    removeListener(event, listener) {
      check(this, event);
      const list = this["#on" + event];
      if (hasOwn(this, "#on" + event) && Array.isArray(list)) {
        const i = list.indexOf(listener);
        if (i >= 0) list.splice(i, 1);
      }
    },
    removeAllListeners(event) {
      if (this === null || (typeof this !== "object" && typeof this !== "function"))
        throw mkErr("TypeError", "Parent must be an object - not a String, Integer, etc");
      if (typeof event === "string") delete this["#on" + event];
      else if (event === undefined) { for (const k of Object.keys(this)) if (k.startsWith("#on")) delete this[k]; }
      else throw mkErr("TypeError", "First argument must be String or undefined");
    },
  };
  const proto = realm.R.Object.prototype;
  for (const [name, fn] of Object.entries(methods))
    Object.defineProperty(proto, name, { value: api(fn), writable: true, configurable: true, enumerable: false });

  return {
    streamBufs,
    /** jswrap_stream_pushData: run 'data' listeners now, or buffer. false = not taken. */
    pushData(obj, str) {
      if (hasOwn(obj, "#ondata")) { loop.execute(obj, obj["#ondata"], [str]); return true; }
      const buf = streamBufs.get(obj);
      if (buf === undefined) { streamBufs.set(obj, str); return true; }
      if (buf.length + str.length > STREAM_MAX_BUFFER_SIZE) return false;
      streamBufs.set(obj, buf + str);
      return true;
    },
    /** Host-side removeAllListeners (used by E.pipe). */
    removeAll(obj, event) { delete obj["#on" + event]; },
    /** Host-side on(), for internal listeners (E.pipe). */
    on(obj, event, fn) { add(obj, event, fn, false); },
  };
}
