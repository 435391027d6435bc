/* evio's data records (see rec.h). */
#include "rec.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- keys ------------------------------------------------------------- */

/* HKDF-Expand (RFC 5869) with HMAC-SHA256 for at most one block:
 * OUT = first LEN bytes of HMAC(SECRET, LABEL || 0x01). */
static bool rec_expand(const uint8_t secret[REC_SECRET_LEN], const char *label, uint8_t *out,
                       size_t len)
{
    uint8_t info[32], md[EVP_MAX_MD_SIZE];
    size_t n = strlen(label);
    unsigned int mdlen = 0;
    memcpy(info, label, n);
    info[n] = 0x01;
    bool ok = HMAC(EVP_sha256(), secret, REC_SECRET_LEN, info, n + 1, md, &mdlen) != NULL
              && mdlen >= len;
    if (ok)
        memcpy(out, md, len);
    OPENSSL_cleanse(md, sizeof md);
    return ok;
}

static void rec_epoch_free(struct rec_epoch *e)
{
    EVP_CIPHER_CTX_free(e->ctx);   /* cleanses the key schedule */
    OPENSSL_cleanse(e, sizeof *e);
    memset(e, 0, sizeof *e);
}

/* E becomes epoch NUM with the key and IV of SECRET, for sealing or
 * opening. */
static bool rec_epoch_init(struct rec_epoch *e, const uint8_t secret[REC_SECRET_LEN],
                           uint64_t num, bool seal)
{
    uint8_t key[REC_KEY_LEN];
    memset(e, 0, sizeof *e);
    e->epoch = num;
    e->ctx = EVP_CIPHER_CTX_new();
    bool ok = e->ctx && rec_expand(secret, "evio rec key", key, sizeof key)
              && rec_expand(secret, "evio rec iv", e->iv, sizeof e->iv)
              && (seal ? EVP_EncryptInit_ex(e->ctx, EVP_aes_256_gcm(), NULL, key, NULL)
                       : EVP_DecryptInit_ex(e->ctx, EVP_aes_256_gcm(), NULL, key, NULL)) == 1;
    OPENSSL_cleanse(key, sizeof key);
    if (!ok) {
        rec_epoch_free(e);
        return false;
    }
    e->set = true;
    return true;
}

/* SECRET becomes the next epoch's secret; the old one is gone. */
static bool rec_ratchet(uint8_t secret[REC_SECRET_LEN])
{
    uint8_t next[REC_SECRET_LEN];
    bool ok = rec_expand(secret, "evio rec next", next, sizeof next);
    memcpy(secret, next, sizeof next);
    OPENSSL_cleanse(next, sizeof next);
    return ok;
}

/* The receiver's next epoch, derived ahead from rx_secret (which then
 * holds the one after it). */
static bool rec_rx_prepare_next(struct rec *r, uint64_t num)
{
    return rec_epoch_init(&r->rx_next, r->rx_secret, num, false) && rec_ratchet(r->rx_secret);
}

bool rec_init(struct rec *r, const uint8_t tx_secret[REC_SECRET_LEN],
              const uint8_t rx_secret[REC_SECRET_LEN], uint64_t rekey)
{
    return rec_init_gen(r, tx_secret, rx_secret, rekey, 0);
}

bool rec_init_gen(struct rec *r, const uint8_t tx_secret[REC_SECRET_LEN],
                  const uint8_t rx_secret[REC_SECRET_LEN], uint64_t rekey, unsigned gen)
{
    memset(r, 0, sizeof *r);
    r->type = gen & 1 ? REC_TYPE_ODD : REC_TYPE;
    r->rekey = rekey == 0 ? 1 : rekey > REC_SEQ_MAX ? REC_SEQ_MAX : rekey;
    memcpy(r->tx_secret, tx_secret, REC_SECRET_LEN);
    memcpy(r->rx_secret, rx_secret, REC_SECRET_LEN);
    if (!rec_epoch_init(&r->tx, r->tx_secret, 0, true)
        || !rec_epoch_init(&r->rx_cur, r->rx_secret, 0, false) || !rec_ratchet(r->rx_secret)
        || !rec_rx_prepare_next(r, 1)) {
        rec_free(r);
        return false;
    }
    return true;
}

void rec_free(struct rec *r)
{
    rec_epoch_free(&r->tx);
    rec_epoch_free(&r->rx_prev);
    rec_epoch_free(&r->rx_cur);
    rec_epoch_free(&r->rx_next);
    OPENSSL_cleanse(r->tx_secret, sizeof r->tx_secret);
    OPENSSL_cleanse(r->rx_secret, sizeof r->rx_secret);
}

/* ---- the replay window ------------------------------------------------ */

static bool rec_bit(const struct rec_epoch *e, uint64_t seq)
{
    uint64_t i = seq % REC_WINDOW;
    return e->window[i / 64] >> (i % 64) & 1;
}

bool rec_window_check(const struct rec_epoch *e, uint64_t seq)
{
    if (!e->any || seq > e->top)
        return true;
    if (e->top - seq >= REC_WINDOW)
        return false;   /* older than the window: cannot tell, so refuse */
    return !rec_bit(e, seq);
}

void rec_window_mark(struct rec_epoch *e, uint64_t seq)
{
    if (!e->any || seq > e->top) {
        if (!e->any || seq - e->top >= REC_WINDOW) {
            memset(e->window, 0, sizeof e->window);
        } else {
            /* the numbers the window slides over were not seen (their bits
             * still say whether the ones REC_WINDOW below them were) */
            for (uint64_t s = e->top + 1; s < seq; s++) {
                uint64_t i = s % REC_WINDOW;
                e->window[i / 64] &= ~(UINT64_C(1) << (i % 64));
            }
        }
        e->top = seq;
        e->any = true;
    }
    uint64_t i = seq % REC_WINDOW;
    e->window[i / 64] |= UINT64_C(1) << (i % 64);
}

