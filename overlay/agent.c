/* The node agent's event loop and glue: one poll() over the signal fd, the
 * control socket, the helpers' control connections and the XMPP socket; the
 * control commands (status); peer bookkeeping from room presence; readiness
 * (every bridge up with its address) and the supervisor's notifications. */
#include "agent.h"
#include "notify.h"
#include "signaling.h"
#include "evio/log.h"

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

/* ---- peers ------------------------------------------------------------ */

struct overlay *agent_find_overlay(struct agent *a, const char *name)
{
    for (int i = 0; i < a->n_overlays; i++)
        if (!strcmp(a->overlays[i].cfg->name, name))
            return &a->overlays[i];
    return NULL;
}

struct peer *agent_find_peer(struct overlay *ov, const struct nodeid *id)
{
    for (size_t i = 0; i < ov->n_peers; i++)
        if (!nodeid_cmp(&ov->peers[i].id, id))
            return &ov->peers[i];
    return NULL;
}

struct peer *agent_add_peer(struct overlay *ov, const struct nodeid *id)
{
    struct peer *p = agent_find_peer(ov, id);
    if (p)
        return p;
    if (ov->n_peers == ov->cap) {
        size_t cap = ov->cap ? ov->cap * 2 : 16;
        struct peer *np = realloc(ov->peers, cap * sizeof *np);
        if (!np)
            return NULL;
        ov->peers = np;
        ov->cap = cap;
    }
    p = &ov->peers[ov->n_peers++];
    memset(p, 0, sizeof *p);
    p->id = *id;
    nodeid_format(id, p->hex);
    return p;
}

/* ---- signalling callbacks --------------------------------------------- */

static void on_sig_state(void *aux, bool connected, const char *why)
{
    struct agent *a = aux;
    a->xmpp_connected = connected;
    if (connected)
        log_info("agent", "signalling connected");
    else
        log_warn("agent", "signalling disconnected: %s (links stay up)", why ? why : "");
    a->replan = true;
}

static void on_peer_joined(void *aux, const char *overlay, const char *node_hex,
                           const char *session)
{
    struct agent *a = aux;
    struct overlay *ov = agent_find_overlay(a, overlay);
    struct nodeid id;
    if (!ov || !nodeid_parse(node_hex, &id) || !nodeid_cmp(&id, &a->self))
        return;
    struct peer *p = agent_add_peer(ov, &id);
    if (p && session[0] && strcmp(p->session, session)) {
        /* a new agent session: the peer restarted, and its links with it */
        if (p->session[0])
            edge_on_peer_restarted(a, ov, p, session);
        snprintf(p->session, sizeof p->session, "%s", session);
    }
    if (p && !p->present) {
        if (!topo_ring_insert(&ov->ring, &id)) {
            log_error("agent", "%s: peer %s: out of memory", overlay, node_hex);
            return;
        }
        p->present = true;
        log_info("agent", "%s: peer %s joined", overlay, node_hex);
        a->replan = true;
    }
}

static void on_peer_left(void *aux, const char *overlay, const char *node_hex)
{
    struct agent *a = aux;
    struct overlay *ov = agent_find_overlay(a, overlay);
    struct nodeid id;
    struct peer *p;
    if (!ov || !nodeid_parse(node_hex, &id) || !(p = agent_find_peer(ov, &id)) || !p->present)
        return;
    p->present = false;
    topo_ring_remove(&ov->ring, &id);
    log_info("agent", "%s: peer %s left", overlay, node_hex);
    edge_on_peer_left(a, ov, p);
    a->replan = true;
}

static void on_sig_message(void *aux, const char *overlay, const char *from_hex,
                           const char *payload, size_t len)
{
    struct agent *a = aux;
    struct overlay *ov = agent_find_overlay(a, overlay);
    if (!ov) {
        a->sig_dropped++;
        return;
    }
    edge_on_message(a, ov, from_hex, payload, len);
}

int agent_send_signal(struct agent *a, struct overlay *ov, const struct peer *p,
                      const char *payload)
{
    if (!a->sig || !a->xmpp_connected)
        return ENOTCONN;
    return sig_session_send(a->sig, ov->cfg->name, p->hex, payload);
}

