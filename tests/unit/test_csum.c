/* Unit tests for lib/l4csum.c, completing partial TCP/UDP checksums: frames
 * captured from a veth with checksum offload, the edges (UDP's zero, fragments,
 * cut frames), and a randomized differential test against a deliberately
 * naive reference that knows where everything is because it built the frame. */
#include "check.h"
#include "evio/l4csum.h"

#include <stdlib.h>

/* ---- frames a veth with tx checksum offload sent (tcpdump -w on it) ---- */

struct captured {
    const char *what;
    const char *hex;
    uint16_t want;                  /* the full checksum tcpdump computed */
};

static const struct captured captured[] = {
    { "UDP/IPv4, 59 bytes (before padding)",
      "02000000000b02000000000a08004500002d33d040004011f2db0a0900010a090002b431"
      "00090019143f6576696f207061727469616c2075647034", 0x57e9 },
    { "UDP/IPv6",
      "02000000000b02000000000a86dd6008e06c001a1140fd0000000000000000000000000000"
      "01fd000000000000000000000000000002ab700009001afa2f6576696f20706172746961"
      "6c207564703621", 0x7897 },
    { "TCP/IPv4 SYN",
      "02000000000b02000000000a08004500003c64fa40004006c1ad0a0900010a090002e9aa"
      "00098124696100000000a002faf014430000020405b40402080a7f6537a9000000000103030a",
      0xadaf },
    { "TCP/IPv6 SYN",
      "02000000000b02000000000a86dd600e80da00280640fd0000000000000000000000000000"
      "01fd000000000000000000000000000002858200094bfe372e00000000a002fd20fa3200"
      "00020405a00402080a9a998205000000000103030a", 0x2b95 },
    { "TCP/IPv6 RST, as received from the veth's peer",
      "02000000000a02000000000b86dd600c2c7200140640fd0000000000000000000000000000"
      "02fd00000000000000000000000000000100098582000000004bfe372f50140000fa1e0000",
      0xad13 },
};

/* the peer's RST over IPv4 came with its checksum complete */
static const char rst4_full[] =
    "02000000000a02000000000b08004500002800004000400626bc0a0900020a0900010009e9aa"
    "000000008124696250140000c7810000";

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < max; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* the checksum field of a captured frame (no tags, no IPv4 options) */
static size_t captured_field(const uint8_t *f)
{
    size_t l4 = f[12] == 0x86 ? 14 + 40 : 14 + 20;
    uint8_t proto = f[12] == 0x86 ? f[14 + 6] : f[14 + 9];
    return l4 + (proto == 6 ? 16 : 6);
}

static void test_captured(void)
{
    uint8_t f[256], copy[256];
    for (size_t i = 0; i < sizeof captured / sizeof captured[0]; i++) {
        size_t n = unhex(captured[i].hex, f, sizeof f);
        size_t field = captured_field(f);
        memcpy(copy, f, n);
        CHECK(l4csum_is_partial(f, n));
        CHECK(l4csum_complete(f, n) == L4CSUM_COMPLETED);
        if (rd16(f + field) != captured[i].want)
            fprintf(stderr, "%s: completed to %04x, want %04x\n", captured[i].what,
                    rd16(f + field), captured[i].want);
        CHECK(rd16(f + field) == captured[i].want);
        wr16(copy + field, captured[i].want);
        CHECK(!memcmp(f, copy, n));             /* nothing else changed */
        CHECK(!l4csum_is_partial(f, n));
        CHECK(l4csum_complete(f, n) == L4CSUM_FULL);
    }
    size_t n = unhex(rst4_full, f, sizeof f);
    memcpy(copy, f, n);
    CHECK(!l4csum_is_partial(f, n));
    CHECK(l4csum_complete(f, n) == L4CSUM_FULL);
    CHECK(!memcmp(f, copy, n));
}

/* ---- the naive reference -------------------------------------------- */

/* A frame built field by field, with the offsets the builder used. */
struct gen {
    uint8_t f[1700];
    size_t len;                     /* with trailing padding */
    size_t ip, l4, l4_len, field;
    bool v6, udp;
};

