/* evio-tincan's STUN and TURN servers (see servers.h): name resolution off
 * the loop, one UDP socket for every probe, the probes' timers, and the
 * state each server shows. All of it runs on GLib's default main context;
 * the protocol itself is stun.c's. */
#include "servers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "evio/config.h"
#include "evio/log.h"
#include "ice.h"
#include "stun.h"

#define SERVERS_MOD      "ice"
#define SERVERS_MAX      (2 * CONFIG_MAX_SERVERS)
#define SERVERS_READS    32        /* datagrams per wakeup */
#define SERVERS_RELOG_S  600       /* an unchanged error is logged again after this */
#define SERVERS_PORT     3478

struct server;

/* A name lookup in flight. It outlives its server when servers_free comes
 * first: the callback then finds S NULL and only frees it. */
struct server_lookup {
    struct server *s;
    GCancellable *cancel;
};

struct server {
    struct servers *owner;
    enum server_kind kind;
    const struct config_server *cfg;
    char name[280];               /* "host:port" as configured */
    enum server_state state;
    char error[128];              /* "" unless state is error */
    int64_t since_us;             /* when state or error last changed */
    bool have_addr, answered;
    struct sockaddr_in addr;
    bool have_mapped, have_relayed;
    struct sockaddr_in mapped, relayed;   /* what the last good probe saw */
    struct server_lookup *lookup;
    struct stun_probe *probe;     /* while a probe is in flight */
    int sends;                    /* of its request in flight */
    guint timer;                  /* the probe's resend, or the next probe */
    int64_t suspect_us;           /* when servers_suspect_turn last probed it */
    int64_t logged_us;            /* when ERROR was last logged */
    char logged[128];             /* what was logged */
    struct log_ratelimit rl;
};

struct servers {
    const struct config *cfg;
    int fd;                       /* every probe's socket; -1 if it could not be made */
    char fd_error[64];
    guint watch;
    GResolver *resolver;
    struct server s[SERVERS_MAX];
    int n;
};

static void server_cycle(struct server *s);

const char *server_state_name(enum server_state st)
{
    switch (st) {
#define SERVER_NAME(name, str) case SERVER_##name: return str;
    SERVER_STATES(SERVER_NAME)
#undef SERVER_NAME
    }
    return "?";
}

static const char *server_kind_name(const struct server *s)
{
    return s->kind == SERVER_TURN ? "turn" : "stun";
}

static void server_addr_format(const struct sockaddr_in *a, char *out, size_t n)
{
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, n, "%s:%u", ip, ntohs(a->sin_port));
}

static void servers_source_remove(guint *id)
{
    if (*id)
        g_source_remove(*id);
    *id = 0;
}

/* ---- the policy ----------------------------------------------------------- */

int servers_choose(const struct server_view *v, int n, bool relay_only, bool use_turn[])
{
    int n_turn = 0;
    for (int i = 0; i < n; i++) {
        use_turn[i] = v[i].kind == SERVER_TURN && v[i].have_addr
                      && (relay_only || v[i].state != SERVER_ERROR);
        n_turn += use_turn[i];
    }
    if (relay_only || n_turn)
        return -1;
    for (int i = 0; i < n; i++)
        if (v[i].kind == SERVER_STUN && v[i].have_addr && v[i].state == SERVER_OK)
            return i;
    for (int i = 0; i < n; i++)
        if (v[i].kind == SERVER_STUN && v[i].have_addr && v[i].state == SERVER_PROBING)
            return i;
    for (int i = 0; i < n; i++)
        if (v[i].kind == SERVER_TURN && v[i].have_addr && v[i].answered)
            return i;
    return -1;
}

/* servers_choose over SS's servers */
static int servers_pick(const struct servers *ss, bool use_turn[])
{
    struct server_view v[SERVERS_MAX];
    for (int i = 0; i < ss->n; i++)
        v[i] = (struct server_view){ .kind = ss->s[i].kind, .state = ss->s[i].state,
                                     .have_addr = ss->s[i].have_addr,
                                     .answered = ss->s[i].answered };
    return servers_choose(v, ss->n, ss->cfg->relay_only, use_turn);
}

/* ---- state ---------------------------------------------------------------- */

/* The one place a server's state changes: stamps the time and logs. An
 * error is logged when it is new, or again every SERVERS_RELOG_S while it
 * lasts (the probes repeat every minute); the line names the server and
 * the error, never credentials. */
