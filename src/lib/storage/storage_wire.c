/* SPDX-License-Identifier: MIT
 *
 * storage_wire.c - the host-call encoding between a job process and its
 * supervisor (sr_storage.h documents the bytes). Integers are little-endian;
 * every length is checked against what is left before it is used.
 */
#include "sealrun/sr_storage.h"

#include <string.h>

static void
put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

sr_status
sr_storage_wire_request(sr_buf *b, char op, const uint8_t *key, size_t key_len,
                        const uint8_t *payload, size_t payload_len, sr_err *err)
{
    if (key_len > 0xffff)
        return sr_err_set(err, SR_EINVAL, "storage key of %zu bytes is too long", key_len);
    uint8_t head[3] = {(uint8_t)op};
    put_u16(head + 1, key_len);
    sr_status rc = sr_buf_append(b, head, sizeof(head), err);
    if (rc == SR_OK && key_len)
        rc = sr_buf_append(b, key, key_len, err);
    if (rc == SR_OK && payload_len)
        rc = sr_buf_append(b, payload, payload_len, err);
    return rc;
}

sr_status
sr_storage_wire_list_request(sr_buf *b, const uint8_t *prefix, size_t prefix_len, uint32_t limit,
                             const uint8_t *after, size_t after_len, sr_err *err)
{
    if (after_len > 0xffff)
        return sr_err_set(err, SR_EINVAL, "storage key of %zu bytes is too long", after_len);
    uint8_t tail[6];
    put_u32(tail, limit);
    put_u16(tail + 4, after_len);
    sr_status rc = sr_storage_wire_request(b, 'L', prefix, prefix_len, tail, sizeof(tail), err);
    if (rc == SR_OK && after_len)
        rc = sr_buf_append(b, after, after_len, err);
    return rc;
}

sr_status
sr_storage_wire_list_head(const uint8_t *p, size_t len, uint32_t *count, bool *more, sr_err *err)
{
    if (len < 5)
        return sr_err_set(err, SR_EINVAL, "storage list answer of %zu bytes is too short", len);
    *count = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    *more = p[4] != 0;
    return SR_OK;
}

sr_status
sr_storage_wire_list_key(const uint8_t *p, size_t len, size_t *pos, struct sr_storage_key_view *out,
                         sr_err *err)
{
    if (*pos > len || len - *pos < 2)
        return sr_err_set(err, SR_EINVAL, "storage list answer is cut at byte %zu", *pos);
    size_t n = (size_t)p[*pos] | (size_t)p[*pos + 1] << 8;
    if (len - *pos - 2 < n)
        return sr_err_set(err, SR_EINVAL, "storage list answer is cut at byte %zu", *pos);
    out->p = p + *pos + 2;
    out->len = n;
    *pos += 2 + n;
    return SR_OK;
}
