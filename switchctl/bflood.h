/* Bounded flooding over the overlay (DESIGN.md section 4): the flood header
 * codec and the interval-partitioning forwarding decision. Pure: bytes and
 * node IDs in, bytes and decisions out; the OpenFlow adapter does the I/O.
 *
 * Wire format of a flooded frame between two switches (all big-endian):
 *
 *   0  outer Ethernet dst (6), src (6), EtherType BFLOOD_ETHERTYPE (2)
 *  14  version (1) = 1, type (1), hop count (1), flags (1) = 0
 *  18  root node ID (16): the node whose leaf port the frame came from
 *  34  bound node ID (16): the receiver covers the ring interval [self, bound)
 *  50  the original Ethernet frame, unchanged
 *
 * Forwarding rule: IDs live on a 128-bit ring ordered clockwise (unsigned
 * order, wrapping from ff..ff to 00..00). The root sorts its up neighbours
 * clockwise from itself, n1..nk, and sends to each ni with bound n(i+1), nk
 * with bound = the root (so together they cover the whole ring but the root).
 * A receiver R with bound B delivers to its leaf ports and sends to its
 * neighbours strictly inside (R, B), each with bound = the next of them
 * clockwise, the last with B. The intervals never overlap, so no node gets
 * two copies whatever the graph; every node gets one when each node's ring
 * successor is among its up neighbours (then each interval is connected
 * through successors). */
#ifndef SWITCHCTL_BFLOOD_H
#define SWITCHCTL_BFLOOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evio/nodeid.h"

/* IEEE 802 "Local Experimental EtherType 1" (IEEE Std 802, 0x88B5): reserved
 * for private protocols, never assigned to a public one. */
#define BFLOOD_ETHERTYPE  0x88B5
#define BFLOOD_VERSION    1
#define BFLOOD_HDR_LEN    50            /* outer Ethernet + flood header */
#define BFLOOD_MAX_HOPS   64            /* a received hop count above this is refused */
#define BFLOOD_MAX_NEIGHBOURS 256       /* what the switch sizes its output arrays to */

enum bflood_type {
    BFLOOD_BROADCAST = 1,
    BFLOOD_MULTICAST = 2,
    BFLOOD_UNKNOWN_UNICAST = 3,
    /* A switch telling every node which MACs sit behind it: the inner frame
     * is a bare Ethernet header (broadcast destination, the MAC as source,
     * EtherType BFLOOD_ANNOUNCE_ETHERTYPE). Receivers learn from it and pass
     * it on like any flood, but never deliver it to their leaf ports. */
    BFLOOD_ANNOUNCE = 4,
    /* A switch asking where a MAC lives: the inner frame is a bare Ethernet
     * header (the MAC as destination, the asking switch's flood address as
     * source, EtherType BFLOOD_ANNOUNCE_ETHERTYPE). The node the MAC is
     * local to answers with an announcement; nobody learns from a query or
     * delivers it to a leaf port. */
    BFLOOD_QUERY = 5,
};
/* IEEE Std 802 "Local Experimental EtherType 2": the announcement's inner type */
#define BFLOOD_ANNOUNCE_ETHERTYPE 0x88B6

/* Decoded header. HOPS counts the links the frame has crossed including the
 * one it arrives on: the root sends 1. */
struct bflood_hdr {
    uint8_t eth_dst[6];         /* outer header: the caller picks these */
    uint8_t eth_src[6];
    uint8_t type;               /* enum bflood_type */
    uint8_t hops;
    struct nodeid root;
    struct nodeid bound;
};

enum bflood_reason {
    BFLOOD_OK,
    BFLOOD_RUNT,                /* shorter than the outer + flood header */
    BFLOOD_NOT_BFLOOD_ETHERTYPE,
    BFLOOD_BAD_VERSION,
    BFLOOD_BAD_FLAGS,           /* reserved byte not zero */
    BFLOOD_BAD_TYPE,            /* not one of enum bflood_type */
    BFLOOD_HOPS_EXCEEDED,       /* hop count above BFLOOD_MAX_HOPS */
    BFLOOD_INNER_RUNT,          /* inner frame shorter than an Ethernet header */
    BFLOOD_INNER_BFLOOD,        /* inner frame is itself a flood frame: no nesting */
};

const char *bflood_reason_name(enum bflood_reason);

