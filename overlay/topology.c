/* The topology engine (see topology.h). */
#include "topology.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const edge_type_names[] = {
    [EDGE_SUCCESSOR] = "successor",
    [EDGE_LONG_DISTANCE] = "long_distance",
    [EDGE_STATIC] = "static",
    [EDGE_ON_DEMAND] = "on_demand",
};

const char *edge_type_name(enum edge_type t)
{
    return (unsigned)t <= EDGE_ON_DEMAND ? edge_type_names[t] : "?";
}

bool edge_type_parse(const char *name, enum edge_type *t)
{
    for (int i = 0; i <= EDGE_ON_DEMAND; i++) {
        if (!strcmp(name, edge_type_names[i])) {
            *t = i;
            return true;
        }
    }
    return false;
}

/* ---- the ring ---------------------------------------------------------- */

size_t topo_ring_rank(const struct topo_ring *r, const struct nodeid *id)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (nodeid_cmp(&r->ids[mid], id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool topo_ring_contains(const struct topo_ring *r, const struct nodeid *id)
{
    size_t i = topo_ring_rank(r, id);
    return i < r->n && !nodeid_cmp(&r->ids[i], id);
}

bool topo_ring_insert(struct topo_ring *r, const struct nodeid *id)
{
    size_t i = topo_ring_rank(r, id);
    if (i < r->n && !nodeid_cmp(&r->ids[i], id))
        return false;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct nodeid *ids = realloc(r->ids, cap * sizeof *ids);
        if (!ids)
            return false;
        r->ids = ids;
        r->cap = cap;
    }
    memmove(&r->ids[i + 1], &r->ids[i], (r->n - i) * sizeof *r->ids);
    r->ids[i] = *id;
    r->n++;
    return true;
}

bool topo_ring_remove(struct topo_ring *r, const struct nodeid *id)
{
    size_t i = topo_ring_rank(r, id);
    if (i >= r->n || nodeid_cmp(&r->ids[i], id))
        return false;
    memmove(&r->ids[i], &r->ids[i + 1], (r->n - i - 1) * sizeof *r->ids);
    r->n--;
    return true;
}

void topo_ring_free(struct topo_ring *r)
{
    free(r->ids);
    memset(r, 0, sizeof *r);
}

/* Our view of the ring: the peers clockwise from self, self left out. */
struct view {
    const struct topo_ring *ring;
    size_t start;                   /* index of the first peer clockwise */
    size_t n;                       /* peers, self excluded */
};

static struct view view_of(const struct topo_ring *ring, const struct nodeid *self)
{
    struct view v = { ring, topo_ring_rank(ring, self), ring->n };
    if (v.start < ring->n && !nodeid_cmp(&ring->ids[v.start], self)) {
        v.start++;
        v.n--;
    }
    return v;
}

/* The J-th peer clockwise (0 = the nearest); J < v->n. With self in the
 * ring, the walk from the slot after it wraps round before reaching it. */
static const struct nodeid *view_at(const struct view *v, size_t j)
{
    return &v->ring->ids[(v->start + j) % v->ring->n];
}

/* ---- the engine -------------------------------------------------------- */

struct on_demand {
    struct nodeid peer;
    int64_t last_ms;
};

struct topology {
    struct nodeid self;
    struct topology_config cfg;
    struct nodeid statics[TOPO_MAX_STATIC];
    struct nodeid longs[TOPO_MAX_LONG];     /* oldest first */
    size_t n_longs;
    struct on_demand od[TOPO_MAX_ON_DEMAND];
    size_t n_od;
    uint64_t rng;
};

struct topology *topology_new(const struct nodeid *self, const struct topology_config *cfg,
                              uint64_t seed)
{
    struct topology *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->self = *self;
    t->cfg = *cfg;
    if (t->cfg.min_successors < 1)
        t->cfg.min_successors = 1;
    if (t->cfg.min_successors > TOPO_MAX_SUCCESSORS)
        t->cfg.min_successors = TOPO_MAX_SUCCESSORS;
    if (t->cfg.max_on_demand > TOPO_MAX_ON_DEMAND)
        t->cfg.max_on_demand = TOPO_MAX_ON_DEMAND;
    if (t->cfg.max_on_demand < 0)
        t->cfg.max_on_demand = 0;
    if (t->cfg.n_statics > TOPO_MAX_STATIC)
        t->cfg.n_statics = TOPO_MAX_STATIC;
    if (t->cfg.n_statics)
        memcpy(t->statics, cfg->statics, t->cfg.n_statics * sizeof *t->statics);
    t->cfg.statics = t->statics;
    t->rng = seed;
    return t;
}

void topology_free(struct topology *t)
{
    free(t);
}

/* splitmix64: small, fast, and good enough to draw ring offsets */
static uint64_t next_random(struct topology *t)
{
    uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* U(0,1), never exactly 0 or 1 */
static double next_uniform(struct topology *t)
{
    return ((double)(next_random(t) >> 11) + 0.5) * 0x1.0p-53;
}

double topology_harmonic(double u, size_t n)
{
    return n > 1 ? pow((double)n, u - 1.0) : 1.0;
}

int topology_long_count(int max_long_distance, size_t n_peers)
{
    int k = 0;
    /* k = floor(log2 n_peers), 0 for n < 2; the shift stays below size_t's
     * width (31 on 32-bit targets) */
    while (k < (int)(sizeof(size_t) * CHAR_BIT) - 1 && ((size_t)2 << k) <= n_peers)
        k++;
    if (max_long_distance >= 0 && k > max_long_distance)
        k = max_long_distance;
    return k > TOPO_MAX_LONG ? TOPO_MAX_LONG : k;
}

static const struct topo_edge *find_edge(const struct topo_edge *edges, size_t n,
                                         const struct nodeid *peer)
{
    for (size_t i = 0; i < n; i++)
        if (!nodeid_cmp(&edges[i].peer, peer))
            return &edges[i];
    return NULL;
}

static enum topo_link link_of(const struct topo_edge *edges, size_t n, const struct nodeid *peer)
{
    const struct topo_edge *e = find_edge(edges, n, peer);
    return e ? e->link : TOPO_LINK_NONE;
}

static bool wanted(const struct topology_plan *p, const struct nodeid *peer)
{
    for (size_t i = 0; i < p->n_want; i++)
        if (!nodeid_cmp(&p->want[i].peer, peer))
            return true;
    return false;
}

static void want(struct topology_plan *p, const struct nodeid *peer, enum edge_type type)
{
    if (p->n_want < TOPO_MAX_WANT && !wanted(p, peer))
        p->want[p->n_want++] = (struct topology_want){ *peer, type };
}

/* The successors: the nearest min_successors peers clockwise whose edge is
 * not failing; a failing one is passed over (scanning at most twice as far
 * plus two) and taken back once its backoff ends. */
static void plan_successors(const struct topology *t, const struct view *v,
                            const struct topo_edge *edges, size_t n_edges,
                            struct topology_plan *p)
{
    size_t want_n = (size_t)t->cfg.min_successors, got = 0;
    size_t scan = 2 * want_n + 2;
    for (size_t j = 0; j < v->n && j < scan && got < want_n; j++) {
        const struct nodeid *peer = view_at(v, j);
        if (link_of(edges, n_edges, peer) == TOPO_LINK_FAILED)
            continue;
        want(p, peer, EDGE_SUCCESSOR);
        got++;
    }
}

static void plan_on_demand(struct topology *t, const struct topo_ring *ring, int64_t now,
                           struct topology_plan *p)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->n_od; i++) {
        if (now - t->od[i].last_ms > t->cfg.on_demand_idle_ms
            || !topo_ring_contains(ring, &t->od[i].peer))
            continue;
        t->od[kept++] = t->od[i];
    }
    t->n_od = kept;
    for (size_t i = 0; i < t->n_od; i++)
        want(p, &t->od[i].peer, EDGE_ON_DEMAND);
}

