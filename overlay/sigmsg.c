/* The signalling payload codec (sigmsg.h): JSON text <-> struct sigmsg with
 * every field validated. Used by the node agent on both directions of the
 * XMPP signalling channel; doc/signalling.md is the prose version of it. */
#include "sigmsg.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Errors are built into a fixed buffer and duplicated once at the end, so no
 * allocation can fail half-way through a rejection. */
#define SIGMSG_ERR_LEN 256

static const char *const sigmsg_type_names[] = {
    [SIGMSG_EDGE_REQ] = "edge_req",
    [SIGMSG_EDGE_RESP] = "edge_resp",
    [SIGMSG_LINK_CREDS] = "link_creds",
    [SIGMSG_LINK_CAND] = "link_cand",
    [SIGMSG_EDGE_CLOSE] = "edge_close",
    [SIGMSG_EDGE_WANT] = "edge_want",
};
#define SIGMSG_N_TYPES (sizeof sigmsg_type_names / sizeof sigmsg_type_names[0])

static const char *const sigmsg_edge_type_names[] = {
    [SIGMSG_EDGE_SUCCESSOR] = "successor",
    [SIGMSG_EDGE_LONG_DISTANCE] = "long_distance",
    [SIGMSG_EDGE_STATIC] = "static",
    [SIGMSG_EDGE_ON_DEMAND] = "on_demand",
};
#define SIGMSG_N_EDGE_TYPES (sizeof sigmsg_edge_type_names / sizeof sigmsg_edge_type_names[0])

static const char *const sigmsg_resp_reason_names[] = {
    [SIGMSG_RESP_OK] = "ok",
    [SIGMSG_RESP_BUSY] = "busy",
    [SIGMSG_RESP_DUPLICATE] = "duplicate",
    [SIGMSG_RESP_COLLISION] = "collision",
    [SIGMSG_RESP_UNKNOWN_OVERLAY] = "unknown_overlay",
    [SIGMSG_RESP_REFUSED] = "refused",
    [SIGMSG_RESP_FULL] = "full",
};
#define SIGMSG_N_REASONS (sizeof sigmsg_resp_reason_names / sizeof sigmsg_resp_reason_names[0])

static const char *sigmsg_name(const char *const *names, size_t n, unsigned v)
{
    return v < n ? names[v] : "?";
}

const char *sigmsg_type_name(enum sigmsg_type t)
{
    return sigmsg_name(sigmsg_type_names, SIGMSG_N_TYPES, t);
}

const char *sigmsg_edge_type_name(enum sigmsg_edge_type t)
{
    return sigmsg_name(sigmsg_edge_type_names, SIGMSG_N_EDGE_TYPES, t);
}

const char *sigmsg_resp_reason_name(enum sigmsg_resp_reason r)
{
    return sigmsg_name(sigmsg_resp_reason_names, SIGMSG_N_REASONS, r);
}

/* Returns the index of S in NAMES, or -1. */
static int sigmsg_lookup(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return (int) i;
    return -1;
}

bool sigmsg_random_hex16(char out[SIGMSG_HEX16_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SIGMSG_HEX16_LEN / 2];
    size_t got = 0;

    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        got += (size_t) n;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[SIGMSG_HEX16_LEN] = '\0';
    return true;
}

/* ---- field rules: each takes a NUL-terminated string -------------------- */

static bool sigmsg_is_lower_hex(const char *s, size_t len)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == len;
}

static bool sigmsg_valid_hex16(const char *s) { return sigmsg_is_lower_hex(s, SIGMSG_HEX16_LEN); }

static bool sigmsg_valid_nodeid(const char *s) { return sigmsg_is_lower_hex(s, NODEID_HEX_LEN); }

/* "xx:xx:xx:xx:xx:xx", hex digits of either case */
static bool sigmsg_valid_mac(const char *s)
{
    if (strlen(s) != SIGMSG_MAC_LEN)
        return false;
    for (int i = 0; i < SIGMSG_MAC_LEN; i++) {
        bool colon = i % 3 == 2;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')
                   || (s[i] >= 'A' && s[i] <= 'F');
        if (colon ? s[i] != ':' : !hex)
            return false;
    }
    return true;
}

