/* STUN/TURN messages and one server probe (see stun.h). Pure: every read is
 * bounded by the datagram's length, every write by the buffer's. */
#include "stun.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define STUN_FINGERPRINT_XOR 0x5354554eu
#define STUN_ATTR_HDR 4
#define STUN_TRANSPORT_UDP (17u << 24)   /* REQUESTED-TRANSPORT: protocol, RFFU */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

uint16_t stun_type(enum stun_method m, enum stun_class c)
{
    unsigned v = (unsigned)m, k = (unsigned)c;
    return (uint16_t)((v & 0x000F) | (v & 0x0070) << 1 | (v & 0x0F80) << 2 | (k & 1) << 4
                      | (k & 2) << 7);
}

enum stun_method stun_type_method(uint16_t t)
{
    return (enum stun_method)((t & 0x000F) | (t & 0x00E0) >> 1 | (t & 0x3E00) >> 2);
}

enum stun_class stun_type_class(uint16_t t)
{
    return (enum stun_class)((t >> 4 & 1) | (t >> 7 & 2));
}

/* CRC-32 (ISO-HDLC, as zlib's) for FINGERPRINT: messages are short and rare
 * here, so bitwise is fast enough. */
static uint32_t stun_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = crc >> 1 ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* ---- decoding ----------------------------------------------------------- */

/* An IPv4 (XOR-)MAPPED-ADDRESS style value; false for IPv6 or malformed. */
static bool stun_get_addr(const uint8_t *v, size_t n, bool xored, struct sockaddr_in *out)
{
    if (n != 8 || v[1] != 0x01)
        return false;
    uint16_t port = get16(v + 2);
    uint32_t ip = get32(v + 4);
    if (xored) {
        port ^= (uint16_t)(STUN_COOKIE >> 16);
        ip ^= STUN_COOKIE;
    }
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons(port);
    out->sin_addr.s_addr = htonl(ip);
    return true;
}

const char *stun_decode(struct stun_msg *m, const uint8_t *buf, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len < STUN_HDR_LEN)
        return "shorter than a STUN header";
    if (buf[0] & 0xC0)
        return "not STUN (first two bits set)";
    size_t body = get16(buf + 2);
    if (body % 4)
        return "length not a multiple of 4";
    if (STUN_HDR_LEN + body != len)
        return "length field does not match the datagram";
    if (get32(buf + 4) != STUN_COOKIE)
        return "no magic cookie";
    if (len > STUN_MAX_MSG)
        return "longer than any message expected";
    m->buf = buf;
    m->len = len;
    m->type = get16(buf);
    memcpy(m->tid, buf + 8, STUN_TID_LEN);

    bool xor_mapped = false;
    size_t off = STUN_HDR_LEN;
    while (off < len) {
        if (len - off < STUN_ATTR_HDR)
            return "truncated attribute header";
        uint16_t type = get16(buf + off);
        size_t n = get16(buf + off + 2);
        if (pad4(n) > len - off - STUN_ATTR_HDR)
            return "attribute longer than the message";
        const uint8_t *v = buf + off + STUN_ATTR_HDR;
        if (m->fingerprint_at)
            return "attribute after FINGERPRINT";
        if (type == STUN_A_FINGERPRINT) {
            if (n != 4)
                return "FINGERPRINT of a wrong length";
            m->fingerprint_at = off;
        } else if (m->integrity_at) {
            /* only FINGERPRINT counts after MESSAGE-INTEGRITY */
        } else {
            switch (type) {
            case STUN_A_MESSAGE_INTEGRITY:
                if (n != STUN_HMAC_LEN)
                    return "MESSAGE-INTEGRITY of a wrong length";
                m->integrity_at = off;
                break;
            case STUN_A_ERROR_CODE: {
                if (m->error_code)
                    break;
                if (n < 4)
                    return "ERROR-CODE too short";
                int cls = v[2] & 7, num = v[3];
                if (cls < 3 || cls > 6 || num > 99)
                    return "ERROR-CODE out of range";
                m->error_code = cls * 100 + num;
                size_t k = 0;
                for (size_t i = 4; i < n && k + 1 < sizeof m->reason; i++)
                    m->reason[k++] = v[i] >= 0x20 && v[i] < 0x7F ? (char)v[i] : '?';
                m->reason[k] = '\0';
                break;
            }
            case STUN_A_REALM:
                if (!m->realm) {
                    m->realm = v;
                    m->realm_len = n;
                }
                break;
            case STUN_A_NONCE:
                if (!m->nonce) {
                    m->nonce = v;
                    m->nonce_len = n;
                }
                break;
            case STUN_A_XOR_MAPPED_ADDRESS:
                if (!xor_mapped && stun_get_addr(v, n, true, &m->mapped))
                    m->has_mapped = xor_mapped = true;
                break;
            case STUN_A_MAPPED_ADDRESS:
                if (!m->has_mapped)
                    m->has_mapped = stun_get_addr(v, n, false, &m->mapped);
                break;
            case STUN_A_XOR_RELAYED_ADDRESS:
                if (!m->has_relayed)
                    m->has_relayed = stun_get_addr(v, n, true, &m->relayed);
                break;
            case STUN_A_LIFETIME:
                if (n != 4)
                    return "LIFETIME of a wrong length";
                if (!m->has_lifetime) {
                    m->lifetime = get32(v);
                    m->has_lifetime = true;
                }
                break;
            default:
                break;   /* unknown ones do not matter to a probe */
            }
        }
        off += STUN_ATTR_HDR + pad4(n);
    }
    return NULL;
}

