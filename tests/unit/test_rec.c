/* Unit tests for tincan/rec.c, evio's data records: every length crosses
 * intact; the format is the documented one (checked by decrypting a record
 * with keys derived here by hand); sequence numbers never repeat; replays,
 * tampered bytes, reflected records and garbage are refused and counted
 * without moving the window; rekeying moves both sides through epochs, late
 * records of the previous epoch are accepted until its key is dropped, and
 * a record beyond the next epoch is refused. */
#include "check.h"
#include "../../tincan/rec.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define BUF 2048

static uint8_t s_ab[REC_SECRET_LEN], s_ba[REC_SECRET_LEN];

/* A sends with s_ab, B receives with it (and the reverse with s_ba). */
static void pair(struct rec *a, struct rec *b, uint64_t rekey)
{
    for (int i = 0; i < REC_SECRET_LEN; i++) {
        s_ab[i] = (uint8_t)(i * 7 + 1);
        s_ba[i] = (uint8_t)(i * 13 + 5);
    }
    CHECK(rec_init(a, s_ab, s_ba, rekey));
    CHECK(rec_init(b, s_ba, s_ab, rekey));
}

static uint64_t seq_of(const uint8_t *rec)
{
    uint64_t s = 0;
    for (int i = 2; i < REC_HDR; i++)
        s = s << 8 | rec[i];
    return s;
}

static void test_roundtrip(void)
{
    struct rec a, b;
    pair(&a, &b, REC_REKEY_DEFAULT);
    uint8_t in[1600], rec[BUF], out[BUF];
    bool all = true, seqs = true;
    for (size_t len = 1; len <= 1500; len++) {
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)(len + i);
        size_t n = rec_seal(&a, in, len, rec);
        size_t got = 0;
        if (n != len + REC_OVERHEAD || rec[0] != REC_TYPE || rec[1] != 0 || seq_of(rec) != len - 1)
            seqs = false;
        if (rec_open(&b, rec, n, out, sizeof out, &got) != REC_OK || got != len || memcmp(in, out, len))
            all = false;
    }
    CHECK(all);
    CHECK(seqs);   /* 0, 1, 2, ... in epoch 0 */
    /* the same plaintext twice: different records (different nonces) */
    uint8_t r1[BUF], r2[BUF];
    size_t n1 = rec_seal(&a, in, 100, r1), n2 = rec_seal(&a, in, 100, r2);
    CHECK(n1 == n2 && memcmp(r1 + REC_HDR, r2 + REC_HDR, 100) != 0);
    /* the other direction */
    size_t got = 0, n = rec_seal(&b, in, 64, rec);
    CHECK(rec_open(&a, rec, n, out, sizeof out, &got) == REC_OK && got == 64 && !memcmp(in, out, 64));
    rec_free(&a);
    rec_free(&b);
}

/* Decrypts A's first record with keys derived here from rec.h's text. */
static void test_format(void)
{
    struct rec a, b;
    pair(&a, &b, REC_REKEY_DEFAULT);
    const uint8_t msg[] = "evio frame";
    uint8_t rec[BUF], out[BUF];
    uint8_t key[32], iv[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), s_ab, sizeof s_ab, (const uint8_t *)"evio rec key\x01", 13, key, &len);
    HMAC(EVP_sha256(), s_ab, sizeof s_ab, (const uint8_t *)"evio rec iv\x01", 12, iv, &len);
    for (int seq = 0; seq < 3; seq++) {
        size_t n = rec_seal(&a, msg, sizeof msg, rec);
        CHECK(n == sizeof msg + REC_OVERHEAD);
        CHECK(rec[0] == REC_TYPE && rec[1] == 0 && seq_of(rec) == (uint64_t)seq);
        /* nonce: the IV with the sequence number XORed into its end */
        uint8_t nonce[12];
        memcpy(nonce, iv, 12);
        nonce[11] ^= (uint8_t)seq;
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int n0 = 0, n1 = 0, n2 = 0;
        uint8_t tag[16];
        memcpy(tag, rec + n - 16, 16);
        int ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1
                 && EVP_DecryptUpdate(ctx, NULL, &n0, rec, 8) == 1
                 && EVP_DecryptUpdate(ctx, out, &n1, rec + 8, (int)sizeof msg) == 1
                 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1
                 && EVP_DecryptFinal_ex(ctx, out + n1, &n2) == 1;
        EVP_CIPHER_CTX_free(ctx);
        CHECK(ok && !memcmp(out, msg, sizeof msg));
    }
    rec_free(&a);
    rec_free(&b);
}