/* Writes HDR's outer Ethernet and flood headers followed by FRAME (LEN bytes,
 * an Ethernet frame) into OUT (OUT_CAP bytes, caller-owned). Returns the
 * length written, BFLOOD_HDR_LEN + LEN, or 0 when OUT is too small or the
 * result would not decode (bad type, hops above the maximum, runt or flood
 * frame inside). FRAME may overlap OUT, e.g. sit at OUT + BFLOOD_HDR_LEN
 * already, for encapsulation in place. */
size_t bflood_encap(const struct bflood_hdr *, const uint8_t *frame, size_t len,
                    uint8_t *out, size_t out_cap);

/* Parses PKT (LEN bytes, from the outer Ethernet header on). On BFLOOD_OK
 * fills HDR and points *INNER into PKT at the original frame (*INNER_LEN
 * bytes; nothing is copied). On failure *INNER is NULL, *INNER_LEN is 0 and
 * HDR is unspecified. Reads only within PKT[0..LEN). */
enum bflood_reason bflood_decap(const uint8_t *pkt, size_t len, struct bflood_hdr *,
                                const uint8_t **inner, size_t *inner_len);

/* True when X lies in the half-open clockwise interval [LO, HI); LO == HI
 * means the whole ring. */
bool bflood_in_interval(const struct nodeid *x, const struct nodeid *lo,
                        const struct nodeid *hi);

/* Clockwise order starting at ORIGIN: negative when A comes before B walking
 * clockwise from ORIGIN (ORIGIN itself first), 0 when equal. */
int bflood_cw_cmp(const struct nodeid *a, const struct nodeid *b,
                  const struct nodeid *origin);

/* Whether a flood with ROOT and BOUND can have come from neighbour FROM by
 * the rule above (issue 16: the root is not for the sender to choose).
 * FROM either is the root, or forwarded a copy it got: then FROM covered
 * an interval [FROM, B') that does not hold the root (only the root's own
 * interval, the ring without it, does), and BOUND lies in (FROM, B'], so
 * the root lies in [BOUND, FROM) clockwise: at or behind the sender, never
 * between the sender and the bound, where the receiver's interval is. A
 * forwarder never hands out BOUND == FROM (that would be the whole ring).
 * So: ROOT == FROM, or BOUND != FROM and ROOT in [BOUND, FROM). This does
 * not authenticate the root (a sender may still name any node behind it);
 * it refuses the roots no correct sender can produce, those a receiver
 * would otherwise learn MACs behind and that would come back to their root
 * as a loop. */
bool bflood_root_plausible(const struct nodeid *root, const struct nodeid *from,
                           const struct nodeid *bound);

/* One copy to send: to neighbour PEER, with header bound BOUND. */
struct bflood_fwd {
    struct nodeid peer;
    struct nodeid bound;
};

enum bflood_verdict {
    BFLOOD_FORWARD,             /* deliver locally and send the n_out copies (maybe none) */
    BFLOOD_HOPS_EXHAUSTED,      /* deliver locally, send nothing: hop limit reached */
    BFLOOD_LOOP,                /* our own flood came back: drop */
    BFLOOD_OUTSIDE_INTERVAL,    /* we are not strictly inside (sender, bound): drop */
    BFLOOD_BAD_ROOT,            /* the root cannot have sent it through the
                                 * sender (bflood_root_plausible): drop */
};

struct bflood_decision {
    enum bflood_verdict verdict;
    bool deliver;               /* hand to local leaf ports (the root: all but
                                 * the one the frame came in on) */
    uint8_t hops;               /* hop count to write into every copy sent */
    size_t n_out;               /* copies written to the OUT array */
    size_t n_truncated;         /* neighbours left out because OUT was full */
};

/* Decides where a flooded frame goes from node SELF. PEERS lists the
 * neighbours whose links are up (N_PEERS of them, any order; SELF and
 * duplicates are ignored). RX is NULL when SELF is the root (the frame came
 * from a local leaf port); otherwise it is the received header and FROM the
 * neighbour it arrived from. Writes the copies to send into OUT (caller-owned,
 * OUT_CAP entries, normally BFLOOD_MAX_NEIGHBOURS) in clockwise order from
 * SELF. When more neighbours qualify than OUT holds, the OUT_CAP nearest
 * clockwise are kept and the last bound still ends where it would: fewer,
 * wider intervals, so the ring successor is never dropped and delivery stays
 * exactly-once. */
void bflood_decide(const struct nodeid *self, const struct nodeid *peers, size_t n_peers,
                   const struct bflood_hdr *rx, const struct nodeid *from,
                   struct bflood_fwd *out, size_t out_cap, struct bflood_decision *);

const char *bflood_verdict_name(enum bflood_verdict);

#endif
