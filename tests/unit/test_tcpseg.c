/* Unit tests for tincan/tcpseg.c: a TCP segment too long for a link is cut
 * into segments that fit, carry the same bytes in order, and that a receiver
 * accepts (lengths, sequence numbers, IPv4 IDs and both checksums checked
 * here with a checksum written independently of the one under test); what
 * is not a TCP segment it can cut is left alone, and no truncation of a
 * valid frame makes it read past the end. The frame shape is the one seen
 * on the wire: Open vSwitch 3.1 hands a 1450-byte frame (timestamps and
 * three SACK blocks) to a link whose frames may be 1424 bytes. */
#include "check.h"
#include "../../tincan/tcpseg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MTU 1410
#define MAX_FRAME (MTU + 14)
#define OUT (65536 + TCPSEG_MAX_OUT * 160)

static uint8_t frame[70000], out[OUT];

/* the one's-complement sum, byte by byte (independent of lib/l4csum.c) */
static unsigned csum(const uint8_t *parts[], const size_t lens[], int n)
{
    unsigned long sum = 0;
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < lens[k]; i++)
            sum += (i & 1) ? parts[k][i] : (unsigned long)parts[k][i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (unsigned)sum;   /* 0xffff when the data includes a right checksum */
}

static unsigned g16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t g32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Builds an Ethernet frame: TAGS 802.1Q tags, IPv4 or IPv6, a TCP header
 * with OPTS bytes of options and flags FLAGS, DATA payload bytes (i*7);
 * returns its length. Checksums are left zero: the cut makes them anew. */
static size_t build(int version, int tags, size_t opts, uint8_t flags, size_t data)
{
    memset(frame, 0, sizeof frame);
    size_t off = 12;
    for (int t = 0; t < tags; t++, off += 4) {
        frame[off] = 0x81, frame[off + 1] = 0x00, frame[off + 3] = 42;
    }
    size_t tcp_len = 20 + opts + data;
    if (version == 4) {
        frame[off] = 0x08, frame[off + 1] = 0x00;
        uint8_t *ip = frame + off + 2;
        ip[0] = 0x45;
        ip[2] = (uint8_t)((20 + tcp_len) >> 8), ip[3] = (uint8_t)(20 + tcp_len);
        ip[4] = 0xff, ip[5] = 0xfe;             /* ID: wraps on the second piece */
        ip[6] = 0x40;                            /* DF */
        ip[8] = 64, ip[9] = 6;
        memcpy(ip + 12, "\x0a\xfa\x00\x01\x0a\xfa\x00\x6e", 8);
        off += 2 + 20;
    } else {
        frame[off] = 0x86, frame[off + 1] = 0xdd;
        uint8_t *ip = frame + off + 2;
        ip[0] = 0x60;
        ip[4] = (uint8_t)(tcp_len >> 8), ip[5] = (uint8_t)tcp_len;
        ip[6] = 6, ip[7] = 64;
        for (int i = 0; i < 32; i++)
            ip[8 + i] = (uint8_t)(0xfd + i);
        off += 2 + 40;
    }
    uint8_t *tcp = frame + off;
    tcp[0] = 0x1b, tcp[1] = 0x58, tcp[2] = 0xa2, tcp[3] = 0x9e;
    tcp[4] = 0xff, tcp[5] = 0xff, tcp[6] = 0xfa, tcp[7] = 0x00;   /* seq wraps */
    tcp[8] = 0x15, tcp[12] = (uint8_t)(((20 + opts) / 4) << 4), tcp[13] = flags;
    tcp[14] = 0x01, tcp[15] = 0x00;
    for (size_t i = 0; i < opts; i++)
        tcp[20 + i] = 1;                         /* NOPs stand in for TS and SACK */
    for (size_t i = 0; i < data; i++)
        tcp[20 + opts + i] = (uint8_t)(i * 7);
    return off + tcp_len;
}

/* Checks the N pieces in OUT of the frame built with these arguments. */
static void check_pieces(int n, const size_t *lens, int version, int tags, size_t opts,
                         uint8_t flags, size_t data)
{
    size_t l3 = 14 + 4 * (size_t)tags, l4 = l3 + (version == 4 ? 20 : 40), hdr = l4 + 20 + opts;
    const uint8_t *p = out;
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        size_t len = lens[k];
        CHECK(len <= MAX_FRAME + (tags ? 4u : 0u));
        CHECK(len > hdr);
        CHECK(!memcmp(p, frame, l3));                      /* Ethernet and tags */
        size_t chunk = len - hdr;
        if (version == 4) {
            CHECK(g16(p + l3 + 2) == len - l3);
            CHECK(g16(p + l3 + 4) == ((0xfffe + (unsigned)k) & 0xffff));
            const uint8_t *parts[] = { p + l3 };
            size_t pl[] = { 20 };
            CHECK(csum(parts, pl, 1) == 0xffff);
            uint8_t pseudo[12] = { 0 };
            memcpy(pseudo, p + l3 + 12, 8);
            pseudo[9] = 6, pseudo[10] = (uint8_t)((len - l4) >> 8), pseudo[11] = (uint8_t)(len - l4);
            const uint8_t *tp[] = { pseudo, p + l4 };
            size_t tl[] = { 12, len - l4 };
            CHECK(csum(tp, tl, 2) == 0xffff);
        } else {
            CHECK(g16(p + l3 + 4) == len - l4);
            uint8_t pseudo[40] = { 0 };
            memcpy(pseudo, p + l3 + 8, 32);
            pseudo[34] = (uint8_t)((len - l4) >> 8), pseudo[35] = (uint8_t)(len - l4);
            pseudo[39] = 6;
            const uint8_t *tp[] = { pseudo, p + l4 };
            size_t tl[] = { 40, len - l4 };
            CHECK(csum(tp, tl, 2) == 0xffff);
        }
        CHECK(g32(p + l4 + 4) == (uint32_t)(0xfffffa00u + at));
        CHECK(!memcmp(p + l4 + 20, frame + l4 + 20, opts));  /* options on every piece */
        uint8_t f = p[l4 + 13];
        CHECK(!!(f & 0x01) == (k == n - 1 && (flags & 0x01)));   /* FIN last */
        CHECK(!!(f & 0x08) == (k == n - 1 && (flags & 0x08)));   /* PSH last */
        CHECK(!!(f & 0x80) == (k == 0 && (flags & 0x80)));       /* CWR first */
        CHECK((f & 0x10) == (flags & 0x10));                     /* ACK on all */
        CHECK(!memcmp(p + hdr, frame + hdr + at, chunk));
        at += chunk;
        p += len;
    }
    CHECK(at == data);
}

