/* The one typed reader of JSON fields, shared by the configuration
 * (lib/config.c), the control contract (lib/ctlmsg.c) and the daemons'
 * control handlers. Each getter checks one field and, on the first failure,
 * records one line "KEY.PATH: expected WHAT, got FOUND" (FOUND shown the way
 * JSON writes it, strings cut to 40 characters, secrets by their type only);
 * later failures are consequences and are not kept. Pure: no I/O.
 *
 *   struct jf r = { 0 };
 *   struct jf_obj args = { .obj = json };         (path "" at the top)
 *   long long mtu;
 *   if (!jf_int(&r, &args, "mtu", false, 576, 9000, 1410, &mtu))
 *       return jf_take_err(&r);                   ("mtu: expected integer 576..9000, got 20000")
 */
#ifndef EVIO_JFIELD_H
#define EVIO_JFIELD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JF_KEY_MAX   192                /* longest key path built */
#define JF_SHOW_MAX  40                 /* characters of a found string shown */
#define JF_SHOW_BUF  (JF_SHOW_MAX * 6 + 16)

/* A reading. Zero-initialise; MISSING is the text for an absent required
 * key (NULL: "expected WHAT, got nothing"). */
struct jf {
    char *err;            /* malloc'd "KEY: WHAT" after the first failure */
    bool failed;
    bool oom;             /* the first failure was memory */
    const char *missing;
};

/* An object being read, with its key path ("" at the top). OBJ may be NULL:
 * every field of it is then absent. */
struct jf_obj {
    const json_t *obj;
    char path[JF_KEY_MAX];
};

/* A rule for string values: WHAT is said in "expected WHAT"; a SECRET
 * value is shown by its type only. */
struct jf_rule {
    const char *what;
    bool (*ok)(const char *);
    bool secret;
};

/* Returns the error (malloc'd; the caller frees it) and clears R; NULL if R
 * did not fail. An out-of-memory failure gives "out of memory" (or NULL if
 * even that cannot be allocated). */
char *jf_take_err(struct jf *r);
void jf_clear(struct jf *r);

/* Failures. Each returns false so a getter can "return jf_fail(...)". KEY
 * may be NULL or "" (then the message stands alone). FOUND NULL: nothing. */
bool jf_fail(struct jf *, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool jf_oom(struct jf *);
bool jf_expected(struct jf *, const char *key, const char *what, const json_t *found,
                 bool secret);

/* FOUND as an error shows it; OUT must hold JF_SHOW_BUF bytes. */
const char *jf_show(const json_t *v, bool secret, char out[JF_SHOW_BUF]);

/* Key paths: PARENT.NAME (names other than [A-Za-z0-9_-]{1,40} are quoted
 * and cut), and PARENT[I]. */
void jf_key(char out[JF_KEY_MAX], const char *parent, const char *name);
void jf_index(char out[JF_KEY_MAX], const char *parent, size_t i);

/* Member NAME of O (NULL if absent), its key path in KEY. */
json_t *jf_get(const struct jf_obj *o, const char *name, char key[JF_KEY_MAX]);

/* True for a string that hides no NUL (it would silently truncate). */
bool jf_is_plain_string(const json_t *v);

/* Every member of O must be named in KNOWN (NULL-terminated): "unknown key". */
bool jf_known_keys(struct jf *, const struct jf_obj *o, const char *const *known);

/* The getters. An absent field is an error when REQUIRED, else the default
 * (or NULL) is stored. */

/* Object NAME of PARENT into *SUB (SUB->obj NULL when absent). */
bool jf_object(struct jf *, const struct jf_obj *parent, const char *name, bool required,
               struct jf_obj *sub);
/* Array NAME with at most MAX entries ("expected at most MAX entries, got N");
 * *OUT borrowed, NULL when absent. KEY (may be NULL) gets its path. */
bool jf_array(struct jf *, const struct jf_obj *o, const char *name, bool required,
              size_t max, json_t **out, char key[JF_KEY_MAX]);
/* "expected integer LO..HI". */
bool jf_int(struct jf *, const struct jf_obj *o, const char *name, bool required,
            long long lo, long long hi, long long deflt, long long *out);
/* "expected true or false". */
bool jf_bool(struct jf *, const struct jf_obj *o, const char *name, bool required,
             bool deflt, bool *out);
/* A string passing RULE (RULE NULL: any string); *OUT borrowed from the
 * JSON, NULL when absent. */
bool jf_str(struct jf *, const struct jf_obj *o, const char *name, bool required,
            const struct jf_rule *rule, const char **out);
/* As jf_str, copied into BUF of SIZE bytes (a value that does not fit is
 * refused as not passing RULE); absent leaves "" there. */
bool jf_str_buf(struct jf *, const struct jf_obj *o, const char *name, bool required,
                const struct jf_rule *rule, char *buf, size_t size);
/* Value V found at KEY (an array element, say) as a string passing RULE. */
bool jf_str_value(struct jf *, const char *key, const json_t *v, const struct jf_rule *rule,
                  const char **out);
/* One of the N NAMES ("expected one of a|b|c"); *OUT is its index. */
bool jf_enum(struct jf *, const struct jf_obj *o, const char *name, bool required,
             const char *const *names, size_t n, int deflt, int *out);

#endif
