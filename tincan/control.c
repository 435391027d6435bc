/* evio-tincan's control commands (see control.h): argument checking, the
 * link table, and the events links emit, forwarded to subscribers. */
#include "control.h"
#include "evio/version.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "evio/ctl.h"
#include "evio/log.h"
#include "servers.h"

#define CONTROL_MOD "tincan"
#define CONTROL_MAX_LINKS 4096

/* ---- argument checking ----------------------------------------------- */

static const char *control_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Sets *ERR to a malloc'd message, counts the rejection, returns NULL so a
 * handler can "return control_fail(...)". */
__attribute__((format(printf, 3, 4)))
static json_t *control_fail(struct control *c, char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(err, fmt, ap) < 0)
        *err = NULL;
    va_end(ap);
    c->rejected++;
    return NULL;
}

/* Checks ARGS is an object (or absent). Unknown keys are ignored (logged at
 * debug level) so a newer node agent can add optional ones; KNOWN is
 * NULL-terminated. Returns false, with *ERR set and the request counted as
 * rejected, when ARGS is not an object. */
static bool control_check_keys(struct control *c, json_t *args, const char *const *known,
                               char **err)
{
    if (args && !json_is_object(args)) {
        if (asprintf(err, "args: expected object, got %s", control_kind(args)) < 0)
            *err = NULL;
        c->rejected++;
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = !strcmp(*k, key);
        if (!ok)
            log_debug(CONTROL_MOD, "ignoring unknown argument \"%.64s\"", key);
    }
    return true;
}

/* Fetches string KEY; NULL when absent. *BAD is set when present but not a
 * string. */
