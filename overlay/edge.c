/* The adapter around the negotiation engines (see edge.h): decodes what
 * arrives, hands it to the overlay's engine, and carries out the actions it
 * answers with, in order. Every request to evio-tincan about a link names
 * the link; its reply finds the edge again by that name (an edge that moved
 * on no longer holds it, and the reply is dropped). */
#include "edge.h"
#include "signaling.h"
#include "evio/ctlmsg.h"
#include "evio/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

_Static_assert(LINK_ID_LEN <= CTL_IFNAME_MAX && LINK_ID_LEN <= CTL_LINK_ID_MAX,
               "a link id is also its TAP's name");
_Static_assert(SIGMSG_FPR_LEN == CTL_FPR_LEN && SIGMSG_CAND_MAX == CTL_CAND_MAX
               && SIGMSG_ICE_MAX == CTL_ICE_MAX && NEG_CAND_BATCH <= CTL_CANDS_MAX,
               "signalling and control limits agree");

struct overlay *edges_find_overlay(struct edges *E, const char *name)
{
    for (int i = 0; i < E->n_overlays; i++)
        if (!strcmp(E->overlays[i].cfg->name, name))
            return &E->overlays[i];
    return NULL;
}

/* What a reply from evio-tincan needs to find its link again; freed by the reply. */
struct link_ref {
    struct edges *E;
    int overlay;
    char link_id[LINK_ID_LEN + 1];
};

static struct link_ref *link_ref(struct edges *E, const struct overlay *ov, const char *link_id)
{
    struct link_ref *r = calloc(1, sizeof *r);
    if (r) {
        r->E = E;
        r->overlay = ov->index;
        snprintf(r->link_id, sizeof r->link_id, "%s", link_id);
    }
    return r;
}

static void run_actions(struct edges *E, struct overlay *ov, int64_t now);

/* ---- carrying out actions ----------------------------------------------- */

static void send_msg(struct edges *E, struct overlay *ov, const struct sigmsg *m)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);
    char hex[NODEID_HEX_LEN + 1];
    nodeid_format(&m->to, hex);
    char *err = NULL;
    char *text = sigmsg_encode(m, &err);
    int error = !text ? ENOMEM : !E->sig || !E->signalling ? ENOTCONN
                                 : sig_session_send(E->sig, ov->cfg->name, hex, text);
    if (error)
        log_warn_rl(&rl, "edge", "%s/%.12s: cannot send %s: %s", ov->cfg->name, hex,
                    sigmsg_type_name(m->type), err ? err : strerror(error));
    else
        log_debug("edge", "%s/%.12s: sent %s", ov->cfg->name, hex, sigmsg_type_name(m->type));
    free(err);
    free(text);
}

static void on_link_created(void *aux, const struct ctl_msg *m)
{
    struct link_ref *r = aux;
    struct edges *E = r->E;
    struct overlay *ov = &E->overlays[r->overlay];
    struct ctl_link_created c;
    char *err = m->ok ? ctl_link_created_decode(m->body, &c) : NULL;
    char why[200] = "";
    if (!m->ok)
        snprintf(why, sizeof why, "%s", m->error ? m->error : "failed");
    else if (err)
        snprintf(why, sizeof why, "reply: %s", err);
    free(err);
    int64_t now = monotonic_ms();
    neg_on_link_created(ov->neg, r->link_id, why[0] ? why : NULL, c.mac, c.ufrag, c.pwd, now,
                        &E->acts);
    free(r);
    run_actions(E, ov, now);
}

static void on_link_removed(void *aux, const struct ctl_msg *m)
{
    struct link_ref *r = aux;
    /* "no such link": the datapath lost it first, or never made it */
    if (!m->ok)
        log_debug("edge", "link/remove %s: %s", r->link_id, m->error ? m->error : "?");
    free(r);
}

static void link_create(struct edges *E, struct overlay *ov, const struct neg_action *a)
{
    struct ctl_link_create c = { .mtu = ov->cfg->mtu, .controlling = a->controlling };
    snprintf(c.link_id, sizeof c.link_id, "%s", a->link_id);
    snprintf(c.tap, sizeof c.tap, "%s", a->link_id);
    snprintf(c.peer_fingerprint, sizeof c.peer_fingerprint, "%s", a->fingerprint);
    json_t *args = ctl_link_create_encode(&c);
    struct link_ref *r = link_ref(E, ov, a->link_id);
    if (args && r) {
        /* whatever it returns, helper_send answers on_link_created once */
        helper_send(E->tincan, CTL_CMD_LINK_CREATE, args, on_link_created, r);
    } else {
        /* the link stays asked for: its edge times out and removes it */
        log_error("edge", "%s: link/create %s: out of memory", ov->cfg->name, a->link_id);
        free(r);
    }
    json_decref(args);
}

