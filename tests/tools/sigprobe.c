/* sigprobe: a small driver for overlay/signaling.c used by the integration
 * tests. Connects with a config file as a given node id, joins the config's
 * overlays and prints one line per event; commands come on stdin.
 *
 *   stdout: connected | disconnected: WHY | joined OVERLAY NODE |
 *           left OVERLAY NODE | msg OVERLAY FROM TYPE | bad OVERLAY FROM: ERROR |
 *           sent OVERLAY NODE | send failed: ERROR
 *   stdin:  send OVERLAY NODE  (an edge_req) |
 *           bulk OVERLAY NODE  (a link_cand near the size limit) | quit
 * Logs go to stderr. Exits 0 on quit, SIGTERM or SIGINT, 2 on bad usage. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../overlay/signaling.h"
#include "../../overlay/sigmsg.h"
#include "evio/config.h"
#include "evio/log.h"
#include "evio/nodeid.h"

struct probe {
    struct sig_session *sig;
    struct nodeid self;
    char session[SIGMSG_HEX16_LEN + 1];
};

static volatile sig_atomic_t probe_stop;

static void probe_on_signal(int sig) { probe_stop = 1; }

static void probe_on_state(void *aux, bool connected, const char *why)
{
    if (connected)
        printf("connected\n");
    else
        printf("disconnected: %s\n", why);
    fflush(stdout);
}

static void probe_on_joined(void *aux, const char *overlay, const char *node, const char *session)
{
    printf("joined %s %s\n", overlay, node);
    fflush(stdout);
}

static void probe_on_left(void *aux, const char *overlay, const char *node)
{
    printf("left %s %s\n", overlay, node);
    fflush(stdout);
}

static void probe_on_message(void *aux, const char *overlay, const char *from,
                             const char *payload, size_t len)
{
    struct probe *p = aux;
    struct sigmsg m;
    char *err = sigmsg_decode(payload, len, overlay, &p->self, &m);
    char sender[NODEID_HEX_LEN + 1];

    if (!err) {
        nodeid_format(&m.from, sender);
        if (strcmp(sender, from) && asprintf(&err, "claims to be from %s", sender) < 0)
            err = NULL;
    }
    if (err)
        printf("bad %s %s: %s\n", overlay, from, err);
    else
        printf("msg %s %s %s\n", overlay, from, sigmsg_type_name(m.type));
    fflush(stdout);
    free(err);
}

/* BULK sends 15 candidates of 480 characters: about 7.7 KB, more than one
 * read of libstrophe's 4 KiB buffer, to exercise draining TLS records. */
static void probe_send(struct probe *p, const char *overlay, const char *to, bool bulk)
{
    struct sigmsg m = { .type = SIGMSG_EDGE_REQ, .edge_type = SIGMSG_EDGE_SUCCESSOR };
    char *err = NULL, *text = NULL;
    int rc;

    /* a made-up certificate fingerprint: the probe has no datapath */
    for (int i = 0; i < 32; i++)
        memcpy(m.creds.fingerprint + 3 * i, i < 31 ? "AB:" : "AB", i < 31 ? 3 : 3);

    if (bulk) {
        m.type = SIGMSG_LINK_CAND;
        m.n_cands = 15;
        for (int i = 0; i < m.n_cands; i++) {
            int n = snprintf(m.cands[i], sizeof m.cands[i], "%d 1 UDP 2013266431 10.0.0.%d "
                             "40000 typ host pad ", i + 1, i + 1);
            memset(m.cands[i] + n, 'x', (size_t) (480 - n));
        }
    }

    snprintf(m.overlay, sizeof m.overlay, "%s", overlay);
    m.from = p->self;
    memcpy(m.session, p->session, sizeof m.session);
    if (!nodeid_parse(to, &m.to) || !sigmsg_random_hex16(m.edge_id)) {
        printf("send failed: bad node id %s\n", to);
    } else if (!(text = sigmsg_encode(&m, &err))) {
        printf("send failed: %s\n", err ? err : "out of memory");
    } else if ((rc = sig_session_send(p->sig, overlay, to, text))) {
        printf("send failed: %s\n", strerror(rc));
    } else {
        printf("sent %s %s\n", overlay, to);
    }
    fflush(stdout);
    free(err);
    free(text);
}

/* Handles one stdin line; returns false on "quit". */
static bool probe_command(struct probe *p, char *line)
{
    char overlay[SIGMSG_OVERLAY_MAX + 1], to[64];
    line[strcspn(line, "\r\n")] = '\0';
    if (!strcmp(line, "quit"))
        return false;
    if (sscanf(line, "send %32s %63s", overlay, to) == 2)
        probe_send(p, overlay, to, false);
    else if (sscanf(line, "bulk %32s %63s", overlay, to) == 2)
        probe_send(p, overlay, to, true);
    else if (*line)
        fprintf(stderr, "sigprobe: unknown command: %s\n", line);
    return true;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct probe p = { .sig = NULL };
    char *err = NULL;

    if (argc != 3 || !nodeid_parse(argv[2], &p.self)) {
        fprintf(stderr, "usage: sigprobe CONFIG NODE_ID\n");
        return 2;
    }
    log_init("sigprobe");
    if (config_load(argv[1], &cfg, &err)) {
        fprintf(stderr, "sigprobe: %s\n", err);
        free(err);
        return 2;
    }
    log_set_level(NULL, cfg.log_level ? cfg.log_level : "info");

    static const struct sig_callbacks cb = {
        .state = probe_on_state,
        .peer_joined = probe_on_joined,
        .peer_left = probe_on_left,
        .message = probe_on_message,
    };
    int rc = sigmsg_random_hex16(p.session) ? 0 : EIO;
    if (!rc)
        rc = sig_session_create(&cfg, argv[2], p.session, &cb, &p, &p.sig);
    config_free(&cfg);
    if (rc) {
        fprintf(stderr, "sigprobe: cannot create session: %s\n", strerror(rc ? rc : EIO));
        return 1;
    }

    struct sigaction sa = { .sa_handler = probe_on_signal };   /* no SA_RESTART */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char line[512];
    size_t have = 0;
    bool stdin_open = true, running = true;
    while (running && !probe_stop) {
        struct pollfd fds[2] = {
            { .fd = sig_session_fd(p.sig), .events = POLLIN },
            { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
        };
        if (poll(fds, 2, sig_session_timeout_ms(p.sig)) < 0 && errno != EINTR)
            break;
        if (fds[1].revents) {
            ssize_t n = read(STDIN_FILENO, line + have, sizeof line - 1 - have);
            if (n <= 0) {
                stdin_open = false;   /* keep running: tests stop us with a signal */
            } else {
                have += (size_t) n;
                line[have] = '\0';
                char *nl;
                while (running && (nl = strchr(line, '\n'))) {
                    *nl = '\0';
                    running = probe_command(&p, line);
                    have -= (size_t) (nl + 1 - line);
                    memmove(line, nl + 1, have + 1);
                }
                if (have == sizeof line - 1)
                    have = 0;   /* an overlong line: drop it */
            }
        }
        sig_session_run(p.sig);
    }
    sig_session_destroy(p.sig);
    printf("exit\n");
    return 0;
}