static void test_window(void)
{
    struct rec_epoch e;
    memset(&e, 0, sizeof e);
    CHECK(rec_window_check(&e, 5));
    rec_window_mark(&e, 5);
    CHECK(!rec_window_check(&e, 5));
    CHECK(rec_window_check(&e, 4));    /* late, unseen */
    rec_window_mark(&e, 4);
    CHECK(!rec_window_check(&e, 4));
    CHECK(rec_window_check(&e, 6));
    rec_window_mark(&e, 5 + REC_WINDOW - 1);
    CHECK(!rec_window_check(&e, 5));   /* still inside, seen */
    CHECK(rec_window_check(&e, 6));    /* inside, unseen */
    rec_window_mark(&e, 5 + REC_WINDOW);
    CHECK(!rec_window_check(&e, 5));   /* slid out: refused */
    CHECK(rec_window_check(&e, 7));
    /* a jump past the whole window forgets it */
    rec_window_mark(&e, 100000);
    CHECK(!rec_window_check(&e, 100000));
    CHECK(rec_window_check(&e, 100000 - 1));
    CHECK(!rec_window_check(&e, 100000 - REC_WINDOW));
    /* bits reused from below the window are cleared as it slides */
    memset(&e, 0, sizeof e);
    for (uint64_t s = 0; s < REC_WINDOW; s++)
        rec_window_mark(&e, s);
    rec_window_mark(&e, REC_WINDOW + 10);
    CHECK(rec_window_check(&e, REC_WINDOW + 3));
    CHECK(!rec_window_check(&e, 11));
}

static void test_refused(void)
{
    struct rec a, b;
    pair(&a, &b, REC_REKEY_DEFAULT);
    uint8_t in[200], rec[BUF], bad[BUF], out[BUF];
    memset(in, 0xab, sizeof in);
    size_t got = 0, n = rec_seal(&a, in, sizeof in, rec);

    /* every byte flipped: refused, counted, and nothing moves */
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, rec, n);
        bad[i] ^= 0x01;
        if (rec_open(&b, bad, n, out, sizeof out, &got) != REC_OK)
            refused++;
    }
    CHECK(refused == (int)n);
    CHECK(b.c.drop_malformed == 1);   /* the type byte */
    CHECK(b.c.drop_auth == n - 1);    /* the rest; epoch 0 -> 1 tries "next" */
    CHECK(b.c.drop_epoch == 0);
    CHECK(b.c.drop_replay == 0);
    /* the genuine record still opens: no forgery marked its number */
    CHECK(rec_open(&b, rec, n, out, sizeof out, &got) == REC_OK && got == sizeof in);
    CHECK(rec_open(&b, rec, n, out, sizeof out, &got) == REC_REPLAY);
    CHECK(b.c.drop_replay == 1);
    CHECK(rec_rx_epoch(&b) == 0);               /* no forged "next" moved it */

    /* short or foreign datagrams */
    for (size_t len = 0; len < REC_OVERHEAD; len++)
        CHECK(rec_open(&b, rec, len, out, sizeof out, &got) == REC_MALFORMED);
    /* plaintext longer than the room for it: refused before decrypting */
    CHECK(rec_open(&b, rec, n, out, sizeof in - 1, &got) == REC_MALFORMED);
    CHECK(rec_open(&b, rec, n, out, sizeof in, &got) == REC_REPLAY);
    bad[0] = 23;   /* a DTLS application record's first byte */
    CHECK(rec_open(&b, bad, n, out, sizeof out, &got) == REC_MALFORMED);

    /* reflected: A's record back to A fails (its receive key is B's) */
    n = rec_seal(&a, in, sizeof in, rec);
    CHECK(rec_open(&a, rec, n, out, sizeof out, &got) == REC_AUTH);
    /* another session's key */
    struct rec c, d;
    uint8_t other[REC_SECRET_LEN];
    memcpy(other, s_ab, sizeof other);
    other[0] ^= 1;
    CHECK(rec_init(&c, other, s_ba, REC_REKEY_DEFAULT));
    CHECK(rec_init(&d, s_ba, s_ab, REC_REKEY_DEFAULT));
    n = rec_seal(&c, in, sizeof in, rec);
    CHECK(rec_open(&d, rec, n, out, sizeof out, &got) == REC_AUTH);
    rec_free(&a);
    rec_free(&b);
    rec_free(&c);
    rec_free(&d);
}

