/* Unit tests of the control protocol codec and line framing (lib/ctl_proto.c),
 * and of the real server and client on Unix sockets in a temporary
 * directory: round trips, over-long lines, refused requests, connections
 * dropped inside a handler, deferred replies. */
#include "check.h"
#include "evio/ctl.h"
#include "evio/timing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void test_round_trip(void)
{
    struct ctl_msg m;
    json_t *args = json_pack("{ss si}", "link_id", "l1", "mtu", 1410);
    char *line = ctl_encode_request(7, "link/create", args);
    CHECK(line && line[strlen(line) - 1] == '\n');
    CHECK(!ctl_decode(line, strlen(line) - 1, &m));
    CHECK(m.kind == CTL_MSG_REQUEST && m.id == 7);
    CHECK_STR(m.name, "link/create");
    CHECK(json_equal(m.body, args));
    ctl_msg_clear(&m);
    free(line);
    json_decref(args);

    json_t *res = json_pack("{sb}", "up", 1);
    line = ctl_encode_ok(9, res);
    CHECK(!ctl_decode(line, strlen(line), &m));
    CHECK(m.kind == CTL_MSG_RESPONSE && m.ok && m.id == 9 && json_equal(m.body, res));
    ctl_msg_clear(&m);
    free(line);
    json_decref(res);

    line = ctl_encode_error(3, "link_id: expected string");
    CHECK(!ctl_decode(line, strlen(line), &m));
    CHECK(m.kind == CTL_MSG_RESPONSE && !m.ok);
    CHECK_STR(m.error, "link_id: expected string");
    ctl_msg_clear(&m);
    free(line);

    json_t *data = json_pack("{ss ss}", "link_id", "l1", "state", "up");
    line = ctl_encode_event("link/state", data);
    CHECK(!ctl_decode(line, strlen(line), &m));
    CHECK(m.kind == CTL_MSG_EVENT && json_equal(m.body, data));
    CHECK_STR(m.name, "link/state");
    ctl_msg_clear(&m);
    free(line);
    json_decref(data);
}

static void expect_reject(const char *text, const char *want)
{
    struct ctl_msg m;
    char *err = ctl_decode(text, strlen(text), &m);
    CHECK(err != NULL);
    if (err && want && strncmp(err, want, strlen(want)))
        fprintf(stderr, "  for %s\n", text);
    if (want)
        CHECK(err && !strncmp(err, want, strlen(want)));
    CHECK(m.root == NULL);
    free(err);
}

static void test_rejects(void)
{
    expect_reject("{", "malformed JSON");
    expect_reject("[1,2]", "message is not a JSON object");
    expect_reject("{\"cmd\":\"x\"}", "id: required key missing");
    expect_reject("{\"id\":\"1\",\"cmd\":\"x\"}", "id: expected integer");
    expect_reject("{\"id\":1,\"cmd\":\"\"}", "cmd: expected a non-empty string");
    expect_reject("{\"id\":1,\"cmd\":5}", "cmd: expected a non-empty string");
    expect_reject("{\"id\":1,\"cmd\":\"x\",\"args\":[1]}", "args: expected an object");
    expect_reject("{\"id\":1,\"ok\":\"yes\"}", "ok: expected true or false");
    expect_reject("{\"id\":1,\"ok\":false}", "error: expected string");
    expect_reject("{\"id\":1}", "message has none of cmd, ok, event");
    expect_reject("{\"event\":7}", "event: expected a non-empty string");
    expect_reject("{\"id\":1,\"id\":2,\"cmd\":\"x\"}", "malformed JSON");
    expect_reject("", "malformed JSON");
}

