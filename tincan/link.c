/* One link of evio-tincan (see link.h): the frame pump TAP <-> DTLS <-> ICE,
 * liveness, timeouts and counters. All of it runs on GLib's default main
 * context; nothing here blocks. */
#include "link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>

#include "dtls.h"
#include "evio/config.h"
#include "evio/log.h"
#include "fastpath.h"
#include "ice.h"
#include "rec.h"
#include "servers.h"
#include "tap.h"
#include "tcpseg.h"
#include "turnlearn.h"
#include "underlay.h"

#define LINK_MOD "tincan"

#define ETH_HLEN_ 14
#define VLAN_HLEN_ 4
/* An application record shorter than an Ethernet header is not a frame:
 * the peer's keepalive. */
#define LINK_KEEPALIVE_BYTE 0x00
/* The same, from the ICE-controlled end of a relayed link: "check the pairs
 * again". Only the controlling end nominates: a controlled end that checks
 * again alone finds the direct pair but is never told to use it. So the
 * controlled end checks and asks, and both check at once. A peer from
 * before this byte counts it as a keepalive. */
#define LINK_RECHECK_BYTE   0x01
#define LINK_RECHECK_MIN_US (4 * G_USEC_PER_SEC)   /* between rechecks asked for */

#define LINK_SILENT_US      (5 * G_USEC_PER_SEC)   /* then the peer is gone */
#define LINK_CONNECT_S      30                     /* to come up at all */
/* While up, a link looks at its liveness once a second. The ticks are
 * g_timeout_add_seconds(), which GLib fires together for every link of the
 * process: idle links cost one wakeup a second in all, not one each. */
#define LINK_TICK_S         1
#define LINK_TAP_BATCH      64                     /* frames per TAP wakeup */
#define LINK_TAP_BUF        65536                  /* any frame a TAP can hold */
#define LINK_MAX_LOCAL_CANDS 32
#define LINK_FAST_READS     32                     /* socket reads per wakeup */
#define LINK_TURN_PEEKS     4096                   /* datagrams looked at for a channel */
#define LINK_TURN_RECHECK_TICKS 30                 /* ticks between looks again */
/* A relayed link checks its pairs again every 5 s for its first minute on
 * the relay (a path that opens as the peer's router catches up), then every
 * 30 s: a few STUN checks per pair each time. */
#define LINK_RECHECK_FAST_US    (5 * G_USEC_PER_SEC)
#define LINK_RECHECK_FAST_N     12
#define LINK_RECHECK_SLOW_US    (30 * G_USEC_PER_SEC)

struct link_counters {
    uint64_t tx_bytes, rx_bytes, tx_frames, rx_frames;
    uint64_t drop_oversize, drop_tap, drop_decrypt, drop_replay;
    uint64_t tcp_resegmented;   /* TCP segments from the TAP cut to fit (tcpseg.h) */
    uint64_t bad_candidates, keepalive_tx, keepalive_rx;
};

struct link {
    char id[LINK_ID_MAX + 1];
    const struct link_env *env;
    enum link_state state;
    char reason[CTL_REASON_MAX + 1];
    bool controlling;
    int mtu;
    uint8_t peer_fp[CERT_FP_LEN];

    struct tap tap;
    struct ice *ice;
    struct dtls *dtls;
    bool dtls_started;

    guint tap_watch, connect_timer, dtls_timer, tick_timer, fast_watch;

    /* the lean data path (fastpath.h) of the selected pair: its own socket
     * if the pair is direct, ChannelData on libnice's socket if relayed;
     * NULL: records go through libnice */
    struct fastpath *fast;
    /* the selected pair the fast path is for (or waits on) */
    int fast_base;
    bool fast_relayed;
    struct sockaddr_in fast_peer;
    /* relayed: looking at libnice's socket for the channel (link_turn_peek) */
    guint turn_watch;
    unsigned turn_ticks;
    uint64_t turn_forged;         /* ChannelData from a server that did not authenticate */
    bool batching;                /* outputs queue until the TAP batch ends */
    struct fastpath_counters fast_c;   /* of every fast path the link had */

    char *cands[LINK_MAX_LOCAL_CANDS];
    int n_cands;
    bool gathering_done;

    int n_turn;                   /* TURN servers its ICE agent was given */
    int64_t created_us, up_us, end_us;
    char pair[2 * 72];            /* the selected pair: types and addresses */
    int64_t pair_us;              /* since when */
    unsigned pair_changes;        /* moves to another pair after the first */
    /* while relayed, the pairs are checked again now and then (ice_recheck) */
    bool relayed;
    unsigned rechecks;            /* done (controlling) or asked for (controlled) */
    int64_t recheck_us;           /* when next, while relayed */
    int64_t rechecked_us;         /* the last recheck, ours or asked for */
    /* liveness, looked at once a tick rather than stamped per frame:
     * records from the peer so far, and the counts at the last tick */
    uint64_t rx_records, tick_rx, tick_tx;
    int64_t last_rx_us;           /* the tick that last saw a record */
    struct link_counters c;
};

