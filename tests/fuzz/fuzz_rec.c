/* Fuzz target: evio's data records (tincan/rec.c), the first thing a
 * datagram from the network meets on a link. The input is a script run
 * against a sender and a receiver that share a secret, with a rekey limit
 * of 1..8 records so epochs turn over quickly:
 *   seal and deliver at once, seal and hold back, deliver (or replay) a
 *   held record, deliver one with a byte flipped, deliver raw bytes,
 *   deliver into a buffer too small, tick the receiver.
 * Invariants: a fresh record in the receiver's current or next epoch opens
 * with its plaintext; no record opens twice; flipped bytes, raw bytes and
 * short buffers never open; every refusal is counted once and changes no
 * receive state (epochs, windows, the previous epoch's lifetime). */
#include "fuzz.h"

#include "../../tincan/rec.h"

#define HELD 16
#define MAX_PLAIN 300

struct held {
    uint8_t rec[MAX_PLAIN + REC_OVERHEAD];
    size_t len;
    uint8_t plain[MAX_PLAIN];
    size_t plain_len;
    bool opened;
};

/* The receive state a refusal must not touch. */
struct rx_snap {
    bool set[3];
    uint64_t epoch[3], top[3];
    bool any[3];
    uint64_t window[3][REC_WINDOW / 64];
    int prev_ticks;
};

static void snap(const struct rec *r, struct rx_snap *s)
{
    const struct rec_epoch *e[3] = { &r->rx_prev, &r->rx_cur, &r->rx_next };
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 3; i++) {
        s->set[i] = e[i]->set;
        s->epoch[i] = e[i]->epoch;
        s->top[i] = e[i]->top;
        s->any[i] = e[i]->any;
        memcpy(s->window[i], e[i]->window, sizeof s->window[i]);
    }
    s->prev_ticks = r->prev_ticks;
}

static uint64_t drops(const struct rec *r)
{
    return r->c.drop_replay + r->c.drop_auth + r->c.drop_epoch + r->c.drop_malformed;
}

