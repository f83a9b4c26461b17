# SPDX-License-Identifier: MIT
"""jsonstrict.py - JSON the way sealrun reads and hashes it.

parse_strict() refuses a key twice in one object (parsers disagree on which
one counts, so one job text could show one output and verify with another)
and a number whose value is not exactly that of its RFC 8785 form
(1000000000000000001 would be hashed as 1000000000000000000), with the
same messages and byte offsets as sealrun and the JavaScript client. jcs()
is RFC 8785: members sorted by UTF-16 code units, no whitespace, numbers as
ECMAScript Number::toString, strings with minimal escapes."""

import json
import math
import re
from decimal import Decimal


class StrictJSONError(ValueError):
    """A JSON text sealrun would refuse; the message says what and where."""


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|[{}\[\]:,]')


def _where(text, i):
    return f"byte {len(text[:i].encode('utf-8', 'surrogatepass'))}"


def _reject_constant(name):
    raise StrictJSONError(f"'{name}' is not JSON")


def parse_strict(text, what="JSON text"):
    """Parses text (str or UTF-8 bytes) as JSON; raises StrictJSONError."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise StrictJSONError(f"{what} is not UTF-8: {e}") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise StrictJSONError(f"{what} is not JSON: {e}") from None
    stack = []  # per open container: the keys seen (objects) or None (arrays)
    key = False
    for m in _TOKEN.finditer(text):
        t = m.group(0)
        top = stack[-1] if stack else None
        if t == "{":
            stack.append(set())
            key = True
        elif t == "[":
            stack.append(None)
            key = False
        elif t in "}]":
            stack.pop()
            key = False
        elif t == ",":
            key = isinstance(top, set)
        elif t == ":":
            key = False
        elif t[0] == '"':
            if key:
                name = json.loads(t)
                if name in top:
                    raise StrictJSONError(
                        f"{what} has the key {t} twice in one object (the second at "
                        f"{_where(text, m.start())}); a key may appear only once")
                top.add(name)
            key = False
        else:
            _check_number(t, text, m.start(), what)
    return value


def _check_number(t, text, at, what):
    x = float(t)
    if math.isinf(x):
        raise StrictJSONError(
            f"{what} has a number that RFC 8785 cannot hash: '{t[:48]}' at {_where(text, at)} "
            "is beyond the largest IEEE 754 double; send it as a string")
    if Decimal(t) != Decimal(repr(x)):
        raise StrictJSONError(
            f"{what} has a number that RFC 8785 cannot hash exactly: '{t[:48]}' at "
            f"{_where(text, at)} would be hashed as {_es_number(x)} (the nearest IEEE 754 "
            "double); send it as a string")


def _es_number(x):
    """ECMAScript Number::toString(x) for a finite double."""
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _es_number(-x)
    r = repr(x)  # the shortest digits that round-trip, as ECMAScript picks them
    mant, _, exp = r.partition("e")
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    lead = len(ip + fp) - len((ip + fp).lstrip("0"))
    n = len(ip) - lead + (int(exp) if exp else 0)  # value = 0.digits * 10^n
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    m = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{m}e{sign}{abs(e)}"


def _es_string(s):
    return json.dumps(s, ensure_ascii=False)


def jcs(v):
    """RFC 8785 canonical text of a JSON value (dict, list, str, int, float,
    bool, None). Raises ValueError for what JSON cannot hold."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        f = float(v)
        if Decimal(v) != Decimal(repr(f)):
            raise ValueError(f"the integer {v} is not exact as an IEEE 754 double: send it as a string")
        return _es_number(f)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"RFC 8785 has no form for the number {v}")
        return _es_number(v)
    if isinstance(v, str):
        return _es_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(_es_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise ValueError(f"RFC 8785 has no form for a {type(v).__name__}")


def jcs_bytes(v):
    return jcs(v).encode("utf-8")
