/* A little world for negotiation engines (overlay/negotiate.h): several
 * nodes, each an engine with a simulated datapath, wired back to back
 * through their action lists. Messages go through the real signalling codec
 * (sigmsg_encode, then sigmsg_decode at the receiver) with delays, reordering
 * and loss the test chooses; the datapath answers link/create with
 * candidates and credentials, and brings a link up once both ends have each
 * other's credentials and a candidate (or fails it at once, for a node whose
 * ICE is set to fail). Used by tests/unit/test_negotiate.c and
 * tests/fuzz/fuzz_negotiate.c.
 *
 * Invariants checked after every event (sim->errors counts violations and
 * sim->last_error names the latest):
 *   - a link is created under a name no live link has, and removed exactly
 *     once (removing an unknown link is a violation);
 *   - no node holds two live links to one peer;
 *   - the links an engine holds are exactly the live links of its datapath,
 *     and never more than its budget. */
#ifndef EVIO_NEGSIM_H
#define EVIO_NEGSIM_H

#include "../../overlay/negotiate.h"
#include "evio/timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_MAX_NODES 12
#define SIM_MAX_LINKS 128

struct sim_link {
    bool live;
    char id[LINK_ID_LEN + 1];
    int peer;                       /* node index */
    bool creds;
    int n_cands;
    bool up, failed;
};

struct sim_node {
    struct neg *neg;
    struct nodeid id;
    char session[SESSION_LEN + 1];
    bool present;
    bool ice_fails;                 /* this node's links fail as soon as they could connect */
    struct sim_link links[SIM_MAX_LINKS];
    int max_links;
    uint64_t created, removed, sent;
};

enum sim_ev_kind { SIM_MSG, SIM_CREATED, SIM_LOCAL_CAND, SIM_UP, SIM_FAILED };

struct sim_ev {
    int64_t at;
    uint64_t seq;                   /* FIFO among equal times */
    int node;                       /* where it happens */
    enum sim_ev_kind kind;
    char link_id[LINK_ID_LEN + 1];
    char *text;                     /* SIM_MSG: the encoded message */
};

struct sim {
    struct sim_node nodes[SIM_MAX_NODES];
    int n;
    struct sim_ev *q;
    size_t nq, capq;
    uint64_t seq;
    int64_t now;
    uint64_t rng;
    int delay_min, delay_max;       /* message delay, ms */
    int drop_pct;                   /* messages lost, percent */
    int errors;
    char last_error[200];
    struct neg_actions acts;
};

