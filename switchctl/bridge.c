/* evio-switchctl's OVSDB adapter: keeps each overlay's bridge as configured
 * and applies port requests, through the vswitch IDL and one transaction
 * per main-loop iteration (ovsdb_idl_loop). Nothing here blocks.
 *
 * Requests are kept as pending intents until the replicated database shows
 * them done, so a transaction lost to a reconnect is simply written again. */
#include <config.h>
#include "bridge.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/ovsdb-idl.h"
#include "lib/vswitch-idl.h"
#include "openvswitch/poll-loop.h"
#include "lib/smap.h"

#include "evio/config.h"
#include "evio/log.h"

#define MOD "bridge"
#define BRIDGE_PEER_KEY    "evio-peer"
#define BRIDGE_OVERLAY_KEY "evio-overlay"
#define BRIDGE_MAX_ATTEMPTS 5       /* failed commits before a request is dropped */
#define BRIDGE_TSO_KEY     "userspace-tso-enable"

struct bridge_intent {
    char port[BRIDGE_NAME_MAX + 1];
    char peer[33];
    bool remove;
    int attempts;
};

struct bridge_cfg {
    char *overlay;
    char *name;
    int mtu;
    const char *datapath_type;      /* what we create it with */
    char *ovsdb_target;             /* punix:... that ovs-vswitchd listens on */
    char *connect_target;           /* unix:... that we connect to */
    struct bridge_intent intents[BRIDGE_MAX_PORTS];
    size_t n_intents;
    bool warned_datapath;
    bool warned_tso;
};

struct bridge_db {
    struct ovsdb_idl_loop loop;
    char *rundir;
    struct bridge_cfg bridges[CONFIG_MAX_OVERLAYS];
    size_t n_bridges;
    bool was_connected;
    bool warned_no_root;
};

static struct log_ratelimit bridge_rl = LOG_RATELIMIT_INIT(10, 5);

static char *bridge_xasprintf(const char *fmt, const char *a, const char *b)
{
    char *s;
    if (asprintf(&s, fmt, a, b) < 0)
        return NULL;
    return s;
}

bool bridge_port_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > BRIDGE_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool bridge_peer_valid(const char *peer)
{
    if (!peer || strlen(peer) != 32)
        return false;
    for (int i = 0; i < 32; i++) {
        char c = peer[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

struct bridge_db *bridge_db_create(const char *remote, const char *ovs_rundir)
{
    struct bridge_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->rundir = strdup(ovs_rundir);
    /* retry=true: the IDL reconnects with backoff whenever the server goes. */
    db->loop.idl = ovsdb_idl_create(remote, &ovsrec_idl_class, true, true);
    if (!db->rundir || !db->loop.idl) {
        bridge_db_destroy(db);
        return NULL;
    }
    return db;
}

void bridge_db_destroy(struct bridge_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->n_bridges; i++) {
        struct bridge_cfg *b = &db->bridges[i];
        free(b->overlay);
        free(b->name);
        free(b->ovsdb_target);
        free(b->connect_target);
    }
    if (db->loop.idl)
        ovsdb_idl_loop_destroy(&db->loop);
    free(db->rundir);
    free(db);
}

static struct bridge_cfg *bridge_cfg_find(const struct bridge_db *db, const char *name)
{
    for (size_t i = 0; i < db->n_bridges; i++)
        if (!strcmp(db->bridges[i].name, name))
            return (struct bridge_cfg *)&db->bridges[i];
    return NULL;
}

int bridge_db_add_bridge(struct bridge_db *db, const char *overlay, const char *bridge,
                         int mtu, char **err)
{
    if (!bridge_port_name_valid(bridge)) {
        *err = bridge_xasprintf("overlay %s: invalid bridge name \"%s\"", overlay, bridge);
        return EINVAL;
    }
    if (bridge_cfg_find(db, bridge)) {
        *err = bridge_xasprintf("overlay %s: bridge %s used twice", overlay, bridge);
        return EINVAL;
    }
    if (db->n_bridges >= CONFIG_MAX_OVERLAYS) {
        *err = bridge_xasprintf("overlay %s%s: too many bridges", overlay, "");
        return ENOSPC;
    }
    struct bridge_cfg *b = &db->bridges[db->n_bridges];
    memset(b, 0, sizeof *b);
    b->overlay = strdup(overlay);
    b->name = strdup(bridge);
    b->mtu = mtu;
    b->ovsdb_target = bridge_xasprintf("punix:%s/%s.evio", db->rundir, bridge);
    b->connect_target = bridge_xasprintf("unix:%s/%s.evio", db->rundir, bridge);
    if (!b->overlay || !b->name || !b->ovsdb_target || !b->connect_target) {
        *err = strdup("out of memory");
        return ENOMEM;
    }
    /* The userspace datapath works everywhere but is slower; the kernel one
     * needs the module, which containers and CI often lack. */
    if (access("/sys/module/openvswitch", F_OK) == 0) {
        b->datapath_type = "system";
        log_info(MOD, "bridge %s: datapath system (openvswitch kernel module loaded)", bridge);
    } else {
        b->datapath_type = "netdev";
        log_info(MOD, "bridge %s: datapath netdev (no openvswitch kernel module)", bridge);
    }
    db->n_bridges++;
    return 0;
}

/* ---- reading the replica -------------------------------------------- */

static const struct ovsrec_bridge *bridge_row(const struct bridge_db *db, const char *name)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, db->loop.idl)
        if (!strcmp(br->name, name))
            return br;
    return NULL;
}

