/* Edge negotiation, the pure engine (see negotiate.h). Every state change
 * goes through edge_set_state(); every message out through emit_send();
 * every link out of the engine's hands through drop_link(). */
#include "negotiate.h"

#include "evio/timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* topology.h's edge types travel as sigmsg's: same values */
_Static_assert((int)EDGE_SUCCESSOR == (int)SIGMSG_EDGE_SUCCESSOR
               && (int)EDGE_LONG_DISTANCE == (int)SIGMSG_EDGE_LONG_DISTANCE
               && (int)EDGE_STATIC == (int)SIGMSG_EDGE_STATIC
               && (int)EDGE_ON_DEMAND == (int)SIGMSG_EDGE_ON_DEMAND, "edge types differ");

struct neg {
    char overlay[SIGMSG_OVERLAY_MAX + 1];
    int index;
    struct nodeid self;
    char self_hex[NODEID_HEX_LEN + 1];
    char session[SESSION_LEN + 1];
    char fingerprint[SIGMSG_FPR_LEN + 1];   /* the datapath's, "" when it is away */
    bool signalling;
    int min_successors, max_on_demand, max_concurrent, max_links;
    struct nodeid *statics;
    size_t n_statics;
    bool members_only;
    struct nodeid *members;         /* sorted, for bsearch */
    size_t n_members;

    struct peer_table peers;
    struct topo_ring ring;          /* present peers, sorted */
    struct topology *topo;
    struct topology_plan plan;      /* the latest */
    struct topo_edge *te;           /* scratch for the topology engine, peers.max */
    uint64_t rng;
    bool dirty;                     /* something changed: plan at the next tick */
    struct neg_counters counters;
};

/* ---- small tools -------------------------------------------------------- */