static uint32_t rnd(unsigned *seed) { return (uint32_t)rand_r(seed); }

static void fill(uint8_t *p, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd(seed);
}

/* Sums B as 16-bit words one at a time, folding the carry back after each. */
static uint16_t ref_sum(const uint8_t *b, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i += 2) {
        s += (uint32_t)b[i] << 8 | (i + 1 < n ? b[i + 1] : 0);
        if (s > 0xffff)
            s -= 0xffff;
    }
    return (uint16_t)s;
}

/* The pseudo header as RFC 768/793 (IPv4) and RFC 8200 (IPv6) draw it. */
static size_t ref_pseudo(const struct gen *g, uint8_t *out)
{
    uint8_t proto = g->udp ? 17 : 6;
    if (g->v6) {
        memcpy(out, g->f + g->ip + 8, 32);
        uint8_t tail[8] = { 0, 0, (uint8_t)(g->l4_len >> 8), (uint8_t)g->l4_len, 0, 0, 0, proto };
        memcpy(out + 32, tail, 8);
        return 40;
    }
    memcpy(out, g->f + g->ip + 12, 8);
    uint8_t tail[4] = { 0, proto, (uint8_t)(g->l4_len >> 8), (uint8_t)g->l4_len };
    memcpy(out + 8, tail, 4);
    return 12;
}

static uint16_t ref_partial(const struct gen *g)
{
    uint8_t b[40];
    return ref_sum(b, ref_pseudo(g, b));
}

/* The full checksum: pseudo header and segment (its field zero) in one buffer. */
static uint16_t ref_full(const struct gen *g)
{
    static uint8_t b[40 + sizeof g->f];
    size_t n = ref_pseudo(g, b);
    memcpy(b + n, g->f + g->l4, g->l4_len);
    b[n + g->field - g->l4] = b[n + g->field - g->l4 + 1] = 0;
    uint16_t c = (uint16_t)~ref_sum(b, n + g->l4_len);
    return c == 0 && g->udp ? 0xffff : c;
}

/* A random TCP or UDP frame over IPv4 (with options) or IPv6, with 0-2 VLAN
 * tags, 0-1399 payload bytes and 0-29 bytes of padding after the IP packet;
 * its checksum field holds garbage. */
static void gen_frame(struct gen *g, unsigned *seed)
{
    memset(g, 0, sizeof *g);
    uint8_t *f = g->f;
    fill(f, 12, seed);
    size_t off = 12;
    int tags = (int)(rnd(seed) % 3);
    for (int t = 0; t < tags; t++) {
        wr16(f + off, t == 0 && tags == 2 ? 0x88a8 : 0x8100);
        fill(f + off + 2, 2, seed);
        off += 4;
    }
    g->v6 = rnd(seed) & 1;
    g->udp = rnd(seed) & 1;
    wr16(f + off, g->v6 ? 0x86dd : 0x0800);
    g->ip = off + 2;
    size_t iphl = g->v6 ? 40 : 20 + 4 * (rnd(seed) % 11);
    size_t l4hl = g->udp ? 8 : 20 + 4 * (rnd(seed) % 11);
    size_t payload = rnd(seed) % 1400;
    g->l4 = g->ip + iphl;
    g->l4_len = l4hl + payload;
    uint8_t *ip = f + g->ip;
    fill(ip, iphl, seed);
    if (g->v6) {
        ip[0] = (uint8_t)(0x60 | (ip[0] & 0x0f));
        wr16(ip + 4, (uint16_t)g->l4_len);
        ip[6] = g->udp ? 17 : 6;
    } else {
        ip[0] = (uint8_t)(0x40 | iphl / 4);
        wr16(ip + 2, (uint16_t)(iphl + g->l4_len));
        wr16(ip + 6, rnd(seed) & 1 ? 0x4000 : 0);     /* DF or not, never a fragment */
        ip[9] = g->udp ? 17 : 6;
    }
    fill(f + g->l4, g->l4_len, seed);
    if (g->udp) {
        wr16(f + g->l4 + 4, (uint16_t)g->l4_len);
        g->field = g->l4 + 6;
    } else {
        f[g->l4 + 12] = (uint8_t)((l4hl / 4) << 4 | (f[g->l4 + 12] & 0x0f));
        g->field = g->l4 + 16;
    }
    size_t pad = rnd(seed) % 30;
    fill(f + g->l4 + g->l4_len, pad, seed);
    g->len = g->l4 + g->l4_len + pad;
}