static void test_linebuf(void)
{
    struct ctl_linebuf lb;
    ctl_linebuf_init(&lb, 16);
    size_t len;
    CHECK(ctl_linebuf_append(&lb, "ab", 2));
    CHECK(ctl_linebuf_next(&lb, &len) == NULL);
    CHECK(ctl_linebuf_append(&lb, "c\nde\n\nf", 7));
    char *l = ctl_linebuf_next(&lb, &len);
    CHECK(l && len == 3 && !strcmp(l, "abc"));
    l = ctl_linebuf_next(&lb, &len);
    CHECK(l && len == 2 && !strcmp(l, "de"));
    l = ctl_linebuf_next(&lb, &len);
    CHECK(l && len == 0);
    CHECK(ctl_linebuf_next(&lb, &len) == NULL);
    CHECK(ctl_linebuf_append(&lb, "g\n", 2));
    l = ctl_linebuf_next(&lb, &len);
    CHECK(l && !strcmp(l, "fg"));
    /* a line longer than max is refused, whether or not it is finished */
    CHECK(!ctl_linebuf_append(&lb, "0123456789abcdefXYZ", 19));
    ctl_linebuf_free(&lb);
    ctl_linebuf_init(&lb, 16);
    CHECK(!ctl_linebuf_append(&lb, "0123456789abcdefXYZ\n", 20));
    ctl_linebuf_free(&lb);
    /* byte-at-a-time delivery gives the same lines */
    ctl_linebuf_init(&lb, 64);
    const char *stream = "{\"a\":1}\n{\"b\":2}\n";
    int lines = 0;
    for (size_t i = 0; i < strlen(stream); i++) {
        CHECK(ctl_linebuf_append(&lb, stream + i, 1));
        while (ctl_linebuf_next(&lb, &len))
            lines++;
    }
    CHECK(lines == 2);
    ctl_linebuf_free(&lb);
}

static json_t *cmd_add(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    json_t *a = json_object_get(args, "a"), *b = json_object_get(args, "b");
    if (!json_is_integer(a) || !json_is_integer(b)) {
        *err = strdup("a, b: expected integers");
        return NULL;
    }
    (*(int *)aux)++;
    return json_pack("{sI}", "sum", json_integer_value(a) + json_integer_value(b));
}

static void reply_cb(void *aux, const struct ctl_msg *m)
{
    json_t **out = aux;
    *out = m->ok ? json_incref(m->body) : json_string(m->error);
}

/* The server and the async client on one thread, driven by poll. */
static void test_socket(void)
{
    char path[] = "/tmp/evio-test-ctl-XXXXXX";
    CHECK(mkdtemp(path) != NULL);
    char sock[128];
    snprintf(sock, sizeof sock, "%s/t.sock", path);

    struct ctl_server *srv;
    int calls = 0;
    CHECK(ctl_server_open(sock, &srv) == 0);
    ctl_server_register(srv, "add", "{a,b}", cmd_add, &calls);

    struct ctl_client *cli;
    CHECK(ctl_client_connect(sock, &cli) == 0);
    json_t *good = NULL, *bad = NULL, *unknown = NULL;
    json_t *args = json_pack("{si si}", "a", 2, "b", 40);
    CHECK(ctl_client_send(cli, "add", args, reply_cb, &good) == 0);
    json_decref(args);
    args = json_pack("{ss}", "a", "x");
    CHECK(ctl_client_send(cli, "add", args, reply_cb, &bad) == 0);
    json_decref(args);
    CHECK(ctl_client_send(cli, "nope", NULL, reply_cb, &unknown) == 0);

    for (int i = 0; i < 100 && !(good && bad && unknown); i++) {
        struct pollfd p[2] = { { ctl_server_fd(srv), POLLIN, 0 }, { ctl_client_fd(cli), POLLIN, 0 } };
        poll(p, 2, 100);
        ctl_server_run(srv);
        CHECK(ctl_client_run(cli) == 0);
    }
    CHECK(good && json_integer_value(json_object_get(good, "sum")) == 42);
    CHECK(bad && json_is_string(bad) && !strcmp(json_string_value(bad), "a, b: expected integers"));
    CHECK(unknown && json_is_string(unknown)
          && strstr(json_string_value(unknown), "unknown command"));
    CHECK(calls == 1);
    json_decref(good);
    json_decref(bad);
    json_decref(unknown);

    /* a second server on a live socket path is refused, not hijacked */
    struct ctl_server *srv2;
    CHECK(ctl_server_open(sock, &srv2) != 0);

    ctl_client_close(cli);
    ctl_server_close(srv);
    CHECK(access(sock, F_OK) != 0);
    rmdir(path);
}

/* ---- forgiving framing ------------------------------------------------ */

