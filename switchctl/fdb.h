/* evio-switchctl's MAC learning table (one per overlay): which port, and
 * behind it which peer node, a source MAC was last seen on. Pure: the caller
 * passes the time, so it is unit tested without a switch. */
#ifndef SWITCHCTL_FDB_H
#define SWITCHCTL_FDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FDB_DEFAULT_AGING_S 300
#define FDB_DEFAULT_MAX     4096
#define FDB_PEER_LEN        32          /* node id: 32 hex digits */
/* What evio-switchctl sets with fdb_set_limits() (fdb_create() starts with
 * no hold-down and no per-port limit). A local MAC seen as a source on a
 * local port within the last 60 s is not moved behind a peer: a host that
 * really left (a VM migrated) is quiet here, and its new node's
 * announcements (every 60 s) move it after at most two minutes. A peer port
 * leads to a part of the overlay, so it may hold a quarter of the table; a
 * local port as much (a Flannel VXLAN device or a bridge of containers sits
 * behind one), so no single port can fill the table. */
#define FDB_DEFAULT_HOLD_DOWN_S  60
#define FDB_DEFAULT_PORT_MAX     (FDB_DEFAULT_MAX / 4)

struct fdb_entry {
    uint8_t mac[6];
    uint32_t port;                      /* OpenFlow port number */
    char peer[FDB_PEER_LEN + 1];        /* node behind the port; "" = local */
    long long last_seen_ms;
    long long local_ms;                 /* last seen as a source on a local
                                         * port (peer ""); 0: never */
};

/* The table's defences against a neighbour (issue 16). 0 = none. */
struct fdb_limits {
    int hold_down_s;            /* a local MAC seen locally this recently
                                 * is not moved behind a peer */
    size_t peer_port_max;       /* entries per port that leads to a peer */
    size_t local_port_max;      /* entries per local port */
    uint32_t pin_port;          /* a local port whose MACs are held as long
                                 * as they live, not only for the hold-down
                                 * (the bridge's own port: its MAC never
                                 * moves); 0: none */
};

enum fdb_learn_result {
    FDB_LEARN_NEW,          /* first time seen (may have evicted the oldest) */
    FDB_LEARN_MOVED,        /* known, now on another port or behind another peer */
    FDB_LEARN_REFRESHED,    /* known, same place: only the age was reset */
    FDB_LEARN_INVALID,      /* multicast or all-zero source: not learnable */
    FDB_LEARN_HELD,         /* refused: a local MAC seen locally within the
                             * hold-down, claimed from behind a peer */
    FDB_LEARN_PORT_FULL,    /* refused: the port holds its maximum of MACs */
};

struct fdb;

/* Returns a table holding up to MAX_ENTRIES entries that expire AGING_S
 * seconds after last seen, or NULL on allocation failure. Caller frees it
 * with fdb_destroy(). */
struct fdb *fdb_create(size_t max_entries, int aging_s);
void fdb_destroy(struct fdb *);                 /* accepts NULL */

/* Sets the limits (copied). Entries already in the table stay. */
void fdb_set_limits(struct fdb *, const struct fdb_limits *);

/* Records that MAC was seen as a source on PORT behind PEER (NULL or "" for
 * a local port) at NOW_MS. When the table is full, the least recently seen
 * entry makes room. Refused, with nothing changed:
 *  - FDB_LEARN_HELD: MAC is live and local, was seen on a local port less
 *    than hold_down_s ago or sits on pin_port, and PEER is not "" (a
 *    neighbour claims it);
 *  - FDB_LEARN_PORT_FULL: MAC is new here, or moves to PORT, and PORT
 *    already holds its maximum of live entries (peer_port_max when PEER is
 *    not "", else local_port_max). */
enum fdb_learn_result fdb_learn(struct fdb *, const uint8_t mac[6], uint32_t port,
                                const char *peer, long long now_ms);

/* Returns the live entry for MAC, or NULL when unknown or aged out. The
 * pointer is valid until the next call that changes the table. */
const struct fdb_entry *fdb_lookup(const struct fdb *, const uint8_t mac[6],
                                   long long now_ms);

bool fdb_forget(struct fdb *, const uint8_t mac[6]);
/* Keeps MAC's entry alive at NOW_MS (frames still go to it) without
 * counting as a sighting on its port: the hold-down does not restart.
 * False when MAC is not in the table. */
bool fdb_touch(struct fdb *, const uint8_t mac[6], long long now_ms);
/* Live entries on PORT. */
size_t fdb_port_count(const struct fdb *, uint32_t port, long long now_ms);
/* Points the entry for MAC at PORT, keeping its peer and age; false when
 * MAC is not in the table. Safe during a walk with fdb_next(). */
bool fdb_set_port(struct fdb *, const uint8_t mac[6], uint32_t port);
/* Each returns how many entries were removed. */
size_t fdb_expire(struct fdb *, long long now_ms);
size_t fdb_flush_port(struct fdb *, uint32_t port);
void fdb_flush(struct fdb *);

size_t fdb_count(const struct fdb *);
unsigned long fdb_evictions(const struct fdb *);
int fdb_aging_s(const struct fdb *);

/* Iteration in no particular order: start with *POS = 0; returns NULL at
 * the end. The table must not change during the walk. */
const struct fdb_entry *fdb_next(const struct fdb *, size_t *pos);

/* "aa:bb:cc:dd:ee:ff"; OUT needs 18 bytes. */
void fdb_format_mac(const uint8_t mac[6], char out[18]);

#endif
