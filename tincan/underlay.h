/* The underlay as evio-tincan's ICE agents see it: which local addresses
 * they may gather on. Keeps candidates off evio's own TAPs and bridges, off
 * interfaces that ride on them (Flannel's flannel.1, a vxlan whose lower
 * device is an evio bridge: a tunnel inside the tunnel) and off ignored
 * interfaces (ice.ignore_interfaces, fnmatch(3) patterns). (The STUN and
 * TURN servers are servers.h's.) */
#ifndef TINCAN_UNDERLAY_H
#define TINCAN_UNDERLAY_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "ice.h"

struct config;

#define UNDERLAY_MAX_ADDRS 32
#define UNDERLAY_MAX_DEPTH 8     /* lower links followed, vlan on vxlan on ... */

/* One interface of this network namespace as the kernel lists it. */
struct underlay_link {
    char name[IF_NAMESIZE];
    int index;
    int lower;                   /* the lower device's index (IFLA_LINK, or a vxlan's
                                  * IFLA_VXLAN_LINK); 0 = none */
    bool lower_elsewhere;        /* IFLA_LINK_NETNSID given: LOWER is an index in
                                  * another namespace (a veth's peer), not here */
};

/* Interfaces to skip besides loopback: the config's ignore_interfaces and
 * overlay bridges, plus EXTRA (this process's TAPs, N_EXTRA names), and
 * whatever rides on one of them according to LINKS (N_LINKS entries; NULL
 * when not known: nothing is followed). */
struct underlay_filter {
    const struct config *cfg;
    const char *const *extra;
    int n_extra;
    const struct underlay_link *links;
    int n_links;
};

#define UNDERLAY_SKIPS(X)                                                  \
    X(OK, "eligible")                                                      \
    X(DOWN, "down")                                                        \
    X(LOOPBACK, "loopback")                                                \
    X(OVS, "an Open vSwitch datapath port")                                \
    X(BRIDGE, "an overlay bridge")                                         \
    X(TAP, "an evio link's TAP")                                           \
    X(IGNORED, "matches ice.ignore_interfaces")                            \
    X(RIDES_ON, "rides on")

#define UNDERLAY_ENUM(name, text) UNDERLAY_##name,
enum underlay_skip { UNDERLAY_SKIPS(UNDERLAY_ENUM) };
#undef UNDERLAY_ENUM

/* Why an interface was judged so: the pattern, bridge or TAP that matched
 * (for RIDES_ON the lower device, in BY too). Points into the filter or
 * its links. */
struct underlay_verdict {
    enum underlay_skip skip;
    const char *what;            /* pattern, bridge or TAP name; NULL for OK/DOWN/... */
    const char *by;              /* RIDES_ON: why the lower device is out ("an overlay bridge") */
};

const char *underlay_skip_name(enum underlay_skip);

/* Is IFNAME (with IFF_* FLAGS) one ICE may gather on? Pure: the lower links
 * come from F->links. *WHY (may be NULL) says which rule decided. */
bool underlay_iface_ok(const struct underlay_filter *, const char *ifname, unsigned flags,
                       struct underlay_verdict *why);

/* Reads this namespace's interfaces (RTM_GETLINK). Returns how many, with
 * *OUT malloc'd (the caller frees it), or -errno (*OUT NULL). */
int underlay_links_read(struct underlay_link **out);

/* Fills OUT with the IPv4 addresses of eligible interfaces that are up;
 * returns how many (0 if none or on error). Reads the lower links itself
 * when F has none; says once per interface at info why one is skipped. */
int underlay_addrs(const struct underlay_filter *, char out[][INET_ADDRSTRLEN], int max);

#endif
