/* IPv4 Address Conflict Detection (RFC 5227) for overlay addresses that
 * assign themselves ("ip": "auto" with a "pool"): which address a node tries
 * (derived from its node ID inside the pool), and the probe/announce/defend
 * state machine. Pure: no sockets, no clock; the caller passes the time in,
 * hands it the ARP packets the bridge sees, and sends what it asks for
 * (switchctl/acdport.c is the adapter). */
#ifndef EVIO_ACD_H
#define EVIO_ACD_H

#include <stdbool.h>
#include <stdint.h>

/* RFC 5227 section 1.1 (milliseconds) */
#define ACD_PROBE_WAIT_MS        1000
#define ACD_PROBE_NUM            3
#define ACD_PROBE_MIN_MS         1000
#define ACD_PROBE_MAX_MS         2000
#define ACD_ANNOUNCE_WAIT_MS     2000
#define ACD_ANNOUNCE_NUM         2
#define ACD_ANNOUNCE_INTERVAL_MS 2000
#define ACD_MAX_CONFLICTS        10
#define ACD_RATE_LIMIT_MS        60000
#define ACD_DEFEND_INTERVAL_MS   10000

/* The number of usable addresses in POOL/PREFIX_LEN (network and broadcast
 * excluded): 0 when PREFIX_LEN is not 1..30. */
uint32_t acd_pool_size(int prefix_len);

/* Candidate K (0, 1, ...) for the node whose ID is ID (16 bytes) in
 * POOL/PREFIX_LEN (host order): a hash of the ID and K onto the pool's
 * usable addresses, never the network or broadcast address. Candidates are
 * spread over the pool and differ from one K to the next. 0 when the pool
 * has no usable address. */
uint32_t acd_candidate(const uint8_t id[16], uint32_t pool, int prefix_len, uint32_t k);

/* Does IP lie in POOL/PREFIX_LEN, and is it neither its network nor its
 * broadcast address? */
bool acd_in_pool(uint32_t ip, uint32_t pool, int prefix_len);

enum acd_state {
    ACD_WAIT,        /* before the first probe (PROBE_WAIT) */
    ACD_PROBING,     /* probes sent, listening for conflicts */
    ACD_ANNOUNCING,  /* the address is ours: announcing it */
    ACD_BOUND,       /* announced: defending it */
};

/* One ARP packet for IPv4 over Ethernet, as the engine needs it. */
struct acd_arp {
    uint16_t op;            /* 1 request, 2 reply */
    uint8_t sha[6];         /* sender hardware address */
    uint32_t spa;           /* sender IP, host order (0 in a probe) */
    uint32_t tpa;           /* target IP, host order */
};

/* What the caller must do after a call (each may be set). */
struct acd_out {
    bool probe;             /* send an ARP probe for .ip (sender IP 0) */
    bool announce;          /* send an ARP announcement for .ip */
    bool bind;              /* the address .ip is now the node's: configure it */
    bool release;           /* .released is no longer the node's: remove it */
    uint32_t ip;
    uint32_t released;
};

struct acd {
    enum acd_state state;
    uint8_t id[16];
    uint8_t mac[6];         /* the bridge's own: packets from it are ours */
    uint32_t pool;
    int prefix_len;
    uint32_t first;         /* a stored or forced first candidate, or 0 */
    uint32_t k;             /* the derived candidate in use (when ip != first) */
    uint32_t ip;            /* the address being probed or held */
    int sent;               /* probes or announcements sent in this state */
    int conflicts;          /* since the last address was bound */
    int64_t next_ms;        /* when acd_tick wants to run next */
    int64_t last_defend_ms; /* -1: never */
    uint64_t rng;           /* xorshift state for the random waits */
    uint64_t n_conflicts;   /* ever, for status */
    uint64_t n_defended;
};

/* Starts with FIRST (a stored address, or 0: the derived candidate 0) at NOW;
 * SEED seeds the random waits. FIRST outside the pool is ignored. */
void acd_init(struct acd *, const uint8_t id[16], const uint8_t mac[6], uint32_t pool,
              int prefix_len, uint32_t first, uint64_t seed, int64_t now);

/* Advances the timers: call when NOW >= acd->next_ms. Fills *OUT. */
void acd_tick(struct acd *, int64_t now, struct acd_out *out);

/* One ARP packet seen on the bridge (not sent by this node). Fills *OUT.
 * Returns true when it was a conflict for the address in hand. */
bool acd_input(struct acd *, const struct acd_arp *arp, int64_t now, struct acd_out *out);

/* Announce again (ANNOUNCE_NUM announcements) when bound: a new link put
 * the node in reach of others who may hold the same address. */
void acd_reannounce(struct acd *, int64_t now);

const char *acd_state_name(enum acd_state);

#endif
