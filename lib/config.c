/* Loading and validating the node's JSON configuration (include/evio/config.h).
 * Shared by evio, evio-tincan and evio-switchctl; the format is documented in
 * doc/man/evio.conf.5. Validation stops at the first error and reports it as
 * one line: "FILE: KEY.PATH: expected WHAT, got FOUND". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "evio/config.h"
#include "evio/ctlmsg.h"
#include "evio/jfield.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_KEY_MAX      JF_KEY_MAX
#define CONFIG_FILE_MAX     (1 << 20)   /* a config larger than this is a mistake */
#define CONFIG_SECRET_MAX   4096        /* longest password_file accepted */
#define CONFIG_IFNAME_MAX   CTL_IFNAME_MAX
#define CONFIG_DEFAULT_STUN_PORT 3478

/* Validation state: the file name for messages and the first error (the
 * reader's, "KEY: expected WHAT, got FOUND"; memory gives status 1). */
struct config_ctx {
    const char *path;
    struct jf r;
    struct config *cfg;         /* where secrets' sources are noted (perm.c checks them) */
};

/* ---- value rules ------------------------------------------------------- */

static bool config_is_abs_path(const char *s)
{
    return s[0] == '/';
}

static bool config_is_nonempty(const char *s)
{
    return s[0] != '\0';
}


static bool config_is_level(const char *s)
{
    return !strcmp(s, "error") || !strcmp(s, "warn") || !strcmp(s, "info")
        || !strcmp(s, "debug");
}

/* RFC 1123 host names; a dotted quad passes as one too. */
static bool config_is_dns_name(const char *s)
{
    size_t total = strlen(s), label = 0;

    if (total == 0 || total > 253)
        return false;
    for (const char *p = s; ; p++) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || label > 63 || p[-1] == '-')
                return false;
            if (*p == '\0')
                return true;
            label = 0;
            continue;
        }
        if (label == 0 && *p == '-')
            return false;
        /* '_' is not RFC 1123, but private DNS zones use it and resolvers accept it */
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", *p))
            return false;
        label++;
    }
}

static bool config_is_host(const char *s)
{
    struct in6_addr a6;

    return config_is_dns_name(s) || inet_pton(AF_INET6, s, &a6) == 1;
}



/* local@domain[/resource]: the local part may hold anything but the
 * characters XMPP reserves for structure and spaces. */
static bool config_is_jid(const char *s)
{
    const char *at = strchr(s, '@');
    const char *slash = strchr(s, '/');
    char domain[256];

    if (!at || at == s || (slash && slash < at))
        return false;
    for (const char *p = s; p < at; p++)
        if (strchr("\"&'/:<>@", *p) || (unsigned char) *p <= ' ')
            return false;
    size_t dlen = slash ? (size_t) (slash - at - 1) : strlen(at + 1);
    if (dlen == 0 || dlen >= sizeof domain)
        return false;
    memcpy(domain, at + 1, dlen);
    domain[dlen] = '\0';
    if (slash && slash[1] == '\0')
        return false;
    return config_is_dns_name(domain);
}

/* Parses "host", "host:port", "[v6]" or "[v6]:port" into HOST (malloc'd) and
 * *PORT (DEFAULT_PORT when absent). Returns false if malformed. */
static bool config_split_hostport(const char *s, uint16_t default_port,
                                  char **host, uint16_t *port)
{
    const char *h = s, *colon;
    size_t hlen;

    *host = NULL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return false;
        h = s + 1;
        hlen = (size_t) (close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1] != '\0')
            return false;
    } else {
        colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            return false;   /* a bare IPv6 address needs brackets */
        hlen = colon ? (size_t) (colon - s) : strlen(s);
    }
    *port = default_port;
    if (colon) {
        const char *p = colon + 1;
        unsigned long v = 0;
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 5 || p[digits] != '\0' || p[0] == '0')
            return false;
        v = strtoul(p, NULL, 10);
        if (v < 1 || v > 65535)
            return false;
        *port = (uint16_t) v;
    }
    char *copy = strndup(h, hlen);
    if (!copy)
        return false;
    bool ok;
    if (s[0] == '[') {
        struct in6_addr a6;
        ok = inet_pton(AF_INET6, copy, &a6) == 1;
    } else {
        ok = config_is_dns_name(copy);
    }
    if (!ok) {
        free(copy);
        return false;
    }
    *host = copy;
    return true;
}

