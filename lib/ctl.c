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
#define CTL_MAX_OUTQ      (4 * 1024 * 1024)   /* a reader this far behind is dropped */

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

struct ctl_conn {
    int fd;
    bool subscribed;
    bool want_out;             /* EPOLLOUT registered */
    struct ctl_linebuf in;
    struct outq out;
};

struct ctl_server {
    char *path;
    int listen_fd;
    int epoll_fd;
    struct ctl_conn *conns[CTL_MAX_CONNS];
    struct ctl_command cmds[CTL_MAX_COMMANDS];
    int n_cmds;
    unsigned long n_dropped_conns;   /* slow subscribers, oversized lines */
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

static void conn_close(struct ctl_server *s, int slot)
{
    struct ctl_conn *c = s->conns[slot];
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    ctl_linebuf_free(&c->in);
    free(c->out.buf);
    free(c);
    s->conns[slot] = NULL;
}

void ctl_server_close(struct ctl_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < CTL_MAX_CONNS; i++)
        if (s->conns[i])
            conn_close(s, i);
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
static void conn_update_events(struct ctl_server *s, struct ctl_conn *c)
{
    bool want = !outq_empty(&c->out);
    if (want == c->want_out)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

/* Queues LINE (freed here) and tries to send it now. False if the
 * connection must be dropped. */
static bool conn_send(struct ctl_server *s, struct ctl_conn *c, char *line)
{
    bool ok = line && outq_push(&c->out, line, strlen(line));
    free(line);
    if (!ok || outq_flush(&c->out, c->fd))
        return false;
    conn_update_events(s, c);
    return true;
}

static void dispatch(struct ctl_server *s, struct ctl_conn *c, const char *line, size_t len,
                     bool *drop)
{
    struct ctl_msg msg;
    char *err = ctl_decode(line, len, &msg);
    if (err) {
        *drop = !conn_send(s, c, ctl_encode_error(-1, err));
        free(err);
        return;
    }
    if (msg.kind != CTL_MSG_REQUEST) {
        *drop = !conn_send(s, c, ctl_encode_error(msg.id, "expected a request (cmd)"));
        ctl_msg_clear(&msg);
        return;
    }

    const struct ctl_command *cmd = NULL;
    for (int i = 0; i < s->n_cmds; i++)
        if (!strcmp(s->cmds[i].name, msg.name))
            cmd = &s->cmds[i];

    char *reply;
    if (!cmd) {
        char *e;
        if (asprintf(&e, "unknown command \"%s\" (try list-commands)", msg.name) < 0)
            e = NULL;
        reply = ctl_encode_error(msg.id, e);
        free(e);
    } else {
        char *herr = NULL;
        json_t *result = cmd->fn(cmd->aux, msg.body, c, &herr);
        if (result) {
            reply = ctl_encode_ok(msg.id, result);
            json_decref(result);
        } else {
            reply = ctl_encode_error(msg.id, herr ? herr : "command failed");
        }
        free(herr);
    }
    *drop = !conn_send(s, c, reply);
    ctl_msg_clear(&msg);
}

static void conn_readable(struct ctl_server *s, int slot)
{
    struct ctl_conn *c = s->conns[slot];
    char buf[16384];
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_close(s, slot);
            return;
        }
        if (n < 0)
            break;
        if (!ctl_linebuf_append(&c->in, buf, n)) {
            conn_send(s, c, ctl_encode_error(-1, "request line too long"));
            s->n_dropped_conns++;
            conn_close(s, slot);
            return;
        }
        char *line;
        size_t len;
        bool drop = false;
        while (!drop && (line = ctl_linebuf_next(&c->in, &len)))
            if (len)
                dispatch(s, c, line, len, &drop);
        if (drop) {
            s->n_dropped_conns++;
            conn_close(s, slot);
            return;
        }
    }
}

