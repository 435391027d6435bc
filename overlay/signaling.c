/* XMPP signalling session (signaling.h) on libstrophe: connection and
 * reconnection, MUC room membership per overlay, payload delivery. The node
 * agent decides what to say; this file only knows who is there and carries
 * the words. Only file in evio that includes strophe.h. */
#include "signaling.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <strophe.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "evio/config.h"
#include "evio/log.h"
#include "evio/nodeid.h"
#include "evio/timing.h"
#include "resolver.h"

#define SIG_LOG "xmpp"

#define SIG_NS_MUC      "http://jabber.org/protocol/muc"
#define SIG_NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define SIG_NS_HINTS    "urn:xmpp:hints"

#define SIG_STABLE_MS         30000   /* online this long: the next failure starts backoff over */
#define SIG_CONNECT_LIMIT_MS  30000   /* TCP + TLS + SASL + bind must finish within this */
#define SIG_IDLE_MS           1000    /* longest sleep we allow the agent */
#define SIG_BUSY_MS           10      /* sleep while libstrophe waits for writability */
#define SIG_CLOSE_WAIT_MS     1000    /* destroy waits this long for a clean close */
#define SIG_REJOIN_MAX_MS     5000    /* a refused room join is tried again at least this often */
/* A server going down closes its sessions one by one, so the room announces
 * peers leaving just before our own stream ends. Departures wait this long:
 * if our session drops meanwhile, the next join's roster decides instead. */
#define SIG_LEAVE_GRACE_MS    2000
/* After a server outage peers come back at their own backoff's pace (up to
 * BACKOFF_MAX_MS apart): one missing from the roster when we rejoin is
 * given this long to reappear before it is reported gone. */
#define SIG_REJOIN_GRACE_MS   (BACKOFF_MAX_MS + SIG_CONNECT_LIMIT_MS)
/* libstrophe reads at most 4 KiB per xmpp_run_once; a 16 KiB TLS record can
 * leave 12 KiB decrypted inside OpenSSL where poll() cannot see it. After the
 * socket looks empty, this many more rounds drain such a record. */
#define SIG_DRAIN_ROUNDS      4
#define SIG_RUN_MAX_ROUNDS    256     /* bound one run's work; the next run goes on */

#define SIG_SESSION_LEN    16   /* an agent session: hex digits */

/* After losing a server that was reachable, BACKOFF probes it with a TCP
 * connect every 0.5-1.5 s (a SYN, answered by a RST while it is down) and
 * attempts a session 0-1.5 s after a probe connects: back in the rooms
 * within ~3 s of the server's return, and a thousand nodes spread over
 * seconds rather than arriving in one. The full backoff still bounds the
 * wait when probes cannot tell (a server that accepts TCP but fails). */
#define SIG_PROBE_MIN_MS     500
#define SIG_PROBE_SPREAD_MS  1000
#define SIG_PROBE_WAIT_MS    1000   /* a probe's connect may take this long */
#define SIG_ARRIVE_SPREAD_MS 1500
#define SIG_RESOLVE_POLL_MS  50

#define SIG_TCP_KEEPIDLE   30   /* seconds: a dead server is noticed in ~1 minute */
#define SIG_TCP_KEEPINTVL  10
#define SIG_TCP_KEEPCNT    3

static const char *const sig_state_names[] = {
    [SIG_BACKOFF] = "backoff",
    [SIG_RESOLVING] = "resolving",
    [SIG_CONNECTING] = "connecting",
    [SIG_ONLINE] = "online",
};

const char *sig_state_name(enum sig_state st)
{
    return (unsigned) st < sizeof sig_state_names / sizeof sig_state_names[0]
           ? sig_state_names[st] : "?";
}

/* An occupant of a room. SEEN is cleared when we (re)join so that occupants
 * who left while we were away can be reported once the roster is complete.
 * LEAVE_AT is when to report it gone unless it reappears (0: present). */
struct sig_peer {
    struct nodeid id;
    bool seen;
    int64_t leave_at;
    char session[SIG_SESSION_LEN + 1];   /* from its presence, "" if none */
};

struct sig_room {
    char overlay[33];          /* config limits names to 32 characters */
    char *jid;                  /* "overlay@muc_domain" */
    struct sig_peer *peers;     /* sorted by id */
    size_t n_peers, cap;
    bool joined;                /* our own presence came back */
    int join_failures;          /* join refusals in a row, for backoff_ms() */
    int64_t rejoin_at;          /* after a refusal: when to try again, 0 = not waiting */
    char join_error[64];        /* the last refusal's condition ("conflict"), "" if none */
};

struct sig_session {
    /* configuration, copied */
    char *host;
    uint16_t port;
    char *jid;                  /* with a resource */
    char *domain;               /* the JID's domain, for messages */
    char *password;
    enum xmpp_tls_mode tls;
    char *ca_file;
    char node_id[NODEID_HEX_LEN + 1];
    char session[SIG_SESSION_LEN + 1];   /* ours, announced in room presence */
    struct sig_room rooms[CONFIG_MAX_OVERLAYS];
    int n_rooms;
    struct sig_callbacks cb;
    void *aux;

    /* libstrophe */
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;          /* NULL in BACKOFF once released */
    xmpp_log_t logger;
    int fd;

    /* the server's address, looked up before each attempt */
    struct resolver *resolving;
    struct resolver_result addr;
    bool have_addr;

