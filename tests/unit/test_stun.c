/* Unit tests for tincan/stun.c: the RFC 5769 sample messages (decoded,
 * their MESSAGE-INTEGRITY and FINGERPRINT checked, the long-term request
 * rebuilt byte for byte), random messages built and decoded back, probes
 * against a STUN/TURN server played by the test (Binding; Allocate with the
 * right and a wrong password, stale nonces, forged answers), and a
 * robustness loop over random and garbled datagrams. */
#include "check.h"
#include "../../tincan/stun.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* ---- RFC 5769 sample messages -------------------------------------------- */

/* 2.1 Sample Request: short-term credentials, password VOkJxbRl1RmTxUk/WvJxBt
 * (its padding bytes are spaces, which the checks must take as they are) */
static const uint8_t rfc5769_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* 2.2 Sample IPv4 Response: 192.0.2.1 port 32853, same password */
static const uint8_t rfc5769_response4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* 2.4 Sample Request with Long-Term Authentication: user "マトリックス"
 * (UTF-8), password "TheMatrIX" (after SASLprep), realm example.org */
static const uint8_t rfc5769_long_term[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33,
    0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12,
    0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83,
    0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c,
    0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
    0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
    0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14,
    0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71,
    0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

static const char short_term_pw[] = "VOkJxbRl1RmTxUk/WvJxBt";

static void test_types(void)
{
    CHECK(stun_type(STUN_BINDING, STUN_REQUEST) == 0x0001);
    CHECK(stun_type(STUN_BINDING, STUN_SUCCESS) == 0x0101);
    CHECK(stun_type(STUN_BINDING, STUN_ERROR) == 0x0111);
    CHECK(stun_type(STUN_ALLOCATE, STUN_REQUEST) == 0x0003);
    CHECK(stun_type(STUN_ALLOCATE, STUN_ERROR) == 0x0113);
    CHECK(stun_type(STUN_REFRESH, STUN_SUCCESS) == 0x0104);
    int bad = 0;
    for (unsigned m = 0; m < 0x1000; m++)
        for (unsigned c = 0; c < 4; c++) {
            uint16_t t = stun_type((enum stun_method)m, (enum stun_class)c);
            bad += (t & 0xC000) || stun_type_method(t) != (enum stun_method)m
                   || stun_type_class(t) != (enum stun_class)c;
        }
    CHECK(bad == 0);
}

static void test_rfc5769(void)
{
    struct stun_msg m;
    const uint8_t *key = (const uint8_t *)short_term_pw;
    size_t klen = strlen(short_term_pw);

    CHECK(stun_decode(&m, rfc5769_request, sizeof rfc5769_request) == NULL);
    CHECK(stun_type_method(m.type) == STUN_BINDING && stun_type_class(m.type) == STUN_REQUEST);
    CHECK(m.integrity_at == 76 && m.fingerprint_at == 100);
    CHECK(stun_check_integrity(&m, key, klen));
    CHECK(!stun_check_integrity(&m, key, klen - 1));
    CHECK(stun_check_fingerprint(&m));

    CHECK(stun_decode(&m, rfc5769_response4, sizeof rfc5769_response4) == NULL);
    CHECK(stun_type_class(m.type) == STUN_SUCCESS);
    CHECK(m.has_mapped && m.mapped.sin_addr.s_addr == htonl(0xC0000201)
          && ntohs(m.mapped.sin_port) == 32853);
    CHECK(stun_check_integrity(&m, key, klen));
    CHECK(stun_check_fingerprint(&m));

    /* one flipped bit anywhere before the checks breaks both */
    uint8_t t[sizeof rfc5769_response4];
    memcpy(t, rfc5769_response4, sizeof t);
    t[30] ^= 0x01;   /* inside SOFTWARE */
    CHECK(stun_decode(&m, t, sizeof t) == NULL);
    CHECK(!stun_check_integrity(&m, key, klen));
    CHECK(!stun_check_fingerprint(&m));

    /* 2.4: rebuilt by the writer with a long-term key, byte for byte */
    static const char user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf"
                               "\xe3\x82\xb9";
    static const char nonce[] = "f//499k954d6OL34oL9FSTvy64sA";
    static const char realm[] = "example.org";
    uint8_t k[STUN_KEY_LEN];
    CHECK(stun_long_term_key(user, (const uint8_t *)realm, strlen(realm), "TheMatrIX", k));
    uint8_t buf[256];
    struct stun_writer w;
    stun_begin(&w, buf, sizeof buf, STUN_BINDING, STUN_REQUEST, rfc5769_long_term + 8);
    stun_put(&w, STUN_A_USERNAME, user, strlen(user));
    stun_put(&w, STUN_A_NONCE, nonce, strlen(nonce));
    stun_put(&w, STUN_A_REALM, realm, strlen(realm));
    stun_put_integrity(&w, k, sizeof k);
    size_t n = stun_end(&w);
    CHECK(n == sizeof rfc5769_long_term);
    CHECK(n == sizeof rfc5769_long_term && !memcmp(buf, rfc5769_long_term, n));
    CHECK(stun_decode(&m, rfc5769_long_term, sizeof rfc5769_long_term) == NULL);
    CHECK(stun_check_integrity(&m, k, sizeof k));
    CHECK(m.realm_len == 11 && !memcmp(m.realm, realm, 11));
    CHECK(m.nonce_len == 28 && !memcmp(m.nonce, nonce, 28));
    CHECK(stun_check_fingerprint(&m));   /* it has none */
}

static void test_decode_refusals(void)
{
    struct stun_msg m;
    uint8_t b[64];
    memcpy(b, rfc5769_response4, 64);
    CHECK(stun_decode(&m, b, 19) != NULL);
    CHECK(stun_decode(&m, rfc5769_response4, sizeof rfc5769_response4 - 4) != NULL);
    b[0] = 0x80;
    CHECK(stun_decode(&m, b, 20) != NULL);   /* first bits */
    memcpy(b, rfc5769_response4, 20);
    b[2] = 0;
    b[3] = 0;
    CHECK(stun_decode(&m, b, 20) == NULL);   /* a bare header is a message */
    b[4] = 0;
    CHECK(stun_decode(&m, b, 20) != NULL);   /* RFC 3489, no cookie */
    memcpy(b, rfc5769_response4, 20);
    b[3] = 8;                                /* an attribute claiming 12 bytes in 8 */
    b[20] = 0x00; b[21] = 0x15; b[22] = 0x00; b[23] = 0x0c;
    CHECK(stun_decode(&m, b, 28) != NULL);
    b[23] = 0x02;                            /* 2 bytes, padded to 4: fits */
    CHECK(stun_decode(&m, b, 28) == NULL && m.nonce_len == 2);
    b[21] = 0x09;                            /* ERROR-CODE of 2 bytes */
    CHECK(stun_decode(&m, b, 28) != NULL);
}

/* ---- random messages, built and read back -------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static void rnd_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

static void test_roundtrip(void)
{
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        uint8_t buf[STUN_MAX_MSG], tid[STUN_TID_LEN], realm[200], nonce[200], key[16];
        rnd_bytes(tid, sizeof tid);
        rnd_bytes(realm, sizeof realm);
        rnd_bytes(nonce, sizeof nonce);
        rnd_bytes(key, sizeof key);
        size_t rl = rnd() % sizeof realm, nl = rnd() % sizeof nonce;
        int code = 300 + (int)(rnd() % 400);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = (uint16_t)rnd(),
                                 .sin_addr.s_addr = rnd() };
        uint8_t xa[8] = { 0, 1 };
        uint16_t xp = ntohs(a.sin_port) ^ 0x2112;
        uint32_t xi = ntohl(a.sin_addr.s_addr) ^ STUN_COOKIE;
        xa[2] = (uint8_t)(xp >> 8); xa[3] = (uint8_t)xp;
        xa[4] = (uint8_t)(xi >> 24); xa[5] = (uint8_t)(xi >> 16);
        xa[6] = (uint8_t)(xi >> 8); xa[7] = (uint8_t)xi;
        uint8_t ec[4] = { 0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100) };

        struct stun_writer w;
        stun_begin(&w, buf, sizeof buf, STUN_ALLOCATE, STUN_ERROR, tid);
        stun_put(&w, STUN_A_REALM, realm, rl);
        stun_put(&w, 0x7F00 + (uint16_t)(rnd() % 16), nonce, rnd() % 40);   /* unknown */
        stun_put(&w, STUN_A_ERROR_CODE, ec, sizeof ec);
        stun_put(&w, STUN_A_NONCE, nonce, nl);
        stun_put(&w, STUN_A_XOR_MAPPED_ADDRESS, xa, sizeof xa);
        stun_put_integrity(&w, key, sizeof key);
        stun_put(&w, STUN_A_REALM, "ignored", 7);   /* after MESSAGE-INTEGRITY */
        stun_put_fingerprint(&w);
        size_t n = stun_end(&w);
        struct stun_msg m;
        if (!n || stun_decode(&m, buf, n)) {
            bad++;
            continue;
        }
        bad += m.error_code != code || m.realm_len != rl || memcmp(m.realm, realm, rl)
               || m.nonce_len != nl || memcmp(m.nonce, nonce, nl) || !m.has_mapped
               || m.mapped.sin_addr.s_addr != a.sin_addr.s_addr
               || m.mapped.sin_port != a.sin_port || memcmp(m.tid, tid, sizeof tid)
               || !stun_check_integrity(&m, key, sizeof key) || !stun_check_fingerprint(&m)
               || stun_type_class(m.type) != STUN_ERROR;
    }
    CHECK(bad == 0);

    /* a writer that runs out of room says so instead of writing past */
    uint8_t small[40], tid[STUN_TID_LEN] = { 0 };
    memset(small, 0xAA, sizeof small);
    struct stun_writer w;
    stun_begin(&w, small, 32, STUN_BINDING, STUN_REQUEST, tid);
    stun_put(&w, STUN_A_SOFTWARE, "0123456789", 10);
    CHECK(w.overflow && stun_end(&w) == 0);
    CHECK(small[32] == 0xAA && small[39] == 0xAA);
    stun_begin(&w, small, 10, STUN_BINDING, STUN_REQUEST, tid);
    CHECK(stun_end(&w) == 0);
}

