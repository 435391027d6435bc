/* evio-switchctl's OpenFlow 1.3 connection to one bridge (rconn over the
 * bridge's unix controller socket): keeps it up, installs the flows that
 * send unmatched frames here, hands packet-ins up and sends flow-mods and
 * packet-outs down. Port numbers are OVS's 16-bit ones widened
 * (65534 = the bridge's own port, OpenFlow LOCAL). */
#ifndef SWITCHCTL_OFCHANNEL_H
#define SWITCHCTL_OFCHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OFCHANNEL_PORT_LOCAL 65534u

struct ofchannel;

struct ofchannel_stats {
    unsigned long rx_msgs;
    unsigned long packet_ins;
    unsigned long bad_msgs;         /* undecodable, truncated, or error replies */
    unsigned long tx_dropped;       /* not queued: connection down or queue full */
    unsigned long connects;
};

/* Called for each complete frame the switch sends up. FRAME is valid only
 * during the call. */
typedef void ofchannel_packet_in_fn(void *aux, uint32_t in_port, const uint8_t *frame,
                                    size_t len);
/* Called after each (re)connection, once the base flows are queued. */
typedef void ofchannel_connected_fn(void *aux);

/* One of our flows as the switch reports it (a flow stats reply). */
struct ofchannel_flow {
    int priority;
    uint32_t in_port;               /* 0: any */
    uint8_t dl_dst[6];
    bool has_dl_dst;                /* matches exactly one destination MAC */
    uint32_t out_port;              /* the first output action's port, 0: none */
    uint64_t packets, bytes;
    int idle_timeout;               /* seconds, 0: none */
    int idle_age;                   /* seconds since its last packet, -1: unknown */
    uint32_t duration_s;
    char text[256];                 /* as "ovs-ofctl dump-flows" prints it */
};
/* Called with every flow carrying our cookie, once the whole (multipart)
 * reply to ofchannel_request_flows() is in. FLOWS is valid during the call. */
typedef void ofchannel_flows_fn(void *aux, const struct ofchannel_flow *flows, size_t n);

/* Creates a channel that connects to TARGET ("unix:/path") and keeps
 * reconnecting; NAME labels its log lines; every flow it installs carries
 * COOKIE. Returns NULL on allocation failure; free with ofchannel_destroy. */
struct ofchannel *ofchannel_create(const char *name, const char *target, uint64_t cookie,
                                   ofchannel_packet_in_fn *, ofchannel_connected_fn *,
                                   void *aux);
void ofchannel_destroy(struct ofchannel *);         /* accepts NULL */
void ofchannel_set_flows_cb(struct ofchannel *, ofchannel_flows_fn *);   /* same AUX */

void ofchannel_run(struct ofchannel *);
void ofchannel_wait(struct ofchannel *);

bool ofchannel_is_connected(const struct ofchannel *);
const char *ofchannel_state_name(const struct ofchannel *);
const struct ofchannel_stats *ofchannel_stats(const struct ofchannel *);

/* Each returns 0 or a positive errno (ENOTCONN, EAGAIN queue full). */
int ofchannel_packet_out(struct ofchannel *, uint32_t in_port, const uint32_t *out,
                         size_t n_out, const uint8_t *frame, size_t len);
/* Frames to MAC go out PORT without asking us, until IDLE_S seconds unused.
 * IN_PORT 0 makes the flow for every ingress port (priority 100); a given
 * IN_PORT makes one for that port only (priority 110), so its counters tell
 * the traffic that entered there. */
int ofchannel_flow_to_mac(struct ofchannel *, uint32_t in_port, const uint8_t mac[6],
                          uint32_t port, int idle_s);
/* Deletes our flows to MAC, whatever their ingress port. */
int ofchannel_delete_mac(struct ofchannel *, const uint8_t mac[6]);
/* Deletes our flows that output to PORT. */
int ofchannel_delete_port(struct ofchannel *, uint32_t port);
/* Asks for our flows and their counters; the answer comes to the flows
 * callback. EBUSY while an earlier request is unanswered. */
int ofchannel_request_flows(struct ofchannel *);

#endif
