/* Levelled, per-module logging to stderr (see include/evio/log.h). Module
 * levels live in a small table so the control socket can change them at run
 * time; unknown modules follow the default level. */
#include "evio/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define LOG_MAX_MODULES 32

static const char *log_program = "evio";
static enum log_level log_default = LOG_INFO;
static struct { char name[24]; enum log_level level; } log_modules[LOG_MAX_MODULES];
static int log_n_modules;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void log_init(const char *program)
{
    log_program = program;
}

const char *log_level_name(enum log_level level)
{
    return level <= LOG_DEBUG ? log_names[level] : "?";
}

bool log_parse_level(const char *name, enum log_level *out)
{
    for (int i = 0; i <= LOG_DEBUG; i++) {
        if (name && !strcasecmp(name, log_names[i])) {
            *out = i;
            return true;
        }
    }
    return false;
}

bool log_set_level(const char *module, const char *level_name)
{
    enum log_level level;
    if (!log_parse_level(level_name, &level))
        return false;
    if (!module || !strcmp(module, "*")) {
        log_default = level;
        log_n_modules = 0;
        return true;
    }
    for (int i = 0; i < log_n_modules; i++) {
        if (!strcmp(log_modules[i].name, module)) {
            log_modules[i].level = level;
            return true;
        }
    }
    if (log_n_modules == LOG_MAX_MODULES || strlen(module) >= sizeof log_modules[0].name)
        return false;
    snprintf(log_modules[log_n_modules].name, sizeof log_modules[0].name, "%s", module);
    log_modules[log_n_modules++].level = level;
    return true;
}

bool log_enabled(const char *module, enum log_level level)
{
    for (int i = 0; i < log_n_modules; i++)
        if (!strcmp(log_modules[i].name, module))
            return level <= log_modules[i].level;
    return level <= log_default;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
    if (!log_enabled(module, level))
        return;

    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %s %s %s: ",
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000,
                     log_program, log_level_name(level), module);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    /* one write per line so lines of concurrent processes do not interleave */
    size_t len = strnlen(line, sizeof line - 2);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}

bool log_ratelimit_allow(struct log_ratelimit *rl)
{
    time_t now = time(NULL);
    if (now - rl->window_start >= rl->interval) {
        if (rl->suppressed)
            log_msg(LOG_WARN, "log", "%lu similar messages suppressed", rl->suppressed);
        rl->window_start = now;
        rl->in_window = 0;
        rl->suppressed = 0;
    }
    if (rl->in_window < rl->burst) {
        rl->in_window++;
        return true;
    }
    rl->suppressed++;
    return false;
}
