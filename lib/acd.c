/* IPv4 Address Conflict Detection (RFC 5227): candidate addresses derived
 * from the node ID, and the probe/announce/defend state machine. See
 * include/evio/acd.h. */
#include "evio/acd.h"

#include <string.h>

uint32_t acd_pool_size(int prefix_len)
{
    if (prefix_len < 1 || prefix_len > 30)
        return 0;
    return (uint32_t)((1ull << (32 - prefix_len)) - 2);
}

static uint32_t acd_mask(int prefix_len)
{
    return prefix_len ? ~0u << (32 - prefix_len) : 0;
}

bool acd_in_pool(uint32_t ip, uint32_t pool, int prefix_len)
{
    uint32_t size = acd_pool_size(prefix_len), mask = acd_mask(prefix_len);
    if (!size || (ip & mask) != (pool & mask))
        return false;
    uint32_t host = ip & ~mask;
    return host != 0 && host != ~mask;
}

/* FNV-1a (64 bits) over the ID and K (little-endian), then a final mix so
 * that nearby K land far apart */
static uint64_t acd_hash(const uint8_t id[16], uint32_t k)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ id[i]) * 0x100000001b3ull;
    for (int i = 0; i < 4; i++)
        h = (h ^ ((k >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

uint32_t acd_candidate(const uint8_t id[16], uint32_t pool, int prefix_len, uint32_t k)
{
    uint32_t size = acd_pool_size(prefix_len);
    if (!size)
        return 0;
    return (pool & acd_mask(prefix_len)) + 1 + (uint32_t)(acd_hash(id, k) % size);
}

const char *acd_state_name(enum acd_state s)
{
    switch (s) {
    case ACD_WAIT: return "waiting";
    case ACD_PROBING: return "probing";
    case ACD_ANNOUNCING: return "announcing";
    case ACD_BOUND: return "bound";
    }
    return "?";
}

/* xorshift64*: uniform enough for timer jitter */
static int64_t acd_random(struct acd *a, int64_t lo, int64_t hi)
{
    a->rng ^= a->rng >> 12;
    a->rng ^= a->rng << 25;
    a->rng ^= a->rng >> 27;
    uint64_t r = a->rng * 0x2545f4914f6cdd1dull;
    return lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
}

/* (Re)starts probing for A->ip at NOW: after a random PROBE_WAIT, or after
 * RATE_LIMIT_INTERVAL once MAX_CONFLICTS conflicts happened in a row. */
static void acd_start(struct acd *a, int64_t now)
{
    a->state = ACD_WAIT;
    a->sent = 0;
    a->next_ms = now + (a->conflicts >= ACD_MAX_CONFLICTS ? ACD_RATE_LIMIT_MS
                                                          : acd_random(a, 0, ACD_PROBE_WAIT_MS));
}

void acd_init(struct acd *a, const uint8_t id[16], const uint8_t mac[6], uint32_t pool,
              int prefix_len, uint32_t first, uint64_t seed, int64_t now)
{
    memset(a, 0, sizeof *a);
    memcpy(a->id, id, sizeof a->id);
    memcpy(a->mac, mac, sizeof a->mac);
    a->pool = pool & acd_mask(prefix_len);
    a->prefix_len = prefix_len;
    a->first = acd_in_pool(first, pool, prefix_len) ? first : 0;
    a->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    a->last_defend_ms = -1;
    a->ip = a->first ? a->first : acd_candidate(id, pool, prefix_len, 0);
    acd_start(a, now);
}

/* The next candidate after a conflict on A->ip: the derived ones in turn
 * (the stored or forced first address, once lost, is not tried again),
 * skipping the one that just conflicted. */
static void acd_next_candidate(struct acd *a)
{
    uint32_t bad = a->ip, size = acd_pool_size(a->prefix_len);
    if (a->first) {
        a->first = 0;
        a->k = 0;
    } else {
        a->k++;
    }
    a->ip = acd_candidate(a->id, a->pool, a->prefix_len, a->k);
    /* (a pool of one address has no other to offer) */
    for (uint32_t n = 0; a->ip == bad && size > 1 && n < 64; n++)
        a->ip = acd_candidate(a->id, a->pool, a->prefix_len, ++a->k);
}

void acd_tick(struct acd *a, int64_t now, struct acd_out *out)
{
    memset(out, 0, sizeof *out);
    out->ip = a->ip;
    if (now < a->next_ms)
        return;
    switch (a->state) {
    case ACD_WAIT:
        a->state = ACD_PROBING;
        a->sent = 0;
        /* fall through */
    case ACD_PROBING:
        if (a->sent < ACD_PROBE_NUM) {
            out->probe = true;
            a->sent++;
            a->next_ms = now + (a->sent < ACD_PROBE_NUM
                                ? acd_random(a, ACD_PROBE_MIN_MS, ACD_PROBE_MAX_MS)
                                : ACD_ANNOUNCE_WAIT_MS);
            return;
        }
        /* no conflict within ANNOUNCE_WAIT of the last probe: ours */
        a->state = ACD_ANNOUNCING;
        a->sent = 0;
        a->conflicts = 0;
        out->bind = true;
        /* fall through */
    case ACD_ANNOUNCING:
        out->announce = true;
        if (++a->sent >= ACD_ANNOUNCE_NUM) {
            a->state = ACD_BOUND;
            a->next_ms = INT64_MAX;
        } else {
            a->next_ms = now + ACD_ANNOUNCE_INTERVAL_MS;
        }
        return;
    case ACD_BOUND:
        a->next_ms = INT64_MAX;
        return;
    }
}

bool acd_input(struct acd *a, const struct acd_arp *arp, int64_t now, struct acd_out *out)
{
    memset(out, 0, sizeof *out);
    out->ip = a->ip;
    int cmp = memcmp(arp->sha, a->mac, sizeof a->mac);
    if (cmp == 0 || (arp->op != 1 && arp->op != 2))
        return false;                    /* our own, or not ARP as we know it */

    if (a->state == ACD_WAIT || a->state == ACD_PROBING) {
        /* someone uses it, or probes for it at the same time (5227 2.1.1) */
        bool conflict = arp->spa == a->ip
                        || (arp->op == 1 && arp->spa == 0 && arp->tpa == a->ip);
        if (!conflict)
            return false;
        a->conflicts++;
        a->n_conflicts++;
        acd_next_candidate(a);
        acd_start(a, now);
        out->ip = a->ip;
        return true;
    }

    /* announcing or bound: another host claims our address (5227 2.4) */
    if (arp->spa != a->ip)
        return false;
    a->n_conflicts++;
    if (cmp > 0) {
        /* The host with the lower hardware address keeps it (the other
         * one, seeing our defence, gives up): defend, at most once per
         * DEFEND_INTERVAL */
        if (a->last_defend_ms < 0 || now - a->last_defend_ms >= ACD_DEFEND_INTERVAL_MS) {
            a->last_defend_ms = now;
            a->n_defended++;
            out->announce = true;
        }
        return true;
    }
    out->release = true;
    out->released = a->ip;
    a->conflicts++;
    acd_next_candidate(a);
    acd_start(a, now);
    out->ip = a->ip;
    return true;
}

void acd_reannounce(struct acd *a, int64_t now)
{
    if (a->state != ACD_ANNOUNCING && a->state != ACD_BOUND)
        return;
    a->state = ACD_ANNOUNCING;
    a->sent = 0;
    a->next_ms = now;
}