static void test_linebuf_feed(void)
{
    struct ctl_linebuf lb;
    size_t len, used;
    char *l;
    ctl_linebuf_init(&lb, 16);
    /* a short line, a cut one, and a short one again, in one chunk */
    const char *in = "ab\n{\"id\":5,\"cmd\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}\ncd\n";
    CHECK(ctl_linebuf_feed(&lb, in, strlen(in), &used));
    /* it stops after the cut line so that only one is ever held */
    CHECK(used == strlen(in) - 3);
    l = ctl_linebuf_next(&lb, &len);
    CHECK(l && !strcmp(l, "ab") && !ctl_linebuf_overlong(&lb));
    l = ctl_linebuf_next(&lb, &len);
    CHECK(l && ctl_linebuf_overlong(&lb) && len == 16 && !strncmp(l, "{\"id\":5,", 8));
    int64_t id = 0;
    CHECK(ctl_peek_id(l, len, &id) && id == 5);
    CHECK(ctl_linebuf_next(&lb, &len) == NULL && !ctl_linebuf_overlong(&lb));
    CHECK(ctl_linebuf_feed(&lb, in + used, strlen(in) - used, &used) && used == 3);
    l = ctl_linebuf_next(&lb, &len);
    CHECK(l && !strcmp(l, "cd") && !ctl_linebuf_overlong(&lb));
    ctl_linebuf_free(&lb);

    /* byte at a time: a 1000-byte line costs no more than MAX of memory */
    ctl_linebuf_init(&lb, 16);
    int lines = 0, cut = 0;
    for (int i = 0; i < 1000 + 4; i++) {
        char ch = i < 1000 ? 'z' : "\nok\n"[i - 1000];
        CHECK(ctl_linebuf_feed(&lb, &ch, 1, &used) && used == 1);
        CHECK(lb.len - lb.start <= 17);
        while ((l = ctl_linebuf_next(&lb, &len))) {
            lines++;
            cut += ctl_linebuf_overlong(&lb);
            if (!ctl_linebuf_overlong(&lb))
                CHECK(!strcmp(l, "ok"));
        }
    }
    CHECK(lines == 2 && cut == 1);
    /* a line of exactly MAX is whole */
    CHECK(ctl_linebuf_feed(&lb, "0123456789abcdef\n", 17, &used) && used == 17);
    l = ctl_linebuf_next(&lb, &len);
    CHECK(l && len == 16 && !ctl_linebuf_overlong(&lb));
    ctl_linebuf_free(&lb);

    CHECK(ctl_peek_id(" { \"id\" : -1 , \"x\"", 19, &id) && id == -1);
    CHECK(ctl_peek_id("{\"id\":77}", 9, &id) && id == 77);
    CHECK(!ctl_peek_id("{\"cmd\":\"x\",\"id\":1}", 18, &id));
    CHECK(!ctl_peek_id("{\"id\":12", 8, &id));          /* digits may go on */
    CHECK(!ctl_peek_id("{\"id\":\"7\"}", 10, &id));
    CHECK(!ctl_peek_id("", 0, &id));
}

/* Random streams in random chunks against a naive splitter: every line comes
 * out in order, whole when it fits in MAX, else as its head and flagged, and
 * the buffer never holds more than MAX + a chunk. */
