/* The agent's helper processes (evio-tincan, evio-switchctl): started as
 * children, connected to over their control sockets once those answer, and
 * restarted with backoff when they die. The agent re-applies its state to a
 * helper each time it becomes ready. */
#ifndef EVIO_SUPERVISOR_H
#define EVIO_SUPERVISOR_H

#include "evio/ctl.h"
#include "evio/timing.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HELPER_STATES(X)                                             \
    X(STOPPED,  "stopped")   /* not running; restart scheduled */    \
    X(STARTING, "starting")  /* running, control socket not yet up */\
    X(READY,    "ready")     /* connected over its control socket */

enum helper_state {
#define X(name, text) HELPER_##name,
    HELPER_STATES(X)
#undef X
};

/* A request outstanding this long with nothing at all received from the
 * helper meanwhile: the helper is "not answering" and is restarted. */
#define HELPER_ANSWER_TIMEOUT_MS 10000

struct helper;
struct helper_refusal;
/* Called when the helper's control connection is up (READY) or lost. */
typedef void helper_ready_fn(void *aux, struct helper *, bool ready);

struct helper {
    const char *name;          /* "evio-tincan" */
    char *exe;                 /* path of the program */
    char *config_path;
    char *socket_path;         /* its control socket */
    enum helper_state state;
    pid_t pid;
    unsigned restarts;
    int64_t state_since_ms;
    int64_t next_action_ms;    /* restart time, or next connect attempt */
    unsigned unanswered;       /* restarts because it stopped answering */
    int backoff_ms;
    struct ctl_client *ctl;    /* when READY */
    helper_ready_fn *ready_fn;
    void *aux;
    struct helper_refusal *refused;   /* helper_send() while not READY */
    size_t n_refused, cap_refused;
};

void helper_init(struct helper *, const char *name, const char *exe, const char *config_path,
                 const char *socket_path, helper_ready_fn *, void *aux);
void helper_destroy(struct helper *);    /* stops the process too */
const char *helper_state_name(enum helper_state);

/* Starts the process now. Returns 0 or a positive errno. */
int helper_start(struct helper *, int64_t now_ms);
/* Sends a request over the helper's control connection. Returns 0 or a
 * positive errno (ENOTCONN when it is not READY; see ctl_client_send() for
 * the others). Whatever it returns, REPLY (may be NULL) is called exactly
 * once and never from inside helper_send(): with the response, or with ok
 * false and the error ("helper not running", "connection closed", a
 * refusal) from a later helper_run(), the connection's ctl_client_run(), or
 * when the connection is lost. */
int helper_send(struct helper *, const char *cmd, json_t *args, ctl_reply_fn *reply, void *aux);
/* After the control connection's fd (h->ctl, when READY; watch POLLIN, and
 * POLLOUT while ctl_client_want_write()) polled ready: reads and dispatches
 * replies and events; on end of file or a socket error, helper_conn_lost(). */
void helper_io(struct helper *, int64_t now_ms);
/* Runs timers (restart, connect attempts), answers refused requests, and
 * restarts a helper that stopped answering: a request outstanding for
 * HELPER_ANSWER_TIMEOUT_MS with nothing received meanwhile. Call it on every
 * loop iteration (at least by helper_next_deadline()). */
void helper_run(struct helper *, int64_t now_ms);
/* The monotonic time (ms) at which helper_run has something to do (the
 * current time when it has at once), or -1. */
int64_t helper_next_deadline(const struct helper *);
/* Tells the helper that PID exited with STATUS (from waitpid). Returns true
 * if PID was this helper's. */
bool helper_reap(struct helper *, pid_t pid, int status, int64_t now_ms);
/* Called when its control connection failed (ctl_client_run() returned an
 * error: EOF or a socket error, never a bad request of ours, which gets an
 * error reply instead): the process is killed so it is restarted cleanly. */
void helper_conn_lost(struct helper *, const char *why, int64_t now_ms);

#endif
