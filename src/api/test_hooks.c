/* SPDX-License-Identifier: MIT
 *
 * test_hooks.c - what only a test build can switch on (CMake option
 * SR_TEST_HOOKS, on in the dev and asan presets, off in release): with
 * `sealrund --test-tamper receipt|output`, GET /jobs/{id} answers a job
 * whose receipt or output was altered after it was signed, so the browser
 * test (tests/browser/) can show the dashboard's verification failing. The
 * stored job is never changed. In a build without SR_TEST_HOOKS the option
 * does not exist and sr_api__test_tamper() never changes anything.
 */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"

#ifdef SR_TEST_HOOKS
void
sr_api_set_test_tamper(sr_api *api, enum sr_api_tamper t)
{
    api->tamper = t;
}
#endif

/* receipt: gas_used + 1 (the signature no longer verifies); output: one
 * member added (the output hash no longer matches). */
static void
tamper(json_t *job, enum sr_api_tamper t)
{
    json_t *r = json_object_get(job, "receipt");
    if (t == SR_API_TAMPER_RECEIPT && json_is_object(r)) {
        json_int_t gas = json_integer_value(json_object_get(r, "gas_used"));
        json_object_set_new(r, "gas_used", json_integer(gas + 1));
    } else if (t == SR_API_TAMPER_OUTPUT && json_is_object(json_object_get(job, "output"))) {
        json_object_set_new(json_object_get(job, "output"), "tampered", json_true());
    }
}

void
sr_api__test_tamper(const sr_api *api, struct sr_api_response *resp)
{
    if (api->tamper == SR_API_TAMPER_NONE || !resp->text)
        return;
    json_t *job = NULL;
    if (sr_json_parse(resp->text, resp->text_len, SR_MAX_JSON_DEPTH, "job", &job, NULL) != SR_OK)
        return;
    tamper(job, api->tamper);
    char *text = sr_json_dumps(job, JSON_COMPACT);
    json_decref(job);
    if (!text)
        return;
    free(resp->text);
    resp->text = text;
    resp->text_len = strlen(text);
}
