/* evio-switchctl's OpenFlow 1.3 channel to one bridge, on OVS's rconn and
 * ofp-* codecs. ovs-vswitchd listens on the socket (a "service" connection),
 * so after each connect we ask for full packet-ins (miss_send_len) and
 * install the table-miss and link-local flows; existing flows are never
 * flushed, so traffic keeps flowing across our restarts. */
#include <config.h>
#include "ofchannel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/rconn.h"
#include "openvswitch/types.h"
#include "lib/byte-order.h"
#include "lib/timeval.h"

#include "evio/log.h"

#define MOD "openflow"

#define OFCHANNEL_PRIO_MISS       0
#define OFCHANNEL_PRIO_UNICAST    100
#define OFCHANNEL_PRIO_FROM_PORT  110   /* unicast from one ingress port */
#define OFCHANNEL_PRIO_LINK_LOCAL 200
#define OFCHANNEL_TX_LIMIT        1000  /* queued messages before we drop */
#define OFCHANNEL_PROBE_S         15
#define OFCHANNEL_MAX_BACKOFF_S   2     /* local socket: retry fast */
#define OFCHANNEL_FLOWS_MAX       8192  /* flows kept from one stats reply */
#define OFCHANNEL_FLOWS_TIMEOUT_MS 10000 /* a stats request unanswered this long is given up */

#define OFCHANNEL_STATES                                                  \
    OFCH_STATE(CONNECTING, "connecting") /* no session, rconn retrying */ \
    OFCH_STATE(CONNECTED, "connected")   /* session up, base flows sent */

enum ofchannel_state {
#define OFCH_STATE(NAME, STR) OFCH_##NAME,
    OFCHANNEL_STATES
#undef OFCH_STATE
};

static const char *const ofchannel_state_names[] = {
#define OFCH_STATE(NAME, STR) STR,
    OFCHANNEL_STATES
#undef OFCH_STATE
};

struct ofchannel {
    char *name;
    struct rconn *rconn;
    struct rconn_packet_counter *txq;
    uint64_t cookie;
    enum ofchannel_state state;
    unsigned int conn_seqno;            /* rconn session we set up */
    ofchannel_packet_in_fn *packet_in;
    ofchannel_connected_fn *connected;
    ofchannel_flows_fn *flows_cb;
    void *aux;
    struct ofchannel_stats stats;

    /* the flow stats request in flight, and the reply parts so far */
    bool flows_pending;
    ovs_be32 flows_xid;
    long long flows_sent_ms;
    struct ofchannel_flow *flows;
    size_t n_flows, flows_cap;
};

/* lib/flow.h has these but drags in datapath headers we do not need. */
static ofp_port_t ofchannel_port(uint32_t p) { return (OVS_FORCE ofp_port_t)(uint16_t)p; }
static uint32_t ofchannel_port_u32(ofp_port_t p) { return (OVS_FORCE uint16_t)p; }

static struct log_ratelimit ofchannel_rl = LOG_RATELIMIT_INIT(10, 5);

static void ofchannel_set_state(struct ofchannel *ch, enum ofchannel_state next)
{
    if (ch->state == next)
        return;
    log_info(MOD, "%s: %s -> %s", ch->name, ofchannel_state_names[ch->state],
             ofchannel_state_names[next]);
    ch->state = next;
}

struct ofchannel *ofchannel_create(const char *name, const char *target, uint64_t cookie,
                                   ofchannel_packet_in_fn *packet_in,
                                   ofchannel_connected_fn *connected, void *aux)
{
    struct ofchannel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    ch->name = strdup(name);
    ch->cookie = cookie;
    ch->packet_in = packet_in;
    ch->connected = connected;
    ch->aux = aux;
    ch->state = OFCH_CONNECTING;
    ch->rconn = rconn_create(OFCHANNEL_PROBE_S, OFCHANNEL_MAX_BACKOFF_S, 0,
                             1u << OFP13_VERSION);
    ch->txq = rconn_packet_counter_create();
    rconn_connect(ch->rconn, target, name);
    return ch;
}

