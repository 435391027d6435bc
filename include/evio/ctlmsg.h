/* The control contract between evio, evio-tincan, evio-switchctl and
 * evioctl: command and event names, the limits every side checks, and one
 * struct per message with an encode (struct -> JSON args) and a decode
 * (JSON -> struct) pair. The framing is lib/ctl_proto.c (evio/ctl.h); the
 * prose is doc/control-protocol.md, doc/tincan-control.md and
 * doc/switchctl-control.md. Pure code: no I/O, no process state.
 *
 * Decoders treat their input as hostile: they never crash, and return NULL
 * or a malloc'd one-line error "key: expected WHAT, got FOUND" (the caller
 * frees it); the struct is then zeroed. Encoders return a new JSON object
 * (the caller owns the reference), or NULL when memory ran out. Structs hold
 * no heap pointers unless said (ctl_link_list, ctl_port_sync). */
#ifndef EVIO_CTLMSG_H
#define EVIO_CTLMSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evio/nodeid.h"

/* ---- names ------------------------------------------------------------ */

/* Built into every daemon's server (lib/ctl.c). */
#define CTL_CMD_LIST_COMMANDS   "list-commands"
#define CTL_CMD_SUBSCRIBE       "subscribe"
#define CTL_CMD_ECHO            "echo"
#define CTL_CMD_LOG_SET         "log/set"

/* evio, the node agent (RUN_DIR/evio.sock). evioctl's "wait" is a loop of
 * "status" in evioctl, not a command of the agent. */
#define CTL_CMD_STATUS          "status"
#define CTL_CMD_TOPOLOGY        "topology"

/* evio-tincan (RUN_DIR/tincan.sock) */
#define CTL_CMD_NODE_INFO       "node/info"
#define CTL_CMD_LINK_CREATE     "link/create"
#define CTL_CMD_LINK_REMOTE     "link/remote"
#define CTL_CMD_LINK_LOCAL      "link/local"
#define CTL_CMD_LINK_REMOVE     "link/remove"
#define CTL_CMD_LINK_STATS      "link/stats"
#define CTL_CMD_LINK_LIST       "link/list"
#define CTL_EV_LINK_CANDIDATE   "link/candidate"
#define CTL_EV_LINK_GATHERING_DONE "link/gathering_done"
#define CTL_EV_LINK_STATE       "link/state"

/* evio-switchctl (RUN_DIR/switchctl.sock) */
#define CTL_CMD_BRIDGE_STATUS   "bridge/status"
#define CTL_CMD_PORT_ADD        "port/add"
#define CTL_CMD_PORT_REMOVE     "port/remove"
#define CTL_CMD_PORT_SYNC       "port/sync"
#define CTL_CMD_FDB_SHOW        "fdb/show"
#define CTL_CMD_FLOWS_SHOW      "flows/show"
#define CTL_EV_SHORTCUT_HINT    "shortcut/hint"

/* Socket file names under the run directory. */
#define CTL_SOCK_EVIO           "evio.sock"
#define CTL_SOCK_TINCAN         "tincan.sock"
#define CTL_SOCK_SWITCHCTL      "switchctl.sock"

/* ---- limits (the one place they are defined) -------------------------- */

#define CTL_LINK_ID_MAX     64    /* link_id: 1..64 of [A-Za-z0-9._-] */
#define CTL_IFNAME_MAX      15    /* a TAP, port or bridge name: IFNAMSIZ - 1 */
#define CTL_FPR_LEN         95    /* SHA-256 fingerprint "AB:12:...:9F", 32 bytes */
#define CTL_MAC_LEN         17    /* "02:xx:xx:xx:xx:xx" */
#define CTL_UFRAG_MIN       4     /* RFC 8445 ice-chars */
#define CTL_PWD_MIN         22
#define CTL_ICE_MAX         256   /* ufrag and pwd */
#define CTL_CAND_MAX        512   /* one SDP candidate line */
#define CTL_CANDS_MAX       64    /* remote candidates per link, and per link/remote */
#define CTL_OVERLAY_MAX     32    /* overlay name: 1..32 of [a-z0-9_-] (config.c) */
#define CTL_REASON_MAX      159   /* a link/state reason, as shown */
#define CTL_STATE_MAX       15    /* longest state or candidate type name */
#define CTL_ADDR_MAX        63    /* "ip:port" of a selected pair */
#define CTL_VERSION_MAX     31
#define CTL_MTU_MIN         576
#define CTL_MTU_MAX         9000
#define CTL_MTU_DEFAULT     1410
#define CTL_LINKS_MAX       4096  /* links one evio-tincan holds */
#define CTL_PORTS_MAX       256   /* ports of one bridge (port/sync entries) */

