/* Cutting a TCP segment too long for a link (see tcpseg.h). */
#include "tcpseg.h"

#include <string.h>

#include "evio/l4csum.h"

#define TCP_HLEN_MIN   20

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_URG 0x20
#define TCP_CWR 0x80

static unsigned get16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Where the headers of one TCP segment are, and how long it is. */
struct tcpseg_shape {
    size_t l3;        /* offset of the IP header */
    size_t l4;        /* offset of the TCP header */
    size_t payload;   /* offset of the TCP payload */
    size_t end;       /* end of the IP packet (Ethernet padding excluded) */
    int version;      /* 4 or 6 */
};

/* The frame's TCP segment, found as lib/l4csum.c finds segments (the same
 * frames it can check are the ones we can cut). */
static int tcpseg_parse(const uint8_t *f, size_t len, struct tcpseg_shape *s)
{
    struct l4csum_segment g;
    if (!l4csum_segment(f, len, &g) || g.udp)
        return 0;
    s->l3 = g.l3;
    s->l4 = g.l4;
    s->end = g.end;
    s->version = g.ip4 ? 4 : 6;
    if (s->end < s->l4 + TCP_HLEN_MIN)
        return 0;
    size_t doff = (size_t)(f[s->l4 + 12] >> 4) * 4;
    if (doff < TCP_HLEN_MIN || s->l4 + doff > s->end)
        return 0;
    s->payload = s->l4 + doff;
    return 1;
}

int tcpseg_split(const uint8_t *frame, size_t len, size_t max, uint8_t *out, size_t out_size,
                 size_t out_len[TCPSEG_MAX_OUT])
{
    struct tcpseg_shape s;
    if (!tcpseg_parse(frame, len, &s))
        return 0;
    uint8_t flags = frame[s.l4 + 13];
    if (flags & TCP_URG)   /* the urgent pointer would need moving too: rare, not worth it */
        return 0;
    size_t hdr = s.payload, data = s.end - s.payload;
    if (max <= hdr || data == 0)
        return 0;
    size_t per = max - hdr;
    size_t n = (data + per - 1) / per;
    if (n > TCPSEG_MAX_OUT || n * hdr + data > out_size)
        return 0;

    uint32_t seq = get32(frame + s.l4 + 4);
    unsigned id = s.version == 4 ? get16(frame + s.l3 + 4) : 0;
    uint8_t *o = out;
    for (size_t k = 0, at = 0; k < n; k++) {
        size_t chunk = data - at < per ? data - at : per;
        memcpy(o, frame, hdr);
        memcpy(o + hdr, frame + s.payload + at, chunk);
        size_t end = hdr + chunk;
        if (s.version == 4) {
            put16(o + s.l3 + 2, (unsigned)(end - s.l3));
            put16(o + s.l3 + 4, (id + (unsigned)k) & 0xffff);
            l4csum_ip4_refresh(o + s.l3);
        } else {
            put16(o + s.l3 + 4, (unsigned)(end - s.l4));
        }
        put32(o + s.l4 + 4, seq + (uint32_t)at);
        uint8_t f = flags;
        if (k + 1 < n)
            f &= (uint8_t)~(TCP_FIN | TCP_PSH);
        if (k > 0)
            f &= (uint8_t)~TCP_CWR;
        o[s.l4 + 13] = f;
        l4csum_refresh(o, end);   /* parses as tcpseg_parse did: cannot fail */
        out_len[k] = end;
        o += end;
        at += chunk;
    }
    return (int)n;
}
