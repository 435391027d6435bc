/* The control contract (include/evio/ctlmsg.h): value rules, and one
 * encode/decode pair per message over the typed field reader (jfield.h). */
#include "evio/ctlmsg.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evio/jfield.h"

/* ---- names and value rules --------------------------------------------- */

const char *ctl_link_state_name(enum ctl_link_state s)
{
    static const char *const names[] = {
#define CTL_LINK_STATE_NAME(name, str) str,
        CTL_LINK_STATES(CTL_LINK_STATE_NAME)
#undef CTL_LINK_STATE_NAME
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static bool ctl_in(char c, const char *set)
{
    return c && strchr(set, c);
}

#define CTL_ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static bool ctl_span(const char *s, const char *set, size_t min, size_t max)
{
    size_t n = strspn(s, set);
    return s[n] == '\0' && n >= min && n <= max;
}

bool ctl_link_id_valid(const char *s)
{
    return s && ctl_span(s, CTL_ALNUM "._-", 1, CTL_LINK_ID_MAX);
}

bool ctl_ifname_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > CTL_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* N bytes as two hex digits each (of HEX), joined by ':' */
static bool ctl_hex_bytes(const char *s, size_t n, const char *hex)
{
    if (!s || strlen(s) != n * 3 - 1)
        return false;
    for (size_t i = 0; i < n * 3 - 1; i++)
        if (i % 3 == 2 ? s[i] != ':' : !ctl_in(s[i], hex))
            return false;
    return true;
}

bool ctl_fpr_valid(const char *s)
{
    return ctl_hex_bytes(s, (CTL_FPR_LEN + 1) / 3, "0123456789abcdefABCDEF");
}

bool ctl_mac_valid(const char *s)
{
    return ctl_hex_bytes(s, (CTL_MAC_LEN + 1) / 3, "0123456789abcdefABCDEF");
}

bool ctl_overlay_valid(const char *s)
{
    return s && ctl_span(s, "abcdefghijklmnopqrstuvwxyz0123456789_-", 1, CTL_OVERLAY_MAX);
}

bool ctl_nodeid_valid(const char *s)
{
    return s && ctl_span(s, "0123456789abcdef", NODEID_HEX_LEN, NODEID_HEX_LEN);
}

bool ctl_ufrag_valid(const char *s)
{
    return s && ctl_span(s, CTL_ALNUM "+/", CTL_UFRAG_MIN, CTL_ICE_MAX);
}

bool ctl_pwd_valid(const char *s)
{
    return s && ctl_span(s, CTL_ALNUM "+/", CTL_PWD_MIN, CTL_ICE_MAX);
}

bool ctl_cand_valid(const char *s)
{
    size_t i;
    if (!s)
        return false;
    for (i = 0; s[i]; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return i >= 1 && i <= CTL_CAND_MAX;
}

/* ---- reading helpers ------------------------------------------------------ */

static const struct jf_rule ctl_rule_link_id =
    { .what = "1..64 of [A-Za-z0-9._-]", .ok = ctl_link_id_valid };
static const struct jf_rule ctl_rule_ifname =
    { .what = CTL_IFNAME_WHAT, .ok = ctl_ifname_valid };
static const struct jf_rule ctl_rule_fpr =
    { .what = "32 hex bytes separated by ':'", .ok = ctl_fpr_valid };
static const struct jf_rule ctl_rule_mac =
    { .what = "MAC address xx:xx:xx:xx:xx:xx", .ok = ctl_mac_valid };
static const struct jf_rule ctl_rule_ufrag =
    { .what = "4..256 ice-chars", .ok = ctl_ufrag_valid };
static const struct jf_rule ctl_rule_pwd =
    { .what = "22..256 ice-chars", .ok = ctl_pwd_valid, .secret = true };
static const struct jf_rule ctl_rule_cand =
    { .what = "SDP candidate of 1..512 printable ASCII characters", .ok = ctl_cand_valid };
static const struct jf_rule ctl_rule_overlay =
    { .what = CTL_OVERLAY_WHAT, .ok = ctl_overlay_valid };
static const struct jf_rule ctl_rule_nodeid =
    { .what = CTL_NODEID_WHAT, .ok = ctl_nodeid_valid };

static const char *const ctl_state_names[] = {
#define CTL_LINK_STATE_NAME(name, str) str,
    CTL_LINK_STATES(CTL_LINK_STATE_NAME)
#undef CTL_LINK_STATE_NAME
};
#define CTL_N_STATES (sizeof ctl_state_names / sizeof ctl_state_names[0])

/* The message object: absent or null is {} (requests without args); WHAT
 * ("args", "result", "data") names it when it is not an object. */
static bool ctl_open(struct jf *r, const json_t *j, const char *what, struct jf_obj *o)
{
    o->path[0] = '\0';
    o->obj = NULL;
    if (!j || json_is_null(j))
        return true;
    if (!json_is_object(j))
        return jf_expected(r, what, "object", j, false);
    o->obj = j;
    return true;
}

/* Ends a decode: the error, and OUT zeroed with it. */
static char *ctl_done(struct jf *r, void *out, size_t size)
{
    char *err = jf_take_err(r);
    if (err)
        memset(out, 0, size);
    return err;
}

/* An optional string for people: any string, cut to fit BUF; absent "". */
static bool ctl_cut(struct jf *r, const struct jf_obj *o, const char *name, char *buf,
                    size_t size)
{
    const char *v;
    if (!jf_str(r, o, name, false, NULL, &v))
        return false;
    snprintf(buf, size, "%s", v ? v : "");
    return true;
}

static bool ctl_state(struct jf *r, const struct jf_obj *o, enum ctl_link_state *out)
{
    int v;
    bool ok = jf_enum(r, o, "state", true, ctl_state_names, CTL_N_STATES, 0, &v);
    *out = (enum ctl_link_state)v;
    return ok;
}

static bool ctl_count(struct jf *r, const struct jf_obj *o, const char *name, long long lo,
                      long long deflt, long long *out)
{
    return jf_int(r, o, name, false, lo, LLONG_MAX, deflt, out);
}

/* Adds KEY: S to O unless S is empty. */
static void ctl_set_str(json_t *o, const char *key, const char *s)
{
    if (o && s[0])
        json_object_set_new(o, key, json_string(s));
}

/* ---- link/remove, link/local, link/stats, link/gathering_done ------------- */

json_t *ctl_link_ref_encode(const struct ctl_link_ref *m)
{
    json_t *o = json_object();
    ctl_set_str(o, "link_id", m->link_id);
    return o;
}

char *ctl_link_ref_decode(const json_t *j, bool required, struct ctl_link_ref *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "args", &o)
           && jf_str_buf(&r, &o, "link_id", required, &ctl_rule_link_id, m->link_id,
                         sizeof m->link_id));
    return ctl_done(&r, m, sizeof *m);
}

/* ---- link/create --------------------------------------------------------- */

json_t *ctl_link_create_encode(const struct ctl_link_create *m)
{
    return json_pack("{s:s, s:s, s:i, s:b, s:s}", "link_id", m->link_id, "tap", m->tap,
                     "mtu", m->mtu, "controlling", m->controlling, "peer_fingerprint",
                     m->peer_fingerprint);
}

char *ctl_link_create_decode(const json_t *j, struct ctl_link_create *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    long long mtu = CTL_MTU_DEFAULT;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "args", &o)
           && jf_str_buf(&r, &o, "link_id", true, &ctl_rule_link_id, m->link_id,
                         sizeof m->link_id)
           && jf_str_buf(&r, &o, "tap", true, &ctl_rule_ifname, m->tap, sizeof m->tap)
           && jf_int(&r, &o, "mtu", false, CTL_MTU_MIN, CTL_MTU_MAX, CTL_MTU_DEFAULT, &mtu)
           && jf_bool(&r, &o, "controlling", false, false, &m->controlling)
           && jf_str_buf(&r, &o, "peer_fingerprint", true, &ctl_rule_fpr, m->peer_fingerprint,
                         sizeof m->peer_fingerprint));
    m->mtu = (int)mtu;
    return ctl_done(&r, m, sizeof *m);
}

