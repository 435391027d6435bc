/* Unit tests of the topology engine (overlay/topology.c): the ring against a
 * naive sorted array, successors on tiny rings, the harmonic law of the
 * long-distance draws (a KS test of the draw, a chi-square test of the
 * engine's real choices), caps, collisions, backoff, plans after a peer
 * leaves, and determinism. All randomness comes from fixed seeds. */
#include "check.h"
#include "../../overlay/topology.h"
#include "evio/timing.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

/* ---- helpers ----------------------------------------------------------- */

/* xorshift64*: the test's own generator, independent of the engine's */
struct rng { uint64_t s; };

static uint64_t rng_next(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dULL;
}

/* U(0,1), never 0 or 1 */
static double rng_uniform(struct rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

static struct nodeid id_make(uint64_t hi, uint64_t lo)
{
    struct nodeid id;
    for (int i = 0; i < 8; i++) {
        id.b[i] = (uint8_t)(hi >> (56 - 8 * i));
        id.b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    return id;
}

/* The naive reference order: the two 64-bit halves compared as numbers,
 * not nodeid_cmp's memcmp. */
static int ref_cmp(const void *pa, const void *pb)
{
    const struct nodeid *a = pa, *b = pb;
    uint64_t ah = 0, al = 0, bh = 0, bl = 0;
    for (int i = 0; i < 8; i++) {
        ah = ah << 8 | a->b[i];
        al = al << 8 | a->b[8 + i];
        bh = bh << 8 | b->b[i];
        bl = bl << 8 | b->b[8 + i];
    }
    if (ah != bh)
        return ah < bh ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

static bool id_eq(const struct nodeid *a, const struct nodeid *b)
{
    return !nodeid_cmp(a, b);
}

/* Ring member I of an engine test ring, ascending in I. */
static struct nodeid peer_id(size_t i)
{
    return id_make((uint64_t)(i + 1) << 40, 0x9e3779b97f4a7c15ULL * (i + 1));
}

/* A ring of N members peer_id(0 .. N-1). */
static void ring_build(struct topo_ring *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct nodeid id = peer_id(i);
        topo_ring_insert(r, &id);
    }
}

/* Clockwise distance from SELF to PEER, both members of RING. */
static size_t offset_of(const struct topo_ring *r, const struct nodeid *self,
                        const struct nodeid *peer)
{
    size_t s = topo_ring_rank(r, self), p = topo_ring_rank(r, peer);
    return (p + r->n - s) % r->n;
}

static struct topology_config config(int min_successors, int max_long)
{
    return (struct topology_config){
        .min_successors = min_successors,
        .max_long_distance = max_long,
        .max_on_demand = 4,
        .on_demand_idle_ms = 1000,
    };
}

/* -1 when not wanted */
static int want_type(const struct topology_plan *p, const struct nodeid *id)
{
    for (size_t i = 0; i < p->n_want; i++)
        if (id_eq(&p->want[i].peer, id))
            return (int)p->want[i].type;
    return -1;
}

static bool in_add(const struct topology_plan *p, const struct nodeid *id)
{
    for (size_t i = 0; i < p->n_add; i++)
        if (id_eq(&p->add[i].peer, id))
            return true;
    return false;
}

static bool in_drop(const struct topology_plan *p, const struct nodeid *id)
{
    for (size_t i = 0; i < p->n_drop; i++)
        if (id_eq(&p->drop[i], id))
            return true;
    return false;
}

static size_t count_type(const struct topology_plan *p, enum edge_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_want; i++)
        n += p->want[i].type == t;
    return n;
}

static enum topo_link link_in(const struct topo_edge *e, size_t n, const struct nodeid *id)
{
    for (size_t i = 0; i < n; i++)
        if (id_eq(&e[i].peer, id))
            return e[i].link;
    return TOPO_LINK_NONE;
}

static const struct topo_edge *edge_in(const struct topo_edge *e, size_t n,
                                       const struct nodeid *id)
{
    for (size_t i = 0; i < n; i++)
        if (id_eq(&e[i].peer, id))
            return &e[i];
    return NULL;
}

/* The rules every plan obeys whatever the inputs: no duplicate wants, self
 * never wanted, add is exactly the wanted peers in the ring without an
 * edge, drop is exactly the pending/up edges wanted by neither end. */
static bool plan_consistent(const struct topology_plan *p, const struct nodeid *self,
                            const struct topo_ring *ring, const struct topo_edge *e, size_t ne)
{
    if (p->n_want > TOPO_MAX_WANT || p->n_add > p->n_want || p->n_drop > TOPO_MAX_DROP)
        return false;
    size_t should_add = 0, should_drop = 0;
    for (size_t i = 0; i < p->n_want; i++) {
        const struct nodeid *w = &p->want[i].peer;
        if (id_eq(w, self) || (unsigned)p->want[i].type > EDGE_ON_DEMAND)
            return false;
        for (size_t j = i + 1; j < p->n_want; j++)
            if (id_eq(w, &p->want[j].peer))
                return false;
        if (link_in(e, ne, w) == TOPO_LINK_NONE && topo_ring_contains(ring, w))
            should_add++;
    }
    for (size_t i = 0; i < p->n_add; i++) {
        const struct nodeid *a = &p->add[i].peer;
        if (want_type(p, a) != (int)p->add[i].type || link_in(e, ne, a) != TOPO_LINK_NONE
            || !topo_ring_contains(ring, a))
            return false;
    }
    for (size_t i = 0; i < ne; i++)
        should_drop += (e[i].link == TOPO_LINK_PENDING || e[i].link == TOPO_LINK_UP)
                       && !e[i].remote_want && want_type(p, &e[i].peer) < 0;
    for (size_t i = 0; i < p->n_drop; i++) {
        const struct topo_edge *d = edge_in(e, ne, &p->drop[i]);
        if (!d || d->remote_want || want_type(p, &d->peer) >= 0
            || (d->link != TOPO_LINK_PENDING && d->link != TOPO_LINK_UP))
            return false;
        for (size_t j = i + 1; j < p->n_drop; j++)
            if (id_eq(&p->drop[i], &p->drop[j]))
                return false;
    }
    if (should_drop > TOPO_MAX_DROP)
        should_drop = TOPO_MAX_DROP;
    return p->n_add == should_add && p->n_drop == should_drop;
}

static bool plans_equal(const struct topology_plan *a, const struct topology_plan *b)
{
    if (a->n_want != b->n_want || a->n_add != b->n_add || a->n_drop != b->n_drop
        || a->n_long != b->n_long)
        return false;
    for (size_t i = 0; i < a->n_want; i++)
        if (!id_eq(&a->want[i].peer, &b->want[i].peer) || a->want[i].type != b->want[i].type)
            return false;
    for (size_t i = 0; i < a->n_add; i++)
        if (!id_eq(&a->add[i].peer, &b->add[i].peer) || a->add[i].type != b->add[i].type)
            return false;
    for (size_t i = 0; i < a->n_drop; i++)
        if (!id_eq(&a->drop[i], &b->drop[i]))
            return false;
    return true;
}

/* The long-distance targets (in the engine's order) into OUT. */
static size_t targets(const struct topology *t, struct nodeid out[TOPO_MAX_LONG])
{
    return topology_long_targets(t, out, TOPO_MAX_LONG);
}

static bool id_among(const struct nodeid *id, const struct nodeid *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (id_eq(id, &set[i]))
            return true;
    return false;
}

/* ---- 1. the ring ------------------------------------------------------- */

static void test_ring_order(void)
{
    struct topo_ring r = { 0 };
    const struct nodeid zero = id_make(0, 0), one = id_make(0, 1);
    const struct nodeid below_top = id_make(~0ULL >> 1, ~0ULL);     /* 7fff...ff */
    const struct nodeid top = id_make(1ULL << 63, 0);               /* 8000...00 */
    const struct nodeid top_one = id_make(1ULL << 63, 1);           /* 8000...01 */
    const struct nodeid max = id_make(~0ULL, ~0ULL);

    CHECK(!topo_ring_contains(&r, &zero));
    CHECK(topo_ring_rank(&r, &max) == 0);
    CHECK(!topo_ring_remove(&r, &zero));

    /* inserted in descending order; must come out ascending as unsigned
     * 128-bit numbers: the top bit alone (zero vs top, one vs top_one) and
     * the low bit alone (zero vs one, top vs top_one) decide */
    const struct nodeid *in[] = { &max, &top_one, &top, &below_top, &one, &zero };
    for (size_t i = 0; i < 6; i++)
        CHECK(topo_ring_insert(&r, in[i]));
    CHECK(r.n == 6);
    const struct nodeid *order[] = { &zero, &one, &below_top, &top, &top_one, &max };
    for (size_t i = 0; i < 6 && i < r.n; i++) {
        CHECK(id_eq(&r.ids[i], order[i]));
        CHECK(topo_ring_rank(&r, order[i]) == i);
        CHECK(topo_ring_contains(&r, order[i]));
    }
    CHECK(nodeid_cmp(&zero, &top) < 0 && nodeid_cmp(&below_top, &top) < 0);

    /* ranks of absent IDs: where they would go */
    struct nodeid two = id_make(0, 2), quarter = id_make(1ULL << 62, 0),
                  top_two = id_make(1ULL << 63, 2);
    CHECK(topo_ring_rank(&r, &two) == 2 && !topo_ring_contains(&r, &two));
    CHECK(topo_ring_rank(&r, &quarter) == 2);
    CHECK(topo_ring_rank(&r, &top_two) == 5);

    /* duplicates refused, absent not removed, nothing changes */
    CHECK(!topo_ring_insert(&r, &top));
    CHECK(!topo_ring_insert(&r, &zero));
    CHECK(!topo_ring_insert(&r, &max));
    CHECK(!topo_ring_remove(&r, &two));
    CHECK(r.n == 6);

    CHECK(topo_ring_remove(&r, &top));
    CHECK(!topo_ring_contains(&r, &top) && topo_ring_rank(&r, &top) == 3);
    CHECK(!topo_ring_remove(&r, &top));
    CHECK(r.n == 5 && id_eq(&r.ids[3], &top_one));
    CHECK(topo_ring_remove(&r, &zero) && topo_ring_remove(&r, &max));
    CHECK(r.n == 3 && id_eq(&r.ids[0], &one) && id_eq(&r.ids[2], &top_one));

    topo_ring_free(&r);
    CHECK(r.n == 0 && r.ids == NULL);
    topo_ring_free(&r);
}

/* The ring against a present[] flag per ID and qsort: 4000 random inserts
 * and removes over a pool where IDs come in families differing only in the
 * top bit or only in the low bit. */
static void test_ring_differential(void)
{
    enum { BASE = 200, POOL = 3 * BASE, OPS = 4000 };
    static struct nodeid pool[POOL], sorted[POOL];
    static bool present[POOL];
    struct rng g = { 0x5eed0001 };
    for (size_t i = 0; i < BASE; i++) {
        uint64_t hi = rng_next(&g) & ~(1ULL << 63), lo = rng_next(&g) & ~1ULL;
        if (i % 4 == 0)
            hi = i;                 /* many IDs sharing their first 14 bytes */
        pool[3 * i] = id_make(hi, lo);
        pool[3 * i + 1] = id_make(hi | 1ULL << 63, lo);
        pool[3 * i + 2] = id_make(hi, lo | 1);
    }

    struct topo_ring r = { 0 };
    size_t n = 0, bad_ret = 0, bad_n = 0, bad_probe = 0, bad_order = 0, compares = 0;
    for (int op = 0; op < OPS; op++) {
        size_t i = rng_next(&g) % POOL;
        if (rng_next(&g) % 5 < 3) {
            bad_ret += topo_ring_insert(&r, &pool[i]) != !present[i];
            n += !present[i];
            present[i] = true;
        } else {
            bad_ret += topo_ring_remove(&r, &pool[i]) != present[i];
            n -= present[i];
            present[i] = false;
        }
        bad_n += r.n != n;

        /* a probe: a pool ID, or a fresh random one */
        struct nodeid probe = op % 2 ? pool[rng_next(&g) % POOL]
                                     : id_make(rng_next(&g), rng_next(&g));
        size_t below = 0;
        bool there = false;
        for (size_t j = 0; j < POOL; j++) {
            if (!present[j])
                continue;
            below += ref_cmp(&pool[j], &probe) < 0;
            there |= ref_cmp(&pool[j], &probe) == 0;
        }
        bad_probe += topo_ring_rank(&r, &probe) != below
                     || topo_ring_contains(&r, &probe) != there;

        if (op % 40 == 39 || op == OPS - 1) {
            size_t m = 0;
            for (size_t j = 0; j < POOL; j++)
                if (present[j])
                    sorted[m++] = pool[j];
            qsort(sorted, m, sizeof *sorted, ref_cmp);
            bad_order += m != r.n || (m && memcmp(sorted, r.ids, m * sizeof *sorted));
            compares++;
        }
    }
    CHECK(bad_ret == 0);
    CHECK(bad_n == 0);
    CHECK(bad_probe == 0);
    CHECK(bad_order == 0);
    CHECK(compares == OPS / 40);
    CHECK(n > 100 && n < POOL);     /* the walk really exercised a large ring */
    topo_ring_free(&r);
}

/* ---- 2. successors on tiny rings ---------------------------------------- */

static void test_successors_tiny(void)
{
    static struct topology_plan p, q;
    struct topology_config cfg = config(2, -1);
    struct nodeid self = id_make(5, 0), a = id_make(9, 0), b = id_make(1, 0);
    struct topology *t = topology_new(&self, &cfg, 1);
    CHECK(t != NULL);

    /* alone, with or without self in the ring */
    struct topo_ring r = { 0 };
    topology_plan(t, &r, NULL, 0, 0, &p);
    CHECK(p.n_want == 0 && p.n_add == 0 && p.n_drop == 0 && p.n_long == 0);
    topo_ring_insert(&r, &self);
    topology_plan(t, &r, NULL, 0, 0, &p);
    CHECK(p.n_want == 0 && p.n_add == 0 && p.n_drop == 0 && p.n_long == 0);

    /* two nodes: two successors asked for, one exists; k = floor(log2 1) = 0 */
    topo_ring_insert(&r, &a);
    topology_plan(t, &r, NULL, 0, 0, &p);
    CHECK(p.n_want == 1 && id_eq(&p.want[0].peer, &a) && p.want[0].type == EDGE_SUCCESSOR);
    CHECK(p.n_add == 1 && id_eq(&p.add[0].peer, &a) && p.add[0].type == EDGE_SUCCESSOR);
    CHECK(p.n_long == 0);

    /* three nodes: both others, clockwise (a above self, then b after the wrap);
     * k = 1 but every candidate is a successor, so no long-distance edge */
    topo_ring_insert(&r, &b);
    topology_plan(t, &r, NULL, 0, 0, &p);
    CHECK(p.n_want == 2);
    CHECK(id_eq(&p.want[0].peer, &a) && p.want[0].type == EDGE_SUCCESSOR);
    CHECK(id_eq(&p.want[1].peer, &b) && p.want[1].type == EDGE_SUCCESSOR);
    CHECK(p.n_long == 1 && count_type(&p, EDGE_LONG_DISTANCE) == 0);
    struct nodeid tg[TOPO_MAX_LONG];
    CHECK(targets(t, tg) == 0);
    CHECK(plan_consistent(&p, &self, &r, NULL, 0));
    topology_free(t);
    topo_ring_free(&r);

    /* wrap-around at the top of the ID space */
    struct nodeid max = id_make(~0ULL, ~0ULL), lo1 = id_make(0, 1), lo2 = id_make(0, 2),
                  mid = id_make(1ULL << 63, 0), below_max = id_make(~0ULL, ~0ULL - 1);
    struct topo_ring w = { 0 };
    topo_ring_insert(&w, &mid);
    topo_ring_insert(&w, &lo2);
    topo_ring_insert(&w, &lo1);
    t = topology_new(&max, &cfg, 1);
    topology_plan(t, &w, NULL, 0, 0, &p);
    CHECK(count_type(&p, EDGE_SUCCESSOR) == 2);
    CHECK(p.n_want >= 2 && id_eq(&p.want[0].peer, &lo1) && id_eq(&p.want[1].peer, &lo2));
    topology_free(t);
    topo_ring_insert(&w, &max);             /* self just below the top: max, then lo1 */
    t = topology_new(&below_max, &cfg, 1);
    topology_plan(t, &w, NULL, 0, 0, &p);
    CHECK(p.n_want >= 2 && id_eq(&p.want[0].peer, &max) && id_eq(&p.want[1].peer, &lo1));
    CHECK(want_type(&p, &below_max) < 0);
    topology_free(t);
    topo_ring_free(&w);

    /* a ring that includes self plans exactly like one that does not */
    struct topo_ring with = { 0 }, without = { 0 };
    ring_build(&with, 65);
    ring_build(&without, 65);
    struct nodeid me = peer_id(20);
    topo_ring_remove(&without, &me);
    struct topology *t1 = topology_new(&me, &cfg, 77), *t2 = topology_new(&me, &cfg, 77);
    topology_plan(t1, &with, NULL, 0, 0, &p);
    topology_plan(t2, &without, NULL, 0, 0, &q);
    CHECK(plans_equal(&p, &q));
    CHECK(p.n_long == 6 && count_type(&p, EDGE_LONG_DISTANCE) == 6);
    CHECK(id_eq(&p.want[0].peer, &with.ids[21]) && id_eq(&p.want[1].peer, &with.ids[22]));
    topology_free(t1);
    topology_free(t2);
    topo_ring_free(&with);
    topo_ring_free(&without);
}

/* A failing successor is passed over, and taken back when it recovers. */
static void test_successors_failed(void)
{
    static struct topology_plan p;
    struct topology_config cfg = config(2, 0);
    struct topo_ring r = { 0 };
    ring_build(&r, 12);
    struct nodeid self = peer_id(10), s[6];
    for (size_t i = 0; i < 6; i++)
        s[i] = peer_id((10 + 1 + i) % 12);  /* s[0], s[1] wrap to 0 .. */
    struct topology *t = topology_new(&self, &cfg, 3);

    struct topo_edge e[2] = { { .peer = s[0], .link = TOPO_LINK_FAILED } };
    topology_plan(t, &r, e, 1, 0, &p);
    CHECK(p.n_want == 2 && id_eq(&p.want[0].peer, &s[1]) && id_eq(&p.want[1].peer, &s[2]));
    CHECK(want_type(&p, &s[0]) < 0 && !in_add(&p, &s[0]) && !in_drop(&p, &s[0]));
    CHECK(plan_consistent(&p, &self, &r, e, 1));

    e[0].link = TOPO_LINK_NONE;             /* the backoff ended */
    topology_plan(t, &r, e, 1, 0, &p);
    CHECK(p.n_want == 2 && id_eq(&p.want[0].peer, &s[0]) && id_eq(&p.want[1].peer, &s[1]));
    CHECK(in_add(&p, &s[0]) && !in_add(&p, &s[2]));

    e[0].link = TOPO_LINK_UP;
    e[1] = (struct topo_edge){ .peer = s[1], .link = TOPO_LINK_FAILED };
    topology_plan(t, &r, e, 2, 0, &p);
    CHECK(p.n_want == 2 && id_eq(&p.want[0].peer, &s[0]) && id_eq(&p.want[1].peer, &s[2]));
    CHECK(!in_add(&p, &s[0]) && in_add(&p, &s[2]) && p.n_add == 1);

    e[0].link = TOPO_LINK_FAILED;
    topology_plan(t, &r, e, 2, 0, &p);
    CHECK(p.n_want == 2 && id_eq(&p.want[0].peer, &s[2]) && id_eq(&p.want[1].peer, &s[3]));
    topology_free(t);

    /* the scan is bounded: one successor wanted, the nearest four failing,
     * and the engine stops looking (2 * 1 + 2 slots) */
    cfg = config(1, 0);
    t = topology_new(&self, &cfg, 3);
    struct topo_edge f[4];
    for (size_t i = 0; i < 4; i++)
        f[i] = (struct topo_edge){ .peer = s[i], .link = TOPO_LINK_FAILED };
    topology_plan(t, &r, f, 3, 0, &p);
    CHECK(p.n_want == 1 && id_eq(&p.want[0].peer, &s[3]));
    topology_plan(t, &r, f, 4, 0, &p);
    CHECK(p.n_want == 0);
    topology_free(t);
    topo_ring_free(&r);
}

/* ---- 3. the harmonic law ------------------------------------------------ */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* The Kolmogorov-Smirnov statistic of the M sorted samples X against
 * F(x) = 1 + ln x / ln n. */
static double ks_harmonic(double *x, size_t m, size_t n)
{
    qsort(x, m, sizeof *x, cmp_double);
    double d = 0, ln_n = log((double)n);
    for (size_t i = 0; i < m; i++) {
        double f = 1 + log(x[i]) / ln_n;
        double lo = f - (double)i / (double)m, hi = (double)(i + 1) / (double)m - f;
        d = fmax(d, fmax(lo, hi));
    }
    return d;
}

static void test_harmonic_draw(void)
{
    enum { M = 200000 };
    static double x[M];
    const size_t sizes[] = { 2, 10, 1024, 1000000 };
    const double crit = 1.63 / sqrt((double)M);

    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        struct rng g = { 0x4a2d0000 + s };
        size_t out_of_range = 0;
        for (size_t i = 0; i < M; i++) {
            x[i] = topology_harmonic(rng_uniform(&g), n);
            out_of_range += !(x[i] >= 1.0 / (double)n * (1 - 1e-12) && x[i] <= 1.0);
        }
        CHECK(out_of_range == 0);
        double d = ks_harmonic(x, M, n);
        if (d >= crit)
            fprintf(stderr, "harmonic n=%zu: D = %.5f >= %.5f\n", n, d, crit);
        CHECK(d < crit);
    }

    /* the test has teeth: a uniform draw on [1/n, 1] (or a harmonic law
     * over the wrong base) is rejected with the same statistic */
    struct rng g = { 99 };
    for (size_t i = 0; i < M; i++)
        x[i] = 1.0 / 1024 + rng_uniform(&g) * (1 - 1.0 / 1024);
    CHECK(ks_harmonic(x, M, 1024) > 10 * crit);
    for (size_t i = 0; i < M; i++)
        x[i] = topology_harmonic(rng_uniform(&g), 10);      /* x >= 0.1 */
    CHECK(ks_harmonic(x, M, 1024) > 10 * crit);

    /* ends and degenerate rings */
    CHECK(fabs(topology_harmonic(0, 1024) - 1.0 / 1024) < 1e-12);
    CHECK(fabs(topology_harmonic(1, 1024) - 1.0) < 1e-12);
    CHECK(fabs(topology_harmonic(0.5, 1024) - 1.0 / 32) < 1e-12);
    CHECK(topology_harmonic(0.3, 1) == 1.0 && topology_harmonic(0.3, 0) == 1.0);
    bool monotone = true;
    for (int i = 1; i <= 1000; i++)
        monotone &= topology_harmonic(i / 1000.0, 500) > topology_harmonic((i - 1) / 1000.0, 500);
    CHECK(monotone);
}

