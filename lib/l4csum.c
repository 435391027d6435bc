/* Completing partial TCP/UDP checksums in Ethernet frames (see
 * evio/l4csum.h). Every header read is checked against the frame length. */
#include "evio/l4csum.h"

#define L4CSUM_ETH_HLEN   14
#define L4CSUM_MAX_TAGS   2         /* 802.1ad outer + 802.1Q inner */
#define L4CSUM_IP4_HLEN   20
#define L4CSUM_IP6_HLEN   40
#define L4CSUM_TCP_HLEN   20
#define L4CSUM_UDP_HLEN   8

/* Where the checksum of one TCP/UDP segment lives and what covers it. */
struct l4csum_loc {
    size_t l3;                      /* offset of the IP header */
    size_t l4;                      /* offset of the TCP/UDP header */
    size_t l4_len;                  /* header and payload, from the IP header */
    size_t field;                   /* offset of the checksum field */
    uint64_t pseudo;                /* pseudo-header sum, not folded */
    bool udp;
    bool ip4;                       /* with udp: 0 means "no checksum" */
};

static uint16_t l4csum_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Adds N bytes at P to ACC as big-endian 16-bit words (an odd last byte
 * padded with zero). 64 bits hold any frame's sum without carries. */
static uint64_t l4csum_add(uint64_t acc, const uint8_t *p, size_t n)
{
    for (; n > 1; p += 2, n -= 2)
        acc += l4csum_rd16(p);
    if (n)
        acc += (uint64_t)p[0] << 8;
    return acc;
}

/* The ones' complement sum of ACC in 16 bits (end-around carries). */
static uint16_t l4csum_fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

static bool l4csum_locate_ip4(const uint8_t *f, size_t len, size_t off, uint8_t *proto,
                              struct l4csum_loc *loc)
{
    if (len - off < L4CSUM_IP4_HLEN)
        return false;
    const uint8_t *ip = f + off;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = l4csum_rd16(ip + 2);
    if (ip[0] >> 4 != 4 || ihl < L4CSUM_IP4_HLEN || tot < ihl || tot > len - off)
        return false;
    /* a fragment (more to come, or an offset): the segment is not all here,
     * and offload never leaves a fragment partial */
    if (l4csum_rd16(ip + 6) & 0x3fff)
        return false;
    *proto = ip[9];
    loc->l4 = off + ihl;
    loc->l4_len = tot - ihl;
    loc->pseudo = l4csum_add(0, ip + 12, 8) + *proto + loc->l4_len;
    return true;
}

static bool l4csum_locate_ip6(const uint8_t *f, size_t len, size_t off, uint8_t *proto,
                              struct l4csum_loc *loc)
{
    if (len - off < L4CSUM_IP6_HLEN)
        return false;
    const uint8_t *ip = f + off;
    size_t plen = l4csum_rd16(ip + 4);
    if (ip[0] >> 4 != 6 || plen > len - off - L4CSUM_IP6_HLEN)
        return false;
    *proto = ip[6];                 /* an extension header is not TCP/UDP: left */
    loc->l4 = off + L4CSUM_IP6_HLEN;
    loc->l4_len = plen;
    loc->pseudo = l4csum_add(0, ip + 8, 32) + *proto + loc->l4_len;
    return true;
}

/* Finds the TCP or UDP checksum of frame F (LEN bytes); false if F is not a
 * frame this module understands, in full. */
static bool l4csum_locate(const uint8_t *f, size_t len, struct l4csum_loc *loc)
{
    size_t off = 12;                /* the EtherType, or a tag's TPID */
    if (len < L4CSUM_ETH_HLEN)
        return false;
    uint16_t type = l4csum_rd16(f + off);
    for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < L4CSUM_MAX_TAGS; tags++) {
        off += 4;
        if (len < off + 2)
            return false;
        type = l4csum_rd16(f + off);
    }
    off += 2;
    loc->l3 = off;
    uint8_t proto;
    loc->ip4 = type == 0x0800;
    if (loc->ip4 ? !l4csum_locate_ip4(f, len, off, &proto, loc)
                 : type != 0x86dd || !l4csum_locate_ip6(f, len, off, &proto, loc))
        return false;
    if (proto == 6 && loc->l4_len >= L4CSUM_TCP_HLEN) {
        loc->field = loc->l4 + 16;
        loc->udp = false;
        return true;
    }
    /* UDP's own length must agree with the IP header's: the pseudo header
     * uses it, and a mismatch is nothing a sender's offload makes */
    if (proto == 17 && loc->l4_len >= L4CSUM_UDP_HLEN
        && l4csum_rd16(f + loc->l4 + 4) == loc->l4_len) {
        loc->field = loc->l4 + 6;
        loc->udp = true;
        return true;
    }
    return false;
}

static bool l4csum_partial_at(const uint8_t *f, const struct l4csum_loc *loc)
{
    uint16_t have = l4csum_rd16(f + loc->field);
    if (loc->udp && loc->ip4 && have == 0)
        return false;
    return have == l4csum_fold(loc->pseudo);
}

bool l4csum_segment(const uint8_t *frame, size_t len, struct l4csum_segment *out)
{
    struct l4csum_loc loc;
    if (!l4csum_locate(frame, len, &loc))
        return false;
    *out = (struct l4csum_segment){ .l3 = loc.l3, .l4 = loc.l4, .end = loc.l4 + loc.l4_len,
                                    .ip4 = loc.ip4, .udp = loc.udp };
    return true;
}

bool l4csum_is_partial(const uint8_t *frame, size_t len)
{
    struct l4csum_loc loc;
    return l4csum_locate(frame, len, &loc) && l4csum_partial_at(frame, &loc);
}

/* Writes the full checksum of the segment LOC finds in FRAME. */
static void l4csum_write(uint8_t *frame, const struct l4csum_loc *loc)
{
    frame[loc->field] = frame[loc->field + 1] = 0;
    uint16_t sum = (uint16_t)~l4csum_fold(l4csum_add(loc->pseudo, frame + loc->l4, loc->l4_len));
    if (sum == 0 && loc->udp)
        sum = 0xffff;               /* UDP sends a zero sum as all ones (RFC 768) */
    frame[loc->field] = (uint8_t)(sum >> 8);
    frame[loc->field + 1] = (uint8_t)sum;
}

enum l4csum_result l4csum_complete(uint8_t *frame, size_t len)
{
    struct l4csum_loc loc;
    if (!l4csum_locate(frame, len, &loc))
        return L4CSUM_UNPARSED;
    if (!l4csum_partial_at(frame, &loc))
        return L4CSUM_FULL;
    l4csum_write(frame, &loc);
    return L4CSUM_COMPLETED;
}

bool l4csum_refresh(uint8_t *frame, size_t len)
{
    struct l4csum_loc loc;
    if (!l4csum_locate(frame, len, &loc))
        return false;
    l4csum_write(frame, &loc);
    return true;
}

void l4csum_ip4_refresh(uint8_t *ip)
{
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    ip[10] = ip[11] = 0;
    uint16_t sum = (uint16_t)~l4csum_fold(l4csum_add(0, ip, ihl));
    ip[10] = (uint8_t)(sum >> 8);
    ip[11] = (uint8_t)sum;
}
