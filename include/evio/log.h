/* Levelled, per-module logging shared by evio, evio-tincan and evio-switchctl.
 * Lines go to stderr as "TIME LEVEL module: message"; levels are changeable at
 * run time (the control socket's log/set command). */
#ifndef EVIO_LOG_H
#define EVIO_LOG_H

#include <stdbool.h>
#include <time.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the program name printed on every line ("evio-tincan"). */
void log_init(const char *program);

/* Sets the level of MODULE, or of every module when MODULE is NULL or "*".
 * Returns false if LEVEL is not a level name. */
bool log_set_level(const char *module, const char *level);
bool log_parse_level(const char *name, enum log_level *out);
const char *log_level_name(enum log_level);
bool log_enabled(const char *module, enum log_level);

void log_msg(enum log_level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(LOG_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) \
    do { if (log_enabled(mod, LOG_DEBUG)) log_msg(LOG_DEBUG, mod, __VA_ARGS__); } while (0)

/* Rate limit for log lines the network can drive: at most BURST lines per
 * INTERVAL seconds; the next line after a quiet period says how many were
 * suppressed. Use one static instance per call site. */
struct log_ratelimit {
    int interval, burst;
    time_t window_start;
    int in_window;
    unsigned long suppressed;
};
#define LOG_RATELIMIT_INIT(interval, burst) { (interval), (burst), 0, 0, 0 }
bool log_ratelimit_allow(struct log_ratelimit *);

#define log_warn_rl(rl, mod, ...) \
    do { if (log_ratelimit_allow(rl)) log_msg(LOG_WARN, mod, __VA_ARGS__); } while (0)

#endif