/* A link's state in evio-tincan (doc/tincan-control.md). */
#define CTL_LINK_STATES(X)            \
    X(CONNECTING, "connecting")       \
    X(UP,         "up")               \
    X(FAILED,     "failed")

enum ctl_link_state {
#define CTL_LINK_STATE_ENUM(name, str) CTL_LINK_##name,
    CTL_LINK_STATES(CTL_LINK_STATE_ENUM)
#undef CTL_LINK_STATE_ENUM
};
const char *ctl_link_state_name(enum ctl_link_state);

/* ---- value rules (shared with lib/config.c) ---------------------------- *
 * Each is said in errors as "expected WHAT"; the shared WHATs: */
#define CTL_IFNAME_WHAT  "interface name of 1..15 characters without '/', ':' or spaces"
#define CTL_NODEID_WHAT  "32 lowercase hex digits"
#define CTL_OVERLAY_WHAT "overlay name of 1..32 characters a-z 0-9 _ -"

bool ctl_link_id_valid(const char *);   /* 1..CTL_LINK_ID_MAX of [A-Za-z0-9._-] */
bool ctl_ifname_valid(const char *);    /* 1..15, no '/', ':', space or control, not . or .. */
bool ctl_fpr_valid(const char *);       /* 32 hex bytes joined by ':' (node/info's are uppercase) */
bool ctl_mac_valid(const char *);       /* 6 lowercase or uppercase hex bytes joined by ':' */
bool ctl_overlay_valid(const char *);   /* 1..32 of [a-z0-9_-] */
bool ctl_nodeid_valid(const char *);    /* 32 lowercase hex digits */
bool ctl_ufrag_valid(const char *);     /* 4..256 ice-chars (ALPHA DIGIT + /) */
bool ctl_pwd_valid(const char *);       /* 22..256 ice-chars */
bool ctl_cand_valid(const char *);      /* 1..512 printable ASCII */

/* ---- messages ----------------------------------------------------------- *
 * For each: json_t *ctl_X_encode(const struct ctl_X *) and
 * char *ctl_X_decode(const json_t *json, struct ctl_X *out), as said at the
 * top. Decoders of requests take the request's args (NULL means {}), those
 * of results and events the result or event data. Unknown keys are ignored
 * everywhere, so either side may add optional ones. */

/* link/remove, link/local, link/stats (link_id optional there: every link),
 * and the link/gathering_done event: {"link_id"} */
struct ctl_link_ref {
    char link_id[CTL_LINK_ID_MAX + 1];   /* "" when optional and absent */
};
json_t *ctl_link_ref_encode(const struct ctl_link_ref *);
char *ctl_link_ref_decode(const json_t *, bool required, struct ctl_link_ref *);

/* link/create args */
struct ctl_link_create {
    char link_id[CTL_LINK_ID_MAX + 1];
    char tap[CTL_IFNAME_MAX + 1];        /* the TAP to create */
    int mtu;                             /* CTL_MTU_MIN..MAX; absent: CTL_MTU_DEFAULT */
    bool controlling;                    /* ICE controlling and DTLS client; absent: false */
    char peer_fingerprint[CTL_FPR_LEN + 1];
};
json_t *ctl_link_create_encode(const struct ctl_link_create *);
char *ctl_link_create_decode(const json_t *, struct ctl_link_create *);

/* link/create result: what the peer needs, to be signalled */
struct ctl_link_created {
    char link_id[CTL_LINK_ID_MAX + 1];
    char tap[CTL_IFNAME_MAX + 1];
    char mac[CTL_MAC_LEN + 1];
    char fingerprint[CTL_FPR_LEN + 1];   /* this node's */
    char ufrag[CTL_ICE_MAX + 1];
    char pwd[CTL_ICE_MAX + 1];
};
json_t *ctl_link_created_encode(const struct ctl_link_created *);
char *ctl_link_created_decode(const json_t *, struct ctl_link_created *);

