/* Starting, watching and restarting the helper processes (see supervisor.h). */
#include "supervisor.h"
#include "evio/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESTART_MIN_MS    200
#define RESTART_MAX_MS    30000
#define STABLE_MS         60000     /* up this long resets the backoff */
#define CONNECT_RETRY_MS  100
#define START_TIMEOUT_MS  20000     /* socket not answering by then: restart */
/* A request outstanding this long with not one byte from the helper meanwhile
 * means the helper stopped answering (its loop is stuck): restart it. Events
 * and other replies count as signs of life, so a slow request alone does not. */
#define ANSWER_TIMEOUT_MS HELPER_ANSWER_TIMEOUT_MS

static const char *const helper_state_names[] = {
#define X(name, text) text,
    HELPER_STATES(X)
#undef X
};

const char *helper_state_name(enum helper_state s)
{
    return helper_state_names[s];
}

static void helper_set_state(struct helper *h, enum helper_state s, int64_t now, const char *why)
{
    if (h->state != s)
        log_info("supervisor", "%s: %s -> %s%s%s", h->name, helper_state_name(h->state),
                 helper_state_name(s), why ? ": " : "", why ? why : "");
    h->state = s;
    h->state_since_ms = now;
}

void helper_init(struct helper *h, const char *name, const char *exe, const char *config_path,
                 const char *socket_path, helper_ready_fn *fn, void *aux)
{
    memset(h, 0, sizeof *h);
    h->name = name;
    h->exe = strdup(exe);
    h->config_path = strdup(config_path);
    h->socket_path = strdup(socket_path);
    h->state = HELPER_STOPPED;
    h->backoff_ms = RESTART_MIN_MS;
    h->ready_fn = fn;
    h->aux = aux;
}

/* Requests refused while the helper was not connected, answered from
 * helper_run() so callers never see their callback inside helper_send(). */
struct helper_refusal {
    ctl_reply_fn *fn;
    void *aux;
};

static void deliver_refused(struct helper *h)
{
    for (size_t n = h->n_refused; n && h->n_refused; n--) {
        struct helper_refusal r = h->refused[0];
        memmove(&h->refused[0], &h->refused[1], (h->n_refused - 1) * sizeof r);
        h->n_refused--;
        struct ctl_msg m = { .kind = CTL_MSG_RESPONSE, .id = -1, .ok = false,
                             .error = "helper not running" };
        r.fn(r.aux, &m);
    }
}

int helper_send(struct helper *h, const char *cmd, json_t *args, ctl_reply_fn *reply, void *aux)
{
    if (h->state == HELPER_READY && h->ctl)
        return ctl_client_send(h->ctl, cmd, args, reply, aux);
    if (!reply)
        return ENOTCONN;
    if (h->n_refused == h->cap_refused) {
        size_t cap = h->cap_refused ? h->cap_refused * 2 : 8;
        struct helper_refusal *r = realloc(h->refused, cap * sizeof *r);
        if (!r) {
            struct ctl_msg m = { .kind = CTL_MSG_RESPONSE, .id = -1, .ok = false,
                                 .error = "helper not running" };
            reply(aux, &m);      /* nowhere to keep it: answer now rather than never */
            return ENOTCONN;
        }
        h->refused = r;
        h->cap_refused = cap;
    }
    h->refused[h->n_refused++] = (struct helper_refusal){ reply, aux };
    return ENOTCONN;
}

static void helper_disconnect(struct helper *h)
{
    if (!h->ctl)
        return;
    ctl_client_close(h->ctl);
    h->ctl = NULL;
    if (h->ready_fn)
        h->ready_fn(h->aux, h, false);
}

void helper_destroy(struct helper *h)
{
    helper_disconnect(h);
    while (h->n_refused)
        deliver_refused(h);
    free(h->refused);
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        for (int i = 0; i < 50; i++) {
            if (waitpid(h->pid, NULL, WNOHANG) == h->pid) {
                h->pid = 0;
                break;
            }
            usleep(100 * 1000);
        }
        if (h->pid > 0) {
            kill(h->pid, SIGKILL);
            waitpid(h->pid, NULL, 0);
        }
    }
    free(h->exe);
    free(h->config_path);
    free(h->socket_path);
}

int helper_start(struct helper *h, int64_t now)
{
    pid_t pid = fork();
    if (pid < 0)
        return errno;
    if (pid == 0) {
        /* the helpers go down with the agent rather than linger unsupervised */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        execl(h->exe, h->name, "--config", h->config_path, (char *)NULL);
        fprintf(stderr, "evio: cannot run %s: %s\n", h->exe, strerror(errno));
        _exit(127);
    }
    h->pid = pid;
    h->next_action_ms = now + CONNECT_RETRY_MS;
    char why[64];
    snprintf(why, sizeof why, "pid %d", (int)pid);
    helper_set_state(h, HELPER_STARTING, now, why);
    return 0;
}