    /* state */
    enum sig_state state;
    int64_t state_since;        /* ms, monotonic */
    int64_t retry_at;           /* BACKOFF: when to connect again */
    int failures;               /* attempts failed in a row, for backoff_ms() */
    bool flush_wanted;          /* send() queued data: run soon */
    bool cert_rejected;         /* this attempt failed TLS verification */
    char auth_failed[64];       /* SASL failure condition of this attempt */
    bool probe_next;            /* the next BACKOFF may probe (server lost) */
    bool probing;               /* this BACKOFF probes */
    int probe_fd;               /* a probe's connect in flight, or -1 */
    int64_t probe_at;           /* when to probe next / the probe's deadline */
    bool probe_led;             /* this attempt began because a probe connected */
    char lib_error[160];        /* libstrophe's last warning of this attempt */
    uint64_t rng;
    struct sig_stats stats;
};

/* libstrophe's certificate-failure and socket callbacks carry no user data.
 * They only run inside our own calls into libstrophe, which set this for
 * their duration, so it always names the session they belong to. */
static struct sig_session *sig_active;

static uint32_t sig_random(struct sig_session *s)   /* xorshift64*, for jitter only */
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (uint32_t) ((s->rng * 0x2545f4914f6cdd1dULL) >> 32);
}

static bool sig_is_node_id(const char *s)
{
    struct nodeid id;
    return nodeid_parse(s, &id);
}

/* ---- state -------------------------------------------------------------- */

/* The one place the state changes: logs, stamps, tells the agent. WHY is
 * reported when going down. */
static void sig_set_state(struct sig_session *s, enum sig_state next, const char *why)
{
    enum sig_state prev = s->state;
    if (prev == next)
        return;
    s->state = next;
    s->state_since = monotonic_ms();
    s->stats.state = next;

    if (next == SIG_BACKOFF) {
        snprintf(s->stats.last_error, sizeof s->stats.last_error, "%s", why);
        int delay = (int) backoff_ms(++s->failures, sig_random(s));
        s->retry_at = s->state_since + delay;
        s->fd = -1;
        s->probing = s->probe_next && s->have_addr;
        s->probe_next = false;
        s->probe_at = s->state_since + SIG_PROBE_MIN_MS + sig_random(s) % SIG_PROBE_SPREAD_MS;
        log_info(SIG_LOG, "%s -> %s: %s; retrying in %d.%03d s%s", sig_state_name(prev),
                 sig_state_name(next), why, delay / 1000, delay % 1000,
                 s->probing ? ", sooner if a probe finds the server back" : "");
    } else {
        log_info(SIG_LOG, "%s -> %s%s%s", sig_state_name(prev), sig_state_name(next),
                 why ? ": " : "", why ? why : "");
    }

    if (next == SIG_ONLINE && s->cb.state)
        s->cb.state(s->aux, true, "online");
    else if (next == SIG_BACKOFF && s->cb.state)
        s->cb.state(s->aux, false, why);
}

/* ---- rooms and occupants ------------------------------------------------ */

