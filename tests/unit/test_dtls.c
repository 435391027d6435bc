/* Unit tests of evio-tincan's DTLS engine (tincan/dtls.c): two in-memory
 * sessions handshake through queues, no network. Checks the pinned
 * fingerprint, and that tampered and replayed records are dropped. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evio/cert.h"
#include "../../tincan/dtls.h"
#include "../../tincan/rec.h"
#include "check.h"
#include "evio/log.h"
#include "evio/nodeid.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#define Q_MAX 64

struct endpoint {
    struct dtls *dtls;
    struct endpoint *peer;
    /* datagrams this endpoint sent, not yet delivered */
    uint8_t *q[Q_MAX];
    size_t qlen[Q_MAX];
    int nq;
    /* the last datagram sent, kept for replay/tamper tests */
    uint8_t last[DTLS_MAX_RECORD + 512];
    size_t last_len;
    /* what was delivered to this endpoint */
    uint8_t got[DTLS_MAX_RECORD];
    size_t got_len;
    int n_got;
};

static void ep_output(void *aux, const uint8_t *data, size_t len)
{
    struct endpoint *e = aux;
    if (e->nq < Q_MAX) {
        e->q[e->nq] = malloc(len);
        memcpy(e->q[e->nq], data, len);
        e->qlen[e->nq++] = len;
    }
    if (len <= sizeof e->last) {
        memcpy(e->last, data, len);
        e->last_len = len;
    }
}

static void ep_deliver(void *aux, const uint8_t *data, size_t len)
{
    struct endpoint *e = aux;
    memcpy(e->got, data, len);
    e->got_len = len;
    e->n_got++;
}

static const struct dtls_callbacks ep_cbs = { ep_output, ep_deliver };

/* Delivers every queued datagram of E to its peer; returns how many. */
static int ep_flush(struct endpoint *e)
{
    int n = e->nq;
    for (int i = 0; i < e->nq; i++) {
        dtls_input(e->peer->dtls, e->q[i], e->qlen[i]);
        free(e->q[i]);
    }
    e->nq = 0;
    return n;
}

static void pump(struct endpoint *a, struct endpoint *b)
{
    for (int round = 0; round < 20; round++)
        if (ep_flush(a) + ep_flush(b) == 0)
            break;
}

static void pair_setup(struct dtls_ctx *ca, struct dtls_ctx *cb, const uint8_t *fp_b_for_a,
                       const uint8_t *fp_a_for_b, struct endpoint *a, struct endpoint *b)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->peer = b;
    b->peer = a;
    a->dtls = dtls_new(ca, true, fp_b_for_a, &ep_cbs, a);
    b->dtls = dtls_new(cb, false, fp_a_for_b, &ep_cbs, b);
}

static void pair_free(struct endpoint *a, struct endpoint *b)
{
    for (int i = 0; i < a->nq; i++) free(a->q[i]);
    for (int i = 0; i < b->nq; i++) free(b->q[i]);
    dtls_free(a->dtls);
    dtls_free(b->dtls);
}

static void test_fp_format(const struct cert *c)
{
    uint8_t fp[CERT_FP_LEN];
    CHECK(strlen(c->fp_str) == 95);
    CHECK(cert_fp_parse(c->fp_str, fp));
    CHECK(memcmp(fp, c->fp, CERT_FP_LEN) == 0);
    CHECK(!cert_fp_parse("AA:BB", fp));
    char bad[CERT_FP_STRLEN];
    memcpy(bad, c->fp_str, sizeof bad);
    bad[2] = '-';
    CHECK(!cert_fp_parse(bad, fp));
    bad[2] = ':';
    bad[0] = 'G';
    CHECK(!cert_fp_parse(bad, fp));
}

/* The node's identity is its key: the fingerprint is SHA-256 over the
 * certificate's SubjectPublicKeyInfo (the same for a new certificate of the
 * same key), and the node ID is its first 128 bits. */
