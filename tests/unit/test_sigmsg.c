/* Unit tests for the signalling payload codec (overlay/sigmsg.c): round trips
 * of every type, each rejection with its exact message, and a seeded mutation
 * run that checks decode never crashes and only accepts what re-encodes. */
#include <stdint.h>
#include <stdlib.h>

#include "../../overlay/sigmsg.h"
#include "check.h"

#define A_ID "0123456789abcdef0123456789abcdef"
#define B_ID "fedcba9876543210fedcba9876543210"
#define FPR  "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:" \
             "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

static struct nodeid id_a, id_b;

static void base(struct sigmsg *m, enum sigmsg_type type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    strcpy(m->overlay, "lab");
    m->from = id_a;
    m->to = id_b;
    strcpy(m->session, "00112233aabbccdd");
    strcpy(m->edge_id, "a1b2c3d4e5f60718");
}

static void creds(struct sigmsg_creds *c)
{
    strcpy(c->mac, "02:00:5e:10:00:01");
    strcpy(c->fingerprint, FPR);
    strcpy(c->ufrag, "Ab1+");
    strcpy(c->pwd, "abcdefghijklmnopqrst/+");
}

/* Encodes M, decodes the text as B, and checks both agree field by field. */
static void round_trip(const struct sigmsg *m, const char *what)
{
    char *err = NULL;
    char *text = sigmsg_encode(m, &err);
    CHECK(text != NULL);
    CHECK_STR(err, NULL);
    if (!text) {
        fprintf(stderr, "  round trip %s: encode failed: %s\n", what, err ? err : "oom");
        free(err);
        return;
    }
    struct sigmsg back;
    char *derr = sigmsg_decode(text, strlen(text), "lab", &id_b, &back);
    CHECK_STR(derr, NULL);
    if (!derr) {
        /* the decoder zeroes what a type does not use; so must the input */
        CHECK(!memcmp(m, &back, sizeof back));
    }
    free(derr);
    free(text);
}

static void test_round_trips(void)
{
    struct sigmsg m;

    for (int t = SIGMSG_EDGE_SUCCESSOR; t <= SIGMSG_EDGE_ON_DEMAND; t++) {
        base(&m, SIGMSG_EDGE_REQ);
        m.edge_type = (enum sigmsg_edge_type) t;
        strcpy(m.creds.fingerprint, FPR);
        round_trip(&m, "edge_req");
    }

    base(&m, SIGMSG_EDGE_RESP);
    m.accepted = true;
    m.resp_reason = SIGMSG_RESP_OK;
    creds(&m.creds);
    round_trip(&m, "edge_resp accepted");

    for (int r = SIGMSG_RESP_BUSY; r <= SIGMSG_RESP_FULL; r++) {
        base(&m, SIGMSG_EDGE_RESP);
        m.resp_reason = (enum sigmsg_resp_reason) r;
        round_trip(&m, "edge_resp refused");
    }

    base(&m, SIGMSG_LINK_CREDS);
    creds(&m.creds);
    round_trip(&m, "link_creds");

    base(&m, SIGMSG_LINK_CAND);
    m.n_cands = 2;
    strcpy(m.cands[0], "1 1 UDP 2013266431 10.0.0.1 40000 typ host");
    strcpy(m.cands[1], "2 1 UDP 1677722111 198.51.100.7 3478 typ srflx raddr 10.0.0.1 rport 40000");
    round_trip(&m, "link_cand");

    base(&m, SIGMSG_LINK_CAND);
    m.done = true;
    round_trip(&m, "link_cand end-of-candidates");

    base(&m, SIGMSG_EDGE_CLOSE);
    strcpy(m.close_reason, "topology");
    round_trip(&m, "edge_close");

    for (int t = SIGMSG_EDGE_SUCCESSOR; t <= SIGMSG_EDGE_ON_DEMAND; t++) {
        base(&m, SIGMSG_EDGE_WANT);
        m.want = true;
        m.edge_type = (enum sigmsg_edge_type) t;
        round_trip(&m, "edge_want true");
    }
    base(&m, SIGMSG_EDGE_WANT);
    round_trip(&m, "edge_want false");

    /* names used by logs and tools */
    CHECK_STR(sigmsg_type_name(SIGMSG_LINK_CAND), "link_cand");
    CHECK_STR(sigmsg_edge_type_name(SIGMSG_EDGE_LONG_DISTANCE), "long_distance");
    CHECK_STR(sigmsg_resp_reason_name(SIGMSG_RESP_UNKNOWN_OVERLAY), "unknown_overlay");
    CHECK_STR(sigmsg_resp_reason_name(SIGMSG_RESP_FULL), "full");
    CHECK_STR(sigmsg_type_name(SIGMSG_EDGE_WANT), "edge_want");
}

