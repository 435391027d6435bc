/* Edge negotiation and the links under edges. One edge per (overlay, peer),
 * driven by the topology plan, signalling messages (sigmsg.h) and the
 * datapath's events; every state change goes through edge_set_state().
 *
 *   requester A                          acceptor B
 *   edge_req {edge_id, type, fpr} ---->  link/create (not controlling)
 *                                 <----  edge_resp {accepted, mac, fpr, ufrag, pwd}
 *   link/create (controlling),
 *   link/remote {B's ufrag, pwd}
 *   link_creds {mac, fpr, ufrag, pwd} -> link/remote {A's ufrag, pwd}
 *   link_cand ...                <--->   link_cand ...   (trickled, both ways)
 *   tincan link/state up: CONNECTED, switchctl port/add
 *
 * Simultaneous requests between a pair: the lower node ID's request wins. */
#include "agent.h"
#include "sigmsg.h"
#include "evio/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* topology.h's edge types travel as sigmsg's: same values */
_Static_assert((int)EDGE_SUCCESSOR == (int)SIGMSG_EDGE_SUCCESSOR
               && (int)EDGE_LONG_DISTANCE == (int)SIGMSG_EDGE_LONG_DISTANCE
               && (int)EDGE_STATIC == (int)SIGMSG_EDGE_STATIC
               && (int)EDGE_ON_DEMAND == (int)SIGMSG_EDGE_ON_DEMAND, "edge types differ");
_Static_assert(EDGE_ID_LEN == SIGMSG_HEX16_LEN && SESSION_LEN == SIGMSG_HEX16_LEN, "id sizes");

#define REQUEST_TIMEOUT_MS  10000   /* edge_resp, or tincan's link/create reply */
#define CONNECT_TIMEOUT_MS  45000   /* tincan gives up at 30 s itself */
/* Our candidates held while link/create's reply is on its way: tincan
 * gathers host candidates inside link/create, so their events come first.
 * tincan itself keeps no more than 32 per link. */
#define LOCAL_CANDS_MAX     32

static const char *const edge_state_names[] = {
#define X(name, text) text,
    EDGE_STATES(X)
#undef X
};

const char *edge_state_name(enum edge_state s)
{
    return edge_state_names[s];
}

static void edge_set_state(struct overlay *ov, struct peer *p, enum edge_state s, int64_t now,
                           int64_t timeout_ms)
{
    struct edge *e = &p->edge;
    if (e->state != s)
        log_info("edge", "%s/%.12s: %s -> %s", ov->cfg->name, p->hex,
                 edge_state_name(e->state), edge_state_name(s));
    if ((e->state == EDGE_CONNECTED) != (s == EDGE_CONNECTED))
        ov->ports_dirty = true;     /* the switch floods over up links only */
    e->state = s;
    e->state_since_ms = now;
    e->deadline_ms = timeout_ms ? now + timeout_ms : 0;
}

/* Fills the envelope of a message to P. */
static void msg_init(struct agent *a, struct overlay *ov, struct peer *p, struct sigmsg *m,
                     enum sigmsg_type type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    snprintf(m->overlay, sizeof m->overlay, "%s", ov->cfg->name);
    m->from = a->self;
    m->to = p->id;
    snprintf(m->session, sizeof m->session, "%s", a->session);
    snprintf(m->edge_id, sizeof m->edge_id, "%s", p->edge.edge_id);
}

static void msg_send(struct agent *a, struct overlay *ov, struct peer *p, const struct sigmsg *m)
{
    char *err = NULL;
    char *text = sigmsg_encode(m, &err);
    int error = text ? agent_send_signal(a, ov, p, text) : ENOMEM;
    if (error)
        log_warn("edge", "%s/%.12s: cannot send %s: %s", ov->cfg->name, p->hex,
                 sigmsg_type_name(m->type), err ? err : strerror(error));
    free(err);
    free(text);
}

/* ---- requests to the helpers ------------------------------------------ */

/* What a reply from a helper needs to find its edge again; freed by the reply. */
struct edge_ref {
    struct agent *a;
    int overlay;
    struct nodeid peer;
    char edge_id[EDGE_ID_LEN + 1];
};

/* P may be NULL for a reply about the overlay as a whole (port/sync). */
static struct edge_ref *edge_ref(struct agent *a, struct overlay *ov, struct peer *p)
{
    struct edge_ref *r = calloc(1, sizeof *r);
    if (r) {
        r->a = a;
        r->overlay = ov->index;
        if (p) {
            r->peer = p->id;
            memcpy(r->edge_id, p->edge.edge_id, sizeof r->edge_id);
        }
    }
    return r;
}

/* Finds the edge a reply is about; NULL if it moved on meanwhile. */
static struct peer *edge_deref(struct edge_ref *r, struct overlay **ovp)
{
    struct overlay *ov = &r->a->overlays[r->overlay];
    struct peer *p = agent_find_peer(ov, &r->peer);
    if (!p || strcmp(p->edge.edge_id, r->edge_id))
        return NULL;
    *ovp = ov;
    return p;
}

/* The switch's ports follow the links tincan has (their TAPs exist from
 * link/create): any change marks the overlay and edge_plan() sends the whole
 * set with port/sync. A port joins the bridge before its link is up, so the
 * first frames after "connected" are not lost to a port still being added;
 * tincan drops, and counts, what reaches a link that is not up. */