static void link_remote(struct edges *E, const struct neg_action *a)
{
    struct ctl_link_remote *c = calloc(1, sizeof *c);     /* 33 KB: not on the stack */
    if (!c)
        return;
    snprintf(c->link_id, sizeof c->link_id, "%s", a->link_id);
    if (a->type == NEG_ACT_LINK_CREDS) {
        c->has_creds = true;
        snprintf(c->ufrag, sizeof c->ufrag, "%s", a->ufrag);
        snprintf(c->pwd, sizeof c->pwd, "%s", a->pwd);
    }
    for (int i = 0; a->type == NEG_ACT_LINK_CANDS && i < a->n_cands; i++)
        snprintf(c->cands[c->n_cands++], sizeof c->cands[0], "%s", a->cands[i]);
    json_t *args = ctl_link_remote_encode(c);
    free(c);
    if (args)
        helper_send(E->tincan, CTL_CMD_LINK_REMOTE, args, NULL, NULL);
    json_decref(args);
}

static void link_remove(struct edges *E, const struct overlay *ov, const char *link_id)
{
    struct ctl_link_ref c;
    snprintf(c.link_id, sizeof c.link_id, "%s", link_id);
    json_t *args = ctl_link_ref_encode(&c);
    struct link_ref *r = link_ref(E, ov, link_id);
    if (args && r)
        helper_send(E->tincan, CTL_CMD_LINK_REMOVE, args, on_link_removed, r);
    else
        free(r);
    json_decref(args);
}

/* Carries out what the overlay's engine asked for, in order. A reply
 * callback may run this again (never from inside helper_send, which defers
 * its refusals), so the list is taken before it is walked. */
static void run_actions(struct edges *E, struct overlay *ov, int64_t now)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 1);
    if (!E->acts.n)
        return;
    struct neg_actions acts = E->acts;
    memset(&E->acts, 0, sizeof E->acts);
    if (acts.oom)
        log_warn_rl(&rl, "edge", "%s: out of memory: an action was lost", ov->cfg->name);
    for (size_t i = 0; i < acts.n; i++) {
        const struct neg_action *a = &acts.v[i];
        switch (a->type) {
        case NEG_ACT_SEND:
            send_msg(E, ov, a->msg);
            break;
        case NEG_ACT_LINK_CREATE:
            link_create(E, ov, a);
            break;
        case NEG_ACT_LINK_CREDS:
        case NEG_ACT_LINK_CANDS:
            link_remote(E, a);
            break;
        case NEG_ACT_LINK_REMOVE:
            link_remove(E, ov, a->link_id);
            break;
        case NEG_ACT_PORTS:
            ov->ports_dirty = true;
            break;
        }
    }
    neg_actions_clear(&acts);
    if (!E->acts.v) {
        E->acts = acts;          /* keep the array for next time */
    } else {
        neg_actions_free(&acts);
    }
}

/* ---- the switch's ports --------------------------------------------------- */

static void on_ports_synced(void *aux, const struct ctl_msg *m)
{
    struct link_ref *r = aux;
    struct overlay *ov = &r->E->overlays[r->overlay];
    free(r);
    ov->ports_syncing = false;
    if (!m->ok) {
        /* e.g. switchctl has not read the OVS database yet: try again soon */
        log_debug("edge", "%s: port/sync: %s; retrying", ov->cfg->name, m->error);
        ov->ports_dirty = true;
        ov->ports_retry_ms = monotonic_ms() + 500;
    }
}

/* The switch's ports follow the links evio-tincan has (their TAPs exist from
 * link/create's reply): any change marks the overlay, and the whole set goes
 * with port/sync. A port joins the bridge before its link is up, so the
 * first frames after "connected" are not lost to a port still being added. */
