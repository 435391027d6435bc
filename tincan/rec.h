/* evio's data records: the frames of a link once its DTLS handshake is done.
 *
 * The handshake (dtls.c) authenticates the peer by its pinned certificate
 * and agrees on the "evio-rec/1" ALPN protocol; both sides then export 64
 * bytes of keying material (RFC 5705, label "EXPORTER-evio-rec/1", over an
 * extended master secret, RFC 7627): the first 32 are the client-to-server
 * traffic secret, the last 32 the server-to-client one. DTLS itself stays
 * for alerts (close_notify).
 *
 * A record is one UDP datagram:
 *
 *   0      1       2                8                         len
 *   | 0x2e | epoch | sequence (48 bits, big-endian) | AES-256-GCM ciphertext + tag |
 *
 * The first byte falls in RFC 7983's DTLS range (20..63) and is no DTLS
 * content type, so a receiver tells records from DTLS and STUN by it. The
 * 8-byte header is the AEAD's associated data; the nonce is the epoch's IV
 * XOR the sequence number (as TLS 1.3's), and a sender's sequence numbers
 * start at 0 in each epoch and never repeat in it.
 *
 * Keys (HKDF-Expand with HMAC-SHA256, one block, RFC 5869):
 *   key    = Expand(secret, "evio rec key", 32)
 *   iv     = Expand(secret, "evio rec iv", 12)
 *   secret' = Expand(secret, "evio rec next", 32)   (the next epoch's)
 * A sender moves to the next epoch after REKEY records (2^24 by default,
 * under the 2^24.5 records per AES-GCM key RFC 8446 section 5.5 allows) and
 * forgets the old secret, so a key found later does not open earlier
 * epochs. A receiver holds three epochs: the previous one (until
 * REC_PREV_KEEP_TICKS calls of rec_tick() after the switch, for records
 * still in flight), the
 * current one, and the next one (derived ahead, so a forged "next" record
 * costs one decryption attempt, not a key derivation). The first record of
 * the next epoch that authenticates moves the receiver on.
 *
 * A sender also moves on once an epoch is REC_EPOCH_MAX_TICKS ticks old
 * (rec_tick() runs once a second), so a key's use is bounded in time too.
 *
 * Replays: each epoch has a window of the last REC_WINDOW sequence numbers
 * (RFC 6347 section 4.1.2.6); a number is marked only once its record
 * authenticated, and anything older than the window is refused.
 *
 * Generations: with ALPN "evio-rec/2" the link runs a fresh handshake now
 * and then (dtls.h, re-handshake) and starts a new struct rec from its
 * exported secrets; the first byte tells the generations apart, REC_TYPE in
 * even ones and REC_TYPE_ODD in odd ones, so a receiver holding two knows
 * which keys a record needs. */
#ifndef TINCAN_REC_H
#define TINCAN_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_TYPE 0x2e
#define REC_TYPE_ODD 0x2f        /* the same in odd generations */
#define REC_HDR 8
#define REC_TAG 16
#define REC_OVERHEAD (REC_HDR + REC_TAG)
#define REC_SECRET_LEN 32
#define REC_KEY_LEN 32
#define REC_IV_LEN 12
#define REC_SEQ_MAX ((UINT64_C(1) << 48) - 1)
#define REC_REKEY_DEFAULT (UINT64_C(1) << 24)
#define REC_WINDOW 1024
#define REC_PREV_KEEP_TICKS 10   /* rec_tick() runs once a second */
#define REC_EPOCH_MAX_TICKS 600  /* a sending epoch's longest life, in ticks */
#define REC_ALPN "evio-rec/1"
#define REC_ALPN2 "evio-rec/2"   /* the same records, and re-handshakes */
#define REC_EXPORT_LABEL "EXPORTER-evio-rec/1"

struct rec_epoch {
    bool set;
    uint64_t epoch;
    void *ctx;                        /* EVP_CIPHER_CTX with the key */
    uint8_t iv[REC_IV_LEN];
    uint64_t top;                     /* highest sequence that authenticated */
    bool any;                         /* top is valid */
    uint64_t window[REC_WINDOW / 64]; /* bit (seq % REC_WINDOW): seen */
};