static const struct ovsrec_port *bridge_port_row(const struct ovsrec_bridge *br, const char *name)
{
    for (size_t i = 0; br && i < br->n_ports; i++)
        if (!strcmp(br->ports[i]->name, name))
            return br->ports[i];
    return NULL;
}

static const char *bridge_port_peer(const struct ovsrec_port *p)
{
    const char *peer = smap_get(&p->external_ids, BRIDGE_PEER_KEY);
    return peer ? peer : "";
}

unsigned int bridge_db_seqno(const struct bridge_db *db)
{
    return ovsdb_idl_get_seqno(db->loop.idl);
}

bool bridge_db_connected(const struct bridge_db *db)
{
    return ovsdb_idl_is_connected(db->loop.idl) && ovsdb_idl_has_ever_connected(db->loop.idl);
}

const char *bridge_db_controller(const struct bridge_db *db, const char *bridge)
{
    const struct bridge_cfg *b = bridge_cfg_find(db, bridge);
    return b ? b->connect_target : NULL;
}

const char *bridge_db_datapath_type(const struct bridge_db *db, const char *bridge)
{
    const struct ovsrec_bridge *br = bridge_row(db, bridge);
    if (!br)
        return NULL;
    return br->datapath_type[0] ? br->datapath_type : "system";
}

static uint64_t bridge_stat(const struct ovsrec_interface *ifc, const char *key)
{
    for (size_t i = 0; i < ifc->n_statistics; i++)
        if (!strcmp(ifc->key_statistics[i], key))
            return ifc->value_statistics[i] > 0 ? (uint64_t)ifc->value_statistics[i] : 0;
    return 0;
}

size_t bridge_db_ports(const struct bridge_db *db, const char *bridge,
                       struct bridge_port *out, size_t max)
{
    const struct ovsrec_bridge *br = bridge_row(db, bridge);
    size_t n = 0;
    for (size_t i = 0; br && i < br->n_ports && n < max; i++) {
        const struct ovsrec_port *p = br->ports[i];
        struct bridge_port *bp = &out[n];
        memset(bp, 0, sizeof *bp);
        snprintf(bp->name, sizeof bp->name, "%s", p->name);
        snprintf(bp->peer, sizeof bp->peer, "%s", bridge_port_peer(p));
        bp->internal = !strcmp(p->name, bridge);
        if (p->n_interfaces >= 1) {
            const struct ovsrec_interface *ifc = p->interfaces[0];
            if (ifc->n_ofport >= 1) {
                if (ifc->ofport[0] > 0 && ifc->ofport[0] <= 0xffff)
                    bp->ofport = (uint32_t)ifc->ofport[0];
                else if (ifc->ofport[0] < 0)
                    bp->failed = true;
            }
            bp->rx_packets = bridge_stat(ifc, "rx_packets");
            bp->tx_packets = bridge_stat(ifc, "tx_packets");
            bp->rx_bytes = bridge_stat(ifc, "rx_bytes");
            bp->tx_bytes = bridge_stat(ifc, "tx_bytes");
        }
        n++;
    }
    return n;
}

/* ---- requests --------------------------------------------------------- */

static struct bridge_intent *bridge_intent_slot(struct bridge_cfg *b, const char *port)
{
    for (size_t i = 0; i < b->n_intents; i++)
        if (!strcmp(b->intents[i].port, port))
            return &b->intents[i];
    if (b->n_intents >= BRIDGE_MAX_PORTS)
        return NULL;
    struct bridge_intent *in = &b->intents[b->n_intents++];
    memset(in, 0, sizeof *in);
    snprintf(in->port, sizeof in->port, "%s", port);
    return in;
}

