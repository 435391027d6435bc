/* evio-switchctl's per-port budgets and refusal counters (issue 16: every
 * member of an overlay is an L2 insider). For each OpenFlow port: a token
 * bucket for the frames the switch sends up from it (packet-ins), one for
 * the MAC queries its frames make this node flood over the overlay (and
 * answer), and a counter per kind of refusal, shown per port by
 * bridge/status (`evioctl ports`). Pure: the caller passes the time.
 *
 * Why packet-ins are metered here and not by OpenFlow meters or OVS's
 * controller_rate_limit: the table-miss flow that sends frames up is one
 * flow for every port (ofchannel.c); meters would need one flow and one
 * meter per port, made and deleted as links come and go, and
 * controller_rate_limit is one rate for the whole bridge, so one noisy
 * neighbour would use up every port's share. A packet-in refused here has
 * cost ovs-vswitchd its upcall and us a read, but none of the work after
 * it (learning, flow setup, flood copies, queries), which is where a frame
 * costs the most; the figures are in tests/integration/l2_hijack.sh. */
#ifndef SWITCHCTL_PORTGUARD_H
#define SWITCHCTL_PORTGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORTGUARD_MAX_PORTS 260         /* BRIDGE_MAX_PORTS and a few spare */

/* Defaults: a peer port brings every flood of the part of the overlay
 * behind it (ARP, ND, DHCP, announcements of its MACs), which stays far
 * below 1000 frames a second for overlays of hundreds of nodes; a query is
 * needed once per lost MAC. */
#define PORTGUARD_PACKET_IN_RATE   1000     /* per second, per port */
#define PORTGUARD_PACKET_IN_BURST  2000
#define PORTGUARD_QUERY_RATE       10       /* per second, per port */
#define PORTGUARD_QUERY_BURST      20

enum portguard_event {
    PORTGUARD_PACKET_IN_METERED,    /* packet-in over the port's budget: dropped */
    PORTGUARD_QUERY_OVER_BUDGET,    /* a MAC query (or answer) over budget: not sent */
    PORTGUARD_MAC_HELD,             /* a local MAC claimed from here in its hold-down */
    PORTGUARD_MAC_OVER_LIMIT,       /* a MAC not learnt: the port holds its maximum */
    PORTGUARD_FLOOD_BAD_ROOT,       /* a flood whose root cannot be behind the sender */
    PORTGUARD_N_EVENTS
};

/* BURST tokens at most, RATE more every second. */
struct portguard_bucket {
    int64_t tokens_ms;          /* tokens scaled by 1000 / RATE: no floating point */
    int64_t last_ms;
    bool started;
};

/* Takes one token at NOW_MS; false (and nothing taken) when none is left.
 * RATE <= 0: no limit. A clock that goes back adds nothing. */
bool portguard_bucket_take(struct portguard_bucket *, int rate, int burst, int64_t now_ms);

struct portguard_limits {
    int packet_in_rate, packet_in_burst;    /* 0: no limit */
    int query_rate, query_burst;
};

struct portguard_port {
    uint32_t port;
    struct portguard_bucket packet_in, query;
    unsigned long count[PORTGUARD_N_EVENTS];
};

struct portguard {
    struct portguard_limits lim;
    struct portguard_port ports[PORTGUARD_MAX_PORTS];
    size_t n;
    unsigned long total[PORTGUARD_N_EVENTS];
};

/* Starts G with LIM (NULL: the defaults above) and no port. */
void portguard_init(struct portguard *, const struct portguard_limits *);

/* Whether one more packet-in from PORT fits its budget; counts
 * PORTGUARD_PACKET_IN_METERED when not. */
bool portguard_packet_in(struct portguard *, uint32_t port, int64_t now_ms);
/* Whether a query (or the answer to one) caused by a frame from PORT fits
 * its budget; counts PORTGUARD_QUERY_OVER_BUDGET when not. */
bool portguard_query(struct portguard *, uint32_t port, int64_t now_ms);
/* Counts EVENT against PORT. */
void portguard_count(struct portguard *, uint32_t port, enum portguard_event);

/* PORT's record, or NULL when nothing was ever counted for it. */
const struct portguard_port *portguard_port(const struct portguard *, uint32_t port);
/* Drops PORT's record (the port is gone); totals stay. */
void portguard_forget(struct portguard *, uint32_t port);

/* JSON key of EVENT in bridge/status ("packet_ins_metered", ...). */
const char *portguard_event_name(enum portguard_event);

#endif
