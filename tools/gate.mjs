// The output gate: what Espruino 2v2x cannot run, found statically. Each rule is a fact from
// shared/espruino-notes.md §6 ("Missing or broken"); the build fails on any finding.
import * as acorn from "acorn";
import * as walk from "acorn-walk";

export const MISSING_GLOBALS = new Set([
  "Map", "Set", "WeakMap", "WeakSet", "WeakRef", "Symbol", "Proxy", "Reflect", "BigInt",
  "TextEncoder", "TextDecoder", "Buffer", "setImmediate", "queueMicrotask", "structuredClone",
  "RangeError", "EvalError", "URIError", "Intl", "FinalizationRegistry",
]);

// Static members Espruino lacks (notes §6.2), reached as `Owner.name`.
const MISSING_STATICS = {
  Array: ["from", "of"], Object: ["freeze", "seal", "is", "isFrozen"], String: ["fromCodePoint", "raw"],
  Number: ["isInteger", "isFinite", "isNaN", "parseInt", "parseFloat", "MAX_SAFE_INTEGER", "EPSILON"],
  Math: ["trunc", "log2", "log10", "hypot", "imul", "clz32", "cbrt", "fround"],
  Promise: ["race", "allSettled", "any"],
};

// `Array.prototype.slice` and friends are undefined on Espruino; `Object.prototype` works.
const PROTO_BROKEN = new Set(["Array", "String", "Function", "Number", "Boolean", "Date", "RegExp",
  "ArrayBuffer", "Uint8Array", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array",
  "Float32Array", "Float64Array", "Promise", "Error"]);

// TypeScript helpers that break without function hoisting or without Array.prototype.
const BROKEN_HELPERS = {
  __extends: "`class … extends` (TypeScript's __extends runs before the constructor is declared)",
  __spreadArray: "array spread `[...a]` (TypeScript's __spreadArray uses Array.prototype.slice)",
  __spread: "array spread `[...a]`",
  __read: "destructuring of an iterable (TypeScript's __read needs Symbol.iterator)",
  __values: "for…of with downlevelIteration (TypeScript's __values needs Symbol.iterator)",
  __generator: "a generator or async function (TypeScript's __generator calls verb() before declaring it)",
  __awaiter: "an async function", __asyncValues: "for await", __makeTemplateObject: "a tagged template",
};

const ES2015_NODES = {
  ArrowFunctionExpression: "an arrow function", ObjectPattern: "object destructuring",
  ArrayPattern: "array destructuring", SpreadElement: "spread `...`", RestElement: "rest parameters `...`",
  TemplateLiteral: "a template literal", ClassDeclaration: "a class", ClassExpression: "a class",
  ForOfStatement: "for…of", AssignmentPattern: "a default parameter", AwaitExpression: "await",
  YieldExpression: "yield", ChainExpression: "optional chaining `?.`", TaggedTemplateExpression: "a tagged template",
  ImportExpression: "import()", MetaProperty: "new.target / import.meta",
};

function describeNewSyntax(code) {
  let ast;
  try { ast = acorn.parse(code, { ecmaVersion: "latest", sourceType: "script", locations: true }); } catch { return null; }
  let found = null;
  walk.full(ast, (node) => {
    if (found) return;
    if (ES2015_NODES[node.type]) found = { what: ES2015_NODES[node.type], node };
    else if (node.type === "VariableDeclaration" && node.kind !== "var") found = { what: "`" + node.kind + "`", node };
    else if (node.type === "FunctionDeclaration" || node.type === "FunctionExpression") {
      if (node.generator) found = { what: "a generator function", node };
      else if (node.async) found = { what: "an async function", node };
    } else if (node.type === "Property" && (node.computed || node.shorthand || node.method)) {
      found = { what: node.computed ? "a computed property key" : node.shorthand ? "a shorthand property" : "a method shorthand", node };
    } else if (node.type === "BinaryExpression" && node.operator === "**") found = { what: "`**`", node };
    else if (node.type === "LogicalExpression" && node.operator === "??") found = { what: "`??`", node };
  });
  return found;
}

function declaredNames(ast) {
  const names = new Set();
  const addPattern = (p) => { if (p && p.type === "Identifier") names.add(p.name); };
  walk.full(ast, (node) => {
    if (node.type === "VariableDeclarator") addPattern(node.id);
    else if (node.type === "FunctionDeclaration" || node.type === "FunctionExpression") {
      if (node.id) names.add(node.id.name);
      node.params.forEach(addPattern);
    } else if (node.type === "CatchClause") addPattern(node.param);
  });
  return names;
}

/**
 * Problems in one piece of code: [{ msg, pos }] (pos = character offset).
 * opts.bundle: also require ES5 syntax and functions declared before other statements
 * (the final bundle, after terser's hoist_funs), and no function declarations inside blocks.
 */