static void server_set(struct server *s, enum server_state st, const char *error)
{
    int64_t now = g_get_monotonic_time();
    bool changed = st != s->state || strcmp(error, s->error);
    enum server_state was = s->state;
    if (changed) {
        s->state = st;
        snprintf(s->error, sizeof s->error, "%s", error);
        s->since_us = now;
    }
    if (st == SERVER_ERROR) {
        if (strcmp(s->logged, s->error)
            || now - s->logged_us >= (int64_t)SERVERS_RELOG_S * G_USEC_PER_SEC) {
            log_warn_rl(&s->rl, SERVERS_MOD, "%s %s: %s", server_kind_name(s), s->name,
                        s->error);
            snprintf(s->logged, sizeof s->logged, "%s", s->error);
            s->logged_us = now;
        }
    } else if (st == SERVER_OK && changed) {
        char m[32] = "", r[32] = "";
        if (s->have_mapped)
            server_addr_format(&s->mapped, m, sizeof m);
        if (s->have_relayed)
            server_addr_format(&s->relayed, r, sizeof r);
        log_info(SERVERS_MOD, "%s %s: ok%s%s%s%s%s", server_kind_name(s), s->name,
                 was == SERVER_ERROR ? " again" : "", *m ? ", sees us at " : "", m,
                 *r ? ", relay " : "", r);
        s->logged[0] = '\0';
    }
}

/* The next probe, after a good or a failed one (+-10%). */
static gboolean server_on_recheck(gpointer data);
static void server_schedule(struct server *s, bool ok)
{
    int base = ok ? SERVERS_RECHECK_OK_S : SERVERS_RECHECK_ERROR_S;
    int s10 = base / 10;
    servers_source_remove(&s->timer);
    s->timer = g_timeout_add_seconds((guint)g_random_int_range(base - s10, base + s10 + 1),
                                     server_on_recheck, s);
}

static gboolean server_on_recheck(gpointer data)
{
    struct server *s = data;
    s->timer = 0;
    server_cycle(s);
    return G_SOURCE_REMOVE;
}

/* ---- probing -------------------------------------------------------------- */

static void server_tid(uint8_t tid[STUN_TID_LEN])
{
    if (RAND_bytes(tid, STUN_TID_LEN) != 1)
        for (int i = 0; i < STUN_TID_LEN; i++)
            tid[i] = (uint8_t)g_random_int();
}

/* Ends the probe in flight: ERROR (NULL: the probe's own verdict). */
static void server_done(struct server *s, const char *error)
{
    struct stun_probe *p = s->probe;
    servers_source_remove(&s->timer);
    if (!p)
        return;
    s->probe = NULL;
    s->answered = p->answered;
    bool ok = !error && p->state == STUN_PROBE_OK;
    if (ok) {
        /* released at once: the probe only wanted to know */
        if (p->release_len)
            (void)sendto(s->owner->fd, p->release, p->release_len, 0,
                         (const struct sockaddr *)&s->addr, sizeof s->addr);
        s->have_mapped = p->has_mapped;
        s->mapped = p->mapped;
        s->have_relayed = p->has_relayed;
        s->relayed = p->relayed;
        server_set(s, SERVER_OK, "");
    } else {
        server_set(s, SERVER_ERROR, error ? error : *p->error ? p->error : "failed");
    }
    stun_probe_clear(p);
    OPENSSL_cleanse(p, sizeof *p);
    free(p);
    server_schedule(s, ok);
}

static gboolean server_on_resend(gpointer data);

/* Sends the request in flight and arms its resend (or its end). */
static void server_send(struct server *s)
{
    servers_source_remove(&s->timer);
    if (sendto(s->owner->fd, s->probe->req, s->probe->req_len, 0,
               (const struct sockaddr *)&s->addr, sizeof s->addr) < 0
        && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
        char e[96];
        snprintf(e, sizeof e, "cannot send: %s", strerror(errno));
        server_done(s, e);
        return;
    }
    s->sends++;
    s->timer = g_timeout_add((guint)SERVERS_RTO_MS << (s->sends - 1), server_on_resend, s);
}

static gboolean server_on_resend(gpointer data)
{
    struct server *s = data;
    s->timer = 0;
    if (s->sends < SERVERS_SENDS)
        server_send(s);
    else
        server_done(s, "no answer");
    return G_SOURCE_REMOVE;
}