void ofchannel_destroy(struct ofchannel *ch)
{
    if (!ch)
        return;
    rconn_destroy(ch->rconn);
    rconn_packet_counter_destroy(ch->txq);
    free(ch->flows);
    free(ch->name);
    free(ch);
}

void ofchannel_set_flows_cb(struct ofchannel *ch, ofchannel_flows_fn *cb) { ch->flows_cb = cb; }

bool ofchannel_is_connected(const struct ofchannel *ch) { return ch->state == OFCH_CONNECTED; }
const char *ofchannel_state_name(const struct ofchannel *ch) { return ofchannel_state_names[ch->state]; }
const struct ofchannel_stats *ofchannel_stats(const struct ofchannel *ch) { return &ch->stats; }

static enum ofputil_protocol ofchannel_protocol(const struct ofchannel *ch)
{
    return ofputil_protocol_from_ofp_version(rconn_get_version(ch->rconn));
}

/* Takes ownership of MSG. */
static int ofchannel_send(struct ofchannel *ch, struct ofpbuf *msg)
{
    if (!msg)
        return ENOMEM;
    if (!rconn_is_connected(ch->rconn)) {
        ofpbuf_delete(msg);
        ch->stats.tx_dropped++;
        return ENOTCONN;
    }
    int err = rconn_send_with_limit(ch->rconn, msg, ch->txq, OFCHANNEL_TX_LIMIT);
    if (err) {
        ch->stats.tx_dropped++;
        log_warn_rl(&ofchannel_rl, MOD, "%s: message not sent (%s)", ch->name, strerror(err));
    }
    return err;
}

/* Sends one flow_mod with MATCH and the actions in OFPACTS (may be NULL). */
static int ofchannel_flow_mod(struct ofchannel *ch, uint16_t command, int priority,
                              const struct match *match, struct ofpbuf *ofpacts,
                              int idle_s, ofp_port_t out_port)
{
    bool del = command == OFPFC_DELETE || command == OFPFC_DELETE_STRICT;
    struct ofputil_flow_mod fm = {
        .priority = priority,
        .cookie = del ? htonll(ch->cookie) : 0,
        .cookie_mask = del ? OVS_BE64_MAX : 0,
        .new_cookie = del ? OVS_BE64_MAX : htonll(ch->cookie),
        .table_id = del ? OFPTT_ALL : 0,
        .command = command,
        .idle_timeout = idle_s,
        .buffer_id = UINT32_MAX,
        .out_port = out_port,
        .out_group = OFPG_ANY,
        .ofpacts = ofpacts ? ofpacts->data : NULL,
        .ofpacts_len = ofpacts ? ofpacts->size : 0,
    };
    if (!rconn_is_connected(ch->rconn)) {
        ch->stats.tx_dropped++;
        return ENOTCONN;
    }
    minimatch_init(&fm.match, match);
    struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, ofchannel_protocol(ch));
    minimatch_destroy(&fm.match);
    return ofchannel_send(ch, msg);
}

