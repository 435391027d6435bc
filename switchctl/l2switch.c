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
#include "evio/l4csum.h"
#include "evio/log.h"
#include "acdport.h"
#include "netif.h"
#include "ofchannel.h"

#define MOD "switch"
#define L2SWITCH_COOKIE      0x6576696f00000001ULL  /* "evio" + 1: flows we own */
#define L2SWITCH_FLOW_IDLE_S FDB_DEFAULT_AGING_S
#define L2SWITCH_EXPIRE_MS   10000
#define L2SWITCH_NETIF_FAST_MS 500      /* until the internal port is set up */
#define L2SWITCH_NETIF_SLOW_MS 5000     /* then: catches ovs-vswitchd recreating it */
#define L2SWITCH_POLL_MS       2000     /* flow counters: shortcuts, flows/show */
#define L2SWITCH_MAX_HINTS     16       /* shortcut hints per poll */
/* Local MACs are announced to every node after each change of our links,
 * again 3 and 10 s later (a flood reaches every node only once the ring
 * has closed, which takes the overlay a few seconds after a change), and
 * then every 60 s. */
static const int l2switch_announce_after_ms[] = { 0, 3000, 10000 };
#define L2SWITCH_ANNOUNCE_MS   60000
#define L2SWITCH_ASK_GAP_MS    1000     /* per MAC: one query, or one answer, a second */
#define L2SWITCH_RECENT        32       /* MACs remembered for that */
#define L2SWITCH_PORT_CONTROLLER 0xfffdu /* OpenFlow CONTROLLER: frames we make */
#define L2SWITCH_PORT_LOCAL    0xfffeu  /* OpenFlow LOCAL: the bridge's own port */
/* "ip": "auto": probing starts once a link is up (the probes then reach the
 * overlay, whose holder of the address answers), or after this long alone
 * (the first node of an overlay) */
#define L2SWITCH_ACD_ALONE_MS  10000

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

    /* our flows as of the last poll of their counters */
    struct ofchannel_flow *flows;
    size_t n_flows;
    long long flows_ms;             /* when they came; 0: never */
    long long next_poll_ms;
    bool restored;                  /* the MAC table was rebuilt from them */

    /* shortcuts: the leaf flows' byte counters at the previous poll */
    uint32_t threshold_kbps;
    struct shortcut_sample *prev;
    size_t n_prev;
    long long prev_ms;
    l2switch_hint_fn *hint_cb;
    void *hint_aux;

    /* MACs recently queried or announced on request, for the rate limit */
    struct { uint8_t mac[6]; long long ms; } recent[L2SWITCH_RECENT];
    size_t recent_next;

    long long next_announce_ms;
    long long links_changed_ms;     /* when our up links last changed */
    int announce_step;              /* next of l2switch_announce_after_ms */

    long long next_expire_ms;
    long long next_netif_ms;
    bool netif_ok;
    int netif_last_err;
    int csum_last_err;      /* of netif_tx_csum_off, said once */
    struct acdport *acd;            /* "ip": "auto": claims ip4 (acdport.h) */
    long long acd_alone_ms;         /* probe from then on even without a link */
    bool acd_running;

    struct l2switch_stats stats;
    struct portguard guard;         /* per-port budgets and refusals (issue 16) */
};

static struct log_ratelimit l2switch_rl = LOG_RATELIMIT_INIT(10, 10);

/* The outer source address of flood frames: locally administered, "evio" */
static const uint8_t l2switch_flood_src[6] = { 0x02, 0x65, 0x76, 0x69, 0x6f, 0x00 };

/* A frame plus the flood header, up to the largest OpenFlow packet-in. */
static uint8_t l2switch_buf[65535 + BFLOOD_HDR_LEN];
/* A packet-in's frame with its TCP/UDP checksum completed. */
static uint8_t l2switch_csum_buf[65535];

long long l2switch_now_ms(void) { return time_msec(); }

