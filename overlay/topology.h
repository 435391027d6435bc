/* The topology engine: which peers this node wants edges to, after Symphony
 * (Manku, Bawa, Raghavan, USITS 2003). Pure: no I/O, no clock, no global
 * state; time comes in as an argument and randomness from a seeded generator,
 * so a plan can be replayed. The agent (edge.c) and the simulator
 * (tests/tools/topo_sim.c) run this same code.
 *
 * The ring is every present peer, sorted by 128-bit ID as an unsigned number;
 * distances are positions on it. A node wants:
 *   - its min_successors nearest peers clockwise (skipping peers whose edge
 *     is failing: the ring closes around a node that went silent);
 *   - k long-distance edges, k = floor(log2 N) for N known peers, capped by
 *     max_long_distance, each target drawn from the harmonic distribution:
 *     offset = round(n^(u-1) * n) positions clockwise, u ~ U(0,1), n the ring
 *     size with self; redrawn when it lands on self or on a peer it already
 *     has an edge with; kept while the peer is present and its edge healthy;
 *   - its static peers;
 *   - on-demand edges to peers with heavy traffic (hints), up to
 *     max_on_demand, released after on_demand_idle_ms without a hint.
 * An edge is kept while either end wants it; an edge neither end wants is
 * dropped. */
#ifndef EVIO_TOPOLOGY_H
#define EVIO_TOPOLOGY_H

#include "evio/nodeid.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A peer wanted for two reasons is reported with the stronger one:
 * successor, then static, then long-distance, then on-demand. */
enum edge_type { EDGE_SUCCESSOR, EDGE_LONG_DISTANCE, EDGE_STATIC, EDGE_ON_DEMAND };
const char *edge_type_name(enum edge_type);
/* Returns false if NAME is not a type name. */
bool edge_type_parse(const char *name, enum edge_type *);

#define TOPO_MAX_SUCCESSORS 16
#define TOPO_MAX_LONG       64
#define TOPO_MAX_STATIC     64
#define TOPO_MAX_ON_DEMAND  64
#define TOPO_MAX_WANT       (TOPO_MAX_SUCCESSORS + TOPO_MAX_LONG + TOPO_MAX_STATIC + TOPO_MAX_ON_DEMAND)
#define TOPO_MAX_DROP       64      /* per plan; the rest go in the next one */

/* ---- the ring: a sorted set of node IDs -------------------------------- */

struct topo_ring {
    struct nodeid *ids;             /* ascending, no duplicates */
    size_t n, cap;
};

/* Both return false when nothing changed (already there / not there) or, for
 * insert, when memory ran out. */
bool topo_ring_insert(struct topo_ring *, const struct nodeid *);
bool topo_ring_remove(struct topo_ring *, const struct nodeid *);
/* The number of IDs below ID: its position, or where it would go. */
size_t topo_ring_rank(const struct topo_ring *, const struct nodeid *);
bool topo_ring_contains(const struct topo_ring *, const struct nodeid *);
void topo_ring_free(struct topo_ring *);

/* ---- the engine -------------------------------------------------------- */

struct topology_config {
    int min_successors;             /* 1..16 */
    int max_long_distance;          /* -1: floor(log2 N); else a cap, 0..64 */
    int max_on_demand;              /* 0..64 */
    int64_t on_demand_idle_ms;      /* an on-demand edge without hints this long goes */
    const struct nodeid *statics;   /* static peers; copied by topology_new */
    size_t n_statics;
};

/* The edge to one peer as the caller sees it. */
enum topo_link {
    TOPO_LINK_NONE,                 /* no edge: may be requested */
    TOPO_LINK_PENDING,              /* being negotiated */
    TOPO_LINK_UP,                   /* connected */
    TOPO_LINK_FAILED,               /* failed or refused; backing off, not to be asked now */
};

struct topo_edge {
    struct nodeid peer;
    enum topo_link link;
    bool remote_want;               /* the peer wants this edge too */
    enum edge_type remote_type;     /* ... for this reason */
};

struct topology_want {
    struct nodeid peer;
    enum edge_type type;
};

struct topology_plan {
    struct topology_want want[TOPO_MAX_WANT];   /* every edge this node wants */
    size_t n_want;
    struct topology_want add[TOPO_MAX_WANT];    /* wanted, TOPO_LINK_NONE: request these */
    size_t n_add;
    struct nodeid drop[TOPO_MAX_DROP];          /* pending or up, wanted by neither end */
    size_t n_drop;
    int n_long;                                 /* k: long-distance edges wanted */
};

struct topology;

/* Returns NULL when memory ran out. SEED makes the long-distance draws
 * repeatable. */
struct topology *topology_new(const struct nodeid *self, const struct topology_config *,
                              uint64_t seed);
void topology_free(struct topology *);

/* Plans against RING (present peers; may include self, which is skipped) and
 * the caller's EDGES (any order, at most one per peer; peers absent from the
 * array have none). Updates the engine's long-distance and on-demand choices. */
void topology_plan(struct topology *, const struct topo_ring *ring,
                   const struct topo_edge *edges, size_t n_edges, int64_t now_ms,
                   struct topology_plan *out);

/* The number of long-distance edges wanted among N_PEERS known peers. */
int topology_long_count(int max_long_distance, size_t n_peers);

/* Heavy traffic to PEER was seen at NOW_MS: keep (or start) an on-demand edge.
 * Returns false when every on-demand slot holds a peer hinted at within the
 * idle period. */
bool topology_hint(struct topology *, const struct nodeid *peer, int64_t now_ms);

/* Why an incoming request may be refused. */
enum topo_verdict { TOPO_ACCEPT, TOPO_REFUSE_FULL };
/* Decides on PEER's request for an edge of TYPE. Successor, static and
 * on-demand requests are always accepted; long-distance ones while fewer
 * than 2 * max(k, 1) edges are held for peers' long-distance wants. */
enum topo_verdict topology_accept(const struct topology *, const struct topo_ring *ring,
                                  const struct topo_edge *edges, size_t n_edges,
                                  const struct nodeid *peer, enum edge_type type);

/* The harmonic draw: a fraction of the ring in [1/n, 1], density
 * 1 / (x ln n), from U ~ U(0,1). */
double topology_harmonic(double u, size_t n);

/* The long-distance targets currently held (for status and tests). */
size_t topology_long_targets(const struct topology *, struct nodeid *out, size_t max);

#endif