static void ofchannel_setup(struct ofchannel *ch)
{
    struct ofputil_switch_config sc = {
        .frag = OFPUTIL_FRAG_NORMAL,
        .invalid_ttl_to_controller = -1,
        .miss_send_len = OFPCML12_NO_BUFFER,
    };
    ofchannel_send(ch, ofputil_encode_set_config(&sc, rconn_get_version(ch->rconn)));

    uint64_t stub[64 / 8];
    struct ofpbuf acts;
    ofpbuf_use_stub(&acts, stub, sizeof stub);
    struct match match;

    /* Table miss: whole frames to us, unbuffered. OFPFC_ADD over an
     * identical flow replaces it in place, so a restart drops nothing. */
    match_init_catchall(&match);
    struct ofpact_output *out = ofpact_put_OUTPUT(&acts);
    out->port = OFPP_CONTROLLER;
    out->max_len = OFPCML12_NO_BUFFER;
    ofchannel_flow_mod(ch, OFPFC_ADD, OFCHANNEL_PRIO_MISS, &match, &acts, 0, OFPP_ANY);

    /* 802.1D reserved group addresses are for one link, never bridged. */
    static const struct eth_addr ll = ETH_ADDR_C(01, 80, c2, 00, 00, 00);
    static const struct eth_addr ll_mask = ETH_ADDR_C(ff, ff, ff, ff, ff, f0);
    match_init_catchall(&match);
    match_set_dl_dst_masked(&match, ll, ll_mask);
    ofpbuf_clear(&acts);
    ofchannel_flow_mod(ch, OFPFC_ADD, OFCHANNEL_PRIO_LINK_LOCAL, &match, &acts, 0, OFPP_ANY);
    ofpbuf_uninit(&acts);
}

static void ofchannel_handle_packet_in(struct ofchannel *ch, const struct ofp_header *oh)
{
    struct ofputil_packet_in pin;
    size_t total_len;
    uint32_t buffer_id;
    enum ofperr err = ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, &total_len,
                                               &buffer_id, NULL);
    if (err) {
        ch->stats.bad_msgs++;
        log_warn_rl(&ofchannel_rl, MOD, "%s: bad packet-in (%s)", ch->name, ofperr_get_name(err));
        return;
    }
    ch->stats.packet_ins++;
    if (pin.packet_len < total_len) {
        /* We asked for whole frames; a cut one cannot be sent on. */
        ch->stats.bad_msgs++;
        log_warn_rl(&ofchannel_rl, MOD, "%s: truncated packet-in (%zu of %zu bytes)",
                    ch->name, pin.packet_len, total_len);
    } else if (ch->packet_in) {
        uint32_t in_port = ofchannel_port_u32(pin.flow_metadata.flow.in_port.ofp_port);
        ch->packet_in(ch->aux, in_port, pin.packet, pin.packet_len);
    }
    /* PIN points into OH: nothing to free (the declared
     * ofputil_packet_in_destroy() does not exist in OVS 3.1). */
}

