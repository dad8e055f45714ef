#ifndef BLAINE_COPYFILES_H
#define BLAINE_COPYFILES_H
#include <node_api.h>

/* Adds copyFiles and sha256 (copyfiles.c) to the addon's exports. */
void copyfiles_init(napi_env env, napi_value exports);

#endif
