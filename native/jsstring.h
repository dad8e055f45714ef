#ifndef BLAINE_JSSTRING_H
#define BLAINE_JSSTRING_H
#include <stddef.h>
#include <node_api.h>

enum js_utf8_result { JS_UTF8_OK = 0, JS_UTF8_NOT_STRING, JS_UTF8_NO_MEMORY };

/*
 * The UTF-8 bytes of the JS string `value`, NUL-terminated, in *out (memory the caller frees) and
 * their count in *len. On failure *out is NULL and nothing is thrown: the caller says what was wrong.
 */
enum js_utf8_result js_utf8(napi_env env, napi_value value, char **out, size_t *len);

#endif
