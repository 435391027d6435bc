/* Unit tests for switchctl/fdb.c, the MAC learning table: learning, moves,
 * aging, eviction, port flush, and a randomized differential test against a
 * deliberately naive linear table. */
#include "check.h"
#include "../../switchctl/fdb.h"

#include <stdlib.h>

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

int main(void)
{
    test_learn_and_lookup();
    test_set_port();
    test_invalid_source();
    test_aging();
    test_eviction_and_flush();
    test_format();
    test_differential();
    return check_report("test_fdb");
}
