/* Unit tests for the re-handshakes of evio-tincan's DTLS engine
 * (tincan/dtls.c, "evio-rec/2"): two in-memory sessions stream numbered
 * frames both ways, a second at a time, with datagrams held back a while
 * (half of each second's arrive the second after), and re-handshake every
 * few seconds: every frame arrives exactly once and in order, both ends
 * move through the same generations, old keys are dropped, and a server
 * that is due asks the client. A re-handshake whose datagrams are lost
 * fails, is counted, changes nothing and is tried again; junk behind the
 * re-handshake prefix changes nothing; one answered by another key than
 * the pinned one fails. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evio/cert.h"
#include "../../tincan/dtls.h"
#include "../../tincan/rec.h"
#include "check.h"
#include "evio/log.h"

#define Q_MAX 4096
#define FRAME 120

struct endpoint {
    struct dtls *dtls;
    struct endpoint *peer;
    uint8_t *q[Q_MAX];            /* sent, not yet delivered */
    size_t qlen[Q_MAX];
    int nq;
    bool drop_rekey;              /* lose every re-handshake datagram sent */
    bool lose_final;              /* lose its re-handshake's last flight
                                   * (ChangeCipherSpec, epoch 1) */
    int lost_final;
    uint32_t next_tx, next_rx;    /* frame numbers */
    uint64_t frames_rx, bad_order;
};

static void ep_output(void *aux, const uint8_t *data, size_t len)
{
    struct endpoint *e = aux;
    if (e->nq == Q_MAX || (e->drop_rekey && data[0] == DTLS_REKEY_PREFIX))
        return;
    if (e->lose_final && len > 6 && data[0] == DTLS_REKEY_PREFIX
        && (data[1] == 20 || data[4] || data[5])) {
        e->lost_final++;
        return;
    }
    e->q[e->nq] = malloc(len);
    memcpy(e->q[e->nq], data, len);
    e->qlen[e->nq++] = len;
}

static void ep_deliver(void *aux, const uint8_t *data, size_t len)
{
    struct endpoint *e = aux;
    if (len < FRAME)
        return;   /* a keepalive, or a server's ask */
    uint32_t n;
    memcpy(&n, data, sizeof n);
    if (n != e->next_rx)
        e->bad_order++;
    e->next_rx = n + 1;
    e->frames_rx++;
}

static const struct dtls_callbacks ep_cbs = { ep_output, ep_deliver };

/* Delivers the first N queued datagrams of E to its peer (all: N < 0). */
static int ep_flush(struct endpoint *e, int n)
{
    if (n < 0 || n > e->nq)
        n = e->nq;
    for (int i = 0; i < n; i++) {
        dtls_input(e->peer->dtls, e->q[i], e->qlen[i]);
        free(e->q[i]);
    }
    memmove(e->q, e->q + n, (size_t)(e->nq - n) * sizeof *e->q);
    memmove(e->qlen, e->qlen + n, (size_t)(e->nq - n) * sizeof *e->qlen);
    e->nq -= n;
    return n;
}

static void pair_up(struct dtls_ctx *ca, struct dtls_ctx *cb, const struct cert *A,
                    const struct cert *B, struct endpoint *a, struct endpoint *b)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->peer = b;
    b->peer = a;
    a->dtls = dtls_new(ca, true, B->fp, &ep_cbs, a);
    b->dtls = dtls_new(cb, false, A->fp, &ep_cbs, b);
    dtls_start(a->dtls);
    for (int r = 0; r < 20; r++)
        if (ep_flush(a, -1) + ep_flush(b, -1) == 0)
            break;
    CHECK(dtls_get_status(a->dtls) == DTLS_ESTABLISHED);
    CHECK(dtls_get_status(b->dtls) == DTLS_ESTABLISHED);
}

static void pair_free(struct endpoint *a, struct endpoint *b)
{
    ep_flush(a, -1);
    ep_flush(b, -1);
    dtls_free(a->dtls);
    dtls_free(b->dtls);
}

