/* The node's key and certificate: one ECDSA P-256 key and a self-signed
 * certificate per node, kept in the state directory. The key is the node's
 * identity: its fingerprint is SHA-256 over the certificate's DER
 * SubjectPublicKeyInfo, peers pin it in the DTLS handshake, and the node ID
 * is its first 128 bits (evio/nodeid.h). The agent (evio) creates them
 * before it starts evio-tincan, which uses them for its links. */
#ifndef EVIO_CERT_H
#define EVIO_CERT_H

#include <stdbool.h>
#include <stdint.h>

#define CERT_FP_LEN     32                    /* SHA-256 */
#define CERT_FP_STRLEN  (CERT_FP_LEN * 3)     /* "AA:BB:...:FF" plus NUL */

struct x509_st;
struct evp_pkey_st;

struct cert {
    struct x509_st *x509;
    struct evp_pkey_st *key;
    uint8_t fp[CERT_FP_LEN];
    char fp_str[CERT_FP_STRLEN];
};

/* Loads STATE_DIR/tincan.key and tincan.crt, or creates both when neither
 * exists (the key with mode 0600). Returns 0, or a positive errno with *ERR
 * set to a malloc'd message. Release with cert_clear(). */
int cert_load_or_create(const char *state_dir, struct cert *, char **err);

/* Makes a fresh certificate in memory only (tests). Returns true on success. */
bool cert_generate(struct cert *);

void cert_clear(struct cert *);   /* accepts a zeroed struct */

/* The key fingerprint of certificate X509 into FP. Returns false on failure. */
bool cert_key_fp(struct x509_st *x509, uint8_t fp[CERT_FP_LEN]);

/* Formats FP as 32 uppercase hex bytes separated by ':' into OUT. */
void cert_fp_format(const uint8_t fp[CERT_FP_LEN], char out[CERT_FP_STRLEN]);
/* Parses that form (case-insensitive). Returns false on anything else. */
bool cert_fp_parse(const char *s, uint8_t fp[CERT_FP_LEN]);

#endif