static void ports_changed(struct overlay *ov)
{
    ov->ports_dirty = true;
}

/* Lets go of the edge's link: tincan removes it (a no-op when tincan is
 * gone, its links with it), the switch loses its port, and whatever the
 * peer sent for it is dropped. */
static void drop_link(struct agent *a, struct overlay *ov, struct edge *e)
{
    if (e->link_created) {
        json_t *args = json_pack("{ss}", "link_id", e->link_id);
        agent_helper_send(&a->tincan, "link/remove", args, NULL, NULL);
        json_decref(args);
        ports_changed(ov);
    }
    e->link_created = false;
    e->remote_creds_set = false;
    json_decref(e->remote_creds);
    e->remote_creds = NULL;
    json_decref(e->pending_cands);
    e->pending_cands = NULL;
    json_decref(e->local_cands);
    e->local_cands = NULL;
}

static void on_ports_synced(void *aux, const struct ctl_msg *m)
{
    struct edge_ref *r = aux;
    struct overlay *ov = &r->a->overlays[r->overlay];
    free(r);
    ov->ports_syncing = false;
    if (!m->ok) {
        /* e.g. switchctl has not read the OVS database yet: try again soon */
        log_debug("edge", "%s: port/sync: %s; retrying", ov->cfg->name, m->error);
        ov->ports_dirty = true;
        ov->ports_retry_ms = monotonic_ms() + 500;
    }
}

static void sync_ports(struct agent *a, struct overlay *ov, int64_t now)
{
    if (!ov->ports_dirty || ov->ports_syncing || now < ov->ports_retry_ms
        || a->switchctl.state != HELPER_READY)
        return;
    json_t *ports = json_array();
    for (size_t j = 0; j < ov->n_peers; j++) {
        const struct peer *p = &ov->peers[j];
        if (p->edge.link_created)
            json_array_append_new(ports, json_pack("{ss ss sb}", "port", p->edge.link_id,
                                                   "peer", p->hex, "up",
                                                   p->edge.state == EDGE_CONNECTED));
    }
    json_t *args = json_pack("{ss ss so}", "overlay", ov->cfg->name, "self", a->self_hex,
                             "ports", ports);
    struct edge_ref *r = edge_ref(a, ov, NULL);
    if (!r) {
        json_decref(args);
        return;
    }
    ov->ports_dirty = false;
    ov->ports_syncing = true;
    agent_helper_send(&a->switchctl, "port/sync", args, on_ports_synced, r);
    json_decref(args);
}

/* Hands tincan what it can take now: remote credentials, then candidates. */
static void feed_remote(struct agent *a, struct edge *e)
{
    if (!e->link_created)
        return;
    if (!e->remote_creds_set && e->remote_creds) {
        json_t *args = json_deep_copy(e->remote_creds);
        json_object_set_new(args, "link_id", json_string(e->link_id));
        agent_helper_send(&a->tincan, "link/remote", args, NULL, NULL);
        json_decref(args);
        json_decref(e->remote_creds);
        e->remote_creds = NULL;
        e->remote_creds_set = true;
    }
    if (e->remote_creds_set && e->pending_cands && json_array_size(e->pending_cands)) {
        json_t *args = json_pack("{ss sO}", "link_id", e->link_id, "candidates", e->pending_cands);
        agent_helper_send(&a->tincan, "link/remote", args, NULL, NULL);
        json_decref(args);
        json_array_clear(e->pending_cands);
    }
}

/* Drops whatever the edge has and moves it to BACKOFF (or IDLE). */
void edge_reset(struct agent *a, struct overlay *ov, struct peer *p, const char *why,
                bool tell_peer)
{
    struct edge *e = &p->edge;
    int64_t now = monotonic_ms();
    if (e->state == EDGE_IDLE)
        return;
    if (tell_peer && e->state != EDGE_BACKOFF) {
        struct sigmsg m;
        msg_init(a, ov, p, &m, SIGMSG_EDGE_CLOSE);
        snprintf(m.close_reason, sizeof m.close_reason, "%s", "reset");
        msg_send(a, ov, p, &m);
    }
    log_info("edge", "%s/%.12s: reset: %s", ov->cfg->name, p->hex, why);
    snprintf(e->last_error, sizeof e->last_error, "%s", why);
    drop_link(a, ov, e);
    e->edge_id[0] = '\0';
    e->local_want = e->remote_want = e->told_want = false;

    e->failures++;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r)
        r = (uint32_t)now;
    int64_t delay = backoff_ms(e->failures, r);
    edge_set_state(ov, p, EDGE_BACKOFF, now, delay);
}

/* Ends an edge that neither end wants any more: no backoff, the peer is
 * told (unless it told us), and the edge is free to be asked for again. */
