/* The node-to-node signalling payload: a versioned JSON object that
 * signaling.c carries inside an XMPP message. Pure codec, no I/O; every rule
 * is described in doc/signalling.md. The decoder treats its input as hostile:
 * it never crashes and names what it rejected. */
#ifndef EVIO_SIGMSG_H
#define EVIO_SIGMSG_H

#include <stdbool.h>
#include <stddef.h>

#include "evio/ctlmsg.h"
#include "evio/nodeid.h"

/* What a link needs travels on to evio-tincan: those limits are the
 * control contract's (evio/ctlmsg.h). */
#define SIGMSG_VERSION        1
#define SIGMSG_MAX_LEN        8192  /* whole JSON text, bytes */
#define SIGMSG_OVERLAY_MAX    CTL_OVERLAY_MAX
#define SIGMSG_HEX16_LEN      16    /* session and edge ids */
#define SIGMSG_MAC_LEN        CTL_MAC_LEN   /* "xx:xx:xx:xx:xx:xx" */
#define SIGMSG_FPR_LEN        CTL_FPR_LEN   /* 32 "XX" bytes joined by ':' (SHA-256) */
#define SIGMSG_ICE_MAX        CTL_ICE_MAX   /* ufrag and pwd */
#define SIGMSG_UFRAG_MIN      CTL_UFRAG_MIN
#define SIGMSG_PWD_MIN        CTL_PWD_MIN
#define SIGMSG_MAX_CANDS      16
#define SIGMSG_CAND_MAX       CTL_CAND_MAX
#define SIGMSG_REASON_MAX     32    /* edge_close reason token */

enum sigmsg_type {
    SIGMSG_EDGE_REQ,
    SIGMSG_EDGE_RESP,
    SIGMSG_LINK_CREDS,
    SIGMSG_LINK_CAND,
    SIGMSG_EDGE_CLOSE,
    SIGMSG_EDGE_WANT,
};

enum sigmsg_edge_type {
    SIGMSG_EDGE_SUCCESSOR,
    SIGMSG_EDGE_LONG_DISTANCE,
    SIGMSG_EDGE_STATIC,
    SIGMSG_EDGE_ON_DEMAND,
};

enum sigmsg_resp_reason {
    SIGMSG_RESP_OK,
    SIGMSG_RESP_BUSY,
    SIGMSG_RESP_DUPLICATE,
    SIGMSG_RESP_COLLISION,
    SIGMSG_RESP_UNKNOWN_OVERLAY,
    SIGMSG_RESP_REFUSED,
    SIGMSG_RESP_FULL,               /* no room for another incoming edge of that type */
};

/* A link's credentials: what the peer needs to reach and authenticate us. */
struct sigmsg_creds {
    char mac[SIGMSG_MAC_LEN + 1];
    char fingerprint[SIGMSG_FPR_LEN + 1];
    char ufrag[SIGMSG_ICE_MAX + 1];
    char pwd[SIGMSG_ICE_MAX + 1];
};

/* One message. Holds no heap pointers, so it can live on the stack and be
 * copied or dropped freely. Which fields matter depends on TYPE (see each
 * comment); the others are ignored by the encoder and zeroed by the decoder. */
struct sigmsg {
    enum sigmsg_type type;
    char overlay[SIGMSG_OVERLAY_MAX + 1];
    struct nodeid from, to;
    char session[SIGMSG_HEX16_LEN + 1];     /* sender's per-start random id */
    char edge_id[SIGMSG_HEX16_LEN + 1];     /* every type */

    enum sigmsg_edge_type edge_type;        /* edge_req; edge_want if want */
    bool want;                              /* edge_want: the sender wants the edge */
    bool accepted;                          /* edge_resp */
    enum sigmsg_resp_reason resp_reason;    /* edge_resp */
    struct sigmsg_creds creds;              /* link_creds; edge_resp if accepted */
    char cands[SIGMSG_MAX_CANDS][SIGMSG_CAND_MAX + 1];   /* link_cand */
    int n_cands;                            /* link_cand */
    bool done;                              /* link_cand: no more candidates */
    char close_reason[SIGMSG_REASON_MAX + 1];   /* edge_close */
};

/* Encodes M as compact JSON. Returns a malloc'd NUL-terminated string (the
 * caller frees it), or NULL when M would not pass sigmsg_decode (*ERR, if
 * ERR is non-NULL, then gets a malloc'd reason) or memory ran out (*ERR NULL).
 * A link_cand with many long candidates can exceed SIGMSG_MAX_LEN: split it. */
char *sigmsg_encode(const struct sigmsg *m, char **err);

/* Decodes LEN bytes of TEXT (need not be NUL-terminated) into *OUT. The
 * message must be for EXPECT_OVERLAY and addressed to EXPECT_TO. Returns NULL
 * on success, or a malloc'd one-line error naming the problem (the caller
 * frees it); *OUT is then zeroed. */
char *sigmsg_decode(const char *text, size_t len, const char *expect_overlay,
                    const struct nodeid *expect_to, struct sigmsg *out);

/* Names as they appear on the wire ("edge_req", "long_distance", "busy"). */
const char *sigmsg_type_name(enum sigmsg_type);
const char *sigmsg_edge_type_name(enum sigmsg_edge_type);
const char *sigmsg_resp_reason_name(enum sigmsg_resp_reason);

/* Fills OUT with 16 random lowercase hex digits (session and edge ids).
 * Returns false if the system's random source failed. */
bool sigmsg_random_hex16(char out[SIGMSG_HEX16_LEN + 1]);

#endif