static void server_accept(struct ctl_server *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
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
    for (int i = 0; i < n; i++) {
        struct ctl_conn *c = evs[i].data.ptr;
        if (!c) {
            server_accept(s);
            continue;
        }
        int slot = -1;
        for (int j = 0; j < CTL_MAX_CONNS; j++)
            if (s->conns[j] == c)
                slot = j;
        if (slot < 0)
            continue;            /* closed earlier in this batch */
        if (evs[i].events & EPOLLOUT) {
            if (outq_flush(&c->out, c->fd)) {
                conn_close(s, slot);
                continue;
            }
            conn_update_events(s, c);
        }
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            conn_readable(s, slot);
    }
}

void ctl_server_event(struct ctl_server *s, const char *event, json_t *data)
{
    char *line = NULL;
    for (int i = 0; i < CTL_MAX_CONNS; i++) {
        struct ctl_conn *c = s->conns[i];
        if (!c || !c->subscribed)
            continue;
        if (!line && !(line = ctl_encode_event(event, data)))
            return;
        if (!conn_send(s, c, strdup(line))) {
            log_warn("ctl", "dropping a subscriber that does not read its events");
            s->n_dropped_conns++;
            conn_close(s, i);
        }
    }
    free(line);
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

#define CTL_MAX_PENDING 256

struct ctl_pending {
    int64_t id;
    ctl_reply_fn *fn;
    void *aux;
};

struct ctl_client {
    int fd;
    int64_t next_id;
    struct ctl_linebuf in;
    struct outq out;
    struct ctl_pending pending[CTL_MAX_PENDING];
    int n_pending;
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
    ctl_linebuf_init(&c->in, CTL_MAX_LINE);
    *out = c;
    return 0;
}

void ctl_client_close(struct ctl_client *c)
{
    if (!c)
        return;
    /* every request gets an answer, so callers can free what they attached */
    struct ctl_msg closed = { .kind = CTL_MSG_RESPONSE, .ok = false,
                              .error = "connection closed" };
    for (int i = 0; i < c->n_pending; i++) {
        closed.id = c->pending[i].id;
        if (c->pending[i].fn)
            c->pending[i].fn(c->pending[i].aux, &closed);
    }
    close(c->fd);
    ctl_linebuf_free(&c->in);
    free(c->out.buf);
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

int ctl_client_send(struct ctl_client *c, const char *cmd, json_t *args,
                    ctl_reply_fn *reply, void *aux)
{
    if (c->n_pending == CTL_MAX_PENDING)
        return ENOBUFS;
    int64_t id = c->next_id++;
    char *line = ctl_encode_request(id, cmd, args);
    if (!line)
        return ENOMEM;
    bool ok = outq_push(&c->out, line, strlen(line));
    free(line);
    if (!ok)
        return ENOBUFS;
    c->pending[c->n_pending++] = (struct ctl_pending){ id, reply, aux };
    int error = outq_flush(&c->out, c->fd);
    return error;
}

bool ctl_client_want_write(const struct ctl_client *c)
{
    return !outq_empty(&c->out);
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
    if (msg.kind == CTL_MSG_EVENT) {
        if (c->event_fn)
            c->event_fn(c->event_aux, &msg);
    } else if (msg.kind == CTL_MSG_RESPONSE) {
        for (int i = 0; i < c->n_pending; i++) {
            if (c->pending[i].id != msg.id)
                continue;
            struct ctl_pending p = c->pending[i];
            memmove(&c->pending[i], &c->pending[i + 1],
                    (c->n_pending - i - 1) * sizeof c->pending[0]);
            c->n_pending--;
            if (p.fn)
                p.fn(p.aux, &msg);
            break;
        }
    }
    ctl_msg_clear(&msg);
}

int ctl_client_run(struct ctl_client *c)
{
    int error = outq_flush(&c->out, c->fd);
    if (error)
        return error;
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0)
            return EPIPE;
        if (n < 0)
            return errno == EAGAIN ? 0 : errno == EINTR ? 0 : errno;
        if (!ctl_linebuf_append(&c->in, buf, n))
            return EMSGSIZE;
        char *line;
        size_t len;
        while ((line = ctl_linebuf_next(&c->in, &len)))
            if (len)
                client_dispatch(c, line, len);
    }
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
