/* Unit tests for switchctl/fdb.c, the MAC learning table: learning, moves,
 * aging, eviction, port flush, and a randomized differential test against a
 * deliberately naive linear table. */
#include "check.h"
#include "../../switchctl/fdb.h"

#include <stdlib.h>
#include <string.h>

static void mac_of(unsigned n, uint8_t mac[6])
{
    mac[0] = 0x02;                  /* locally administered unicast */
    mac[1] = 0x00;
    mac[2] = (uint8_t)(n >> 24);
    mac[3] = (uint8_t)(n >> 16);
    mac[4] = (uint8_t)(n >> 8);
    mac[5] = (uint8_t)n;
}

static void test_learn_and_lookup(void)
{
    struct fdb *f = fdb_create(16, 300);
    uint8_t a[6], b[6];
    mac_of(1, a);
    mac_of(2, b);
    CHECK(f != NULL);
    CHECK(fdb_lookup(f, a, 0) == NULL);
    CHECK(fdb_learn(f, a, 3, "0123456789abcdef0123456789abcdef", 1000) == FDB_LEARN_NEW);
    const struct fdb_entry *e = fdb_lookup(f, a, 2000);
    CHECK(e && e->port == 3);
    CHECK_STR(e ? e->peer : NULL, "0123456789abcdef0123456789abcdef");
    CHECK(fdb_learn(f, a, 3, "0123456789abcdef0123456789abcdef", 3000) == FDB_LEARN_REFRESHED);
    CHECK(fdb_learn(f, a, 65534, NULL, 4000) == FDB_LEARN_MOVED);
    e = fdb_lookup(f, a, 4000);
    CHECK(e && e->port == 65534 && e->peer[0] == '\0');
    CHECK(fdb_lookup(f, b, 4000) == NULL);
    CHECK(fdb_count(f) == 1);
    fdb_destroy(f);
    fdb_destroy(NULL);
}

/* Repointing every entry during one walk: each keeps its peer and age, and
 * the walk still visits every entry once. */
static void test_set_port(void)
{
    struct fdb *f = fdb_create(64, 300);
    uint8_t m[6];
    for (unsigned i = 0; i < 40; i++) {
        mac_of(i, m);
        fdb_learn(f, m, 1 + i % 3, i % 2 ? "0123456789abcdef0123456789abcdef" : "", 1000 + i);
    }
    size_t pos = 0, seen = 0;
    const struct fdb_entry *e;
    while ((e = fdb_next(f, &pos))) {
        seen++;
        CHECK(fdb_set_port(f, e->mac, 7));
    }
    CHECK(seen == 40);
    for (unsigned i = 0; i < 40; i++) {
        mac_of(i, m);
        e = fdb_lookup(f, m, 2000);
        CHECK(e && e->port == 7 && e->last_seen_ms == 1000 + i);
        CHECK(e && !!e->peer[0] == (i % 2));
    }
    mac_of(99, m);
    CHECK(!fdb_set_port(f, m, 7));
    CHECK(fdb_count(f) == 40);
    fdb_destroy(f);
}

static void test_invalid_source(void)
{
    struct fdb *f = fdb_create(4, 300);
    uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
    uint8_t zero[6] = { 0 };
    CHECK(fdb_learn(f, bcast, 1, NULL, 0) == FDB_LEARN_INVALID);
    CHECK(fdb_learn(f, mcast, 1, NULL, 0) == FDB_LEARN_INVALID);
    CHECK(fdb_learn(f, zero, 1, NULL, 0) == FDB_LEARN_INVALID);
    CHECK(fdb_count(f) == 0);
    CHECK(fdb_create(0, 300) == NULL);
    CHECK(fdb_create(4, 0) == NULL);
    fdb_destroy(f);
}

