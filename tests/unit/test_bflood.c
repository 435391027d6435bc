/* Unit tests for switchctl/bflood.c, bounded flooding: the flood header codec
 * against truncated, malformed and randomly mutated packets, the forwarding
 * decision on small hand-made rings, and floods simulated over hundreds of
 * random overlays checked against a naive breadth-first reference.
 *
 * What the simulation relies on: exactly-once delivery holds when every node
 * has its ring successor (the next ID clockwise) among its up neighbours.
 * A node's interval [n, bound) then stays connected through successors, and
 * the nearest neighbour clockwise, which every node forwards to first, is
 * that successor. Without it the intervals still never overlap (so nobody
 * ever gets two copies) but a node can hold an interval it cannot reach:
 * test_missing_successor shows such misses happen. All randomness comes
 * from fixed seeds. */
#include "check.h"
#include "../../switchctl/bflood.h"

#include <stdint.h>
#include <stdlib.h>

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)      /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n) { return (size_t)(rng_next(s) % n); }

static struct nodeid id_u64(uint64_t hi, uint64_t lo)
{
    struct nodeid id;
    for (int i = 0; i < 8; i++) {
        id.b[i] = (uint8_t)(hi >> (56 - 8 * i));
        id.b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    return id;
}

static struct nodeid id_small(uint64_t lo) { return id_u64(0, lo); }
static struct nodeid id_top(uint64_t below) { return id_u64(UINT64_MAX, UINT64_MAX - below); }

static bool id_eq(const struct nodeid *a, const struct nodeid *b) { return !nodeid_cmp(a, b); }

static bool fwd_is(const struct bflood_fwd *f, struct nodeid peer, struct nodeid bound)
{
    return id_eq(&f->peer, &peer) && id_eq(&f->bound, &bound);
}

/* A received header from ROOT with BOUND after HOPS links. */
static struct bflood_hdr rx_hdr(struct nodeid root, struct nodeid bound, uint8_t hops)
{
    struct bflood_hdr h = { .type = BFLOOD_BROADCAST, .hops = hops, .root = root, .bound = bound };
    memset(h.eth_dst, 0xff, 6);
    return h;
}

/* ---- codec ------------------------------------------------------------ */

#define PKT_MAX 512

static void make_inner(uint8_t *f, size_t len, uint64_t *seed)
{
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)rng_next(seed);
    memset(f, 0xff, 6);
    f[6] = 0x02;                /* unicast, locally administered source */
    f[12] = 0x08;               /* IPv4: anything but a flood frame */
    f[13] = 0x00;
}

static struct bflood_hdr sample_hdr(void)
{
    struct bflood_hdr h = {
        .eth_dst = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
        .eth_src = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 },
        .type = BFLOOD_MULTICAST,
        .hops = 7,
        .root = id_u64(0x0123456789abcdefull, 0xfedcba9876543210ull),
        .bound = id_u64(0x8000000000000000ull, 1),
    };
    return h;
}

/* Decodes a copy of PKT in a heap buffer of exactly LEN bytes, so that a
 * sanitizer build catches any read past the end. *INNER_OFF is the offset
 * of the inner frame, or -1. */
static enum bflood_reason decap_exact(const uint8_t *pkt, size_t len, struct bflood_hdr *h,
                                      long *inner_off, size_t *inner_len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, pkt, len);
    const uint8_t *inner = (const uint8_t *)"x";
    enum bflood_reason r = bflood_decap(copy, len, h, &inner, inner_len);
    *inner_off = inner ? (long)(inner - copy) : -1;
    free(copy);
    return r;
}

static void test_codec_round_trip(void)
{
    uint64_t seed = 1;
    uint8_t inner[60], pkt[PKT_MAX];
    make_inner(inner, sizeof inner, &seed);
    struct bflood_hdr h = sample_hdr(), g;

    size_t n = bflood_encap(&h, inner, sizeof inner, pkt, sizeof pkt);
    CHECK(n == BFLOOD_HDR_LEN + sizeof inner);
    CHECK(pkt[12] == 0x88 && pkt[13] == 0xb5);
    CHECK(pkt[14] == 1 && pkt[15] == BFLOOD_MULTICAST && pkt[16] == 7 && pkt[17] == 0);
    CHECK(!memcmp(pkt, h.eth_dst, 6) && !memcmp(pkt + 6, h.eth_src, 6));
    CHECK(!memcmp(pkt + 18, h.root.b, 16) && !memcmp(pkt + 34, h.bound.b, 16));

    const uint8_t *in;
    size_t in_len;
    CHECK(bflood_decap(pkt, n, &g, &in, &in_len) == BFLOOD_OK);
    CHECK(in == pkt + BFLOOD_HDR_LEN && in_len == sizeof inner);
    CHECK(!memcmp(in, inner, sizeof inner));
    CHECK(!memcmp(g.eth_dst, h.eth_dst, 6) && !memcmp(g.eth_src, h.eth_src, 6));
    CHECK(g.type == h.type && g.hops == h.hops);
    CHECK(id_eq(&g.root, &h.root) && id_eq(&g.bound, &h.bound));

    /* in place: the frame already sits after room for the header, or at the
     * start of the buffer */
    uint8_t buf[PKT_MAX];
    memcpy(buf + BFLOOD_HDR_LEN, inner, sizeof inner);
    CHECK(bflood_encap(&h, buf + BFLOOD_HDR_LEN, sizeof inner, buf, sizeof buf) == n);
    CHECK(!memcmp(buf, pkt, n));
    memcpy(buf, inner, sizeof inner);
    CHECK(bflood_encap(&h, buf, sizeof inner, buf, sizeof buf) == n);
    CHECK(!memcmp(buf, pkt, n));

    /* exactly enough room, one byte short */
    CHECK(bflood_encap(&h, inner, sizeof inner, buf, n) == n);
    CHECK(bflood_encap(&h, inner, sizeof inner, buf, n - 1) == 0);
    CHECK(bflood_encap(&h, inner, sizeof inner, buf, 10) == 0);
    /* what decap would refuse, encap refuses to write */
    struct bflood_hdr bad = h;
    bad.type = 0;
    CHECK(bflood_encap(&bad, inner, sizeof inner, buf, sizeof buf) == 0);
    bad = h;
    bad.hops = BFLOOD_MAX_HOPS + 1;
    CHECK(bflood_encap(&bad, inner, sizeof inner, buf, sizeof buf) == 0);
    bad.hops = BFLOOD_MAX_HOPS;
    CHECK(bflood_encap(&bad, inner, sizeof inner, buf, sizeof buf) == n);
    CHECK(bflood_encap(&h, inner, 13, buf, sizeof buf) == 0);
    CHECK(bflood_encap(&h, inner, 14, buf, sizeof buf) == BFLOOD_HDR_LEN + 14);
    CHECK(bflood_encap(&h, pkt, n, buf, sizeof buf) == 0);      /* nesting */
}

