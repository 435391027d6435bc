/* What the main() of evio's programs share: the helper daemons' command
 * line (-c FILE, -h, -V) and creating the directories they work in. */
#ifndef EVIO_CLI_H
#define EVIO_CLI_H

#include <stdio.h>
#include <sys/types.h>

/* Parses "-c/--config FILE", "-h/--help" and "-V/--version" for program
 * PROG, whose USAGE prints its help to a stream. Returns -1 to go on, with
 * *CONFIG_PATH set (left alone when no -c is given), or the exit status to
 * end with: 0 after help or version, 2 on a bad command line (after saying
 * why and printing the help to stderr). */
int cli_daemon_args(int argc, char **argv, const char *prog, void (*usage)(FILE *),
                    const char **config_path);

/* Creates DIR with MODE, and its missing parents with 0755. Returns 0 or a
 * positive errno. */
int cli_mkdir_p(const char *dir, mode_t mode);

#endif