/* P(offset = m) for the engine's rounding: x * n rounded, x harmonic on
 * [1/n, 1]. */
static double offset_prob(size_t m, size_t n)
{
    double ln_n = log((double)n);
    double lo = m <= 1 ? 1.0 : ((double)m - 0.5), hi = (double)m + 0.5;
    if (hi > (double)n)
        hi = (double)n;
    return log(hi / lo) / ln_n;
}

/* What many engines' long-distance choices on one ring look like. */
struct law {
    double chi2;                    /* of the first targets over the bins */
    double first_short, want_short; /* first targets with offset < n/10: seen, expected */
    double all_short;               /* every target with offset < n/10 */
    size_t bad;                     /* wrong k, or a target on self or a successor */
};

/* Plans once with each of ENGINES seeds on a ring of N (self included) with
 * SUCC successors wanted, and compares the clockwise offsets of the first
 * target each engine drew (the later ones also avoid the earlier) with the
 * harmonic law conditioned on missing self and the successors, over the
 * bins [edge[b], edge[b + 1]). */
static struct law long_distance_law(size_t n, int succ, int engines, const size_t *edge,
                                    int bins)
{
    static struct topology_plan p;
    struct law law = { 0 };
    struct topo_ring r = { 0 };
    ring_build(&r, n);
    struct nodeid self = peer_id(n * 2 / 3);     /* offsets wrap past the top */
    struct topology_config cfg = config(succ, -1);
    int k = topology_long_count(-1, n - 1);

    double expect[16] = { 0 }, norm = 0, short_norm = 0;
    size_t seen[16] = { 0 }, first_short = 0, all_short = 0, all = 0;
    for (size_t m = (size_t)succ + 1; m < n; m++) {
        norm += offset_prob(m, n);
        if (m < n / 10)
            short_norm += offset_prob(m, n);
    }
    for (int b = 0; b < bins; b++)
        for (size_t m = edge[b]; m < edge[b + 1]; m++)
            expect[b] += offset_prob(m, n) / norm;
    law.want_short = short_norm / norm;

    for (int i = 0; i < engines; i++) {
        struct topology *t = topology_new(&self, &cfg, 1000003ULL * (uint64_t)i + n);
        topology_plan(t, &r, NULL, 0, 0, &p);
        struct nodeid tg[TOPO_MAX_LONG];
        size_t nt = targets(t, tg);
        law.bad += p.n_long != k || nt != (size_t)k
                   || count_type(&p, EDGE_LONG_DISTANCE) != (size_t)k;
        for (size_t j = 0; j < nt; j++) {
            size_t off = offset_of(&r, &self, &tg[j]);
            law.bad += off <= (size_t)succ || off >= n;
            all_short += off < n / 10;
            all++;
        }
        if (nt) {
            size_t off = offset_of(&r, &self, &tg[0]);
            first_short += off < n / 10;
            for (int b = 0; b < bins; b++)
                seen[b] += off >= edge[b] && off < edge[b + 1];
        }
        topology_free(t);
    }
    for (int b = 0; b < bins; b++) {
        double e = expect[b] * engines;
        law.chi2 += (seen[b] - e) * (seen[b] - e) / e;
    }
    law.first_short = (double)first_short / engines;
    law.all_short = all ? (double)all_short / (double)all : 0;
    topo_ring_free(&r);
    return law;
}