static void test_codec_truncation(void)
{
    uint64_t seed = 2;
    uint8_t inner[64], pkt[PKT_MAX];
    make_inner(inner, sizeof inner, &seed);
    struct bflood_hdr h = sample_hdr(), g;
    size_t n = bflood_encap(&h, inner, sizeof inner, pkt, sizeof pkt);
    CHECK(n == BFLOOD_HDR_LEN + 64);

    /* Cut inside the headers: refused. Cut inside the inner frame past its
     * Ethernet header: nothing can tell (the flood header has no length,
     * like Ethernet itself), so it decodes as the shorter frame. */
    int runt = 0, inner_runt = 0, shorter = 0, other = 0, leaked = 0;
    for (size_t len = 0; len < n; len++) {
        long off;
        size_t in_len = 99;
        enum bflood_reason r = decap_exact(pkt, len, &g, &off, &in_len);
        if (len < BFLOOD_HDR_LEN) {
            runt += r == BFLOOD_RUNT;
            leaked += off != -1 || in_len != 0;
        } else if (len < BFLOOD_HDR_LEN + 14) {
            inner_runt += r == BFLOOD_INNER_RUNT;
            leaked += off != -1 || in_len != 0;
        } else if (r == BFLOOD_OK && off == BFLOOD_HDR_LEN && in_len == len - BFLOOD_HDR_LEN) {
            shorter++;
        } else {
            other++;
        }
    }
    CHECK(runt == BFLOOD_HDR_LEN);
    CHECK(inner_runt == 14);
    CHECK(shorter == 64 - 14);
    CHECK(other == 0);
    CHECK(leaked == 0);
    long off;
    size_t in_len;
    CHECK(decap_exact(pkt, n, &g, &off, &in_len) == BFLOOD_OK && off == BFLOOD_HDR_LEN);
}

static enum bflood_reason decap_with(const uint8_t *pkt, size_t n, size_t at, uint8_t v)
{
    uint8_t copy[PKT_MAX];
    memcpy(copy, pkt, n);
    copy[at] = v;
    struct bflood_hdr g;
    long off;
    size_t in_len;
    return decap_exact(copy, n, &g, &off, &in_len);
}

static void test_codec_bad_fields(void)
{
    uint64_t seed = 3;
    uint8_t inner[60], pkt[PKT_MAX];
    make_inner(inner, sizeof inner, &seed);
    struct bflood_hdr h = sample_hdr();
    size_t n = bflood_encap(&h, inner, sizeof inner, pkt, sizeof pkt);

    CHECK(decap_with(pkt, n, 12, 0x08) == BFLOOD_NOT_BFLOOD_ETHERTYPE);
    CHECK(decap_with(pkt, n, 13, 0xb6) == BFLOOD_NOT_BFLOOD_ETHERTYPE);
    CHECK(decap_with(pkt, n, 14, 0) == BFLOOD_BAD_VERSION);
    CHECK(decap_with(pkt, n, 14, 2) == BFLOOD_BAD_VERSION);
    CHECK(decap_with(pkt, n, 15, 0) == BFLOOD_BAD_TYPE);
    CHECK(decap_with(pkt, n, 15, 6) == BFLOOD_BAD_TYPE);
    CHECK(decap_with(pkt, n, 15, BFLOOD_QUERY) == BFLOOD_OK);
    CHECK(decap_with(pkt, n, 15, BFLOOD_ANNOUNCE) == BFLOOD_OK);
    CHECK(decap_with(pkt, n, 15, BFLOOD_UNKNOWN_UNICAST) == BFLOOD_OK);
    CHECK(decap_with(pkt, n, 16, BFLOOD_MAX_HOPS + 1) == BFLOOD_HOPS_EXCEEDED);
    CHECK(decap_with(pkt, n, 16, 255) == BFLOOD_HOPS_EXCEEDED);
    CHECK(decap_with(pkt, n, 16, BFLOOD_MAX_HOPS) == BFLOOD_OK);
    CHECK(decap_with(pkt, n, 16, 0) == BFLOOD_OK);
    CHECK(decap_with(pkt, n, 17, 1) == BFLOOD_BAD_FLAGS);
    CHECK(decap_with(pkt, n, 17, 0x80) == BFLOOD_BAD_FLAGS);
    /* a wrong EtherType wins over a short packet: it is not ours at all */
    uint8_t arp[20] = { 0 };
    arp[12] = 0x08;
    arp[13] = 0x06;
    struct bflood_hdr g;
    long off;
    size_t in_len;
    CHECK(decap_exact(arp, sizeof arp, &g, &off, &in_len) == BFLOOD_NOT_BFLOOD_ETHERTYPE);

    /* every reason has its own name */
    for (int r = BFLOOD_OK; r <= BFLOOD_INNER_BFLOOD; r++) {
        const char *name = bflood_reason_name((enum bflood_reason)r);
        CHECK(strcmp(name, "?") != 0);
        for (int q = BFLOOD_OK; q < r; q++)
            CHECK(strcmp(name, bflood_reason_name((enum bflood_reason)q)) != 0);
    }
    for (int v = BFLOOD_FORWARD; v <= BFLOOD_BAD_ROOT; v++)
        CHECK(strcmp(bflood_verdict_name((enum bflood_verdict)v), "?") != 0);
}