/* SHA-256 fingerprint as OpenSSL and SDP print it: "AB:CD:...", 32 bytes */
static bool sigmsg_valid_fpr(const char *s)
{
    if (strlen(s) != SIGMSG_FPR_LEN)
        return false;
    for (int i = 0; i < SIGMSG_FPR_LEN; i++) {
        bool colon = i % 3 == 2;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F');
        if (colon ? s[i] != ':' : !hex)
            return false;
    }
    return true;
}

/* ICE credentials: RFC 8445's ice-char is ALPHA / DIGIT / "+" / "/" */
static bool sigmsg_valid_ice(const char *s, size_t min)
{
    size_t i;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '+' || c == '/'))
            return false;
    }
    return i >= min && i <= SIGMSG_ICE_MAX;
}

static bool sigmsg_valid_ufrag(const char *s) { return sigmsg_valid_ice(s, SIGMSG_UFRAG_MIN); }

static bool sigmsg_valid_pwd(const char *s) { return sigmsg_valid_ice(s, SIGMSG_PWD_MIN); }

/* A candidate line goes to libnice's parser: printable ASCII only, so no
 * newline can smuggle a second SDP line in. */
static bool sigmsg_valid_cand(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return i >= 1 && i <= SIGMSG_CAND_MAX;
}

/* edge_close reasons are open-ended tokens so new ones need no new version */
static bool sigmsg_valid_reason(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return i >= 1 && i <= SIGMSG_REASON_MAX;
}

static bool sigmsg_valid_overlay(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'
              || s[i] == '-'))
            return false;
    return i >= 1 && i <= SIGMSG_OVERLAY_MAX;
}

/* Copies at most 40 characters of untrusted S into OUT for an error message,
 * with anything unprintable shown as '?', so logs stay one short line. */
