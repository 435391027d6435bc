/* Fuzz target: the node's configuration parser (lib/config.c), fed as the
 * text of /etc/evio/config.json. Invariants: success fills every field
 * within the ranges evio.conf(5) documents; failure returns 2 with one line
 * that starts with the file name, leaves the struct empty, and never shows
 * a password given in the text (even when the JSON around it is broken);
 * parsing is repeatable. */
#include "fuzz.h"

#include "evio/config.h"

#define FUZZ_PATH "fuzz.json"

static bool name_ok(const char *s, size_t max, const char *extra)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || strchr(extra, s[i])))
            return false;
    return true;
}

static void check_server(const struct config_server *s, bool turn)
{
    FUZZ_ASSERT(s->host && *s->host && s->port >= 1, "server %s:%u",
                s->host ? s->host : "(null)", s->port);
    if (turn)
        FUZZ_ASSERT(s->user && *s->user && s->password && *s->password, "TURN credentials");
}

static void check_config(const struct config *c)
{
    FUZZ_ASSERT(c->path && !strcmp(c->path, FUZZ_PATH), "path");
    FUZZ_ASSERT(c->state_dir && c->state_dir[0] == '/', "state_dir");
    FUZZ_ASSERT(c->run_dir && c->run_dir[0] == '/', "run_dir");
    FUZZ_ASSERT(c->log_level && (!strcmp(c->log_level, "error") || !strcmp(c->log_level, "warn")
                                 || !strcmp(c->log_level, "info")
                                 || !strcmp(c->log_level, "debug")),
                "log_level %s", c->log_level ? c->log_level : "(null)");
    FUZZ_ASSERT(!c->node_id || (name_ok(c->node_id, 32, "") && strlen(c->node_id) == 32),
                "node id %s", c->node_id);
    FUZZ_ASSERT(c->xmpp_host && *c->xmpp_host && c->xmpp_port >= 1, "xmpp host");
    FUZZ_ASSERT(c->xmpp_user && strchr(c->xmpp_user, '@'), "xmpp user");
    FUZZ_ASSERT(c->xmpp_password && *c->xmpp_password, "xmpp password");
    FUZZ_ASSERT(c->xmpp_tls <= XMPP_TLS_NONE, "tls %d", (int)c->xmpp_tls);
    FUZZ_ASSERT(c->xmpp_muc_domain && *c->xmpp_muc_domain, "muc domain");
    FUZZ_ASSERT(c->n_stun >= 0 && c->n_stun <= CONFIG_MAX_SERVERS, "n_stun %d", c->n_stun);
    FUZZ_ASSERT(c->n_turn >= 0 && c->n_turn <= CONFIG_MAX_SERVERS, "n_turn %d", c->n_turn);
    for (int i = 0; i < c->n_stun; i++)
        check_server(&c->stun[i], false);
    for (int i = 0; i < c->n_turn; i++)
        check_server(&c->turn[i], true);
    FUZZ_ASSERT(c->n_ignore >= 0 && c->n_ignore <= CONFIG_MAX_IGNORE, "n_ignore %d", c->n_ignore);
    for (int i = 0; i < c->n_ignore; i++)
        FUZZ_ASSERT(c->ignore_interfaces[i] && *c->ignore_interfaces[i]
                    && strlen(c->ignore_interfaces[i]) <= CONFIG_IGNORE_PATTERN_MAX
                    && (strpbrk(c->ignore_interfaces[i], "*?[")
                        || strlen(c->ignore_interfaces[i]) <= 15)
                    && !strpbrk(c->ignore_interfaces[i], "/: \t\n")
                    && strcmp(c->ignore_interfaces[i], CONFIG_IGNORE_DEFAULTS),
                    "ignore_interfaces[%d]", i);
    FUZZ_ASSERT(c->rekey_records >= 16 && c->rekey_records <= 1 << 30, "rekey %d",
                c->rekey_records);
    FUZZ_ASSERT(c->ovs_rundir && c->ovs_db, "ovs");
    FUZZ_ASSERT(c->n_overlays >= 1 && c->n_overlays <= CONFIG_MAX_OVERLAYS, "n_overlays %d",
                c->n_overlays);
    for (int i = 0; i < c->n_overlays; i++) {
        const struct config_overlay *o = &c->overlays[i];
        FUZZ_ASSERT(name_ok(o->name, 32, "_-"), "overlay name %s", o->name);
        FUZZ_ASSERT(config_find_overlay(c, o->name) == o, "find_overlay %s", o->name);
        FUZZ_ASSERT(o->bridge_name && *o->bridge_name && strlen(o->bridge_name) <= 15,
                    "bridge name");
        for (int j = 0; j < i; j++)
            FUZZ_ASSERT(strcmp(o->bridge_name, c->overlays[j].bridge_name)
                        && strcmp(o->name, c->overlays[j].name), "overlays %d and %d clash", j, i);
        FUZZ_ASSERT(o->prefix_len >= 1 && o->prefix_len <= 32, "prefix %d", o->prefix_len);
        FUZZ_ASSERT(o->mtu >= 576 && o->mtu <= 9000, "mtu %d", o->mtu);
        FUZZ_ASSERT(!o->mtu_auto || (o->mtu == 1410 && !o->mtu_source[0]), "mtu auto");
        FUZZ_ASSERT(o->min_successors >= 1 && o->min_successors <= 16, "min_successors");
        FUZZ_ASSERT(o->max_long_distance >= -1 && o->max_long_distance <= 64, "max_long_distance");
        FUZZ_ASSERT(o->max_on_demand >= 0 && o->max_on_demand <= 64, "max_on_demand");
        FUZZ_ASSERT(o->on_demand_threshold_kbps >= 0 && o->on_demand_threshold_kbps <= 10000000,
                    "threshold");
        FUZZ_ASSERT(o->on_demand_idle_s >= 1 && o->on_demand_idle_s <= 86400, "idle");
        FUZZ_ASSERT(o->max_concurrent_edges >= 1 && o->max_concurrent_edges <= 64, "concurrent");
        FUZZ_ASSERT(o->n_static >= 0 && o->n_static <= CONFIG_MAX_STATIC, "n_static");
        for (int j = 0; j < o->n_static; j++) {
            FUZZ_ASSERT(o->static_peers[j] && strlen(o->static_peers[j]) == 32,
                        "static peer %d", j);
            FUZZ_ASSERT(!c->node_id || strcmp(c->node_id, o->static_peers[j]), "own id as peer");
            for (int k = 0; k < j; k++)
                FUZZ_ASSERT(strcmp(o->static_peers[k], o->static_peers[j]), "duplicate peer");
        }
    }
    FUZZ_ASSERT(!config_find_overlay(c, ""), "an overlay with an empty name");
}

