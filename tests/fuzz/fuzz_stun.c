/* Fuzz target: STUN/TURN messages (tincan/stun.c), fed as datagrams from a
 * STUN or TURN server. The first byte picks one of three checks:
 *   0  stun_decode of raw bytes: an accepted message has its attributes
 *      inside the datagram, FINGERPRINT last, an error code in range and a
 *      printable reason;
 *   1  stun_writer: a message built from random valid attributes (with
 *      MESSAGE-INTEGRITY and FINGERPRINT or not) decodes to what was put
 *      in, and both checks pass;
 *   2  a whole server probe (Binding or TURN Allocate) fed answers built
 *      from the input: right or wrong transaction IDs, 401/438/437/other
 *      errors, realms and nonces of any length, integrity right or wrong;
 *      the probe only moves PENDING -> OK|FAILED, ignores everything after,
 *      never authenticates more than STUN_PROBE_AUTH_ROUNDS times, and
 *      every request and release it asks to send decodes and verifies. */
#include "fuzz.h"

#include "../../tincan/stun.h"

static void check_decoded(const struct stun_msg *m, const uint8_t *buf, size_t len)
{
    FUZZ_ASSERT(len >= STUN_HDR_LEN && len <= STUN_MAX_MSG && len % 4 == 0, "length %zu", len);
    FUZZ_ASSERT(m->buf == buf && m->len == len, "buffer");
    FUZZ_ASSERT(!m->realm || (m->realm >= buf + STUN_HDR_LEN
                              && m->realm + m->realm_len <= buf + len), "realm outside");
    FUZZ_ASSERT(!m->nonce || (m->nonce >= buf + STUN_HDR_LEN
                              && m->nonce + m->nonce_len <= buf + len), "nonce outside");
    FUZZ_ASSERT(!m->integrity_at || (m->integrity_at >= STUN_HDR_LEN
                                     && m->integrity_at + 4 + STUN_HMAC_LEN <= len),
                "MESSAGE-INTEGRITY at %zu of %zu", m->integrity_at, len);
    FUZZ_ASSERT(!m->fingerprint_at || m->fingerprint_at == len - 8,
                "FINGERPRINT at %zu of %zu", m->fingerprint_at, len);
    FUZZ_ASSERT(!m->error_code || (m->error_code >= 300 && m->error_code <= 699), "code %d",
                m->error_code);
    FUZZ_ASSERT(memchr(m->reason, 0, sizeof m->reason), "reason not terminated");
    for (const char *p = m->reason; *p; p++)
        FUZZ_ASSERT(*p >= 0x20 && *p < 0x7f, "unprintable reason");
}

static void check_raw(struct fz *f)
{
    size_t len;
    const uint8_t *buf = fz_bytes(f, f->n, &len);
    struct stun_msg m;
    const char *err = stun_decode(&m, buf, len);
    if (err) {
        FUZZ_ASSERT(*err, "empty error");
        return;
    }
    check_decoded(&m, buf, len);
    uint8_t key[STUN_KEY_LEN] = { 1 };
    (void)stun_check_integrity(&m, key, sizeof key);
    (void)stun_check_fingerprint(&m);
}

