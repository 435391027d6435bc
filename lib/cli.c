/* The programs' shared command line and directory set-up. */
#include "evio/cli.h"
#include "evio/version.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

int cli_daemon_args(int argc, char **argv, const char *prog, void (*usage)(FILE *),
                    const char **config_path)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': *config_path = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("%s %s\n", prog, EVIO_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1;
}

int cli_mkdir_p(const char *dir, mode_t mode)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return errno;
    return 0;
}
