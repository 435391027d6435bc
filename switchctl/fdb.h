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

struct fdb_entry {
    uint8_t mac[6];
    uint32_t port;                      /* OpenFlow port number */
    char peer[FDB_PEER_LEN + 1];        /* node behind the port; "" = local */
    long long last_seen_ms;
};

enum fdb_learn_result {
    FDB_LEARN_NEW,          /* first time seen (may have evicted the oldest) */
    FDB_LEARN_MOVED,        /* known, now on another port or behind another peer */
    FDB_LEARN_REFRESHED,    /* known, same place: only the age was reset */
    FDB_LEARN_INVALID,      /* multicast or all-zero source: not learnable */
};

struct fdb;

/* Returns a table holding up to MAX_ENTRIES entries that expire AGING_S
 * seconds after last seen, or NULL on allocation failure. Caller frees it
 * with fdb_destroy(). */
struct fdb *fdb_create(size_t max_entries, int aging_s);
void fdb_destroy(struct fdb *);                 /* accepts NULL */

/* Records that MAC was seen as a source on PORT behind PEER (NULL or "" for
 * a local port) at NOW_MS. When the table is full, the least recently seen
 * entry makes room. */
enum fdb_learn_result fdb_learn(struct fdb *, const uint8_t mac[6], uint32_t port,
                                const char *peer, long long now_ms);

/* Returns the live entry for MAC, or NULL when unknown or aged out. The
 * pointer is valid until the next call that changes the table. */
const struct fdb_entry *fdb_lookup(const struct fdb *, const uint8_t mac[6],
                                   long long now_ms);

bool fdb_forget(struct fdb *, const uint8_t mac[6]);
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
