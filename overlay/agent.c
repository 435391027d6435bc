/* The node agent's event loop in run/wait shape: each module contributes
 * its fds and its next deadline (agent_wait), the loop sleeps in one poll(),
 * then each module runs (agent_run_once). Also here: the control commands
 * (status, topology), readiness (every bridge up with its address) and the
 * supervisor's notifications. The edges are edge.c's, the helpers
 * supervisor.c's, the room signaling.c's; none of them calls back here. */
#include "agent.h"
#include "edge.h"
#include "notify.h"
#include "report.h"
#include "signaling.h"
#include "supervisor.h"
#include "evio/cert.h"
#include "evio/ctlmsg.h"
#include "evio/log.h"
#include "evio/timing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define SESSION_HEX 16

struct agent {
    struct config *cfg;
    struct nodeid self;
    char self_hex[NODEID_HEX_LEN + 1];
    char session[SESSION_HEX + 1];  /* random per start: peers notice restarts */

    struct edges edges;             /* the overlays and their edges */
    struct helper tincan, switchctl;
    struct ctl_server *ctl;
    struct sig_session *sig;
    int sigfd;

    /* readiness: every overlay's bridge carries its address */
    bool ready;
    int64_t started_ms, ready_ms;   /* ready_ms: first time ready, 0 = never */
    int64_t ready_check_ms;         /* next look at the bridges */
    char *notify_socket;            /* NOTIFY_SOCKET, NULL without a supervisor */
    bool stopping;
};

/* ---- signalling callbacks --------------------------------------------- */

static void on_sig_state(void *aux, bool connected, const char *why)
{
    struct agent *a = aux;
    if (connected)
        log_info("agent", "signalling connected");
    else
        log_warn("agent", "signalling disconnected: %s (links stay up)", why ? why : "");
    edges_on_signalling(&a->edges, connected);
}

static void on_peer_joined(void *aux, const char *overlay, const char *node_hex,
                           const char *session)
{
    struct agent *a = aux;
    edges_on_peer_joined(&a->edges, overlay, node_hex, session);
}

static void on_peer_left(void *aux, const char *overlay, const char *node_hex)
{
    struct agent *a = aux;
    edges_on_peer_left(&a->edges, overlay, node_hex);
}

static void on_sig_message(void *aux, const char *overlay, const char *from_hex,
                           const char *payload, size_t len)
{
    struct agent *a = aux;
    edges_on_message(&a->edges, overlay, from_hex, payload, len);
}

/* ---- helpers ---------------------------------------------------------- */

static void on_tincan_event(void *aux, const struct ctl_msg *m)
{
    struct agent *a = aux;
    edges_on_tincan_event(&a->edges, m);
}

static void on_switchctl_event(void *aux, const struct ctl_msg *m)
{
    struct agent *a = aux;
    edges_on_switchctl_event(&a->edges, m);
}

static void on_helper_ready(void *aux, struct helper *h, bool ready)
{
    struct agent *a = aux;
    if (a->stopping)
        return;
    if (h == &a->tincan) {
        if (ready)
            ctl_client_set_event_cb(h->ctl, on_tincan_event, a);
        edges_on_tincan_ready(&a->edges, ready);
    } else {
        if (ready)
            ctl_client_set_event_cb(h->ctl, on_switchctl_event, a);
        edges_on_switchctl_ready(&a->edges, ready);
    }
}

/* ---- readiness -------------------------------------------------------- */

#define READY_POLL_MS     200    /* while some bridge lacks its address */
#define READY_RECHECK_MS  2000   /* once ready: keeps status current */

/* Sends one sd_notify message if a supervisor asked for them. */
static void agent_notify(struct agent *a, const char *state, const char *status)
{
    char msg[512];
    size_t n;
    if (!a->notify_socket || !(n = notify_format(msg, sizeof msg, state, status)))
        return;
    int error = notify_send(a->notify_socket, msg, n);
    if (error)
        log_warn("agent", "notify %s: %s: %s", a->notify_socket, state, strerror(error));
    else
        log_debug("agent", "notified %s: %s", a->notify_socket, state);
}

/* Does IFA, one getifaddrs() entry of the overlay's bridge, show it up and
 * (when the overlay has one) carrying the configured address and prefix? */