/* HMAC-SHA1 of BUF[0..N) as if its length field said BODY, into MAC. */
static bool stun_hmac(const uint8_t *buf, size_t n, size_t body, const uint8_t *key,
                      size_t key_len, uint8_t mac[STUN_HMAC_LEN])
{
    uint8_t tmp[STUN_MAX_MSG];
    if (n > sizeof tmp || n < STUN_HDR_LEN)
        return false;
    memcpy(tmp, buf, n);
    put16(tmp + 2, (uint16_t)body);
    unsigned int out = 0;
    return HMAC(EVP_sha1(), key, (int)key_len, tmp, n, mac, &out) && out == STUN_HMAC_LEN;
}

bool stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
    uint8_t mac[STUN_HMAC_LEN];
    size_t at = m->integrity_at;
    if (!at)
        return false;
    if (!stun_hmac(m->buf, at, at - STUN_HDR_LEN + STUN_ATTR_HDR + STUN_HMAC_LEN, key, key_len,
                   mac))
        return false;
    return CRYPTO_memcmp(mac, m->buf + at + STUN_ATTR_HDR, STUN_HMAC_LEN) == 0;
}

/* The FINGERPRINT value of BUF[0..N) as if its length field said BODY. */
static uint32_t stun_fingerprint(const uint8_t *buf, size_t n, size_t body)
{
    uint8_t tmp[STUN_MAX_MSG];
    if (n > sizeof tmp || n < STUN_HDR_LEN)
        return 0;
    memcpy(tmp, buf, n);
    put16(tmp + 2, (uint16_t)body);
    return stun_crc32(tmp, n) ^ STUN_FINGERPRINT_XOR;
}

bool stun_check_fingerprint(const struct stun_msg *m)
{
    size_t at = m->fingerprint_at;
    if (!at)
        return true;
    return stun_fingerprint(m->buf, at, at - STUN_HDR_LEN + STUN_ATTR_HDR + 4)
           == get32(m->buf + at + STUN_ATTR_HDR);
}