/* The one frame buffer for TAP reads, shared by every link (one thread):
 * idle links hold no buffers. */
static uint8_t link_tap_buf[LINK_TAP_BUF];
/* the pieces of a frame cut by tcpseg_split: its length plus a copy of the
 * headers per extra piece */
static uint8_t link_seg_buf[LINK_TAP_BUF + TCPSEG_MAX_OUT * 160];

static void link_emit(struct link *l, const char *event, json_t *data)
{
    if (data) {
        l->env->event(l->env->aux, event, data);
        json_decref(data);
    }
}

static void link_source_remove(guint *id)
{
    if (*id)
        g_source_remove(*id);
    *id = 0;
}

static void link_fast_stop(struct link *l, const char *why);

/* Watches FD for input on the default main context. The source may recurse:
 * GLib otherwise blocks a source while it dispatches, taking its fd out of
 * the poll set and putting it back, and each of the two changes signals the
 * context's wakeup eventfd. That cost every TAP or socket wakeup two eventfd
 * writes and a second poll that returned at once, on the path of every
 * ping. Nothing here runs a nested main loop, so the recursion never happens. */
static guint link_fd_watch(int fd, GUnixFDSourceFunc fn, struct link *l)
{
    GSource *src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))fn, l, NULL);
    g_source_set_can_recurse(src, TRUE);
    guint id = g_source_attach(src, NULL);
    g_source_unref(src);
    return id;
}

/* The one place a link changes state: checks the transition, logs it,
 * stamps the time and tells the subscribers. */
static void link_set_state(struct link *l, enum link_state s, const char *reason)
{
    if (l->state == s || l->state == LINK_FAILED)
        return;   /* failed is terminal: the agent removes and re-creates */
    int64_t now = g_get_monotonic_time();
    snprintf(l->reason, sizeof l->reason, "%s", reason ? reason : "");
    log_info(LINK_MOD, "link %s: %s -> %s%s%s", l->id, link_state_name(l->state),
             link_state_name(s), *l->reason ? ": " : "", l->reason);
    l->state = s;
    if (s == LINK_UP) {
        l->up_us = now;
        l->last_rx_us = now;
        l->tick_rx = l->rx_records;
        l->tick_tx = l->c.tx_frames + l->c.keepalive_tx;
        link_source_remove(&l->connect_timer);
    } else if (s == LINK_FAILED) {
        l->end_us = now;
        link_fast_stop(l, NULL);
        link_source_remove(&l->connect_timer);
        link_source_remove(&l->dtls_timer);
        link_source_remove(&l->tick_timer);
    }
    struct ctl_link_state_ev ev = { .state = (enum ctl_link_state)s };
    snprintf(ev.link_id, sizeof ev.link_id, "%s", l->id);
    snprintf(ev.reason, sizeof ev.reason, "%s", l->reason);
    link_emit(l, CTL_EV_LINK_STATE, ctl_link_state_ev_encode(&ev));
}

/* ---- DTLS side ------------------------------------------------------- */

static gboolean link_on_tick(gpointer data);
static void link_dtls_schedule(struct link *l);
static void link_fast_start(struct link *l);

/* Reacts to whatever the last DTLS call did to the session. */
static void link_dtls_check(struct link *l)
{
    switch (dtls_get_status(l->dtls)) {
    case DTLS_ESTABLISHED:
        if (l->state == LINK_CONNECTING) {
            link_source_remove(&l->dtls_timer);
            link_set_state(l, LINK_UP, "");
            l->tick_timer = g_timeout_add_seconds(LINK_TICK_S, link_on_tick, l);
            link_fast_start(l);
        }
        return;
    case DTLS_HANDSHAKING:
        link_dtls_schedule(l);
        return;
    case DTLS_FAILED:
    case DTLS_CLOSED:
        link_set_state(l, LINK_FAILED, dtls_reason(l->dtls));
        return;
    }
}

static gboolean link_on_dtls_timer(gpointer data)
{
    struct link *l = data;
    l->dtls_timer = 0;
    dtls_handle_timeout(l->dtls);
    link_dtls_check(l);
    return G_SOURCE_REMOVE;
}

static void link_dtls_schedule(struct link *l)
{
    link_source_remove(&l->dtls_timer);
    long ms = dtls_timeout_ms(l->dtls);
    if (ms >= 0 && l->state == LINK_CONNECTING)
        l->dtls_timer = g_timeout_add((guint)(ms > 0 ? ms : 1), link_on_dtls_timer, l);
}

static void link_dtls_output(void *aux, const uint8_t *data, size_t len)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 3);
    struct link *l = aux;
    if (l->fast) {
        /* TAP batches go out together at the batch's end */
        fastpath_queue(l->fast, data, len);
        if (!l->batching)
            fastpath_flush(l->fast);
        return;
    }
    if (!ice_send(l->ice, data, len) && l->state == LINK_UP)
        log_warn_rl(&rl, LINK_MOD, "link %s: send of %zu bytes failed", l->id, len);
}