static const char *sigmsg_echo(const char *s, char out[48])
{
    size_t i;
    for (i = 0; i < 40 && s[i]; i++)
        out[i] = (s[i] >= 0x20 && s[i] <= 0x7e && s[i] != '"') ? s[i] : '?';
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* ---- decoding ----------------------------------------------------------- */

struct sigmsg_dec {
    json_t *obj;
    char err[SIGMSG_ERR_LEN];
};

static bool sigmsg_fail(struct sigmsg_dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool sigmsg_fail(struct sigmsg_dec *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    return false;
}

static bool sigmsg_get_str(struct sigmsg_dec *d, const char *key, const char **out)
{
    json_t *v = json_object_get(d->obj, key);
    if (!v)
        return sigmsg_fail(d, "missing field \"%s\"", key);
    if (!json_is_string(v))
        return sigmsg_fail(d, "field \"%s\": expected string", key);
    *out = json_string_value(v);
    return true;
}

static bool sigmsg_get_bool(struct sigmsg_dec *d, const char *key, bool *out)
{
    json_t *v = json_object_get(d->obj, key);
    if (!v)
        return sigmsg_fail(d, "missing field \"%s\"", key);
    if (!json_is_boolean(v))
        return sigmsg_fail(d, "field \"%s\": expected boolean", key);
    *out = json_is_true(v);
    return true;
}

/* Reads string KEY, checks it with VALID (which also bounds its length to
 * fit DST) and copies it into DST. WHAT describes the rule for the error. */
static bool sigmsg_get_field(struct sigmsg_dec *d, const char *key, bool (*valid)(const char *),
                             const char *what, char *dst, size_t dst_size)
{
    const char *s;
    if (!sigmsg_get_str(d, key, &s))
        return false;
    if (!valid(s) || strlen(s) >= dst_size)
        return sigmsg_fail(d, "field \"%s\": expected %s", key, what);
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

static bool sigmsg_get_enum(struct sigmsg_dec *d, const char *key, const char *const *names,
                            size_t n, int *out)
{
    const char *s;
    if (!sigmsg_get_str(d, key, &s))
        return false;
    *out = sigmsg_lookup(names, n, s);
    if (*out >= 0)
        return true;

    char list[160] = "", echo[48];
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? "|" : "", names[i]);
    }
    return sigmsg_fail(d, "field \"%s\": expected %s, got \"%s\"", key, list,
                       sigmsg_echo(s, echo));
}

static bool sigmsg_get_nodeid(struct sigmsg_dec *d, const char *key, struct nodeid *out)
{
    char hex[NODEID_HEX_LEN + 1];
    return sigmsg_get_field(d, key, sigmsg_valid_nodeid, "32 lowercase hex digits", hex,
                            sizeof hex)
           && (nodeid_parse(hex, out)
               || sigmsg_fail(d, "field \"%s\": expected 32 lowercase hex digits", key));
}

static bool sigmsg_get_creds(struct sigmsg_dec *d, struct sigmsg_creds *c)
{
    return sigmsg_get_field(d, "mac", sigmsg_valid_mac, "xx:xx:xx:xx:xx:xx", c->mac,
                            sizeof c->mac)
           && sigmsg_get_field(d, "fingerprint", sigmsg_valid_fpr,
                               "32 uppercase hex bytes separated by ':'", c->fingerprint,
                               sizeof c->fingerprint)
           && sigmsg_get_field(d, "ufrag", sigmsg_valid_ufrag, "4..256 ICE characters",
                               c->ufrag, sizeof c->ufrag)
           && sigmsg_get_field(d, "pwd", sigmsg_valid_pwd, "22..256 ICE characters", c->pwd,
                               sizeof c->pwd);
}

static bool sigmsg_get_cands(struct sigmsg_dec *d, struct sigmsg *m)
{
    if (!sigmsg_get_bool(d, "done", &m->done))
        return false;
    json_t *arr = json_object_get(d->obj, "candidates");
    if (!arr)
        return sigmsg_fail(d, "missing field \"candidates\"");
    if (!json_is_array(arr))
        return sigmsg_fail(d, "field \"candidates\": expected array of strings");
    size_t n = json_array_size(arr);
    if (n > SIGMSG_MAX_CANDS)
        return sigmsg_fail(d, "field \"candidates\": %zu candidates, limit %d", n,
                           SIGMSG_MAX_CANDS);
    if (n == 0 && !m->done)
        return sigmsg_fail(d, "field \"candidates\": empty (allowed only with done=true)");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        const char *s = json_string_value(v);
        if (!s || !sigmsg_valid_cand(s))
            return sigmsg_fail(d, "field \"candidates[%zu]\": expected 1..%d printable ASCII "
                               "characters", i, SIGMSG_CAND_MAX);
        memcpy(m->cands[i], s, strlen(s) + 1);
    }
    m->n_cands = (int) n;
    return true;
}

