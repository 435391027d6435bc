/* Edge negotiation, one engine per overlay: the state machine of every edge
 * this node has with a peer (peer.h), driven by decoded signalling messages,
 * the datapath's and switch's events, the topology plan and the clock. Pure:
 * it does no I/O, reads no clock and draws no system randomness (time comes
 * in as an argument, randomness from a seeded generator), so it can be unit
 * tested back to back and fuzzed. It answers with actions, which the adapter
 * (edge.c) carries out in order: send this message, create, feed or remove
 * this link, the switch's ports changed.
 *
 *   requester A                          acceptor B
 *   edge_req {edge_id, type, fpr} ---->  link/create (not controlling)
 *                                 <----  edge_resp {accepted, mac, fpr, ufrag, pwd}
 *   link/create (controlling),
 *   link/remote {B's ufrag, pwd}
 *   link_creds {mac, fpr, ufrag, pwd} -> link/remote {A's ufrag, pwd}
 *   link_cand ...                <--->   link_cand ...   (trickled, both ways)
 *   link up: CONNECTED, the switch's port goes up
 *
 * Simultaneous requests between a pair: the lower node ID's request wins.
 * A node's ID is the first half of its key's fingerprint (evio/nodeid.h):
 * a request, answer or credentials whose fingerprint is not the sender's
 * ID's is refused, and the datapath pins that fingerprint in the DTLS
 * handshake, so an occupant that takes another node's nickname can never
 * link under it.
 * Every negotiation that ends without a link (refusal, collision, timeout,
 * a link failure at either end) ends in BACKOFF at both ends: the end that
 * sees the failure tells the other with edge_close.
 *
 * Budgets (doc/signalling.md, "Budgets"): what a room member can make the
 * node hold or do is bounded: incoming edges by type and in all, buffered
 * candidates per edge, edge_req and other messages per peer per second, the
 * peer table. Whatever is refused or dropped is counted (struct neg_counters). */
#ifndef EVIO_NEGOTIATE_H
#define EVIO_NEGOTIATE_H

#include "peer.h"
#include "sigmsg.h"
#include "topology.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NEG_REQUEST_TIMEOUT_MS  10000   /* edge_resp, or link/create's reply */
#define NEG_CONNECT_TIMEOUT_MS  45000   /* the datapath gives up at 30 s itself */
#define NEG_COLLISION_WAIT_MS    2000   /* after losing a collision: the peer's request is due */
#define NEG_MAX_LINKS              64   /* links per overlay, all types (the switch takes 256 ports) */
#define NEG_MAX_PEERS            1024   /* peer table entries per overlay */
#define NEG_EVICT_MS            60000   /* an absent, idle peer is forgotten after this */
#define NEG_CAND_BATCH             16   /* candidates per link/remote */
/* per peer: edge_req at most 4 at once, then one per 5 s; other messages 64
 * at once, then 8 a second */
#define NEG_REQ_BURST               4
#define NEG_REQ_PERIOD_MS        5000
#define NEG_MSG_BURST              64
#define NEG_MSG_PERIOD_MS         125

struct neg_config {
    const char *overlay;            /* the overlay's name (copied) */
    int index;                      /* its place in the config: link ids start "e<index>" */
    struct nodeid self;
    const char *session;            /* this agent's session (copied) */
    int min_successors, max_long_distance, max_on_demand, max_concurrent;
    int64_t on_demand_idle_ms;
    const struct nodeid *statics;   /* copied */
    size_t n_statics;
    const struct nodeid *members;   /* with members_only: the only peers to link with (copied) */
    size_t n_members;
    bool members_only;
    int max_links;                  /* 0: NEG_MAX_LINKS */
    size_t max_peers;               /* 0: NEG_MAX_PEERS */
};

/* What the engine asks of its adapter. Link actions name the link by
 * link_id; the peer is always set. */
enum neg_act_type {
    NEG_ACT_SEND,           /* send MSG to PEER */
    NEG_ACT_LINK_CREATE,    /* create link LINK_ID, CONTROLLING, pinning FINGERPRINT */
    NEG_ACT_LINK_CREDS,     /* give link LINK_ID the peer's UFRAG and PWD */
    NEG_ACT_LINK_CANDS,     /* give link LINK_ID the peer's N_CANDS CANDS (<= NEG_CAND_BATCH) */
    NEG_ACT_LINK_REMOVE,    /* remove link LINK_ID, in whatever state it is */
    NEG_ACT_PORTS,          /* the links or their up states changed: sync the switch */
};

