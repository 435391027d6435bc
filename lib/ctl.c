/* Control sockets: the server every daemon runs and the client evio and
 * evioctl use (see include/evio/ctl.h). The server keeps its listening socket
 * and connections in an epoll set of its own, so any event loop needs to
 * watch one fd only. */
#include "evio/ctl.h"
#include "evio/timing.h"
#include "evio/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_MAX_CONNS     64
#define CTL_MAX_COMMANDS  64

/* ---- output queue shared by server connections and the client -------- */

struct outq {
    char *buf;
    size_t off, len, cap;
};

static bool outq_push(struct outq *q, const char *data, size_t n)
{
    if (q->off) {
        memmove(q->buf, q->buf + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
    }
    if (q->len + n > CTL_MAX_OUTQ)
        return false;
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + n)
            cap *= 2;
        char *p = realloc(q->buf, cap);
        if (!p)
            return false;
        q->buf = p;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, data, n);
    q->len += n;
    return true;
}

/* Writes what the socket takes. Returns 0, or a positive errno. */
static int outq_flush(struct outq *q, int fd)
{
    while (q->off < q->len) {
        ssize_t n = send(fd, q->buf + q->off, q->len - q->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : errno;
        }
        q->off += n;
    }
    q->off = q->len = 0;
    return 0;
}

static bool outq_empty(const struct outq *q)
{
    return q->off == q->len;
}

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0
        || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return errno;
    return 0;
}

static int make_addr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun->sun_path)
        return ENAMETOOLONG;
    strcpy(sun->sun_path, path);
    return 0;
}

/* ---- server ----------------------------------------------------------- */

struct ctl_command {
    char *name;
    char *args_help;
    ctl_handler_fn *fn;
    void *aux;
};

/* A connection is never freed while the server is inside ctl_server_run()
 * or ctl_server_event(): a handler may drop any connection, its own
 * included (an event to a subscriber that stopped reading), and the code up
 * the stack still holds it. conn_drop() marks it dead; conn_reap() frees the
 * dead ones once the outermost call returns. */
struct ctl_conn {
    struct ctl_server *srv;
    int fd;
    bool subscribed;
    bool want_out;             /* EPOLLOUT registered */
    bool dead;                 /* dropped; freed by conn_reap() */
    struct ctl_linebuf in;
    struct outq out;
    struct ctl_pending *deferred;   /* requests answered later, linked by next/prev */
    bool in_handler;           /* a handler runs for request handling_id */
    bool handler_deferred;     /* ... and took it over with ctl_conn_defer() */
    int64_t handling_id;
};

struct ctl_pending {
    struct ctl_conn *conn;     /* NULL once the connection is gone */
    struct ctl_pending *next, *prev;
    int64_t id;
};

struct ctl_server {
    char *path;
    int listen_fd;
    int epoll_fd;
    struct ctl_conn *conns[CTL_MAX_CONNS];
    struct ctl_command cmds[CTL_MAX_COMMANDS];
    int n_cmds;
    int depth;                       /* nested run/event calls in progress */
    bool need_reap;
    unsigned long n_dropped_conns;   /* slow subscribers, write errors */
};

static json_t *builtin_list(void *aux, json_t *args, struct ctl_conn *c, char **err);
static json_t *builtin_subscribe(void *aux, json_t *args, struct ctl_conn *c, char **err);
static json_t *builtin_echo(void *aux, json_t *args, struct ctl_conn *c, char **err);
static json_t *builtin_log_set(void *aux, json_t *args, struct ctl_conn *c, char **err);