static void test_key_identity(const struct cert *c)
{
    unsigned char *der = NULL, want[32];
    int len = i2d_PUBKEY(c->key, &der);
    unsigned int n = 0;
    CHECK(len > 0 && EVP_Digest(der, (size_t)len, want, &n, EVP_sha256(), NULL) && n == 32);
    OPENSSL_free(der);
    CHECK(memcmp(c->fp, want, 32) == 0);
    unsigned char certfp[32];
    CHECK(X509_digest(c->x509, EVP_sha256(), certfp, &n));
    CHECK(memcmp(c->fp, certfp, 32) != 0);      /* not the certificate's digest */

    struct nodeid id;
    CHECK(nodeid_from_fpr(c->fp_str, &id));
    CHECK(memcmp(id.b, c->fp, 16) == 0);
    CHECK(!nodeid_from_fpr("AA:BB", &id));
    char bad[CERT_FP_STRLEN];
    memcpy(bad, c->fp_str, sizeof bad);
    bad[5] = ';';
    CHECK(!nodeid_from_fpr(bad, &id));

    /* a certificate made again for the same key keeps the fingerprint */
    X509 *again = X509_new();
    X509_set_version(again, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(again), 77);
    X509_gmtime_adj(X509_getm_notBefore(again), 0);
    X509_gmtime_adj(X509_getm_notAfter(again), 3600);
    X509_set_pubkey(again, c->key);
    X509_set_issuer_name(again, X509_get_subject_name(c->x509));
    X509_set_subject_name(again, X509_get_subject_name(c->x509));
    CHECK(X509_sign(again, c->key, EVP_sha256()) > 0);
    uint8_t fp2[CERT_FP_LEN];
    CHECK(cert_key_fp(again, fp2) && memcmp(fp2, c->fp, CERT_FP_LEN) == 0);
    X509_free(again);
}