/* "a.b.c.d/len", len 1..32, no leading zeros anywhere. */
static bool config_parse_cidr(const char *s, uint32_t *ip4, int *prefix_len)
{
    const char *slash = strchr(s, '/');
    char addr[INET_ADDRSTRLEN];
    struct in_addr a;

    if (!slash || (size_t) (slash - s) >= sizeof addr)
        return false;
    memcpy(addr, s, (size_t) (slash - s));
    addr[slash - s] = '\0';
    if (inet_pton(AF_INET, addr, &a) != 1)
        return false;
    const char *p = slash + 1;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 2 || p[digits] != '\0' || (digits == 2 && p[0] == '0'))
        return false;
    int len = atoi(p);
    if (len < 1 || len > 32)
        return false;
    *ip4 = ntohl(a.s_addr);
    *prefix_len = len;
    return true;
}

/* ---- reading files ----------------------------------------------------- */

/* Reads at most MAX bytes of PATH into a malloc'd NUL-terminated buffer.
 * Returns 0, a positive errno, or EFBIG when the file is larger than MAX.
 * The buffer is allocated once so secrets are never left behind by realloc. */
static int config_read_file(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    char *buf;

    *out = NULL;
    *len = 0;
    if (fd < 0)
        return errno;
    buf = malloc(max + 2);
    if (!buf) {
        close(fd);
        return ENOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            explicit_bzero(buf, n);
            free(buf);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t) r;
        if (n > max) {
            explicit_bzero(buf, n);
            free(buf);
            close(fd);
            return EFBIG;
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Reads a password from FILE_PATH (reported at KEY); one trailing newline
 * (LF or CRLF) is dropped because editors add one. */
static bool config_read_secret(struct config_ctx *c, const char *key,
                               const char *file_path, char **out)
{
    char *buf;
    size_t len;
    int e = config_read_file(file_path, CONFIG_SECRET_MAX, &buf, &len);

    if (e == EFBIG)
        return jf_fail(&c->r, key, "%s is larger than %d bytes", file_path,
                           CONFIG_SECRET_MAX);
    if (e)
        return jf_fail(&c->r, key, "cannot read %s: %s", file_path, strerror(e));
    if (len && buf[len - 1] == '\n') {
        buf[--len] = '\0';
        if (len && buf[len - 1] == '\r')
            buf[--len] = '\0';
    }
    if (len == 0 || memchr(buf, '\0', len)) {
        bool empty = len == 0;
        explicit_bzero(buf, len);
        free(buf);
        return jf_fail(&c->r, key, empty ? "%s is empty" : "%s contains a NUL byte",
                           file_path);
    }
    *out = buf;
    return true;
}

/* ---- typed fields (lib/jfield.c; these add copies and defaults) ------- */


/* Opens sub-object NAME of PARENT into *SUB, whose keys must be ALLOWED.
 * Absent: *SUB->obj is NULL, and that is an error only when REQUIRED. */
static bool config_section(struct config_ctx *c, const struct jf_obj *parent,
                           const char *name, bool required, struct jf_obj *sub,
                           const char *const *allowed)
{
    return jf_object(&c->r, parent, name, required, sub)
           && jf_known_keys(&c->r, sub, allowed);
}

static const struct jf_rule config_rule_abs_path =
    { .what = "absolute path", .ok = config_is_abs_path };
static const struct jf_rule config_rule_nonempty =
    { .what = "non-empty string", .ok = config_is_nonempty };
static const struct jf_rule config_rule_nodeid =
    { .what = CTL_NODEID_WHAT, .ok = ctl_nodeid_valid };
static const struct jf_rule config_rule_level =
    { .what = "one of error|warn|info|debug", .ok = config_is_level };
static const struct jf_rule config_rule_host =
    { .what = "host name or IP address", .ok = config_is_host };
static const struct jf_rule config_rule_jid =
    { .what = "JID local@domain[/resource]", .ok = config_is_jid };
static const struct jf_rule config_rule_ifname =
    { .what = CTL_IFNAME_WHAT, .ok = ctl_ifname_valid };

static bool config_dup(struct config_ctx *c, const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return *out || !s ? true : jf_oom(&c->r);
}

/* Checks V (found at KEY) against RULE and stores a copy in *OUT. */
static bool config_string_value(struct config_ctx *c, const char *key, const json_t *v,
                                const struct jf_rule *rule, char **out)
{
    const char *s;
    *out = NULL;
    return jf_str_value(&c->r, key, v, rule, &s) && config_dup(c, s, out);
}

/* Optional string NAME of S; absent gives a copy of DEFLT (which may be NULL). */
static bool config_string(struct config_ctx *c, const struct jf_obj *s,
                          const char *name, const struct jf_rule *rule,
                          const char *deflt, char **out)
{
    const char *v;
    *out = NULL;
    return jf_str(&c->r, s, name, false, rule, &v) && config_dup(c, v ? v : deflt, out);
}

static bool config_int(struct config_ctx *c, const struct jf_obj *s,
                       const char *name, int lo, int hi, int deflt, int *out)
{
    long long v;
    bool ok = jf_int(&c->r, s, name, false, lo, hi, deflt, &v);
    *out = (int) v;
    return ok;
}

/* Exactly one of "password" and "password_file" in S. */
static bool config_password(struct config_ctx *c, const struct jf_obj *s, char **out)
{
    char key[CONFIG_KEY_MAX], fkey[CONFIG_KEY_MAX];
    json_t *pw = jf_get(s, "password", key);
    json_t *file = jf_get(s, "password_file", fkey);

    *out = NULL;
    if (!pw == !file)
        return jf_fail(&c->r, key, "give exactly one of password and password_file");
    if (pw) {
        if (!jf_is_plain_string(pw) || json_string_length(pw) == 0)
            return jf_expected(&c->r, key, "non-empty string", pw, true);
        *out = strdup(json_string_value(pw));
        c->cfg->inline_secrets = true;
        return *out ? true : jf_oom(&c->r);
    }
    if (!jf_is_plain_string(file) || json_string_length(file) == 0)
        return jf_expected(&c->r, fkey, "non-empty path", file, false);
    if (c->cfg->n_secret_files < CONFIG_MAX_SECRET_FILES) {
        char *f = strdup(json_string_value(file));
        if (!f)
            return jf_oom(&c->r);
        c->cfg->secret_files[c->cfg->n_secret_files++] = f;
    }
    return config_read_secret(c, fkey, json_string_value(file), out);
}

/* ---- sections ---------------------------------------------------------- */

static bool config_node(struct config_ctx *c, const struct jf_obj *top,
                        struct config *cfg)
{
    static const char *const keys[] = { "id", "state_dir", "run_dir", "log_level",
                                        "strict_modes", NULL };
    struct jf_obj s;

    return config_section(c, top, "node", false, &s, keys)
        && config_string(c, &s, "id", &config_rule_nodeid, NULL, &cfg->node_id)
        && config_string(c, &s, "state_dir", &config_rule_abs_path, "/var/lib/evio",
                         &cfg->state_dir)
        && config_string(c, &s, "run_dir", &config_rule_abs_path, "/run/evio", &cfg->run_dir)
        && config_string(c, &s, "log_level", &config_rule_level, "info", &cfg->log_level)
        && jf_bool(&c->r, &s, "strict_modes", false, true, &cfg->strict_modes);
}

static bool config_xmpp(struct config_ctx *c, const struct jf_obj *top,
                        struct config *cfg)
{
    static const char *const keys[] = { "host", "port", "user", "password", "password_file",
                                        "tls", "ca_file", "muc_domain", NULL };
    static const char *const tls_names[] = { [XMPP_TLS_REQUIRED] = "required",
                                             [XMPP_TLS_DIRECT] = "direct",
                                             [XMPP_TLS_NONE] = "none" };
    struct jf_obj s;
    char key[CONFIG_KEY_MAX];
    int port;

    if (!config_section(c, top, "xmpp", true, &s, keys))
        return false;
    if (!jf_get(&s, "host", key))
        return jf_fail(&c->r, key, "required key missing");
    if (!config_string(c, &s, "host", &config_rule_host, NULL, &cfg->xmpp_host))
        return false;

    /* tls before port: it decides the port's default */
    int tls;
    if (!jf_enum(&c->r, &s, "tls", false, tls_names, 3, XMPP_TLS_REQUIRED, &tls))
        return false;
    cfg->xmpp_tls = (enum xmpp_tls_mode) tls;
    if (!config_int(c, &s, "port", 1, 65535,
                    cfg->xmpp_tls == XMPP_TLS_DIRECT ? 5223 : 5222, &port))
        return false;
    cfg->xmpp_port = (uint16_t) port;

    if (!jf_get(&s, "user", key))
        return jf_fail(&c->r, key, "required key missing");
    if (!config_string(c, &s, "user", &config_rule_jid, NULL, &cfg->xmpp_user)
        || !config_password(c, &s, &cfg->xmpp_password)
        || !config_string(c, &s, "ca_file", &config_rule_abs_path, NULL, &cfg->xmpp_ca_file))
        return false;

    if (cfg->xmpp_ca_file) {
        /* checked now so a typo fails at start, not at the first TLS handshake */
        int fd = open(cfg->xmpp_ca_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            jf_get(&s, "ca_file", key);
            return jf_fail(&c->r, key, "cannot read %s: %s", cfg->xmpp_ca_file,
                               strerror(errno));
        }
        close(fd);
    }

    if (jf_get(&s, "muc_domain", key))
        return config_string(c, &s, "muc_domain", &config_rule_host, NULL,
                             &cfg->xmpp_muc_domain);
    const char *domain = strchr(cfg->xmpp_user, '@') + 1;
    size_t dlen = strcspn(domain, "/");
    if (asprintf(&cfg->xmpp_muc_domain, "conference.%.*s", (int) dlen, domain) < 0) {
        cfg->xmpp_muc_domain = NULL;
        return jf_oom(&c->r);
    }
    return true;
}

static bool config_servers(struct config_ctx *c, const struct jf_obj *top,
                           struct config *cfg)
{
    static const char *const turn_keys[] = { "server", "user", "password", "password_file",
                                             NULL };
    static const char *const what = "\"host:port\" with port 1..65535";
    char key[CONFIG_KEY_MAX], ekey[CONFIG_KEY_MAX];
    json_t *arr, *v;
    size_t i;

    if (!jf_array(&c->r, top, "stun", false, CONFIG_MAX_SERVERS, &arr, key))
        return false;
    json_array_foreach(arr, i, v) {
        struct config_server *srv = &cfg->stun[i];
        jf_index(ekey, key, i);
        if (!jf_is_plain_string(v)
            || !config_split_hostport(json_string_value(v), CONFIG_DEFAULT_STUN_PORT,
                                      &srv->host, &srv->port))
            return jf_expected(&c->r, ekey, what, v, false);
        cfg->n_stun++;
    }

    if (!jf_array(&c->r, top, "turn", false, CONFIG_MAX_SERVERS, &arr, key))
        return false;
    json_array_foreach(arr, i, v) {
        struct config_server *srv = &cfg->turn[i];
        struct jf_obj s = { .obj = v };
        json_t *sv;
        char skey[CONFIG_KEY_MAX];

        jf_index(s.path, key, i);
        if (!json_is_object(v))
            return jf_expected(&c->r, s.path, "object", v, false);
        if (!jf_known_keys(&c->r, &s, turn_keys))
            return false;
        if (!(sv = jf_get(&s, "server", skey)))
            return jf_fail(&c->r, skey, "required key missing");
        if (!jf_is_plain_string(sv)
            || !config_split_hostport(json_string_value(sv), CONFIG_DEFAULT_STUN_PORT,
                                      &srv->host, &srv->port))
            return jf_expected(&c->r, skey, what, sv, false);
        if (!jf_get(&s, "user", skey))
            return jf_fail(&c->r, skey, "required key missing");
        if (!config_string(c, &s, "user", &config_rule_nonempty, NULL, &srv->user)
            || !config_password(c, &s, &srv->password))
            return false;
        cfg->n_turn++;
    }
    return true;
}

/* "link": how each encrypted link behaves once up. */
static bool config_link(struct config_ctx *c, const struct jf_obj *top,
                        struct config *cfg)
{
    static const char *const keys[] = { "rekey_records", "data_records", "rekey_after_s",
                                        "rekey_after_bytes", NULL };
    struct jf_obj s;
    long long bytes;

    /* 2^24 records per AES-GCM key (RFC 8446 5.5 allows 2^24.5); small
     * values are for tests of rekeying itself. A fresh handshake (new
     * ECDHE) a day or a TiB; a few seconds are for tests too. */
    bool ok = config_section(c, top, "link", false, &s, keys)
              && config_int(c, &s, "rekey_records", 16, 1 << 30, 1 << 24, &cfg->rekey_records)
              && jf_bool(&c->r, &s, "data_records", false, true, &cfg->data_records)
              && config_int(c, &s, "rekey_after_s", 2, 366 * 86400, 86400, &cfg->rekey_after_s)
              && jf_int(&c->r, &s, "rekey_after_bytes", false, 1LL << 20, 1LL << 60, 1LL << 40,
                        &bytes);
    cfg->rekey_after_bytes = ok ? (uint64_t)bytes : 0;
    return ok;
}

/* An ice.ignore_interfaces entry: an interface name (1..15 characters, none
 * of '/', ':' or white space, as the kernel allows) or an fnmatch(3)
 * pattern of such characters of up to CONFIG_IGNORE_PATTERN_MAX, every '['
 * closed. A name longer than 15 without a wildcard could never match. */
static bool config_is_ifpattern(const char *s)
{
    size_t len = strlen(s);
    bool glob = false;

    if (len == 0 || len > CONFIG_IGNORE_PATTERN_MAX)
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char) *p;
        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == ':')
            return false;
    }
    for (const char *p = s; *p; p++) {
        if (*p == '*' || *p == '?')
            glob = true;
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '[') {
            const char *q = p + 1;
            if (*q == '!' || *q == '^')
                q++;
            if (*q == ']')
                q++;
            q = strchr(q, ']');
            if (!q)
                return false;
            glob = true;
            p = q;
        }
    }
    return glob || len <= CONFIG_IFNAME_MAX;
}

