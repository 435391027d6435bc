/* Unit tests for switchctl/portguard.c: per-port packet-in and query
 * budgets (issue 16), and the counters bridge/status shows per port. */
#include "check.h"
#include "../../switchctl/portguard.h"

static void test_bucket(void)
{
    struct portguard_bucket b = { 0 };
    int ok = 0;
    for (int i = 0; i < 50; i++)
        ok += portguard_bucket_take(&b, 10, 20, 1000);
    CHECK(ok == 20);                            /* the burst, then nothing */
    CHECK(!portguard_bucket_take(&b, 10, 20, 1099));
    CHECK(portguard_bucket_take(&b, 10, 20, 1100));   /* one per 100 ms */
    CHECK(!portguard_bucket_take(&b, 10, 20, 1100));
    /* a clock going back adds nothing */
    CHECK(!portguard_bucket_take(&b, 10, 20, 500));
    /* a long pause refills to the burst, not beyond */
    ok = 0;
    for (int i = 0; i < 50; i++)
        ok += portguard_bucket_take(&b, 10, 20, 1000000);
    CHECK(ok == 20);
    /* rate 0: no limit */
    struct portguard_bucket c = { 0 };
    ok = 0;
    for (int i = 0; i < 5000; i++)
        ok += portguard_bucket_take(&c, 0, 0, 0);
    CHECK(ok == 5000);
}

/* One port flooding the switch uses its own budget only: another port's
 * frames still go through, and the refusals are counted on the noisy one. */
static void test_per_port(void)
{
    static struct portguard g;
    portguard_init(&g, &(struct portguard_limits){ .packet_in_rate = 100,
                                                    .packet_in_burst = 200,
                                                    .query_rate = 2, .query_burst = 5 });
    long long now = 10000;
    int noisy_ok = 0, quiet_ok = 0;
    /* 10 s of 10000 frames/s from port 5, 10/s from port 6 */
    for (int ms = 0; ms < 10000; ms++) {
        for (int k = 0; k < 10; k++)
            noisy_ok += portguard_packet_in(&g, 5, now + ms);
        if (ms % 100 == 0)
            quiet_ok += portguard_packet_in(&g, 6, now + ms);
    }
    CHECK(noisy_ok >= 200 + 999 && noisy_ok <= 200 + 1001);   /* burst + 100/s */
    CHECK(quiet_ok == 100);
    const struct portguard_port *p5 = portguard_port(&g, 5), *p6 = portguard_port(&g, 6);
    CHECK(p5 && p5->count[PORTGUARD_PACKET_IN_METERED] == 100000 - (unsigned long)noisy_ok);
    CHECK(p6 && p6->count[PORTGUARD_PACKET_IN_METERED] == 0);
    CHECK(g.total[PORTGUARD_PACKET_IN_METERED] == p5->count[PORTGUARD_PACKET_IN_METERED]);

    /* queries: 5 at once, then 2 a second */
    int q = 0;
    for (int i = 0; i < 1000; i++)
        q += portguard_query(&g, 5, now + i);           /* one second */
    CHECK(q == 5 + 1 || q == 5 + 2);
    CHECK(portguard_query(&g, 6, now));
    CHECK(portguard_port(&g, 5)->count[PORTGUARD_QUERY_OVER_BUDGET] == 1000ul - q);

    portguard_count(&g, 6, PORTGUARD_MAC_HELD);
    portguard_count(&g, 6, PORTGUARD_MAC_HELD);
    portguard_count(&g, 7, PORTGUARD_FLOOD_BAD_ROOT);
    portguard_count(&g, 7, PORTGUARD_N_EVENTS);         /* ignored */
    CHECK(portguard_port(&g, 6)->count[PORTGUARD_MAC_HELD] == 2);
    CHECK(g.total[PORTGUARD_MAC_HELD] == 2 && g.total[PORTGUARD_FLOOD_BAD_ROOT] == 1);
    portguard_forget(&g, 6);
    CHECK(portguard_port(&g, 6) == NULL && portguard_port(&g, 7) != NULL);
    CHECK(g.total[PORTGUARD_MAC_HELD] == 2);
    portguard_forget(&g, 99);
}

/* More ports than the table holds: the last record is shared, nothing
 * breaks, budgets still apply. */
static void test_many_ports(void)
{
    static struct portguard g;
    portguard_init(&g, NULL);
    CHECK(g.lim.packet_in_rate == PORTGUARD_PACKET_IN_RATE);
    int ok = 0;
    for (uint32_t port = 1; port <= 1000; port++)
        ok += portguard_packet_in(&g, port, 0);
    CHECK(ok == 1000 && g.n == PORTGUARD_MAX_PORTS);
    for (int e = 0; e < PORTGUARD_N_EVENTS; e++)
        CHECK(portguard_event_name((enum portguard_event)e)[0] != '?');
}

int main(void)
{
    test_bucket();
    test_per_port();
    test_many_ports();
    return check_report("test_portguard");
}