static void edge_release(struct agent *a, struct overlay *ov, struct peer *p, bool tell_peer)
{
    struct edge *e = &p->edge;
    if (tell_peer) {
        struct sigmsg m;
        msg_init(a, ov, p, &m, SIGMSG_EDGE_CLOSE);
        snprintf(m.close_reason, sizeof m.close_reason, "%s", "unneeded");
        msg_send(a, ov, p, &m);
    }
    log_info("edge", "%s/%.12s: released: wanted by neither end", ov->cfg->name, p->hex);
    drop_link(a, ov, e);
    e->edge_id[0] = '\0';
    e->local_want = e->remote_want = e->told_want = false;
    e->failures = 0;
    e->last_error[0] = '\0';
    edge_set_state(ov, p, EDGE_IDLE, monotonic_ms(), 0);
}

/* The edges as the topology engine sees them; OUT has room for every peer. */
static size_t topo_edges(const struct overlay *ov, struct topo_edge *out)
{
    size_t n = 0;
    for (size_t j = 0; j < ov->n_peers; j++) {
        const struct peer *p = &ov->peers[j];
        const struct edge *e = &p->edge;
        enum topo_link link;
        switch (e->state) {
        case EDGE_IDLE:
            continue;
        case EDGE_CONNECTED:
            link = TOPO_LINK_UP;
            break;
        case EDGE_BACKOFF:
            link = TOPO_LINK_FAILED;
            break;
        default:
            link = TOPO_LINK_PENDING;
            break;
        }
        out[n++] = (struct topo_edge){ p->id, link, e->remote_want, e->remote_type };
    }
    return n;
}

/* ---- link creation ---------------------------------------------------- */

/* Signals the candidates held for the peer (in as few messages as fit). */
static void send_local_cands(struct agent *a, struct overlay *ov, struct peer *p)
{
    struct edge *e = &p->edge;
    size_t n = json_array_size(e->local_cands);
    for (size_t i = 0; i < n; i += SIGMSG_MAX_CANDS) {
        struct sigmsg m;
        msg_init(a, ov, p, &m, SIGMSG_LINK_CAND);
        for (size_t k = i; k < n && m.n_cands < SIGMSG_MAX_CANDS; k++)
            snprintf(m.cands[m.n_cands++], sizeof m.cands[0], "%s",
                     json_string_value(json_array_get(e->local_cands, k)));
        msg_send(a, ov, p, &m);
    }
    json_decref(e->local_cands);
    e->local_cands = NULL;
}

/* A local candidate from tincan: signalled at once if the peer has our
 * credentials (or will before it), held until link/create's reply if not. */
static void on_local_cand(struct agent *a, struct overlay *ov, struct peer *p, const char *cand)
{
    struct edge *e = &p->edge;
    if (e->state == EDGE_CREATING) {
        if (!e->local_cands)
            e->local_cands = json_array();
        if (json_array_size(e->local_cands) < LOCAL_CANDS_MAX)
            json_array_append_new(e->local_cands, json_string(cand));
        return;
    }
    struct sigmsg out;
    msg_init(a, ov, p, &out, SIGMSG_LINK_CAND);
    snprintf(out.cands[0], sizeof out.cands[0], "%s", cand);
    out.n_cands = 1;
    msg_send(a, ov, p, &out);
}

static void on_link_created(void *aux, const struct ctl_msg *m)
{
    struct edge_ref *r = aux;
    struct overlay *ov;
    struct peer *p = edge_deref(r, &ov);
    struct agent *a = r->a;
    free(r);
    if (!p)
        return;            /* the edge moved on; its reset removed the link */
    struct edge *e = &p->edge;
    if (e->state != EDGE_CREATING)
        return;
    if (!m->ok) {
        char why[160];
        snprintf(why, sizeof why, "link/create: %s", m->error);
        edge_reset(a, ov, p, why, true);
        return;
    }
    e->link_created = true;
    ports_changed(ov);
    const char *mac = json_string_value(json_object_get(m->body, "mac"));
    const char *ufrag = json_string_value(json_object_get(m->body, "ufrag"));
    const char *pwd = json_string_value(json_object_get(m->body, "pwd"));
    if (!mac || !ufrag || !pwd) {
        edge_reset(a, ov, p, "link/create: reply lacks mac, ufrag or pwd", true);
        return;
    }

    /* the acceptor answers the request; the requester sends its own credentials */
    struct sigmsg out;
    msg_init(a, ov, p, &out, e->initiator ? SIGMSG_LINK_CREDS : SIGMSG_EDGE_RESP);
    out.accepted = true;
    out.resp_reason = SIGMSG_RESP_OK;
    snprintf(out.creds.mac, sizeof out.creds.mac, "%s", mac);
    snprintf(out.creds.fingerprint, sizeof out.creds.fingerprint, "%s", a->fingerprint);
    snprintf(out.creds.ufrag, sizeof out.creds.ufrag, "%s", ufrag);
    snprintf(out.creds.pwd, sizeof out.creds.pwd, "%s", pwd);
    msg_send(a, ov, p, &out);
    send_local_cands(a, ov, p);

    edge_set_state(ov, p, EDGE_CONNECTING, monotonic_ms(), CONNECT_TIMEOUT_MS);
    feed_remote(a, e);
}

