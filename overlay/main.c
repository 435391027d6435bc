/* evio, the node agent: command line, configuration, directories; then the
 * agent's loop (agent.c). */
#include "agent.h"
#include "evio/cli.h"
#include "evio/log.h"
#include "evio/mtu.h"
#include "evio/perm.h"
#include "evio/version.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static void usage(FILE *f)
{
    fprintf(f,
"usage: evio [OPTIONS]\n"
"The evio node agent: joins the overlays named in the configuration through\n"
"XMPP, negotiates encrypted links with peers, and drives evio-tincan (the\n"
"datapath) and evio-switchctl (the Open vSwitch controller).\n"
"\n"
"Options:\n"
"  -c, --config FILE        configuration file (default " CONFIG_DEFAULT_PATH ")\n"
"      --check-config FILE  validate FILE and exit: 0 if valid, 2 if not\n"
"      --tincan PATH        evio-tincan to run (default: ../libexec/evio/\n"
"                           relative to evio, else next to evio)\n"
"      --switchctl PATH     evio-switchctl to run (default: as --tincan)\n"
"  -h, --help               this text\n"
"  -V, --version            print the version\n"
"\n"
"The control socket is RUN_DIR/evio.sock; see evioctl(1). Configuration:\n"
"evio.conf(5).\n");
}

/* The helper programs: in ../libexec/evio/ relative to evio when installed
 * (/usr/sbin/evio, /usr/libexec/evio/evio-tincan), else next to evio (the
 * build tree). */
static char *helper(const char *name)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return strdup(name);
    self[n] = '\0';
    const char *dir = dirname(self);
    char *out;
    if (asprintf(&out, "%s/../libexec/evio/%s", dir, name) < 0)
        return NULL;
    if (access(out, X_OK) == 0)
        return out;
    free(out);
    if (asprintf(&out, "%s/%s", dir, name) < 0)
        return NULL;
    return out;
}

static void report_stderr(void *aux, const char *problem)
{
    const bool *strict = aux;
    fprintf(stderr, "evio: %s%s\n", *strict ? "" : "warning: ", problem);
}

static void report_log(void *aux, const char *problem)
{
    const bool *strict = aux;
    if (*strict)
        log_error("agent", "%s", problem);
    else
        log_warn("agent", "%s", problem);
}

/* The startup checks of evio/perm.h (with DIRS: state_dir and run_dir too).
 * Returns true when they found a problem and node.strict_modes refuses it. */
static bool modes_unsafe(const struct config *cfg, bool dirs, bool to_stderr)
{
    bool strict = cfg->strict_modes;
    int n = perm_check_config(cfg, dirs, to_stderr ? report_stderr : report_log, &strict);
    if (n && strict) {
        if (to_stderr)
            fprintf(stderr, "evio: refusing unsafe file modes (node.strict_modes is on; "
                            "false only warns)\n");
        else
            log_error("agent", "refusing unsafe file modes (node.strict_modes is on; "
                               "false only warns)");
    }
    return n && strict;
}

int main(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_TINCAN, OPT_SWITCHCTL };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, OPT_CHECK },
        { "tincan", required_argument, NULL, OPT_TINCAN },
        { "switchctl", required_argument, NULL, OPT_SWITCHCTL },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = CONFIG_DEFAULT_PATH, *check = NULL;
    char *tincan = NULL, *switchctl = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case OPT_CHECK: check = optarg; break;
        case OPT_TINCAN: tincan = strdup(optarg); break;
        case OPT_SWITCHCTL: switchctl = strdup(optarg); break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("evio %s\n", EVIO_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "evio: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    log_init("evio");
    struct config cfg;
    char *err = NULL;
    int rc = config_load(check ? check : config_path, &cfg, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err ? err : "invalid configuration");
        free(err);
        return 2;
    }
    if (check) {
        if (modes_unsafe(&cfg, false, true)) {
            config_free(&cfg);
            return 2;
        }
        printf("%s: configuration is valid\n", check);
        config_free(&cfg);
        return 0;
    }
    log_set_level("*", cfg.log_level);

    int error = cli_mkdir_p(cfg.state_dir, 0700);
    if (!error)
        error = cli_mkdir_p(cfg.run_dir, 0755);
    if (error) {
        log_error("agent", "cannot create %s or %s: %s", cfg.state_dir, cfg.run_dir,
                  strerror(error));
        config_free(&cfg);
        return 1;
    }

    if (modes_unsafe(&cfg, true, false)) {
        config_free(&cfg);
        return 2;
    }

    /* "mtu": "auto": decided here once, and handed to the helpers */
    mtu_resolve(&cfg, "agent", false);
    if ((error = mtu_export(&cfg)))
        log_warn("agent", "%s: %s", MTU_ENV, strerror(error));

    if (!tincan)
        tincan = helper("evio-tincan");
    if (!switchctl)
        switchctl = helper("evio-switchctl");
    rc = agent_run(&cfg, tincan, switchctl);
    free(tincan);
    free(switchctl);
    config_free(&cfg);
    return rc;
}
