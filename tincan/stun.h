/* STUN (RFC 8489, 5389) and TURN (RFC 8656, 5766) messages, as far as
 * evio-tincan's server probes need them: a codec over bounded buffers and
 * the exchange of one probe (Binding; Allocate with long-term credentials,
 * then Refresh to release). Pure: no sockets, no clocks, no randomness (the
 * caller supplies transaction IDs); servers.c does the I/O. */
#ifndef TINCAN_STUN_H
#define TINCAN_STUN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STUN_HDR_LEN    20
#define STUN_TID_LEN    12
#define STUN_COOKIE     0x2112A442u
#define STUN_KEY_LEN    16        /* MD5(user:realm:password) */
#define STUN_HMAC_LEN   20        /* MESSAGE-INTEGRITY, HMAC-SHA1 */
#define STUN_MAX_MSG    1280      /* longest message decoded or built */
/* longest REALM, NONCE and USERNAME a probe accepts or sends (the RFCs
 * allow 763 bytes, real servers use a few dozen) */
#define STUN_MAX_TEXT   255

enum stun_method {
    STUN_BINDING  = 0x001,
    STUN_ALLOCATE = 0x003,
    STUN_REFRESH  = 0x004,
};

enum stun_class {
    STUN_REQUEST    = 0,
    STUN_INDICATION = 1,
    STUN_SUCCESS    = 2,
    STUN_ERROR      = 3,
};

enum stun_attr {
    STUN_A_MAPPED_ADDRESS      = 0x0001,
    STUN_A_USERNAME            = 0x0006,
    STUN_A_MESSAGE_INTEGRITY   = 0x0008,
    STUN_A_ERROR_CODE          = 0x0009,
    STUN_A_LIFETIME            = 0x000D,
    STUN_A_REALM               = 0x0014,
    STUN_A_NONCE               = 0x0015,
    STUN_A_XOR_RELAYED_ADDRESS = 0x0016,
    STUN_A_REQUESTED_TRANSPORT = 0x0019,
    STUN_A_XOR_MAPPED_ADDRESS  = 0x0020,
    STUN_A_SOFTWARE            = 0x8022,
    STUN_A_FINGERPRINT         = 0x8028,
};

/* The fixed header, as on the wire (big-endian fields). */
struct stun_hdr {
    uint16_t type;                /* method and class, interleaved */
    uint16_t length;              /* of the attributes, a multiple of 4 */
    uint32_t cookie;              /* STUN_COOKIE */
    uint8_t tid[STUN_TID_LEN];
} __attribute__((packed));
_Static_assert(sizeof(struct stun_hdr) == STUN_HDR_LEN, "STUN header is 20 bytes");

uint16_t stun_type(enum stun_method, enum stun_class);
enum stun_method stun_type_method(uint16_t type);
enum stun_class stun_type_class(uint16_t type);

/* ---- decoding ----------------------------------------------------------- */

/* What one message says, pointing into the buffer it was decoded from
 * (which must outlive it). Only the attributes before MESSAGE-INTEGRITY
 * count (RFC 8489 14.5), plus a FINGERPRINT after it. */
struct stun_msg {
    const uint8_t *buf;
    size_t len;
    uint16_t type;
    uint8_t tid[STUN_TID_LEN];

    int error_code;               /* 300..699, 0 without ERROR-CODE */
    char reason[64];              /* its phrase, printable ASCII only, cut */
    const uint8_t *realm, *nonce; /* NULL when absent */
    size_t realm_len, nonce_len;
    bool has_mapped, has_relayed, has_lifetime;
    struct sockaddr_in mapped;    /* XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (IPv4) */
    struct sockaddr_in relayed;   /* XOR-RELAYED-ADDRESS (IPv4) */
    uint32_t lifetime;
    size_t integrity_at;          /* offset of MESSAGE-INTEGRITY's header; 0: none */
    size_t fingerprint_at;        /* offset of FINGERPRINT's header; 0: none */
};

/* Decodes BUF (LEN bytes, one datagram). Returns NULL and fills *M, or a
 * static string saying what is wrong ("not STUN", "length mismatch", ...).
 * Never reads outside BUF. */
const char *stun_decode(struct stun_msg *m, const uint8_t *buf, size_t len);

/* Whether M's MESSAGE-INTEGRITY is the HMAC-SHA1 of it under KEY; false
 * without one. */
bool stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len);
/* Whether M's FINGERPRINT is right; true without one. */
bool stun_check_fingerprint(const struct stun_msg *m);

