/* The DTLS 1.2 engine of one link (see dtls.h). OpenSSL talks to a BIO of our
 * own whose write hands each record to the output callback and whose read
 * returns the one datagram being fed in: no sockets, no copies beyond
 * OpenSSL's own. */
#include "dtls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "evio/log.h"
#include "rec.h"

#define DTLS_MOD "dtls"

/* AEAD only: no CBC (padding oracles), no RSA, no static key exchange. */
#define DTLS_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
                     "ECDHE-ECDSA-CHACHA20-POLY1305"

/* DTLS record content type of application data (RFC 6347 4.1). */
#define DTLS_CT_APPLICATION_DATA 23

struct dtls_ctx {
    SSL_CTX *ssl_ctx;
    BIO_METHOD *bio_method;
    uint64_t rekey;            /* records per key epoch (rec.h) */
    uint32_t rekey_after_s;    /* re-handshakes (dtls.h) */
    uint64_t rekey_after_bytes;
    bool legacy;               /* act as a peer without data records */
};

/* The ALPN list a client offers: evio's data records with re-handshakes,
 * or without them (rec.h). */
static const unsigned char dtls_alpn[] = "\x0a" REC_ALPN2 "\x0a" REC_ALPN;

#define DTLS_RANDOM_LEN 32

struct dtls {
    SSL *ssl;
    enum dtls_status status;
    bool client;
    bool fp_mismatch;          /* set by the verify callback */
    uint8_t peer_fp[CERT_FP_LEN];
    struct dtls_callbacks cbs;
    void *aux;
    const uint8_t *in;         /* the datagram the BIO will hand to OpenSSL */
    size_t in_len;
    char reason[160];
    struct rec *rec;           /* evio's data records; NULL: DTLS records */
    uint64_t rekey;
    struct dtls_ctx *ctx;

    /* re-handshakes (dtls.h), with evio-rec/2 only */
    bool rekeying;             /* the peer agreed to them */
    unsigned gen;              /* generation of rec */
    struct dtls *parent;       /* set in a re-handshake's own session */
    struct dtls *child;        /* the re-handshake under way (a server keeps
                                * it until its keys are in use) */
    uint8_t child_random[DTLS_RANDOM_LEN];   /* server: its ClientHello's */
    bool child_random_set;
    unsigned child_ticks;
    bool child_new_this_tick;  /* server: one new session a tick at most */
    /* the other generation: newer (a server's, until the client's first
     * record in it) or older (until the peer's first record in rec, then
     * REC_PREV_KEEP_TICKS) */
    struct rec *rec_other;
    bool other_newer;
    int other_ticks;           /* older: -1 while waiting for that record */
    uint32_t rekey_after_s;
    uint64_t rekey_after_bytes;
    uint32_t gen_ticks;        /* age of rec's generation */
    uint64_t gen_bytes;        /* sealed in it */
    unsigned retry_ticks;      /* after a failed re-handshake */
    unsigned ask_ticks;        /* server: since it last asked */
    bool asked;                /* client: the server asked */
    uint64_t rehandshake_failures;
    struct rec_counters acc;   /* of generations gone */
};

/* Decrypted records, each handed on before the next, and the record being
 * sealed: one buffer each for every session (one thread), so idle sessions
 * hold none. */
static uint8_t dtls_rx[DTLS_MAX_RECORD];
static uint8_t dtls_tx[DTLS_MAX_RECORD + REC_OVERHEAD];
/* a re-handshake's datagram behind DTLS_REKEY_PREFIX */
static uint8_t dtls_wrap[1 + DTLS_MAX_RECORD + 2048];

const char *dtls_status_name(enum dtls_status s)
{
    switch (s) {
#define DTLS_NAME(name, str) case DTLS_##name: return str;
    DTLS_STATUSES(DTLS_NAME)
#undef DTLS_NAME
    }
    return "?";
}

