// Generated data (names only): the properties JerryScript v2.4.0 defines on its built-in
// objects, as Kaluma 1.2.1 builds it (kaluma-project/jerryscript @ 984c39fa, "v2.4.0-3",
// profile es.next). Read from jerry-core/ecma/builtin-objects/**/ecma-builtin-*.inc.h
// (ROUTINE, ACCESSOR, *_VALUE and INTRINSIC_PROPERTY entries, LIT_MAGIC_STRING_* names
// resolved through jerry-core/lit/lit-magic-strings.inc.h). realm.mjs deletes every other
// string-keyed property V8 has on these objects.
export const JERRY_BUILTINS = {
  "globalThis": "Array ArrayBuffer BigInt BigInt64Array BigUint64Array Boolean DataView Date Error EvalError Float32Array Float64Array Function Infinity Int16Array Int32Array Int8Array JSON Map Math NaN Number Object Promise Proxy RangeError ReferenceError Reflect RegExp Set String Symbol SyntaxError TypeError URIError Uint16Array Uint32Array Uint8Array Uint8ClampedArray WeakMap WeakSet decodeURI decodeURIComponent encodeURI encodeURIComponent escape eval globalThis isFinite isNaN parseFloat parseInt undefined unescape",
  "Object": "assign create defineProperties defineProperty entries freeze fromEntries getOwnPropertyDescriptor getOwnPropertyDescriptors getOwnPropertyNames getOwnPropertySymbols getPrototypeOf is isExtensible isFrozen isSealed keys length name preventExtensions prototype seal setPrototypeOf values",
  "Object.prototype": "__defineGetter__ __defineSetter__ __lookupGetter__ __lookupSetter__ __proto__ constructor hasOwnProperty isPrototypeOf propertyIsEnumerable toLocaleString toString valueOf",
  "Array": "from isArray length name of prototype",
  "Array.prototype": "concat constructor copyWithin entries every fill filter find findIndex flat flatMap forEach includes indexOf join keys lastIndexOf length map pop push reduce reduceRight reverse shift slice some sort splice toLocaleString toString unshift values",
  "String": "fromCharCode fromCodePoint length name prototype raw",
  "String.prototype": "charAt charCodeAt codePointAt concat constructor endsWith includes indexOf lastIndexOf length localeCompare match matchAll padEnd padStart repeat replace replaceAll search slice split startsWith substr substring toLocaleLowerCase toLocaleUpperCase toLowerCase toString toUpperCase trim trimEnd trimLeft trimRight trimStart valueOf",
  "Number": "EPSILON MAX_SAFE_INTEGER MAX_VALUE MIN_SAFE_INTEGER MIN_VALUE NEGATIVE_INFINITY NaN POSITIVE_INFINITY isFinite isInteger isNaN isSafeInteger length name parseFloat parseInt prototype",
  "Number.prototype": "constructor toExponential toFixed toLocaleString toPrecision toString valueOf",
  "Math": "E LN10 LN2 LOG10E LOG2E PI SQRT1_2 SQRT2 abs acos acosh asin asinh atan atan2 atanh cbrt ceil clz32 cos cosh exp expm1 floor fround hypot imul log log10 log1p log2 max min pow random round sign sin sinh sqrt tan tanh trunc",
  "JSON": "parse stringify",
  "Promise": "all length name prototype race reject resolve",
  "Promise.prototype": "catch constructor finally then",
  "Function.prototype": "apply arguments bind call caller constructor length name toString",
  "Date": "UTC length name now parse prototype",
  "Date.prototype": "constructor getDate getDay getFullYear getHours getMilliseconds getMinutes getMonth getSeconds getTime getTimezoneOffset getUTCDate getUTCDay getUTCFullYear getUTCHours getUTCMilliseconds getUTCMinutes getUTCMonth getUTCSeconds getYear setDate setFullYear setHours setMilliseconds setMinutes setMonth setSeconds setTime setUTCDate setUTCFullYear setUTCHours setUTCMilliseconds setUTCMinutes setUTCMonth setUTCSeconds setYear toDateString toGMTString toISOString toJSON toLocaleDateString toLocaleString toLocaleTimeString toString toTimeString toUTCString valueOf",
  "RegExp.prototype": "compile constructor dotAll exec flags global ignoreCase lastIndex multiline source sticky test toString unicode",
  "Map.prototype": "clear constructor delete entries forEach get has keys set size values",
  "Set.prototype": "add clear constructor delete entries forEach has keys size values",
  "Symbol": "asyncIterator for hasInstance isConcatSpreadable iterator keyFor length match matchAll name prototype replace search species split toPrimitive toStringTag unscopables",
  "Reflect": "apply construct defineProperty deleteProperty get getOwnPropertyDescriptor getPrototypeOf has isExtensible ownKeys preventExtensions set setPrototypeOf",
  "ArrayBuffer": "isView length name prototype",
  "ArrayBuffer.prototype": "byteLength constructor slice",
  "Object.getPrototypeOf(Uint8Array)": "from length name of prototype",
  "Object.getPrototypeOf(Uint8Array.prototype)": "buffer byteLength byteOffset constructor copyWithin entries every fill filter find findIndex forEach includes indexOf join keys lastIndexOf length map reduce reduceRight reverse set slice some sort subarray toLocaleString toString values",
  "Error.prototype": "constructor message name toString",
  "WeakMap.prototype": "constructor delete get has set",
  "WeakSet.prototype": "add constructor delete has",
  "BigInt": "length name prototype",
};