int ctl_server_open(const char *path, struct ctl_server **out)
{
    struct sockaddr_un sun;
    int error = make_addr(path, &sun);
    if (error)
        return error;

    struct ctl_server *s = calloc(1, sizeof *s);
    if (!s)
        return ENOMEM;
    s->listen_fd = s->epoll_fd = -1;
    s->path = strdup(path);

    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        goto fail;
    /* a socket file left by a crashed daemon is stale only if nobody answers */
    if (connect(s->listen_fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
        errno = EADDRINUSE;
        goto fail;
    }
    close(s->listen_fd);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    unlink(path);
    mode_t old = umask(0077);
    int rc = bind(s->listen_fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (rc < 0 || listen(s->listen_fd, 16) < 0)
        goto fail;

    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epoll_fd < 0)
        goto fail;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0)
        goto fail;

    ctl_server_register(s, "list-commands", "", builtin_list, s);
    ctl_server_register(s, "subscribe", "", builtin_subscribe, s);
    ctl_server_register(s, "echo", "{...}", builtin_echo, s);
    ctl_server_register(s, "log/set", "{\"module\": \"*\", \"level\": \"debug\"}",
                        builtin_log_set, s);
    *out = s;
    return 0;

fail:
    error = errno;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    free(s->path);
    free(s);
    return error;
}

/* Stops all I/O on C at once; the memory goes at conn_reap(). */
static void conn_drop(struct ctl_conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    epoll_ctl(c->srv->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    c->srv->need_reap = true;
}

static void conn_free(struct ctl_conn *c)
{
    for (struct ctl_pending *p = c->deferred; p; p = p->next)
        p->conn = NULL;
    close(c->fd);
    ctl_linebuf_free(&c->in);
    free(c->out.buf);
    free(c);
}

/* Frees dead connections, unless a caller up the stack may still hold one. */
static void conn_reap(struct ctl_server *s)
{
    if (s->depth || !s->need_reap)
        return;
    s->need_reap = false;
    for (int i = 0; i < CTL_MAX_CONNS; i++) {
        if (s->conns[i] && s->conns[i]->dead) {
            conn_free(s->conns[i]);
            s->conns[i] = NULL;
        }
    }
}

void ctl_server_close(struct ctl_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < CTL_MAX_CONNS; i++) {
        if (s->conns[i]) {
            conn_drop(s->conns[i]);
            conn_free(s->conns[i]);
            s->conns[i] = NULL;
        }
    }
    close(s->listen_fd);
    close(s->epoll_fd);
    unlink(s->path);
    free(s->path);
    for (int i = 0; i < s->n_cmds; i++) {
        free(s->cmds[i].name);
        free(s->cmds[i].args_help);
    }
    free(s);
}

void ctl_server_register(struct ctl_server *s, const char *cmd, const char *args_help,
                         ctl_handler_fn *fn, void *aux)
{
    for (int i = 0; i < s->n_cmds; i++) {
        if (!strcmp(s->cmds[i].name, cmd)) {
            s->cmds[i].fn = fn;
            s->cmds[i].aux = aux;
            return;
        }
    }
    if (s->n_cmds == CTL_MAX_COMMANDS) {
        log_error("ctl", "too many commands; %s not registered", cmd);
        return;
    }
    struct ctl_command *c = &s->cmds[s->n_cmds++];
    c->name = strdup(cmd);
    c->args_help = strdup(args_help ? args_help : "");
    c->fn = fn;
    c->aux = aux;
}

int ctl_server_fd(const struct ctl_server *s)
{
    return s->epoll_fd;
}

