/* SPDX-License-Identifier: MIT
 *
 * codes.c - the name tables of the runtimes and job error codes (sr_codes.h).
 */
#include "sealrun/sr_codes.h"

#include <string.h>

static const char *const names[SR_JOB_CODE_COUNT_] = {[SR_JOB_OK] = NULL,
#define SR_JOB_CODE_NAME_(name, what) [SR_JOB_##name] = #name,
                                                      SR_JOB_CODES(SR_JOB_CODE_NAME_)
#undef SR_JOB_CODE_NAME_
};

const char *
sr_runtime_name(enum sr_runtime rt)
{
    return rt == SR_RUNTIME_JS ? "js" : rt == SR_RUNTIME_WASM ? "wasm" : NULL;
}

const char *
sr_job_code_name(enum sr_job_code c)
{
    return (unsigned)c < SR_JOB_CODE_COUNT_ ? names[c] : NULL;
}

bool
sr_job_code_from_name(const char *s, size_t len, enum sr_job_code *out)
{
    for (unsigned c = 1; s && c < SR_JOB_CODE_COUNT_; c++) {
        if (strlen(names[c]) == len && memcmp(names[c], s, len) == 0) {
            *out = (enum sr_job_code)c;
            return true;
        }
    }
    return false;
}
