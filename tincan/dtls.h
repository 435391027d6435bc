/* The DTLS 1.2 engine of one link: OpenSSL over a callback BIO, so it owns no
 * socket and no timer. Datagrams go in with dtls_input(), datagrams to send
 * and decrypted application records come out through callbacks; the caller
 * runs the retransmission timer from dtls_timeout_ms().
 *
 * Once the handshake is done, frames travel as evio's data records (rec.h:
 * keys exported from this handshake, rekeyed every N records) if the peer
 * agreed to them by ALPN, else as DTLS application records (an older peer;
 * no rekeying then).
 *
 * Re-handshakes (ALPN "evio-rec/2", both ends): every rekey_after_s seconds
 * (counted by dtls_tick) or rekey_after_bytes bytes sealed, the link runs a
 * fresh, full handshake (new ECDHE, the peer's certificate pinned again) on
 * a second session whose datagrams travel beside the data records behind
 * the byte DTLS_REKEY_PREFIX, and starts a new generation of records from
 * its exporter (rec.h). The client starts it; a server that is due asks
 * with a one-byte record DTLS_REKEY_ASK. No frame is lost on the way: the
 * server, which finishes first, receives with the new keys at once but
 * sends with the old ones until the first record of the new generation
 * arrives; the client, which finishes last, sends with the new keys at once
 * (a one-byte record 0x00 first, which the link counts as a keepalive) and
 * receives with the old ones until the server's first new record, then
 * REC_PREV_KEEP_TICKS more ticks for stragglers. A handshake that fails or
 * takes DTLS_REKEY_TIMEOUT_TICKS changes nothing and is tried again
 * DTLS_REKEY_RETRY_TICKS later. */
#ifndef TINCAN_DTLS_H
#define TINCAN_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evio/cert.h"
#include "rec.h"

/* Largest application record (the DTLS plaintext limit). */
#define DTLS_MAX_RECORD 16384
/* Largest handshake datagram: fits a 1500-byte path with room for IP, UDP
 * and a TURN header. */
#define DTLS_HANDSHAKE_MTU 1200

/* Re-handshakes (see above). */
#define DTLS_REKEY_PREFIX 0x2c               /* a re-handshake's datagram follows */
#define DTLS_REKEY_ASK 0x02                  /* one-byte record: server to client */
#define DTLS_REKEY_AFTER_S_DEFAULT 86400     /* a day */
#define DTLS_REKEY_AFTER_BYTES_DEFAULT (UINT64_C(1) << 40)
#define DTLS_REKEY_TIMEOUT_TICKS 30
#define DTLS_REKEY_RETRY_TICKS 60
#define DTLS_REKEY_ASK_TICKS 5               /* between a server's asks */

#define DTLS_STATUSES(X)        \
    X(HANDSHAKING, "handshaking") \
    X(ESTABLISHED, "established") \
    X(FAILED,      "failed")      \
    X(CLOSED,      "closed")

enum dtls_status {
#define DTLS_ENUM(name, str) DTLS_##name,
    DTLS_STATUSES(DTLS_ENUM)
#undef DTLS_ENUM
};
const char *dtls_status_name(enum dtls_status);

struct dtls_ctx;   /* per node: the certificate and the TLS policy */
struct dtls;       /* per link */

struct dtls_callbacks {
    /* one datagram to send to the peer (borrowed for the call) */
    void (*output)(void *aux, const uint8_t *data, size_t len);
    /* one decrypted application record (borrowed for the call) */
    void (*deliver)(void *aux, const uint8_t *data, size_t len);
};

/* Returns NULL and sets *ERR (malloc'd) on failure. CERT must outlive it. */
struct dtls_ctx *dtls_ctx_new(const struct cert *, char **err);
void dtls_ctx_free(struct dtls_ctx *);   /* accepts NULL */
/* Records per key epoch for sessions created afterwards (0: the default,
 * REC_REKEY_DEFAULT). */
void dtls_ctx_set_rekey(struct dtls_ctx *, uint64_t records);
/* Sessions created afterwards re-handshake every AFTER_S seconds (0: never
 * by time) or AFTER_BYTES bytes sent (0: never by bytes). */
void dtls_ctx_set_rehandshake(struct dtls_ctx *, uint32_t after_s, uint64_t after_bytes);
/* Sessions created afterwards neither offer nor accept data records, as an
 * evio-tincan from before them (link.data_records false; tests). */
void dtls_ctx_set_legacy(struct dtls_ctx *, bool legacy);

/* A session; CLIENT sends the first flight (dtls_start). The handshake only
 * succeeds if the peer's certificate hashes (SHA-256 over DER) to PEER_FP. */
struct dtls *dtls_new(struct dtls_ctx *, bool client, const uint8_t peer_fp[CERT_FP_LEN],
                      const struct dtls_callbacks *, void *aux);
void dtls_free(struct dtls *);           /* accepts NULL; sends nothing */

/* Client: sends the ClientHello. Server: no-op. */
void dtls_start(struct dtls *);
/* Sends close_notify if established; the session is CLOSED afterwards. */
void dtls_close(struct dtls *);

enum dtls_input_result {
    DTLS_IN_OK,        /* consumed: handshake progress or records delivered */
    DTLS_IN_DROPPED,   /* an application record that did not authenticate,
                          a DTLS replay, or garbage: discarded */
    DTLS_IN_REPLAY,    /* a data record already received: discarded */
};
/* Feeds one received datagram. Delivers application records through the
 * deliver callback; may send datagrams and change the status. */
enum dtls_input_result dtls_input(struct dtls *, const uint8_t *data, size_t len);

/* Encrypts LEN bytes (<= DTLS_MAX_RECORD) as one record and outputs it.
 * Returns false unless established. */
bool dtls_send(struct dtls *, const void *data, size_t len);

/* Milliseconds until dtls_handle_timeout() is due, or -1 for no timer. */
long dtls_timeout_ms(struct dtls *);
void dtls_handle_timeout(struct dtls *);

/* Once a second while established: drops expired record keys, runs the
 * re-handshake's timers and starts one when due. */
void dtls_tick(struct dtls *);
/* The data records in use (counters, epochs), or NULL for DTLS records. */
const struct rec *dtls_rec(const struct dtls *);

struct dtls_stats {
    const char *records;          /* REC_ALPN2, REC_ALPN or "dtls" */
    struct rec_counters c;        /* of every generation */
    uint64_t tx_epoch, rx_epoch;  /* of the generation in use */
    uint64_t generation;          /* re-handshakes completed */
    uint64_t rehandshake_failures;
};
void dtls_get_stats(const struct dtls *, struct dtls_stats *);

/* Whether REC (one of evio's data records, LEN bytes) authenticates under
 * this session's keys; a dry run that uses nothing up (rec_check). */
bool dtls_rec_authentic(struct dtls *, const uint8_t *rec, size_t len);

enum dtls_status dtls_get_status(const struct dtls *);
/* Why the session failed or closed ("fingerprint mismatch", ...), or "". */
const char *dtls_reason(const struct dtls *);
/* The negotiated cipher suite name, or "" before the handshake is done. */
const char *dtls_cipher(const struct dtls *);

#endif