/* Registers or drops interest in writability to match the output queue. */
static void conn_update_events(struct ctl_conn *c)
{
    bool want = !outq_empty(&c->out);
    if (want == c->want_out)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(c->srv->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

/* Queues LINE (freed here) and tries to send it now. A connection that
 * cannot take it (write error, CTL_MAX_OUTQ behind) is dropped; a dead one
 * discards it. */
static void conn_send(struct ctl_conn *c, char *line)
{
    if (c->dead) {
        free(line);
        return;
    }
    bool ok = line && outq_push(&c->out, line, strlen(line));
    free(line);
    if (!ok || outq_flush(&c->out, c->fd)) {
        if (!ok)
            log_warn("ctl", "dropping a control connection %d bytes behind", (int)c->out.len);
        c->srv->n_dropped_conns++;
        conn_drop(c);
        return;
    }
    conn_update_events(c);
}

struct ctl_pending *ctl_conn_defer(struct ctl_conn *c)
{
    if (!c->in_handler || c->handler_deferred)
        return NULL;
    struct ctl_pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->conn = c;
    p->id = c->handling_id;
    p->next = c->deferred;
    if (p->next)
        p->next->prev = p;
    c->deferred = p;
    c->handler_deferred = true;
    return p;
}

void ctl_pending_reply(struct ctl_pending *p, json_t *result, const char *error)
{
    if (!p)
        return;
    struct ctl_conn *c = p->conn;
    if (c) {
        if (p->prev)
            p->prev->next = p->next;
        else
            c->deferred = p->next;
        if (p->next)
            p->next->prev = p->prev;
        struct ctl_server *s = c->srv;
        s->depth++;
        conn_send(c, error ? ctl_encode_error(p->id, error) : ctl_encode_ok(p->id, result));
        s->depth--;
        conn_reap(s);
    }
    free(p);
}

int64_t ctl_pending_id(const struct ctl_pending *p)
{
    return p->id;
}

bool ctl_pending_alive(const struct ctl_pending *p)
{
    return p->conn && !p->conn->dead;
}

static void dispatch(struct ctl_server *s, struct ctl_conn *c, const char *line, size_t len)
{
    struct ctl_msg msg;
    char *err = ctl_decode(line, len, &msg);
    if (err) {
        conn_send(c, ctl_encode_error(-1, err));
        free(err);
        return;
    }
    if (msg.kind != CTL_MSG_REQUEST) {
        conn_send(c, ctl_encode_error(msg.id, "expected a request (cmd)"));
        ctl_msg_clear(&msg);
        return;
    }

    const struct ctl_command *cmd = NULL;
    for (int i = 0; i < s->n_cmds; i++)
        if (!strcmp(s->cmds[i].name, msg.name))
            cmd = &s->cmds[i];

    char *reply = NULL;
    if (!cmd) {
        char *e;
        if (asprintf(&e, "unknown command \"%s\" (try list-commands)", msg.name) < 0)
            e = NULL;
        reply = ctl_encode_error(msg.id, e);
        free(e);
    } else {
        char *herr = NULL;
        c->in_handler = true;
        c->handler_deferred = false;
        c->handling_id = msg.id;
        json_t *result = cmd->fn(cmd->aux, msg.body, c, &herr);
        c->in_handler = false;
        if (!c->handler_deferred)          /* else ctl_pending_reply() answers */
            reply = result ? ctl_encode_ok(msg.id, result)
                           : ctl_encode_error(msg.id, herr ? herr : "command failed");
        json_decref(result);
        free(herr);
    }
    if (reply)
        conn_send(c, reply);     /* discarded if the handler dropped C */
    ctl_msg_clear(&msg);
}

/* A line over CTL_MAX_LINE cannot be decoded: answer it by the id at its
 * head when there is one. */
static void dispatch_overlong(struct ctl_conn *c, const char *head, size_t len)
{
    int64_t id = -1;
    ctl_peek_id(head, len, &id);
    char msg[80];
    snprintf(msg, sizeof msg, "request line over %d bytes", CTL_MAX_LINE);
    log_warn("ctl", "control request %lld: %s", (long long)id, msg);
    conn_send(c, ctl_encode_error(id, msg));
}

static void conn_readable(struct ctl_server *s, struct ctl_conn *c)
{
    char buf[16384];
    for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_drop(c);
            return;
        }
        if (n < 0)
            break;
        size_t off = 0;
        while (!c->dead && off < (size_t)n) {
            size_t used;
            if (!ctl_linebuf_feed(&c->in, buf + off, n - off, &used)) {
                log_error("ctl", "out of memory reading a control connection");
                conn_drop(c);
                return;
            }
            off += used;
            char *line;
            size_t len;
            while (!c->dead && (line = ctl_linebuf_next(&c->in, &len))) {
                if (ctl_linebuf_overlong(&c->in))
                    dispatch_overlong(c, line, len);
                else if (len)
                    dispatch(s, c, line, len);
            }
        }
    }
}