static bool is_long(const struct topology *t, const struct nodeid *peer)
{
    for (size_t i = 0; i < t->n_longs; i++)
        if (!nodeid_cmp(&t->longs[i], peer))
            return true;
    return false;
}

static void plan_long(struct topology *t, const struct view *v, const struct topo_edge *edges,
                      size_t n_edges, struct topology_plan *p)
{
    int k = topology_long_count(t->cfg.max_long_distance, v->n);
    p->n_long = k;

    /* keep the old targets that are present, healthy and not already
     * wanted for a stronger reason, oldest first, up to k */
    size_t kept = 0;
    for (size_t i = 0; i < t->n_longs && kept < (size_t)k; i++) {
        const struct nodeid *peer = &t->longs[i];
        if (!topo_ring_contains(v->ring, peer) || !nodeid_cmp(peer, &t->self)
            || link_of(edges, n_edges, peer) == TOPO_LINK_FAILED || wanted(p, peer))
            continue;
        t->longs[kept++] = *peer;
    }
    t->n_longs = kept;

    /* draw the missing ones; each slot gets a bounded number of tries, so a
     * ring too small for k distinct targets ends with fewer */
    size_t n_ring = v->n + 1;
    for (int tries = 0; t->n_longs < (size_t)k && tries < 32 * k; tries++) {
        double x = topology_harmonic(next_uniform(t), n_ring);
        size_t offset = (size_t)llround(x * (double)n_ring);
        if (offset < 1 || offset >= n_ring)
            continue;                       /* self */
        const struct nodeid *peer = view_at(v, offset - 1);
        if (wanted(p, peer) || is_long(t, peer) || link_of(edges, n_edges, peer) != TOPO_LINK_NONE)
            continue;                       /* a collision: draw again */
        t->longs[t->n_longs++] = *peer;
    }
    for (size_t i = 0; i < t->n_longs; i++)
        want(p, &t->longs[i], EDGE_LONG_DISTANCE);
}

