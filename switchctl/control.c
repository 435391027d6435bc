/* evio-switchctl's control commands: argument checking and JSON shaping
 * only; the work is done by bridge.c (ports) and l2switch.c (state). */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evio/ctl.h"
#include "evio/ctlmsg.h"
#include "evio/log.h"
#include "bridge.h"
#include "l2switch.h"

#define MOD "control"

/* bridge.h stays free of jansson (it sits beside OVS's json.h): its limits
 * are checked against the contract's here */
_Static_assert(BRIDGE_MAX_PORTS == CTL_PORTS_MAX, "port/sync's ports fit the bridge's table");
_Static_assert(BRIDGE_NAME_MAX == CTL_IFNAME_MAX, "a port name is an interface name");

static json_t *control_fail(struct control_ctx *ctx, char **err, const char *fmt, const char *a)
{
    ctx->bad_requests++;
    if (asprintf(err, fmt, a) < 0)
        *err = NULL;
    return NULL;
}

/* Takes a decoder's error (evio/ctlmsg.h): NULL (fine), or counted and
 * handed to *ERR. */
static bool control_refused(struct control_ctx *ctx, char *derr, char **err)
{
    if (!derr)
        return false;
    *err = derr;
    ctx->bad_requests++;
    return true;
}

static struct l2switch *control_switch(struct control_ctx *ctx, const char *overlay, char **err)
{
    for (size_t i = 0; i < ctx->n_switches; i++)
        if (!strcmp(l2switch_overlay(ctx->switches[i]), overlay))
            return ctx->switches[i];
    control_fail(ctx, err, "overlay: no overlay \"%s\" in this node's configuration", overlay);
    return NULL;
}

/* The optional "overlay" argument of the show commands: "" for every
 * overlay, else a configured one (an unknown one is an error). */
static bool control_selection(struct control_ctx *ctx, json_t *args, struct ctl_overlay_sel *sel,
                              char **err)
{
    return !control_refused(ctx, ctl_overlay_sel_decode(args, sel), err)
           && (!sel->overlay[0] || control_switch(ctx, sel->overlay, err));
}

static bool control_selected(const struct ctl_overlay_sel *sel, const struct l2switch *sw)
{
    return !sel->overlay[0] || !strcmp(sel->overlay, l2switch_overlay(sw));
}

/* Adds the refusal counters of portguard.h (per port, or the totals) to O. */
static void control_guard_counts(json_t *o, const unsigned long *count)
{
    for (int e = 0; e < PORTGUARD_N_EVENTS; e++)
        json_object_set_new(o, portguard_event_name((enum portguard_event)e),
                            json_integer((json_int_t)(count ? count[e] : 0)));
}

static json_t *control_port_json(const struct bridge_port *p, const struct portguard *g)
{
    json_t *o = json_pack("{s:s, s:i, s:s?, s:b, s:I, s:I, s:I, s:I}",
                          "port", p->name, "ofport", (int)p->ofport,
                          "peer", p->peer[0] ? p->peer : NULL,
                          "internal", p->internal,
                          "rx_packets", (json_int_t)p->rx_packets,
                          "tx_packets", (json_int_t)p->tx_packets,
                          "rx_bytes", (json_int_t)p->rx_bytes,
                          "tx_bytes", (json_int_t)p->tx_bytes);
    const struct portguard_port *pg = p->ofport ? portguard_port(g, p->ofport) : NULL;
    if (o)
        control_guard_counts(o, pg ? pg->count : NULL);
    return o;
}

