/* SPDX-License-Identifier: MIT
 *
 * time_parse.c - RFC 3339 date-time parsing: secret policy expiry, the
 * 'since' and 'until' of GET /jobs and GET /stats.
 *
 * Accepts YYYY-MM-DD('T'|'t')HH:MM:SS[.fraction]('Z'|'z'|+HH:MM|-HH:MM),
 * years 1970..9999, a leap second (60) counted as the next second, and
 * returns Unix milliseconds (a longer fraction is cut, not rounded). The
 * date arithmetic is days_from_civil (H. Hinnant), with no time zone or
 * locale state, so it is thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealrun/sr_util.h"

/* Reads exactly n digits at text[*i]; false if any is not a digit. */
static bool
digits(const char *text, size_t len, size_t *i, size_t n, int *out)
{
    int v = 0;
    if (len - *i < n)
        return false;
    for (size_t k = 0; k < n; k++) {
        char c = text[*i + k];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *i += n;
    *out = v;
    return true;
}

static bool
expect(const char *text, size_t len, size_t *i, char c)
{
    if (*i >= len || text[*i] != c)
        return false;
    (*i)++;
    return true;
}

static int
days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parses ".fraction" if present; millisecond part into *ms. */
static bool
fraction(const char *text, size_t len, size_t *i, int *ms)
{
    *ms = 0;
    if (*i >= len || text[*i] != '.')
        return true;
    (*i)++;
    size_t n = 0;
    while (*i < len && text[*i] >= '0' && text[*i] <= '9') {
        if (n < 3)
            *ms = *ms * 10 + (text[*i] - '0');
        n++;
        (*i)++;
    }
    if (n == 0 || n > 9)
        return false;
    for (size_t k = n; k < 3; k++)
        *ms *= 10;
    return true;
}

/* Parses the zone at text[*i..]: offset east of UTC in seconds. */
static bool
zone(const char *text, size_t len, size_t *i, int *offset_s)
{
    int oh, om;
    if (*i >= len)
        return false;
    char c = text[(*i)++];
    if (c == 'Z' || c == 'z') {
        *offset_s = 0;
        return true;
    }
    if (c != '+' && c != '-')
        return false;
    if (!digits(text, len, i, 2, &oh) || !expect(text, len, i, ':') ||
        !digits(text, len, i, 2, &om) || oh > 23 || om > 59)
        return false;
    *offset_s = (oh * 3600 + om * 60) * (c == '-' ? -1 : 1);
    return true;
}

bool
sr_time_parse_rfc3339(const char *text, size_t len, int64_t *out_ms)
{
    size_t i = 0;
    int y, mo, d, h, mi, s, ms, off;

    if (!text)
        return false;
    if (!digits(text, len, &i, 4, &y) || !expect(text, len, &i, '-') ||
        !digits(text, len, &i, 2, &mo) || !expect(text, len, &i, '-') ||
        !digits(text, len, &i, 2, &d))
        return false;
    if (i >= len || (text[i] != 'T' && text[i] != 't'))
        return false;
    i++;
    if (!digits(text, len, &i, 2, &h) || !expect(text, len, &i, ':') ||
        !digits(text, len, &i, 2, &mi) || !expect(text, len, &i, ':') ||
        !digits(text, len, &i, 2, &s))
        return false;
    if (!fraction(text, len, &i, &ms) || !zone(text, len, &i, &off) || i != len)
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        s > 60)
        return false;
    int64_t secs =
        days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s - off;
    if (secs < 0)
        return false;
    *out_ms = secs * 1000 + ms;
    return true;
}