static void create_link(struct agent *a, struct overlay *ov, struct peer *p)
{
    struct edge *e = &p->edge;
    /* Each link gets a TAP name of its own (<= 15 chars: overlay, peer, and
     * a random suffix): a port that a crashed switch or datapath left behind
     * in OVS under an old name can then never be mistaken for this link's. */
    uint16_t suffix = 0;
    if (getrandom(&suffix, sizeof suffix, 0) != sizeof suffix)
        suffix = (uint16_t)monotonic_ms();
    snprintf(e->link_id, sizeof e->link_id, "e%d%.8s%03x", ov->index, p->hex, suffix & 0xfff);
    edge_set_state(ov, p, EDGE_CREATING, monotonic_ms(), REQUEST_TIMEOUT_MS);
    json_t *args = json_pack("{ss ss si sb ss}", "link_id", e->link_id, "tap", e->link_id,
                             "mtu", ov->cfg->mtu, "controlling", e->initiator,
                             "peer_fingerprint", e->peer_fingerprint);
    if (!e->pending_cands)
        e->pending_cands = json_array();
    agent_helper_send(&a->tincan, "link/create", args, on_link_created, edge_ref(a, ov, p));
    json_decref(args);
}

/* ---- messages from peers ---------------------------------------------- */

static void start_request(struct agent *a, struct overlay *ov, struct peer *p,
                          enum edge_type type, int64_t now)
{
    struct edge *e = &p->edge;
    sigmsg_random_hex16(e->edge_id);
    e->initiator = true;
    e->local_want = e->told_want = true;
    e->local_type = type;
    e->remote_want = false;
    e->remote_creds_set = false;
    json_decref(e->pending_cands);
    e->pending_cands = json_array();

    struct sigmsg m;
    msg_init(a, ov, p, &m, SIGMSG_EDGE_REQ);
    m.edge_type = (enum sigmsg_edge_type)type;
    /* the acceptor pins our certificate from the start */
    snprintf(m.creds.fingerprint, sizeof m.creds.fingerprint, "%s", a->fingerprint);
    msg_send(a, ov, p, &m);
    edge_set_state(ov, p, EDGE_REQUESTED, now, REQUEST_TIMEOUT_MS);
}

static void refuse(struct agent *a, struct overlay *ov, struct peer *p, const char *edge_id,
                   enum sigmsg_resp_reason reason)
{
    struct sigmsg m;
    msg_init(a, ov, p, &m, SIGMSG_EDGE_RESP);
    snprintf(m.edge_id, sizeof m.edge_id, "%s", edge_id);
    m.accepted = false;
    m.resp_reason = reason;
    msg_send(a, ov, p, &m);
}

static void on_edge_req(struct agent *a, struct overlay *ov, struct peer *p,
                        const struct sigmsg *m)
{
    struct edge *e = &p->edge;
    if (!a->fingerprint[0] || a->tincan.state != HELPER_READY) {
        refuse(a, ov, p, m->edge_id, SIGMSG_RESP_BUSY);
        return;
    }
    if (!strcmp(e->edge_id, m->edge_id))
        return;                               /* a duplicate of the one in hand */
    /* Both asked at once and ours wins: theirs is refused, ours goes on.
     * Not only while ours awaits its answer: should theirs arrive after the
     * peer accepted ours, replacing ours would leave the two ends on
     * different edges until both time out. But a request from a session
     * other than the one that accepted ours comes from a restarted peer,
     * which has forgotten ours: it replaces ours. */
    bool ours_pending = e->initiator && e->state == EDGE_REQUESTED;
    bool ours_accepted = e->initiator && (e->state == EDGE_CREATING || e->state == EDGE_CONNECTING)
                         && !strcmp(e->answered_by, m->session);
    if ((ours_pending || ours_accepted) && nodeid_cmp(&a->self, &p->id) < 0) {
        refuse(a, ov, p, m->edge_id, SIGMSG_RESP_COLLISION);
        return;
    }
    struct topo_edge *te = malloc((ov->n_peers + 1) * sizeof *te);
    enum topo_verdict verdict = TOPO_ACCEPT;
    if (te) {
        size_t n = topo_edges(ov, te);
        verdict = topology_accept(ov->topo, &ov->ring, te, n, &p->id,
                                  (enum edge_type)m->edge_type);
        free(te);
    }
    if (verdict != TOPO_ACCEPT) {
        log_info("edge", "%s/%.12s: %s edge refused: full", ov->cfg->name, p->hex,
                 sigmsg_edge_type_name(m->edge_type));
        refuse(a, ov, p, m->edge_id, SIGMSG_RESP_FULL);
        return;
    }
    if (e->state != EDGE_IDLE && e->state != EDGE_BACKOFF) {
        /* the peer restarted or gave up on the old edge: start over with this one */
        log_info("edge", "%s/%.12s: new request replaces the %s edge", ov->cfg->name, p->hex,
                 edge_state_name(e->state));
        drop_link(a, ov, e);
    }
    memcpy(e->edge_id, m->edge_id, sizeof e->edge_id);
    e->initiator = false;
    e->remote_want = true;
    e->remote_type = (enum edge_type)m->edge_type;
    e->local_want = e->told_want = false;    /* the plan decides, and tells the peer */
    a->replan = true;
    snprintf(e->peer_fingerprint, sizeof e->peer_fingerprint, "%s", m->creds.fingerprint);
    json_decref(e->pending_cands);
    e->pending_cands = json_array();
    create_link(a, ov, p);
}

