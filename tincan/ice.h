/* One link's ICE agent (RFC 5245/8445 over UDP, trickled): the only part of
 * evio-tincan that knows libnice. One stream, one component; candidates are
 * exchanged as SDP "a=candidate:" lines. */
#ifndef TINCAN_ICE_H
#define TINCAN_ICE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evio/ctlmsg.h"

#define ICE_STATES(X)                  \
    X(DISCONNECTED, "disconnected")    \
    X(GATHERING,    "gathering")       \
    X(CONNECTING,   "connecting")      \
    X(CONNECTED,    "connected")       \
    X(READY,        "ready")           \
    X(FAILED,       "failed")

enum ice_state {
#define ICE_ENUM(name, str) ICE_##name,
    ICE_STATES(ICE_ENUM)
#undef ICE_ENUM
};
const char *ice_state_name(enum ice_state);

struct ice_server {
    char ip[INET_ADDRSTRLEN];   /* resolved IPv4 address */
    uint16_t port;
    const char *user, *password;   /* TURN; borrowed from the config */
};

struct ice_params {
    bool controlling;
    bool relay_only;
    const struct ice_server *stun;   /* NULL: no STUN server */
    const struct ice_server *turn;
    int n_turn;
    /* the only local addresses to gather on (IPv4, dotted quad); ice_new()
     * refuses none, where libnice would take every interface */
    const char (*local_addrs)[INET_ADDRSTRLEN];
    int n_local;
};

struct ice_callbacks {
    void (*candidate)(void *aux, const char *sdp);   /* a new local candidate */
    void (*gathering_done)(void *aux);
    void (*state)(void *aux, enum ice_state);
    void (*recv)(void *aux, const uint8_t *data, size_t len);   /* borrowed */
    void (*selected)(void *aux);   /* a pair was selected (again); may be NULL */
};

struct ice_pair {
    char local_type[8], remote_type[8];   /* host|srflx|prflx|relay */
    char local_addr[64], remote_addr[64]; /* "ip:port" */
};

#define ICE_MAX_REMOTE_CANDIDATES CTL_CANDS_MAX   /* evio/ctlmsg.h */

struct ice;

/* Creates the agent and its stream. Returns NULL with *ERR (malloc'd). */
struct ice *ice_new(const struct ice_params *, const struct ice_callbacks *, void *aux,
                    char **err);
/* Starts gathering; candidates trickle out through the callback. */
bool ice_gather(struct ice *, char **err);
const char *ice_local_ufrag(const struct ice *);
const char *ice_local_pwd(const struct ice *);

/* Sets the peer's credentials (once; the same values again are accepted).
 * Candidates added before are applied now. Returns false with *ERR. */
bool ice_set_remote_credentials(struct ice *, const char *ufrag, const char *pwd, char **err);
/* Adds one trickled remote candidate ("a=candidate:..." or without "a=").
 * Returns false with *ERR (malloc'd) if it does not parse. */
bool ice_add_remote_candidate(struct ice *, const char *sdp, char **err);
/* Checks every pair again (an ICE restart keeping both sides' credentials
 * and candidates), the selected pair carrying data meanwhile: how a link on
 * a relayed pair finds a direct path that opened later. False if libnice
 * refused, or before the peer's credentials are known. */
bool ice_recheck(struct ice *);
/* The peer says it has no more candidates: ICE may now fail for good. */
void ice_remote_gathering_done(struct ice *);

/* Sends one datagram on the selected pair; false if there is none yet or
 * the socket refused it. */
bool ice_send(struct ice *, const uint8_t *data, size_t len);
/* Fills *P with the selected pair; false until one is selected. */
bool ice_selected_pair(const struct ice *, struct ice_pair *p);
/* The socket (libnice's, borrowed) of the selected pair and the peer's
 * address on it, if the pair is direct UDP over IPv4 (not a TURN relay);
 * else -1. For the link's fast path (fastpath.h). */
int ice_selected_direct(const struct ice *, struct sockaddr_in *remote);
/* The same for a pair whose local candidate is a TURN relay: libnice's
 * socket to the server and the peer's address beyond it; else -1. */
int ice_selected_relayed(const struct ice *, struct sockaddr_in *peer);
/* Whether A is one of the TURN servers (IPv4, as configured) this agent
 * allocates on. */
bool ice_is_turn_server(const struct ice *, const struct sockaddr_in *a);
enum ice_state ice_get_state(const struct ice *);

/* Detaches every callback, releases TURN allocations (asynchronously, on the
 * default main context) and frees. Accepts NULL. */
void ice_free(struct ice *);

#endif