static void test_long_distance_law(void)
{
    /* 1024 nodes, two successors: log-spaced bins [3,4) [4,8) ... [512,1024) */
    const size_t big[] = { 3, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };
    struct law law = long_distance_law(1024, 2, 20000, big, 9);
    CHECK(law.bad == 0);
    if (law.chi2 >= 20.09)
        fprintf(stderr, "1024-node ring: chi-square %.2f\n", law.chi2);
    CHECK(law.chi2 < 20.09);                /* 8 degrees of freedom, 1% */
    /* short chords (offset < n/10) are over half of all draws: a harmonic
     * law over the wrong base (10^(u-1) for n^(u-1), say) never gives one */
    CHECK(fabs(law.first_short - law.want_short) < 0.02);
    CHECK(law.all_short > 0.4);

    /* 9 nodes, one successor, every offset its own bin: the predecessor
     * (offset 8) must be drawn, which it is not if n leaves self out */
    const size_t small[] = { 2, 3, 4, 5, 6, 7, 8, 9 };
    law = long_distance_law(9, 1, 20000, small, 7);
    CHECK(law.bad == 0);
    if (law.chi2 >= 16.81)
        fprintf(stderr, "9-node ring: chi-square %.2f\n", law.chi2);
    CHECK(law.chi2 < 16.81);                /* 6 degrees of freedom, 1% */
}