static void sync_ports(struct edges *E, struct overlay *ov, int64_t now)
{
    if (!ov->ports_dirty || ov->ports_syncing || now < ov->ports_retry_ms
        || E->switchctl->state != HELPER_READY)
        return;
    const struct peer_table *t = neg_peers(ov->neg);
    struct ctl_port_sync ps = { .ports = calloc(t->n + 1, sizeof *ps.ports) };
    if (!ps.ports)
        return;
    snprintf(ps.overlay, sizeof ps.overlay, "%s", ov->cfg->name);
    snprintf(ps.self, sizeof ps.self, "%s", E->self_hex);
    for (size_t j = 0; j < t->n; j++) {
        const struct peer *p = t->peers[j];
        if (!p->edge.link_created)
            continue;
        struct ctl_port_sync_entry *pe = &ps.ports[ps.n_ports++];
        snprintf(pe->port, sizeof pe->port, "%s", p->edge.link_id);
        snprintf(pe->peer, sizeof pe->peer, "%s", p->hex);
        pe->up = p->edge.state == EDGE_CONNECTED;
    }
    json_t *args = ctl_port_sync_encode(&ps);
    free(ps.ports);
    struct link_ref *r = link_ref(E, ov, "");
    if (!args || !r) {
        free(r);
        json_decref(args);
        return;
    }
    ov->ports_dirty = false;
    ov->ports_syncing = true;
    helper_send(E->switchctl, CTL_CMD_PORT_SYNC, args, on_ports_synced, r);
    json_decref(args);
}

/* ---- reconciling the datapath's links -------------------------------------- */

static void on_link_list(void *aux, const struct ctl_msg *m)
{
    struct edges *E = aux;
    E->reconciling = false;
    struct ctl_link_list list = { 0 };
    char *err = m->ok ? ctl_link_list_decode(m->body, &list) : NULL;
    if (!m->ok || err) {
        log_debug("edge", "link/list: %s", err ? err : m->error ? m->error : "?");
        free(err);
        return;
    }
    for (size_t i = 0; i < list.n_links; i++) {
        const char *id = list.links[i].link_id;
        bool owned = false;
        for (int k = 0; k < E->n_overlays && !owned; k++)
            owned = neg_owns_link(E->overlays[k].neg, id);
        if (owned)
            continue;
        /* evio-tincan answers in order: a link asked for before this list
         * and not removed since is held by an edge, so this one is an orphan */
        log_warn("edge", "link %s is held by no edge: removing it", id);
        E->orphans_removed++;
        link_remove(E, &E->overlays[0], id);
    }
    ctl_link_list_free(&list);
}

static void reconcile(struct edges *E, int64_t now)
{
    if (!E->reconcile_ms || now < E->reconcile_ms || E->reconciling
        || E->tincan->state != HELPER_READY)
        return;
    E->reconcile_ms = now + EDGES_RECONCILE_MS;
    E->reconciling = true;
    helper_send(E->tincan, CTL_CMD_LINK_LIST, NULL, on_link_list, E);
}

/* ---- news from the room and the peers ----------------------------------- */

void edges_set_sig(struct edges *E, struct sig_session *sig)
{
    E->sig = sig;
}

void edges_on_signalling(struct edges *E, bool up)
{
    E->signalling = up;
    for (int i = 0; i < E->n_overlays; i++)
        neg_set_signalling(E->overlays[i].neg, up);
}

void edges_on_peer_joined(struct edges *E, const char *overlay, const char *node_hex,
                          const char *session)
{
    struct overlay *ov = edges_find_overlay(E, overlay);
    struct nodeid id;
    if (!ov || !nodeid_parse(node_hex, &id))
        return;
    int64_t now = monotonic_ms();
    neg_peer_joined(ov->neg, &id, session, now, &E->acts);
    run_actions(E, ov, now);
}

void edges_on_peer_left(struct edges *E, const char *overlay, const char *node_hex)
{
    struct overlay *ov = edges_find_overlay(E, overlay);
    struct nodeid id;
    if (!ov || !nodeid_parse(node_hex, &id))
        return;
    int64_t now = monotonic_ms();
    neg_peer_left(ov->neg, &id, now, &E->acts);
    run_actions(E, ov, now);
}

void edges_on_message(struct edges *E, const char *overlay, const char *from_hex,
                      const char *payload, size_t len)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);
    struct overlay *ov = edges_find_overlay(E, overlay);
    if (!ov) {
        E->sig_refused++;
        return;
    }
    struct sigmsg *m = malloc(sizeof *m);
    if (!m)
        return;
    struct nodeid self, from;
    nodeid_parse(E->self_hex, &self);
    char *err = sigmsg_decode(payload, len, ov->cfg->name, &self, m);
    if (!err && (!nodeid_parse(from_hex, &from) || nodeid_cmp(&from, &m->from)))
        err = strdup("sender's room nickname and payload \"from\" differ");
    if (err) {
        E->sig_refused++;
        log_warn_rl(&rl, "edge", "%s: message from %.12s refused: %s", ov->cfg->name,
                    from_hex, err);
        free(err);
        free(m);
        return;
    }
    log_debug("edge", "%s/%.12s: got %s", ov->cfg->name, from_hex, sigmsg_type_name(m->type));
    int64_t now = monotonic_ms();
    neg_on_message(ov->neg, m, now, &E->acts);
    free(m);
    run_actions(E, ov, now);
}