/* Index of ID in ROOM's sorted peers, or where it would go (*FOUND false). */
static size_t sig_peer_find(const struct sig_room *room, const struct nodeid *id, bool *found)
{
    size_t lo = 0, hi = room->n_peers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = nodeid_cmp(&room->peers[mid].id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void sig_peer_remove(struct sig_session *s, struct sig_room *room, size_t i)
{
    char hex[NODEID_HEX_LEN + 1];
    nodeid_format(&room->peers[i].id, hex);
    memmove(&room->peers[i], &room->peers[i + 1],
            (room->n_peers - i - 1) * sizeof room->peers[0]);
    room->n_peers--;
    s->stats.peers--;
    log_info(SIG_LOG, "%s: peer %s left", room->overlay, hex);
    if (s->cb.peer_left)
        s->cb.peer_left(s->aux, room->overlay, hex);
}

/* An "available" from occupant NICK. It cancels a departure still in its
 * grace period whatever the order the server sent them in: a node that
 * reconnects while the server is still closing its old session gets the old
 * session's "unavailable" broadcast around its own new presence. */
static void sig_peer_present(struct sig_session *s, struct sig_room *room, const char *nick,
                             const char *session)
{
    struct nodeid id;
    bool found;

    if (!nodeid_parse(nick, &id))
        return;
    size_t i = sig_peer_find(room, &id, &found);
    if (found && room->peers[i].seen && !room->peers[i].leave_at
        && !strcmp(room->peers[i].session, session))
        return;   /* a status update from someone already reported */
    if (!found) {
        if (room->n_peers == room->cap) {
            size_t cap = room->cap ? room->cap * 2 : 16;
            struct sig_peer *p = realloc(room->peers, cap * sizeof *p);
            if (!p) {
                log_error(SIG_LOG, "%s: out of memory tracking peer %s", room->overlay, nick);
                return;
            }
            room->peers = p;
            room->cap = cap;
        }
        memmove(&room->peers[i + 1], &room->peers[i], (room->n_peers - i) * sizeof *room->peers);
        memset(&room->peers[i], 0, sizeof room->peers[i]);
        room->peers[i].id = id;
        room->n_peers++;
        s->stats.peers++;
        log_info(SIG_LOG, "%s: peer %s joined", room->overlay, nick);
    } else if (room->peers[i].leave_at) {
        log_info(SIG_LOG, "%s: peer %s is back", room->overlay, nick);
    }
    room->peers[i].seen = true;
    room->peers[i].leave_at = 0;
    snprintf(room->peers[i].session, sizeof room->peers[i].session, "%s", session);
    if (s->cb.peer_joined)
        s->cb.peer_joined(s->aux, room->overlay, nick, session);
}

/* Reports the departures whose grace period is over. Only while online: once
 * our own session dropped, the next join's roster settles them. */
static void sig_sweep_departures(struct sig_session *s)
{
    int64_t now = monotonic_ms();
    for (int r = 0; r < s->n_rooms && s->state == SIG_ONLINE; r++) {
        struct sig_room *room = &s->rooms[r];
        for (size_t i = room->n_peers; i-- > 0;)
            if (room->peers[i].leave_at && now >= room->peers[i].leave_at)
                sig_peer_remove(s, room, i);
    }
}

/* Our own presence closes the roster of a join: whoever we knew from before
 * a reconnect and did not see again has left meanwhile, or has not yet come
 * back from the same outage. */
static void sig_room_joined(struct sig_session *s, struct sig_room *room)
{
    size_t missing = 0;
    if (room->joined)
        return;
    room->joined = true;
    room->join_failures = 0;
    room->rejoin_at = 0;
    room->join_error[0] = '\0';
    for (size_t i = 0; i < room->n_peers; i++) {
        if (!room->peers[i].seen && !room->peers[i].leave_at) {
            room->peers[i].leave_at = monotonic_ms() + SIG_REJOIN_GRACE_MS;
            missing++;
        }
    }
    log_info(SIG_LOG, "%s: joined room %s; %zu peers present, %zu awaited", room->overlay,
             room->jid, room->n_peers - missing, missing);
}

/* Splits a room occupant's JID "room@muc/nick": returns the room and points
 * *NICK into FROM, or NULL if FROM is not in one of our rooms. */
static struct sig_room *sig_room_of(struct sig_session *s, const char *from, const char **nick)
{
    const char *slash = from ? strchr(from, '/') : NULL;
    if (!slash)
        return NULL;
    size_t bare = (size_t) (slash - from);
    for (int i = 0; i < s->n_rooms; i++) {
        if (strlen(s->rooms[i].jid) == bare && !strncasecmp(s->rooms[i].jid, from, bare)) {
            *nick = slash + 1;
            return &s->rooms[i];
        }
    }
    return NULL;
}

/* ---- stanzas ------------------------------------------------------------ */

/* Adds a child element NAME (in NS, if given) to PARENT and returns it
 * (owned by PARENT), or NULL when out of memory. */
static xmpp_stanza_t *sig_child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
                                const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_new(ctx);
    if (!c)
        return NULL;
    if (xmpp_stanza_set_name(c, name) != XMPP_EOK || (ns && xmpp_stanza_set_ns(c, ns) != XMPP_EOK)
        || xmpp_stanza_add_child(parent, c) != XMPP_EOK) {
        xmpp_stanza_release(c);
        return NULL;
    }
    xmpp_stanza_release(c);   /* the parent holds it now */
    return c;
}

static bool sig_has_status(xmpp_stanza_t *x, const char *code)
{
    for (xmpp_stanza_t *c = x ? xmpp_stanza_get_children(x) : NULL; c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        const char *v = xmpp_stanza_get_attribute(c, "code");
        if (name && v && !strcmp(name, "status") && !strcmp(v, code))
            return true;
    }
    return false;
}

/* The defined condition of an error stanza ("conflict"), for logs. */
static const char *sig_error_condition(xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(stanza, "error");
    for (xmpp_stanza_t *c = err ? xmpp_stanza_get_children(err) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (xmpp_stanza_is_tag(c) && name && strcmp(name, "text"))
            return name;
    }
    return "unknown error";
}

/* The agent session an occupant's presence announces (<evio session=""/>),
 * or "" if it has none that is well formed. */
static const char *sig_presence_session(xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *ev = xmpp_stanza_get_child_by_name_and_ns(stanza, "evio", SIG_NS);
    const char *v = ev ? xmpp_stanza_get_attribute(ev, "session") : NULL;
    if (!v || strlen(v) != SIG_SESSION_LEN || strspn(v, "0123456789abcdef") != SIG_SESSION_LEN)
        return "";
    return v;
}

static void sig_join_room(struct sig_session *s, struct sig_room *room);

static int sig_on_presence(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);
    struct sig_session *s = userdata;
    const char *nick = NULL;
    struct sig_room *room = sig_room_of(s, xmpp_stanza_get_from(stanza), &nick);
    const char *type = xmpp_stanza_get_type(stanza);

    if (!room)
        return 1;   /* not about our rooms (a contact's presence, say) */
    if (type && !strcmp(type, "error")) {
        /* e.g. "conflict": another occupant holds our nickname (a squatter,
         * or our own previous session not yet gone): never stay out, try
         * again with backoff and say so in status */
        room->joined = false;
        room->join_failures++;
        int64_t delay = backoff_ms(room->join_failures, (uint32_t)monotonic_ms());
        if (delay > SIG_REJOIN_MAX_MS)
            delay = SIG_REJOIN_MAX_MS;      /* back within seconds once the squatter goes */
        room->rejoin_at = monotonic_ms() + delay;
        snprintf(room->join_error, sizeof room->join_error, "%s", sig_error_condition(stanza));
        s->stats.join_refusals++;
        log_error(SIG_LOG, "%s: cannot join room %s as %s: %s; trying again in %lld ms",
                  room->overlay, room->jid, s->node_id, room->join_error, (long long)delay);
        return 1;
    }

    bool gone = type && !strcmp(type, "unavailable");
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_name_and_ns(stanza, "x", SIG_NS_MUC_USER);
    if (sig_has_status(x, "110") || !strcmp(nick, s->node_id)) {
        if (!sig_has_status(x, "110"))
            return 1;   /* another session of ours under the same nick */
        if (gone) {
            /* e.g. our previous session's departure, processed by the server
             * after our new presence: we are out, so in again at once */
            room->joined = false;
            log_warn(SIG_LOG, "%s: removed from room %s; rejoining", room->overlay, room->jid);
            sig_join_room(s, room);
        } else {
            sig_room_joined(s, room);
        }
        return 1;
    }
    if (!sig_is_node_id(nick)) {
        log_warn_rl(&rl, SIG_LOG, "%s: ignoring occupant whose nick is not a node id",
                    room->overlay);
        return 1;
    }
    if (gone) {
        struct nodeid id;
        bool found;
        nodeid_parse(nick, &id);
        size_t i = sig_peer_find(room, &id, &found);
        if (found && !room->peers[i].leave_at)
            room->peers[i].leave_at = monotonic_ms() + SIG_LEAVE_GRACE_MS;
    } else {
        sig_peer_present(s, room, nick, sig_presence_session(stanza));
    }
    return 1;
}

