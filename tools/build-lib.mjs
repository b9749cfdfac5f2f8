// Rollup configuration for one device bundle per board profile, shared by rollup.config.ts
// and the tests (which build fixtures through the same pipeline and gate).
import { relative, resolve, dirname, sep } from "node:path";
import { gzipSync } from "node:zlib";
import typescript from "@rollup/plugin-typescript";
import terser from "@rollup/plugin-terser";
import MagicString from "magic-string";
import * as acorn from "acorn";
import * as walk from "acorn-walk";
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
import { findProblems, lineCol } from "./gate.mjs";
import { profileModule } from "./profiles.mjs";

const PROFILE_ID = "sprat:profile", RUNTIME_ID = "sprat:runtime";

/** Bakes the profile's values in as the module `sprat:profile`. */
/** ...and `sprat:runtime` as the binding the profile names (src/runtime/<runtime>.ts). */
export function profilePlugin(profile) {
  return {
    name: "sprat-profile",
    resolveId: (id) => (id === PROFILE_ID ? "\0" + PROFILE_ID : id === RUNTIME_ID ? resolve(`src/runtime/${profile.values.runtime}.ts`) : null),
    load: (id) => (id === "\0" + PROFILE_ID ? profileModule(profile) : null),
  };
}

/**
 * `typeof E` in the library (src/core, src/server) as the profile's runtime knows it, like a
 * bundler's define: the library reads E only to reach Espruino's natives (E.toArrayBuffer,
 * E.sum, E.CRC32, E.fromUTF8 ...). Espruino and the emulator always have E: "object". On
 * Kaluma the E of src/runtime/kaluma-globals.ts has none of them: "undefined", the JS paths
 * it takes anyway. Each test then folds and the other runtime's code leaves the bundle. (The
 * modules themselves still test it: Node, JerryScript and the self-test run them without E.)
 */
export function typeofEPlugin(profile) {
  const dirs = ["src/core", "src/server"].map((d) => resolve(d) + sep), value = profile.values.runtime == "espruino" ? '"object"' : '"undefined"';
  return {
    name: "sprat-typeof-e",
    transform(code, id) {
      if (!dirs.some((d) => id.startsWith(d))) return null;
      const s = new MagicString(code), re = /\btypeof E(?![\w$])/g;
      for (let m; (m = re.exec(code));) s.overwrite(m.index, m.index + m[0].length, value);
      return s.hasChanged() ? { code: s.toString(), map: s.generateMap({ hires: true }) } : null;
    },
  };
}

/**
 * Moves each bare `var` (no initialiser) that terser leaves in a function's body after other
 * statements, often after its return (`return t = f(), g(t); var t`), to the function's start,
 * after its function declarations. JavaScript hoists declarations, so this means the same;
 * Espruino hoists none, and without the move the assignment would go to the outer variable of
 * that name (the gate's varProblems). Runs after terser.
 */
export function varHoistPlugin() {
  return {
    name: "sprat-var-hoist",
    renderChunk(code) {
      let ast;
      try { ast = acorn.parse(code, { ecmaVersion: 5 }); } catch { return null; } // (the gate says why)
      const s = new MagicString(code);
      walk.full(ast, (f) => {
        if (f.type !== "FunctionDeclaration" && f.type !== "FunctionExpression") return;
        const body = f.body.body, names = [], first = body.find((st) => st.type !== "FunctionDeclaration" && !st.directive);
        for (const st of body) {
          if (st !== first && st.type === "VariableDeclaration" && st.declarations.every((d) => !d.init)) {
            names.push(...st.declarations.map((d) => d.id.name));
            s.remove(st.start, st.end);
          }
        }
        if (names.length) s.appendLeft(first.start, `var ${names.join(",")};`);
      });
      return s.hasChanged() ? { code: s.toString(), map: s.generateMap({ hires: true }) } : null;
    },
  };
}

// "file:line:col" in the original source when the source map knows it; map sources are
// relative to baseDir (the output directory for bundles, the module's folder for modules).
function locate(map, code, pos, fallbackFile, baseDir) {
  const { line, column } = lineCol(code, pos);
  if (map) {
    const o = originalPositionFor(new TraceMap(map), { line, column: column - 1 });
    if (o.source && o.line) return `${relative(process.cwd(), resolve(baseDir, o.source))}:${o.line}:${o.column + 1}`;
  }
  return `${fallbackFile}:${line}:${column}`;
}

/** Fails the build on anything Espruino can't run (see tools/gate.mjs). */
export function gatePlugin() {
  return {
    name: "sprat-gate",
    transform(code, id) {
      if (id.startsWith("\0")) return null;
      const problems = findProblems(code);
      if (!problems.length) return null;
      const map = this.getCombinedSourcemap();
      this.error("Espruino gate:\n" + problems.map((p) => `  ${locate(map, code, p.pos, relative(process.cwd(), id), dirname(id))}: ${p.msg}`).join("\n"));
    },
    generateBundle(out, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== "chunk") continue;
        const problems = findProblems(chunk.code, { bundle: true });
        if (problems.length) {
          this.error(`Espruino gate (${chunk.fileName}):\n` + problems.map((p) => {
            const at = lineCol(chunk.code, p.pos);
            return `  ${locate(chunk.map, chunk.code, p.pos, chunk.fileName, out.dir || ".")} (bundle ${at.line}:${at.column}): ${p.msg}`;
          }).join("\n"));
        }
      }
    },
  };
}

/** Prints each bundle's size and gzip size once written. */
export function sizePlugin(label) {
  return {
    name: "sprat-size",
    writeBundle(out, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== "chunk") continue;
        const raw = Buffer.byteLength(chunk.code, "latin1"), gz = gzipSync(chunk.code, { level: 9 }).length;
        console.log(`${label.padEnd(14)} ${relative(process.cwd(), out.dir)}/${chunk.fileName}  ${raw} B  (gzip ${gz} B)`);
      }
    },
  };
}

export const TERSER = {
  ecma: 5,
  // hoist_funs moves function declarations to the top of their scope: Espruino does not hoist.
  // reduce_funcs off: a function called once stays a function. Inlined, its text would sit
  // inside the caller, and Espruino walks (lexes) every char of a function it runs, executed
  // or not: a cold branch inlined into a hot path costs on every call (docs/performance.md).
  compress: { passes: 3, hoist_funs: true, pure_getters: true, reduce_funcs: false },
  mangle: { properties: { regex: /^_/ } },
  format: { ascii_only: true, comments: false },
};

/** The rollup options for one profile. */
export function bundleConfig(profile, { input = "src/app/main.ts", outDir = `build/${profile.name}`, quiet = false } = {}) {
  return {
    input,
    external: (id) => !id.startsWith(".") && !id.startsWith("/") && !id.startsWith("\0") && id !== PROFILE_ID && id !== RUNTIME_ID,
    plugins: [
      profilePlugin(profile),
      typescript({ tsconfig: "tsconfig.json", sourceMap: true, inlineSources: false, noEmitOnError: true, include: ["src/**/*.ts", "test/fixtures/**/*.ts"] }),
      typeofEPlugin(profile),
      gatePlugin(),
      terser(TERSER),
      varHoistPlugin(),
      quiet ? null : sizePlugin(profile.name),
    ],
    output: { dir: outDir, entryFileNames: "app.min.js", format: "iife", strict: false, sourcemap: "hidden" },
    onwarn(w, warn) { if (w.code !== "CIRCULAR_DEPENDENCY") warn(w); },
  };
}
