// SPDX-License-Identifier: MIT
//
// web.js - the web platform globals a job's script has (docs/js.md, "Web
// platform APIs"): DOMException (WebIDL), TextEncoder and TextDecoder
// (WHATWG Encoding, UTF-8), atob and btoa (HTML, forgiving base64),
// structuredClone (HTML structured serialization, in one realm),
// crypto.getRandomValues and crypto.randomUUID (W3C Web Crypto).
//
// Embedded at build time (embed_preludes.cmake) and run in a job's context the
// first time its script touches one of these globals (js_web.c installs
// accessors that run it; it replaces them with data properties): the value
// of this file is a function called with the native helpers of js_web.c
// (N, never reachable from the guest) and the global object. It captures
// the intrinsics it relies on when it runs; a script that rewrote built-ins
// before that only changes its own results (the helpers check what they
// are given). It returns the internals subtle.js builds on.
(function (N, G) {
'use strict';
const O = Object;
const defineProperty = O.defineProperty;
const getPrototypeOf = O.getPrototypeOf;
const setPrototypeOf = O.setPrototypeOf;
const objectKeys = O.keys;
const objectCreate = O.create;
const freeze = O.freeze;
const ArrayBufferC = ArrayBuffer;
const Uint8ArrayC = Uint8Array;
const MapC = Map;
const SetC = Set;
const DateC = Date;
const RegExpC = RegExp;
const StringC = String;
const TypeErrorC = TypeError;
const RangeErrorC = RangeError;
const ErrorC = Error;
const ReflectApply = Reflect.apply;
const isView = ArrayBufferC.isView;
const TypedArray = getPrototypeOf(Uint8ArrayC);
const taBuffer = O.getOwnPropertyDescriptor(TypedArray.prototype, 'buffer').get;
const taByteOffset = O.getOwnPropertyDescriptor(TypedArray.prototype, 'byteOffset').get;
const taByteLength = O.getOwnPropertyDescriptor(TypedArray.prototype, 'byteLength').get;
const taLength = O.getOwnPropertyDescriptor(TypedArray.prototype, 'length').get;
const taTag = O.getOwnPropertyDescriptor(TypedArray.prototype, Symbol.toStringTag).get;
const dvBuffer = O.getOwnPropertyDescriptor(DataView.prototype, 'buffer').get;
const dvByteOffset = O.getOwnPropertyDescriptor(DataView.prototype, 'byteOffset').get;
const dvByteLength = O.getOwnPropertyDescriptor(DataView.prototype, 'byteLength').get;
const abByteLength = O.getOwnPropertyDescriptor(ArrayBufferC.prototype, 'byteLength').get;
const abSlice = ArrayBufferC.prototype.slice;
const u8Set = TypedArray.prototype.set;
const u8Subarray = TypedArray.prototype.subarray;
const u8Slice = TypedArray.prototype.slice;
const mapSet = MapC.prototype.set;
const mapGet = MapC.prototype.get;
const mapHas = MapC.prototype.has;
const mapForEach = MapC.prototype.forEach;
const setAdd = SetC.prototype.add;
const setForEach = SetC.prototype.forEach;
const dateGetTime = DateC.prototype.getTime;
const reSource = O.getOwnPropertyDescriptor(RegExpC.prototype, 'source').get;
const reFlags = O.getOwnPropertyDescriptor(RegExpC.prototype, 'flags').get;
const boolValueOf = Boolean.prototype.valueOf;
const numValueOf = Number.prototype.valueOf;
const strValueOf = StringC.prototype.valueOf;
const bigintValueOf = BigInt.prototype.valueOf;
const symbolValueOf = Symbol.prototype.valueOf;
const weakMapHas = WeakMap.prototype.has;
const weakSetHas = WeakSet.prototype.has;
const weakRefDeref = WeakRef.prototype.deref;
const arrayIsArray = Array.isArray;
const PromiseC = Promise;
const WeakMapC = WeakMap;
const viewCtors = {
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};
const DataViewC = DataView;
const errorCtors = {
    Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError,
};

function call(fn, self, ...args) {
    return ReflectApply(fn, self, args);
}

function hide(o, name, value) {
    defineProperty(o, name, {value, writable: true, enumerable: false, configurable: true});
}

// Hides class members from enumeration as WebIDL does, and names the
// class in Object.prototype.toString.
function webidl(cls, tag) {
    defineProperty(cls.prototype, Symbol.toStringTag, {value: tag, configurable: true});
    hide(G, tag, cls);
}

// ---- DOMException (WebIDL 2.8.1) ----

const legacyCodes = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
    InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8,
    NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12,
    InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20,
    URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23,
    InvalidNodeTypeError: 24, DataCloneError: 25,
};
const legacyConstants = [
    'INDEX_SIZE_ERR', 1, 'DOMSTRING_SIZE_ERR', 2, 'HIERARCHY_REQUEST_ERR', 3,
    'WRONG_DOCUMENT_ERR', 4, 'INVALID_CHARACTER_ERR', 5, 'NO_DATA_ALLOWED_ERR', 6,
    'NO_MODIFICATION_ALLOWED_ERR', 7, 'NOT_FOUND_ERR', 8, 'NOT_SUPPORTED_ERR', 9,
    'INUSE_ATTRIBUTE_ERR', 10, 'INVALID_STATE_ERR', 11, 'SYNTAX_ERR', 12,
    'INVALID_MODIFICATION_ERR', 13, 'NAMESPACE_ERR', 14, 'INVALID_ACCESS_ERR', 15,
    'VALIDATION_ERR', 16, 'TYPE_MISMATCH_ERR', 17, 'SECURITY_ERR', 18, 'NETWORK_ERR', 19,
    'ABORT_ERR', 20, 'URL_MISMATCH_ERR', 21, 'QUOTA_EXCEEDED_ERR', 22, 'TIMEOUT_ERR', 23,
    'INVALID_NODE_TYPE_ERR', 24, 'DATA_CLONE_ERR', 25,
];

class DOMException extends ErrorC {
    #name;
    #message;
    constructor(message = '', name = 'Error') {
        super();
        this.#message = `${message}`;
        this.#name = `${name}`;
    }
    get name() {
        return this.#name;
    }
    get message() {
        return this.#message;
    }
    get code() {
        const c = legacyCodes[this.#name];
        return typeof c === 'number' && O.hasOwn(legacyCodes, this.#name) ? c : 0;
    }
    static isDOMException(v) {
        return v !== null && typeof v === 'object' && #name in v;
    }
}
const isDOMException = DOMException.isDOMException;
delete DOMException.isDOMException;
for (let i = 0; i < legacyConstants.length; i += 2) {
    const d = {value: legacyConstants[i + 1], enumerable: true};
    defineProperty(DOMException, legacyConstants[i], d);
    defineProperty(DOMException.prototype, legacyConstants[i], d);
}
webidl(DOMException, 'DOMException');

function domError(name, message) {
    return new DOMException(message, name);
}

// ---- binary helpers ----

// The bytes of a BufferSource (ArrayBuffer or ArrayBufferView) as a fresh
// Uint8Array copy (Web IDL: "get a copy of the bytes held by"), or null.
function bytesOf(v) {
    if (v === null || typeof v !== 'object')
        return null;
    if (isView(v)) {
        let buf, off, len;
        try {
            buf = call(taBuffer, v);
            off = call(taByteOffset, v);
            len = call(taByteLength, v);
        } catch {
            buf = call(dvBuffer, v);
            off = call(dvByteOffset, v);
            len = call(dvByteLength, v);
        }
        return call(u8Slice, new Uint8ArrayC(buf, off, len));
    }
    try {
        call(abByteLength, v);
    } catch {
        return null;
    }
    return new Uint8ArrayC(call(abSlice, v, 0));
}

// ---- TextEncoder / TextDecoder (WHATWG Encoding 8.2, 8.1) ----

class TextEncoder {
    #brand = true;
    get encoding() {
        if (!(#brand in this))
            throw new TypeErrorC('TextEncoder.prototype.encoding: illegal invocation');
        return 'utf-8';
    }
    encode(input = '') {
        if (!(#brand in this))
            throw new TypeErrorC('TextEncoder.prototype.encode: illegal invocation');
        return N.utf8Encode(`${input}`);
    }
    encodeInto(source, destination) {
        if (!(#brand in this))
            throw new TypeErrorC('TextEncoder.prototype.encodeInto: illegal invocation');
        const s = `${source}`;
        let tag;
        try {
            tag = call(taTag, destination);
        } catch {
            tag = undefined;
        }
        if (tag !== 'Uint8Array')
            throw new TypeErrorC(
                "TextEncoder.encodeInto: 'destination' must be a Uint8Array");
        const r = N.utf8EncodeInto(s, destination);
        return {read: r[0], written: r[1]};
    }
}
webidl(TextEncoder, 'TextEncoder');

const utf8Labels = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8',
                    'x-unicode20utf8'];

// Bytes at the end of b[0..end) that begin a UTF-8 sequence still missing
// its last bytes (so a streaming decode keeps them for the next call).
function incompleteTail(b, end) {
    for (let back = 1; back <= 3 && back <= end; back++) {
        const lead = b[end - back];
        if (lead >= 0x80 && lead < 0xc0)
            continue;
        const need = lead >= 0xf0 && lead <= 0xf4 ? 4
                   : lead >= 0xe0 && lead <= 0xef ? 3
                   : lead >= 0xc2 && lead <= 0xdf ? 2 : 1;
        if (need <= back)
            return 0;
        if (back >= 2) {
            const second = b[end - back + 1];
            const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
            const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
            if (second < lo || second > hi)
                return 0;
        }
        return back;
    }
    return 0;
}

class TextDecoder {
    #fatal;
    #ignoreBOM;
    #pending = null;   // bytes of an incomplete sequence from a streaming call
    #bomSeen = false;
    #streaming = false;
    constructor(label = 'utf-8', options = undefined) {
        const l = call(strValueOf, `${label}`).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '')
                      .toLowerCase();
        if (!utf8Labels.includes(l))
            throw new RangeErrorC(`TextDecoder: the encoding '${label}' is not supported ` +
                                  "(a job's TextDecoder decodes utf-8 only)");
        const o = dictionary(options, 'TextDecoder');
        this.#fatal = !!o.fatal;
        this.#ignoreBOM = !!o.ignoreBOM;
    }
    get encoding() {
        this.#fatal;
        return 'utf-8';
    }
    get fatal() {
        return this.#fatal;
    }
    get ignoreBOM() {
        return this.#ignoreBOM;
    }
    decode(input = undefined, options = undefined) {
        const fatal = this.#fatal; // brand check first
        let bytes = input === undefined ? new Uint8ArrayC(0) : bytesOf(input);
        if (bytes === null)
            throw new TypeErrorC(
                "TextDecoder.decode: 'input' must be an ArrayBuffer or ArrayBufferView");
        const stream = !!dictionary(options, 'TextDecoder.decode').stream;
        if (!this.#streaming) {
            this.#pending = null;
            this.#bomSeen = false;
        }
        this.#streaming = stream;
        if (this.#pending !== null) {
            const all = new Uint8ArrayC(this.#pending.length + bytes.length);
            call(u8Set, all, this.#pending, 0);
            call(u8Set, all, bytes, this.#pending.length);
            bytes = all;
            this.#pending = null;
        }
        let end = bytes.length;
        if (stream) {
            const tail = incompleteTail(bytes, end);
            if (tail)
                this.#pending = call(u8Slice, bytes, end - tail);
            end -= tail;
        }
        let start = 0;
        if (!this.#bomSeen && end > 0) {
            this.#bomSeen = true;
            if (!this.#ignoreBOM && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb &&
                bytes[2] === 0xbf)
                start = 3;
        }
        const s = N.utf8Decode(call(u8Subarray, bytes, start, end), fatal);
        if (s === null) {
            this.#pending = null;
            this.#streaming = false;
            throw new TypeErrorC('TextDecoder.decode: the data is not valid utf-8 ' +
                                 '(this decoder was made with fatal: true)');
        }
        return s;
    }
}
webidl(TextDecoder, 'TextDecoder');

// A WebIDL dictionary argument: undefined/null -> {}, an object as it is,
// anything else a TypeError.
function dictionary(v, where) {
    if (v === undefined || v === null)
        return {};
    if (typeof v !== 'object' && typeof v !== 'function')
        throw new TypeErrorC(`${where}: the options argument must be an object`);
    return v;
}

// ---- atob / btoa (HTML 8.3) ----

function btoa(data) {
    if (arguments.length < 1)
        throw new TypeErrorC('btoa: 1 argument required, but only 0 present');
    const r = N.btoa(`${data}`);
    if (r === null)
        throw domError('InvalidCharacterError',
                       'btoa: the string contains characters outside of the Latin1 range');
    return r;
}

function atob(data) {
    if (arguments.length < 1)
        throw new TypeErrorC('atob: 1 argument required, but only 0 present');
    const r = N.atob(`${data}`);
    if (r === null)
        throw domError('InvalidCharacterError',
                       'atob: the string to be decoded is not correctly encoded base64');
    return r;
}
hide(G, 'btoa', btoa);
hide(G, 'atob', atob);

// ---- structuredClone (HTML 2.7.3, StructuredSerializeInternal) ----

// Hooks for platform objects other modules define (CryptoKey): each takes
// a value and returns its clone, or undefined when the value is not its kind.
const cloneHooks = [];

function cloneError(v) {
    let what;
    try {
        what = typeof v === 'function' ? `function ${v.name || '(anonymous)'}` :
               typeof v === 'symbol' ? 'a Symbol' : 'this object';
    } catch {
        what = 'this value';
    }
    return domError('DataCloneError', `structuredClone: ${what} could not be cloned`);
}

function brand(fn, v, ...args) {
    try {
        call(fn, v, ...args);
        return true;
    } catch {
        return false;
    }
}

function cloneBuffer(v, memory) {
    if (call(mapHas, memory, v))
        return call(mapGet, memory, v);
    const c = call(abSlice, v, 0);
    call(mapSet, memory, v, c);
    return c;
}

// Primitive wrappers, Date, RegExp, ArrayBuffer: the clone of v or undefined.
function clonePlainData(v, memory) {
    if (brand(boolValueOf, v))
        return O(call(boolValueOf, v));
    if (brand(numValueOf, v))
        return O(call(numValueOf, v));
    if (brand(bigintValueOf, v))
        return O(call(bigintValueOf, v));
    if (brand(strValueOf, v))
        return O(call(strValueOf, v));
    if (brand(symbolValueOf, v))
        throw cloneError(v);
    if (brand(dateGetTime, v))
        return new DateC(call(dateGetTime, v));
    if (brand(reSource, v))
        return new RegExpC(call(reSource, v), call(reFlags, v));
    if (brand(abByteLength, v))
        return cloneBuffer(v, memory);
    return undefined;
}

function cloneView(v, memory) {
    let tag;
    try {
        tag = call(taTag, v);
    } catch {
        tag = undefined;
    }
    if (tag !== undefined) {
        const b = cloneBuffer(call(taBuffer, v), memory);
        return new viewCtors[tag](b, call(taByteOffset, v), call(taLength, v));
    }
    if (brand(dvBuffer, v)) {
        const b = cloneBuffer(call(dvBuffer, v), memory);
        return new DataViewC(b, call(dvByteOffset, v), call(dvByteLength, v));
    }
    return undefined;
}

function cloneErrorObject(v) {
    let name = 'Error';
    let message;
    try {
        name = v.name;
        const d = O.getOwnPropertyDescriptor(v, 'message');
        if (d && 'value' in d)
            message = `${d.value}`;
    } catch {
        throw cloneError(v);
    }
    if (isDOMException(v))
        return new DOMException(v.message, v.name);
    const Ctor = O.hasOwn(errorCtors, name) ? errorCtors[name] : ErrorC;
    return message === undefined ? new Ctor() : new Ctor(message);
}

function isErrorObject(v) {
    for (let p = v; p !== null; p = getPrototypeOf(p))
        if (p === ErrorC.prototype)
            return true;
    return false;
}

function refuseUnserializable(v) {
    if (brand(weakMapHas, v, {}) || brand(weakSetHas, v, {}) || brand(weakRefDeref, v) ||
        v instanceof PromiseC)
        throw cloneError(v);
}

// NOLINT-free recursion: nesting is the guest's own data in its own stack;
// an over-deep value ends in the engine's RangeError, in the guest.
function cloneValue(v, memory) {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) {
        if (typeof v === 'symbol')
            throw cloneError(v);
        return v;
    }
    if (typeof v === 'function')
        throw cloneError(v);
    if (call(mapHas, memory, v))
        return call(mapGet, memory, v);
    let c = clonePlainData(v, memory);
    if (c === undefined && isView(v))
        c = cloneView(v, memory);
    for (let i = 0; c === undefined && i < cloneHooks.length; i++)
        c = cloneHooks[i](v);
    if (c !== undefined) {
        call(mapSet, memory, v, c);
        return c;
    }
    refuseUnserializable(v);
    if (isErrorObject(v)) {
        c = cloneErrorObject(v);
        call(mapSet, memory, v, c);
        return c;
    }
    if (v instanceof MapC) {
        c = new MapC();
        call(mapSet, memory, v, c);
        const entries = [];
        call(mapForEach, v, (val, key) => entries.push(key, val));
        for (let i = 0; i < entries.length; i += 2)
            call(mapSet, c, cloneValue(entries[i], memory), cloneValue(entries[i + 1], memory));
        return c;
    }
    if (v instanceof SetC) {
        c = new SetC();
        call(mapSet, memory, v, c);
        const items = [];
        call(setForEach, v, (val) => items.push(val));
        for (let i = 0; i < items.length; i++)
            call(setAdd, c, cloneValue(items[i], memory));
        return c;
    }
    c = arrayIsArray(v) ? new Array(v.length) : {};
    call(mapSet, memory, v, c);
    const keys = objectKeys(v);
    for (let i = 0; i < keys.length; i++)
        defineProperty(c, keys[i], {value: cloneValue(v[keys[i]], memory), writable: true,
                                    enumerable: true, configurable: true});
    return c;
}

function structuredClone(value, options = undefined) {
    if (arguments.length < 1)
        throw new TypeErrorC('structuredClone: 1 argument required, but only 0 present');
    const o = dictionary(options, 'structuredClone');
    if (o.transfer !== undefined) {
        const t = [...o.transfer];
        if (t.length)
            throw domError('DataCloneError',
                           "structuredClone: 'transfer' is not supported in a job " +
                           '(ArrayBuffers are copied, never moved)');
    }
    return cloneValue(value, new MapC());
}
hide(G, 'structuredClone', structuredClone);

// ---- crypto.getRandomValues / crypto.randomUUID (Web Crypto 10) ----

class Crypto {
    constructor() {
        throw new TypeErrorC('Illegal constructor');
    }
}
webidl(Crypto, 'Crypto');
const crypto = G.crypto;
// js_web.c's first-use accessors give way to the prototype's methods
delete crypto.getRandomValues;
delete crypto.randomUUID;
setPrototypeOf(crypto, Crypto.prototype);

function checkCrypto(self, what) {
    if (self !== crypto)
        throw new TypeErrorC(`Crypto.prototype.${what}: illegal invocation`);
}

hide(Crypto.prototype, 'getRandomValues', function getRandomValues(array) {
    checkCrypto(this, 'getRandomValues');
    if (arguments.length < 1)
        throw new TypeErrorC('crypto.getRandomValues: 1 argument required, but only 0 present');
    if (!isView(array))
        throw new TypeErrorC("crypto.getRandomValues: 'array' must be an ArrayBufferView");
    const rc = N.randomFill(array);
    if (rc === 1)
        throw domError('TypeMismatchError',
                       "crypto.getRandomValues: 'array' must be an integer-typed array " +
                       '(not Float32Array, Float64Array or DataView)');
    if (rc === 2)
        throw domError('QuotaExceededError',
                       `crypto.getRandomValues: 'array' is ${call(taByteLength, array)} ` +
                       'bytes, the limit is 65536 bytes');
    return array;
});

const hexDigits = '0123456789abcdef';
hide(Crypto.prototype, 'randomUUID', function randomUUID() {
    checkCrypto(this, 'randomUUID');
    const b = new Uint8ArrayC(16);
    N.randomFill(b);
    b[6] = (b[6] & 0x0f) | 0x40; // RFC 9562: version 4
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10
    let s = '';
    for (let i = 0; i < 16; i++) {
        if (i === 4 || i === 6 || i === 8 || i === 10)
            s += '-';
        s += hexDigits[b[i] >> 4] + hexDigits[b[i] & 15];
    }
    return s;
});

return freeze({DOMException, domError, bytesOf, dictionary, cloneHooks, webidl, hide, call,
               crypto, Crypto, TextEncoder, TextDecoder, atob, btoa});
})