static int sig_on_message(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);
    struct sig_session *s = userdata;
    const char *from = xmpp_stanza_get_from(stanza);
    const char *type = xmpp_stanza_get_type(stanza);
    xmpp_stanza_t *ev = xmpp_stanza_get_child_by_name_and_ns(stanza, "evio", SIG_NS);
    const char *nick = NULL;

    if (!ev)
        return 1;   /* room subjects, chat from humans: not ours to count */
    if (type && !strcmp(type, "error")) {
        /* the server bounced what we sent, typically because the peer left */
        s->stats.bounced++;
        log_debug(SIG_LOG, "message to %s bounced: %s", from ? from : "?",
                  sig_error_condition(stanza));
        return 1;
    }
    struct sig_room *room = sig_room_of(s, from, &nick);
    if (!room || !sig_is_node_id(nick) || !strcmp(nick, s->node_id)) {
        s->stats.dropped++;
        log_warn_rl(&rl, SIG_LOG, "dropped signalling message from a non-occupant");
        return 1;
    }
    char *text = xmpp_stanza_get_text(ev);
    size_t len = text ? strlen(text) : 0;
    if (!text || len > SIG_MAX_PAYLOAD) {
        s->stats.dropped++;
        log_warn_rl(&rl, SIG_LOG, "%s: dropped %s message from %s (%zu bytes, limit %d)",
                    room->overlay, text ? "oversized" : "empty", nick, len, SIG_MAX_PAYLOAD);
    } else {
        s->stats.received++;
        if (s->cb.message)
            s->cb.message(s->aux, room->overlay, nick, text, len);
    }
    if (text)
        xmpp_free(s->ctx, text);
    return 1;
}

/* Sends our presence to ROOM: joining it, or asserting we are in it. */
static void sig_join_room(struct sig_session *s, struct sig_room *room)
{
    char to[512];
    snprintf(to, sizeof to, "%s/%s", room->jid, s->node_id);
    xmpp_stanza_t *p = xmpp_presence_new(s->ctx);
    xmpp_stanza_t *x = p ? sig_child(s->ctx, p, "x", SIG_NS_MUC) : NULL;
    xmpp_stanza_t *h = x ? sig_child(s->ctx, x, "history", NULL) : NULL;
    xmpp_stanza_t *ev = h && s->session[0] ? sig_child(s->ctx, p, "evio", SIG_NS) : h;
    if (!ev || xmpp_stanza_set_to(p, to) != XMPP_EOK
        || xmpp_stanza_set_attribute(h, "maxstanzas", "0") != XMPP_EOK
        || (s->session[0] && xmpp_stanza_set_attribute(ev, "session", s->session) != XMPP_EOK)) {
        log_error(SIG_LOG, "%s: out of memory joining %s", room->overlay, room->jid);
    } else {
        xmpp_send(s->conn, p);
        s->flush_wanted = true;
        log_debug(SIG_LOG, "%s: joining %s", room->overlay, to);
    }
    if (p)
        xmpp_stanza_release(p);
}

static void sig_join_rooms(struct sig_session *s)
{
    xmpp_stanza_t *p = xmpp_presence_new(s->ctx);   /* become available */
    if (p) {
        xmpp_send(s->conn, p);
        xmpp_stanza_release(p);
    }
    for (int i = 0; i < s->n_rooms; i++) {
        struct sig_room *room = &s->rooms[i];
        room->joined = false;
        room->rejoin_at = 0;
        for (size_t j = 0; j < room->n_peers; j++) {
            room->peers[j].seen = false;
            room->peers[j].leave_at = 0;
        }
        sig_join_room(s, room);
    }
}