static void server_probe(struct server *s)
{
    if (s->probe)
        return;
    if (s->state == SERVER_RESOLVING)
        server_set(s, SERVER_PROBING, "");
    if (s->owner->fd < 0) {
        server_set(s, SERVER_ERROR, s->owner->fd_error);
        server_schedule(s, false);
        return;
    }
    s->probe = calloc(1, sizeof *s->probe);
    if (!s->probe) {
        server_set(s, SERVER_ERROR, "out of memory");
        server_schedule(s, false);
        return;
    }
    uint8_t tid[STUN_TID_LEN];
    server_tid(tid);
    stun_probe_begin(s->probe, s->kind == SERVER_TURN, s->cfg->user, s->cfg->password, tid);
    s->sends = 0;
    if (!s->probe->req_len) {
        server_done(s, "request too long");
        return;
    }
    server_send(s);
}

/* ---- resolution ----------------------------------------------------------- */

/* A name is resolved by GResolver, which runs getaddrinfo on GLib's worker
 * threads and calls back on the default main context: a resolver that does
 * not answer then holds a worker thread, never this process's loop (which
 * carries every link's frames and the control socket). */
static void server_resolved(GObject *src, GAsyncResult *res, gpointer data)
{
    struct server_lookup *ls = data;
    struct server *s = ls->s;
    GError *e = NULL;
    GList *addrs = g_resolver_lookup_by_name_with_flags_finish(G_RESOLVER(src), res, &e);
    g_object_unref(ls->cancel);
    g_free(ls);
    if (!s) {   /* servers_free came first */
        g_resolver_free_addresses(addrs);
        g_clear_error(&e);
        return;
    }
    s->lookup = NULL;
    GInetAddress *v4 = NULL;
    for (GList *i = addrs; i && !v4; i = i->next)
        if (g_inet_address_get_family(i->data) == G_SOCKET_FAMILY_IPV4)
            v4 = i->data;
    if (!v4) {
        char why[128];
        if (!e)
            snprintf(why, sizeof why, "no IPv4 address");
        else if (g_error_matches(e, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
            snprintf(why, sizeof why, "name not resolved");
        else if (g_error_matches(e, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE))
            snprintf(why, sizeof why, "name not resolved (temporary failure)");
        else
            snprintf(why, sizeof why, "name not resolved (%.90s)", e->message);
        if (e)
            log_debug(SERVERS_MOD, "%s %s: %s", server_kind_name(s), s->name, e->message);
        g_resolver_free_addresses(addrs);
        g_clear_error(&e);
        if (s->have_addr) {
            /* a lookup again that failed: the address it had may still
             * work, and the probe says whether it does */
            log_debug(SERVERS_MOD, "%s %s: %s; probing the address it had", server_kind_name(s),
                      s->name, why);
            server_probe(s);
            return;
        }
        server_set(s, SERVER_ERROR, why);
        server_schedule(s, false);
        return;
    }
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons(s->cfg->port ? s->cfg->port : SERVERS_PORT) };
    memcpy(&a.sin_addr, g_inet_address_to_bytes(v4), 4);
    g_resolver_free_addresses(addrs);
    if (!s->have_addr || a.sin_addr.s_addr != s->addr.sin_addr.s_addr) {
        char ip[32];
        server_addr_format(&a, ip, sizeof ip);
        log_info(SERVERS_MOD, "%s %s: resolved to %s", server_kind_name(s), s->name, ip);
    }
    s->addr = a;
    s->have_addr = true;
    server_probe(s);
}

/* Resolves (a name) or takes (an IPv4 address) the server's address, then
 * probes it. */
static void server_cycle(struct server *s)
{
    struct in_addr ip;
    if (inet_pton(AF_INET, s->cfg->host, &ip) == 1) {
        s->addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = ip,
                                        .sin_port = htons(s->cfg->port ? s->cfg->port
                                                                       : SERVERS_PORT) };
        s->have_addr = true;
        server_probe(s);
        return;
    }
    if (s->lookup || s->probe)
        return;
    struct server_lookup *ls = g_new0(struct server_lookup, 1);
    ls->s = s;
    ls->cancel = g_cancellable_new();
    s->lookup = ls;
    log_debug(SERVERS_MOD, "%s %s: resolving", server_kind_name(s), s->name);
    g_resolver_lookup_by_name_with_flags_async(s->owner->resolver, s->cfg->host,
                                               G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY,
                                               ls->cancel, server_resolved, ls);
}