/* Unknown fields are ignored: a later v1 sender may add some. */
static void test_forward_compat(void)
{
    const char *text = "{\"v\":1,\"overlay\":\"lab\",\"type\":\"edge_req\",\"from\":\"" A_ID
                       "\",\"to\":\"" B_ID "\",\"session\":\"00112233aabbccdd\","
                       "\"edge_id\":\"a1b2c3d4e5f60718\",\"edge_type\":\"static\","
                       "\"fingerprint\":\"" FPR "\","
                       "\"priority\":7,\"hints\":{\"x\":[1,2]}}";
    struct sigmsg m;
    char *err = sigmsg_decode(text, strlen(text), "lab", &id_b, &m);
    CHECK_STR(err, NULL);
    CHECK(m.type == SIGMSG_EDGE_REQ && m.edge_type == SIGMSG_EDGE_STATIC);
    CHECK(!nodeid_cmp(&m.from, &id_a));
    free(err);
}

/* Builds an edge_req-shaped message with one field replaced (or dropped when
 * VALUE is NULL) and a raw type-specific tail. */
static char *msg_with(const char *key, const char *value, const char *tail)
{
    static const char *const keys[] = { "v", "overlay", "type", "from", "to", "session",
                                        "edge_id" };
    static const char *const vals[] = { "1", "\"lab\"", "\"edge_req\"", "\"" A_ID "\"",
                                        "\"" B_ID "\"", "\"00112233aabbccdd\"",
                                        "\"a1b2c3d4e5f60718\"" };
    static char buf[SIGMSG_MAX_LEN * 2];
    size_t n = 0;

    n += (size_t) snprintf(buf + n, sizeof buf - n, "{");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = !strcmp(keys[i], key) ? value : vals[i];
        if (v)
            n += (size_t) snprintf(buf + n, sizeof buf - n, "\"%s\":%s,", keys[i], v);
    }
    if (!*tail)
        n--;   /* no trailing comma before the brace */
    snprintf(buf + n, sizeof buf - n, "%s}", tail);
    return buf;
}

static void expect_error(const char *text, size_t len, const char *want)
{
    struct sigmsg m;
    char *err = sigmsg_decode(text, len, "lab", &id_b, &m);
    CHECK_STR(err, want);
    free(err);
}

#define EXPECT(text, want) expect_error((text), strlen(text), (want))

