// SPDX-License-Identifier: MIT
// wasm_diff_v8.js - V8's side of the differential test (scripts/wasm-diff.py):
// prints, for each module, the transcript that tests/fuzz/wasm_diff_driver.c
// prints for sealrun (the format is described there).
//
// usage: node --experimental-wasm-type-reflection wasm_diff_v8.js FILE.wasm...
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const ROUNDS = 2;
// Keep in sync with args_* in wasm_diff_driver.c (IEEE bits for the floats).
const ARGS_I32 = [0, 1, -1, 0x7fffffff, -0x80000000, 31, 32, 63, 64, 0xffff, -65536, 7];
const ARGS_I64 = [0n, 1n, -1n, 0x7fffffffffffffffn, -0x8000000000000000n, 31n, 32n, 63n, 64n,
                  0xffffffffn, 0x100000000n, 7n];
const ARGS_F32 = [0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3f000000, 0x7f800000,
                  0xff800000, 0x4f000000, 0xcf000000, 0x3fc00000, 0x7f7fffff, 0x00000001];
const ARGS_F64 = [0x0000000000000000n, 0x8000000000000000n, 0x3ff0000000000000n,
                  0xbff0000000000000n, 0x3fe0000000000000n, 0x7ff0000000000000n,
                  0xfff0000000000000n, 0x41e0000000000000n, 0xc1e0000000000000n,
                  0x3ff8000000000000n, 0x7fefffffffffffffn, 0x0000000000000001n];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

function diffArg(type, round, exp, param) {
  const i = (round * 7 + exp * 3 + param * 5) % ARGS_I32.length;
  switch (type) {
  case 'i32': return ARGS_I32[i];
  case 'i64': return ARGS_I64[i];
  case 'f32': u32[0] = ARGS_F32[i]; return f32[0];
  case 'f64': u64[0] = ARGS_F64[i]; return f64[0];
  default: return null;
  }
}

function hex(v, width) {
  return v.toString(16).padStart(width, '0');
}

function fmt(type, v) {
  switch (type) {
  case 'i32': return 'i32:' + (v | 0);
  case 'i64': return 'i64:' + BigInt.asIntN(64, v);
  case 'f32':
    if (Number.isNaN(v)) return 'f32:nan';
    f32[0] = v;
    return 'f32:' + hex(u32[0], 8);
  case 'f64':
    if (Number.isNaN(v)) return 'f64:nan';
    f64[0] = v;
    return 'f64:' + hex(u64[0], 16);
  case 'funcref': case 'anyfunc': return 'funcref:' + (v === null ? 'null' : 'func');
  default: return 'externref:' + (v === null ? 'null' : 'extern');
  }
}

function fmtAll(types, vals) {
  return types.map((t, i) => fmt(t, vals[i])).join(', ');
}

function name(s) {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b > 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : '\\x' + hex(b, 2);
  }
  return out;
}

function zero(type) {
  switch (type) {
  case 'i32': case 'f32': case 'f64': return 0;
  case 'i64': return 0n;
  default: return null;
  }
}

// Keep in sync with trap_category() in wasm_diff_driver.c.
function trapCategory(e) {
  if (e instanceof RangeError && /call stack/.test(e.message)) return 'stack';
  if (!(e instanceof WebAssembly.RuntimeError)) return 'js:' + e.message;
  const m = e.message;
  if (m === 'unreachable') return 'unreachable';
  if (/memory access out of bounds|data segment .*out of bounds/.test(m)) return 'memory';
  if (/table index is out of bounds|element segment .*out of bounds|invalid index into function table/.test(m))
    return 'table';
  if (/divide by zero|remainder by zero/.test(m)) return 'divide_by_zero';
  if (/divide result unrepresentable|float unrepresentable in integer range/.test(m))
    return 'overflow_or_conversion';
  if (/null function|signature mismatch/.test(m)) return 'indirect_call';
  return 'other:' + m;
}

function out(line) {
  process.stdout.write(line + '\n');
}

function runModule(bytes) {
  let mod;
  try {
    mod = new WebAssembly.Module(bytes);
  } catch (e) {
    out('compile: error');
    process.stderr.write('wasm_diff_v8: ' + e.message + '\n');
    return;
  }
  const imports = {};
  for (const im of WebAssembly.Module.imports(mod)) {
    if (im.kind !== 'function') {
      out('instantiate: error');
      process.stderr.write('wasm_diff_v8: only function imports are supported\n');
      return;
    }
    const t = im.type;
    const label = name(im.module) + '.' + name(im.name);
    imports[im.module] = imports[im.module] || {};
    imports[im.module][im.name] = (...args) => {
      out('host ' + label + '(' + fmtAll(t.parameters, args) + ')');
      if (t.results.length === 0) return undefined;
      if (t.results.length === 1) return zero(t.results[0]);
      return t.results.map(zero);
    };
  }
  let inst;
  try {
    inst = new WebAssembly.Instance(mod, imports);
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
      out('instantiate: trap');
    } else {
      out('instantiate: error');
      process.stderr.write('wasm_diff_v8: ' + e.message + '\n');
    }
    return;
  }
  out('instantiate: ok');
  const exps = WebAssembly.Module.exports(mod);
  for (let r = 0; r < ROUNDS; r++) {
    let ord = 0;
    for (const e of exps) {
      if (e.kind !== 'function') continue;
      const t = e.type;
      const args = t.parameters.map((p, j) => diffArg(p, r, ord, j));
      ord++;
      process.stdout.write('call ' + name(e.name) + '#' + r + '(' + fmtAll(t.parameters, args) +
                           ')\n');
      let res;
      try {
        res = inst.exports[e.name](...args);
      } catch (err) {
        out('=> trap ' + trapCategory(err));
        continue;
      }
      const vals = t.results.length === 1 ? [res] : t.results.length === 0 ? [] : res;
      out('=> ' + fmtAll(t.results, vals));
    }
  }
  for (const e of exps) {
    const x = inst.exports[e.name];
    if (e.kind === 'global') {
      out('global ' + name(e.name) + ' = ' + fmt(e.type.value, x.value));
    } else if (e.kind === 'memory') {
      const b = new Uint8Array(x.buffer);
      const h = crypto.createHash('sha256').update(b).digest('hex');
      out('memory ' + name(e.name) + ' pages=' + b.length / 65536 + ' sha256=' + h);
    } else if (e.kind === 'table') {
      out('table ' + name(e.name) + ' size=' + x.length);
    }
  }
}

function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node --experimental-wasm-type-reflection wasm_diff_v8.js ' +
                         'FILE.wasm...\n');
    process.exit(2);
  }
  for (const f of files) {
    out('module ' + path.basename(f));
    runModule(fs.readFileSync(f));
    out('end');
  }
}

main();