static void server_accept(struct ctl_server *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        /* the socket's mode keeps others out; the peer's credentials make
         * sure of it: only root, or our own user, may control us */
        struct ucred cred;
        socklen_t clen = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)
            || (cred.uid != 0 && cred.uid != geteuid())) {
            static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 3);
            log_warn_rl(&rl, "ctl", "refusing control connection from uid %d (pid %d)",
                        clen == sizeof cred ? (int)cred.uid : -1,
                        clen == sizeof cred ? (int)cred.pid : -1);
            close(fd);
            continue;
        }
        int slot = -1;
        for (int i = 0; i < CTL_MAX_CONNS && slot < 0; i++)
            if (!s->conns[i])
                slot = i;
        struct ctl_conn *c = slot >= 0 ? calloc(1, sizeof *c) : NULL;
        if (!c) {
            log_warn("ctl", "refusing control connection: %d connections open", CTL_MAX_CONNS);
            close(fd);
            continue;
        }
        c->srv = s;
        c->fd = fd;
        ctl_linebuf_init(&c->in, CTL_MAX_LINE);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        s->conns[slot] = c;
    }
}

void ctl_server_run(struct ctl_server *s)
{
    struct epoll_event evs[16];
    int n = epoll_wait(s->epoll_fd, evs, 16, 0);
    s->depth++;
    for (int i = 0; i < n; i++) {
        struct ctl_conn *c = evs[i].data.ptr;
        if (!c) {
            server_accept(s);
            continue;
        }
        if (c->dead)
            continue;            /* dropped earlier in this batch */
        if (evs[i].events & EPOLLOUT) {
            if (outq_flush(&c->out, c->fd)) {
                conn_drop(c);
                continue;
            }
            conn_update_events(c);
        }
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            conn_readable(s, c);
    }
    s->depth--;
    conn_reap(s);
}

void ctl_server_event(struct ctl_server *s, const char *event, json_t *data)
{
    char *line = NULL;
    s->depth++;
    for (int i = 0; i < CTL_MAX_CONNS; i++) {
        struct ctl_conn *c = s->conns[i];
        if (!c || c->dead || !c->subscribed)
            continue;
        if (!line && !(line = ctl_encode_event(event, data)))
            break;
        conn_send(c, strdup(line));
        if (c->dead)
            log_warn("ctl", "dropped a subscriber that does not read its events");
    }
    free(line);
    s->depth--;
    conn_reap(s);
}

static json_t *builtin_list(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    struct ctl_server *s = aux;
    json_t *list = json_array();
    for (int i = 0; i < s->n_cmds; i++)
        json_array_append_new(list, json_pack("{ss ss}", "cmd", s->cmds[i].name,
                                              "args", s->cmds[i].args_help));
    return json_pack("{so}", "commands", list);
}

static json_t *builtin_subscribe(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    c->subscribed = true;
    return json_object();
}

static json_t *builtin_echo(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    return args ? json_incref(args) : json_object();
}

static json_t *builtin_log_set(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    const char *module = "*", *level = NULL;
    json_t *m = args ? json_object_get(args, "module") : NULL;
    json_t *l = args ? json_object_get(args, "level") : NULL;
    if (m && !json_is_string(m)) {
        *err = strdup("module: expected string");
        return NULL;
    }
    if (m)
        module = json_string_value(m);
    if (!json_is_string(l)) {
        *err = strdup("level: expected one of error, warn, info, debug");
        return NULL;
    }
    level = json_string_value(l);
    if (!log_set_level(module, level)) {
        *err = strdup("level: expected one of error, warn, info, debug");
        return NULL;
    }
    log_info("ctl", "log level of %s set to %s", module, level);
    return json_object();
}