static const char *control_str(json_t *args, const char *key, bool *bad)
{
    json_t *v = args ? json_object_get(args, key) : NULL;
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static json_t *control_arg_type(struct control *c, char **err, json_t *args, const char *key,
                                const char *want)
{
    return control_fail(c, err, "%s: expected %s, got %s", key, want,
                        control_kind(json_object_get(args, key)));
}

static struct link *control_find(struct control *c, const char *id, int *index)
{
    for (int i = 0; i < c->n_links; i++)
        if (!strcmp(link_id(c->links[i]), id)) {
            if (index)
                *index = i;
            return c->links[i];
        }
    return NULL;
}

/* The link named by args.link_id, or NULL with *ERR set. */
static struct link *control_link_arg(struct control *c, json_t *args, char **err)
{
    bool bad = false;
    const char *id = control_str(args, "link_id", &bad);
    if (bad || !id) {
        control_fail(c, err, "link_id: expected string, got %s",
                     bad ? control_kind(json_object_get(args, "link_id")) : "nothing");
        return NULL;
    }
    struct link *l = control_find(c, id, NULL);
    if (!l)
        control_fail(c, err, "link_id: no link \"%.64s\"", id);
    return l;
}

/* ---- commands -------------------------------------------------------- */

static json_t *control_node_info(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    static const char *const known[] = { NULL };
    if (!control_check_keys(c, args, known, err))
        return NULL;
    return json_pack("{s:s, s:i, s:s, s:I}", "fingerprint", c->cert->fp_str,
                     "links", c->n_links, "version", EVIO_VERSION,
                     "rejected_requests", (json_int_t)c->rejected);
}

static json_t *control_link_create(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    static const char *const known[] = { "link_id", "tap", "mtu", "controlling",
                                         "peer_fingerprint", NULL };
    if (!control_check_keys(c, args, known, err))
        return NULL;
    bool bad = false;
    struct link_params p = { .mtu = LINK_MTU_DEFAULT };

    p.id = control_str(args, "link_id", &bad);
    if (bad || !p.id || !link_id_valid(p.id))
        return bad || !p.id ? control_arg_type(c, err, args, "link_id", "string")
                            : control_fail(c, err, "link_id: expected 1..64 of [A-Za-z0-9._-],"
                                           " got \"%.80s\"", p.id);
    p.tap = control_str(args, "tap", &bad);
    if (bad || !p.tap)
        return control_arg_type(c, err, args, "tap", "string");
    if (strlen(p.tap) == 0 || strlen(p.tap) > 15)
        return control_fail(c, err, "tap: expected an interface name of 1..15 chars, "
                            "got \"%.32s\"", p.tap);
    json_t *v = json_object_get(args, "mtu");
    if (v) {
        if (!json_is_integer(v))
            return control_arg_type(c, err, args, "mtu", "integer");
        json_int_t mtu = json_integer_value(v);
        if (mtu < LINK_MTU_MIN || mtu > LINK_MTU_MAX)
            return control_fail(c, err, "mtu: expected integer %d..%d, got %lld", LINK_MTU_MIN,
                                LINK_MTU_MAX, (long long)mtu);
        p.mtu = (int)mtu;
    }
    v = json_object_get(args, "controlling");
    if (v && !json_is_boolean(v))
        return control_arg_type(c, err, args, "controlling", "boolean");
    p.controlling = v && json_is_true(v);
    const char *fp = control_str(args, "peer_fingerprint", &bad);
    if (bad || !fp)
        return control_arg_type(c, err, args, "peer_fingerprint", "string");
    if (!cert_fp_parse(fp, p.peer_fp))
        return control_fail(c, err, "peer_fingerprint: expected 32 hex bytes separated by ':'"
                            ", got \"%.100s\"", fp);

    if (control_find(c, p.id, NULL))
        return control_fail(c, err, "link_id: link \"%s\" exists", p.id);
    for (int i = 0; i < c->n_links; i++)
        if (!strcmp(link_tap(c->links[i]), p.tap))
            return control_fail(c, err, "tap: %s is used by link \"%s\"", p.tap,
                                link_id(c->links[i]));
    if (c->n_links >= CONTROL_MAX_LINKS)
        return control_fail(c, err, "link_id: too many links (%d)", c->n_links);
    if (c->n_links == c->cap_links) {
        int cap = c->cap_links ? c->cap_links * 2 : 16;
        struct link **nl = realloc(c->links, (size_t)cap * sizeof *nl);
        if (!nl)
            return control_fail(c, err, "out of memory");
        c->links = nl;
        c->cap_links = cap;
    }

    const char *taps[64];
    int n_taps = 0;
    for (int i = 0; i < c->n_links && n_taps < 64; i++)
        taps[n_taps++] = link_tap(c->links[i]);
    p.other_taps = taps;
    p.n_other_taps = n_taps;

    char *lerr = NULL;
    struct link *l = link_create(&c->env, &p, &lerr);
    if (!l) {
        json_t *r = control_fail(c, err, "%s", lerr ? lerr : "cannot create the link");
        free(lerr);
        return r;
    }
    c->links[c->n_links++] = l;
    return link_created_json(l);
}

static json_t *control_link_remote(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    static const char *const known[] = { "link_id", "ufrag", "pwd", "candidates",
                                         "gathering_done", NULL };
    if (!control_check_keys(c, args, known, err))
        return NULL;
    struct link *l = control_link_arg(c, args, err);
    if (!l)
        return NULL;
    bool bad = false;
    const char *ufrag = control_str(args, "ufrag", &bad);
    if (bad)
        return control_arg_type(c, err, args, "ufrag", "string");
    const char *pwd = control_str(args, "pwd", &bad);
    if (bad)
        return control_arg_type(c, err, args, "pwd", "string");
    if (!ufrag != !pwd)
        return control_fail(c, err, "%s: expected together with %s", ufrag ? "ufrag" : "pwd",
                            ufrag ? "pwd" : "ufrag");
    json_t *cands = json_object_get(args, "candidates");
    if (cands && !json_is_array(cands))
        return control_arg_type(c, err, args, "candidates", "array of strings");
    json_t *done = json_object_get(args, "gathering_done");
    if (done && !json_is_boolean(done))
        return control_arg_type(c, err, args, "gathering_done", "boolean");

    char *lerr = NULL;
    if (ufrag && !link_remote_credentials(l, ufrag, pwd, &lerr)) {
        json_t *r = control_fail(c, err, "%s", lerr ? lerr : "bad credentials");
        free(lerr);
        return r;
    }
    /* The good candidates are applied even if one is bad: the first bad one
     * is reported, and every bad one counted in the link's stats. */
    size_t i;
    json_t *v;
    char *first = NULL;
    size_t n_bad = 0;
    json_array_foreach(cands, i, v) {
        if (!json_is_string(v)) {
            n_bad++;
            if (!first && asprintf(&first, "candidates[%zu]: expected string, got %s", i,
                                   control_kind(v)) < 0)
                first = NULL;
            continue;
        }
        if (!link_remote_candidate(l, json_string_value(v), &lerr)) {
            n_bad++;
            if (!first && asprintf(&first, "candidates[%zu]: %s", i, lerr ? lerr : "bad") < 0)
                first = NULL;
        }
        free(lerr);
        lerr = NULL;
    }
    if (n_bad) {
        json_t *r = control_fail(c, err, "%s (%zu of %zu candidates rejected)",
                                 first ? first : "bad candidate", n_bad, json_array_size(cands));
        free(first);
        return r;
    }
    if (done && json_is_true(done))
        link_remote_gathering_done(l);
    return json_object();
}

static json_t *control_link_local(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    static const char *const known[] = { "link_id", NULL };
    if (!control_check_keys(c, args, known, err))
        return NULL;
    struct link *l = control_link_arg(c, args, err);
    return l ? link_local_json(l) : NULL;
}

static json_t *control_link_remove(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    static const char *const known[] = { "link_id", NULL };
    if (!control_check_keys(c, args, known, err))
        return NULL;
    struct link *l = control_link_arg(c, args, err);
    if (!l)
        return NULL;
    int idx = 0;
    control_find(c, link_id(l), &idx);
    memmove(&c->links[idx], &c->links[idx + 1], (size_t)(c->n_links - idx - 1) * sizeof *c->links);
    c->n_links--;
    link_destroy(l);
    return json_object();
}

static json_t *control_link_stats(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    static const char *const known[] = { "link_id", NULL };
    if (!control_check_keys(c, args, known, err))
        return NULL;
    json_t *links = json_array();
    if (args && json_object_get(args, "link_id")) {
        struct link *l = control_link_arg(c, args, err);
        if (!l) {
            json_decref(links);
            return NULL;
        }
        json_array_append_new(links, link_stats_json(l));
    } else {
        for (int i = 0; i < c->n_links; i++)
            json_array_append_new(links, link_stats_json(c->links[i]));
    }
    return json_pack("{s:o, s:o}", "links", links, "servers", servers_json(c->servers));
}

/* ---- setup ----------------------------------------------------------- */

static void control_event(void *aux, const char *name, json_t *data)
{
    struct control *c = aux;
    ctl_server_event(c->srv, name, data);
}

void control_init(struct control *c, struct ctl_server *srv, const struct config *cfg,
                  const struct cert *cert, struct dtls_ctx *dtls, struct servers *servers)
{
    memset(c, 0, sizeof *c);
    c->srv = srv;
    c->cert = cert;
    c->servers = servers;
    c->env = (struct link_env){ .cfg = cfg, .cert = cert, .dtls = dtls, .servers = servers,
                                .event = control_event, .aux = c };
    ctl_server_register(srv, "node/info", "{}", control_node_info, c);
    ctl_server_register(srv, "link/create",
                        "{\"link_id\":str, \"tap\":ifname, \"mtu\"?:int, \"controlling\":bool, "
                        "\"peer_fingerprint\":\"AA:BB:...\"}", control_link_create, c);
    ctl_server_register(srv, "link/remote",
                        "{\"link_id\":str, \"ufrag\"?:str, \"pwd\"?:str, \"candidates\"?:[str], "
                        "\"gathering_done\"?:bool}", control_link_remote, c);
    ctl_server_register(srv, "link/local", "{\"link_id\":str}", control_link_local, c);
    ctl_server_register(srv, "link/remove", "{\"link_id\":str}", control_link_remove, c);
    ctl_server_register(srv, "link/stats", "{\"link_id\"?:str} (and the STUN/TURN servers)",
                        control_link_stats, c);
}

void control_destroy(struct control *c)
{
    for (int i = 0; i < c->n_links; i++)
        link_destroy(c->links[i]);
    free(c->links);
    c->links = NULL;
    c->n_links = c->cap_links = 0;
}