static const struct jf_rule config_rule_ifpattern = {
    .what = "interface name of 1..15 characters or fnmatch pattern of up to 31 (no '/', "
            "':' or spaces, '[' closed), or \"" CONFIG_IGNORE_DEFAULTS "\"",
    .ok = config_is_ifpattern,
};

/* Container, Kubernetes CNI and VM-host devices: a candidate on them leads
 * nowhere (the same private address on every host) or is a tunnel inside
 * the overlay (Flannel's vxlan riding on the bridge). Documented in
 * evio.conf(5); "@defaults" in a list stands for them. */
static const char *const config_default_ignore[] = {
    "flannel*", "cni*", "docker*", "veth*", "cali*", "vxlan.calico", "vxlan-v6.calico",
    "wireguard.cali", "tunl0", "cilium_*", "lxc*", "weave", "kube-ipvs0", "kube-bridge",
    "kube-dummy-if", "nodelocaldns", "antrea-*", "virbr*", "podman*", "lxdbr*", "incusbr*",
};

static bool config_ignore_add(struct config_ctx *c, const char *key, const char *s,
                              struct config *cfg)
{
    if (cfg->n_ignore >= CONFIG_MAX_IGNORE)
        return jf_fail(&c->r, key, "more than %d entries with " CONFIG_IGNORE_DEFAULTS
                       " expanded", CONFIG_MAX_IGNORE);
    if (!config_dup(c, s, &cfg->ignore_interfaces[cfg->n_ignore]))
        return false;
    cfg->n_ignore++;
    return true;
}