/* ---- client ----------------------------------------------------------- */

struct ctl_waiter {
    int64_t id;
    ctl_reply_fn *fn;
    void *aux;
    int64_t sent_ms;
};

/* A request refused locally, answered from the next ctl_client_run() so a
 * caller never sees its callback run inside ctl_client_send(). */
struct ctl_refusal {
    int64_t id;
    ctl_reply_fn *fn;
    void *aux;
    char *error;
};

struct ctl_client {
    int fd;
    int64_t next_id;
    struct ctl_linebuf in;
    struct outq out;
    struct ctl_waiter pending[CTL_MAX_PENDING];   /* in the order sent */
    int n_pending;
    struct ctl_refusal *refused;
    size_t n_refused, cap_refused;
    int error;                 /* the connection is dead: why */
    bool closing;
    int64_t last_rx_ms;
    ctl_event_fn *event_fn;
    void *event_aux;
};

int ctl_client_connect(const char *path, struct ctl_client **out)
{
    struct sockaddr_un sun;
    int error = make_addr(path, &sun);
    if (error)
        return error;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || set_nonblock_cloexec(fd)) {
        error = errno;
        close(fd);
        return error;
    }
    struct ctl_client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return ENOMEM;
    }
    c->fd = fd;
    c->next_id = 1;
    c->last_rx_ms = monotonic_ms();
    ctl_linebuf_init(&c->in, CTL_MAX_LINE);
    *out = c;
    return 0;
}

static void call_failed(ctl_reply_fn *fn, void *aux, int64_t id, const char *error)
{
    struct ctl_msg m = { .kind = CTL_MSG_RESPONSE, .id = id, .ok = false, .error = error };
    if (fn)
        fn(aux, &m);
}

/* Calls the replies of the requests refused so far; those refused from the
 * callbacks themselves wait for the next call, so a caller that resends on
 * failure cannot spin here. */
static void deliver_refused(struct ctl_client *c)
{
    for (size_t n = c->n_refused; n && c->n_refused; n--) {
        struct ctl_refusal r = c->refused[0];
        memmove(&c->refused[0], &c->refused[1], (c->n_refused - 1) * sizeof r);
        c->n_refused--;
        call_failed(r.fn, r.aux, r.id, r.error ? r.error : "request refused");
        free(r.error);
    }
}

/* Answers every outstanding request with ERROR, oldest first. */
static void fail_pending(struct ctl_client *c, const char *error)
{
    while (c->n_pending) {
        struct ctl_waiter w = c->pending[0];
        memmove(&c->pending[0], &c->pending[1], (c->n_pending - 1) * sizeof w);
        c->n_pending--;
        call_failed(w.fn, w.aux, w.id, error);
    }
}

/* The connection is dead: every reply owed is called once. */
static int client_die(struct ctl_client *c, int error)
{
    if (!c->error) {
        c->error = error;
        char why[96];
        snprintf(why, sizeof why, "connection %s",
                 error == EPIPE ? "closed" : strerror(error));
        fail_pending(c, why);
    }
    deliver_refused(c);
    return c->error;
}

void ctl_client_close(struct ctl_client *c)
{
    if (!c)
        return;
    /* every request gets an answer, so callers can free what they attached */
    c->closing = true;
    while (c->n_pending || c->n_refused) {
        fail_pending(c, "connection closed");
        deliver_refused(c);
    }
    close(c->fd);
    ctl_linebuf_free(&c->in);
    free(c->out.buf);
    free(c->refused);
    free(c);
}

int ctl_client_fd(const struct ctl_client *c)
{
    return c->fd;
}

