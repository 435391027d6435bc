/* The adapter around the negotiation engines (negotiate.h), one engine per
 * overlay: it feeds them what the room, the peers, evio-tincan and
 * evio-switchctl say, and carries out their actions: messages go out through
 * the XMPP session, link requests to evio-tincan, the ports of each bridge
 * to evio-switchctl. It also keeps evio-tincan's links and the engines in
 * step: links the engines do not hold are removed (link/list at start and
 * every EDGES_RECONCILE_MS). Knows nothing of the agent above it. */
#ifndef EVIO_EDGE_H
#define EVIO_EDGE_H

#include "evio/config.h"
#include "evio/ctl.h"
#include "negotiate.h"
#include "supervisor.h"

#include <stdbool.h>
#include <stdint.h>

#define EDGES_RECONCILE_MS 30000

struct sig_session;

struct overlay {
    const struct config_overlay *cfg;
    int index;
    struct neg *neg;                /* the overlay's negotiation engine */
    bool ports_dirty;               /* switchctl's ports need a port/sync */
    bool ports_syncing;             /* a port/sync is in flight */
    int64_t ports_retry_ms;         /* after a failed sync */
    bool bridge_ready;              /* the bridge exists with its address (agent.c) */
    uint32_t bridge_ip4;            /* the address found on it ("ip": "auto": claimed) */
};

struct edges {
    struct overlay overlays[CONFIG_MAX_OVERLAYS];
    int n_overlays;
    char self_hex[NODEID_HEX_LEN + 1];
    struct helper *tincan, *switchctl;  /* borrowed */
    struct sig_session *sig;            /* borrowed; NULL until set */
    bool signalling;                    /* the XMPP session is up */
    char fingerprint[SIGMSG_FPR_LEN + 1];   /* the datapath's certificate, "" until known */
    int64_t reconcile_ms;               /* next link/list, 0 = none scheduled */
    bool reconciling;                   /* a link/list is in flight */
    uint64_t sig_refused;               /* payloads refused by the codec */
    uint64_t orphans_removed;           /* links evio-tincan held that no edge did */
    struct neg_actions acts;            /* scratch */
};

/* Sets up one engine per overlay of CFG. Returns 0 or ENOMEM. */
int edges_init(struct edges *, const struct config *, const struct nodeid *self,
               const char *session, struct helper *tincan, struct helper *switchctl);
void edges_free(struct edges *);

/* The XMPP session and its news. */
void edges_set_sig(struct edges *, struct sig_session *);
void edges_on_signalling(struct edges *, bool up);
void edges_on_peer_joined(struct edges *, const char *overlay, const char *node_hex,
                          const char *session);
void edges_on_peer_left(struct edges *, const char *overlay, const char *node_hex);
void edges_on_message(struct edges *, const char *overlay, const char *from_hex,
                      const char *payload, size_t len);

/* The helpers: ready or gone, and their events. */
void edges_on_tincan_ready(struct edges *, bool ready);
void edges_on_tincan_event(struct edges *, const struct ctl_msg *);
void edges_on_switchctl_ready(struct edges *, bool ready);
void edges_on_switchctl_event(struct edges *, const struct ctl_msg *);

/* Runs the engines' timers and plans, the switch's port sync and the
 * reconciliation; call after every loop iteration's events. */
void edges_run(struct edges *, int64_t now);
/* When edges_run next has something to do, or -1. */
int64_t edges_next_deadline(const struct edges *, int64_t now);

struct overlay *edges_find_overlay(struct edges *, const char *name);

#endif
