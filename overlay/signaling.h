/* XMPP signalling for the node agent (DESIGN.md section 6): one client
 * session that joins a MUC room per overlay (nickname = node id), reports
 * peers joining and leaving, and carries opaque payloads (sigmsg JSON) as MUC
 * private messages. Driven by the agent's own poll() loop; reconnects by
 * itself with backoff. The only file in evio that knows libstrophe. */
#ifndef EVIO_SIGNALING_H
#define EVIO_SIGNALING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct sig_session;

#define SIG_NS          "urn:evio:signal:1"   /* the payload element's namespace */
#define SIG_MAX_PAYLOAD 8192                  /* larger payloads are dropped */

/* BACKOFF: not connected, waiting for the next attempt (also the state
 * before the first run); after losing a server that was reachable, a TCP
 * probe about once a second ends the wait as soon as the server is back.
 * RESOLVING: the server's name is being looked up (in a thread: the loop
 * goes on). CONNECTING: TCP, TLS, SASL and binding under way. ONLINE:
 * bound, rooms joined or being joined; sending works. */
enum sig_state { SIG_BACKOFF, SIG_RESOLVING, SIG_CONNECTING, SIG_ONLINE };
const char *sig_state_name(enum sig_state);

/* Called from inside sig_session_run() only. Strings are borrowed for the
 * duration of the call. A callback may call sig_session_send() but must not
 * destroy the session. Any callback may be NULL. */
struct sig_callbacks {
    /* ONLINE reached (connected=true), or the session went down (WHY says
     * why). Going down reports no peer_left: links outlive the server. */
    void (*state)(void *aux, bool connected, const char *why);
    /* An occupant whose nickname is a node id other than ours is in OVERLAY's
     * room, run by agent session SESSION (16 hex digits from its presence,
     * "" if it carried none). Reported again after every (re)join and when
     * the occupant's session changes, so handle it idempotently. */
    void (*peer_joined)(void *aux, const char *overlay, const char *node_id,
                        const char *session);
    /* That occupant left: reported 2 s after the room says so, or, for one
     * missing when we rejoin after an outage, if it is not back within 90 s.
     * Never while we are offline: losing the server drops no peer. */
    void (*peer_left)(void *aux, const char *overlay, const char *node_id);
    /* A payload from room occupant FROM_NODE_ID, LEN <= SIG_MAX_PAYLOAD bytes,
     * NUL-terminated. Untrusted: decode it with sigmsg_decode(), and check the
     * decoded "from" equals FROM_NODE_ID. */
    void (*message)(void *aux, const char *overlay, const char *from_node_id,
                    const char *payload, size_t len);
};

struct sig_stats {
    enum sig_state state;
    uint64_t sent;          /* payloads handed to the server */
    uint64_t send_failed;   /* sig_session_send() refusals while not online */
    uint64_t received;      /* payloads passed to the message callback */
    uint64_t dropped;       /* oversized, from non-occupants, malformed stanzas */
    uint64_t bounced;       /* error replies to what we sent (peer gone) */
    uint64_t reconnects;    /* connection attempts after the first */
    uint64_t peers;         /* occupants known over all rooms */
    int rooms_joined;       /* rooms whose join the server confirmed */
    uint64_t join_refusals; /* room joins the server refused ("conflict"...), each retried */
    char room_error[160];   /* a room not joined: why ("lab: conflict (nickname ...)"), or "" */
    char last_error[160];   /* why the last connection ended, "" if none */
};

/* Creates a session for the config's xmpp section and overlays, as node
 * NODE_ID_HEX (32 lowercase hex), announcing agent session SESSION (16 hex,
 * or NULL) in its room presence so peers can tell a restart from a
 * reconnect. Copies everything it needs: CFG, CB and the ids may be freed
 * afterwards. Does no I/O: the first sig_session_run()
 * connects. Returns 0 and *OUT (free with sig_session_destroy), or EINVAL for
 * a bad id or config, ENOMEM. */
int sig_session_create(const struct config *cfg, const char *node_id_hex, const char *session,
                       const struct sig_callbacks *cb, void *aux, struct sig_session **out);

/* Leaves the rooms and closes the stream cleanly when online (waits at most
 * about a second), then frees everything. Accepts NULL. No callbacks. */
void sig_session_destroy(struct sig_session *);

/* Sends PAYLOAD (NUL-terminated, normally sigmsg_encode() output; copied) to
 * node TO_NODE_ID through OVERLAY's room. Returns 0 once queued, ENOTCONN when
 * not online (nothing is queued for later: the caller retries on its own
 * timers), EINVAL for an unknown overlay or a bad node id, EMSGSIZE when
 * PAYLOAD exceeds SIG_MAX_PAYLOAD, ENOMEM. */
int sig_session_send(struct sig_session *, const char *overlay, const char *to_node_id,
                     const char *payload);

/* Event-loop integration. Watch sig_session_fd() (the XMPP socket, or -1
 * while there is none) for POLLIN, sleep at most sig_session_timeout_ms()
 * (0..1000), then call sig_session_run() whether or not the fd was ready:
 * run does the reading, writing, handlers, timeouts and reconnection. */
int sig_session_fd(const struct sig_session *);
int sig_session_timeout_ms(const struct sig_session *);
void sig_session_run(struct sig_session *);

void sig_session_stats(const struct sig_session *, struct sig_stats *out);

#endif