/* ---- 4. k -------------------------------------------------------------- */

static void test_long_count(void)
{
    const struct { size_t n; int k; } table[] = {
        { 0, 0 }, { 1, 0 }, { 2, 1 }, { 3, 1 }, { 4, 2 }, { 7, 2 }, { 8, 3 },
        { 1000, 9 }, { 1023, 9 }, { 1024, 10 }, { 1025, 10 },
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        int k = topology_long_count(-1, table[i].n);
        if (k != table[i].k)
            fprintf(stderr, "long_count(-1, %zu) = %d, want %d\n", table[i].n, k, table[i].k);
        CHECK(k == table[i].k);
    }
    CHECK(topology_long_count(0, 1000) == 0);
    CHECK(topology_long_count(3, 1000) == 3);
    CHECK(topology_long_count(9, 1000) == 9);
    CHECK(topology_long_count(20, 1000) == 9);
    CHECK(topology_long_count(5, 1) == 0);
    /* floor(log2 SIZE_MAX): 63 on 64-bit targets, 31 on 32-bit (armhf) */
    const int top = (int)(sizeof(size_t) * CHAR_BIT) - 1;
#if SIZE_MAX > 0xffffffffu
    CHECK(topology_long_count(64, (size_t)1 << 40) == 40);
#endif
    CHECK(topology_long_count(64, (size_t)1 << 30) == 30);
    CHECK(topology_long_count(-1, SIZE_MAX) == top);
    CHECK(topology_long_count(1000, SIZE_MAX) == top);
}

