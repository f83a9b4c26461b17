// SPDX-License-Identifier: MIT
// TextEncoder, TextDecoder, atob, btoa, structuredClone, getRandomValues,
// randomUUID, DOMException: every result here must equal node's.
function units(s) {
    const r = [];
    for (let i = 0; i < s.length; i++)
        r.push(s.charCodeAt(i));
    return r;
}
function errName(f) {
    try {
        f();
        return 'no error';
    } catch (e) {
        return `${e.constructor.name}:${e.name}:${e instanceof Error}`;
    }
}
const seqs = [
    [], [0x41], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0x80], [0xbf, 0x41],
    [0xc0, 0x80], [0xc1, 0xbf], [0xc2], [0xc2, 0x41], [0xe0, 0x80, 0x80], [0xe0, 0xa0],
    [0xed, 0xa0, 0x80], [0xed, 0x9f, 0xbf], [0xef, 0xbb, 0xbf, 0x41], [0xef, 0xbb, 0xbf],
    [0xf0, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf4, 0x8f, 0xbf, 0xbf], [0xf5],
    [0xff, 0xfe], [0xf0, 0x9f, 0x98], [0xf0, 0x9f, 0x41], [0xe2, 0x28, 0xa1], [0x61, 0xf1, 0x80, 0x80],
    [0xef, 0xbf, 0xbd], [0xfe], [0xc3, 0xa9, 0xe2, 0x82],
];
function decoders() {
    const out = [];
    for (const s of seqs) {
        const b = new Uint8Array(s);
        out.push(units(new TextDecoder().decode(b)));
        out.push(units(new TextDecoder('utf-8', {ignoreBOM: true}).decode(b)));
        out.push(errName(() => new TextDecoder('utf-8', {fatal: true}).decode(b)));
    }
    return out;
}
function streaming() {
    const text = 'a\u00e9\u20ac\ud83d\ude00z\ufeff';
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]);
    const out = [];
    for (let cut = 0; cut <= bytes.length; cut++) {
        for (const ignoreBOM of [false, true]) {
            const d = new TextDecoder('utf-8', {ignoreBOM});
            const s = d.decode(bytes.subarray(0, cut), {stream: true}) + d.decode(bytes.subarray(cut));
            out.push(units(s).join(','));
        }
    }
    const d = new TextDecoder();
    let s = '';
    for (const b of bytes)
        s += d.decode(new Uint8Array([b]), {stream: true});
    s += d.decode();
    out.push(units(s).join(','));
    const t = new TextDecoder();
    out.push(units(t.decode(new Uint8Array([0xe2, 0x82]), {stream: true}) + t.decode()));
    return out;
}
function encoders() {
    const e = new TextEncoder();
    const strs = ['', 'abc', '\u00e9', '\u20ac', '\ud83d\ude00', '\ud800', '\udc00x', 'a\ud800\ud800b'];
    const out = strs.map((s) => Array.from(e.encode(s)));
    out.push(Array.from(e.encode()), Array.from(e.encode(undefined)), Array.from(e.encode(12.5)));
    for (const cap of [0, 1, 2, 3, 4, 5, 8]) {
        const dst = new Uint8Array(cap);
        const r = e.encodeInto('a\u00e9\ud83d\ude00', dst);
        out.push([r.read, r.written, Array.from(dst)]);
    }
    out.push(e.encoding, new TextDecoder().encoding, new TextDecoder(' UTF8 ').encoding);
    out.push(errName(() => new TextDecoder('latin2-nonexistent')));
    out.push(errName(() => e.encodeInto('x', [])));
    out.push(new TextDecoder('utf-8', {fatal: true}).fatal, new TextDecoder().ignoreBOM);
    out.push(new TextDecoder().decode(new Uint16Array([0x6968]).buffer));
    out.push(new TextDecoder().decode(new DataView(new Uint8Array([0x68, 0x69, 0x21]).buffer, 1)));
    out.push(errName(() => new TextDecoder().decode('text')));
    return out;
}
function base64() {
    const out = [];
    const strs = ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar', '\u00ff\u00fe\u0000', 'a\nb'];
    for (const s of strs)
        out.push(btoa(s), atob(btoa(s)) === s);
    const inputs = ['Zm9v', 'Zm9', 'Zm', 'Z', 'Zm9v====', 'Zm8=', 'Zm8', ' Z m 8 = ', 'Zm8==', 'Zh==',
                    'Zm9v\tYmFy\n', 'Zm_v', 'Zm-v', '=Zm8', 'Zm=8', 'YQ', 'YR==', '////', ''];
    for (const s of inputs) {
        try {
            out.push(units(atob(s)));
        } catch (e) {
            out.push(e.name);
        }
    }
    out.push(errName(() => btoa('\u0100')), errName(() => btoa('\ud83d')), atob(null) === '\u009e\u00e9e');
    out.push(btoa(12), errName(() => btoa()));
    return out;
}
function clones() {
    const a = {n: 1, s: 'x', b: true, u: undefined, nul: null, big: 10n, neg0: -0,
               d: new Date(86400000), re: /ab+c/gi, arr: [1, , 3], m: new Map([[1, {x: 1}]]),
               set: new Set(['a', 'b']), err: new RangeError('boom'), nested: {deep: [[[]]]},
               u8: new Uint8Array([1, 2, 3]), f64: new Float64Array([1.5]),
               boxed: [Object(1), Object('s'), Object(false), Object(5n)]};
    a.self = a;
    a.m.set('me', a.m);
    const buf = new ArrayBuffer(8);
    a.v1 = new Uint8Array(buf, 2, 3);
    a.v2 = new Uint16Array(buf, 4, 2);
    const c = structuredClone(a);
    const out = [
        c !== a, c.self === c, c.m.get('me') === c.m, c.m.get(1).x, [...c.set], c.d.getTime(),
        c.re.source, c.re.flags, c.re.lastIndex, c.arr.length, 1 in c.arr, 'u' in c, c.big === 10n,
        Object.is(c.neg0, -0), c.err instanceof RangeError, c.err.message, c.err.name,
        JSON.stringify(c.nested), Array.from(c.u8), c.u8 !== a.u8, c.f64[0],
        c.v1.buffer === c.v2.buffer, c.v1.byteOffset, c.v2.byteOffset, c.v1.buffer.byteLength,
        c.boxed.map((x) => typeof x + ':' + String(x.valueOf())), typeof c.boxed[3].valueOf(),
        Object.getPrototypeOf(c) === Object.prototype,
    ];
    class K {
        constructor() {
            this.x = 1;
        }
        get y() {
            return 2;
        }
    }
    const k = structuredClone(new K());
    out.push(k instanceof K, k.x, k.y, JSON.stringify(k));
    out.push(errName(() => structuredClone(() => 1)), errName(() => structuredClone(Symbol('s'))),
             errName(() => structuredClone({f() {}})), errName(() => structuredClone(new WeakMap())),
             errName(() => structuredClone(Promise.resolve(1))), errName(() => structuredClone()));
    out.push(structuredClone(5), structuredClone('s'), structuredClone(null));
    return out;
}
function randoms() {
    const out = [];
    for (const T of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
                     Uint32Array, BigInt64Array, BigUint64Array]) {
        const a = new T(16);
        out.push(crypto.getRandomValues(a) === a);
    }
    const big = new Uint8Array(65536);
    crypto.getRandomValues(big);
    out.push(big.some((x) => x !== 0));
    out.push(errName(() => crypto.getRandomValues(new Uint8Array(65537))));
    out.push(errName(() => crypto.getRandomValues(new Float32Array(4))));
    out.push(errName(() => crypto.getRandomValues(new Float64Array(4))));
    out.push(errName(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4)))));
    out.push(errName(() => crypto.getRandomValues()));
    out.push(crypto.getRandomValues(new Uint32Array(16384)).length);
    out.push(errName(() => crypto.getRandomValues(new Uint32Array(16385))));
    const ids = new Set();
    let shaped = true;
    for (let i = 0; i < 50; i++) {
        const id = crypto.randomUUID();
        ids.add(id);
        shaped = shaped && /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id);
    }
    out.push(ids.size, shaped);
    return out;
}
function domexceptions() {
    const e = new DOMException('msg', 'NotSupportedError');
    const d = new DOMException();
    return [e.name, e.message, e.code, e instanceof Error, String(e), d.name, d.message, d.code,
            new DOMException('x', 'QuotaExceededError').code, DOMException.DATA_CLONE_ERR,
            DOMException.prototype.SYNTAX_ERR, Object.keys(e).length, typeof e.stack,
            Object.prototype.toString.call(e), new DOMException('x', 'Custom').code];
}
async function main(input) {
    return {decoders: decoders(), streaming: streaming(), encoders: encoders(), base64: base64(),
            clones: clones(), randoms: randoms(), domexceptions: domexceptions()};
}