static size_t link_max_frame(const struct link *l, const uint8_t *frame, size_t len)
{
    size_t max = (size_t)l->mtu + ETH_HLEN_;
    if (len >= ETH_HLEN_) {
        unsigned type = (unsigned)frame[12] << 8 | frame[13];
        if (type == 0x8100 || type == 0x88a8)   /* 802.1Q / 802.1ad tag */
            max += VLAN_HLEN_;
    }
    return max;
}

/* Checks every pair again (ice_recheck), WHY logged. */
static void link_recheck(struct link *l, const char *why)
{
    log_debug(LINK_MOD, "link %s: %s: checking the pairs again", l->id, why);
    ice_recheck(l->ice);
    l->rechecked_us = g_get_monotonic_time();
    l->rechecks++;
}

/* The peer is on a relayed pair and asks us, the controlling end, to check
 * the pairs again (LINK_RECHECK_BYTE); not twice within 4 s. */
static void link_recheck_asked(struct link *l)
{
    if (!l->controlling || l->state != LINK_UP || (l->env->cfg && l->env->cfg->relay_only)
        || (l->rechecked_us && g_get_monotonic_time() - l->rechecked_us < LINK_RECHECK_MIN_US))
        return;
    link_recheck(l, "the peer is relayed");
}

/* A decrypted record from the peer: a frame for the TAP or a keepalive. */
static void link_dtls_deliver(void *aux, const uint8_t *data, size_t len)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 3);
    struct link *l = aux;
    l->rx_records++;
    if (len < ETH_HLEN_) {
        l->c.keepalive_rx++;
        if (len == 1 && data[0] == LINK_RECHECK_BYTE)
            link_recheck_asked(l);
        return;
    }
    if (l->state != LINK_UP) {
        l->c.drop_tap++;
        return;
    }
    if (len > link_max_frame(l, data, len)) {
        l->c.drop_oversize++;
        log_warn_rl(&rl, LINK_MOD, "link %s: dropped a %zu-byte frame from the peer (mtu %d)",
                    l->id, len, l->mtu);
        return;
    }
    ssize_t n = write(l->tap.fd, data, len);
    if (n == (ssize_t)len) {
        l->c.rx_frames++;
        l->c.rx_bytes += len;
    } else {
        /* EAGAIN: the kernel's queue is full, which is a drop like any NIC's */
        l->c.drop_tap++;
    }
}

/* ---- ICE side -------------------------------------------------------- */

static void link_ice_candidate(void *aux, const char *sdp)
{
    struct link *l = aux;
    if (l->n_cands < LINK_MAX_LOCAL_CANDS) {
        char *s = strdup(sdp);
        if (s)
            l->cands[l->n_cands++] = s;
    }
    struct ctl_link_candidate ev;
    if (!ctl_cand_valid(sdp)) {
        log_warn(LINK_MOD, "link %s: local candidate not signalled (not 1..%d printable "
                 "ASCII characters): %.80s", l->id, CTL_CAND_MAX, sdp);
        return;
    }
    snprintf(ev.link_id, sizeof ev.link_id, "%s", l->id);
    snprintf(ev.candidate, sizeof ev.candidate, "%s", sdp);
    link_emit(l, CTL_EV_LINK_CANDIDATE, ctl_link_candidate_encode(&ev));
}

static void link_ice_gathering_done(void *aux)
{
    struct link *l = aux;
    l->gathering_done = true;
    log_debug(LINK_MOD, "link %s: gathering done, %d candidates", l->id, l->n_cands);
    /* given a TURN server but no relay from it: the server may have changed
     * since its last probe (full, credentials revoked), and libnice takes
     * this agent's server-reflexive candidate from the same allocation */
    bool relayed = false;
    for (int i = 0; i < l->n_cands && !relayed; i++)
        relayed = strstr(l->cands[i], " typ relay") != NULL;
    if (l->n_turn > 0 && !relayed)
        servers_suspect_turn(l->env->servers);
    struct ctl_link_ref ref;
    snprintf(ref.link_id, sizeof ref.link_id, "%s", l->id);
    link_emit(l, CTL_EV_LINK_GATHERING_DONE, ctl_link_ref_encode(&ref));
}

static void link_ice_state(void *aux, enum ice_state s)
{
    struct link *l = aux;
    log_debug(LINK_MOD, "link %s: ice %s", l->id, ice_state_name(s));
    if (s == ICE_FAILED) {
        link_set_state(l, LINK_FAILED, "ice failed");
        return;
    }
    if ((s == ICE_CONNECTED || s == ICE_READY) && l->controlling && !l->dtls_started
        && l->state == LINK_CONNECTING) {
        l->dtls_started = true;
        dtls_start(l->dtls);
        link_dtls_check(l);
    }
}

