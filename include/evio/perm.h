/* Startup checks in the manner of sshd's StrictModes: secrets and the
 * directories evio keeps its identity and sockets in must be safe from
 * other local users. Each check returns NULL when PATH is safe, or a
 * malloc'd one-line problem naming the path, what is wrong and the fix. */
#ifndef EVIO_PERM_H
#define EVIO_PERM_H

#include "evio/config.h"

#include <stdbool.h>

/* A file holding secrets: owned by root or by us, and neither readable nor
 * writable by group or others. */
char *perm_check_secret_file(const char *path, const char *what);
/* A directory of ours: owned by root or by us, and not writable by group or
 * others. A directory that does not exist yet is no problem. */
char *perm_check_dir(const char *path, const char *what);

/* Runs every check that applies to CFG (the config file when it holds
 * passwords inline, each password_file, and, with DIRS, state_dir and
 * run_dir) and calls REPORT with each problem. Returns the number found. */
int perm_check_config(const struct config *, bool dirs,
                      void (*report)(void *aux, const char *problem), void *aux);

#endif