/* ---- helpers ---------------------------------------------------------- */

int agent_helper_send(struct helper *h, const char *cmd, json_t *args,
                      ctl_reply_fn *reply, void *aux)
{
    if (h->state != HELPER_READY || !h->ctl) {
        if (reply) {
            struct ctl_msg m = { .kind = CTL_MSG_RESPONSE, .ok = false,
                                 .error = "helper not running" };
            reply(aux, &m);
        }
        return ENOTCONN;
    }
    return ctl_client_send(h->ctl, cmd, args, reply, aux);
}

static void on_node_info(void *aux, const struct ctl_msg *m)
{
    struct agent *a = aux;
    const char *fpr = m->ok ? json_string_value(json_object_get(m->body, "fingerprint")) : NULL;
    if (!fpr || strlen(fpr) >= sizeof a->fingerprint) {
        log_error("agent", "evio-tincan node/info: %s", m->ok ? "no fingerprint" : m->error);
        return;
    }
    snprintf(a->fingerprint, sizeof a->fingerprint, "%s", fpr);
    log_info("agent", "datapath certificate fingerprint %s", a->fingerprint);
    a->replan = true;
}

static void on_tincan_event(void *aux, const struct ctl_msg *m)
{
    edge_on_tincan_event(aux, m);
}

static void on_switchctl_event(void *aux, const struct ctl_msg *m)
{
    edge_on_switchctl_event(aux, m);
}