/* Keeps what we need of one flow from a stats reply. */
static void ofchannel_keep_flow(struct ofchannel *ch, const struct ofputil_flow_stats *fs)
{
    if (ch->n_flows == ch->flows_cap) {
        if (ch->flows_cap >= OFCHANNEL_FLOWS_MAX)
            return;
        size_t cap = ch->flows_cap ? 2 * ch->flows_cap : 64;
        struct ofchannel_flow *f = realloc(ch->flows, cap * sizeof *f);
        if (!f)
            return;
        ch->flows = f;
        ch->flows_cap = cap;
    }
    struct ofchannel_flow *f = &ch->flows[ch->n_flows++];
    memset(f, 0, sizeof *f);
    f->priority = fs->priority;
    if (fs->match.wc.masks.in_port.ofp_port)
        f->in_port = ofchannel_port_u32(fs->match.flow.in_port.ofp_port);
    static const uint8_t exact[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    f->has_dl_dst = !memcmp(fs->match.wc.masks.dl_dst.ea, exact, 6);
    if (f->has_dl_dst)
        memcpy(f->dl_dst, fs->match.flow.dl_dst.ea, 6);
    const struct ofpact *a;
    OFPACT_FOR_EACH (a, fs->ofpacts, fs->ofpacts_len) {
        if (a->type == OFPACT_OUTPUT) {
            f->out_port = ofchannel_port_u32(ofpact_get_OUTPUT(a)->port);
            break;
        }
    }
    f->packets = fs->packet_count == UINT64_MAX ? 0 : fs->packet_count;
    f->bytes = fs->byte_count == UINT64_MAX ? 0 : fs->byte_count;
    f->idle_timeout = fs->idle_timeout;
    f->idle_age = fs->idle_age;
    f->duration_s = fs->duration_sec;
    struct ds text = DS_EMPTY_INITIALIZER;
    ofputil_flow_stats_format(&text, fs, NULL, NULL, true);
    snprintf(f->text, sizeof f->text, "%s", ds_cstr(&text));
    ds_destroy(&text);
}

static void ofchannel_handle_flow_stats(struct ofchannel *ch, const struct ofp_header *oh)
{
    if (!ch->flows_pending || oh->xid != ch->flows_xid)
        return;                     /* not ours, or given up on */
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    uint64_t stub[1024 / 8];
    struct ofpbuf acts;
    ofpbuf_use_stub(&acts, stub, sizeof stub);
    for (;;) {
        struct ofputil_flow_stats fs;
        int r = ofputil_decode_flow_stats_reply(&fs, &b, false, &acts);
        if (r == EOF)
            break;
        if (r) {
            ch->stats.bad_msgs++;
            log_warn_rl(&ofchannel_rl, MOD, "%s: bad flow stats reply (%s)", ch->name,
                        ofperr_get_name(r));
            break;
        }
        if (fs.cookie == htonll(ch->cookie))
            ofchannel_keep_flow(ch, &fs);
    }
    ofpbuf_uninit(&acts);
    if (ofpmp_more(oh))
        return;
    ch->flows_pending = false;
    if (ch->flows_cb)
        ch->flows_cb(ch->aux, ch->flows, ch->n_flows);
    ch->n_flows = 0;
}

int ofchannel_request_flows(struct ofchannel *ch)
{
    if (ch->flows_pending && time_msec() - ch->flows_sent_ms < OFCHANNEL_FLOWS_TIMEOUT_MS)
        return EBUSY;
    if (!rconn_is_connected(ch->rconn))
        return ENOTCONN;
    struct ofputil_flow_stats_request req = {
        .aggregate = false,
        .cookie = htonll(ch->cookie),
        .cookie_mask = OVS_BE64_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = 0xff,
    };
    match_init_catchall(&req.match);
    struct ofpbuf *msg = ofputil_encode_flow_stats_request(&req, ofchannel_protocol(ch));
    if (!msg)
        return ENOMEM;
    ovs_be32 xid = ((const struct ofp_header *)msg->data)->xid;
    int err = ofchannel_send(ch, msg);
    if (err)
        return err;
    ch->flows_pending = true;
    ch->flows_xid = xid;
    ch->flows_sent_ms = time_msec();
    ch->n_flows = 0;
    return 0;
}

static void ofchannel_handle(struct ofchannel *ch, const struct ofpbuf *msg)
{
    const struct ofp_header *oh = msg->data;
    enum ofptype type;
    ch->stats.rx_msgs++;
    if (ofptype_decode(&type, oh)) {
        ch->stats.bad_msgs++;
        log_warn_rl(&ofchannel_rl, MOD, "%s: undecodable message dropped", ch->name);
        return;
    }
    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        ofchannel_send(ch, ofputil_encode_echo_reply(oh));
        break;
    case OFPTYPE_PACKET_IN:
        ofchannel_handle_packet_in(ch, oh);
        break;
    case OFPTYPE_FLOW_STATS_REPLY:
        ofchannel_handle_flow_stats(ch, oh);
        break;
    case OFPTYPE_ERROR: {
        enum ofperr e = ofperr_decode_msg(oh, NULL);
        ch->stats.bad_msgs++;
        log_warn_rl(&ofchannel_rl, MOD, "%s: switch reports error %s", ch->name,
                    e ? ofperr_get_name(e) : "(undecodable)");
        break;
    }
    default:
        /* hello, echo replies, port status, flow removed: nothing to do */
        break;
    }
}

