/* The STUN and TURN servers of the config as evio-tincan sees them: each
 * resolved off the loop, probed at start and again now and then (its own
 * STUN Binding or TURN Allocate, stun.h, since libnice reports no server
 * errors), with a state a user can read: link/stats "servers", and the
 * agent's status. New ICE agents take their servers from here, already
 * resolved, and not the ones known to be broken, so a broken server costs
 * only the candidates it would have given. */
#ifndef TINCAN_SERVERS_H
#define TINCAN_SERVERS_H

#include <jansson.h>
#include <stdbool.h>

#define SERVER_STATES(X)             \
    X(RESOLVING, "resolving")        \
    X(PROBING,   "probing")          \
    X(OK,        "ok")               \
    X(ERROR,     "error")

enum server_state {
#define SERVER_ENUM(name, str) SERVER_##name,
    SERVER_STATES(SERVER_ENUM)
#undef SERVER_ENUM
};
const char *server_state_name(enum server_state);

enum server_kind { SERVER_STUN, SERVER_TURN };

/* Probing: a request is resent after 0.5, 1, 2 s and given up 4 s after
 * the last ("no answer", 7.5 s in all); the next probe comes after these
 * (+-10%). */
#define SERVERS_RTO_MS          500
#define SERVERS_SENDS           4
#define SERVERS_RECHECK_OK_S    600
#define SERVERS_RECHECK_ERROR_S 60

struct config;
struct ice_server;

/* What servers_choose looks at, one per configured server. */
struct server_view {
    enum server_kind kind;
    enum server_state state;      /* the last verdict (probing: none yet) */
    bool have_addr;               /* resolved (now or before) */
    bool answered;                /* its last probe got a STUN answer */
};

/* Which servers a new ICE agent gets. Sets USE_TURN[i] for each TURN
 * server to hand to libnice: every resolved one not known broken (all of
 * them if RELAY_ONLY). Returns the index of the server to hand as libnice's
 * STUN server, or -1: none while any TURN server is handed (libnice 0.1.21
 * drops a STUN server's answers on an agent that also allocates: the
 * server-reflexive candidate then comes from the Allocate answer, and
 * gathering would wait 2 s for nothing); otherwise the first STUN server
 * that works (or is not probed yet), else a TURN server that answered its
 * probe, even with an error: it still answers Binding requests. Pure. */
int servers_choose(const struct server_view *v, int n, bool relay_only, bool use_turn[]);

struct servers;

/* Starts resolving and probing CFG's servers on GLib's default main
 * context. CFG must outlive the result. NULL only without memory. */
struct servers *servers_new(const struct config *cfg);
/* Stops everything and frees; the last probe's allocation, if any, was
 * already released. Accepts NULL. */
void servers_free(struct servers *);

/* The servers for a new ICE agent (servers_choose), resolved: fills *STUN
 * and sets *STUN_OK, fills TURN (credentials borrowed from the config);
 * returns how many TURN servers. */
int servers_for_agent(const struct servers *, struct ice_server *stun, bool *stun_ok,
                      struct ice_server *turn, int max_turn);

/* A new agent's TURN allocation failed (its gathering ended without a relay
 * candidate) while the servers' last probes said they worked: probes every
 * TURN server again now (at most once per SERVERS_SUSPECT_S each), so the
 * next agents get what works (a full server still answers Binding). */
#define SERVERS_SUSPECT_S 10
void servers_suspect_turn(struct servers *);

/* A new JSON array, one object per configured server (doc/tincan-control.md). */
json_t *servers_json(const struct servers *);

#endif