static void l2switch_packet_in(void *aux, uint32_t in_port, const uint8_t *frame, size_t len);
static void l2switch_connected(void *aux);
static void l2switch_flows_in(void *aux, const struct ofchannel_flow *flows, size_t n);
static void l2switch_announce(struct l2switch *, const uint8_t mac[6]);
static bool l2switch_may_ask(struct l2switch *, const uint8_t mac[6], long long now);
static void l2switch_announce_all(struct l2switch *);

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
    sw->threshold_kbps = ov->on_demand_threshold_kbps;
    sw->db = db;
    sw->fdb = fdb_create(FDB_DEFAULT_MAX, FDB_DEFAULT_AGING_S);
    if (sw->fdb)
        fdb_set_limits(sw->fdb, &(struct fdb_limits){
            .hold_down_s = FDB_DEFAULT_HOLD_DOWN_S,
            .peer_port_max = FDB_DEFAULT_PORT_MAX,
            .local_port_max = FDB_DEFAULT_PORT_MAX,
            .pin_port = L2SWITCH_PORT_LOCAL });
    portguard_init(&sw->guard, NULL);
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
    ofchannel_set_flows_cb(sw->ch, l2switch_flows_in);
    sw->db_seqno = 0;
    sw->next_expire_ms = time_msec() + L2SWITCH_EXPIRE_MS;
    return sw;
}

void l2switch_destroy(struct l2switch *sw)
{
    if (!sw)
        return;
    ofchannel_destroy(sw->ch);
    acdport_destroy(sw->acd);
    fdb_destroy(sw->fdb);
    free(sw->flows);
    free(sw->prev);
    free(sw->overlay);
    free(sw->bridge);
    free(sw);
}

const char *l2switch_overlay(const struct l2switch *sw) { return sw->overlay; }
const char *l2switch_bridge(const struct l2switch *sw) { return sw->bridge; }
const char *l2switch_openflow_state(const struct l2switch *sw) { return ofchannel_state_name(sw->ch); }
const struct l2switch_stats *l2switch_stats(const struct l2switch *sw) { return &sw->stats; }
const struct portguard *l2switch_guard(const struct l2switch *sw) { return &sw->guard; }

void l2switch_channel_stats(const struct l2switch *sw, unsigned long *rx_msgs,
                            unsigned long *bad_msgs, unsigned long *tx_dropped)
{
    const struct ofchannel_stats *s = ofchannel_stats(sw->ch);
    *rx_msgs = s->rx_msgs;
    *bad_msgs = s->bad_msgs;
    *tx_dropped = s->tx_dropped;
}

void l2switch_set_hint_cb(struct l2switch *sw, l2switch_hint_fn *cb, void *aux)
{
    sw->hint_cb = cb;
    sw->hint_aux = aux;
}