/* The fields specific to M->type. */
static bool sigmsg_get_body(struct sigmsg_dec *d, struct sigmsg *m)
{
    int v;

    if (!sigmsg_get_field(d, "edge_id", sigmsg_valid_hex16, "16 lowercase hex digits",
                          m->edge_id, sizeof m->edge_id))
        return false;

    switch (m->type) {
    case SIGMSG_EDGE_REQ:
        if (!sigmsg_get_enum(d, "edge_type", sigmsg_edge_type_names, SIGMSG_N_EDGE_TYPES, &v))
            return false;
        m->edge_type = (enum sigmsg_edge_type) v;
        /* the requester's certificate, so the acceptor can pin it from the start */
        return sigmsg_get_field(d, "fingerprint", sigmsg_valid_fpr,
                                "32 uppercase hex bytes separated by ':'",
                                m->creds.fingerprint, sizeof m->creds.fingerprint);
    case SIGMSG_EDGE_RESP:
        if (!sigmsg_get_bool(d, "accepted", &m->accepted)
            || !sigmsg_get_enum(d, "reason", sigmsg_resp_reason_names, SIGMSG_N_REASONS, &v))
            return false;
        m->resp_reason = (enum sigmsg_resp_reason) v;
        if (m->accepted != (m->resp_reason == SIGMSG_RESP_OK))
            return sigmsg_fail(d, "field \"reason\": \"%s\" contradicts accepted=%s",
                               sigmsg_resp_reason_name(m->resp_reason),
                               m->accepted ? "true" : "false");
        return !m->accepted || sigmsg_get_creds(d, &m->creds);
    case SIGMSG_LINK_CREDS:
        return sigmsg_get_creds(d, &m->creds);
    case SIGMSG_LINK_CAND:
        return sigmsg_get_cands(d, m);
    case SIGMSG_EDGE_CLOSE:
        return sigmsg_get_field(d, "reason", sigmsg_valid_reason, "1..32 of [a-z0-9_]",
                                m->close_reason, sizeof m->close_reason);
    case SIGMSG_EDGE_WANT:
        if (!sigmsg_get_bool(d, "want", &m->want))
            return false;
        if (!m->want)
            return true;
        if (!sigmsg_get_enum(d, "edge_type", sigmsg_edge_type_names, SIGMSG_N_EDGE_TYPES, &v))
            return false;
        m->edge_type = (enum sigmsg_edge_type) v;
        return true;
    }
    return sigmsg_fail(d, "internal error: type %d", (int) m->type);
}

static bool sigmsg_get_envelope(struct sigmsg_dec *d, const char *expect_overlay,
                                const struct nodeid *expect_to, struct sigmsg *m)
{
    char echo[48];
    const char *s;
    int t;

    /* The version comes first: a v2 message may differ in anything else. */
    json_t *v = json_object_get(d->obj, "v");
    if (!v)
        return sigmsg_fail(d, "missing field \"v\"");
    if (!json_is_integer(v))
        return sigmsg_fail(d, "field \"v\": expected integer");
    if (json_integer_value(v) != SIGMSG_VERSION)
        return sigmsg_fail(d, "unsupported version %" JSON_INTEGER_FORMAT,
                           json_integer_value(v));

    if (!sigmsg_get_str(d, "overlay", &s))
        return false;
    if (strcmp(s, expect_overlay))
        return sigmsg_fail(d, "wrong overlay \"%s\" (expected \"%s\")", sigmsg_echo(s, echo),
                           expect_overlay);
    memcpy(m->overlay, s, strlen(s) + 1);   /* equal to expect_overlay: it fits */

    if (!sigmsg_get_str(d, "type", &s))
        return false;
    t = sigmsg_lookup(sigmsg_type_names, SIGMSG_N_TYPES, s);
    if (t < 0)
        return sigmsg_fail(d, "unknown type \"%s\"", sigmsg_echo(s, echo));
    m->type = (enum sigmsg_type) t;

    if (!sigmsg_get_nodeid(d, "from", &m->from) || !sigmsg_get_nodeid(d, "to", &m->to))
        return false;
    if (nodeid_cmp(&m->to, expect_to)) {
        char got[NODEID_HEX_LEN + 1], want[NODEID_HEX_LEN + 1];
        nodeid_format(&m->to, got);
        nodeid_format(expect_to, want);
        return sigmsg_fail(d, "wrong recipient %s (we are %s)", got, want);
    }
    return sigmsg_get_field(d, "session", sigmsg_valid_hex16, "16 lowercase hex digits",
                            m->session, sizeof m->session);
}