/* Partial frames complete to the reference's checksum and change nowhere
 * else; full ones and any other value stay; is_partial agrees; every frame
 * cut short of its IP packet is left alone (in a buffer of exactly that size,
 * so a read past it shows under valgrind or ASan). */
static void test_random(void)
{
    unsigned seed = 18;
    static struct gen g;
    static uint8_t before[sizeof g.f];
    int completed = 0;
    for (int i = 0; i < 20000; i++) {
        gen_frame(&g, &seed);
        uint16_t partial = ref_partial(&g), full = ref_full(&g);

        wr16(g.f + g.field, partial);
        memcpy(before, g.f, g.len);
        CHECK(l4csum_is_partial(g.f, g.len));
        bool ok = l4csum_complete(g.f, g.len) == L4CSUM_COMPLETED;
        ok = ok && rd16(g.f + g.field) == full;
        wr16(before + g.field, full);
        ok = ok && !memcmp(before, g.f, g.len);
        if (!ok)
            fprintf(stderr, "frame %d (%s/%s, %zu bytes): not completed to %04x\n", i,
                    g.udp ? "UDP" : "TCP", g.v6 ? "IPv6" : "IPv4", g.len, full);
        CHECK(ok);
        completed += ok;

        /* complete already, or anything else but the partial sum: left */
        uint16_t other = (uint16_t)rnd(&seed);
        if (other == partial || (g.udp && !g.v6 && other == 0))
            other ^= 1;
        uint16_t keep[2] = { full, other };
        for (int k = 0; k < 2; k++) {
            wr16(g.f + g.field, keep[k]);
            memcpy(before, g.f, g.len);
            bool is = l4csum_is_partial(g.f, g.len);
            enum l4csum_result r = l4csum_complete(g.f, g.len);
            if (keep[k] == partial) {           /* a full sum equal to the partial one */
                CHECK(is && r == L4CSUM_COMPLETED && rd16(g.f + g.field) == full);
            } else {
                CHECK(!is && r == L4CSUM_FULL && !memcmp(before, g.f, g.len));
            }
        }

        if (i % 50 == 0) {
            wr16(g.f + g.field, partial);
            size_t ip_end = g.l4 + g.l4_len;
            for (size_t n = 0; n < ip_end; n += 1 + n / 8) {
                uint8_t *cut = malloc(n ? n : 1);
                memcpy(cut, g.f, n);
                CHECK(!l4csum_is_partial(cut, n));
                CHECK(l4csum_complete(cut, n) == L4CSUM_UNPARSED);
                CHECK(!memcmp(cut, g.f, n));
                free(cut);
            }
        }
    }
    CHECK(completed == 20000);
}

/* ---- edges ------------------------------------------------------------ */

/* A frame from the generator with no tags, given L3/L4, partial. */
static void gen_plain(struct gen *g, bool v6, bool udp, unsigned *seed)
{
    do
        gen_frame(g, seed);
    while (g->v6 != v6 || g->udp != udp || g->ip != 14);
    wr16(g->f + g->field, ref_partial(g));
}

static void check_left(const struct gen *g, enum l4csum_result want, const char *what)
{
    static uint8_t f[sizeof g->f];
    memcpy(f, g->f, g->len);
    bool ok = !l4csum_is_partial(f, g->len) && l4csum_complete(f, g->len) == want
              && !memcmp(f, g->f, g->len);
    if (!ok)
        fprintf(stderr, "not left alone: %s\n", what);
    CHECK(ok);
}

