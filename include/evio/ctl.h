/* The control protocol: newline-delimited JSON over Unix stream sockets,
 * spoken by every evio daemon and by evioctl (see doc/control-protocol.md).
 *
 *   request:  {"id": 7, "cmd": "link/create", "args": {...}}
 *   response: {"id": 7, "ok": true, "result": {...}}
 *             {"id": 7, "ok": false, "error": "link_id: expected string"}
 *   event:    {"event": "link/state", "data": {...}}   (to subscribers only)
 *
 * The codec and line framing are pure; the server and client do the socket
 * I/O and are driven by whatever event loop their process has: the server
 * exposes one pollable fd (an epoll set of its own sockets). */
#ifndef EVIO_CTL_H
#define EVIO_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAX_LINE (256 * 1024)   /* a longer line is answered with an error */
#define CTL_MAX_PENDING 256         /* requests a client has outstanding */
#define CTL_MAX_OUTQ (4 * 1024 * 1024) /* bytes queued for one peer */

/* ---- codec (pure) ---------------------------------------------------- */

/* Each returns a malloc'd line ending in '\n', or NULL on allocation
 * failure. ARGS/RESULT/DATA are borrowed (may be NULL). */
char *ctl_encode_request(int64_t id, const char *cmd, json_t *args);
char *ctl_encode_ok(int64_t id, json_t *result);
char *ctl_encode_error(int64_t id, const char *error);
char *ctl_encode_event(const char *event, json_t *data);

/* A decoded message. Owned json references are released by ctl_msg_clear(). */
enum ctl_msg_kind { CTL_MSG_REQUEST, CTL_MSG_RESPONSE, CTL_MSG_EVENT };
struct ctl_msg {
    enum ctl_msg_kind kind;
    int64_t id;            /* request, response */
    const char *name;      /* request: cmd; event: event name (into root) */
    bool ok;               /* response */
    const char *error;     /* response when !ok (into root) */
    json_t *body;          /* request args / response result / event data, or NULL */
    json_t *root;          /* owns everything above */
};

/* Decodes one line (without its '\n'). Returns NULL on success, or a
 * malloc'd message naming what is wrong; *MSG is then cleared. */
char *ctl_decode(const char *line, size_t len, struct ctl_msg *msg);
void ctl_msg_clear(struct ctl_msg *);

/* Splits a byte stream into lines. */
struct ctl_linebuf {
    char *buf;
    size_t start;          /* first unconsumed byte */
    size_t len, cap;       /* bytes in use from buf[0], allocated size */
    size_t max;            /* longest accepted line */
    bool discarding;       /* cutting a line longer than MAX (ctl_linebuf_feed) */
    size_t cut_at;         /* offset of the cut line's kept head in buf, or SIZE_MAX */
    bool last_overlong;    /* the line ctl_linebuf_next last returned was cut */
};
#define CTL_LINE_HEAD 64   /* bytes kept of a line longer than MAX */

void ctl_linebuf_init(struct ctl_linebuf *, size_t max);
void ctl_linebuf_free(struct ctl_linebuf *);
/* Appends N bytes; returns false if a line grew past MAX (the buffer is
 * then in error and should be discarded with the connection). */
bool ctl_linebuf_append(struct ctl_linebuf *, const void *data, size_t n);
/* The forgiving form: takes bytes up to and including the newline that ends
 * a line longer than MAX, sets *USED to how many it took (all N otherwise),
 * and keeps such a line as its first CTL_LINE_HEAD bytes, dropping the rest;
 * call ctl_linebuf_next() until NULL, then feed the remaining bytes. Memory
 * stays bounded by MAX whatever the peer sends. Returns false only when out
 * of memory. */
bool ctl_linebuf_feed(struct ctl_linebuf *, const void *data, size_t n, size_t *used);
/* Returns the next complete line (NUL-terminated in place, without '\n') and
 * its length, or NULL. The pointer is valid until the next append/next call.
 * A line cut by ctl_linebuf_feed() comes back as its head, in order, with
 * ctl_linebuf_overlong() true until the next call. */
char *ctl_linebuf_next(struct ctl_linebuf *, size_t *len);
bool ctl_linebuf_overlong(const struct ctl_linebuf *);

/* Reads the id of a request or response from the head of a line when "id"
 * is its first key (evio's encoder always writes it first), so a line too
 * long to decode can still be answered or matched. True with *ID set. */
bool ctl_peek_id(const char *head, size_t len, int64_t *id);

/* ---- server ---------------------------------------------------------- */

struct ctl_server;
struct ctl_conn;
struct ctl_pending;

/* A command handler. ARGS may be NULL. Returns a new reference to the
 * result (json null/object) on success; on failure returns NULL and sets
 * *ERR to a malloc'd message (NULL without *ERR reads "command failed").
 * To answer later, it calls ctl_conn_defer() and returns NULL: whatever it
 * returns or puts in *ERR after deferring is discarded. */
typedef json_t *ctl_handler_fn(void *aux, json_t *args, struct ctl_conn *, char **err);

/* Opens a listening socket at PATH (replacing a stale one, mode 0600 parent
 * dir expected). Returns 0 or a positive errno. */