static bool config_ice(struct config_ctx *c, const struct jf_obj *top,
                       struct config *cfg)
{
    static const char *const keys[] = { "ignore_interfaces", "relay_only", "fast_path", NULL };
    static const size_t n_defaults = sizeof config_default_ignore / sizeof *config_default_ignore;
    _Static_assert(sizeof config_default_ignore / sizeof *config_default_ignore
                   <= CONFIG_MAX_IGNORE, "the defaults fit");
    struct jf_obj s;
    char key[CONFIG_KEY_MAX], ekey[CONFIG_KEY_MAX];
    json_t *arr, *v;
    size_t i;

    if (!config_section(c, top, "ice", false, &s, keys)
        || !jf_bool(&c->r, &s, "relay_only", false, false, &cfg->relay_only)
        || !jf_bool(&c->r, &s, "fast_path", false, true, &cfg->fast_path)
        || !jf_array(&c->r, &s, "ignore_interfaces", false, CONFIG_MAX_IGNORE, &arr, key))
        return false;
    if (!arr) {
        for (i = 0; i < n_defaults; i++)
            if (!config_ignore_add(c, key, config_default_ignore[i], cfg))
                return false;
        return true;
    }
    /* an explicit list replaces the defaults; "@defaults" brings them back */
    json_array_foreach(arr, i, v) {
        const char *str;
        jf_index(ekey, key, i);
        if (jf_is_plain_string(v) && !strcmp(json_string_value(v), CONFIG_IGNORE_DEFAULTS)) {
            for (size_t k = 0; k < n_defaults; k++)
                if (!config_ignore_add(c, ekey, config_default_ignore[k], cfg))
                    return false;
            continue;
        }
        if (!jf_str_value(&c->r, ekey, v, &config_rule_ifpattern, &str)
            || !config_ignore_add(c, ekey, str, cfg))
            return false;
    }
    return true;
}