const struct ofchannel_flow *l2switch_flows(const struct l2switch *sw, size_t *n,
                                            long long *age_ms)
{
    *n = sw->n_flows;
    *age_ms = sw->flows_ms ? time_msec() - sw->flows_ms : -1;
    return sw->flows;
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

static uint32_t l2switch_port_of_peer(const struct l2switch *sw, const struct nodeid *peer)
{
    for (size_t i = 0; i < sw->n_nb; i++)
        if (!nodeid_cmp(&sw->nb_peers[i], peer))
            return sw->nb_ports[i];
    return 0;
}

/* The port of the up link to the node PEER (hex; "" = this one), or 0. */
static uint32_t l2switch_direct_port(const struct l2switch *sw, const char *peer)
{
    struct nodeid id;
    return peer && peer[0] && nodeid_parse(peer, &id) ? l2switch_port_of_peer(sw, &id) : 0;
}

/* Forgets the MACs learnt on OFPORT and deletes our flows that output to
 * it (the port is gone, or its link is down: WHY says which). */
static void l2switch_forget_port(struct l2switch *sw, uint32_t ofport, const char *why)
{
    size_t n = fdb_flush_port(sw->fdb, ofport);
    int err = ofchannel_delete_port(sw->ch, ofport);
    log_info(MOD, "%s: ofport %u (%s): forgot %zu MACs, %s", sw->bridge, ofport, why, n,
             err ? "flows not deleted (OpenFlow down)" : "deleted its flows");
}

/* After the up links changed: MACs behind a node that now has a link of
 * its own move onto it (and their flows go, to be made again on the next
 * frame), and what pointed at a link that went down is forgotten, so the
 * next frame floods over the links that remain. */
static void l2switch_reroute(struct l2switch *sw, const uint32_t *old_ports, size_t n_old)
{
    for (size_t i = 0; i < n_old; i++) {
        bool still = false;
        for (size_t k = 0; k < sw->n_nb && !still; k++)
            still = sw->nb_ports[k] == old_ports[i];
        if (!still)
            l2switch_forget_port(sw, old_ports[i], "link down");
    }

    size_t n_move = 0, pos = 0;
    const struct fdb_entry *e;
    while ((e = fdb_next(sw->fdb, &pos))) {
        uint32_t direct = l2switch_direct_port(sw, e->peer);
        if (direct && direct != e->port) {
            fdb_set_port(sw->fdb, e->mac, direct);
            ofchannel_delete_mac(sw->ch, e->mac);
            n_move++;
        }
    }
    sw->stats.moved_to_link += n_move;
    if (n_move)
        log_info(MOD, "%s: %zu MACs moved onto direct links", sw->bridge, n_move);
}

void l2switch_set_links(struct l2switch *sw, const struct nodeid *self,
                        const struct l2switch_link *links, size_t n)
{
    if (n > BRIDGE_MAX_PORTS)
        n = BRIDGE_MAX_PORTS;
    uint32_t old[BRIDGE_MAX_PORTS];
    size_t n_old = sw->n_nb;
    memcpy(old, sw->nb_ports, n_old * sizeof *old);
    sw->self = *self;
    sw->have_self = true;
    memcpy(sw->links, links, n * sizeof *links);
    sw->n_links = n;
    l2switch_update_neighbours(sw);
    l2switch_reroute(sw, old, n_old);
    bool changed = n_old != sw->n_nb;
    for (size_t i = 0; i < sw->n_nb && !changed; i++) {
        bool known = false;
        for (size_t k = 0; k < n_old && !known; k++)
            known = old[k] == sw->nb_ports[i];
        changed = !known;
    }
    if (changed) {                      /* tell every node our MACs, on the new graph */
        sw->links_changed_ms = time_msec();
        sw->announce_step = 0;
        sw->next_announce_ms = sw->links_changed_ms;
    }
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
        const struct bridge_port *now = old[i].ofport ? l2switch_port(sw, old[i].ofport) : NULL;
        if (old[i].ofport && !(now && !strcmp(now->name, old[i].name))) {
            l2switch_forget_port(sw, old[i].ofport, old[i].name);
            /* a port that takes its number gets a budget of its own; the
             * refusals stay in the totals */
            portguard_forget(&sw->guard, old[i].ofport);
        }
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
    const char *dp = bridge_db_datapath_type(sw->db, sw->bridge);
    if (!err && dp && !strcmp(dp, "netdev")) {
        /* the host's own checksums finished before OVS reads them (netif.h) */
        int cerr = netif_tx_csum_off(sw->bridge, &changed);
        if (!cerr && changed)
            log_info(MOD, "%s: transmit checksum offload off on the internal port (OVS's "
                     "userspace datapath leaves tunnelled checksums unfinished)", sw->bridge);
        else if (cerr && cerr != sw->csum_last_err)
            log_warn(MOD, "%s: cannot turn transmit checksum offload off: %s; TCP and UDP "
                     "through a tunnel over the bridge (flannel.1) may fail", sw->bridge,
                     strerror(cerr));
        sw->csum_last_err = cerr;
    }
    sw->netif_last_err = err;
    sw->netif_ok = !err;
    sw->next_netif_ms = now + (err ? L2SWITCH_NETIF_FAST_MS : L2SWITCH_NETIF_SLOW_MS);
}

int l2switch_auto_address(struct l2switch *sw, const struct config_overlay *ov,
                          const char *state_dir)
{
    sw->acd = acdport_create(ov->name, ov->bridge_name, ov->pool, ov->prefix_len, state_dir);
    sw->ip4 = 0;
    sw->acd_alone_ms = time_msec() + L2SWITCH_ACD_ALONE_MS;
    return sw->acd ? 0 : ENOMEM;
}

/* "ip": "auto": once the node's ID is known and the internal port is up,
 * address conflict detection claims the address the port gets */
static void l2switch_acd(struct l2switch *sw)
{
    uint32_t ip;
    long long now = time_msec();
    if (!sw->acd || !sw->have_self || !sw->netif_ok)
        return;
    if (!sw->acd_running && !sw->n_nb && now < sw->acd_alone_ms)
        return;
    sw->acd_running = true;
    if (!acdport_run(sw->acd, &sw->self, now, &ip))
        return;
    if (!ip && sw->ip4) {
        int err = netif_clear_ipv4(sw->bridge);
        if (err)
            log_warn(MOD, "%s: cannot remove its address: %s", sw->bridge, strerror(err));
    }
    sw->ip4 = ip;
    sw->next_netif_ms = 0;
    l2switch_netif(sw);
}

void l2switch_run(struct l2switch *sw)
{
    l2switch_refresh_ports(sw);
    l2switch_netif(sw);
    l2switch_acd(sw);
    ofchannel_run(sw->ch);
    long long now = time_msec();
    /* the first poll waits for the port list: restoring the MAC table
     * needs to know which port leads to which peer */
    if (now >= sw->next_poll_ms && ofchannel_is_connected(sw->ch) && sw->n_ports) {
        int err = ofchannel_request_flows(sw->ch);
        if (err && err != EBUSY)
            log_debug(MOD, "%s: flow counters not polled: %s", sw->bridge, strerror(err));
        sw->next_poll_ms = now + L2SWITCH_POLL_MS;
    }
    if (now >= sw->next_announce_ms && ofchannel_is_connected(sw->ch) && sw->have_self) {
        l2switch_announce_all(sw);
        /* a claimed address too: a node now in reach may hold the same */
        if (sw->acd)
            acdport_reannounce(sw->acd, now);
        size_t steps = sizeof l2switch_announce_after_ms / sizeof l2switch_announce_after_ms[0];
        if (sw->announce_step < (int)steps)
            sw->announce_step++;
        sw->next_announce_ms = sw->announce_step < (int)steps
            ? sw->links_changed_ms + l2switch_announce_after_ms[sw->announce_step]
            : now + L2SWITCH_ANNOUNCE_MS;
    }
    if (now >= sw->next_expire_ms) {
        size_t n = fdb_expire(sw->fdb, now);
        if (n)
            log_debug(MOD, "%s: %zu MACs aged out", sw->bridge, n);
        sw->next_expire_ms = now + L2SWITCH_EXPIRE_MS;
    }
}

/* Tells every node about every local MAC (a flood each). */
static void l2switch_announce_all(struct l2switch *sw)
{
    const struct fdb *f = l2switch_fdb(sw);        /* without the aged entries */
    size_t pos = 0, n = 0;
    const struct fdb_entry *e;
    while ((e = fdb_next(f, &pos))) {
        if (!e->peer[0]) {
            l2switch_announce(sw, e->mac);
            n++;
        }
    }
    if (n)
        log_debug(MOD, "%s: announced %zu local MACs", sw->bridge, n);
}

void l2switch_wait(struct l2switch *sw)
{
    ofchannel_wait(sw->ch);
    poll_timer_wait_until(sw->next_expire_ms);
    poll_timer_wait_until(sw->next_netif_ms);
    if (sw->acd) {
        acdport_wait(sw->acd);
        if (!sw->acd_running && time_msec() < sw->acd_alone_ms)
            poll_timer_wait_until(sw->acd_alone_ms);
    }
    if (ofchannel_is_connected(sw->ch)) {
        poll_timer_wait_until(sw->next_poll_ms);
        if (sw->have_self)
            poll_timer_wait_until(sw->next_announce_ms);
    }
}

static void l2switch_connected(void *aux)
{
    struct l2switch *sw = aux;
    log_info(MOD, "%s: controlling the bridge (%zu ports, %zu MACs known)", sw->bridge,
             sw->n_ports, fdb_count(sw->fdb));
}

/* Learns that SRC sits behind IN_PORT, on node PEER ("" = this one; NULL:
 * not known, the frame came as a plain one from a neighbour).
 *
 * A remote MAC keeps its port while its node stays the same: frames of one
 * host may arrive over different paths (the flood tree one way, unicast
 * along another), each of which leads back to it, and flipping between them
 * would only delete working flows. It moves when a flood says it now lives
 * behind another node (a VM that migrated and sent a gratuitous ARP), and
 * onto a direct link when its node has one.
 *
 * Returns false when a neighbour claimed a local MAC in its hold-down
 * (fdb.h): such a frame is not handed to local ports either, where a
 * bridge of containers or VMs would learn the MAC from it. */
static bool l2switch_learn(struct l2switch *sw, const struct bridge_port *in, const uint8_t *src,
                           const char *peer, long long now)
{
    const struct fdb_entry *e = fdb_lookup(sw->fdb, src, now);
    char root[FDB_PEER_LEN + 1];
    uint32_t port = in->ofport;
    if (peer && !peer[0]) {
        root[0] = '\0';                     /* a local host: wherever it is now */
    } else if (e && e->peer[0] && (!peer || !strcmp(e->peer, peer))) {
        snprintf(root, sizeof root, "%s", e->peer);
        port = e->port;
    } else {
        /* a plain frame names no node: the neighbour stands in until a
         * flood (at the latest the MAC's announcement) tells */
        snprintf(root, sizeof root, "%s", peer ? peer : in->peer);
    }
    uint32_t direct = l2switch_direct_port(sw, root);
    if (direct)
        port = direct;
    enum fdb_learn_result r = fdb_learn(sw->fdb, src, port, root, now);
    if (r == FDB_LEARN_HELD || r == FDB_LEARN_PORT_FULL) {
        /* counted against the port the claim came in on */
        portguard_count(&sw->guard, in->ofport, r == FDB_LEARN_HELD ? PORTGUARD_MAC_HELD
                                                                    : PORTGUARD_MAC_OVER_LIMIT);
        char m[18];
        fdb_format_mac(src, m);
        log_warn_rl(&l2switch_rl, MOD, "%s: %s from %s not learnt: %s", sw->bridge, m, in->name,
                    r == FDB_LEARN_HELD ? "a local MAC in its hold-down"
                                        : "the port holds its maximum of MACs");
        return r != FDB_LEARN_HELD;
    } else if (r == FDB_LEARN_NEW) {
        sw->stats.learned++;
        if (!root[0])
            l2switch_announce(sw, src);
    } else if (r == FDB_LEARN_MOVED) {
        /* The old flow still points at the previous port. */
        sw->stats.moved++;
        ofchannel_delete_mac(sw->ch, src);
        char m[18];
        fdb_format_mac(src, m);
        const char *to = l2switch_port_name(sw, port);
        log_info(MOD, "%s: %s moved to %s (node %.12s)", sw->bridge, m, to ? to : "?",
                 root[0] ? root : "local");
    }
    return true;
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

    /* decided before anything is learnt: a refused flood teaches nothing */
    static struct bflood_fwd out[BFLOOD_MAX_NEIGHBOURS];
    struct bflood_decision d;
    bflood_decide(&sw->self, sw->nb_peers, sw->n_nb, &h, &from, out, BFLOOD_MAX_NEIGHBOURS, &d);
    if (d.verdict == BFLOOD_LOOP || d.verdict == BFLOOD_OUTSIDE_INTERVAL
        || d.verdict == BFLOOD_BAD_ROOT) {
        sw->stats.flood_refused[d.verdict]++;
        if (d.verdict == BFLOOD_BAD_ROOT)
            portguard_count(&sw->guard, in->ofport, PORTGUARD_FLOOD_BAD_ROOT);
        log_warn_rl(&l2switch_rl, MOD, "%s: flood frame from %s dropped: %s", sw->bridge,
                    in->name, bflood_verdict_name(d.verdict));
        return;
    }

    char root[NODEID_HEX_LEN + 1];
    nodeid_format(&h.root, root);
    if (h.type == BFLOOD_QUERY) {
        sw->stats.queries_rx++;
        const struct fdb_entry *e = fdb_lookup(sw->fdb, frame, now);
        if (e && !e->peer[0] && l2switch_may_ask(sw, frame, now)
            && portguard_query(&sw->guard, in->ofport, now))
            l2switch_announce(sw, frame);   /* it is ours: say so */
    } else if (!flood_mac_is_multicast(frame + 6) && !l2switch_learn(sw, in, frame + 6, root, now)) {
        d.deliver = false;          /* a local MAC's claim: passed on, not delivered */
    }
    if (d.verdict == BFLOOD_HOPS_EXHAUSTED)
        sw->stats.flood_refused[d.verdict]++;
    if (h.type == BFLOOD_ANNOUNCE || h.type == BFLOOD_QUERY)
        d.deliver = false;          /* for switches only */
    if (h.type == BFLOOD_ANNOUNCE)
        sw->stats.announces_rx++;
    uint32_t leaves[BRIDGE_MAX_PORTS];
    size_t n_leaves = d.deliver ? l2switch_leaves(sw, in->ofport, leaves) : 0;
    if (n_leaves)
        ofchannel_packet_out(sw->ch, in->ofport, leaves, n_leaves, frame, flen);
    /* FRAME points into the packet-in, apart from the encapsulation buffer */
    l2switch_flood_send(sw, in->ofport, &h.root, h.type, &d, out, frame, flen);
}

/* The rate limit of queries and of the answers to them: true (and MAC
 * remembered as done now) unless MAC had one within L2SWITCH_ASK_GAP_MS. */
static bool l2switch_may_ask(struct l2switch *sw, const uint8_t mac[6], long long now)
{
    for (size_t i = 0; i < L2SWITCH_RECENT; i++) {
        if (!memcmp(sw->recent[i].mac, mac, 6) && sw->recent[i].ms
            && now - sw->recent[i].ms < L2SWITCH_ASK_GAP_MS)
            return false;
    }
    memcpy(sw->recent[sw->recent_next].mac, mac, 6);
    sw->recent[sw->recent_next].ms = now;
    sw->recent_next = (sw->recent_next + 1) % L2SWITCH_RECENT;
    return true;
}

/* Floods, as root, a switch-to-switch message of TYPE whose inner frame is
 * a bare Ethernet header DST, SRC, BFLOOD_ANNOUNCE_ETHERTYPE. Returns false
 * when there is no one to send it to yet. */
static bool l2switch_flood_bare(struct l2switch *sw, uint8_t type, const uint8_t dst[6],
                                const uint8_t src[6])
{
    if (!sw->have_self || !sw->n_nb || !ofchannel_is_connected(sw->ch))
        return false;
    uint8_t inner[14];
    memcpy(inner, dst, 6);
    memcpy(inner + 6, src, 6);
    inner[12] = BFLOOD_ANNOUNCE_ETHERTYPE >> 8;
    inner[13] = BFLOOD_ANNOUNCE_ETHERTYPE & 0xff;
    static struct bflood_fwd out[BFLOOD_MAX_NEIGHBOURS];
    struct bflood_decision d;
    bflood_decide(&sw->self, sw->nb_peers, sw->n_nb, NULL, NULL, out, BFLOOD_MAX_NEIGHBOURS, &d);
    l2switch_flood_send(sw, L2SWITCH_PORT_CONTROLLER, &sw->self, type, &d, out, inner,
                        sizeof inner);
    return true;
}

/* Asks every node where MAC lives: its own node answers with an
 * announcement. Sent when a unicast frame for a MAC we do not know comes
 * from a neighbour: a plain frame from a peer port is never flooded on, so
 * without an answer its flow would stay dark until the MAC's next
 * broadcast (after a link went down and took the MAC's entry along). */
static void l2switch_query(struct l2switch *sw, uint32_t in_port, const uint8_t mac[6],
                           long long now)
{
    /* one per MAC a second, and a budget per port whose frames ask: a
     * neighbour sending to ever new MACs cannot make us flood the overlay
     * with queries (issue 16) */
    if (l2switch_may_ask(sw, mac, now) && portguard_query(&sw->guard, in_port, now)
        && l2switch_flood_bare(sw, BFLOOD_QUERY, mac, l2switch_flood_src))
        sw->stats.queries_tx++;
}

/* Floods an announcement that MAC (a local one) lives behind this node, so
 * every switch knows the MAC's node even if it only ever saw the MAC's
 * unicast frames (which do not say where they started). */
static void l2switch_announce(struct l2switch *sw, const uint8_t mac[6])
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    if (l2switch_flood_bare(sw, BFLOOD_ANNOUNCE, bcast, mac))
        sw->stats.announces_tx++;
}

