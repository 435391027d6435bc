/* evio-switchctl's MAC learning table: a fixed pool of slots chained into
 * hash buckets, so learning under a flood of random source MACs costs no
 * allocation and memory stays bounded (the oldest entry is evicted). */
#include "fdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fdb_slot {
    struct fdb_entry e;
    int next;                   /* next slot in the bucket or free list, -1 ends */
    bool used;
};

struct fdb {
    struct fdb_slot *slots;
    size_t n_slots;
    int *buckets;               /* head slot per bucket, -1 = empty */
    size_t n_buckets;           /* power of two */
    int free_head;
    size_t count;
    int aging_s;
    unsigned long evictions;
    struct fdb_limits lim;
};

static uint32_t fdb_hash(const uint8_t mac[6])
{
    /* FNV-1a: MACs from one vendor share their first three bytes, so every
     * byte must stir the whole word. */
    uint32_t h = 2166136261u;
    for (int i = 0; i < 6; i++) {
        h ^= mac[i];
        h *= 16777619u;
    }
    return h;
}

struct fdb *fdb_create(size_t max_entries, int aging_s)
{
    if (max_entries == 0 || max_entries > (1u << 24) || aging_s <= 0)
        return NULL;
    struct fdb *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->n_slots = max_entries;
    f->n_buckets = 16;
    while (f->n_buckets < max_entries)
        f->n_buckets <<= 1;
    f->slots = calloc(f->n_slots, sizeof *f->slots);
    f->buckets = malloc(f->n_buckets * sizeof *f->buckets);
    if (!f->slots || !f->buckets) {
        fdb_destroy(f);
        return NULL;
    }
    f->aging_s = aging_s;
    fdb_flush(f);
    return f;
}

void fdb_destroy(struct fdb *f)
{
    if (!f)
        return;
    free(f->slots);
    free(f->buckets);
    free(f);
}

void fdb_flush(struct fdb *f)
{
    for (size_t i = 0; i < f->n_buckets; i++)
        f->buckets[i] = -1;
    for (size_t i = 0; i < f->n_slots; i++) {
        f->slots[i].used = false;
        f->slots[i].next = i + 1 < f->n_slots ? (int)(i + 1) : -1;
    }
    f->free_head = 0;
    f->count = 0;
}

static bool fdb_is_live(const struct fdb *f, const struct fdb_entry *e, long long now_ms)
{
    return now_ms - e->last_seen_ms < (long long)f->aging_s * 1000;
}

/* Returns the slot index holding MAC or -1; *PREV gets the slot before it in
 * its bucket (-1 when it is the head). */
static int fdb_find(const struct fdb *f, const uint8_t mac[6], int *prev)
{
    int p = -1;
    for (int i = f->buckets[fdb_hash(mac) & (f->n_buckets - 1)]; i >= 0; i = f->slots[i].next) {
        if (!memcmp(f->slots[i].e.mac, mac, 6)) {
            if (prev)
                *prev = p;
            return i;
        }
        p = i;
    }
    return -1;
}

static void fdb_remove_slot(struct fdb *f, int idx)
{
    int prev;
    if (fdb_find(f, f->slots[idx].e.mac, &prev) != idx)
        return;
    size_t b = fdb_hash(f->slots[idx].e.mac) & (f->n_buckets - 1);
    if (prev < 0)
        f->buckets[b] = f->slots[idx].next;
    else
        f->slots[prev].next = f->slots[idx].next;
    f->slots[idx].used = false;
    f->slots[idx].next = f->free_head;
    f->free_head = idx;
    f->count--;
}

static void fdb_evict_oldest(struct fdb *f)
{
    int oldest = -1;
    for (size_t i = 0; i < f->n_slots; i++) {
        if (f->slots[i].used
            && (oldest < 0 || f->slots[i].e.last_seen_ms < f->slots[oldest].e.last_seen_ms))
            oldest = (int)i;
    }
    if (oldest >= 0) {
        fdb_remove_slot(f, oldest);
        f->evictions++;
    }
}

static bool fdb_mac_learnable(const uint8_t mac[6])
{
    static const uint8_t zero[6];
    return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

void fdb_set_limits(struct fdb *f, const struct fdb_limits *lim)
{
    f->lim = *lim;
}

size_t fdb_port_count(const struct fdb *f, uint32_t port, long long now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_slots; i++)
        n += f->slots[i].used && f->slots[i].e.port == port
             && fdb_is_live(f, &f->slots[i].e, now_ms);
    return n;
}

/* Whether PORT (behind PEER, "" = local) has room for one more entry. The
 * walk costs the table's size, but only for a MAC new to PORT. */
static bool fdb_port_has_room(const struct fdb *f, uint32_t port, const char *peer,
                              long long now_ms)
{
    size_t max = peer[0] ? f->lim.peer_port_max : f->lim.local_port_max;
    return !max || fdb_port_count(f, port, now_ms) < max;
}