static void test_codec_nesting(void)
{
    uint64_t seed = 4;
    uint8_t inner[60], pkt[PKT_MAX], outer[PKT_MAX];
    make_inner(inner, sizeof inner, &seed);
    struct bflood_hdr h = sample_hdr(), g;
    size_t n = bflood_encap(&h, inner, sizeof inner, pkt, sizeof pkt);
    long off;
    size_t in_len;

    /* a flood frame wrapped by hand into another one */
    CHECK(bflood_encap(&h, inner, sizeof inner, outer, sizeof outer) > 0);
    memcpy(outer + BFLOOD_HDR_LEN, pkt, n);
    size_t m = BFLOOD_HDR_LEN + n;
    CHECK(decap_exact(outer, m, &g, &off, &in_len) == BFLOOD_INNER_BFLOOD);
    CHECK(off == -1 && in_len == 0);

    /* hidden behind one VLAN tag, then behind 802.1ad + 802.1Q */
    uint8_t tagged[PKT_MAX];
    memcpy(tagged, inner, 12);
    memcpy(tagged + 12, "\x81\x00\x00\x05\x88\xb5", 6);
    memset(tagged + 18, 0, 42);
    CHECK(bflood_encap(&h, tagged, 60, outer, sizeof outer) == 0);
    m = bflood_encap(&h, inner, sizeof inner, outer, sizeof outer);
    memcpy(outer + BFLOOD_HDR_LEN, tagged, 60);
    CHECK(decap_exact(outer, m, &g, &off, &in_len) == BFLOOD_INNER_BFLOOD);
    memcpy(tagged + 12, "\x88\xa8\x00\x05\x81\x00\x00\x06\x88\xb5", 10);
    memcpy(outer + BFLOOD_HDR_LEN, tagged, 60);
    CHECK(decap_exact(outer, m, &g, &off, &in_len) == BFLOOD_INNER_BFLOOD);
    /* a plain tagged IPv4 frame is fine, and so is a tag cut short */
    memcpy(tagged + 12, "\x81\x00\x00\x05\x08\x00", 6);
    memcpy(outer + BFLOOD_HDR_LEN, tagged, 60);
    CHECK(decap_exact(outer, m, &g, &off, &in_len) == BFLOOD_OK);
    memcpy(outer + BFLOOD_HDR_LEN + 12, "\x81\x00", 2);
    CHECK(decap_exact(outer, BFLOOD_HDR_LEN + 15, &g, &off, &in_len) == BFLOOD_OK);
}

/* Mutates a valid packet 10,000 ways. A packet that decodes must re-encode
 * to the very same bytes with sane fields; one that does not must name a
 * reason and hand out no inner frame. The decoded header (from anywhere, so
 * hostile) also goes through the decision, which must stay inside its
 * interval. */
static void test_codec_mutations(void)
{
    uint64_t seed = 0xb1f100d;
    int counts[BFLOOD_INNER_BFLOOD + 1] = { 0 };
    int bad = 0, bad_decide = 0;
    static struct bflood_fwd out[BFLOOD_MAX_NEIGHBOURS];

    for (int iter = 0; iter < 10000; iter++) {
        uint8_t inner[PKT_MAX], pkt[PKT_MAX + 64];
        size_t in_len0 = 14 + rng_below(&seed, 200);
        make_inner(inner, in_len0, &seed);
        struct bflood_hdr h = sample_hdr();
        h.type = (uint8_t)(1 + rng_below(&seed, 3));
        h.hops = (uint8_t)rng_below(&seed, BFLOOD_MAX_HOPS + 1);
        h.root = id_u64(rng_next(&seed), rng_next(&seed));
        h.bound = id_u64(rng_next(&seed), rng_next(&seed));
        size_t n = bflood_encap(&h, inner, in_len0, pkt, sizeof pkt);

        int kinds = 1 + (int)rng_below(&seed, 3);
        for (int k = 0; k < kinds; k++) {
            switch (rng_below(&seed, 6)) {
            case 0:     /* flip bits anywhere */
                if (n)
                    pkt[rng_below(&seed, n)] ^= (uint8_t)(1u << rng_below(&seed, 8));
                break;
            case 1:     /* random byte in the headers */
                if (n)
                    pkt[rng_below(&seed, n < 70 ? n : 70)] = (uint8_t)rng_next(&seed);
                break;
            case 2:     /* small value in a header field */
                pkt[12 + rng_below(&seed, 6)] = (uint8_t)rng_below(&seed, 4);
                break;
            case 3:     /* truncate */
                n = rng_below(&seed, n + 1);
                break;
            case 4:     /* grow with random bytes */
                for (size_t add = rng_below(&seed, 64); add-- && n < sizeof pkt; )
                    pkt[n++] = (uint8_t)rng_next(&seed);
                break;
            case 5:     /* nest, maybe behind a tag */
                if (n >= BFLOOD_HDR_LEN + 18) {
                    size_t at = BFLOOD_HDR_LEN + 12;
                    if (rng_below(&seed, 2)) {
                        memcpy(pkt + at, "\x81\x00\x00\x01", 4);
                        at += 4;
                    }
                    memcpy(pkt + at, "\x88\xb5", 2);
                }
                break;
            }
        }

        struct bflood_hdr g;
        long off;
        size_t got_len = 12345;
        enum bflood_reason r = decap_exact(pkt, n, &g, &off, &got_len);
        if ((int)r < BFLOOD_OK || r > BFLOOD_INNER_BFLOOD) {
            bad++;
            continue;
        }
        counts[r]++;
        if (r != BFLOOD_OK) {
            bad += off != -1 || got_len != 0 || !strcmp(bflood_reason_name(r), "?");
            continue;
        }
        uint8_t again[PKT_MAX + 64];
        size_t m = bflood_encap(&g, pkt + BFLOOD_HDR_LEN, got_len, again, sizeof again);
        bad += off != BFLOOD_HDR_LEN || got_len != n - BFLOOD_HDR_LEN || m != n ||
               memcmp(again, pkt, n) || g.hops > BFLOOD_MAX_HOPS ||
               g.type < BFLOOD_BROADCAST || g.type > BFLOOD_QUERY;

        struct nodeid self = id_u64(rng_next(&seed), rng_next(&seed));
        struct nodeid from = rng_below(&seed, 4) ? id_u64(rng_next(&seed), rng_next(&seed)) : g.bound;
        struct nodeid peers[8];
        for (int i = 0; i < 8; i++)
            peers[i] = rng_below(&seed, 8) ? id_u64(rng_next(&seed), rng_next(&seed)) : g.bound;
        struct bflood_decision d;
        bflood_decide(&self, peers, 8, &g, &from, out, BFLOOD_MAX_NEIGHBOURS, &d);
        for (size_t i = 0; i < d.n_out; i++) {
            bad_decide += !bflood_in_interval(&out[i].peer, &self, &g.bound) ||
                          id_eq(&out[i].peer, &self) || id_eq(&out[i].peer, &from) ||
                          id_eq(&out[i].peer, &g.bound);
            if (i)
                bad_decide += bflood_cw_cmp(&out[i - 1].peer, &out[i].peer, &self) >= 0;
        }
        bad_decide += d.n_out && (d.verdict != BFLOOD_FORWARD || !d.deliver);
    }
    CHECK(bad == 0);
    CHECK(bad_decide == 0);
    /* the mutations reach every reason */
    for (int r = BFLOOD_OK; r <= BFLOOD_INNER_BFLOOD; r++)
        CHECK(counts[r] > 0);
    printf("mutations:");
    for (int r = BFLOOD_OK; r <= BFLOOD_INNER_BFLOOD; r++)
        printf(" %s %d%s", bflood_reason_name((enum bflood_reason)r), counts[r],
               r < BFLOOD_INNER_BFLOOD ? "," : "\n");
}