static void on_edge_resp(struct agent *a, struct overlay *ov, struct peer *p,
                         const struct sigmsg *m)
{
    struct edge *e = &p->edge;
    if (e->state != EDGE_REQUESTED || strcmp(e->edge_id, m->edge_id))
        return;                               /* stale or superseded */
    if (!m->accepted) {
        if (m->resp_reason == SIGMSG_RESP_COLLISION) {
            /* the peer's own request wins and will reach us: wait for it */
            e->edge_id[0] = '\0';
            edge_set_state(ov, p, EDGE_IDLE, monotonic_ms(), 0);
            return;
        }
        char why[96];
        snprintf(why, sizeof why, "refused by peer: %s", sigmsg_resp_reason_name(m->resp_reason));
        edge_reset(a, ov, p, why, false);
        return;
    }
    snprintf(e->peer_fingerprint, sizeof e->peer_fingerprint, "%s", m->creds.fingerprint);
    snprintf(e->answered_by, sizeof e->answered_by, "%s", m->session);
    json_decref(e->remote_creds);
    e->remote_creds = json_pack("{ss ss}", "ufrag", m->creds.ufrag, "pwd", m->creds.pwd);
    create_link(a, ov, p);
}

static void on_link_creds(struct agent *a, struct overlay *ov, struct peer *p,
                          const struct sigmsg *m)
{
    struct edge *e = &p->edge;
    if (e->initiator || strcmp(e->edge_id, m->edge_id)
        || (e->state != EDGE_CREATING && e->state != EDGE_CONNECTING))
        return;
    if (strcmp(m->creds.fingerprint, e->peer_fingerprint)) {
        edge_reset(a, ov, p, "peer's fingerprint changed during negotiation", true);
        return;
    }
    json_decref(e->remote_creds);
    e->remote_creds = json_pack("{ss ss}", "ufrag", m->creds.ufrag, "pwd", m->creds.pwd);
    feed_remote(a, e);
}

static void on_link_cand(struct agent *a, struct overlay *ov, struct peer *p,
                         const struct sigmsg *m)
{
    struct edge *e = &p->edge;
    if (strcmp(e->edge_id, m->edge_id) || !e->pending_cands)
        return;
    for (int i = 0; i < m->n_cands; i++)
        json_array_append_new(e->pending_cands, json_string(m->cands[i]));
    feed_remote(a, e);
}

void edge_on_message(struct agent *a, struct overlay *ov, const char *from_hex,
                     const char *payload, size_t len)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);
    struct sigmsg m;
    char *err = sigmsg_decode(payload, len, ov->cfg->name, &a->self, &m);
    struct nodeid from;
    if (!err && (!nodeid_parse(from_hex, &from) || nodeid_cmp(&from, &m.from)))
        err = strdup("sender's room nickname and payload \"from\" differ");
    if (err) {
        a->sig_dropped++;
        log_warn_rl(&rl, "edge", "%s: message from %.12s refused: %s", ov->cfg->name,
                    from_hex, err);
        free(err);
        return;
    }
    struct peer *p = agent_add_peer(ov, &m.from);
    if (!p)
        return;
    if (strcmp(p->session, m.session)) {
        if (p->session[0])
            log_info("edge", "%s/%.12s: peer restarted (session %s)", ov->cfg->name, p->hex,
                     m.session);
        snprintf(p->session, sizeof p->session, "%s", m.session);
    }
    log_debug("edge", "%s/%.12s: got %s", ov->cfg->name, p->hex, sigmsg_type_name(m.type));

    switch (m.type) {
    case SIGMSG_EDGE_REQ:
        on_edge_req(a, ov, p, &m);
        break;
    case SIGMSG_EDGE_RESP:
        on_edge_resp(a, ov, p, &m);
        break;
    case SIGMSG_LINK_CREDS:
        on_link_creds(a, ov, p, &m);
        break;
    case SIGMSG_LINK_CAND:
        on_link_cand(a, ov, p, &m);
        break;
    case SIGMSG_EDGE_CLOSE:
        if (strcmp(p->edge.edge_id, m.edge_id))
            break;
        if (!strcmp(m.close_reason, "unneeded"))
            edge_release(a, ov, p, false);
        else
            edge_reset(a, ov, p, "closed by peer", false);
        a->replan = true;
        break;
    case SIGMSG_EDGE_WANT:
        if (strcmp(p->edge.edge_id, m.edge_id))
            break;
        p->edge.remote_want = m.want;
        p->edge.remote_type = (enum edge_type)m.edge_type;
        a->replan = true;
        break;
    }
}

/* ---- datapath events -------------------------------------------------- */

/* The edge whose link LINK_ID is, from link/create on: tincan's first
 * events about a link come before its reply to link/create. */
static struct peer *peer_by_link(struct agent *a, const char *link_id, struct overlay **ovp)
{
    for (int i = 0; i < a->n_overlays; i++) {
        struct overlay *ov = &a->overlays[i];
        for (size_t j = 0; j < ov->n_peers; j++) {
            const struct edge *e = &ov->peers[j].edge;
            if (!strcmp(e->link_id, link_id)
                && (e->link_created || e->state == EDGE_CREATING)) {
                *ovp = ov;
                return &ov->peers[j];
            }
        }
    }
    return NULL;
}