struct neg_action {
    enum neg_act_type type;
    struct nodeid peer;
    char link_id[LINK_ID_LEN + 1];
    bool controlling;                               /* LINK_CREATE */
    char fingerprint[SIGMSG_FPR_LEN + 1];           /* LINK_CREATE */
    char ufrag[SIGMSG_ICE_MAX + 1], pwd[SIGMSG_ICE_MAX + 1];   /* LINK_CREDS */
    int n_cands;                                    /* LINK_CANDS */
    char *cands[NEG_CAND_BATCH];                    /* LINK_CANDS, owned by the list */
    struct sigmsg *msg;                             /* SEND, owned by the list */
};

/* A growing list of actions; the caller clears it after carrying them out. */
struct neg_actions {
    struct neg_action *v;
    size_t n, cap;
    bool oom;                       /* an action was lost to memory exhaustion */
};
void neg_actions_clear(struct neg_actions *);   /* frees the actions, keeps the array */
void neg_actions_free(struct neg_actions *);

/* Why things were refused or dropped, for `evioctl status`. */
struct neg_counters {
    uint64_t refused_full;          /* no room for another incoming edge of its type */
    uint64_t refused_links;         /* the overlay's total link budget was reached */
    uint64_t refused_not_neighbour; /* a successor request from far off the ring */
    uint64_t refused_busy;          /* no datapath yet */
    uint64_t collisions;            /* simultaneous requests resolved */
    uint64_t rate_limited;          /* messages over a peer's rate */
    uint64_t cands_dropped;         /* candidates over an edge's budget */
    uint64_t peers_refused;         /* messages from a new peer with the table full */
    uint64_t peers_evicted;         /* absent idle peers forgotten */
    uint64_t not_member;            /* presences and messages from outside "members" */
    uint64_t impostor;              /* a key fingerprint that is not the sender's ID's */
    uint64_t kept_until_successors; /* plans that kept an unwanted link: successors not up yet */
    uint64_t stale;                 /* messages about an edge no longer in hand */
    uint64_t links_created, links_removed;
    uint64_t failures;              /* negotiations that ended in backoff */
};

struct neg;

/* Returns NULL when memory ran out. SEED drives edge ids, link names and
 * backoff jitter (and the topology engine's draws). */
struct neg *neg_new(const struct neg_config *, uint64_t seed);
void neg_free(struct neg *);

/* The datapath is ready with certificate FINGERPRINT, or (NULL) went away
 * with all its links: every edge in hand starts over. */
void neg_set_datapath(struct neg *, const char *fingerprint, int64_t now, struct neg_actions *);
/* Whether messages can be sent (the XMPP session is up); no new edges are
 * started without it. */
void neg_set_signalling(struct neg *, bool up);

/* Room presence. SESSION is the peer agent's session ("" if unknown); a new
 * one means it restarted: its edge starts over at once. */
void neg_peer_joined(struct neg *, const struct nodeid *, const char *session, int64_t now,
                     struct neg_actions *);
void neg_peer_left(struct neg *, const struct nodeid *, int64_t now, struct neg_actions *);

/* A decoded message (sigmsg_decode checked its overlay, addressee and form;
 * the caller checked that M->from is the sender). */
void neg_on_message(struct neg *, const struct sigmsg *m, int64_t now, struct neg_actions *);

/* The datapath's answers and events about link LINK_ID. ERROR non-NULL: the
 * create failed. Unknown links are ignored (their edge moved on). */
void neg_on_link_created(struct neg *, const char *link_id, const char *error,
                         const char *mac, const char *ufrag, const char *pwd, int64_t now,
                         struct neg_actions *);
void neg_on_local_cand(struct neg *, const char *link_id, const char *cand, int64_t now,
                       struct neg_actions *);
void neg_on_link_state(struct neg *, const char *link_id, bool up, const char *reason,
                       int64_t now, struct neg_actions *);

/* Heavy traffic to PEER (the switch's shortcut hint). Returns true if an
 * on-demand edge is (still) wanted for it. */
bool neg_hint(struct neg *, const struct nodeid *peer, int64_t now);

/* Runs timeouts, backoff expiry and eviction, then the topology plan: wants
 * are recorded and told, unwanted edges released, missing ones requested (at
 * most max_concurrent negotiating at once). */
void neg_tick(struct neg *, int64_t now, struct neg_actions *);
/* When neg_tick next has something to do: a time, or -1. */
int64_t neg_next_deadline(const struct neg *, int64_t now);

/* Does some edge of this engine hold link LINK_ID (asked for and not yet
 * removed)? For reconciling the datapath's links. */
bool neg_owns_link(const struct neg *, const char *link_id);
/* Links held now, and the budget. */
int neg_links(const struct neg *);

/* Read access for status, the switch's ports and tests. */
const struct peer_table *neg_peers(const struct neg *);
const struct neg_counters *neg_counters(const struct neg *);
const struct topo_ring *neg_ring(const struct neg *);
const struct topology_plan *neg_plan(const struct neg *);
const char *neg_overlay(const struct neg *);

#endif