/* ---- 5. caps ------------------------------------------------------------ */

static void test_long_caps(void)
{
    static struct topology_plan p;
    struct topo_ring r = { 0 };
    ring_build(&r, 1025);                   /* self and 1024 peers: k = 10 */
    struct nodeid self = peer_id(0), tg[TOPO_MAX_LONG];
    const struct { int cap, k; } cases[] = { { -1, 10 }, { 100, 10 }, { 3, 3 }, { 0, 0 } };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct topology_config cfg = config(2, cases[i].cap);
        struct topology *t = topology_new(&self, &cfg, 5);
        topology_plan(t, &r, NULL, 0, 0, &p);
        CHECK(p.n_long == cases[i].k);
        CHECK(count_type(&p, EDGE_LONG_DISTANCE) == (size_t)cases[i].k);
        CHECK(targets(t, tg) == (size_t)cases[i].k);
        CHECK(p.n_want == (size_t)cases[i].k + 2 && p.n_add == p.n_want);
        topology_free(t);
    }
    topo_ring_free(&r);
}

static void test_on_demand(void)
{
    static struct topology_plan p;
    struct topo_ring r = { 0 };
    ring_build(&r, 64);
    struct nodeid self = peer_id(0), a = peer_id(20), b = peer_id(30), c = peer_id(40),
                  d = peer_id(50);
    struct topology_config cfg = config(2, 0);
    cfg.max_on_demand = 2;
    cfg.on_demand_idle_ms = 1000;
    struct topology *t = topology_new(&self, &cfg, 9);

    CHECK(!topology_hint(t, &self, 0));     /* never an edge to self */
    CHECK(topology_hint(t, &a, 0));
    CHECK(topology_hint(t, &b, 0));
    CHECK(!topology_hint(t, &c, 0));        /* full */
    CHECK(topology_hint(t, &a, 500));       /* a refresh is not a new slot */
    topology_plan(t, &r, NULL, 0, 600, &p);
    CHECK(want_type(&p, &a) == EDGE_ON_DEMAND && want_type(&p, &b) == EDGE_ON_DEMAND);
    CHECK(want_type(&p, &c) < 0 && in_add(&p, &a) && p.n_want == 4);

    /* idle for exactly on_demand_idle_ms still counts; a millisecond more does not */
    topology_plan(t, &r, NULL, 0, 1000, &p);
    CHECK(want_type(&p, &b) == EDGE_ON_DEMAND);
    topology_plan(t, &r, NULL, 0, 1001, &p);
    CHECK(want_type(&p, &b) < 0 && want_type(&p, &a) == EDGE_ON_DEMAND);
    CHECK(topology_hint(t, &c, 1001));      /* b's slot is free again */
    CHECK(!topology_hint(t, &d, 1001));

    /* a peer that leaves the ring loses its slot, and is forgotten */
    topo_ring_remove(&r, &a);
    topology_plan(t, &r, NULL, 0, 1100, &p);
    CHECK(want_type(&p, &a) < 0 && want_type(&p, &c) == EDGE_ON_DEMAND);
    topo_ring_insert(&r, &a);
    topology_plan(t, &r, NULL, 0, 1100, &p);
    CHECK(want_type(&p, &a) < 0);
    CHECK(topology_hint(t, &d, 1100));
    topology_plan(t, &r, NULL, 0, 1200, &p);
    CHECK(want_type(&p, &c) == EDGE_ON_DEMAND && want_type(&p, &d) == EDGE_ON_DEMAND);
    topology_free(t);

    /* no slots at all */
    cfg.max_on_demand = 0;
    t = topology_new(&self, &cfg, 9);
    CHECK(!topology_hint(t, &a, 0));
    topology_plan(t, &r, NULL, 0, 0, &p);
    CHECK(count_type(&p, EDGE_ON_DEMAND) == 0);
    topology_free(t);

    /* a slot freed by expiry can be taken once a plan has seen it expire
     * (before that plan, topology_hint still counts the idle peer) */
    cfg.max_on_demand = 1;
    t = topology_new(&self, &cfg, 9);
    CHECK(topology_hint(t, &a, 0));
    topology_plan(t, &r, NULL, 0, 5000, &p);
    CHECK(want_type(&p, &a) < 0);
    CHECK(topology_hint(t, &b, 5000));
    topology_free(t);
    topo_ring_free(&r);
}