/* Writes one valid attribute chosen by the input; returns its type. */
static uint16_t put_attr(struct fz *f, struct stun_writer *w)
{
    uint8_t v[64];
    size_t got;
    const uint8_t *p;
    switch (fz_u8(f) % 6) {
    case 0:
        p = fz_bytes(f, fz_u8(f) % 64, &got);
        memcpy(v, p, got);
        stun_put(w, STUN_A_REALM, v, got);
        return STUN_A_REALM;
    case 1:
        p = fz_bytes(f, fz_u8(f) % 64, &got);
        memcpy(v, p, got);
        stun_put(w, STUN_A_NONCE, v, got);
        return STUN_A_NONCE;
    case 2:
        stun_put_u32(w, STUN_A_LIFETIME, fz_u32(f));
        return STUN_A_LIFETIME;
    case 3: {
        uint8_t a[8] = { 0, 1 };
        uint16_t type = fz_bool(f) ? STUN_A_XOR_MAPPED_ADDRESS : STUN_A_XOR_RELAYED_ADDRESS;
        p = fz_bytes(f, 6, &got);
        memcpy(a + 2, p, got);
        stun_put(w, type, a, sizeof a);
        return type;
    }
    case 4: {
        uint8_t e[4 + 32] = { 0 };
        e[2] = (uint8_t)(3 + fz_u8(f) % 4);
        e[3] = (uint8_t)(fz_u8(f) % 100);
        p = fz_bytes(f, fz_u8(f) % 32, &got);
        memcpy(e + 4, p, got);
        stun_put(w, STUN_A_ERROR_CODE, e, 4 + got);
        return STUN_A_ERROR_CODE;
    }
    default: {   /* comprehension-optional or unknown */
        uint16_t type = (uint16_t)(0x8000 | fz_u8(f));
        if (type == STUN_A_FINGERPRINT)
            type = STUN_A_SOFTWARE;
        p = fz_bytes(f, fz_u8(f) % 64, &got);
        memcpy(v, p, got);
        stun_put(w, type, v, got);
        return type;
    }
    }
}

static void check_writer(struct fz *f)
{
    uint8_t buf[STUN_MAX_MSG], tid[STUN_TID_LEN], key[STUN_KEY_LEN];
    size_t got;
    const uint8_t *t = fz_bytes(f, STUN_TID_LEN, &got);
    memcpy(tid, t, got);
    memset(tid + got, 0, STUN_TID_LEN - got);
    memset(key, fz_u8(f), sizeof key);
    size_t cap = STUN_HDR_LEN + fz_u16(f) % STUN_MAX_MSG;
    enum stun_method method = (enum stun_method)(1 + fz_u8(f) % 4);
    enum stun_class cls = (enum stun_class)(fz_u8(f) % 4);
    struct stun_writer w;
    stun_begin(&w, buf, cap, method, cls, tid);
    int n_attrs = fz_u8(f) % 24;
    for (int i = 0; i < n_attrs; i++)
        put_attr(f, &w);
    bool integrity = fz_bool(f), fingerprint = fz_bool(f);
    if (integrity)
        stun_put_integrity(&w, key, sizeof key);
    if (fingerprint)
        stun_put_fingerprint(&w);
    size_t len = stun_end(&w);
    FUZZ_ASSERT(len <= cap, "wrote %zu into %zu", len, cap);
    if (!len) {
        FUZZ_ASSERT(w.overflow, "no message without overflow");
        return;
    }
    uint8_t *exact = malloc(len);
    FUZZ_ASSERT(exact, "out of memory");
    memcpy(exact, buf, len);
    struct stun_msg m;
    const char *err = stun_decode(&m, exact, len);
    FUZZ_ASSERT(!err, "built message does not decode: %s", err);
    check_decoded(&m, exact, len);
    FUZZ_ASSERT(m.type == stun_type(method, cls) && stun_type_method(m.type) == method
                && stun_type_class(m.type) == cls, "type %04x", m.type);
    FUZZ_ASSERT(!memcmp(m.tid, tid, STUN_TID_LEN), "transaction id");
    FUZZ_ASSERT(!integrity || stun_check_integrity(&m, key, sizeof key), "integrity");
    FUZZ_ASSERT(!!m.integrity_at == integrity && !!m.fingerprint_at == fingerprint,
                "integrity at %zu, fingerprint at %zu", m.integrity_at, m.fingerprint_at);
    FUZZ_ASSERT(stun_check_fingerprint(&m), "fingerprint");
    if (integrity) {
        uint8_t other[STUN_KEY_LEN];
        memcpy(other, key, sizeof key);
        other[0] ^= 1;
        FUZZ_ASSERT(!stun_check_integrity(&m, other, sizeof other), "integrity under another key");
    }
    if (fingerprint && len > STUN_HDR_LEN + 8) {
        exact[STUN_HDR_LEN] ^= 0x40;   /* the first attribute's type */
        if (!stun_decode(&m, exact, len))
            FUZZ_ASSERT(!stun_check_fingerprint(&m), "fingerprint survived a change");
    }
    free(exact);
}