/* ---- probes against a server played by the test -------------------------- */

struct fake_turn {
    const char *user, *password, *realm, *nonce;
    uint8_t key[STUN_KEY_LEN];
    int allocations, releases;
};

/* The server's answer to REQ into OUT: 401 without credentials, 401 for
 * a wrong MESSAGE-INTEGRITY, 438 when the nonce differs, else success. */
static size_t fake_turn_answer(struct fake_turn *s, const uint8_t *req, size_t len, uint8_t *out)
{
    struct stun_msg m;
    struct stun_writer w;
    if (stun_decode(&m, req, len) || stun_type_class(m.type) != STUN_REQUEST
        || !stun_check_fingerprint(&m))
        return 0;
    enum stun_method meth = stun_type_method(m.type);
    int err = 0;
    if (!m.integrity_at)
        err = 401;
    else if (!m.nonce || m.nonce_len != strlen(s->nonce) || memcmp(m.nonce, s->nonce, m.nonce_len))
        err = 438;
    else if (!stun_check_integrity(&m, s->key, sizeof s->key))
        err = 401;
    if (err) {
        uint8_t ec[4] = { 0, 0, (uint8_t)(err / 100), (uint8_t)(err % 100) };
        stun_begin(&w, out, STUN_MAX_MSG, meth, STUN_ERROR, m.tid);
        stun_put(&w, STUN_A_ERROR_CODE, ec, sizeof ec);
        stun_put(&w, STUN_A_REALM, s->realm, strlen(s->realm));
        stun_put(&w, STUN_A_NONCE, s->nonce, strlen(s->nonce));
        stun_put_fingerprint(&w);
        return stun_end(&w);
    }
    uint8_t xa[8] = { 0, 1, 0x21 ^ 0xC3, 0x12 ^ 0x50, 0x21 ^ 198, 0x12 ^ 51, 0xa4 ^ 100,
                      0x42 ^ 7 };   /* 198.51.100.7:50000 */
    stun_begin(&w, out, STUN_MAX_MSG, meth, STUN_SUCCESS, m.tid);
    if (meth == STUN_ALLOCATE) {
        s->allocations++;
        stun_put(&w, STUN_A_XOR_RELAYED_ADDRESS, xa, sizeof xa);
        stun_put(&w, STUN_A_XOR_MAPPED_ADDRESS, xa, sizeof xa);
    } else if (meth == STUN_REFRESH && m.has_lifetime && m.lifetime == 0) {
        s->releases++;
    }
    stun_put_u32(&w, STUN_A_LIFETIME, meth == STUN_ALLOCATE ? 600 : 0);
    stun_put_integrity(&w, s->key, sizeof s->key);
    stun_put_fingerprint(&w);
    return stun_end(&w);
}