static void dtls_set_status(struct dtls *d, enum dtls_status s, const char *reason)
{
    if (d->status == s)
        return;
    snprintf(d->reason, sizeof d->reason, "%s", reason ? reason : "");
    if (s == DTLS_FAILED)
        log_info(DTLS_MOD, "%s: %s -> %s (%s)", d->client ? "client" : "server",
                 dtls_status_name(d->status), dtls_status_name(s), d->reason);
    else
        log_debug(DTLS_MOD, "%s: %s -> %s%s%s%s", d->client ? "client" : "server",
                  dtls_status_name(d->status), dtls_status_name(s),
                  *d->reason ? " (" : "", d->reason, *d->reason ? ")" : "");
    d->status = s;
}

/* Names the OpenSSL error behind a failed call, then empties the queue so
 * the next link does not inherit it. */
static void dtls_fail_openssl(struct dtls *d, const char *what)
{
    char buf[160];
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (d->fp_mismatch)
        snprintf(buf, sizeof buf, "fingerprint mismatch");
    else
        snprintf(buf, sizeof buf, "dtls %s: %s", what, r ? r : "error");
    ERR_clear_error();
    dtls_set_status(d, DTLS_FAILED, buf);
}

/* ---- the callback BIO ------------------------------------------------ */

static int dtls_bio_write(BIO *b, const char *data, int len)
{
    struct dtls *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len > 0)
        d->cbs.output(d->aux, (const uint8_t *)data, (size_t)len);
    /* UDP semantics: a datagram the path drops is simply lost */
    return len;
}

static int dtls_bio_read(BIO *b, char *buf, int len)
{
    struct dtls *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!d->in) {
        BIO_set_retry_read(b);
        return -1;
    }
    /* datagram semantics: what does not fit is discarded, as recv() would */
    size_t n = d->in_len < (size_t)len ? d->in_len : (size_t)len;
    memcpy(buf, d->in, n);
    d->in = NULL;
    d->in_len = 0;
    return (int)n;
}

static long dtls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return DTLS_HANDSHAKE_MTU;
    case BIO_CTRL_PENDING:
    case BIO_CTRL_WPENDING:
    default:
        return 0;
    }
}

static int dtls_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ---- context --------------------------------------------------------- */

static int dtls_verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!d)
        return 0;
    /* The certificate is self-signed, so the chain never verifies: trust
     * comes from pinning the leaf to the fingerprint from signalling. */
    if (X509_STORE_CTX_get_error_depth(store) != 0)
        return 1;
    X509 *leaf = X509_STORE_CTX_get_current_cert(store);
    uint8_t fp[CERT_FP_LEN];
    if (!leaf || !cert_key_fp(leaf, fp) || CRYPTO_memcmp(fp, d->peer_fp, CERT_FP_LEN) != 0) {
        d->fp_mismatch = true;
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}

/* Server: evio's data records if the client offers them, else plain DTLS
 * records (an older peer). */