json_t *ctl_link_created_encode(const struct ctl_link_created *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "link_id", m->link_id, "tap", m->tap,
                     "mac", m->mac, "fingerprint", m->fingerprint, "ufrag", m->ufrag,
                     "pwd", m->pwd);
}

char *ctl_link_created_decode(const json_t *j, struct ctl_link_created *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "result", &o)
           && jf_str_buf(&r, &o, "link_id", true, &ctl_rule_link_id, m->link_id,
                         sizeof m->link_id)
           && jf_str_buf(&r, &o, "tap", true, &ctl_rule_ifname, m->tap, sizeof m->tap)
           && jf_str_buf(&r, &o, "mac", true, &ctl_rule_mac, m->mac, sizeof m->mac)
           && jf_str_buf(&r, &o, "fingerprint", true, &ctl_rule_fpr, m->fingerprint,
                         sizeof m->fingerprint)
           && jf_str_buf(&r, &o, "ufrag", true, &ctl_rule_ufrag, m->ufrag, sizeof m->ufrag)
           && jf_str_buf(&r, &o, "pwd", true, &ctl_rule_pwd, m->pwd, sizeof m->pwd));
    return ctl_done(&r, m, sizeof *m);
}

/* ---- link/remote ----------------------------------------------------------- */

json_t *ctl_link_remote_encode(const struct ctl_link_remote *m)
{
    json_t *o = json_pack("{s:s}", "link_id", m->link_id);
    if (o && m->has_creds) {
        json_object_set_new(o, "ufrag", json_string(m->ufrag));
        json_object_set_new(o, "pwd", json_string(m->pwd));
    }
    if (o && m->n_cands > 0) {
        json_t *a = json_array();
        for (int i = 0; i < m->n_cands && i < CTL_CANDS_MAX; i++)
            json_array_append_new(a, json_string(m->cands[i]));
        json_object_set_new(o, "candidates", a);
    }
    if (o && m->gathering_done)
        json_object_set_new(o, "gathering_done", json_true());
    return o;
}

