/* evio-switchctl's per-overlay switch: packet-in -> learn -> decide -> act.
 * Unicast to a learned MAC becomes a flow in OVS so later frames never come
 * up here; everything else is forwarded frame by frame per flood.c. */
#include <config.h>
#include "l2switch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/poll-loop.h"
#include "lib/timeval.h"

#include "evio/config.h"
#include "evio/log.h"
#include "netif.h"
#include "ofchannel.h"

#define MOD "switch"
#define L2SWITCH_COOKIE      0x6576696f00000001ULL  /* "evio" + 1: flows we own */
#define L2SWITCH_FLOW_IDLE_S FDB_DEFAULT_AGING_S
#define L2SWITCH_EXPIRE_MS   10000
#define L2SWITCH_NETIF_FAST_MS 500      /* until the internal port is set up */
#define L2SWITCH_NETIF_SLOW_MS 5000     /* then: catches ovs-vswitchd recreating it */

struct l2switch {
    char *overlay;
    char *bridge;
    uint32_t ip4;
    int prefix_len;
    int mtu;
    struct bridge_db *db;
    struct ofchannel *ch;
    struct fdb *fdb;

    unsigned int db_seqno;          /* of the snapshot below */
    struct bridge_port ports[BRIDGE_MAX_PORTS];
    size_t n_ports;
    struct flood_port fports[BRIDGE_MAX_PORTS];
    size_t n_fports;

    bool have_self;                 /* the agent told us who we are (port/sync) */
    struct nodeid self;
    struct l2switch_link links[BRIDGE_MAX_PORTS];
    size_t n_links;
    /* where a flood may go: the up links whose port has an OpenFlow number,
     * derived from links and ports whenever either changes */
    struct nodeid nb_peers[BRIDGE_MAX_PORTS];
    uint32_t nb_ports[BRIDGE_MAX_PORTS];
    size_t n_nb;

    long long next_expire_ms;
    long long next_netif_ms;
    bool netif_ok;
    int netif_last_err;

    struct l2switch_stats stats;
};

static struct log_ratelimit l2switch_rl = LOG_RATELIMIT_INIT(10, 10);

/* The outer source address of flood frames: locally administered, "evio" */
static const uint8_t l2switch_flood_src[6] = { 0x02, 0x65, 0x76, 0x69, 0x6f, 0x00 };

/* A frame plus the flood header, up to the largest OpenFlow packet-in. */
static uint8_t l2switch_buf[65535 + BFLOOD_HDR_LEN];

long long l2switch_now_ms(void) { return time_msec(); }

static void l2switch_packet_in(void *aux, uint32_t in_port, const uint8_t *frame, size_t len);
static void l2switch_connected(void *aux);

struct l2switch *l2switch_create(const struct config_overlay *ov, struct bridge_db *db)
{
    struct l2switch *sw = calloc(1, sizeof *sw);
    if (!sw)
        return NULL;
    sw->overlay = strdup(ov->name);
    sw->bridge = strdup(ov->bridge_name);
    sw->ip4 = ov->ip4;
    sw->prefix_len = ov->prefix_len;
    sw->mtu = ov->mtu;
    sw->db = db;
    sw->fdb = fdb_create(FDB_DEFAULT_MAX, FDB_DEFAULT_AGING_S);
    const char *target = bridge_db_controller(db, ov->bridge_name);
    if (!sw->overlay || !sw->bridge || !sw->fdb || !target) {
        l2switch_destroy(sw);
        return NULL;
    }
    sw->ch = ofchannel_create(sw->bridge, target, L2SWITCH_COOKIE, l2switch_packet_in,
                              l2switch_connected, sw);
    if (!sw->ch) {
        l2switch_destroy(sw);
        return NULL;
    }
    sw->db_seqno = 0;
    sw->next_expire_ms = time_msec() + L2SWITCH_EXPIRE_MS;
    return sw;
}

void l2switch_destroy(struct l2switch *sw)
{
    if (!sw)
        return;
    ofchannel_destroy(sw->ch);
    fdb_destroy(sw->fdb);
    free(sw->overlay);
    free(sw->bridge);
    free(sw);
}

const char *l2switch_overlay(const struct l2switch *sw) { return sw->overlay; }
const char *l2switch_bridge(const struct l2switch *sw) { return sw->bridge; }
const char *l2switch_openflow_state(const struct l2switch *sw) { return ofchannel_state_name(sw->ch); }
const struct l2switch_stats *l2switch_stats(const struct l2switch *sw) { return &sw->stats; }

void l2switch_channel_stats(const struct l2switch *sw, unsigned long *rx_msgs,
                            unsigned long *bad_msgs, unsigned long *tx_dropped)
{
    const struct ofchannel_stats *s = ofchannel_stats(sw->ch);
    *rx_msgs = s->rx_msgs;
    *bad_msgs = s->bad_msgs;
    *tx_dropped = s->tx_dropped;
}