/* ---- news from the helpers ------------------------------------------------ */

static void on_node_info(void *aux, const struct ctl_msg *m)
{
    struct edges *E = aux;
    struct ctl_node_info info;
    char *err = m->ok ? ctl_node_info_decode(m->body, &info) : NULL;
    if (!m->ok || err) {
        log_error("edge", "evio-tincan node/info: %s", err ? err : m->error ? m->error : "failed");
        free(err);
        return;
    }
    snprintf(E->fingerprint, sizeof E->fingerprint, "%s", info.fingerprint);
    log_info("edge", "datapath certificate fingerprint %s", E->fingerprint);
    int64_t now = monotonic_ms();
    for (int i = 0; i < E->n_overlays; i++) {
        neg_set_datapath(E->overlays[i].neg, E->fingerprint, now, &E->acts);
        run_actions(E, &E->overlays[i], now);
    }
}

void edges_on_tincan_ready(struct edges *E, bool ready)
{
    int64_t now = monotonic_ms();
    if (ready) {
        helper_send(E->tincan, CTL_CMD_SUBSCRIBE, NULL, NULL, NULL);
        helper_send(E->tincan, CTL_CMD_NODE_INFO, NULL, on_node_info, E);
        E->reconcile_ms = now;       /* links a crash of ours left behind */
        return;
    }
    /* the datapath went away with every link: start those edges over */
    E->fingerprint[0] = '\0';
    E->reconciling = false;
    for (int i = 0; i < E->n_overlays; i++) {
        neg_set_datapath(E->overlays[i].neg, NULL, now, &E->acts);
        run_actions(E, &E->overlays[i], now);
    }
}

void edges_on_tincan_event(struct edges *E, const struct ctl_msg *m)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 5);
    if (!m->name)
        return;
    struct ctl_link_candidate cand;
    struct ctl_link_state_ev st;
    bool is_cand = !strcmp(m->name, CTL_EV_LINK_CANDIDATE);
    if (!is_cand && strcmp(m->name, CTL_EV_LINK_STATE))
        return;                     /* gathering_done: nothing to do */
    char *err = is_cand ? ctl_link_candidate_decode(m->body, &cand)
                        : ctl_link_state_ev_decode(m->body, &st);
    if (err) {
        log_warn_rl(&rl, "edge", "evio-tincan %s dropped: %s", m->name, err);
        free(err);
        return;
    }
    const char *link_id = is_cand ? cand.link_id : st.link_id;
    struct overlay *ov = NULL;
    for (int i = 0; i < E->n_overlays && !ov; i++)
        if (neg_owns_link(E->overlays[i].neg, link_id))
            ov = &E->overlays[i];
    if (!ov)
        return;
    int64_t now = monotonic_ms();
    if (is_cand)
        neg_on_local_cand(ov->neg, link_id, cand.candidate, now, &E->acts);
    else if (st.state == CTL_LINK_UP)
        neg_on_link_state(ov->neg, link_id, true, NULL, now, &E->acts);
    else if (st.state == CTL_LINK_FAILED)
        neg_on_link_state(ov->neg, link_id, false, st.reason, now, &E->acts);
    run_actions(E, ov, now);
}

void edges_on_switchctl_ready(struct edges *E, bool ready)
{
    if (ready)
        helper_send(E->switchctl, CTL_CMD_SUBSCRIBE, NULL, NULL, NULL);
    /* a (re)started switchctl gets the whole set: new ports, and none of
     * those a crash left behind */
    for (int i = 0; i < E->n_overlays; i++) {
        E->overlays[i].ports_dirty = true;
        E->overlays[i].ports_syncing = false;
        E->overlays[i].ports_retry_ms = 0;
    }
}

/* evio-switchctl's shortcut/hint: local traffic to the hosts behind PEER
 * passed the threshold. It becomes an on-demand edge unless the peer has
 * one for another reason. */