static void case_ok(int version, int tags, size_t opts, uint8_t flags, size_t data, int want_n)
{
    size_t len = build(version, tags, opts, flags, data), lens[TCPSEG_MAX_OUT];
    size_t max = MAX_FRAME + (tags ? 4 : 0);
    int n = tcpseg_split(frame, len, max, out, sizeof out, lens);
    CHECK(n == want_n);
    if (n == want_n)
        check_pieces(n, lens, version, tags, opts, flags, data);
}

int main(void)
{
    /* what OVS 3.1 made on the wire: 1356 payload bytes, TS + 3 SACK blocks */
    size_t len = build(4, 0, 40, 0x18, 1356);
    CHECK(len == 1450);
    case_ok(4, 0, 40, 0x18, 1356, 2);
    case_ok(4, 0, 12, 0x19, 1370, 2);            /* FIN+PSH+ACK stay on the last */
    case_ok(4, 0, 0, 0x90, 1371, 2);             /* CWR only on the first */
    case_ok(6, 0, 32, 0x18, 1350, 2);
    case_ok(4, 1, 40, 0x10, 1356, 2);            /* one 802.1Q tag */
    case_ok(4, 2, 40, 0x10, 1356, 2);            /* QinQ */
    case_ok(4, 0, 12, 0x10, 9000, 7);            /* a jumbo cut into 7 */

    size_t lens[TCPSEG_MAX_OUT];
    /* not for cutting */
    len = build(4, 0, 12, 0x10, 1400);
    frame[14 + 9] = 17;                          /* UDP */
    CHECK(tcpseg_split(frame, len, MAX_FRAME, out, sizeof out, lens) == 0);
    len = build(4, 0, 12, 0x10, 1400);
    frame[14 + 6] = 0x20;                        /* MF: a fragment */
    CHECK(tcpseg_split(frame, len, MAX_FRAME, out, sizeof out, lens) == 0);
    len = build(4, 0, 12, 0x30, 1400);           /* URG */
    CHECK(tcpseg_split(frame, len, MAX_FRAME, out, sizeof out, lens) == 0);
    len = build(6, 0, 12, 0x10, 1400);
    frame[14 + 6] = 0;                           /* IPv6 hop-by-hop header first */
    CHECK(tcpseg_split(frame, len, MAX_FRAME, out, sizeof out, lens) == 0);
    len = build(4, 0, 12, 0x10, 1400);
    CHECK(tcpseg_split(frame, len - 1, MAX_FRAME, out, sizeof out, lens) == 0);  /* IP longer than frame */
    CHECK(tcpseg_split(frame, len, 14 + 20 + 32, out, sizeof out, lens) == 0);   /* no room */
    CHECK(tcpseg_split(frame, len, MAX_FRAME, out, 1500, lens) == 0);            /* OUT too small */
    len = build(4, 0, 12, 0x10, 20000);                                          /* > 8 pieces */
    CHECK(tcpseg_split(frame, len, MAX_FRAME, out, sizeof out, lens) == 0);
    len = build(4, 0, 12, 0x10, 1400);
    frame[14 + 20 + 12] = 0xf0;                  /* data offset 60 > segment */
    CHECK(tcpseg_split(frame, 14 + 20 + 40, MAX_FRAME, out, sizeof out, lens) == 0);

    /* every truncation, and random bytes, of valid frames: no read past the
     * end (run under ASan by make check-unit's sanitizer build, if any) */
    for (int v = 4; v <= 6; v += 2) {
        size_t full = build(v, 1, 40, 0x18, 1356);
        for (size_t cut = 0; cut <= full; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, frame, cut);
            int n = tcpseg_split(copy, cut, MAX_FRAME, out, sizeof out, lens);
            CHECK(n == 0 || cut == full);
            free(copy);
        }
    }
    srand(7);
    for (int i = 0; i < 20000; i++) {
        size_t n = build(i & 1 ? 4 : 6, i % 3, (size_t)(i % 11) * 4, 0x10, 1300 + (size_t)(i % 200));
        for (int j = 0; j < 4; j++)
            frame[rand() % (int)n] = (uint8_t)rand();
        int k = tcpseg_split(frame, n, MAX_FRAME, out, sizeof out, lens);
        size_t total = 0;
        for (int m = 0; m < k; m++)
            total += lens[m];
        CHECK(k >= 0 && k <= TCPSEG_MAX_OUT && total <= sizeof out);
    }
    return check_report("test_tcpseg");
}