enum fdb_learn_result fdb_learn(struct fdb *f, const uint8_t mac[6], uint32_t port,
                                const char *peer, long long now_ms)
{
    if (!fdb_mac_learnable(mac))
        return FDB_LEARN_INVALID;
    if (!peer)
        peer = "";

    int idx = fdb_find(f, mac, NULL);
    if (idx >= 0) {
        struct fdb_entry *e = &f->slots[idx].e;
        bool moved = e->port != port || strncmp(e->peer, peer, FDB_PEER_LEN);
        bool was_live = fdb_is_live(f, e, now_ms);
        /* a local host is where it was last seen: a neighbour saying
         * otherwise is believed only once the host has been quiet here for
         * the hold-down (issue 16: members pulling a local host's traffic) */
        if (was_live && moved && !e->peer[0] && peer[0]
            && (now_ms - e->local_ms < (long long)f->lim.hold_down_s * 1000
                || (f->lim.pin_port && e->port == f->lim.pin_port)))
            return FDB_LEARN_HELD;
        if ((!was_live || e->port != port) && !fdb_port_has_room(f, port, peer, now_ms))
            return FDB_LEARN_PORT_FULL;
        e->port = port;
        snprintf(e->peer, sizeof e->peer, "%s", peer);
        e->last_seen_ms = now_ms;
        e->local_ms = peer[0] ? 0 : now_ms;
        if (!was_live)
            return FDB_LEARN_NEW;
        return moved ? FDB_LEARN_MOVED : FDB_LEARN_REFRESHED;
    }
    if (!fdb_port_has_room(f, port, peer, now_ms))
        return FDB_LEARN_PORT_FULL;

    if (f->free_head < 0)
        fdb_expire(f, now_ms);
    if (f->free_head < 0)
        fdb_evict_oldest(f);

    idx = f->free_head;
    struct fdb_slot *s = &f->slots[idx];
    f->free_head = s->next;
    memcpy(s->e.mac, mac, 6);
    s->e.port = port;
    snprintf(s->e.peer, sizeof s->e.peer, "%s", peer);
    s->e.last_seen_ms = now_ms;
    s->e.local_ms = peer[0] ? 0 : now_ms;
    s->used = true;
    size_t b = fdb_hash(mac) & (f->n_buckets - 1);
    s->next = f->buckets[b];
    f->buckets[b] = idx;
    f->count++;
    return FDB_LEARN_NEW;
}

const struct fdb_entry *fdb_lookup(const struct fdb *f, const uint8_t mac[6], long long now_ms)
{
    int idx = fdb_find(f, mac, NULL);
    if (idx < 0 || !fdb_is_live(f, &f->slots[idx].e, now_ms))
        return NULL;
    return &f->slots[idx].e;
}

bool fdb_set_port(struct fdb *f, const uint8_t mac[6], uint32_t port)
{
    int idx = fdb_find(f, mac, NULL);
    if (idx < 0)
        return false;
    f->slots[idx].e.port = port;        /* not part of the key: nothing moves */
    return true;
}

bool fdb_touch(struct fdb *f, const uint8_t mac[6], long long now_ms)
{
    int idx = fdb_find(f, mac, NULL);
    if (idx < 0)
        return false;
    if (f->slots[idx].e.last_seen_ms < now_ms)
        f->slots[idx].e.last_seen_ms = now_ms;
    return true;
}

bool fdb_forget(struct fdb *f, const uint8_t mac[6])
{
    int idx = fdb_find(f, mac, NULL);
    if (idx < 0)
        return false;
    fdb_remove_slot(f, idx);
    return true;
}

size_t fdb_expire(struct fdb *f, long long now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_slots; i++) {
        if (f->slots[i].used && !fdb_is_live(f, &f->slots[i].e, now_ms)) {
            fdb_remove_slot(f, (int)i);
            n++;
        }
    }
    return n;
}

size_t fdb_flush_port(struct fdb *f, uint32_t port)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_slots; i++) {
        if (f->slots[i].used && f->slots[i].e.port == port) {
            fdb_remove_slot(f, (int)i);
            n++;
        }
    }
    return n;
}

size_t fdb_count(const struct fdb *f) { return f->count; }
unsigned long fdb_evictions(const struct fdb *f) { return f->evictions; }
int fdb_aging_s(const struct fdb *f) { return f->aging_s; }

const struct fdb_entry *fdb_next(const struct fdb *f, size_t *pos)
{
    while (*pos < f->n_slots) {
        const struct fdb_slot *s = &f->slots[(*pos)++];
        if (s->used)
            return &s->e;
    }
    return NULL;
}

void fdb_format_mac(const uint8_t mac[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}