static inline uint64_t sim_rand(struct sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void sim_error(struct sim *s, const char *fmt, const char *a)
{
    s->errors++;
    snprintf(s->last_error, sizeof s->last_error, fmt, a);
}

static inline void sim_push(struct sim *s, int64_t at, int node, enum sim_ev_kind kind,
                            const char *link_id, char *text)
{
    if (s->nq == s->capq) {
        s->capq = s->capq ? s->capq * 2 : 64;
        s->q = realloc(s->q, s->capq * sizeof *s->q);
    }
    struct sim_ev *e = &s->q[s->nq++];
    memset(e, 0, sizeof *e);
    e->at = at;
    e->seq = s->seq++;
    e->node = node;
    e->kind = kind;
    if (link_id)
        snprintf(e->link_id, sizeof e->link_id, "%s", link_id);
    e->text = text;
}

static inline void sim_init(struct sim *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->rng = seed;
    s->now = 1000000;
    s->delay_min = 5;
    s->delay_max = 40;
}

/* A new engine (and agent session) for node ND, from BASE or the defaults. */
static inline void sim_engine(struct sim *s, struct sim_node *nd, const struct neg_config *base)
{
    snprintf(nd->session, sizeof nd->session, "%016llx", (unsigned long long)sim_rand(s));
    struct neg_config c = base ? *base : (struct neg_config){ 0 };
    c.overlay = "sim";
    c.index = 0;
    c.self = nd->id;
    c.session = nd->session;
    if (!c.min_successors)
        c.min_successors = 2;
    if (!c.max_concurrent)
        c.max_concurrent = 8;
    if (!base)
        c.max_long_distance = -1;
    nd->max_links = c.max_links ? c.max_links : NEG_MAX_LINKS;
    nd->neg = neg_new(&c, sim_rand(s));
}

/* Adds a node with ID's first byte HI (the rest from the seed); returns its index. */
static inline int sim_add(struct sim *s, uint8_t hi, const struct neg_config *base)
{
    int i = s->n++;
    struct sim_node *nd = &s->nodes[i];
    memset(nd, 0, sizeof *nd);
    for (int k = 0; k < 16; k++)
        nd->id.b[k] = (uint8_t)sim_rand(s);
    nd->id.b[0] = hi;
    sim_engine(s, nd, base);
    return i;
}

static inline int sim_node_of(const struct sim *s, const struct nodeid *id)
{
    for (int i = 0; i < s->n; i++)
        if (!nodeid_cmp(&s->nodes[i].id, id))
            return i;
    return -1;
}

static inline struct sim_link *sim_link(struct sim_node *nd, const char *id)
{
    for (int i = 0; i < SIM_MAX_LINKS; i++)
        if (nd->links[i].live && !strcmp(nd->links[i].id, id))
            return &nd->links[i];
    return NULL;
}

static inline int64_t sim_delay(struct sim *s)
{
    int span = s->delay_max - s->delay_min;
    return s->delay_min + (span > 0 ? (int64_t)(sim_rand(s) % (uint64_t)(span + 1)) : 0);
}

/* Carries out node I's actions. */
static inline void sim_apply(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    struct neg_actions acts = s->acts;
    memset(&s->acts, 0, sizeof s->acts);
    for (size_t k = 0; k < acts.n; k++) {
        const struct neg_action *a = &acts.v[k];
        int peer = sim_node_of(s, &a->peer);
        struct sim_link *l = a->type != NEG_ACT_SEND && a->type != NEG_ACT_PORTS
                                 ? sim_link(nd, a->link_id) : NULL;
        switch (a->type) {
        case NEG_ACT_SEND: {
            char *err = NULL;
            char *text = sigmsg_encode(a->msg, &err);
            if (!text) {
                sim_error(s, "engine sent a message its codec refuses: %s", err ? err : "?");
                free(err);
                break;
            }
            nd->sent++;
            if (peer < 0 || (s->drop_pct && (int)(sim_rand(s) % 100) < s->drop_pct)) {
                free(text);
                break;
            }
            sim_push(s, s->now + sim_delay(s), peer, SIM_MSG, NULL, text);
            break;
        }
        case NEG_ACT_LINK_CREATE: {
            if (l) {
                sim_error(s, "link %s created twice", a->link_id);
                break;
            }
            for (int j = 0; j < SIM_MAX_LINKS && peer >= 0; j++)
                if (nd->links[j].live && nd->links[j].peer == peer)
                    sim_error(s, "a second link to one peer (%s)", a->link_id);
            int j = 0;
            while (j < SIM_MAX_LINKS && nd->links[j].live)
                j++;
            if (j == SIM_MAX_LINKS) {
                sim_error(s, "datapath full at %s", a->link_id);
                break;
            }
            nd->links[j] = (struct sim_link){ .live = true, .peer = peer };
            snprintf(nd->links[j].id, sizeof nd->links[j].id, "%s", a->link_id);
            nd->created++;
            /* like evio-tincan: host candidates come before the reply */
            sim_push(s, s->now + 1, i, SIM_LOCAL_CAND, a->link_id, NULL);
            sim_push(s, s->now + 2, i, SIM_CREATED, a->link_id, NULL);
            sim_push(s, s->now + 30, i, SIM_LOCAL_CAND, a->link_id, NULL);
            break;
        }
        case NEG_ACT_LINK_CREDS:
            if (!l)
                sim_error(s, "credentials for unknown link %s", a->link_id);
            else
                l->creds = true;
            break;
        case NEG_ACT_LINK_CANDS:
            if (!l)
                sim_error(s, "candidates for unknown link %s", a->link_id);
            else if (a->n_cands < 1 || a->n_cands > NEG_CAND_BATCH)
                sim_error(s, "a candidate batch out of bounds (%s)", a->link_id);
            else
                l->n_cands += a->n_cands;
            if (l && l->n_cands > EDGE_REMOTE_CANDS)
                sim_error(s, "more candidates than the budget on %s", a->link_id);
            break;
        case NEG_ACT_LINK_REMOVE:
            if (!l) {
                sim_error(s, "removing unknown link %s (removed twice or never created)",
                          a->link_id);
            } else {
                l->live = false;
                nd->removed++;
                /* the other end notices the silence */
                if (l->up && peer >= 0) {
                    for (int j = 0; j < SIM_MAX_LINKS; j++) {
                        struct sim_link *m = &s->nodes[peer].links[j];
                        if (m->live && m->peer == i && m->up && !m->failed) {
                            m->failed = true;
                            sim_push(s, s->now + 5000, peer, SIM_FAILED, m->id, NULL);
                        }
                    }
                }
            }
            break;
        case NEG_ACT_PORTS:
            break;
        }
    }
    neg_actions_free(&acts);

    int live = 0;
    for (int j = 0; j < SIM_MAX_LINKS; j++)
        live += nd->links[j].live;
    if (live != neg_links(nd->neg))
        sim_error(s, "engine and datapath disagree on the links held%s", "");
    if (live > nd->max_links)
        sim_error(s, "over the link budget%s", "");
}

static inline void sim_join(struct sim *s, int i)
{
    s->nodes[i].present = true;
    for (int j = 0; j < s->n; j++) {
        if (j == i || !s->nodes[j].present)
            continue;
        neg_peer_joined(s->nodes[j].neg, &s->nodes[i].id, s->nodes[i].session, s->now, &s->acts);
        sim_apply(s, j);
        neg_peer_joined(s->nodes[i].neg, &s->nodes[j].id, s->nodes[j].session, s->now, &s->acts);
        sim_apply(s, i);
    }
}

static inline void sim_leave(struct sim *s, int i)
{
    s->nodes[i].present = false;
    for (int j = 0; j < s->n; j++) {
        if (j == i || !s->nodes[j].present)
            continue;
        neg_peer_left(s->nodes[j].neg, &s->nodes[i].id, s->now, &s->acts);
        sim_apply(s, j);
    }
}

static inline void sim_start(struct sim *s, int i);

/* Node I's process restarts: a new engine and session, its datapath empty. */
static inline void sim_restart(struct sim *s, int i, const struct neg_config *base)
{
    struct sim_node *nd = &s->nodes[i];
    sim_leave(s, i);
    neg_free(nd->neg);
    memset(nd->links, 0, sizeof nd->links);
    sim_engine(s, nd, base);
    /* events queued for the old process are lost with it */
    for (size_t k = 0; k < s->nq; k++)
        if (s->q[k].node == i && s->q[k].kind != SIM_MSG)
            s->q[k].kind = SIM_MSG, free(s->q[k].text), s->q[k].text = NULL;
    sim_start(s, i);
    sim_join(s, i);
}

/* The key fingerprint of node ID: its first half is the ID (evio/nodeid.h). */
static inline void sim_fpr(const struct nodeid *id, char out[SIGMSG_FPR_LEN + 1])
{
    for (int k = 0; k < 32; k++)
        sprintf(out + 3 * k, k < 31 ? "%02X:" : "%02X", k < 16 ? id->b[k] : 0xA5);
}

static inline void sim_start(struct sim *s, int i)
{
    char fpr[SIGMSG_FPR_LEN + 1];
    sim_fpr(&s->nodes[i].id, fpr);
    neg_set_signalling(s->nodes[i].neg, true);
    neg_set_datapath(s->nodes[i].neg, fpr, s->now, &s->acts);
    sim_apply(s, i);
}

/* Delivers one event. */
static inline void sim_deliver(struct sim *s, struct sim_ev *e)
{
    struct sim_node *nd = &s->nodes[e->node];
    switch (e->kind) {
    case SIM_MSG: {
        if (!e->text)
            return;
        struct sigmsg *m = malloc(sizeof *m);
        char *err = sigmsg_decode(e->text, strlen(e->text), "sim", &nd->id, m);
        if (err) {
            sim_error(s, "a message failed to decode: %s", err);
            free(err);
        } else {
            neg_on_message(nd->neg, m, s->now, &s->acts);
            sim_apply(s, e->node);
        }
        free(m);
        return;
    }
    case SIM_CREATED: {
        struct sim_link *l = sim_link(nd, e->link_id);
        if (!l)
            return;             /* removed before its reply, as evio-tincan would */
        neg_on_link_created(nd->neg, e->link_id, NULL, "02:00:00:00:00:01", "ufrag1234",
                            "pwd0123456789012345678901", s->now, &s->acts);
        break;
    }
    case SIM_LOCAL_CAND:
        if (!sim_link(nd, e->link_id))
            return;
        neg_on_local_cand(nd->neg, e->link_id,
                          "candidate:1 1 UDP 2015363327 10.0.0.1 40000 typ host", s->now,
                          &s->acts);
        break;
    case SIM_UP:
    case SIM_FAILED:
        if (!sim_link(nd, e->link_id))
            return;
        neg_on_link_state(nd->neg, e->link_id, e->kind == SIM_UP, "ice failed", s->now,
                          &s->acts);
        break;
    }
    sim_apply(s, e->node);
}

/* The datapath's ICE: links that have what they need connect or fail. */
static inline void sim_ice(struct sim *s)
{
    for (int i = 0; i < s->n; i++) {
        struct sim_node *x = &s->nodes[i];
        for (int j = 0; j < SIM_MAX_LINKS; j++) {
            struct sim_link *l = &x->links[j];
            if (!l->live || l->up || l->failed || !l->creds || !l->n_cands || l->peer < 0)
                continue;
            if (x->ice_fails) {
                l->failed = true;
                sim_push(s, s->now + 1, i, SIM_FAILED, l->id, NULL);
                continue;
            }
            struct sim_node *y = &s->nodes[l->peer];
            for (int k = 0; k < SIM_MAX_LINKS; k++) {
                struct sim_link *m = &y->links[k];
                if (m->live && m->peer == i && m->creds && m->n_cands && !m->up && !m->failed
                    && !y->ice_fails) {
                    l->up = m->up = true;
                    sim_push(s, s->now + 20, i, SIM_UP, l->id, NULL);
                    sim_push(s, s->now + 20, l->peer, SIM_UP, m->id, NULL);
                    break;
                }
            }
        }
    }
}

/* Runs the world for MS milliseconds in STEP_MS steps. */
static inline void sim_run(struct sim *s, int64_t ms, int64_t step_ms)
{
    int64_t end = s->now + ms;
    while (s->now < end) {
        s->now += step_ms;
        for (;;) {
            size_t best = s->nq;
            for (size_t k = 0; k < s->nq; k++)
                if (s->q[k].at <= s->now
                    && (best == s->nq || s->q[k].at < s->q[best].at
                        || (s->q[k].at == s->q[best].at && s->q[k].seq < s->q[best].seq)))
                    best = k;
            if (best == s->nq)
                break;
            struct sim_ev e = s->q[best];
            s->q[best] = s->q[--s->nq];
            sim_deliver(s, &e);
            free(e.text);
        }
        sim_ice(s);
        for (int i = 0; i < s->n; i++) {
            if (!s->nodes[i].present)
                continue;
            neg_tick(s->nodes[i].neg, s->now, &s->acts);
            sim_apply(s, i);
        }
    }
}

static inline const struct edge *sim_edge(const struct sim *s, int i, int j)
{
    const struct peer *p = peer_table_find(neg_peers(s->nodes[i].neg), &s->nodes[j].id);
    return p ? &p->edge : NULL;
}

/* Do I and J agree on their edge: both connected over live up links, or
 * neither holding a link? */
static inline bool sim_agree(const struct sim *s, int i, int j)
{
    const struct edge *a = sim_edge(s, i, j), *b = sim_edge(s, j, i);
    bool ca = a && a->state == EDGE_CONNECTED, cb = b && b->state == EDGE_CONNECTED;
    bool la = a && a->link_asked, lb = b && b->link_asked;
    if (ca && cb)
        return true;
    return !ca && !cb && !la && !lb;
}

static inline bool sim_connected(const struct sim *s, int i, int j)
{
    const struct edge *a = sim_edge(s, i, j), *b = sim_edge(s, j, i);
    return a && b && a->state == EDGE_CONNECTED && b->state == EDGE_CONNECTED;
}

static inline void sim_free(struct sim *s)
{
    for (int i = 0; i < s->n; i++)
        neg_free(s->nodes[i].neg);
    for (size_t k = 0; k < s->nq; k++)
        free(s->q[k].text);
    free(s->q);
    neg_actions_free(&s->acts);
}

#endif
