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
    bool legacy;               /* act as a peer without data records */
};

/* The ALPN list a client offers: evio's data records (rec.h). */
static const unsigned char dtls_alpn[] = "\x0a" REC_ALPN;

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
};

/* Decrypted records, each handed on before the next, and the record being
 * sealed: one buffer each for every session (one thread), so idle sessions
 * hold none. */
static uint8_t dtls_rx[DTLS_MAX_RECORD];
static uint8_t dtls_tx[DTLS_MAX_RECORD + REC_OVERHEAD];

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
    uint8_t fp[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!leaf || !X509_digest(leaf, EVP_sha256(), fp, &n) || n != CERT_FP_LEN
        || CRYPTO_memcmp(fp, d->peer_fp, CERT_FP_LEN) != 0) {
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
    for (unsigned int i = 0; i < inlen;) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (n == sizeof REC_ALPN - 1 && memcmp(in + i + 1, REC_ALPN, n) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)n;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
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
    SSL_free(d->ssl);   /* cleanses the session keys */
    if (d->rec) {
        rec_free(d->rec);
        free(d->rec);
    }
    free(d);
}

static bool dtls_peer_pinned(struct dtls *d)
{
    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    uint8_t fp[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    return peer && X509_digest(peer, EVP_sha256(), fp, &n) && n == CERT_FP_LEN
           && CRYPTO_memcmp(fp, d->peer_fp, CERT_FP_LEN) == 0;
}

/* After the handshake: evio's data records if both sides agreed on them
 * (ALPN) over an extended master secret, keyed from the exporter. */
static bool dtls_rec_start(struct dtls *d)
{
    const unsigned char *proto = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(d->ssl, &proto, &n);
    if (n != sizeof REC_ALPN - 1 || memcmp(proto, REC_ALPN, n) != 0) {
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
    if (ok && !rec_init(d->rec, mine, theirs, d->rekey)) {
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

/* One of evio's data records (or, once they are in use, a DTLS
 * application record, which the peer never sends then). */
static enum dtls_input_result dtls_rec_input(struct dtls *d, const uint8_t *data, size_t len)
{
    if (d->status != DTLS_ESTABLISHED || !d->rec || data[0] != REC_TYPE)
        return DTLS_IN_DROPPED;
    size_t n = 0;
    switch (rec_open(d->rec, data, len, dtls_rx, sizeof dtls_rx, &n)) {
    case REC_OK:
        d->cbs.deliver(d->aux, dtls_rx, n);
        return DTLS_IN_OK;
    case REC_REPLAY:
        return DTLS_IN_REPLAY;
    default:
        return DTLS_IN_DROPPED;
    }
}

enum dtls_input_result dtls_input(struct dtls *d, const uint8_t *data, size_t len)
{
    if (len == 0 || len > DTLS_MAX_RECORD + 2048)
        return DTLS_IN_DROPPED;
    if (d->status != DTLS_HANDSHAKING && d->status != DTLS_ESTABLISHED)
        return DTLS_IN_DROPPED;
    if (data[0] < 20 || data[0] > 63)   /* not a DTLS record at all (RFC 7983) */
        return DTLS_IN_DROPPED;
    if (data[0] == REC_TYPE || (d->rec && data[0] == DTLS_CT_APPLICATION_DATA))
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
        if (n)
            d->cbs.output(d->aux, dtls_tx, n);
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
}

const struct rec *dtls_rec(const struct dtls *d)
{
    return d->rec;
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