/* ---- intervals and hand-made decisions -------------------------------- */

static void test_interval(void)
{
    struct nodeid a = id_small(10), b = id_small(20), c = id_small(30);
    struct nodeid top = id_top(0), zero = id_small(0);

    struct nodeid n1 = id_small(1), n9 = id_small(9), n15 = id_small(15), t1 = id_top(1);

    CHECK(bflood_in_interval(&a, &a, &b));
    CHECK(bflood_in_interval(&n15, &a, &b));
    CHECK(!bflood_in_interval(&b, &a, &b));
    CHECK(!bflood_in_interval(&c, &a, &b));
    CHECK(!bflood_in_interval(&n9, &a, &b));
    /* wrapping: [30, 10) holds 30, top, 0, 9 but not 10 or 20 */
    CHECK(bflood_in_interval(&c, &c, &a));
    CHECK(bflood_in_interval(&top, &c, &a));
    CHECK(bflood_in_interval(&zero, &c, &a));
    CHECK(bflood_in_interval(&n9, &c, &a));
    CHECK(!bflood_in_interval(&a, &c, &a));
    CHECK(!bflood_in_interval(&b, &c, &a));
    /* lo == hi: the whole ring */
    CHECK(bflood_in_interval(&a, &b, &b));
    CHECK(bflood_in_interval(&b, &b, &b));
    CHECK(bflood_in_interval(&top, &zero, &zero));
    /* at the top of the space */
    CHECK(bflood_in_interval(&top, &t1, &zero));
    CHECK(!bflood_in_interval(&zero, &t1, &zero));
    CHECK(bflood_in_interval(&zero, &top, &n1));
    /* the lowest bit alone */
    struct nodeid lo0 = id_u64(0x5a5a5a5a5a5a5a5aull, 0x1234567812345678ull);
    struct nodeid lo1 = id_u64(0x5a5a5a5a5a5a5a5aull, 0x1234567812345679ull);
    CHECK(bflood_in_interval(&lo0, &lo0, &lo1) && !bflood_in_interval(&lo1, &lo0, &lo1));
    CHECK(bflood_in_interval(&lo1, &lo1, &lo0) && !bflood_in_interval(&lo0, &lo1, &lo0));

    /* clockwise order from b: b, c, top, 0, a */
    CHECK(bflood_cw_cmp(&b, &c, &b) < 0);
    CHECK(bflood_cw_cmp(&c, &top, &b) < 0);
    CHECK(bflood_cw_cmp(&top, &zero, &b) < 0);
    CHECK(bflood_cw_cmp(&zero, &a, &b) < 0);
    CHECK(bflood_cw_cmp(&a, &b, &b) > 0);
    CHECK(bflood_cw_cmp(&c, &c, &b) == 0);
}

static struct bflood_fwd got[BFLOOD_MAX_NEIGHBOURS];

static void decide_root(struct nodeid self, const struct nodeid *peers, size_t n,
                        struct bflood_decision *d)
{
    bflood_decide(&self, peers, n, NULL, NULL, got, BFLOOD_MAX_NEIGHBOURS, d);
}

static void decide_rx(struct nodeid self, const struct nodeid *peers, size_t n,
                      struct bflood_hdr h, struct nodeid from, struct bflood_decision *d)
{
    bflood_decide(&self, peers, n, &h, &from, got, BFLOOD_MAX_NEIGHBOURS, d);
}

static void test_decide_two(void)
{
    struct nodeid a = id_small(1), b = id_small(2);
    struct bflood_decision d;

    decide_root(a, &b, 1, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.hops == 1 && d.n_out == 1);
    CHECK(fwd_is(&got[0], b, a));
    decide_rx(b, &a, 1, rx_hdr(a, a, 1), a, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 0);

    decide_root(b, &a, 1, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], a, b));
    decide_rx(a, &b, 1, rx_hdr(b, b, 1), b, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 0);

    /* no neighbours: deliver locally, nothing to send */
    decide_root(a, NULL, 0, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 0);
}

static void test_decide_three(void)
{
    struct nodeid a = id_small(10), b = id_small(20), c = id_small(30);
    struct nodeid pb[] = { c, a };      /* any order */
    struct bflood_decision d;

    decide_root(b, pb, 2, &d);
    CHECK(d.n_out == 2);
    CHECK(fwd_is(&got[0], c, a) && fwd_is(&got[1], a, b));
    struct nodeid pc[] = { a, b };
    decide_rx(c, pc, 2, rx_hdr(b, a, 1), b, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 0);
    struct nodeid pa[] = { b, c };
    decide_rx(a, pa, 2, rx_hdr(b, b, 1), b, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 0);

    /* the line a - b - c: from a, b's interval [b, a) wraps and holds c */
    decide_root(a, &b, 1, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], b, a));
    decide_rx(b, pb, 2, rx_hdr(a, a, 1), a, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], c, a) && d.hops == 2);
    /* but c lacks its ring successor a: from c, b's interval is [b, c),
     * empty, and a is missed (see test_missing_successor) */
    decide_root(c, &b, 1, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], b, c));
    decide_rx(b, pb, 2, rx_hdr(c, c, 1), c, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 0);
}