/* link/remote args: the peer's credentials (once) and candidates (at most
 * CTL_CANDS_MAX a request), in any order and as many requests as convenient.
 * The decoder refuses the request for a bad link_id, credentials or a
 * candidates member that is not an array of at most CTL_CANDS_MAX; an
 * element that is not a candidate string (ctl_cand_valid) is skipped and
 * counted, so the good ones of the request can still be applied. */
struct ctl_link_remote {
    char link_id[CTL_LINK_ID_MAX + 1];
    bool has_creds;                      /* ufrag and pwd, always together */
    char ufrag[CTL_ICE_MAX + 1];
    char pwd[CTL_ICE_MAX + 1];
    int n_cands;
    char cands[CTL_CANDS_MAX][CTL_CAND_MAX + 1];
    int cand_index[CTL_CANDS_MAX];       /* decode: each one's index in the request */
    int n_elements;                      /* decode: the request's array size */
    int n_skipped;                       /* decode: elements that were not candidates */
    int first_skipped;                   /* ... the first one's index, -1 if none */
    char skipped[160];                   /* ... and why: "candidates[1]: expected ..." */
    bool gathering_done;                 /* the peer has no more candidates */
};
json_t *ctl_link_remote_encode(const struct ctl_link_remote *);
char *ctl_link_remote_decode(const json_t *, struct ctl_link_remote *);

/* link/candidate event: one new local candidate, to trickle to the peer */
struct ctl_link_candidate {
    char link_id[CTL_LINK_ID_MAX + 1];
    char candidate[CTL_CAND_MAX + 1];
};
json_t *ctl_link_candidate_encode(const struct ctl_link_candidate *);
char *ctl_link_candidate_decode(const json_t *, struct ctl_link_candidate *);

/* link/state event, on every transition. A longer reason is cut to
 * CTL_REASON_MAX bytes (it is meant for people), never refused. */
struct ctl_link_state_ev {
    char link_id[CTL_LINK_ID_MAX + 1];
    enum ctl_link_state state;
    char reason[CTL_REASON_MAX + 1];     /* "" unless failed */
};
json_t *ctl_link_state_ev_encode(const struct ctl_link_state_ev *);
char *ctl_link_state_ev_decode(const json_t *, struct ctl_link_state_ev *);

/* One entry of link/stats' "links", as far as the node agent reads it (the
 * datapath sends more: doc/tincan-control.md). Absent counters read as 0,
 * absent strings as "", pair_since_s as -1; strings too long are cut. */
struct ctl_link_stats {
    char link_id[CTL_LINK_ID_MAX + 1];
    char tap[CTL_IFNAME_MAX + 1];
    char mac[CTL_MAC_LEN + 1];
    enum ctl_link_state state;
    char reason[CTL_REASON_MAX + 1];
    char local_type[CTL_STATE_MAX + 1], remote_type[CTL_STATE_MAX + 1];
    char local_addr[CTL_ADDR_MAX + 1], remote_addr[CTL_ADDR_MAX + 1];
    char path[CTL_STATE_MAX + 1];        /* fast, fast-relay, ice */
    long long pair_since_s, pair_changes;
    long long tx_bytes, rx_bytes, tx_frames, rx_frames;
    long long drop_oversize, drop_tap, drop_decrypt;
    long long tcp_resegmented;           /* TCP segments cut to fit (tincan/tcpseg.h) */
    long long age_s, up_s;
};
json_t *ctl_link_stats_encode(const struct ctl_link_stats *);
char *ctl_link_stats_decode(const json_t *, struct ctl_link_stats *);

/* link/stats result: {"links": [...], "servers": [...]}. LINKS is malloc'd
 * (free with ctl_link_stats_reply_free); SERVERS is a new reference to the
 * servers array as sent (doc/tincan-control.md), or NULL. */