static void test_edges(void)
{
    unsigned seed = 7;
    static struct gen g;

    /* UDP over IPv4 may go without a checksum */
    gen_plain(&g, false, true, &seed);
    wr16(g.f + g.field, 0);
    check_left(&g, L4CSUM_FULL, "UDP/IPv4 with checksum 0");

    /* a UDP sum of 0 goes out as 0xffff: make the segment's sum 0xffff by
     * choosing its last two payload bytes */
    do
        gen_plain(&g, true, true, &seed);
    while (g.l4_len < 12 || g.l4_len % 2);
    uint8_t *last = g.f + g.l4 + g.l4_len - 2;
    wr16(last, 0);
    uint16_t c = ref_full(&g);
    wr16(last, c == 0xffff ? 0 : c);            /* now sum = 0xffff, checksum 0 */
    CHECK(ref_full(&g) == 0xffff);
    wr16(g.f + g.field, ref_partial(&g));
    CHECK(l4csum_complete(g.f, g.len) == L4CSUM_COMPLETED);
    CHECK(rd16(g.f + g.field) == 0xffff);

    /* fragments: the first (more to come) and a later one */
    gen_plain(&g, false, false, &seed);
    wr16(g.f + g.ip + 6, 0x2000);
    check_left(&g, L4CSUM_UNPARSED, "first IPv4 fragment");
    wr16(g.f + g.ip + 6, 0x0010);
    check_left(&g, L4CSUM_UNPARSED, "later IPv4 fragment");

    /* IPv6 with an extension header (hop-by-hop) before TCP */
    gen_plain(&g, true, false, &seed);
    g.f[g.ip + 6] = 0;
    check_left(&g, L4CSUM_UNPARSED, "IPv6 hop-by-hop");

    /* UDP length disagreeing with the IP header */
    gen_plain(&g, false, true, &seed);
    wr16(g.f + g.l4 + 4, (uint16_t)(g.l4_len - 1));
    check_left(&g, L4CSUM_UNPARSED, "UDP length != IP payload length");

    /* IP lengths past the frame, or shorter than the headers */
    gen_plain(&g, false, false, &seed);
    wr16(g.f + g.ip + 2, (uint16_t)(g.len - g.ip + 1));
    check_left(&g, L4CSUM_UNPARSED, "IPv4 total length past the frame");
    wr16(g.f + g.ip + 2, 19);
    check_left(&g, L4CSUM_UNPARSED, "IPv4 total length below its header");
    gen_plain(&g, false, false, &seed);
    g.f[g.ip] = 0x44;
    check_left(&g, L4CSUM_UNPARSED, "IPv4 header length 16");
    gen_plain(&g, false, false, &seed);
    wr16(g.f + g.ip + 2, (uint16_t)(g.l4 - g.ip + 19));
    check_left(&g, L4CSUM_UNPARSED, "TCP header cut by the IP length");
    gen_plain(&g, true, true, &seed);
    wr16(g.f + g.ip + 4, (uint16_t)(g.len - g.ip - 40 + 1));
    check_left(&g, L4CSUM_UNPARSED, "IPv6 payload length past the frame");

    /* the wrong IP version for the EtherType; other EtherTypes and protocols */
    gen_plain(&g, false, true, &seed);
    g.f[g.ip] = (uint8_t)(0x60 | (g.f[g.ip] & 0x0f));
    check_left(&g, L4CSUM_UNPARSED, "IPv6 header behind EtherType 0x0800");
    gen_plain(&g, false, true, &seed);
    wr16(g.f + 12, 0x0806);
    check_left(&g, L4CSUM_UNPARSED, "ARP");
    gen_plain(&g, false, true, &seed);
    g.f[g.ip + 9] = 1;
    check_left(&g, L4CSUM_UNPARSED, "ICMP");

    /* three VLAN tags are more than we look through */
    gen_plain(&g, false, true, &seed);
    memmove(g.f + 24, g.f + 12, g.len - 12);
    for (int t = 0; t < 3; t++) {
        wr16(g.f + 12 + 4 * t, 0x8100);
        wr16(g.f + 14 + 4 * t, 42);
    }
    g.len += 12;
    check_left(&g, L4CSUM_UNPARSED, "three VLAN tags");
}

int main(void)
{
    test_captured();
    test_random();
    test_edges();
    return check_report("test_csum");
}
