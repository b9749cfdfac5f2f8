// test/vectors/*.json, baked into the self-test bundle at build time by tools/core-selftest.mjs.
declare module "sprat:vectors" {
  var vectors: { http: any; utf8: any; ws: any; zip: any };
  export default vectors;
}
