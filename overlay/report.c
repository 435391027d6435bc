/* Status and topology as JSON (see report.h). */
#include "report.h"
#include "evio/ctlmsg.h"

#include <stdio.h>
#include <string.h>

/* The datapath's view of a link, added to its entry in status. */
static void add_stats(json_t *l, const struct ctl_link_stats *st)
{
    json_object_set_new(l, "link_state", json_string(ctl_link_state_name(st->state)));
    if (st->reason[0])
        json_object_set_new(l, "reason", json_string(st->reason));
    json_object_set_new(l, "mac", json_string(st->mac));
    if (st->local_type[0]) {
        json_object_set_new(l, "local_type", json_string(st->local_type));
        json_object_set_new(l, "remote_type", json_string(st->remote_type));
        json_object_set_new(l, "local_addr", json_string(st->local_addr));
        json_object_set_new(l, "remote_addr", json_string(st->remote_addr));
        json_object_set_new(l, "pair_since_s", json_integer(st->pair_since_s));
    }
    if (st->path[0])
        json_object_set_new(l, "path", json_string(st->path));
    const struct { const char *name; long long v; } n[] = {
        { "pair_changes", st->pair_changes }, { "tx_bytes", st->tx_bytes },
        { "rx_bytes", st->rx_bytes }, { "tx_frames", st->tx_frames },
        { "rx_frames", st->rx_frames }, { "drop_oversize", st->drop_oversize },
        { "drop_tap", st->drop_tap }, { "drop_decrypt", st->drop_decrypt },
        { "tcp_resegmented", st->tcp_resegmented },
        { "age_s", st->age_s }, { "up_s", st->up_s },
    };
    for (size_t k = 0; k < sizeof n / sizeof *n; k++)
        json_object_set_new(l, n[k].name, json_integer(n[k].v));
}

/* What an edge is for, from our side: our own reason when we want it,
 * "incoming" when only the peer does. */
static const char *edge_role(const struct edge *e)
{
    if (e->local_want)
        return edge_type_name(e->local_type);
    return e->remote_want ? "incoming" : "unwanted";
}

static json_t *counters_json(const struct neg *neg)
{
    const struct neg_counters *c = neg_counters(neg);
    return json_pack("{sI sI sI sI sI sI sI sI sI sI sI sI sI sI sI sI}",
                     "full", (json_int_t)c->refused_full,
                     "links", (json_int_t)c->refused_links,
                     "not_neighbour", (json_int_t)c->refused_not_neighbour,
                     "busy", (json_int_t)c->refused_busy,
                     "collisions", (json_int_t)c->collisions,
                     "rate_limited", (json_int_t)c->rate_limited,
                     "cands_dropped", (json_int_t)c->cands_dropped,
                     "peers_refused", (json_int_t)c->peers_refused,
                     "peers_evicted", (json_int_t)c->peers_evicted,
                     "not_member", (json_int_t)c->not_member,
                     "impostor", (json_int_t)c->impostor,
                     "kept_until_successors", (json_int_t)c->kept_until_successors,
                     "stale", (json_int_t)c->stale,
                     "links_created", (json_int_t)c->links_created,
                     "links_removed", (json_int_t)c->links_removed,
                     "failures", (json_int_t)c->failures);
}

json_t *report_overlay_status(const struct overlay *ov,
                              const struct ctl_link_stats_reply *stats, int64_t now)
{
    char ip[64] = "";
    /* "ip": "auto": the address claimed, once on the bridge ("" before) */
    uint32_t v = ov->cfg->ip_auto ? ov->bridge_ip4 : ov->cfg->ip4;
    if (v)
        snprintf(ip, sizeof ip, "%u.%u.%u.%u/%d", v >> 24, (v >> 16) & 255, (v >> 8) & 255,
                 v & 255, ov->cfg->prefix_len);
    json_t *peers = json_array(), *links = json_array();
    const struct peer_table *t = neg_peers(ov->neg);
    for (size_t j = 0; j < t->n; j++) {
        const struct peer *p = t->peers[j];
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
        const struct ctl_link_stats *st =
            e->link_created && stats ? ctl_link_stats_find(stats, e->link_id) : NULL;
        if (st)
            add_stats(l, st);
        json_array_append_new(links, l);
    }
    return json_pack("{ss ss ss so so so s{si si}}", "name", ov->cfg->name, "bridge",
                     ov->cfg->bridge_name, "ip", ip, "peers", peers, "links", links,
                     "refusals", counters_json(ov->neg), "budgets", "links",
                     neg_links(ov->neg), "peers", (int)t->n);
}

json_t *report_overlay_topology(const struct overlay *ov, const char *self_hex, int64_t now)
{
    const struct topology_plan *plan = neg_plan(ov->neg);
    const struct topo_ring *r = neg_ring(ov->neg);
    const struct peer_table *t = neg_peers(ov->neg);
    json_t *ring = json_array(), *planned = json_array(), *edges = json_array();
    struct nodeid self;
    nodeid_parse(self_hex, &self);

    /* the ring as we know it, clockwise from ourselves */
    size_t start = topo_ring_rank(r, &self);
    for (size_t k = 0; k < r->n; k++) {
        char hex[NODEID_HEX_LEN + 1];
        nodeid_format(&r->ids[(start + k) % r->n], hex);
        json_array_append_new(ring, json_string(hex));
    }
    for (size_t k = 0; k < plan->n_want; k++) {
        char hex[NODEID_HEX_LEN + 1];
        nodeid_format(&plan->want[k].peer, hex);
        const struct peer *p = peer_table_find(t, &plan->want[k].peer);
        json_array_append_new(planned, json_pack("{ss ss ss}", "peer", hex, "type",
                                                 edge_type_name(plan->want[k].type), "edge",
                                                 p ? edge_state_name(p->edge.state) : "idle"));
    }
    for (size_t j = 0; j < t->n; j++) {
        const struct peer *p = t->peers[j];
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
    return json_pack("{ss ss si si si so so so}", "name", ov->cfg->name, "self", self_hex,
                     "peers", (int)r->n, "min_successors", ov->cfg->min_successors,
                     "long_distance", plan->n_long, "ring", ring, "planned", planned,
                     "edges", edges);
}