static void test_decide_four(void)
{
    /* the ring 1 - 2 - 3 - 4 - 1, successor links only */
    struct nodeid n1 = id_small(1), n2 = id_small(2), n3 = id_small(3), n4 = id_small(4);
    struct nodeid p1[] = { n4, n2 }, p2[] = { n1, n3 }, p3[] = { n4, n2 }, p4[] = { n3, n1 };
    struct bflood_decision d;

    decide_root(n1, p1, 2, &d);
    CHECK(d.n_out == 2 && fwd_is(&got[0], n2, n4) && fwd_is(&got[1], n4, n1));
    decide_rx(n2, p2, 2, rx_hdr(n1, n4, 1), n1, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], n3, n4) && d.hops == 2);
    decide_rx(n3, p3, 2, rx_hdr(n1, n4, 2), n2, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 0);
    decide_rx(n4, p4, 2, rx_hdr(n1, n1, 1), n1, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 0);

    /* from 3 the interval of 4 wraps past the top: [4, 2) holds 1 */
    decide_root(n3, p3, 2, &d);
    CHECK(d.n_out == 2 && fwd_is(&got[0], n4, n2) && fwd_is(&got[1], n2, n3));
    decide_rx(n4, p4, 2, rx_hdr(n3, n2, 1), n3, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], n1, n2));
    decide_rx(n1, p1, 2, rx_hdr(n3, n2, 2), n4, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.n_out == 0);
    decide_rx(n2, p2, 2, rx_hdr(n3, n3, 1), n3, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.n_out == 0);

    /* the full mesh: the root alone does all the work */
    struct nodeid all[] = { n3, n1, n4, n2 };
    decide_root(n2, all, 4, &d);
    CHECK(d.n_out == 3 && fwd_is(&got[0], n3, n4) && fwd_is(&got[1], n4, n1) &&
          fwd_is(&got[2], n1, n2));
    decide_rx(n3, all, 4, rx_hdr(n2, n4, 1), n2, &d);
    CHECK(d.n_out == 0);
}

static void test_decide_wrap(void)
{
    /* IDs straddling the top of the space: ff..fe, ff..ff, 00..00, 00..01 */
    struct nodeid t1 = id_top(1), t0 = id_top(0), z = id_small(0), o = id_small(1);
    struct nodeid pt[] = { o, t1, z };
    struct bflood_decision d;

    decide_root(t0, pt, 3, &d);
    CHECK(d.n_out == 3);
    CHECK(fwd_is(&got[0], z, o) && fwd_is(&got[1], o, t1) && fwd_is(&got[2], t1, t0));

    /* 00..01 reaches only ff..fe, whose interval [ff..fe, 00..01) wraps */
    decide_root(o, &t1, 1, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], t1, o));
    struct nodeid p[] = { o, z, t0 };
    decide_rx(t1, p, 3, rx_hdr(o, o, 1), o, &d);
    CHECK(d.n_out == 2 && fwd_is(&got[0], t0, z) && fwd_is(&got[1], z, o));
}

static void test_decide_lowest_bit(void)
{
    uint64_t hi = 0xdeadbeefcafef00dull, lo = 0x0123456789abcde0ull;
    struct nodeid x0 = id_u64(hi, lo), x1 = id_u64(hi, lo | 1), x2 = id_u64(hi, lo | 2);
    struct bflood_decision d;

    decide_root(x0, &x1, 1, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], x1, x0));
    decide_root(x1, &x0, 1, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], x0, x1));

    struct nodeid p1[] = { x0, x2 };
    decide_root(x1, p1, 2, &d);
    CHECK(d.n_out == 2 && fwd_is(&got[0], x2, x0) && fwd_is(&got[1], x0, x1));
    struct nodeid p2[] = { x1, x0 };
    decide_rx(x2, p2, 2, rx_hdr(x1, x0, 1), x1, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.n_out == 0);
    /* the interval [x2, x1) seen from x2 holds x0 */
    decide_rx(x2, p2, 2, rx_hdr(x1, x1, 1), x1, &d);
    CHECK(d.n_out == 1 && fwd_is(&got[0], x0, x1));
}

static void test_decide_refusals(void)
{
    struct nodeid n1 = id_small(1), n2 = id_small(2), n3 = id_small(3), n4 = id_small(4);
    struct nodeid p2[] = { n1, n3, n4 };
    struct bflood_decision d;

    /* our own flood back */
    decide_rx(n2, p2, 3, rx_hdr(n2, n4, 3), n1, &d);
    CHECK(d.verdict == BFLOOD_LOOP && !d.deliver && d.n_out == 0);
    /* bound == self would be the whole ring again */
    decide_rx(n2, p2, 3, rx_hdr(n1, n2, 1), n1, &d);
    CHECK(d.verdict == BFLOOD_OUTSIDE_INTERVAL && !d.deliver && d.n_out == 0);
    /* we lie outside (from, bound) */
    decide_rx(n2, p2, 3, rx_hdr(n1, n2, 1), n3, &d);
    CHECK(d.verdict == BFLOOD_OUTSIDE_INTERVAL && !d.deliver);
    decide_rx(n4, p2, 3, rx_hdr(n1, n3, 1), n1, &d);
    CHECK(d.verdict == BFLOOD_OUTSIDE_INTERVAL && !d.deliver);
    decide_rx(n2, p2, 3, rx_hdr(n1, n4, 1), n2, &d);      /* from ourselves */
    CHECK(d.verdict == BFLOOD_OUTSIDE_INTERVAL && !d.deliver);
    /* from == bound: (from, from) is the ring without it */
    decide_rx(n2, p2, 3, rx_hdr(n1, n1, 1), n1, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.n_out == 2 && fwd_is(&got[0], n3, n4) &&
          fwd_is(&got[1], n4, n1));

    /* hop limit: the last allowed copy is still delivered, not forwarded */
    decide_rx(n2, p2, 3, rx_hdr(n1, n4, BFLOOD_MAX_HOPS - 1), n1, &d);
    CHECK(d.verdict == BFLOOD_FORWARD && d.n_out == 1 && d.hops == BFLOOD_MAX_HOPS);
    decide_rx(n2, p2, 3, rx_hdr(n1, n4, BFLOOD_MAX_HOPS), n1, &d);
    CHECK(d.verdict == BFLOOD_HOPS_EXHAUSTED && d.deliver && d.n_out == 0);
}

/* Issue 16: the root is not the sender's to choose. A receiver R=30 with
 * an interval (P=20, B=40): the root may be P itself or lie in [B, P), at
 * or behind the sender; a root between the sender and the bound, or a
 * forwarder handing out the whole ring (B == P), is refused and nothing
 * is delivered. */
