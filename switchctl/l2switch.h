/* evio-switchctl's switch for one overlay: ties the bridge's ports (from
 * bridge.c), its OpenFlow channel (ofchannel.c), the learning table (fdb.c)
 * and the forwarding decision (flood.c) together, and keeps the internal
 * port's address and MTU set. */
#ifndef SWITCHCTL_L2SWITCH_H
#define SWITCHCTL_L2SWITCH_H

#include <stddef.h>
#include <stdint.h>

#include "bflood.h"
#include "bridge.h"
#include "fdb.h"
#include "flood.h"
#include "ofchannel.h"
#include "portguard.h"
#include "shortcut.h"

struct config_overlay;
struct l2switch;

struct l2switch_stats {
    unsigned long packet_ins;
    unsigned long csum_completed;   /* packet-ins whose TCP/UDP checksum was partial */
    unsigned long unicast;          /* sent to one learned port (and a flow installed) */
    unsigned long flooded;
    unsigned long dropped[FLOOD_DROP_SAME_PORT + 1];    /* by flood_drop_reason */
    unsigned long learned, moved;
    unsigned long flood_roots;      /* floods started here (from a leaf port) */
    unsigned long flood_rx;         /* flood frames received from peers */
    unsigned long flood_tx;         /* flood copies sent to peers */
    unsigned long flood_bad[BFLOOD_INNER_BFLOOD + 1];   /* by bflood_reason */
    unsigned long flood_refused[BFLOOD_BAD_ROOT + 1];  /* by bflood_verdict */
    unsigned long moved_to_link;    /* MACs moved onto a new direct link to their node */
    unsigned long restored;         /* MACs rebuilt from the flows found at start */
    unsigned long shortcut_hints;   /* hints sent to the agent */
    unsigned long announces_tx;     /* floods telling our local MACs */
    unsigned long announces_rx;     /* such floods received */
    unsigned long queries_tx;       /* floods asking where a MAC lives */
    unsigned long queries_rx;
};

/* Called for every node whose local traffic asks for (or keeps) a shortcut,
 * once per poll of the flow counters. */
typedef void l2switch_hint_fn(void *aux, const char *overlay, const struct shortcut_hint *);

/* One overlay link as the agent reports it (port/sync): its TAP port, the
 * peer node behind it, and whether the link is up. Floods go over up links
 * only: a copy handed to a link that is still connecting would be lost
 * together with the part of the ring it stands for. */
struct l2switch_link {
    char port[BRIDGE_NAME_MAX + 1];
    struct nodeid peer;
    bool up;
};

/* Creates the switch of overlay OV on a bridge declared in DB (which must
 * outlive it). Returns NULL on allocation failure. */
struct l2switch *l2switch_create(const struct config_overlay *ov, struct bridge_db *db);
void l2switch_destroy(struct l2switch *);           /* accepts NULL */
/* "ip": "auto" (OV->ip_auto): the internal port's address is claimed in
 * OV's pool by address conflict detection and kept in STATE_DIR
 * (acdport.h). 0 or ENOMEM. */
int l2switch_auto_address(struct l2switch *, const struct config_overlay *ov,
                          const char *state_dir);

/* Call after bridge_db_run() on every main-loop iteration. */
void l2switch_run(struct l2switch *);
void l2switch_wait(struct l2switch *);

const char *l2switch_overlay(const struct l2switch *);
const char *l2switch_bridge(const struct l2switch *);
const char *l2switch_openflow_state(const struct l2switch *);
const struct l2switch_stats *l2switch_stats(const struct l2switch *);
/* Counters of the OpenFlow channel: messages, bad messages, send drops. */
void l2switch_channel_stats(const struct l2switch *, unsigned long *rx_msgs,
                            unsigned long *bad_msgs, unsigned long *tx_dropped);

/* Sets this node's ID and the overlay's links (replacing the previous set).
 * Until it is called, floods from leaf ports go to every peer port as plain
 * frames, one hop only. */
void l2switch_set_links(struct l2switch *, const struct nodeid *self,
                        const struct l2switch_link *, size_t n);

void l2switch_set_hint_cb(struct l2switch *, l2switch_hint_fn *, void *aux);

/* Our flows as of the last poll of their counters (every 2 s); *AGE_MS is
 * how long ago that was, -1 before the first. */
const struct ofchannel_flow *l2switch_flows(const struct l2switch *, size_t *n,
                                            long long *age_ms);

/* The port list as last read from the database. */
const struct bridge_port *l2switch_ports(const struct l2switch *, size_t *n);
/* Name of the port with OpenFlow number OFPORT, or NULL. */
const char *l2switch_port_name(const struct l2switch *, uint32_t ofport);

/* Drops aged entries, then returns the learning table for a walk. */
const struct fdb *l2switch_fdb(struct l2switch *);
/* The per-port budgets and refusal counters (issue 16). */
const struct portguard *l2switch_guard(const struct l2switch *);
long long l2switch_now_ms(void);

#endif