static void test_accept(void)
{
    static struct topology_plan p;
    struct topo_ring r = { 0 };
    ring_build(&r, 1025);                   /* k = 10: room for 20 remote long wants */
    struct nodeid self = peer_id(0), tg[TOPO_MAX_LONG];
    struct topology_config cfg = config(2, -1);
    struct topology *t = topology_new(&self, &cfg, 11);
    topology_plan(t, &r, NULL, 0, 0, &p);
    CHECK(targets(t, tg) == 10);

    /* 20 peers (not successors, not our targets) hold long-distance edges to us */
    struct topo_edge e[24];
    size_t n = 0;
    for (size_t i = 100; n < 20; i++) {
        struct nodeid id = peer_id(i);
        if (id_among(&id, tg, 10))
            continue;
        e[n++] = (struct topo_edge){ id, TOPO_LINK_UP, true, EDGE_LONG_DISTANCE };
    }
    /* edges that do not count: wanted by the peer for another reason, or not at all */
    e[20] = (struct topo_edge){ peer_id(300), TOPO_LINK_UP, true, EDGE_ON_DEMAND };
    e[21] = (struct topo_edge){ peer_id(301), TOPO_LINK_UP, false, EDGE_LONG_DISTANCE };
    struct nodeid asker = peer_id(900), succ = peer_id(2);
    CHECK(!id_among(&asker, tg, 10));

    CHECK(topology_accept(t, &r, e, 19, &asker, EDGE_LONG_DISTANCE) == TOPO_ACCEPT);
    CHECK(topology_accept(t, &r, e, 22, &asker, EDGE_LONG_DISTANCE) == TOPO_REFUSE_FULL);
    CHECK(topology_accept(t, &r, e, 22, &asker, EDGE_SUCCESSOR) == TOPO_ACCEPT);
    CHECK(topology_accept(t, &r, e, 22, &asker, EDGE_STATIC) == TOPO_ACCEPT);
    CHECK(topology_accept(t, &r, e, 22, &asker, EDGE_ON_DEMAND) == TOPO_ACCEPT);
    CHECK(topology_accept(t, &r, e, 22, &succ, EDGE_LONG_DISTANCE) == TOPO_ACCEPT);
    CHECK(topology_accept(t, &r, e, 22, &tg[4], EDGE_LONG_DISTANCE) == TOPO_ACCEPT);
    /* a peer that already holds one of the 20 asks again: not counted twice */
    CHECK(topology_accept(t, &r, e, 22, &e[7].peer, EDGE_LONG_DISTANCE) == TOPO_ACCEPT);

    /* one goes away (or fails): room again */
    e[3].link = TOPO_LINK_FAILED;
    CHECK(topology_accept(t, &r, e, 22, &asker, EDGE_LONG_DISTANCE) == TOPO_ACCEPT);
    e[3].link = TOPO_LINK_UP;
    e[3].remote_want = false;
    CHECK(topology_accept(t, &r, e, 22, &asker, EDGE_LONG_DISTANCE) == TOPO_ACCEPT);
    e[3].remote_want = true;
    CHECK(topology_accept(t, &r, e, 22, &asker, EDGE_LONG_DISTANCE) == TOPO_REFUSE_FULL);
    topology_free(t);
    topo_ring_free(&r);

    /* a small ring, k = 0: still room for 2 * max(k, 1) = 2 */
    struct topo_ring s = { 0 };
    ring_build(&s, 2);
    cfg = config(1, -1);
    t = topology_new(&s.ids[0], &cfg, 1);
    struct topo_edge f[2] = {
        { peer_id(50), TOPO_LINK_UP, true, EDGE_LONG_DISTANCE },
        { peer_id(51), TOPO_LINK_PENDING, true, EDGE_LONG_DISTANCE },
    };
    struct nodeid other = peer_id(60);
    CHECK(topology_accept(t, &s, f, 1, &other, EDGE_LONG_DISTANCE) == TOPO_ACCEPT);
    CHECK(topology_accept(t, &s, f, 2, &other, EDGE_LONG_DISTANCE) == TOPO_REFUSE_FULL);
    CHECK(topology_accept(t, &s, f, 2, &s.ids[1], EDGE_LONG_DISTANCE) == TOPO_ACCEPT);
    topology_free(t);
    topo_ring_free(&s);
}

/* ---- 6. collisions and stability ---------------------------------------- */

static void test_collisions(void)
{
    enum { SEEDS = 300 };
    static struct topology_plan p;
    struct topo_ring r = { 0 };
    ring_build(&r, 41);
    struct nodeid self = peer_id(30);
    struct nodeid statics[] = { peer_id(35), peer_id(2), peer_id(10), peer_id(20),
                                id_make(~0ULL, 7) /* not in the ring */, self };
    struct topo_edge e[] = {
        { peer_id(33), TOPO_LINK_UP, false, 0 },    /* a successor's neighbour */
        { peer_id(38), TOPO_LINK_PENDING, false, 0 },
        { peer_id(0), TOPO_LINK_UP, true, EDGE_LONG_DISTANCE },
        { peer_id(5), TOPO_LINK_FAILED, false, 0 },
        { peer_id(7), TOPO_LINK_UP, false, 0 },
        { peer_id(12), TOPO_LINK_PENDING, true, EDGE_ON_DEMAND },
        { peer_id(15), TOPO_LINK_FAILED, false, 0 },
        { peer_id(25), TOPO_LINK_UP, false, 0 },
    };
    const size_t ne = sizeof e / sizeof *e;
    struct topology_config cfg = config(3, -1);
    cfg.statics = statics;
    cfg.n_statics = sizeof statics / sizeof *statics;

    size_t bad = 0, short_k = 0, inconsistent = 0, statics_typed = 0;
    for (int seed = 0; seed < SEEDS; seed++) {
        struct topology *t = topology_new(&self, &cfg, (uint64_t)seed * 7919 + 1);
        topology_plan(t, &r, e, ne, 0, &p);
        struct nodeid tg[TOPO_MAX_LONG];
        size_t n = targets(t, tg);
        short_k += n != 5 || p.n_long != 5 || count_type(&p, EDGE_LONG_DISTANCE) != 5;
        inconsistent += !plan_consistent(&p, &self, &r, e, ne);
        for (size_t i = 0; i < n; i++) {
            size_t off = offset_of(&r, &self, &tg[i]);
            bad += off == 0 || off <= 3                         /* self, successors */
                   || id_among(&tg[i], statics, cfg.n_statics)
                   || link_in(e, ne, &tg[i]) != TOPO_LINK_NONE
                   || id_among(&tg[i], tg, i)                   /* distinct */
                   || want_type(&p, &tg[i]) != EDGE_LONG_DISTANCE;
        }
        for (size_t i = 0; i + 1 < cfg.n_statics; i++)
            statics_typed += want_type(&p, &statics[i]) == EDGE_STATIC;
        topology_free(t);
    }
    CHECK(bad == 0);
    CHECK(short_k == 0);
    CHECK(inconsistent == 0);
    CHECK(statics_typed == 5 * SEEDS);      /* every static peer but self wanted */
    topo_ring_free(&r);
}

