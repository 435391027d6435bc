/* The peers of one overlay as the agent knows them: a bounded table keyed
 * by node ID, and the per-peer token buckets that limit what one room
 * member can make the node do. Pure: no I/O, time passed in. The edge each
 * peer has with this node lives in the table too (negotiate.h drives it). */
#ifndef EVIO_PEER_H
#define EVIO_PEER_H

#include "evio/nodeid.h"
#include "sigmsg.h"
#include "topology.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- token buckets ----------------------------------------------------- */

/* BURST tokens at most, one more every PERIOD_MS. */
struct peer_bucket {
    int64_t tokens_ms;       /* tokens, scaled by PERIOD_MS (no floating point) */
    int64_t last_ms;
};

/* Takes one token at NOW_MS; returns false (and takes nothing) if none is left. */
bool peer_bucket_take(struct peer_bucket *, int burst, int64_t period_ms, int64_t now_ms);

/* ---- an edge's life ---------------------------------------------------- */

#define EDGE_STATES(X)                                                          \
    X(IDLE,       "idle")        /* nothing; may be requested */                \
    X(REQUESTED,  "requested")   /* we sent edge_req, awaiting edge_resp */     \
    X(CREATING,   "creating")    /* link/create in flight */                    \
    X(CONNECTING, "connecting")  /* link exists; ICE and DTLS under way */      \
    X(CONNECTED,  "connected")   /* the datapath reports the link up */         \
    X(BACKOFF,    "backoff")     /* failed; not retried before deadline */

enum edge_state {
#define X(name, text) EDGE_##name,
    EDGE_STATES(X)
#undef X
};
const char *edge_state_name(enum edge_state);

#define EDGE_ID_LEN       SIGMSG_HEX16_LEN
#define SESSION_LEN       SIGMSG_HEX16_LEN
#define LINK_ID_LEN       15        /* also the TAP name: IFNAMSIZ - 1 */
#define EDGE_REMOTE_CANDS 64        /* peer's candidates per edge, in all */
#define EDGE_LOCAL_CANDS  32        /* ours held until link/create's reply */

/* An edge is kept while either end wants it (doc/signalling.md, edge_want):
 * the local want comes from the topology plan, the remote one from the
 * peer's edge_req and edge_want messages. */
struct edge {
    enum edge_state state;
    bool initiator;                 /* we asked for it (we are ICE controlling) */
    bool local_want;                /* our plan wants it ... */
    enum edge_type local_type;      /* ... for this reason */
    bool told_want;                 /* what the peer last heard from us */
    bool remote_want;               /* the peer wants it ... */
    enum edge_type remote_type;     /* ... for this reason */
    char edge_id[EDGE_ID_LEN + 1];
    char link_id[LINK_ID_LEN + 1];
    bool link_asked;                /* link/create was asked for: must be removed */
    bool link_created;              /* ... and its reply came: the TAP exists */
    bool remote_creds_set;          /* the datapath has the peer's ufrag/pwd */
    char peer_fingerprint[SIGMSG_FPR_LEN + 1];
    char answered_by[SESSION_LEN + 1];  /* the peer session that accepted our request */
    bool have_remote_creds;         /* the peer's ufrag/pwd, until applied */
    char remote_ufrag[SIGMSG_ICE_MAX + 1];
    char remote_pwd[SIGMSG_ICE_MAX + 1];
    char **remote_cands;            /* the peer's, until applicable (malloc'd) */
    int n_remote_cands;             /* held now */
    int remote_cands_seen;          /* taken for this edge, at most EDGE_REMOTE_CANDS */
    char **local_cands;             /* ours, until the peer has our credentials */
    int n_local_cands;
    int64_t state_since_ms;
    int64_t deadline_ms;            /* timeout of the current state, 0 = none */
    int failures;                   /* consecutive, for the backoff */
    char last_error[200];           /* a datapath reason is up to 159 */
};

/* Frees what the edge holds (candidates) and zeroes nothing else. */
void edge_free_cands(struct edge *);

/* ---- the table --------------------------------------------------------- */

struct peer {
    struct nodeid id;
    char hex[NODEID_HEX_LEN + 1];
    bool present;                   /* in the overlay's room now */
    int64_t absent_since_ms;        /* when it left, or was first heard of without presence */
    char session[SESSION_LEN + 1];  /* the peer agent's session, once seen */
    struct peer_bucket req_bucket;  /* edge_req */
    struct peer_bucket msg_bucket;  /* every other message */
    struct edge edge;
};

struct peer_table {
    struct peer **peers;            /* stable pointers; order not kept on removal */
    size_t n, cap;
    size_t max;                     /* entries at most */
};

void peer_table_init(struct peer_table *, size_t max);
void peer_table_free(struct peer_table *);
struct peer *peer_table_find(const struct peer_table *, const struct nodeid *);
/* Finds or adds ID (absent, idle). Returns NULL when the table is full or
 * memory ran out. */
struct peer *peer_table_add(struct peer_table *, const struct nodeid *, int64_t now_ms);
/* Removes entry I (its edge must hold no link); the last entry takes its place. */
void peer_table_remove(struct peer_table *, size_t i);

#endif