/* The candidates array: good elements copied, the others skipped and counted. */
static void ctl_remote_cands(const json_t *arr, const char *key, struct ctl_link_remote *m)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        char ekey[JF_KEY_MAX];
        const char *sdp;
        struct jf er = { 0 };
        jf_index(ekey, key, i);
        if (jf_str_value(&er, ekey, v, &ctl_rule_cand, &sdp)) {
            snprintf(m->cands[m->n_cands], sizeof m->cands[0], "%s", sdp);
            m->cand_index[m->n_cands++] = (int)i;
            continue;
        }
        char *why = jf_take_err(&er);
        if (!m->n_skipped++) {
            m->first_skipped = (int)i;
            snprintf(m->skipped, sizeof m->skipped, "%s", why ? why : "out of memory");
        }
        free(why);
    }
    m->n_elements = (int)json_array_size(arr);
}

char *ctl_link_remote_decode(const json_t *j, struct ctl_link_remote *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    const char *ufrag = NULL, *pwd = NULL;
    json_t *arr = NULL;
    char key[JF_KEY_MAX];
    memset(m, 0, sizeof *m);
    m->first_skipped = -1;
    if (ctl_open(&r, j, "args", &o)
        && jf_str_buf(&r, &o, "link_id", true, &ctl_rule_link_id, m->link_id,
                      sizeof m->link_id)
        && jf_str(&r, &o, "ufrag", false, &ctl_rule_ufrag, &ufrag)
        && jf_str(&r, &o, "pwd", false, &ctl_rule_pwd, &pwd)
        && (!ufrag == !pwd
            || jf_fail(&r, ufrag ? "ufrag" : "pwd", "expected together with %s",
                       ufrag ? "pwd" : "ufrag"))
        && jf_array(&r, &o, "candidates", false, CTL_CANDS_MAX, &arr, key)
        && jf_bool(&r, &o, "gathering_done", false, false, &m->gathering_done)) {
        if (ufrag) {
            m->has_creds = true;
            snprintf(m->ufrag, sizeof m->ufrag, "%s", ufrag);
            snprintf(m->pwd, sizeof m->pwd, "%s", pwd);
        }
        ctl_remote_cands(arr, key, m);
    }
    char *err = ctl_done(&r, m, sizeof *m);
    if (err)
        m->first_skipped = -1;
    return err;
}

/* ---- events ------------------------------------------------------------- */

json_t *ctl_link_candidate_encode(const struct ctl_link_candidate *m)
{
    return json_pack("{s:s, s:s}", "link_id", m->link_id, "candidate", m->candidate);
}

char *ctl_link_candidate_decode(const json_t *j, struct ctl_link_candidate *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "data", &o)
           && jf_str_buf(&r, &o, "link_id", true, &ctl_rule_link_id, m->link_id,
                         sizeof m->link_id)
           && jf_str_buf(&r, &o, "candidate", true, &ctl_rule_cand, m->candidate,
                         sizeof m->candidate));
    return ctl_done(&r, m, sizeof *m);
}

json_t *ctl_link_state_ev_encode(const struct ctl_link_state_ev *m)
{
    return json_pack("{s:s, s:s, s:s}", "link_id", m->link_id, "state",
                     ctl_link_state_name(m->state), "reason", m->reason);
}