static void tid_n(uint8_t tid[STUN_TID_LEN], int n)
{
    memset(tid, 0x5A, STUN_TID_LEN);
    tid[0] = (uint8_t)n;
}

/* Runs probe P against S to its end (at most 8 exchanges); returns the
 * number of requests sent. */
static int run_probe(struct stun_probe *p, struct fake_turn *s)
{
    uint8_t ans[STUN_MAX_MSG], tid[STUN_TID_LEN];
    int sent = 0;
    for (int i = 0; i < 8 && p->state == STUN_PROBE_PENDING; i++) {
        sent++;
        size_t n = fake_turn_answer(s, p->req, p->req_len, ans);
        tid_n(tid, i + 1);
        enum stun_step st = stun_probe_input(p, ans, n, tid);
        if (st == STUN_STEP_IGNORED)
            break;
    }
    if (p->state == STUN_PROBE_OK && p->release_len) {
        size_t n = fake_turn_answer(s, p->release, p->release_len, ans);
        CHECK(n > 0);
    }
    return sent;
}

static void test_probe_turn(void)
{
    struct fake_turn s = { .user = "test", .password = "testpw", .realm = "evio.test",
                           .nonce = "0123abcd" };
    CHECK(stun_long_term_key(s.user, (const uint8_t *)s.realm, strlen(s.realm), s.password,
                             s.key));
    uint8_t tid[STUN_TID_LEN];
    tid_n(tid, 0);

    /* right password: 401, then granted and released at once */
    struct stun_probe *p = calloc(1, sizeof *p);
    stun_probe_begin(p, true, "test", "testpw", tid);
    struct stun_msg m;
    CHECK(stun_decode(&m, p->req, p->req_len) == NULL && !m.integrity_at
          && stun_type_method(m.type) == STUN_ALLOCATE);
    CHECK(run_probe(p, &s) == 2);
    CHECK(p->state == STUN_PROBE_OK && p->answered);
    CHECK(p->has_relayed && p->relayed.sin_addr.s_addr == inet_addr("198.51.100.7")
          && ntohs(p->relayed.sin_port) == 50000);
    CHECK(p->has_mapped);
    CHECK(s.allocations == 1 && s.releases == 1);
    CHECK(stun_decode(&m, p->release, p->release_len) == NULL
          && stun_type_method(m.type) == STUN_REFRESH && m.has_lifetime && m.lifetime == 0);
    uint8_t zero[STUN_KEY_LEN] = { 0 };
    CHECK(p->keyed && memcmp(p->key, zero, sizeof zero));
    stun_probe_clear(p);
    CHECK(!p->keyed && !memcmp(p->key, zero, sizeof zero) && !p->password);

    /* wrong password: the second 401 is the verdict, named */
    s.allocations = s.releases = 0;
    stun_probe_begin(p, true, "test", "wrong", tid);
    CHECK(run_probe(p, &s) == 2);
    CHECK(p->state == STUN_PROBE_FAILED && p->answered);
    CHECK_STR(p->error, "401 Unauthorized");
    CHECK(s.allocations == 0 && p->release_len == 0);

    /* a stale nonce: once more with the new one */
    stun_probe_begin(p, true, "test", "testpw", tid);
    size_t n;
    uint8_t ans[STUN_MAX_MSG];
    n = fake_turn_answer(&s, p->req, p->req_len, ans);
    tid_n(tid, 1);
    CHECK(stun_probe_input(p, ans, n, tid) == STUN_STEP_SEND);
    s.nonce = "fresh-nonce";
    n = fake_turn_answer(&s, p->req, p->req_len, ans);   /* 438 */
    CHECK(stun_decode(&m, ans, n) == NULL && m.error_code == 438);
    tid_n(tid, 2);
    CHECK(stun_probe_input(p, ans, n, tid) == STUN_STEP_SEND);
    CHECK(stun_decode(&m, p->req, p->req_len) == NULL && m.nonce_len == strlen("fresh-nonce"));
    CHECK(stun_check_integrity(&m, s.key, sizeof s.key));
    n = fake_turn_answer(&s, p->req, p->req_len, ans);
    tid_n(tid, 3);
    CHECK(stun_probe_input(p, ans, n, tid) == STUN_STEP_DONE && p->state == STUN_PROBE_OK);

    /* answers that are not to the request in flight are ignored */
    stun_probe_begin(p, true, "test", "testpw", tid);
    n = fake_turn_answer(&s, p->req, p->req_len, ans);
    ans[10] ^= 1;   /* another transaction */
    CHECK(stun_probe_input(p, ans, n, tid) == STUN_STEP_IGNORED && !p->answered);
    ans[10] ^= 1;
    CHECK(stun_probe_input(p, ans, n - 8, tid) == STUN_STEP_IGNORED);   /* truncated */
    tid_n(tid, 4);
    CHECK(stun_probe_input(p, ans, n, tid) == STUN_STEP_SEND);
    /* a success that does not verify under our key: forged, ignored */
    struct fake_turn forger = s;
    memset(forger.key, 0x11, sizeof forger.key);
    forger.nonce = s.nonce;
    uint8_t req2[STUN_MAX_MSG];
    memcpy(req2, p->req, p->req_len);
    struct stun_msg rm;
    CHECK(stun_decode(&rm, req2, p->req_len) == NULL);
    struct stun_writer w;
    stun_begin(&w, ans, sizeof ans, STUN_ALLOCATE, STUN_SUCCESS, rm.tid);
    stun_put_integrity(&w, forger.key, sizeof forger.key);
    n = stun_end(&w);
    CHECK(stun_probe_input(p, ans, n, tid) == STUN_STEP_IGNORED && p->state == STUN_PROBE_PENDING);

    /* stale nonces without end: a verdict after STUN_PROBE_AUTH_ROUNDS */
    stun_probe_begin(p, true, "test", "testpw", tid);
    int rounds = 0;
    for (int i = 0; i < 10 && p->state == STUN_PROBE_PENDING; i++) {
        char nonce[16];
        snprintf(nonce, sizeof nonce, "n%d", i);
        s.nonce = nonce;
        n = fake_turn_answer(&s, p->req, p->req_len, ans);
        tid_n(tid, 10 + i);
        stun_probe_input(p, ans, n, tid);
        rounds++;
    }
    CHECK(p->state == STUN_PROBE_FAILED && rounds == STUN_PROBE_AUTH_ROUNDS + 1);
    CHECK_STR(p->error, "438 Stale Nonce");

    /* other errors are named; unknown codes keep the server's phrase */
    stun_probe_begin(p, true, "test", "testpw", tid);
    uint8_t ec[] = { 0, 0, 4, 86 };
    stun_begin(&w, ans, sizeof ans, STUN_ALLOCATE, STUN_ERROR, p->req + 8);
    stun_put(&w, STUN_A_ERROR_CODE, ec, sizeof ec);
    CHECK(stun_probe_input(p, ans, stun_end(&w), tid) == STUN_STEP_DONE);
    CHECK_STR(p->error, "486 Allocation Quota Reached");
    stun_probe_begin(p, true, "test", "testpw", tid);
    uint8_t ec2[] = { 0, 0, 4, 99, 'O', 'd', 'd', '\n', 0xff };
    stun_begin(&w, ans, sizeof ans, STUN_ALLOCATE, STUN_ERROR, p->req + 8);
    stun_put(&w, STUN_A_ERROR_CODE, ec2, sizeof ec2);
    CHECK(stun_probe_input(p, ans, stun_end(&w), tid) == STUN_STEP_DONE);
    CHECK_STR(p->error, "499 Odd??");
    /* a 401 without realm or nonce cannot be answered */
    stun_probe_begin(p, true, "test", "testpw", tid);
    uint8_t ec3[] = { 0, 0, 4, 1 };
    stun_begin(&w, ans, sizeof ans, STUN_ALLOCATE, STUN_ERROR, p->req + 8);
    stun_put(&w, STUN_A_ERROR_CODE, ec3, sizeof ec3);
    CHECK(stun_probe_input(p, ans, stun_end(&w), tid) == STUN_STEP_DONE);
    CHECK_STR(p->error, "401 Unauthorized without realm or nonce");
    stun_probe_clear(p);
    free(p);
}

