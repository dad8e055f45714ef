/*
 * JS strings as C strings and back, for the addon's path and name arguments. Names are bytes
 * (src/fsx/name-bytes.ts): a byte that is not part of valid UTF-8 is held in JS as the lone
 * surrogate U+DC00 + byte. N-API's own UTF-8 conversions turn such a surrogate into U+FFFD and
 * such a byte into U+FFFD, losing the name, so both directions go through UTF-16 here.
 */
#include <stdint.h>
#include <stdlib.h>
#include "jsstring.h"

enum js_utf8_result js_utf8(napi_env env, napi_value value, char **out, size_t *len) {
  *out = NULL;
  size_t units;
  if (napi_get_value_string_utf16(env, value, NULL, 0, &units) != napi_ok) return JS_UTF8_NOT_STRING;
  char16_t *u = malloc((units + 1) * sizeof *u);
  if (!u) return JS_UTF8_NO_MEMORY;
  napi_get_value_string_utf16(env, value, u, units + 1, &units);
  /* At most 3 bytes per UTF-16 unit (a pair of units makes 4 bytes). */
  unsigned char *s = malloc(units * 3 + 1);
  if (!s) {
    free(u);
    return JS_UTF8_NO_MEMORY;
  }
  size_t n = 0;
  for (size_t i = 0; i < units; i++) {
    uint32_t c = u[i];
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < units && u[i + 1] >= 0xdc00 && u[i + 1] <= 0xdfff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (u[i + 1] - 0xdc00);
      i++;
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      s[n++] = (unsigned char)(c - 0xdc00); /* an escaped byte: the byte itself */
      continue;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      c = 0xfffd; /* any other lone surrogate stands for no byte: what N-API made of it too */
    }
    if (c < 0x80) s[n++] = (unsigned char)c;
    else if (c < 0x800) {
      s[n++] = (unsigned char)(0xc0 | (c >> 6));
      s[n++] = (unsigned char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      s[n++] = (unsigned char)(0xe0 | (c >> 12));
      s[n++] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
      s[n++] = (unsigned char)(0x80 | (c & 0x3f));
    } else {
      s[n++] = (unsigned char)(0xf0 | (c >> 18));
      s[n++] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
      s[n++] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
      s[n++] = (unsigned char)(0x80 | (c & 0x3f));
    }
  }
  free(u);
  s[n] = 0;
  *out = (char *)s;
  *len = n;
  return JS_UTF8_OK;
}

/* Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when none starts there (name-bytes.ts). */
static size_t sequence_length(const unsigned char *s, size_t len, size_t i) {
  unsigned c = s[i];
#define CONT(k, lo, hi) (i + (k) < len && s[i + (k)] >= (lo) && s[i + (k)] <= (hi))
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return CONT(1, 0x80, 0xbf) ? 2 : 0;
  if (c == 0xe0) return CONT(1, 0xa0, 0xbf) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return CONT(1, 0x80, 0xbf) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if (c == 0xed) return CONT(1, 0x80, 0x9f) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if (c == 0xf0) return CONT(1, 0x90, 0xbf) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return CONT(1, 0x80, 0xbf) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
  if (c == 0xf4) return CONT(1, 0x80, 0x8f) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
#undef CONT
  return 0;
}

napi_status js_name(napi_env env, const char *bytes, size_t len, napi_value *out) {
  const unsigned char *s = (const unsigned char *)(bytes ? bytes : "");
  size_t i = 0;
  while (i < len && s[i] < 0x80) i++;
  if (i == len) return napi_create_string_latin1(env, (const char *)s, len, out);
  /* At most one UTF-16 unit per byte. */
  char16_t *u = malloc((len ? len : 1) * sizeof *u);
  if (!u) return napi_generic_failure;
  size_t n = 0;
  for (i = 0; i < len;) {
    size_t k = sequence_length(s, len, i);
    uint32_t c;
    if (k == 0) {
      u[n++] = (char16_t)(0xdc00 + s[i]);
      i++;
      continue;
    }
    if (k == 1) c = s[i];
    else if (k == 2) c = ((s[i] & 0x1fu) << 6) | (s[i + 1] & 0x3fu);
    else if (k == 3) c = ((s[i] & 0x0fu) << 12) | ((s[i + 1] & 0x3fu) << 6) | (s[i + 2] & 0x3fu);
    else c = ((s[i] & 0x07u) << 18) | ((s[i + 1] & 0x3fu) << 12) | ((s[i + 2] & 0x3fu) << 6) | (s[i + 3] & 0x3fu);
    i += k;
    if (c >= 0x10000) {
      c -= 0x10000;
      u[n++] = (char16_t)(0xd800 + (c >> 10));
      u[n++] = (char16_t)(0xdc00 + (c & 0x3ff));
    } else {
      u[n++] = (char16_t)c;
    }
  }
  napi_status st = napi_create_string_utf16(env, u, n, out);
  free(u);
  return st;
}