static int dtls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                            const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const char *const prefs[] = { REC_ALPN2, REC_ALPN };
    for (size_t p = 0; p < sizeof prefs / sizeof *prefs; p++) {
        size_t want = strlen(prefs[p]);
        for (unsigned int i = 0; i < inlen;) {
            unsigned int n = in[i];
            if (i + 1 + n > inlen)
                break;
            if (n == want && memcmp(in + i + 1, prefs[p], n) == 0) {
                *out = in + i + 1;
                *outlen = (unsigned char)n;
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + n;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

struct dtls_ctx *dtls_ctx_new(const struct cert *cert, char **err)
{
    struct dtls_ctx *c = calloc(1, sizeof *c);
    const char *what = "out of memory";
    if (!c)
        goto fail;
    c->ssl_ctx = SSL_CTX_new(DTLS_method());
    c->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "evio-dtls");
    if (!c->ssl_ctx || !c->bio_method)
        goto fail;
    BIO_meth_set_write(c->bio_method, dtls_bio_write);
    BIO_meth_set_read(c->bio_method, dtls_bio_read);
    BIO_meth_set_ctrl(c->bio_method, dtls_bio_ctrl);
    BIO_meth_set_create(c->bio_method, dtls_bio_create);

    SSL_CTX *s = c->ssl_ctx;
    what = "cannot configure DTLS 1.2 with AEAD ECDSA suites";
    if (!SSL_CTX_set_min_proto_version(s, DTLS1_2_VERSION)
        || !SSL_CTX_set_max_proto_version(s, DTLS1_2_VERSION)
        || !SSL_CTX_set_cipher_list(s, DTLS_CIPHERS)
        || !SSL_CTX_set1_groups_list(s, "X25519:P-256"))
        goto fail;
    what = "the node certificate does not match its key";
    if (SSL_CTX_use_certificate(s, cert->x509) != 1
        || SSL_CTX_use_PrivateKey(s, cert->key) != 1
        || SSL_CTX_check_private_key(s) != 1)
        goto fail;
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, dtls_verify_cb);
    /* One handshake per link, never resumed or renegotiated: the pin is
     * checked exactly once, on a full handshake. */
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(s, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_alpn_select_cb(s, dtls_alpn_select, NULL);
    c->rekey = REC_REKEY_DEFAULT;
    c->rekey_after_s = DTLS_REKEY_AFTER_S_DEFAULT;
    c->rekey_after_bytes = DTLS_REKEY_AFTER_BYTES_DEFAULT;
    return c;

fail:
    ERR_clear_error();
    if (err && asprintf(err, "dtls: %s", what) < 0)
        *err = NULL;
    dtls_ctx_free(c);
    return NULL;
}

void dtls_ctx_set_rekey(struct dtls_ctx *c, uint64_t records)
{
    c->rekey = records ? records : REC_REKEY_DEFAULT;
}

void dtls_ctx_set_rehandshake(struct dtls_ctx *c, uint32_t after_s, uint64_t after_bytes)
{
    c->rekey_after_s = after_s;
    c->rekey_after_bytes = after_bytes;
}

void dtls_ctx_set_legacy(struct dtls_ctx *c, bool legacy)
{
    c->legacy = legacy;
    SSL_CTX_set_alpn_select_cb(c->ssl_ctx, legacy ? NULL : dtls_alpn_select, NULL);
}

void dtls_ctx_free(struct dtls_ctx *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->ssl_ctx);
    BIO_meth_free(c->bio_method);
    free(c);
}

/* OpenSSL's DTLS handshake waits 1 s before its first retransmission (RFC
 * 6347's default, sized for unknown paths). A link's first flight often
 * reaches a peer whose ICE is not ready to take it yet, so every such link
 * came up a second late; ICE has just measured the path: start at 250 ms,
 * double, and keep the gaps at most 4 s (OpenSSL gives up after 12). */
static unsigned int dtls_retransmit_us(SSL *ssl, unsigned int previous_us)
{
    (void)ssl;
    if (previous_us == 0)
        return 250000;
    return previous_us >= 2000000 ? 4000000 : previous_us * 2;
}

/* ---- session --------------------------------------------------------- */

struct dtls *dtls_new(struct dtls_ctx *c, bool client, const uint8_t peer_fp[CERT_FP_LEN],
                      const struct dtls_callbacks *cbs, void *aux)
{
    struct dtls *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->client = client;
    memcpy(d->peer_fp, peer_fp, CERT_FP_LEN);
    d->cbs = *cbs;
    d->aux = aux;
    d->status = DTLS_HANDSHAKING;
    d->rekey = c->rekey;
    d->ctx = c;
    d->rekey_after_s = c->rekey_after_s;
    d->rekey_after_bytes = c->rekey_after_bytes;

    d->ssl = SSL_new(c->ssl_ctx);
    BIO *bio = BIO_new(c->bio_method);
    /* (SSL_set_alpn_protos returns 0 on success) */
    if (!d->ssl || !bio
        || (client && !c->legacy
            && SSL_set_alpn_protos(d->ssl, dtls_alpn, sizeof dtls_alpn - 1) != 0)) {
        BIO_free(bio);
        ERR_clear_error();
        dtls_free(d);
        return NULL;
    }
    BIO_set_data(bio, d);
    /* one BIO for both directions: SSL_set_bio takes a single reference */
    SSL_set_bio(d->ssl, bio, bio);
    SSL_set_app_data(d->ssl, d);
    SSL_set_mtu(d->ssl, DTLS_HANDSHAKE_MTU);
    DTLS_set_timer_cb(d->ssl, dtls_retransmit_us);
    if (client)
        SSL_set_connect_state(d->ssl);
    else
        SSL_set_accept_state(d->ssl);
    return d;
}

void dtls_free(struct dtls *d)
{
    if (!d)
        return;
    dtls_free(d->child);
    SSL_free(d->ssl);   /* cleanses the session keys */
    if (d->rec) {
        rec_free(d->rec);
        free(d->rec);
    }
    if (d->rec_other) {
        rec_free(d->rec_other);
        free(d->rec_other);
    }
    OPENSSL_cleanse(d->child_random, sizeof d->child_random);
    free(d);
}

static bool dtls_peer_pinned(struct dtls *d)
{
    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    uint8_t fp[CERT_FP_LEN];
    return peer && cert_key_fp(peer, fp) && CRYPTO_memcmp(fp, d->peer_fp, CERT_FP_LEN) == 0;
}

/* After the handshake: evio's data records if both sides agreed on them
 * (ALPN) over an extended master secret, keyed from the exporter. */
static bool dtls_rec_start(struct dtls *d)
{
    const unsigned char *proto = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(d->ssl, &proto, &n);
    bool v2 = n == sizeof REC_ALPN2 - 1 && memcmp(proto, REC_ALPN2, n) == 0;
    if (!v2 && (n != sizeof REC_ALPN - 1 || memcmp(proto, REC_ALPN, n) != 0)) {
        log_info(DTLS_MOD, "%s: the peer does not speak %s; frames go as DTLS records "
                 "(no rekeying)", d->client ? "client" : "server", REC_ALPN);
        return true;
    }
    uint8_t km[2 * REC_SECRET_LEN];
    bool ok = SSL_get_extms_support(d->ssl) == 1
              && SSL_export_keying_material(d->ssl, km, sizeof km, REC_EXPORT_LABEL,
                                            sizeof REC_EXPORT_LABEL - 1, NULL, 0, 0) == 1
              && (d->rec = calloc(1, sizeof *d->rec)) != NULL;
    /* the first half is the client's sending secret, the second the server's */
    const uint8_t *mine = d->client ? km : km + REC_SECRET_LEN;
    const uint8_t *theirs = d->client ? km + REC_SECRET_LEN : km;
    d->rekeying = v2;
    if (ok && !rec_init_gen(d->rec, mine, theirs, d->rekey, d->gen)) {
        free(d->rec);
        d->rec = NULL;
        ok = false;
    }
    OPENSSL_cleanse(km, sizeof km);
    if (!ok) {
        /* the peer will send records: failing is the only honest answer */
        ERR_clear_error();
        dtls_set_status(d, DTLS_FAILED, SSL_get_extms_support(d->ssl) == 1
                        ? "cannot derive the record keys" : "no extended master secret");
        return false;
    }
    return true;
}

/* Drives the handshake one step; returns true once established. */
static bool dtls_handshake(struct dtls *d)
{
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    if (r == 1) {
        /* belt and braces: the verify callback already pinned the leaf */
        if (!dtls_peer_pinned(d)) {
            d->fp_mismatch = true;
            dtls_set_status(d, DTLS_FAILED, "fingerprint mismatch");
            return false;
        }
        if (!dtls_rec_start(d))
            return false;
        dtls_set_status(d, DTLS_ESTABLISHED, SSL_get_cipher_name(d->ssl));
        return true;
    }
    int e = SSL_get_error(d->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return false;
    }
    dtls_fail_openssl(d, "handshake");
    return false;
}

void dtls_start(struct dtls *d)
{
    if (d->client && d->status == DTLS_HANDSHAKING)
        dtls_handshake(d);
}

void dtls_close(struct dtls *d)
{
    if (d->status == DTLS_ESTABLISHED) {
        ERR_clear_error();
        SSL_shutdown(d->ssl);
        ERR_clear_error();
    }
    if (d->status == DTLS_HANDSHAKING || d->status == DTLS_ESTABLISHED)
        dtls_set_status(d, DTLS_CLOSED, "closed locally");
}

/* ---- re-handshakes (dtls.h) ----------------------------------------- */

/* A re-handshake's session writes through its parent, behind the prefix. */
static void dtls_child_output(void *aux, const uint8_t *data, size_t len)
{
    struct dtls *d = aux;
    if (len + 1 > sizeof dtls_wrap)
        return;
    dtls_wrap[0] = DTLS_REKEY_PREFIX;
    memcpy(dtls_wrap + 1, data, len);
    d->cbs.output(d->aux, dtls_wrap, len + 1);
}

static void dtls_child_deliver(void *aux, const uint8_t *data, size_t len)
{
    (void)aux, (void)data, (void)len;   /* it only handshakes */
}

static const struct dtls_callbacks dtls_child_cbs = { dtls_child_output, dtls_child_deliver };

static const char *dtls_side(const struct dtls *d)
{
    return d->client ? "client" : "server";
}

/* Adds C's counters to the generations gone. */
static void dtls_acc_add(struct rec_counters *acc, const struct rec_counters *c)
{
    acc->rekeys_tx += c->rekeys_tx;
    acc->rekeys_rx += c->rekeys_rx;
    acc->drop_replay += c->drop_replay;
    acc->drop_auth += c->drop_auth;
    acc->drop_epoch += c->drop_epoch;
    acc->drop_malformed += c->drop_malformed;
}

/* Forgets the other generation's keys. */
static void dtls_other_free(struct dtls *d)
{
    if (!d->rec_other)
        return;
    dtls_acc_add(&d->acc, &d->rec_other->c);
    rec_free(d->rec_other);
    free(d->rec_other);
    d->rec_other = NULL;
}

static void dtls_child_free(struct dtls *d)
{
    dtls_free(d->child);
    d->child = NULL;
    d->child_ticks = 0;
}

/* A re-handshake that did not finish: everything stays as it was. */
static void dtls_rekey_failed(struct dtls *d, const char *why)
{
    log_info(DTLS_MOD, "%s: re-handshake %u failed (%s); trying again in %d s", dtls_side(d),
             d->gen + 1, why, DTLS_REKEY_RETRY_TICKS);
    if (d->rec_other && d->other_newer)
        dtls_other_free(d);
    dtls_child_free(d);
    d->rehandshake_failures++;
    d->retry_ticks = DTLS_REKEY_RETRY_TICKS;
}

/* REC becomes the generation in use, the one before it the other. */
static void dtls_gen_advance(struct dtls *d, struct rec *rec)
{
    d->rec_other = d->rec;
    d->rec = rec;
    d->other_newer = false;
    d->gen++;
    d->gen_ticks = 0;
    d->gen_bytes = 0;
    d->ask_ticks = 0;
    d->asked = false;
    log_info(DTLS_MOD, "%s: re-handshake done, sending in generation %u", dtls_side(d), d->gen);
}

static struct dtls *dtls_child_new(struct dtls *d)
{
    struct dtls *c = dtls_new(d->ctx, d->client, d->peer_fp, &dtls_child_cbs, d);
    if (c) {
        c->parent = d;
        c->gen = d->gen + 1;
    }
    return c;
}

/* Reacts to whatever the last call did to the re-handshake's session. */
static void dtls_child_check(struct dtls *d)
{
    struct dtls *c = d->child;
    if (!c)
        return;
    if (c->status == DTLS_FAILED || c->status == DTLS_CLOSED) {
        dtls_rekey_failed(d, c->reason);
        return;
    }
    if (c->status != DTLS_ESTABLISHED || (d->rec_other && d->other_newer))
        return;   /* under way, or a server already waiting for the client */
    if (!c->rec || !c->rekeying) {
        dtls_rekey_failed(d, "the peer no longer speaks " REC_ALPN2);
        return;
    }
    struct rec *n = c->rec;
    c->rec = NULL;
    dtls_other_free(d);   /* an older generation still in its grace time */
    if (d->client) {
        /* last to finish: the server has these keys already */
        dtls_child_free(d);
        dtls_gen_advance(d, n);
        d->other_ticks = -1;   /* until the server's first new record */
        static const uint8_t first = 0x00;
        dtls_send(d, &first, 1);
    } else {
        /* first to finish: receive with them, send with the old ones
         * until the client shows it has them; keep the session, should
         * the client need our last flight again */
        d->rec_other = n;
        d->other_newer = true;
    }
}

/* A ClientHello's random, if DATA (a DTLS datagram) starts with one. */
static const uint8_t *dtls_client_hello_random(const uint8_t *data, size_t len)
{
    /* record header 13 bytes (type, version, epoch 0, sequence, length),
     * handshake header 12 (type 1, length, message_seq, fragment offset 0,
     * fragment length), client_version 2, then the random */
    if (len < 13 + 12 + 2 + DTLS_RANDOM_LEN || data[0] != 22 || data[3] != 0 || data[4] != 0
        || data[13] != 1 || data[19] != 0 || data[20] != 0 || data[21] != 0)
        return NULL;
    return data + 13 + 12 + 2;
}

/* One datagram of a re-handshake (the prefix taken off). */
static enum dtls_input_result dtls_rekey_input(struct dtls *d, const uint8_t *data, size_t len)
{
    if (d->status != DTLS_ESTABLISHED || !d->rekeying || d->parent)
        return DTLS_IN_DROPPED;
    if (!d->client) {
        /* a ClientHello not seen before starts a new session; one a tick
         * at most, whoever sends them */
        const uint8_t *random = dtls_client_hello_random(data, len);
        if (random && (!d->child_random_set
                       || memcmp(random, d->child_random, DTLS_RANDOM_LEN) != 0)) {
            if (d->child_new_this_tick)
                return DTLS_IN_DROPPED;
            if (d->rec_other && d->other_newer)
                dtls_other_free(d);
            dtls_child_free(d);
            d->child = dtls_child_new(d);
            d->child_new_this_tick = true;
            memcpy(d->child_random, random, DTLS_RANDOM_LEN);
            d->child_random_set = true;
        }
    }
    if (!d->child)
        return DTLS_IN_OK;   /* a late retransmission of one that is over */
    enum dtls_input_result r = dtls_input(d->child, data, len);
    dtls_child_check(d);
    return r;
}

/* Starts a re-handshake if one is due (client) or asks for one (server). */
static void dtls_rekey_tick(struct dtls *d)
{
    if (d->status != DTLS_ESTABLISHED || !d->rekeying || d->parent)
        return;
    d->child_new_this_tick = false;
    if (d->gen_ticks < UINT32_MAX)
        d->gen_ticks++;
    if (d->ask_ticks < UINT32_MAX)
        d->ask_ticks++;
    if (d->retry_ticks)
        d->retry_ticks--;
    if (d->child) {
        if (d->child->status == DTLS_HANDSHAKING && dtls_timeout_ms(d->child) == 0) {
            dtls_handle_timeout(d->child);
            dtls_child_check(d);
        }
        if (d->child && ++d->child_ticks >= DTLS_REKEY_TIMEOUT_TICKS)
            dtls_rekey_failed(d, "timed out");
        return;
    }
    bool due = (d->rekey_after_s && d->gen_ticks >= d->rekey_after_s)
               || (d->rekey_after_bytes && d->gen_bytes >= d->rekey_after_bytes)
               || d->asked;
    if (!due || d->retry_ticks)
        return;
    if (!d->client) {
        if (d->ask_ticks >= DTLS_REKEY_ASK_TICKS) {
            static const uint8_t ask = DTLS_REKEY_ASK;
            d->ask_ticks = 0;
            dtls_send(d, &ask, 1);
        }
        return;
    }
    d->asked = false;
    if (!(d->child = dtls_child_new(d))) {
        d->retry_ticks = DTLS_REKEY_RETRY_TICKS;
        return;
    }
    log_debug(DTLS_MOD, "client: re-handshake %u", d->gen + 1);
    dtls_start(d->child);
    dtls_child_check(d);
}

/* ---- records ---------------------------------------------------------- */

/* The generation a record of type TYPE belongs to, or NULL. */
static struct rec *dtls_rec_for(struct dtls *d, uint8_t type)
{
    if (d->rec && d->rec->type == type)
        return d->rec;
    if (d->rec_other && d->rec_other->type == type)
        return d->rec_other;
    return NULL;
}

bool dtls_rec_authentic(struct dtls *d, const uint8_t *data, size_t len)
{
    struct rec *r = d->status == DTLS_ESTABLISHED && len ? dtls_rec_for(d, data[0]) : NULL;
    return r && rec_check(r, data, len, dtls_rx, sizeof dtls_rx) == REC_OK;
}

/* One of evio's data records (or, once they are in use, a DTLS
 * application record, which the peer never sends then). */
static enum dtls_input_result dtls_rec_input(struct dtls *d, const uint8_t *data, size_t len)
{
    if (d->status != DTLS_ESTABLISHED || !d->rec)
        return DTLS_IN_DROPPED;
    struct rec *r = dtls_rec_for(d, data[0]);
    size_t n = 0;
    if (!r)
        return DTLS_IN_DROPPED;   /* a generation gone, or a DTLS record */
    switch (rec_open(r, data, len, dtls_rx, sizeof dtls_rx, &n)) {
    case REC_OK:
        break;
    case REC_REPLAY:
        return DTLS_IN_REPLAY;
    default:
        return DTLS_IN_DROPPED;
    }
    if (r == d->rec_other && d->other_newer) {
        /* server: the client sends in the new generation, so do we */
        struct rec *n2 = d->rec_other;
        d->rec_other = NULL;
        dtls_child_free(d);
        dtls_gen_advance(d, n2);
        d->other_ticks = REC_PREV_KEEP_TICKS;
    } else if (r == d->rec && d->rec_other && !d->other_newer && d->other_ticks < 0) {
        d->other_ticks = REC_PREV_KEEP_TICKS;   /* the peer moved on too */
    }
    if (n == 1 && dtls_rx[0] == DTLS_REKEY_ASK && d->client && d->rekeying)
        d->asked = true;
    d->cbs.deliver(d->aux, dtls_rx, n);
    return DTLS_IN_OK;
}

enum dtls_input_result dtls_input(struct dtls *d, const uint8_t *data, size_t len)
{
    if (len == 0 || len > DTLS_MAX_RECORD + 2048)
        return DTLS_IN_DROPPED;
    if (d->status != DTLS_HANDSHAKING && d->status != DTLS_ESTABLISHED)
        return DTLS_IN_DROPPED;
    if (data[0] < 20 || data[0] > 63)   /* not a DTLS record at all (RFC 7983) */
        return DTLS_IN_DROPPED;
    if (data[0] == DTLS_REKEY_PREFIX)
        return dtls_rekey_input(d, data + 1, len - 1);
    if (data[0] == REC_TYPE || data[0] == REC_TYPE_ODD
        || (d->rec && data[0] == DTLS_CT_APPLICATION_DATA))
        return dtls_rec_input(d, data, len);

    d->in = data;
    d->in_len = len;
    bool delivered = false;
    if (d->status == DTLS_HANDSHAKING)
        dtls_handshake(d);
    while (d->status == DTLS_ESTABLISHED) {
        ERR_clear_error();
        int n = SSL_read(d->ssl, dtls_rx, sizeof dtls_rx);
        if (n > 0) {
            delivered = true;
            d->cbs.deliver(d->aux, dtls_rx, (size_t)n);
            continue;
        }
        int e = SSL_get_error(d->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            ERR_clear_error();
        else if (e == SSL_ERROR_ZERO_RETURN)
            dtls_set_status(d, DTLS_CLOSED, "peer closed");
        else
            dtls_fail_openssl(d, "read");
        break;
    }
    d->in = NULL;
    d->in_len = 0;

    /* OpenSSL discards records that fail authentication or replay checks
     * without a word (RFC 6347 4.1.2.7); an application record that yielded
     * nothing is such a record, and the caller counts it. */
    if (!delivered && data[0] == DTLS_CT_APPLICATION_DATA && d->status == DTLS_ESTABLISHED)
        return DTLS_IN_DROPPED;
    return DTLS_IN_OK;
}

bool dtls_send(struct dtls *d, const void *data, size_t len)
{
    if (d->status != DTLS_ESTABLISHED || len == 0 || len > DTLS_MAX_RECORD)
        return false;
    if (d->rec) {
        size_t n = rec_seal(d->rec, data, len, dtls_tx);
        if (n) {
            d->gen_bytes += len;
            d->cbs.output(d->aux, dtls_tx, n);
        }
        return n != 0;
    }
    ERR_clear_error();
    int n = SSL_write(d->ssl, data, (int)len);
    if (n == (int)len)
        return true;
    int e = SSL_get_error(d->ssl, n);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        dtls_fail_openssl(d, "write");
    ERR_clear_error();
    return false;
}

long dtls_timeout_ms(struct dtls *d)
{
    struct timeval tv;
    if (d->status != DTLS_HANDSHAKING || DTLSv1_get_timeout(d->ssl, &tv) != 1)
        return -1;
    return (long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

void dtls_handle_timeout(struct dtls *d)
{
    if (d->status != DTLS_HANDSHAKING)
        return;
    ERR_clear_error();
    if (DTLSv1_handle_timeout(d->ssl) < 0) {
        ERR_clear_error();
        dtls_set_status(d, DTLS_FAILED, "dtls handshake timed out");
    }
}

void dtls_tick(struct dtls *d)
{
    if (d->rec)
        rec_tick(d->rec);
    if (d->rec_other) {
        rec_tick(d->rec_other);
        if (!d->other_newer && d->other_ticks >= 0 && --d->other_ticks <= 0)
            dtls_other_free(d);
    }
    dtls_rekey_tick(d);
}

const struct rec *dtls_rec(const struct dtls *d)
{
    return d->rec;
}

void dtls_get_stats(const struct dtls *d, struct dtls_stats *st)
{
    memset(st, 0, sizeof *st);
    st->records = !d->rec ? "dtls" : d->rekeying ? REC_ALPN2 : REC_ALPN;
    st->c = d->acc;
    if (d->rec) {
        dtls_acc_add(&st->c, &d->rec->c);
        st->tx_epoch = rec_tx_epoch(d->rec);
        st->rx_epoch = rec_rx_epoch(d->rec);
    }
    if (d->rec_other)
        dtls_acc_add(&st->c, &d->rec_other->c);
    st->generation = d->gen;
    st->rehandshake_failures = d->rehandshake_failures;
}

enum dtls_status dtls_get_status(const struct dtls *d)
{
    return d->status;
}

const char *dtls_reason(const struct dtls *d)
{
    return d->reason;
}

const char *dtls_cipher(const struct dtls *d)
{
    const char *c = d->status == DTLS_ESTABLISHED ? SSL_get_cipher_name(d->ssl) : NULL;
    return c && strcmp(c, "(NONE)") ? c : "";
}