/* splitmix64: edge ids, link names and jitter need no more than this */
static uint64_t neg_random(struct neg *n)
{
    uint64_t z = (n->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void random_hex16(struct neg *n, char out[EDGE_ID_LEN + 1])
{
    snprintf(out, EDGE_ID_LEN + 1, "%016llx", (unsigned long long)neg_random(n));
}

static struct neg_action *push(struct neg_actions *acts, enum neg_act_type type,
                               const struct peer *p)
{
    if (acts->n == acts->cap) {
        size_t cap = acts->cap ? acts->cap * 2 : 16;
        struct neg_action *v = realloc(acts->v, cap * sizeof *v);
        if (!v) {
            acts->oom = true;
            return NULL;
        }
        acts->v = v;
        acts->cap = cap;
    }
    struct neg_action *a = &acts->v[acts->n++];
    memset(a, 0, sizeof *a);
    a->type = type;
    a->peer = p->id;
    snprintf(a->link_id, sizeof a->link_id, "%s", p->edge.link_id);
    return a;
}

void neg_actions_clear(struct neg_actions *acts)
{
    for (size_t i = 0; i < acts->n; i++) {
        free(acts->v[i].msg);
        for (int k = 0; k < acts->v[i].n_cands; k++)
            free(acts->v[i].cands[k]);
    }
    acts->n = 0;
    acts->oom = false;
}

void neg_actions_free(struct neg_actions *acts)
{
    neg_actions_clear(acts);
    free(acts->v);
    memset(acts, 0, sizeof *acts);
}

static void edge_set_state(struct neg *n, struct peer *p, enum edge_state s, int64_t now,
                           int64_t timeout_ms, struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if ((e->state == EDGE_CONNECTED) != (s == EDGE_CONNECTED) && e->link_created)
        push(acts, NEG_ACT_PORTS, p);   /* the switch floods over up links only */
    e->state = s;
    e->state_since_ms = now;
    e->deadline_ms = timeout_ms ? now + timeout_ms : 0;
    n->dirty = true;
}

/* A message of TYPE to P about its current edge, envelope filled. */
static struct sigmsg *msg_new(struct neg *n, struct peer *p, enum sigmsg_type type,
                              struct neg_actions *acts)
{
    struct neg_action *a = push(acts, NEG_ACT_SEND, p);
    struct sigmsg *m = a ? calloc(1, sizeof *m) : NULL;
    if (!m) {
        if (a)
            acts->n--;
        acts->oom = true;
        return NULL;
    }
    a->msg = m;
    m->type = type;
    snprintf(m->overlay, sizeof m->overlay, "%s", n->overlay);
    m->from = n->self;
    m->to = p->id;
    snprintf(m->session, sizeof m->session, "%s", n->session);
    snprintf(m->edge_id, sizeof m->edge_id, "%s", p->edge.edge_id);
    return m;
}

static void send_close(struct neg *n, struct peer *p, const char *reason,
                       struct neg_actions *acts)
{
    struct sigmsg *m = msg_new(n, p, SIGMSG_EDGE_CLOSE, acts);
    if (m)
        snprintf(m->close_reason, sizeof m->close_reason, "%s", reason);
}

static int id_cmp(const void *a, const void *b)
{
    return nodeid_cmp(a, b);
}

/* May this node link with ID at all ("members" of the overlay)? */
static bool is_member(const struct neg *n, const struct nodeid *id)
{
    return !n->members_only
           || bsearch(id, n->members, n->n_members, sizeof *n->members, id_cmp) != NULL;
}

static bool is_static(const struct neg *n, const struct nodeid *id)
{
    for (size_t i = 0; i < n->n_statics; i++)
        if (!nodeid_cmp(&n->statics[i], id))
            return true;
    return false;
}


static bool negotiating(const struct edge *e)
{
    return e->state == EDGE_REQUESTED || e->state == EDGE_CREATING
           || e->state == EDGE_CONNECTING;
}

/* Link slots taken: links asked for, and our own requests in flight (each
 * becomes a link when accepted, so it holds its slot from the start). */
static int slots_taken(const struct neg *n, const struct peer *except)
{
    int k = 0;
    for (size_t i = 0; i < n->peers.n; i++) {
        const struct peer *p = n->peers.peers[i];
        k += p != except && (p->edge.link_asked || p->edge.state == EDGE_REQUESTED);
    }
    return k;
}

int neg_links(const struct neg *n)
{
    int k = 0;
    for (size_t i = 0; i < n->peers.n; i++)
        k += n->peers.peers[i]->edge.link_asked;
    return k;
}

/* ---- links -------------------------------------------------------------- */

/* Lets go of the edge's link, whatever state it is in: the datapath removes
 * it (a link/create still on its way is removed after it), the switch loses
 * its port, and whatever the peer sent for it is dropped. */
static void drop_link(struct neg *n, struct peer *p, struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (e->link_asked) {
        push(acts, NEG_ACT_LINK_REMOVE, p);
        n->counters.links_removed++;
        if (e->link_created)
            push(acts, NEG_ACT_PORTS, p);
    }
    e->link_asked = e->link_created = false;
    e->remote_creds_set = e->have_remote_creds = false;
    e->remote_cands_seen = 0;
    edge_free_cands(e);
}

/* Forgets the edge and moves it to STATE (BACKOFF after a failure, IDLE
 * when released or started over). */
static void edge_end(struct neg *n, struct peer *p, enum edge_state state, int64_t delay,
                     int64_t now, struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    drop_link(n, p, acts);
    e->edge_id[0] = '\0';
    e->link_id[0] = '\0';
    e->answered_by[0] = '\0';
    e->local_want = e->remote_want = e->told_want = false;
    edge_set_state(n, p, state, now, delay, acts);
}

/* A negotiation or link failed: drops what the edge has and backs off. The
 * peer is told (edge_close "reset") unless it told us, so both ends back off. */
static void edge_fail(struct neg *n, struct peer *p, const char *why, bool tell_peer,
                      int64_t now, struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (e->state == EDGE_IDLE || e->state == EDGE_BACKOFF)
        return;
    if (tell_peer)
        send_close(n, p, "reset", acts);
    snprintf(e->last_error, sizeof e->last_error, "%s", why);
    e->failures++;
    n->counters.failures++;
    int64_t delay = backoff_ms(e->failures, (uint32_t)neg_random(n));
    edge_end(n, p, EDGE_BACKOFF, delay, now, acts);
}

/* The edge is wanted by neither end: no backoff, and free to be asked for
 * again. */
static void edge_release(struct neg *n, struct peer *p, bool tell_peer, int64_t now,
                         struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (tell_peer)
        send_close(n, p, "unneeded", acts);
    e->failures = 0;
    e->last_error[0] = '\0';
    edge_end(n, p, EDGE_IDLE, 0, now, acts);
}

/* The peer's agent is new (restarted) or our datapath lost every link: the
 * edge starts over at once, without backoff and without telling the peer. */
static void edge_restart(struct neg *n, struct peer *p, const char *why, int64_t now,
                         struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (e->state == EDGE_IDLE)
        return;
    snprintf(e->last_error, sizeof e->last_error, "%s", why);
    e->failures = 0;
    edge_end(n, p, EDGE_IDLE, 0, now, acts);
}

static void create_link(struct neg *n, struct peer *p, int64_t now, struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    /* Each link gets a TAP name of its own (<= 15 chars: overlay, peer, and
     * a random suffix): a port that a crashed switch or datapath left behind
     * in OVS under an old name can then never be mistaken for this link's. */
    snprintf(e->link_id, sizeof e->link_id, "e%d%.8s%03x", n->index % 100, p->hex,
             (unsigned)(neg_random(n) & 0xfff));
    e->link_asked = true;
    e->link_created = false;
    n->counters.links_created++;
    struct neg_action *a = push(acts, NEG_ACT_LINK_CREATE, p);
    if (a) {
        a->controlling = e->initiator;
        snprintf(a->fingerprint, sizeof a->fingerprint, "%s", e->peer_fingerprint);
    }
    edge_set_state(n, p, EDGE_CREATING, now, NEG_REQUEST_TIMEOUT_MS, acts);
}

/* Hands the datapath what it can take now: the peer's credentials, then its
 * candidates in batches. */
static void feed_remote(struct peer *p, struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (!e->link_created)
        return;
    if (!e->remote_creds_set && e->have_remote_creds) {
        struct neg_action *a = push(acts, NEG_ACT_LINK_CREDS, p);
        if (a) {
            snprintf(a->ufrag, sizeof a->ufrag, "%s", e->remote_ufrag);
            snprintf(a->pwd, sizeof a->pwd, "%s", e->remote_pwd);
        }
        e->remote_creds_set = true;
        e->have_remote_creds = false;
    }
    if (!e->remote_creds_set)
        return;
    for (int i = 0; i < e->n_remote_cands; i += NEG_CAND_BATCH) {
        struct neg_action *a = push(acts, NEG_ACT_LINK_CANDS, p);
        for (int k = i; k < e->n_remote_cands && k < i + NEG_CAND_BATCH; k++) {
            if (a)
                a->cands[a->n_cands++] = e->remote_cands[k];
            else
                free(e->remote_cands[k]);
            e->remote_cands[k] = NULL;
        }
    }
    e->n_remote_cands = 0;
}

/* Keeps the peer's candidates for the edge, up to its budget. */
static void take_remote_cands(struct neg *n, struct peer *p, const struct sigmsg *m)
{
    struct edge *e = &p->edge;
    for (int i = 0; i < m->n_cands; i++) {
        if (e->remote_cands_seen >= EDGE_REMOTE_CANDS) {
            n->counters.cands_dropped += (uint64_t)(m->n_cands - i);
            return;
        }
        if (!e->remote_cands && !(e->remote_cands = calloc(EDGE_REMOTE_CANDS, sizeof (char *))))
            return;
        char *c = strdup(m->cands[i]);
        if (!c)
            return;
        e->remote_cands[e->n_remote_cands++] = c;
        e->remote_cands_seen++;
    }
}

/* Signals the candidates held for the peer, in as few messages as fit. */
static void send_local_cands(struct neg *n, struct peer *p, struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    for (int i = 0; i < e->n_local_cands; i += SIGMSG_MAX_CANDS) {
        struct sigmsg *m = msg_new(n, p, SIGMSG_LINK_CAND, acts);
        for (int k = i; m && k < e->n_local_cands && m->n_cands < SIGMSG_MAX_CANDS; k++)
            snprintf(m->cands[m->n_cands++], sizeof m->cands[0], "%s", e->local_cands[k]);
    }
    for (int i = 0; i < e->n_local_cands; i++)
        free(e->local_cands[i]);
    free(e->local_cands);
    e->local_cands = NULL;
    e->n_local_cands = 0;
}

static struct peer *peer_by_link(const struct neg *n, const char *link_id)
{
    if (!link_id || !link_id[0])
        return NULL;
    for (size_t i = 0; i < n->peers.n; i++) {
        struct peer *p = n->peers.peers[i];
        if (p->edge.link_asked && !strcmp(p->edge.link_id, link_id))
            return p;
    }
    return NULL;
}

bool neg_owns_link(const struct neg *n, const char *link_id)
{
    return peer_by_link(n, link_id) != NULL;
}

void neg_on_link_created(struct neg *n, const char *link_id, const char *error,
                         const char *mac, const char *ufrag, const char *pwd, int64_t now,
                         struct neg_actions *acts)
{
    struct peer *p = peer_by_link(n, link_id);
    if (!p || p->edge.state != EDGE_CREATING || p->edge.link_created)
        return;            /* the edge moved on; dropping it removed the link */
    struct edge *e = &p->edge;
    if (error || !mac || !ufrag || !pwd || strlen(mac) > SIGMSG_MAC_LEN
        || strlen(ufrag) > SIGMSG_ICE_MAX || strlen(pwd) > SIGMSG_ICE_MAX) {
        char why[160];
        snprintf(why, sizeof why, "link/create: %s",
                 error ? error : "reply lacks a valid mac, ufrag or pwd");
        edge_fail(n, p, why, true, now, acts);
        return;
    }
    e->link_created = true;
    push(acts, NEG_ACT_PORTS, p);

    /* the acceptor answers the request; the requester sends its own credentials */
    struct sigmsg *m = msg_new(n, p, e->initiator ? SIGMSG_LINK_CREDS : SIGMSG_EDGE_RESP, acts);
    if (m) {
        m->accepted = true;
        m->resp_reason = SIGMSG_RESP_OK;
        snprintf(m->creds.mac, sizeof m->creds.mac, "%s", mac);
        snprintf(m->creds.fingerprint, sizeof m->creds.fingerprint, "%s", n->fingerprint);
        snprintf(m->creds.ufrag, sizeof m->creds.ufrag, "%s", ufrag);
        snprintf(m->creds.pwd, sizeof m->creds.pwd, "%s", pwd);
    }
    send_local_cands(n, p, acts);
    edge_set_state(n, p, EDGE_CONNECTING, now, NEG_CONNECT_TIMEOUT_MS, acts);
    feed_remote(p, acts);
}

void neg_on_local_cand(struct neg *n, const char *link_id, const char *cand, int64_t now,
                       struct neg_actions *acts)
{
    struct peer *p = peer_by_link(n, link_id);
    if (!p || !cand || strlen(cand) > SIGMSG_CAND_MAX)
        return;
    struct edge *e = &p->edge;
    if (e->state == EDGE_CREATING) {
        /* the datapath gathers host candidates inside link/create: their
         * events come before its reply, and the peer needs our credentials
         * before them */
        if (e->n_local_cands >= EDGE_LOCAL_CANDS)
            return;
        if (!e->local_cands && !(e->local_cands = calloc(EDGE_LOCAL_CANDS, sizeof (char *))))
            return;
        char *c = strdup(cand);
        if (c)
            e->local_cands[e->n_local_cands++] = c;
        return;
    }
    if (e->state != EDGE_CONNECTING && e->state != EDGE_CONNECTED)
        return;
    struct sigmsg *m = msg_new(n, p, SIGMSG_LINK_CAND, acts);
    if (m) {
        snprintf(m->cands[0], sizeof m->cands[0], "%s", cand);
        m->n_cands = 1;
    }
}

void neg_on_link_state(struct neg *n, const char *link_id, bool up, const char *reason,
                       int64_t now, struct neg_actions *acts)
{
    struct peer *p = peer_by_link(n, link_id);
    if (!p)
        return;
    struct edge *e = &p->edge;
    if (up) {
        if (e->state != EDGE_CONNECTING)
            return;
        edge_set_state(n, p, EDGE_CONNECTED, now, 0, acts);
        e->failures = 0;
        e->last_error[0] = '\0';
    } else {
        char why[160];
        snprintf(why, sizeof why, "link failed: %s", reason ? reason : "?");
        edge_fail(n, p, why, true, now, acts);
    }
}

/* ---- requests ------------------------------------------------------------ */

static void start_request(struct neg *n, struct peer *p, enum edge_type type, int64_t now,
                          struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    random_hex16(n, e->edge_id);
    e->initiator = true;
    e->local_want = e->told_want = true;
    e->local_type = type;
    e->remote_want = false;
    e->answered_by[0] = '\0';
    struct sigmsg *m = msg_new(n, p, SIGMSG_EDGE_REQ, acts);
    if (m) {
        m->edge_type = (enum sigmsg_edge_type)type;
        /* the acceptor pins our certificate from the start */
        snprintf(m->creds.fingerprint, sizeof m->creds.fingerprint, "%s", n->fingerprint);
    }
    edge_set_state(n, p, EDGE_REQUESTED, now, NEG_REQUEST_TIMEOUT_MS, acts);
}

static void refuse(struct neg *n, struct peer *p, const char *edge_id,
                   enum sigmsg_resp_reason reason, struct neg_actions *acts)
{
    struct sigmsg *m = msg_new(n, p, SIGMSG_EDGE_RESP, acts);
    if (m) {
        snprintf(m->edge_id, sizeof m->edge_id, "%s", edge_id);
        m->accepted = false;
        m->resp_reason = reason;
    }
}

/* The edges as the topology engine sees them, into n->te. */
static size_t topo_edges(struct neg *n)
{
    size_t k = 0;
    for (size_t i = 0; i < n->peers.n; i++) {
        const struct peer *p = n->peers.peers[i];
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
        n->te[k++] = (struct topo_edge){ p->id, link, e->remote_want, e->remote_type };
    }
    return k;
}

/* Is FROM among our nearest predecessors on the ring, where a peer that
 * counts us among its successors must be? Some slack allows for the two
 * ends' views of the room differing for a moment. */
static bool near_predecessor(const struct neg *n, const struct nodeid *from)
{
    size_t len = n->ring.n;                 /* present peers; self is not in it */
    if (!topo_ring_contains(&n->ring, from))
        return false;
    size_t self = topo_ring_rank(&n->ring, &n->self);
    size_t at = topo_ring_rank(&n->ring, from);
    /* counter-clockwise distance in peers from self to FROM, 1 = the nearest */
    size_t dist = (self + len - at) % len;
    if (dist == 0)
        dist = len;
    /* the peer scans up to 2 * min_successors + 2 peers for its successors */
    return dist <= (size_t)n->min_successors * 2 + 4;
}

/* The type an incoming request is held as: a static request from a peer we
 * do not list as static counts as long-distance. */
static enum edge_type judged_type(const struct neg *n, const struct nodeid *from,
                                  enum edge_type type)
{
    return type == EDGE_STATIC && !is_static(n, from) ? EDGE_LONG_DISTANCE : type;
}

/* Decides on an incoming request for an edge of TYPE from P (which has no
 * edge with us in hand, or one being replaced). */
static enum sigmsg_resp_reason accept_verdict(struct neg *n, const struct peer *p,
                                              enum edge_type type)
{
    /* TYPE is already judged (judged_type) */
    if (slots_taken(n, p) >= n->max_links) {
        n->counters.refused_links++;
        return SIGMSG_RESP_FULL;
    }
    switch (type) {
    case EDGE_SUCCESSOR:
        if (!near_predecessor(n, &p->id)) {
            n->counters.refused_not_neighbour++;
            return SIGMSG_RESP_REFUSED;
        }
        return SIGMSG_RESP_OK;
    case EDGE_STATIC:
        return SIGMSG_RESP_OK;
    case EDGE_ON_DEMAND: {
        int held = 0;
        for (size_t i = 0; i < n->peers.n; i++) {
            const struct peer *q = n->peers.peers[i];
            const struct edge *e = &q->edge;
            held += q != p && e->remote_want && e->remote_type == EDGE_ON_DEMAND
                    && !e->local_want && e->state != EDGE_IDLE && e->state != EDGE_BACKOFF;
        }
        if (held >= n->max_on_demand) {
            n->counters.refused_full++;
            return SIGMSG_RESP_FULL;
        }
        return SIGMSG_RESP_OK;
    }
    case EDGE_LONG_DISTANCE:
    default: {
        size_t k = topo_edges(n);
        if (topology_accept(n->topo, &n->ring, n->te, k, &p->id, EDGE_LONG_DISTANCE)
            != TOPO_ACCEPT) {
            n->counters.refused_full++;
            return SIGMSG_RESP_FULL;
        }
        return SIGMSG_RESP_OK;
    }
    }
}

/* Is FPR the key of node ID? */
static bool key_is_ids(const char *fpr, const struct nodeid *id)
{
    struct nodeid k;
    return nodeid_from_fpr(fpr, &k) && !nodeid_cmp(&k, id);
}

static void on_edge_req(struct neg *n, struct peer *p, const struct sigmsg *m, int64_t now,
                        struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (!strcmp(e->edge_id, m->edge_id))
        return;                               /* a duplicate of the one in hand */
    if (!key_is_ids(m->creds.fingerprint, &p->id)) {
        n->counters.impostor++;
        refuse(n, p, m->edge_id, SIGMSG_RESP_REFUSED, acts);
        return;
    }
    if (!n->fingerprint[0]) {
        n->counters.refused_busy++;
        refuse(n, p, m->edge_id, SIGMSG_RESP_BUSY, acts);
        return;
    }
    /* Both asked at once and ours wins: theirs is refused, ours goes on.
     * Not only while ours awaits its answer: should theirs arrive after the
     * peer accepted ours, replacing ours would leave the two ends on
     * different edges until both time out. But a request from a session
     * other than the one that accepted ours comes from a restarted peer,
     * which has forgotten ours: it replaces ours. */
    bool ours_pending = e->initiator && e->state == EDGE_REQUESTED;
    bool ours_accepted = e->initiator && (e->state == EDGE_CREATING || e->state == EDGE_CONNECTING)
                         && !strcmp(e->answered_by, m->session);
    if ((ours_pending || ours_accepted) && nodeid_cmp(&n->self, &p->id) < 0) {
        n->counters.collisions++;
        refuse(n, p, m->edge_id, SIGMSG_RESP_COLLISION, acts);
        return;
    }
    enum edge_type type = judged_type(n, &p->id, (enum edge_type)m->edge_type);
    enum sigmsg_resp_reason verdict = accept_verdict(n, p, type);
    if (verdict != SIGMSG_RESP_OK) {
        refuse(n, p, m->edge_id, verdict, acts);
        return;
    }
    if (e->state != EDGE_IDLE && e->state != EDGE_BACKOFF) {
        /* the peer restarted or gave up on the old edge: start over with this one */
        snprintf(e->last_error, sizeof e->last_error, "replaced by a new request");
        edge_end(n, p, EDGE_IDLE, 0, now, acts);
    }
    memcpy(e->edge_id, m->edge_id, sizeof e->edge_id);
    e->initiator = false;
    e->remote_want = true;
    e->remote_type = type;
    e->local_want = e->told_want = false;    /* the plan decides, and tells the peer */
    snprintf(e->peer_fingerprint, sizeof e->peer_fingerprint, "%s", m->creds.fingerprint);
    create_link(n, p, now, acts);
}

static void on_edge_resp(struct neg *n, struct peer *p, const struct sigmsg *m, int64_t now,
                         struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (e->state != EDGE_REQUESTED || strcmp(e->edge_id, m->edge_id)) {
        n->counters.stale++;
        return;
    }
    if (!m->accepted) {
        char why[96];
        snprintf(why, sizeof why, "refused by peer: %s", sigmsg_resp_reason_name(m->resp_reason));
        if (m->resp_reason == SIGMSG_RESP_COLLISION) {
            /* the peer's own request wins and is due: we wait for it in
             * BACKOFF (which accepts it). Should it not come (the peer holds
             * an edge we gave up on), the waits grow like any backoff. */
            snprintf(e->last_error, sizeof e->last_error, "%s", why);
            e->failures++;
            int64_t delay = backoff_ms(e->failures, (uint32_t)neg_random(n));
            edge_end(n, p, EDGE_BACKOFF,
                     delay > NEG_COLLISION_WAIT_MS ? delay : NEG_COLLISION_WAIT_MS, now, acts);
            return;
        }
        edge_fail(n, p, why, false, now, acts);
        return;
    }
    if (!key_is_ids(m->creds.fingerprint, &p->id)) {
        n->counters.impostor++;
        edge_fail(n, p, "answer with a key that is not the peer's ID's", true, now, acts);
        return;
    }
    snprintf(e->peer_fingerprint, sizeof e->peer_fingerprint, "%s", m->creds.fingerprint);
    snprintf(e->answered_by, sizeof e->answered_by, "%s", m->session);
    snprintf(e->remote_ufrag, sizeof e->remote_ufrag, "%s", m->creds.ufrag);
    snprintf(e->remote_pwd, sizeof e->remote_pwd, "%s", m->creds.pwd);
    e->have_remote_creds = true;
    create_link(n, p, now, acts);
}

static void on_link_creds(struct neg *n, struct peer *p, const struct sigmsg *m, int64_t now,
                          struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (e->initiator || strcmp(e->edge_id, m->edge_id) || e->remote_creds_set
        || (e->state != EDGE_CREATING && e->state != EDGE_CONNECTING)) {
        n->counters.stale++;
        return;
    }
    if (strcmp(m->creds.fingerprint, e->peer_fingerprint)) {
        edge_fail(n, p, "peer's fingerprint changed during negotiation", true, now, acts);
        return;
    }
    snprintf(e->remote_ufrag, sizeof e->remote_ufrag, "%s", m->creds.ufrag);
    snprintf(e->remote_pwd, sizeof e->remote_pwd, "%s", m->creds.pwd);
    e->have_remote_creds = true;
    feed_remote(p, acts);
}

static void on_link_cand(struct neg *n, struct peer *p, const struct sigmsg *m,
                         struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (strcmp(e->edge_id, m->edge_id) || (!negotiating(e) && e->state != EDGE_CONNECTED)) {
        n->counters.stale++;
        return;
    }
    take_remote_cands(n, p, m);
    feed_remote(p, acts);
}

/* A peer heard of only through its messages is kept while its edge is; the
 * table refuses new ones when full. */
static struct peer *peer_for_message(struct neg *n, const struct nodeid *id, int64_t now)
{
    struct peer *p = peer_table_add(&n->peers, id, now);
    if (!p)
        n->counters.peers_refused++;
    return p;
}

void neg_on_message(struct neg *n, const struct sigmsg *m, int64_t now,
                    struct neg_actions *acts)
{
    if (!nodeid_cmp(&m->from, &n->self))
        return;
    if (!is_member(n, &m->from)) {
        n->counters.not_member++;
        return;
    }
    struct peer *p = peer_for_message(n, &m->from, now);
    if (!p)
        return;
    struct edge *e = &p->edge;
    if (strcmp(p->session, m->session)) {
        /* a message from a new agent session: the peer restarted, and
         * whatever edge it had with us went with its old process */
        if (p->session[0])
            edge_restart(n, p, "peer restarted", now, acts);
        snprintf(p->session, sizeof p->session, "%s", m->session);
    }
    bool allowed = m->type == SIGMSG_EDGE_REQ
                   ? peer_bucket_take(&p->req_bucket, NEG_REQ_BURST, NEG_REQ_PERIOD_MS, now)
                   : peer_bucket_take(&p->msg_bucket, NEG_MSG_BURST, NEG_MSG_PERIOD_MS, now);
    if (!allowed) {
        n->counters.rate_limited++;
        return;
    }

    switch (m->type) {
    case SIGMSG_EDGE_REQ:
        on_edge_req(n, p, m, now, acts);
        break;
    case SIGMSG_EDGE_RESP:
        on_edge_resp(n, p, m, now, acts);
        break;
    case SIGMSG_LINK_CREDS:
        on_link_creds(n, p, m, now, acts);
        break;
    case SIGMSG_LINK_CAND:
        on_link_cand(n, p, m, acts);
        break;
    case SIGMSG_EDGE_CLOSE:
        if (strcmp(e->edge_id, m->edge_id) || e->state == EDGE_IDLE) {
            n->counters.stale++;
            break;
        }
        if (!strcmp(m->close_reason, "unneeded"))
            edge_release(n, p, false, now, acts);
        else
            edge_fail(n, p, "closed by peer", false, now, acts);
        break;
    case SIGMSG_EDGE_WANT:
        if (strcmp(e->edge_id, m->edge_id) || e->state == EDGE_IDLE) {
            n->counters.stale++;
            break;
        }
        e->remote_want = m->want;
        e->remote_type = judged_type(n, &p->id, (enum edge_type)m->edge_type);
        n->dirty = true;
        break;
    }
}

/* ---- presence and helpers ---------------------------------------------- */

void neg_peer_joined(struct neg *n, const struct nodeid *id, const char *session, int64_t now,
                     struct neg_actions *acts)
{
    if (!nodeid_cmp(id, &n->self))
        return;
    if (!is_member(n, id)) {
        n->counters.not_member++;  /* in the room, but not to be linked with */
        return;
    }
    struct peer *p = peer_table_add(&n->peers, id, now);
    if (!p) {
        n->counters.peers_refused++;
        return;
    }
    if (session && session[0] && strcmp(p->session, session)) {
        if (p->session[0])
            edge_restart(n, p, "peer restarted", now, acts);
        snprintf(p->session, sizeof p->session, "%s", session);
    }
    if (!p->present && topo_ring_insert(&n->ring, id)) {
        p->present = true;
        n->dirty = true;
    }
}

void neg_peer_left(struct neg *n, const struct nodeid *id, int64_t now, struct neg_actions *acts)
{
    struct peer *p = peer_table_find(&n->peers, id);
    if (!p || !p->present)
        return;
    p->present = false;
    p->absent_since_ms = now;
    topo_ring_remove(&n->ring, id);
    n->dirty = true;
    /* a link that is up stays until the datapath says it is gone: the peer
     * may only have lost its XMPP server; negotiations in flight stop */
    if (p->edge.state != EDGE_CONNECTED && p->edge.state != EDGE_IDLE
        && p->edge.state != EDGE_BACKOFF) {
        edge_fail(n, p, "peer left the overlay", false, now, acts);
        p->edge.failures = 0;
    }
}

void neg_set_datapath(struct neg *n, const char *fingerprint, int64_t now,
                      struct neg_actions *acts)
{
    snprintf(n->fingerprint, sizeof n->fingerprint, "%s", fingerprint ? fingerprint : "");
    n->dirty = true;
    if (fingerprint)
        return;
    /* the datapath went away with every link: start those edges over, and
     * tell the peers, whose links died with ours */
    for (size_t i = 0; i < n->peers.n; i++) {
        struct peer *p = n->peers.peers[i];
        if (p->edge.state == EDGE_IDLE || p->edge.state == EDGE_BACKOFF)
            continue;
        send_close(n, p, "reset", acts);
        if (p->edge.link_created)
            push(acts, NEG_ACT_PORTS, p);
        p->edge.link_asked = false;        /* gone with the datapath: nothing to remove */
        p->edge.link_created = false;
        edge_restart(n, p, "datapath restarted", now, acts);
    }
}

void neg_set_signalling(struct neg *n, bool up)
{
    n->signalling = up;
    n->dirty = true;
}

bool neg_hint(struct neg *n, const struct nodeid *id, int64_t now)
{
    struct peer *p = peer_table_find(&n->peers, id);
    if (!p || !p->present)
        return false;               /* not (or no longer) in the overlay */
    const struct edge *e = &p->edge;
    bool linked = e->state != EDGE_IDLE && e->state != EDGE_BACKOFF;
    if (linked && !(e->local_want && e->local_type == EDGE_ON_DEMAND))
        return false;               /* an edge for another reason serves it */
    if (!topology_hint(n->topo, id, now))
        return false;
    n->dirty = true;
    return true;
}

/* ---- plan, timeouts, retries --------------------------------------------- */

/* Tells the peer when our want of an edge it knows about has changed. */
static void tell_want(struct neg *n, struct peer *p, struct neg_actions *acts)
{
    struct edge *e = &p->edge;
    if (e->told_want == e->local_want
        || (e->state != EDGE_CONNECTING && e->state != EDGE_CONNECTED))
        return;
    struct sigmsg *m = msg_new(n, p, SIGMSG_EDGE_WANT, acts);
    if (m) {
        m->want = e->local_want;
        m->edge_type = (enum sigmsg_edge_type)e->local_type;
    }
    e->told_want = e->local_want;
}

static void plan(struct neg *n, int64_t now, struct neg_actions *acts)
{
    size_t k = topo_edges(n);
    topology_plan(n->topo, &n->ring, n->te, k, now, &n->plan);

    for (size_t i = 0; i < n->peers.n; i++) {
        struct peer *p = n->peers.peers[i];
        struct edge *e = &p->edge;
        bool want = false;
        for (size_t j = 0; j < n->plan.n_want && !want; j++) {
            if (!nodeid_cmp(&n->plan.want[j].peer, &p->id)) {
                want = true;
                e->local_type = n->plan.want[j].type;
            }
        }
        e->local_want = want;
        tell_want(n, p, acts);
    }

    /* Make before break: a connected edge nobody wants any more is kept
     * while fewer of the successors we want are connected than we need.
     * Newcomers between us and our successors (honest ones still linking,
     * or room members that never complete a link, however many nicknames
     * they take) then cannot cut us off the ring. */
    int succ_up = 0;
    for (size_t i = 0; i < n->peers.n; i++) {
        const struct edge *e = &n->peers.peers[i]->edge;
        succ_up += e->state == EDGE_CONNECTED && e->local_want && e->local_type == EDGE_SUCCESSOR;
    }
    /* a link to a peer that left the room stays until the datapath says it
     * is gone: the peer may only have lost its XMPP server */
    for (size_t j = 0; j < n->plan.n_drop; j++) {
        struct peer *p = peer_table_find(&n->peers, &n->plan.drop[j]);
        if (!p || !p->present)
            continue;
        if (p->edge.state == EDGE_CONNECTED && succ_up < n->min_successors) {
            n->counters.kept_until_successors++;
            continue;
        }
        edge_release(n, p, true, now, acts);
    }

    int busy = 0;
    for (size_t i = 0; i < n->peers.n; i++)
        busy += negotiating(&n->peers.peers[i]->edge);
    int budget = n->max_concurrent - busy;
    int room = n->max_links - slots_taken(n, NULL);
    for (size_t j = 0; j < n->plan.n_add && budget > 0 && room > 0; j++) {
        struct peer *p = peer_table_find(&n->peers, &n->plan.add[j].peer);
        if (!p || !p->present || p->edge.state != EDGE_IDLE)
            continue;
        start_request(n, p, n->plan.add[j].type, now, acts);
        budget--;
        room--;
    }
}

/* Forgets peers that are absent and have had nothing with us for a while. */
static void evict(struct neg *n, int64_t now)
{
    for (size_t i = 0; i < n->peers.n;) {
        struct peer *p = n->peers.peers[i];
        if (!p->present && p->edge.state == EDGE_IDLE && !p->edge.link_asked
            && now - p->absent_since_ms >= NEG_EVICT_MS) {
            peer_table_remove(&n->peers, i);
            n->counters.peers_evicted++;
            continue;
        }
        i++;
    }
}

void neg_tick(struct neg *n, int64_t now, struct neg_actions *acts)
{
    for (size_t i = 0; i < n->peers.n; i++) {
        struct peer *p = n->peers.peers[i];
        struct edge *e = &p->edge;
        if (!e->deadline_ms || now < e->deadline_ms)
            continue;
        if (e->state == EDGE_BACKOFF) {
            edge_set_state(n, p, EDGE_IDLE, now, 0, acts);
        } else {
            char why[64];
            snprintf(why, sizeof why, "timed out in state %s", edge_state_name(e->state));
            edge_fail(n, p, why, true, now, acts);
        }
    }
    evict(n, now);
    n->dirty = false;
    if (n->signalling && n->fingerprint[0])
        plan(n, now, acts);
}

int64_t neg_next_deadline(const struct neg *n, int64_t now)
{
    if (n->dirty)
        return now;
    int64_t next = -1;
    for (size_t i = 0; i < n->peers.n; i++) {
        const struct peer *p = n->peers.peers[i];
        int64_t d = p->edge.deadline_ms;
        if (!p->present && p->edge.state == EDGE_IDLE)
            d = p->absent_since_ms + NEG_EVICT_MS;
        if (d && (next < 0 || d < next))
            next = d;
    }
    return next;
}

/* ---- life ------------------------------------------------------------------ */

struct neg *neg_new(const struct neg_config *c, uint64_t seed)
{
    struct neg *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    snprintf(n->overlay, sizeof n->overlay, "%s", c->overlay);
    n->index = c->index;
    n->self = c->self;
    nodeid_format(&c->self, n->self_hex);
    snprintf(n->session, sizeof n->session, "%s", c->session);
    n->min_successors = c->min_successors;
    n->max_on_demand = c->max_on_demand;
    n->max_concurrent = c->max_concurrent > 0 ? c->max_concurrent : 1;
    n->max_links = c->max_links > 0 ? c->max_links : NEG_MAX_LINKS;
    n->rng = seed;
    size_t max_peers = c->max_peers ? c->max_peers : NEG_MAX_PEERS;
    peer_table_init(&n->peers, max_peers);
    n->te = calloc(max_peers, sizeof *n->te);
    if (c->n_statics) {
        n->statics = calloc(c->n_statics, sizeof *n->statics);
        if (n->statics) {
            memcpy(n->statics, c->statics, c->n_statics * sizeof *n->statics);
            n->n_statics = c->n_statics;
        }
    }
    if (c->members_only) {
        n->members_only = true;
        n->members = calloc(c->n_members + 1, sizeof *n->members);
        if (n->members) {
            memcpy(n->members, c->members, c->n_members * sizeof *n->members);
            n->n_members = c->n_members;
            qsort(n->members, n->n_members, sizeof *n->members, id_cmp);
        }
    }
    struct topology_config tc = {
        .min_successors = c->min_successors,
        .max_long_distance = c->max_long_distance,
        .max_on_demand = c->max_on_demand,
        .on_demand_idle_ms = c->on_demand_idle_ms,
        .statics = c->statics,
        .n_statics = c->n_statics,
    };
    n->topo = topology_new(&c->self, &tc, seed ^ 0x5bd1e995u);
    if (!n->te || !n->topo || (c->n_statics && !n->statics) || (c->members_only && !n->members)) {
        neg_free(n);
        return NULL;
    }
    n->dirty = true;
    return n;
}

void neg_free(struct neg *n)
{
    if (!n)
        return;
    peer_table_free(&n->peers);
    topo_ring_free(&n->ring);
    topology_free(n->topo);
    free(n->te);
    free(n->statics);
    free(n->members);
    free(n);
}

const struct peer_table *neg_peers(const struct neg *n) { return &n->peers; }
const struct neg_counters *neg_counters(const struct neg *n) { return &n->counters; }
const struct topo_ring *neg_ring(const struct neg *n) { return &n->ring; }
const struct topology_plan *neg_plan(const struct neg *n) { return &n->plan; }
const char *neg_overlay(const struct neg *n) { return n->overlay; }
