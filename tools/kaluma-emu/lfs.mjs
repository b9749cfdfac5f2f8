// Kaluma's LittleFS mount (src/modules/vfs_lfs/module_vfs_lfs.c over littlefs) emulated on
// a host directory: one host file per LittleFS file, so a test can put files in and read
// them back with plain fs. The pico-w board mounts it on "/" over flash sectors 132..259
// (targets/rp2/boards/pico-w/board.js, board.h): 128 blocks of 4096 bytes.
//
// What is modelled:
//  - VFS flags as vfs_lfs maps them (READ 1, WRITE 2, CREATE 4, APPEND 8, EXCL 16, TRUNC 32);
//    opening a missing file without CREATE throws SystemError(-2) (No such file or directory).
//  - read/write(id, typedArray, offset, length, position): position > -1 seeks first;
//    returns the byte count. Like module_vfs_lfs.c, `offset` counts from the start of the
//    typed array's ArrayBuffer, NOT from its byteOffset: a subarray reads/writes the wrong
//    bytes there, and here.
//  - LittleFS is copy-on-write: an open file's changes are committed when it is closed (here
//    a temporary file renamed over the old one), so a killed emulator leaves the old content.
//  - Space: a file of up to 256 bytes (cache_size = the flash's 256-byte buffer) is inlined
//    in its directory's metadata; a bigger one takes CTZ skip-list blocks (block i > 0 spends
//    4 * (ctz(i) + 1) bytes on pointers); the root's metadata pair takes 2 blocks. A commit
//    that does not fit throws SystemError(-28) (No space left on device) and leaves the old
//    content. Not modelled: metadata compaction, wear levelling, other directories' costs.
import fs from "node:fs";
import path from "node:path";

export const LFS = { blockSize: 4096, blockCount: 128, inlineMax: 256 };
const F = { READ: 1, WRITE: 2, CREATE: 4, APPEND: 8, EXCL: 16, TRUNC: 32 };
const MESSAGES = { 2: "No such file or directory", 9: "Bad file number", 17: "File exists", 20: "Not a directory", 21: "Is a directory", 22: "Invalid argument", 28: "No space left on device", 39: "Directory not empty" };

/** Blocks a file of n bytes takes (0 when inlined). */
export function fileBlocks(n, { blockSize = LFS.blockSize, inlineMax = LFS.inlineMax } = {}) {
  if (n <= inlineMax) return 0;
  let blocks = 0;
  for (let left = n, i = 0; left > 0; i++) {
    let ptrs = 0;
    if (i > 0) for (ptrs = 1; ((i >> (ptrs - 1)) & 1) === 0; ptrs++);
    left -= blockSize - 4 * ptrs;
    blocks++;
  }
  return blocks;
}

export function createLfs(rt, dir, geometry = {}) {
  const G = { ...LFS, ...geometry };
  const { api, obj, arr } = rt.realm;
  fs.mkdirSync(dir, { recursive: true });
  const sysErr = (errno) => { const e = new rt.global.SystemError(-errno); return e; };
  const host = (p) => {
    const rel = path.posix.normalize("/" + String(p)).slice(1);
    if (rel.split("/").includes("..")) throw sysErr(22);
    return path.join(dir, rel);
  };
  const files = new Map(); // id -> {file, data: Buffer, pos, flags, dirty}
  let nextId = 1;
  const size = (file) => { try { const s = fs.statSync(file); return s.isFile() ? s.size : 0; } catch { return 0; } };
  const used = (except) => {
    let blocks = 2;
    const walk = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) { blocks += 2; walk(p); } else if (p !== except && !e.name.endsWith(".lfs-tmp")) blocks += fileBlocks(size(p), G);
      }
    };
    walk(dir);
    return blocks;
  };
  const handle = (id) => {
    const h = files.get(id);
    if (!h) throw sysErr(9);
    return h;
  };
  // module_vfs_lfs.c: buffer_p (the ArrayBuffer's start) + offset
  const view = (ta) => new Uint8Array(ta.buffer);

  const vfs = {
    open(p, flags) {
      const file = host(p);
      let st = null;
      try { st = fs.statSync(file); } catch { /* missing */ }
      if (st && st.isDirectory()) throw sysErr(21);
      if (!st && !(flags & F.CREATE)) throw sysErr(2);
      if (st && (flags & F.EXCL) && (flags & F.CREATE)) throw sysErr(17);
      // lfs_file_open with LFS_O_CREAT commits the new (empty) entry at once
      if (!st) fs.writeFileSync(file, "");
      const data = st && !(flags & F.TRUNC) ? fs.readFileSync(file) : Buffer.alloc(0);
      const id = nextId++;
      files.set(id, { file, data, pos: 0, flags, dirty: !!(st && (flags & F.TRUNC) && st.size > 0) });
      return id;
    },
    read(id, buf, offset = 0, length, position = -1) {
      const h = handle(id), v = view(buf);
      if (length === undefined) length = buf.length;
      if (position > -1) h.pos = position;
      const n = Math.max(0, Math.min(length, h.data.length - h.pos, v.length - offset));
      v.set(h.data.subarray(h.pos, h.pos + n), offset);
      h.pos += n;
      return n;
    },
    write(id, buf, offset = 0, length, position = -1) {
      const h = handle(id), v = view(buf);
      if (length === undefined) length = buf.length;
      if (!(h.flags & (F.WRITE | F.APPEND))) throw sysErr(9);
      if (position > -1) h.pos = position;
      if (h.flags & F.APPEND) h.pos = h.data.length;
      const src = v.subarray(offset, offset + length), end = h.pos + src.length;
      if (end > h.data.length) { const d = Buffer.alloc(end); h.data.copy(d); h.data = d; } // a gap reads as zeros
      h.data.set(src, h.pos);
      h.pos = end;
      h.dirty = true;
      return src.length;
    },
    close(id) {
      const h = handle(id);
      files.delete(id);
      if (!h.dirty) return;
      if (used(h.file) + fileBlocks(h.data.length, G) > G.blockCount) throw sysErr(28);
      const tmp = h.file + ".lfs-tmp";
      fs.writeFileSync(tmp, h.data);
      fs.renameSync(tmp, h.file);
    },
    stat(p) {
      let st;
      try { st = fs.statSync(host(p)); } catch { throw sysErr(2); }
      return obj({ type: st.isDirectory() ? 2 : 1, size: st.isDirectory() ? 0 : st.size });
    },
    unlink(p) { try { fs.unlinkSync(host(p)); } catch (e) { throw sysErr(e.code === "EISDIR" || e.code === "EPERM" ? 21 : 2); } },
    rename(a, b) { try { fs.renameSync(host(a), host(b)); } catch { throw sysErr(2); } },
    mkdir(p) { try { fs.mkdirSync(host(p)); } catch (e) { throw sysErr(e.code === "EEXIST" ? 17 : 2); } },
    rmdir(p) { try { fs.rmdirSync(host(p)); } catch (e) { throw sysErr(e.code === "ENOTEMPTY" ? 39 : 2); } },
    readdir(p) {
      let names;
      try { names = fs.readdirSync(host(p)); } catch { throw sysErr(2); }
      return arr(names.filter((n) => !n.endsWith(".lfs-tmp")).sort());
    },
  };
  const native = {};
  for (const [k, fn] of Object.entries(vfs)) native[k] = api(fn);
  return {
    native: obj(native),
    usedBlocks: () => used(null),
    geometry: G,
    messages: MESSAGES,
  };
}
