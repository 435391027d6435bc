/* The node agent's state, shared by its modules: agent.c (event loop,
 * control commands, glue), edge.c (edge negotiation and links), supervisor.c
 * (helper processes). */
#ifndef EVIO_AGENT_H
#define EVIO_AGENT_H

#include "evio/config.h"
#include "evio/ctl.h"
#include "evio/nodeid.h"
#include "supervisor.h"
#include "topology.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* An edge's life, one per (overlay, peer). */
#define EDGE_STATES(X)                                                          \
    X(IDLE,       "idle")        /* nothing; may be requested */                \
    X(REQUESTED,  "requested")   /* we sent edge_req, awaiting edge_resp */     \
    X(CREATING,   "creating")    /* tincan link/create in flight */             \
    X(CONNECTING, "connecting")  /* link exists; ICE and DTLS under way */      \
    X(CONNECTED,  "connected")   /* tincan reports the link up */               \
    X(BACKOFF,    "backoff")     /* failed; not retried before retry_at */

enum edge_state {
#define X(name, text) EDGE_##name,
    EDGE_STATES(X)
#undef X
};

#define EDGE_ID_LEN    16
#define SESSION_LEN    16
#define FPR_MAX        96
#define LINK_ID_MAX    16

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
    char link_id[LINK_ID_MAX];      /* also the TAP name */
    bool link_created;              /* tincan has the link */
    bool remote_creds_set;          /* tincan has the peer's ufrag/pwd */
    char peer_fingerprint[FPR_MAX];
    char answered_by[SESSION_LEN + 1];  /* the peer session that accepted our request */
    json_t *remote_creds;           /* peer's {ufrag, pwd} until applied */
    json_t *pending_cands;          /* peer's candidates until applicable */
    json_t *local_cands;            /* ours, until the peer has our credentials */
    int64_t state_since_ms;
    int64_t deadline_ms;            /* timeout of the current state, 0 = none */
    int failures;                   /* consecutive, for the backoff */
    char last_error[128];
};

struct peer {
    struct nodeid id;
    char hex[NODEID_HEX_LEN + 1];
    bool present;                   /* in the overlay's room now */
    char session[SESSION_LEN + 1];  /* the peer agent's session, once seen */
    struct edge edge;
};

struct overlay {
    const struct config_overlay *cfg;
    int index;
    struct topology *topo;          /* the plan's engine, one per overlay */
    struct topo_ring ring;          /* present peers, sorted */
    struct topology_plan *plan;     /* the latest plan (for the topology command) */
    bool ports_dirty;               /* switchctl's ports need a port/sync */
    bool ports_syncing;             /* a port/sync is in flight */
    int64_t ports_retry_ms;         /* after a failed sync */
    bool bridge_ready;              /* the bridge exists with its address */
    struct peer *peers;
    size_t n_peers, cap;
};

struct sig_session;

struct agent {
    struct config *cfg;
    struct nodeid self;
    char self_hex[NODEID_HEX_LEN + 1];
    char session[SESSION_LEN + 1];  /* random per start: peers notice restarts */
    char fingerprint[FPR_MAX];      /* our tincan certificate's, "" until known */

    struct overlay overlays[CONFIG_MAX_OVERLAYS];
    int n_overlays;

    struct helper tincan, switchctl;
    struct ctl_server *ctl;
    struct sig_session *sig;
    bool xmpp_connected;
    bool replan;                    /* something changed: run the plan */

    unsigned long sig_dropped;      /* signalling messages refused */

    /* readiness: every overlay's bridge carries its address (agent.c) */
    bool ready;
    int64_t started_ms, ready_ms;   /* ready_ms: first time ready, 0 = never */
    int64_t ready_check_ms;         /* next look at the bridges */
    char *notify_socket;            /* NOTIFY_SOCKET, NULL without a supervisor */
    bool stopping;
};

/* edge.c */
const char *edge_state_name(enum edge_state);
void edge_on_message(struct agent *, struct overlay *, const char *from_hex,
                     const char *payload, size_t len);
void edge_on_tincan_event(struct agent *, const struct ctl_msg *);
void edge_on_tincan_ready(struct agent *, bool ready);
void edge_on_switchctl_ready(struct agent *, bool ready);
void edge_on_switchctl_event(struct agent *, const struct ctl_msg *);
/* Peer P announced a new agent session: whatever edge it had with us is
 * gone with its old process, so it starts over at once (no backoff). */
void edge_on_peer_restarted(struct agent *, struct overlay *, struct peer *p,
                            const char *session);
void edge_on_peer_left(struct agent *, struct overlay *, struct peer *);
/* Starts the edges the topology wants; runs timeouts and retries. */
void edge_plan(struct agent *, int64_t now_ms);
int64_t edge_next_deadline(const struct agent *);
void edge_reset(struct agent *, struct overlay *, struct peer *, const char *why,
                bool tell_peer);
json_t *edge_status(const struct agent *, const struct overlay *, json_t *tincan_stats);
/* The overlay's topology as the plan sees it: ring, wants, edges. */
json_t *edge_topology(const struct agent *, const struct overlay *);
/* Creates the overlay's topology engine; returns 0 or ENOMEM. */
int edge_overlay_init(struct agent *, struct overlay *);
void edge_overlay_free(struct overlay *);

/* agent.c */
struct peer *agent_find_peer(struct overlay *, const struct nodeid *);
struct peer *agent_add_peer(struct overlay *, const struct nodeid *);
struct overlay *agent_find_overlay(struct agent *, const char *name);
/* Sends a request to a helper if it is READY; REPLY may be NULL. */
int agent_helper_send(struct helper *, const char *cmd, json_t *args,
                      ctl_reply_fn *reply, void *aux);
int agent_send_signal(struct agent *, struct overlay *, const struct peer *, const char *payload);

int agent_run(struct config *, const char *tincan_exe, const char *switchctl_exe);

#endif