static void test_linebuf_feed_random(void)
{
    uint32_t rng = 12345;
    int cut_lines = 0, whole_lines = 0;
    for (int round = 0; round < 2000; round++) {
        rng = rng * 1103515245u + 12345u;
        size_t max = 1 + (rng >> 16) % 40;
        char stream[600];
        size_t n = (rng >> 8) % sizeof stream;
        for (size_t i = 0; i < n; i++) {
            rng = rng * 1103515245u + 12345u;
            stream[i] = (rng >> 16) % 9 == 0 ? '\n' : 'a' + (rng >> 20) % 26;
        }
        struct ctl_linebuf lb;
        ctl_linebuf_init(&lb, max);
        size_t fed = 0, expect_at = 0;   /* where the next expected line starts */
        bool bad = false;
        while (fed < n && !bad) {
            rng = rng * 1103515245u + 12345u;
            size_t chunk = 1 + (rng >> 16) % 50;
            if (chunk > n - fed)
                chunk = n - fed;
            size_t used;
            if (!ctl_linebuf_feed(&lb, stream + fed, chunk, &used) || !used) {
                bad = true;
                break;
            }
            fed += used;
            if (lb.len - lb.start > max + 1 + 50)
                bad = true;
            size_t len;
            char *l;
            while (!bad && (l = ctl_linebuf_next(&lb, &len))) {
                const char *nl = memchr(stream + expect_at, '\n', n - expect_at);
                size_t want = nl ? (size_t)(nl - stream) - expect_at : SIZE_MAX;
                if (want == SIZE_MAX || nl - stream >= (ptrdiff_t)fed) {
                    bad = true;              /* a line before its newline */
                } else if (want <= max) {
                    bad = ctl_linebuf_overlong(&lb) || len != want
                          || memcmp(l, stream + expect_at, len) || l[len];
                    whole_lines++;
                } else {
                    size_t head = max < CTL_LINE_HEAD ? max : CTL_LINE_HEAD;
                    bad = !ctl_linebuf_overlong(&lb) || len != head
                          || memcmp(l, stream + expect_at, len);
                    cut_lines++;
                }
                expect_at += want + 1;
            }
        }
        /* every complete line came out */
        if (!bad && memchr(stream + expect_at, '\n', fed - expect_at))
            bad = true;
        CHECK(!bad);
        ctl_linebuf_free(&lb);
    }
    CHECK(cut_lines > 100 && whole_lines > 1000);
}

/* ---- a server and clients on one thread -------------------------------- */

struct rec {
    int calls;
    bool ok;
    char error[160];
    json_t *body;
};

static void rec_cb(void *aux, const struct ctl_msg *m)
{
    struct rec *r = aux;
    r->calls++;
    r->ok = m->ok;
    snprintf(r->error, sizeof r->error, "%s", m->ok ? "" : m->error);
    json_decref(r->body);
    r->body = m->ok && m->body ? json_incref(m->body) : NULL;
}

static void rec_clear(struct rec *r)
{
    json_decref(r->body);
    memset(r, 0, sizeof *r);
}

struct sockdir {
    char dir[40];
    char sock[80];
};

static void sockdir_make(struct sockdir *d)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/evio-test-ctl-XXXXXX");
    CHECK(mkdtemp(d->dir) != NULL);
    snprintf(d->sock, sizeof d->sock, "%s/t.sock", d->dir);
}

/* Runs server and client until *DONE is true (at most ~5 s); the client's
 * errors land in *CLI_ERR when given. */
static void pump(struct ctl_server *srv, struct ctl_client *cli, const int *done, int want,
                 int *cli_err)
{
    int64_t deadline = monotonic_ms() + 5000;
    while (*done < want && monotonic_ms() < deadline) {
        struct pollfd p[2] = { { ctl_server_fd(srv), POLLIN, 0 },
                               { cli ? ctl_client_fd(cli) : -1,
                                 POLLIN | (cli && ctl_client_want_write(cli) ? POLLOUT : 0), 0 } };
        poll(p, 2, 50);
        ctl_server_run(srv);
        if (cli) {
            int e = ctl_client_run(cli);
            if (cli_err)
                *cli_err = e;
            if (e)
                break;
        }
    }
}

static char *big_string(size_t n)
{
    char *s = malloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    return s;
}

static int n_events;

static void count_event(void *aux, const struct ctl_msg *m)
{
    n_events++;
}

/* The handler evio-tincan's link/create is: it emits events (candidates) to
 * every subscriber, the requester's own connection included, and then
 * answers. 100 events of 64 KiB overflow a subscriber that does not read. */
static int flood_calls;

static json_t *cmd_flood(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    struct ctl_server *s = aux;
    char *pad = big_string(64 * 1024);
    json_t *data = json_pack("{ss}", "pad", pad);
    for (int i = 0; i < 100; i++)
        ctl_server_event(s, "test/candidate", data);
    json_decref(data);
    free(pad);
    flood_calls++;
    return json_pack("{sb}", "done", 1);
}

/* The use after free found with AddressSanitizer: the event drops the
 * requester's connection inside the handler, and the reply used to be written
 * into the freed connection. Now the reply is discarded, the client sees the
 * connection closed, and its outstanding request is answered once. */