static bool config_is_ovs_db(const char *s)
{
    return (!strncmp(s, "unix:", 5) && s[5]) || (!strncmp(s, "tcp:", 4) && s[4]);
}

static bool config_ovs(struct config_ctx *c, const struct jf_obj *top,
                       struct config *cfg)
{
    static const char *const keys[] = { "rundir", "db", NULL };
    static const struct jf_rule db_rule = { .what = "\"unix:PATH\" or \"tcp:HOST:PORT\"",
                                                .ok = config_is_ovs_db };
    struct jf_obj s;

    if (!config_section(c, top, "ovs", false, &s, keys)
        || !config_string(c, &s, "rundir", &config_rule_abs_path, "/var/run/openvswitch",
                          &cfg->ovs_rundir)
        || !config_string(c, &s, "db", &db_rule, NULL, &cfg->ovs_db))
        return false;
    if (!cfg->ovs_db && asprintf(&cfg->ovs_db, "unix:%s/db.sock", cfg->ovs_rundir) < 0) {
        cfg->ovs_db = NULL;
        return jf_oom(&c->r);
    }
    return true;
}

/* "ip": "auto": the address comes from "pool" (a network of 1..30 bits,
 * host bits zero) by address conflict detection (evio/acd.h) */
static bool config_bridge_pool(struct config_ctx *c, const struct jf_obj *s,
                               struct config_overlay *o)
{
    char key[CONFIG_KEY_MAX];
    json_t *v = jf_get(s, "pool", key);
    uint32_t net;
    int len;