/* LEGACY: CA and CB act as peers from before data records. */
static void test_handshake_and_data(struct dtls_ctx *ca, struct dtls_ctx *cb,
                                    const struct cert *A, const struct cert *B, bool legacy)
{
    struct endpoint a, b;
    pair_setup(ca, cb, B->fp, A->fp, &a, &b);
    CHECK(a.dtls && b.dtls);
    CHECK(!dtls_send(a.dtls, "x", 1));   /* not before the handshake */
    CHECK(dtls_timeout_ms(a.dtls) == -1 || dtls_timeout_ms(a.dtls) >= 0);
    dtls_start(a.dtls);
    CHECK(a.nq > 0);
    CHECK(dtls_timeout_ms(a.dtls) > 0);   /* the ClientHello retransmit timer */
    for (int i = 0; i < a.nq; i++)
        CHECK(a.qlen[i] <= DTLS_HANDSHAKE_MTU);
    pump(&a, &b);
    CHECK(dtls_get_status(a.dtls) == DTLS_ESTABLISHED);
    CHECK(dtls_get_status(b.dtls) == DTLS_ESTABLISHED);
    CHECK(strstr(dtls_cipher(a.dtls), "GCM") || strstr(dtls_cipher(a.dtls), "CHACHA"));

    /* one frame, one record, both directions */
    uint8_t frame[1428];
    for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)i;
    CHECK(dtls_send(a.dtls, frame, sizeof frame));
    CHECK(a.nq == 1);
    if (legacy) {
        CHECK(!dtls_rec(a.dtls) && !dtls_rec(b.dtls));
        CHECK(a.q[0][0] == 23);   /* a DTLS application record */
        CHECK(a.qlen[0] > sizeof frame && a.qlen[0] <= sizeof frame + 64);
    } else {
        CHECK(dtls_rec(a.dtls) && dtls_rec(b.dtls));
        CHECK(a.q[0][0] == REC_TYPE && a.qlen[0] == sizeof frame + REC_OVERHEAD);
    }
    ep_flush(&a);
    CHECK(b.n_got == 1 && b.got_len == sizeof frame && !memcmp(b.got, frame, sizeof frame));
    CHECK(dtls_send(b.dtls, "\0", 1));
    ep_flush(&b);
    CHECK(a.n_got == 1 && a.got_len == 1);

    /* replay: the same record again is dropped, nothing delivered */
    int before = b.n_got;
    CHECK(dtls_send(a.dtls, frame, 100));
    uint8_t copy[2048];
    size_t clen = a.qlen[0];
    memcpy(copy, a.q[0], clen);
    ep_flush(&a);
    CHECK(b.n_got == before + 1);
    CHECK(dtls_input(b.dtls, copy, clen) == (legacy ? DTLS_IN_DROPPED : DTLS_IN_REPLAY));
    CHECK(b.n_got == before + 1);

    /* tamper: one flipped bit in the ciphertext, dropped; session survives */
    CHECK(dtls_send(a.dtls, frame, 200));
    memcpy(copy, a.q[0], a.qlen[0]);
    clen = a.qlen[0];
    free(a.q[0]);
    a.nq = 0;
    copy[clen - 5] ^= 0x01;
    CHECK(dtls_input(b.dtls, copy, clen) == DTLS_IN_DROPPED);
    CHECK(b.n_got == before + 1);
    CHECK(dtls_get_status(b.dtls) == DTLS_ESTABLISHED);
    /* garbage and truncated records are dropped too */
    uint8_t junk[40] = { 0x17, 0xfe, 0xfd };
    CHECK(dtls_input(b.dtls, junk, sizeof junk) == DTLS_IN_DROPPED);
    CHECK(dtls_input(b.dtls, junk, 3) == DTLS_IN_DROPPED);
    /* a data record longer than any frame: refused before decryption */
    static uint8_t huge[DTLS_MAX_RECORD + 2048];
    memset(huge, 0x41, sizeof huge);
    huge[0] = REC_TYPE;
    huge[1] = 0;
    CHECK(dtls_input(b.dtls, huge, sizeof huge) == DTLS_IN_DROPPED);
    CHECK(dtls_input(b.dtls, huge, DTLS_MAX_RECORD + REC_OVERHEAD + 1) == DTLS_IN_DROPPED);
    if (!legacy)
        CHECK(dtls_rec(b.dtls)->c.drop_malformed == 2);
    uint8_t notdtls[8] = { 0x00, 0x01 };
    CHECK(dtls_input(b.dtls, notdtls, sizeof notdtls) == DTLS_IN_DROPPED);
    CHECK(dtls_get_status(b.dtls) == DTLS_ESTABLISHED);

    /* still works after all that */
    CHECK(dtls_send(a.dtls, frame, 300));
    ep_flush(&a);
    CHECK(b.n_got == before + 2 && b.got_len == 300);

    /* close_notify reaches the peer */
    dtls_close(a.dtls);
    CHECK(dtls_get_status(a.dtls) == DTLS_CLOSED);
    ep_flush(&a);
    CHECK(dtls_get_status(b.dtls) == DTLS_CLOSED);
    CHECK_STR(dtls_reason(b.dtls), "peer closed");
    pair_free(&a, &b);
}

static void test_fp_mismatch(struct dtls_ctx *ca, struct dtls_ctx *cb, const struct cert *A,
                             const struct cert *B)
{
    uint8_t wrong[CERT_FP_LEN];
    memcpy(wrong, A->fp, sizeof wrong);
    wrong[7] ^= 0x40;

    /* the server pins a wrong fingerprint for the client */
    struct endpoint a, b;
    pair_setup(ca, cb, B->fp, wrong, &a, &b);
    dtls_start(a.dtls);
    pump(&a, &b);
    CHECK(dtls_get_status(a.dtls) != DTLS_ESTABLISHED);
    CHECK(dtls_get_status(b.dtls) == DTLS_FAILED);
    CHECK_STR(dtls_reason(b.dtls), "fingerprint mismatch");
    CHECK(!dtls_send(b.dtls, "x", 1));
    pair_free(&a, &b);

    /* the client pins a wrong fingerprint for the server */
    memcpy(wrong, B->fp, sizeof wrong);
    wrong[0] ^= 0x01;
    pair_setup(ca, cb, wrong, A->fp, &a, &b);
    dtls_start(a.dtls);
    pump(&a, &b);
    CHECK(dtls_get_status(a.dtls) == DTLS_FAILED);
    CHECK_STR(dtls_reason(a.dtls), "fingerprint mismatch");
    CHECK(dtls_get_status(b.dtls) != DTLS_ESTABLISHED);
    pair_free(&a, &b);
}