static void test_event_drops_requester(void)
{
    struct sockdir d;
    sockdir_make(&d);
    struct ctl_server *srv;
    CHECK(ctl_server_open(d.sock, &srv) == 0);
    ctl_server_register(srv, "flood", "", cmd_flood, srv);

    struct ctl_client *cli;
    CHECK(ctl_client_connect(d.sock, &cli) == 0);
    ctl_client_set_event_cb(cli, count_event, NULL);
    struct rec sub = { 0 }, fl = { 0 };
    CHECK(ctl_client_send(cli, "subscribe", NULL, rec_cb, &sub) == 0);
    pump(srv, cli, &sub.calls, 1, NULL);
    CHECK(sub.calls == 1 && sub.ok);

    /* from here the client does not read until the server has answered */
    CHECK(ctl_client_send(cli, "flood", NULL, rec_cb, &fl) == 0);
    pump(srv, NULL, &flood_calls, 1, NULL);
    CHECK(flood_calls == 1);

    int err = 0;
    n_events = 0;
    int never = 0;
    pump(srv, cli, &never, 1, &err);
    CHECK(err == EPIPE || err == ECONNRESET);
    CHECK(n_events > 0 && n_events < 100);
    CHECK(fl.calls == 1 && !fl.ok);
    CHECK_STR(fl.error, "connection closed");
    ctl_client_close(cli);
    CHECK(fl.calls == 1);                      /* answered once, not again */

    /* the server goes on serving others */
    struct rec echo = { 0 };
    CHECK(ctl_client_connect(d.sock, &cli) == 0);
    json_t *args = json_pack("{si}", "k", 1);
    CHECK(ctl_client_send(cli, "echo", args, rec_cb, &echo) == 0);
    json_decref(args);
    pump(srv, cli, &echo.calls, 1, NULL);
    CHECK(echo.ok && json_integer_value(json_object_get(echo.body, "k")) == 1);
    ctl_client_close(cli);
    ctl_server_close(srv);
    rec_clear(&sub);
    rec_clear(&fl);
    rec_clear(&echo);
    rmdir(d.dir);
}

/* Reads whatever lines the raw socket FD has into LINES (up to MAX). */
static int read_lines(int fd, char *acc, size_t *acc_len, size_t cap, json_t **lines, int n, int max)
{
    for (;;) {
        ssize_t r = recv(fd, acc + *acc_len, cap - *acc_len, MSG_DONTWAIT);
        if (r <= 0)
            break;
        *acc_len += r;
    }
    char *nl;
    while (n < max && (nl = memchr(acc, '\n', *acc_len))) {
        lines[n++] = json_loadb(acc, nl - acc, 0, NULL);
        size_t rest = *acc_len - (nl - acc + 1);
        memmove(acc, nl + 1, rest);
        *acc_len = rest;
    }
    return n;
}

/* A request line over CTL_MAX_LINE gets an error reply, by its id when the
 * id comes first (-1 otherwise), and the connection keeps working. */
