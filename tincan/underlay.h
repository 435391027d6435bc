/* The underlay as evio-tincan's ICE agents see it: which local addresses
 * they may gather on. Keeps candidates off evio's own TAPs and bridges and
 * off ignored interfaces. (The STUN and TURN servers are servers.h's.) */
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

#endif