static bool bridge_entry_ready(const struct config_overlay *c, const struct ifaddrs *ifa,
                               uint32_t *found)
{
    if (!(ifa->ifa_flags & IFF_UP))
        return false;
    if (!c->ip4 && !c->ip_auto)
        return true;
    if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET || !ifa->ifa_netmask)
        return false;
    uint32_t addr = ntohl(((const struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr);
    uint32_t mask = ntohl(((const struct sockaddr_in *)ifa->ifa_netmask)->sin_addr.s_addr);
    uint32_t want = c->prefix_len ? ~0u << (32 - c->prefix_len) : 0;
    *found = addr;
    /* "ip": "auto": evio-switchctl sets an address of the pool only once
     * address conflict detection has claimed it */
    if (c->ip_auto)
        return (addr & want) == c->pool && mask == want;
    return addr == c->ip4 && mask == want;
}

/* Looks at every overlay's bridge (one netlink dump through getifaddrs; on
 * the loop's timer, never waiting on another process) and updates a->ready;
 * the first time every bridge is ready, tells the supervisor READY=1. */
static void agent_check_ready(struct agent *a, int64_t now)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 1);
    if (now < a->ready_check_ms)
        return;
    struct ifaddrs *ifas = NULL;
    if (getifaddrs(&ifas)) {
        int error = errno;
        log_warn_rl(&rl, "agent", "readiness: getifaddrs: %s", strerror(error));
        a->ready_check_ms = now + READY_POLL_MS;
        return;
    }
    bool all = true;
    for (int i = 0; i < a->edges.n_overlays; i++) {
        struct overlay *ov = &a->edges.overlays[i];
        bool ok = false;
        uint32_t found = 0;
        for (const struct ifaddrs *ifa = ifas; ifa && !ok; ifa = ifa->ifa_next)
            ok = ifa->ifa_name && !strcmp(ifa->ifa_name, ov->cfg->bridge_name)
                 && bridge_entry_ready(ov->cfg, ifa, &found);
        ov->bridge_ip4 = ok ? found : 0;
        if (ok != ov->bridge_ready && a->ready_ms)
            log_info("agent", "%s: bridge %s %s", ov->cfg->name, ov->cfg->bridge_name,
                     ok ? "has its address again" : "lost its address or went down");
        ov->bridge_ready = ok;
        all = all && ok;
    }
    freeifaddrs(ifas);

    if (all && !a->ready_ms) {
        a->ready_ms = now;
        char status[400];
        int n = snprintf(status, sizeof status, "ready after %lld ms:",
                         (long long)(now - a->started_ms));
        for (int i = 0; i < a->edges.n_overlays && n > 0 && (size_t)n < sizeof status; i++) {
            const struct config_overlay *c = a->edges.overlays[i].cfg;
            uint32_t ip = c->ip4 ? c->ip4 : a->edges.overlays[i].bridge_ip4;
            n += snprintf(status + n, sizeof status - n, " %s %u.%u.%u.%u/%d", c->bridge_name,
                          ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff,
                          c->prefix_len);
        }
        log_info("agent", "%s", status);
        agent_notify(a, "READY=1", status);
    }
    a->ready = all;
    a->ready_check_ms = now + (all ? READY_RECHECK_MS : READY_POLL_MS);
}

/* ---- control commands ------------------------------------------------- */

static json_t *helper_json(const struct helper *h)
{
    return json_pack("{ss si si ss}", "name", h->name, "pid", (int)h->pid,
                     "restarts", (int)h->restarts, "state", helper_state_name(h->state));
}