static void try_connect(struct helper *h, int64_t now)
{
    struct ctl_client *c;
    if (ctl_client_connect(h->socket_path, &c) != 0) {
        if (now - h->state_since_ms > START_TIMEOUT_MS) {
            log_warn("supervisor", "%s: control socket %s not answering after %d s; restarting",
                     h->name, h->socket_path, START_TIMEOUT_MS / 1000);
            kill(h->pid, SIGKILL);   /* reaped as a crash, which schedules the restart */
            h->next_action_ms = 0;
            return;
        }
        h->next_action_ms = now + CONNECT_RETRY_MS;
        return;
    }
    h->ctl = c;
    h->next_action_ms = 0;
    helper_set_state(h, HELPER_READY, now, NULL);
    if (h->ready_fn)
        h->ready_fn(h->aux, h, true);
}

/* Kills a helper that stopped answering; reaped as a crash, which schedules
 * the restart. */
static void helper_not_answering(struct helper *h, int64_t silent_ms, int64_t now)
{
    log_warn("supervisor", "%s: not answering: a request outstanding and nothing received "
             "for %lld ms; restarting", h->name, (long long)silent_ms);
    h->unanswered++;
    helper_disconnect(h);
    if (h->pid > 0)
        kill(h->pid, SIGKILL);
}

static void run_conn(struct helper *h, int64_t now)
{
    if (ctl_client_want_run(h->ctl)) {
        int error = ctl_client_run(h->ctl);
        if (error) {
            helper_conn_lost(h, error == EPIPE ? "closed" : strerror(error), now);
            return;
        }
    }
    int64_t since = h->ctl ? ctl_client_silent_since_ms(h->ctl) : -1;
    if (since >= 0 && now - since >= ANSWER_TIMEOUT_MS)
        helper_not_answering(h, now - since, now);
}

void helper_io(struct helper *h, int64_t now)
{
    if (!h->ctl)
        return;
    int error = ctl_client_run(h->ctl);
    if (error)
        helper_conn_lost(h, error == EPIPE ? "closed" : strerror(error), now);
}

void helper_run(struct helper *h, int64_t now)
{
    deliver_refused(h);
    if (h->state == HELPER_READY && h->ctl)
        run_conn(h, now);
    if (!h->next_action_ms || now < h->next_action_ms)
        return;
    if (h->state == HELPER_STOPPED) {
        h->next_action_ms = 0;
        int error = helper_start(h, now);
        if (error) {
            log_error("supervisor", "%s: cannot start: %s", h->name, strerror(error));
            h->next_action_ms = now + h->backoff_ms;
        }
    } else if (h->state == HELPER_STARTING) {
        try_connect(h, now);
    }
}

int64_t helper_next_deadline(const struct helper *h)
{
    if (h->n_refused || (h->ctl && ctl_client_want_run(h->ctl)))
        return monotonic_ms();
    int64_t d = h->next_action_ms ? h->next_action_ms : -1;
    int64_t since = h->ctl ? ctl_client_silent_since_ms(h->ctl) : -1;
    if (since >= 0 && (d < 0 || since + ANSWER_TIMEOUT_MS < d))
        d = since + ANSWER_TIMEOUT_MS;
    return d;
}

bool helper_reap(struct helper *h, pid_t pid, int status, int64_t now)
{
    if (pid != h->pid)
        return false;
    char why[96];
    if (WIFSIGNALED(status))
        snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
    bool was_stable = now - h->state_since_ms >= STABLE_MS && h->state == HELPER_READY;
    h->pid = 0;
    helper_disconnect(h);

    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        /* a configuration error will not fix itself by restarting quickly */
        h->backoff_ms = RESTART_MAX_MS;
    } else if (was_stable) {
        h->backoff_ms = RESTART_MIN_MS;
    }
    log_warn("supervisor", "%s %s; restarting in %d ms", h->name, why, h->backoff_ms);
    helper_set_state(h, HELPER_STOPPED, now, why);
    h->restarts++;
    h->next_action_ms = now + h->backoff_ms;
    h->backoff_ms = h->backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : h->backoff_ms * 2;
    return true;
}

void helper_conn_lost(struct helper *h, const char *why, int64_t now)
{
    log_warn("supervisor", "%s: control connection lost (%s)", h->name, why);
    helper_disconnect(h);
    if (h->pid > 0)
        kill(h->pid, SIGKILL);
}
