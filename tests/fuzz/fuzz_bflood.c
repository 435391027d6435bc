/* Fuzz target: bounded flooding (switchctl/bflood.c) and the one-link
 * forwarding decision (switchctl/flood.c), fed as frames from a neighbour's
 * TAP and as neighbour sets. The first byte picks one of four checks:
 *   0  bflood_decap of a received frame: an accepted one re-encapsulates to
 *      the same bytes (also in place), and reads stay within the frame;
 *   1  bflood_decide for one node against a naive reference (own flood
 *      back, outside the sender's interval, a root that cannot be behind
 *      the sender, hop limit): the copies go to qualifying neighbours only,
 *      clockwise, without duplicates, and their intervals cover every
 *      qualifying neighbour exactly once;
 *   2  a whole overlay: up to 24 nodes, links that include every ring
 *      successor plus random others, a random output limit: a flood from any
 *      root reaches every other node exactly once, never comes back;
 *   3  flood_decide: outputs are known ports, never the ingress, never peer
 *      to peer, and drops say why. */
#include "fuzz.h"

#include "../../switchctl/bflood.h"
#include "../../switchctl/flood.h"

#define MAX_NODES 24

/* A node ID from two input bytes, spread over the ring so that wrapping and
 * equal prefixes both occur. */
static struct nodeid id_from(struct fz *f)
{
    struct nodeid id;
    memset(&id, 0, sizeof id);
    uint8_t a = fz_u8(f), b = fz_u8(f);
    id.b[0] = a;
    id.b[15] = b;
    if (b & 0x80)
        memset(id.b + 1, a, 14);
    return id;
}

static bool eq(const struct nodeid *a, const struct nodeid *b) { return !nodeid_cmp(a, b); }

static void check_decap(struct fz *f)
{
    size_t len;
    const uint8_t *pkt = fz_bytes(f, f->n, &len);
    struct bflood_hdr h;
    const uint8_t *inner = (const uint8_t *)1;
    size_t inner_len = 1;
    enum bflood_reason r = bflood_decap(pkt, len, &h, &inner, &inner_len);
    FUZZ_ASSERT(*bflood_reason_name(r) != '?', "reason %d", (int)r);
    if (r != BFLOOD_OK) {
        FUZZ_ASSERT(!inner && !inner_len, "failure left the inner frame set");
        return;
    }
    FUZZ_ASSERT(inner == pkt + BFLOOD_HDR_LEN && inner_len == len - BFLOOD_HDR_LEN,
                "inner frame at %td, %zu bytes of %zu", inner - pkt, inner_len, len);
    FUZZ_ASSERT(h.hops <= BFLOOD_MAX_HOPS && h.type >= BFLOOD_BROADCAST && h.type <= BFLOOD_QUERY,
                "hops %u type %u", h.hops, h.type);

    uint8_t *out = malloc(len);
    FUZZ_ASSERT(out, "out of memory");
    FUZZ_ASSERT(bflood_encap(&h, inner, inner_len, out, len) == len
                && !memcmp(out, pkt, len), "re-encapsulation differs");
    FUZZ_ASSERT(bflood_encap(&h, inner, inner_len, out, len - 1) == 0, "encap past its buffer");
    /* in place: the frame already sits where the header ends */
    memcpy(out + BFLOOD_HDR_LEN, inner, inner_len);
    memset(out, 0xee, BFLOOD_HDR_LEN);
    FUZZ_ASSERT(bflood_encap(&h, out + BFLOOD_HDR_LEN, inner_len, out, len) == len
                && !memcmp(out, pkt, len), "in-place encapsulation differs");
    free(out);
}

