/* evio-switchctl: one per node; owns the Open vSwitch bridge of each overlay
 * and is its OpenFlow 1.3 controller. Runs on OVS's poll loop; the node agent
 * drives it over <run_dir>/switchctl.sock. */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"

#include "evio/cli.h"
#include "evio/config.h"
#include "evio/mtu.h"
#include "evio/version.h"
#include "evio/ctl.h"
#include "evio/log.h"
#include "bridge.h"
#include "control.h"
#include "l2switch.h"

#define MOD "main"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: evio-switchctl [--config FILE]\n"
            "Creates and controls the Open vSwitch bridge of each overlay in FILE\n"
            "(default %s) and serves <run_dir>/switchctl.sock.\n"
            "  -c, --config FILE  configuration file\n"
            "  -h, --help         this help\n"
            "  -V, --version      print the version\n",
            CONFIG_DEFAULT_PATH);
}

/* Termination signals are read from a signalfd on the poll loop, so the
 * loop finishes its iteration and exits 0 instead of dying mid-transaction
 * (and OVS's own fatal-signal handlers never see them). */
static int main_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL))
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int main(int argc, char **argv)
{
    const char *config_path = CONFIG_DEFAULT_PATH;
    int done = cli_daemon_args(argc, argv, "evio-switchctl", usage, &config_path);
    if (done >= 0)
        return done;

    /* Before any thread exists, so every thread inherits the mask. */
    int sigfd = main_signalfd();
    if (sigfd < 0) {
        fprintf(stderr, "evio-switchctl: signalfd: %s\n", strerror(errno));
        return 1;
    }
    ovs_set_program_name("evio-switchctl", EVIO_VERSION);
    log_init("evio-switchctl");
    /* libopenvswitch logs through vlog: keep its warnings on stderr only. */
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);

    struct config cfg;
    char *err = NULL;
    int rc = config_load(config_path, &cfg, &err);
    if (rc) {
        fprintf(stderr, "evio-switchctl: %s\n", err ? err : "cannot load the configuration");
        free(err);
        return rc == 1 ? 1 : 2;
    }
    if (cfg.log_level && !log_set_level("*", cfg.log_level))
        log_warn(MOD, "unknown log level \"%s\"", cfg.log_level);
    mtu_resolve(&cfg, MOD, true);     /* "mtu": "auto": evio's value when it started us */

    struct bridge_db *db = bridge_db_create(cfg.ovs_db, cfg.ovs_rundir);
    struct l2switch *switches[CONFIG_MAX_OVERLAYS];
    struct control_ctx ctx = { .db = db, .switches = switches };
    if (!db) {
        log_error(MOD, "cannot create the OVSDB client");
        config_free(&cfg);
        return 1;
    }
    for (int i = 0; i < cfg.n_overlays; i++) {
        const struct config_overlay *ov = &cfg.overlays[i];
        if (bridge_db_add_bridge(db, ov->name, ov->bridge_name, ov->mtu, &err)) {
            fprintf(stderr, "evio-switchctl: %s: %s\n", cfg.path, err);
            free(err);
            rc = 2;
            goto out;
        }
        switches[ctx.n_switches] = l2switch_create(ov, db);
        if (switches[ctx.n_switches] && ov->ip_auto
            && l2switch_auto_address(switches[ctx.n_switches], ov, cfg.state_dir)) {
            l2switch_destroy(switches[ctx.n_switches]);
            switches[ctx.n_switches] = NULL;
        }
        if (!switches[ctx.n_switches]) {
            log_error(MOD, "overlay %s: out of memory", ov->name);
            rc = 1;
            goto out;
        }
        ctx.n_switches++;
    }
    if (!cfg.n_overlays)
        log_warn(MOD, "no overlays configured: nothing to switch");

    char sock[4096];
    snprintf(sock, sizeof sock, "%s/switchctl.sock", cfg.run_dir);
    struct ctl_server *srv = NULL;
    int e = cli_mkdir_p(cfg.run_dir, 0755);
    if (!e)
        e = ctl_server_open(sock, &srv);
    if (e) {
        log_error(MOD, "cannot serve %s: %s", sock, strerror(e));
        rc = 1;
        goto out;
    }
    control_register(srv, &ctx);
    log_info(MOD, "running: %d overlay(s), database %s, control %s", cfg.n_overlays,
             cfg.ovs_db, sock);

    for (;;) {
        struct signalfd_siginfo si;
        if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
            log_info(MOD, "signal %u: exiting, the bridges keep forwarding", si.ssi_signo);
            break;
        }
        bridge_db_run(db);
        for (size_t i = 0; i < ctx.n_switches; i++)
            l2switch_run(switches[i]);
        ctl_server_run(srv);

        bridge_db_wait(db);
        for (size_t i = 0; i < ctx.n_switches; i++)
            l2switch_wait(switches[i]);
        poll_fd_wait(ctl_server_fd(srv), POLLIN);
        poll_fd_wait(sigfd, POLLIN);
        poll_block();
    }
    rc = 0;

out:
    ctl_server_close(srv);
    for (size_t i = 0; i < ctx.n_switches; i++)
        l2switch_destroy(switches[i]);
    bridge_db_destroy(db);
    config_free(&cfg);
    close(sigfd);
    return rc;
}
