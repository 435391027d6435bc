/* The topology engine: which peers this node wants edges to. Pure: inputs are
 * our ID, the peers we know and the overlay's knobs; the output is a plan.
 * Today it plans the ring's successors and the static edges; Symphony's
 * long-distance and on-demand edges will join the same plan. */
#ifndef EVIO_TOPOLOGY_H
#define EVIO_TOPOLOGY_H

#include "evio/nodeid.h"
#include <stddef.h>

enum edge_type { EDGE_SUCCESSOR, EDGE_LONG_DISTANCE, EDGE_STATIC, EDGE_ON_DEMAND };
const char *edge_type_name(enum edge_type);
/* Returns false if NAME is not a type name. */
bool edge_type_parse(const char *name, enum edge_type *);

struct topology_input {
    struct nodeid self;
    const struct nodeid *peers;     /* known peers, any order, self excluded */
    size_t n_peers;
    int min_successors;
    const struct nodeid *statics;   /* static peers from the config */
    size_t n_statics;
};

struct topology_want {
    struct nodeid peer;
    enum edge_type type;
};

/* Fills OUT (room for MAX entries) with the edges to have, one per peer, the
 * strongest type first when a peer qualifies twice (static > successor).
 * Returns the count. */
size_t topology_plan(const struct topology_input *, struct topology_want *out, size_t max);

#endif
