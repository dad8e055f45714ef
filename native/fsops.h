#ifndef BLAINE_FSOPS_H
#define BLAINE_FSOPS_H
#include <node_api.h>

/* Adds setMtime, setMtimeFd and flock (fsops.c) to the addon's exports. */
void fsops_init(napi_env env, napi_value exports);

#endif
