/* evio-switchctl's forwarding decision for a frame the switch sent up
 * (packet-in): drop, forward to one known port, or flood. Pure, so the
 * bounded flooding over many hops (DESIGN.md section 4) can replace this
 * one-link rule without touching the OpenFlow or OVSDB code.
 *
 * Ports are "leaf" (the bridge's internal port and other local devices) or
 * "peer" (a TAP leading to one overlay neighbour). Flood rule: from a leaf,
 * to every other port; from a peer, to leaf ports only, so a frame never
 * travels back into the overlay and each node gets exactly one copy. */
#ifndef SWITCHCTL_FLOOD_H
#define SWITCHCTL_FLOOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOOD_MAX_PORTS 256

enum flood_port_role { FLOOD_PORT_LEAF, FLOOD_PORT_PEER };

struct flood_port {
    uint32_t port;
    enum flood_port_role role;
};

enum flood_verdict {
    FLOOD_DROP,
    FLOOD_UNICAST,      /* to the one port the destination was learned on */
    FLOOD_FLOOD,        /* to every port the flood rule allows (maybe none) */
};

enum flood_drop_reason {
    FLOOD_OK,
    FLOOD_DROP_RUNT,            /* shorter than an Ethernet header */
    FLOOD_DROP_BAD_SOURCE,      /* multicast source MAC: never valid */
    FLOOD_DROP_LINK_LOCAL,      /* 01:80:c2:00:00:0x: STP, LACP, pause: not bridged */
    FLOOD_DROP_UNKNOWN_PORT,    /* arrived on a port we do not know */
    FLOOD_DROP_SAME_PORT,       /* destination sits behind the ingress port */
};

struct flood_decision {
    enum flood_verdict verdict;
    enum flood_drop_reason reason;
    uint32_t out[FLOOD_MAX_PORTS];
    size_t n_out;
};

/* Decides where a frame goes. PORTS lists every port of the bridge
 * (N_PORTS <= FLOOD_MAX_PORTS; extra ones are ignored); IN_PORT is where the
 * frame entered; FRAME/LEN its bytes from the Ethernet header on; DST_PORT
 * the port its destination MAC was learned on, or NULL when unknown. */
void flood_decide(const struct flood_port *ports, size_t n_ports, uint32_t in_port,
                  const uint8_t *frame, size_t len, const uint32_t *dst_port,
                  struct flood_decision *);

const char *flood_drop_reason_name(enum flood_drop_reason);

static inline bool flood_mac_is_multicast(const uint8_t mac[6]) { return mac[0] & 1; }
bool flood_mac_is_link_local(const uint8_t mac[6]);

#endif
