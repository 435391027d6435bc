/* Unit tests of the helper supervisor (overlay/supervisor.c) with a real
 * child process and a real control server on a socket in a temporary
 * directory: a helper is restarted when it stops answering, never because
 * of the agent's own bad request, and every request's reply is called once,
 * never from inside helper_send(). */
#include "check.h"
#include "../../overlay/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct rec {
    int calls;
    bool ok;
    char error[160];
};

static void rec_cb(void *aux, const struct ctl_msg *m)
{
    struct rec *r = aux;
    r->calls++;
    r->ok = m->ok;
    snprintf(r->error, sizeof r->error, "%s", m->ok ? "" : m->error);
}

static int n_ready, n_lost;

static void on_ready(void *aux, struct helper *h, bool ready)
{
    if (ready)
        n_ready++;
    else
        n_lost++;
}

/* What the agent's loop does for one helper: its connection when readable,
 * then helper_run. The server side runs in the same thread when SRV_RUNS. */
static void step(struct helper *h, struct ctl_server *srv, bool srv_runs, int64_t now)
{
    struct pollfd p[2] = { { ctl_server_fd(srv), POLLIN, 0 },
                           { h->ctl ? ctl_client_fd(h->ctl) : -1, POLLIN, 0 } };
    poll(p, 2, 20);
    if (srv_runs)
        ctl_server_run(srv);
    if (h->ctl && p[1].revents)
        helper_io(h, now);
    helper_run(h, now);
}

static struct ctl_pending *held;
static int deferred;

static json_t *cmd_slow(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    held = ctl_conn_defer(c);
    deferred++;
    return NULL;
}

int main(void)
{
    char dir[] = "/tmp/evio-test-sup-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char exe[64], sock[64];
    snprintf(exe, sizeof exe, "%s/helper.sh", dir);
    snprintf(sock, sizeof sock, "%s/h.sock", dir);
    FILE *f = fopen(exe, "w");
    fputs("#!/bin/sh\nexec sleep 60\n", f);
    fclose(f);
    chmod(exe, 0755);

    /* the control socket the "helper" serves is this process's own */
    struct ctl_server *srv;
    CHECK(ctl_server_open(sock, &srv) == 0);
    ctl_server_register(srv, "slow", "", cmd_slow, NULL);

    struct helper h;
    helper_init(&h, "test-helper", exe, "/dev/null", sock, on_ready, NULL);

    /* not running: refused, answered from helper_run, not from helper_send */
    struct rec down = { 0 };
    CHECK(helper_send(&h, "echo", NULL, rec_cb, &down) == ENOTCONN);
    CHECK(down.calls == 0);
    CHECK(helper_next_deadline(&h) <= monotonic_ms());
    helper_run(&h, monotonic_ms());
    CHECK(down.calls == 1 && !down.ok);
    CHECK_STR(down.error, "helper not running");

    int64_t now = monotonic_ms();
    CHECK(helper_start(&h, now) == 0);
    pid_t first = h.pid;
    for (int i = 0; i < 100 && h.state != HELPER_READY; i++)
        step(&h, srv, true, monotonic_ms() + 200);
    CHECK(h.state == HELPER_READY && n_ready == 1);

    /* the agent's own bad request is answered with an error; nothing restarts */
    char *pad = malloc(300001);
    memset(pad, 'a', 300000);
    pad[300000] = '\0';
    json_t *args = json_pack("{ss}", "candidates", pad);
    struct rec big = { 0 };
    CHECK(helper_send(&h, "link/remote", args, rec_cb, &big) == EMSGSIZE);
    CHECK(big.calls == 0);
    for (int i = 0; i < 100 && !big.calls; i++)
        step(&h, srv, true, monotonic_ms());
    CHECK(big.calls == 1 && !big.ok && strstr(big.error, "request line over"));
    CHECK(h.state == HELPER_READY && h.pid == first && h.ctl && h.restarts == 0);
    json_decref(args);
    free(pad);

    /* answered requests leave no liveness deadline behind */
    struct rec echo = { 0 };
    CHECK(helper_send(&h, "echo", NULL, rec_cb, &echo) == 0);
    for (int i = 0; i < 100 && !echo.calls; i++)
        step(&h, srv, true, monotonic_ms());
    CHECK(echo.calls == 1 && echo.ok);
    CHECK(ctl_client_silent_since_ms(h.ctl) == -1 && helper_next_deadline(&h) == -1);
    helper_run(&h, monotonic_ms() + 60000);
    CHECK(h.state == HELPER_READY && h.ctl && n_lost == 0);

    /* a slow request with signs of life (an event) is not "not answering" */
    struct rec sub = { 0 }, slow = { 0 };
    CHECK(helper_send(&h, "subscribe", NULL, rec_cb, &sub) == 0);
    CHECK(helper_send(&h, "slow", NULL, rec_cb, &slow) == 0);
    for (int i = 0; i < 100 && !(sub.calls && deferred); i++)
        step(&h, srv, true, monotonic_ms());
    CHECK(sub.calls == 1 && deferred == 1 && slow.calls == 0);
    int64_t since = ctl_client_silent_since_ms(h.ctl);
    CHECK(since > 0 && helper_next_deadline(&h) == since + HELPER_ANSWER_TIMEOUT_MS);
    while (monotonic_ms() <= since)
        ;                        /* the clock must move for the event to count */
    ctl_server_event(srv, "test/alive", NULL);
    for (int i = 0; i < 100 && ctl_client_silent_since_ms(h.ctl) == since; i++)
        step(&h, srv, true, since);
    int64_t since2 = ctl_client_silent_since_ms(h.ctl);
    CHECK(since2 > since);
    helper_run(&h, since + HELPER_ANSWER_TIMEOUT_MS);
    CHECK(h.state == HELPER_READY && h.ctl && slow.calls == 0);
    ctl_pending_reply(held, NULL, NULL);
    for (int i = 0; i < 100 && !slow.calls; i++)
        step(&h, srv, true, monotonic_ms());
    CHECK(slow.calls == 1 && slow.ok);

    /* a request outstanding 10 s with nothing received: restarted */
    struct rec stuck = { 0 };
    CHECK(helper_send(&h, "echo", NULL, rec_cb, &stuck) == 0);
    since = ctl_client_silent_since_ms(h.ctl);
    helper_run(&h, since + HELPER_ANSWER_TIMEOUT_MS - 1);
    CHECK(h.state == HELPER_READY && h.ctl && stuck.calls == 0);
    helper_run(&h, since + HELPER_ANSWER_TIMEOUT_MS);
    CHECK(h.ctl == NULL && n_lost == 1 && h.unanswered == 1);
    CHECK(stuck.calls == 1 && !stuck.ok);
    CHECK_STR(stuck.error, "connection closed");
    int status = 0;
    pid_t reaped = 0;
    for (int64_t end = monotonic_ms() + 5000; !reaped && monotonic_ms() < end; poll(NULL, 0, 10))
        reaped = waitpid(first, &status, WNOHANG);
    CHECK(reaped == first);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    now = monotonic_ms();
    CHECK(helper_reap(&h, first, status, now));
    CHECK(h.state == HELPER_STOPPED && h.restarts == 1);

    /* and it comes back */
    for (int i = 0; i < 200 && h.state != HELPER_READY; i++)
        step(&h, srv, true, monotonic_ms() + 1000);
    CHECK(h.state == HELPER_READY && h.pid > 0 && h.pid != first && n_ready == 2);

    helper_destroy(&h);
    ctl_server_close(srv);
    unlink(exe);
    rmdir(dir);
    return check_report("test_supervisor");
}