/* ---- sealing and opening ---------------------------------------------- */

static void rec_nonce(const struct rec_epoch *e, uint64_t seq, uint8_t nonce[REC_IV_LEN])
{
    memcpy(nonce, e->iv, REC_IV_LEN);
    for (int i = 0; i < 8; i++)
        nonce[REC_IV_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

size_t rec_seal(struct rec *r, const uint8_t *in, size_t len, uint8_t *out)
{
    if (r->tx_seq >= r->rekey || (r->tx_seq > 0 && r->tx_ticks >= REC_EPOCH_MAX_TICKS)) {
        struct rec_epoch next;
        if (!rec_ratchet(r->tx_secret) || !rec_epoch_init(&next, r->tx_secret, r->tx.epoch + 1, true))
            return 0;   /* the old key is not used past its limit either way */
        rec_epoch_free(&r->tx);
        r->tx = next;
        r->tx_seq = 0;
        r->tx_ticks = 0;
        r->c.rekeys_tx++;
    }
    uint64_t seq = r->tx_seq++;
    out[0] = r->type;
    out[1] = (uint8_t)r->tx.epoch;
    for (int i = 0; i < 6; i++)
        out[2 + i] = (uint8_t)(seq >> (8 * (5 - i)));
    uint8_t nonce[REC_IV_LEN];
    rec_nonce(&r->tx, seq, nonce);
    EVP_CIPHER_CTX *ctx = r->tx.ctx;
    int n1 = 0, n2 = 0, n0 = 0;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n0, out, REC_HDR) != 1
        || EVP_EncryptUpdate(ctx, out + REC_HDR, &n1, in, (int)len) != 1
        || EVP_EncryptFinal_ex(ctx, out + REC_HDR + n1, &n2) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, REC_TAG, out + REC_HDR + len) != 1)
        return 0;
    return REC_HDR + len + REC_TAG;
}

/* rec_open, or its dry run (COMMIT false: nothing counted or marked). */
static enum rec_result rec_open_in(struct rec *r, const uint8_t *in, size_t len, uint8_t *out,
                                   size_t out_cap, size_t *out_len, bool commit)
{
    struct rec_counters scratch = { 0 };
    struct rec_counters *c = commit ? &r->c : &scratch;
    if (len < REC_OVERHEAD || in[0] != r->type || len - REC_OVERHEAD > out_cap) {
        c->drop_malformed++;
        return REC_MALFORMED;
    }
    struct rec_epoch *e = NULL;
    if (r->rx_cur.set && in[1] == (uint8_t)r->rx_cur.epoch)
        e = &r->rx_cur;
    else if (r->rx_next.set && in[1] == (uint8_t)r->rx_next.epoch)
        e = &r->rx_next;
    else if (r->rx_prev.set && in[1] == (uint8_t)r->rx_prev.epoch)
        e = &r->rx_prev;
    if (!e) {
        c->drop_epoch++;
        return REC_EPOCH;
    }
    uint64_t seq = 0;
    for (int i = 2; i < REC_HDR; i++)
        seq = seq << 8 | in[i];
    if (!rec_window_check(e, seq)) {
        c->drop_replay++;
        return REC_REPLAY;
    }
    size_t clen = len - REC_HDR - REC_TAG;
    uint8_t nonce[REC_IV_LEN], tag[REC_TAG];
    rec_nonce(e, seq, nonce);
    memcpy(tag, in + len - REC_TAG, REC_TAG);
    EVP_CIPHER_CTX *ctx = e->ctx;
    int n0 = 0, n1 = 0, n2 = 0;
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1
        || EVP_DecryptUpdate(ctx, NULL, &n0, in, REC_HDR) != 1
        || EVP_DecryptUpdate(ctx, out, &n1, in + REC_HDR, (int)clen) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, REC_TAG, tag) != 1
        || EVP_DecryptFinal_ex(ctx, out + n1, &n2) != 1) {
        c->drop_auth++;
        return REC_AUTH;
    }
    *out_len = clen;
    if (!commit)
        return REC_OK;
    rec_window_mark(e, seq);
    if (e == &r->rx_next) {
        /* the peer moved on: next becomes current, current is kept a while
         * for records still on their way */
        rec_epoch_free(&r->rx_prev);
        r->rx_prev = r->rx_cur;
        r->prev_ticks = REC_PREV_KEEP_TICKS;
        r->rx_cur = r->rx_next;
        memset(&r->rx_next, 0, sizeof r->rx_next);
        (void)rec_rx_prepare_next(r, r->rx_cur.epoch + 1);   /* if not: no next for now */
        r->c.rekeys_rx++;
    }
    return REC_OK;
}

enum rec_result rec_open(struct rec *r, const uint8_t *in, size_t len, uint8_t *out,
                         size_t out_cap, size_t *out_len)
{
    return rec_open_in(r, in, len, out, out_cap, out_len, true);
}

enum rec_result rec_check(struct rec *r, const uint8_t *in, size_t len, uint8_t *out,
                          size_t out_cap)
{
    size_t n;
    return rec_open_in(r, in, len, out, out_cap, &n, false);
}

void rec_tick(struct rec *r)
{
    if (r->tx_ticks < UINT32_MAX)
        r->tx_ticks++;
    if (r->rx_prev.set && --r->prev_ticks <= 0)
        rec_epoch_free(&r->rx_prev);
    if (!r->rx_next.set)   /* an earlier derivation failed: try again */
        (void)rec_rx_prepare_next(r, r->rx_cur.epoch + 1);
}
