/* Unit tests of the control protocol codec and line framing (lib/ctl_proto.c),
 * plus one round trip through a real server and client on a Unix socket. */
#include "check.h"
#include "evio/ctl.h"

#include <poll.h>
#include <stdlib.h>
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

int main(void)
{
    test_round_trip();
    test_rejects();
    test_linebuf();
    test_socket();
    return check_report("test_ctl");
}
