/* One link of evio-tincan: a TAP, an ICE agent and a DTLS session glued into
 * a frame pump, with keepalives, timeouts, counters and an explicit state.
 * The node agent drives it through the control commands in control.c. */
#ifndef TINCAN_LINK_H
#define TINCAN_LINK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "evio/cert.h"
#include "evio/ctlmsg.h"

/* Limits and state names are the control contract's (evio/ctlmsg.h). */
#define LINK_ID_MAX CTL_LINK_ID_MAX
#define LINK_MTU_MIN CTL_MTU_MIN
#define LINK_MTU_MAX CTL_MTU_MAX
#define LINK_MTU_DEFAULT CTL_MTU_DEFAULT

enum link_state {
#define LINK_ENUM(name, str) LINK_##name = CTL_LINK_##name,
    CTL_LINK_STATES(LINK_ENUM)
#undef LINK_ENUM
};
static inline const char *link_state_name(enum link_state s)
{
    return ctl_link_state_name((enum ctl_link_state)s);
}

struct config;
struct dtls_ctx;
struct servers;

/* What the owner of the links provides; must outlive every link. */
struct link_env {
    const struct config *cfg;
    const struct cert *cert;      /* this node's, for its fingerprint */
    struct dtls_ctx *dtls;
    struct servers *servers;      /* STUN/TURN servers for new agents; may be NULL */
    /* emits a control event (NAME, DATA borrowed) to subscribers */
    void (*event)(void *aux, const char *name, json_t *data);
    void *aux;
};

struct link_params {
    const char *id;               /* validated by ctl_link_id_valid() */
    const char *tap;              /* interface name */
    int mtu;                      /* TAP MTU, LINK_MTU_MIN..LINK_MTU_MAX */
    bool controlling;             /* ICE controlling and DTLS client */
    uint8_t peer_fp[CERT_FP_LEN];
    /* TAP names of this process's other links: never gathered on */
    const char *const *other_taps;
    int n_other_taps;
};

struct link;


/* Creates the TAP, the ICE agent and the DTLS session, and starts gathering.
 * Returns NULL with *ERR (malloc'd) on failure. */
struct link *link_create(const struct link_env *, const struct link_params *, char **err);
/* Says goodbye to the peer if up (close_notify), closes ICE, deletes the
 * TAP, frees. Accepts NULL. */
void link_destroy(struct link *);

const char *link_id(const struct link *);
const char *link_tap(const struct link *);
enum link_state link_get_state(const struct link *);

/* Remote ICE side, trickled. Each returns false with *ERR (malloc'd); a bad
 * candidate is also counted in the link's stats. */
bool link_remote_credentials(struct link *, const char *ufrag, const char *pwd, char **err);
bool link_remote_candidate(struct link *, const char *sdp, char **err);
void link_remote_gathering_done(struct link *);

/* New JSON objects for the control commands (see doc/tincan-control.md). */
json_t *link_created_json(const struct link *);   /* link/create's result */
json_t *link_local_json(const struct link *);     /* link/local */
json_t *link_stats_json(const struct link *);     /* one entry of link/stats */

#endif