/* Opens REC into a buffer of CAP bytes and checks what a refusal may not do. */
static enum rec_result deliver(struct rec *r, const uint8_t *rec, size_t len, size_t cap,
                               uint8_t *out, size_t *out_len)
{
    struct rx_snap before, after;
    snap(r, &before);
    uint64_t d0 = drops(r);
    /* exact-size copies, so any read or write out of bounds shows */
    uint8_t *in = malloc(len ? len : 1), *buf = malloc(cap ? cap : 1);
    FUZZ_ASSERT(in && buf, "out of memory");
    memcpy(in, rec, len);
    *out_len = (size_t)-1;
    enum rec_result res = rec_open(r, in, len, buf, cap, out_len);
    if (res == REC_OK) {
        FUZZ_ASSERT(drops(r) == d0, "a record that opened was counted as dropped");
        FUZZ_ASSERT(*out_len + REC_OVERHEAD == len && *out_len <= cap, "plaintext of %zu from %zu",
                    *out_len, len);
        memcpy(out, buf, *out_len);
    } else {
        FUZZ_ASSERT(drops(r) == d0 + 1, "refusal %d counted %llu times", (int)res,
                    (unsigned long long)(drops(r) - d0));
        snap(r, &after);
        FUZZ_ASSERT(!memcmp(&before, &after, sizeof before), "refusal %d changed receive state",
                    (int)res);
    }
    free(in);
    free(buf);
    return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t secret[REC_SECRET_LEN], other[REC_SECRET_LEN];
    for (int i = 0; i < REC_SECRET_LEN; i++) {
        secret[i] = (uint8_t)(i * 7 + 1);
        other[i] = (uint8_t)(i * 13 + 5);
    }
    uint64_t rekey = 1 + fz_u8(&f) % 8;
    static struct rec tx, rx;
    FUZZ_ASSERT(rec_init(&tx, secret, other, rekey) && rec_init(&rx, other, secret, rekey),
                "rec_init");
    static struct held held[HELD];
    memset(held, 0, sizeof held);
    size_t n_held = 0;
    uint8_t out[MAX_PLAIN + REC_OVERHEAD];
    size_t out_len;

    for (int ops = 0; f.n && ops < 2000; ops++) {
        uint8_t op = fz_u8(&f);
        switch (op % 7) {
        case 0:     /* seal, then deliver at once or hold back */
        case 1: {
            struct held *h = &held[n_held++ % HELD];
            memset(h, 0, sizeof *h);
            size_t want = fz_u8(&f) % (MAX_PLAIN / 2) * 2, got;
            const uint8_t *p = fz_bytes(&f, want, &got);
            memcpy(h->plain, p, got);
            h->plain_len = got;
            h->len = rec_seal(&tx, h->plain, got, h->rec);
            FUZZ_ASSERT(h->len == got + REC_OVERHEAD && h->rec[0] == REC_TYPE, "sealed %zu", h->len);
            FUZZ_ASSERT(h->rec[1] == (uint8_t)tx.tx.epoch, "epoch byte");
            if (op % 7 == 1)
                break;
            uint64_t e = tx.tx.epoch, c = rx.rx_cur.epoch;
            bool expect = e == c || (e == c + 1 && rx.rx_next.set);
            enum rec_result res = deliver(&rx, h->rec, h->len, sizeof out, out, &out_len);
            if (expect)
                FUZZ_ASSERT(res == REC_OK, "fresh record of epoch %llu refused (%d) at epoch %llu",
                            (unsigned long long)e, (int)res, (unsigned long long)c);
            if (res == REC_OK) {
                FUZZ_ASSERT(out_len == h->plain_len && !memcmp(out, h->plain, out_len),
                            "plaintext changed");
                h->opened = true;
            }
            break;
        }
        case 2: {   /* deliver (or replay) a held record */
            if (!n_held)
                break;
            struct held *h = &held[fz_u8(&f) % (n_held < HELD ? n_held : HELD)];
            enum rec_result res = deliver(&rx, h->rec, h->len, sizeof out, out, &out_len);
            if (res == REC_OK) {
                FUZZ_ASSERT(!h->opened, "a record opened twice");
                FUZZ_ASSERT(out_len == h->plain_len && !memcmp(out, h->plain, out_len),
                            "plaintext changed");
                h->opened = true;
            }
            break;
        }
        case 3: {   /* a held record with one byte flipped */
            if (!n_held)
                break;
            struct held *h = &held[fz_u8(&f) % (n_held < HELD ? n_held : HELD)];
            uint8_t bad[sizeof h->rec];
            memcpy(bad, h->rec, h->len);
            uint8_t flip = fz_u8(&f);
            bad[fz_u16(&f) % h->len] ^= flip ? flip : 1;
            enum rec_result res = deliver(&rx, bad, h->len, sizeof out, out, &out_len);
            FUZZ_ASSERT(res != REC_OK, "a tampered record opened");
            break;
        }
        case 4: {   /* raw bytes, maybe dressed as a record */
            size_t got;
            const uint8_t *p = fz_bytes(&f, fz_u8(&f), &got);
            uint8_t raw[256];
            memcpy(raw, p, got);
            if (got >= 2 && fz_bool(&f)) {
                raw[0] = REC_TYPE;
                raw[1] = (uint8_t)rx.rx_cur.epoch + fz_u8(&f) % 3 - 1;
            }
            enum rec_result res = deliver(&rx, raw, got, sizeof out, out, &out_len);
            FUZZ_ASSERT(res != REC_OK, "forged bytes opened");
            break;
        }
        case 5: {   /* a buffer one byte too small */
            if (!n_held)
                break;
            struct held *h = &held[fz_u8(&f) % (n_held < HELD ? n_held : HELD)];
            if (!h->plain_len)
                break;
            enum rec_result res = deliver(&rx, h->rec, h->len, h->plain_len - 1, out, &out_len);
            FUZZ_ASSERT(res == REC_MALFORMED, "%zu bytes into %zu: %d", h->plain_len,
                        h->plain_len - 1, (int)res);
            break;
        }
        default:
            rec_tick(&rx);
            FUZZ_ASSERT(rx.rx_next.set, "no next epoch after a tick");
            break;
        }
    }
    rec_free(&tx);
    rec_free(&rx);
    return 0;
}