const struct bridge_port *l2switch_ports(const struct l2switch *sw, size_t *n)
{
    *n = sw->n_ports;
    return sw->ports;
}

static const struct bridge_port *l2switch_port(const struct l2switch *sw, uint32_t ofport)
{
    for (size_t i = 0; i < sw->n_ports; i++)
        if (sw->ports[i].ofport == ofport)
            return &sw->ports[i];
    return NULL;
}

/* Recomputes the flood neighbours from the links and the ports. */
static void l2switch_update_neighbours(struct l2switch *sw)
{
    sw->n_nb = 0;
    for (size_t i = 0; i < sw->n_links; i++) {
        if (!sw->links[i].up)
            continue;
        for (size_t j = 0; j < sw->n_ports; j++) {
            if (sw->ports[j].ofport && !strcmp(sw->ports[j].name, sw->links[i].port)) {
                sw->nb_peers[sw->n_nb] = sw->links[i].peer;
                sw->nb_ports[sw->n_nb++] = sw->ports[j].ofport;
                break;
            }
        }
    }
}

void l2switch_set_links(struct l2switch *sw, const struct nodeid *self,
                        const struct l2switch_link *links, size_t n)
{
    if (n > BRIDGE_MAX_PORTS)
        n = BRIDGE_MAX_PORTS;
    sw->self = *self;
    sw->have_self = true;
    memcpy(sw->links, links, n * sizeof *links);
    sw->n_links = n;
    l2switch_update_neighbours(sw);
}

static uint32_t l2switch_port_of_peer(const struct l2switch *sw, const struct nodeid *peer)
{
    for (size_t i = 0; i < sw->n_nb; i++)
        if (!nodeid_cmp(&sw->nb_peers[i], peer))
            return sw->nb_ports[i];
    return 0;
}

const char *l2switch_port_name(const struct l2switch *sw, uint32_t ofport)
{
    const struct bridge_port *p = l2switch_port(sw, ofport);
    return p ? p->name : NULL;
}

const struct fdb *l2switch_fdb(struct l2switch *sw)
{
    fdb_expire(sw->fdb, time_msec());
    return sw->fdb;
}

/* Forgets what was learned on ports that left (or changed number) and
 * deletes our flows that output to them. */
static void l2switch_ports_gone(struct l2switch *sw, const struct bridge_port *old, size_t n_old)
{
    for (size_t i = 0; i < n_old; i++) {
        if (!old[i].ofport)
            continue;
        const struct bridge_port *now = l2switch_port(sw, old[i].ofport);
        if (now && !strcmp(now->name, old[i].name))
            continue;
        size_t n = fdb_flush_port(sw->fdb, old[i].ofport);
        int err = ofchannel_delete_port(sw->ch, old[i].ofport);
        log_info(MOD, "%s: port %s (ofport %u) gone: forgot %zu MACs, %s", sw->bridge,
                 old[i].name, old[i].ofport, n,
                 err ? "flows not deleted (OpenFlow down)" : "deleted its flows");
    }
}

static void l2switch_refresh_ports(struct l2switch *sw)
{
    unsigned int seqno = bridge_db_seqno(sw->db);
    if (seqno == sw->db_seqno)
        return;
    sw->db_seqno = seqno;

    struct bridge_port old[BRIDGE_MAX_PORTS];
    size_t n_old = sw->n_ports;
    memcpy(old, sw->ports, n_old * sizeof *old);

    sw->n_ports = bridge_db_ports(sw->db, sw->bridge, sw->ports, BRIDGE_MAX_PORTS);
    sw->n_fports = 0;
    for (size_t i = 0; i < sw->n_ports; i++) {
        const struct bridge_port *p = &sw->ports[i];
        if (!p->ofport)
            continue;
        sw->fports[sw->n_fports].port = p->ofport;
        sw->fports[sw->n_fports].role = p->peer[0] ? FLOOD_PORT_PEER : FLOOD_PORT_LEAF;
        sw->n_fports++;
    }
    l2switch_update_neighbours(sw);
    l2switch_ports_gone(sw, old, n_old);
}

static void l2switch_netif(struct l2switch *sw)
{
    long long now = time_msec();
    if (now < sw->next_netif_ms)
        return;
    const struct bridge_port *own = NULL;
    for (size_t i = 0; i < sw->n_ports; i++)
        if (sw->ports[i].internal)
            own = &sw->ports[i];
    bool changed = false;
    int err = own && own->ofport ? netif_configure(sw->bridge, sw->ip4, sw->prefix_len,
                                                   sw->mtu, &changed)
                                 : ENODEV;
    if (!err && changed) {
        log_info(MOD, "%s: internal port up, %u.%u.%u.%u/%d, mtu %d", sw->bridge,
                 sw->ip4 >> 24, (sw->ip4 >> 16) & 0xff, (sw->ip4 >> 8) & 0xff, sw->ip4 & 0xff,
                 sw->prefix_len, sw->mtu);
    } else if (err && err != ENODEV && err != sw->netif_last_err) {
        log_warn(MOD, "%s: cannot configure the internal port: %s", sw->bridge, strerror(err));
    }
    sw->netif_last_err = err;
    sw->netif_ok = !err;
    sw->next_netif_ms = now + (err ? L2SWITCH_NETIF_FAST_MS : L2SWITCH_NETIF_SLOW_MS);
}