static void link_ice_recv(void *aux, const uint8_t *data, size_t len)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 3);
    struct link *l = aux;
    if (l->state == LINK_FAILED)
        return;
    switch (dtls_input(l->dtls, data, len)) {
    case DTLS_IN_OK:
        break;
    case DTLS_IN_DROPPED:
        l->c.drop_decrypt++;
        log_warn_rl(&rl, LINK_MOD, "link %s: dropped a %zu-byte datagram that did not "
                    "authenticate", l->id, len);
        break;
    case DTLS_IN_REPLAY:   /* a duplicate, or a replay: the window's business */
        l->c.drop_replay++;
        break;
    }
    link_dtls_check(l);
}

/* ---- TAP side -------------------------------------------------------- */

/* Sends frame F of LEN bytes, read from the TAP, to the peer. */
static void link_tap_send(struct link *l, const uint8_t *f, size_t len)
{
    if (!dtls_send(l->dtls, f, len)) {
        l->c.drop_tap++;
        link_dtls_check(l);
        return;
    }
    l->c.tx_frames++;
    l->c.tx_bytes += len;
}

static gboolean link_on_tap(gint fd, GIOCondition cond, gpointer data)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 3);
    struct link *l = data;
    l->batching = l->fast != NULL;
    /* bounded, so one busy link cannot starve control work or other links */
    for (int i = 0; i < LINK_TAP_BATCH; i++) {
        ssize_t n = read(fd, link_tap_buf, sizeof link_tap_buf);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            log_warn(LINK_MOD, "link %s: reading %s: %m", l->id, l->tap.name);
            l->tap_watch = 0;
            l->batching = false;
            link_set_state(l, LINK_FAILED, "tap error");
            return G_SOURCE_REMOVE;
        }
        size_t len = (size_t)n;
        if (len < ETH_HLEN_ || l->state != LINK_UP) {
            l->c.drop_tap++;
            continue;
        }
        size_t max = link_max_frame(l, link_tap_buf, len);
        if (max > DTLS_MAX_RECORD)
            max = DTLS_MAX_RECORD;
        if (len <= max) {
            link_tap_send(l, link_tap_buf, len);
            continue;
        }
        /* A TCP segment a few bytes too long is what OVS's userspace TSO
         * makes of segments with options (tcpseg.h): cut it again. */
        size_t seg_len[TCPSEG_MAX_OUT];
        int pieces = tcpseg_split(link_tap_buf, len, max, link_seg_buf, sizeof link_seg_buf,
                                  seg_len);
        if (pieces == 0) {
            l->c.drop_oversize++;
            log_warn_rl(&rl, LINK_MOD, "link %s: dropped a %zu-byte frame from %s (mtu %d)",
                        l->id, len, l->tap.name, l->mtu);
            continue;
        }
        l->c.tcp_resegmented++;
        const uint8_t *seg = link_seg_buf;
        for (int k = 0; k < pieces; seg += seg_len[k], k++)
            link_tap_send(l, seg, seg_len[k]);
    }
    if (l->batching && l->fast)   /* NULL if the link failed meanwhile */
        fastpath_flush(l->fast);
    l->batching = false;
    return G_SOURCE_CONTINUE;
}

/* ---- fast path ------------------------------------------------------- */

