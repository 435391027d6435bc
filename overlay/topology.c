/* The topology engine (see topology.h): the ring order and which peers are
 * our successors. */
#include "topology.h"

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
    return t <= EDGE_ON_DEMAND ? edge_type_names[t] : "?";
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

static int cmp_ids(const void *a, const void *b)
{
    return nodeid_cmp(a, b);
}

static bool planned(const struct topology_want *out, size_t n, const struct nodeid *id)
{
    for (size_t i = 0; i < n; i++)
        if (!nodeid_cmp(&out[i].peer, id))
            return true;
    return false;
}

size_t topology_plan(const struct topology_input *in, struct topology_want *out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < in->n_statics && n < max; i++) {
        if (!nodeid_cmp(&in->statics[i], &in->self) || planned(out, n, &in->statics[i]))
            continue;
        out[n++] = (struct topology_want){ in->statics[i], EDGE_STATIC };
    }

    if (!in->n_peers)
        return n;
    struct nodeid *ring = malloc(in->n_peers * sizeof *ring);
    if (!ring)
        return n;
    memcpy(ring, in->peers, in->n_peers * sizeof *ring);
    qsort(ring, in->n_peers, sizeof *ring, cmp_ids);

    /* the first peer clockwise is the first ID above ours, wrapping around */
    size_t first = 0;
    while (first < in->n_peers && nodeid_cmp(&ring[first], &in->self) < 0)
        first++;
    size_t want = (size_t)(in->min_successors > 0 ? in->min_successors : 1);
    for (size_t k = 0; k < in->n_peers && k < want && n < max; k++) {
        const struct nodeid *p = &ring[(first + k) % in->n_peers];
        if (!nodeid_cmp(p, &in->self) || planned(out, n, p))
            continue;
        out[n++] = (struct topology_want){ *p, EDGE_SUCCESSOR };
    }
    free(ring);
    return n;
}