static void test_aging(void)
{
    struct fdb *f = fdb_create(8, 10);
    uint8_t a[6], b[6];
    mac_of(10, a);
    mac_of(11, b);
    fdb_learn(f, a, 1, NULL, 0);
    fdb_learn(f, b, 2, NULL, 5000);
    CHECK(fdb_lookup(f, a, 9999) != NULL);
    CHECK(fdb_lookup(f, a, 10000) == NULL);     /* aged out, still stored */
    CHECK(fdb_expire(f, 10000) == 1);
    CHECK(fdb_count(f) == 1);
    CHECK(fdb_lookup(f, b, 14999) != NULL);
    /* an aged entry seen again counts as new, not as a move */
    CHECK(fdb_learn(f, b, 3, NULL, 20000) == FDB_LEARN_NEW);
    fdb_destroy(f);
}

static void test_eviction_and_flush(void)
{
    struct fdb *f = fdb_create(4, 300);
    uint8_t m[6];
    for (unsigned i = 0; i < 4; i++) {
        mac_of(i + 100, m);
        fdb_learn(f, m, i % 2, NULL, 1000 + i);
    }
    CHECK(fdb_count(f) == 4);
    mac_of(200, m);
    CHECK(fdb_learn(f, m, 7, NULL, 2000) == FDB_LEARN_NEW);
    CHECK(fdb_count(f) == 4);
    CHECK(fdb_evictions(f) == 1);
    mac_of(100, m);                               /* the oldest went */
    CHECK(fdb_lookup(f, m, 2000) == NULL);
    CHECK(fdb_flush_port(f, 1) == 2);             /* 101 and 103 */
    CHECK(fdb_count(f) == 2);
    size_t pos = 0, n = 0;
    const struct fdb_entry *e;
    while ((e = fdb_next(f, &pos)) != NULL) {
        CHECK(e->port != 1);
        n++;
    }
    CHECK(n == 2);
    mac_of(200, m);
    CHECK(fdb_forget(f, m));
    CHECK(!fdb_forget(f, m));
    fdb_flush(f);
    CHECK(fdb_count(f) == 0);
    fdb_destroy(f);
}

static void test_format(void)
{
    uint8_t m[6] = { 0x02, 0xab, 0x00, 0x01, 0xff, 0x10 };
    char s[18];
    fdb_format_mac(m, s);
    CHECK_STR(s, "02:ab:00:01:ff:10");
}

/* The naive reference: a linear array, no eviction (sized so none occurs). */
struct naive { uint8_t mac[6]; uint32_t port; long long seen; int used; };

static struct naive *naive_find(struct naive *t, size_t n, const uint8_t mac[6])
{
    for (size_t i = 0; i < n; i++)
        if (t[i].used && !memcmp(t[i].mac, mac, 6))
            return &t[i];
    return NULL;
}

static void test_differential(void)
{
    enum { MACS = 300, OPS = 100000, AGING = 50 };
    struct fdb *f = fdb_create(MACS, AGING);
    static struct naive ref[MACS];
    memset(ref, 0, sizeof ref);
    unsigned seed = 12345;
    long long now = 0;
    int mismatches = 0;
    for (int op = 0; op < OPS; op++) {
        now += rand_r(&seed) % 200;
        uint8_t m[6];
        unsigned k = rand_r(&seed) % MACS;
        mac_of(k, m);
        int what = rand_r(&seed) % 100;
        if (what < 60) {
            uint32_t port = rand_r(&seed) % 5;
            fdb_learn(f, m, port, NULL, now);
            struct naive *r = naive_find(ref, MACS, m);
            if (!r) {
                r = &ref[k];
                memcpy(r->mac, m, 6);
                r->used = 1;
            }
            r->port = port;
            r->seen = now;
        } else if (what < 95) {
            const struct fdb_entry *e = fdb_lookup(f, m, now);
            struct naive *r = naive_find(ref, MACS, m);
            int live = r && now - r->seen < AGING * 1000;
            if ((e != NULL) != live || (e && e->port != r->port))
                mismatches++;
        } else if (what < 98) {
            uint32_t port = rand_r(&seed) % 5;
            fdb_flush_port(f, port);
            for (size_t i = 0; i < MACS; i++)
                if (ref[i].used && ref[i].port == port)
                    ref[i].used = 0;
        } else {
            fdb_expire(f, now);
            for (size_t i = 0; i < MACS; i++)
                if (ref[i].used && now - ref[i].seen >= AGING * 1000)
                    ref[i].used = 0;
            size_t live = 0;
            for (size_t i = 0; i < MACS; i++)
                live += ref[i].used;
            if (live != fdb_count(f))
                mismatches++;
        }
    }
    CHECK(mismatches == 0);
    CHECK(fdb_evictions(f) == 0);
    fdb_destroy(f);
}