static void send_frames(struct endpoint *e, int n)
{
    uint8_t f[FRAME];
    memset(f, 0x5a, sizeof f);
    for (int i = 0; i < n; i++) {
        memcpy(f, &e->next_tx, sizeof e->next_tx);
        if (dtls_send(e->dtls, f, sizeof f))
            e->next_tx++;
    }
}

/* One second: frames both ways in small bursts, each side's datagrams
 * half delivered now and half a second later (so records of an old and a
 * new generation, and handshake flights, cross and wait), then the ticks. */
static void second(struct endpoint *a, struct endpoint *b)
{
    for (int burst = 0; burst < 4; burst++) {
        send_frames(a, 5);
        send_frames(b, 5);
        ep_flush(a, a->nq / 2);
        ep_flush(b, b->nq / 2);
    }
    dtls_tick(a->dtls);
    dtls_tick(b->dtls);
}

static void drain(struct endpoint *a, struct endpoint *b)
{
    for (int r = 0; r < 20; r++)
        if (ep_flush(a, -1) + ep_flush(b, -1) == 0)
            break;
}

static uint64_t gen(const struct endpoint *e)
{
    struct dtls_stats st;
    dtls_get_stats(e->dtls, &st);
    return st.generation;
}

static uint64_t failures(const struct endpoint *e)
{
    struct dtls_stats st;
    dtls_get_stats(e->dtls, &st);
    return st.rehandshake_failures;
}

/* Due every 3 s (client) for 30 s: a handshake takes a tick or two of
 * its own, so 7 or more generations; nothing lost. */
static void test_periodic(struct dtls_ctx *ca, struct dtls_ctx *cb, const struct cert *A,
                          const struct cert *B)
{
    struct endpoint a, b;
    dtls_ctx_set_rehandshake(ca, 3, 0);
    dtls_ctx_set_rehandshake(cb, 0, 0);
    pair_up(ca, cb, A, B, &a, &b);
    struct dtls_stats st;
    dtls_get_stats(a.dtls, &st);
    CHECK_STR(st.records, REC_ALPN2);
    const struct rec *first = dtls_rec(a.dtls);
    CHECK(first && first->type == REC_TYPE);
    /* a record of the first generation, kept back */
    uint8_t stale[64];
    size_t stale_len = 0;
    CHECK(dtls_send(a.dtls, "k", 1) && a.nq == 1 && a.qlen[0] <= sizeof stale);
    memcpy(stale, a.q[0], stale_len = a.qlen[0]);
    free(a.q[0]);
    a.nq = 0;
    for (int s = 0; s < 30; s++)
        second(&a, &b);
    drain(&a, &b);
    CHECK(gen(&a) >= 7 && gen(&a) == gen(&b));
    CHECK(failures(&a) == 0 && failures(&b) == 0);
    CHECK(a.frames_rx == b.next_tx && b.frames_rx == a.next_tx);
    CHECK(a.bad_order == 0 && b.bad_order == 0);
    CHECK(a.frames_rx == 30 * 4 * 5);
    fprintf(stderr, "periodic: %llu generations, %llu + %llu frames\n",
            (unsigned long long)gen(&a), (unsigned long long)a.frames_rx,
            (unsigned long long)b.frames_rx);
    /* the generation in use has the first byte of its parity */
    CHECK(dtls_rec(a.dtls)->type == (gen(&a) & 1 ? REC_TYPE_ODD : REC_TYPE));
    /* the first generation's record is not accepted (its keys are gone) */
    CHECK(dtls_input(b.dtls, stale, stale_len) != DTLS_IN_OK);
    dtls_ctx_set_rehandshake(ca, 0, 0);
    pair_free(&a, &b);
}

/* The server's last flight of a re-handshake is lost: the client, not
 * done, retransmits and gets it again; meanwhile the server, done, must not
 * send with keys the client does not have yet: nothing is lost. */