static void check_decide(struct fz *f)
{
    struct nodeid self = id_from(f), from = id_from(f);
    struct bflood_hdr rx;
    memset(&rx, 0, sizeof rx);
    bool root = fz_bool(f);
    rx.root = id_from(f);
    rx.bound = id_from(f);
    rx.hops = fz_u8(f) % (BFLOOD_MAX_HOPS + 2);
    rx.type = BFLOOD_BROADCAST;
    size_t out_cap = 1 + fz_u8(f) % 8;
    if (fz_bool(f))
        out_cap = BFLOOD_MAX_NEIGHBOURS;
    size_t n_peers = fz_u8(f) % 40;
    struct nodeid peers[40];
    for (size_t i = 0; i < n_peers; i++)
        peers[i] = id_from(f);

    struct bflood_fwd *out = calloc(out_cap, sizeof *out);
    struct bflood_decision d;
    FUZZ_ASSERT(out, "out of memory");
    bflood_decide(&self, peers, n_peers, root ? NULL : &rx, root ? NULL : &from, out, out_cap, &d);
    FUZZ_ASSERT(d.n_out <= out_cap, "%zu copies for %zu places", d.n_out, out_cap);
    FUZZ_ASSERT(*bflood_verdict_name(d.verdict) != '?', "verdict %d", (int)d.verdict);

    /* the reference: what the header comment says, written plainly */
    const struct nodeid *bound = &self;
    if (!root) {
        if (eq(&rx.root, &self)) {
            FUZZ_ASSERT(d.verdict == BFLOOD_LOOP && !d.n_out, "own flood not dropped");
            goto out;
        }
        if (eq(&self, &from) || !bflood_in_interval(&self, &from, &rx.bound)) {
            FUZZ_ASSERT(d.verdict == BFLOOD_OUTSIDE_INTERVAL && !d.n_out && !d.deliver,
                        "outside (sender, bound) but verdict %s", bflood_verdict_name(d.verdict));
            goto out;
        }
        /* the root must lie behind the sender: the sender itself, or in
         * [bound, sender) where the flood came from */
        bool plausible = eq(&rx.root, &from)
                         || (!eq(&rx.bound, &from) && bflood_in_interval(&rx.root, &rx.bound, &from));
        if (!plausible) {
            FUZZ_ASSERT(d.verdict == BFLOOD_BAD_ROOT && !d.n_out && !d.deliver,
                        "implausible root but verdict %s", bflood_verdict_name(d.verdict));
            goto out;
        }
        FUZZ_ASSERT(d.deliver, "inside the interval but not delivered");
        if (rx.hops >= BFLOOD_MAX_HOPS) {
            FUZZ_ASSERT(d.verdict == BFLOOD_HOPS_EXHAUSTED && !d.n_out, "hops %u", rx.hops);
            goto out;
        }
        FUZZ_ASSERT(d.hops == rx.hops + 1, "hops %u after %u", d.hops, rx.hops);
        bound = &rx.bound;
    } else {
        FUZZ_ASSERT(d.deliver && d.hops == 1, "root: deliver %d hops %u", d.deliver, d.hops);
    }
    FUZZ_ASSERT(d.verdict == BFLOOD_FORWARD, "verdict %s", bflood_verdict_name(d.verdict));

    size_t qualifying = 0;
    for (size_t i = 0; i < n_peers; i++) {
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup |= eq(&peers[i], &peers[j]);
        if (dup || eq(&peers[i], &self) || !bflood_in_interval(&peers[i], &self, bound))
            continue;
        qualifying++;
        size_t covering = 0;
        for (size_t k = 0; k < d.n_out; k++)
            covering += bflood_in_interval(&peers[i], &out[k].peer, &out[k].bound);
        FUZZ_ASSERT(covering == 1, "neighbour %zu covered by %zu intervals", i, covering);
    }
    FUZZ_ASSERT(d.n_out + d.n_truncated >= qualifying && d.n_out == (qualifying < out_cap
                ? qualifying : out_cap), "%zu out, %zu qualifying, cap %zu", d.n_out, qualifying,
                out_cap);
    for (size_t k = 0; k < d.n_out; k++) {
        bool known = false;
        for (size_t i = 0; i < n_peers; i++)
            known |= eq(&out[k].peer, &peers[i]);
        FUZZ_ASSERT(known && !eq(&out[k].peer, &self), "copy %zu to a stranger", k);
        if (k + 1 < d.n_out)
            FUZZ_ASSERT(bflood_cw_cmp(&out[k].peer, &out[k + 1].peer, &self) < 0
                        && eq(&out[k].bound, &out[k + 1].peer), "copies %zu, %zu out of order",
                        k, k + 1);
        else
            FUZZ_ASSERT(eq(&out[k].bound, bound), "last bound is not ours");
    }
out:
    free(out);
}