static gboolean link_on_fast(gint fd, GIOCondition cond, gpointer data)
{
    struct link *l = data;
    if (fastpath_receive(l->fast, LINK_FAST_READS, link_ice_recv, l) < 0) {
        char why[96];
        snprintf(why, sizeof why, "receive: %s", strerror(errno));
        l->fast_watch = 0;
        link_fast_stop(l, why);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* Learning the TURN channel. The peer's records reach us through the server
 * as ChannelData on the channel libnice bound to the peer (the server uses
 * one number both ways, RFC 8656 §12), so the first such message from one of
 * our TURN servers whose record authenticates under the link's keys
 * (turnlearn.h: a dry run that uses nothing up, so libnice's read still
 * delivers it) tells where and how to send; a forged one from the server's
 * address changes nothing (counted in turn_forged). It is
 * looked at in place (MSG_PEEK) from the check of a source of our own on
 * libnice's socket: GLib checks every ready source before it dispatches any,
 * so the look comes before libnice's read, and a check that declines leaves
 * nothing pending. The source dispatches only to start the fast path, or to
 * give up after LINK_TURN_PEEKS datagrams (a server that never sends
 * ChannelData must not cost a look per datagram for ever). Once the fast
 * path runs, the tick starts one such look every LINK_TURN_RECHECK_TICKS,
 * to follow the channel should libnice have had to bind a new one. */
struct turn_peek {
    GSource src;
    /* g_source_add_poll's, not g_source_add_unix_fd's: GLib would dispatch
     * a source whenever one of the latter is ready, whatever its check says */
    GPollFD pfd;                  /* on libnice's socket, borrowed */
    struct link *l;
    unsigned peeks;
    bool found;
    unsigned forged;
    uint16_t channel;
    struct sockaddr_in server;
};

static bool link_rec_authentic(void *aux, const uint8_t *rec, size_t len)
{
    struct link *l = aux;
    return dtls_rec_authentic(l->dtls, rec, len);
}

static gboolean turn_peek_check(GSource *src)
{
    struct turn_peek *t = (struct turn_peek *)src;
    if (!(t->pfd.revents & G_IO_IN))
        return FALSE;
    socklen_t flen = sizeof t->server;
    /* the whole datagram (the shared TAP buffer is free between frames) */
    ssize_t n = recvfrom(t->pfd.fd, link_tap_buf, sizeof link_tap_buf,
                         MSG_PEEK | MSG_DONTWAIT, (struct sockaddr *)&t->server, &flen);
    bool from_server = n > 0 && flen == sizeof t->server
                       && ice_is_turn_server(t->l->ice, &t->server);
    switch (n > 0 ? turnlearn_judge(link_tap_buf, (size_t)n, from_server, link_rec_authentic,
                                    t->l, &t->channel)
                  : TURNLEARN_OTHER) {
    case TURNLEARN_AUTHENTIC:
        t->found = true;
        break;
    case TURNLEARN_FORGED:
        t->forged++;
        t->l->turn_forged++;
        break;
    case TURNLEARN_OTHER:
        break;
    }
    return t->found || (n >= 0 && ++t->peeks >= LINK_TURN_PEEKS);
}

static gboolean turn_peek_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 3);
    (void)cb;
    (void)data;
    struct turn_peek *t = (struct turn_peek *)src;
    struct link *l = t->l;
    l->turn_watch = 0;
    if (l->fast) {   /* a look again (link_on_tick) */
        if (t->found && fastpath_turn_retarget(l->fast, &t->server, t->channel))
            log_info(LINK_MOD, "link %s: the TURN channel is now 0x%04x", l->id, t->channel);
        return G_SOURCE_REMOVE;
    }
    if (!t->found) {
        log_info(LINK_MOD, "link %s: no record through the TURN server in %u datagrams; "
                 "staying on libnice", l->id, t->peeks);
        return G_SOURCE_REMOVE;
    }
    struct fastpath *fp = malloc(sizeof *fp);
    char *err = NULL;
    if (!fp || !fastpath_open_turn(fp, t->pfd.fd, &t->server, t->channel, &l->fast_c, &err)) {
        log_warn_rl(&rl, LINK_MOD, "link %s: staying on libnice: %s", l->id,
                    err ? err : "out of memory");
        free(err);
        free(fp);
        return G_SOURCE_REMOVE;
    }
    l->fast = fp;
    log_info(LINK_MOD, "link %s: fast path on through the TURN server (channel 0x%04x)", l->id,
             t->channel);
    return G_SOURCE_REMOVE;
}

static guint link_turn_peek(struct link *l)
{
    static GSourceFuncs funcs = { .check = turn_peek_check, .dispatch = turn_peek_dispatch };
    GSource *src = g_source_new(&funcs, sizeof(struct turn_peek));
    struct turn_peek *t = (struct turn_peek *)src;
    t->l = l;
    t->pfd.fd = l->fast_base;
    t->pfd.events = G_IO_IN;
    g_source_add_poll(src, &t->pfd);
    guint id = g_source_attach(src, NULL);
    g_source_unref(src);
    return id;
}

/* Moves the link's records onto the fast path of the selected pair: a
 * socket of its own if the pair is direct, ChannelData through the TURN
 * server if it is relayed (once the channel is known). A link that cannot
 * stays on libnice, which always works. */
static void link_fast_start(struct link *l)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 3);
    if (l->state != LINK_UP || (l->env->cfg && !l->env->cfg->fast_path))
        return;
    struct sockaddr_in remote;
    bool relayed = false;
    int base = ice_selected_direct(l->ice, &remote);
    if (base < 0) {
        base = ice_selected_relayed(l->ice, &remote);
        relayed = base >= 0;
    }
    if (l->fast || l->turn_watch) {
        if (base >= 0 && base == l->fast_base && relayed == l->fast_relayed
            && remote.sin_addr.s_addr == l->fast_peer.sin_addr.s_addr
            && remote.sin_port == l->fast_peer.sin_port)
            return;   /* the same pair again */
        link_fast_stop(l, "the selected pair changed");
    }
    if (base < 0)
        return;   /* no pair, or not UDP over IPv4: libnice carries it */
    l->fast_base = base;
    l->fast_relayed = relayed;
    l->fast_peer = remote;
    if (relayed) {
        l->turn_watch = link_turn_peek(l);
        return;
    }
    struct fastpath *fp = malloc(sizeof *fp);
    char *err = NULL;
    if (!fp || !fastpath_open(fp, base, &remote, &l->fast_c, &err)) {
        log_warn_rl(&rl, LINK_MOD, "link %s: staying on libnice: %s", l->id,
                    err ? err : "out of memory");
        free(err);
        free(fp);
        return;
    }
    l->fast = fp;
    l->fast_watch = link_fd_watch(fp->fd, link_on_fast, l);
    log_info(LINK_MOD, "link %s: fast path on (UDP GRO %s)", l->id, fp->gro ? "on" : "off");
}

