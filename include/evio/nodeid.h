/* 128-bit node IDs, written as 32 lowercase hex digits. */
#ifndef EVIO_NODEID_H
#define EVIO_NODEID_H

#include <stdbool.h>
#include <stdint.h>

#define NODEID_HEX_LEN 32

struct nodeid { uint8_t b[16]; };   /* big-endian: b[0] is most significant */

bool nodeid_parse(const char *hex, struct nodeid *);   /* exactly 32 hex digits */
void nodeid_format(const struct nodeid *, char out[NODEID_HEX_LEN + 1]);
int nodeid_cmp(const struct nodeid *, const struct nodeid *);   /* unsigned order */
bool nodeid_random(struct nodeid *);
/* A node's ID is bound to its key: the first 128 bits of its key's
 * fingerprint (SHA-256 over the DER SubjectPublicKeyInfo of its certificate,
 * written "AB:CD:..." with 32 bytes). Returns false if FPR is not such a
 * fingerprint. */
bool nodeid_from_fpr(const char *fpr, struct nodeid *);

#endif