bool stun_long_term_key(const char *user, const uint8_t *realm, size_t realm_len,
                        const char *password, uint8_t key[STUN_KEY_LEN])
{
    size_t ul = strlen(user), pl = strlen(password);
    size_t n = ul + 1 + realm_len + 1 + pl;
    uint8_t *in = malloc(n);
    if (!in)
        return false;
    memcpy(in, user, ul);
    in[ul] = ':';
    memcpy(in + ul + 1, realm, realm_len);
    in[ul + 1 + realm_len] = ':';
    memcpy(in + ul + 2 + realm_len, password, pl);
    unsigned int out = 0;
    bool ok = EVP_Digest(in, n, key, &out, EVP_md5(), NULL) && out == STUN_KEY_LEN;
    OPENSSL_cleanse(in, n);
    free(in);
    if (!ok)
        OPENSSL_cleanse(key, STUN_KEY_LEN);
    return ok;
}

const char *stun_error_name(int code)
{
    switch (code) {
    case 300: return "Try Alternate";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 405: return "Mobility Forbidden";
    case 420: return "Unknown Attribute";
    case 437: return "Allocation Mismatch";
    case 438: return "Stale Nonce";
    case 440: return "Address Family not Supported";
    case 441: return "Wrong Credentials";
    case 442: return "Unsupported Transport Protocol";
    case 443: return "Peer Address Family Mismatch";
    case 486: return "Allocation Quota Reached";
    case 487: return "Role Conflict";
    case 500: return "Server Error";
    case 508: return "Insufficient Capacity";
    }
    return NULL;
}

/* ---- encoding ----------------------------------------------------------- */

static void stun_set_body(struct stun_writer *w, size_t body)
{
    put16(w->buf + 2, (uint16_t)body);
}

void stun_begin(struct stun_writer *w, uint8_t *buf, size_t cap, enum stun_method m,
                enum stun_class c, const uint8_t tid[STUN_TID_LEN])
{
    w->buf = buf;
    w->cap = cap < STUN_MAX_MSG ? cap : STUN_MAX_MSG;
    w->len = 0;
    w->overflow = w->cap < STUN_HDR_LEN;
    if (w->overflow)
        return;
    put16(buf, stun_type(m, c));
    put16(buf + 2, 0);
    put32(buf + 4, STUN_COOKIE);
    memcpy(buf + 8, tid, STUN_TID_LEN);
    w->len = STUN_HDR_LEN;
}

/* Room for an attribute of N value bytes? Sets OVERFLOW if not. */
static bool stun_room(struct stun_writer *w, size_t n)
{
    if (w->overflow || n > 0xFFFF || w->cap - w->len < STUN_ATTR_HDR + pad4(n))
        w->overflow = true;
    return !w->overflow;
}

void stun_put(struct stun_writer *w, uint16_t type, const void *value, size_t n)
{
    if (!stun_room(w, n))
        return;
    uint8_t *p = w->buf + w->len;
    put16(p, type);
    put16(p + 2, (uint16_t)n);
    if (n)
        memcpy(p + STUN_ATTR_HDR, value, n);
    memset(p + STUN_ATTR_HDR + n, 0, pad4(n) - n);
    w->len += STUN_ATTR_HDR + pad4(n);
    stun_set_body(w, w->len - STUN_HDR_LEN);
}

void stun_put_u32(struct stun_writer *w, uint16_t type, uint32_t value)
{
    uint8_t v[4];
    put32(v, value);
    stun_put(w, type, v, sizeof v);
}

void stun_put_integrity(struct stun_writer *w, const uint8_t *key, size_t key_len)
{
    uint8_t mac[STUN_HMAC_LEN];
    if (!stun_room(w, STUN_HMAC_LEN))
        return;
    if (!stun_hmac(w->buf, w->len, w->len - STUN_HDR_LEN + STUN_ATTR_HDR + STUN_HMAC_LEN, key,
                   key_len, mac)) {
        w->overflow = true;
        return;
    }
    stun_put(w, STUN_A_MESSAGE_INTEGRITY, mac, sizeof mac);
}

