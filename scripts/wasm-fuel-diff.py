#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""wasm-fuel-diff.py - fuel in the module charges what the interpreter charges.

  scripts/wasm-fuel-diff.py --driver D [--native CACHE_DIR] [--base-fuel L] [--arg A]...
                            [--args-file F] DIR_OR_FILE...

For every .wasm given (or found in a directory), runs tests/fuzz/wasm_diff_driver on the
original module with the interpreter's fuel (--fuel L) and on the module rewritten by
sr_wasm_fuel_instrument() (--fuel L --instrument: the module charges a global of its
own, the interpreter has no limit), and compares the two transcripts line for line:
every result, trap (an exhausted fuel global counts as "out of fuel"), the state at the
end and the gas after instantiation and after every call. L is first --base-fuel (default
0, no limit; fuzz inputs that may loop forever need one); from the gas G that run used,
then G, G - 1, G / 2, G / 3, 1000 and 1, so that the fuel runs out at many different
places. The driver runs each (limit, module) list in one process.

WASI commands run once per line of --args-file (each line: the arguments of argv[1..],
split on spaces; an empty line means none), or with the --arg values.

With --native, the second side is the native tier instead (--fuel L --native CACHE_DIR:
the module rewritten for it, compiled by wasm2c and cc, run natively with fuel L: WASI
commands with the service's glue, other modules with wabt's runtime and thunks of the
driver's for their imported functions, tests/fuzz/diff_native.c); the transcripts must be
equal in the same way, except that out-of-bounds memory and table traps and failed
indirect calls compare as one (wasm2c tells them apart no further). Modules with imports
other than functions, or reference types in an import or export, are skipped and counted
(docs/wasm.md "Two tiers").

A module that the engine rejects is skipped (counted). A module that cannot be
instrumented is a failure unless the engine's caps refused the result (counted). Exit 1
on any mismatch. docs/wasm.md, "Fuel in the module".
"""
import argparse
import os
import re
import subprocess
import sys

TIMEOUT = 300


def modules(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if not name.endswith('.md'):
                    yield os.path.join(p, name)
        else:
            yield p


NATIVE = None  # --native CACHE_DIR: the second side is the native tier
NATIVE_CHUNK = 40  # modules per driver process with --native (compiling takes a while)


def batch(driver, pairs, instrument, args):
    """[lines or None (the driver failed on it)] for [(limit, path)], one process per run
    (with --native at most NATIVE_CHUNK modules a process: each may compile)."""
    if NATIVE and instrument and len(pairs) > NATIVE_CHUNK:
        out = []
        for i in range(0, len(pairs), NATIVE_CHUNK):
            out += batch(driver, pairs[i:i + NATIVE_CHUNK], instrument, args)
        return out
    out, rest = [], list(pairs)
    while rest:
        second = (['--native', NATIVE] if NATIVE else ['--instrument']) if instrument else []
        cmd = [driver, '--fuel-each'] + second
        for a in args:
            cmd += ['--arg', a]
        for limit, path in rest:
            cmd += [str(limit), path]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        cur = None
        done = 0
        for line in p.stdout.splitlines():
            if line.startswith('module ') and cur is None:
                cur = []
            elif line == 'end' and cur is not None:
                out.append(cur)
                cur = None
                done += 1
            elif cur is not None:
                cur.append(line)
        if p.returncode == 0 and done == len(rest):
            break
        if done >= len(rest):
            out[-1] = None
            break
        out.append(None)  # the module it died on
        sys.stderr.write('driver failed on %s: %s\n' % (rest[done][1], p.stderr.strip()[-600:]))
        rest = rest[done + 1:]
    return out


def total_gas(lines):
    gas = 0
    for line in lines:
        if line.startswith('gas '):
            gas = int(line[4:])
        elif line.startswith('wasi ') and ' gas=' in line:
            gas = int(line.rsplit(' gas=', 1)[1])
    return gas


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return 'line %d: interpreter %r, instrumented %r' % (i + 1, x, y)
    return 'lengths %d and %d' % (len(a), len(b))


# wasm2c has one trap for out-of-bounds memory and table accesses and one for
# every way call_indirect fails (docs/wasm.md "The native tier's runtime"): with
# --native those three categories compare as one; every other line, gas included,
# stays exact.
NATIVE_SAME = re.compile(r'trap (memory|table|indirect_call)$')


def norm(lines):
    return [NATIVE_SAME.sub('trap memory|table|indirect_call', l) for l in lines]


def verdict(want, got, limit):
    """None if they agree; 'capped', or what differs."""
    if NATIVE and want is not None and got is not None:
        want, got = norm(want), norm(got)
    if want is None or got is None:
        return 'fuel %d: the driver failed (%s)' % (limit, 'interpreter' if want is None
                                                    else 'instrumented')
    if any(l.startswith('native: not supported') for l in got):
        return 'not-wasi'
    bad = [l for l in got if l.startswith('instrument: error') or l.startswith('native: error')]
    if bad:
        return 'capped' if ('exceed' in bad[0] or 'cap of' in bad[0]) else bad[0]
    if got != want:
        return 'fuel %d: %s' % (limit, first_diff(want, got))
    return None


def check_all(driver, paths, args, base_fuel):
    """{path: None | 'skip' | 'capped' | message}."""
    base = batch(driver, [(base_fuel, p) for p in paths], False, args)
    result, sweep = {}, []
    for path, lines in zip(paths, base):
        if lines is not None and 'compile: error' in lines:
            result[path] = 'skip'
            continue
        result[path] = None
        gas = total_gas(lines or [])
        limits = sorted({g for g in (gas, gas - 1, gas // 2, gas // 3, 1000, 1) if g > 0},
                        reverse=True)
        sweep.append((path, [base_fuel] + limits, lines))
    rounds = max((len(l) for _, l, _ in sweep), default=0)
    for k in range(rounds):
        todo = [(p, l[k], b) for p, l, b in sweep if k < len(l) and result[p] is None]
        pairs = [(limit, p) for p, limit, _ in todo]
        want = [b for _, _, b in todo] if k == 0 else batch(driver, pairs, False, args)
        got = batch(driver, pairs, True, args)
        for (path, limit, _), w, g in zip(todo, want, got):
            result[path] = verdict(w, g, limit)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--driver', required=True)
    ap.add_argument('--arg', action='append', default=[])
    ap.add_argument('--args-file')
    ap.add_argument('--base-fuel', type=int, default=0)
    ap.add_argument('--native', metavar='CACHE_DIR')
    ap.add_argument('paths', nargs='+')
    opts = ap.parse_args()
    global NATIVE
    NATIVE = opts.native
    arg_sets = [opts.arg]
    if opts.args_file:
        with open(opts.args_file, encoding='utf-8') as f:
            arg_sets = [l.split() for l in f.read().splitlines() if not l.startswith('#')]
    counts = {'agree': 0, 'skip': 0, 'capped': 0, 'mismatch': 0, 'not-wasi': 0}
    paths = list(modules(opts.paths))
    for args in arg_sets:
        for path, what in check_all(opts.driver, paths, args, opts.base_fuel).items():
            key = ('agree' if what is None else what if what in ('skip', 'capped', 'not-wasi')
                   else 'mismatch')
            counts[key] += 1
            if key == 'mismatch':
                print('MISMATCH %s [%s]: %s' % (os.path.basename(path), ' '.join(args), what))
    label = ' (native tier)' if NATIVE else ''
    extra = ', %(not-wasi)d not run natively (imports other than functions, reference types)' if NATIVE else ''
    print(('fuel-diff' + label + ': %(agree)d agree, %(mismatch)d mismatch, %(skip)d rejected '
           'by the engine, %(capped)d past a cap once instrumented' + extra) % counts)
    return 1 if counts['mismatch'] or not counts['agree'] else 0


if __name__ == '__main__':
    sys.exit(main())