/* evio-switchctl's shortcut/hint: local traffic to the hosts behind PEER
 * passed the threshold. It becomes an on-demand edge unless the peer has
 * an edge for another reason already; hints for an on-demand edge keep it. */
void edge_on_switchctl_event(struct agent *a, const struct ctl_msg *m)
{
    if (strcmp(m->name, "shortcut/hint"))
        return;
    const char *name = json_string_value(json_object_get(m->body, "overlay"));
    const char *hex = json_string_value(json_object_get(m->body, "peer"));
    struct overlay *ov = name ? agent_find_overlay(a, name) : NULL;
    struct nodeid id;
    if (!ov || !hex || !nodeid_parse(hex, &id)) {
        static struct log_ratelimit rl = LOG_RATELIMIT_INIT(5, 60);
        log_warn_rl(&rl, "edge", "evio-switchctl: malformed shortcut/hint dropped");
        return;
    }
    struct peer *p = agent_find_peer(ov, &id);
    if (!p || !p->present)
        return;                     /* not (or no longer) in the overlay */
    const struct edge *e = &p->edge;
    bool linked = e->state != EDGE_IDLE && e->state != EDGE_BACKOFF;
    if (linked && !(e->local_want && e->local_type == EDGE_ON_DEMAND))
        return;                     /* an edge for another reason serves it */
    int64_t now = monotonic_ms();
    if (topology_hint(ov->topo, &id, now)) {
        if (!linked)
            log_info("edge", "%s: traffic to %s at %lld kbit/s: asking for a shortcut",
                     ov->cfg->name, p->hex,
                     (long long)json_integer_value(json_object_get(m->body, "kbps")));
        a->replan = true;
    }
}

void edge_on_tincan_event(struct agent *a, const struct ctl_msg *m)
{
    const char *link_id = json_string_value(json_object_get(m->body, "link_id"));
    struct overlay *ov;
    struct peer *p = link_id ? peer_by_link(a, link_id, &ov) : NULL;
    if (!p)
        return;
    struct edge *e = &p->edge;

    if (!strcmp(m->name, "link/candidate")) {
        const char *cand = json_string_value(json_object_get(m->body, "candidate"));
        if (cand)
            on_local_cand(a, ov, p, cand);
    } else if (!strcmp(m->name, "link/state")) {
        const char *state = json_string_value(json_object_get(m->body, "state"));
        const char *reason = json_string_value(json_object_get(m->body, "reason"));
        if (state && !strcmp(state, "up") && e->state == EDGE_CONNECTING) {
            edge_set_state(ov, p, EDGE_CONNECTED, monotonic_ms(), 0);
            e->failures = 0;
            e->last_error[0] = '\0';
        } else if (state && !strcmp(state, "failed")) {
            char why[160];
            snprintf(why, sizeof why, "link failed: %s", reason ? reason : "?");
            edge_reset(a, ov, p, why, false);
            a->replan = true;
        }
    }
}

void edge_on_tincan_ready(struct agent *a, bool ready)
{
    if (ready)
        return;
    /* the datapath went away with every link: start those edges over */
    a->fingerprint[0] = '\0';
    for (int i = 0; i < a->n_overlays; i++) {
        struct overlay *ov = &a->overlays[i];
        for (size_t j = 0; j < ov->n_peers; j++) {
            struct edge *e = &ov->peers[j].edge;
            if (e->state == EDGE_IDLE || e->state == EDGE_BACKOFF)
                continue;
            edge_reset(a, ov, &ov->peers[j], "datapath restarted", true);
            e->failures = 0;
            e->deadline_ms = monotonic_ms();   /* retry as soon as it is back */
        }
    }
}

void edge_on_switchctl_ready(struct agent *a, bool ready)
{
    /* a (re)started switchctl gets the whole set: new ports, and none of
     * those a crash left behind */
    for (int i = 0; i < a->n_overlays; i++) {
        a->overlays[i].ports_dirty = true;
        a->overlays[i].ports_syncing = false;
        a->overlays[i].ports_retry_ms = 0;
    }
}

void edge_on_peer_restarted(struct agent *a, struct overlay *ov, struct peer *p,
                            const char *session)
{
    struct edge *e = &p->edge;
    log_info("edge", "%s/%.12s: peer restarted (session %s)", ov->cfg->name, p->hex, session);
    /* our datapath would tell only after 5 s of silence (a message from the
     * new session would have named it first, see edge_on_message) */
    if (e->state == EDGE_IDLE)
        return;
    edge_reset(a, ov, p, "peer restarted", false);
    e->failures = 0;
    e->deadline_ms = monotonic_ms();   /* free to be asked for again now */
    a->replan = true;
}

void edge_on_peer_left(struct agent *a, struct overlay *ov, struct peer *p)
{
    /* a link that is up stays until the datapath says it is gone: the peer
     * may only have lost its XMPP server; negotiations in flight stop */
    if (p->edge.state != EDGE_CONNECTED && p->edge.state != EDGE_IDLE) {
        edge_reset(a, ov, p, "peer left the overlay", false);
        p->edge.failures = 0;
    }
}

/* ---- plan, timeouts, retries ------------------------------------------ */

static int negotiating(const struct overlay *ov)
{
    int n = 0;
    for (size_t i = 0; i < ov->n_peers; i++) {
        enum edge_state s = ov->peers[i].edge.state;
        n += s == EDGE_REQUESTED || s == EDGE_CREATING || s == EDGE_CONNECTING;
    }
    return n;
}