static void l2switch_packet_in(void *aux, uint32_t in_port, const uint8_t *frame, size_t len)
{
    struct l2switch *sw = aux;
    long long now = time_msec();
    sw->stats.packet_ins++;
    /* metered per ingress port before any work (portguard.h says why here) */
    if (!portguard_packet_in(&sw->guard, in_port, now))
        return;

    const struct bridge_port *in = l2switch_port(sw, in_port);
    if (in && in->peer[0] && len >= 14 && frame[12] == (BFLOOD_ETHERTYPE >> 8)
        && frame[13] == (BFLOOD_ETHERTYPE & 0xff)) {
        l2switch_flood_in(sw, in, frame, len, now);
        return;
    }
    /* A host with checksum offload (a veth's default) sends TCP/UDP with a
     * partial checksum; the datapath keeps that state on its own path but
     * not in a packet-in, so what we send on would be dropped by its
     * receiver. Frames from peers were completed by their first switch. */
    if (l4csum_is_partial(frame, len) && len <= sizeof l2switch_csum_buf) {
        memcpy(l2switch_csum_buf, frame, len);
        l4csum_complete(l2switch_csum_buf, len);
        frame = l2switch_csum_buf;
        sw->stats.csum_completed++;
    }
    if (in && len >= 14 && !l2switch_learn(sw, in, frame + 6, in->peer[0] ? NULL : "", now))
        return;                     /* a local MAC from a neighbour: dropped */

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
        /* from a leaf: a flow of that port's own, whose counters tell the
         * local traffic to each far node (shortcuts) */
        ofchannel_flow_to_mac(sw->ch, in && !in->peer[0] ? in_port : 0, frame, d.out[0],
                              L2SWITCH_FLOW_IDLE_S);
        break;
    case FLOOD_FLOOD:
        sw->stats.flooded++;
        break;
    }

    bool from_leaf = in && !in->peer[0];
    if (d.verdict == FLOOD_FLOOD && in && !from_leaf && !flood_mac_is_multicast(frame))
        l2switch_query(sw, in_port, frame, now);
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