char *sigmsg_decode(const char *text, size_t len, const char *expect_overlay,
                    const struct nodeid *expect_to, struct sigmsg *out)
{
    struct sigmsg_dec d = { .obj = NULL };
    bool ok = false;

    memset(out, 0, sizeof *out);
    if (!text) {
        sigmsg_fail(&d, "empty message");
    } else if (len > SIGMSG_MAX_LEN) {
        sigmsg_fail(&d, "message too large: %zu bytes (limit %d)", len, SIGMSG_MAX_LEN);
    } else {
        json_error_t jerr;
        d.obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!d.obj) {
            /* jansson quotes the token it stopped at as it came: a newline
             * or a terminal escape from a peer must not reach the log */
            for (char *p = jerr.text; *p; p++)
                if (*p < 0x20 || *p > 0x7e)
                    *p = '?';
            sigmsg_fail(&d, "malformed JSON: %s (position %d)", jerr.text, jerr.position);
        } else if (!json_is_object(d.obj))
            sigmsg_fail(&d, "not a JSON object");
        else
            ok = sigmsg_get_envelope(&d, expect_overlay, expect_to, out)
                 && sigmsg_get_body(&d, out);
    }
    json_decref(d.obj);
    if (ok)
        return NULL;
    memset(out, 0, sizeof *out);
    char *err = strdup(d.err);
    if (!err)   /* out of memory must still read as a failure to the caller */
        err = strdup("out of memory");
    return err;
}

/* ---- encoding ----------------------------------------------------------- */

/* Checks what the decoder would check, on the struct side. */
static bool sigmsg_check(const struct sigmsg *m, struct sigmsg_dec *d)
{
    const struct sigmsg_creds *c = &m->creds;
    bool need_creds = m->type == SIGMSG_LINK_CREDS
                      || (m->type == SIGMSG_EDGE_RESP && m->accepted);

    if ((unsigned) m->type >= SIGMSG_N_TYPES)
        return sigmsg_fail(d, "unknown type %d", (int) m->type);
    if (!memchr(m->overlay, 0, sizeof m->overlay) || !sigmsg_valid_overlay(m->overlay))
        return sigmsg_fail(d, "overlay: expected 1..32 of [a-z0-9_-]");
    if (!memchr(m->session, 0, sizeof m->session) || !sigmsg_valid_hex16(m->session))
        return sigmsg_fail(d, "session: expected 16 lowercase hex digits");
    if (!memchr(m->edge_id, 0, sizeof m->edge_id) || !sigmsg_valid_hex16(m->edge_id))
        return sigmsg_fail(d, "edge_id: expected 16 lowercase hex digits");
    if ((m->type == SIGMSG_EDGE_REQ || (m->type == SIGMSG_EDGE_WANT && m->want))
        && (unsigned) m->edge_type >= SIGMSG_N_EDGE_TYPES)
        return sigmsg_fail(d, "edge_type: unknown value %d", (int) m->edge_type);
    if (m->type == SIGMSG_EDGE_REQ
        && (!memchr(c->fingerprint, 0, sizeof c->fingerprint) || !sigmsg_valid_fpr(c->fingerprint)))
        return sigmsg_fail(d, "fingerprint: expected 32 uppercase hex bytes separated by ':'");
    if (m->type == SIGMSG_EDGE_RESP
        && ((unsigned) m->resp_reason >= SIGMSG_N_REASONS
            || m->accepted != (m->resp_reason == SIGMSG_RESP_OK)))
        return sigmsg_fail(d, "reason: must be \"ok\" exactly when accepted");
    if (need_creds
        && (!memchr(c->mac, 0, sizeof c->mac) || !sigmsg_valid_mac(c->mac)
            || !memchr(c->fingerprint, 0, sizeof c->fingerprint)
            || !sigmsg_valid_fpr(c->fingerprint)
            || !memchr(c->ufrag, 0, sizeof c->ufrag) || !sigmsg_valid_ufrag(c->ufrag)
            || !memchr(c->pwd, 0, sizeof c->pwd) || !sigmsg_valid_pwd(c->pwd)))
        return sigmsg_fail(d, "creds: mac, fingerprint, ufrag or pwd malformed");
    if (m->type == SIGMSG_LINK_CAND) {
        if (m->n_cands < 0 || m->n_cands > SIGMSG_MAX_CANDS || (m->n_cands == 0 && !m->done))
            return sigmsg_fail(d, "candidates: %d candidates (1..%d, or 0 with done)",
                               m->n_cands, SIGMSG_MAX_CANDS);
        for (int i = 0; i < m->n_cands; i++)
            if (!memchr(m->cands[i], 0, sizeof m->cands[i]) || !sigmsg_valid_cand(m->cands[i]))
                return sigmsg_fail(d, "candidates[%d]: expected 1..%d printable ASCII "
                                   "characters", i, SIGMSG_CAND_MAX);
    }
    if (m->type == SIGMSG_EDGE_CLOSE
        && (!memchr(m->close_reason, 0, sizeof m->close_reason)
            || !sigmsg_valid_reason(m->close_reason)))
        return sigmsg_fail(d, "reason: expected 1..32 of [a-z0-9_]");
    return true;
}