/* Tells the peer when our want of an edge it knows about has changed. */
static void tell_want(struct agent *a, struct overlay *ov, struct peer *p)
{
    struct edge *e = &p->edge;
    if (e->told_want == e->local_want
        || (e->state != EDGE_CONNECTING && e->state != EDGE_CONNECTED))
        return;
    struct sigmsg m;
    msg_init(a, ov, p, &m, SIGMSG_EDGE_WANT);
    m.want = e->local_want;
    m.edge_type = (enum sigmsg_edge_type)e->local_type;
    msg_send(a, ov, p, &m);
    e->told_want = e->local_want;
}

/* Runs the topology engine and acts on its plan: wants are recorded and told,
 * edges nobody wants are released, missing ones requested (a bounded number
 * at a time). */
static void plan_overlay(struct agent *a, struct overlay *ov, int64_t now)
{
    struct topo_edge *te = malloc((ov->n_peers + 1) * sizeof *te);
    if (!te)
        return;
    size_t n_te = topo_edges(ov, te);
    struct topology_plan *plan = ov->plan;
    topology_plan(ov->topo, &ov->ring, te, n_te, now, plan);
    free(te);

    for (size_t j = 0; j < ov->n_peers; j++) {
        struct peer *p = &ov->peers[j];
        struct edge *e = &p->edge;
        bool want = false;
        for (size_t k = 0; k < plan->n_want && !want; k++) {
            if (!nodeid_cmp(&plan->want[k].peer, &p->id)) {
                want = true;
                e->local_type = plan->want[k].type;
            }
        }
        e->local_want = want;
        tell_want(a, ov, p);
    }

    /* a link to a peer that left the room stays until the datapath says it
     * is gone: the peer may only have lost its XMPP server */
    for (size_t k = 0; k < plan->n_drop; k++) {
        struct peer *p = agent_find_peer(ov, &plan->drop[k]);
        if (p && p->present)
            edge_release(a, ov, p, true);
    }

    int budget = ov->cfg->max_concurrent_edges - negotiating(ov);
    for (size_t k = 0; k < plan->n_add && budget > 0; k++) {
        struct peer *p = agent_find_peer(ov, &plan->add[k].peer);
        if (!p || !p->present || p->edge.state != EDGE_IDLE)
            continue;
        start_request(a, ov, p, plan->add[k].type, now);
        budget--;
    }
}

void edge_plan(struct agent *a, int64_t now)
{
    for (int i = 0; i < a->n_overlays; i++) {
        struct overlay *ov = &a->overlays[i];

        for (size_t j = 0; j < ov->n_peers; j++) {
            struct peer *p = &ov->peers[j];
            struct edge *e = &p->edge;
            if (!e->deadline_ms || now < e->deadline_ms)
                continue;
            if (e->state == EDGE_BACKOFF) {
                edge_set_state(ov, p, EDGE_IDLE, now, 0);
            } else {
                char why[64];
                snprintf(why, sizeof why, "timed out in state %s", edge_state_name(e->state));
                edge_reset(a, ov, p, why, true);
            }
        }

        sync_ports(a, ov, now);

        if (!a->xmpp_connected || !a->fingerprint[0] || a->tincan.state != HELPER_READY)
            continue;
        plan_overlay(a, ov, now);
    }
}

int64_t edge_next_deadline(const struct agent *a)
{
    int64_t next = -1;
    for (int i = 0; i < a->n_overlays; i++) {
        const struct overlay *ov = &a->overlays[i];
        if (ov->ports_dirty && !ov->ports_syncing && a->switchctl.state == HELPER_READY
            && (next < 0 || ov->ports_retry_ms < next))
            next = ov->ports_retry_ms;
        for (size_t j = 0; j < ov->n_peers; j++) {
            int64_t d = ov->peers[j].edge.deadline_ms;
            if (d && (next < 0 || d < next))
                next = d;
        }
    }
    return next;
}

/* ---- status ----------------------------------------------------------- */

static json_t *find_stats(json_t *tincan_stats, const char *link_id)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(tincan_stats, "links"), i, l) {
        const char *id = json_string_value(json_object_get(l, "link_id"));
        if (id && !strcmp(id, link_id))
            return l;
    }
    return NULL;
}

/* What an edge is for, from our side: our own reason when we want it,
 * "incoming" when only the peer does. */
static const char *edge_role(const struct edge *e)
{
    if (e->local_want)
        return edge_type_name(e->local_type);
    return e->remote_want ? "incoming" : "unwanted";
}

