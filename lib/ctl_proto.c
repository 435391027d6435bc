/* The control protocol's codec and line framing (pure; see include/evio/ctl.h
 * and doc/control-protocol.md). The socket code lives in ctl.c. */
#include "evio/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Serialises OBJ (stolen) as one compact line ending in '\n'. */
static char *encode_line(json_t *obj)
{
    if (!obj)
        return NULL;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(obj);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

static json_t *or_null(json_t *j)
{
    return j ? json_incref(j) : json_null();
}

char *ctl_encode_request(int64_t id, const char *cmd, json_t *args)
{
    return encode_line(json_pack("{sI ss so}", "id", (json_int_t)id, "cmd", cmd,
                                 "args", args ? json_incref(args) : json_object()));
}

char *ctl_encode_ok(int64_t id, json_t *result)
{
    return encode_line(json_pack("{sI sb so}", "id", (json_int_t)id, "ok", 1,
                                 "result", or_null(result)));
}

char *ctl_encode_error(int64_t id, const char *error)
{
    return encode_line(json_pack("{sI sb ss}", "id", (json_int_t)id, "ok", 0,
                                 "error", error ? error : "unknown error"));
}

char *ctl_encode_event(const char *event, json_t *data)
{
    return encode_line(json_pack("{ss so}", "event", event, "data", or_null(data)));
}

void ctl_msg_clear(struct ctl_msg *msg)
{
    json_decref(msg->root);
    memset(msg, 0, sizeof *msg);
}

static char *fail(struct ctl_msg *msg, const char *what)
{
    ctl_msg_clear(msg);
    return strdup(what);
}

char *ctl_decode(const char *line, size_t len, struct ctl_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    json_error_t jerr;
    msg->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!msg->root) {
        /* jansson quotes the token it stopped at as it came: control bytes
         * from a peer must not reach a log line */
        for (char *p = jerr.text; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                *p = '?';
        char *e;
        if (asprintf(&e, "malformed JSON at column %d: %s", jerr.column, jerr.text) < 0)
            e = NULL;
        return e;
    }
    if (!json_is_object(msg->root))
        return fail(msg, "message is not a JSON object");

    json_t *id = json_object_get(msg->root, "id");
    json_t *cmd = json_object_get(msg->root, "cmd");
    json_t *ev = json_object_get(msg->root, "event");
    json_t *ok = json_object_get(msg->root, "ok");

    if (ev) {
        if (!json_is_string(ev) || !json_string_length(ev))
            return fail(msg, "event: expected a non-empty string");
        msg->kind = CTL_MSG_EVENT;
        msg->name = json_string_value(ev);
        msg->body = json_object_get(msg->root, "data");
        if (json_is_null(msg->body))
            msg->body = NULL;
        return NULL;
    }
    if (!id)
        return fail(msg, "id: required key missing");
    if (!json_is_integer(id))
        return fail(msg, "id: expected integer");
    msg->id = json_integer_value(id);

    if (cmd) {
        if (!json_is_string(cmd) || !json_string_length(cmd))
            return fail(msg, "cmd: expected a non-empty string");
        msg->kind = CTL_MSG_REQUEST;
        msg->name = json_string_value(cmd);
        msg->body = json_object_get(msg->root, "args");
        if (json_is_null(msg->body))
            msg->body = NULL;
        if (msg->body && !json_is_object(msg->body))
            return fail(msg, "args: expected an object");
        return NULL;
    }
    if (ok) {
        if (!json_is_boolean(ok))
            return fail(msg, "ok: expected true or false");
        msg->kind = CTL_MSG_RESPONSE;
        msg->ok = json_is_true(ok);
        if (msg->ok) {
            msg->body = json_object_get(msg->root, "result");
            if (json_is_null(msg->body))
                msg->body = NULL;
        } else {
            json_t *e = json_object_get(msg->root, "error");
            if (!json_is_string(e))
                return fail(msg, "error: expected string");
            msg->error = json_string_value(e);
        }
        return NULL;
    }
    return fail(msg, "message has none of cmd, ok, event");
}

void ctl_linebuf_init(struct ctl_linebuf *lb, size_t max)
{
    memset(lb, 0, sizeof *lb);
    lb->max = max;
    lb->cut_at = SIZE_MAX;
}

void ctl_linebuf_free(struct ctl_linebuf *lb)
{
    free(lb->buf);
    memset(lb, 0, sizeof *lb);
    lb->cut_at = SIZE_MAX;
}

/* Consumed lines stay at the front of the buffer until the next append moves
 * the unconsumed tail down, so a line returned by ctl_linebuf_next() stays
 * valid until then. */
static void lb_compact(struct ctl_linebuf *lb)
{
    if (!lb->start)
        return;
    memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
    lb->len -= lb->start;
    if (lb->cut_at != SIZE_MAX)
        lb->cut_at -= lb->start;
    lb->start = 0;
}

static bool lb_reserve(struct ctl_linebuf *lb, size_t n)
{
    if (lb->len + n + 1 <= lb->cap)
        return true;
    size_t cap = lb->cap ? lb->cap : 4096;
    while (cap < lb->len + n + 1)
        cap *= 2;
    char *p = realloc(lb->buf, cap);
    if (!p)
        return false;
    lb->buf = p;
    lb->cap = cap;
    return true;
}

static void lb_put(struct ctl_linebuf *lb, const char *data, size_t n)
{
    memcpy(lb->buf + lb->len, data, n);
    lb->len += n;
}

bool ctl_linebuf_append(struct ctl_linebuf *lb, const void *data, size_t n)
{
    lb_compact(lb);
    if (!lb_reserve(lb, n))
        return false;
    lb_put(lb, data, n);

    /* every complete line must fit, and so must the unfinished tail */
    size_t pos = 0;
    for (;;) {
        char *nl = memchr(lb->buf + pos, '\n', lb->len - pos);
        size_t linelen = (nl ? (size_t)(nl - lb->buf) : lb->len) - pos;
        if (linelen > lb->max)
            return false;
        if (!nl)
            return true;
        pos = nl - lb->buf + 1;
    }
}

/* Where the unfinished last line starts. */
static size_t lb_tail(const struct ctl_linebuf *lb)
{
    const char *nl = lb->len > lb->start
                   ? memrchr(lb->buf + lb->start, '\n', lb->len - lb->start) : NULL;
    return nl ? (size_t)(nl - lb->buf) + 1 : lb->start;
}

bool ctl_linebuf_feed(struct ctl_linebuf *lb, const void *data, size_t n, size_t *used)
{
    const char *p = data;
    size_t head = lb->max < CTL_LINE_HEAD ? lb->max : CTL_LINE_HEAD;
    *used = 0;
    if (lb->cut_at != SIZE_MAX)
        return true;             /* the cut line must be taken out first */
    lb_compact(lb);
    while (*used < n) {
        const char *at = p + *used;
        size_t left = n - *used;
        const char *nl = memchr(at, '\n', left);
        size_t body = nl ? (size_t)(nl - at) : left;     /* without the newline */
        size_t tail = lb_tail(lb);
        if (lb->discarding) {
            if (!nl) {
                *used = n;
                return true;
            }
            if (!lb_reserve(lb, 1))
                return false;
            lb_put(lb, "\n", 1);
            lb->cut_at = tail;
            lb->discarding = false;
            *used += body + 1;
            return true;
        }
        if (lb->len - tail + body > lb->max) {
            /* too long: keep its head only, drop the rest up to its newline */
            size_t kept = lb->len - tail < head ? lb->len - tail : head;
            lb->len = tail + kept;
            size_t more = head - kept < body ? head - kept : body;
            if (!lb_reserve(lb, more))
                return false;
            lb_put(lb, at, more);
            lb->discarding = true;
            continue;            /* the discarding branch takes this segment */
        }
        size_t take = nl ? body + 1 : body;
        if (!lb_reserve(lb, take))
            return false;
        lb_put(lb, at, take);
        *used += take;
    }
    return true;
}

char *ctl_linebuf_next(struct ctl_linebuf *lb, size_t *len)
{
    lb->last_overlong = false;
    char *line = lb->buf + lb->start;
    char *nl = lb->len > lb->start ? memchr(line, '\n', lb->len - lb->start) : NULL;
    if (!nl)
        return NULL;
    if (lb->cut_at == lb->start) {
        lb->last_overlong = true;
        lb->cut_at = SIZE_MAX;
    }
    *nl = '\0';
    *len = nl - line;
    lb->start = nl - lb->buf + 1;
    return line;
}

bool ctl_linebuf_overlong(const struct ctl_linebuf *lb)
{
    return lb->last_overlong;
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

bool ctl_peek_id(const char *head, size_t len, int64_t *id)
{
    const char *p = head, *end = head + len;
    p = skip_space(p, end);
    if (p == end || *p++ != '{')
        return false;
    p = skip_space(p, end);
    if ((size_t)(end - p) < 4 || memcmp(p, "\"id\"", 4))
        return false;
    p = skip_space(p + 4, end);
    if (p == end || *p++ != ':')
        return false;
    p = skip_space(p, end);
    bool neg = p < end && *p == '-';
    if (neg)
        p++;
    int64_t v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    if (!digits || p == end || !(*p == ',' || *p == '}' || *p == ' ' || *p == '\t'
                                 || *p == '\r' || *p == '\n'))
        return false;
    *id = neg ? -v : v;
    return true;
}