void edges_on_switchctl_event(struct edges *E, const struct ctl_msg *m)
{
    if (!m->name || strcmp(m->name, CTL_EV_SHORTCUT_HINT))
        return;
    struct ctl_shortcut_hint h;
    char *err = ctl_shortcut_hint_decode(m->body, &h);
    struct overlay *ov = err ? NULL : edges_find_overlay(E, h.overlay);
    struct nodeid id;
    if (!ov || !nodeid_parse(h.peer, &id)) {
        static struct log_ratelimit rl = LOG_RATELIMIT_INIT(5, 60);
        log_warn_rl(&rl, "edge", "evio-switchctl: shortcut/hint dropped: %s",
                    err ? err : "no such overlay");
        free(err);
        return;
    }
    const char *hex = h.peer;
    const struct peer *p = peer_table_find(neg_peers(ov->neg), &id);
    bool linked = p && p->edge.state != EDGE_IDLE && p->edge.state != EDGE_BACKOFF;
    if (neg_hint(ov->neg, &id, monotonic_ms()) && !linked)
        log_info("edge", "%s: traffic to %s at %lld kbit/s: asking for a shortcut",
                 ov->cfg->name, hex, h.kbps);
}

/* ---- the loop's share ------------------------------------------------------- */

void edges_run(struct edges *E, int64_t now)
{
    for (int i = 0; i < E->n_overlays; i++) {
        struct overlay *ov = &E->overlays[i];
        neg_tick(ov->neg, now, &E->acts);
        run_actions(E, ov, now);
        sync_ports(E, ov, now);
    }
    reconcile(E, now);
}

int64_t edges_next_deadline(const struct edges *E, int64_t now)
{
    int64_t next = -1;
    for (int i = 0; i < E->n_overlays; i++) {
        const struct overlay *ov = &E->overlays[i];
        int64_t d = neg_next_deadline(ov->neg, now);
        if (d >= 0 && (next < 0 || d < next))
            next = d;
        if (ov->ports_dirty && !ov->ports_syncing && E->switchctl->state == HELPER_READY
            && (next < 0 || ov->ports_retry_ms < next))
            next = ov->ports_retry_ms;
    }
    if (E->reconcile_ms && !E->reconciling && E->tincan->state == HELPER_READY
        && (next < 0 || E->reconcile_ms < next))
        next = E->reconcile_ms;
    return next;
}

/* ---- life ------------------------------------------------------------------- */

int edges_init(struct edges *E, const struct config *cfg, const struct nodeid *self,
               const char *session, struct helper *tincan, struct helper *switchctl)
{
    memset(E, 0, sizeof *E);
    nodeid_format(self, E->self_hex);
    E->tincan = tincan;
    E->switchctl = switchctl;
    for (int i = 0; i < cfg->n_overlays; i++) {
        const struct config_overlay *c = &cfg->overlays[i];
        struct nodeid statics[CONFIG_MAX_STATIC];
        size_t n_statics = 0;
        for (int j = 0; j < c->n_static; j++)
            if (nodeid_parse(c->static_peers[j], &statics[n_statics]))
                n_statics++;
        struct nodeid *members = c->members_only ? calloc(c->n_members + 1, sizeof *members)
                                                 : NULL;
        size_t n_members = 0;
        if (c->members_only && !members)
            return ENOMEM;
        for (int j = 0; j < c->n_members; j++)
            if (nodeid_parse(c->members[j], &members[n_members]))
                n_members++;
        struct neg_config nc = {
            .overlay = c->name,
            .index = i,
            .self = *self,
            .session = session,
            .min_successors = c->min_successors,
            .max_long_distance = c->max_long_distance,
            .max_on_demand = c->max_on_demand,
            .max_concurrent = c->max_concurrent_edges,
            .on_demand_idle_ms = (int64_t)c->on_demand_idle_s * 1000,
            .statics = statics,
            .n_statics = n_statics,
            .members_only = c->members_only,
            .members = members,
            .n_members = n_members,
        };
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
            seed = (uint64_t)monotonic_ms() * 2654435761u;
        struct overlay *ov = &E->overlays[i];
        ov->cfg = c;
        ov->index = i;
        ov->neg = neg_new(&nc, seed);
        free(members);
        E->n_overlays = i + 1;
        if (!ov->neg)
            return ENOMEM;
    }
    return 0;
}

void edges_free(struct edges *E)
{
    for (int i = 0; i < E->n_overlays; i++)
        neg_free(E->overlays[i].neg);
    neg_actions_free(&E->acts);
    E->n_overlays = 0;
}