    if (!v)
        return jf_fail(&c->r, key, "required with \"ip\": \"auto\"");
    if (!jf_is_plain_string(v) || !config_parse_cidr(json_string_value(v), &net, &len)
        || len > 30 || (net & ~(~0u << (32 - len))))
        return jf_expected(&c->r, key, "IPv4 network \"a.b.c.d/1..30\" (host bits zero)",
                           v, false);
    o->ip_auto = true;
    o->pool = net;
    o->prefix_len = len;
    o->ip4 = 0;
    return true;
}

static bool config_bridge(struct config_ctx *c, const struct jf_obj *ov,
                          struct config_overlay *o)
{
    static const char *const keys[] = { "name", "ip", "pool", "mtu", NULL };
    struct jf_obj s;
    char key[CONFIG_KEY_MAX];
    json_t *v;

    if (!config_section(c, ov, "bridge", true, &s, keys))
        return false;
    if (jf_get(&s, "name", key)) {
        if (!config_string(c, &s, "name", &config_rule_ifname, NULL, &o->bridge_name))
            return false;
    } else if (strlen("evio-") + strlen(o->name) > CONFIG_IFNAME_MAX) {
        return jf_fail(&c->r, key, "required when \"evio-%s\" is longer than %d characters",
                           o->name, CONFIG_IFNAME_MAX);
    } else if (asprintf(&o->bridge_name, "evio-%s", o->name) < 0) {
        o->bridge_name = NULL;
        return jf_oom(&c->r);
    }

    if (!(v = jf_get(&s, "ip", key)))
        return jf_fail(&c->r, key, "required key missing");
    if (jf_is_plain_string(v) && !strcmp(json_string_value(v), "auto")) {
        if (!config_bridge_pool(c, &s, o))
            return false;
    } else if (!jf_is_plain_string(v)
               || !config_parse_cidr(json_string_value(v), &o->ip4, &o->prefix_len)) {
        return jf_expected(&c->r, key, "IPv4 address with prefix length \"a.b.c.d/1..32\""
                           " or \"auto\"", v, false);
    } else if (jf_get(&s, "pool", key)) {
        return jf_fail(&c->r, key, "only with \"ip\": \"auto\"");
    }
    /* "auto": from the underlay route at start (evio/mtu.h); 1410 until then */
    v = jf_get(&s, "mtu", key);
    if (v && jf_is_plain_string(v) && !strcmp(json_string_value(v), "auto")) {
        o->mtu_auto = true;
        o->mtu = 1410;
        return true;
    }
    o->mtu = 1410;
    if (v && (!json_is_integer(v) || json_integer_value(v) < 576
              || json_integer_value(v) > 9000))
        return jf_expected(&c->r, key, "integer 576..9000 or \"auto\"", v, false);
    if (v)
        o->mtu = (int) json_integer_value(v);
    snprintf(o->mtu_source, sizeof o->mtu_source, v ? "config" : "default");
    return true;
}

static bool config_topology(struct config_ctx *c, const struct jf_obj *ov,
                            struct config_overlay *o)
{
    static const char *const keys[] = { "min_successors", "max_long_distance",
                                        "max_on_demand", "max_concurrent_edges",
                                        "on_demand_threshold_kbps", "on_demand_idle_s", NULL };
    struct jf_obj s;
    char key[CONFIG_KEY_MAX];
    json_t *v;

    if (!config_section(c, ov, "topology", false, &s, keys)
        || !config_int(c, &s, "min_successors", 1, 16, 2, &o->min_successors)
        || !config_int(c, &s, "max_on_demand", 0, 64, 4, &o->max_on_demand)
        || !config_int(c, &s, "on_demand_threshold_kbps", 0, 10000000, 1000,
                       &o->on_demand_threshold_kbps)
        || !config_int(c, &s, "on_demand_idle_s", 1, 86400, 60, &o->on_demand_idle_s)
        || !config_int(c, &s, "max_concurrent_edges", 1, 64, 8, &o->max_concurrent_edges))
        return false;
    o->max_long_distance = -1;
    v = s.obj ? jf_get(&s, "max_long_distance", key) : NULL;
    if (!v || (jf_is_plain_string(v) && !strcmp(json_string_value(v), "auto")))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 64)
        return jf_expected(&c->r, key, "\"auto\" or integer 0..64", v, false);
    o->max_long_distance = (int) json_integer_value(v);
    return true;
}

/* A list of node IDs at KEY_NAME in OV (at most MAX): none is this node's
 * own, none twice. OUT gets malloc'd strings, *N their number. */