void l2switch_run(struct l2switch *sw)
{
    l2switch_refresh_ports(sw);
    l2switch_netif(sw);
    ofchannel_run(sw->ch);
    long long now = time_msec();
    if (now >= sw->next_expire_ms) {
        size_t n = fdb_expire(sw->fdb, now);
        if (n)
            log_debug(MOD, "%s: %zu MACs aged out", sw->bridge, n);
        sw->next_expire_ms = now + L2SWITCH_EXPIRE_MS;
    }
}

void l2switch_wait(struct l2switch *sw)
{
    ofchannel_wait(sw->ch);
    poll_timer_wait_until(sw->next_expire_ms);
    poll_timer_wait_until(sw->next_netif_ms);
}

static void l2switch_connected(void *aux)
{
    struct l2switch *sw = aux;
    log_info(MOD, "%s: controlling the bridge (%zu ports, %zu MACs known)", sw->bridge,
             sw->n_ports, fdb_count(sw->fdb));
}

/* Learns that SRC sits behind IN_PORT, on node PEER ("" = this one). */
static void l2switch_learn(struct l2switch *sw, const struct bridge_port *in, const uint8_t *src,
                           const char *peer, long long now)
{
    enum fdb_learn_result r = fdb_learn(sw->fdb, src, in->ofport, peer, now);
    if (r == FDB_LEARN_NEW) {
        sw->stats.learned++;
    } else if (r == FDB_LEARN_MOVED) {
        /* The old flow still points at the previous port. */
        sw->stats.moved++;
        ofchannel_delete_mac(sw->ch, src);
        char m[18];
        fdb_format_mac(src, m);
        log_info(MOD, "%s: %s moved to %s", sw->bridge, m, in->name);
    }
}

/* Sends one flood copy per entry of OUT, each with its bound. */
static void l2switch_flood_send(struct l2switch *sw, uint32_t in_port, const struct nodeid *root,
                                uint8_t type, const struct bflood_decision *d,
                                const struct bflood_fwd *out, const uint8_t *frame, size_t len)
{
    for (size_t i = 0; i < d->n_out; i++) {
        uint32_t port = l2switch_port_of_peer(sw, &out[i].peer);
        struct bflood_hdr h = { .type = type, .hops = d->hops, .root = *root,
                                .bound = out[i].bound };
        memset(h.eth_dst, 0xff, sizeof h.eth_dst);
        memcpy(h.eth_src, l2switch_flood_src, sizeof h.eth_src);
        size_t n = port ? bflood_encap(&h, frame, len, l2switch_buf, sizeof l2switch_buf) : 0;
        if (!n) {
            log_warn_rl(&l2switch_rl, MOD, "%s: flood copy of %zu bytes not sent", sw->bridge,
                        len);
            continue;
        }
        ofchannel_packet_out(sw->ch, in_port, &port, 1, l2switch_buf, n);
        sw->stats.flood_tx++;
    }
}

/* Leaf ports other than IN_PORT. */
static size_t l2switch_leaves(const struct l2switch *sw, uint32_t in_port, uint32_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < sw->n_fports; i++)
        if (sw->fports[i].role == FLOOD_PORT_LEAF && sw->fports[i].port != in_port)
            out[n++] = sw->fports[i].port;
    return n;
}

static uint8_t l2switch_flood_type(const uint8_t *frame)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    if (!memcmp(frame, bcast, 6))
        return BFLOOD_BROADCAST;
    return flood_mac_is_multicast(frame) ? BFLOOD_MULTICAST : BFLOOD_UNKNOWN_UNICAST;
}

/* A flood frame from a neighbour: learn where its source lives, deliver it
 * to the leaf ports, and pass it on inside our interval of the ring. */