void stun_put_fingerprint(struct stun_writer *w)
{
    if (!stun_room(w, 4))
        return;
    stun_put_u32(w, STUN_A_FINGERPRINT,
                 stun_fingerprint(w->buf, w->len, w->len - STUN_HDR_LEN + STUN_ATTR_HDR + 4));
}

size_t stun_end(const struct stun_writer *w)
{
    return w->overflow ? 0 : w->len;
}

/* ---- one probe ---------------------------------------------------------- */

const char *stun_probe_state_name(enum stun_probe_state s)
{
    switch (s) {
#define STUN_PROBE_NAME(name, str) case STUN_PROBE_##name: return str;
    STUN_PROBE_STATES(STUN_PROBE_NAME)
#undef STUN_PROBE_NAME
    }
    return "?";
}

__attribute__((format(printf, 2, 3)))
static enum stun_step stun_probe_fail(struct stun_probe *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
    p->state = STUN_PROBE_FAILED;
    p->req_len = 0;
    return STUN_STEP_DONE;
}

/* The long-term credential attributes and MESSAGE-INTEGRITY, once keyed. */
static void stun_probe_put_auth(struct stun_probe *p, struct stun_writer *w)
{
    if (!p->keyed)
        return;
    stun_put(w, STUN_A_USERNAME, p->user, strlen(p->user));
    stun_put(w, STUN_A_REALM, p->realm, p->realm_len);
    stun_put(w, STUN_A_NONCE, p->nonce, p->nonce_len);
    stun_put_integrity(w, p->key, sizeof p->key);
}

static void stun_probe_request(struct stun_probe *p, const uint8_t tid[STUN_TID_LEN])
{
    struct stun_writer w;
    stun_begin(&w, p->req, sizeof p->req, p->turn ? STUN_ALLOCATE : STUN_BINDING, STUN_REQUEST,
               tid);
    if (p->turn)
        stun_put_u32(&w, STUN_A_REQUESTED_TRANSPORT, STUN_TRANSPORT_UDP);
    stun_probe_put_auth(p, &w);
    stun_put_fingerprint(&w);
    p->req_len = stun_end(&w);
}

void stun_probe_begin(struct stun_probe *p, bool turn, const char *user, const char *password,
                      const uint8_t tid[STUN_TID_LEN])
{
    stun_probe_clear(p);
    memset(p, 0, sizeof *p);
    p->turn = turn;
    p->user = user;
    p->password = password;
    p->state = STUN_PROBE_PENDING;
    stun_probe_request(p, tid);
}

/* "401 Unauthorized": the RFCs' phrase where there is one, else the
 * server's (already made printable by stun_decode). */
static enum stun_step stun_probe_error(struct stun_probe *p, const struct stun_msg *m)
{
    const char *name = stun_error_name(m->error_code);
    return stun_probe_fail(p, "%d %s", m->error_code, name ? name : *m->reason ? m->reason
                                                                               : "error");
}

/* Takes the REALM and NONCE of M and derives the key: false (FAILED) if
 * they are missing or too long. */
static bool stun_probe_learn(struct stun_probe *p, const struct stun_msg *m)
{
    if (!m->nonce || (!m->realm && !p->keyed)) {
        stun_probe_fail(p, "%d %s without realm or nonce", m->error_code,
                        stun_error_name(m->error_code));
        return false;
    }
    if (m->nonce_len > sizeof p->nonce || m->realm_len > sizeof p->realm) {
        stun_probe_fail(p, "%d %s with a realm or nonce over %d bytes", m->error_code,
                        stun_error_name(m->error_code), STUN_MAX_TEXT);
        return false;
    }
    if (!p->user || !p->password || strlen(p->user) > STUN_MAX_TEXT) {
        stun_probe_fail(p, "%d %s (%s)", m->error_code, stun_error_name(m->error_code),
                        p->user && p->password ? "user name too long" : "no credentials");
        return false;
    }
    memcpy(p->nonce, m->nonce, m->nonce_len);
    p->nonce_len = m->nonce_len;
    if (m->realm && (!p->keyed || m->realm_len != p->realm_len
                     || memcmp(m->realm, p->realm, m->realm_len))) {
        memcpy(p->realm, m->realm, m->realm_len);
        p->realm_len = m->realm_len;
        if (!stun_long_term_key(p->user, p->realm, p->realm_len, p->password, p->key)) {
            stun_probe_fail(p, "cannot derive the key");
            return false;
        }
    }
    p->keyed = true;
    return true;
}