static bool config_id_list(struct config_ctx *c, const struct jf_obj *ov,
                           const struct config *cfg, const char *key_name, size_t max,
                           char **out, int *n)
{
    char key[CONFIG_KEY_MAX], ekey[CONFIG_KEY_MAX];
    json_t *arr, *v;
    size_t i;

    if (!jf_array(&c->r, ov, key_name, false, max, &arr, key))
        return false;
    json_array_foreach(arr, i, v) {
        jf_index(ekey, key, i);
        if (!config_string_value(c, ekey, v, &config_rule_nodeid, &out[i]))
            return false;
        (*n)++;
        if (cfg->node_id && !strcmp(cfg->node_id, out[i]))
            return jf_fail(&c->r, ekey, "is this node's own id (node.id)");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out[j], out[i]))
                return jf_fail(&c->r, ekey, "duplicate of %s[%zu]", key, j);
    }
    return true;
}

static bool config_static_peers(struct config_ctx *c, const struct jf_obj *ov,
                                const struct config *cfg, struct config_overlay *o)
{
    return config_id_list(c, ov, cfg, "static_peers", CONFIG_MAX_STATIC, o->static_peers,
                          &o->n_static);
}

/* "members": the only peers this node links with (absent: every room member) */
static bool config_members(struct config_ctx *c, const struct jf_obj *ov,
                           const struct config *cfg, struct config_overlay *o)
{
    char key[CONFIG_KEY_MAX];
    if (!jf_get(ov, "members", key))
        return true;
    o->members_only = true;
    o->members = calloc(CONFIG_MAX_MEMBERS, sizeof *o->members);
    if (!o->members)
        return jf_oom(&c->r);
    return config_id_list(c, ov, cfg, "members", CONFIG_MAX_MEMBERS, o->members,
                          &o->n_members);
}

static bool config_overlays(struct config_ctx *c, const struct jf_obj *top,
                            struct config *cfg)
{
    static const char *const keys[] = { "bridge", "topology", "static_peers", "members", NULL };
    char key[CONFIG_KEY_MAX];
    json_t *all = jf_get(top, "overlays", key), *v;
    const char *name;

    if (!all)
        return jf_fail(&c->r, key, "required key missing");
    if (!json_is_object(all))
        return jf_expected(&c->r, key, "object", all, false);
    if (json_object_size(all) < 1 || json_object_size(all) > CONFIG_MAX_OVERLAYS)
        return jf_fail(&c->r, key, "expected 1..%d overlays, got %zu", CONFIG_MAX_OVERLAYS,
                           json_object_size(all));

    json_object_foreach(all, name, v) {
        struct config_overlay *o = &cfg->overlays[cfg->n_overlays];
        struct jf_obj s = { .obj = v };
        char shown[JF_SHOW_BUF];

        if (!ctl_overlay_valid(name)) {
            json_t *js = json_string(name);
            bool r = jf_fail(&c->r, key, "expected overlay names of 1..32 characters "
                                 "a-z 0-9 _ -, got %s",
                                 js ? jf_show(js, false, shown) : "?");
            json_decref(js);
            return r;
        }
        jf_key(s.path, key, name);
        if (!json_is_object(v))
            return jf_expected(&c->r, s.path, "object", v, false);
        if (!jf_known_keys(&c->r, &s, keys))
            return false;
        cfg->n_overlays++;
        if (!(o->name = strdup(name)))
            return jf_oom(&c->r);
        if (!config_bridge(c, &s, o) || !config_topology(c, &s, o)
            || !config_static_peers(c, &s, cfg, o) || !config_members(c, &s, cfg, o))
            return false;
        for (int j = 0; j < cfg->n_overlays - 1; j++)
            if (!strcmp(cfg->overlays[j].bridge_name, o->bridge_name)) {
                char bridge[CONFIG_KEY_MAX], bkey[CONFIG_KEY_MAX];
                jf_key(bridge, s.path, "bridge");
                jf_key(bkey, bridge, "name");
                return jf_fail(&c->r, bkey, "\"%s\" is already the bridge of overlay %s",
                                   o->bridge_name, cfg->overlays[j].name);
            }
    }
    return true;
}

/* ---- entry points ------------------------------------------------------ */

/* Jansson quotes the token it stopped at; inside a string that could be part
 * of a password, so only the position is kept for string tokens. */
static void config_syntax_error(struct config_ctx *c, const json_error_t *je)
{
    char text[JSON_ERROR_TEXT_LENGTH];
    char *near = NULL;

    snprintf(text, sizeof text, "%s", je->text);
    if (json_error_code(je) != json_error_duplicate_key
        && (near = strstr(text, " near '\"")))
        *near = '\0';
    /* the user cannot set jansson's flags: do not send them looking for one */
    if ((near = strstr(text, " without JSON_ALLOW_NUL")))
        *near = '\0';
    if (je->line > 0)
        jf_fail(&c->r, NULL, "line %d, column %d: JSON syntax error: %s",
                    je->line, je->column, text);
    else
        jf_fail(&c->r, NULL, "JSON syntax error: %s", text);
}