static void test_lost_final_flight(struct dtls_ctx *ca, struct dtls_ctx *cb,
                                   const struct cert *A, const struct cert *B)
{
    struct endpoint a, b;
    dtls_ctx_set_rehandshake(ca, 3, 0);
    dtls_ctx_set_rehandshake(cb, 0, 0);
    pair_up(ca, cb, A, B, &a, &b);
    b.lose_final = true;
    /* OpenSSL times its retransmissions by the real clock (250 ms first):
     * once the flight is lost, simulated seconds take 100 ms of real time,
     * until the client has its keys (at most 40) */
    for (int s = 0; s < 40 && gen(&a) == 0; s++) {
        if (b.lost_final) {
            b.lose_final = false;   /* once */
            usleep(100000);
        }
        second(&a, &b);
    }
    for (int s = 0; s < 3; s++)
        second(&a, &b);
    drain(&a, &b);
    CHECK(b.lost_final > 0);
    CHECK(gen(&a) >= 1 && gen(&a) == gen(&b));
    CHECK(failures(&a) == 0 && failures(&b) == 0);
    CHECK(a.frames_rx == b.next_tx && b.frames_rx == a.next_tx);
    CHECK(a.bad_order == 0 && b.bad_order == 0);
    fprintf(stderr, "lost final flight: %d datagrams lost, %llu generations, %llu + %llu "
            "frames of %u + %u\n", b.lost_final, (unsigned long long)gen(&a),
            (unsigned long long)a.frames_rx, (unsigned long long)b.frames_rx, b.next_tx,
            a.next_tx);
    pair_free(&a, &b);
}

/* The server is due (bytes), the client never: the server asks. */
static void test_server_asks(struct dtls_ctx *ca, struct dtls_ctx *cb, const struct cert *A,
                             const struct cert *B)
{
    struct endpoint a, b;
    dtls_ctx_set_rehandshake(ca, 0, 0);
    dtls_ctx_set_rehandshake(cb, 0, 20000);   /* ~ every 8 s of frames */
    pair_up(ca, cb, A, B, &a, &b);
    for (int s = 0; s < 40; s++)
        second(&a, &b);
    drain(&a, &b);
    CHECK(gen(&a) >= 2 && gen(&a) == gen(&b));
    CHECK(a.frames_rx == b.next_tx && b.frames_rx == a.next_tx);
    CHECK(a.bad_order == 0 && b.bad_order == 0);
    /* without a byte bound and without time, never */
    dtls_ctx_set_rehandshake(cb, 0, 0);
    struct endpoint c, d;
    pair_up(ca, cb, A, B, &c, &d);
    for (int s = 0; s < 40; s++)
        second(&c, &d);
    CHECK(gen(&c) == 0 && gen(&d) == 0);
    pair_free(&a, &b);
    pair_free(&c, &d);
}

/* The client's re-handshake datagrams are lost: it fails after
 * DTLS_REKEY_TIMEOUT_TICKS, is counted, frames flow on the old keys, and
 * DTLS_REKEY_RETRY_TICKS later one succeeds. Junk behind the prefix, and a
 * forged ClientHello, change nothing either. */
static void test_failure(struct dtls_ctx *ca, struct dtls_ctx *cb, const struct cert *A,
                         const struct cert *B)
{
    struct endpoint a, b;
    dtls_ctx_set_rehandshake(ca, 5, 0);
    dtls_ctx_set_rehandshake(cb, 0, 0);
    pair_up(ca, cb, A, B, &a, &b);
    a.drop_rekey = true;
    uint8_t junk[200];
    memset(junk, 0x16, sizeof junk);
    junk[0] = DTLS_REKEY_PREFIX;
    for (int s = 0; s < 5 + DTLS_REKEY_TIMEOUT_TICKS + 2; s++) {
        second(&a, &b);
        dtls_input(b.dtls, junk, sizeof junk);
        dtls_input(a.dtls, junk, sizeof junk);
    }
    CHECK(gen(&a) == 0 && gen(&b) == 0);
    CHECK(failures(&a) == 1);
    a.drop_rekey = false;
    for (int s = 0; s < DTLS_REKEY_RETRY_TICKS + 3; s++)
        second(&a, &b);
    drain(&a, &b);
    CHECK(gen(&a) >= 1 && gen(&a) == gen(&b));
    CHECK(failures(&a) == 1);
    CHECK(a.frames_rx == b.next_tx && b.frames_rx == a.next_tx);
    CHECK(a.bad_order == 0 && b.bad_order == 0);
    CHECK(dtls_get_status(a.dtls) == DTLS_ESTABLISHED && dtls_get_status(b.dtls) == DTLS_ESTABLISHED);
    pair_free(&a, &b);
}