static void test_rekey(void)
{
    struct rec a, b;
    pair(&a, &b, 4);
    uint8_t in[64], rec[BUF], out[BUF], late[BUF];
    size_t got = 0, late_n = 0;
    bool all = true;
    for (int i = 0; i < 20; i++) {
        memset(in, i, sizeof in);
        size_t n = rec_seal(&a, in, sizeof in, rec);
        if (rec[1] != (uint8_t)(i / 4) || seq_of(rec) != (uint64_t)(i % 4))
            all = false;
        if (i == 14) {   /* held back: arrives after epoch 4 began */
            memcpy(late, rec, n);
            late_n = n;
            continue;
        }
        if (rec_open(&b, rec, n, out, sizeof out, &got) != REC_OK || got != sizeof in || out[0] != i)
            all = false;
    }
    CHECK(all);
    CHECK(rec_tx_epoch(&a) == 4 && a.c.rekeys_tx == 4);
    CHECK(rec_rx_epoch(&b) == 4 && b.c.rekeys_rx == 4);
    /* the previous epoch's record, in time: accepted once */
    CHECK(rec_open(&b, late, late_n, out, sizeof out, &got) == REC_OK && out[0] == 14);
    CHECK(rec_open(&b, late, late_n, out, sizeof out, &got) == REC_REPLAY);
    /* after the previous key's time: it is gone */
    for (int t = 0; t < REC_PREV_KEEP_TICKS - 1; t++)
        rec_tick(&b);
    CHECK(b.rx_prev.set);              /* one tick short of its time */
    rec_tick(&b);
    CHECK(rec_open(&b, late, late_n, out, sizeof out, &got) == REC_EPOCH);
    /* a record two epochs ahead (the receiver missed a whole epoch) */
    for (int i = 0; i < 8; i++)
        rec_seal(&a, in, sizeof in, rec);
    CHECK(rec[1] == 6);
    CHECK(rec_open(&b, rec, rec_seal(&a, in, sizeof in, rec), out, sizeof out,
                   &got) == REC_EPOCH);
    rec_free(&a);
    rec_free(&b);
}

/* rec_check is a dry run: a record that would open still opens afterwards
 * (its number unmarked, no epoch moved, nothing counted); a tampered or
 * replayed one is refused by it too. */
static void test_check(void)
{
    struct rec a, b;
    pair(&a, &b, 4);
    uint8_t in[64] = { 1, 2, 3 }, rec[BUF], out[BUF];
    size_t got = 0;
    for (int i = 0; i < 4; i++)   /* epoch 0 used up: the next record is epoch 1 */
        CHECK(rec_open(&b, rec, rec_seal(&a, in, sizeof in, rec), out, sizeof out, &got) == REC_OK);
    size_t n = rec_seal(&a, in, sizeof in, rec);
    CHECK(rec[1] == 1);
    struct rec_counters before = b.c;
    CHECK(rec_check(&b, rec, n, out, sizeof out) == REC_OK);
    CHECK(rec_check(&b, rec, n, out, sizeof out) == REC_OK);   /* nothing marked */
    CHECK(rec_rx_epoch(&b) == 0 && b.c.rekeys_rx == before.rekeys_rx);
    rec[n - 1] ^= 1;
    CHECK(rec_check(&b, rec, n, out, sizeof out) == REC_AUTH);
    CHECK(memcmp(&before, &b.c, sizeof before) == 0);        /* nothing counted */
    rec[n - 1] ^= 1;
    CHECK(rec_open(&b, rec, n, out, sizeof out, &got) == REC_OK && got == sizeof in);
    CHECK(rec_rx_epoch(&b) == 1);
    CHECK(rec_check(&b, rec, n, out, sizeof out) == REC_REPLAY);
    rec_free(&a);
    rec_free(&b);
}

/* A sending epoch also ends with time: REC_EPOCH_MAX_TICKS ticks after it
 * began, the next record starts a new one, which the receiver follows. An
 * idle sender does not move on. */
static void test_epoch_time(void)
{
    struct rec a, b;
    pair(&a, &b, REC_REKEY_DEFAULT);
    uint8_t in[32] = { 9 }, rec[BUF], out[BUF];
    size_t got = 0;
    CHECK(rec_open(&b, rec, rec_seal(&a, in, sizeof in, rec), out, sizeof out, &got) == REC_OK);
    for (int t = 0; t < REC_EPOCH_MAX_TICKS - 1; t++)
        rec_tick(&a);
    CHECK(rec_seal(&a, in, sizeof in, rec) && rec[1] == 0);
    rec_tick(&a);
    size_t n = rec_seal(&a, in, sizeof in, rec);
    CHECK(rec[1] == 1 && rec_tx_epoch(&a) == 1 && a.c.rekeys_tx == 1);
    CHECK(rec_open(&b, rec, n, out, sizeof out, &got) == REC_OK && rec_rx_epoch(&b) == 1);
    /* generations: odd ones have their own first byte */
    struct rec c;
    CHECK(rec_init_gen(&c, s_ab, s_ba, REC_REKEY_DEFAULT, 3));
    CHECK(rec_seal(&c, in, sizeof in, rec) && rec[0] == REC_TYPE_ODD);
    uint8_t odd[BUF];
    size_t on = rec_seal(&c, in, sizeof in, odd);
    CHECK(rec_open(&b, odd, on, out, sizeof out, &got) == REC_MALFORMED);
    rec_free(&a);
    rec_free(&b);
    rec_free(&c);
}

int main(void)
{
    test_roundtrip();
    test_format();
    test_window();
    test_refused();
    test_rekey();
    test_check();
    test_epoch_time();
    return check_report("test_rec");
}
