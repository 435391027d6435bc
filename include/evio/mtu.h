/* "mtu": "auto" on an overlay's bridge: the largest bridge MTU whose frames,
 * once evio has wrapped them, still fit the underlay route's MTU. Resolved
 * once at start by evio (the node agent, which hands the value to its
 * helpers) and by evio-switchctl, which sets it on the bridge. */
#ifndef EVIO_MTU_H
#define EVIO_MTU_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

/* What one frame of the bridge's MTU costs on the underlay, worst case, from
 * the datapath (tincan/):
 *   outer IPv4 header                          20  (candidates are IPv4 only)
 *   UDP header                                  8
 *   TURN ChannelData header                     4  (relayed links, fastpath.c;
 *                                                   over UDP without padding)
 *   DTLS 1.2 record around the frame           37  (13 header + 8 explicit
 *                                                   AES-GCM nonce + 16 tag; a
 *                                                   peer without evio's records,
 *                                                   or link.data_records false.
 *                                                   evio's own records, rec.h,
 *                                                   take 8 + 16 = 24)
 *   the frame's Ethernet header                14  (the TAP MTU excludes it)
 *   one 802.1Q/802.1ad tag                      4  (link_max_frame() lets a
 *                                                   tagged frame be MTU + 18)
 *                                            ----
 *                                              87 */
#define MTU_IPV4_HDR        20
#define MTU_UDP_HDR         8
#define MTU_TURN_CHANNEL    4
#define MTU_DTLS_RECORD     (13 + 8 + 16)
#define MTU_ETH_HDR         14
#define MTU_VLAN_TAG        4
#define MTU_OVERHEAD (MTU_IPV4_HDR + MTU_UDP_HDR + MTU_TURN_CHANNEL + MTU_DTLS_RECORD \
                      + MTU_ETH_HDR + MTU_VLAN_TAG)
_Static_assert(MTU_OVERHEAD == 87, "the sum written out above");

#define MTU_MIN         576     /* bridge.mtu's range (evio.conf(5)) */
#define MTU_MAX         9000
#define MTU_IPV6_MIN    1280    /* below it Linux turns IPv6 off on the bridge */
#define MTU_ASSUMED     1500    /* the underlay's when no route says */

/* The auto MTU is handed from evio to its helpers in the environment:
 * "NAME=MTU[,NAME=MTU...]" for the overlays with "mtu": "auto". */
#define MTU_ENV "EVIO_AUTO_MTU"

/* The bridge MTU for an underlay route of ROUTE_MTU bytes: ROUTE_MTU -
 * MTU_OVERHEAD, clamped to MTU_MIN..MTU_MAX. Pure. Returns the MTU; *NOTE
 * (may be NULL) gets a static text when it was clamped or falls short of
 * MTU_IPV6_MIN, else NULL. */
int mtu_for_route(int route_mtu, const char **note);

/* The underlay route to one destination, as the kernel would take it. */
struct mtu_route {
    int mtu;                    /* the route's mtu metric, else the device's */
    bool from_metric;           /* mtu is the route's (ip route ... mtu N) */
    char dev[IF_NAMESIZE];      /* the outgoing device */
};

/* Looks up the route to DST (IPv4, network order) with RTM_GETROUTE, or
 * with DST 0 the main table's default route of the lowest metric. Returns
 * 0, or a positive errno: ENETUNREACH and the like when there is no route,
 * EADDRNOTAVAIL when DST is this host's own (a loopback route says nothing
 * of the underlay). */
int mtu_route_get(uint32_t dst, struct mtu_route *out);

/* For every overlay of CFG with "mtu": "auto": takes the value from MTU_ENV
 * when FROM_ENV (a helper) and the agent gave one, else picks the route (towards the XMPP server
 * when it is an IPv4 address, else the first STUN or TURN server given as
 * one, else the default route), sets ->mtu and ->mtu_source and logs at
 * info as WHO's module. Never fails: with no route at all it assumes a
 * MTU_ASSUMED-byte underlay and warns. */
void mtu_resolve(struct config *cfg, const char *who, bool from_env);

/* Puts the overlays' resolved auto MTUs into MTU_ENV for the helpers evio
 * starts (unset when there is none). Returns 0 or an errno. */
int mtu_export(const struct config *cfg);

#endif