/* ---- connection --------------------------------------------------------- */

static int sig_on_certfail(const xmpp_tlscert_t *cert, const char *const errormsg)
{
    struct sig_session *s = sig_active;
    const char *subject = xmpp_tlscert_get_string(cert, XMPP_CERT_SUBJECT);
    const char *issuer = xmpp_tlscert_get_string(cert, XMPP_CERT_ISSUER);

    log_error(SIG_LOG, "TLS certificate of %s not trusted (%s; subject %s, issuer %s): "
              "refusing to connect", s ? s->domain : "the server",
              errormsg ? errormsg : "verification failed", subject ? subject : "?",
              issuer ? issuer : "?");
    if (s) {
        s->cert_rejected = true;
        snprintf(s->lib_error, sizeof s->lib_error, "TLS certificate of %s not trusted (%s)",
                 s->domain, errormsg ? errormsg : "verification failed");
    }
    return 0;   /* never connect to a server we cannot verify */
}

static int sig_on_socket(xmpp_conn_t *conn, void *sock)
{
    int fd = *(int *) sock;
    int on = 1, idle = SIG_TCP_KEEPIDLE, intvl = SIG_TCP_KEEPINTVL, cnt = SIG_TCP_KEEPCNT;

    if (sig_active)
        sig_active->fd = fd;
    /* the agent forks evio-tincan and evio-switchctl: keep the socket ours */
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on)
        || setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle)
        || setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl)
        || setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt))
        log_warn(SIG_LOG, "cannot enable TCP keepalive: %s", strerror(errno));
    return 0;
}

