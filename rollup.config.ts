// One minified ES5 script per board profile: build/<profile>/app.min.js.
// `npm run build -- --environment PROFILE:host` builds a single profile.
import { loadProfiles } from "./tools/profiles.mjs";
import { bundleConfig } from "./tools/build-lib.mjs";

declare const process: { env: Record<string, string | undefined> };
const only = process.env.PROFILE;
const profiles = loadProfiles(process.env.SPRAT_PROFILES || "board-profiles").filter((p) => !only || p.name === only);
if (!profiles.length) throw new Error(`board-profiles/${only}.json: no such profile`);

export default profiles.map((p) => bundleConfig(p));