static void test_probe_binding(void)
{
    struct stun_probe *p = calloc(1, sizeof *p);
    uint8_t tid[STUN_TID_LEN], ans[STUN_MAX_MSG];
    tid_n(tid, 7);
    stun_probe_begin(p, false, NULL, NULL, tid);
    struct stun_msg m;
    CHECK(stun_decode(&m, p->req, p->req_len) == NULL && stun_type(STUN_BINDING, STUN_REQUEST)
          == m.type && m.fingerprint_at && stun_check_fingerprint(&m));
    /* the RFC 5769 IPv4 response, given our transaction ID */
    memcpy(ans, rfc5769_response4, sizeof rfc5769_response4);
    memcpy(ans + 8, p->req + 8, STUN_TID_LEN);
    CHECK(stun_probe_input(p, ans, sizeof rfc5769_response4, tid) == STUN_STEP_IGNORED);
    /* (its FINGERPRINT no longer matched); without it, it is an answer */
    ans[3] -= 8;
    CHECK(stun_probe_input(p, ans, sizeof rfc5769_response4 - 8, tid) == STUN_STEP_DONE);
    CHECK(p->state == STUN_PROBE_OK && p->has_mapped
          && p->mapped.sin_addr.s_addr == inet_addr("192.0.2.1") && p->release_len == 0);
    free(p);
}

