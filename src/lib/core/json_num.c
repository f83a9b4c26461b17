/* SPDX-License-Identifier: MIT
 *
 * json_num.c - JSON numbers as RFC 8785 has them: ECMAScript's
 * Number::toString of an IEEE 754 double (section 3.2.2.3 of the RFC,
 * 6.1.6.1.20 of ECMA-262), and the check that a number literal has exactly
 * the value of that form of its nearest double (sr_json.h says why).
 *
 * The shortest digits come from the C library's correctly rounded
 * conversions: "%.*e" gives the p-digit decimal nearest to x, and strtod()
 * says whether it reads back as x. Where the interval of decimals that read
 * back as x is lopsided (x a power of two: the gap below is half the gap
 * above), the nearest p-digit decimal can miss it while the next one up
 * hits it, so that one is tried too. Having a p-digit form implies having a
 * (p+1)-digit one (17 digits always read back), which shortest() and
 * sr_json__literal_exact() rely on.
 */
#include "json_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The digits of a decimal d[0].d[1]...d[k-1] x 10^e (d[0] is not '0'). */
struct dec {
    char d[SR_JSON__MAX_DIGITS + 1];
    int k;
    long e;
};

/* Reads "%.*e" output ("[-]D[.DDD]e[+-]XX") into *out. */
static void
dec_from_sci(const char *s, struct dec *out)
{
    if (*s == '-')
        s++;
    out->k = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.' && out->k < SR_JSON__MAX_DIGITS)
            out->d[out->k++] = *s;
    out->d[out->k] = '\0';
    out->e = *s == 'e' ? strtol(s + 1, NULL, 10) : 0;
}

static double
dec_value(const struct dec *v)
{
    char s[SR_JSON__MAX_DIGITS + 32];
    (void)snprintf(s, sizeof(s), "%c.%se%ld", v->d[0], v->d + 1, v->e);
    return strtod(s, NULL);
}

/* The next decimal up with the same number of digits. */
static void
dec_next_up(struct dec *v)
{
    int i = v->k - 1;
    while (i >= 0 && v->d[i] == '9')
        v->d[i--] = '0';
    if (i >= 0) {
        v->d[i]++;
    } else { /* 99..9 -> 100..0: one more power of ten */
        v->d[0] = '1';
        v->e++;
    }
}

static void
dec_trim(struct dec *v)
{
    while (v->k > 1 && v->d[v->k - 1] == '0')
        v->k--;
    v->d[v->k] = '\0';
}

/* Whether some p-digit decimal reads back as x (finite, > 0); if so, *out
 * is the one ECMAScript chooses (the nearest to x). */
static bool
digits_round_trip(double x, int p, struct dec *out)
{
    char s[SR_JSON__MAX_DIGITS + 32];
    (void)snprintf(s, sizeof(s), "%.*e", p - 1, x);
    dec_from_sci(s, out);
    double y = strtod(s, NULL);
    if (y == x)
        return true;
    int exp2 = 0;
    if (y > x || frexp(x, &exp2) != 0.5)
        return false;
    dec_next_up(out);
    return dec_value(out) == x;
}

/* ECMAScript's digits of x (finite, > 0): the fewest that read back as x,
 * trailing zeros removed. For a normal double, at most one 15-digit decimal
 * reads back as it (15-digit decimals are at least 1e-15 of x apart, the
 * decimals that read back as x span at most 2^-52 of it), so when one does,
 * it is the shortest form padded with zeros: one probe for most numbers, at
 * most three. Subnormals (wider relative spans) search 1..17. */
static void
shortest(double x, struct dec *out)
{
    if (x >= DBL_MIN) {
        for (int p = 15; p < SR_JSON__MAX_DIGITS; p++)
            if (digits_round_trip(x, p, out)) {
                dec_trim(out);
                return;
            }
        (void)digits_round_trip(x, SR_JSON__MAX_DIGITS, out);
        dec_trim(out);
        return;
    }
    int lo = 1, hi = SR_JSON__MAX_DIGITS;
    bool have = false;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        struct dec t;
        if (digits_round_trip(x, mid, &t)) {
            hi = mid;
            *out = t;
            have = true;
        } else {
            lo = mid + 1;
        }
    }
    if (!have)
        (void)digits_round_trip(x, hi, out);
    dec_trim(out);
}

/* Integers below 2^53 are exact doubles, and ECMAScript writes them in full. */
#define EXACT_INT_LIMIT 9007199254740992.0

size_t
sr_json__number_text(double x, char out[SR_JSON__NUMBER_TEXT_MAX])
{
    if (x == 0) { /* -0 too */
        memcpy(out, "0", 2);
        return 1;
    }
    if (fabs(x) < EXACT_INT_LIMIT && x == floor(x)) {
        int n = snprintf(out, SR_JSON__NUMBER_TEXT_MAX, "%lld", (long long)x);
        return (size_t)n;
    }
    struct dec v;
    shortest(fabs(x), &v);
    int k = v.k;
    long n = v.e + 1; /* ECMA-262's n: the value is 0.d1..dk x 10^n */
    size_t o = 0;
    if (x < 0)
        out[o++] = '-';
    if (k <= n && n <= 21) {
        memcpy(out + o, v.d, (size_t)k);
        o += (size_t)k;
        for (long i = 0; i < n - k; i++)
            out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + o, v.d, (size_t)n);
        o += (size_t)n;
        out[o++] = '.';
        memcpy(out + o, v.d + n, (size_t)(k - n));
        o += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (long i = 0; i < -n; i++)
            out[o++] = '0';
        memcpy(out + o, v.d, (size_t)k);
        o += (size_t)k;
    } else {
        out[o++] = v.d[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, v.d + 1, (size_t)(k - 1));
            o += (size_t)(k - 1);
        }
        long e = n - 1;
        o += (size_t)snprintf(out + o, SR_JSON__NUMBER_TEXT_MAX - o, "e%c%ld", e < 0 ? '-' : '+',
                              e < 0 ? -e : e);
    }
    out[o] = '\0';
    return o;
}