static void test_overlong_request(void)
{
    struct sockdir d;
    sockdir_make(&d);
    struct ctl_server *srv;
    CHECK(ctl_server_open(d.sock, &srv) == 0);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", d.sock);
    CHECK(connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0);

    char *pad = big_string(300000);
    size_t cap = 4 * 300000;
    char *out = malloc(cap);
    int n = snprintf(out, cap,
                     "{\"id\":41,\"cmd\":\"echo\",\"args\":{\"pad\":\"%s\"}}\n"
                     "{\"id\":42,\"cmd\":\"echo\",\"args\":{\"k\":1}}\n"
                     "{\"cmd\":\"echo\",\"args\":{\"pad\":\"%s\"},\"id\":43}\n"
                     "{\"id\":44,\"cmd\":\"echo\",\"args\":{\"k\":2}}\n", pad, pad);
    size_t off = 0, acc_len = 0;
    char *acc = malloc(65536);
    json_t *lines[4] = { 0 };
    int got = 0;
    int64_t deadline = monotonic_ms() + 5000;
    while (got < 4 && monotonic_ms() < deadline) {
        if (off < (size_t)n) {
            ssize_t w = send(fd, out + off, n - off, MSG_NOSIGNAL);
            if (w > 0)
                off += w;
        }
        struct pollfd p[2] = { { ctl_server_fd(srv), POLLIN, 0 }, { fd, POLLIN, 0 } };
        poll(p, 2, 50);
        ctl_server_run(srv);
        got = read_lines(fd, acc, &acc_len, 65536, lines, got, 4);
    }
    CHECK(got == 4);
    char want[80];
    snprintf(want, sizeof want, "request line over %d bytes", CTL_MAX_LINE);
    CHECK(got > 0 && json_integer_value(json_object_get(lines[0], "id")) == 41
          && json_is_false(json_object_get(lines[0], "ok")));
    CHECK_STR(json_string_value(json_object_get(lines[0], "error")), want);
    CHECK(got > 1 && json_integer_value(json_object_get(lines[1], "id")) == 42
          && json_is_true(json_object_get(lines[1], "ok")));
    CHECK(got > 2 && json_integer_value(json_object_get(lines[2], "id")) == -1);
    CHECK_STR(json_string_value(json_object_get(lines[2], "error")), want);
    CHECK(got > 3 && json_integer_value(json_object_get(lines[3], "id")) == 44
          && json_is_true(json_object_get(lines[3], "ok")));
    for (int i = 0; i < got; i++)
        json_decref(lines[i]);
    close(fd);
    free(acc);
    free(out);
    free(pad);
    ctl_server_close(srv);
    rmdir(d.dir);
}

static json_t *cmd_big(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    char *pad = big_string(300000);
    json_t *r = json_pack("{ss}", "pad", pad);
    free(pad);
    return r;
}

static json_t *cmd_big_event(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    char *pad = big_string(300000);
    json_t *data = json_pack("{ss}", "pad", pad);
    ctl_server_event(aux, "test/big", data);
    json_decref(data);
    free(pad);
    return json_object();
}

/* A response line over CTL_MAX_LINE fails its own request; an over-long
 * event is dropped; the connection stays. */
static void test_overlong_response(void)
{
    struct sockdir d;
    sockdir_make(&d);
    struct ctl_server *srv;
    CHECK(ctl_server_open(d.sock, &srv) == 0);
    ctl_server_register(srv, "big", "", cmd_big, NULL);
    ctl_server_register(srv, "big-event", "", cmd_big_event, srv);
    struct ctl_client *cli;
    CHECK(ctl_client_connect(d.sock, &cli) == 0);
    ctl_client_set_event_cb(cli, count_event, NULL);
    n_events = 0;
    struct rec sub = { 0 }, big = { 0 }, bev = { 0 }, echo = { 0 };
    CHECK(ctl_client_send(cli, "subscribe", NULL, rec_cb, &sub) == 0);
    CHECK(ctl_client_send(cli, "big", NULL, rec_cb, &big) == 0);
    CHECK(ctl_client_send(cli, "big-event", NULL, rec_cb, &bev) == 0);
    CHECK(ctl_client_send(cli, "echo", NULL, rec_cb, &echo) == 0);
    int err = 0;
    pump(srv, cli, &echo.calls, 1, &err);
    CHECK(err == 0);
    CHECK(big.calls == 1 && !big.ok);
    char want[80];
    snprintf(want, sizeof want, "response line over %d bytes", CTL_MAX_LINE);
    CHECK_STR(big.error, want);
    CHECK(bev.calls == 1 && bev.ok && n_events == 0);
    CHECK(echo.calls == 1 && echo.ok);
    ctl_client_close(cli);
    ctl_server_close(srv);
    rec_clear(&sub);
    rec_clear(&big);
    rec_clear(&bev);
    rec_clear(&echo);
    rmdir(d.dir);
}

/* Refused requests are answered, once, from the next run, never inside
 * ctl_client_send(); outstanding ones are answered once when the
 * connection dies. The server accepts nothing here: it never runs. */
