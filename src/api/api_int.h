/*
 * api_int.h - private pieces shared by the API's files: the api object,
 * replies, and the routes kept in their own files.
 */
#ifndef SR_API_INT_H
#define SR_API_INT_H

#include "sealrun/sr_api.h"

struct sr_api {
    sr_engine *eng;
    sr_store *store;
};

/* An error body with 'status'. router.c */
void sr_api__reply_error(struct sr_api_response *resp, unsigned status, const char *msg);
/* The reply for a library failure (500s logged with a request id). router.c */
void sr_api__reply_status(struct sr_api_response *resp, const sr_err *e, const char *what);

/* /secrets... route_secrets.c */
bool sr_api__is_secrets_path(const char *path);
void sr_api__route_secrets(sr_api *api, const char *owner, const struct sr_api_request *req,
                           struct sr_api_response *resp);

/* /storage... route_storage.c */
bool sr_api__is_storage_path(const char *path);
void sr_api__route_storage(sr_api *api, const char *owner, const struct sr_api_request *req,
                           struct sr_api_response *resp);

/* GET /modules and DELETE /modules/{hash} (upload and lookup are in
 * router.c). route_modules.c */
bool sr_api__is_module_admin(const char *method, const char *path);
void sr_api__route_modules(sr_api *api, const char *owner, const struct sr_api_request *req,
                           struct sr_api_response *resp);

/* GET /attestation (public). route_attest.c */
bool sr_api__is_attestation_path(const char *path);
void sr_api__route_attestation(sr_api *api, const struct sr_api_request *req,
                               struct sr_api_response *resp);

#endif /* SR_API_INT_H */