/* The status, with STATS (evio-tincan's link/stats result, or NULL). */
static json_t *status_json(struct agent *a, const struct ctl_link_stats_reply *stats)
{
    json_t *xmpp = json_object();
    char server[300];
    snprintf(server, sizeof server, "%s:%u", a->cfg->xmpp_host, a->cfg->xmpp_port);
    json_object_set_new(xmpp, "server", json_string(server));
    json_object_set_new(xmpp, "user", json_string(a->cfg->xmpp_user));
    if (a->sig) {
        struct sig_stats st;
        sig_session_stats(a->sig, &st);
        json_object_set_new(xmpp, "state", json_string(st.state == SIG_ONLINE ? "connected"
                                                                      : sig_state_name(st.state)));
        json_object_set_new(xmpp, "last_error", json_string(st.last_error));
        json_object_set_new(xmpp, "rooms_joined", json_integer(st.rooms_joined));
        json_object_set_new(xmpp, "room_error", json_string(st.room_error));
        json_object_set_new(xmpp, "join_refusals", json_integer((json_int_t)st.join_refusals));
        json_object_set_new(xmpp, "counters",
                            json_pack("{sI sI sI sI sI sI sI sI}", "sent", (json_int_t)st.sent,
                                      "send_failed", (json_int_t)st.send_failed,
                                      "received", (json_int_t)st.received,
                                      "dropped", (json_int_t)st.dropped,
                                      "bounced", (json_int_t)st.bounced,
                                      "reconnects", (json_int_t)st.reconnects,
                                      "peers", (json_int_t)st.peers,
                                      "refused_payloads", (json_int_t)a->edges.sig_refused));
    }

    int64_t now = monotonic_ms();
    json_t *overlays = json_array();
    for (int i = 0; i < a->edges.n_overlays; i++) {
        const struct overlay *o = &a->edges.overlays[i];
        json_t *ov = report_overlay_status(o, stats, now);
        json_object_set_new(ov, "bridge_ready", json_boolean(o->bridge_ready));
        json_object_set_new(ov, "mtu", json_integer(o->cfg->mtu));
        json_object_set_new(ov, "mtu_source", json_string(o->cfg->mtu_source));
        json_array_append_new(overlays, ov);
    }
    /* the STUN/TURN servers as the datapath sees them (probed there) */
    json_t *servers = stats && json_is_array(stats->servers) ? json_incref(stats->servers)
                                                             : json_array();

    /* ready_after_ms: from start to the first time every bridge was ready */
    json_t *after = a->ready_ms ? json_integer(a->ready_ms - a->started_ms) : json_null();
    return json_pack("{ss ss ss sb so so s[oo] so so sI}", "node_id", a->self_hex, "session",
                     a->session, "fingerprint", a->edges.fingerprint, "ready", a->ready,
                     "ready_after_ms", after, "xmpp", xmpp, "helpers", helper_json(&a->tincan),
                     helper_json(&a->switchctl), "overlays", overlays, "servers", servers,
                     "orphan_links_removed", (json_int_t)a->edges.orphans_removed);
}

struct status_call {
    struct agent *a;
    struct ctl_pending *pending;
};

static void on_status_stats(void *aux, const struct ctl_msg *m)
{
    struct status_call *sc = aux;
    struct ctl_link_stats_reply stats = { 0 };
    char *err = m->ok ? ctl_link_stats_reply_decode(m->body, &stats) : NULL;
    if (!m->ok || err)
        log_debug("agent", "status: link/stats: %s", err ? err : m->error ? m->error : "?");
    free(err);
    json_t *st = status_json(sc->a, m->ok ? &stats : NULL);
    ctl_link_stats_reply_free(&stats);
    ctl_pending_reply(sc->pending, st, st ? NULL : "out of memory");
    json_decref(st);
    free(sc);
}

/* status: answered once evio-tincan's counters are in (asked for now, never
 * waited for in the loop), or at once without them when it is not running */
static json_t *cmd_status(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    struct agent *a = aux;
    if (a->tincan.state == HELPER_READY) {
        struct status_call *sc = calloc(1, sizeof *sc);
        if (sc && (sc->pending = ctl_conn_defer(c))) {
            sc->a = a;
            helper_send(&a->tincan, CTL_CMD_LINK_STATS, NULL, on_status_stats, sc);
            return NULL;
        }
        free(sc);
    }
    return status_json(a, NULL);
}

/* topology [overlay]: each overlay's ring, planned edges and edges */
static json_t *cmd_topology(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    struct agent *a = aux;
    struct ctl_overlay_sel sel;
    if ((*err = ctl_overlay_sel_decode(args, &sel)))
        return NULL;
    const char *name = sel.overlay[0] ? sel.overlay : NULL;
    json_t *overlays = json_array();
    int64_t now = monotonic_ms();
    for (int i = 0; i < a->edges.n_overlays; i++)
        if (!name || !strcmp(name, a->edges.overlays[i].cfg->name))
            json_array_append_new(overlays, report_overlay_topology(&a->edges.overlays[i],
                                                                    a->self_hex, now));
    if (name && !json_array_size(overlays)) {
        json_decref(overlays);
        *err = strdup("no such overlay");
        return NULL;
    }
    return json_pack("{ss so}", "node_id", a->self_hex, "overlays", overlays);
}

/* ---- the loop --------------------------------------------------------- */

/* One poll() set: each module adds its fds with the function that runs
 * them, and lowers the deadline to its own. */
typedef void poll_run_fn(struct agent *, short revents, int64_t now);

#define AGENT_MAX_FDS 8

struct agent_poll {
    struct pollfd fds[AGENT_MAX_FDS];
    poll_run_fn *run[AGENT_MAX_FDS];
    int n;
    int64_t deadline;               /* -1: none */
};

static void poll_add(struct agent_poll *ps, int fd, short events, poll_run_fn *run)
{
    if (fd < 0 || ps->n >= AGENT_MAX_FDS)
        return;
    ps->fds[ps->n] = (struct pollfd){ fd, events, 0 };
    ps->run[ps->n++] = run;
}