char *ctl_link_state_ev_decode(const json_t *j, struct ctl_link_state_ev *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "data", &o)
           && jf_str_buf(&r, &o, "link_id", true, &ctl_rule_link_id, m->link_id,
                         sizeof m->link_id)
           && ctl_state(&r, &o, &m->state)
           && ctl_cut(&r, &o, "reason", m->reason, sizeof m->reason));
    return ctl_done(&r, m, sizeof *m);
}

/* ---- link/stats ----------------------------------------------------------- */

json_t *ctl_link_stats_encode(const struct ctl_link_stats *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
                     " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "link_id", m->link_id, "tap", m->tap, "mac", m->mac,
                     "state", ctl_link_state_name(m->state), "reason", m->reason,
                     "local_type", m->local_type, "remote_type", m->remote_type,
                     "local_addr", m->local_addr, "remote_addr", m->remote_addr,
                     "path", m->path,
                     "pair_since_s", (json_int_t)m->pair_since_s,
                     "pair_changes", (json_int_t)m->pair_changes,
                     "tx_bytes", (json_int_t)m->tx_bytes, "rx_bytes", (json_int_t)m->rx_bytes,
                     "tx_frames", (json_int_t)m->tx_frames,
                     "rx_frames", (json_int_t)m->rx_frames,
                     "drop_oversize", (json_int_t)m->drop_oversize,
                     "drop_tap", (json_int_t)m->drop_tap,
                     "drop_decrypt", (json_int_t)m->drop_decrypt,
                     "tcp_resegmented", (json_int_t)m->tcp_resegmented,
                     "age_s", (json_int_t)m->age_s, "up_s", (json_int_t)m->up_s);
}

static bool ctl_link_stats_read(struct jf *r, const struct jf_obj *o, struct ctl_link_stats *m)
{
    return jf_str_buf(r, o, "link_id", true, &ctl_rule_link_id, m->link_id, sizeof m->link_id)
           && ctl_state(r, o, &m->state)
           && ctl_cut(r, o, "tap", m->tap, sizeof m->tap)
           && ctl_cut(r, o, "mac", m->mac, sizeof m->mac)
           && ctl_cut(r, o, "reason", m->reason, sizeof m->reason)
           && ctl_cut(r, o, "local_type", m->local_type, sizeof m->local_type)
           && ctl_cut(r, o, "remote_type", m->remote_type, sizeof m->remote_type)
           && ctl_cut(r, o, "local_addr", m->local_addr, sizeof m->local_addr)
           && ctl_cut(r, o, "remote_addr", m->remote_addr, sizeof m->remote_addr)
           && ctl_cut(r, o, "path", m->path, sizeof m->path)
           && ctl_count(r, o, "pair_since_s", -1, -1, &m->pair_since_s)
           && ctl_count(r, o, "pair_changes", 0, 0, &m->pair_changes)
           && ctl_count(r, o, "tx_bytes", 0, 0, &m->tx_bytes)
           && ctl_count(r, o, "rx_bytes", 0, 0, &m->rx_bytes)
           && ctl_count(r, o, "tx_frames", 0, 0, &m->tx_frames)
           && ctl_count(r, o, "rx_frames", 0, 0, &m->rx_frames)
           && ctl_count(r, o, "drop_oversize", 0, 0, &m->drop_oversize)
           && ctl_count(r, o, "drop_tap", 0, 0, &m->drop_tap)
           && ctl_count(r, o, "drop_decrypt", 0, 0, &m->drop_decrypt)
           && ctl_count(r, o, "tcp_resegmented", 0, 0, &m->tcp_resegmented)
           && ctl_count(r, o, "age_s", 0, 0, &m->age_s)
           && ctl_count(r, o, "up_s", 0, 0, &m->up_s);
}

char *ctl_link_stats_decode(const json_t *j, struct ctl_link_stats *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "result", &o) && ctl_link_stats_read(&r, &o, m));
    return ctl_done(&r, m, sizeof *m);
}

/* Reads array NAME of the result J, at most MAX objects of SIZE bytes, each
 * by READ, into a malloc'd array. */