void ofchannel_run(struct ofchannel *ch)
{
    rconn_run(ch->rconn);
    if (!rconn_is_connected(ch->rconn)) {
        ofchannel_set_state(ch, OFCH_CONNECTING);
        return;
    }
    unsigned int seqno = rconn_get_connection_seqno(ch->rconn);
    if (ch->state != OFCH_CONNECTED || seqno != ch->conn_seqno) {
        ch->conn_seqno = seqno;
        ch->stats.connects++;
        ch->flows_pending = false;      /* a reply from the old session never comes */
        ch->n_flows = 0;
        ofchannel_setup(ch);
        ofchannel_set_state(ch, OFCH_CONNECTED);
        if (ch->connected)
            ch->connected(ch->aux);
    }
    /* Bounded so one busy bridge cannot starve the rest of the loop. */
    for (int i = 0; i < 64; i++) {
        struct ofpbuf *msg = rconn_recv(ch->rconn);
        if (!msg)
            break;
        ofchannel_handle(ch, msg);
        ofpbuf_delete(msg);
    }
}

void ofchannel_wait(struct ofchannel *ch)
{
    rconn_run_wait(ch->rconn);
    rconn_recv_wait(ch->rconn);
}

static void ofchannel_put_outputs(struct ofpbuf *acts, const uint32_t *out, size_t n_out)
{
    for (size_t i = 0; i < n_out; i++)
        ofpact_put_OUTPUT(acts)->port = ofchannel_port(out[i]);
}

int ofchannel_packet_out(struct ofchannel *ch, uint32_t in_port, const uint32_t *out,
                         size_t n_out, const uint8_t *frame, size_t len)
{
    if (!rconn_is_connected(ch->rconn)) {
        ch->stats.tx_dropped++;
        return ENOTCONN;
    }
    uint64_t stub[1024 / 8];
    struct ofpbuf acts;
    ofpbuf_use_stub(&acts, stub, sizeof stub);
    ofchannel_put_outputs(&acts, out, n_out);
    struct ofputil_packet_out po = {
        .packet = frame,
        .packet_len = len,
        .buffer_id = UINT32_MAX,
        .ofpacts = acts.data,
        .ofpacts_len = acts.size,
    };
    match_init_catchall(&po.flow_metadata);
    match_set_in_port(&po.flow_metadata, ofchannel_port(in_port));
    int err = ofchannel_send(ch, ofputil_encode_packet_out(&po, ofchannel_protocol(ch)));
    ofpbuf_uninit(&acts);
    return err;
}

int ofchannel_flow_to_mac(struct ofchannel *ch, uint32_t in_port, const uint8_t mac[6],
                          uint32_t port, int idle_s)
{
    uint64_t stub[64 / 8];
    struct ofpbuf acts;
    ofpbuf_use_stub(&acts, stub, sizeof stub);
    ofchannel_put_outputs(&acts, &port, 1);
    struct match match;
    struct eth_addr ea;
    memcpy(ea.ea, mac, 6);
    match_init_catchall(&match);
    match_set_dl_dst(&match, ea);
    if (in_port)
        match_set_in_port(&match, ofchannel_port(in_port));
    int err = ofchannel_flow_mod(ch, OFPFC_ADD,
                                 in_port ? OFCHANNEL_PRIO_FROM_PORT : OFCHANNEL_PRIO_UNICAST,
                                 &match, &acts, idle_s, OFPP_ANY);
    ofpbuf_uninit(&acts);
    return err;
}

int ofchannel_delete_mac(struct ofchannel *ch, const uint8_t mac[6])
{
    struct match match;
    struct eth_addr ea;
    memcpy(ea.ea, mac, 6);
    match_init_catchall(&match);
    match_set_dl_dst(&match, ea);
    /* non-strict: also the flows that match an ingress port besides */
    return ofchannel_flow_mod(ch, OFPFC_DELETE, 0, &match, NULL, 0, OFPP_ANY);
}

int ofchannel_delete_port(struct ofchannel *ch, uint32_t port)
{
    struct match match;
    match_init_catchall(&match);
    return ofchannel_flow_mod(ch, OFPFC_DELETE, 0, &match, NULL, 0, ofchannel_port(port));
}
