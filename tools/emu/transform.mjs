// Espruino has no function hoisting: `function f(){}` defines f only when the
// statement runs (EspruinoDocs info/Features.md "Function Hoisting: -"; checked on the
// 2v29 Linux binary: `typeof g` before `function g(){}` is "undefined").
// We rewrite every FunctionDeclaration in place into `var f = function f(){...};`
// so calling a function before its declaration ran fails here too. Line and column
// positions of the rest of the code are unchanged.
import * as acorn from "acorn";
import * as walk from "acorn-walk";
import MagicString from "magic-string";

export function noHoist(code) {
  const ast = acorn.parse(code, { ecmaVersion: "latest", sourceType: "script", allowHashBang: true });
  const s = new MagicString(code);
  walk.full(ast, (node) => {
    if (node.type !== "FunctionDeclaration" || !node.id) return;
    s.appendRight(node.start, `var ${node.id.name} = `);
    s.appendLeft(node.end, ";");
  });
  return s.toString();
}