static bool ctl_read_list(struct jf *r, const struct jf_obj *o, const char *name, size_t max,
                          size_t size, bool (*read)(struct jf *, const struct jf_obj *, void *),
                          void **out, size_t *n)
{
    char key[JF_KEY_MAX];
    json_t *arr, *v;
    size_t i;
    *out = NULL;
    *n = 0;
    if (!jf_array(r, o, name, true, max, &arr, key))
        return false;
    if (json_array_size(arr) && !(*out = calloc(json_array_size(arr), size)))
        return jf_oom(r);
    json_array_foreach(arr, i, v) {
        struct jf_obj e = { .obj = v };
        jf_index(e.path, key, i);
        if (!json_is_object(v))
            return jf_expected(r, e.path, "object", v, false);
        if (!read(r, &e, (char *)*out + i * size))
            return false;
        (*n)++;
    }
    return true;
}

static bool ctl_link_stats_read_any(struct jf *r, const struct jf_obj *o, void *m)
{
    return ctl_link_stats_read(r, o, m);
}

char *ctl_link_stats_reply_decode(const json_t *j, struct ctl_link_stats_reply *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    void *links = NULL;
    json_t *servers = NULL;
    memset(m, 0, sizeof *m);
    if (ctl_open(&r, j, "result", &o)
        && ctl_read_list(&r, &o, "links", CTL_LINKS_MAX, sizeof *m->links,
                         ctl_link_stats_read_any, &links, &m->n_links)
        && jf_array(&r, &o, "servers", false, SIZE_MAX, &servers, NULL))
        m->servers = json_incref(servers);
    m->links = links;
    char *err = jf_take_err(&r);
    if (err)
        ctl_link_stats_reply_free(m);
    return err;
}

void ctl_link_stats_reply_free(struct ctl_link_stats_reply *m)
{
    if (!m)
        return;
    free(m->links);
    json_decref(m->servers);
    memset(m, 0, sizeof *m);
}

const struct ctl_link_stats *ctl_link_stats_find(const struct ctl_link_stats_reply *m,
                                                 const char *link_id)
{
    for (size_t i = 0; m && link_id && i < m->n_links; i++)
        if (!strcmp(m->links[i].link_id, link_id))
            return &m->links[i];
    return NULL;
}

/* ---- link/list ------------------------------------------------------------ */

json_t *ctl_link_list_encode(const struct ctl_link_list *m)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < m->n_links; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "link_id", m->links[i].link_id,
                                           "tap", m->links[i].tap, "state",
                                           ctl_link_state_name(m->links[i].state)));
    return json_pack("{s:o}", "links", a);
}

static bool ctl_link_list_read(struct jf *r, const struct jf_obj *o, void *p)
{
    struct ctl_link_list_entry *m = p;
    return jf_str_buf(r, o, "link_id", true, &ctl_rule_link_id, m->link_id, sizeof m->link_id)
           && jf_str_buf(r, o, "tap", true, &ctl_rule_ifname, m->tap, sizeof m->tap)
           && ctl_state(r, o, &m->state);
}

char *ctl_link_list_decode(const json_t *j, struct ctl_link_list *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    void *links = NULL;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "result", &o)
           && ctl_read_list(&r, &o, "links", CTL_LINKS_MAX, sizeof *m->links,
                            ctl_link_list_read, &links, &m->n_links));
    m->links = links;
    char *err = jf_take_err(&r);
    if (err)
        ctl_link_list_free(m);
    return err;
}

void ctl_link_list_free(struct ctl_link_list *m)
{
    if (!m)
        return;
    free(m->links);
    memset(m, 0, sizeof *m);
}

/* ---- node/info ------------------------------------------------------------ */

json_t *ctl_node_info_encode(const struct ctl_node_info *m)
{
    return json_pack("{s:s, s:I, s:s, s:I}", "fingerprint", m->fingerprint,
                     "links", (json_int_t)m->links, "version", m->version,
                     "rejected_requests", (json_int_t)m->rejected_requests);
}

char *ctl_node_info_decode(const json_t *j, struct ctl_node_info *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "result", &o)
           && jf_str_buf(&r, &o, "fingerprint", true, &ctl_rule_fpr, m->fingerprint,
                         sizeof m->fingerprint)
           && ctl_count(&r, &o, "links", 0, 0, &m->links)
           && ctl_cut(&r, &o, "version", m->version, sizeof m->version)
           && ctl_count(&r, &o, "rejected_requests", 0, 0, &m->rejected_requests));
    return ctl_done(&r, m, sizeof *m);
}

/* ---- evio-switchctl ------------------------------------------------------- */

json_t *ctl_port_encode(const struct ctl_port *m, bool with_peer)
{
    json_t *o = json_pack("{s:s, s:s}", "overlay", m->overlay, "port", m->port);
    if (o && with_peer)
        json_object_set_new(o, "peer", json_string(m->peer));
    return o;
}