/* Jansson frees strings without wiping them: wipe every password in the
 * tree before it goes. */
static void config_wipe_secrets(json_t *v)
{
    const char *name;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, name, child) {
            if (!strcmp(name, "password") && json_is_string(child))
                explicit_bzero((char *) json_string_value(child), json_string_length(child));
            else
                config_wipe_secrets(child);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
            config_wipe_secrets(child);
    }
}

static int config_parse_buf(const char *text, size_t len, const char *path,
                            struct config *cfg, char **err)
{
    static const char *const top_keys[] = { "node", "xmpp", "stun", "turn", "ice", "link", "ovs",
                                            "overlays", NULL };
    struct config_ctx c = { .path = path ? path : "(config)",
                          .r.missing = "required key missing", .cfg = cfg };
    struct jf_obj top = { .path = "" };
    json_error_t je;

    memset(cfg, 0, sizeof *cfg);
    if (err)
        *err = NULL;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

    top.obj = root;
    if (!root) {
        config_syntax_error(&c, &je);
    } else if (!json_is_object(top.obj)) {
        jf_expected(&c.r, NULL, "an object at the top level", top.obj, false);
    } else if (!(cfg->path = strdup(c.path))) {
        jf_oom(&c.r);
    } else {
        (void) (jf_known_keys(&c.r, &top, top_keys)
                && config_node(&c, &top, cfg)
                && config_xmpp(&c, &top, cfg)
                && config_servers(&c, &top, cfg)
                && config_ice(&c, &top, cfg)
                && config_link(&c, &top, cfg)
                && config_ovs(&c, &top, cfg)
                && config_overlays(&c, &top, cfg));
    }
    config_wipe_secrets(root);
    json_decref(root);

    if (!c.r.failed)
        return 0;
    config_free(cfg);
    int rc = c.r.oom ? 1 : 2;
    char *what = jf_take_err(&c.r);
    if (err && (!what || asprintf(err, "%s: %s", c.path, what) < 0))
        *err = NULL;
    free(what);
    return rc;
}

int config_parse(const char *text, const char *path, struct config *cfg, char **err)
{
    return config_parse_buf(text ? text : "", text ? strlen(text) : 0, path, cfg, err);
}

int config_load(const char *path, struct config *cfg, char **err)
{
    char *text;
    size_t len;
    int e = config_read_file(path, CONFIG_FILE_MAX, &text, &len);

    if (e) {
        memset(cfg, 0, sizeof *cfg);
        if (err && asprintf(err, "%s: cannot read: %s", path,
                            e == EFBIG ? "larger than 1 MiB" : strerror(e)) < 0)
            *err = NULL;
        return 1;
    }
    int rc = config_parse_buf(text, len, path, cfg, err);
    explicit_bzero(text, len);      /* it may hold passwords */
    free(text);
    return rc;
}

static void config_free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void config_free_server(struct config_server *srv)
{
    free(srv->host);
    free(srv->user);
    config_free_secret(srv->password);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->node_id);
    free(cfg->state_dir);
    free(cfg->run_dir);
    for (int i = 0; i < cfg->n_secret_files; i++)
        free(cfg->secret_files[i]);
    free(cfg->log_level);
    free(cfg->xmpp_host);
    free(cfg->xmpp_user);
    config_free_secret(cfg->xmpp_password);
    free(cfg->xmpp_ca_file);
    free(cfg->xmpp_muc_domain);
    for (int i = 0; i < CONFIG_MAX_SERVERS; i++) {
        config_free_server(&cfg->stun[i]);
        config_free_server(&cfg->turn[i]);
    }
    for (int i = 0; i < CONFIG_MAX_IGNORE; i++)
        free(cfg->ignore_interfaces[i]);
    free(cfg->ovs_rundir);
    free(cfg->ovs_db);
    for (int i = 0; i < CONFIG_MAX_OVERLAYS; i++) {
        struct config_overlay *o = &cfg->overlays[i];
        free(o->name);
        free(o->bridge_name);
        for (int j = 0; j < CONFIG_MAX_STATIC; j++)
            free(o->static_peers[j]);
        for (int j = 0; o->members && j < CONFIG_MAX_MEMBERS; j++)
            free(o->members[j]);
        free(o->members);
    }
    memset(cfg, 0, sizeof *cfg);
}

const struct config_overlay *config_find_overlay(const struct config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (int i = 0; i < cfg->n_overlays && i < CONFIG_MAX_OVERLAYS; i++)
        if (cfg->overlays[i].name && !strcmp(cfg->overlays[i].name, name))
            return &cfg->overlays[i];
    return NULL;
}
