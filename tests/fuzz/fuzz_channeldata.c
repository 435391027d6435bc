/* Fuzz target: the pure parts of the link's fast path (tincan/fastpath.c)
 * that look at datagrams from the network: the TURN ChannelData header a
 * relayed link peeks at (RFC 8656 12.4), the split of a GRO'd receive into
 * datagrams, and the grouping of queued lengths into GSO runs. The first
 * byte picks the check:
 *   0  fastpath_channel_data reads only the 4 header bytes (given here in a
 *      4-byte buffer with the datagram's whole length, as link.c peeks),
 *      accepts only channels 0x4000..0x4fff whose payload fits;
 *   1  fastpath_split hands out the buffer once, in order, in SEG pieces;
 *   2  fastpath_run: a run of equal lengths, maybe closed by one shorter. */
#include "fuzz.h"

#include "../../tincan/fastpath.h"

struct split_ctx {
    const uint8_t *next;
    size_t total, seg, calls;
    bool short_seen;
};

static void on_datagram(void *aux, const uint8_t *data, size_t len)
{
    struct split_ctx *x = aux;
    FUZZ_ASSERT(data == x->next, "datagram %zu out of place", x->calls);
    FUZZ_ASSERT(len > 0 && !x->short_seen, "empty datagram, or one after the short one");
    if (x->seg && len != x->seg)
        x->short_seen = true;
    FUZZ_ASSERT(!x->seg || len <= x->seg, "datagram of %zu with segments of %zu", len, x->seg);
    x->next += len;
    x->total += len;
    x->calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    switch (fz_u8(&f) % 3) {
    case 0: {
        size_t claimed = fz_u16(&f) % 2048, got;
        const uint8_t *p = fz_bytes(&f, FASTPATH_CHANNEL_HDR, &got);
        uint8_t *head = malloc(FASTPATH_CHANNEL_HDR);
        FUZZ_ASSERT(head, "out of memory");
        memset(head, 0, FASTPATH_CHANNEL_HDR);
        memcpy(head, p, got);
        if (claimed < got)
            claimed = got;   /* the datagram holds at least what was read */
        uint16_t channel = 0;
        size_t payload = (size_t)-1;
        bool ok = fastpath_channel_data(head, claimed, &channel, &payload);
        bool want = claimed >= FASTPATH_CHANNEL_HDR && head[0] >= 0x40 && head[0] <= 0x4f
                    && (size_t)(head[2] << 8 | head[3]) <= claimed - FASTPATH_CHANNEL_HDR;
        FUZZ_ASSERT(ok == want, "accepted %d, expected %d", ok, want);
        if (ok)
            FUZZ_ASSERT(channel >= 0x4000 && channel <= 0x4fff
                        && payload + FASTPATH_CHANNEL_HDR <= claimed,
                        "channel %04x payload %zu of %zu", channel, payload, claimed);
        free(head);
        break;
    }
    case 1: {
        size_t seg = fz_u16(&f) % 1600, len;
        if (seg % 3 == 0)
            seg = 0;
        const uint8_t *p = fz_bytes(&f, f.n, &len);
        struct split_ctx x = { .next = p, .seg = seg };
        int n = fastpath_split(p, len, seg, on_datagram, &x);
        FUZZ_ASSERT(n >= 0 && (size_t)n == x.calls && x.total == len,
                    "%d datagrams, %zu calls, %zu of %zu bytes", n, x.calls, x.total, len);
        size_t want = !len ? 0 : !seg || seg >= len ? 1 : (len + seg - 1) / seg;
        FUZZ_ASSERT((size_t)n == want, "%d datagrams, expected %zu", n, want);
        break;
    }
    default: {
        uint16_t lens[FASTPATH_BATCH_SEGS] = { 0 };
        int n = fz_u8(&f) % (FASTPATH_BATCH_SEGS + 1);
        uint16_t base = fz_u16(&f) % 1500 + 1;
        for (int i = 0; i < n; i++) {
            uint8_t b = fz_u8(&f);
            lens[i] = b < 200 ? base : (uint16_t)(b * 7);   /* mostly equal */
        }
        int k = fastpath_run(lens, n);
        if (!n) {
            FUZZ_ASSERT(k == 0, "run of %d from nothing", k);
            break;
        }
        FUZZ_ASSERT(k >= 1 && k <= n, "run of %d from %d", k, n);
        for (int i = 0; i < k - 1; i++)
            FUZZ_ASSERT(lens[i] == lens[0], "datagram %d differs inside the run", i);
        FUZZ_ASSERT(lens[k - 1] <= lens[0], "the run ends on a longer datagram");
        if (k < n)   /* as long as it could be */
            FUZZ_ASSERT(!(lens[k - 1] == lens[0] && lens[k] <= lens[0]),
                        "run of %d stops before %d", k, k + 1);
        break;
    }
    }
    return 0;
}