export function findProblems(code, opts = {}) {
  const problems = [];
  let ast;
  try {
    ast = acorn.parse(code, { ecmaVersion: opts.bundle ? 5 : "latest", sourceType: opts.bundle ? "script" : "module", locations: true });
  } catch (e) {
    const newer = describeNewSyntax(code);
    if (newer) return [{ msg: `not ES5: ${newer.what}`, pos: newer.node.start }];
    return [{ msg: `does not parse as ES5: ${e.message.replace(/ \(\d+:\d+\)$/, "")}`, pos: e.pos }];
  }
  const declared = declaredNames(ast);
  walk.fullAncestor(ast, (node, _state, ancestors) => {
    const parent = ancestors[ancestors.length - 2];
    if (node.type === "Identifier") {
      const isKey = parent && ((parent.type === "MemberExpression" && parent.property === node && !parent.computed) ||
        (parent.type === "Property" && parent.key === node && !parent.computed));
      if (!isKey && MISSING_GLOBALS.has(node.name) && !declared.has(node.name)) {
        problems.push({ msg: `\`${node.name}\` does not exist on Espruino`, pos: node.start });
      }
      if (BROKEN_HELPERS[node.name] && !isKey) {
        problems.push({ msg: `uses ${BROKEN_HELPERS[node.name]}, which Espruino cannot run`, pos: node.start });
      }
    } else if (node.type === "MemberExpression" && !node.computed && node.object.type === "Identifier" && !declared.has(node.object.name)) {
      const owner = node.object.name, prop = node.property.name;
      if (prop === "prototype" && PROTO_BROKEN.has(owner) && parent && parent.type === "MemberExpression") {
        problems.push({ msg: `\`${owner}.prototype.${parent.property.name || "…"}\` is undefined on Espruino (use e.g. [].slice.call)`, pos: node.start });
      } else if (MISSING_STATICS[owner] && MISSING_STATICS[owner].includes(prop)) {
        problems.push({ msg: `\`${owner}.${prop}\` does not exist on Espruino`, pos: node.start });
      }
    } else if (node.type === "Literal" && node.regex) {
      const why = regexProblem(node.regex.pattern, node.regex.flags);
      if (why) problems.push({ msg: `regular expression /${node.regex.pattern}/: ${why}`, pos: node.start });
    } else if ((node.type === "NewExpression" || node.type === "CallExpression") && node.callee.type === "Identifier" && node.callee.name === "RegExp" && !declared.has("RegExp")) {
      // a pattern built at run time can't be checked: only plain string literals pass
      const [a, f] = node.arguments, lit = (x) => x && x.type === "Literal" && typeof x.value === "string";
      const why = lit(a) && (!f || lit(f)) ? regexProblem(a.value, f ? f.value : "") : "a pattern the gate can't read (use a literal)";
      if (why) problems.push({ msg: `RegExp(${a && a.type === "Literal" ? JSON.stringify(a.value) : "…"}): ${why}`, pos: node.start });
    }
  });
  if (opts.bundle) problems.push(...hoistingProblems(ast), ...varProblems(ast));
  const seen = new Set();
  return problems.filter((p) => { const k = p.msg + "@" + p.pos; return !seen.has(k) && seen.add(k); });
}

// Espruino's RegExp (src/jswrap_regexp.c, a small backtracking matcher) gets a subset right
// (notes §6.3): ^ $ . classes (ranges, negation) and the escapes \d \D \s \S \w \W \r \n \t
// \xHH and escaped punctuation, with * or + after one of those. It silently mis-matches ?,
// {n,m}, groups with alternation, \b, and lookarounds: those, and anything else, are refused.
// Chars >= 0x80 compare as negative numbers inside its classes, so a range crossing 0x7F/0x80
// matches nothing at all ([\x20-\xff] fails on "a" and on "\xe9"): classes must stay ASCII.
export function regexProblem(pattern, flags) {
  if (/[^gi]/.test(flags)) return `flag ${flags} (Espruino has g and i only)`;
  const ESC = /^\\(?:[dDsSwWrnt]|x[0-9a-fA-F]{2}|[-\\/.^$*+?()[\]{}|])/;
  let i = 0, atom = false;
  while (i < pattern.length) {
    const c = pattern[i], esc = ESC.exec(pattern.slice(i));
    if (c === "\\") {
      if (!esc) return `escape ${pattern.slice(i, i + 2)} (Espruino's matcher mis-reads it)`;
      i += esc[0].length; atom = true; continue;
    }
    if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "^") j++;
      for (; j < pattern.length && pattern[j] !== "]"; j++) {
        if (pattern[j] === "\\") {
          const e = ESC.exec(pattern.slice(j));
          if (!e) return `escape ${pattern.slice(j, j + 2)} in a class`;
          if (/^\\x[89a-fA-F]/.test(e[0])) return `${e[0]} in a class (bytes >= 0x80 compare as negative there)`;
          j += e[0].length - 1;
        } else if (pattern.charCodeAt(j) > 0x7e) return "a non-ASCII character in a class";
      }
      if (j >= pattern.length) return "an unterminated class";
      i = j + 1; atom = true; continue;
    }
    if (c === "*" || c === "+") {
      if (!atom) return `${c} after no single character or class`;
      i++; atom = false; continue;
    }
    if ("?{}()|".includes(c)) return `\`${c}\` (Espruino's matcher silently mis-matches it)`;
    if ((c === "^" && i) || (c === "$" && i !== pattern.length - 1)) return `${c} in the middle of the pattern`;
    atom = c !== "^" && c !== "$";
    i++;
  }
  return null;
}

