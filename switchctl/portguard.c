/* evio-switchctl's per-port budgets and refusal counters (see portguard.h). */
#include "portguard.h"

#include <string.h>

bool portguard_bucket_take(struct portguard_bucket *b, int rate, int burst, int64_t now_ms)
{
    if (rate <= 0)
        return true;
    if (burst < 1)
        burst = 1;
    /* one token is 1000 units; RATE tokens a second are RATE units a ms */
    int64_t cap = (int64_t)burst * 1000;
    if (!b->started) {
        b->started = true;
        b->tokens_ms = cap;
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        int64_t add = (now_ms - b->last_ms) * rate;
        b->tokens_ms = add >= cap - b->tokens_ms ? cap : b->tokens_ms + add;
        b->last_ms = now_ms;
    }
    if (b->tokens_ms < 1000)
        return false;
    b->tokens_ms -= 1000;
    return true;
}

void portguard_init(struct portguard *g, const struct portguard_limits *lim)
{
    memset(g, 0, sizeof *g);
    if (lim)
        g->lim = *lim;
    else
        g->lim = (struct portguard_limits){
            .packet_in_rate = PORTGUARD_PACKET_IN_RATE,
            .packet_in_burst = PORTGUARD_PACKET_IN_BURST,
            .query_rate = PORTGUARD_QUERY_RATE,
            .query_burst = PORTGUARD_QUERY_BURST,
        };
}

static struct portguard_port *portguard_find(const struct portguard *g, uint32_t port)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->ports[i].port == port)
            return (struct portguard_port *)&g->ports[i];
    return NULL;
}

/* PORT's record, made on first use. When the table is full (more ports
 * than a bridge has) the last record is shared: budgets still hold. */
static struct portguard_port *portguard_get(struct portguard *g, uint32_t port)
{
    struct portguard_port *p = portguard_find(g, port);
    if (p)
        return p;
    if (g->n == PORTGUARD_MAX_PORTS)
        return &g->ports[g->n - 1];
    p = &g->ports[g->n++];
    memset(p, 0, sizeof *p);
    p->port = port;
    return p;
}

void portguard_count(struct portguard *g, uint32_t port, enum portguard_event ev)
{
    if ((unsigned)ev >= PORTGUARD_N_EVENTS)
        return;
    portguard_get(g, port)->count[ev]++;
    g->total[ev]++;
}

bool portguard_packet_in(struct portguard *g, uint32_t port, int64_t now_ms)
{
    struct portguard_port *p = portguard_get(g, port);
    if (portguard_bucket_take(&p->packet_in, g->lim.packet_in_rate, g->lim.packet_in_burst,
                              now_ms))
        return true;
    portguard_count(g, port, PORTGUARD_PACKET_IN_METERED);
    return false;
}

bool portguard_query(struct portguard *g, uint32_t port, int64_t now_ms)
{
    struct portguard_port *p = portguard_get(g, port);
    if (portguard_bucket_take(&p->query, g->lim.query_rate, g->lim.query_burst, now_ms))
        return true;
    portguard_count(g, port, PORTGUARD_QUERY_OVER_BUDGET);
    return false;
}

const struct portguard_port *portguard_port(const struct portguard *g, uint32_t port)
{
    return portguard_find(g, port);
}

void portguard_forget(struct portguard *g, uint32_t port)
{
    struct portguard_port *p = portguard_find(g, port);
    if (!p)
        return;
    *p = g->ports[--g->n];
}

const char *portguard_event_name(enum portguard_event ev)
{
    switch (ev) {
    case PORTGUARD_PACKET_IN_METERED: return "packet_ins_metered";
    case PORTGUARD_QUERY_OVER_BUDGET: return "mac_queries_over_budget";
    case PORTGUARD_MAC_HELD:          return "macs_held";
    case PORTGUARD_MAC_OVER_LIMIT:    return "macs_over_limit";
    case PORTGUARD_FLOOD_BAD_ROOT:    return "flood_bad_root";
    case PORTGUARD_N_EVENTS:          break;
    }
    return "?";
}