/* ---- number literals ---- */

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Adds the digits t[from..to) to the literal's significant digits; the
 * first of them stands at decimal position pos0 (0 = units), before the
 * literal's exponent 'expo'. */
static void
add_digits(struct sr_json__literal *lit, const char *t, size_t from, size_t to, long pos0,
           long expo, long *seen)
{
    for (size_t p = from; p < to; p++) {
        char c = t[p];
        if (*seen == 0 && c == '0')
            continue; /* leading zeros are not significant */
        if (*seen == 0)
            lit->e = pos0 - (long)(p - from) + expo;
        ++*seen;
        if (*seen <= SR_JSON__MAX_DIGITS)
            lit->d[*seen - 1] = c;
        if (c != '0') /* trailing zeros are not either: k ends at the last non-zero */
            lit->k = *seen > SR_JSON__MAX_DIGITS ? SR_JSON__MAX_DIGITS + 1 : (int)*seen;
    }
}

/* Exponents beyond this are far outside any double; saturating there keeps
 * the arithmetic in range whatever the literal's length. */
#define EXP_SATURATE 100000000L

static long
read_exponent(const char *t, size_t len, size_t *j)
{
    size_t q = *j + 1;
    bool neg = q < len && t[q] == '-';
    if (q < len && (t[q] == '+' || t[q] == '-'))
        q++;
    if (q >= len || !is_digit(t[q]))
        return 0; /* "1e" is not a number: jansson says so */
    long expo = 0;
    for (; q < len && is_digit(t[q]); q++)
        if (expo < EXP_SATURATE)
            expo = expo * 10 + (t[q] - '0');
    *j = q;
    return neg ? -expo : expo;
}

bool
sr_json__literal_read(const char *t, size_t len, size_t i, struct sr_json__literal *lit)
{
    size_t j = i;
    memset(lit, 0, sizeof(*lit));
    lit->neg = t[j] == '-';
    if (lit->neg)
        j++;
    if (j >= len || !is_digit(t[j]))
        return false;
    size_t int_start = j;
    if (t[j] == '0')
        j++;
    else
        while (j < len && is_digit(t[j]))
            j++;
    size_t int_end = j, frac_start = j;
    if (j + 1 < len && t[j] == '.' && is_digit(t[j + 1])) {
        frac_start = ++j;
        while (j < len && is_digit(t[j]))
            j++;
    }
    size_t frac_end = j;
    long expo = j < len && (t[j] == 'e' || t[j] == 'E') ? read_exponent(t, len, &j) : 0;
    lit->start = i;
    lit->end = j;
    long seen = 0;
    add_digits(lit, t, int_start, int_end, (long)(int_end - int_start) - 1, expo, &seen);
    add_digits(lit, t, frac_start, frac_end, -1, expo, &seen);
    lit->d[lit->k <= SR_JSON__MAX_DIGITS ? lit->k : SR_JSON__MAX_DIGITS] = '\0';
    return true;
}

/* Whether the literal's digits and exponent are those of v. */
static bool
same_decimal(const struct sr_json__literal *lit, const struct dec *v)
{
    return lit->k == v->k && lit->e == v->e && memcmp(lit->d, v->d, (size_t)v->k) == 0;
}

bool
sr_json__literal_exact(const struct sr_json__literal *lit)
{
    if (lit->k == 0)
        return true; /* zero, -0 included */
    if (lit->k > SR_JSON__MAX_DIGITS || lit->e > 308 || lit->e < -324)
        return false; /* more digits than any double needs, or outside the doubles */
    /* Up to 15 digits inside the normal range (DBL_DIG): the nearest double
     * prints back as exactly these digits, and no shorter ones. */
    if (lit->k <= 15 && lit->e >= -307 && lit->e <= 307)
        return true;
    struct dec v = {.k = lit->k, .e = lit->e};
    memcpy(v.d, lit->d, (size_t)lit->k + 1);
    double x = dec_value(&v);
    if (!isfinite(x) || x == 0)
        return false;
    /* ECMAScript's form has exactly k digits iff k digits read back and
     * k-1 do not (the search above relies on the same fact), and among
     * k-digit decimals it is the one digits_round_trip() chooses. */
    struct dec got;
    if (!digits_round_trip(x, lit->k, &got) || !same_decimal(lit, &got))
        return false;
    return lit->k == 1 || !digits_round_trip(x, lit->k - 1, &got);
}

bool
sr_json__literal_legacy(const struct sr_json__literal *lit)
{
    if (lit->k == 0 || lit->k > SR_JSON__MAX_DIGITS || lit->e > 308 || lit->e < -324)
        return false;
    struct dec v = {.k = lit->k, .e = lit->e};
    memcpy(v.d, lit->d, (size_t)lit->k + 1);
    double x = dec_value(&v);
    if (!isfinite(x) || x == 0)
        return false;
    char s[SR_JSON__MAX_DIGITS + 32];
    (void)snprintf(s, sizeof(s), "%.*e", SR_JSON__MAX_DIGITS - 1, x);
    struct dec got;
    dec_from_sci(s, &got);
    dec_trim(&got);
    return same_decimal(lit, &got);
}