void servers_suspect_turn(struct servers *ss)
{
    if (!ss)
        return;
    int64_t now = g_get_monotonic_time();
    for (int i = 0; i < ss->n; i++) {
        struct server *s = &ss->s[i];
        if (s->kind != SERVER_TURN || s->state != SERVER_OK || s->probe || s->lookup
            || (s->suspect_us && now - s->suspect_us < SERVERS_SUSPECT_S * G_USEC_PER_SEC))
            continue;
        s->suspect_us = now;
        log_info(SERVERS_MOD, "turn %s: an allocation failed; probing it again", s->name);
        servers_source_remove(&s->timer);
        server_cycle(s);
    }
}

/* ---- the socket ----------------------------------------------------------- */

/* Every server at A with a probe in flight. */
static int servers_at(struct servers *ss, const struct sockaddr_in *a, struct server **out)
{
    int n = 0;
    for (int i = 0; i < ss->n; i++) {
        struct server *s = &ss->s[i];
        if (s->probe && s->addr.sin_addr.s_addr == a->sin_addr.s_addr
            && (!a->sin_port || s->addr.sin_port == a->sin_port))
            out[n++] = s;
    }
    return n;
}

static const char *servers_icmp_text(const struct sock_extended_err *ee, char *buf, size_t n)
{
    if (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == 3) {   /* destination unreachable */
        switch (ee->ee_code) {
        case 0: return "network unreachable (ICMP)";
        case 1: return "host unreachable (ICMP)";
        case 3: return "port unreachable (ICMP): no server listens there";
        case 9:
        case 10:
        case 13: return "administratively prohibited (ICMP)";
        }
    }
    snprintf(buf, n, "%s", strerror((int)ee->ee_errno));
    return buf;
}

/* ICMP errors for our probes (IP_RECVERR): the server is not there, said
 * at once instead of after every resend. */
static void servers_read_errors(struct servers *ss)
{
    for (int k = 0; k < SERVERS_READS; k++) {
        uint8_t data[64];
        union {
            char buf[512];
            struct cmsghdr align;
        } ctl;
        struct sockaddr_in dst;
        struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
        struct msghdr mh = { .msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = &iov,
                             .msg_iovlen = 1, .msg_control = ctl.buf,
                             .msg_controllen = sizeof ctl.buf };
        if (recvmsg(ss->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            return;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR)
                continue;
            const struct sock_extended_err *ee = (const void *)CMSG_DATA(c);
            if (mh.msg_namelen < sizeof dst || dst.sin_family != AF_INET)
                continue;
            char text[96];
            struct server *at[SERVERS_MAX];
            int n = servers_at(ss, &dst, at);
            for (int i = 0; i < n; i++)
                server_done(at[i], servers_icmp_text(ee, text, sizeof text));
        }
    }
}

static gboolean servers_on_input(gint fd, GIOCondition cond, gpointer data)
{
    struct servers *ss = data;
    if (cond & G_IO_ERR)
        servers_read_errors(ss);
    uint8_t buf[STUN_MAX_MSG + 1];
    for (int k = 0; k < SERVERS_READS; k++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            servers_read_errors(ss);   /* a queued ICMP error surfaces here too */
            continue;
        }
        if (fl != sizeof from || from.sin_family != AF_INET || from.sin_port == 0)
            continue;
        struct server *at[SERVERS_MAX];
        int m = servers_at(ss, &from, at);
        for (int i = 0; i < m; i++) {
            uint8_t tid[STUN_TID_LEN];
            server_tid(tid);
            enum stun_step st = stun_probe_input(at[i]->probe, buf, (size_t)n, tid);
            if (st == STUN_STEP_SEND) {
                at[i]->sends = 0;
                server_send(at[i]);
            } else if (st == STUN_STEP_DONE) {
                server_done(at[i], NULL);
            }
            if (st != STUN_STEP_IGNORED)
                break;
        }
    }
    return G_SOURCE_CONTINUE;
}

static void servers_open_socket(struct servers *ss)
{
    int on = 1;
    ss->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ss->fd < 0) {
        snprintf(ss->fd_error, sizeof ss->fd_error, "no socket: %s", strerror(errno));
        log_warn(SERVERS_MOD, "STUN/TURN probes: %s", ss->fd_error);
        return;
    }
    if (setsockopt(ss->fd, SOL_IP, IP_RECVERR, &on, sizeof on) < 0)
        log_debug(SERVERS_MOD, "IP_RECVERR: %s", strerror(errno));
    ss->watch = g_unix_fd_add(ss->fd, G_IO_IN | G_IO_ERR, servers_on_input, ss);
}

/* ---- lifecycle ------------------------------------------------------------ */