static void bridge_intent_drop(struct bridge_cfg *b, size_t i)
{
    b->intents[i] = b->intents[--b->n_intents];
}

int bridge_db_port_add(struct bridge_db *db, const char *bridge, const char *port,
                       const char *peer, char **err)
{
    struct bridge_cfg *b = bridge_cfg_find(db, bridge);
    if (!b) {
        *err = bridge_xasprintf("no bridge %s%s", bridge, "");
        return ENOENT;
    }
    if (!bridge_port_name_valid(port)) {
        *err = strdup("port: expected an interface name of 1-15 characters [A-Za-z0-9._-]");
        return EINVAL;
    }
    if (bridge_cfg_find(db, port)) {
        *err = bridge_xasprintf("port: %s is a bridge%s", port, "");
        return EINVAL;
    }
    if (!bridge_peer_valid(peer)) {
        *err = strdup("peer: expected a node id of 32 lowercase hex digits");
        return EINVAL;
    }
    if (!if_nametoindex(port)) {
        *err = bridge_xasprintf("port: no network device %s%s", port, "");
        return ENODEV;
    }
    if (!ovsdb_idl_has_ever_connected(db->loop.idl)) {
        *err = strdup("the Open vSwitch database has not been read yet, retry");
        return EAGAIN;
    }
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, db->loop.idl) {
        if (strcmp(br->name, bridge) && bridge_port_row(br, port)) {
            *err = bridge_xasprintf("port: %s is already on bridge %s", port, br->name);
            return EEXIST;
        }
    }
    const struct ovsrec_port *have = bridge_port_row(bridge_row(db, bridge), port);
    bool pending = false;
    for (size_t i = 0; i < b->n_intents; i++)
        pending |= !strcmp(b->intents[i].port, port);
    if (have && !pending && !strcmp(bridge_port_peer(have), peer))
        return 0;                   /* already so: a repeated request */
    struct bridge_intent *in = bridge_intent_slot(b, port);
    if (!in) {
        *err = strdup("too many pending port requests");
        return ENOSPC;
    }
    snprintf(in->peer, sizeof in->peer, "%s", peer);
    in->remove = false;
    in->attempts = 0;
    log_info(MOD, "bridge %s: adding port %s (peer %s)", bridge, port, peer);
    poll_immediate_wake();          /* written in the next iteration's transaction */
    return 0;
}

int bridge_db_port_remove(struct bridge_db *db, const char *bridge, const char *port,
                          char **err)
{
    struct bridge_cfg *b = bridge_cfg_find(db, bridge);
    if (!b) {
        *err = bridge_xasprintf("no bridge %s%s", bridge, "");
        return ENOENT;
    }
    if (!bridge_port_name_valid(port) || !strcmp(port, bridge)) {
        *err = strdup("port: expected the name of a port on the bridge (not its own port)");
        return EINVAL;
    }
    struct bridge_intent *pending = NULL;
    for (size_t i = 0; i < b->n_intents; i++)
        if (!strcmp(b->intents[i].port, port))
            pending = &b->intents[i];
    if (!bridge_port_row(bridge_row(db, bridge), port) && !(pending && !pending->remove)) {
        *err = bridge_xasprintf("port: %s is not on bridge %s", port, bridge);
        return ENOENT;
    }
    struct bridge_intent *in = pending ? pending : bridge_intent_slot(b, port);
    if (!in) {
        *err = strdup("too many pending port requests");
        return ENOSPC;
    }
    in->remove = true;
    in->attempts = 0;
    log_info(MOD, "bridge %s: removing port %s", bridge, port);
    poll_immediate_wake();
    return 0;
}

/* ---- reconciliation --------------------------------------------------- */

static struct ovsrec_interface *bridge_new_iface(struct ovsdb_idl_txn *txn, const char *name,
                                                 const char *type)
{
    struct ovsrec_interface *ifc = ovsrec_interface_insert(txn);
    ovsrec_interface_set_name(ifc, name);
    ovsrec_interface_set_type(ifc, type);
    return ifc;
}

static struct ovsrec_port *bridge_new_port(struct ovsdb_idl_txn *txn, struct ovsrec_interface *ifc)
{
    struct ovsrec_port *p = ovsrec_port_insert(txn);
    ovsrec_port_set_name(p, ifc->name);
    ovsrec_port_set_interfaces(p, &ifc, 1);
    return p;
}