// Espruino has no function hoisting: a declaration is only bound when it runs. A bundle is
// safe when, in every scope, function declarations come before any other statement.
function hoistingProblems(ast) {
  const problems = [];
  const checkBody = (body) => {
    let other = null;
    for (const st of body) {
      if (st.type === "FunctionDeclaration") {
        if (other) problems.push({ msg: `function ${st.id.name} is declared after other statements; Espruino has no hoisting`, pos: st.start });
      } else if (!(st.type === "ExpressionStatement" && st.directive)) other = st;
    }
  };
  checkBody(ast.body);
  walk.fullAncestor(ast, (node, _s, ancestors) => {
    if (node.type === "FunctionDeclaration" || node.type === "FunctionExpression") checkBody(node.body.body);
    if (node.type === "FunctionDeclaration") {
      const parent = ancestors[ancestors.length - 2];
      const inBody = parent && (parent.type === "Program" || (parent.type === "BlockStatement" &&
        ancestors[ancestors.length - 3] && /Function/.test(ancestors[ancestors.length - 3].type)));
      if (!inBody) problems.push({ msg: `function ${node.id.name} is declared inside a block`, pos: node.start });
    }
  });
  return problems;
}

// Nor does Espruino hoist `var` (2v29; test/gate.test.mjs shows it on Espruino for Linux): a
// variable is made when its statement runs, and until then its name is the outer one, which
// an assignment overwrites. Terser leaves declarations where this bites (`return t = 1,
// f(t); var t`: the module's own `t`, a function, becomes 1; build-lib.mjs's varHoistPlugin
// moves such bare ones). So in every function, each use of a name it
// declares with `var` must come after a declaration that has surely run: one earlier in the
// same statement list (a `for` initialiser counts as its loop statement). Uses in nested
// functions are left out: they usually run later.
function varProblems(ast) {
  const problems = [];
  const fns = [];
  walk.full(ast, (n) => { if (n.type === "FunctionDeclaration" || n.type === "FunctionExpression") fns.push(n); });
  for (const f of fns) {
    const given = new Set(f.params.map((p) => p.name)), decls = new Map(), refs = [];
    walk.fullAncestor(f.body, (node, _s, anc) => {
      // a nested function's name is bound where it is declared (hoistingProblems); what is
      // inside it is its own
      if (node.type === "FunctionDeclaration" && anc[anc.length - 2] === f.body) given.add(node.id.name);
      if (anc.slice(0, -1).some((a) => a.type === "FunctionDeclaration" || a.type === "FunctionExpression")) return;
      const parent = anc[anc.length - 2];
      if (node.type === "VariableDeclarator") {
        // the statement that declares it, and the list it sits in
        let i = anc.length - 2, st = anc[i];
        if (anc[i - 1] && /^For/.test(anc[i - 1].type) && anc[i - 1].body !== st) st = anc[--i];
        const box = anc[i - 1], list = box && (box.type === "BlockStatement" || box.type === "SwitchCase");
        if (!decls.has(node.id.name)) decls.set(node.id.name, []);
        decls.get(node.id.name).push({ at: st.start, end: list ? box.end : st.end, id: node.id });
      } else if (node.type === "Identifier") {
        const isKey = parent && ((parent.type === "MemberExpression" && parent.property === node && !parent.computed) ||
          (parent.type === "Property" && parent.key === node && !parent.computed) || parent.type === "CatchClause");
        if (!isKey) refs.push(node);
      }
    });
    for (const r of refs) {
      const ds = decls.get(r.name);
      if (!ds || given.has(r.name) || ds.some((d) => d.id === r || (r.start >= d.at && r.start < d.end))) continue;
      problems.push({ msg: `\`${r.name}\` is used before its \`var\` surely ran; Espruino has no var hoisting (the outer \`${r.name}\` is meant)`, pos: r.start });
    }
  }
  return problems;
}

/** 1-based line and column of a character offset. */
export function lineCol(code, pos) {
  const before = code.slice(0, pos);
  const line = before.split("\n").length;
  return { line, column: pos - before.lastIndexOf("\n") };
}