/* ---- robustness: random and garbled datagrams ---------------------------- */

static void feed(const uint8_t *d, size_t n, struct stun_probe *p)
{
    struct stun_msg m;
    static const uint8_t key[16] = { 1 };
    uint8_t tid[STUN_TID_LEN] = { 9 };
    if (!stun_decode(&m, d, n)) {
        /* every pointer stays inside the datagram */
        CHECK(!m.realm || (m.realm >= d && m.realm + m.realm_len <= d + n));
        CHECK(!m.nonce || (m.nonce >= d && m.nonce + m.nonce_len <= d + n));
        CHECK(!m.integrity_at || m.integrity_at + 24 <= n);
        CHECK(!m.fingerprint_at || m.fingerprint_at + 8 == n);
        CHECK(strlen(m.reason) < sizeof m.reason);
        stun_check_integrity(&m, key, sizeof key);
        stun_check_fingerprint(&m);
    }
    stun_probe_input(p, d, n, tid);
    if (p->state != STUN_PROBE_PENDING || !p->req_len) {
        CHECK(strlen(p->error) < sizeof p->error);
        stun_probe_begin(p, rnd() & 1, "u", "p", tid);
    }
}

static void test_robustness(void)
{
    struct stun_probe *p = calloc(1, sizeof *p);
    uint8_t tid[STUN_TID_LEN] = { 9 };
    stun_probe_begin(p, true, "u", "p", tid);
    static const uint8_t *const seeds[] = { rfc5769_request, rfc5769_response4,
                                            rfc5769_long_term };
    static const size_t seed_len[] = { sizeof rfc5769_request, sizeof rfc5769_response4,
                                       sizeof rfc5769_long_term };
    uint8_t *buf = malloc(STUN_MAX_MSG + 64);
    int before = check_failed;
    for (int i = 0; i < 200000; i++) {
        size_t n;
        if (i % 3 == 0) {
            n = rnd() % (STUN_MAX_MSG + 64);
            rnd_bytes(buf, n);
            if (n >= 8 && (rnd() & 1)) {   /* plausible headers get further */
                buf[0] &= 0x3F;
                buf[2] = (uint8_t)((n - 20) >> 8);
                buf[3] = (uint8_t)((n - 20) & 0xFC);
                buf[4] = 0x21; buf[5] = 0x12; buf[6] = 0xa4; buf[7] = 0x42;
            }
        } else {
            int s = (int)(rnd() % 3);
            n = seed_len[s];
            memcpy(buf, seeds[s], n);
            memcpy(buf + 8, p->req + 8, STUN_TID_LEN);   /* aimed at the probe */
            for (int k = (int)(rnd() % 6); k >= 0 && n > 0; k--) {
                switch (rnd() % 4) {
                case 0: buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8)); break;
                case 1: buf[rnd() % n] = (uint8_t)rnd(); break;
                case 2: n = n > 1 ? rnd() % n : n; break;
                case 3:   /* an attribute length */
                    if (n > 24) {
                        size_t a = 20 + (rnd() % (n - 24)) / 4 * 4;
                        buf[a + 2] = (uint8_t)rnd();
                        buf[a + 3] = (uint8_t)rnd();
                    }
                    break;
                }
            }
        }
        feed(buf, n, p);
    }
    CHECK(check_failed == before);
    stun_probe_clear(p);
    free(p);
    free(buf);
}

int main(void)
{
    test_types();
    test_rfc5769();
    test_decode_refusals();
    test_roundtrip();
    test_probe_turn();
    test_probe_binding();
    test_robustness();
    return check_report("test_stun");
}