static void test_decide_root_check(void)
{
    struct nodeid n10 = id_small(10), n20 = id_small(20), n25 = id_small(25);
    struct nodeid n30 = id_small(30), n35 = id_small(35), n40 = id_small(40);
    struct nodeid n50 = id_small(50), top = id_top(0);
    struct nodeid p30[] = { n20, n35, n40 };
    struct bflood_decision d;

    decide_rx(n30, p30, 3, rx_hdr(n20, n40, 1), n20, &d);      /* from the root */
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver && d.n_out == 1);
    decide_rx(n30, p30, 3, rx_hdr(n10, n40, 2), n20, &d);      /* root behind */
    CHECK(d.verdict == BFLOOD_FORWARD && d.deliver);
    decide_rx(n30, p30, 3, rx_hdr(n50, n40, 2), n20, &d);      /* behind, wrapping */
    CHECK(d.verdict == BFLOOD_FORWARD);
    decide_rx(n30, p30, 3, rx_hdr(top, n40, 2), n20, &d);
    CHECK(d.verdict == BFLOOD_FORWARD);
    decide_rx(n30, p30, 3, rx_hdr(n40, n40, 2), n20, &d);      /* the root's last copy */
    CHECK(d.verdict == BFLOOD_FORWARD && d.n_out == 1);

    decide_rx(n30, p30, 3, rx_hdr(n35, n40, 2), n20, &d);      /* inside our interval */
    CHECK(d.verdict == BFLOOD_BAD_ROOT && !d.deliver && d.n_out == 0);
    decide_rx(n30, p30, 3, rx_hdr(n25, n40, 2), n20, &d);      /* between sender and us */
    CHECK(d.verdict == BFLOOD_BAD_ROOT && !d.deliver && d.n_out == 0);
    decide_rx(n30, p30, 3, rx_hdr(n10, n20, 2), n20, &d);      /* bound == sender */
    CHECK(d.verdict == BFLOOD_BAD_ROOT && !d.deliver);
    decide_rx(n30, p30, 3, rx_hdr(n20, n20, 1), n20, &d);      /* ...fine for the root */
    CHECK(d.verdict == BFLOOD_FORWARD && d.n_out == 2);

    CHECK(bflood_root_plausible(&n20, &n20, &n40));
    CHECK(bflood_root_plausible(&n40, &n20, &n40));
    CHECK(!bflood_root_plausible(&n30, &n20, &n40));
    CHECK(!bflood_root_plausible(&n50, &n40, &n10));      /* wrapping interval (40, 10) */
    CHECK(bflood_root_plausible(&n20, &n40, &n10));
    CHECK(strcmp(bflood_verdict_name(BFLOOD_BAD_ROOT), "?") != 0);
}

static void test_decide_peers_list(void)
{
    struct nodeid n0 = id_small(0), n1 = id_small(1), n2 = id_small(2), n4 = id_small(4);
    struct bflood_decision d;

    /* self and duplicates are ignored */
    struct nodeid dup[] = { n2, n2, n1, n4, n2, n4, n1 };
    decide_root(n1, dup, 7, &d);
    CHECK(d.n_out == 2 && fwd_is(&got[0], n2, n4) && fwd_is(&got[1], n4, n1));
    CHECK(d.n_truncated == 0);
    static struct nodeid many[1000];
    for (int i = 0; i < 1000; i++)
        many[i] = id_small((uint64_t)(i * 7 % 5));
    decide_root(n0, many, 1000, &d);
    CHECK(d.n_out == 4 && d.n_truncated == 0);

    /* more neighbours than room: the nearest clockwise stay, the last keeps
     * the full bound, nothing is written past OUT_CAP */
    struct nodeid ten[10];
    for (int i = 0; i < 10; i++)
        ten[i] = id_small((uint64_t)(1 + (i * 3) % 10));
    struct bflood_fwd small[5];
    memset(small, 0xab, sizeof small);
    bflood_decide(&n0, ten, 10, NULL, NULL, small, 3, &d);
    CHECK(d.n_out == 3 && d.n_truncated == 7);
    CHECK(fwd_is(&small[0], id_small(1), id_small(2)) && fwd_is(&small[1], id_small(2), id_small(3)) &&
          fwd_is(&small[2], id_small(3), n0));
    CHECK(small[3].peer.b[0] == 0xab && small[4].bound.b[15] == 0xab);
    bflood_decide(&n0, ten, 10, NULL, NULL, small, 0, &d);
    CHECK(d.n_out == 0 && d.n_truncated == 10 && d.deliver);
}

/* ---- simulated floods over random overlays ---------------------------- */

#define SIM_MAX 64

struct graph {
    int n;
    struct nodeid id[SIM_MAX];              /* sorted: i + 1 is i's ring successor */
    bool adj[SIM_MAX][SIM_MAX];
};

static int cmp_id(const void *a, const void *b) { return nodeid_cmp(a, b); }

static int index_of(const struct graph *g, const struct nodeid *x)
{
    const struct nodeid *p = bsearch(x, g->id, (size_t)g->n, sizeof *x, cmp_id);
    return p ? (int)(p - g->id) : -1;
}

static void link_nodes(struct graph *g, int a, int b)
{
    if (a != b)
        g->adj[a][b] = g->adj[b][a] = true;
}

/* N distinct IDs, uniformly random, or bunched at the top of the space
 * (around the wrap) or differing only in their low bits. */
static void random_ids(struct graph *g, int n, int style, uint64_t *seed)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    for (int i = 0; i < n; i++) {
        struct nodeid x;
        bool dup;
        do {
            if (style == 0)
                x = id_u64(rng_next(seed), rng_next(seed));
            else if (style == 1)    /* within 256 of the wrap, either side */
                x = rng_below(seed, 2) ? id_top(rng_below(seed, 128)) : id_small(rng_below(seed, 128));
            else                    /* same top 120 bits */
                x = id_u64(0x7777777777777777ull, 0x77777777777777ull << 8 | rng_below(seed, 256));
            dup = false;
            for (int j = 0; j < i; j++)
                dup |= id_eq(&g->id[j], &x);
        } while (dup);
        g->id[i] = x;
    }
    qsort(g->id, (size_t)n, sizeof g->id[0], cmp_id);
}

/* The ring (every node to its successor), maybe every node to its second
 * successor too, plus a random number of random chords. */
static void random_overlay(struct graph *g, uint64_t *seed)
{
    int n = 2 + (int)rng_below(seed, SIM_MAX - 1);
    random_ids(g, n, (int)rng_below(seed, 5) < 3 ? 0 : 1 + (int)rng_below(seed, 2), seed);
    bool second = rng_below(seed, 2);
    for (int i = 0; i < n; i++) {
        link_nodes(g, i, (i + 1) % n);
        if (second)
            link_nodes(g, i, (i + 2) % n);
    }
    for (size_t c = rng_below(seed, 2 * (size_t)n + 1); c--; )
        link_nodes(g, (int)rng_below(seed, (size_t)n), (int)rng_below(seed, (size_t)n));
}