static void test_refusals(void)
{
    struct sockdir d;
    sockdir_make(&d);
    struct ctl_server *srv;
    CHECK(ctl_server_open(d.sock, &srv) == 0);
    struct ctl_client *cli;
    CHECK(ctl_client_connect(d.sock, &cli) == 0);

    static struct rec r[CTL_MAX_PENDING + 1];
    memset(r, 0, sizeof r);
    int sent_ok = 0;
    for (int i = 0; i < CTL_MAX_PENDING; i++)
        sent_ok += ctl_client_send(cli, "echo", NULL, rec_cb, &r[i]) == 0;
    CHECK(sent_ok == CTL_MAX_PENDING);
    CHECK(ctl_client_pending(cli) == CTL_MAX_PENDING);
    struct rec over = { 0 };
    CHECK(ctl_client_send(cli, "echo", NULL, rec_cb, &over) == ENOBUFS);
    CHECK(over.calls == 0);                   /* not from inside send */
    CHECK(ctl_client_want_run(cli));
    CHECK(ctl_client_run(cli) == 0);
    CHECK(over.calls == 1 && !over.ok);
    CHECK(strstr(over.error, "256 requests outstanding") != NULL);
    CHECK(!ctl_client_want_run(cli));

    /* a request too long to be read is refused here, not sent */
    struct ctl_client *cli2;
    CHECK(ctl_client_connect(d.sock, &cli2) == 0);
    char *pad = big_string(300000);
    json_t *args = json_pack("{ss}", "pad", pad);
    struct rec toolong = { 0 };
    CHECK(ctl_client_send(cli2, "echo", args, rec_cb, &toolong) == EMSGSIZE);
    CHECK(toolong.calls == 0 && ctl_client_pending(cli2) == 0);
    CHECK(ctl_client_run(cli2) == 0);
    CHECK(toolong.calls == 1 && strstr(toolong.error, "request line over 262144 bytes"));
    json_decref(args);

    /* 4 MiB queued to a server that does not read */
    pad[200000] = '\0';
    args = json_pack("{ss}", "pad", pad);
    static struct rec q[40];
    memset(q, 0, sizeof q);
    int refused = 0, first_refused = -1;
    for (int i = 0; i < 40; i++) {
        int e = ctl_client_send(cli2, "echo", args, rec_cb, &q[i]);
        CHECK(e == 0 || e == ENOBUFS);
        if (e == ENOBUFS) {
            refused++;
            if (first_refused < 0)
                first_refused = i;
        }
    }
    CHECK(refused > 0 && first_refused > 20);   /* 4 MiB / 200 KB plus the socket's buffer */
    int called = 0;
    for (int i = 0; i < 40; i++)
        called += q[i].calls;
    CHECK(called == 0);
    CHECK(ctl_client_run(cli2) == 0);
    called = 0;
    for (int i = 0; i < 40; i++)
        called += q[i].calls;
    CHECK(called == refused);
    CHECK(q[first_refused].calls == 1 && strstr(q[first_refused].error, "bytes queued"));
    json_decref(args);
    free(pad);

    /* the server goes away: every outstanding request is answered once */
    ctl_server_close(srv);
    int e1 = ctl_client_run(cli), e2 = ctl_client_run(cli2);
    CHECK(e1 == EPIPE || e1 == ECONNRESET);
    CHECK(e2 == EPIPE || e2 == ECONNRESET);
    int once = 0;
    for (int i = 0; i < CTL_MAX_PENDING; i++)
        once += r[i].calls == 1 && !r[i].ok && !strncmp(r[i].error, "connection ", 11);
    CHECK(once == CTL_MAX_PENDING);
    once = 0;
    for (int i = 0; i < 40; i++)
        once += q[i].calls == 1 && !q[i].ok;
    CHECK(once == 40);
    /* and a request on a dead connection is refused the same way */
    struct rec late = { 0 };
    CHECK(ctl_client_send(cli, "echo", NULL, rec_cb, &late) != 0 && late.calls == 0);
    ctl_client_close(cli);
    ctl_client_close(cli2);
    CHECK(late.calls == 1 && !late.ok);
    once = 0;
    for (int i = 0; i < CTL_MAX_PENDING; i++)
        once += r[i].calls == 1;
    CHECK(once == CTL_MAX_PENDING);
    for (int i = 0; i < CTL_MAX_PENDING; i++)
        rec_clear(&r[i]);
    rec_clear(&over);
    rec_clear(&toolong);
    rec_clear(&late);
    rmdir(d.dir);
}

