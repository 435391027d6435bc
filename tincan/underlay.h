/* The underlay as evio-tincan's ICE agents see it: which local addresses
 * they may gather on and where the STUN and TURN servers are. Keeps
 * candidates off evio's own TAPs and bridges and off ignored interfaces. */
#ifndef TINCAN_UNDERLAY_H
#define TINCAN_UNDERLAY_H

#include <netinet/in.h>
#include <stdbool.h>

#include "ice.h"

struct config;

#define UNDERLAY_MAX_ADDRS 32

/* Interfaces to skip besides loopback: the config's ignore_interfaces and
 * overlay bridges, plus EXTRA (this process's TAPs, N_EXTRA names). */
struct underlay_filter {
    const struct config *cfg;
    const char *const *extra;
    int n_extra;
};

/* Is IFNAME (with IFF_* FLAGS) one ICE may gather on? Pure. */
bool underlay_iface_ok(const struct underlay_filter *, const char *ifname, unsigned flags);

/* Fills OUT with the IPv4 addresses of eligible interfaces that are up;
 * returns how many (0 if none or on error). */
int underlay_addrs(const struct underlay_filter *, char out[][INET_ADDRSTRLEN], int max);

/* The servers for a new agent, resolved to IPv4: STUN (config stun[0]) and
 * every TURN entry. *STUN_OK is false when there is no STUN server to use,
 * including when it is the same as a TURN server (the TURN allocation then
 * yields the server-reflexive candidate, and libnice stalls gathering if
 * both point at one server). Unresolvable entries are logged and skipped.
 * Returns the number of TURN servers written to TURN. */
int underlay_servers(const struct config *, struct ice_server *stun, bool *stun_ok,
                     struct ice_server *turn, int max_turn);

#endif