void topology_plan(struct topology *t, const struct topo_ring *ring,
                   const struct topo_edge *edges, size_t n_edges, int64_t now,
                   struct topology_plan *p)
{
    p->n_want = p->n_add = p->n_drop = 0;
    p->n_long = 0;
    struct view v = view_of(ring, &t->self);

    /* strongest reason first: a peer wanted twice is reported once, as the
     * first; a long-distance target keeps its slot when it gets a hint */
    if (v.n)
        plan_successors(t, &v, edges, n_edges, p);
    for (size_t i = 0; i < t->cfg.n_statics; i++)
        if (nodeid_cmp(&t->statics[i], &t->self))
            want(p, &t->statics[i], EDGE_STATIC);
    if (v.n) {
        plan_long(t, &v, edges, n_edges, p);
        plan_on_demand(t, ring, now, p);
    }

    for (size_t i = 0; i < p->n_want; i++) {
        /* a static peer not in the room cannot be asked yet */
        if (link_of(edges, n_edges, &p->want[i].peer) == TOPO_LINK_NONE
            && topo_ring_contains(ring, &p->want[i].peer))
            p->add[p->n_add++] = p->want[i];
    }
    for (size_t i = 0; i < n_edges && p->n_drop < TOPO_MAX_DROP; i++) {
        const struct topo_edge *e = &edges[i];
        if ((e->link == TOPO_LINK_PENDING || e->link == TOPO_LINK_UP) && !e->remote_want
            && !wanted(p, &e->peer))
            p->drop[p->n_drop++] = e->peer;
    }
}

bool topology_hint(struct topology *t, const struct nodeid *peer, int64_t now)
{
    if (!nodeid_cmp(peer, &t->self))
        return false;
    for (size_t i = 0; i < t->n_od; i++) {
        if (!nodeid_cmp(&t->od[i].peer, peer)) {
            t->od[i].last_ms = now;
            return true;
        }
    }
    size_t kept = 0;                        /* free the slots gone idle */
    for (size_t i = 0; i < t->n_od; i++)
        if (now - t->od[i].last_ms <= t->cfg.on_demand_idle_ms)
            t->od[kept++] = t->od[i];
    t->n_od = kept;
    if (t->n_od >= (size_t)t->cfg.max_on_demand)
        return false;
    t->od[t->n_od++] = (struct on_demand){ *peer, now };
    return true;
}

enum topo_verdict topology_accept(const struct topology *t, const struct topo_ring *ring,
                                  const struct topo_edge *edges, size_t n_edges,
                                  const struct nodeid *peer, enum edge_type type)
{
    if (type != EDGE_LONG_DISTANCE || is_long(t, peer))
        return TOPO_ACCEPT;
    struct view v = view_of(ring, &t->self);
    for (size_t j = 0; j < v.n && j < (size_t)t->cfg.min_successors; j++)
        if (!nodeid_cmp(view_at(&v, j), peer))
            return TOPO_ACCEPT;             /* we want that edge anyway */
    int k = topology_long_count(t->cfg.max_long_distance, v.n);
    size_t cap = 2 * (size_t)(k > 1 ? k : 1), held = 0;
    for (size_t i = 0; i < n_edges; i++) {
        const struct topo_edge *e = &edges[i];
        held += e->remote_want && e->remote_type == EDGE_LONG_DISTANCE
                && e->link != TOPO_LINK_FAILED && nodeid_cmp(&e->peer, peer);
    }
    return held < cap ? TOPO_ACCEPT : TOPO_REFUSE_FULL;
}

size_t topology_long_targets(const struct topology *t, struct nodeid *out, size_t max)
{
    size_t n = t->n_longs < max ? t->n_longs : max;
    memcpy(out, t->longs, n * sizeof *out);
    return n;
}
