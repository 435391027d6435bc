/* evio-tincan: the datapath process of an evio node. One GLib main loop runs
 * the control socket, every link's TAP, ICE agent, DTLS session and timers;
 * the node agent (evio) drives it over <run_dir>/tincan.sock. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <glib.h>

#include "evio/cert.h"
#include "control.h"
#include "evio/version.h"
#include "dtls.h"
#include "evio/cli.h"
#include "evio/config.h"
#include "evio/ctl.h"
#include "evio/log.h"
#include "servers.h"

#define MAIN_MOD "tincan"
#define MAIN_SOCKET_NAME "tincan.sock"

static void main_usage(FILE *f)
{
    fprintf(f,
            "Usage: evio-tincan [--config FILE]\n"
            "The datapath of an evio node: TAP devices, ICE and DTLS links, driven by\n"
            "the node agent over the control socket RUN_DIR/" MAIN_SOCKET_NAME ".\n"
            "\n"
            "  -c, --config FILE   configuration file (default " CONFIG_DEFAULT_PATH ")\n"
            "  -h, --help          show this help and exit\n"
            "  -V, --version       show the version and exit\n");
}

static gboolean main_on_ctl(gint fd, GIOCondition cond, gpointer data)
{
    ctl_server_run(data);
    return G_SOURCE_CONTINUE;
}

static gboolean main_on_signal(gpointer data)
{
    log_info(MAIN_MOD, "signal received, closing every link");
    g_main_loop_quit(data);
    return G_SOURCE_CONTINUE;
}

/* Lets what link teardown queued (TURN deallocations, closes) run briefly
 * without holding up exit for long. */
static void main_drain(void)
{
    gint64 end = g_get_monotonic_time() + G_USEC_PER_SEC / 2;
    while (g_main_context_pending(NULL) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
}

int main(int argc, char **argv)
{
    const char *config_path = CONFIG_DEFAULT_PATH;
    int done = cli_daemon_args(argc, argv, "evio-tincan", main_usage, &config_path);
    if (done >= 0)
        return done;

    log_init("evio-tincan");
    struct config cfg;
    char *err = NULL;
    memset(&cfg, 0, sizeof cfg);
    if (config_load(config_path, &cfg, &err)) {
        fprintf(stderr, "evio-tincan: %s\n", err ? err : config_path);
        free(err);
        return 2;
    }
    if (cfg.log_level && !log_set_level(NULL, cfg.log_level))
        log_warn(MAIN_MOD, "unknown log level \"%s\"", cfg.log_level);

    int rc = 1;
    struct cert cert;
    struct dtls_ctx *dtls = NULL;
    struct ctl_server *srv = NULL;
    struct servers *servers = NULL;
    struct control control;
    bool have_control = false;
    GMainLoop *loop = NULL;
    char sock_path[4096];

    memset(&cert, 0, sizeof cert);
    if (cert_load_or_create(cfg.state_dir, &cert, &err)) {
        log_error(MAIN_MOD, "%s", err ? err : "cannot load the node certificate");
        goto out;
    }
    if (!(dtls = dtls_ctx_new(&cert, &err))) {
        log_error(MAIN_MOD, "%s", err ? err : "cannot set up DTLS");
        goto out;
    }
    dtls_ctx_set_rekey(dtls, (uint64_t)cfg.rekey_records);
    dtls_ctx_set_legacy(dtls, !cfg.data_records);
    dtls_ctx_set_rehandshake(dtls, (uint32_t)cfg.rekey_after_s, cfg.rekey_after_bytes);
    int e = cli_mkdir_p(cfg.run_dir, 0755);
    if (e) {
        log_error(MAIN_MOD, "%s: %s", cfg.run_dir, strerror(e));
        goto out;
    }
    if (snprintf(sock_path, sizeof sock_path, "%s/%s", cfg.run_dir, MAIN_SOCKET_NAME)
        >= (int)sizeof sock_path) {
        log_error(MAIN_MOD, "%s: path too long", cfg.run_dir);
        goto out;
    }
    if ((e = ctl_server_open(sock_path, &srv))) {
        log_error(MAIN_MOD, "%s: %s", sock_path, strerror(e));
        goto out;
    }
    /* probing the STUN/TURN servers starts now, so that their state is
     * known before the first link */
    if (!(servers = servers_new(&cfg))) {
        log_error(MAIN_MOD, "out of memory");
        goto out;
    }
    control_init(&control, srv, &cfg, &cert, dtls, servers);
    have_control = true;

    /* a subscriber that hangs up must not kill the datapath */
    signal(SIGPIPE, SIG_IGN);
    loop = g_main_loop_new(NULL, FALSE);
    guint ctl_watch = g_unix_fd_add(ctl_server_fd(srv), G_IO_IN, main_on_ctl, srv);
    guint sigterm = g_unix_signal_add(SIGTERM, main_on_signal, loop);
    guint sigint = g_unix_signal_add(SIGINT, main_on_signal, loop);
    log_info(MAIN_MOD, "evio-tincan %s listening on %s, fingerprint %s", EVIO_VERSION,
             sock_path, cert.fp_str);

    g_main_loop_run(loop);

    g_source_remove(ctl_watch);
    g_source_remove(sigterm);
    g_source_remove(sigint);
    rc = 0;

out:
    if (have_control)
        control_destroy(&control);
    servers_free(servers);
    main_drain();
    ctl_server_close(srv);
    if (loop)
        g_main_loop_unref(loop);
    dtls_ctx_free(dtls);
    cert_clear(&cert);
    free(err);
    config_free(&cfg);
    if (rc == 0)
        log_info(MAIN_MOD, "exiting");
    return rc;
}