/* RFC 6120 4.9.3 condition names, in libstrophe's enum order. */
static const char *sig_stream_error_name(xmpp_error_type_t t)
{
    static const char *const names[] = {
        "bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone",
        "host-unknown", "improper-addressing", "internal-server-error", "invalid-from",
        "invalid-id", "invalid-namespace", "invalid-xml", "not-authorized", "policy-violation",
        "remote-connection-failed", "resource-constraint", "restricted-xml", "see-other-host",
        "system-shutdown", "undefined-condition", "unsupported-encoding",
        "unsupported-stanza-type", "unsupported-version", "xml-not-well-formed",
    };
    return (unsigned) t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static void sig_on_conn(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                        xmpp_stream_error_t *stream_error, void *userdata)
{
    struct sig_session *s = userdata;
    char why[200];

    if (event == XMPP_CONN_CONNECT) {
        s->lib_error[0] = '\0';
        s->probe_led = false;
        sig_set_state(s, SIG_ONLINE, xmpp_conn_is_secured(conn) ? "TLS" : "no TLS");
        sig_join_rooms(s);
        return;
    }
    if (event == XMPP_CONN_RAW_CONNECT)
        return;

    /* The server was there and went away, or could not be reached: a probe
     * can tell when it is back. Not when it answered and refused us, nor
     * after an attempt a probe started failed (it takes TCP but no session:
     * the plain backoff paces those). libstrophe reports a refused connect
     * with no errno, so "could not be reached" is all the rest. */
    s->probe_next = s->state == SIG_ONLINE
                    || (!s->cert_rejected && !s->auth_failed[0] && !stream_error
                        && !s->probe_led);
    if (s->auth_failed[0])
        snprintf(why, sizeof why, "authentication failed for %.*s (%s)",
                 (int)strcspn(s->jid, "/"), s->jid, s->auth_failed);
    else if (s->cert_rejected || (s->lib_error[0] && !stream_error && !error))
        snprintf(why, sizeof why, "%s", s->lib_error);
    else if (stream_error)
        snprintf(why, sizeof why, "server closed the stream: %s%s%s%s",
                 sig_stream_error_name(stream_error->type), stream_error->text ? " (" : "",
                 stream_error->text ? stream_error->text : "", stream_error->text ? ")" : "");
    else if (error)
        snprintf(why, sizeof why, "%s", strerror(error));
    else
        snprintf(why, sizeof why, s->state == SIG_ONLINE ? "connection closed"
                                                         : "connection attempt failed");
    if (s->state == SIG_ONLINE && s->state_since + SIG_STABLE_MS <= monotonic_ms())
        s->failures = 0;
    /* the conn is released by sig_session_run, outside libstrophe's frames */
    sig_set_state(s, SIG_BACKOFF, why);
}

static void sig_log(void *userdata, xmpp_log_level_t level, const char *area, const char *msg)
{
    struct sig_session *s = userdata;

    if (level >= XMPP_LEVEL_WARN && !s->cert_rejected)
        snprintf(s->lib_error, sizeof s->lib_error, "%s: %s", area, msg);
    /* libstrophe says only "Cannot authenticate with known methods"; the
     * server's <failure/> (RFC 6120 6.5) names why, and comes to us only
     * through its traffic log */
    const char *f = strstr(msg, "<failure");
    if (f && strstr(f, "xmpp-sasl")) {
        const char *c = strchr(f, '>');
        if (c && c[-1] != '/' && c[1] == '<' && c[2] != '/') {
            size_t n = strcspn(c + 2, " />");
            snprintf(s->auth_failed, sizeof s->auth_failed, "%.*s", (int)n, c + 2);
        }
        if (!s->auth_failed[0])
            snprintf(s->auth_failed, sizeof s->auth_failed, "%s", "failure");
    }
    if (!log_enabled(SIG_LOG, LOG_DEBUG))
        return;
    /* SASL PLAIN carries the password (base64 is not secrecy) */
    if (strstr(msg, "urn:ietf:params:xml:ns:xmpp-sasl"))
        msg = "[SASL exchange not logged]";
    log_debug(SIG_LOG, "%s: %s", area, msg);
}

static void sig_release_conn(struct sig_session *s)
{
    if (s->conn) {
        xmpp_conn_release(s->conn);
        s->conn = NULL;
    }
    s->fd = -1;
}

/* A fresh conn per attempt: nothing of a dead stream's state survives. */
static void sig_connect(struct sig_session *s)
{
    long flags = XMPP_CONN_FLAG_DISABLE_SM;   /* see below */

    sig_release_conn(s);
    s->cert_rejected = false;
    s->auth_failed[0] = '\0';
    s->lib_error[0] = '\0';
    sig_set_state(s, SIG_CONNECTING, s->addr.text);

    /* Stream management would keep a dead session "hibernating" on the server
     * and our room presence with it: peers would not see us leave. */
    switch (s->tls) {
    case XMPP_TLS_REQUIRED: flags |= XMPP_CONN_FLAG_MANDATORY_TLS; break;
    case XMPP_TLS_DIRECT:   flags |= XMPP_CONN_FLAG_LEGACY_SSL; break;
    case XMPP_TLS_NONE:     flags |= XMPP_CONN_FLAG_DISABLE_TLS; break;
    }

    s->conn = xmpp_conn_new(s->ctx);
    if (!s->conn || xmpp_conn_set_flags(s->conn, flags) != XMPP_EOK) {
        sig_set_state(s, SIG_BACKOFF, "cannot create an XMPP connection");
        return;
    }
    xmpp_conn_set_jid(s->conn, s->jid);
    xmpp_conn_set_pass(s->conn, s->password);
    if (s->ca_file)
        xmpp_conn_set_cafile(s->conn, s->ca_file);
    xmpp_conn_set_certfail_handler(s->conn, sig_on_certfail);
    xmpp_conn_set_sockopt_callback(s->conn, sig_on_socket);
    xmpp_handler_add(s->conn, sig_on_presence, NULL, "presence", NULL, s);
    xmpp_handler_add(s->conn, sig_on_message, NULL, "message", NULL, s);

    if (s->tls == XMPP_TLS_NONE)
        log_warn(SIG_LOG, "connecting to %s:%u WITHOUT TLS (tls \"none\"): signalling and "
                 "password travel in clear", s->host, s->port);
    /* the address looked up for host (libstrophe would look it up itself,
     * blocking the loop); the JID's domain stays the XMPP domain, and the
     * name the certificate must carry */
    if (xmpp_connect_client(s->conn, s->addr.text, s->port, sig_on_conn, s) != XMPP_EOK)
        sig_set_state(s, SIG_BACKOFF, s->lib_error[0] ? s->lib_error : "cannot start connecting");
}

/* Looks the server's name up (a thread; RESOLVING until it answers). */
static void sig_resolve(struct sig_session *s)
{
    if (s->stats.last_error[0])
        s->stats.reconnects++;
    resolver_free(s->resolving);
    s->resolving = resolver_start(s->host, s->port);
    if (!s->resolving) {
        s->probe_next = false;
        sig_set_state(s, SIG_BACKOFF, "cannot start a name lookup");
        return;
    }
    sig_set_state(s, SIG_RESOLVING, s->host);
}

static void sig_resolved(struct sig_session *s)
{
    const char *err = NULL;
    if (!resolver_poll(s->resolving, &s->addr, &err))
        return;
    resolver_free(s->resolving);
    s->resolving = NULL;
    if (err) {
        s->probe_next = false;
        sig_set_state(s, SIG_BACKOFF, err);
        return;
    }
    s->have_addr = true;
    sig_connect(s);
}

static void sig_probe_close(struct sig_session *s)
{
    if (s->probe_fd >= 0)
        close(s->probe_fd);
    s->probe_fd = -1;
}

/* BACKOFF after losing the server: one TCP connect at a time to its
 * address; when one connects, the next attempt comes within
 * SIG_ARRIVE_SPREAD_MS instead of at the end of the backoff. */
static void sig_probe(struct sig_session *s, int64_t now)
{
    if (s->probe_fd >= 0) {
        struct pollfd p = { .fd = s->probe_fd, .events = POLLOUT };
        int err = 0;
        socklen_t len = sizeof err;
        if (poll(&p, 1, 0) > 0) {
            getsockopt(s->probe_fd, SOL_SOCKET, SO_ERROR, &err, &len);
            sig_probe_close(s);
            if (!err) {
                int64_t at = now + sig_random(s) % SIG_ARRIVE_SPREAD_MS;
                if (at < s->retry_at)
                    s->retry_at = at;
                s->probing = false;
                s->probe_led = true;
                log_info(SIG_LOG, "%s:%u answers again: connecting", s->addr.text, s->port);
                return;
            }
        } else if (now < s->probe_at) {
            return;
        }
        sig_probe_close(s);   /* refused, or no answer in time */
        s->probe_at = now + SIG_PROBE_MIN_MS + sig_random(s) % SIG_PROBE_SPREAD_MS;
        return;
    }
    if (now < s->probe_at)
        return;
    int fd = socket(s->addr.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (connect(fd, (struct sockaddr *)&s->addr.addr, s->addr.len) < 0 && errno != EINPROGRESS) {
        close(fd);
        s->probe_at = now + SIG_PROBE_MIN_MS + sig_random(s) % SIG_PROBE_SPREAD_MS;
        return;
    }
    s->probe_fd = fd;
    s->probe_at = now + SIG_PROBE_WAIT_MS;
}

/* ---- public ------------------------------------------------------------- */

int sig_session_create(const struct config *cfg, const char *node_id_hex, const char *session,
                       const struct sig_callbacks *cb, void *aux, struct sig_session **out)
{
    *out = NULL;
    if (!node_id_hex || !sig_is_node_id(node_id_hex) || !cfg->xmpp_host || !cfg->xmpp_user
        || !cfg->xmpp_password || !cfg->xmpp_muc_domain || !strchr(cfg->xmpp_user, '@')
        || cfg->n_overlays < 0 || cfg->n_overlays > CONFIG_MAX_OVERLAYS)
        return EINVAL;

    struct sig_session *s = calloc(1, sizeof *s);
    if (!s)
        return ENOMEM;
    s->fd = -1;
    s->probe_fd = -1;
    s->state = SIG_BACKOFF;
    s->retry_at = monotonic_ms();   /* the first run connects */
    s->aux = aux;
    if (cb)
        s->cb = *cb;
    memcpy(s->node_id, node_id_hex, sizeof s->node_id);
    if (session && strlen(session) == SIG_SESSION_LEN)
        memcpy(s->session, session, sizeof s->session);
    s->rng = (uint64_t) monotonic_ms() ^ strtoull(node_id_hex + 16, NULL, 16) ^ 0x9e3779b97f4a7c15ULL;
    s->tls = cfg->xmpp_tls;
    s->port = cfg->xmpp_port;

    /* A JID without a resource gets one naming the node, so several nodes can
     * share an account. */
    const char *domain = strchr(cfg->xmpp_user, '@') + 1;
    size_t dlen = strcspn(domain, "/");
    bool ok = (s->host = strdup(cfg->xmpp_host))
              && (s->password = strdup(cfg->xmpp_password))
              && (!cfg->xmpp_ca_file || (s->ca_file = strdup(cfg->xmpp_ca_file)))
              && (s->domain = strndup(domain, dlen))
              && (domain[dlen] ? (s->jid = strdup(cfg->xmpp_user)) != NULL
                               : asprintf(&s->jid, "%s/evio-%s", cfg->xmpp_user, node_id_hex) >= 0);
    if (!ok)
        s->jid = NULL;   /* asprintf leaves it undefined on failure */

    for (int i = 0; ok && i < cfg->n_overlays; i++) {
        struct sig_room *room = &s->rooms[s->n_rooms];
        const char *name = cfg->overlays[i].name;
        if (!name || strlen(name) >= sizeof room->overlay) {
            sig_session_destroy(s);
            return EINVAL;
        }
        snprintf(room->overlay, sizeof room->overlay, "%s", name);
        ok = asprintf(&room->jid, "%s@%s", name, cfg->xmpp_muc_domain) >= 0;
        if (!ok)
            room->jid = NULL;
        else
            s->n_rooms++;
    }

    if (ok) {
        xmpp_initialize();
        s->logger.handler = sig_log;
        s->logger.userdata = s;
        s->ctx = xmpp_ctx_new(NULL, &s->logger);
        ok = s->ctx != NULL;
    }
    if (!ok) {
        sig_session_destroy(s);
        return ENOMEM;
    }
    *out = s;
    return 0;
}

void sig_session_destroy(struct sig_session *s)
{
    if (!s)
        return;
    memset(&s->cb, 0, sizeof s->cb);   /* promised: no callbacks from here on */
    if (s->conn && s->state != SIG_BACKOFF) {
        /* A clean close makes the server announce our departure at once. */
        int64_t end = monotonic_ms() + SIG_CLOSE_WAIT_MS;
        sig_active = s;
        xmpp_disconnect(s->conn);
        while (!xmpp_conn_is_disconnected(s->conn) && monotonic_ms() < end)
            xmpp_run_once(s->ctx, 50);
        sig_active = NULL;
    }
    sig_release_conn(s);
    sig_probe_close(s);
    resolver_free(s->resolving);
    if (s->ctx)
        xmpp_ctx_free(s->ctx);
    for (int i = 0; i < s->n_rooms; i++) {
        free(s->rooms[i].jid);
        free(s->rooms[i].peers);
    }
    if (s->password) {
        explicit_bzero(s->password, strlen(s->password));
        free(s->password);
    }
    free(s->host);
    free(s->jid);
    free(s->domain);
    free(s->ca_file);
    free(s);
}

int sig_session_send(struct sig_session *s, const char *overlay, const char *to_node_id,
                     const char *payload)
{
    struct sig_room *room = NULL;
    char to[512];

    for (int i = 0; i < s->n_rooms && !room; i++)
        if (!strcmp(s->rooms[i].overlay, overlay))
            room = &s->rooms[i];
    if (!room || !to_node_id || !sig_is_node_id(to_node_id) || !payload)
        return EINVAL;
    if (strlen(payload) > SIG_MAX_PAYLOAD)
        return EMSGSIZE;
    if (s->state != SIG_ONLINE) {
        s->stats.send_failed++;
        return ENOTCONN;
    }

    snprintf(to, sizeof to, "%s/%s", room->jid, to_node_id);
    xmpp_stanza_t *msg = xmpp_message_new(s->ctx, "chat", to, NULL);
    xmpp_stanza_t *ev = msg ? sig_child(s->ctx, msg, "evio", SIG_NS) : NULL;
    xmpp_stanza_t *text = ev ? xmpp_stanza_new(s->ctx) : NULL;
    int rc = ENOMEM;
    if (text && xmpp_stanza_set_text(text, payload) == XMPP_EOK
        && xmpp_stanza_add_child(ev, text) == XMPP_EOK
        /* signalling is live or useless: never archive or store it offline */
        && sig_child(s->ctx, msg, "no-store", SIG_NS_HINTS)) {
        xmpp_send(s->conn, msg);
        s->stats.sent++;
        s->flush_wanted = true;
        rc = 0;
    }
    if (text)
        xmpp_stanza_release(text);
    if (msg)
        xmpp_stanza_release(msg);
    return rc;
}

int sig_session_fd(const struct sig_session *s)
{
    return s->state == SIG_BACKOFF ? -1 : s->fd;
}

int sig_session_timeout_ms(const struct sig_session *s)
{
    switch (s->state) {
    case SIG_BACKOFF: {
        int64_t now = monotonic_ms();
        int64_t left = s->retry_at - now;
        if (s->probing) {
            /* a probe in flight is looked at every 50 ms */
            int64_t probe = s->probe_fd >= 0 ? SIG_RESOLVE_POLL_MS : s->probe_at - now;
            if (probe < left)
                left = probe;
        }
        return left <= 0 ? 0 : left > SIG_IDLE_MS ? SIG_IDLE_MS : (int) left;
    }
    case SIG_RESOLVING:
        return SIG_RESOLVE_POLL_MS;   /* the lookup thread signals nothing */
    case SIG_CONNECTING:
        return SIG_BUSY_MS;   /* libstrophe waits for connect() via writability */
    case SIG_ONLINE:
        if (s->flush_wanted)
            return 0;
        for (int i = 0; i < s->n_rooms; i++) {
            if (!s->rooms[i].joined && s->rooms[i].rejoin_at) {
                int64_t left = s->rooms[i].rejoin_at - monotonic_ms();
                if (left < SIG_IDLE_MS)
                    return left <= 0 ? 0 : (int)left;
            }
        }
        return s->conn && xmpp_conn_send_queue_len(s->conn) > 0 ? SIG_BUSY_MS : SIG_IDLE_MS;
    }
    return SIG_IDLE_MS;
}

static bool sig_fd_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return fd >= 0 && poll(&p, 1, 0) > 0;
}

void sig_session_run(struct sig_session *s)
{
    int64_t now = monotonic_ms();

    sig_active = s;
    if (s->state == SIG_BACKOFF && s->conn)
        sig_release_conn(s);
    if (s->state == SIG_BACKOFF && s->probing)
        sig_probe(s, now);
    if (s->state == SIG_BACKOFF && now >= s->retry_at) {
        sig_probe_close(s);
        s->probing = false;
        sig_resolve(s);
    }
    if (s->state == SIG_RESOLVING)
        sig_resolved(s);
    if (s->state == SIG_CONNECTING && now - s->state_since > SIG_CONNECT_LIMIT_MS) {
        snprintf(s->lib_error, sizeof s->lib_error, "no session after %d s",
                 SIG_CONNECT_LIMIT_MS / 1000);
        xmpp_disconnect(s->conn);
    }

    s->flush_wanted = false;
    int quiet = 0;
    for (int i = 0; i < SIG_RUN_MAX_ROUNDS && s->conn && s->state != SIG_BACKOFF; i++) {
        xmpp_run_once(s->ctx, 0);
        if (sig_fd_readable(s->fd))
            quiet = 0;
        else if (++quiet > SIG_DRAIN_ROUNDS)
            break;
    }
    if (s->state == SIG_BACKOFF)
        sig_release_conn(s);
    else
        sig_sweep_departures(s);
    for (int i = 0; i < s->n_rooms && s->state == SIG_ONLINE; i++) {
        struct sig_room *room = &s->rooms[i];
        if (!room->joined && room->rejoin_at && now >= room->rejoin_at) {
            room->rejoin_at = 0;
            log_info(SIG_LOG, "%s: joining room %s again (%s before)", room->overlay,
                     room->jid, room->join_error);
            sig_join_room(s, room);
        }
    }
    sig_active = NULL;
}

void sig_session_stats(const struct sig_session *s, struct sig_stats *out)
{
    *out = s->stats;
    out->state = s->state;
    out->rooms_joined = 0;
    out->room_error[0] = '\0';
    for (int i = 0; i < s->n_rooms; i++) {
        const struct sig_room *r = &s->rooms[i];
        out->rooms_joined += s->state == SIG_ONLINE && r->joined;
        if (!r->joined && r->join_error[0] && !out->room_error[0])
            snprintf(out->room_error, sizeof out->room_error,
                     "%s: %s (nickname %s), retry %d", r->overlay, r->join_error, s->node_id,
                     r->join_failures);
    }
}