#define PEER_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PEER_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Issue 16: a neighbour claiming a local host's MAC (with a plain frame or
 * a flood) does not pull the host's traffic while the host was seen here
 * within the hold-down; keeping the entry alive through its flows does not
 * extend the hold-down; a host that left (quiet here) can move. */
static void test_hold_down(void)
{
    struct fdb *f = fdb_create(16, 300);
    fdb_set_limits(f, &(struct fdb_limits){ .hold_down_s = 60 });
    uint8_t host[6];
    mac_of(0x4242, host);
    CHECK(fdb_learn(f, host, 0xfffe, "", 1000) == FDB_LEARN_NEW);          /* bridge port */
    CHECK(fdb_learn(f, host, 5, PEER_A, 2000) == FDB_LEARN_HELD);
    CHECK(fdb_learn(f, host, 5, PEER_A, 60999) == FDB_LEARN_HELD);
    const struct fdb_entry *e = fdb_lookup(f, host, 61000);
    CHECK(e && e->port == 0xfffe && !e->peer[0] && e->last_seen_ms == 1000);
    /* seen locally again: the hold-down restarts */
    CHECK(fdb_learn(f, host, 0xfffe, NULL, 30000) == FDB_LEARN_REFRESHED);
    CHECK(fdb_learn(f, host, 5, PEER_A, 89999) == FDB_LEARN_HELD);
    /* frames going to it keep it alive, but are no sighting */
    CHECK(fdb_touch(f, host, 85000));
    CHECK(!fdb_touch(f, (uint8_t[6]){ 2, 0, 0, 0, 0, 9 }, 85000));
    e = fdb_lookup(f, host, 85000);
    CHECK(e && e->last_seen_ms == 85000 && e->local_ms == 30000);
    /* another local port may take it at once (a host moved between leaves) */
    CHECK(fdb_learn(f, host, 3, "", 86000) == FDB_LEARN_MOVED);
    /* quiet for the hold-down: a neighbour's claim is believed (migration) */
    CHECK(fdb_learn(f, host, 5, PEER_A, 146000) == FDB_LEARN_MOVED);
    e = fdb_lookup(f, host, 146000);
    CHECK(e && e->port == 5 && !strcmp(e->peer, PEER_A) && e->local_ms == 0);
    /* a remote MAC moving between peers is not held */
    CHECK(fdb_learn(f, host, 6, PEER_B, 147000) == FDB_LEARN_MOVED);
    /* an aged local entry is no longer held */
    uint8_t old[6];
    mac_of(0x4343, old);
    CHECK(fdb_learn(f, old, 0xfffe, "", 200000) == FDB_LEARN_NEW);
    CHECK(fdb_learn(f, old, 5, PEER_A, 500000) == FDB_LEARN_NEW);
    /* the bridge's own port is pinned: its MAC stays however quiet it is,
     * as long as its entry lives (kept alive by the flows to it) */
    struct fdb *p = fdb_create(16, 300);
    fdb_set_limits(p, &(struct fdb_limits){ .hold_down_s = 60, .pin_port = 0xfffe });
    uint8_t br[6];
    mac_of(0x4444, br);
    CHECK(fdb_learn(p, br, 0xfffe, "", 1000) == FDB_LEARN_NEW);
    CHECK(fdb_touch(p, br, 250000));
    CHECK(fdb_learn(p, br, 5, PEER_A, 260000) == FDB_LEARN_HELD);
    CHECK(fdb_lookup(p, br, 260000) && fdb_lookup(p, br, 260000)->port == 0xfffe);
    CHECK(fdb_learn(p, host, 3, "", 1000) == FDB_LEARN_NEW);      /* another local port */
    CHECK(fdb_learn(p, host, 5, PEER_A, 70000) == FDB_LEARN_MOVED);
    CHECK(fdb_learn(p, br, 5, PEER_A, 600000) == FDB_LEARN_NEW);   /* aged out: free */
    fdb_destroy(p);
    /* no limits set: the hold-down is off */
    struct fdb *g = fdb_create(16, 300);
    CHECK(fdb_learn(g, host, 0xfffe, "", 1000) == FDB_LEARN_NEW);
    CHECK(fdb_learn(g, host, 5, PEER_A, 2000) == FDB_LEARN_MOVED);
    fdb_destroy(g);
    fdb_destroy(f);
}

