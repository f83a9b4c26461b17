#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""wasm-diff.py - differential test of sealrun's WebAssembly engine against node's V8.

  scripts/wasm-diff.py replay [--driver D] [--node N] DIR_OR_FILE...
      Runs every .wasm given (or found in a directory) in both engines and compares the
      transcripts; exit 1 on any mismatch. ctest runs it over tests/fuzz/corpus/wasm_diff.

  scripts/wasm-diff.py campaign [--gen ttf|own|mix] [--seed S] [--count N | --minutes M]
                                [--keep DIR] [--driver D] [--node N] [--stats FILE]
      Generates valid modules, runs and compares them, keeps every module that does not
      agree (with both transcripts) in DIR, prints a summary line at the end.

  scripts/wasm-diff.py select --cov-driver D --cov-objdir O --out DIR CANDIDATE.wasm...
      Picks the fewest candidates (that agree) reaching every line and branch of
      wasm_compile.c and wasm_exec.c that all of them reach, measured with a driver
      built with gcc --coverage (docs/wasm.md says how); copies them to DIR.

Generators: 'ttf' is binaryen's `wasm-opt -ttf` on pseudo-random bytes (then one of
binaryen's optimisation levels, then --denan); 'own' is tests/fuzz/wasm_gen.py, aimed at
the rules of src/lib/wasm/wasm_compile.c; 'mix' alternates them.

What counts as agreement (docs/wasm.md, "Differential testing"): identical transcripts
(tests/fuzz/wasm_diff_driver.c describes them), where every NaN prints as 'nan' in
results, arguments and globals (the spec leaves NaN sign and payload open), and traps
compare by category. Inconclusive, neither agreement nor mismatch: a module where a
grow was refused by sealrun's own cap ('note: limit'), or where the transcripts agree up
to the first call that exhausted either engine's stack (their depth limits differ).
A module that only one engine rejects, a trap in one and a result in the other, a crash
or a hang of one engine only are mismatches.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
V8_JS = os.path.join(ROOT, 'tests', 'fuzz', 'wasm_diff_v8.js')
GEN_PY = os.path.join(ROOT, 'tests', 'fuzz', 'wasm_gen.py')
FEATURES = ['--enable-sign-ext', '--enable-nontrapping-float-to-int', '--enable-bulk-memory',
            '--enable-multivalue', '--enable-mutable-globals']
OPT_LEVELS = [[], ['-O1'], ['-O2'], ['-O3'], ['-Os'], ['-Oz']]
BATCH_TIMEOUT = 120
ONE_TIMEOUT = 20


def split_transcripts(text):
    """{module name: [lines]} from a multi-module transcript."""
    mods, cur, name = {}, None, None
    for line in text.splitlines():
        if line.startswith('module '):
            name, cur = line[7:], []
        elif line == 'end' and cur is not None:
            mods[name] = cur
            cur = None
        elif cur is not None:
            cur.append(line)
    return mods


def compare(ours, v8):
    """'same', 'limit', 'stack' or 'mismatch'."""
    if 'note: limit' in ours or 'note: limit' in v8:
        return 'limit'
    n = min(len(ours), len(v8))
    first = next((i for i in range(n) if ours[i] != v8[i]), None)
    if first is None and len(ours) == len(v8):
        return 'same'
    if first is None:
        first = n
    for lines in (ours, v8):
        k = next((i for i, l in enumerate(lines) if l == '=> trap stack'), None)
        if k is not None and k <= first:
            return 'stack'
    return 'mismatch'


