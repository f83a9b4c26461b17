#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""wasm_gen.py - random valid WebAssembly modules (WAT text) aimed at the rules of
sealrun's one-pass compiler (src/lib/wasm/wasm_compile.c), for the differential test
against V8 (scripts/wasm-diff.py).

  tests/fuzz/wasm_gen.py --seed S [-o FILE.wat]

The body of each function is a random walk over the operand stack: every step picks an
instruction that is valid for the types on top of the stack (or first pushes what it
needs), so the adjacencies the compiler's peepholes look at all occur: a compare right
before br_if / if / i32.eqz / select / drop, a constant right before a binary operator
(shift counts >= 32, INT_MIN, -1), local.get deferred past local.set / local.tee of the
same local, a producer followed by local.set, blocks, loops and ifs with parameters and
several results, br / br_if / br_table carrying values to outer labels, return from
nested blocks, calls with many arguments, and dead code after a branch. Constants are
taken from edge values (INT_MIN, -1, 0, NaN payloads, -0.0, 2^31, 2^63, ...).

Determinism: the spec lets NaN results carry any sign and payload, so before every place
where NaN bits become observable (f32/f64 stores, reinterpret, the sign operand of
copysign) the value is canonicalised (a NaN becomes the positive canonical NaN).
Results, host-call arguments and globals print every NaN as 'nan' in both drivers.