/* A password written plainly in TEXT ("password":"...", at least 10
 * characters, no escapes, found once in the whole text), or NULL. */
static char *plain_password(const char *text)
{
    static const char key[] = "\"password\":\"";
    const char *p = strstr(text, key);
    if (!p)
        return NULL;
    p += sizeof key - 1;
    size_t n = strcspn(p, "\"\\");
    if (n < 10 || p[n] != '"')
        return NULL;
    char *pw = strndup(p, n);
    if (pw && strstr(strstr(text, pw) + 1, pw)) {   /* also elsewhere: could be shown */
        free(pw);
        return NULL;
    }
    return pw;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    struct config cfg;
    char *err = NULL;
    int rc = config_parse(text, FUZZ_PATH, &cfg, &err);
    if (rc == 0) {
        FUZZ_ASSERT(!err, "success with an error: %s", err);
        check_config(&cfg);
        config_free(&cfg);
        FUZZ_ASSERT(!cfg.path && !cfg.n_overlays, "config_free left fields");
        config_free(&cfg);   /* a freed one may be freed again */
        char *err2 = NULL;
        FUZZ_ASSERT(config_parse(text, FUZZ_PATH, &cfg, &err2) == 0, "second parse: %s", err2);
        config_free(&cfg);
    } else {
        FUZZ_ASSERT(rc == 2 || rc == 1, "rc %d", rc);
        FUZZ_ASSERT(err, "failure %d without a message", rc);
        FUZZ_ASSERT(!strncmp(err, FUZZ_PATH ": ", strlen(FUZZ_PATH) + 2), "message %s", err);
        FUZZ_ASSERT(!strchr(err, '\n'), "message is not one line: %s", err);
        FUZZ_ASSERT(!cfg.path && !cfg.n_overlays && !cfg.xmpp_password && !cfg.n_turn,
                    "failure left fields set");
        char *pw = plain_password(text);
        FUZZ_ASSERT(!pw || !strstr(err, pw), "message shows the password %s: %s", pw, err);
        free(pw);
        free(err);
    }
    free(text);
    return 0;
}