static struct ovsrec_port *bridge_new_internal_port(struct ovsdb_idl_txn *txn,
                                                    const struct bridge_cfg *b)
{
    struct ovsrec_interface *ifc = bridge_new_iface(txn, b->name, "internal");
    int64_t mtu = b->mtu;
    ovsrec_interface_set_mtu_request(ifc, &mtu, 1);
    return bridge_new_port(txn, ifc);
}

static struct ovsrec_controller *bridge_new_controller(struct ovsdb_idl_txn *txn,
                                                       const struct bridge_cfg *b)
{
    struct ovsrec_controller *c = ovsrec_controller_insert(txn);
    ovsrec_controller_set_target(c, b->ovsdb_target);
    return c;
}

static void bridge_create(struct ovsdb_idl_txn *txn, const struct ovsrec_open_vswitch *ovs,
                          const struct bridge_cfg *b)
{
    static const char *protocols[] = { "OpenFlow13" };
    struct ovsrec_port *port = bridge_new_internal_port(txn, b);
    struct ovsrec_controller *ctl = bridge_new_controller(txn, b);
    struct ovsrec_bridge *br = ovsrec_bridge_insert(txn);
    ovsrec_bridge_set_name(br, b->name);
    ovsrec_bridge_set_datapath_type(br, b->datapath_type);
    ovsrec_bridge_set_fail_mode(br, "secure");
    ovsrec_bridge_set_protocols(br, protocols, 1);
    ovsrec_bridge_set_controller(br, &ctl, 1);
    ovsrec_bridge_set_ports(br, &port, 1);
    ovsrec_bridge_update_external_ids_setkey(br, BRIDGE_OVERLAY_KEY, b->overlay);
    ovsrec_open_vswitch_update_bridges_addvalue(ovs, br);
    log_info(MOD, "bridge %s: creating (datapath %s, fail_mode secure, OpenFlow13, "
             "controller %s, mtu %d)", b->name, b->datapath_type, b->ovsdb_target, b->mtu);
}

/* Brings an existing bridge to what evio needs without touching what it
 * does not need to: no datapath change (that would drop traffic), no flows. */
static void bridge_repair(struct ovsdb_idl_txn *txn, struct bridge_cfg *b,
                          const struct ovsrec_open_vswitch *ovs,
                          const struct ovsrec_bridge *br)
{
    static const char *protocols[] = { "OpenFlow13" };
    const char *dp = br->datapath_type[0] ? br->datapath_type : "system";
    if (strcmp(dp, b->datapath_type) && !b->warned_datapath) {
        log_warn(MOD, "bridge %s: keeping datapath %s (would create it as %s)",
                 b->name, dp, b->datapath_type);
        b->warned_datapath = true;
    }
    /* Without it the userspace datapath reads frames as bare bytes: a host's
     * partial TCP/UDP checksums (a veth's default offload) go on unfinished
     * and are dropped by their receiver. It has to be there when
     * ovs-vswitchd starts (turned on under open ports it breaks them), so we
     * say so rather than set it. */
    if (!strcmp(dp, "netdev") && !smap_get_bool(&ovs->other_config, BRIDGE_TSO_KEY, false)
        && !b->warned_tso) {
        log_warn(MOD, "bridge %s: the netdev datapath needs other_config:" BRIDGE_TSO_KEY
                 "=true in the Open_vSwitch table, set before ovs-vswitchd starts, or TCP "
                 "and UDP from hosts with checksum offload (veths' default) are dropped; "
                 "see evio-switchctl(8)", b->name);
        b->warned_tso = true;
    }
    if (!br->fail_mode || strcmp(br->fail_mode, "secure")) {
        log_info(MOD, "bridge %s: setting fail_mode secure", b->name);
        ovsrec_bridge_set_fail_mode(br, "secure");
    }
    if (br->n_protocols != 1 || strcmp(br->protocols[0], "OpenFlow13")) {
        log_info(MOD, "bridge %s: setting protocols OpenFlow13", b->name);
        ovsrec_bridge_set_protocols(br, protocols, 1);
    }
    if (br->n_controller != 1 || strcmp(br->controller[0]->target, b->ovsdb_target)) {
        log_info(MOD, "bridge %s: setting controller %s", b->name, b->ovsdb_target);
        struct ovsrec_controller *ctl = bridge_new_controller(txn, b);
        ovsrec_bridge_set_controller(br, &ctl, 1);
    }
    const char *ov = smap_get(&br->external_ids, BRIDGE_OVERLAY_KEY);
    if (!ov || strcmp(ov, b->overlay))
        ovsrec_bridge_update_external_ids_setkey(br, BRIDGE_OVERLAY_KEY, b->overlay);

    const struct ovsrec_port *own = bridge_port_row(br, b->name);
    if (!own || own->n_interfaces < 1) {
        log_info(MOD, "bridge %s: adding its internal port", b->name);
        ovsrec_bridge_update_ports_addvalue(br, bridge_new_internal_port(txn, b));
    } else {
        const struct ovsrec_interface *ifc = own->interfaces[0];
        if (ifc->n_mtu_request != 1 || ifc->mtu_request[0] != b->mtu) {
            int64_t mtu = b->mtu;
            log_info(MOD, "bridge %s: setting mtu_request %d", b->name, b->mtu);
            ovsrec_interface_set_mtu_request(ifc, &mtu, 1);
        }
    }
}