/* Back to libnice; WHY (may be NULL: the link is ending) is logged. */
static void link_fast_stop(struct link *l, const char *why)
{
    link_source_remove(&l->turn_watch);
    if (!l->fast)
        return;
    link_source_remove(&l->fast_watch);
    fastpath_flush(l->fast);
    fastpath_close(l->fast);
    free(l->fast);
    l->fast = NULL;
    if (why)
        log_info(LINK_MOD, "link %s: fast path off: %s", l->id, why);
}

static void link_ice_selected(void *aux)
{
    struct link *l = aux;
    struct ice_pair p;
    char key[sizeof l->pair];
    if (ice_selected_pair(l->ice, &p)) {
        snprintf(key, sizeof key, "%s %s %s %s", p.local_type, p.local_addr, p.remote_type,
                 p.remote_addr);
        if (strcmp(key, l->pair)) {
            /* libnice selects the same pair again after ice_recheck */
            if (l->pair[0]) {
                l->pair_changes++;
                log_info(LINK_MOD, "link %s: moved to %s/%s", l->id, p.local_type,
                         p.remote_type);
            }
            snprintf(l->pair, sizeof l->pair, "%s", key);
            l->pair_us = g_get_monotonic_time();
            bool relayed = !strcmp(p.local_type, "relay") || !strcmp(p.remote_type, "relay");
            if (relayed && !l->relayed) {
                l->rechecks = 0;
                l->recheck_us = l->pair_us + LINK_RECHECK_FAST_US;
            }
            l->relayed = relayed;
        }
    }
    if (l->state == LINK_UP)
        link_fast_start(l);
}

/* ---- timers ---------------------------------------------------------- */

