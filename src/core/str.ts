// Espruino 2v29's String.indexOf scans past the last full position and reports a match
// where the string's tail is only a prefix of the needle ("abc".indexOf("cd") == 2).
// A real match always comes first, so checking the hit is enough.
export function find(s: string, n: string, i?: number): number {
  var k = s.indexOf(n, i);
  return k >= 0 && s.substr(k, n.length) == n ? k : -1;
}