char *ctl_port_decode(const json_t *j, bool with_peer, struct ctl_port *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "args", &o)
           && jf_str_buf(&r, &o, "overlay", true, &ctl_rule_overlay, m->overlay,
                         sizeof m->overlay)
           && jf_str_buf(&r, &o, "port", true, &ctl_rule_ifname, m->port, sizeof m->port)
           && (!with_peer
               || jf_str_buf(&r, &o, "peer", true, &ctl_rule_nodeid, m->peer, sizeof m->peer)));
    return ctl_done(&r, m, sizeof *m);
}

json_t *ctl_overlay_sel_encode(const struct ctl_overlay_sel *m)
{
    json_t *o = json_object();
    ctl_set_str(o, "overlay", m->overlay);
    return o;
}

char *ctl_overlay_sel_decode(const json_t *j, struct ctl_overlay_sel *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "args", &o)
           && jf_str_buf(&r, &o, "overlay", false, &ctl_rule_overlay, m->overlay,
                         sizeof m->overlay));
    return ctl_done(&r, m, sizeof *m);
}

json_t *ctl_port_sync_encode(const struct ctl_port_sync *m)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < m->n_ports; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "port", m->ports[i].port,
                                           "peer", m->ports[i].peer, "up", m->ports[i].up));
    json_t *o = json_pack("{s:s, s:o}", "overlay", m->overlay, "ports", a);
    ctl_set_str(o, "self", m->self);
    return o;
}

static bool ctl_port_sync_read(struct jf *r, const struct jf_obj *o, void *p)
{
    struct ctl_port_sync_entry *m = p;
    return jf_str_buf(r, o, "port", true, &ctl_rule_ifname, m->port, sizeof m->port)
           && jf_str_buf(r, o, "peer", true, &ctl_rule_nodeid, m->peer, sizeof m->peer)
           && jf_bool(r, o, "up", false, true, &m->up);
}

char *ctl_port_sync_decode(const json_t *j, struct ctl_port_sync *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    void *ports = NULL;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "args", &o)
           && jf_str_buf(&r, &o, "overlay", true, &ctl_rule_overlay, m->overlay,
                         sizeof m->overlay)
           && jf_str_buf(&r, &o, "self", false, &ctl_rule_nodeid, m->self, sizeof m->self)
           && ctl_read_list(&r, &o, "ports", CTL_PORTS_MAX, sizeof *m->ports,
                            ctl_port_sync_read, &ports, &m->n_ports));
    m->ports = ports;
    char *err = jf_take_err(&r);
    if (err)
        ctl_port_sync_free(m);
    return err;
}

void ctl_port_sync_free(struct ctl_port_sync *m)
{
    if (!m)
        return;
    free(m->ports);
    memset(m, 0, sizeof *m);
}

json_t *ctl_port_sync_result_encode(const struct ctl_port_sync_result *m)
{
    return json_pack("{s:I, s:I}", "ports", (json_int_t)m->ports, "removed",
                     (json_int_t)m->removed);
}

char *ctl_port_sync_result_decode(const json_t *j, struct ctl_port_sync_result *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "result", &o)
           && ctl_count(&r, &o, "ports", 0, 0, &m->ports)
           && ctl_count(&r, &o, "removed", 0, 0, &m->removed));
    return ctl_done(&r, m, sizeof *m);
}

json_t *ctl_shortcut_hint_encode(const struct ctl_shortcut_hint *m)
{
    return json_pack("{s:s, s:s, s:I, s:b}", "overlay", m->overlay, "peer", m->peer,
                     "kbps", (json_int_t)m->kbps, "adjacent", m->adjacent);
}

char *ctl_shortcut_hint_decode(const json_t *j, struct ctl_shortcut_hint *m)
{
    struct jf r = { 0 };
    struct jf_obj o;
    memset(m, 0, sizeof *m);
    (void)(ctl_open(&r, j, "data", &o)
           && jf_str_buf(&r, &o, "overlay", true, &ctl_rule_overlay, m->overlay,
                         sizeof m->overlay)
           && jf_str_buf(&r, &o, "peer", true, &ctl_rule_nodeid, m->peer, sizeof m->peer)
           && ctl_count(&r, &o, "kbps", 0, 0, &m->kbps)
           && jf_bool(&r, &o, "adjacent", false, false, &m->adjacent));
    return ctl_done(&r, m, sizeof *m);
}
