/* Shortcut decisions: byte deltas between polls, rates per node. */
#include "shortcut.h"

#include <stdlib.h>
#include <string.h>

static int shortcut_cmp(const void *a, const void *b)
{
    const struct shortcut_sample *x = a, *y = b;
    if (x->in_port != y->in_port)
        return x->in_port < y->in_port ? -1 : 1;
    return memcmp(x->dst, y->dst, 6);
}

void shortcut_sort(struct shortcut_sample *s, size_t n)
{
    if (n > 1)
        qsort(s, n, sizeof *s, shortcut_cmp);
}

uint64_t shortcut_delta(const struct shortcut_sample *prev, size_t n_prev,
                        const struct shortcut_sample *cur)
{
    const struct shortcut_sample *p = n_prev ? bsearch(cur, prev, n_prev, sizeof *prev,
                                                       shortcut_cmp) : NULL;
    return p && cur->bytes >= p->bytes ? cur->bytes - p->bytes : cur->bytes;
}

static int shortcut_hint_cmp(const void *a, const void *b)
{
    const struct shortcut_hint *x = a, *y = b;
    if (x->kbps != y->kbps)
        return x->kbps > y->kbps ? -1 : 1;
    return nodeid_cmp(&x->peer, &y->peer);
}

size_t shortcut_decide(const struct shortcut_load *loads, size_t n, int64_t interval_ms,
                       uint32_t threshold_kbps, struct shortcut_hint *out, size_t max)
{
    if (!threshold_kbps || interval_ms <= 0 || !max)
        return 0;
    /* per peer: the first load of each peer gathers the others */
    struct shortcut_hint *sum = calloc(n ? n : 1, sizeof *sum);
    if (!sum)
        return 0;
    size_t n_sum = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < n_sum && nodeid_cmp(&sum[k].peer, &loads[i].peer))
            k++;
        if (k == n_sum)
            sum[n_sum++] = (struct shortcut_hint){ .peer = loads[i].peer };
        sum[k].kbps += loads[i].bytes;      /* bytes for now */
        sum[k].adjacent |= loads[i].adjacent;
    }
    size_t n_out = 0;
    for (size_t k = 0; k < n_sum; k++) {
        /* bytes * 8 bits / interval_ms = kbit/s; no overflow below 2^60 bytes */
        uint64_t kbps = sum[k].kbps * 8 / (uint64_t)interval_ms;
        uint64_t need = sum[k].adjacent ? (threshold_kbps + 1) / 2 : threshold_kbps;
        if (kbps >= need) {
            sum[n_out] = sum[k];
            sum[n_out++].kbps = kbps;
        }
    }
    if (n_out > 1)
        qsort(sum, n_out, sizeof *sum, shortcut_hint_cmp);
    if (n_out > max)
        n_out = max;
    memcpy(out, sum, n_out * sizeof *out);
    free(sum);
    return n_out;
}
