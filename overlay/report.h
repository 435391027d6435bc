/* What `evioctl status` and `evioctl topology` show of an overlay: its
 * peers, edges and links (with the datapath's counters), the budgets'
 * refusals, and the ring and plan. JSON only; no I/O. */
#ifndef EVIO_REPORT_H
#define EVIO_REPORT_H

#include "edge.h"

#include <jansson.h>

struct ctl_link_stats_reply;

/* STATS: evio-tincan's link/stats result, or NULL. Returns a new reference. */
json_t *report_overlay_status(const struct overlay *, const struct ctl_link_stats_reply *stats,
                              int64_t now);
json_t *report_overlay_topology(const struct overlay *, const char *self_hex, int64_t now);

#endif
