// npm test: build every profile (the gate runs as part of it), then run every test file
// under node's test runner. TypeScript tests load through tsx.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const only = process.argv.slice(2);
run("npm", ["run", "--silent", "build"]);
const files = only.length ? only : readdirSync("test").filter((f) => /\.test\.(mjs|ts)$/.test(f)).sort().map((f) => "test/" + f);
for (const v of ["ESPRUINO_BIN", "JERRY_BIN"]) {
  if (!process.env[v]) console.log(`note: ${v} is not set, so tests on that real runtime are skipped (see README "Real runtimes")`);
}
// --test-timeout is per file: with ESPRUINO_BIN set, a file runs its suite on three runtimes
run(process.execPath, ["--import", "tsx", "--test", "--test-timeout=600000", ...files]);