static json_t *control_switch_stats(const struct l2switch *sw)
{
    const struct l2switch_stats *s = l2switch_stats(sw);
    unsigned long rx, bad, txd, dropped = 0;
    l2switch_channel_stats(sw, &rx, &bad, &txd);
    for (size_t i = 0; i < sizeof s->dropped / sizeof s->dropped[0]; i++)
        dropped += s->dropped[i];
    unsigned long flood_bad = 0, flood_refused = 0;
    for (size_t i = 0; i < sizeof s->flood_bad / sizeof s->flood_bad[0]; i++)
        flood_bad += s->flood_bad[i];
    for (size_t i = 0; i < sizeof s->flood_refused / sizeof s->flood_refused[0]; i++)
        flood_refused += s->flood_refused[i];
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                     " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "flood_roots", (json_int_t)s->flood_roots,
                     "flood_rx", (json_int_t)s->flood_rx,
                     "flood_tx", (json_int_t)s->flood_tx,
                     "flood_malformed", (json_int_t)flood_bad,
                     "flood_refused", (json_int_t)flood_refused,
                     "packet_ins", (json_int_t)s->packet_ins,
                     "csum_completed", (json_int_t)s->csum_completed,
                     "unicast", (json_int_t)s->unicast,
                     "flooded", (json_int_t)s->flooded,
                     "dropped", (json_int_t)dropped,
                     "macs_learned", (json_int_t)s->learned,
                     "macs_moved", (json_int_t)s->moved,
                     "macs_moved_to_link", (json_int_t)s->moved_to_link,
                     "macs_restored", (json_int_t)s->restored,
                     "shortcut_hints", (json_int_t)s->shortcut_hints,
                     "mac_announces_tx", (json_int_t)s->announces_tx,
                     "mac_announces_rx", (json_int_t)s->announces_rx,
                     "mac_queries_tx", (json_int_t)s->queries_tx,
                     "mac_queries_rx", (json_int_t)s->queries_rx,
                     "openflow_bad_msgs", (json_int_t)bad,
                     "openflow_tx_dropped", (json_int_t)txd);
    if (o)
        control_guard_counts(o, l2switch_guard(sw)->total);
    return o;
}

static json_t *control_bridge_status(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control_ctx *ctx = aux;
    struct ctl_overlay_sel only;
    if (!control_selection(ctx, args, &only, err))
        return NULL;
    json_t *bridges = json_array();
    for (size_t i = 0; i < ctx->n_switches; i++) {
        const struct l2switch *sw = ctx->switches[i];
        if (!control_selected(&only, sw))
            continue;
        const char *dp = bridge_db_datapath_type(ctx->db, l2switch_bridge(sw));
        json_t *ports = json_array();
        size_t n;
        const struct bridge_port *p = l2switch_ports(sw, &n);
        for (size_t j = 0; j < n; j++)
            if (!p[j].internal)
                json_array_append_new(ports, control_port_json(&p[j], l2switch_guard(sw)));
        json_array_append_new(bridges, json_pack(
            "{s:s, s:s, s:s?, s:b, s:s, s:o, s:o}",
            "overlay", l2switch_overlay(sw), "bridge", l2switch_bridge(sw),
            "datapath_type", dp, "exists", dp != NULL,
            "openflow", l2switch_openflow_state(sw),
            "ports", ports, "stats", control_switch_stats(sw)));
    }
    return json_pack("{s:o, s:b, s:I}", "bridges", bridges,
                     "ovsdb_connected", bridge_db_connected(ctx->db),
                     "bad_requests", (json_int_t)ctx->bad_requests);
}

static json_t *control_port_add(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control_ctx *ctx = aux;
    struct ctl_port m;
    if (control_refused(ctx, ctl_port_decode(args, true, &m), err))
        return NULL;
    struct l2switch *sw = control_switch(ctx, m.overlay, err);
    if (!sw)
        return NULL;
    if (bridge_db_port_add(ctx->db, l2switch_bridge(sw), m.port, m.peer, err)) {
        ctx->bad_requests++;
        return NULL;
    }
    size_t n;
    const struct bridge_port *p = l2switch_ports(sw, &n);
    int ofport = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].name, m.port))
            ofport = (int)p[i].ofport;
    return json_pack("{s:i}", "ofport", ofport);
}