static void bridge_apply_intents(struct ovsdb_idl_txn *txn, struct bridge_cfg *b,
                                 const struct ovsrec_bridge *br)
{
    for (size_t i = 0; i < b->n_intents;) {
        struct bridge_intent *in = &b->intents[i];
        const struct ovsrec_port *p = bridge_port_row(br, in->port);
        bool done = in->remove ? !p : p && !strcmp(bridge_port_peer(p), in->peer);
        if (done) {
            log_info(MOD, "bridge %s: port %s %s", b->name, in->port,
                     in->remove ? "removed" : "added");
            bridge_intent_drop(b, i);
            continue;
        }
        if (++in->attempts > BRIDGE_MAX_ATTEMPTS) {
            log_error(MOD, "bridge %s: giving up %s port %s after %d failed transactions",
                      b->name, in->remove ? "removing" : "adding", in->port,
                      BRIDGE_MAX_ATTEMPTS);
            bridge_intent_drop(b, i);
            continue;
        }
        if (in->remove) {
            ovsrec_bridge_update_ports_delvalue(br, p);
        } else if (p) {
            ovsrec_port_update_external_ids_setkey(p, BRIDGE_PEER_KEY, in->peer);
        } else {
            /* Type "" (system): the userspace datapath then opens the TAP
             * with a raw socket, leaving its fd to evio-tincan. */
            struct ovsrec_port *np = bridge_new_port(txn, bridge_new_iface(txn, in->port, ""));
            ovsrec_port_update_external_ids_setkey(np, BRIDGE_PEER_KEY, in->peer);
            ovsrec_bridge_update_ports_addvalue(br, np);
        }
        i++;
    }
}

static void bridge_reconcile(struct bridge_db *db, struct ovsdb_idl_txn *txn)
{
    const struct ovsrec_open_vswitch *ovs = ovsrec_open_vswitch_first(db->loop.idl);
    if (!ovs) {
        if (!db->warned_no_root)
            log_warn(MOD, "the database has no Open_vSwitch row (run ovs-vsctl init); waiting");
        db->warned_no_root = true;
        return;
    }
    db->warned_no_root = false;
    for (size_t i = 0; i < db->n_bridges; i++) {
        struct bridge_cfg *b = &db->bridges[i];
        const struct ovsrec_bridge *br = bridge_row(db, b->name);
        if (!br) {
            bridge_create(txn, ovs, b);
            continue;               /* ports go in once the bridge exists */
        }
        bridge_repair(txn, b, ovs, br);
        bridge_apply_intents(txn, b, br);
    }
}

void bridge_db_run(struct bridge_db *db)
{
    struct ovsdb_idl_txn *txn = ovsdb_idl_loop_run(&db->loop);
    bool connected = bridge_db_connected(db);
    if (connected != db->was_connected) {
        if (connected)
            log_info(MOD, "connected to the Open vSwitch database");
        else
            log_warn(MOD, "lost the Open vSwitch database, reconnecting");
        db->was_connected = connected;
    }
    if (txn && ovsdb_idl_has_ever_connected(db->loop.idl))
        bridge_reconcile(db, txn);
}

void bridge_db_wait(struct bridge_db *db)
{
    int r = ovsdb_idl_loop_commit_and_wait(&db->loop);
    if (r == 0)
        log_warn_rl(&bridge_rl, MOD, "database transaction failed; will retry");
}