static void poll_until(struct agent_poll *ps, int64_t t)
{
    if (t >= 0 && (ps->deadline < 0 || t < ps->deadline))
        ps->deadline = t;
}

static void reap_children(struct agent *a, int64_t now)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (!helper_reap(&a->tincan, pid, status, now)
            && !helper_reap(&a->switchctl, pid, status, now))
            log_debug("agent", "reaped unknown child %d", (int)pid);
    }
}

static void run_signals(struct agent *a, short revents, int64_t now)
{
    struct signalfd_siginfo si;
    while (read(a->sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
            reap_children(a, now);
        } else if (si.ssi_signo != SIGHUP) {
            log_info("agent", "signal %d: shutting down", (int)si.ssi_signo);
            a->stopping = true;
        }
    }
}

static void run_ctl(struct agent *a, short revents, int64_t now)
{
    ctl_server_run(a->ctl);
}

static void run_tincan(struct agent *a, short revents, int64_t now)
{
    helper_io(&a->tincan, now);
}

static void run_switchctl(struct agent *a, short revents, int64_t now)
{
    helper_io(&a->switchctl, now);
}

static void run_nothing(struct agent *a, short revents, int64_t now)
{
    /* the XMPP session runs on every iteration (agent_run_once) */
}

/* What every module waits for. */
static void agent_wait(struct agent *a, struct agent_poll *ps, int64_t now)
{
    ps->n = 0;
    ps->deadline = -1;
    poll_add(ps, a->sigfd, POLLIN, run_signals);
    poll_add(ps, ctl_server_fd(a->ctl), POLLIN, run_ctl);
    if (a->tincan.ctl)
        poll_add(ps, ctl_client_fd(a->tincan.ctl),
                 POLLIN | (ctl_client_want_write(a->tincan.ctl) ? POLLOUT : 0), run_tincan);
    if (a->switchctl.ctl)
        poll_add(ps, ctl_client_fd(a->switchctl.ctl),
                 POLLIN | (ctl_client_want_write(a->switchctl.ctl) ? POLLOUT : 0), run_switchctl);
    poll_add(ps, sig_session_fd(a->sig), POLLIN, run_nothing);
    poll_until(ps, now + sig_session_timeout_ms(a->sig));
    poll_until(ps, helper_next_deadline(&a->tincan));
    poll_until(ps, helper_next_deadline(&a->switchctl));
    poll_until(ps, edges_next_deadline(&a->edges, now));
    poll_until(ps, a->ready_check_ms);
}

/* Runs every module once: those whose fds are ready, then the timers. */
static void agent_run_once(struct agent *a, struct agent_poll *ps, int64_t now)
{
    for (int i = 0; i < ps->n; i++)
        if (ps->fds[i].revents)
            ps->run[i](a, ps->fds[i].revents, now);
    sig_session_run(a->sig);   /* also drives its timers and reconnects */
    helper_run(&a->tincan, now);
    helper_run(&a->switchctl, now);
    edges_run(&a->edges, now);
    agent_check_ready(a, now);
}

/* The node's ID: the first half of its key's fingerprint (evio/nodeid.h).
 * The key is made here on the first start, before evio-tincan (which uses
 * it for every link) runs. A state directory from before IDs were keys
 * holds a random ID in node_id: it is set aside as node_id.old, and the
 * change said once, since peers' static_peers and members lists name IDs.
 * Returns 0 or 1 (logged). */
static int agent_identity(const struct config *cfg, struct nodeid *id)
{
    struct cert cert;
    char *err = NULL;
    if (cert_load_or_create(cfg->state_dir, &cert, &err)) {
        log_error("agent", "node key: %s", err ? err : "failed");
        free(err);
        return 1;
    }
    memcpy(id->b, cert.fp, sizeof id->b);
    cert_clear(&cert);
    char hex[NODEID_HEX_LEN + 1];
    nodeid_format(id, hex);
    if (cfg->node_id && strcmp(cfg->node_id, hex)) {
        log_error("agent", "node.id %s is not this node's: node IDs are derived from the "
                  "node's key (%s/tincan.key), which gives %s; remove node.id",
                  cfg->node_id, cfg->state_dir, hex);
        return 1;
    }
    char old[4200], moved[4300], buf[64] = "";
    snprintf(old, sizeof old, "%s/node_id", cfg->state_dir);
    FILE *f = fopen(old, "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        snprintf(moved, sizeof moved, "%s.old", old);
        if (strcmp(buf, hex))
            log_warn("agent", "node ID is now %s, derived from the node's key; it was %s "
                     "(kept in %s): update static_peers and members lists that name it",
                     hex, buf, moved);
        if (rename(old, moved))
            log_warn("agent", "cannot rename %s: %s", old, strerror(errno));
    }
    return 0;
}

