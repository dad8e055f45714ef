/* JS strings as C strings, for the addon's path and name arguments. */
#include <stdlib.h>
#include "jsstring.h"

enum js_utf8_result js_utf8(napi_env env, napi_value value, char **out, size_t *len) {
  *out = NULL;
  if (napi_get_value_string_utf8(env, value, NULL, 0, len) != napi_ok) return JS_UTF8_NOT_STRING;
  char *s = malloc(*len + 1);
  if (!s) return JS_UTF8_NO_MEMORY;
  /* A second call with room for the terminator: N-API asks for the size first, then copies. */
  napi_get_value_string_utf8(env, value, s, *len + 1, len);
  *out = s;
  return JS_UTF8_OK;
}
