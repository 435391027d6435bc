/* Unit tests for switchctl/flood.c, the one-link forwarding decision: every
 * broadcast reaches each port at most once, never returns to its ingress
 * port, and never goes from one peer port to another. */
#include "check.h"
#include "../../switchctl/flood.h"

#define LOCAL 65534u

static const struct flood_port ports[] = {
    { LOCAL, FLOOD_PORT_LEAF },
    { 1, FLOOD_PORT_PEER },
    { 2, FLOOD_PORT_PEER },
    { 3, FLOOD_PORT_LEAF },
};
#define N_PORTS (sizeof ports / sizeof ports[0])

static void frame(uint8_t f[60], const uint8_t dst[6], unsigned src_last)
{
    memset(f, 0, 60);
    memcpy(f, dst, 6);
    uint8_t src[6] = { 0x02, 0, 0, 0, 0, (uint8_t)src_last };
    memcpy(f + 6, src, 6);
    f[12] = 0x08;
}

static int has(const struct flood_decision *d, uint32_t p)
{
    int n = 0;
    for (size_t i = 0; i < d->n_out; i++)
        n += d->out[i] == p;
    return n;
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t host[6] = { 0x02, 0, 0, 0, 0, 0x42 };

static void test_flood_from_leaf(void)
{
    struct flood_decision d;
    uint8_t f[60];
    frame(f, bcast, 1);
    flood_decide(ports, N_PORTS, LOCAL, f, sizeof f, NULL, &d);
    CHECK(d.verdict == FLOOD_FLOOD);
    CHECK(d.n_out == 3);
    CHECK(has(&d, 1) == 1 && has(&d, 2) == 1 && has(&d, 3) == 1);
    CHECK(has(&d, LOCAL) == 0);
}

static void test_flood_from_peer(void)
{
    struct flood_decision d;
    uint8_t f[60];
    frame(f, bcast, 1);
    flood_decide(ports, N_PORTS, 1, f, sizeof f, NULL, &d);
    CHECK(d.verdict == FLOOD_FLOOD);
    CHECK(d.n_out == 2);
    CHECK(has(&d, LOCAL) == 1 && has(&d, 3) == 1);
    CHECK(has(&d, 1) == 0 && has(&d, 2) == 0);
    /* unknown unicast floods the same way */
    frame(f, host, 1);
    flood_decide(ports, N_PORTS, 2, f, sizeof f, NULL, &d);
    CHECK(d.verdict == FLOOD_FLOOD && d.n_out == 2 && has(&d, 1) == 0);
}

static void test_unicast(void)
{
    struct flood_decision d;
    uint8_t f[60];
    frame(f, host, 1);
    uint32_t at = 1;
    flood_decide(ports, N_PORTS, LOCAL, f, sizeof f, &at, &d);
    CHECK(d.verdict == FLOOD_UNICAST && d.n_out == 1 && d.out[0] == 1);
    flood_decide(ports, N_PORTS, 1, f, sizeof f, &at, &d);
    CHECK(d.verdict == FLOOD_DROP && d.reason == FLOOD_DROP_SAME_PORT);
    /* a known port is ignored for broadcast */
    frame(f, bcast, 1);
    flood_decide(ports, N_PORTS, LOCAL, f, sizeof f, &at, &d);
    CHECK(d.verdict == FLOOD_FLOOD);
}

static void test_drops(void)
{
    struct flood_decision d;
    uint8_t f[60];
    frame(f, bcast, 1);
    flood_decide(ports, N_PORTS, LOCAL, f, 13, NULL, &d);
    CHECK(d.verdict == FLOOD_DROP && d.reason == FLOOD_DROP_RUNT);
    flood_decide(ports, N_PORTS, 99, f, sizeof f, NULL, &d);
    CHECK(d.verdict == FLOOD_DROP && d.reason == FLOOD_DROP_UNKNOWN_PORT);
    f[6] = 0x03;                                      /* multicast source */
    flood_decide(ports, N_PORTS, LOCAL, f, sizeof f, NULL, &d);
    CHECK(d.verdict == FLOOD_DROP && d.reason == FLOOD_DROP_BAD_SOURCE);
    const uint8_t stp[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x00 };
    const uint8_t lldp[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
    const uint8_t not_ll[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x10 };
    frame(f, stp, 1);
    flood_decide(ports, N_PORTS, LOCAL, f, sizeof f, NULL, &d);
    CHECK(d.verdict == FLOOD_DROP && d.reason == FLOOD_DROP_LINK_LOCAL);
    CHECK(flood_mac_is_link_local(lldp));
    CHECK(!flood_mac_is_link_local(not_ll));
    CHECK_STR(flood_drop_reason_name(FLOOD_DROP_RUNT), "runt");
}

/* Two switches joined by one link (peer port 1 on each): a broadcast from any
 * leaf is delivered exactly once to every other leaf of both switches. */
static void test_two_nodes_exactly_once(void)
{
    uint8_t f[60];
    frame(f, bcast, 7);
    for (size_t origin = 0; origin < N_PORTS; origin++) {
        if (ports[origin].role != FLOOD_PORT_LEAF)
            continue;
        int delivered_a[4] = { 0 }, delivered_b = 0;
        struct flood_decision d, d2;
        flood_decide(ports, N_PORTS, ports[origin].port, f, sizeof f, NULL, &d);
        for (size_t i = 0; i < d.n_out; i++) {
            if (d.out[i] == 1) {
                /* crosses the link into switch B on its peer port 1 */
                flood_decide(ports, N_PORTS, 1, f, sizeof f, NULL, &d2);
                for (size_t j = 0; j < d2.n_out; j++)
                    if (d2.out[j] == LOCAL || d2.out[j] == 3)
                        delivered_b++;
            }
            for (size_t k = 0; k < N_PORTS; k++)
                if (ports[k].port == d.out[i] && ports[k].role == FLOOD_PORT_LEAF)
                    delivered_a[k]++;
        }
        CHECK(delivered_b == 2);                      /* B's two leaves, once each */
        for (size_t k = 0; k < N_PORTS; k++)
            if (ports[k].role == FLOOD_PORT_LEAF)
                CHECK(delivered_a[k] == (k == origin ? 0 : 1));
    }
}

int main(void)
{
    test_flood_from_leaf();
    test_flood_from_peer();
    test_unicast();
    test_drops();
    test_two_nodes_exactly_once();
    return check_report("test_flood");
}
