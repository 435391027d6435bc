/* evio-switchctl's view of the Open vSwitch database: it keeps one bridge per
 * overlay as configured (datapath, fail mode, OpenFlow 1.3, a passive unix
 * controller socket, the internal port and its MTU) and applies the
 * port/add and port/remove requests. The database is the state: ports found
 * there after a restart are taken over as they are, with the peer read back
 * from the Port's external_ids:evio-peer. The only file that uses the
 * vswitch IDL. */
#ifndef SWITCHCTL_BRIDGE_H
#define SWITCHCTL_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRIDGE_MAX_PORTS 256
#define BRIDGE_NAME_MAX  15         /* Linux IFNAMSIZ - 1 */

struct bridge_db;

struct bridge_port {
    char name[BRIDGE_NAME_MAX + 1];
    uint32_t ofport;                /* 0 until ovs-vswitchd assigns it */
    bool failed;                    /* ovs-vswitchd could not open it (ofport -1) */
    bool internal;                  /* the bridge's own port (OpenFlow LOCAL) */
    char peer[33];                  /* node id behind it, "" for a leaf port */
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
};

/* Connects (and keeps reconnecting) to the database at REMOTE
 * ("unix:/run/openvswitch/db.sock"). OVS_RUNDIR is ovs-vswitchd's run
 * directory, where the controller sockets must live. Returns NULL on
 * allocation failure. */
struct bridge_db *bridge_db_create(const char *remote, const char *ovs_rundir);
void bridge_db_destroy(struct bridge_db *);     /* accepts NULL */

/* Declares the bridge of OVERLAY. Returns 0, or EINVAL/ENOSPC with *ERR
 * (malloc'd) saying why. */
int bridge_db_add_bridge(struct bridge_db *, const char *overlay, const char *bridge,
                         int mtu, char **err);

void bridge_db_run(struct bridge_db *);
void bridge_db_wait(struct bridge_db *);

/* Changes whenever the replicated database changes (ports, ofports, stats). */
unsigned int bridge_db_seqno(const struct bridge_db *);
bool bridge_db_connected(const struct bridge_db *);

/* The target evio-switchctl connects to as OpenFlow controller
 * ("unix:DIR/BRIDGE.evio"), or NULL for an undeclared bridge. */
const char *bridge_db_controller(const struct bridge_db *, const char *bridge);
/* The datapath type the bridge has in the database ("netdev", "system"), or
 * NULL until it exists there. */
const char *bridge_db_datapath_type(const struct bridge_db *, const char *bridge);

/* Requests that PORT (an existing network device) be attached to BRIDGE
 * with PEER (32 hex digits) behind it; again with the same arguments is a
 * no-op. Returns 0, or a positive errno with *ERR (malloc'd): EINVAL bad
 * name, ENODEV no such device, EEXIST on another bridge, EAGAIN database not
 * read yet. */
int bridge_db_port_add(struct bridge_db *, const char *bridge, const char *port,
                       const char *peer, char **err);
/* Requests that PORT leave BRIDGE. ENOENT if it is not there. */
int bridge_db_port_remove(struct bridge_db *, const char *bridge, const char *port,
                          char **err);

/* Fills OUT with up to MAX ports of BRIDGE as last read from the database
 * (pending requests are not shown); returns how many. */
size_t bridge_db_ports(const struct bridge_db *, const char *bridge,
                       struct bridge_port *out, size_t max);

bool bridge_port_name_valid(const char *name);

#endif