static void test_stability(void)
{
    static struct topology_plan p;
    struct topo_ring r = { 0 };
    ring_build(&r, 1026);                   /* k = 10, and still 10 after one leaves */
    struct nodeid self = peer_id(512);
    struct topology_config cfg = config(2, -1);
    struct topology *t = topology_new(&self, &cfg, 2024);
    struct nodeid t0[TOPO_MAX_LONG], t1[TOPO_MAX_LONG];
    topology_plan(t, &r, NULL, 0, 0, &p);
    size_t n0 = targets(t, t0);
    CHECK(n0 == 10);

    /* the requests go out, then come up: the same targets, in the same order */
    struct topo_edge e[TOPO_MAX_LONG];
    for (size_t i = 0; i < n0; i++)
        e[i] = (struct topo_edge){ t0[i], TOPO_LINK_PENDING, false, 0 };
    topology_plan(t, &r, e, n0, 1, &p);
    CHECK(targets(t, t1) == n0 && !memcmp(t0, t1, n0 * sizeof *t0));
    CHECK(count_type(&p, EDGE_LONG_DISTANCE) == 10 && p.n_add == 2 && p.n_drop == 0);
    bool same = true;
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < n0; i++)
            e[i].link = TOPO_LINK_UP;
        topology_plan(t, &r, e, n0, 2 + round, &p);
        same &= targets(t, t1) == n0 && !memcmp(t0, t1, n0 * sizeof *t0);
    }
    CHECK(same);
    CHECK(plan_consistent(&p, &self, &r, e, n0));

    /* a failing edge is replaced; the others stay, oldest first */
    e[3].link = TOPO_LINK_FAILED;
    topology_plan(t, &r, e, n0, 30, &p);
    size_t n1 = targets(t, t1);
    CHECK(n1 == 10 && !id_among(&t0[3], t1, n1));
    CHECK(!memcmp(t1, t0, 3 * sizeof *t0) && !memcmp(&t1[3], &t0[4], 6 * sizeof *t0));
    CHECK(want_type(&p, &t0[3]) < 0 && !in_add(&p, &t0[3]) && !in_drop(&p, &t0[3]));
    CHECK(in_add(&p, &t1[9]) && want_type(&p, &t1[9]) == EDGE_LONG_DISTANCE);
    CHECK(plan_consistent(&p, &self, &r, e, n0));

    /* a target leaves the ring: replaced, and its still-up edge dropped */
    struct nodeid gone = t0[5];
    topo_ring_remove(&r, &gone);
    topology_plan(t, &r, e, n0, 40, &p);
    struct nodeid t2[TOPO_MAX_LONG];
    size_t n2 = targets(t, t2);
    CHECK(n2 == 10 && !id_among(&gone, t2, n2) && !id_among(&t0[3], t2, n2));
    CHECK(in_drop(&p, &gone) && want_type(&p, &gone) < 0);
    size_t kept = 0;
    for (size_t i = 0; i < n1; i++)
        kept += id_among(&t1[i], t2, n2);
    CHECK(kept == 9);
    CHECK(plan_consistent(&p, &self, &r, e, n0));
    topology_free(t);
    topo_ring_free(&r);
}

/* A peer wanted for two reasons is reported with the stronger (successor,
 * static, long-distance, on-demand), and a long-distance target that gets
 * traffic hints keeps its slot: once this was not so, and a hinted target
 * was demoted to on-demand, replaced, and dropped when its traffic stopped. */
static void test_strongest_reason(void)
{
    static struct topology_plan p;
    struct topo_ring r = { 0 };
    ring_build(&r, 1025);
    struct nodeid self = peer_id(0), succ = peer_id(1);
    struct topology_config cfg = config(2, -1);
    cfg.statics = &succ;
    cfg.n_statics = 1;
    struct topology *t = topology_new(&self, &cfg, 4);
    topology_plan(t, &r, NULL, 0, 0, &p);
    CHECK(want_type(&p, &succ) == EDGE_SUCCESSOR);
    CHECK(count_type(&p, EDGE_LONG_DISTANCE) == 10);

    /* a long-distance target with busy traffic stays a long-distance target */
    struct nodeid t0[TOPO_MAX_LONG], t1[TOPO_MAX_LONG];
    size_t n0 = targets(t, t0);
    struct topo_edge e[TOPO_MAX_LONG];
    for (size_t i = 0; i < n0; i++)
        e[i] = (struct topo_edge){ t0[i], TOPO_LINK_UP, false, 0 };
    CHECK(topology_hint(t, &t0[0], 10));
    topology_plan(t, &r, e, n0, 10, &p);
    size_t n1 = targets(t, t1);
    CHECK(want_type(&p, &t0[0]) == EDGE_LONG_DISTANCE);
    CHECK(n1 == n0 && !memcmp(t0, t1, n0 * sizeof *t0));
    topology_plan(t, &r, e, n0, 5000, &p);  /* the hint is long idle */
    CHECK(!in_drop(&p, &t0[0]));
    topology_free(t);
    topo_ring_free(&r);
}

/* ---- 7. backoff --------------------------------------------------------- */

static void test_backoff(void)
{
    size_t bad = 0;
    struct rng g = { 0xbac0ff };
    for (int f = 1; f <= 10; f++) {
        int64_t d = 1000LL << (f - 1);
        if (d > 60000)
            d = 60000;
        int64_t lo = backoff_ms(f, 0), hi = backoff_ms(f, UINT32_MAX);
        bad += lo != d / 2;
        bad += hi < d / 2 || hi >= d;
        for (int i = 0; i < 200; i++) {
            int64_t x = backoff_ms(f, (uint32_t)rng_next(&g));
            bad += x < d / 2 || x >= d;
        }
    }
    CHECK(bad == 0);
    CHECK(backoff_ms(1, 0) == 500);
    CHECK(backoff_ms(1, 499) == 999);
    CHECK(backoff_ms(1, 500) == 500);
    CHECK(backoff_ms(6, 0) == 16000);
    CHECK(backoff_ms(7, 0) == 30000);          /* 64 s capped to 60 s */
    CHECK(backoff_ms(7, 29999) == 59999);
    CHECK(backoff_ms(1000, UINT32_MAX) < 60000);
    CHECK(backoff_ms(1000, 0) == 30000);
}

/* ---- 8. plans after a peer leaves ---------------------------------------- */