static json_t *control_port_remove(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control_ctx *ctx = aux;
    struct ctl_port m;
    if (control_refused(ctx, ctl_port_decode(args, false, &m), err))
        return NULL;
    struct l2switch *sw = control_switch(ctx, m.overlay, err);
    if (!sw)
        return NULL;
    if (bridge_db_port_remove(ctx->db, l2switch_bridge(sw), m.port, err)) {
        ctx->bad_requests++;
        return NULL;
    }
    return json_object();
}

/* Makes the bridge's peer ports exactly the listed ones: listed ports are
 * added (again), evio's peer ports not listed are removed with their flows
 * and learned MACs. The agent sends it whenever this process becomes ready,
 * so ports left behind by a crash (their TAP gone) never linger. */
static json_t *control_port_sync(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control_ctx *ctx = aux;
    struct ctl_port_sync m;
    if (control_refused(ctx, ctl_port_sync_decode(args, &m), err))
        return NULL;
    json_t *result = NULL;
    struct l2switch *sw = control_switch(ctx, m.overlay, err);
    if (!sw)
        goto out;
    const char *bridge = l2switch_bridge(sw);
    struct nodeid self;
    bool has_self = m.self[0] && nodeid_parse(m.self, &self);

    static struct l2switch_link links[BRIDGE_MAX_PORTS];
    size_t n_links = 0;
    for (size_t i = 0; i < m.n_ports && n_links < BRIDGE_MAX_PORTS; i++)
        if (nodeid_parse(m.ports[i].peer, &links[n_links].peer)) {
            snprintf(links[n_links].port, sizeof links[n_links].port, "%s", m.ports[i].port);
            links[n_links].up = m.ports[i].up;
            n_links++;
        }

    struct bridge_port have[BRIDGE_MAX_PORTS];
    size_t n_have = bridge_db_ports(ctx->db, bridge, have, sizeof have / sizeof have[0]);
    struct ctl_port_sync_result res = { .ports = (long long)m.n_ports };
    for (size_t j = 0; j < n_have; j++) {
        if (have[j].internal || !have[j].peer[0])
            continue;                 /* only evio's peer ports are ours to prune */
        bool listed = false;
        for (size_t i = 0; i < m.n_ports && !listed; i++)
            listed = !strcmp(m.ports[i].port, have[j].name);
        if (listed)
            continue;
        char *rerr = NULL;
        if (bridge_db_port_remove(ctx->db, bridge, have[j].name, &rerr) == 0) {
            log_info(MOD, "%s: sync removes stale port %s", m.overlay, have[j].name);
            res.removed++;
        }
        free(rerr);
    }
    for (size_t i = 0; i < m.n_ports; i++)
        if (bridge_db_port_add(ctx->db, bridge, m.ports[i].port, m.ports[i].peer, err)) {
            ctx->bad_requests++;
            goto out;
        }
    if (has_self)
        l2switch_set_links(sw, &self, links, n_links);
    result = ctl_port_sync_result_encode(&res);
out:
    ctl_port_sync_free(&m);
    return result;
}

static json_t *control_fdb_show(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control_ctx *ctx = aux;
    struct ctl_overlay_sel only;
    if (!control_selection(ctx, args, &only, err))
        return NULL;
    long long now = l2switch_now_ms();
    json_t *entries = json_array();
    for (size_t i = 0; i < ctx->n_switches; i++) {
        struct l2switch *sw = ctx->switches[i];
        if (!control_selected(&only, sw))
            continue;
        const struct fdb *f = l2switch_fdb(sw);
        size_t pos = 0;
        const struct fdb_entry *e;
        while ((e = fdb_next(f, &pos)) != NULL) {
            char mac[18];
            fdb_format_mac(e->mac, mac);
            const char *name = l2switch_port_name(sw, e->port);
            json_array_append_new(entries, json_pack(
                "{s:s, s:s, s:s?, s:i, s:s?, s:I}",
                "overlay", l2switch_overlay(sw), "mac", mac, "port", name,
                "ofport", (int)e->port, "peer", e->peer[0] ? e->peer : "local",
                "age_s", (json_int_t)((now - e->last_seen_ms) / 1000)));
        }
    }
    return json_pack("{s:o}", "entries", entries);
}