void ctl_client_set_event_cb(struct ctl_client *c, ctl_event_fn *fn, void *aux)
{
    c->event_fn = fn;
    c->event_aux = aux;
}

/* Refuses request ID: its reply comes from the next run (or close). */
static int client_refuse(struct ctl_client *c, int64_t id, ctl_reply_fn *reply, void *aux,
                         int error, const char *cmd, const char *why)
{
    if (!reply)
        return error;
    if (c->n_refused == c->cap_refused) {
        size_t cap = c->cap_refused ? c->cap_refused * 2 : 8;
        struct ctl_refusal *r = realloc(c->refused, cap * sizeof *r);
        if (!r) {
            /* nowhere to keep it: answer now rather than never */
            call_failed(reply, aux, id, "request refused: out of memory");
            return error;
        }
        c->refused = r;
        c->cap_refused = cap;
    }
    char *text;
    if (asprintf(&text, "%s refused: %s", cmd, why) < 0)
        text = NULL;
    c->refused[c->n_refused++] = (struct ctl_refusal){ id, reply, aux, text };
    return error;
}

int ctl_client_send(struct ctl_client *c, const char *cmd, json_t *args,
                    ctl_reply_fn *reply, void *aux)
{
    int64_t id = c->next_id++;
    char why[96];
    if (c->closing || c->error)
        return client_refuse(c, id, reply, aux, c->error ? c->error : EPIPE, cmd,
                             "connection closed");
    if (c->n_pending == CTL_MAX_PENDING) {
        snprintf(why, sizeof why, "%d requests outstanding", CTL_MAX_PENDING);
        return client_refuse(c, id, reply, aux, ENOBUFS, cmd, why);
    }
    char *line = ctl_encode_request(id, cmd, args);
    if (!line)
        return client_refuse(c, id, reply, aux, ENOMEM, cmd, "out of memory");
    size_t len = strlen(line);
    if (len - 1 > CTL_MAX_LINE) {
        free(line);
        snprintf(why, sizeof why, "request line over %d bytes", CTL_MAX_LINE);
        return client_refuse(c, id, reply, aux, EMSGSIZE, cmd, why);
    }
    bool ok = outq_push(&c->out, line, len);
    free(line);
    if (!ok) {
        snprintf(why, sizeof why, "%d bytes queued to a server that is not reading",
                 (int)(c->out.len - c->out.off));
        return client_refuse(c, id, reply, aux, ENOBUFS, cmd, why);
    }
    c->pending[c->n_pending++] = (struct ctl_waiter){ id, reply, aux, monotonic_ms() };
    int error = outq_flush(&c->out, c->fd);
    if (error) {
        /* answered, like any other outstanding request, by the next run */
        c->error = error;
    }
    return error;
}

bool ctl_client_want_write(const struct ctl_client *c)
{
    return !outq_empty(&c->out);
}

bool ctl_client_want_run(const struct ctl_client *c)
{
    return c->n_refused || (c->error && c->n_pending);
}

int64_t ctl_client_silent_since_ms(const struct ctl_client *c)
{
    if (!c->n_pending)
        return -1;
    return c->pending[0].sent_ms > c->last_rx_ms ? c->pending[0].sent_ms : c->last_rx_ms;
}

int ctl_client_pending(const struct ctl_client *c)
{
    return c->n_pending;
}

/* Takes request ID out of the outstanding list; false if it is not there. */
static bool take_waiter(struct ctl_client *c, int64_t id, struct ctl_waiter *w)
{
    for (int i = 0; i < c->n_pending; i++) {
        if (c->pending[i].id != id)
            continue;
        *w = c->pending[i];
        memmove(&c->pending[i], &c->pending[i + 1],
                (c->n_pending - i - 1) * sizeof c->pending[0]);
        c->n_pending--;
        return true;
    }
    return false;
}

