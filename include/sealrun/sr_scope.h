/* SPDX-License-Identifier: MIT
 *
 * sr_scope.h - what an API token may do (docs/accounts.md#scopes). A token
 * carries a set of scopes; every route of the API names the one it needs
 * (src/api/router.c) and a request whose token lacks it gets 403 naming it.
 *
 * A set is a bit mask. The bits are stored in the tokens table (migration
 * 0014): never renumber one, only add new ones above. Pure functions;
 * thread-safe.
 */
#ifndef SR_SCOPE_H
#define SR_SCOPE_H

#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_err.h"

/* keep in sync with the names in src/lib/core/scope.c and docs/accounts.md */
enum sr_scope {
    SR_SCOPE_EXECUTE = 1u << 0,       /* POST /execute: run jobs */
    SR_SCOPE_JOBS_READ = 1u << 1,     /* GET /jobs, /jobs/{id}, /stats */
    SR_SCOPE_SECRETS_WRITE = 1u << 2, /* PUT/DELETE secrets and their policies */
    SR_SCOPE_SECRETS_READ = 1u << 3,  /* list secrets and read their audit (never values) */
    SR_SCOPE_STORAGE_READ = 1u << 4,  /* GET /storage... */
    SR_SCOPE_STORAGE_WRITE = 1u << 5, /* PUT/DELETE /storage... */
    SR_SCOPE_MODULES_WRITE = 1u << 6, /* POST/DELETE /modules */
    SR_SCOPE_ADMIN = 1u << 7,         /* every user's tokens; the operator's endpoints */
};

/* Every scope but admin: what a token gets when none are asked for, and
 * what tokens made before scopes existed were given (migration 0014). */
#define SR_SCOPES_USER 0x7fu
/* Every scope. */
#define SR_SCOPES_ALL 0xffu
/* Bytes sr_scopes_format() may write, NUL included. */
#define SR_SCOPES_TEXT_MAX 128

/* The name of one scope bit ("execute", "jobs:read", ...); NULL for a value
 * that is not exactly one known bit. */
const char *sr_scope_name(uint32_t bit);

/* Parses a list of scope names separated by commas or spaces ("execute,
 * jobs:read") into *out. An empty list is SR_EINVAL; so is an unknown name,
 * naming it and listing the known ones. 'what' names the field in
 * messages ("scopes"). */
sr_status sr_scopes_parse(const char *text, const char *what, uint32_t *out, sr_err *err);

/* Writes the names of the bits of 'set' in bit order, separated by a space,
 * into buf (cap >= SR_SCOPES_TEXT_MAX holds any set; a smaller buffer gets
 * the names that fit whole); "" for none. Unknown bits are left out.
 * Returns buf. */
char *sr_scopes_format(uint32_t set, char *buf, size_t cap);

#endif /* SR_SCOPE_H */