/* One answer to P's request in flight, built from the input. */
static size_t make_answer(struct fz *f, const struct stun_probe *p, uint8_t *buf, size_t cap)
{
    uint8_t tid[STUN_TID_LEN];
    memcpy(tid, p->req + 8, STUN_TID_LEN);
    uint8_t flags = fz_u8(f);
    if (flags & 1)
        tid[fz_u8(f) % STUN_TID_LEN] ^= 1;   /* someone else's transaction */
    enum stun_method method = p->turn ? STUN_ALLOCATE : STUN_BINDING;
    if (flags & 2)
        method = (enum stun_method)(1 + fz_u8(f) % 4);
    enum stun_class cls = flags & 4 ? STUN_ERROR : STUN_SUCCESS;
    if ((flags & 0x18) == 0x18)
        cls = (enum stun_class)(fz_u8(f) % 4);
    struct stun_writer w;
    stun_begin(&w, buf, cap, method, cls, tid);
    if (cls == STUN_ERROR) {
        static const uint16_t codes[] = { 401, 438, 437, 300, 420, 486, 508, 699 };
        uint16_t code = codes[fz_u8(f) % 8];
        uint8_t e[4 + 16] = { 0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100) };
        size_t got;
        const uint8_t *r = fz_bytes(f, fz_u8(f) % 16, &got);
        memcpy(e + 4, r, got);
        stun_put(&w, STUN_A_ERROR_CODE, e, 4 + got);
    }
    if (flags & 0x20) {   /* realm of 0..300 bytes: a probe takes 255 at most */
        size_t n = fz_u8(f) % 4 == 0 ? 256 + fz_u8(f) % 45 : fz_u8(f) % 40;
        uint8_t r[300];
        memset(r, 'r', n);
        stun_put(&w, STUN_A_REALM, r, n);
    }
    if (flags & 0x40) {
        size_t n = fz_u8(f) % 4 == 0 ? 256 + fz_u8(f) % 45 : fz_u8(f) % 40;
        uint8_t r[300];
        memset(r, fz_u8(f), n);
        stun_put(&w, STUN_A_NONCE, r, n);
    }
    uint8_t more = fz_u8(f);
    if (more & 1) {
        uint8_t a[8] = { 0, 1, 0x12, 0x34, 10, 0, 0, 1 };
        stun_put(&w, STUN_A_XOR_MAPPED_ADDRESS, a, sizeof a);
    }
    if (more & 2) {
        uint8_t a[8] = { 0, 1, 0x56, 0x78, 10, 0, 0, 2 };
        stun_put(&w, STUN_A_XOR_RELAYED_ADDRESS, a, sizeof a);
    }
    if (more & 4)
        stun_put_u32(&w, STUN_A_LIFETIME, 600);
    if (more & 8) {   /* integrity under the probe's key, or a wrong one */
        uint8_t key[STUN_KEY_LEN];
        memcpy(key, p->key, sizeof key);
        if (more & 16)
            key[0] ^= 1;
        stun_put_integrity(&w, key, sizeof key);
    }
    if (!(more & 32))
        stun_put_fingerprint(&w);
    size_t len = stun_end(&w);
    if (more & 64 && len) {   /* a byte changed afterwards */
        size_t at = fz_u16(f) % len;
        buf[at] ^= (uint8_t)(fz_u8(f) | 1);
    }
    return len;
}