static int sigmsg_build_creds(json_t *o, const struct sigmsg_creds *c)
{
    return json_object_set_new(o, "mac", json_string(c->mac))
           | json_object_set_new(o, "fingerprint", json_string(c->fingerprint))
           | json_object_set_new(o, "ufrag", json_string(c->ufrag))
           | json_object_set_new(o, "pwd", json_string(c->pwd));
}

static json_t *sigmsg_build(const struct sigmsg *m)
{
    char from[NODEID_HEX_LEN + 1], to[NODEID_HEX_LEN + 1];
    json_t *o;

    nodeid_format(&m->from, from);
    nodeid_format(&m->to, to);
    o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "v", SIGMSG_VERSION,
                  "overlay", m->overlay, "type", sigmsg_type_name(m->type), "from", from,
                  "to", to, "session", m->session, "edge_id", m->edge_id);
    if (!o)
        return NULL;

    int rc = 0;
    switch (m->type) {
    case SIGMSG_EDGE_REQ:
        rc = json_object_set_new(o, "edge_type", json_string(sigmsg_edge_type_name(m->edge_type)))
             | json_object_set_new(o, "fingerprint", json_string(m->creds.fingerprint));
        break;
    case SIGMSG_EDGE_RESP:
        rc = json_object_set_new(o, "accepted", json_boolean(m->accepted))
             | json_object_set_new(o, "reason",
                                   json_string(sigmsg_resp_reason_name(m->resp_reason)));
        if (m->accepted)   /* an acceptance carries the acceptor's credentials */
            rc |= sigmsg_build_creds(o, &m->creds);
        break;
    case SIGMSG_LINK_CREDS:
        rc = sigmsg_build_creds(o, &m->creds);
        break;
    case SIGMSG_LINK_CAND: {
        json_t *arr = json_array();
        for (int i = 0; arr && i < m->n_cands; i++)
            rc |= json_array_append_new(arr, json_string(m->cands[i]));
        rc |= json_object_set_new(o, "candidates", arr)
              | json_object_set_new(o, "done", json_boolean(m->done));
        break;
    }
    case SIGMSG_EDGE_CLOSE:
        rc = json_object_set_new(o, "reason", json_string(m->close_reason));
        break;
    case SIGMSG_EDGE_WANT:
        rc = json_object_set_new(o, "want", json_boolean(m->want));
        if (m->want)
            rc |= json_object_set_new(o, "edge_type",
                                      json_string(sigmsg_edge_type_name(m->edge_type)));
        break;
    }
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *sigmsg_encode(const struct sigmsg *m, char **err)
{
    struct sigmsg_dec d = { .obj = NULL };
    char *text = NULL;

    if (err)
        *err = NULL;
    if (!sigmsg_check(m, &d)) {
        if (err)
            *err = strdup(d.err);
        return NULL;
    }
    json_t *o = sigmsg_build(m);
    if (o)
        text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text && strlen(text) > SIGMSG_MAX_LEN) {
        if (err && asprintf(err, "encoded message is %zu bytes (limit %d)", strlen(text),
                            SIGMSG_MAX_LEN) < 0)
            *err = NULL;
        free(text);
        return NULL;
    }
    return text;
}