static void client_dispatch(struct ctl_client *c, const char *line, size_t len)
{
    struct ctl_msg msg;
    char *err = ctl_decode(line, len, &msg);
    if (err) {
        log_warn("ctl", "ignoring malformed control message: %s", err);
        free(err);
        return;
    }
    struct ctl_waiter w;
    if (msg.kind == CTL_MSG_EVENT) {
        if (c->event_fn)
            c->event_fn(c->event_aux, &msg);
    } else if (msg.kind == CTL_MSG_RESPONSE && take_waiter(c, msg.id, &w)) {
        if (w.fn)
            w.fn(w.aux, &msg);
    }
    ctl_msg_clear(&msg);
}

/* A response too long to decode fails its request, found by the id at its
 * head; anything else that long (an event) is dropped. */
static void client_dispatch_overlong(struct ctl_client *c, const char *head, size_t len)
{
    int64_t id;
    struct ctl_waiter w;
    char why[80];
    snprintf(why, sizeof why, "response line over %d bytes", CTL_MAX_LINE);
    if (ctl_peek_id(head, len, &id) && take_waiter(c, id, &w)) {
        log_warn("ctl", "control request %lld: %s", (long long)id, why);
        call_failed(w.fn, w.aux, w.id, why);
    } else {
        log_warn("ctl", "dropping a control message: line over %d bytes", CTL_MAX_LINE);
    }
}

int ctl_client_run(struct ctl_client *c)
{
    if (c->error)
        return client_die(c, c->error);
    deliver_refused(c);
    int error = outq_flush(&c->out, c->fd);
    if (error)
        return client_die(c, error);
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0)
            return client_die(c, EPIPE);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            return client_die(c, errno);
        }
        c->last_rx_ms = monotonic_ms();
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used;
            if (!ctl_linebuf_feed(&c->in, buf + off, n - off, &used))
                return client_die(c, ENOMEM);
            off += used;
            char *line;
            size_t len;
            while ((line = ctl_linebuf_next(&c->in, &len))) {
                if (ctl_linebuf_overlong(&c->in))
                    client_dispatch_overlong(c, line, len);
                else if (len)
                    client_dispatch(c, line, len);
            }
        }
    }
    deliver_refused(c);          /* refused from callbacks just now */
    return 0;
}

struct call_state {
    bool done;
    json_t *result;
    char *err;
};

static void call_reply(void *aux, const struct ctl_msg *msg)
{
    struct call_state *st = aux;
    st->done = true;
    if (msg->ok)
        st->result = msg->body ? json_incref(msg->body) : json_null();
    else
        st->err = strdup(msg->error);
}

int ctl_call(const char *path, const char *cmd, json_t *args, int timeout_ms,
             json_t **result, char **err)
{
    struct ctl_client *c;
    *result = NULL;
    *err = NULL;
    int error = ctl_client_connect(path, &c);
    if (error) {
        if (asprintf(err, "%s: %s", path, strerror(error)) < 0)
            *err = NULL;
        return error;
    }
    struct call_state st = { 0 };
    error = ctl_client_send(c, cmd, args, call_reply, &st);
    int64_t deadline = monotonic_ms() + timeout_ms;
    while (!error && !st.done) {
        int left = (int)(deadline - monotonic_ms());
        if (left <= 0) {
            error = ETIMEDOUT;
            break;
        }
        struct pollfd pfd = { c->fd, POLLIN | (ctl_client_want_write(c) ? POLLOUT : 0), 0 };
        if (poll(&pfd, 1, left) < 0 && errno != EINTR)
            error = errno;
        else
            error = ctl_client_run(c);
    }
    bool answered = st.done;
    ctl_client_close(c);       /* answers a pending request with "connection closed" */
    if (answered) {
        *result = st.result;
        *err = st.err;
        return st.err ? EPROTO : 0;
    }
    json_decref(st.result);
    free(st.err);
    if (asprintf(err, "%s: %s", path, error == EPIPE ? "connection closed" : strerror(error)) < 0)
        *err = NULL;
    return error;
}
