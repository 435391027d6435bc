/* Bounded flooding: the flood header codec and the interval-partitioning
 * forwarding decision (see bflood.h for the wire format and the rule). */
#include "bflood.h"

#include <string.h>

/* The header as it sits on the wire; only bytes, so no padding and no
 * alignment needs: packets are copied in and out with memcpy. */
struct bflood_wire {
    uint8_t eth_dst[6];
    uint8_t eth_src[6];
    uint8_t ethertype[2];
    uint8_t version;
    uint8_t type;
    uint8_t hops;
    uint8_t flags;
    uint8_t root[16];
    uint8_t bound[16];
};
_Static_assert(sizeof(struct bflood_wire) == BFLOOD_HDR_LEN, "flood header is 50 bytes");

#define ETH_HDR_LEN 14

static uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static bool type_is_valid(uint8_t t)
{
    return t == BFLOOD_BROADCAST || t == BFLOOD_MULTICAST || t == BFLOOD_UNKNOWN_UNICAST
           || t == BFLOOD_ANNOUNCE || t == BFLOOD_QUERY;
}

/* Whether an Ethernet frame (LEN >= 14) carries a flood frame, looking
 * through up to two VLAN tags so nesting cannot hide behind one. */
static bool frame_is_bflood(const uint8_t *frame, size_t len)
{
    size_t off = 12;
    for (int tags = 0; tags <= 2 && off + 2 <= len; tags++) {
        uint16_t et = get_be16(frame + off);
        if (et == BFLOOD_ETHERTYPE)
            return true;
        if (et != 0x8100 && et != 0x88a8 && et != 0x9100)
            return false;
        off += 4;
    }
    return false;
}

const char *bflood_reason_name(enum bflood_reason r)
{
    switch (r) {
    case BFLOOD_OK:                   return "ok";
    case BFLOOD_RUNT:                 return "runt";
    case BFLOOD_NOT_BFLOOD_ETHERTYPE: return "not a flood frame (EtherType)";
    case BFLOOD_BAD_VERSION:          return "unknown version";
    case BFLOOD_BAD_FLAGS:            return "reserved flags set";
    case BFLOOD_BAD_TYPE:             return "unknown flood type";
    case BFLOOD_HOPS_EXCEEDED:        return "hop count exceeded";
    case BFLOOD_INNER_RUNT:           return "inner frame runt";
    case BFLOOD_INNER_BFLOOD:         return "nested flood frame";
    }
    return "?";
}

size_t bflood_encap(const struct bflood_hdr *h, const uint8_t *frame, size_t len,
                    uint8_t *out, size_t out_cap)
{
    if (out_cap < BFLOOD_HDR_LEN || len > out_cap - BFLOOD_HDR_LEN)
        return 0;
    if (!type_is_valid(h->type) || h->hops > BFLOOD_MAX_HOPS)
        return 0;
    if (len < ETH_HDR_LEN || frame_is_bflood(frame, len))
        return 0;

    struct bflood_wire w;
    memcpy(w.eth_dst, h->eth_dst, 6);
    memcpy(w.eth_src, h->eth_src, 6);
    w.ethertype[0] = BFLOOD_ETHERTYPE >> 8;
    w.ethertype[1] = BFLOOD_ETHERTYPE & 0xff;
    w.version = BFLOOD_VERSION;
    w.type = h->type;
    w.hops = h->hops;
    w.flags = 0;
    memcpy(w.root, h->root.b, 16);
    memcpy(w.bound, h->bound.b, 16);

    memmove(out + sizeof w, frame, len);    /* FRAME may already sit in OUT */
    memcpy(out, &w, sizeof w);
    return sizeof w + len;
}

enum bflood_reason bflood_decap(const uint8_t *pkt, size_t len, struct bflood_hdr *h,
                                const uint8_t **inner, size_t *inner_len)
{
    *inner = NULL;
    *inner_len = 0;
    if (len < ETH_HDR_LEN)
        return BFLOOD_RUNT;
    if (get_be16(pkt + 12) != BFLOOD_ETHERTYPE)
        return BFLOOD_NOT_BFLOOD_ETHERTYPE;
    if (len < BFLOOD_HDR_LEN)
        return BFLOOD_RUNT;

    struct bflood_wire w;
    memcpy(&w, pkt, sizeof w);
    if (w.version != BFLOOD_VERSION)
        return BFLOOD_BAD_VERSION;
    if (w.flags != 0)
        return BFLOOD_BAD_FLAGS;
    if (!type_is_valid(w.type))
        return BFLOOD_BAD_TYPE;
    if (w.hops > BFLOOD_MAX_HOPS)
        return BFLOOD_HOPS_EXCEEDED;

    const uint8_t *in = pkt + sizeof w;
    size_t in_len = len - sizeof w;
    if (in_len < ETH_HDR_LEN)
        return BFLOOD_INNER_RUNT;
    if (frame_is_bflood(in, in_len))
        return BFLOOD_INNER_BFLOOD;

    memcpy(h->eth_dst, w.eth_dst, 6);
    memcpy(h->eth_src, w.eth_src, 6);
    h->type = w.type;
    h->hops = w.hops;
    memcpy(h->root.b, w.root, 16);
    memcpy(h->bound.b, w.bound, 16);
    *inner = in;
    *inner_len = in_len;
    return BFLOOD_OK;
}