static gboolean link_on_tick(gpointer data)
{
    struct link *l = data;
    int64_t now = g_get_monotonic_time();
    dtls_tick(l->dtls);
    if (l->rx_records != l->tick_rx) {
        l->tick_rx = l->rx_records;
        l->last_rx_us = now;
    } else if (now - l->last_rx_us >= LINK_SILENT_US) {
        l->tick_timer = 0;
        link_set_state(l, LINK_FAILED, "peer silent");
        return G_SOURCE_REMOVE;
    }
    /* nothing sent since the last tick: a keepalive */
    if (l->c.tx_frames + l->c.keepalive_tx == l->tick_tx) {
        static const uint8_t ka = LINK_KEEPALIVE_BYTE;
        if (dtls_send(l->dtls, &ka, 1))
            l->c.keepalive_tx++;
    }
    l->tick_tx = l->c.tx_frames + l->c.keepalive_tx;
    /* a relayed link looks for a direct path again: libnice alone never
     * checks a pair that failed, though the path may have opened since */
    if (l->relayed && now >= l->recheck_us && !(l->env->cfg && l->env->cfg->relay_only)) {
        static const uint8_t ask = LINK_RECHECK_BYTE;
        link_recheck(l, "relayed");
        if (!l->controlling && dtls_send(l->dtls, &ask, 1))
            l->c.keepalive_tx++;
        l->recheck_us = now + (l->rechecks < LINK_RECHECK_FAST_N ? LINK_RECHECK_FAST_US
                                                                 : LINK_RECHECK_SLOW_US);
    }
    /* a relay fast path looks again now and then: should a refresh of its
     * channel fail, libnice binds the peer to a new one */
    if (l->fast && fastpath_turn(l->fast) && !l->turn_watch
        && ++l->turn_ticks >= LINK_TURN_RECHECK_TICKS) {
        l->turn_ticks = 0;
        l->turn_watch = link_turn_peek(l);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean link_on_connect_timeout(gpointer data)
{
    struct link *l = data;
    l->connect_timer = 0;
    link_set_state(l, LINK_FAILED, "connect timeout");
    return G_SOURCE_REMOVE;
}

/* ---- lifecycle ------------------------------------------------------- */

static char *link_errf(const char *fmt, const char *arg)
{
    char *s = NULL;
    if (asprintf(&s, fmt, arg) < 0)
        s = NULL;
    return s;
}

static bool link_start_ice(struct link *l, const struct link_params *p, char **err)
{
    const char *skip[64];
    int n_skip = 0;
    skip[n_skip++] = l->tap.name;
    for (int i = 0; i < p->n_other_taps && n_skip < (int)G_N_ELEMENTS(skip); i++)
        skip[n_skip++] = p->other_taps[i];
    struct underlay_filter f = { .cfg = l->env->cfg, .extra = skip, .n_extra = n_skip };
    char addrs[UNDERLAY_MAX_ADDRS][INET_ADDRSTRLEN];
    struct ice_server stun, turn[8];
    bool stun_ok = false;

    struct ice_params ip = {
        .controlling = p->controlling,
        .local_addrs = addrs,
        .n_local = underlay_addrs(&f, addrs, UNDERLAY_MAX_ADDRS),
    };
    if (l->env->cfg)
        ip.relay_only = l->env->cfg->relay_only;
    /* resolved already, and without the servers known to be broken */
    ip.n_turn = servers_for_agent(l->env->servers, &stun, &stun_ok, turn, 8);
    ip.turn = turn;
    ip.stun = stun_ok ? &stun : NULL;
    l->n_turn = ip.n_turn;
    static const struct ice_callbacks cbs = {
        .candidate = link_ice_candidate,
        .gathering_done = link_ice_gathering_done,
        .state = link_ice_state,
        .recv = link_ice_recv,
        .selected = link_ice_selected,
    };
    l->ice = ice_new(&ip, &cbs, l, err);
    return l->ice != NULL;
}

struct link *link_create(const struct link_env *env, const struct link_params *p, char **err)
{
    *err = NULL;
    if (!ctl_link_id_valid(p->id)) {
        *err = link_errf("link_id: expected 1..64 of [A-Za-z0-9._-], got \"%.80s\"", p->id);
        return NULL;
    }
    if (p->mtu < LINK_MTU_MIN || p->mtu > LINK_MTU_MAX) {
        *err = link_errf("mtu: expected integer %s", "576..9000");
        return NULL;
    }
    struct link *l = calloc(1, sizeof *l);
    if (!l) {
        *err = link_errf("link: %s", "out of memory");
        return NULL;
    }
    snprintf(l->id, sizeof l->id, "%s", p->id);
    l->env = env;
    l->state = LINK_CONNECTING;
    l->controlling = p->controlling;
    l->mtu = p->mtu;
    memcpy(l->peer_fp, p->peer_fp, CERT_FP_LEN);
    l->tap.fd = -1;
    l->created_us = g_get_monotonic_time();

    if (tap_open(&l->tap, p->tap, p->mtu, err))
        goto fail;
    static const struct dtls_callbacks dcbs = { link_dtls_output, link_dtls_deliver };
    l->dtls = dtls_new(env->dtls, p->controlling, p->peer_fp, &dcbs, l);
    if (!l->dtls) {
        *err = link_errf("link: %s", "cannot create the DTLS session");
        goto fail;
    }
    if (!link_start_ice(l, p, err))
        goto fail;
    l->tap_watch = link_fd_watch(l->tap.fd, link_on_tap, l);
    l->connect_timer = g_timeout_add_seconds(LINK_CONNECT_S, link_on_connect_timeout, l);
    log_info(LINK_MOD, "link %s: created on %s, %s, mtu %d", l->id, l->tap.name,
             l->controlling ? "controlling" : "controlled", l->mtu);
    if (!ice_gather(l->ice, err))
        goto fail;
    return l;

fail:
    link_destroy(l);
    return NULL;
}

void link_destroy(struct link *l)
{
    if (!l)
        return;
    link_source_remove(&l->tap_watch);
    link_source_remove(&l->connect_timer);
    link_source_remove(&l->dtls_timer);
    link_source_remove(&l->tick_timer);
    if (l->dtls && l->ice)
        dtls_close(l->dtls);   /* close_notify lets the peer fail the link at once */
    link_fast_stop(l, NULL);
    ice_free(l->ice);
    dtls_free(l->dtls);
    tap_close(&l->tap);
    for (int i = 0; i < l->n_cands; i++)
        free(l->cands[i]);
    log_info(LINK_MOD, "link %s: removed", l->id);
    free(l);
}

const char *link_id(const struct link *l) { return l->id; }
const char *link_tap(const struct link *l) { return l->tap.name; }
enum link_state link_get_state(const struct link *l) { return l->state; }

bool link_remote_credentials(struct link *l, const char *ufrag, const char *pwd, char **err)
{
    return ice_set_remote_credentials(l->ice, ufrag, pwd, err);
}

bool link_remote_candidate(struct link *l, const char *sdp, char **err)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 3);
    if (ice_add_remote_candidate(l->ice, sdp, err))
        return true;
    l->c.bad_candidates++;
    log_warn_rl(&rl, LINK_MOD, "link %s: bad remote candidate: %s", l->id,
                *err ? *err : "?");
    return false;
}

void link_remote_gathering_done(struct link *l)
{
    ice_remote_gathering_done(l->ice);
}

/* ---- JSON views ------------------------------------------------------ */

json_t *link_created_json(const struct link *l)
{
    struct ctl_link_created m;
    char mac[18];
    tap_mac_format(l->tap.mac, mac);
    snprintf(m.link_id, sizeof m.link_id, "%s", l->id);
    snprintf(m.tap, sizeof m.tap, "%s", l->tap.name);
    snprintf(m.mac, sizeof m.mac, "%s", mac);
    snprintf(m.fingerprint, sizeof m.fingerprint, "%s", l->env->cert->fp_str);
    snprintf(m.ufrag, sizeof m.ufrag, "%s", ice_local_ufrag(l->ice));
    snprintf(m.pwd, sizeof m.pwd, "%s", ice_local_pwd(l->ice));
    json_t *j = ctl_link_created_encode(&m);
    explicit_bzero(m.pwd, sizeof m.pwd);
    return j;
}