/* The naive reference: breadth-first hop distances from ROOT (-1 when
 * unreachable). */
static void bfs(const struct graph *g, int root, int dist[SIM_MAX])
{
    int queue[SIM_MAX], head = 0, tail = 0;
    for (int i = 0; i < g->n; i++)
        dist[i] = -1;
    dist[root] = 0;
    queue[tail++] = root;
    while (head < tail) {
        int v = queue[head++];
        for (int u = 0; u < g->n; u++) {
            if (g->adj[v][u] && dist[u] < 0) {
                dist[u] = dist[v] + 1;
                queue[tail++] = u;
            }
        }
    }
}

struct flood_result {
    int delivered[SIM_MAX];     /* copies handed to each node's leaf ports */
    int depth[SIM_MAX];         /* hop count of the copy delivered */
    int tx;                     /* frames sent between nodes */
    int max_hops;
    int sent_back;              /* forwarded to the node it came from */
    int not_adjacent;           /* sent to a node that is no neighbour */
    int refused;                /* codec or decision refused a copy */
    int corrupted;              /* inner frame changed on the way */
    bool overflow;
};

#define QUEUE_MAX 4096

struct msg {
    int to, from;
    size_t len;
    uint8_t pkt[BFLOOD_HDR_LEN + 64];
};

/* Each node's up neighbours as the switch would list them: shuffled, and on
 * odd SEEDs padded with duplicates and the node itself. */
static size_t peer_list(const struct graph *g, int v, struct nodeid *peers, uint64_t *seed)
{
    size_t n = 0;
    for (int u = 0; u < g->n; u++)
        if (g->adj[v][u])
            peers[n++] = g->id[u];
    if (*seed & 1) {
        peers[n++] = g->id[v];
        for (size_t k = rng_below(seed, 4), m = n; k-- && m; )
            peers[n++] = peers[rng_below(seed, m)];
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(seed, i);
        struct nodeid t = peers[i - 1];
        peers[i - 1] = peers[j];
        peers[j] = t;
    }
    return n;
}

/* Floods one broadcast from ROOT: every node applies bflood_decide to what
 * it receives, and every copy crosses the wire encoded and decoded. */
static void simulate(const struct graph *g, int root, size_t out_cap, uint64_t *seed,
                     struct flood_result *res)
{
    static struct msg queue[QUEUE_MAX];
    static struct nodeid peers[SIM_MAX * 2 + 8];
    static struct bflood_fwd fwd[BFLOOD_MAX_NEIGHBOURS];
    int head = 0, tail = 0;

    memset(res, 0, sizeof *res);
    uint8_t frame[64];
    make_inner(frame, sizeof frame, seed);
    frame[11] = (uint8_t)root;

    for (int step = 0; step == 0 || head < tail; step++) {
        int v, from = -1;
        struct bflood_hdr rx = { .hops = 0 };
        struct bflood_decision d;
        size_t n_peers;

        if (step == 0) {
            v = root;
            n_peers = peer_list(g, v, peers, seed);
            bflood_decide(&g->id[v], peers, n_peers, NULL, NULL, fwd, out_cap, &d);
        } else {
            struct msg *m = &queue[head++];
            const uint8_t *inner;
            size_t inner_len;
            v = m->to;
            from = m->from;
            if (bflood_decap(m->pkt, m->len, &rx, &inner, &inner_len) != BFLOOD_OK) {
                res->refused++;
                continue;
            }
            res->corrupted += inner_len != sizeof frame || memcmp(inner, frame, sizeof frame);
            res->tx++;
            if (rx.hops > res->max_hops)
                res->max_hops = rx.hops;
            n_peers = peer_list(g, v, peers, seed);
            bflood_decide(&g->id[v], peers, n_peers, &rx, &g->id[from], fwd, out_cap, &d);
        }
        if (d.verdict != BFLOOD_FORWARD)
            res->refused++;
        if (d.deliver && res->delivered[v]++ == 0)
            res->depth[v] = step ? rx.hops : 0;

        for (size_t i = 0; i < d.n_out; i++) {
            int u = index_of(g, &fwd[i].peer);
            if (u < 0 || !g->adj[v][u]) {
                res->not_adjacent++;
                continue;
            }
            if (u == from)
                res->sent_back++;
            if (tail == QUEUE_MAX) {
                res->overflow = true;
                return;
            }
            struct msg *m = &queue[tail++];
            struct bflood_hdr h = {
                .eth_dst = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
                .eth_src = { 0x02, 0, 0, 0, (uint8_t)v, (uint8_t)u },
                .type = BFLOOD_BROADCAST,
                .hops = d.hops,
                .root = g->id[root],
                .bound = fwd[i].bound,
            };
            m->to = u;
            m->from = v;
            m->len = bflood_encap(&h, frame, sizeof frame, m->pkt, sizeof m->pkt);
        }
    }
}

/* The main property, over 300 random overlays that contain the ring: from
 * every root, each node gets exactly one copy, the copies form a spanning
 * tree (N-1 transmissions, none back to the sender, only over real links)
 * no deeper than N-1, and the nodes reached are BFS's. */
