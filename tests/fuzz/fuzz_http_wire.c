/* SPDX-License-Identifier: MIT
 *
 * fuzz_http_wire.c - libFuzzer target: arbitrary bytes -> the decoders of
 * the HTTP host call (sr_http.h). The supervisor decodes what an untrusted
 * job process sent, so sr_http_wire_request_decode must accept or refuse any
 * bytes without crashing or reading out of bounds; an accepted request must
 * encode back to the same bytes. The answer decoder (the job process's side)
 * gets the same input and holds the same rules. The first byte is the host
 * call's operation, as on the wire.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sr_http_message *m = calloc(1, sizeof(*m));
    if (!m)
        return 0;
    if (sr_http_wire_request_decode(data, size, m, NULL) == SR_OK) {
        sr_buf b;
        sr_buf_init(&b, size + 64);
        if (sr_http_wire_request(&b, m, NULL) != SR_OK || b.len != size ||
            memcmp(b.data, data, size) != 0)
            abort(); /* a request that decodes is exactly its bytes */
        sr_buf_fini(&b);
    }
    enum sr_http_wire_code code;
    if (sr_http_wire_answer_decode(data, size, &code, m, NULL) == SR_OK &&
        code == SR_HTTP_WIRE_OK) {
        sr_buf b;
        sr_buf_init(&b, size + 64);
        if (sr_http_wire_answer(&b, m, NULL) != SR_OK || b.len != size ||
            memcmp(b.data, data, size) != 0)
            abort();
        sr_buf_fini(&b);
    }
    free(m);
    return 0;
}
