/* Unit tests for switchctl/shortcut.c: byte deltas between flow-counter
 * polls and the per-node rate threshold that asks for a shortcut link. */
#include "check.h"
#include "../../switchctl/shortcut.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static struct nodeid id(uint8_t b)
{
    struct nodeid n;
    memset(&n, 0, sizeof n);
    n.b[15] = b;
    return n;
}

static bool is(const struct nodeid *n, uint8_t b)
{
    struct nodeid want = id(b);
    return !nodeid_cmp(n, &want);
}

static struct shortcut_sample sample(uint32_t port, uint8_t last, uint64_t bytes)
{
    struct shortcut_sample s = { .in_port = port, .bytes = bytes };
    memcpy(s.dst, (uint8_t[6]){ 0x02, 0, 0, 0, 0, last }, 6);
    return s;
}

static void test_delta(void)
{
    struct shortcut_sample prev[] = {
        sample(3, 9, 5000), sample(1, 7, 100), sample(1, 2, 1000), sample(2, 7, 40),
    };
    shortcut_sort(prev, 4);
    CHECK(prev[0].in_port == 1 && prev[0].dst[5] == 2);
    CHECK(prev[3].in_port == 3);

    struct shortcut_sample c = sample(1, 2, 1500);
    CHECK(shortcut_delta(prev, 4, &c) == 500);
    c = sample(2, 7, 40);                   /* idle */
    CHECK(shortcut_delta(prev, 4, &c) == 0);
    c = sample(2, 2, 300);                  /* new flow: all its bytes */
    CHECK(shortcut_delta(prev, 4, &c) == 300);
    c = sample(3, 9, 10);                   /* re-made flow: counter restarted */
    CHECK(shortcut_delta(prev, 4, &c) == 10);
    c = sample(9, 9, 10);
    CHECK(shortcut_delta(NULL, 0, &c) == 10);
}

static void test_decide(void)
{
    struct shortcut_hint out[4];
    /* 1000 kbit/s over 2 s = 250000 bytes */
    struct shortcut_load loads[] = {
        { id(1), 150000, false },
        { id(2), 249999, false },           /* just under */
        { id(1), 100000, false },           /* node 1 sums to the threshold */
        { id(3), 125000, true },            /* adjacent: half is enough */
        { id(4), 124999, true },            /* adjacent, just under half */
        { id(5), 2500000, false },
    };
    size_t n = shortcut_decide(loads, 6, 2000, 1000, out, 4);
    CHECK(n == 3);
    CHECK(is(&out[0].peer, 5) && out[0].kbps == 10000);
    CHECK(is(&out[1].peer, 1) && out[1].kbps == 1000);
    CHECK(!out[1].adjacent);
    CHECK(is(&out[2].peer, 3) && out[2].kbps == 500);
    CHECK(out[2].adjacent);

    /* MAX keeps the fastest */
    CHECK(shortcut_decide(loads, 6, 2000, 1000, out, 1) == 1);
    CHECK(out[0].kbps == 10000);
    /* off, or no interval: nothing */
    CHECK(shortcut_decide(loads, 6, 2000, 0, out, 4) == 0);
    CHECK(shortcut_decide(loads, 6, 0, 1000, out, 4) == 0);
    CHECK(shortcut_decide(loads, 6, -5, 1000, out, 4) == 0);
    CHECK(shortcut_decide(NULL, 0, 2000, 1000, out, 4) == 0);
    /* a threshold of 1 kbit/s and one byte over a second is still zero */
    struct shortcut_load tiny = { id(7), 1, false };
    CHECK(shortcut_decide(&tiny, 1, 1000, 1, out, 4) == 0);
    tiny.bytes = 125;                       /* 1000 bits in 1 s */
    CHECK(shortcut_decide(&tiny, 1, 1000, 1, out, 4) == 1 && out[0].kbps == 1);
}

int main(void)
{
    test_delta();
    test_decide();
    return check_report("test_shortcut");
}