static void check_sent(const struct stun_probe *p, const uint8_t *msg, size_t len,
                       enum stun_method method)
{
    struct stun_msg m;
    FUZZ_ASSERT(len >= STUN_HDR_LEN && len <= STUN_MAX_MSG, "request of %zu", len);
    const char *err = stun_decode(&m, msg, len);
    FUZZ_ASSERT(!err, "our own request does not decode: %s", err);
    FUZZ_ASSERT(stun_type_method(m.type) == method && stun_type_class(m.type) == STUN_REQUEST,
                "request type %04x", m.type);
    FUZZ_ASSERT(m.fingerprint_at && stun_check_fingerprint(&m), "request fingerprint");
    FUZZ_ASSERT(!p->keyed || stun_check_integrity(&m, p->key, sizeof p->key),
                "request integrity");
}

static void check_probe(struct fz *f)
{
    static struct stun_probe p;
    uint8_t tid[STUN_TID_LEN] = { 0 }, buf[STUN_MAX_MSG + 64];
    uint8_t mode = fz_u8(f);
    bool turn = mode & 1;
    const char *user = mode & 2 ? NULL : "test", *password = mode & 4 ? NULL : "testpw";
    if (mode & 8)
        user = "a-user-name-that-is-rather-long-but-still-well-under-the-limit";
    stun_probe_begin(&p, turn, user, password, tid);
    enum stun_method method = turn ? STUN_ALLOCATE : STUN_BINDING;
    check_sent(&p, p.req, p.req_len, method);

    for (int round = 1; f->n && round < 64; round++) {
        enum stun_probe_state before = p.state;
        size_t len;
        const uint8_t *raw = NULL;
        if (fz_u8(f) % 8 == 0) {
            raw = fz_bytes(f, fz_u8(f), &len);
            memcpy(buf, raw, len);
        } else {
            len = make_answer(f, &p, buf, sizeof buf);
        }
        uint8_t *exact = malloc(len ? len : 1);
        FUZZ_ASSERT(exact, "out of memory");
        memcpy(exact, buf, len);
        memset(tid, 0, sizeof tid);
        tid[0] = (uint8_t)round;
        enum stun_step step = stun_probe_input(&p, exact, len, tid);
        free(exact);

        FUZZ_ASSERT(memchr(p.error, 0, sizeof p.error), "error not terminated");
        FUZZ_ASSERT(p.auth_rounds <= STUN_PROBE_AUTH_ROUNDS, "%d auth rounds", p.auth_rounds);
        if (before != STUN_PROBE_PENDING)
            FUZZ_ASSERT(step == STUN_STEP_IGNORED && p.state == before, "a finished probe moved");
        switch (step) {
        case STUN_STEP_IGNORED:
            FUZZ_ASSERT(p.state == before, "ignored but moved");
            break;
        case STUN_STEP_SEND:
            FUZZ_ASSERT(turn && p.state == STUN_PROBE_PENDING && p.keyed, "send in state %s",
                        stun_probe_state_name(p.state));
            FUZZ_ASSERT(!memcmp(p.req + 8, tid, STUN_TID_LEN), "next request's transaction");
            check_sent(&p, p.req, p.req_len, method);
            break;
        case STUN_STEP_DONE:
            FUZZ_ASSERT(p.answered && p.state != STUN_PROBE_PENDING && !p.req_len,
                        "done in state %s", stun_probe_state_name(p.state));
            if (p.state == STUN_PROBE_FAILED)
                FUZZ_ASSERT(*p.error, "failed without saying why");
            if (p.state == STUN_PROBE_OK && p.release_len)
                check_sent(&p, p.release, p.release_len, STUN_REFRESH);
            break;
        default:
            FUZZ_ASSERT(0, "step %d", (int)step);
        }
    }
    stun_probe_clear(&p);
    FUZZ_ASSERT(!p.keyed && !p.user && !p.password, "clear left credentials");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    switch (fz_u8(&f) % 3) {
    case 0: check_raw(&f); break;
    case 1: check_writer(&f); break;
    default: check_probe(&f); break;
    }
    return 0;
}