/* The long-term credential key MD5(USER ":" REALM ":" PASSWORD) into KEY
 * (RFC 8489 9.2.2; passwords are taken as given, no SASLprep). The input
 * is wiped from memory; wipe KEY when done (OPENSSL_cleanse). False (KEY
 * wiped) if memory or MD5 is missing. */
bool stun_long_term_key(const char *user, const uint8_t *realm, size_t realm_len,
                        const char *password, uint8_t key[STUN_KEY_LEN]);

/* "401 Unauthorized"-style name of an error code (the RFCs' phrases). */
const char *stun_error_name(int code);

/* ---- encoding ----------------------------------------------------------- */

/* A message being built into BUF. Any write that would not fit sets
 * OVERFLOW and writes nothing; stun_end then returns 0. */
struct stun_writer {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
};

void stun_begin(struct stun_writer *w, uint8_t *buf, size_t cap, enum stun_method,
                enum stun_class, const uint8_t tid[STUN_TID_LEN]);
void stun_put(struct stun_writer *w, uint16_t type, const void *value, size_t len);
void stun_put_u32(struct stun_writer *w, uint16_t type, uint32_t value);
/* MESSAGE-INTEGRITY over everything written so far, under KEY. */
void stun_put_integrity(struct stun_writer *w, const uint8_t *key, size_t key_len);
void stun_put_fingerprint(struct stun_writer *w);
/* The message's length, or 0 if it did not fit. */
size_t stun_end(const struct stun_writer *w);

/* ---- one probe of one server -------------------------------------------- */

/* A Binding probe asks a STUN server where it sees us. An Allocate probe
 * asks a TURN server for a relay: first without credentials, to learn the
 * realm and nonce from its 401; then with them (and again with a fresh
 * nonce after a 438). A granted allocation is released at once by a Refresh
 * with LIFETIME 0 (in RELEASE, for the caller to send). The caller sends
 * REQ, resends it until an answer or its patience ends, and feeds every
 * datagram from the server to stun_probe_input. */

#define STUN_PROBE_STATES(X)     \
    X(PENDING, "pending")        \
    X(OK,      "ok")             \
    X(FAILED,  "failed")

enum stun_probe_state {
#define STUN_PROBE_ENUM(name, str) STUN_PROBE_##name,
    STUN_PROBE_STATES(STUN_PROBE_ENUM)
#undef STUN_PROBE_ENUM
};
const char *stun_probe_state_name(enum stun_probe_state);

#define STUN_PROBE_AUTH_ROUNDS 3  /* authenticated Allocates (stale nonces) */

struct stun_probe {
    bool turn;                    /* Allocate (else Binding) */
    const char *user, *password;  /* TURN's; borrowed, never copied or logged */
    enum stun_probe_state state;
    char error[96];               /* when FAILED: "401 Unauthorized", ... */
    bool answered;                /* the server sent a STUN response */
    bool has_mapped, has_relayed;
    struct sockaddr_in mapped, relayed;

    uint8_t req[STUN_MAX_MSG];    /* the request in flight */
    size_t req_len;
    uint8_t release[STUN_MAX_MSG];   /* when OK after an allocation: to send once */
    size_t release_len;

    uint8_t key[STUN_KEY_LEN];    /* wiped by stun_probe_clear */
    bool keyed;
    uint8_t realm[STUN_MAX_TEXT], nonce[STUN_MAX_TEXT];
    size_t realm_len, nonce_len;
    int auth_rounds;
};

/* Starts a probe: fills P->req with the first request, transaction TID.
 * USER and PASSWORD (TURN only) must outlive P. */
void stun_probe_begin(struct stun_probe *p, bool turn, const char *user, const char *password,
                      const uint8_t tid[STUN_TID_LEN]);

enum stun_step {
    STUN_STEP_IGNORED,            /* not an answer to the request in flight */
    STUN_STEP_SEND,               /* P->req holds the next request (transaction NEXT_TID) */
    STUN_STEP_DONE,               /* P->state is OK or FAILED */
};
/* One datagram (BUF, LEN) from the server. NEXT_TID is used if a new
 * request is needed (the next one, or the release). */
enum stun_step stun_probe_input(struct stun_probe *p, const uint8_t *buf, size_t len,
                                const uint8_t next_tid[STUN_TID_LEN]);
/* Wipes the key and the credentials' traces; P may be begun again. */
void stun_probe_clear(struct stun_probe *p);

#endif