def run(cmd, timeout):
    """(returncode or 'timeout', stdout, stderr)."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, check=False)
        return p.returncode, p.stdout.decode('utf-8', 'replace'), \
            p.stderr.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode('utf-8', 'replace') if e.stdout else ''
        return 'timeout', out, ''


class Engines:
    def __init__(self, driver, node):
        self.driver = driver
        self.node = node

    def ours(self, files, timeout):
        return run([self.driver] + files, timeout)

    def v8(self, files, timeout):
        return run([self.node, '--experimental-wasm-type-reflection', '--stack-size=900',
                    V8_JS] + files, timeout)

    def check(self, files):
        """[(file, verdict, our lines, v8 lines, detail)] for a batch of modules."""
        rc1, out1, err1 = self.ours(files, BATCH_TIMEOUT)
        rc2, out2, err2 = self.v8(files, BATCH_TIMEOUT)
        t1, t2 = split_transcripts(out1), split_transcripts(out2)
        res = []
        for f in files:
            b = os.path.basename(f)
            if rc1 == 0 and rc2 == 0 and b in t1 and b in t2:
                res.append((f, compare(t1[b], t2[b]), t1[b], t2[b], ''))
            else:
                res.append(self.check_one(f))
        return res

    def check_one(self, f):
        rc1, out1, err1 = self.ours([f], ONE_TIMEOUT)
        rc2, out2, err2 = self.v8([f], ONE_TIMEOUT)
        b = os.path.basename(f)
        a, v = split_transcripts(out1).get(b), split_transcripts(out2).get(b)
        if rc1 == 'timeout' and rc2 == 'timeout':
            return (f, 'timeout', [], [], 'both engines ran out of time')
        if a is None or v is None or rc1 != 0 or rc2 != 0:
            detail = 'sealrun rc %s: %s | node rc %s: %s' % (rc1, err1[-2000:], rc2, err2[-2000:])
            return (f, 'mismatch', out1.splitlines(), out2.splitlines(), detail)
        return (f, compare(a, v), a, v, '')


def find_driver(arg):
    if arg:
        return arg
    for d in ('build/asan', 'build/dev', 'build/release'):
        p = os.path.join(ROOT, d, 'tests', 'fuzz', 'wasm_diff_driver')
        if os.access(p, os.X_OK):
            return p
    sys.exit('wasm-diff: wasm_diff_driver not built (cmake --build build/asan '
             '--target wasm_diff_driver)')


def first_diff(a, b):
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else '<nothing>'
        y = b[i] if i < len(b) else '<nothing>'
        if x != y:
            return 'line %d: sealrun %r, V8 %r' % (i + 1, x, y)
    return 'no difference'


def cmd_replay(args):
    eng = Engines(find_driver(args.driver), args.node)
    files = []
    for p in args.paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith('.wasm'))
        else:
            files.append(p)
    if not files:
        sys.exit('wasm-diff: no .wasm files in %s' % ' '.join(args.paths))
    counts = {}
    bad = 0
    for f, verdict, a, v, detail in eng.check(files):
        counts[verdict] = counts.get(verdict, 0) + 1
        if verdict in ('mismatch', 'timeout'):
            bad += 1
            print('MISMATCH %s: %s %s' % (f, first_diff(a, v), detail))
    calls = 0
    print('wasm-diff replay: %d modules, %s; %d mismatched' %
          (len(files), ', '.join('%d %s' % (n, k) for k, n in sorted(counts.items())), bad))
    return 1 if bad else 0


def gen_ttf(rng, work, i):
    raw = os.path.join(work, 'in%d.bin' % i)
    with open(raw, 'wb') as fh:
        fh.write(bytes(rng.getrandbits(8) for _ in range(rng.choice([1024, 4096, 16384]))))
    m = os.path.join(work, 't%d.wasm' % i)
    opt = rng.choice(OPT_LEVELS)
    p = subprocess.run(['wasm-opt', '-ttf', raw] + FEATURES + opt + ['--denan', '-o', m],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    os.unlink(raw)
    return m if p.returncode == 0 else None


def gen_own(seed, work, i):
    m = os.path.join(work, 'g%d.wasm' % i)
    wat = m[:-5] + '.wat'
    p = subprocess.run([sys.executable, GEN_PY, '--seed', str(seed), '-o', wat],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode('utf-8', 'replace'))
        return None
    p = subprocess.run(['wat2wasm', wat, '-o', m], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        sys.stderr.write('wasm-diff: wat2wasm refused generated module (seed %s): %s\n' %
                         (seed, p.stderr.decode('utf-8', 'replace')[:500]))
        return None
    return m


def cmd_campaign(args):
    eng = Engines(find_driver(args.driver), args.node)
    if args.gen in ('ttf', 'mix') and not shutil.which('wasm-opt'):
        sys.exit('wasm-diff: wasm-opt not found (apt-get install binaryen; make bench-deps)')
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    work = tempfile.mkdtemp(prefix='wasm-diff-')
    start = time.time()
    stats = {'modules': 0, 'calls': 0, 'traps': 0, 'same': 0, 'mismatch': 0, 'stack': 0,
             'limit': 0, 'timeout': 0, 'genfail': 0, 'rejected': 0}
    n = 0
    last_report = start
    try:
        while True:
            if args.count and n >= args.count:
                break
            if args.minutes and time.time() - start >= args.minutes * 60:
                break
            batch = []
            for _ in range(args.batch):
                n += 1
                kind = args.gen if args.gen != 'mix' else ('ttf' if n % 2 else 'own')
                mseed = '%s-%d' % (args.seed, n)
                if kind == 'ttf':
                    m = gen_ttf(random.Random(mseed), work, n)
                else:
                    m = gen_own(mseed, work, n)
                if m is None:
                    stats['genfail'] += 1
                    continue
                batch.append((m, kind, mseed))
            for (f, verdict, a, v, detail), (_, kind, mseed) in zip(
                    eng.check([b[0] for b in batch]), batch):
                stats['modules'] += 1
                stats[verdict] += 1
                stats['calls'] += sum(1 for l in v if l.startswith('call '))
                stats['traps'] += sum(1 for l in v if l.startswith('=> trap'))
                if v and v[0] == 'compile: error' and a and a[0] == 'compile: error':
                    stats['rejected'] += 1
                if verdict in ('mismatch', 'timeout'):
                    print('MISMATCH %s (%s, seed %s): %s %s' %
                          (os.path.basename(f), kind, mseed, first_diff(a, v), detail[:300]),
                          flush=True)
                    if args.keep:
                        dst = os.path.join(args.keep, '%s-%s.wasm' % (kind, mseed))
                        shutil.copy(f, dst)
                        with open(dst[:-5] + '.sealrun.txt', 'w') as fh:
                            fh.write('\n'.join(a) + '\n' + detail + '\n')
                        with open(dst[:-5] + '.v8.txt', 'w') as fh:
                            fh.write('\n'.join(v) + '\n')
                os.unlink(f)
                w = f[:-5] + '.wat'
                if os.path.exists(w):
                    os.unlink(w)
            if time.time() - last_report > 300:
                last_report = time.time()
                print('progress: %.0f min, %s' % ((last_report - start) / 60, stats), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.time() - start
    line = ('wasm-diff campaign (gen %s, seed %s): %d modules in %.0f s, %d export calls '
            '(%d traps in V8), %d agree (%d rejected by both), %d mismatched, '
            '%d stack-limited, %d limit, %d timeouts, %d generator failures' %
            (args.gen, args.seed, stats['modules'], elapsed, stats['calls'], stats['traps'],
             stats['same'], stats['rejected'], stats['mismatch'], stats['stack'],
             stats['limit'], stats['timeout'], stats['genfail']))
    print(line, flush=True)
    if args.stats:
        with open(args.stats, 'a') as fh:
            fh.write(line + '\n')
    return 1 if stats['mismatch'] or stats['timeout'] else 0


def coverage_of(driver, objdir, f):
    """Lines and branches of wasm_compile.c and wasm_exec.c that module f reaches, from a
    driver built with gcc --coverage whose objects (and .gcda files) are in objdir."""
    import glob
    import json
    for g in glob.glob(os.path.join(objdir, '*.gcda')):
        os.unlink(g)
    run([driver, f], ONE_TIMEOUT)
    feats = set()
    p = subprocess.run(['gcov', '-b', '--stdout', '--json-format', 'wasm_compile.gcda',
                        'wasm_exec.gcda'], cwd=objdir, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=False)
    for doc in p.stdout.decode().splitlines():
        for src in json.loads(doc)['files']:
            name = os.path.basename(src['file'])
            for ln in src['lines']:
                if ln['count'] > 0:
                    feats.add((name, ln['line_number']))
                for k, br in enumerate(ln.get('branches', [])):
                    if br['count'] > 0:
                        feats.add((name, ln['line_number'], k))
    return feats


def cmd_select(args):
    """Greedy set cover: the fewest candidates that reach every line and branch of the
    compiler and the interpreter that all candidates together reach."""
    eng = Engines(find_driver(args.driver), args.node)
    cover = {}
    for f in args.candidates:
        verdict = eng.check([f])[0][1]
        if verdict != 'same':
            print('skipped %s: %s' % (f, verdict))
            continue
        cover[f] = coverage_of(args.cov_driver, args.cov_objdir, f)
    total = set().union(*cover.values()) if cover else set()
    chosen, have = [], set()
    while have != total:
        f = max(cover, key=lambda k: (len(cover[k] - have), -os.path.getsize(k)))
        gain = cover[f] - have
        if len(gain) < args.min_gain:
            break
        chosen.append(f)
        have |= gain
        print('%s: +%d (%d of %d)' % (os.path.basename(f), len(gain), len(have), len(total)))
    os.makedirs(args.out, exist_ok=True)
    for f in chosen:
        shutil.copy(f, os.path.join(args.out, args.prefix + os.path.basename(f)))
    print('wasm-diff select: %d of %d candidates reach %d of %d lines and branches' %
          (len(chosen), len(cover), len(have), len(total)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('replay')
    r.add_argument('--driver')
    r.add_argument('--node', default='node')
    r.add_argument('paths', nargs='+')
    c = sub.add_parser('campaign')
    c.add_argument('--driver')
    c.add_argument('--node', default='node')
    c.add_argument('--gen', choices=['ttf', 'own', 'mix'], default='mix')
    c.add_argument('--seed', default='1')
    c.add_argument('--count', type=int, default=0)
    c.add_argument('--minutes', type=float, default=0)
    c.add_argument('--batch', type=int, default=20)
    c.add_argument('--keep')
    c.add_argument('--stats')
    sl = sub.add_parser('select')
    sl.add_argument('--driver')
    sl.add_argument('--node', default='node')
    sl.add_argument('--cov-driver', required=True)
    sl.add_argument('--cov-objdir', required=True)
    sl.add_argument('--out', required=True)
    sl.add_argument('--prefix', default='')
    sl.add_argument('--min-gain', type=int, default=1)
    sl.add_argument('candidates', nargs='+')
    args = ap.parse_args()
    if args.cmd == 'campaign' and not args.count and not args.minutes:
        args.count = 200
    if args.cmd == 'select':
        return cmd_select(args)
    return cmd_replay(args) if args.cmd == 'replay' else cmd_campaign(args)


if __name__ == '__main__':
    sys.exit(main())