/* A re-handshake checks the pin again: one answered by another key (a
 * man in the middle that took over the path after the first handshake)
 * fails, is counted, and the link goes on under its old keys. The
 * client's re-handshake datagrams are diverted to a server session with
 * key C (pinning A), whose answers come back behind the prefix. */
static void test_pinned_again(struct dtls_ctx *ca, struct dtls_ctx *cb, const struct cert *A,
                              const struct cert *B, const struct cert *C)
{
    char *err = NULL;
    struct dtls_ctx *cc = dtls_ctx_new(C, &err);
    CHECK(cc != NULL);
    if (!cc)
        return;
    struct endpoint a, b, m;
    dtls_ctx_set_rehandshake(ca, 2, 0);
    dtls_ctx_set_rehandshake(cb, 0, 0);
    pair_up(ca, cb, A, B, &a, &b);
    memset(&m, 0, sizeof m);
    m.dtls = dtls_new(cc, false, A->fp, &ep_cbs, &m);
    int diverted = 0, answered = 0;
    for (int s = 0; s < 8; s++) {
        send_frames(&a, 5);
        send_frames(&b, 5);
        /* a's re-handshake datagrams go to the impostor, the rest to b */
        for (int i = 0; i < a.nq; i++) {
            if (a.q[i][0] == DTLS_REKEY_PREFIX) {
                dtls_input(m.dtls, a.q[i] + 1, a.qlen[i] - 1);
                diverted++;
            } else {
                dtls_input(b.dtls, a.q[i], a.qlen[i]);
            }
            free(a.q[i]);
        }
        a.nq = 0;
        for (int i = 0; i < m.nq; i++) {
            uint8_t wrapped[DTLS_HANDSHAKE_MTU + 64];
            if (m.qlen[i] + 1 <= sizeof wrapped) {
                wrapped[0] = DTLS_REKEY_PREFIX;
                memcpy(wrapped + 1, m.q[i], m.qlen[i]);
                dtls_input(a.dtls, wrapped, m.qlen[i] + 1);
                answered++;
            }
            free(m.q[i]);
        }
        m.nq = 0;
        ep_flush(&b, -1);
        dtls_tick(a.dtls);
        dtls_tick(b.dtls);
    }
    drain(&a, &b);
    CHECK(diverted > 0 && answered > 0);
    CHECK(gen(&a) == 0 && gen(&b) == 0);
    CHECK(failures(&a) == 1);
    CHECK(dtls_get_status(a.dtls) == DTLS_ESTABLISHED);
    CHECK(a.frames_rx == b.next_tx && b.frames_rx == a.next_tx && a.frames_rx == 40);
    fprintf(stderr, "pinned again: %d datagrams to the impostor, %d back, failures %llu, "
            "%llu + %llu frames\n", diverted, answered, (unsigned long long)failures(&a),
            (unsigned long long)a.frames_rx, (unsigned long long)b.frames_rx);
    dtls_free(m.dtls);
    pair_free(&a, &b);
    dtls_ctx_free(cc);
}

int main(void)
{
    log_init("test_rehandshake");
    log_set_level(NULL, "warn");
    struct cert A, B, C;
    CHECK(cert_generate(&A));
    CHECK(cert_generate(&B));
    CHECK(cert_generate(&C));
    char *err = NULL;
    struct dtls_ctx *ca = dtls_ctx_new(&A, &err);
    struct dtls_ctx *cb = dtls_ctx_new(&B, &err);
    CHECK(ca && cb);
    if (ca && cb) {
        test_periodic(ca, cb, &A, &B);
        test_lost_final_flight(ca, cb, &A, &B);
        test_server_asks(ca, cb, &A, &B);
        test_failure(ca, cb, &A, &B);
        test_pinned_again(ca, cb, &A, &B, &C);
    }
    dtls_ctx_free(ca);
    dtls_ctx_free(cb);
    cert_clear(&A);
    cert_clear(&B);
    cert_clear(&C);
    return check_report("test_rehandshake");
}