static void test_departure(void)
{
    static struct topology_plan p;
    struct topo_ring r = { 0 };
    ring_build(&r, 21);
    struct nodeid self = peer_id(0), s1 = peer_id(1), s2 = peer_id(2), s3 = peer_id(3);
    struct nodeid outside = id_make(1ULL << 62, 1);     /* static, not in the ring */
    struct nodeid statics[] = { outside, self };
    struct topology_config cfg = config(2, 0);
    cfg.statics = statics;
    cfg.n_statics = 2;
    struct topology *t = topology_new(&self, &cfg, 8);

    struct topo_edge e[] = {
        { s1, TOPO_LINK_UP, false, 0 },
        { s2, TOPO_LINK_UP, false, 0 },
        { peer_id(10), TOPO_LINK_UP, true, EDGE_LONG_DISTANCE },    /* they want it */
        { peer_id(11), TOPO_LINK_PENDING, false, 0 },               /* nobody does */
        { peer_id(12), TOPO_LINK_FAILED, false, 0 },                /* nothing to drop */
        { peer_id(13), TOPO_LINK_PENDING, true, EDGE_SUCCESSOR },
    };
    const size_t ne = sizeof e / sizeof *e;
    topology_plan(t, &r, e, ne, 0, &p);
    CHECK(want_type(&p, &s1) == EDGE_SUCCESSOR && want_type(&p, &s2) == EDGE_SUCCESSOR);
    CHECK(want_type(&p, &outside) == EDGE_STATIC && !in_add(&p, &outside));
    CHECK(p.n_want == 3 && p.n_add == 0);
    CHECK(p.n_drop == 1 && id_eq(&p.drop[0], &e[3].peer));
    CHECK(plan_consistent(&p, &self, &r, e, ne));

    topo_ring_remove(&r, &s1);
    topology_plan(t, &r, e, ne, 1, &p);
    CHECK(want_type(&p, &s1) < 0 && !in_add(&p, &s1));
    CHECK(p.n_want == 3 && want_type(&p, &s2) == EDGE_SUCCESSOR
          && want_type(&p, &s3) == EDGE_SUCCESSOR);
    CHECK(p.n_add == 1 && id_eq(&p.add[0].peer, &s3) && p.add[0].type == EDGE_SUCCESSOR);
    CHECK(in_drop(&p, &s1) && in_drop(&p, &e[3].peer) && p.n_drop == 2);
    CHECK(!in_drop(&p, &e[2].peer) && !in_drop(&p, &e[4].peer) && !in_drop(&p, &e[5].peer));
    CHECK(want_type(&p, &outside) == EDGE_STATIC && !in_add(&p, &outside));
    CHECK(plan_consistent(&p, &self, &r, e, ne));

    /* the departed peer still wants the edge: kept */
    e[0].remote_want = true;
    topology_plan(t, &r, e, ne, 2, &p);
    CHECK(!in_drop(&p, &s1) && p.n_drop == 1);
    topology_free(t);
    topo_ring_free(&r);

    /* 100 unwanted edges: the plan drops TOPO_MAX_DROP, the next the rest */
    struct topo_ring big = { 0 };
    ring_build(&big, 201);
    static struct topo_edge many[100];
    for (size_t i = 0; i < 100; i++)
        many[i] = (struct topo_edge){ peer_id(100 + i), TOPO_LINK_UP, false, 0 };
    t = topology_new(&big.ids[0], &cfg, 8);
    topology_plan(t, &big, many, 100, 0, &p);
    CHECK(p.n_drop == TOPO_MAX_DROP);
    CHECK(plan_consistent(&p, &big.ids[0], &big, many, 100));
    topology_plan(t, &big, many + TOPO_MAX_DROP, 100 - TOPO_MAX_DROP, 0, &p);
    CHECK(p.n_drop == 100 - TOPO_MAX_DROP);
    topology_free(t);
    topo_ring_free(&big);
}

/* ---- 9. determinism ----------------------------------------------------- */

static void test_determinism(void)
{
    static struct topology_plan p, q;
    struct topo_ring r = { 0 };
    ring_build(&r, 500);
    struct nodeid self = peer_id(123);
    struct topology_config cfg = config(3, -1);
    struct topology *a = topology_new(&self, &cfg, 0xfeed), *b = topology_new(&self, &cfg, 0xfeed);
    struct rng g = { 31337 };
    static struct topo_edge e[500];
    size_t ne = 0;
    bool same = true, consistent = true;
    for (int step = 0; step < 50; step++) {
        topology_plan(a, &r, e, ne, step * 100, &p);
        topology_plan(b, &r, e, ne, step * 100, &q);
        same &= plans_equal(&p, &q);
        consistent &= plan_consistent(&p, &self, &r, e, ne);
        /* the world moves on: requests go out and some fail, peers leave, hints */
        for (size_t i = 0; i < p.n_add && ne < 500; i++)
            e[ne++] = (struct topo_edge){ p.add[i].peer,
                                          rng_next(&g) % 4 ? TOPO_LINK_PENDING : TOPO_LINK_FAILED,
                                          false, 0 };
        for (size_t i = 0; i < ne; i++)
            if (e[i].link == TOPO_LINK_PENDING && rng_next(&g) % 2)
                e[i].link = TOPO_LINK_UP;
        struct nodeid leave = r.ids[rng_next(&g) % r.n];
        if (!id_eq(&leave, &self))
            topo_ring_remove(&r, &leave);
        struct nodeid busy = r.ids[rng_next(&g) % r.n];
        CHECK(topology_hint(a, &busy, step * 100) == topology_hint(b, &busy, step * 100));
    }
    CHECK(same);
    CHECK(consistent);
    topology_free(a);
    topology_free(b);

    /* different seeds: different long-distance targets */
    size_t differ = 0;
    for (uint64_t s = 0; s < 20; s++) {
        struct topology *x = topology_new(&self, &cfg, s), *y = topology_new(&self, &cfg, s + 1000);
        topology_plan(x, &r, NULL, 0, 0, &p);
        topology_plan(y, &r, NULL, 0, 0, &q);
        differ += !plans_equal(&p, &q);
        topology_free(x);
        topology_free(y);
    }
    CHECK(differ >= 18);
    topo_ring_free(&r);
}

/* ---- names -------------------------------------------------------------- */

static void test_names(void)
{
    const char *names[] = { "successor", "long_distance", "static", "on_demand" };
    for (int i = EDGE_SUCCESSOR; i <= EDGE_ON_DEMAND; i++) {
        enum edge_type t = EDGE_ON_DEMAND + 1 - i;
        CHECK_STR(edge_type_name((enum edge_type)i), names[i]);
        CHECK(edge_type_parse(names[i], &t) && t == (enum edge_type)i);
    }
    enum edge_type t = EDGE_STATIC;
    CHECK(!edge_type_parse("sideways", &t) && t == EDGE_STATIC);
    CHECK(!edge_type_parse("", &t) && !edge_type_parse("Successor", &t));
    CHECK_STR(edge_type_name((enum edge_type)7), "?");
}

int main(void)
{
    test_ring_order();
    test_ring_differential();
    test_successors_tiny();
    test_successors_failed();
    test_harmonic_draw();
    test_long_distance_law();
    test_long_count();
    test_long_caps();
    test_on_demand();
    test_accept();
    test_collisions();
    test_stability();
    test_strongest_reason();
    test_backoff();
    test_departure();
    test_determinism();
    test_names();
    return check_report("test_topology");
}