struct ctl_link_stats_reply {
    size_t n_links;
    struct ctl_link_stats *links;
    json_t *servers;
};
char *ctl_link_stats_reply_decode(const json_t *, struct ctl_link_stats_reply *);
void ctl_link_stats_reply_free(struct ctl_link_stats_reply *);   /* accepts NULL */
/* The entry for LINK_ID, or NULL. */
const struct ctl_link_stats *ctl_link_stats_find(const struct ctl_link_stats_reply *,
                                                 const char *link_id);

/* link/list result: every link evio-tincan holds, so the agent can remove
 * those it does not know. The encoder reads any array of N_LINKS the caller
 * owns; the decoder mallocs LINKS (free with ctl_link_list_free). */
struct ctl_link_list_entry {
    char link_id[CTL_LINK_ID_MAX + 1];
    char tap[CTL_IFNAME_MAX + 1];
    enum ctl_link_state state;
};
struct ctl_link_list {
    size_t n_links;
    struct ctl_link_list_entry *links;
};
json_t *ctl_link_list_encode(const struct ctl_link_list *);
char *ctl_link_list_decode(const json_t *, struct ctl_link_list *);
void ctl_link_list_free(struct ctl_link_list *);                 /* accepts NULL */

/* node/info result */
struct ctl_node_info {
    char fingerprint[CTL_FPR_LEN + 1];
    long long links;
    char version[CTL_VERSION_MAX + 1];
    long long rejected_requests;
};
json_t *ctl_node_info_encode(const struct ctl_node_info *);
char *ctl_node_info_decode(const json_t *, struct ctl_node_info *);

/* port/add {"overlay", "port", "peer"} and port/remove {"overlay", "port"}
 * (PEER is ignored there). */
struct ctl_port {
    char overlay[CTL_OVERLAY_MAX + 1];
    char port[CTL_IFNAME_MAX + 1];
    char peer[NODEID_HEX_LEN + 1];
};
json_t *ctl_port_encode(const struct ctl_port *, bool with_peer);
char *ctl_port_decode(const json_t *, bool with_peer, struct ctl_port *);

/* bridge/status, fdb/show, flows/show, and the agent's topology: an optional
 * {"overlay"}; OVERLAY is "" for every overlay. */
struct ctl_overlay_sel {
    char overlay[CTL_OVERLAY_MAX + 1];
};
json_t *ctl_overlay_sel_encode(const struct ctl_overlay_sel *);
char *ctl_overlay_sel_decode(const json_t *, struct ctl_overlay_sel *);

/* port/sync args: the bridge's peer ports exactly, with the links' state
 * and this node's id for the bounded flood, at most CTL_PORTS_MAX ports.
 * The encoder reads any array of N_PORTS the caller owns; the decoder
 * mallocs PORTS (free with ctl_port_sync_free). */
struct ctl_port_sync_entry {
    char port[CTL_IFNAME_MAX + 1];
    char peer[NODEID_HEX_LEN + 1];
    bool up;                             /* absent: true (agents before "up") */
};
struct ctl_port_sync {
    char overlay[CTL_OVERLAY_MAX + 1];
    char self[NODEID_HEX_LEN + 1];       /* "" when absent (older agents) */
    size_t n_ports;
    struct ctl_port_sync_entry *ports;
};
json_t *ctl_port_sync_encode(const struct ctl_port_sync *);
char *ctl_port_sync_decode(const json_t *, struct ctl_port_sync *);
void ctl_port_sync_free(struct ctl_port_sync *);                 /* accepts NULL */

/* port/sync result */
struct ctl_port_sync_result {
    long long ports, removed;
};
json_t *ctl_port_sync_result_encode(const struct ctl_port_sync_result *);
char *ctl_port_sync_result_decode(const json_t *, struct ctl_port_sync_result *);

/* shortcut/hint event: local traffic to the hosts behind PEER passed the
 * overlay's threshold (ADJACENT: a link to it exists). */
struct ctl_shortcut_hint {
    char overlay[CTL_OVERLAY_MAX + 1];
    char peer[NODEID_HEX_LEN + 1];
    long long kbps;
    bool adjacent;
};
json_t *ctl_shortcut_hint_encode(const struct ctl_shortcut_hint *);
char *ctl_shortcut_hint_decode(const json_t *, struct ctl_shortcut_hint *);

#endif
