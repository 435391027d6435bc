/* The node's configuration: one JSON file (default /etc/evio/config.json),
 * read by evio, evio-tincan and evio-switchctl alike. Documented field by
 * field in doc/man/evio.conf.5. Validation reports the first error as one
 * line: "KEY.PATH: expected WHAT, got FOUND". */
#ifndef EVIO_CONFIG_H
#define EVIO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH "/etc/evio/config.json"
#define CONFIG_MAX_OVERLAYS 16
#define CONFIG_MAX_SERVERS  8
#define CONFIG_MAX_IGNORE   64   /* entries of ice.ignore_interfaces, "@defaults" expanded */
#define CONFIG_IGNORE_PATTERN_MAX 31   /* an fnmatch(3) pattern's length; a plain name's is 15 */
#define CONFIG_IGNORE_DEFAULTS "@defaults"   /* the entry that stands for the default list */
#define CONFIG_MAX_SECRET_FILES (1 + CONFIG_MAX_SERVERS)   /* xmpp's and the TURN servers' */
#define CONFIG_MAX_STATIC   64
#define CONFIG_MAX_MEMBERS  1024

enum xmpp_tls_mode {
    XMPP_TLS_REQUIRED,   /* STARTTLS, mandatory, server certificate verified (default) */
    XMPP_TLS_DIRECT,     /* TLS from the first byte (XEP-0368, usually port 5223), verified */
    XMPP_TLS_NONE,       /* plaintext: only for closed test networks; logged as a warning */
};

struct config_server {          /* host:port with optional credentials */
    char *host;
    uint16_t port;
    char *user;                 /* TURN only */
    char *password;             /* TURN only; read from password_file if given */
};

struct config_overlay {
    char *name;                 /* [a-z0-9_-]{1,32}: also the MUC room name */
    char *bridge_name;          /* <= 15 chars; default "evio-" + name when it fits */
    uint32_t ip4;               /* the node's overlay address, host order; 0 = none */
    int prefix_len;             /* 0..32 (the pool's with ip_auto) */
    bool ip_auto;               /* "ip": "auto": ip4 is 0, the address claimed in pool */
    uint32_t pool;              /* with ip_auto: the network, host order (evio/acd.h) */
    int mtu;                    /* 576..9000, default 1410; with mtu_auto, set by
                                 * mtu_resolve() (evio/mtu.h), 1410 until then */
    bool mtu_auto;              /* "mtu": "auto": derived from the underlay route */
    char mtu_source[192];       /* how mtu was chosen, for status and logs */
    int min_successors;         /* 1..16, default 2 */
    int max_long_distance;      /* -1 = floor(log2 N) (default), else 0..64 */
    int max_on_demand;          /* 0..64, default 4 */
    int on_demand_threshold_kbps;  /* 0..10000000, default 1000; 0 = no shortcuts */
    int on_demand_idle_s;       /* 1..86400, default 60 */
    int max_concurrent_edges;   /* 1..64, default 8: edges negotiated at once */
    char *static_peers[CONFIG_MAX_STATIC];   /* node IDs, hex */
    int n_static;
    bool members_only;          /* "members" given: link with those peers only */
    char **members;             /* node IDs, hex (CONFIG_MAX_MEMBERS slots) */
    int n_members;
};

struct config {
    char *path;                 /* the file it came from */

    /* node */
    char *node_id;              /* 32 hex digits, or NULL: generated and kept in state_dir */
    char *state_dir;            /* default /var/lib/evio */
    char *run_dir;              /* default /run/evio */
    char *log_level;            /* error|warn|info|debug, default info */
    bool strict_modes;          /* refuse unsafe file modes (perm.h), default true */
    /* where the secrets came from, for perm.h's checks */
    bool inline_secrets;        /* a "password" in the config file itself */
    char *secret_files[CONFIG_MAX_SECRET_FILES];    /* each "password_file" */
    int n_secret_files;

    /* xmpp */
    char *xmpp_host;            /* server to connect to */
    uint16_t xmpp_port;         /* default 5222 (5223 for tls=direct) */
    char *xmpp_user;            /* full JID "node1@example.org" (resource optional) */
    char *xmpp_password;        /* from "password" or "password_file"; never logged */
    enum xmpp_tls_mode xmpp_tls;
    char *xmpp_ca_file;         /* CA bundle to verify the server; NULL = system store */
    char *xmpp_muc_domain;      /* default "conference." + the JID's domain */

    /* ice */
    struct config_server stun[CONFIG_MAX_SERVERS];
    int n_stun;
    struct config_server turn[CONFIG_MAX_SERVERS];
    int n_turn;
    char *ignore_interfaces[CONFIG_MAX_IGNORE];   /* names and fnmatch(3) patterns */
    int n_ignore;
    bool relay_only;            /* gather and use TURN relay candidates only */
    bool fast_path;             /* direct pairs bypass libnice (tincan/fastpath.h) */

    /* link */
    int rekey_records;          /* records per key epoch (tincan/rec.h) */
    bool data_records;          /* offer evio's data records (else DTLS records) */
    int rekey_after_s;          /* a fresh handshake after this long (tincan/dtls.h) */
    uint64_t rekey_after_bytes; /* or after this many bytes sent */

    /* ovs */
    char *ovs_rundir;           /* default /var/run/openvswitch */
    char *ovs_db;               /* default "unix:" + ovs_rundir + "/db.sock" */

    struct config_overlay overlays[CONFIG_MAX_OVERLAYS];
    int n_overlays;
};

/* Loads and validates PATH. On success returns 0 and fills *CFG (free it with
 * config_free). On failure returns 2 (invalid) or 1 (cannot read), leaves
 * *CFG empty and sets *ERR to a malloc'd one-line message beginning with the
 * file name, e.g. "cfg.json: overlays.lab.bridge.mtu: expected integer
 * 576..9000, got \"big\"". */
int config_load(const char *path, struct config *cfg, char **err);
/* The same from a string (PATH used only in messages). */
int config_parse(const char *text, const char *path, struct config *cfg, char **err);
void config_free(struct config *);   /* accepts an empty/zeroed struct */

const struct config_overlay *config_find_overlay(const struct config *, const char *name);

#endif
