/* When local traffic to a far node deserves its own link (a shortcut, an
 * on-demand edge of the topology). evio-switchctl polls the counters of the
 * flows that carry frames from its leaf ports (one flow per ingress port and
 * destination MAC), sums the bytes of each poll interval per node behind
 * the destination, and hints the agent about every node whose rate passes
 * the threshold. Pure: samples in, hints out. */
#ifndef SWITCHCTL_SHORTCUT_H
#define SWITCHCTL_SHORTCUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evio/nodeid.h"

/* One leaf flow's byte counter at one poll. */
struct shortcut_sample {
    uint32_t in_port;
    uint8_t dst[6];
    uint64_t bytes;
};

/* Bytes of one poll interval to a node. */
struct shortcut_load {
    struct nodeid peer;
    uint64_t bytes;
    bool adjacent;              /* this node has an up link to PEER */
};

struct shortcut_hint {
    struct nodeid peer;
    uint64_t kbps;
    bool adjacent;
};

/* Orders samples for shortcut_delta (by ingress port, then MAC). */
void shortcut_sort(struct shortcut_sample *, size_t n);

/* Bytes CUR's flow carried since the previous poll: PREV (sorted) holds that
 * poll's samples. A flow absent from PREV, or whose counter went backwards
 * (deleted and made again), counts from zero. */
uint64_t shortcut_delta(const struct shortcut_sample *prev, size_t n_prev,
                        const struct shortcut_sample *cur);

/* Sums LOADS per peer over INTERVAL_MS and writes into OUT (at most MAX,
 * fastest first) each peer whose rate reaches THRESHOLD_KBPS, or half of it
 * when the peer is adjacent already (so a shortcut in use stays wanted
 * while its traffic dips). THRESHOLD_KBPS 0 or INTERVAL_MS <= 0: none.
 * Returns how many hints were written. */
size_t shortcut_decide(const struct shortcut_load *loads, size_t n, int64_t interval_ms,
                       uint32_t threshold_kbps, struct shortcut_hint *out, size_t max);

#endif
