#ifndef BLAINE_JSSTRING_H
#define BLAINE_JSSTRING_H
#include <stddef.h>
#include <node_api.h>

enum js_utf8_result { JS_UTF8_OK = 0, JS_UTF8_NOT_STRING, JS_UTF8_NO_MEMORY };

/*
 * The bytes the JS string `value` stands for (src/fsx/name-bytes.ts: UTF-8, with each lone
 * surrogate U+DC80..U+DCFF the byte it escapes), NUL-terminated, in *out (memory the caller frees)
 * and their count in *len. On failure *out is NULL and nothing is thrown: the caller says what was wrong.
 */
enum js_utf8_result js_utf8(napi_env env, napi_value value, char **out, size_t *len);

/* The JS string for the name bytes[0..len): valid UTF-8 as such, any other byte as U+DC00 + byte. */
napi_status js_name(napi_env env, const char *bytes, size_t len, napi_value *out);

#endif