static void test_sim_ring(void)
{
    uint64_t seed = 0x5eed0001;
    /* depth statistics, for information: [0] full output arrays, [1] tiny */
    int floods[2] = { 0 }, deeper[2] = { 0 }, depth_max[2] = { 0 }, ecc_max[2] = { 0 };
    long depth_sum[2] = { 0 }, ecc_sum[2] = { 0 }, hop_sum[2] = { 0 }, dist_sum[2] = { 0 },
         nodes[2] = { 0 };
    int reported = 0;

    for (int gi = 0; gi < 300; gi++) {
        struct graph g;
        random_overlay(&g, &seed);
        /* every fifth overlay: tiny output arrays, so truncation is exercised */
        int tiny = gi % 5 == 4;
        size_t out_cap = tiny ? 1 + rng_below(&seed, 3) : BFLOOD_MAX_NEIGHBOURS;
        int fail_once = 0, fail_tree = 0, fail_back = 0, fail_adj = 0, fail_depth = 0,
            fail_bfs = 0, fail_refused = 0, fail_bytes = 0;

        for (int root = 0; root < g.n; root++) {
            struct flood_result r;
            int dist[SIM_MAX];
            simulate(&g, root, out_cap, &seed, &r);
            bfs(&g, root, dist);
            bool once = !r.overflow, bfs_same = true;
            int ecc = 0;
            for (int v = 0; v < g.n; v++) {
                once &= r.delivered[v] == 1;
                bfs_same &= (r.delivered[v] > 0) == (dist[v] >= 0);
                if (dist[v] > ecc)
                    ecc = dist[v];
                if (v != root && r.delivered[v]) {
                    hop_sum[tiny] += r.depth[v];
                    dist_sum[tiny] += dist[v];
                    nodes[tiny]++;
                }
            }
            fail_once += !once;
            fail_tree += r.tx != g.n - 1;
            fail_back += r.sent_back != 0;
            fail_adj += r.not_adjacent != 0;
            fail_depth += r.max_hops > g.n - 1;
            fail_bfs += !bfs_same;
            fail_refused += r.refused != 0;
            fail_bytes += r.corrupted != 0;
            if (!once && reported++ < 3)
                fprintf(stderr, "sim_ring: graph %d (n=%d, out_cap %zu) root %d: "
                        "not exactly once (tx %d)\n", gi, g.n, out_cap, root, r.tx);
            depth_sum[tiny] += r.max_hops;
            ecc_sum[tiny] += ecc;
            deeper[tiny] += r.max_hops > ecc;
            if (r.max_hops > depth_max[tiny])
                depth_max[tiny] = r.max_hops;
            if (ecc > ecc_max[tiny])
                ecc_max[tiny] = ecc;
            floods[tiny]++;
        }
        CHECK(fail_once == 0);
        CHECK(fail_tree == 0);
        CHECK(fail_back == 0);
        CHECK(fail_adj == 0);
        CHECK(fail_depth == 0);
        CHECK(fail_bfs == 0);
        CHECK(fail_refused == 0);
        CHECK(fail_bytes == 0);
    }
    for (int t = 0; t < 2; t++)
        printf("sim_ring (%s output arrays): %d floods; flood depth mean %.2f max %d vs "
               "BFS eccentricity mean %.2f max %d, deeper in %d floods; per node: "
               "mean hops %.2f vs BFS distance %.2f\n",
               t ? "tiny" : "full", floods[t], (double)depth_sum[t] / floods[t], depth_max[t],
               (double)ecc_sum[t] / floods[t], ecc_max[t], deeper[t],
               (double)hop_sum[t] / (double)nodes[t], (double)dist_sum[t] / (double)nodes[t]);
}

/* Without the ring successor link, exactly-once fails as "missed", never as
 * "twice". By hand first:
 *
 *      0 ---- 1    2        ring 0..5 with the link 1 - 2 down,
 *      |  \        |        plus the chord 0 - 3
 *      5    `----- 3
 *       \         /
 *        `-- 4 --'
 *
 * From 0: 1 gets [1, 3) but cannot reach 2, 3 gets [3, 5) and leaves 2
 * alone (it lies behind 3's interval), so 2 is missed although BFS
 * reaches it through 3. */
static void test_missing_successor(void)
{
    struct graph g;
    memset(&g, 0, sizeof g);
    g.n = 6;
    for (int i = 0; i < 6; i++)
        g.id[i] = id_small((uint64_t)(10 * (i + 1)));
    for (int i = 0; i < 6; i++)
        if (i != 1)
            link_nodes(&g, i, (i + 1) % 6);
    link_nodes(&g, 0, 3);

    uint64_t seed = 0x5eed0002;
    struct flood_result r;
    int dist[SIM_MAX];
    simulate(&g, 0, BFLOOD_MAX_NEIGHBOURS, &seed, &r);
    bfs(&g, 0, dist);
    CHECK(r.delivered[2] == 0 && dist[2] == 2);
    CHECK(r.delivered[0] == 1 && r.delivered[1] == 1 && r.delivered[3] == 1 &&
          r.delivered[4] == 1 && r.delivered[5] == 1);
    CHECK(r.tx == 4 && r.sent_back == 0 && r.refused == 0);

    /* At random: overlays with a few ring links taken down, and overlays
     * with no ring at all. At most one copy each, a tree over those
     * reached, only BFS-reachable nodes, but misses do happen. */
    int twice = 0, tree = 0, back = 0, beyond_bfs = 0, missed = 0, reachable = 0, floods = 0;
    for (int gi = 0; gi < 200; gi++) {
        if (gi % 2 == 0) {
            random_overlay(&g, &seed);
            for (size_t k = 1 + rng_below(&seed, 3); k--; ) {
                int a = (int)rng_below(&seed, (size_t)g.n), b = (a + 1) % g.n;
                g.adj[a][b] = g.adj[b][a] = false;
            }
        } else {
            random_ids(&g, 2 + (int)rng_below(&seed, SIM_MAX - 1), 0, &seed);
            for (size_t c = rng_below(&seed, 3 * (size_t)g.n); c--; )
                link_nodes(&g, (int)rng_below(&seed, (size_t)g.n),
                           (int)rng_below(&seed, (size_t)g.n));
        }
        for (int root = 0; root < g.n; root++) {
            simulate(&g, root, BFLOOD_MAX_NEIGHBOURS, &seed, &r);
            bfs(&g, root, dist);
            int reached = 0;
            for (int v = 0; v < g.n; v++) {
                twice += r.delivered[v] > 1;
                beyond_bfs += r.delivered[v] && dist[v] < 0;
                reached += r.delivered[v] > 0;
                reachable += dist[v] >= 0;
                missed += !r.delivered[v] && dist[v] >= 0;
            }
            tree += r.overflow || r.tx != reached - 1;
            back += r.sent_back != 0 || r.not_adjacent != 0 || r.refused != 0;
            floods++;
        }
    }
    CHECK(twice == 0);
    CHECK(tree == 0);
    CHECK(back == 0);
    CHECK(beyond_bfs == 0);
    CHECK(missed > 0);
    printf("missing successor: %d floods, %d of %d reachable node-deliveries missed, "
           "none twice\n", floods, missed, reachable);
}

int main(void)
{
    test_codec_round_trip();
    test_codec_truncation();
    test_codec_bad_fields();
    test_codec_nesting();
    test_codec_mutations();
    test_interval();
    test_decide_two();
    test_decide_three();
    test_decide_four();
    test_decide_wrap();
    test_decide_lowest_bit();
    test_decide_refusals();
    test_decide_root_check();
    test_decide_peers_list();
    test_sim_ring();
    test_missing_successor();
    return check_report("test_bflood");
}
