/* Unit tests of the control contract (lib/ctlmsg.c) and the typed field
 * reader under it (lib/jfield.c): round trips of every message, every error
 * a person can get, and hostile input (wrong types, overlong strings,
 * missing keys, random JSON) that must be refused without a crash. */
#include "check.h"
#include "evio/ctlmsg.h"
#include "evio/jfield.h"

#include <stdint.h>
#include <stdlib.h>

#define FPR "AB:12:CD:34:EF:56:78:9A:BC:DE:F0:12:34:56:78:9A:" \
            "BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A"
#define NODE "0123456789abcdef0123456789abcdef"
#define UFRAG "Ab+/"
#define PWD "abcdefghijklmnopqrstuv"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fprintf(stderr, "bad test JSON %s: %s\n", text, e.text);
    return j;
}

/* Checks ERR (freed here) is WANT; NULL WANT means success. */
static void expect(char *err, const char *want, int line)
{
    if ((!err && want) || (err && !want) || (err && strcmp(err, want)))
        fprintf(stderr, "test_ctlmsg.c:%d:\n", line);
    CHECK_STR(err, want);
    free(err);
}
#define EXPECT(err, want) expect((err), (want), __LINE__)

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* A and B encode to the same JSON (structs compared without their padding). */
#define SAME(encode, a, b) same_json(encode(a), encode(b))
static bool same_json(json_t *x, json_t *y)
{
    bool eq = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- names and rules ----------------------------------------------------- */

static void test_names(void)
{
    CHECK_STR(CTL_CMD_LINK_CREATE, "link/create");
    CHECK_STR(CTL_CMD_LINK_LIST, "link/list");
    CHECK_STR(CTL_EV_LINK_STATE, "link/state");
    CHECK_STR(CTL_CMD_PORT_SYNC, "port/sync");
    CHECK_STR(CTL_EV_SHORTCUT_HINT, "shortcut/hint");
    CHECK_STR(ctl_link_state_name(CTL_LINK_CONNECTING), "connecting");
    CHECK_STR(ctl_link_state_name(CTL_LINK_UP), "up");
    CHECK_STR(ctl_link_state_name(CTL_LINK_FAILED), "failed");
    CHECK_STR(ctl_link_state_name((enum ctl_link_state)7), "?");
}

static void test_rules(void)
{
    char *s64 = repeat('a', 64), *s65 = repeat('a', 65);
    CHECK(ctl_link_id_valid("l1") && ctl_link_id_valid("e0.ab_cd-9") && ctl_link_id_valid(s64));
    CHECK(!ctl_link_id_valid("") && !ctl_link_id_valid(s65) && !ctl_link_id_valid("a b")
          && !ctl_link_id_valid("a/b") && !ctl_link_id_valid(NULL));
    CHECK(ctl_ifname_valid("tap-1a2b") && ctl_ifname_valid("abcdefghijklmno"));
    CHECK(!ctl_ifname_valid("abcdefghijklmnop") && !ctl_ifname_valid("") && !ctl_ifname_valid("..")
          && !ctl_ifname_valid("a/b") && !ctl_ifname_valid("a:b") && !ctl_ifname_valid("a b")
          && !ctl_ifname_valid("a\x7f"));
    CHECK(ctl_fpr_valid(FPR) && strlen(FPR) == CTL_FPR_LEN);
    CHECK(ctl_fpr_valid("ab:12:cd:34:ef:56:78:9a:bc:de:f0:12:34:56:78:9a:"
                        "bc:de:f0:12:34:56:78:9a:bc:de:f0:12:34:56:78:9a"));
    CHECK(!ctl_fpr_valid("AB:12") && !ctl_fpr_valid(FPR ":00")
          && !ctl_fpr_valid("AB-12:CD:34:EF:56:78:9A:BC:DE:F0:12:34:56:78:9A:"
                            "BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A")
          && !ctl_fpr_valid("GB:12:CD:34:EF:56:78:9A:BC:DE:F0:12:34:56:78:9A:"
                            "BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A"));
    CHECK(ctl_mac_valid("02:ab:CD:00:11:ff") && !ctl_mac_valid("02:ab:cd:00:11")
          && !ctl_mac_valid("02-ab-cd-00-11-ff") && !ctl_mac_valid("02:ab:cd:00:11:fg"));
    CHECK(ctl_overlay_valid("lab") && ctl_overlay_valid("a_b-9")
          && ctl_overlay_valid("abcdefghijklmnopqrstuvwxyz012345"));
    CHECK(!ctl_overlay_valid("Lab") && !ctl_overlay_valid("")
          && !ctl_overlay_valid("abcdefghijklmnopqrstuvwxyz0123456"));
    CHECK(ctl_nodeid_valid(NODE) && !ctl_nodeid_valid("0123") && !ctl_nodeid_valid(NODE "0")
          && !ctl_nodeid_valid("0123456789ABCDEF0123456789abcdef"));
    CHECK(ctl_ufrag_valid(UFRAG) && !ctl_ufrag_valid("abc") && !ctl_ufrag_valid("ab-c"));
    CHECK(ctl_pwd_valid(PWD) && !ctl_pwd_valid("abcdefghijklmnopqrstu"));
    char *c512 = repeat('c', 512), *c513 = repeat('c', 513), *p257 = repeat('p', 257);
    CHECK(ctl_cand_valid(c512) && !ctl_cand_valid(c513) && !ctl_cand_valid("")
          && !ctl_cand_valid("a\nb") && !ctl_pwd_valid(p257));
    free(s64);
    free(s65);
    free(c512);
    free(c513);
    free(p257);
}

/* ---- tincan --------------------------------------------------------------- */

static void test_link_create(void)
{
    struct ctl_link_create m = { .link_id = "l1", .tap = "tap1", .mtu = 1400,
                                 .controlling = true, .peer_fingerprint = FPR }, back;
    json_t *j = ctl_link_create_encode(&m);
    json_t *want = J("{\"link_id\":\"l1\",\"tap\":\"tap1\",\"mtu\":1400,\"controlling\":true,"
                     "\"peer_fingerprint\":\"" FPR "\"}");
    CHECK(json_equal(j, want));      /* the wire format as before */
    EXPECT(ctl_link_create_decode(j, &back), NULL);
    CHECK(SAME(ctl_link_create_encode, &m, &back) && back.mtu == 1400 && back.controlling);
    json_decref(j);
    json_decref(want);

    /* defaults */
    j = J("{\"link_id\":\"l1\",\"tap\":\"t\",\"peer_fingerprint\":\"" FPR "\",\"new\":1}");
    EXPECT(ctl_link_create_decode(j, &back), NULL);
    CHECK(back.mtu == CTL_MTU_DEFAULT && !back.controlling);
    json_decref(j);

    static const struct { const char *json, *err; } bad[] = {
        { "[1]", "args: expected object, got an array" },
        { "\"x\"", "args: expected object, got \"x\"" },
        { "{}", "link_id: expected 1..64 of [A-Za-z0-9._-], got nothing" },
        { "{\"link_id\":42}", "link_id: expected 1..64 of [A-Za-z0-9._-], got 42" },
        { "{\"link_id\":\"a b\"}", "link_id: expected 1..64 of [A-Za-z0-9._-], got \"a b\"" },
        { "{\"link_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
          "link_id: expected 1..64 of [A-Za-z0-9._-], got "
          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" },
        { "{\"link_id\":\"l\"}", "tap: expected interface name of 1..15 characters without "
          "'/', ':' or spaces, got nothing" },
        { "{\"link_id\":\"l\",\"tap\":\"abcdefghijklmnop\"}", "tap: expected interface name "
          "of 1..15 characters without '/', ':' or spaces, got \"abcdefghijklmnop\"" },
        { "{\"link_id\":\"l\",\"tap\":\"t\",\"mtu\":20000}",
          "mtu: expected integer 576..9000, got 20000" },
        { "{\"link_id\":\"l\",\"tap\":\"t\",\"mtu\":\"big\"}",
          "mtu: expected integer 576..9000, got \"big\"" },
        { "{\"link_id\":\"l\",\"tap\":\"t\",\"mtu\":1410.5}",
          "mtu: expected integer 576..9000, got 1410.5" },
        { "{\"link_id\":\"l\",\"tap\":\"t\",\"controlling\":1}",
          "controlling: expected true or false, got 1" },
        { "{\"link_id\":\"l\",\"tap\":\"t\",\"controlling\":null}",
          "controlling: expected true or false, got null" },
        { "{\"link_id\":\"l\",\"tap\":\"t\"}",
          "peer_fingerprint: expected 32 hex bytes separated by ':', got nothing" },
        { "{\"link_id\":\"l\",\"tap\":\"t\",\"peer_fingerprint\":42}",
          "peer_fingerprint: expected 32 hex bytes separated by ':', got 42" },
        { "{\"link_id\":\"l\",\"tap\":\"t\",\"peer_fingerprint\":\"AB:CD\"}",
          "peer_fingerprint: expected 32 hex bytes separated by ':', got \"AB:CD\"" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&back, 0x55, sizeof back);
        j = J(bad[i].json);
        EXPECT(ctl_link_create_decode(j, &back), bad[i].err);
        CHECK(all_zero(&back, sizeof back));
        json_decref(j);
    }
    /* a NUL hidden in a string would truncate it: refused */
    j = json_pack("{s:s%}", "link_id", "l1\0x", (size_t)4);
    EXPECT(ctl_link_create_decode(j, &back), "link_id: expected 1..64 of [A-Za-z0-9._-], "
           "got \"l1\\u0000x\"");
    json_decref(j);
}

static void test_link_created(void)
{
    struct ctl_link_created m = { "l1", "tap1", "02:aa:bb:cc:dd:ee", FPR, UFRAG, PWD }, back;
    json_t *j = ctl_link_created_encode(&m);
    EXPECT(ctl_link_created_decode(j, &back), NULL);
    CHECK(SAME(ctl_link_created_encode, &m, &back) && !strcmp(back.pwd, PWD));
    json_object_set_new(j, "mac", json_string("02:aa"));
    EXPECT(ctl_link_created_decode(j, &back), "mac: expected MAC address xx:xx:xx:xx:xx:xx, "
           "got \"02:aa\"");
    json_object_set_new(j, "mac", json_string("02:aa:bb:cc:dd:ee"));
    json_object_set_new(j, "pwd", json_string("short-secret"));
    /* a password is never shown */
    EXPECT(ctl_link_created_decode(j, &back), "pwd: expected 22..256 ice-chars, got a string");
    json_object_del(j, "ufrag");
    EXPECT(ctl_link_created_decode(j, &back), "ufrag: expected 4..256 ice-chars, got nothing");
    json_decref(j);
    EXPECT(ctl_link_created_decode(NULL, &back), "link_id: expected 1..64 of [A-Za-z0-9._-], "
           "got nothing");
    j = J("7");
    EXPECT(ctl_link_created_decode(j, &back), "result: expected object, got 7");
    json_decref(j);
}

static void test_link_remote(void)
{
    static struct ctl_link_remote m, back;
    memset(&m, 0, sizeof m);
    snprintf(m.link_id, sizeof m.link_id, "l1");
    m.has_creds = true;
    snprintf(m.ufrag, sizeof m.ufrag, UFRAG);
    snprintf(m.pwd, sizeof m.pwd, PWD);
    m.n_cands = 2;
    snprintf(m.cands[0], sizeof m.cands[0], "a=candidate:1 1 UDP 2015363327 10.0.0.2 4 typ host");
    snprintf(m.cands[1], sizeof m.cands[1], "candidate:2 1 UDP 1 10.0.0.3 5 typ host");
    m.gathering_done = true;
    json_t *j = ctl_link_remote_encode(&m);
    json_t *want = J("{\"link_id\":\"l1\",\"ufrag\":\"" UFRAG "\",\"pwd\":\"" PWD "\","
                     "\"candidates\":[\"a=candidate:1 1 UDP 2015363327 10.0.0.2 4 typ host\","
                     "\"candidate:2 1 UDP 1 10.0.0.3 5 typ host\"],\"gathering_done\":true}");
    CHECK(json_equal(j, want));
    EXPECT(ctl_link_remote_decode(j, &back), NULL);
    CHECK(back.has_creds && back.n_cands == 2 && back.gathering_done && back.n_skipped == 0
          && back.first_skipped == -1 && back.n_elements == 2 && back.cand_index[1] == 1);
    CHECK_STR(back.cands[1], m.cands[1]);
    CHECK_STR(back.pwd, PWD);
    json_decref(j);
    json_decref(want);

    /* only what is set goes on the wire */
    memset(&m, 0, sizeof m);
    snprintf(m.link_id, sizeof m.link_id, "l1");
    j = ctl_link_remote_encode(&m);
    want = J("{\"link_id\":\"l1\"}");
    CHECK(json_equal(j, want));
    EXPECT(ctl_link_remote_decode(j, &back), NULL);
    CHECK(!back.has_creds && back.n_cands == 0 && !back.gathering_done);
    json_decref(j);
    json_decref(want);

    /* bad elements are skipped and counted; the good ones kept with their index */
    j = J("{\"link_id\":\"l1\",\"candidates\":[17,\"candidate:garbage\",\"a\\nb\",[]]}");
    EXPECT(ctl_link_remote_decode(j, &back), NULL);
    CHECK(back.n_cands == 1 && back.cand_index[0] == 1 && back.n_skipped == 3
          && back.first_skipped == 0 && back.n_elements == 4);
    CHECK_STR(back.cands[0], "candidate:garbage");
    CHECK_STR(back.skipped, "candidates[0]: expected SDP candidate of 1..512 printable ASCII "
              "characters, got 17");
    json_decref(j);
    char *big = repeat('c', CTL_CAND_MAX + 1);
    j = json_pack("{s:s, s:[s]}", "link_id", "l1", "candidates", big);
    EXPECT(ctl_link_remote_decode(j, &back), NULL);
    CHECK(back.n_cands == 0 && back.n_skipped == 1);
    CHECK(!strncmp(back.skipped, "candidates[0]: expected SDP candidate of 1..512 printable "
                   "ASCII characters, got \"cccc", 80));
    json_decref(j);
    free(big);

    json_t *many = json_array();
    for (int i = 0; i < CTL_CANDS_MAX + 1; i++)
        json_array_append_new(many, json_string("candidate:1 1 UDP 1 10.0.0.1 1 typ host"));
    j = json_pack("{s:s, s:o}", "link_id", "l1", "candidates", many);
    EXPECT(ctl_link_remote_decode(j, &back), "candidates: expected at most 64 entries, got 65");
    CHECK(back.first_skipped == -1 && back.n_cands == 0);
    json_array_remove(many, 0);
    EXPECT(ctl_link_remote_decode(j, &back), NULL);
    CHECK(back.n_cands == CTL_CANDS_MAX);
    json_decref(j);

    static const struct { const char *json, *err; } bad[] = {
        { "{\"ufrag\":\"" UFRAG "\"}", "link_id: expected 1..64 of [A-Za-z0-9._-], got nothing" },
        { "{\"link_id\":\"l1\",\"ufrag\":\"" UFRAG "\"}", "ufrag: expected together with pwd" },
        { "{\"link_id\":\"l1\",\"pwd\":\"" PWD "\"}", "pwd: expected together with ufrag" },
        { "{\"link_id\":\"l1\",\"ufrag\":\"ab\",\"pwd\":\"" PWD "\"}",
          "ufrag: expected 4..256 ice-chars, got \"ab\"" },
        { "{\"link_id\":\"l1\",\"ufrag\":\"" UFRAG "\",\"pwd\":\"nope\"}",
          "pwd: expected 22..256 ice-chars, got a string" },
        { "{\"link_id\":\"l1\",\"ufrag\":\"" UFRAG "\",\"pwd\":5}",
          "pwd: expected 22..256 ice-chars, got a number" },
        { "{\"link_id\":\"l1\",\"candidates\":\"candidate:1\"}",
          "candidates: expected array, got \"candidate:1\"" },
        { "{\"link_id\":\"l1\",\"candidates\":{}}", "candidates: expected array, got an object" },
        { "{\"link_id\":\"l1\",\"gathering_done\":\"yes\"}",
          "gathering_done: expected true or false, got \"yes\"" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = J(bad[i].json);
        EXPECT(ctl_link_remote_decode(j, &back), bad[i].err);
        CHECK(back.n_cands == 0 && !back.has_creds && back.first_skipped == -1);
        json_decref(j);
    }
}

static void test_link_ref(void)
{
    struct ctl_link_ref m = { "l-1.x" }, back;
    json_t *j = ctl_link_ref_encode(&m);
    EXPECT(ctl_link_ref_decode(j, true, &back), NULL);
    CHECK_STR(back.link_id, "l-1.x");
    json_decref(j);
    EXPECT(ctl_link_ref_decode(NULL, false, &back), NULL);    /* link/stats of every link */
    CHECK_STR(back.link_id, "");
    EXPECT(ctl_link_ref_decode(NULL, true, &back),
           "link_id: expected 1..64 of [A-Za-z0-9._-], got nothing");
    j = J("{\"link_id\":[\"l1\"]}");
    EXPECT(ctl_link_ref_decode(j, false, &back),
           "link_id: expected 1..64 of [A-Za-z0-9._-], got an array");
    json_decref(j);
    j = J("{\"link_id\":\"nope\"}");
    EXPECT(ctl_link_ref_decode(j, false, &back), NULL);   /* whether it exists is tincan's */
    json_decref(j);
    struct ctl_link_ref none = { "" };
    j = ctl_link_ref_encode(&none);
    CHECK(json_object_size(j) == 0);
    json_decref(j);
}

static void test_events(void)
{
    struct ctl_link_candidate c = { "l1", "a=candidate:1 1 UDP 5 10.0.0.1 9 typ host" }, cb;
    json_t *j = ctl_link_candidate_encode(&c);
    EXPECT(ctl_link_candidate_decode(j, &cb), NULL);
    CHECK(SAME(ctl_link_candidate_encode, &c, &cb) && !strcmp(cb.candidate, c.candidate));
    json_object_set_new(j, "candidate", json_string("two\nlines"));
    EXPECT(ctl_link_candidate_decode(j, &cb), "candidate: expected SDP candidate of 1..512 "
           "printable ASCII characters, got \"two\\nlines\"");
    json_decref(j);

    struct ctl_link_state_ev s = { "l1", CTL_LINK_FAILED, "peer silent" }, sb;
    j = ctl_link_state_ev_encode(&s);
    json_t *want = J("{\"link_id\":\"l1\",\"state\":\"failed\",\"reason\":\"peer silent\"}");
    CHECK(json_equal(j, want));
    EXPECT(ctl_link_state_ev_decode(j, &sb), NULL);
    CHECK(SAME(ctl_link_state_ev_encode, &s, &sb) && sb.state == CTL_LINK_FAILED);
    json_object_set_new(j, "state", json_string("sideways"));
    EXPECT(ctl_link_state_ev_decode(j, &sb),
           "state: expected one of connecting|up|failed, got \"sideways\"");
    json_object_del(j, "state");
    EXPECT(ctl_link_state_ev_decode(j, &sb),
           "state: expected one of connecting|up|failed, got nothing");
    json_object_set_new(j, "state", json_string("up"));
    json_object_set_new(j, "reason", json_integer(5));
    EXPECT(ctl_link_state_ev_decode(j, &sb), "reason: expected string, got 5");
    /* a long reason is cut, never refused */
    char *r = repeat('r', 1000);
    json_object_set_new(j, "reason", json_string(r));
    EXPECT(ctl_link_state_ev_decode(j, &sb), NULL);
    CHECK(strlen(sb.reason) == CTL_REASON_MAX && sb.state == CTL_LINK_UP);
    json_object_del(j, "reason");
    EXPECT(ctl_link_state_ev_decode(j, &sb), NULL);
    CHECK_STR(sb.reason, "");
    free(r);
    json_decref(j);
    json_decref(want);
}

static void test_link_stats(void)
{
    /* an entry as evio-tincan sends it: more than the agent reads */
    json_t *j = J("{\"links\":[{\"link_id\":\"l1\",\"tap\":\"ta1\",\"mac\":\"02:00:00:00:00:01\","
                  "\"mtu\":1410,\"controlling\":true,\"state\":\"up\",\"reason\":\"\","
                  "\"local_type\":\"host\",\"remote_type\":\"srflx\",\"local_addr\":\"10.0.0.1:5\","
                  "\"remote_addr\":\"10.0.0.2:6\",\"pair_since_s\":12,\"pair_changes\":1,"
                  "\"ice_state\":\"ready\",\"tx_frames\":3,\"tx_bytes\":300,\"rx_frames\":4,"
                  "\"rx_bytes\":400,\"drop_oversize\":1,\"drop_tap\":2,\"drop_decrypt\":3,"
                  "\"path\":\"fast\",\"age_s\":20,\"up_s\":19},"
                  "{\"link_id\":\"l2\",\"state\":\"connecting\"}],"
                  "\"servers\":[{\"kind\":\"turn\",\"state\":\"ok\"}]}");
    struct ctl_link_stats_reply r;
    EXPECT(ctl_link_stats_reply_decode(j, &r), NULL);
    CHECK(r.n_links == 2 && json_array_size(r.servers) == 1);
    const struct ctl_link_stats *l = ctl_link_stats_find(&r, "l1");
    CHECK(l && l->state == CTL_LINK_UP && l->pair_since_s == 12 && l->tx_bytes == 300
          && l->rx_frames == 4 && l->drop_decrypt == 3 && l->up_s == 19);
    CHECK(l && !strcmp(l->remote_type, "srflx") && !strcmp(l->path, "fast")
          && !strcmp(l->mac, "02:00:00:00:00:01"));
    const struct ctl_link_stats *l2 = ctl_link_stats_find(&r, "l2");
    CHECK(l2 && l2->state == CTL_LINK_CONNECTING && l2->pair_since_s == -1 && l2->tx_bytes == 0
          && !strcmp(l2->local_type, ""));
    CHECK(!ctl_link_stats_find(&r, "l3") && !ctl_link_stats_find(&r, NULL));

    /* encode -> decode keeps what the agent reads */
    json_t *e = ctl_link_stats_encode(l);
    struct ctl_link_stats back;
    EXPECT(ctl_link_stats_decode(e, &back), NULL);
    CHECK(!memcmp(&back, l, sizeof back));
    json_decref(e);
    json_t *servers = json_incref(r.servers);
    json_decref(j);                                  /* the reply keeps its own reference */
    CHECK(servers->refcount == 2);
    ctl_link_stats_reply_free(&r);
    CHECK(r.links == NULL && r.servers == NULL && r.n_links == 0);
    json_decref(servers);
    ctl_link_stats_reply_free(NULL);

    static const struct { const char *json, *err; } bad[] = {
        { "{}", "links: expected array, got nothing" },
        { "{\"links\":{}}", "links: expected array, got an object" },
        { "{\"links\":[{\"link_id\":\"l1\",\"state\":\"up\"},3]}",
          "links[1]: expected object, got 3" },
        { "{\"links\":[{\"link_id\":\"l1\"}]}",
          "links[0].state: expected one of connecting|up|failed, got nothing" },
        { "{\"links\":[{\"link_id\":\"l1\",\"state\":\"up\",\"tx_bytes\":\"x\"}]}",
          "links[0].tx_bytes: expected integer 0..9223372036854775807, got \"x\"" },
        { "{\"links\":[{\"link_id\":\"l1\",\"state\":\"up\",\"pair_since_s\":-2}]}",
          "links[0].pair_since_s: expected integer -1..9223372036854775807, got -2" },
        { "{\"links\":[],\"servers\":5}", "servers: expected array, got 5" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = J(bad[i].json);
        EXPECT(ctl_link_stats_reply_decode(j, &r), bad[i].err);
        CHECK(r.links == NULL && r.servers == NULL && r.n_links == 0);
        json_decref(j);
    }
}

static void test_link_list(void)
{
    struct ctl_link_list_entry e[3] = { { "l1", "t1", CTL_LINK_UP },
                                        { "l2", "t2", CTL_LINK_CONNECTING },
                                        { "l3", "t3", CTL_LINK_FAILED } };
    struct ctl_link_list m = { 3, e }, back;
    json_t *j = ctl_link_list_encode(&m);
    json_t *want = J("{\"links\":[{\"link_id\":\"l1\",\"tap\":\"t1\",\"state\":\"up\"},"
                     "{\"link_id\":\"l2\",\"tap\":\"t2\",\"state\":\"connecting\"},"
                     "{\"link_id\":\"l3\",\"tap\":\"t3\",\"state\":\"failed\"}]}");
    CHECK(json_equal(j, want));
    EXPECT(ctl_link_list_decode(j, &back), NULL);
    CHECK(back.n_links == 3 && SAME(ctl_link_list_encode, &m, &back)
          && back.links[2].state == CTL_LINK_FAILED);
    ctl_link_list_free(&back);
    json_decref(j);
    json_decref(want);

    struct ctl_link_list none = { 0, NULL };
    j = ctl_link_list_encode(&none);
    EXPECT(ctl_link_list_decode(j, &back), NULL);
    CHECK(back.n_links == 0 && back.links == NULL);
    json_decref(j);

    j = J("{\"links\":[{\"link_id\":\"l1\",\"tap\":\"a-very-long-tap-name\",\"state\":\"up\"}]}");
    EXPECT(ctl_link_list_decode(j, &back), "links[0].tap: expected interface name of 1..15 "
           "characters without '/', ':' or spaces, got \"a-very-long-tap-name\"");
    CHECK(back.links == NULL && back.n_links == 0);
    json_decref(j);
    EXPECT(ctl_link_list_decode(NULL, &back), "links: expected array, got nothing");
    ctl_link_list_free(NULL);
}

static void test_node_info(void)
{
    struct ctl_node_info m = { FPR, 2, "0.1.0", 7 }, back;
    json_t *j = ctl_node_info_encode(&m);
    EXPECT(ctl_node_info_decode(j, &back), NULL);
    CHECK(SAME(ctl_node_info_encode, &m, &back) && back.rejected_requests == 7);
    json_object_set_new(j, "links", json_integer(-1));
    EXPECT(ctl_node_info_decode(j, &back),
           "links: expected integer 0..9223372036854775807, got -1");
    json_object_del(j, "fingerprint");
    EXPECT(ctl_node_info_decode(j, &back),
           "fingerprint: expected 32 hex bytes separated by ':', got nothing");
    json_decref(j);
}

/* ---- switchctl -------------------------------------------------------------- */

static json_t *ctl_port_encode_peer(const struct ctl_port *m)
{
    return ctl_port_encode(m, true);
}

static void test_ports(void)
{
    struct ctl_port m = { "lab", "tap-1a2b", NODE }, back;
    json_t *j = ctl_port_encode(&m, true);
    EXPECT(ctl_port_decode(j, true, &back), NULL);
    CHECK(SAME(ctl_port_encode_peer, &m, &back));
    json_decref(j);
    j = ctl_port_encode(&m, false);
    CHECK(!json_object_get(j, "peer"));
    EXPECT(ctl_port_decode(j, false, &back), NULL);
    EXPECT(ctl_port_decode(j, true, &back), "peer: expected 32 lowercase hex digits, got nothing");
    json_object_set_new(j, "overlay", json_string("Lab"));
    EXPECT(ctl_port_decode(j, false, &back),
           "overlay: expected overlay name of 1..32 characters a-z 0-9 _ -, got \"Lab\"");
    json_object_set_new(j, "overlay", json_string("lab"));
    json_object_set_new(j, "port", json_string("a:b"));
    EXPECT(ctl_port_decode(j, false, &back), "port: expected interface name of 1..15 "
           "characters without '/', ':' or spaces, got \"a:b\"");
    json_decref(j);

    struct ctl_overlay_sel s = { "lab" }, sb;
    j = ctl_overlay_sel_encode(&s);
    EXPECT(ctl_overlay_sel_decode(j, &sb), NULL);
    CHECK_STR(sb.overlay, "lab");
    json_decref(j);
    EXPECT(ctl_overlay_sel_decode(NULL, &sb), NULL);
    CHECK_STR(sb.overlay, "");
    j = J("{\"overlay\":null}");
    EXPECT(ctl_overlay_sel_decode(j, &sb), "overlay: expected overlay name of 1..32 characters "
           "a-z 0-9 _ -, got null");
    json_decref(j);
}

static void test_port_sync(void)
{
    struct ctl_port_sync_entry e[2] = { { "e0aa", NODE, true }, { "e0bb", NODE, false } };
    struct ctl_port_sync m = { "lab", NODE, 2, e }, back;
    json_t *j = ctl_port_sync_encode(&m);
    json_t *want = J("{\"overlay\":\"lab\",\"self\":\"" NODE "\",\"ports\":["
                     "{\"port\":\"e0aa\",\"peer\":\"" NODE "\",\"up\":true},"
                     "{\"port\":\"e0bb\",\"peer\":\"" NODE "\",\"up\":false}]}");
    CHECK(json_equal(j, want));
    EXPECT(ctl_port_sync_decode(j, &back), NULL);
    CHECK(back.n_ports == 2 && !memcmp(back.ports, e, sizeof e) && !strcmp(back.self, NODE));
    ctl_port_sync_free(&back);
    json_decref(j);
    json_decref(want);

    /* an older agent: no self, no up */
    j = J("{\"overlay\":\"lab\",\"ports\":[{\"port\":\"p\",\"peer\":\"" NODE "\"}]}");
    EXPECT(ctl_port_sync_decode(j, &back), NULL);
    CHECK(back.n_ports == 1 && back.ports[0].up && !strcmp(back.self, ""));
    ctl_port_sync_free(&back);
    json_decref(j);

    json_t *ports = json_array();
    for (int i = 0; i < CTL_PORTS_MAX + 1; i++)
        json_array_append_new(ports, json_pack("{s:s, s:s}", "port", "p", "peer", NODE));
    j = json_pack("{s:s, s:o}", "overlay", "lab", "ports", ports);
    EXPECT(ctl_port_sync_decode(j, &back), "ports: expected at most 256 entries, got 257");
    CHECK(back.ports == NULL);
    json_decref(j);

    static const struct { const char *json, *err; } bad[] = {
        { "{\"ports\":[]}",
          "overlay: expected overlay name of 1..32 characters a-z 0-9 _ -, got nothing" },
        { "{\"overlay\":\"lab\"}", "ports: expected array, got nothing" },
        { "{\"overlay\":\"lab\",\"self\":\"beef\",\"ports\":[]}",
          "self: expected 32 lowercase hex digits, got \"beef\"" },
        { "{\"overlay\":\"lab\",\"ports\":[{\"port\":\"p\",\"peer\":\"" NODE "\"},"
          "{\"port\":\"q\",\"peer\":\"beef\"}]}",
          "ports[1].peer: expected 32 lowercase hex digits, got \"beef\"" },
        { "{\"overlay\":\"lab\",\"ports\":[{\"port\":\"p\",\"peer\":\"" NODE "\",\"up\":1}]}",
          "ports[0].up: expected true or false, got 1" },
        { "{\"overlay\":\"lab\",\"ports\":[\"p\"]}", "ports[0]: expected object, got \"p\"" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = J(bad[i].json);
        EXPECT(ctl_port_sync_decode(j, &back), bad[i].err);
        CHECK(back.ports == NULL && back.n_ports == 0);
        json_decref(j);
    }
    ctl_port_sync_free(NULL);

    struct ctl_port_sync_result res = { 3, 1 }, rb;
    j = ctl_port_sync_result_encode(&res);
    EXPECT(ctl_port_sync_result_decode(j, &rb), NULL);
    CHECK(rb.ports == 3 && rb.removed == 1);
    json_decref(j);
}

static void test_shortcut_hint(void)
{
    struct ctl_shortcut_hint m = { "lab", NODE, 4431, true }, back;
    json_t *j = ctl_shortcut_hint_encode(&m);
    EXPECT(ctl_shortcut_hint_decode(j, &back), NULL);
    CHECK(SAME(ctl_shortcut_hint_encode, &m, &back) && back.kbps == 4431 && back.adjacent);
    json_object_set_new(j, "kbps", json_real(1.5));
    EXPECT(ctl_shortcut_hint_decode(j, &back),
           "kbps: expected integer 0..9223372036854775807, got 1.5");
    json_object_set_new(j, "peer", json_string("x"));
    EXPECT(ctl_shortcut_hint_decode(j, &back), "peer: expected 32 lowercase hex digits, got \"x\"");
    json_decref(j);
    j = J("[]");
    EXPECT(ctl_shortcut_hint_decode(j, &back), "data: expected object, got an array");
    json_decref(j);
}

/* ---- hostile input ---------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* A random JSON value that often has the contract's keys and shapes. */
static json_t *random_value(int depth)
{
    static const char *const keys[] = { "link_id", "tap", "mtu", "controlling",
        "peer_fingerprint", "ufrag", "pwd", "candidates", "gathering_done", "candidate",
        "state", "reason", "links", "servers", "fingerprint", "overlay", "port", "peer",
        "self", "ports", "up", "kbps", "adjacent", "mac", "tx_bytes", "pair_since_s" };
    static const char *const strs[] = { "l1", "up", "failed", "lab", NODE, FPR, UFRAG, PWD,
        "02:aa:bb:cc:dd:ee", "candidate:1 1 UDP 1 10.0.0.1 1 typ host", "", "a b",
        "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789" };
    switch (rnd(depth > 3 ? 6 : 8)) {
    case 0: return json_null();
    case 1: return json_boolean(rnd(2));
    case 2: return json_integer((json_int_t)rnd(20000) - 10 + (rnd(10) ? 0 : INT64_MAX / 2));
    case 3: return json_real(rnd(1000) / 7.0);
    case 4: case 5: return json_string(strs[rnd(sizeof strs / sizeof strs[0])]);
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rnd(5); i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(8); i > 0; i--)
            json_object_set_new(o, keys[rnd(sizeof keys / sizeof keys[0])],
                                random_value(depth + 1));
        return o;
    }
    }
}

/* A valid message of some kind with up to two members replaced or removed. */
static json_t *mutated_message(void)
{
    static const char *const templates[] = {
        "{\"link_id\":\"l1\",\"tap\":\"t1\",\"mtu\":1400,\"controlling\":true,"
        "\"peer_fingerprint\":\"" FPR "\"}",
        "{\"link_id\":\"l1\",\"ufrag\":\"" UFRAG "\",\"pwd\":\"" PWD "\","
        "\"candidates\":[\"candidate:1 1 UDP 1 10.0.0.1 1 typ host\",7],\"gathering_done\":true}",
        "{\"overlay\":\"lab\",\"self\":\"" NODE "\",\"ports\":[{\"port\":\"p\","
        "\"peer\":\"" NODE "\",\"up\":false}]}",
        "{\"links\":[{\"link_id\":\"l1\",\"tap\":\"t\",\"state\":\"up\"}],\"servers\":[]}",
        "{\"overlay\":\"lab\",\"peer\":\"" NODE "\",\"kbps\":5,\"adjacent\":false}",
    };
    json_t *j = J(templates[rnd(sizeof templates / sizeof templates[0])]);
    for (unsigned n = rnd(3); n > 0 && json_object_size(j); n--) {
        void *it = json_object_iter(j);
        for (unsigned k = rnd((unsigned)json_object_size(j)); k > 0; k--)
            it = json_object_iter_next(j, it);
        if (rnd(3))
            json_object_iter_set_new(j, it, random_value(1));
        else
            json_object_del(j, json_object_iter_key(it));
    }
    return j;
}

/* Every decoder on random input: no crash (ASan/valgrind see the rest), an
 * error or a struct that encodes and decodes to itself. */
static void test_random(void)
{
    int ok = 0, refused = 0;
    for (int i = 0; i < 20000; i++) {
        json_t *j = i % 2 ? random_value(0) : mutated_message();
        char *err;
        {
            struct ctl_link_create m, b;
            if (!(err = ctl_link_create_decode(j, &m))) {
                json_t *e = ctl_link_create_encode(&m);
                char *e2 = ctl_link_create_decode(e, &b);
                CHECK(!e2 && SAME(ctl_link_create_encode, &m, &b));
                free(e2);
                json_decref(e);
                ok++;
            } else {
                CHECK(all_zero(&m, sizeof m));
                refused++;
            }
            free(err);
        }
        {
            static struct ctl_link_remote m;
            if (!(err = ctl_link_remote_decode(j, &m))) {
                CHECK(m.n_cands + m.n_skipped == m.n_elements && m.n_cands <= CTL_CANDS_MAX);
                json_t *e = ctl_link_remote_encode(&m);
                char *e2 = ctl_link_remote_decode(e, &m);
                CHECK(!e2 && m.n_skipped == 0);
                free(e2);
                json_decref(e);
            }
            free(err);
        }
        struct ctl_link_created c;
        free(ctl_link_created_decode(j, &c));
        struct ctl_link_ref r;
        free(ctl_link_ref_decode(j, rnd(2), &r));
        struct ctl_link_candidate lc;
        free(ctl_link_candidate_decode(j, &lc));
        struct ctl_link_state_ev se;
        free(ctl_link_state_ev_decode(j, &se));
        struct ctl_link_stats_reply sr;
        if (!(err = ctl_link_stats_reply_decode(j, &sr)))
            ctl_link_stats_reply_free(&sr);
        free(err);
        struct ctl_link_list ll;
        if (!(err = ctl_link_list_decode(j, &ll)))
            ctl_link_list_free(&ll);
        free(err);
        struct ctl_node_info ni;
        free(ctl_node_info_decode(j, &ni));
        struct ctl_port p;
        free(ctl_port_decode(j, rnd(2), &p));
        struct ctl_overlay_sel os;
        free(ctl_overlay_sel_decode(j, &os));
        struct ctl_port_sync ps;
        if (!(err = ctl_port_sync_decode(j, &ps))) {
            json_t *e = ctl_port_sync_encode(&ps);
            struct ctl_port_sync b;
            char *e2 = ctl_port_sync_decode(e, &b);
            CHECK(!e2 && b.n_ports == ps.n_ports
                  && (!b.n_ports || !memcmp(b.ports, ps.ports, b.n_ports * sizeof *b.ports)));
            free(e2);
            ctl_port_sync_free(&b);
            json_decref(e);
            ctl_port_sync_free(&ps);
        }
        free(err);
        struct ctl_shortcut_hint sh;
        free(ctl_shortcut_hint_decode(j, &sh));
        json_decref(j);
    }
    /* the generator reaches both outcomes */
    CHECK(ok > 0 && refused > 0);
}

/* ---- the reader's own rules ------------------------------------------------- */

static void test_jfield(void)
{
    struct jf r = { 0 };
    json_t *j = J("{\"a b\":1,\"sub\":{\"x\":\"" "0123456789012345678901234567890123456789"
                  "0123456789\"}}");
    struct jf_obj o = { .obj = j }, sub;
    static const char *const known[] = { "sub", NULL };
    CHECK(!jf_known_keys(&r, &o, known));
    EXPECT(jf_take_err(&r), "\"a b\": unknown key");
    CHECK(jf_object(&r, &o, "sub", true, &sub));
    const char *s;
    CHECK(jf_str(&r, &sub, "x", true, NULL, &s) && strlen(s) == 50);
    char small[8];
    CHECK(!jf_str_buf(&r, &sub, "x", true, NULL, small, sizeof small));
    EXPECT(jf_take_err(&r), "sub.x: expected string of at most 7 characters, got "
           "\"0123456789012345678901234567890123456789...\"");
    CHECK(!jf_object(&r, &o, "none", true, &sub) && sub.obj == NULL);
    /* only the first failure is kept */
    CHECK(!jf_object(&r, &o, "a b", true, &sub));
    EXPECT(jf_take_err(&r), "none: expected object, got nothing");
    r.missing = "required key missing";
    CHECK(!jf_object(&r, &o, "none", true, &sub));
    EXPECT(jf_take_err(&r), "none: required key missing");
    CHECK(jf_take_err(&r) == NULL);
    int v;
    static const char *const names[] = { "x", "y" };
    CHECK(jf_enum(&r, &o, "absent", false, names, 2, 1, &v) && v == 1);
    json_decref(j);
}

int main(void)
{
    test_names();
    test_rules();
    test_link_create();
    test_link_created();
    test_link_remote();
    test_link_ref();
    test_events();
    test_link_stats();
    test_link_list();
    test_node_info();
    test_ports();
    test_port_sync();
    test_shortcut_hint();
    test_random();
    test_jfield();
    return check_report("test_ctlmsg");
}