int ctl_server_open(const char *path, struct ctl_server **);
/* Accepts NULL; unlinks PATH. Not from inside a handler. Deferred requests
 * still held are detached: ctl_pending_reply() then only frees them. */
void ctl_server_close(struct ctl_server *);
void ctl_server_register(struct ctl_server *, const char *cmd, const char *args_help,
                         ctl_handler_fn *, void *aux);
/* The one fd to watch for readability; then call ctl_server_run(). */
int ctl_server_fd(const struct ctl_server *);
/* Accepts, reads, dispatches and flushes whatever is ready. Never blocks.
 * A line longer than CTL_MAX_LINE is answered with an error and skipped;
 * the connection stays. */
void ctl_server_run(struct ctl_server *);
/* Sends an event to every connection that sent "subscribe". DATA borrowed.
 * A subscriber more than CTL_MAX_OUTQ bytes behind is dropped. Safe from a
 * handler, even towards the requester's own connection: a connection is
 * only ever freed once ctl_server_run() and ctl_server_event() return, and
 * the reply to a connection dropped meanwhile is discarded. */
void ctl_server_event(struct ctl_server *, const char *event, json_t *data);

/* Deferred replies. Called inside a handler, takes over the request being
 * handled: the handler returns NULL, and the answer is sent later, from any
 * later point of the same thread, by ctl_pending_reply(). Returns NULL when
 * called outside a handler or twice for one request. */
struct ctl_pending *ctl_conn_defer(struct ctl_conn *);
/* Answers and frees P: with RESULT (borrowed; NULL sends null) when ERROR is
 * NULL, else with ERROR. If the connection closed meanwhile, the answer is
 * dropped and P freed all the same. Every deferred request must be answered
 * exactly once (to drop one without answering, reply with an error). */
void ctl_pending_reply(struct ctl_pending *, json_t *result, const char *error);
/* The deferred request's id and whether its connection is still open. */
int64_t ctl_pending_id(const struct ctl_pending *);
bool ctl_pending_alive(const struct ctl_pending *);

/* Built-in commands on every server: "list-commands", "subscribe", "echo",
 * "log/set" {"module": "ice"|"*", "level": "debug"}. */

/* ---- client ---------------------------------------------------------- */

struct ctl_client;

typedef void ctl_reply_fn(void *aux, const struct ctl_msg *response);
typedef void ctl_event_fn(void *aux, const struct ctl_msg *event);

/* Connects (non-blocking afterwards). Returns 0 or a positive errno. */
int ctl_client_connect(const char *path, struct ctl_client **);
/* Accepts NULL. Every reply still owed is called first, with ok false and
 * error "connection closed" (sends from those callbacks are refused and
 * answered the same way before it returns). */
void ctl_client_close(struct ctl_client *);
int ctl_client_fd(const struct ctl_client *);
void ctl_client_set_event_cb(struct ctl_client *, ctl_event_fn *, void *aux);
/* Queues a request. ARGS borrowed. Returns 0 or a positive errno:
 *   ENOBUFS   CTL_MAX_PENDING requests outstanding, or CTL_MAX_OUTQ bytes
 *             queued (the server is not reading)
 *   EMSGSIZE  the request line would be over CTL_MAX_LINE
 *   EPIPE etc the connection is dead (ctl_client_run() returns it too)
 * Whatever it returns, REPLY (may be NULL) is called exactly once, and never
 * from inside ctl_client_send(): with the response, or, for a refused request,
 * with ok false and an error naming the refusal from the next
 * ctl_client_run() (see ctl_client_want_run()) or ctl_client_close(). So a
 * caller releases what it attached to AUX in REPLY only, never on error. */
int ctl_client_send(struct ctl_client *, const char *cmd, json_t *args,
                    ctl_reply_fn *reply, void *aux);
/* True when output is queued (watch the fd for POLLOUT too). */
bool ctl_client_want_write(const struct ctl_client *);
/* True when replies of refused requests wait: call ctl_client_run() without
 * waiting for the fd (poll with timeout 0). */
bool ctl_client_want_run(const struct ctl_client *);
/* Reads/writes what is ready and dispatches replies and events.
 * Returns 0, or a positive errno (EPIPE on EOF) once the connection is dead;
 * every outstanding reply has then been called with ok false ("connection
 * closed" or the error), before it returns. A response line over
 * CTL_MAX_LINE answers its request with an error (matched by its leading
 * id; one that cannot be matched, like an over-long event, is logged and
 * dropped); the connection stays. */
int ctl_client_run(struct ctl_client *);
/* Liveness. While requests are outstanding: the monotonic time (ms, see
 * evio/timing.h) since which the server has sent nothing, i.e. the later of
 * when the oldest outstanding request was sent and when the last byte
 * arrived; -1 when no request is outstanding. A supervisor calls a server
 * silent for N seconds with a request outstanding "not answering". */
int64_t ctl_client_silent_since_ms(const struct ctl_client *);
/* Requests sent and not yet answered. */
int ctl_client_pending(const struct ctl_client *);

/* Blocking one-shot call for tools: connects, sends, waits up to TIMEOUT_MS
 * for the response. Returns 0 with *RESULT (new ref) or sets *ERR (malloc'd). */
int ctl_call(const char *path, const char *cmd, json_t *args, int timeout_ms,
             json_t **result, char **err);

#endif