/* The allocation is granted: say so and prepare its release. */
static enum stun_step stun_probe_granted(struct stun_probe *p, const struct stun_msg *m,
                                         const uint8_t tid[STUN_TID_LEN], bool release)
{
    p->state = STUN_PROBE_OK;
    p->has_mapped = m->has_mapped;
    p->mapped = m->mapped;
    p->has_relayed = m->has_relayed;
    p->relayed = m->relayed;
    p->req_len = 0;
    if (release) {
        struct stun_writer w;
        stun_begin(&w, p->release, sizeof p->release, STUN_REFRESH, STUN_REQUEST, tid);
        stun_put_u32(&w, STUN_A_LIFETIME, 0);
        stun_probe_put_auth(p, &w);
        stun_put_fingerprint(&w);
        p->release_len = stun_end(&w);
    }
    return STUN_STEP_DONE;
}

enum stun_step stun_probe_input(struct stun_probe *p, const uint8_t *buf, size_t len,
                                const uint8_t next_tid[STUN_TID_LEN])
{
    struct stun_msg m;
    if (p->state != STUN_PROBE_PENDING || !p->req_len || stun_decode(&m, buf, len)
        || memcmp(m.tid, p->req + 8, STUN_TID_LEN)
        || stun_type_method(m.type) != (p->turn ? STUN_ALLOCATE : STUN_BINDING)
        || (stun_type_class(m.type) != STUN_SUCCESS && stun_type_class(m.type) != STUN_ERROR)
        || !stun_check_fingerprint(&m))
        return STUN_STEP_IGNORED;
    /* once keyed, a success whose MESSAGE-INTEGRITY does not verify is not
     * the server's (RFC 8489 9.2.5: discard it); errors such as 401 cannot
     * carry a valid one */
    if (p->keyed && stun_type_class(m.type) == STUN_SUCCESS && m.integrity_at
        && !stun_check_integrity(&m, p->key, sizeof p->key))
        return STUN_STEP_IGNORED;
    p->answered = true;

    if (!p->turn) {
        if (stun_type_class(m.type) == STUN_ERROR)
            return stun_probe_error(p, &m);
        if (!m.has_mapped)
            return stun_probe_fail(p, "answer without an IPv4 address");
        return stun_probe_granted(p, &m, next_tid, false);
    }
    if (stun_type_class(m.type) == STUN_SUCCESS)
        return stun_probe_granted(p, &m, next_tid, true);
    switch (m.error_code) {
    case 401:   /* the first, unauthenticated request learns realm and nonce */
        if (p->keyed)
            return stun_probe_error(p, &m);
        /* fall through */
    case 438:   /* stale nonce: again with the new one */
        if (p->auth_rounds >= STUN_PROBE_AUTH_ROUNDS)
            return stun_probe_error(p, &m);
        if (!stun_probe_learn(p, &m))
            return STUN_STEP_DONE;
        p->auth_rounds++;
        stun_probe_request(p, next_tid);
        if (!p->req_len)
            return stun_probe_fail(p, "request too long");
        return STUN_STEP_SEND;
    case 437:
        /* the server checked the credentials first (RFC 8656 7.2) and holds
         * an allocation of ours from before: a working server */
        return stun_probe_granted(p, &m, next_tid, false);
    default:
        return stun_probe_error(p, &m);
    }
}

void stun_probe_clear(struct stun_probe *p)
{
    OPENSSL_cleanse(p->key, sizeof p->key);
    p->keyed = false;
    p->user = p->password = NULL;
}
