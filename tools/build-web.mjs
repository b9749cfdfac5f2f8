#!/usr/bin/env node
// Builds the dashboard (web/) into the ZIP the device serves from Storage.
//
//   node tools/build-web.mjs [out.zip=build/web.zip]
//
// 1. web/src/main.ts → <stage>/app.js: rollup + @rollup/plugin-typescript (web/tsconfig.json:
//    DOM, ES2018; the root tsconfig is for ES5 device code) + terser, one IIFE.
// 2. web/index.html → <stage>/index.html, with each local stylesheet <link> replaced by an
//    inline <style>: one request fewer for a device with a handful of sockets.
// 3. packDir(<stage>, out.zip) from tools/pack-web.mjs: minify, DEFLATE level 9 per entry,
//    "a32=" comments; prints the size table.
// Fails when the packed total exceeds the budget (BUDGET bytes, the sum of packed entries).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { rollup } from "rollup";
import typescript from "@rollup/plugin-typescript";
import terser from "@rollup/plugin-terser";
import { packDir } from "./pack-web.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BUDGET = 18 * 1024;

/**
 * opts: { out = "build/web.zip" (the ZIP), stage = <out without .zip>.stage (staging directory,
 * emptied first), src = "web", budget = BUDGET, quiet = false, log = console.log }.
 * Relative paths are relative to the repository root. Returns packDir's
 * { zip, entries } plus { out, stage, total } (total: packed bytes of all entries).
 */
export async function buildWeb(opts = {}) {
  const at = (p) => path.resolve(ROOT, p);
  const src = at(opts.src || "web"),
    out = at(opts.out || "build/web.zip"),
    stage = at(opts.stage || path.join(path.dirname(out), path.basename(out, ".zip") + ".stage")),
    log = opts.log || console.log,
    budget = opts.budget ?? BUDGET;
  // the stage is emptied: never let it be (or contain) the sources
  if (stage === src || src.startsWith(stage + path.sep)) throw new Error(`build-web: staging directory ${stage} would overwrite the sources in ${src}`);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });

  const warnings = [];
  const bundle = await rollup({
    input: path.join(src, "src/main.ts"),
    plugins: [
      typescript({ tsconfig: path.join(src, "tsconfig.json"), include: [path.join(src, "src/**/*.ts")], noEmitOnError: true }),
      terser({ ecma: 2020, compress: { passes: 3 }, mangle: { toplevel: true }, format: { comments: false } }),
    ],
    onwarn: (w) => warnings.push(w),
  });
  try {
    await bundle.write({ file: path.join(stage, "app.js"), format: "iife", sourcemap: false });
  } finally {
    await bundle.close();
  }
  // type errors and the like are failures, not noise
  if (warnings.length) throw new Error("web build:\n" + warnings.map((w) => "  " + (w.loc ? `${w.loc.file}:${w.loc.line}: ` : "") + w.message).join("\n"));

  let html = fs.readFileSync(path.join(src, "index.html"), "utf8");
  html = html.replace(/<link\s+rel=["']?stylesheet["']?\s+href=["']?([\w.-]+\.css)["']?\s*\/?>/gi, (tag, name) => {
    const f = path.join(src, name);
    return fs.existsSync(f) ? `<style>${fs.readFileSync(f, "utf8").replace(/<\/style/gi, "<\\/style")}</style>` : tag;
  });
  fs.writeFileSync(path.join(stage, "index.html"), html);

  const r = await packDir(stage, out, { quiet: opts.quiet, log });
  const total = r.entries.reduce((n, e) => n + e.packed, 0);
  if (!opts.quiet) log(`wrote ${path.relative(process.cwd(), out) || out} (${r.zip.length} bytes; packed entries ${total} of the ${budget}-byte budget)`);
  if (total > budget) throw new Error(`web build: packed size ${total} bytes is over the ${budget}-byte budget`);
  return { ...r, out, stage, total };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [out] = process.argv.slice(2);
  buildWeb({ out }).catch((e) => {
    console.error(`build-web: ${e.message}`);
    process.exit(1);
  });
}