/* One flood over a whole overlay, breadth first. */
static void check_overlay(struct fz *f)
{
    struct nodeid ids[MAX_NODES];
    size_t n = 0, want = 2 + fz_u8(f) % (MAX_NODES - 1);
    for (size_t tries = 0; n < want && tries < 4 * MAX_NODES; tries++) {
        struct nodeid id = id_from(f);
        bool dup = false;
        for (size_t j = 0; j < n; j++)
            dup |= eq(&id, &ids[j]);
        if (!dup)
            ids[n++] = id;
    }
    if (n < 2)
        return;
    /* sorted: ring order, so node i's successor is i + 1 */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && nodeid_cmp(&ids[j - 1], &ids[j]) > 0; j--) {
            struct nodeid t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    bool link[MAX_NODES][MAX_NODES] = { { false } };
    for (size_t i = 0; i < n; i++) {
        size_t s = (i + 1) % n;
        link[i][s] = link[s][i] = true;
    }
    size_t extra = fz_u8(f) % 64;
    for (size_t e = 0; e < extra; e++) {
        size_t a = fz_u8(f) % n, b = fz_u8(f) % n;
        if (a != b)
            link[a][b] = link[b][a] = true;
    }
    size_t out_cap = 1 + fz_u8(f) % 6;
    size_t root = fz_u8(f) % n;

    struct { size_t node, from; struct bflood_hdr h; } queue[MAX_NODES * MAX_NODES];
    size_t head = 0, tail = 0, got[MAX_NODES] = { 0 };
    struct bflood_fwd out[8];
    struct nodeid peers[MAX_NODES];
    struct bflood_decision d;

    for (size_t step = 0; step == 0 || head < tail; step++) {
        size_t at = root, from = root;
        const struct bflood_hdr *rx = NULL;
        if (step) {
            at = queue[head].node;
            from = queue[head].from;
            rx = &queue[head].h;
            head++;
        }
        size_t np = 0;
        for (size_t j = 0; j < n; j++)
            if (link[at][j])
                peers[np++] = ids[j];
        bflood_decide(&ids[at], peers, np, rx, rx ? &ids[from] : NULL, out, out_cap, &d);
        FUZZ_ASSERT(d.verdict == BFLOOD_FORWARD, "node %zu: %s", at, bflood_verdict_name(d.verdict));
        if (rx)
            got[at]++;
        FUZZ_ASSERT(got[at] <= 1, "node %zu got %zu copies", at, got[at]);
        FUZZ_ASSERT(!rx || at != root, "the flood came back to its root");
        for (size_t k = 0; k < d.n_out; k++) {
            size_t to = 0;
            while (to < n && !eq(&ids[to], &out[k].peer))
                to++;
            FUZZ_ASSERT(to < n && link[at][to], "copy to a node that is no neighbour");
            FUZZ_ASSERT(tail < sizeof queue / sizeof queue[0], "more copies than links");
            queue[tail].node = to;
            queue[tail].from = at;
            memset(&queue[tail].h, 0, sizeof queue[tail].h);
            queue[tail].h.type = BFLOOD_BROADCAST;
            queue[tail].h.hops = d.hops;
            queue[tail].h.root = ids[root];
            queue[tail].h.bound = out[k].bound;
            tail++;
        }
    }
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(i == root || got[i] == 1, "node %zu of %zu got %zu copies (cap %zu)", i, n,
                    got[i], out_cap);
}

static void check_flood(struct fz *f)
{
    static struct flood_port ports[FLOOD_MAX_PORTS + 8];
    size_t n_ports = fz_u16(f) % (FLOOD_MAX_PORTS + 8);
    bool spread = fz_bool(f);
    size_t want = n_ports;
    n_ports = 0;
    for (size_t i = 0; i < want; i++) {   /* a bridge's port numbers are unique */
        uint32_t port = spread ? fz_u16(f) : (uint32_t)i + 1;
        bool dup = false;
        for (size_t j = 0; j < n_ports && !dup; j++)
            dup = ports[j].port == port;
        enum flood_port_role role = fz_bool(f) ? FLOOD_PORT_PEER : FLOOD_PORT_LEAF;
        if (dup)
            continue;
        ports[n_ports].port = port;
        ports[n_ports++].role = role;
    }
    uint32_t in_port = fz_u8(f), dst = fz_u8(f);
    bool known = fz_bool(f);
    size_t len;
    const uint8_t *frame = fz_bytes(f, f->n, &len);

    static struct flood_decision d;
    flood_decide(ports, n_ports, in_port, frame, len, known ? &dst : NULL, &d);
    size_t used = n_ports > FLOOD_MAX_PORTS ? FLOOD_MAX_PORTS : n_ports;
    const struct flood_port *in = NULL;
    for (size_t i = 0; i < used && !in; i++)
        if (ports[i].port == in_port)
            in = &ports[i];
    FUZZ_ASSERT(*flood_drop_reason_name(d.reason) != '?', "reason %d", (int)d.reason);
    switch (d.verdict) {
    case FLOOD_DROP:
        FUZZ_ASSERT(d.reason != FLOOD_OK && !d.n_out, "drop without a reason");
        FUZZ_ASSERT(d.reason != FLOOD_DROP_UNKNOWN_PORT || !in, "known port refused");
        break;
    case FLOOD_UNICAST:
        FUZZ_ASSERT(len >= 14 && known && !(frame[0] & 1) && d.n_out == 1 && d.out[0] == dst
                    && dst != in_port && in, "unicast to %u", d.out[0]);
        break;
    case FLOOD_FLOOD:
        FUZZ_ASSERT(len >= 14 && in && d.n_out <= used, "flood of %zu", d.n_out);
        for (size_t k = 0; k < d.n_out; k++) {
            const struct flood_port *p = NULL;
            for (size_t i = 0; i < used && !p; i++)
                if (ports[i].port == d.out[k])
                    p = &ports[i];
            FUZZ_ASSERT(p && d.out[k] != in_port, "flood to port %u", d.out[k]);
            FUZZ_ASSERT(!(in->role == FLOOD_PORT_PEER && p->role == FLOOD_PORT_PEER),
                        "peer to peer");
        }
        break;
    default:
        FUZZ_ASSERT(0, "verdict %d", (int)d.verdict);
    }
    if (len >= 14 && (frame[6] & 1))
        FUZZ_ASSERT(d.verdict == FLOOD_DROP, "multicast source passed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    switch (fz_u8(&f) % 4) {
    case 0: check_decap(&f); break;
    case 1: check_decide(&f); break;
    case 2: check_overlay(&f); break;
    default: check_flood(&f); break;
    }
    return 0;
}