/* Our flows as of the last poll of their counters, in ovs-ofctl syntax. */
static json_t *control_flows_show(void *aux, json_t *args, struct ctl_conn *conn, char **err)
{
    struct control_ctx *ctx = aux;
    struct ctl_overlay_sel only;
    if (!control_selection(ctx, args, &only, err))
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < ctx->n_switches; i++) {
        struct l2switch *sw = ctx->switches[i];
        if (!control_selected(&only, sw))
            continue;
        size_t n;
        long long age;
        const struct ofchannel_flow *f = l2switch_flows(sw, &n, &age);
        json_t *flows = json_array();
        for (size_t j = 0; j < n; j++) {
            char mac[18];
            if (f[j].has_dl_dst)
                fdb_format_mac(f[j].dl_dst, mac);
            const char *in = f[j].in_port ? l2switch_port_name(sw, f[j].in_port) : NULL;
            const char *outp = f[j].out_port ? l2switch_port_name(sw, f[j].out_port) : NULL;
            json_array_append_new(flows, json_pack(
                "{s:s, s:i, s:s?, s:s?, s:s?, s:I, s:I, s:i, s:i}",
                "flow", f[j].text, "priority", f[j].priority,
                "dl_dst", f[j].has_dl_dst ? mac : NULL, "in_port", in, "out_port", outp,
                "packets", (json_int_t)f[j].packets, "bytes", (json_int_t)f[j].bytes,
                "idle_age_s", f[j].idle_age, "duration_s", (int)f[j].duration_s));
        }
        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:o}", "overlay",
                                             l2switch_overlay(sw), "bridge", l2switch_bridge(sw),
                                             "age_ms", (json_int_t)age, "flows", flows));
    }
    return json_pack("{s:o}", "bridges", out);
}

static void control_hint(void *aux, const char *overlay, const struct shortcut_hint *h)
{
    struct control_ctx *ctx = aux;
    char peer[NODEID_HEX_LEN + 1];
    nodeid_format(&h->peer, peer);
    log_debug(MOD, "%s: shortcut hint: %s at %llu kbit/s%s", overlay, peer,
              (unsigned long long)h->kbps, h->adjacent ? " (linked)" : "");
    struct ctl_shortcut_hint m = { .kbps = (long long)h->kbps, .adjacent = h->adjacent };
    snprintf(m.overlay, sizeof m.overlay, "%s", overlay);
    snprintf(m.peer, sizeof m.peer, "%s", peer);
    json_t *data = ctl_shortcut_hint_encode(&m);
    if (data && ctx->srv)
        ctl_server_event(ctx->srv, CTL_EV_SHORTCUT_HINT, data);
    json_decref(data);
}

void control_register(struct ctl_server *srv, struct control_ctx *ctx)
{
    ctx->srv = srv;
    for (size_t i = 0; i < ctx->n_switches; i++)
        l2switch_set_hint_cb(ctx->switches[i], control_hint, ctx);
    ctl_server_register(srv, CTL_CMD_BRIDGE_STATUS, "{\"overlay\"?}", control_bridge_status, ctx);
    ctl_server_register(srv, CTL_CMD_PORT_ADD, "{\"overlay\", \"port\", \"peer\"}",
                        control_port_add, ctx);
    ctl_server_register(srv, CTL_CMD_PORT_REMOVE, "{\"overlay\", \"port\"}", control_port_remove, ctx);
    ctl_server_register(srv, CTL_CMD_PORT_SYNC, "{\"overlay\", \"self\", \"ports\": [{\"port\", \"peer\", \"up\"}]}",
                        control_port_sync, ctx);
    ctl_server_register(srv, CTL_CMD_FDB_SHOW, "{\"overlay\"?}", control_fdb_show, ctx);
    ctl_server_register(srv, CTL_CMD_FLOWS_SHOW, "{\"overlay\"?}", control_flows_show, ctx);
    log_debug(MOD, "control commands registered");
}
