/* evio-tincan's control commands (see control.h): argument checking, the
 * link table, and the events links emit, forwarded to subscribers. */
#include "control.h"
#include "evio/version.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evio/cert.h"
#include "evio/ctl.h"
#include "evio/ctlmsg.h"
#include "evio/log.h"
#include "servers.h"

#define CONTROL_MOD "tincan"

_Static_assert(CERT_FP_STRLEN == CTL_FPR_LEN + 1, "a fingerprint's text is the contract's");

/* ---- argument checking (the contract's decoders, evio/ctlmsg.h) ------- */

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

/* Takes a decoder's error: NULL (fine), or counted and handed to *ERR. */
static bool control_refused(struct control *c, char *derr, char **err)
{
    if (!derr)
        return false;
    *err = derr;
    c->rejected++;
    return true;
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

/* The link named by link_id, or NULL with *ERR set. */
static struct link *control_link_named(struct control *c, const char *id, char **err)
{
    struct link *l = control_find(c, id, NULL);
    if (!l)
        control_fail(c, err, "link_id: no link \"%.64s\"", id);
    return l;
}

/* The link named by args {"link_id"}, or NULL with *ERR set. */
static struct link *control_link_arg(struct control *c, json_t *args, char **err)
{
    struct ctl_link_ref ref;
    if (control_refused(c, ctl_link_ref_decode(args, true, &ref), err))
        return NULL;
    return control_link_named(c, ref.link_id, err);
}

/* ---- commands -------------------------------------------------------- */

static json_t *control_node_info(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    struct ctl_node_info m = { .links = c->n_links, .rejected_requests = (long long)c->rejected };
    snprintf(m.fingerprint, sizeof m.fingerprint, "%s", c->cert->fp_str);
    snprintf(m.version, sizeof m.version, "%s", EVIO_VERSION);
    return ctl_node_info_encode(&m);
}

static json_t *control_link_create(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    struct ctl_link_create m;
    if (control_refused(c, ctl_link_create_decode(args, &m), err))
        return NULL;
    struct link_params p = { .id = m.link_id, .tap = m.tap, .mtu = m.mtu,
                             .controlling = m.controlling };
    if (!cert_fp_parse(m.peer_fingerprint, p.peer_fp))
        return control_fail(c, err, "peer_fingerprint: expected 32 hex bytes separated by ':'"
                            ", got \"%.100s\"", m.peer_fingerprint);

    if (control_find(c, p.id, NULL))
        return control_fail(c, err, "link_id: link \"%s\" exists", p.id);
    for (int i = 0; i < c->n_links; i++)
        if (!strcmp(link_tap(c->links[i]), p.tap))
            return control_fail(c, err, "tap: %s is used by link \"%s\"", p.tap,
                                link_id(c->links[i]));
    if (c->n_links >= CTL_LINKS_MAX)
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
    /* 33 KiB of candidates: off the stack of a GLib callback */
    struct ctl_link_remote *m = malloc(sizeof *m);
    if (!m)
        return control_fail(c, err, "out of memory");
    json_t *result = NULL;
    struct link *l = NULL;
    char *lerr = NULL;
    if (control_refused(c, ctl_link_remote_decode(args, m), err)
        || !(l = control_link_named(c, m->link_id, err)))
        goto out;
    if (m->has_creds && !link_remote_credentials(l, m->ufrag, m->pwd, &lerr)) {
        control_fail(c, err, "%s", lerr ? lerr : "bad credentials");
        goto out;
    }
    /* The good candidates are applied even if one is bad: the first bad one
     * (by its index in the request) is reported, and every bad one counted
     * in the link's stats. */
    int n_bad = m->n_skipped, first_index = m->first_skipped;
    char *first = NULL;
    for (int i = 0; i < m->n_cands; i++) {
        if (link_remote_candidate(l, m->cands[i], &lerr))
            continue;
        n_bad++;
        if (first_index < 0 || m->cand_index[i] < first_index) {
            free(first);
            if (asprintf(&first, "candidates[%d]: %s", m->cand_index[i], lerr ? lerr : "bad") < 0)
                first = NULL;
            first_index = m->cand_index[i];
        }
        free(lerr);
        lerr = NULL;
    }
    if (n_bad) {
        control_fail(c, err, "%s (%d of %d candidates rejected)",
                     first ? first : m->n_skipped ? m->skipped : "bad candidate", n_bad,
                     m->n_elements);
        free(first);
        goto out;
    }
    if (m->gathering_done)
        link_remote_gathering_done(l);
    result = json_object();
out:
    free(lerr);
    explicit_bzero(m->pwd, sizeof m->pwd);
    free(m);
    return result;
}

static json_t *control_link_local(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct link *l = control_link_arg(aux, args, err);
    return l ? link_local_json(l) : NULL;
}

static json_t *control_link_remove(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    struct link *l = control_link_arg(c, args, err);
    if (!l)
        return NULL;
    int idx = 0;
    control_find(c, link_id(l), &idx);
    memmove(&c->links[idx], &c->links[idx + 1], (size_t)(c->n_links - idx - 1) * sizeof *c->links);
    c->n_links--;
    link_destroy(l);
    /* hand a link's memory back to the system: a node that saw many
     * short-lived links (a peer's flood of requests) returns to its size */
    malloc_trim(0);
    return json_object();
}

/* Every link this process holds, so the agent can remove those it does not
 * know (after its own restart, or a link/create whose reply it missed). */
static json_t *control_link_list(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    struct ctl_link_list m = { .links = calloc((size_t)c->n_links + 1, sizeof *m.links) };
    if (!m.links)
        return control_fail(c, err, "out of memory");
    for (int i = 0; i < c->n_links; i++) {
        struct ctl_link_list_entry *e = &m.links[m.n_links++];
        snprintf(e->link_id, sizeof e->link_id, "%s", link_id(c->links[i]));
        snprintf(e->tap, sizeof e->tap, "%s", link_tap(c->links[i]));
        e->state = (enum ctl_link_state)link_get_state(c->links[i]);
    }
    json_t *r = ctl_link_list_encode(&m);
    ctl_link_list_free(&m);
    return r;
}

static json_t *control_link_stats(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control *c = aux;
    struct ctl_link_ref ref;
    if (control_refused(c, ctl_link_ref_decode(args, false, &ref), err))
        return NULL;
    json_t *links = json_array();
    if (ref.link_id[0]) {
        struct link *l = control_link_named(c, ref.link_id, err);
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
    ctl_server_register(srv, CTL_CMD_NODE_INFO, "{}", control_node_info, c);
    ctl_server_register(srv, CTL_CMD_LINK_CREATE,
                        "{\"link_id\":str, \"tap\":ifname, \"mtu\"?:int, \"controlling\":bool, "
                        "\"peer_fingerprint\":\"AA:BB:...\"}", control_link_create, c);
    ctl_server_register(srv, CTL_CMD_LINK_REMOTE,
                        "{\"link_id\":str, \"ufrag\"?:str, \"pwd\"?:str, \"candidates\"?:[str], "
                        "\"gathering_done\"?:bool}", control_link_remote, c);
    ctl_server_register(srv, CTL_CMD_LINK_LOCAL, "{\"link_id\":str}", control_link_local, c);
    ctl_server_register(srv, CTL_CMD_LINK_REMOVE, "{\"link_id\":str}", control_link_remove, c);
    ctl_server_register(srv, CTL_CMD_LINK_LIST, "{} (every link: link_id, tap, state)",
                        control_link_list, c);
    ctl_server_register(srv, CTL_CMD_LINK_STATS, "{\"link_id\"?:str} (and the STUN/TURN servers)",
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