Termination (V8 has no fuel): every loop head decrements the global $bud and traps with
unreachable when it is 0; each exported wrapper "eN" sets $bud before calling fN. Direct
calls only go to functions with a lower index, call_indirect only to table entries with
a lower index (or to entries that trap), so there is no recursion.
"""
import argparse
import random
import struct
import sys

VT = ['i32', 'i64', 'f32', 'f64']
BUDGET = 200
PAGE = 65536
MAX_PAGES = 4

I32_EDGE = [0, 1, -1, -2, 2, 7, 31, 32, 33, 63, 64, 65, 255, 0xffff, 0x10000, 0x7fffffff,
            -0x80000000, -0x7fffffff, 0x55555555, -0x55555556, 1 << 24, 100, -100]
I64_EDGE = [0, 1, -1, 2, 31, 32, 33, 63, 64, 65, 127, 0xffffffff, 0x100000000, -0x80000000,
            0x7fffffff, 0x7fffffffffffffff, -0x8000000000000000, -0x7fffffffffffffff,
            0x5555555555555555, 1 << 53, (1 << 53) + 1, -(1 << 32), 100]
F_EDGE = ['0', '-0', '1', '-1', '0.5', '-0.5', '1.5', '2.5', '-2.5', '3.5', 'inf', '-inf',
          'nan', '-nan', 'nan:0x1', '-nan:0x2', 'nan:0x200000', '0x1p31', '-0x1p31',
          '0x1p32', '0x1p63', '-0x1p63', '0x1p64', '0x1.fffffep127', '0x1p-149', '0x1p-126',
          '4294967295', '2147483647', '-2147483649', '0x1.fffffffffffffp1023', '0x1p-1074',
          '9007199254740993', '-1e10', '1e-10', '0.1', '123456.789']

F32_EDGE = [v for v in F_EDGE if v not in ('0x1.fffffffffffffp1023', '0x1p-1074')]
UNOP = {
    'i32': ['clz', 'ctz', 'popcnt', 'extend8_s', 'extend16_s'],
    'i64': ['clz', 'ctz', 'popcnt', 'extend8_s', 'extend16_s', 'extend32_s'],
    'f32': ['abs', 'neg', 'ceil', 'floor', 'trunc', 'nearest', 'sqrt'],
    'f64': ['abs', 'neg', 'ceil', 'floor', 'trunc', 'nearest', 'sqrt'],
}
BINOP = {
    'i32': ['add', 'sub', 'mul', 'div_s', 'div_u', 'rem_s', 'rem_u', 'and', 'or', 'xor', 'shl',
            'shr_s', 'shr_u', 'rotl', 'rotr'],
    'f32': ['add', 'sub', 'mul', 'div', 'min', 'max', 'copysign'],
}
BINOP['i64'] = BINOP['i32']
BINOP['f64'] = BINOP['f32']
# the operators sealrun folds a constant into (const_variant in wasm_compile.c)
KOPS = ['add', 'sub', 'and', 'or', 'xor', 'shl', 'shr_s', 'shr_u', 'mul', 'rotl', 'rotr']
ICMP = ['eq', 'ne', 'lt_s', 'lt_u', 'gt_s', 'gt_u', 'le_s', 'le_u', 'ge_s', 'ge_u']
FCMP = ['eq', 'ne', 'lt', 'gt', 'le', 'ge']
# (instruction, from, to)
CONV = [('i32.wrap_i64', 'i64', 'i32'), ('i64.extend_i32_s', 'i32', 'i64'),
        ('i64.extend_i32_u', 'i32', 'i64'), ('f32.demote_f64', 'f64', 'f32'),
        ('f64.promote_f32', 'f32', 'f64'), ('f32.reinterpret_i32', 'i32', 'f32'),
        ('f64.reinterpret_i64', 'i64', 'f64'), ('i32.reinterpret_f32', 'f32', 'i32'),
        ('i64.reinterpret_f64', 'f64', 'i64')]
for it in ('i32', 'i64'):
    for ft in ('f32', 'f64'):
        for sg in ('s', 'u'):
            CONV.append(('%s.trunc_%s_%s' % (it, ft, sg), ft, it))
            CONV.append(('%s.trunc_sat_%s_%s' % (it, ft, sg), ft, it))
            CONV.append(('%s.convert_%s_%s' % (ft, it, sg), it, ft))
LOADS = {'i32': ['i32.load', 'i32.load8_s', 'i32.load8_u', 'i32.load16_s', 'i32.load16_u'],
         'i64': ['i64.load', 'i64.load8_s', 'i64.load8_u', 'i64.load16_s', 'i64.load16_u',
                 'i64.load32_s', 'i64.load32_u'],
         'f32': ['f32.load'], 'f64': ['f64.load']}
STORES = {'i32': ['i32.store', 'i32.store8', 'i32.store16'],
          'i64': ['i64.store', 'i64.store8', 'i64.store16', 'i64.store32'],
          'f32': ['f32.store'], 'f64': ['f64.store']}


class Frame:
    def __init__(self, kind, params, results, height):
        self.kind = kind  # 'func', 'block', 'loop', 'if', 'else'
        self.params = params
        self.results = results
        self.height = height  # stack height below the params
        self.unreach = False

    def label_types(self):
        return self.params if self.kind == 'loop' else self.results


class Func:
    def __init__(self, g, index, params, results):
        self.g = g
        self.r = g.r
        self.index = index
        self.params = params
        self.results = results
        self.locals = VT + [self.r.choice(VT) for _ in range(self.r.randint(0, 4))]
        self.r.shuffle(self.locals)
        self.all_locals = params + self.locals + ['f32', 'f64']  # last two: canonicalisation
        self.canon = {'f32': len(self.all_locals) - 2, 'f64': len(self.all_locals) - 1}
        self.out = []
        self.stack = []
        self.ctl = [Frame('func', [], results, 0)]

    # ---- emission and the type stack ------------------------------------------------
    def emit(self, text):
        self.out.append('  ' * len(self.ctl) + text)

    def top(self):
        return self.ctl[-1]

    def avail(self):
        """Values of the current frame on the stack."""
        return self.stack[self.top().height:]

    def push(self, t):
        self.stack.append(t)

    def pop(self):
        assert len(self.stack) > self.top().height
        return self.stack.pop()

    def top_is(self, types):
        a = self.avail()
        return len(a) >= len(types) and a[len(a) - len(types):] == list(types)

    # ---- values -----------------------------------------------------------------------
    def const(self, t):
        r = self.r
        if t == 'i32':
            v = r.choice(I32_EDGE) if r.random() < 0.8 else r.randint(-2**31, 2**31 - 1)
            self.emit('i32.const %d' % v)
        elif t == 'i64':
            v = r.choice(I64_EDGE) if r.random() < 0.8 else r.randint(-2**63, 2**63 - 1)
            self.emit('i64.const %d' % v)
        elif r.random() < 0.8:
            self.emit('%s.const %s' % (t, r.choice(F_EDGE if t == 'f64' else F32_EDGE)))
        else:
            self.emit('%s.const %r' % (t, r.uniform(-1e6, 1e6)))
        self.push(t)

    def locals_of(self, t):
        return [i for i, lt in enumerate(self.all_locals) if lt == t]

    def value(self, t, depth=0):
        """Emits a small expression that pushes one value of type t."""
        r = self.r
        k = r.random()
        if depth > 2 or k < 0.35:
            return self.const(t)
        if k < 0.6:
            self.emit('local.get %d' % r.choice(self.locals_of(t)))
            return self.push(t)
        if k < 0.68:
            self.emit('global.get $g%s' % t)
            return self.push(t)
        if k < 0.8:
            self.value(t, depth + 1)
            self.value(t, depth + 1)
            return self.binop(t)
        if k < 0.88:
            self.value(t, depth + 1)
            return self.unop(t)
        if k < 0.95:
            ins, frm, _ = r.choice([c for c in CONV if c[2] == t])
            self.value(frm, depth + 1)
            return self.conv(ins, frm, t)
        self.address()
        return self.load(t)

    def canonicalise(self, t):
        """NaN -> the canonical NaN, so its bits are the same in every engine."""
        s = self.canon[t]
        self.pop()
        self.emit('local.tee %d' % s)
        self.emit('%s.const nan' % t)
        self.emit('local.get %d' % s)
        self.emit('local.get %d' % s)
        self.emit('%s.eq' % t)
        self.emit('select')
        self.push(t)

    def unop(self, t):
        self.pop()
        self.emit('%s.%s' % (t, self.r.choice(UNOP[t])))
        self.push(t)

    def binop(self, t, op=None):
        op = op or self.r.choice(BINOP[t])
        if op == 'copysign':
            self.canonicalise(t)
        if op[:3] in ('div', 'rem') and t[0] == 'i' and self.r.random() < 0.6:
            self.emit('%s.const 1' % t)  # a divisor that is never 0
            self.emit('%s.or' % t)
        self.pop()
        self.pop()
        self.emit('%s.%s' % (t, op))
        self.push(t)

    def compare(self, t):
        self.pop()
        self.pop()
        self.emit('%s.%s' % (t, self.r.choice(ICMP if t[0] == 'i' else FCMP)))
        self.push('i32')

    def conv(self, ins, frm, to):
        if '.trunc_f' in ins and self.r.random() < 0.7:  # the trapping ones: less often
            ins = ins.replace('.trunc_', '.trunc_sat_')
        if 'reinterpret' in ins and frm[0] == 'f':
            self.canonicalise(frm)
        self.pop()
        self.emit(ins)
        self.push(to)

    def address(self):
        """Pushes an i32 address, usually inside the first page."""
        r = self.r
        if r.random() < 0.005:  # at or past the end of memory (traps unless grown)
            self.emit('i32.const %d' % r.choice([PAGE - 1, PAGE, PAGE * MAX_PAGES - 4, -1]))
            return self.push('i32')
        if r.random() < 0.3:
            self.emit('i32.const %d' % r.choice([0, 8, 100, 1024, 16, 64, 256, 1001, 32760]))
            return self.push('i32')
        self.value('i32', 2)
        if r.random() < 0.995:
            self.emit('i32.const 32767')
            self.emit('i32.and')

    def memarg(self):
        r = self.r
        off = r.choice([0, 0, 0, 1, 4, 8, 3]) if r.random() < 0.995 else r.choice(
            [65535, 65536, 4294967295])
        return ' offset=%d' % off if off else ''

    def load(self, t):
        self.pop()
        self.emit(self.r.choice(LOADS[t]) + self.memarg())
        self.push(t)

    def store(self):
        t = self.r.choice(VT)
        self.address()
        self.value(t, 1)
        if t[0] == 'f':
            self.canonicalise(t)
        self.pop()
        self.pop()
        self.emit(self.r.choice(STORES[t]) + self.memarg())

    def ensure(self, types):
        """Makes the top of the current frame's stack match types, reusing what is there."""
        a = self.avail()
        n = len(types)
        # the longest suffix of the stack that matches a prefix of types, reused
        keep = 0
        for k in range(min(len(a), n), 0, -1):
            if a[len(a) - k:] == list(types[:k]):
                keep = k
                break
        if keep == 0 and a and self.r.random() < 0.5:
            self.emit('drop')
            self.pop()
        for t in types[keep:]:
            self.value(t, 1)

    def fit_end(self, types):
        """Leaves exactly types on top of the current frame before end/else."""
        f = self.top()
        if f.unreach:
            while len(self.stack) > f.height:
                self.emit('drop')
                self.pop()
            return
        while self.avail() and not (len(self.avail()) <= len(types) and
                                    types[:len(self.avail())] == self.avail()):
            self.emit('drop')
            self.pop()
        for t in types[len(self.avail()):]:
            self.value(t, 1)

    def go_unreachable(self):
        f = self.top()
        del self.stack[f.height:]
        f.unreach = True

    # ---- control ----------------------------------------------------------------------
    def blocktype(self, params, results):
        s = ''
        if params:
            s += ' (param %s)' % ' '.join(params)
        if results:
            s += ' (result %s)' % ' '.join(results)
        return s

    def pick_params(self, extra=0):
        a = self.avail()
        room = len(a) - extra
        n = self.r.randint(0, min(2, room)) if room > 0 else 0
        return a[len(a) - extra - n:len(a) - extra] if n else []

    def rand_types(self, most=2):
        return [self.r.choice(VT) for _ in range(self.r.randint(0, most))]

    def cond(self):
        """Pushes an i32 condition made by an integer compare (the fused forms)."""
        r = self.r
        t = r.choice(['i32', 'i32', 'i64'])
        self.value(t, 2)
        if r.random() < 0.5:
            self.emit('%s.const %d' % (t, r.choice(I32_EDGE if t == 'i32' else I64_EDGE)))
            self.push(t)
        else:
            self.value(t, 2)
        self.compare(t)
        if r.random() < 0.2:
            self.pop()
            self.emit('i32.eqz')
            self.push('i32')

    def block(self, kind, budget):
        r = self.r
        if kind == 'if':
            if r.random() < 0.4:
                self.cond()
            self.ensure(['i32'])
            params = self.pick_params(extra=1)
            has_else = r.random() < 0.6
            results = self.rand_types() if has_else else list(params)
            self.pop()  # the condition
        else:
            params = self.pick_params()
            results = self.rand_types()
        self.emit('%s%s' % (kind, self.blocktype(params, results)))
        base = len(self.stack) - len(params)
        self.ctl.append(Frame(kind, params, results, base))
        if kind == 'loop':
            self.emit('global.get $bud')
            self.emit('i32.eqz')
            self.emit('if')
            self.emit('  unreachable')
            self.emit('end')
            self.emit('global.get $bud')
            self.emit('i32.const 1')
            self.emit('i32.sub')
            self.emit('global.set $bud')
        self.body(budget)
        if kind == 'loop' and r.random() < 0.5 and not self.top().unreach:
            self.fit_end(params)
            t = r.choice(['i32', 'i32', 'i64'])
            c = r.choice(self.locals_of(t))
            self.emit('local.get %d' % c)
            self.emit('%s.const 1' % t)
            self.emit('%s.add' % t)
            self.emit('local.tee %d' % c)
            if t == 'i32' and r.random() < 0.5:  # the compare-with-constant form
                self.emit('i32.const %d' % r.choice([3, 10, 100, 5, 20]))
            else:  # the two-slot form: the bound comes from a global
                self.emit('global.get $g%s' % t)
                self.emit('%s.const 15' % t)
                self.emit('%s.and' % t)
            self.emit('%s.%s' % (t, r.choice(['lt_s', 'lt_u', 'ne', 'le_s', 'gt_u', 'le_u',
                                              'ge_s', 'eq', 'gt_s', 'ge_u'])))
            self.emit('br_if 0')
        self.fit_end(results)
        if kind == 'if' and has_else:
            self.emit_dedent('else')
            del self.stack[base:]
            self.stack += params
            f = self.top()
            f.kind = 'else'
            f.unreach = False
            self.body(budget)
            self.fit_end(results)
        self.ctl.pop()
        del self.stack[base:]
        self.emit('end')
        self.stack += results

    def emit_dedent(self, text):
        self.out.append('  ' * (len(self.ctl) - 1) + text)

    def branch(self, kind):
        r = self.r
        depth = r.randint(0, len(self.ctl) - 1)
        target = self.ctl[len(self.ctl) - 1 - depth]
        lt = target.label_types()
        if kind == 'br_table':
            same = [d for d in range(len(self.ctl))
                    if self.ctl[len(self.ctl) - 1 - d].label_types() == lt]
            labels = [r.choice(same) for _ in range(r.randint(0, 4))] + [depth]
            self.ensure(lt + ['i32'])
            if r.random() < 0.5:  # a small index hits the labels, a large one the default
                self.emit('i32.const %d' % r.choice([0, 1, 2, 3, 5, -1]))
                self.emit('i32.and' if r.random() < 0.3 else 'i32.add')
            self.pop()
            self.emit('br_table %s' % ' '.join(str(d) for d in labels))
            self.go_unreachable()
            return
        if kind == 'br_if':
            self.ensure(lt)
            a = self.avail()
            if r.random() < 0.5 and not (a and a[-1] == 'i32' and r.random() < 0.3):
                self.cond()
            self.ensure(lt + ['i32'])
            self.pop()
            self.emit('br_if %d' % depth)
            return
        self.ensure(lt)
        self.emit('br %d' % depth)
        self.go_unreachable()

    def call(self):
        r = self.r
        g = self.g
        if self.index == 0 or r.random() < 0.25:
            j = r.randrange(len(g.funcs_sig))
            if j >= self.index:
                j = None
        else:
            j = r.randrange(self.index)
        if j is None:
            return
        params, results = g.funcs_sig[j]
        self.ensure(params)
        indirect = r.random() < 0.4
        if indirect:
            k = r.random()
            if k < 0.5:
                self.emit('i32.const %d' % j)
            elif k < 0.75 or self.index == 0:
                self.emit('i32.const %d' % r.choice([g.nfuncs, g.nfuncs + 1, g.table_size,
                                                      g.table_size + 5, -1]))
            else:  # any entry below this function: the right type or a type mismatch
                self.value('i32', 1)
                self.pop()
                self.emit('i32.const %d' % self.index)
                self.emit('i32.rem_u')
            self.emit('call_indirect (type $t%d)' % j)
        else:
            self.emit('call $f%d' % j)
        for _ in params:
            self.pop()
        self.stack += results

    def misc_memory(self):
        r = self.r
        k = r.random()
        if k < 0.3:
            self.emit('memory.size')
            self.push('i32')
        elif k < 0.5:
            self.emit('i32.const %d' % r.choice([0, 1, 1, 2, 5, 65536, -1]))
            self.emit('memory.grow')
            self.push('i32')
        else:
            op = r.choice(['memory.fill', 'memory.copy', 'memory.init 1', 'data.drop 1'])
            if op == 'data.drop 1':
                self.emit(op)
                return
            self.address()
            if op == 'memory.init 1':
                self.emit('i32.const %d' % r.choice([0, 1, 4, 8, 15, 16, 17]))
                self.push('i32')
                self.emit('i32.const %d' % r.choice([0, 0, 1, 4, 8]))
                self.pop()
                self.pop()
                self.emit(op)
                return
            else:
                self.address() if op == 'memory.copy' else self.value('i32', 2)
            self.emit('i32.const %d' % r.choice([0, 1, 7, 16, 64, 100, 8, 1000]))
            self.pop()
            self.pop()
            self.emit(op.split()[0] + (' 1' if op.endswith(' 1') else ''))

    def misc_ref(self):
        r = self.r
        g = self.g
        k = r.random()
        if k < 0.4:
            self.emit('table.size 0')
            self.push('i32')
            return
        if k < 0.7:
            self.emit('i32.const %d' % r.choice([0, 1, 0, 1, g.nfuncs, g.table_size - 1,
                                                  g.table_size]))
            self.emit('table.get 0')
        elif k < 0.85:
            self.emit('ref.func $f%d' % r.randrange(g.nfuncs))
        else:
            self.emit('ref.null func')
        self.emit('ref.is_null')
        self.push('i32')

    # ---- the random walk --------------------------------------------------------------
    def step(self, budget):
        r = self.r
        a = self.avail()
        t = a[-1] if a else None
        k = r.random()
        if k < 0.16:
            return self.const(r.choice(VT) if r.random() < 0.5 or not t else t)
        if k < 0.26:
            lt = r.choice(self.all_locals[:-2])
            self.emit('local.get %d' % r.choice(self.locals_of(lt)[:1] + self.locals_of(lt)))
            return self.push(lt)
        if k < 0.34 and t:
            if r.random() < 0.5:
                return self.compare(t) if self.top_is([t, t]) else self.const(t)
            if self.top_is([t, t]):
                return self.binop(t)
            return self.const(t)
        if k < 0.40 and t and t[0] == 'i' and self.top_is([t, t]):
            self.emit('%s.const %d' % (t, r.choice(I32_EDGE if t == 'i32' else I64_EDGE)))
            self.push(t)
            return self.binop(t, r.choice(KOPS)) if r.random() < 0.7 else self.compare(t)
        if k < 0.44 and t:
            if t[0] == 'i' and r.random() < 0.5:
                self.pop()
                self.emit('%s.eqz' % t)
                return self.push('i32')
            return self.unop(t)
        if k < 0.48 and t:
            ins, frm, to = r.choice([c for c in CONV if c[1] == t])
            return self.conv(ins, frm, to)
        if k < 0.54 and t:
            self.emit('drop')
            return self.pop()
        if k < 0.60 and t:
            x = r.choice(self.locals_of(t)) if t in self.all_locals else None
            if x is None:
                return None
            self.pop()
            if r.random() < 0.5:
                self.emit('local.set %d' % x)
            else:
                self.emit('local.tee %d' % x)
                self.push(t)
            return None
        if k < 0.63 and t:
            if t == 'i32' and len(a) >= 3 and a[-3] == a[-2] and a[-2] in VT:
                self.pop()
                self.pop()
                self.emit('select' if r.random() < 0.7 else 'select (result %s)' % a[-3])
                return None
            self.ensure([t, t, 'i32'])
            return None
        if k < 0.65 and t:
            self.pop()
            self.emit('global.set $g%s' % t)
            return None
        if k < 0.68:
            if t == 'i32' and r.random() < 0.5:
                self.emit('i32.const 32767')
                self.emit('i32.and')
                return self.load(r.choice(VT))
            return self.store()
        if k < 0.70:
            return self.misc_memory()
        if k < 0.72:
            return self.misc_ref()
        if k < 0.82 and budget > 4 and len(self.ctl) < 7:
            return self.block(r.choice(['block', 'block', 'loop', 'if', 'if']), budget // 3)
        if k < 0.90:
            return self.branch(r.choice(['br_if', 'br_if', 'br_if', 'br', 'br_table']))
        if k < 0.94:
            return self.call()
        if k < 0.95:
            self.ensure(self.results)
            self.emit('return')
            return self.go_unreachable()
        if k < 0.953:
            self.emit('unreachable')
            return self.go_unreachable()
        if k < 0.96:
            self.emit('nop')
            return None
        return self.pattern()

    def wide(self):
        """A block with more than 16 results (the compiler materialises such value lists
        instead of tracking them), left by a br_if or by its end, then folded to one."""
        r = self.r
        n = r.randint(17, 20)
        self.emit('block (result %s)' % ' '.join(['i32'] * n))
        self.ctl.append(Frame('block', [], ['i32'] * n, len(self.stack)))
        for _ in range(n):
            self.value('i32', 2)
        if r.random() < 0.7:
            self.cond()
            self.pop()
            self.emit('br_if 0')
            if r.random() < 0.5:
                x = r.choice(self.locals_of('i32'))
                self.emit('i32.const 77')
                self.emit('local.set %d' % x)
        self.ctl.pop()
        self.emit('end')
        for _ in range(n - 1):
            self.emit('i32.%s' % r.choice(['add', 'xor', 'sub', 'rotl']))
            self.pop()

    def tables(self):
        """table.set/grow/fill/copy/init and elem.drop on table 1, which call_indirect
        never uses (so no function can reach one with a higher index through it)."""
        r = self.r
        g = self.g
        k = r.randrange(6)
        idx = lambda: self.emit('i32.const %d' % r.choice([0, 1, 2, 3, 4, 5, 8, -1]))
        ref = lambda: self.emit(r.choice(['ref.null func', 'ref.func $f%d' % r.randrange(g.nfuncs),
                                          'i32.const 1\n    table.get 1']))
        if k == 0:
            idx(); ref(); self.emit('table.set 1')
        elif k == 1:
            ref(); self.emit('i32.const %d' % r.choice([0, 1, 2, 1000, -1]))
            self.emit('table.grow 1')
            self.push('i32')
        elif k == 2:
            idx(); ref(); idx(); self.emit('table.fill 1')
        elif k == 3:
            idx(); idx(); idx(); self.emit('table.copy 1 %d' % r.choice([0, 1]))
        elif k == 4:
            idx(); idx(); idx(); self.emit('table.init 1 1')
        else:
            self.emit('elem.drop 1')

    def pattern(self):
        """Fixed sequences right at the compiler's peepholes, with random operands."""
        r = self.r
        p = r.randrange(8)
        if p == 6:
            return self.wide()
        if p == 7:
            return self.tables()
        t = r.choice(['i32', 'i64'])
        if p == 0:  # issue 9 item 7: the compare is dropped, br_if tests what is below
            self.value('i32', 1)
            self.value(t, 2)
            self.value(t, 2)
            self.compare(t)
            self.emit('drop')
            self.pop()
            self.pop()
            self.emit('br_if 0' if not self.top().label_types() else 'drop')
        elif p == 1:  # compare, eqz, branch: the inverted compare fused into br_if
            self.value(t, 2)
            self.value(t, 2)
            self.compare(t)
            self.pop()
            self.emit('i32.eqz')
            self.push('i32')
            if not self.top().label_types():
                self.pop()
                self.emit('br_if 0')
        elif p == 2:  # deferred local.get across local.set of the same local
            x = r.choice(self.locals_of(t) or [None])
            if x is None:
                return
            self.emit('local.get %d' % x)
            self.push(t)
            self.value(t, 1)
            self.emit('local.set %d' % x)
            self.pop()
            self.emit('local.get %d' % x)
            self.push(t)
            self.binop(t)
        elif p == 3:  # a producer written straight into a local it reads
            x = r.choice(self.locals_of(t) or [None])
            if x is None:
                return
            self.emit('local.get %d' % x)
            self.push(t)
            self.emit('%s.const %d' % (t, r.choice(I32_EDGE)))
            self.push(t)
            self.binop(t, r.choice(KOPS))
            self.pop()
            self.emit('local.tee %d' % x if r.random() < 0.5 else 'local.set %d' % x)
            if self.out[-1].strip().startswith('local.tee'):
                self.push(t)
        elif p == 4:  # compare with a constant, then if
            self.value(t, 2)
            self.emit('%s.const %d' % (t, r.choice(I32_EDGE)))
            self.push(t)
            self.compare(t)
            self.pop()
            self.emit('if')
            self.ctl.append(Frame('if', [], [], len(self.stack)))
            self.value('i32', 1)
            self.emit('global.set $gi32')
            self.pop()
            self.ctl.pop()
            self.emit('end')
        else:  # select on a compare
            self.value(t, 1)
            self.value(t, 1)
            self.value('i32', 1)
            self.value('i32', 1)
            self.compare('i32')
            self.pop()
            self.pop()
            self.pop()
            self.emit('select')
            self.push(t)

    def body(self, budget):
        n = self.r.randint(1, max(1, budget))
        for _ in range(n):
            self.step(budget)

    def render(self):
        self.body(self.r.randint(5, 60))
        self.fit_end(self.results)
        sig = ''
        if self.params:
            sig += ' (param %s)' % ' '.join(self.params)
        if self.results:
            sig += ' (result %s)' % ' '.join(self.results)
        head = '  (func $f%d (type $t%d)%s' % (self.index, self.index, sig)
        locs = '    (local %s)' % ' '.join(self.all_locals[len(self.params):])
        return '\n'.join([head, locs] + ['  ' + l for l in self.out] + ['  )'])


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def module(self):
        r = self.r
        self.nfuncs = r.randint(2, 6)
        self.table_size = self.nfuncs + 2  # two null entries
        wide = lambda lo, hi, most: r.randint(0, hi) if r.random() < 0.9 else r.randint(lo, most)
        self.funcs_sig = [([r.choice(VT) for _ in range(wide(5, 4, 20))],
                           [r.choice(VT) for _ in range(wide(4, 3, 10))])
                          for _ in range(self.nfuncs)]
        out = ['(module']
        for i, (p, res) in enumerate(self.funcs_sig):
            out.append('  (type $t%d (func%s%s))' % (
                i, ' (param %s)' % ' '.join(p) if p else '',
                ' (result %s)' % ' '.join(res) if res else ''))
        out.append('  (import "env" "log_i32" (func $log_i32 (param i32)))')
        out.append('  (import "env" "log_f64" (func $log_f64 (param f64 i64)))')
        out.append('  (memory (export "mem") 1 %d)' % MAX_PAGES)
        out.append('  (table (export "tab") %d funcref)' % self.table_size)
        out.append('  (table (export "tab1") 4 funcref)')
        out.append('  (global $bud (export "bud") (mut i32) (i32.const 0))')
        for t in VT:
            out.append('  (global $g%s (export "g%s") (mut %s) (%s.const %s))' % (
                t, t, t, t, r.choice(['0', '1', '-1', '7'])))
        data = bytes(r.getrandbits(8) for _ in range(64))
        out.append('  (data (i32.const %d) "%s")' % (r.choice([0, 16, 65472]),
                                                    ''.join('\\%02x' % b for b in data)))
        out.append('  (data "%s")' % ''.join('\\%02x' % b for b in data[:16]))
        out.append('  (elem (i32.const 0) func %s)' % ' '.join(
            '$f%d' % i for i in range(self.nfuncs)))
        out.append('  (elem func %s)' % ' '.join(
            '$f%d' % r.randrange(self.nfuncs) for _ in range(3)))
        for i, (p, res) in enumerate(self.funcs_sig):
            f = Func(self, i, p, res)
            out.append(f.render())
            out.append('  (func (export "e%d")%s%s' % (
                i, ' (param %s)' % ' '.join(p) if p else '',
                ' (result %s)' % ' '.join(res) if res else ''))
            out.append('    i32.const %d\n    global.set $bud' % BUDGET)
            if r.random() < 0.3:  # the host sees a value before the call
                out.append('    global.get $gi32\n    call $log_i32')
            for j in range(len(p)):
                out.append('    local.get %d' % j)
            out.append('    call $f%d' % i)
            if r.random() < 0.3:
                out.append('    global.get $gf64\n    global.get $gi64\n    call $log_f64')
            out.append('  )')
        out.append(')')
        return '\n'.join(out) + '\n'


def main():
    ap = argparse.ArgumentParser(description='random modules for scripts/wasm-diff.py')
    ap.add_argument('--seed', required=True)
    ap.add_argument('-o', '--output')
    args = ap.parse_args()
    text = Gen(args.seed).module()
    if args.output:
        with open(args.output, 'w') as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