static void on_helper_ready(void *aux, struct helper *h, bool ready)
{
    struct agent *a = aux;
    if (a->stopping)
        return;
    if (h == &a->tincan) {
        if (ready) {
            ctl_client_set_event_cb(h->ctl, on_tincan_event, a);
            agent_helper_send(h, "subscribe", NULL, NULL, NULL);
            agent_helper_send(h, "node/info", NULL, on_node_info, a);
        }
        edge_on_tincan_ready(a, ready);
    } else {
        if (ready) {
            ctl_client_set_event_cb(h->ctl, on_switchctl_event, a);
            agent_helper_send(h, "subscribe", NULL, NULL, NULL);
        }
        edge_on_switchctl_ready(a, ready);
    }
    a->replan = true;
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
static bool bridge_entry_ready(const struct config_overlay *c, const struct ifaddrs *ifa)
{
    if (!(ifa->ifa_flags & IFF_UP))
        return false;
    if (!c->ip4)
        return true;
    if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET || !ifa->ifa_netmask)
        return false;
    uint32_t addr = ntohl(((const struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr);
    uint32_t mask = ntohl(((const struct sockaddr_in *)ifa->ifa_netmask)->sin_addr.s_addr);
    uint32_t want = c->prefix_len ? ~0u << (32 - c->prefix_len) : 0;
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
    for (int i = 0; i < a->n_overlays; i++) {
        struct overlay *ov = &a->overlays[i];
        bool ok = false;
        for (const struct ifaddrs *ifa = ifas; ifa && !ok; ifa = ifa->ifa_next)
            ok = ifa->ifa_name && !strcmp(ifa->ifa_name, ov->cfg->bridge_name)
                 && bridge_entry_ready(ov->cfg, ifa);
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
        for (int i = 0; i < a->n_overlays && n > 0 && (size_t)n < sizeof status; i++) {
            const struct config_overlay *c = a->overlays[i].cfg;
            n += snprintf(status + n, sizeof status - n, " %s %u.%u.%u.%u/%d", c->bridge_name,
                          c->ip4 >> 24, (c->ip4 >> 16) & 0xff, (c->ip4 >> 8) & 0xff,
                          c->ip4 & 0xff, c->prefix_len);
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

static json_t *cmd_status(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    struct agent *a = aux;

    /* the datapath's counters, asked for now (a short synchronous call) */
    json_t *stats = NULL;
    char *cerr = NULL;
    if (a->tincan.state == HELPER_READY
        && ctl_call(a->tincan.socket_path, "link/stats", NULL, 1000, &stats, &cerr))
        log_debug("agent", "status: link/stats: %s", cerr ? cerr : "?");
    free(cerr);

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
        json_object_set_new(xmpp, "counters",
                            json_pack("{sI sI sI sI sI sI sI sI}", "sent", (json_int_t)st.sent,
                                      "send_failed", (json_int_t)st.send_failed,
                                      "received", (json_int_t)st.received,
                                      "dropped", (json_int_t)st.dropped,
                                      "bounced", (json_int_t)st.bounced,
                                      "reconnects", (json_int_t)st.reconnects,
                                      "peers", (json_int_t)st.peers,
                                      "refused_payloads", (json_int_t)a->sig_dropped));
    }

    json_t *overlays = json_array();
    for (int i = 0; i < a->n_overlays; i++) {
        json_t *ov = edge_status(a, &a->overlays[i], stats);
        json_object_set_new(ov, "bridge_ready", json_boolean(a->overlays[i].bridge_ready));
        json_array_append_new(overlays, ov);
    }
    /* the STUN/TURN servers as the datapath sees them (probed there) */
    json_t *servers = json_object_get(stats, "servers");
    servers = json_is_array(servers) ? json_incref(servers) : json_array();
    json_decref(stats);

    /* ready_after_ms: from start to the first time every bridge was ready */
    json_t *after = a->ready_ms ? json_integer(a->ready_ms - a->started_ms) : json_null();
    return json_pack("{ss ss ss sb so so s[oo] so so}", "node_id", a->self_hex, "session",
                     a->session, "fingerprint", a->fingerprint, "ready", a->ready,
                     "ready_after_ms", after, "xmpp", xmpp, "helpers", helper_json(&a->tincan),
                     helper_json(&a->switchctl), "overlays", overlays, "servers", servers);
}

/* topology [overlay]: each overlay's ring, planned edges and edges */
static json_t *cmd_topology(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    struct agent *a = aux;
    const char *name = json_string_value(json_object_get(args, "overlay"));
    json_t *overlays = json_array();
    for (int i = 0; i < a->n_overlays; i++)
        if (!name || !strcmp(name, a->overlays[i].cfg->name))
            json_array_append_new(overlays, edge_topology(a, &a->overlays[i]));
    if (name && !json_array_size(overlays)) {
        json_decref(overlays);
        *err = strdup("no such overlay");
        return NULL;
    }
    return json_pack("{ss so}", "node_id", a->self_hex, "overlays", overlays);
}

/* ---- the loop --------------------------------------------------------- */

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

static void run_helper_conn(struct agent *a, struct helper *h, short revents, int64_t now)
{
    if (!h->ctl || !revents)
        return;
    int error = ctl_client_run(h->ctl);
    if (error)
        helper_conn_lost(h, error == EPIPE ? "closed" : strerror(error), now);
}

static int64_t min_deadline(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int agent_run(struct config *cfg, const char *tincan_exe, const char *switchctl_exe)
{
    struct agent *a = calloc(1, sizeof *a);
    if (!a)
        return 1;
    a->cfg = cfg;
    int rc = 1, sigfd = -1;

    char *err = NULL;
    if (cfg->node_id) {
        nodeid_parse(cfg->node_id, &a->self);
    } else if (nodeid_load_or_create(cfg->state_dir, &a->self, &err)) {
        log_error("agent", "node id: %s", err ? err : "failed");
        free(err);
        free(a);
        return 1;
    }
    nodeid_format(&a->self, a->self_hex);
    uint8_t sess[SESSION_LEN / 2];
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

    for (int i = 0; i < cfg->n_overlays; i++) {
        a->overlays[i].cfg = &cfg->overlays[i];
        a->overlays[i].index = i;
        a->n_overlays = i + 1;
        if (edge_overlay_init(a, &a->overlays[i])) {
            log_error("agent", "out of memory");
            goto out;
        }
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    char sock[4200];
    snprintf(sock, sizeof sock, "%s/evio.sock", cfg->run_dir);
    int error = ctl_server_open(sock, &a->ctl);
    if (error) {
        log_error("agent", "control socket %s: %s", sock, strerror(error));
        goto out;
    }
    ctl_server_register(a->ctl, "status", "", cmd_status, a);
    ctl_server_register(a->ctl, "topology", "[overlay]", cmd_topology, a);

    char tsock[4200], ssock[4200];
    snprintf(tsock, sizeof tsock, "%s/tincan.sock", cfg->run_dir);
    snprintf(ssock, sizeof ssock, "%s/switchctl.sock", cfg->run_dir);
    helper_init(&a->tincan, "evio-tincan", tincan_exe, cfg->path, tsock, on_helper_ready, a);
    helper_init(&a->switchctl, "evio-switchctl", switchctl_exe, cfg->path, ssock,
                on_helper_ready, a);
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
        goto out;
    }

    while (!a->stopping) {
        struct pollfd pfd[5];
        int n = 0;
        pfd[n++] = (struct pollfd){ sigfd, POLLIN, 0 };
        pfd[n++] = (struct pollfd){ ctl_server_fd(a->ctl), POLLIN, 0 };
        int ti = -1, si = -1, xi = -1;
        struct helper *hs[2] = { &a->tincan, &a->switchctl };
        for (int k = 0; k < 2; k++) {
            if (!hs[k]->ctl)
                continue;
            *(k ? &si : &ti) = n;
            pfd[n++] = (struct pollfd){ ctl_client_fd(hs[k]->ctl),
                                        POLLIN | (ctl_client_want_write(hs[k]->ctl) ? POLLOUT : 0), 0 };
        }
        int xfd = sig_session_fd(a->sig);
        if (xfd >= 0) {
            xi = n;
            pfd[n++] = (struct pollfd){ xfd, POLLIN, 0 };
        }

        now = monotonic_ms();
        int64_t deadline = min_deadline(helper_next_deadline(&a->tincan),
                                        helper_next_deadline(&a->switchctl));
        deadline = min_deadline(deadline, edge_next_deadline(a));
        deadline = min_deadline(deadline, a->ready_check_ms);
        int timeout = sig_session_timeout_ms(a->sig);
        if (a->replan)
            timeout = 0;
        if (deadline >= 0 && deadline - now < timeout)
            timeout = deadline <= now ? 0 : (int)(deadline - now);

        if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
            log_error("agent", "poll: %s", strerror(errno));
            break;
        }
        now = monotonic_ms();

        if (pfd[0].revents) {
            struct signalfd_siginfo si_info;
            while (read(sigfd, &si_info, sizeof si_info) == sizeof si_info) {
                if (si_info.ssi_signo == SIGCHLD) {
                    reap_children(a, now);
                } else if (si_info.ssi_signo != SIGHUP) {
                    log_info("agent", "signal %d: shutting down", (int)si_info.ssi_signo);
                    a->stopping = true;
                }
            }
        }
        if (pfd[1].revents)
            ctl_server_run(a->ctl);
        if (ti >= 0)
            run_helper_conn(a, &a->tincan, pfd[ti].revents, now);
        if (si >= 0)
            run_helper_conn(a, &a->switchctl, pfd[si].revents, now);
        (void)xi;
        sig_session_run(a->sig);   /* also drives its timers and reconnects */

        helper_run(&a->tincan, now);
        helper_run(&a->switchctl, now);
        a->replan = false;
        edge_plan(a, now);
        agent_check_ready(a, now);
    }
    rc = 0;

out:
    agent_notify(a, "STOPPING=1", "shutting down");
    /* helpers first: their disconnect callbacks still look at the peers */
    a->stopping = true;
    if (a->tincan.exe)
        helper_destroy(&a->tincan);
    if (a->switchctl.exe)
        helper_destroy(&a->switchctl);
    for (int i = 0; i < a->n_overlays; i++) {
        for (size_t j = 0; j < a->overlays[i].n_peers; j++) {
            json_decref(a->overlays[i].peers[j].edge.remote_creds);
            json_decref(a->overlays[i].peers[j].edge.pending_cands);
            json_decref(a->overlays[i].peers[j].edge.local_cands);
        }
        free(a->overlays[i].peers);
        edge_overlay_free(&a->overlays[i]);
    }
    sig_session_destroy(a->sig);
    ctl_server_close(a->ctl);
    if (sigfd >= 0)
        close(sigfd);
    free(a->notify_socket);
    free(a);
    return rc;
}
