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
#define CTL_REASON_MAX      127   /* a link/state reason, as shown */
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

/* ---- value rules (shared with lib/config.c) ---------------------------- */

bool ctl_link_id_valid(const char *);   /* 1..CTL_LINK_ID_MAX of [A-Za-z0-9._-] */
bool ctl_ifname_valid(const char *);    /* 1..15, no '/', ':', space or control, not . or .. */
bool ctl_fpr_valid(const char *);       /* 32 uppercase hex bytes joined by ':' */
bool ctl_mac_valid(const char *);       /* 6 lowercase or uppercase hex bytes joined by ':' */
bool ctl_overlay_valid(const char *);   /* 1..32 of [a-z0-9_-] */
bool ctl_nodeid_valid(const char *);    /* 32 lowercase hex digits */
bool ctl_ufrag_valid(const char *);     /* 4..256 ice-chars (ALPHA DIGIT + /) */
bool ctl_pwd_valid(const char *);       /* 22..256 ice-chars */
bool ctl_cand_valid(const char *);      /* 1..512 printable ASCII */

#endif
