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
/* Reads STATE_DIR/node_id or creates it with a fresh random ID.
 * Returns 0 or a positive errno; *ERR (malloc'd) says what failed. */
int nodeid_load_or_create(const char *state_dir, struct nodeid *, char **err);

#endif