static void test_rejections(void)
{
    static const char *const req = "\"edge_type\":\"successor\",\"fingerprint\":\"" FPR "\"";
    static const char *const resp_ok =
        "\"accepted\":true,\"reason\":\"ok\",\"mac\":\"02:00:5e:10:00:01\",\"fingerprint\":\""
        FPR "\",\"ufrag\":\"Ab1+\",\"pwd\":\"abcdefghijklmnopqrst/+\"";

    /* the baseline really is valid, so each case below fails for its reason */
    EXPECT(msg_with("", NULL, req), NULL);

    EXPECT("{\"v\":1,", "malformed JSON: string or '}' expected near end of file (position 7)");
    EXPECT("{\"v\":1,\"v\":1}", "malformed JSON: duplicate object key near '\"v\"' (position 10)");
    EXPECT("[1,2]", "not a JSON object");
    EXPECT("\"edge_req\"", "malformed JSON: '[' or '{' expected near '\"edge_req\"' (position 10)");

    char *big = malloc(SIGMSG_MAX_LEN + 2);
    memset(big, ' ', SIGMSG_MAX_LEN + 1);
    big[0] = '{';
    big[SIGMSG_MAX_LEN] = '}';
    big[SIGMSG_MAX_LEN + 1] = '\0';
    expect_error(big, SIGMSG_MAX_LEN + 1, "message too large: 8193 bytes (limit 8192)");
    big[SIGMSG_MAX_LEN - 1] = '}';   /* exactly at the limit: parsed, then judged */
    expect_error(big, SIGMSG_MAX_LEN, "missing field \"v\"");
    free(big);

    EXPECT(msg_with("v", "2", req), "unsupported version 2");
    EXPECT(msg_with("v", "\"1\"", req), "field \"v\": expected integer");
    EXPECT(msg_with("v", NULL, req), "missing field \"v\"");
    EXPECT(msg_with("overlay", "\"prod\"", req), "wrong overlay \"prod\" (expected \"lab\")");
    EXPECT(msg_with("to", "\"" A_ID "\"", req),
           "wrong recipient " A_ID " (we are " B_ID ")");
    EXPECT(msg_with("from", "\"0123456789ABCDEF0123456789abcdef\"", req),
           "field \"from\": expected 32 lowercase hex digits");
    EXPECT(msg_with("from", "\"0123\"", req), "field \"from\": expected 32 lowercase hex digits");
    EXPECT(msg_with("from", "7", req), "field \"from\": expected string");
    EXPECT(msg_with("type", "\"edge_teleport\"", req), "unknown type \"edge_teleport\"");
    EXPECT(msg_with("session", NULL, req), "missing field \"session\"");
    EXPECT(msg_with("edge_id", "\"a1b2\"", req),
           "field \"edge_id\": expected 16 lowercase hex digits");
    EXPECT(msg_with("", NULL, ""), "missing field \"edge_type\"");
    EXPECT(msg_with("", NULL, "\"edge_type\":\"sideways\""),
           "field \"edge_type\": expected successor|long_distance|static|on_demand, "
           "got \"sideways\"");

    EXPECT(msg_with("type", "\"edge_resp\"", resp_ok), NULL);
    EXPECT(msg_with("type", "\"edge_resp\"", "\"accepted\":\"yes\",\"reason\":\"ok\""),
           "field \"accepted\": expected boolean");
    EXPECT(msg_with("type", "\"edge_resp\"", "\"accepted\":false,\"reason\":\"ok\""),
           "field \"reason\": \"ok\" contradicts accepted=false");
    EXPECT(msg_with("type", "\"edge_resp\"", "\"accepted\":true,\"reason\":\"ok\""),
           "missing field \"mac\"");
    EXPECT(msg_with("type", "\"link_creds\"",
                    "\"mac\":\"02:00:5e:10:00\",\"fingerprint\":\"" FPR "\","
                    "\"ufrag\":\"Ab1+\",\"pwd\":\"abcdefghijklmnopqrst/+\""),
           "field \"mac\": expected xx:xx:xx:xx:xx:xx");
    EXPECT(msg_with("type", "\"link_creds\"",
                    "\"mac\":\"02:00:5e:10:00:01\",\"fingerprint\":\"ab:cd\","
                    "\"ufrag\":\"Ab1+\",\"pwd\":\"abcdefghijklmnopqrst/+\""),
           "field \"fingerprint\": expected 32 uppercase hex bytes separated by ':'");
    EXPECT(msg_with("type", "\"link_creds\"",
                    "\"mac\":\"02:00:5e:10:00:01\",\"fingerprint\":\"" FPR "\","
                    "\"ufrag\":\"Ab1\",\"pwd\":\"abcdefghijklmnopqrst/+\""),
           "field \"ufrag\": expected 4..256 ICE characters");
    EXPECT(msg_with("type", "\"link_creds\"",
                    "\"mac\":\"02:00:5e:10:00:01\",\"fingerprint\":\"" FPR "\","
                    "\"ufrag\":\"Ab1+\",\"pwd\":\"short-and-dashed\""),
           "field \"pwd\": expected 22..256 ICE characters");

    char cands[4096] = "\"done\":false,\"candidates\":[";
    for (int i = 0; i < SIGMSG_MAX_CANDS + 1; i++)
        strcat(cands, i ? ",\"c\"" : "\"c\"");
    strcat(cands, "]");
    EXPECT(msg_with("type", "\"link_cand\"", cands),
           "field \"candidates\": 17 candidates, limit 16");
    EXPECT(msg_with("type", "\"link_cand\"",
                    "\"done\":false,\"candidates\":[\"ok\",\"1 1 UDP 1 10.0.0.1 1 typ host\\n"
                    "a=evil\"]"),
           "field \"candidates[1]\": expected 1..512 printable ASCII characters");
    EXPECT(msg_with("type", "\"link_cand\"", "\"done\":false,\"candidates\":[]"),
           "field \"candidates\": empty (allowed only with done=true)");
    EXPECT(msg_with("type", "\"link_cand\"", "\"done\":false,\"candidates\":\"c\""),
           "field \"candidates\": expected array of strings");
    EXPECT(msg_with("type", "\"link_cand\"", "\"candidates\":[\"c\"]"), "missing field \"done\"");
    EXPECT(msg_with("type", "\"edge_want\"", "\"want\":false"), NULL);
    EXPECT(msg_with("type", "\"edge_want\"", "\"want\":true,\"edge_type\":\"successor\""), NULL);
    EXPECT(msg_with("type", "\"edge_want\"", ""), "missing field \"want\"");
    EXPECT(msg_with("type", "\"edge_want\"", "\"want\":1"), "field \"want\": expected boolean");
    EXPECT(msg_with("type", "\"edge_want\"", "\"want\":true"), "missing field \"edge_type\"");
    EXPECT(msg_with("type", "\"edge_close\"", "\"reason\":\"Bye!\""),
           "field \"reason\": expected 1..32 of [a-z0-9_]");

    /* untrusted text is echoed short and printable */
    EXPECT(msg_with("type", "\"\\u0007xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", req),
           "unknown type \"?xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"");
    expect_error("{\"v\":1}\0{}", 10, "malformed JSON: end of file expected near end of file "
                 "(position 8)");
    expect_error(NULL, 0, "empty message");
}

static void test_encode_refuses(void)
{
    struct sigmsg m;
    char *err = NULL;

    base(&m, SIGMSG_LINK_CREDS);   /* no credentials filled in */
    CHECK(sigmsg_encode(&m, &err) == NULL);
    CHECK_STR(err, "creds: mac, fingerprint, ufrag or pwd malformed");
    free(err);

    base(&m, SIGMSG_LINK_CAND);
    m.n_cands = SIGMSG_MAX_CANDS;
    for (int i = 0; i < m.n_cands; i++)
        memset(m.cands[i], 'x', SIGMSG_CAND_MAX);
    CHECK(sigmsg_encode(&m, &err) == NULL);
    CHECK(err && !strncmp(err, "encoded message is ", 19));
    free(err);

    base(&m, SIGMSG_EDGE_RESP);
    m.accepted = true;
    m.resp_reason = SIGMSG_RESP_BUSY;
    CHECK(sigmsg_encode(&m, NULL) == NULL);

    char hex[SIGMSG_HEX16_LEN + 1], hex2[SIGMSG_HEX16_LEN + 1];
    CHECK(sigmsg_random_hex16(hex) && sigmsg_random_hex16(hex2));
    CHECK(strlen(hex) == 16 && strcmp(hex, hex2));
}

/* ---- seeded mutations ----------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void)   /* xorshift64*: fixed seed, same run every time */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t) ((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static size_t mutate(char *buf, size_t len, size_t cap)
{
    static const char *const tokens[] = { "\"", "{", "}", "[", "]", ",", ":", "\\", "\\u0000",
                                          "null", "true", "1e999", "-1", "\"v\":2", "\xc3\x28",
                                          "\xff", "\n", "\"to\":\"" A_ID "\"" };
    int rounds = 1 + (int) (rng() % 4);

    for (int r = 0; r < rounds && len > 0; r++) {
        size_t at = rng() % len;
        switch (rng() % 5) {
        case 0:   /* flip bits */
            buf[at] ^= (char) (1u << (rng() % 8));
            break;
        case 1:   /* random byte */
            buf[at] = (char) rng();
            break;
        case 2: { /* delete a range */
            size_t n = 1 + rng() % 16;
            if (n > len - at)
                n = len - at;
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
            break;
        }
        case 3: { /* insert a JSON-ish token */
            const char *t = tokens[rng() % (sizeof tokens / sizeof tokens[0])];
            size_t n = strlen(t);
            if (len + n > cap)
                break;
            memmove(buf + at + n, buf + at, len - at);
            memcpy(buf + at, t, n);
            len += n;
            break;
        }
        case 4: { /* duplicate a range */
            size_t n = 1 + rng() % 64;
            if (n > len - at)
                n = len - at;
            if (len + n > cap)
                break;
            memmove(buf + at + n, buf + at, len - at);
            len += n;
            break;
        }
        }
    }
    return len;
}

static void test_mutations(void)
{
    struct sigmsg seeds[5];
    char *texts[5];
    int accepted = 0, rejected = 0, bad = 0;

    base(&seeds[0], SIGMSG_EDGE_REQ);
    strcpy(seeds[0].creds.fingerprint, FPR);
    base(&seeds[1], SIGMSG_EDGE_RESP);
    seeds[1].accepted = true;
    creds(&seeds[1].creds);
    base(&seeds[2], SIGMSG_LINK_CREDS);
    creds(&seeds[2].creds);
    base(&seeds[3], SIGMSG_LINK_CAND);
    seeds[3].n_cands = 3;
    strcpy(seeds[3].cands[0], "1 1 UDP 2013266431 10.0.0.1 40000 typ host");
    strcpy(seeds[3].cands[1], "c2");
    strcpy(seeds[3].cands[2], "c3");
    base(&seeds[4], SIGMSG_EDGE_CLOSE);
    strcpy(seeds[4].close_reason, "shutdown");
    for (int i = 0; i < 5; i++) {
        texts[i] = sigmsg_encode(&seeds[i], NULL);
        CHECK(texts[i] != NULL);
        if (!texts[i])
            return;
    }

    enum { CAP = SIGMSG_MAX_LEN + 512 };
    char *buf = malloc(CAP);
    for (int iter = 0; iter < 10000; iter++) {
        const char *src = texts[rng() % 5];
        size_t len = strlen(src);
        memcpy(buf, src, len);
        len = mutate(buf, len, CAP);

        struct sigmsg m;
        char *err = sigmsg_decode(buf, len, "lab", &id_b, &m);
        if (err) {
            rejected++;
            if (!*err)
                bad++;
            free(err);
            continue;
        }
        /* whatever is accepted must be a message the encoder can reproduce */
        accepted++;
        char *again = sigmsg_encode(&m, NULL);
        struct sigmsg m2;
        char *err2 = again ? sigmsg_decode(again, strlen(again), "lab", &id_b, &m2) : NULL;
        if (!again || err2 || memcmp(&m, &m2, sizeof m))
            bad++;
        free(err2);
        free(again);
    }
    free(buf);
    for (int i = 0; i < 5; i++)
        free(texts[i]);
    printf("mutations: %d accepted, %d rejected, %d inconsistent\n", accepted, rejected, bad);
    CHECK(bad == 0);
    CHECK(rejected > 0 && accepted > 0);
}

int main(void)
{
    CHECK(nodeid_parse(A_ID, &id_a));
    CHECK(nodeid_parse(B_ID, &id_b));

    test_round_trips();
    test_forward_compat();
    test_rejections();
    test_encode_refuses();
    test_mutations();
    return check_report("test_sigmsg");
}
