/* The typed JSON field reader (include/evio/jfield.h): one way to read a
 * field and one way to say what was wrong with it, for the configuration
 * and the control protocol alike. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "evio/jfield.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- failures ---------------------------------------------------------- */

char *jf_take_err(struct jf *r)
{
    char *e = r->err;
    if (r->failed && !e)
        e = strdup("out of memory");
    r->err = NULL;
    r->failed = r->oom = false;
    return e;
}

void jf_clear(struct jf *r)
{
    free(r->err);
    r->err = NULL;
    r->failed = r->oom = false;
}

bool jf_fail(struct jf *r, const char *key, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;

    if (r->failed)      /* keep the first error: later ones are consequences */
        return false;
    r->failed = true;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    if (!what || asprintf(&r->err, "%s%s%s", key ? key : "", key && *key ? ": " : "",
                          what) < 0)
        r->err = NULL;  /* jf_take_err says "out of memory" */
    free(what);
    return false;
}

bool jf_oom(struct jf *r)
{
    if (!r->failed) {
        r->failed = r->oom = true;
        r->err = strdup("out of memory");
    }
    return false;
}

/* Appends S to OUT (size N, already holding *LEN bytes) as the inside of a
 * JSON string, at most MAX characters; returns true if it had to cut. */
static bool jf_quote_into(char *out, size_t n, size_t *len, const char *s, size_t slen,
                          size_t max)
{
    size_t shown = 0;

    for (size_t i = 0; i < slen; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];

        /* a UTF-8 continuation byte belongs to the character already counted */
        bool cont = (ch & 0xc0) == 0x80;
        if (!cont && shown == max)
            return true;
        if (ch == '"' || ch == '\\')
            snprintf(esc, sizeof esc, "\\%c", ch);
        else if (ch == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (ch == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if (ch < 0x20 || ch == 0x7f)
            snprintf(esc, sizeof esc, "\\u%04x", ch);
        else
            snprintf(esc, sizeof esc, "%c", ch);
        size_t el = strlen(esc);
        if (*len + el + 1 > n)
            return true;
        memcpy(out + *len, esc, el + 1);
        *len += el;
        if (!cont)
            shown++;
    }
    return false;
}

const char *jf_show(const json_t *v, bool secret, char out[JF_SHOW_BUF])
{
    size_t len = 0;

    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    case JSON_INTEGER:
        if (secret)
            return "a number";
        snprintf(out, JF_SHOW_BUF, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return out;
    case JSON_REAL: {
        if (secret)
            return "a number";
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(out, JF_SHOW_BUF, "%s", s ? s : "a number");
        free(s);
        return out;
    }
    case JSON_STRING:
        if (secret)
            return json_string_length(v) ? "a string" : "\"\"";
        out[len++] = '"';
        out[len] = '\0';
        if (jf_quote_into(out, JF_SHOW_BUF - 4, &len, json_string_value(v),
                          json_string_length(v), JF_SHOW_MAX)) {
            memcpy(out + len, "...", 4);
            len += 3;
        }
        memcpy(out + len, "\"", 2);
        return out;
    }
    return "an unknown value";
}

bool jf_expected(struct jf *r, const char *key, const char *what, const json_t *found,
                 bool secret)
{
    char buf[JF_SHOW_BUF];

    return jf_fail(r, key, "expected %s, got %s", what, jf_show(found, secret, buf));
}

/* ---- key paths --------------------------------------------------------- */

/* Keys come from the input: plain ones print as they are, anything else is
 * quoted so the message stays one readable line. */
void jf_key(char out[JF_KEY_MAX], const char *parent, const char *name)
{
    size_t len = 0;
    bool plain = *name != '\0';

    for (const char *p = name; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_-", *p))
            plain = false;
    len = (size_t)snprintf(out, JF_KEY_MAX, "%s%s", parent, *parent ? "." : "");
    /* a quoted name needs its opening quote and the terminator after it */
    if (len + 1 >= JF_KEY_MAX)
        return;
    if (plain && strlen(name) <= JF_SHOW_MAX) {
        snprintf(out + len, JF_KEY_MAX - len, "%s", name);
        return;
    }
    out[len++] = '"';
    out[len] = '\0';
    bool cut = jf_quote_into(out, JF_KEY_MAX - 5, &len, name, strlen(name), JF_SHOW_MAX);
    snprintf(out + len, JF_KEY_MAX - len, "%s\"", cut ? "..." : "");
}

void jf_index(char out[JF_KEY_MAX], const char *parent, size_t i)
{
    if (snprintf(out, JF_KEY_MAX, "%s[%zu]", parent, i) >= JF_KEY_MAX)
        out[JF_KEY_MAX - 1] = '\0';
}

json_t *jf_get(const struct jf_obj *o, const char *name, char key[JF_KEY_MAX])
{
    jf_key(key, o->path, name);
    return o->obj ? json_object_get(o->obj, name) : NULL;
}

/* ---- getters ----------------------------------------------------------- */

bool jf_is_plain_string(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

/* An absent field: fine (false, nothing to read) unless REQUIRED. */
static bool jf_absent(struct jf *r, const char *key, bool required, const char *what,
                      bool *ok)
{
    if (!required) {
        *ok = true;
        return true;
    }
    *ok = r->missing ? jf_fail(r, key, "%s", r->missing) : jf_expected(r, key, what, NULL,
                                                                       false);
    return true;
}

bool jf_known_keys(struct jf *r, const struct jf_obj *o, const char *const *known)
{
    const char *name;
    json_t *v;

    if (!o->obj)
        return true;
    json_object_foreach((json_t *)o->obj, name, v) {
        const char *const *k = known;
        while (*k && strcmp(*k, name))
            k++;
        if (!*k) {
            char key[JF_KEY_MAX];
            jf_key(key, o->path, name);
            return jf_fail(r, key, "unknown key");
        }
    }
    return true;
}

bool jf_object(struct jf *r, const struct jf_obj *parent, const char *name, bool required,
               struct jf_obj *sub)
{
    json_t *v = jf_get(parent, name, sub->path);
    bool ok;

    sub->obj = NULL;
    if (!v && jf_absent(r, sub->path, required, "object", &ok))
        return ok;
    if (!json_is_object(v))
        return jf_expected(r, sub->path, "object", v, false);
    sub->obj = v;
    return true;
}

bool jf_array(struct jf *r, const struct jf_obj *o, const char *name, bool required,
              size_t max, json_t **out, char key[JF_KEY_MAX])
{
    char own[JF_KEY_MAX];
    char *k = key ? key : own;
    json_t *v = jf_get(o, name, k);
    bool ok;

    *out = NULL;
    if (!v && jf_absent(r, k, required, "array", &ok))
        return ok;
    if (!json_is_array(v))
        return jf_expected(r, k, "array", v, false);
    if (json_array_size(v) > max)
        return jf_fail(r, k, "expected at most %zu entries, got %zu", max, json_array_size(v));
    *out = v;
    return true;
}

bool jf_int(struct jf *r, const struct jf_obj *o, const char *name, bool required,
            long long lo, long long hi, long long deflt, long long *out)
{
    char key[JF_KEY_MAX], what[64];
    json_t *v = jf_get(o, name, key);
    bool ok;

    *out = deflt;
    snprintf(what, sizeof what, "integer %lld..%lld", lo, hi);
    if (!v && jf_absent(r, key, required, what, &ok))
        return ok;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return jf_expected(r, key, what, v, false);
    *out = json_integer_value(v);
    return true;
}

bool jf_bool(struct jf *r, const struct jf_obj *o, const char *name, bool required,
             bool deflt, bool *out)
{
    char key[JF_KEY_MAX];
    json_t *v = jf_get(o, name, key);
    bool ok;

    *out = deflt;
    if (!v && jf_absent(r, key, required, "true or false", &ok))
        return ok;
    if (!json_is_boolean(v))
        return jf_expected(r, key, "true or false", v, false);
    *out = json_is_true(v);
    return true;
}

bool jf_str_value(struct jf *r, const char *key, const json_t *v, const struct jf_rule *rule,
                  const char **out)
{
    *out = NULL;
    if (!jf_is_plain_string(v) || (rule && !rule->ok(json_string_value(v))))
        return jf_expected(r, key, rule ? rule->what : "string", v, rule && rule->secret);
    *out = json_string_value(v);
    return true;
}

bool jf_str(struct jf *r, const struct jf_obj *o, const char *name, bool required,
            const struct jf_rule *rule, const char **out)
{
    char key[JF_KEY_MAX];
    json_t *v = jf_get(o, name, key);
    bool ok;

    *out = NULL;
    if (!v && jf_absent(r, key, required, rule ? rule->what : "string", &ok))
        return ok;
    return jf_str_value(r, key, v, rule, out);
}

bool jf_str_buf(struct jf *r, const struct jf_obj *o, const char *name, bool required,
                const struct jf_rule *rule, char *buf, size_t size)
{
    char key[JF_KEY_MAX];
    const char *s;

    buf[0] = '\0';
    if (!jf_str(r, o, name, required, rule, &s))
        return false;
    if (!s)
        return true;
    if (strlen(s) >= size) {
        char what[64];
        snprintf(what, sizeof what, "string of at most %zu characters", size - 1);
        return jf_expected(r, key, rule ? rule->what : what, jf_get(o, name, key),
                           rule && rule->secret);
    }
    memcpy(buf, s, strlen(s) + 1);
    return true;
}

bool jf_enum(struct jf *r, const struct jf_obj *o, const char *name, bool required,
             const char *const *names, size_t n, int deflt, int *out)
{
    char key[JF_KEY_MAX], what[256];
    size_t len = (size_t)snprintf(what, sizeof what, "one of ");
    json_t *v = jf_get(o, name, key);
    bool ok;

    *out = deflt;
    for (size_t i = 0; i < n && len < sizeof what; i++)
        len += (size_t)snprintf(what + len, sizeof what - len, "%s%s", i ? "|" : "", names[i]);
    if (!v && jf_absent(r, key, required, what, &ok))
        return ok;
    for (size_t i = 0; jf_is_plain_string(v) && i < n; i++)
        if (!strcmp(json_string_value(v), names[i])) {
            *out = (int)i;
            return true;
        }
    return jf_expected(r, key, what, v, false);
}