json_t *edge_status(const struct agent *a, const struct overlay *ov, json_t *tincan_stats)
{
    char ip[64] = "";
    uint32_t v = ov->cfg->ip4;
    if (v)
        snprintf(ip, sizeof ip, "%u.%u.%u.%u/%d", v >> 24, (v >> 16) & 255, (v >> 8) & 255,
                 v & 255, ov->cfg->prefix_len);
    json_t *peers = json_array(), *links = json_array();
    int64_t now = monotonic_ms();
    for (size_t j = 0; j < ov->n_peers; j++) {
        const struct peer *p = &ov->peers[j];
        const struct edge *e = &p->edge;
        json_array_append_new(peers, json_pack("{ss ss ss}", "node_id", p->hex, "state",
                                               p->present ? "present" : "absent", "edge",
                                               edge_state_name(e->state)));
        if (e->state == EDGE_IDLE)
            continue;
        json_t *l = json_pack("{ss ss ss ss sb sI}", "peer", p->hex, "state",
                              edge_state_name(e->state), "edge_type", edge_role(e),
                              "link_id", e->link_id, "initiator", e->initiator, "state_age_s",
                              (json_int_t)((now - e->state_since_ms) / 1000));
        if (e->last_error[0])
            json_object_set_new(l, "last_error", json_string(e->last_error));
        json_t *st = e->link_created ? find_stats(tincan_stats, e->link_id) : NULL;
        static const char *const copy[] = { "local_type", "remote_type", "local_addr",
                                            "remote_addr", "pair_since_s",
                                            "pair_changes", "path", "tx_bytes", "rx_bytes", "tx_frames",
                                            "rx_frames", "drop_oversize", "drop_tap",
                                            "drop_decrypt", "age_s", "up_s", "reason", "mac" };
        for (size_t k = 0; st && k < sizeof copy / sizeof *copy; k++) {
            json_t *val = json_object_get(st, copy[k]);
            if (val)
                json_object_set(l, copy[k], val);
        }
        if (st && json_object_get(st, "state"))
            json_object_set(l, "link_state", json_object_get(st, "state"));
        json_array_append_new(links, l);
    }
    return json_pack("{ss ss ss so so}", "name", ov->cfg->name, "bridge", ov->cfg->bridge_name,
                     "ip", ip, "peers", peers, "links", links);
}

/* ---- topology --------------------------------------------------------- */

int edge_overlay_init(struct agent *a, struct overlay *ov)
{
    const struct config_overlay *c = ov->cfg;
    struct nodeid statics[CONFIG_MAX_STATIC];
    size_t n_statics = 0;
    for (int j = 0; j < c->n_static; j++)
        if (nodeid_parse(c->static_peers[j], &statics[n_statics]))
            n_statics++;
    struct topology_config tc = {
        .min_successors = c->min_successors,
        .max_long_distance = c->max_long_distance,
        .max_on_demand = c->max_on_demand,
        .on_demand_idle_ms = (int64_t)c->on_demand_idle_s * 1000,
        .statics = statics,
        .n_statics = n_statics,
    };
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t)monotonic_ms();
    ov->topo = topology_new(&a->self, &tc, seed);
    ov->plan = calloc(1, sizeof *ov->plan);
    return ov->topo && ov->plan ? 0 : ENOMEM;
}

void edge_overlay_free(struct overlay *ov)
{
    topology_free(ov->topo);
    topo_ring_free(&ov->ring);
    free(ov->plan);
    ov->topo = NULL;
    ov->plan = NULL;
}

json_t *edge_topology(const struct agent *a, const struct overlay *ov)
{
    const struct topology_plan *plan = ov->plan;
    json_t *ring = json_array(), *planned = json_array(), *edges = json_array();

    /* the ring as we know it, clockwise from ourselves */
    size_t start = topo_ring_rank(&ov->ring, &a->self);
    for (size_t k = 0; k < ov->ring.n; k++) {
        char hex[NODEID_HEX_LEN + 1];
        nodeid_format(&ov->ring.ids[(start + k) % ov->ring.n], hex);
        json_array_append_new(ring, json_string(hex));
    }
    for (size_t k = 0; plan && k < plan->n_want; k++) {
        char hex[NODEID_HEX_LEN + 1];
        nodeid_format(&plan->want[k].peer, hex);
        const struct peer *p = agent_find_peer((struct overlay *)ov, &plan->want[k].peer);
        json_array_append_new(planned, json_pack("{ss ss ss}", "peer", hex, "type",
                                                 edge_type_name(plan->want[k].type), "edge",
                                                 p ? edge_state_name(p->edge.state) : "idle"));
    }
    int64_t now = monotonic_ms();
    for (size_t j = 0; j < ov->n_peers; j++) {
        const struct peer *p = &ov->peers[j];
        const struct edge *e = &p->edge;
        if (e->state == EDGE_IDLE)
            continue;
        json_t *o = json_pack("{ss ss ss sb sb sb sI}", "peer", p->hex, "type", edge_role(e),
                              "state", edge_state_name(e->state), "initiator", e->initiator,
                              "local_want", e->local_want, "remote_want", e->remote_want,
                              "state_age_s", (json_int_t)((now - e->state_since_ms) / 1000));
        if (e->remote_want)
            json_object_set_new(o, "remote_type", json_string(edge_type_name(e->remote_type)));
        if (e->last_error[0])
            json_object_set_new(o, "last_error", json_string(e->last_error));
        json_array_append_new(edges, o);
    }
    return json_pack("{ss ss si si si so so so}", "name", ov->cfg->name, "self", a->self_hex,
                     "peers", (int)(ov->ring.n - topo_ring_contains(&ov->ring, &a->self)),
                     "min_successors", ov->cfg->min_successors, "long_distance",
                     plan ? plan->n_long : 0, "ring", ring, "planned", planned, "edges", edges);
}