static void servers_add(struct servers *ss, enum server_kind kind, const struct config_server *c)
{
    if (!c->host || ss->n >= SERVERS_MAX)
        return;
    struct server *s = &ss->s[ss->n++];
    s->owner = ss;
    s->kind = kind;
    s->cfg = c;
    s->state = SERVER_RESOLVING;
    s->since_us = g_get_monotonic_time();
    s->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(600, 6);
    snprintf(s->name, sizeof s->name, strchr(c->host, ':') ? "[%s]:%u" : "%s:%u", c->host,
             c->port ? c->port : SERVERS_PORT);
}

struct servers *servers_new(const struct config *cfg)
{
    struct servers *ss = calloc(1, sizeof *ss);
    if (!ss)
        return NULL;
    ss->cfg = cfg;
    ss->fd = -1;
    for (int i = 0; i < cfg->n_stun; i++)
        servers_add(ss, SERVER_STUN, &cfg->stun[i]);
    for (int i = 0; i < cfg->n_turn; i++)
        servers_add(ss, SERVER_TURN, &cfg->turn[i]);
    if (!ss->n)
        return ss;
    ss->resolver = g_resolver_get_default();
    servers_open_socket(ss);
    for (int i = 0; i < ss->n; i++)
        server_cycle(&ss->s[i]);
    return ss;
}

void servers_free(struct servers *ss)
{
    if (!ss)
        return;
    for (int i = 0; i < ss->n; i++) {
        struct server *s = &ss->s[i];
        servers_source_remove(&s->timer);
        if (s->lookup) {
            s->lookup->s = NULL;
            g_cancellable_cancel(s->lookup->cancel);
        }
        if (s->probe) {
            stun_probe_clear(s->probe);
            OPENSSL_cleanse(s->probe, sizeof *s->probe);
            free(s->probe);
        }
    }
    servers_source_remove(&ss->watch);
    if (ss->fd >= 0)
        close(ss->fd);
    if (ss->resolver)
        g_object_unref(ss->resolver);
    free(ss);
}

/* ---- views ---------------------------------------------------------------- */

static void server_ice(const struct server *s, struct ice_server *out, bool credentials)
{
    memset(out, 0, sizeof *out);
    inet_ntop(AF_INET, &s->addr.sin_addr, out->ip, sizeof out->ip);
    out->port = ntohs(s->addr.sin_port);
    if (credentials) {
        out->user = s->cfg->user;
        out->password = s->cfg->password;
    }
}

int servers_for_agent(const struct servers *ss, struct ice_server *stun, bool *stun_ok,
                      struct ice_server *turn, int max_turn)
{
    *stun_ok = false;
    if (!ss || !ss->n)
        return 0;
    bool use[SERVERS_MAX];
    int st = servers_pick(ss, use);
    int n = 0;
    for (int i = 0; i < ss->n && n < max_turn; i++)
        if (use[i])
            server_ice(&ss->s[i], &turn[n++], true);
    if (st >= 0) {
        server_ice(&ss->s[st], stun, false);
        *stun_ok = true;
    }
    if (log_enabled(SERVERS_MOD, LOG_DEBUG))
        log_debug(SERVERS_MOD, "a new agent gets %d TURN server(s) and %s%s", n,
                  st >= 0 ? "STUN server " : "no STUN server", st >= 0 ? ss->s[st].name : "");
    return n;
}

json_t *servers_json(const struct servers *ss)
{
    json_t *arr = json_array();
    if (!ss || !arr)
        return arr;
    bool use[SERVERS_MAX];
    int st = servers_pick(ss, use);
    int64_t now = g_get_monotonic_time();
    for (int i = 0; i < ss->n; i++) {
        const struct server *s = &ss->s[i];
        char addr[32] = "", mapped[32] = "", relayed[32] = "";
        if (s->have_addr)
            server_addr_format(&s->addr, addr, sizeof addr);
        if (s->have_mapped)
            server_addr_format(&s->mapped, mapped, sizeof mapped);
        if (s->have_relayed)
            server_addr_format(&s->relayed, relayed, sizeof relayed);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s}",
                              "kind", server_kind_name(s), "server", s->name, "address", addr,
                              "state", server_state_name(s->state), "error", s->error,
                              "since_s", (json_int_t)((now - s->since_us) / G_USEC_PER_SEC),
                              "used_as", use[i] ? "turn" : st == i ? "stun" : "",
                              "mapped", mapped,
                              "relayed", relayed);
        if (o)
            json_array_append_new(arr, o);
    }
    return arr;
}