json_t *link_local_json(const struct link *l)
{
    json_t *cands = json_array();
    for (int i = 0; i < l->n_cands; i++)
        json_array_append_new(cands, json_string(l->cands[i]));
    return json_pack("{s:s, s:s, s:s, s:o, s:b}", "link_id", l->id,
                     "ufrag", ice_local_ufrag(l->ice), "pwd", ice_local_pwd(l->ice),
                     "candidates", cands, "gathering_done", l->gathering_done);
}

/* One object of every member of PARTS (json_pack results, NULL where one
 * failed), which it takes; NULL if any failed. */
static json_t *link_json_merge(json_t *parts[], size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok = ok && parts[i];
    for (size_t i = 1; i < n; i++) {
        if (ok)
            json_object_update(parts[0], parts[i]);
        json_decref(parts[i]);
    }
    if (!ok) {
        json_decref(parts[0]);
        return NULL;
    }
    return parts[0];
}

json_t *link_stats_json(const struct link *l)
{
    char mac[18];
    tap_mac_format(l->tap.mac, mac);
    struct ice_pair pair;
    if (!ice_selected_pair(l->ice, &pair))
        memset(&pair, 0, sizeof pair);
    int64_t now = g_get_monotonic_time();
    int64_t end = l->end_us ? l->end_us : now;
    const struct link_counters *c = &l->c;
    json_t *parts[6];
    parts[5] = json_pack("{s:I, s:i, s:i}", "pair_since_s",
                         (json_int_t)(l->pair_us ? (now - l->pair_us) / G_USEC_PER_SEC : -1),
                         "pair_changes", (int)l->pair_changes, "rechecks", (int)l->rechecks);
    parts[0] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i}",
                         "link_id", l->id, "tap", l->tap.name, "mac", mac,
                         "state", link_state_name(l->state), "reason", l->reason,
                         "controlling", l->controlling, "mtu", l->mtu);
    parts[1] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                         "local_type", pair.local_type, "remote_type", pair.remote_type,
                         "local_addr", pair.local_addr, "remote_addr", pair.remote_addr,
                         "ice_state", ice_state_name(ice_get_state(l->ice)),
                         "dtls_state", dtls_status_name(dtls_get_status(l->dtls)),
                         "cipher", dtls_cipher(l->dtls));
    parts[2] = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                         "tx_bytes", (json_int_t)c->tx_bytes,
                         "rx_bytes", (json_int_t)c->rx_bytes,
                         "tx_frames", (json_int_t)c->tx_frames,
                         "rx_frames", (json_int_t)c->rx_frames,
                         "drop_oversize", (json_int_t)c->drop_oversize,
                         "drop_tap", (json_int_t)c->drop_tap,
                         "drop_decrypt", (json_int_t)c->drop_decrypt,
                         "tcp_resegmented", (json_int_t)c->tcp_resegmented,
                         "bad_candidates", (json_int_t)c->bad_candidates,
                         "keepalive_tx", (json_int_t)c->keepalive_tx,
                         "keepalive_rx", (json_int_t)c->keepalive_rx,
                         "age_s", (json_int_t)((now - l->created_us) / G_USEC_PER_SEC),
                         "up_s", (json_int_t)(l->up_us ? (end - l->up_us) / G_USEC_PER_SEC
                                                       : 0));
    const struct fastpath_counters f = l->fast_c;
    char fast_to[INET_ADDRSTRLEN + 8] = "";   /* the peer, or the TURN server */
    if (l->fast) {
        char ip[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &l->fast->remote.sin_addr, ip, sizeof ip))
            snprintf(fast_to, sizeof fast_to, "%s:%u", ip, ntohs(l->fast->remote.sin_port));
    }
    parts[3] = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                         "path", !l->fast ? "ice" : fastpath_turn(l->fast) ? "fast-relay" : "fast",
                         "fast_to", fast_to,
                         "drop_send", (json_int_t)f.tx_dropped,
                         "drop_kernel", (json_int_t)f.rx_kernel_drops,
                         "fast_tx_sends", (json_int_t)f.tx_sends,
                         "fast_tx_datagrams", (json_int_t)f.tx_datagrams,
                         "fast_rx_reads", (json_int_t)f.rx_reads,
                         "fast_rx_datagrams", (json_int_t)f.rx_datagrams,
                         "fast_rx_stun", (json_int_t)f.rx_stun);
    struct dtls_stats ds;
    dtls_get_stats(l->dtls, &ds);
    parts[4] = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                         "records", ds.records,
                         "tx_epoch", (json_int_t)ds.tx_epoch,
                         "rx_epoch", (json_int_t)ds.rx_epoch,
                         "rekeys_tx", (json_int_t)ds.c.rekeys_tx,
                         "rekeys_rx", (json_int_t)ds.c.rekeys_rx,
                         "drop_replay", (json_int_t)c->drop_replay,
                         "drop_epoch", (json_int_t)ds.c.drop_epoch,
                         "rehandshakes", (json_int_t)ds.generation,
                         "rehandshake_failures", (json_int_t)ds.rehandshake_failures,
                         "turn_forged", (json_int_t)l->turn_forged);
    return link_json_merge(parts, sizeof parts / sizeof *parts);
}