/* ---- flow counters: restore after a restart, shortcuts ---------------- */

/* After our restart the switch still holds the flows of the previous run:
 * each names a MAC and its port, so the MAC table starts from them. The
 * node behind a peer port stands in for the MAC's node until a flood tells
 * the real one. */
static void l2switch_restore(struct l2switch *sw, const struct ofchannel_flow *flows, size_t n)
{
    long long now = time_msec();
    size_t restored = 0, unicast = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ofchannel_flow *f = &flows[i];
        const struct bridge_port *p = f->has_dl_dst ? l2switch_port(sw, f->out_port) : NULL;
        unicast += p != NULL;
        if (!p || fdb_lookup(sw->fdb, f->dl_dst, now))
            continue;
        if (fdb_learn(sw->fdb, f->dl_dst, p->ofport, p->peer, now) == FDB_LEARN_NEW)
            restored++;
    }
    sw->stats.restored += restored;
    if (unicast)
        log_info(MOD, "%s: took over %zu unicast flows, %zu MACs restored from them",
                 sw->bridge, unicast, restored);
}

/* Rates of local traffic per far node since the previous poll -> hints. */
static void l2switch_shortcuts(struct l2switch *sw, const struct ofchannel_flow *flows, size_t n)
{
    long long now = time_msec();
    struct shortcut_sample *cur = calloc(n ? n : 1, sizeof *cur);
    struct shortcut_load *loads = calloc(n ? n : 1, sizeof *loads);
    if (!cur || !loads) {
        free(cur);
        free(loads);
        return;
    }
    size_t n_cur = 0, n_loads = 0;
    for (size_t i = 0; i < n; i++) {
        const struct bridge_port *in = flows[i].in_port ? l2switch_port(sw, flows[i].in_port)
                                                         : NULL;
        if (!in || in->peer[0] || !flows[i].has_dl_dst)
            continue;               /* only what local hosts send */
        struct shortcut_sample *c = &cur[n_cur++];
        c->in_port = flows[i].in_port;
        memcpy(c->dst, flows[i].dl_dst, 6);
        c->bytes = flows[i].bytes;
        const struct fdb_entry *e = fdb_lookup(sw->fdb, c->dst, now);
        struct nodeid peer;
        if (!e || !e->peer[0] || !nodeid_parse(e->peer, &peer))
            continue;               /* local, or not known */
        loads[n_loads++] = (struct shortcut_load){
            .peer = peer,
            .bytes = shortcut_delta(sw->prev, sw->n_prev, c),
            .adjacent = l2switch_port_of_peer(sw, &peer) != 0,
        };
    }
    if (sw->prev_ms && sw->hint_cb) {
        struct shortcut_hint hints[L2SWITCH_MAX_HINTS];
        size_t nh = shortcut_decide(loads, n_loads, now - sw->prev_ms, sw->threshold_kbps,
                                    hints, L2SWITCH_MAX_HINTS);
        for (size_t i = 0; i < nh; i++) {
            sw->stats.shortcut_hints++;
            sw->hint_cb(sw->hint_aux, sw->overlay, &hints[i]);
        }
    }
    shortcut_sort(cur, n_cur);
    free(sw->prev);
    free(loads);
    sw->prev = cur;
    sw->n_prev = n_cur;
    sw->prev_ms = now;
}

static void l2switch_flows_in(void *aux, const struct ofchannel_flow *flows, size_t n)
{
    struct l2switch *sw = aux;
    struct ofchannel_flow *copy = malloc((n ? n : 1) * sizeof *copy);
    if (copy) {
        memcpy(copy, flows, n * sizeof *copy);
        free(sw->flows);
        sw->flows = copy;
        sw->n_flows = n;
        sw->flows_ms = time_msec();
    }
    if (!sw->restored) {
        sw->restored = true;
        l2switch_restore(sw, flows, n);
    }
    /* A MAC that frames still go to is alive: its entry stays (frames that
     * flows carry never come up here to refresh it). */
    long long now = time_msec();
    for (size_t i = 0; i < n; i++) {
        if (!flows[i].has_dl_dst || flows[i].idle_age < 0
            || flows[i].idle_age > L2SWITCH_POLL_MS / 1000)
            continue;
        /* kept alive, but no sighting: a local MAC's hold-down runs from
         * when it last sent a frame up here */
        if (fdb_lookup(sw->fdb, flows[i].dl_dst, now))
            fdb_touch(sw->fdb, flows[i].dl_dst, now);
    }
    l2switch_shortcuts(sw, flows, n);
}
