/* Unit tests for lib/acd.c: candidates derived from node IDs (inside the
 * pool, never its network or broadcast address, spread, distinct from one K
 * to the next) and the RFC 5227 state machine driven by a fake clock: the
 * probe count and spacing, ANNOUNCE_WAIT, the announcements, conflicts while
 * probing (a reply, a simultaneous probe), the rate limit after
 * MAX_CONFLICTS, defending (lower hardware address) or yielding (higher),
 * and re-announcing. */
#include "check.h"
#include "evio/acd.h"
#include "evio/config.h"

#include <stdlib.h>

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint8_t MAC_LOW[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC_MID[6] = { 0x02, 0, 0, 0, 0, 0x05 };
static const uint8_t MAC_HIGH[6] = { 0x02, 0, 0, 0, 0, 0x09 };

/* node ID number N: splitmix64 of N, twice (IDs are random in real life) */
static void id_of(uint8_t id[16], unsigned n)
{
    uint64_t x = n;
    for (int i = 0; i < 16; i++) {
        if (i % 8 == 0) {
            x += 0x9e3779b97f4a7c15ull;
            uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            x = z ^ (z >> 31);
        }
        id[i] = (uint8_t)(x >> (8 * (i % 8)));
    }
}

static void test_pool(void)
{
    CHECK(acd_pool_size(16) == 65534);
    CHECK(acd_pool_size(30) == 2);
    CHECK(acd_pool_size(31) == 0);
    CHECK(acd_pool_size(32) == 0);
    CHECK(acd_pool_size(0) == 0);
    CHECK(acd_in_pool(IP(10, 10, 3, 4), IP(10, 10, 0, 0), 16));
    CHECK(!acd_in_pool(IP(10, 10, 0, 0), IP(10, 10, 0, 0), 16));     /* network */
    CHECK(!acd_in_pool(IP(10, 10, 255, 255), IP(10, 10, 0, 0), 16)); /* broadcast */
    CHECK(!acd_in_pool(IP(10, 11, 0, 1), IP(10, 10, 0, 0), 16));
    uint8_t id[16];
    id_of(id, 1);
    CHECK(acd_candidate(id, IP(10, 10, 0, 0), 31, 0) == 0);
}

/* every candidate of many IDs and K: inside, never network/broadcast; a /30
 * gives only .1 and .2; K and K+1 differ mostly; IDs spread over the pool */
static void test_candidates(void)
{
    uint8_t id[16];
    int bad = 0, same_next = 0;
    static uint8_t hit[256];
    for (unsigned n = 0; n < 2000; n++) {
        id_of(id, n);
        for (uint32_t k = 0; k < 8; k++) {
            uint32_t c = acd_candidate(id, IP(10, 10, 0, 0), 16, k);
            if (!acd_in_pool(c, IP(10, 10, 0, 0), 16))
                bad++;
            if (c == acd_candidate(id, IP(10, 10, 0, 0), 16, k + 1))
                same_next++;
            uint32_t s = acd_candidate(id, IP(192, 168, 7, 0), 30, k);
            if (s != IP(192, 168, 7, 1) && s != IP(192, 168, 7, 2))
                bad++;
            uint32_t t = acd_candidate(id, IP(172, 16, 9, 77), 24, k);   /* host bits ignored */
            if (!acd_in_pool(t, IP(172, 16, 9, 0), 24))
                bad++;
            else if (k == 0)
                hit[t & 0xff] = 1;
        }
    }
    CHECK(bad == 0);
    CHECK(same_next < 3);       /* 16000 pairs in 65534 addresses: ~0.25 expected */
    int covered = 0;
    for (int i = 1; i < 255; i++)
        covered += hit[i];
    CHECK(covered > 240);       /* 2000 IDs over 254 addresses */
    /* deterministic: the same ID gives the same candidates */
    id_of(id, 42);
    CHECK(acd_candidate(id, IP(10, 10, 0, 0), 16, 3) == acd_candidate(id, IP(10, 10, 0, 0), 16, 3));
}

/* runs A's timers until NOW_END, counting what it asks for; records the
 * times of probes and announcements */
struct trace {
    int probes, announces, binds, releases;
    int64_t probe_ms[16], announce_ms[16], bind_ms;
    uint32_t bound_ip;
};

static void run(struct acd *a, int64_t *now, int64_t end, struct trace *t)
{
    struct acd_out o;
    while (a->next_ms <= end) {
        *now = a->next_ms;
        acd_tick(a, *now, &o);
        if (o.probe && t->probes < 16)
            t->probe_ms[t->probes++] = *now;
        if (o.bind) {
            t->binds++;
            t->bind_ms = *now;
            t->bound_ip = o.ip;
        }
        if (o.announce && t->announces < 16)
            t->announce_ms[t->announces++] = *now;
    }
    *now = end;
}

static void test_claim(void)
{
    uint8_t id[16];
    for (unsigned seed = 1; seed <= 200; seed++) {
        struct acd a;
        struct trace t = { 0 };
        int64_t now = 1000;
        id_of(id, seed);
        acd_init(&a, id, MAC_MID, IP(10, 10, 0, 0), 16, 0, seed * 7919, now);
        CHECK(a.state == ACD_WAIT);
        CHECK(a.ip == acd_candidate(id, IP(10, 10, 0, 0), 16, 0));
        run(&a, &now, 100000, &t);
        CHECK(t.probes == ACD_PROBE_NUM);
        CHECK(t.probe_ms[0] - 1000 >= 0 && t.probe_ms[0] - 1000 <= ACD_PROBE_WAIT_MS);
        for (int i = 1; i < ACD_PROBE_NUM; i++) {
            int64_t gap = t.probe_ms[i] - t.probe_ms[i - 1];
            CHECK(gap >= ACD_PROBE_MIN_MS && gap <= ACD_PROBE_MAX_MS);
        }
        CHECK(t.binds == 1);
        CHECK(t.bound_ip == a.ip);
        CHECK(t.bind_ms - t.probe_ms[ACD_PROBE_NUM - 1] == ACD_ANNOUNCE_WAIT_MS);
        CHECK(t.announces == ACD_ANNOUNCE_NUM);
        CHECK(t.announce_ms[0] == t.bind_ms);
        CHECK(t.announce_ms[1] - t.announce_ms[0] == ACD_ANNOUNCE_INTERVAL_MS);
        CHECK(a.state == ACD_BOUND);
        CHECK(a.next_ms == INT64_MAX);
    }
}

static void test_stored_first(void)
{
    uint8_t id[16];
    id_of(id, 3);
    struct acd a;
    int64_t now = 0;
    acd_init(&a, id, MAC_MID, IP(10, 10, 0, 0), 16, IP(10, 10, 1, 2), 5, now);
    CHECK(a.ip == IP(10, 10, 1, 2));
    /* outside the pool, or its broadcast: ignored, the derived one instead */
    acd_init(&a, id, MAC_MID, IP(10, 10, 0, 0), 16, IP(10, 11, 1, 2), 5, now);
    CHECK(a.ip == acd_candidate(id, IP(10, 10, 0, 0), 16, 0));
    acd_init(&a, id, MAC_MID, IP(10, 10, 0, 0), 16, IP(10, 10, 255, 255), 5, now);
    CHECK(a.ip == acd_candidate(id, IP(10, 10, 0, 0), 16, 0));
}

static struct acd_arp arp(uint16_t op, const uint8_t mac[6], uint32_t spa, uint32_t tpa)
{
    struct acd_arp p = { .op = op, .spa = spa, .tpa = tpa };
    memcpy(p.sha, mac, 6);
    return p;
}

static void test_conflict_probing(void)
{
    uint8_t id[16];
    id_of(id, 9);
    struct acd a;
    struct acd_out o;
    struct trace t = { 0 };
    int64_t now = 0;
    uint32_t first = IP(10, 10, 7, 7);
    acd_init(&a, id, MAC_MID, IP(10, 10, 0, 0), 16, first, 11, now);
    run(&a, &now, 2500, &t);                       /* a probe or two out */
    CHECK(a.state == ACD_PROBING);
    /* our own probe looped back: nothing */
    struct acd_arp own = arp(1, MAC_MID, 0, first);
    CHECK(!acd_input(&a, &own, now, &o));
    /* a request about something else: nothing */
    struct acd_arp other = arp(1, MAC_HIGH, IP(10, 10, 0, 9), IP(10, 10, 0, 1));
    CHECK(!acd_input(&a, &other, now, &o));
    CHECK(a.ip == first);
    /* the holder answers: conflict, the derived candidate 0 next */
    struct acd_arp reply = arp(2, MAC_HIGH, first, 0);
    CHECK(acd_input(&a, &reply, now, &o));
    CHECK(!o.bind && !o.release);
    CHECK(a.state == ACD_WAIT);
    CHECK(a.ip == acd_candidate(id, IP(10, 10, 0, 0), 16, 0));
    CHECK(o.ip == a.ip);
    CHECK(a.next_ms >= now && a.next_ms <= now + ACD_PROBE_WAIT_MS);
    /* a simultaneous probe for the new one (sender IP 0): conflict, K=1 */
    uint32_t second = a.ip;
    struct acd_arp probe = arp(1, MAC_LOW, 0, second);
    run(&a, &now, now + 1500, &t);
    CHECK(acd_input(&a, &probe, now, &o));
    CHECK(a.ip == acd_candidate(id, IP(10, 10, 0, 0), 16, 1));
    CHECK(a.ip != second);
    /* then no one objects: bound to K=1's address, after 3 new probes */
    struct trace t2 = { 0 };
    run(&a, &now, now + 20000, &t2);
    CHECK(t2.probes == ACD_PROBE_NUM && t2.binds == 1);
    CHECK(t2.bound_ip == acd_candidate(id, IP(10, 10, 0, 0), 16, 1));
    CHECK(a.n_conflicts == 2);
}

static void test_rate_limit(void)
{
    uint8_t id[16];
    id_of(id, 10);
    struct acd a;
    struct acd_out o;
    int64_t now = 0;
    acd_init(&a, id, MAC_MID, IP(10, 10, 0, 0), 16, 0, 3, now);
    for (int i = 0; i < ACD_MAX_CONFLICTS; i++) {
        struct acd_arp r = arp(2, MAC_HIGH, a.ip, 0);
        CHECK(acd_input(&a, &r, now, &o));
        if (i < ACD_MAX_CONFLICTS - 1)
            CHECK(a.next_ms <= now + ACD_PROBE_WAIT_MS);
    }
    CHECK(a.next_ms == now + ACD_RATE_LIMIT_MS);
}

static struct acd bound(const uint8_t mac[6], int64_t *now)
{
    uint8_t id[16];
    id_of(id, 20);
    struct acd a;
    struct trace t = { 0 };
    acd_init(&a, id, mac, IP(10, 10, 0, 0), 16, 0, 17, *now);
    run(&a, now, *now + 20000, &t);
    CHECK(a.state == ACD_BOUND);
    return a;
}

static void test_defend_or_yield(void)
{
    struct acd_out o;
    int64_t now = 0;
    /* the lower hardware address keeps it: defends once per DEFEND_INTERVAL */
    struct acd lo = bound(MAC_MID, &now);
    uint32_t ip = lo.ip;
    struct acd_arp claim = arp(2, MAC_HIGH, ip, ip);
    CHECK(acd_input(&lo, &claim, now, &o));
    CHECK(o.announce && !o.release && o.ip == ip);
    CHECK(acd_input(&lo, &claim, now + 5000, &o));
    CHECK(!o.announce && !o.release);                 /* within 10 s: no second defence */
    CHECK(acd_input(&lo, &claim, now + ACD_DEFEND_INTERVAL_MS, &o));
    CHECK(o.announce && !o.release);
    CHECK(lo.ip == ip && lo.state == ACD_BOUND && lo.n_defended == 2);
    /* a probe for our address while bound: the kernel answers it */
    struct acd_arp probe = arp(1, MAC_HIGH, 0, ip);
    CHECK(!acd_input(&lo, &probe, now, &o));

    /* the higher one yields at once: releases, probes the next candidate */
    now = 0;
    struct acd hi = bound(MAC_MID, &now);
    struct acd_arp lower = arp(1, MAC_LOW, hi.ip, hi.ip);   /* an announcement */
    uint32_t old = hi.ip;
    CHECK(acd_input(&hi, &lower, now, &o));
    CHECK(o.release && o.released == old && !o.announce);
    CHECK(hi.state == ACD_WAIT && hi.ip != old);
    struct trace t = { 0 };
    run(&hi, &now, now + 20000, &t);
    CHECK(t.binds == 1 && t.bound_ip == hi.ip && t.bound_ip != old);
}

static void test_reannounce(void)
{
    int64_t now = 0;
    struct acd a = bound(MAC_MID, &now);
    struct trace t = { 0 };
    acd_reannounce(&a, now + 100);
    CHECK(a.state == ACD_ANNOUNCING);
    run(&a, &now, now + 10000, &t);
    CHECK(t.announces == ACD_ANNOUNCE_NUM && t.binds == 0 && t.probes == 0);
    CHECK(a.state == ACD_BOUND);
    /* not while probing */
    uint8_t id[16];
    id_of(id, 4);
    acd_init(&a, id, MAC_MID, IP(10, 10, 0, 0), 16, 0, 1, 0);
    acd_reannounce(&a, 5);
    CHECK(a.state == ACD_WAIT);
}

/* the configuration: "ip": "auto" with "pool" (evio.conf(5)) */
static void test_config(void)
{
    static const char *const head =
        "{\"xmpp\":{\"host\":\"x.example.org\",\"user\":\"n1@example.org\","
        "\"password\":\"pw\"},\"overlays\":{\"lab\":{\"bridge\":";
    static const struct { const char *bridge, *err; } cases[] = {
        { "{\"ip\":\"auto\",\"pool\":\"10.10.0.0/16\"}", NULL },
        { "{\"ip\":\"auto\"}",
          "t.json: overlays.lab.bridge.pool: required with \"ip\": \"auto\"" },
        { "{\"ip\":\"auto\",\"pool\":\"10.10.0.1/16\"}",
          "t.json: overlays.lab.bridge.pool: expected IPv4 network \"a.b.c.d/1..30\" "
          "(host bits zero), got \"10.10.0.1/16\"" },
        { "{\"ip\":\"auto\",\"pool\":\"10.10.0.0/31\"}",
          "t.json: overlays.lab.bridge.pool: expected IPv4 network \"a.b.c.d/1..30\" "
          "(host bits zero), got \"10.10.0.0/31\"" },
        { "{\"ip\":\"10.10.0.1/16\",\"pool\":\"10.10.0.0/16\"}",
          "t.json: overlays.lab.bridge.pool: only with \"ip\": \"auto\"" },
        { "{\"ip\":\"Auto\"}",
          "t.json: overlays.lab.bridge.ip: expected IPv4 address with prefix length "
          "\"a.b.c.d/1..32\" or \"auto\", got \"Auto\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[512];
        struct config cfg;
        char *err = NULL;
        snprintf(text, sizeof text, "%s%s}}}", head, cases[i].bridge);
        int rc = config_parse(text, "t.json", &cfg, &err);
        CHECK(rc == (cases[i].err ? 2 : 0));
        CHECK_STR(err, cases[i].err);
        if (!rc) {
            CHECK(cfg.overlays[0].ip_auto);
            CHECK(cfg.overlays[0].pool == IP(10, 10, 0, 0));
            CHECK(cfg.overlays[0].prefix_len == 16);
            CHECK(cfg.overlays[0].ip4 == 0);
            config_free(&cfg);
        }
        free(err);
    }
}

int main(void)
{
    test_config();
    test_pool();
    test_candidates();
    test_claim();
    test_stored_first();
    test_conflict_probing();
    test_rate_limit();
    test_defend_or_yield();
    test_reannounce();
    return check_report("test_acd");
}