/* ---- deferred replies -------------------------------------------------- */

static struct ctl_pending *held;
static int defer_twice, deferred;

static json_t *cmd_later(void *aux, json_t *args, struct ctl_conn *c, char **err)
{
    held = ctl_conn_defer(c);
    deferred++;
    defer_twice += ctl_conn_defer(c) != NULL;
    return NULL;
}

static void test_deferred(void)
{
    struct sockdir d;
    sockdir_make(&d);
    struct ctl_server *srv;
    CHECK(ctl_server_open(d.sock, &srv) == 0);
    ctl_server_register(srv, "later", "", cmd_later, NULL);
    struct ctl_client *cli;
    CHECK(ctl_client_connect(d.sock, &cli) == 0);

    /* a later request is answered first; the deferred one when it is ready */
    struct rec a = { 0 }, b = { 0 };
    held = NULL;
    CHECK(ctl_client_send(cli, "later", NULL, rec_cb, &a) == 0);
    CHECK(ctl_client_send(cli, "echo", NULL, rec_cb, &b) == 0);
    pump(srv, cli, &b.calls, 1, NULL);
    CHECK(b.calls == 1 && b.ok && a.calls == 0 && held != NULL && defer_twice == 0);
    CHECK(held && ctl_pending_alive(held) && ctl_pending_id(held) == 1);
    json_t *res = json_pack("{si}", "v", 7);
    ctl_pending_reply(held, res, NULL);
    json_decref(res);
    pump(srv, cli, &a.calls, 1, NULL);
    CHECK(a.calls == 1 && a.ok && json_integer_value(json_object_get(a.body, "v")) == 7);

    /* a deferred error */
    struct rec e = { 0 };
    held = NULL;
    CHECK(ctl_client_send(cli, "later", NULL, rec_cb, &e) == 0);
    pump(srv, cli, &deferred, deferred + 1, NULL);
    ctl_pending_reply(held, NULL, "link_id: no such link");
    pump(srv, cli, &e.calls, 1, NULL);
    CHECK(e.calls == 1 && !e.ok);
    CHECK_STR(e.error, "link_id: no such link");

    /* the requester goes away before the answer: dropped, nothing breaks */
    held = NULL;
    struct rec gone = { 0 };
    CHECK(ctl_client_send(cli, "later", NULL, rec_cb, &gone) == 0);
    pump(srv, cli, &deferred, deferred + 1, NULL);
    CHECK(held != NULL);
    ctl_client_close(cli);
    CHECK(gone.calls == 1 && !gone.ok);
    int64_t deadline = monotonic_ms() + 5000;
    while (held && ctl_pending_alive(held) && monotonic_ms() < deadline) {
        struct pollfd p = { ctl_server_fd(srv), POLLIN, 0 };
        poll(&p, 1, 50);
        ctl_server_run(srv);
    }
    CHECK(held && !ctl_pending_alive(held));
    res = json_pack("{si}", "v", 8);
    ctl_pending_reply(held, res, NULL);

    /* and the server closes before the answer */
    CHECK(ctl_client_connect(d.sock, &cli) == 0);
    held = NULL;
    struct rec closed = { 0 };
    CHECK(ctl_client_send(cli, "later", NULL, rec_cb, &closed) == 0);
    pump(srv, cli, &deferred, deferred + 1, NULL);
    CHECK(held != NULL);
    ctl_server_close(srv);
    CHECK(held && !ctl_pending_alive(held));
    ctl_pending_reply(held, res, NULL);
    json_decref(res);
    int err = ctl_client_run(cli);
    CHECK(err == EPIPE || err == ECONNRESET);
    CHECK(closed.calls == 1 && !closed.ok);
    ctl_client_close(cli);
    rec_clear(&a);
    rec_clear(&b);
    rec_clear(&e);
    rec_clear(&gone);
    rec_clear(&closed);
    rmdir(d.dir);
}

int main(void)
{
    test_round_trip();
    test_rejects();
    test_linebuf();
    test_socket();
    test_linebuf_feed();
    test_linebuf_feed_random();
    test_event_drops_requester();
    test_overlong_request();
    test_overlong_response();
    test_refusals();
    test_deferred();
    return check_report("test_ctl");
}
