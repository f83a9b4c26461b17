// SPDX-License-Identifier: MIT
//
// js_fetch.js - the web platform's fetch for a job (docs/js.md, docs/http.md):
// URL and URLSearchParams (WHATWG URL Standard), Headers, Request, Response,
// AbortController and AbortSignal (WHATWG Fetch and DOM Standards), fetch.
// Embedded into sealrun at build time (embed_preludes.cmake) and evaluated in
// a job's global object when the job first uses one of the names it defines
// (js_web.c puts first-use accessors there), and called once with the host
// functions of js_fetch.c:
//   request(method, url, headers, body, timeoutMs, redirect) -> result
//     headers: [name, value, ...]; body: Uint8Array or undefined;
//     result: {status, url, redirected, headers: [name, value, ...], body}
//     or {error: "HTTP_DENIED" | ..., message}
//   utf8Decode(bytes) -> string (invalid UTF-8 becomes U+FFFD)
//   utf8Encode(string) -> Uint8Array (lone surrogates become U+FFFD)
// The request itself is made by the supervisor (the job process has no
// socket); the call blocks until the answer is back, and fetch returns a
// settled promise.
(function (native) {
  "use strict";
  const G = globalThis;
  const request = native.request;
  const utf8Decode = native.utf8Decode;
  const utf8Encode = native.utf8Encode;
  const define = Object.defineProperty;

  function hidden(obj, props) {
    for (const k of Reflect.ownKeys(props))
      define(obj, k, { value: props[k], writable: true, configurable: true, enumerable: false });
  }
  // over the first-use accessor of js_web.c; a name the script assigned first stays its own
  function expose(name, value) {
    const d = Object.getOwnPropertyDescriptor(G, name);
    if (d && !d.get) return;
    define(G, name, { value, writable: true, configurable: true, enumerable: false });
  }
  function tag(cls, name) {
    define(cls.prototype, Symbol.toStringTag, { value: name, configurable: true });
  }
  function usv(s) {
    s = String(s);
    return typeof s.toWellFormed === "function" ? s.toWellFormed() : s;
  }

  // ---- percent-encoding (URL Standard 1.3) ----

  const HEX = "0123456789ABCDEF";
  const C0 = (c) => c < 0x20 || c > 0x7e;
  const FRAGMENT = (c) => C0(c) || c === 0x20 || c === 0x22 || c === 0x3c || c === 0x3e || c === 0x60;
  const QUERY = (c) => C0(c) || c === 0x20 || c === 0x22 || c === 0x23 || c === 0x3c || c === 0x3e;
  const SPECIAL_QUERY = (c) => QUERY(c) || c === 0x27;
  const PATH = (c) => QUERY(c) || c === 0x3f || c === 0x60 || c === 0x7b || c === 0x7d;
  const USERINFO = (c) =>
    PATH(c) || c === 0x2f || c === 0x3a || c === 0x3b || c === 0x3d || c === 0x40 ||
    (c >= 0x5b && c <= 0x5e) || c === 0x7c;
  const COMPONENT = (c) => USERINFO(c) || (c >= 0x24 && c <= 0x26) || c === 0x2b || c === 0x2c;
  const FORM = (c) =>
    !((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x2a || c === 0x2d || c === 0x2e || c === 0x5f);

  function encode(s, set, spaceAsPlus) {
    let out = "";
    let ascii = true;
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) { ascii = false; break; }
    if (ascii) {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (spaceAsPlus && c === 0x20) out += "+";
        else if (set(c)) out += "%" + HEX[c >> 4] + HEX[c & 15];
        else out += s[i];
      }
      return out;
    }
    const b = utf8Encode(s);
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (spaceAsPlus && c === 0x20) out += "+";
      else if (set(c)) out += "%" + HEX[c >> 4] + HEX[c & 15];
      else out += String.fromCharCode(c);
    }
    return out;
  }

  function hexval(c) {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x41 && c <= 0x46) return c - 0x37;
    if (c >= 0x61 && c <= 0x66) return c - 0x57;
    return -1;
  }

  // percent-decode (bytes of the UTF-8 of s), then UTF-8 decode
  function decodeBytes(s) {
    const b = utf8Encode(s);
    const out = new Uint8Array(b.length);
    let n = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] === 0x25 && i + 2 < b.length + 0 && hexval(b[i + 1]) >= 0 && hexval(b[i + 2]) >= 0) {
        out[n++] = hexval(b[i + 1]) * 16 + hexval(b[i + 2]);
        i += 2;
      } else {
        out[n++] = b[i];
      }
    }
    return out.subarray(0, n);
  }
  const decode = (s) => utf8Decode(decodeBytes(s));

  // ---- hosts (URL Standard 3.5) ----

  function ipv4Part(p) {
    if (p === "") return NaN;
    let radix = 10;
    if (p.length >= 2 && (p.startsWith("0x") || p.startsWith("0X"))) { radix = 16; p = p.slice(2); }
    else if (p.length >= 2 && p[0] === "0") { radix = 8; p = p.slice(1); }
    if (p === "") return 0;
    const re = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
    if (!re.test(p)) return NaN;
    return parseInt(p, radix);
  }

  function endsInNumber(host) {
    const parts = host.split(".");
    if (parts[parts.length - 1] === "") { if (parts.length === 1) return false; parts.pop(); }
    const last = parts[parts.length - 1];
    if (last !== "" && /^[0-9]+$/.test(last)) return true;
    return /^0[xX][0-9a-fA-F]*$/.test(last);
  }

  function parseIPv4(host) {
    const parts = host.split(".");
    if (parts[parts.length - 1] === "" && parts.length > 1) parts.pop();
    if (parts.length > 4) return null;
    const nums = parts.map(ipv4Part);
    if (nums.some((x) => Number.isNaN(x))) return null;
    for (let i = 0; i < nums.length - 1; i++) if (nums[i] > 255) return null;
    if (nums[nums.length - 1] >= 256 ** (5 - nums.length)) return null;
    let v = nums[nums.length - 1];
    for (let i = 0; i < nums.length - 1; i++) v += nums[i] * 256 ** (3 - i);
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
  }

  function parseIPv6(s) {
    const a = [0, 0, 0, 0, 0, 0, 0, 0];
    let piece = 0, compress = null, i = 0;
    const c = (k) => s.charCodeAt(k);
    if (s[0] === ":") {
      if (s[1] !== ":") return null;
      i = 2; piece = 1; compress = 1;
    }
    while (i < s.length) {
      if (piece === 8) return null;
      if (s[i] === ":") {
        if (compress !== null) return null;
        i++; piece++; compress = piece; continue;
      }
      let value = 0, len = 0;
      while (len < 4 && i < s.length && hexval(c(i)) >= 0) { value = value * 16 + hexval(c(i)); i++; len++; }
      if (s[i] === ".") {
        if (len === 0) return null;
        i -= len;
        if (piece > 6) return null;
        let seen = 0;
        while (i < s.length) {
          let v4 = null;
          if (seen > 0) { if (s[i] === "." && seen < 4) i++; else return null; }
          if (!(c(i) >= 0x30 && c(i) <= 0x39)) return null;
          while (i < s.length && c(i) >= 0x30 && c(i) <= 0x39) {
            const n = c(i) - 0x30;
            if (v4 === null) v4 = n; else if (v4 === 0) return null; else v4 = v4 * 10 + n;
            if (v4 > 255) return null;
            i++;
          }
          a[piece] = a[piece] * 256 + v4;
          seen++;
          if (seen === 2 || seen === 4) piece++;
        }
        if (seen !== 4) return null;
        break;
      } else if (s[i] === ":") {
        i++;
        if (i >= s.length) return null;
      } else if (i < s.length) {
        return null;
      }
      a[piece] = value;
      piece++;
    }
    if (compress !== null) {
      let swaps = piece - compress;
      piece = 7;
      while (piece !== 0 && swaps > 0) {
        const t = a[compress + swaps - 1]; a[compress + swaps - 1] = a[piece]; a[piece] = t;
        piece--; swaps--;
      }
    } else if (piece !== 8) {
      return null;
    }
    let best = -1, bestLen = 1;
    for (let k = 0; k < 8;) {
      if (a[k] !== 0) { k++; continue; }
      let e = k;
      while (e < 8 && a[e] === 0) e++;
      if (e - k > bestLen) { best = k; bestLen = e - k; }
      k = e;
    }
    let out = "";
    for (let k = 0; k < 8; k++) {
      if (k === best) { out += k === 0 ? "::" : ":"; k += bestLen - 1; continue; }
      out += a[k].toString(16);
      if (k !== 7) out += ":";
    }
    return "[" + out + "]";
  }

  const FORBIDDEN_HOST = /[\u0000\t\n\r #/:<>?@[\\\]^|]/;
  const FORBIDDEN_DOMAIN = /[\u0000-\u001f\t\n\r #%/:<>?@[\\\]^|\u007f]/;

  function parseHost(input, special) {
    if (input.startsWith("[")) {
      if (!input.endsWith("]")) throw new TypeError("Invalid URL: unclosed IPv6 address");
      const v6 = parseIPv6(input.slice(1, -1));
      if (v6 === null) throw new TypeError("Invalid URL: bad IPv6 address");
      return v6;
    }
    if (!special) {
      if (FORBIDDEN_HOST.test(input)) throw new TypeError("Invalid URL: forbidden host code point");
      return encode(input, C0);
    }
    const domain = decode(input).toLowerCase();
    if (domain === "") throw new TypeError("Invalid URL: empty host");
    if (/[^\u0000-\u007f]/.test(domain))
      throw new TypeError("Invalid URL: non-ASCII host names are not supported here; " +
                          "write the punycode (xn--) form");
    if (FORBIDDEN_DOMAIN.test(domain)) throw new TypeError("Invalid URL: forbidden host code point");
    if (endsInNumber(domain)) {
      const v4 = parseIPv4(domain);
      if (v4 === null) throw new TypeError("Invalid URL: bad IPv4 address");
      return v4;
    }
    return domain;
  }

  // ---- URL (URL Standard 4 and 6.1) ----

  const SPECIAL = { "ftp:": "21", "file:": "", "http:": "80", "https:": "443", "ws:": "80", "wss:": "443" };
  const isSpecial = (p) => Object.prototype.hasOwnProperty.call(SPECIAL, p);
  const SINGLE_DOT = /^(\.|%2e)$/i;
  const DOUBLE_DOT = /^(\.\.|\.%2e|%2e\.|%2e%2e)$/i;

  function pushPath(path, raw, special) {
    const segs = raw.split(special ? /[/\\]/ : /\//);
    for (let k = 0; k < segs.length; k++) {
      const seg = segs[k];
      const last = k === segs.length - 1;
      if (DOUBLE_DOT.test(seg)) {
        if (path.length) path.pop();
        if (last) path.push("");
      } else if (SINGLE_DOT.test(seg)) {
        if (last) path.push("");
      } else {
        path.push(encode(seg, PATH));
      }
    }
  }

  // Splits "authority" (the part before the path) into the record r.
  function parseAuthority(r, auth) {
    const at = auth.lastIndexOf("@");
    if (at >= 0) {
      const info = auth.slice(0, at);
      auth = auth.slice(at + 1);
      const colon = info.indexOf(":");
      r.username = encode(colon < 0 ? info : info.slice(0, colon), USERINFO);
      r.password = colon < 0 ? "" : encode(info.slice(colon + 1), USERINFO);
    }
    let host = auth, port = "";
    const close = auth.lastIndexOf("]");
    const colon = auth.lastIndexOf(":");
    if (colon > close) { host = auth.slice(0, colon); port = auth.slice(colon + 1); }
    if (port !== "") {
      if (!/^[0-9]+$/.test(port) || Number(port) > 65535) throw new TypeError("Invalid URL: bad port");
      port = String(Number(port));
      if (SPECIAL[r.protocol] === port) port = "";
    }
    if (host === "" && isSpecial(r.protocol) && r.protocol !== "file:")
      throw new TypeError("Invalid URL: empty host");
    r.host = host === "" ? "" : parseHost(host, isSpecial(r.protocol));
    if (r.protocol === "file:" && r.host === "localhost") r.host = "";
    r.port = port;
  }

  // The rest after the authority (or a relative reference): path, query, fragment.
  function parseTail(r, rest, basePath) {
    const special = isSpecial(r.protocol);
    let frag = null, query = null;
    const hash = rest.indexOf("#");
    if (hash >= 0) { frag = rest.slice(hash + 1); rest = rest.slice(0, hash); }
    const q = rest.indexOf("?");
    if (q >= 0) { query = rest.slice(q + 1); rest = rest.slice(0, q); }
    if (r.opaque) {
      r.path = encode(rest, C0);
    } else {
      r.path = basePath ? basePath.slice() : [];
      if (rest !== "" || !basePath) {
        if (basePath && !/^[/\\]/.test(rest)) { r.path.pop(); }
        else if (basePath || /^[/\\]/.test(rest)) { r.path = []; }
        const body = /^[/\\]/.test(rest) && (special || rest[0] === "/") ? rest.slice(1) : rest;
        if (body !== "" || special || rest !== "") pushPath(r.path, body, special);
      }
    }
    r.query = query === null ? null : encode(query, special ? SPECIAL_QUERY : QUERY);
    r.fragment = frag === null ? null : encode(frag, FRAGMENT);
  }

  function parseURL(input, base) {
    input = usv(input).replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "").replace(/[\t\n\r]/g, "");
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(input);
    const r = { protocol: "", username: "", password: "", host: null, port: "", path: [],
                opaque: false, query: null, fragment: null };
    if (m) {
      r.protocol = m[1].toLowerCase() + ":";
      let rest = input.slice(m[0].length);
      const special = isSpecial(r.protocol);
      if (r.protocol === "file:") return parseFile(r, rest, base);
      if (special && base && base.protocol === r.protocol && !/^[/\\]/.test(rest))
        return relative(r, rest, base);
      if (special || rest.startsWith("//")) {
        rest = special ? rest.replace(/^[/\\]*/, "") : rest.slice(2);
        const end = rest.search(special ? /[/\\?#]/ : /[/?#]/);
        const auth = end < 0 ? rest : rest.slice(0, end);
        parseAuthority(r, auth);
        parseTail(r, end < 0 ? "" : rest.slice(end), null);
        if (special && r.path.length === 0) r.path = [""];
        return r;
      }
      if (rest.startsWith("/")) { parseTail(r, rest, null); return r; }
      r.opaque = true;
      parseTail(r, rest, null);
      return r;
    }
    if (!base) throw new TypeError("Invalid URL: '" + input.slice(0, 100) + "' has no scheme and no base");
    r.protocol = base.protocol;
    return relative(r, input, base);
  }

  // file: URLs (URL Standard, file state): "//" then a host that may be empty
  function parseFile(r, rest, base) {
    r.host = "";
    if (/^[/\\][/\\]/.test(rest)) {
      rest = rest.slice(2);
      const end = rest.search(/[/\\?#]/);
      const auth = end < 0 ? rest : rest.slice(0, end);
      r.host = auth === "" ? "" : parseHost(auth, true);
      if (r.host === "localhost") r.host = "";
      rest = end < 0 ? "" : rest.slice(end);
    } else if (base && base.protocol === "file:" && !/^[/\\]/.test(rest)) {
      return relative(r, rest, base);
    }
    parseTail(r, rest, null);
    if (r.path.length === 0) r.path = [""];
    return r;
  }

  function relative(r, input, base) {
    const special = isSpecial(r.protocol);
    if (base.opaque) {
      if (!input.startsWith("#")) throw new TypeError("Invalid URL: the base URL cannot be a base");
      Object.assign(r, base, { fragment: encode(input.slice(1), FRAGMENT) });
      return r;
    }
    if (/^[/\\][/\\]/.test(input) && (special || input.startsWith("//"))) {
      return parseURL(r.protocol + input, null);
    }
    r.username = base.username; r.password = base.password; r.host = base.host; r.port = base.port;
    if (input === "") {
      r.path = base.path.slice(); r.query = base.query;
      return r;
    }
    if (input[0] === "?" || input[0] === "#") {
      r.path = base.path.slice();
      if (input[0] === "#") { r.query = base.query; r.fragment = encode(input.slice(1), FRAGMENT); return r; }
      parseTail(r, input, r.path);
      r.path = base.path.slice();
      return r;
    }
    parseTail(r, input, base.path);
    return r;
  }

  function serializePath(r) {
    if (r.opaque) return r.path;
    let p = "";
    if (r.host === null && r.path.length > 1 && r.path[0] === "") p = "/.";
    return p + r.path.map((s) => "/" + s).join("");
  }

  function serialize(r, noFragment) {
    let out = r.protocol;
    if (r.host !== null) {
      out += "//";
      if (r.username !== "" || r.password !== "") {
        out += r.username;
        if (r.password !== "") out += ":" + r.password;
        out += "@";
      }
      out += r.host;
      if (r.port !== "") out += ":" + r.port;
    }
    out += serializePath(r);
    if (r.query !== null) out += "?" + r.query;
    if (!noFragment && r.fragment !== null) out += "#" + r.fragment;
    return out;
  }

  const REC = Symbol("url");
  const LIST = Symbol("list");
  const OWNER = Symbol("owner");

  class URLSearchParams {
    constructor(init = "") {
      hidden(this, { [LIST]: [], [OWNER]: null });
      if (init instanceof URLSearchParams) {
        this[LIST] = init[LIST].map((p) => p.slice());
      } else if (typeof init === "object" && init !== null) {
        if (typeof init[Symbol.iterator] === "function") {
          for (const pair of init) {
            const p = Array.from(pair);
            if (p.length !== 2) throw new TypeError("URLSearchParams: each pair must have two items");
            this[LIST].push([usv(p[0]), usv(p[1])]);
          }
        } else {
          for (const k of Reflect.ownKeys(init)) {
            if (typeof k !== "string") continue;
            const d = Object.getOwnPropertyDescriptor(init, k);
            if (d && d.enumerable) this[LIST].push([usv(k), usv(init[k])]);
          }
        }
      } else {
        let s = usv(init);
        if (s.startsWith("?")) s = s.slice(1);
        this[LIST] = parseForm(s);
      }
    }
    get size() { return this[LIST].length; }
    append(name, value) { this[LIST].push([usv(name), usv(value)]); this._update(); }
    delete(name, value) {
      name = usv(name);
      const v = value === undefined ? undefined : usv(value);
      this[LIST] = this[LIST].filter((p) => !(p[0] === name && (v === undefined || p[1] === v)));
      this._update();
    }
    get(name) { name = usv(name); const p = this[LIST].find((x) => x[0] === name); return p ? p[1] : null; }
    getAll(name) { name = usv(name); return this[LIST].filter((x) => x[0] === name).map((x) => x[1]); }
    has(name, value) {
      name = usv(name);
      const v = value === undefined ? undefined : usv(value);
      return this[LIST].some((p) => p[0] === name && (v === undefined || p[1] === v));
    }
    set(name, value) {
      name = usv(name); value = usv(value);
      const i = this[LIST].findIndex((p) => p[0] === name);
      if (i < 0) this[LIST].push([name, value]);
      else {
        this[LIST][i][1] = value;
        this[LIST] = this[LIST].filter((p, k) => k <= i || p[0] !== name);
      }
      this._update();
    }
    sort() {
      const keyed = this[LIST].map((p, i) => [p, i]);
      keyed.sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1]));
      this[LIST] = keyed.map((k) => k[0]);
      this._update();
    }
    forEach(fn, thisArg) {
      for (let i = 0; i < this[LIST].length; i++) fn.call(thisArg, this[LIST][i][1], this[LIST][i][0], this);
    }
    *entries() { for (let i = 0; i < this[LIST].length; i++) yield [this[LIST][i][0], this[LIST][i][1]]; }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this[LIST].map((p) => encode(p[0], FORM, true) + "=" + encode(p[1], FORM, true)).join("&"); }
    _update() {
      const u = this[OWNER];
      if (!u) return;
      const s = this.toString();
      u[REC].query = s === "" ? null : s;
    }
  }
  define(URLSearchParams.prototype, "_update", { enumerable: false });
  tag(URLSearchParams, "URLSearchParams");

  function parseForm(s) {
    const out = [];
    for (const part of s.split("&")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const n = eq < 0 ? part : part.slice(0, eq);
      const v = eq < 0 ? "" : part.slice(eq + 1);
      out.push([decode(n.replace(/\+/g, " ")), decode(v.replace(/\+/g, " "))]);
    }
    return out;
  }

  class URL {
    constructor(url, base) {
      let b = null;
      if (base !== undefined) b = parseURL(String(base), null);
      hidden(this, { [REC]: parseURL(url, b) });
      const sp = new URLSearchParams(this[REC].query || "");
      sp[OWNER] = this;
      hidden(this, { _sp: sp });
    }
    static canParse(url, base) { try { new URL(url, base); return true; } catch { return false; } }
    static parse(url, base) { try { return new URL(url, base); } catch { return null; } }
    get href() { return serialize(this[REC]); }
    set href(v) {
      const r = parseURL(v, null);
      this[REC] = r;
      this._sp[LIST] = parseForm(r.query || "");
    }
    get origin() {
      const r = this[REC];
      if (r.protocol === "blob:") { try { return new URL(serializePath(r)).origin; } catch { return "null"; } }
      if (!isSpecial(r.protocol) || r.protocol === "file:") return "null";
      return r.protocol + "//" + r.host + (r.port !== "" ? ":" + r.port : "");
    }
    get protocol() { return this[REC].protocol; }
    set protocol(v) {
      const m = /^([A-Za-z][A-Za-z0-9+.-]*):?/.exec(usv(v));
      if (!m) return;
      const p = m[1].toLowerCase() + ":";
      if (isSpecial(p) !== isSpecial(this[REC].protocol)) return;
      this[REC].protocol = p;
      if (SPECIAL[p] === this[REC].port) this[REC].port = "";
    }
    get username() { return this[REC].username; }
    set username(v) { if (this[REC].host) this[REC].username = encode(usv(v), USERINFO); }
    get password() { return this[REC].password; }
    set password(v) { if (this[REC].host) this[REC].password = encode(usv(v), USERINFO); }
    get host() {
      const r = this[REC];
      return r.host === null ? "" : r.host + (r.port !== "" ? ":" + r.port : "");
    }
    set host(v) {
      if (this[REC].opaque) return;
      const r = Object.assign({}, this[REC]);
      try { parseAuthority(r, usv(v).split(/[/\\?#]/)[0]); } catch { return; }
      this[REC].host = r.host; this[REC].port = r.port;
    }
    get hostname() { return this[REC].host === null ? "" : this[REC].host; }
    set hostname(v) {
      if (this[REC].opaque) return;
      try { this[REC].host = parseHost(usv(v).split(/[/\\?#:]/)[0], isSpecial(this[REC].protocol)); } catch { /* unchanged */ }
    }
    get port() { return this[REC].port; }
    set port(v) {
      const r = this[REC];
      if (r.host === null || r.host === "" || r.protocol === "file:") return;
      const s = usv(v);
      if (s === "") { r.port = ""; return; }
      const m = /^[0-9]+/.exec(s);
      if (!m || Number(m[0]) > 65535) return;
      r.port = SPECIAL[r.protocol] === String(Number(m[0])) ? "" : String(Number(m[0]));
    }
    get pathname() { return serializePath(this[REC]); }
    set pathname(v) {
      const r = this[REC];
      if (r.opaque) return;
      r.path = [];
      const s = usv(v);
      const special = isSpecial(r.protocol);
      pushPath(r.path, /^[/\\]/.test(s) && (special || s[0] === "/") ? s.slice(1) : s, special);
    }
    get search() { const q = this[REC].query; return q === null || q === "" ? "" : "?" + q; }
    set search(v) {
      let s = usv(v);
      if (s.startsWith("?")) s = s.slice(1);
      const r = this[REC];
      r.query = s === "" ? null : encode(s, isSpecial(r.protocol) ? SPECIAL_QUERY : QUERY);
      this._sp[LIST] = parseForm(s);
    }
    get searchParams() { return this._sp; }
    get hash() { const f = this[REC].fragment; return f === null || f === "" ? "" : "#" + f; }
    set hash(v) {
      let s = usv(v);
      if (s.startsWith("#")) s = s.slice(1);
      this[REC].fragment = s === "" ? null : encode(s, FRAGMENT);
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  tag(URL, "URL");

  // ---- Headers (Fetch Standard 5.2) ----

  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const HLIST = Symbol("headers");
  const GUARD = Symbol("guard");

  function normValue(v) {
    v = String(v).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
    if (/[\u0000\n\r]/.test(v)) throw new TypeError("Headers: a value cannot contain NUL, CR or LF");
    if (/[^\u0000-\u00ff]/.test(v)) throw new TypeError("Headers: a value must be a ByteString (code points up to U+00FF)");
    return v;
  }
  function normName(n) {
    n = String(n);
    if (!TOKEN.test(n)) throw new TypeError("Headers: '" + n.slice(0, 64) + "' is not a valid header name");
    return n.toLowerCase();
  }

  class Headers {
    constructor(init) {
      hidden(this, { [HLIST]: [], [GUARD]: "none" });
      if (init === undefined || init === null) return;
      if (init instanceof Headers) { for (const [n, v] of init[HLIST]) this.append(n, v); return; }
      if (typeof init !== "object") throw new TypeError("Headers: init must be an object or a sequence of pairs");
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const p = Array.from(pair);
          if (p.length !== 2) throw new TypeError("Headers: each pair must have two items");
          this.append(p[0], p[1]);
        }
        return;
      }
      for (const k of Object.keys(init)) this.append(k, init[k]);
    }
    _check() { if (this[GUARD] === "immutable") throw new TypeError("Headers: these headers are immutable"); }
    append(name, value) { this._check(); this[HLIST].push([normName(name), normValue(value)]); }
    delete(name) { this._check(); name = normName(name); this[HLIST] = this[HLIST].filter((p) => p[0] !== name); }
    get(name) {
      name = normName(name);
      const v = this[HLIST].filter((p) => p[0] === name).map((p) => p[1]);
      return v.length ? v.join(", ") : null;
    }
    getSetCookie() { return this[HLIST].filter((p) => p[0] === "set-cookie").map((p) => p[1]); }
    has(name) { name = normName(name); return this[HLIST].some((p) => p[0] === name); }
    set(name, value) {
      this._check();
      name = normName(name); value = normValue(value);
      const i = this[HLIST].findIndex((p) => p[0] === name);
      if (i < 0) { this[HLIST].push([name, value]); return; }
      this[HLIST][i][1] = value;
      this[HLIST] = this[HLIST].filter((p, k) => k <= i || p[0] !== name);
    }
    _sorted() {
      const names = [...new Set(this[HLIST].map((p) => p[0]))].sort();
      const out = [];
      for (const n of names) {
        if (n === "set-cookie") for (const v of this.getSetCookie()) out.push([n, v]);
        else out.push([n, this.get(n)]);
      }
      return out;
    }
    forEach(fn, thisArg) { for (const [n, v] of this._sorted()) fn.call(thisArg, v, n, this); }
    *entries() { yield* this._sorted(); }
    *keys() { for (const [n] of this._sorted()) yield n; }
    *values() { for (const [, v] of this._sorted()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
  }
  for (const k of ["_check", "_sorted"]) define(Headers.prototype, k, { enumerable: false });
  tag(Headers, "Headers");

  // ---- bodies (Fetch Standard 5.3) ----

  const BODY = Symbol("body");
  const USED = Symbol("used");

  // [bytes, content type or null]
  function extractBody(body) {
    if (body === undefined || body === null) return [null, null];
    if (typeof body === "string") return [utf8Encode(body), "text/plain;charset=UTF-8"];
    if (body instanceof URLSearchParams)
      return [utf8Encode(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
    if (body instanceof ArrayBuffer) return [new Uint8Array(body.slice(0)), null];
    if (ArrayBuffer.isView(body))
      return [new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)), null];
    return [utf8Encode(String(body)), "text/plain;charset=UTF-8"];
  }

  const bodyMethods = {
    get bodyUsed() { return this[USED]; },
    _take() {
      if (this[USED]) return Promise.reject(new TypeError("Body has already been used"));
      this[USED] = this[BODY] !== null;
      return Promise.resolve(this[BODY] || new Uint8Array(0));
    },
    arrayBuffer() { return this._take().then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); },
    bytes() { return this._take().then((b) => new Uint8Array(b)); },
    text() {
      return this._take().then((b) => {
        const s = utf8Decode(b);
        return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
      });
    },
    json() { return this.text().then((t) => JSON.parse(t)); },
  };
  function mixBody(cls) {
    for (const k of Object.getOwnPropertyNames(bodyMethods)) {
      const d = Object.getOwnPropertyDescriptor(bodyMethods, k);
      d.enumerable = false;
      define(cls.prototype, k, d);
    }
  }

  // ---- AbortSignal, AbortController (DOM Standard 3.1) ----

  const ABORTED = Symbol("aborted");
  const TIMEOUT = Symbol("timeout");

  function domError(name, message) {
    const e = new Error(message);
    e.name = name;
    return e;
  }

  class AbortSignal {
    constructor() { throw new TypeError("AbortSignal: use AbortSignal.timeout(), AbortSignal.abort() or an AbortController"); }
    static _make() {
      const s = Object.create(AbortSignal.prototype);
      hidden(s, { [ABORTED]: false, [TIMEOUT]: 0, reason: undefined, onabort: null });
      return s;
    }
    static abort(reason) {
      const s = AbortSignal._make();
      s[ABORTED] = true;
      s.reason = reason === undefined ? domError("AbortError", "This operation was aborted") : reason;
      return s;
    }
    // sealrun has no timers: the time is given to the request itself
    static timeout(ms) {
      ms = Number(ms);
      if (!Number.isFinite(ms) || ms < 0) throw new TypeError("AbortSignal.timeout: ms must be a non-negative number");
      const s = AbortSignal._make();
      s[TIMEOUT] = Math.min(Math.floor(ms), 0xffffffff);
      return s;
    }
    static any(signals) {
      const s = AbortSignal._make();
      for (const x of signals) {
        if (x[ABORTED]) { s[ABORTED] = true; s.reason = x.reason; break; }
        if (x[TIMEOUT] && (!s[TIMEOUT] || x[TIMEOUT] < s[TIMEOUT])) s[TIMEOUT] = x[TIMEOUT];
      }
      return s;
    }
    get aborted() { return this[ABORTED]; }
    throwIfAborted() { if (this[ABORTED]) throw this.reason; }
  }
  define(AbortSignal, "_make", { enumerable: false });
  tag(AbortSignal, "AbortSignal");

  class AbortController {
    constructor() { hidden(this, { _signal: AbortSignal._make() }); }
    get signal() { return this._signal; }
    abort(reason) {
      const s = this._signal;
      if (s[ABORTED]) return;
      s[ABORTED] = true;
      s.reason = reason === undefined ? domError("AbortError", "This operation was aborted") : reason;
      if (typeof s.onabort === "function") s.onabort({ type: "abort", target: s });
    }
  }
  tag(AbortController, "AbortController");

  // ---- Request, Response (Fetch Standard 5.4, 5.5) ----

  const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];

  class Request {
    constructor(input, init = {}) {
      if (init === null || typeof init !== "object") init = {};
      let base = null;
      if (input instanceof Request) base = input;
      const url = base ? base.url : new URL(String(input)).href;
      const r = new URL(url);
      if (r.username || r.password) throw new TypeError("Request: a URL cannot carry credentials (user:password@)");
      let method = init.method !== undefined ? String(init.method) : base ? base.method : "GET";
      if (!TOKEN.test(method)) throw new TypeError("Request: '" + method.slice(0, 32) + "' is not a valid method");
      if (METHODS.includes(method.toUpperCase())) method = method.toUpperCase();
      if (["CONNECT", "TRACE", "TRACK"].includes(method.toUpperCase()))
        throw new TypeError("Request: method '" + method + "' is forbidden");
      const headers = new Headers(init.headers !== undefined ? init.headers : base ? base.headers : undefined);
      let body = null, type = null;
      if (init.body !== undefined && init.body !== null) [body, type] = extractBody(init.body);
      else if (base && init.body === undefined) body = base[BODY];
      if (body !== null && (method === "GET" || method === "HEAD"))
        throw new TypeError("Request: a " + method + " request cannot have a body");
      if (type && !headers.has("content-type")) headers.append("content-type", type);
      const redirect = init.redirect !== undefined ? String(init.redirect) : base ? base.redirect : "follow";
      if (!["follow", "manual", "error"].includes(redirect))
        throw new TypeError("Request: redirect must be 'follow', 'manual' or 'error'");
      hidden(this, { _url: r.href.replace(/#.*$/, ""), _method: method, _headers: headers,
                     _redirect: redirect, _signal: init.signal || (base ? base.signal : null),
                     [BODY]: body, [USED]: false });
    }
    get url() { return this._url; }
    get method() { return this._method; }
    get headers() { return this._headers; }
    get redirect() { return this._redirect; }
    get signal() { return this._signal; }
    clone() {
      if (this[USED]) throw new TypeError("Request.clone: the body has already been used");
      return new Request(this);
    }
  }
  mixBody(Request);
  tag(Request, "Request");

  class Response {
    constructor(body = null, init = {}) {
      if (init === null || typeof init !== "object") init = {};
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!Number.isInteger(status) || status < 200 || status > 599)
        throw new RangeError("Response: status must be 200..599");
      const headers = new Headers(init.headers);
      const [bytes, type] = extractBody(body);
      if (bytes !== null && [101, 103, 204, 205, 304].includes(status))
        throw new TypeError("Response: a " + status + " response cannot have a body");
      if (type && !headers.has("content-type")) headers.append("content-type", type);
      hidden(this, { _status: status, _statusText: init.statusText === undefined ? "" : String(init.statusText),
                     _headers: headers, _url: "", _redirected: false, _type: "default",
                     [BODY]: bytes, [USED]: false });
    }
    static error() {
      const r = new Response();
      r._status = 0; r._type = "error"; r._headers[GUARD] = "immutable";
      return r;
    }
    static redirect(url, status = 302) {
      if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError("Response.redirect: bad status");
      const r = new Response(null, { status: 200 });
      r._status = status;
      r._headers.set("location", new URL(String(url)).href);
      r._headers[GUARD] = "immutable";
      return r;
    }
    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Response.json: the value cannot be serialised");
      const r = new Response(text, init);
      r._headers.set("content-type", "application/json");
      return r;
    }
    get status() { return this._status; }
    get ok() { return this._status >= 200 && this._status <= 299; }
    get statusText() { return this._statusText; }
    get headers() { return this._headers; }
    get url() { return this._url; }
    get redirected() { return this._redirected; }
    get type() { return this._type; }
    get body() { return null; }
    clone() {
      if (this[USED]) throw new TypeError("Response.clone: the body has already been used");
      const r = new Response(null, { status: 200 });
      Object.assign(r, { _status: this._status, _statusText: this._statusText, _url: this._url,
                         _redirected: this._redirected, _type: this._type });
      r._headers = new Headers(this._headers);
      r._headers[GUARD] = this._headers[GUARD];
      r[BODY] = this[BODY];
      return r;
    }
  }
  mixBody(Response);
  tag(Response, "Response");

  const REASONS = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 418: "I'm a Teapot", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout" };

  function fetchError(res, timeoutSignal) {
    if (res.error === "HTTP_TIMEOUT" && timeoutSignal)
      return domError("TimeoutError", "fetch: HTTP_TIMEOUT: " + res.message);
    const e = new TypeError("fetch: " + res.error + ": " + res.message);
    define(e, "code", { value: res.error, configurable: true, writable: true, enumerable: false });
    return e;
  }

  function fetch(input, init) {
    try {
      const req = new Request(input, init);
      const signal = req.signal;
      if (signal && signal[ABORTED]) return Promise.reject(signal.reason);
      const flat = [];
      for (const [n, v] of req.headers[HLIST]) flat.push(n, v);
      const res = request(req.method, req.url, flat, req[BODY] === null ? undefined : req[BODY],
                          signal ? signal[TIMEOUT] : 0, req.redirect);
      if (res.error) return Promise.reject(fetchError(res, signal && signal[TIMEOUT]));
      const r = new Response(null, { status: 200 });
      const h = r._headers;
      for (let i = 0; i < res.headers.length; i += 2) {
        try { h.append(res.headers[i], res.headers[i + 1]); } catch { /* a header fetch cannot expose */ }
      }
      h[GUARD] = "immutable";
      Object.assign(r, { _status: res.status, _statusText: REASONS[res.status] || "", _url: res.url,
                         _redirected: res.redirected, _type: "basic" });
      r[BODY] = new Uint8Array(res.body);
      return Promise.resolve(r);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  expose("URL", URL);
  expose("URLSearchParams", URLSearchParams);
  expose("Headers", Headers);
  expose("Request", Request);
  expose("Response", Response);
  expose("AbortSignal", AbortSignal);
  expose("AbortController", AbortController);
  expose("fetch", fetch);
})
