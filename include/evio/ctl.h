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

#define CTL_MAX_LINE (256 * 1024)   /* a longer line is an error */

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
};
void ctl_linebuf_init(struct ctl_linebuf *, size_t max);
void ctl_linebuf_free(struct ctl_linebuf *);
/* Appends N bytes; returns false if a line grew past MAX (the buffer is
 * then in error and should be discarded with the connection). */
bool ctl_linebuf_append(struct ctl_linebuf *, const void *data, size_t n);
/* Returns the next complete line (NUL-terminated in place, without '\n') and
 * its length, or NULL. The pointer is valid until the next append/next call. */
char *ctl_linebuf_next(struct ctl_linebuf *, size_t *len);

/* ---- server ---------------------------------------------------------- */

struct ctl_server;
struct ctl_conn;

/* A command handler. ARGS may be NULL. Returns a new reference to the
 * result (json null/object) on success; on failure returns NULL and sets
 * *ERR to a malloc'd message. */
typedef json_t *ctl_handler_fn(void *aux, json_t *args, struct ctl_conn *, char **err);

/* Opens a listening socket at PATH (replacing a stale one, mode 0600 parent
 * dir expected). Returns 0 or a positive errno. */
int ctl_server_open(const char *path, struct ctl_server **);
void ctl_server_close(struct ctl_server *);   /* accepts NULL; unlinks PATH */
void ctl_server_register(struct ctl_server *, const char *cmd, const char *args_help,
                         ctl_handler_fn *, void *aux);
/* The one fd to watch for readability; then call ctl_server_run(). */
int ctl_server_fd(const struct ctl_server *);
/* Accepts, reads, dispatches and flushes whatever is ready. Never blocks. */
void ctl_server_run(struct ctl_server *);
/* Sends an event to every connection that sent "subscribe". DATA borrowed. */
void ctl_server_event(struct ctl_server *, const char *event, json_t *data);

/* Built-in commands on every server: "list-commands", "subscribe", "echo",
 * "log/set" {"module": "ice"|"*", "level": "debug"}. */

/* ---- client ---------------------------------------------------------- */

struct ctl_client;

typedef void ctl_reply_fn(void *aux, const struct ctl_msg *response);
typedef void ctl_event_fn(void *aux, const struct ctl_msg *event);

/* Connects (non-blocking afterwards). Returns 0 or a positive errno. */
int ctl_client_connect(const char *path, struct ctl_client **);
void ctl_client_close(struct ctl_client *);  /* accepts NULL */
int ctl_client_fd(const struct ctl_client *);
void ctl_client_set_event_cb(struct ctl_client *, ctl_event_fn *, void *aux);
/* Queues a request; REPLY (may be NULL) is called with the response.
 * ARGS borrowed. Returns 0 or a positive errno. */
int ctl_client_send(struct ctl_client *, const char *cmd, json_t *args,
                    ctl_reply_fn *reply, void *aux);
/* True when output is queued (watch the fd for POLLOUT too). */
bool ctl_client_want_write(const struct ctl_client *);
/* Reads/writes what is ready and dispatches replies and events.
 * Returns 0, or a positive errno (EPIPE on EOF) once the connection is dead. */
int ctl_client_run(struct ctl_client *);

/* Blocking one-shot call for tools: connects, sends, waits up to TIMEOUT_MS
 * for the response. Returns 0 with *RESULT (new ref) or sets *ERR (malloc'd). */
int ctl_call(const char *path, const char *cmd, json_t *args, int timeout_ms,
             json_t **result, char **err);

#endif
