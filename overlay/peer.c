/* The peer table and token buckets (see peer.h). */
#include "peer.h"

#include <stdlib.h>
#include <string.h>

static const char *const edge_state_names[] = {
#define X(name, text) text,
    EDGE_STATES(X)
#undef X
};

const char *edge_state_name(enum edge_state s)
{
    return (unsigned)s < sizeof edge_state_names / sizeof *edge_state_names
               ? edge_state_names[s] : "?";
}

bool peer_bucket_take(struct peer_bucket *b, int burst, int64_t period_ms, int64_t now_ms)
{
    int64_t full = (int64_t)burst * period_ms;
    if (!b->last_ms) {
        b->tokens_ms = full;               /* a new peer starts with a full bucket */
    } else if (now_ms > b->last_ms) {
        b->tokens_ms += now_ms - b->last_ms;
        if (b->tokens_ms > full)
            b->tokens_ms = full;
    }
    b->last_ms = now_ms ? now_ms : 1;
    if (b->tokens_ms < period_ms)
        return false;
    b->tokens_ms -= period_ms;
    return true;
}

void edge_free_cands(struct edge *e)
{
    for (int i = 0; i < e->n_remote_cands; i++)
        free(e->remote_cands[i]);
    for (int i = 0; i < e->n_local_cands; i++)
        free(e->local_cands[i]);
    free(e->remote_cands);
    free(e->local_cands);
    e->remote_cands = e->local_cands = NULL;
    e->n_remote_cands = e->n_local_cands = 0;
}

void peer_table_init(struct peer_table *t, size_t max)
{
    memset(t, 0, sizeof *t);
    t->max = max;
}

void peer_table_free(struct peer_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        edge_free_cands(&t->peers[i]->edge);
        free(t->peers[i]);
    }
    free(t->peers);
    memset(t, 0, sizeof *t);
}

struct peer *peer_table_find(const struct peer_table *t, const struct nodeid *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (!nodeid_cmp(&t->peers[i]->id, id))
            return t->peers[i];
    return NULL;
}

struct peer *peer_table_add(struct peer_table *t, const struct nodeid *id, int64_t now_ms)
{
    struct peer *p = peer_table_find(t, id);
    if (p)
        return p;
    if (t->n >= t->max)
        return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct peer **np = realloc(t->peers, cap * sizeof *np);
        if (!np)
            return NULL;
        t->peers = np;
        t->cap = cap;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->id = *id;
    nodeid_format(id, p->hex);
    p->absent_since_ms = now_ms;
    t->peers[t->n++] = p;
    return p;
}

void peer_table_remove(struct peer_table *t, size_t i)
{
    if (i >= t->n)
        return;
    edge_free_cands(&t->peers[i]->edge);
    free(t->peers[i]);
    t->peers[i] = t->peers[--t->n];
}