/* Issue 16: random source MACs from one port fill that port's share of the
 * table, never the table: the other ports' MACs stay and new ones are
 * still learnt. */
static void test_port_limits(void)
{
    struct fdb *f = fdb_create(64, 300);
    fdb_set_limits(f, &(struct fdb_limits){ .peer_port_max = 16, .local_port_max = 8 });
    uint8_t m[6];
    for (unsigned i = 0; i < 4; i++) {
        mac_of(i, m);
        CHECK(fdb_learn(f, m, 2, PEER_B, 1000) == FDB_LEARN_NEW);
        mac_of(100 + i, m);
        CHECK(fdb_learn(f, m, 0xfffe, "", 1000) == FDB_LEARN_NEW);
    }
    unsigned full = 0;
    for (unsigned i = 0; i < 1000; i++) {
        mac_of(0x10000 + i, m);
        full += fdb_learn(f, m, 5, PEER_A, 2000 + i) == FDB_LEARN_PORT_FULL;
    }
    CHECK(full == 1000 - 16);
    CHECK(fdb_port_count(f, 5, 3000) == 16);
    CHECK(fdb_evictions(f) == 0);
    for (unsigned i = 0; i < 4; i++) {
        mac_of(i, m);
        CHECK(fdb_lookup(f, m, 3000) != NULL);
        mac_of(100 + i, m);
        CHECK(fdb_lookup(f, m, 3000) != NULL);
    }
    /* a known MAC refreshes on a full port; one moving onto it is refused */
    mac_of(0x10000, m);
    CHECK(fdb_learn(f, m, 5, PEER_A, 4000) == FDB_LEARN_REFRESHED);
    mac_of(0, m);
    CHECK(fdb_learn(f, m, 5, PEER_A, 4000) == FDB_LEARN_PORT_FULL);
    CHECK(fdb_lookup(f, m, 4000) && fdb_lookup(f, m, 4000)->port == 2);
    /* the local port has its own limit */
    for (unsigned i = 4; i < 20; i++) {
        mac_of(100 + i, m);
        fdb_learn(f, m, 0xfffe, "", 5000);
    }
    CHECK(fdb_port_count(f, 0xfffe, 5000) == 8);
    /* aged entries make room */
    mac_of(0x20000, m);
    CHECK(fdb_learn(f, m, 5, PEER_A, 2000 + 300000 + 1000) == FDB_LEARN_NEW);
    fdb_destroy(f);
}

int main(void)
{
    test_hold_down();
    test_port_limits();
    test_learn_and_lookup();
    test_set_port();
    test_invalid_source();
    test_aging();
    test_eviction_and_flush();
    test_format();
    test_differential();
    return check_report("test_fdb");
}
