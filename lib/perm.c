/* File-mode checks at startup (see evio/perm.h). */
#include "evio/perm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *perm_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *perm_problem(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out ? out : strdup("out of memory");
}

static bool perm_owner_ok(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

char *perm_check_secret_file(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st))
        return perm_problem("%s %s: %s", what, path, strerror(errno));
    if (!perm_owner_ok(st.st_uid))
        return perm_problem("%s %s is owned by uid %u, not root: chown root %s", what, path,
                            (unsigned)st.st_uid, path);
    if (st.st_mode & 066)
        return perm_problem("%s %s holds secrets and is %s by others (mode %04o): chmod 600 %s",
                            what, path, st.st_mode & 044 ? "readable" : "writable",
                            (unsigned)(st.st_mode & 07777), path);
    return NULL;
}

char *perm_check_dir(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st))
        return errno == ENOENT ? NULL : perm_problem("%s %s: %s", what, path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return perm_problem("%s %s is not a directory", what, path);
    if (!perm_owner_ok(st.st_uid))
        return perm_problem("%s %s is owned by uid %u, not root: chown root %s", what, path,
                            (unsigned)st.st_uid, path);
    if (st.st_mode & 022)
        return perm_problem("%s %s is writable by others (mode %04o): chmod go-w %s", what,
                            path, (unsigned)(st.st_mode & 07777), path);
    return NULL;
}

int perm_check_config(const struct config *cfg, bool dirs,
                      void (*report)(void *aux, const char *problem), void *aux)
{
    char *p[3 + CONFIG_MAX_SECRET_FILES];
    int n = 0;
    if (cfg->inline_secrets && cfg->path)
        p[n++] = perm_check_secret_file(cfg->path, "config (it holds passwords)");
    for (int i = 0; i < cfg->n_secret_files; i++)
        p[n++] = perm_check_secret_file(cfg->secret_files[i], "password_file");
    if (dirs) {
        p[n++] = perm_check_dir(cfg->state_dir, "state_dir");
        p[n++] = perm_check_dir(cfg->run_dir, "run_dir");
    }
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (!p[i])
            continue;
        found++;
        report(aux, p[i]);
        free(p[i]);
    }
    return found;
}