bool bflood_in_interval(const struct nodeid *x, const struct nodeid *lo,
                        const struct nodeid *hi)
{
    int lh = nodeid_cmp(lo, hi);
    if (lh == 0)
        return true;
    if (lh < 0)
        return nodeid_cmp(lo, x) <= 0 && nodeid_cmp(x, hi) < 0;
    return nodeid_cmp(lo, x) <= 0 || nodeid_cmp(x, hi) < 0;     /* wraps past ff..ff */
}

/* Clockwise from ORIGIN, IDs at or above it come first, then the wrapped
 * ones below it; within each part the plain unsigned order holds. */
int bflood_cw_cmp(const struct nodeid *a, const struct nodeid *b,
                  const struct nodeid *origin)
{
    bool a_wrapped = nodeid_cmp(a, origin) < 0;
    bool b_wrapped = nodeid_cmp(b, origin) < 0;
    if (a_wrapped != b_wrapped)
        return a_wrapped ? 1 : -1;
    return nodeid_cmp(a, b);
}

/* X strictly inside the clockwise interval (LO, HI); LO == HI means the
 * ring without LO. */
static bool in_open_interval(const struct nodeid *x, const struct nodeid *lo,
                             const struct nodeid *hi)
{
    return nodeid_cmp(x, lo) && bflood_in_interval(x, lo, hi);
}

const char *bflood_verdict_name(enum bflood_verdict v)
{
    switch (v) {
    case BFLOOD_FORWARD:          return "forward";
    case BFLOOD_HOPS_EXHAUSTED:   return "hop limit reached";
    case BFLOOD_LOOP:             return "own flood came back";
    case BFLOOD_OUTSIDE_INTERVAL: return "outside the sender's interval";
    case BFLOOD_BAD_ROOT:         return "root not behind the sender";
    }
    return "?";
}

bool bflood_root_plausible(const struct nodeid *root, const struct nodeid *from,
                           const struct nodeid *bound)
{
    if (!nodeid_cmp(root, from))
        return true;
    return nodeid_cmp(bound, from) && bflood_in_interval(root, bound, from);
}

/* Inserts P into OUT[0..*N), kept sorted clockwise from SELF and free of
 * duplicates; when full, only the CAP nearest stay. */
static void insert_cw(struct bflood_fwd *out, size_t cap, size_t *n, size_t *truncated,
                      const struct nodeid *p, const struct nodeid *self)
{
    size_t lo = 0, hi = *n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bflood_cw_cmp(&out[mid].peer, p, self);
        if (c == 0)
            return;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == cap) {
        (*truncated)++;
        return;
    }
    if (*n == cap) {
        (*truncated)++;
        (*n)--;
    }
    memmove(&out[lo + 1], &out[lo], (*n - lo) * sizeof *out);
    out[lo].peer = *p;
    (*n)++;
}

void bflood_decide(const struct nodeid *self, const struct nodeid *peers, size_t n_peers,
                   const struct bflood_hdr *rx, const struct nodeid *from,
                   struct bflood_fwd *out, size_t out_cap, struct bflood_decision *d)
{
    d->n_out = 0;
    d->n_truncated = 0;
    d->deliver = false;
    d->hops = 1;

    /* The root covers the ring up to itself; a receiver up to its bound. */
    const struct nodeid *bound = self;
    if (rx) {
        if (!nodeid_cmp(&rx->root, self)) {
            d->verdict = BFLOOD_LOOP;
            return;
        }
        /* A correct sender S only ever hands out bounds B with us inside
         * (S, B); anything else would overlap another node's interval. */
        if (!in_open_interval(self, from, &rx->bound)) {
            d->verdict = BFLOOD_OUTSIDE_INTERVAL;
            return;
        }
        if (!bflood_root_plausible(&rx->root, from, &rx->bound)) {
            d->verdict = BFLOOD_BAD_ROOT;
            return;
        }
        d->deliver = true;
        if (rx->hops >= BFLOOD_MAX_HOPS) {
            d->verdict = BFLOOD_HOPS_EXHAUSTED;
            return;
        }
        d->hops = (uint8_t)(rx->hops + 1);
        bound = &rx->bound;
    } else {
        d->deliver = true;
    }
    d->verdict = BFLOOD_FORWARD;

    for (size_t i = 0; i < n_peers; i++) {
        if (in_open_interval(&peers[i], self, bound))
            insert_cw(out, out_cap, &d->n_out, &d->n_truncated, &peers[i], self);
    }
    for (size_t i = 0; i < d->n_out; i++)
        out[i].bound = i + 1 < d->n_out ? out[i + 1].peer : *bound;
}
