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

struct helper;
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
    int backoff_ms;
    struct ctl_client *ctl;    /* when READY */
    helper_ready_fn *ready_fn;
    void *aux;
};

void helper_init(struct helper *, const char *name, const char *exe, const char *config_path,
                 const char *socket_path, helper_ready_fn *, void *aux);
void helper_destroy(struct helper *);    /* stops the process too */
const char *helper_state_name(enum helper_state);

/* Starts the process now. Returns 0 or a positive errno. */
int helper_start(struct helper *, int64_t now_ms);
/* Runs timers (restart, connect attempts). */
void helper_run(struct helper *, int64_t now_ms);
/* Milliseconds until helper_run has something to do, or -1. */
int64_t helper_next_deadline(const struct helper *);
/* Tells the helper that PID exited with STATUS (from waitpid). Returns true
 * if PID was this helper's. */
bool helper_reap(struct helper *, pid_t pid, int status, int64_t now_ms);
/* Called when its control connection failed: the process is killed so it is
 * restarted cleanly (a daemon that stops answering is as good as dead). */
void helper_conn_lost(struct helper *, const char *why, int64_t now_ms);

#endif