/* Sets up everything but the loop. Returns 0 or 1 (logged). */
static int agent_start(struct agent *a, const char *tincan_exe, const char *switchctl_exe)
{
    struct config *cfg = a->cfg;
    if (agent_identity(cfg, &a->self))
        return 1;
    nodeid_format(&a->self, a->self_hex);
    uint8_t sess[SESSION_HEX / 2];
    if (getrandom(sess, sizeof sess, 0) != (ssize_t)sizeof sess)
        memset(sess, 0, sizeof sess);
    for (size_t i = 0; i < sizeof sess; i++)
        sprintf(a->session + 2 * i, "%02x", sess[i]);
    log_info("agent", "node %s starting (session %s)", a->self_hex, a->session);
    a->started_ms = monotonic_ms();
    /* ours alone: the helpers must not inherit the supervisor's socket */
    const char *ns = getenv("NOTIFY_SOCKET");
    if (ns && *ns) {
        a->notify_socket = strdup(ns);
        unsetenv("NOTIFY_SOCKET");
    }

    char tsock[4200], ssock[4200], sock[4200];
    snprintf(tsock, sizeof tsock, "%s/%s", cfg->run_dir, CTL_SOCK_TINCAN);
    snprintf(ssock, sizeof ssock, "%s/%s", cfg->run_dir, CTL_SOCK_SWITCHCTL);
    snprintf(sock, sizeof sock, "%s/%s", cfg->run_dir, CTL_SOCK_EVIO);
    helper_init(&a->tincan, "evio-tincan", tincan_exe, cfg->path, tsock, on_helper_ready, a);
    helper_init(&a->switchctl, "evio-switchctl", switchctl_exe, cfg->path, ssock,
                on_helper_ready, a);
    if (edges_init(&a->edges, cfg, &a->self, a->session, &a->tincan, &a->switchctl)) {
        log_error("agent", "out of memory");
        return 1;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    a->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    int error = ctl_server_open(sock, &a->ctl);
    if (error) {
        log_error("agent", "control socket %s: %s", sock, strerror(error));
        return 1;
    }
    ctl_server_register(a->ctl, CTL_CMD_STATUS, "", cmd_status, a);
    ctl_server_register(a->ctl, CTL_CMD_TOPOLOGY, "[overlay]", cmd_topology, a);

    int64_t now = monotonic_ms();
    helper_start(&a->tincan, now);
    helper_start(&a->switchctl, now);
    agent_notify(a, "STATUS=waiting for the overlays' bridges", NULL);

    static const struct sig_callbacks cbs = {
        .state = on_sig_state,
        .peer_joined = on_peer_joined,
        .peer_left = on_peer_left,
        .message = on_sig_message,
    };
    error = sig_session_create(cfg, a->self_hex, a->session, &cbs, a, &a->sig);
    if (error) {
        log_error("agent", "signalling: %s", strerror(error));
        return 1;
    }
    edges_set_sig(&a->edges, a->sig);
    return 0;
}

static void agent_stop(struct agent *a)
{
    agent_notify(a, "STOPPING=1", "shutting down");
    /* helpers first: their disconnect callbacks still look at the edges */
    a->stopping = true;
    if (a->tincan.exe)
        helper_destroy(&a->tincan);
    if (a->switchctl.exe)
        helper_destroy(&a->switchctl);
    edges_free(&a->edges);
    sig_session_destroy(a->sig);
    ctl_server_close(a->ctl);
    if (a->sigfd >= 0)
        close(a->sigfd);
    free(a->notify_socket);
}

int agent_run(struct config *cfg, const char *tincan_exe, const char *switchctl_exe)
{
    struct agent *a = calloc(1, sizeof *a);
    if (!a)
        return 1;
    a->cfg = cfg;
    a->sigfd = -1;
    int rc = agent_start(a, tincan_exe, switchctl_exe);
    struct agent_poll ps;
    while (!rc && !a->stopping) {
        int64_t now = monotonic_ms();
        agent_wait(a, &ps, now);
        int timeout = ps.deadline < 0 ? 1000
                      : ps.deadline <= now ? 0
                      : ps.deadline - now > 1000 ? 1000 : (int)(ps.deadline - now);
        if (poll(ps.fds, ps.n, timeout) < 0 && errno != EINTR) {
            log_error("agent", "poll: %s", strerror(errno));
            rc = 1;
            break;
        }
        agent_run_once(a, &ps, monotonic_ms());
    }
    agent_stop(a);
    free(a);
    return rc;
}