struct rec_counters {
    uint64_t rekeys_tx, rekeys_rx;
    uint64_t drop_replay;    /* already seen, or older than the window */
    uint64_t drop_auth;      /* did not authenticate */
    uint64_t drop_epoch;     /* an epoch this side has no key for */
    uint64_t drop_malformed; /* too short, or not a record */
};

struct rec {
    uint64_t rekey;                   /* records per epoch */
    uint8_t type;                     /* first byte: REC_TYPE or REC_TYPE_ODD */
    uint32_t tx_ticks;                /* rec_tick()s since the sending epoch began */
    /* sending */
    uint8_t tx_secret[REC_SECRET_LEN];
    struct rec_epoch tx;
    uint64_t tx_seq;
    /* receiving */
    uint8_t rx_secret[REC_SECRET_LEN]; /* the next epoch's, once derived */
    struct rec_epoch rx_prev, rx_cur, rx_next;
    int prev_ticks;                   /* rec_tick()s left for rx_prev */
    struct rec_counters c;
};

enum rec_result {
    REC_OK,
    REC_MALFORMED,
    REC_EPOCH,      /* no key for that epoch (too old, or ahead of next) */
    REC_REPLAY,
    REC_AUTH,
};

/* Starts both directions in epoch 0 from the exported secrets; REKEY is the
 * records per epoch (1..REC_SEQ_MAX). Returns false if OpenSSL fails. */
bool rec_init(struct rec *, const uint8_t tx_secret[REC_SECRET_LEN],
              const uint8_t rx_secret[REC_SECRET_LEN], uint64_t rekey);
/* The same for generation GEN: its records start with REC_TYPE or
 * REC_TYPE_ODD as GEN is even or odd. */
bool rec_init_gen(struct rec *, const uint8_t tx_secret[REC_SECRET_LEN],
                  const uint8_t rx_secret[REC_SECRET_LEN], uint64_t rekey, unsigned gen);
/* Frees and cleanses every key; accepts an uninitialized (zeroed) one. */
void rec_free(struct rec *);

/* Seals LEN bytes of IN into OUT (which holds LEN + REC_OVERHEAD bytes);
 * returns the record's length, or 0 if OpenSSL failed. Moves to the next
 * epoch first when this one has used its records. */
size_t rec_seal(struct rec *, const uint8_t *in, size_t len, uint8_t *out);

/* Opens record IN of LEN bytes into OUT, which holds OUT_CAP bytes (a
 * record whose plaintext would not fit is malformed); on REC_OK *OUT_LEN is
 * the plaintext's length. OUT may hold unauthenticated bytes after a
 * failure. A failure is counted in the counters and changes nothing else. */
enum rec_result rec_open(struct rec *, const uint8_t *in, size_t len, uint8_t *out,
                         size_t out_cap, size_t *out_len);

/* A dry run of rec_open: whether record IN would open (REC_OK) or why not,
 * decrypting into OUT (OUT_CAP bytes) but marking nothing, moving no epoch
 * and counting nothing, so the record still opens once for real. For
 * deciding whom to believe before acting on a record (turnlearn.h). */
enum rec_result rec_check(struct rec *, const uint8_t *in, size_t len, uint8_t *out,
                          size_t out_cap);

/* Once a second: forgets the previous epoch's key once its time is up, and
 * ages the sending epoch (REC_EPOCH_MAX_TICKS). */
void rec_tick(struct rec *);

/* The epochs in use, for stats. */
static inline uint64_t rec_tx_epoch(const struct rec *r) { return r->tx.epoch; }
static inline uint64_t rec_rx_epoch(const struct rec *r) { return r->rx_cur.epoch; }

/* The replay window alone, for tests: may SEQ be accepted, and mark it. */
bool rec_window_check(const struct rec_epoch *, uint64_t seq);
void rec_window_mark(struct rec_epoch *, uint64_t seq);

#endif