static void test_retransmit(struct dtls_ctx *ca, struct dtls_ctx *cb, const struct cert *A,
                            const struct cert *B)
{
    /* the first ClientHello is lost; the timer resends it */
    struct endpoint a, b;
    pair_setup(ca, cb, B->fp, A->fp, &a, &b);
    dtls_start(a.dtls);
    for (int i = 0; i < a.nq; i++) free(a.q[i]);
    a.nq = 0;
    long ms = dtls_timeout_ms(a.dtls);
    CHECK(ms > 0 && ms <= 1000);
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L + 1000000L };
    nanosleep(&ts, NULL);
    dtls_handle_timeout(a.dtls);
    CHECK(a.nq > 0);
    pump(&a, &b);
    CHECK(dtls_get_status(a.dtls) == DTLS_ESTABLISHED);
    CHECK(dtls_get_status(b.dtls) == DTLS_ESTABLISHED);
    pair_free(&a, &b);
}

/* Data records rekey every 16 records: 100 frames cross, in 7 epochs. */
static void test_rekey(struct dtls_ctx *ca, struct dtls_ctx *cb, const struct cert *A,
                       const struct cert *B)
{
    struct endpoint a, b;
    dtls_ctx_set_rekey(ca, 16);
    dtls_ctx_set_rekey(cb, 16);
    pair_setup(ca, cb, B->fp, A->fp, &a, &b);
    dtls_start(a.dtls);
    pump(&a, &b);
    CHECK(dtls_get_status(b.dtls) == DTLS_ESTABLISHED && dtls_rec(b.dtls));
    uint8_t frame[300];
    bool all = true;
    for (int i = 0; i < 100; i++) {
        memset(frame, i, sizeof frame);
        int before = b.n_got;
        CHECK(dtls_send(a.dtls, frame, sizeof frame));
        ep_flush(&a);
        if (b.n_got != before + 1 || b.got_len != sizeof frame || b.got[0] != i)
            all = false;
    }
    CHECK(all);
    const struct rec *ra = dtls_rec(a.dtls), *rb = dtls_rec(b.dtls);
    CHECK(ra && ra->c.rekeys_tx == 6 && rec_tx_epoch(ra) == 6);
    CHECK(rb && rb->c.rekeys_rx == 6 && rec_rx_epoch(rb) == 6);
    pair_free(&a, &b);
    dtls_ctx_set_rekey(ca, 0);
    dtls_ctx_set_rekey(cb, 0);
}

int main(void)
{
    log_init("test_dtls");
    log_set_level(NULL, "warn");
    struct cert A, B;
    CHECK(cert_generate(&A));
    CHECK(cert_generate(&B));
    CHECK(memcmp(A.fp, B.fp, CERT_FP_LEN) != 0);
    test_fp_format(&A);

    char *err = NULL;
    struct dtls_ctx *ca = dtls_ctx_new(&A, &err);
    struct dtls_ctx *cb = dtls_ctx_new(&B, &err);
    CHECK(ca && cb);
    if (ca && cb) {
        test_handshake_and_data(ca, cb, &A, &B, false);
        test_rekey(ca, cb, &A, &B);
        /* an older peer on either side: DTLS records, as before */
        dtls_ctx_set_legacy(ca, true);
        test_handshake_and_data(ca, cb, &A, &B, true);
        dtls_ctx_set_legacy(ca, false);
        dtls_ctx_set_legacy(cb, true);
        test_handshake_and_data(ca, cb, &A, &B, true);
        dtls_ctx_set_legacy(cb, false);
        test_fp_mismatch(ca, cb, &A, &B);
        test_key_identity(&A);
        test_retransmit(ca, cb, &A, &B);
    }
    dtls_ctx_free(ca);
    dtls_ctx_free(cb);
    cert_clear(&A);
    cert_clear(&B);
    free(err);
    return check_report("test_dtls");
}