static void l2switch_flood_in(struct l2switch *sw, const struct bridge_port *in,
                              const uint8_t *pkt, size_t len, long long now)
{
    struct bflood_hdr h;
    const uint8_t *frame;
    size_t flen;
    enum bflood_reason r = bflood_decap(pkt, len, &h, &frame, &flen);
    struct nodeid from;
    if (r == BFLOOD_OK && !nodeid_parse(in->peer, &from))
        r = BFLOOD_RUNT;            /* not reached: peer ports carry valid IDs */
    if (r != BFLOOD_OK) {
        sw->stats.flood_bad[r]++;
        log_warn_rl(&l2switch_rl, MOD, "%s: flood frame from %s dropped: %s", sw->bridge,
                    in->name, bflood_reason_name(r));
        return;
    }
    sw->stats.flood_rx++;
    if (!sw->have_self)
        return;
    char root[NODEID_HEX_LEN + 1];
    nodeid_format(&h.root, root);
    if (!flood_mac_is_multicast(frame + 6))
        l2switch_learn(sw, in, frame + 6, root, now);

    static struct bflood_fwd out[BFLOOD_MAX_NEIGHBOURS];
    struct bflood_decision d;
    bflood_decide(&sw->self, sw->nb_peers, sw->n_nb, &h, &from, out, BFLOOD_MAX_NEIGHBOURS, &d);
    if (d.verdict == BFLOOD_LOOP || d.verdict == BFLOOD_OUTSIDE_INTERVAL) {
        sw->stats.flood_refused[d.verdict]++;
        log_warn_rl(&l2switch_rl, MOD, "%s: flood frame from %s dropped: %s", sw->bridge,
                    in->name, bflood_verdict_name(d.verdict));
        return;
    }
    if (d.verdict == BFLOOD_HOPS_EXHAUSTED)
        sw->stats.flood_refused[d.verdict]++;
    uint32_t leaves[BRIDGE_MAX_PORTS];
    size_t n_leaves = d.deliver ? l2switch_leaves(sw, in->ofport, leaves) : 0;
    if (n_leaves)
        ofchannel_packet_out(sw->ch, in->ofport, leaves, n_leaves, frame, flen);
    /* FRAME points into the packet-in, apart from the encapsulation buffer */
    l2switch_flood_send(sw, in->ofport, &h.root, h.type, &d, out, frame, flen);
}

static void l2switch_packet_in(void *aux, uint32_t in_port, const uint8_t *frame, size_t len)
{
    struct l2switch *sw = aux;
    long long now = time_msec();
    sw->stats.packet_ins++;

    const struct bridge_port *in = l2switch_port(sw, in_port);
    if (in && in->peer[0] && len >= 14 && frame[12] == (BFLOOD_ETHERTYPE >> 8)
        && frame[13] == (BFLOOD_ETHERTYPE & 0xff)) {
        l2switch_flood_in(sw, in, frame, len, now);
        return;
    }
    if (in && len >= 14)
        l2switch_learn(sw, in, frame + 6, in->peer, now);

    const struct fdb_entry *known = len >= 14 ? fdb_lookup(sw->fdb, frame, now) : NULL;
    uint32_t known_port = known ? known->port : 0;
    struct flood_decision d;
    flood_decide(sw->fports, sw->n_fports, in_port, frame, len, known ? &known_port : NULL, &d);

    switch (d.verdict) {
    case FLOOD_DROP:
        sw->stats.dropped[d.reason]++;
        if (d.reason != FLOOD_DROP_SAME_PORT && d.reason != FLOOD_DROP_LINK_LOCAL)
            log_warn_rl(&l2switch_rl, MOD, "%s: frame from port %u dropped: %s", sw->bridge,
                        in_port, flood_drop_reason_name(d.reason));
        return;
    case FLOOD_UNICAST:
        sw->stats.unicast++;
        ofchannel_flow_to_mac(sw->ch, frame, d.out[0], L2SWITCH_FLOW_IDLE_S);
        break;
    case FLOOD_FLOOD:
        sw->stats.flooded++;
        break;
    }

    bool from_leaf = in && !in->peer[0];
    if (d.verdict != FLOOD_FLOOD || !from_leaf || !sw->have_self) {
        /* unicast; a frame from a peer outside the flood scheme (leaves only,
         * never re-flooded); or no node ID yet: one hop, as plain frames */
        if (d.n_out)
            ofchannel_packet_out(sw->ch, in_port, d.out, d.n_out, frame, len);
        return;
    }

    /* a flood from a local host: plain to the other leaves, and as the root
     * of a bounded flood over the overlay */
    uint32_t leaves[BRIDGE_MAX_PORTS];
    size_t n_leaves = l2switch_leaves(sw, in_port, leaves);
    if (n_leaves)
        ofchannel_packet_out(sw->ch, in_port, leaves, n_leaves, frame, len);
    static struct bflood_fwd out[BFLOOD_MAX_NEIGHBOURS];
    struct bflood_decision bd;
    bflood_decide(&sw->self, sw->nb_peers, sw->n_nb, NULL, NULL, out, BFLOOD_MAX_NEIGHBOURS, &bd);
    sw->stats.flood_roots++;
    l2switch_flood_send(sw, in_port, &sw->self, l2switch_flood_type(frame), &bd, out, frame, len);
}
