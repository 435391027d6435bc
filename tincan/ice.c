/* One link's ICE agent over libnice (see ice.h). Everything runs on GLib's
 * default main context, the one evio-tincan's loop iterates. */
#include "ice.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nice/agent.h>

#include "evio/log.h"

#define ICE_MOD "ice"
#define ICE_COMPONENT 1
#define ICE_MAX_SDP 512

struct ice {
    NiceAgent *agent;
    guint stream;
    enum ice_state state;
    struct ice_callbacks cbs;
    void *aux;
    gchar *ufrag, *pwd;                /* local, from libnice */
    char *remote_ufrag, *remote_pwd;
    GSList *pending;                   /* NiceCandidate *: waiting for credentials */
    int n_remote;
    struct sockaddr_in *turn;          /* the IPv4 TURN servers libnice took */
    int n_turn;
};

const char *ice_state_name(enum ice_state s)
{
    switch (s) {
#define ICE_NAME(name, str) case ICE_##name: return str;
    ICE_STATES(ICE_NAME)
#undef ICE_NAME
    }
    return "?";
}

static char *ice_errf(const char *fmt, const char *arg)
{
    char *s = NULL;
    if (asprintf(&s, fmt, arg) < 0)
        s = NULL;
    return s;
}

static const char *ice_type_name(NiceCandidateType t)
{
    switch (t) {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
    }
    return "";
}

static void ice_addr_format(const NiceAddress *a, char *out, size_t n)
{
    char ip[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(a, ip);
    if (a->s.addr.sa_family == AF_INET6)
        snprintf(out, n, "[%s]:%u", ip, nice_address_get_port(a));
    else
        snprintf(out, n, "%s:%u", ip, nice_address_get_port(a));
}

/* ---- libnice signals ------------------------------------------------- */

static void ice_on_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer data)
{
    struct ice *ice = data;
    gchar *sdp = nice_agent_generate_local_candidate_sdp(agent, cand);
    if (!sdp)
        return;
    log_debug(ICE_MOD, "local candidate %s", sdp);
    ice->cbs.candidate(ice->aux, sdp);
    g_free(sdp);
}

static void ice_on_gathering_done(NiceAgent *agent, guint stream, gpointer data)
{
    struct ice *ice = data;
    log_debug(ICE_MOD, "gathering done");
    ice->cbs.gathering_done(ice->aux);
}

static enum ice_state ice_from_nice(guint s)
{
    switch (s) {
    case NICE_COMPONENT_STATE_GATHERING: return ICE_GATHERING;
    case NICE_COMPONENT_STATE_CONNECTING: return ICE_CONNECTING;
    case NICE_COMPONENT_STATE_CONNECTED: return ICE_CONNECTED;
    case NICE_COMPONENT_STATE_READY: return ICE_READY;
    case NICE_COMPONENT_STATE_FAILED: return ICE_FAILED;
    default: return ICE_DISCONNECTED;
    }
}

static void ice_on_state(NiceAgent *agent, guint stream, guint component, guint state,
                         gpointer data)
{
    struct ice *ice = data;
    enum ice_state s = ice_from_nice(state);
    if (s == ice->state)
        return;
    log_debug(ICE_MOD, "%s -> %s", ice_state_name(ice->state), ice_state_name(s));
    ice->state = s;
    ice->cbs.state(ice->aux, s);
}

static void ice_on_selected_pair(NiceAgent *agent, guint stream, guint component,
                                 NiceCandidate *l, NiceCandidate *r, gpointer data)
{
    char la[64], ra[64];
    ice_addr_format(&l->addr, la, sizeof la);
    ice_addr_format(&r->addr, ra, sizeof ra);
    log_info(ICE_MOD, "selected pair %s %s <-> %s %s", ice_type_name(l->type), la,
             ice_type_name(r->type), ra);
    struct ice *ice = data;
    if (ice->cbs.selected)
        ice->cbs.selected(ice->aux);
}

static void ice_on_recv(NiceAgent *agent, guint stream, guint component, guint len,
                        gchar *buf, gpointer data)
{
    struct ice *ice = data;
    ice->cbs.recv(ice->aux, (const uint8_t *)buf, len);
}

/* ---- lifecycle ------------------------------------------------------- */

struct ice *ice_new(const struct ice_params *p, const struct ice_callbacks *cbs, void *aux,
                    char **err)
{
    /* with no local address libnice gathers on every interface, evio's
     * bridges and what rides on them included: a tunnel inside the tunnel */
    if (p->n_local <= 0) {
        *err = ice_errf("ice: %s", "no underlay IPv4 address to gather on (every interface "
                        "is down or skipped: see ice.ignore_interfaces)");
        return NULL;
    }
    struct ice *ice = calloc(1, sizeof *ice);
    if (!ice) {
        *err = ice_errf("ice: %s", "out of memory");
        return NULL;
    }
    ice->cbs = *cbs;
    ice->aux = aux;
    /* Regular nomination: the controlling agent nominates the best pair
     * that works, and both ends use that one. With aggressive nomination
     * every pair checked is nominated, and after checking the pairs again
     * (ice_recheck) the ends settled on different pairs, one of them still
     * through TURN (seen with libnice 0.1.21, 3 runs in 6). */
    ice->agent = nice_agent_new_full(g_main_context_default(), NICE_COMPATIBILITY_RFC5245,
                                     NICE_AGENT_OPTION_ICE_TRICKLE
                                     | NICE_AGENT_OPTION_REGULAR_NOMINATION);
    if (!ice->agent) {
        *err = ice_errf("ice: %s", "cannot create the agent");
        free(ice);
        return NULL;
    }
    g_object_set(ice->agent, "controlling-mode", p->controlling, "upnp", FALSE,
                 "ice-tcp", FALSE, "ice-udp", TRUE, "force-relay", p->relay_only, NULL);
    if (p->stun)
        g_object_set(ice->agent, "stun-server", p->stun->ip, "stun-server-port",
                     (guint)p->stun->port, NULL);

    for (int i = 0; i < p->n_local; i++) {
        NiceAddress a;
        nice_address_init(&a);
        if (nice_address_set_from_string(&a, p->local_addrs[i]))
            nice_agent_add_local_address(ice->agent, &a);
    }

    g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(ice_on_candidate), ice);
    g_signal_connect(ice->agent, "candidate-gathering-done", G_CALLBACK(ice_on_gathering_done),
                     ice);
    g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(ice_on_state), ice);
    g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(ice_on_selected_pair),
                     ice);

    ice->stream = nice_agent_add_stream(ice->agent, 1);
    if (!ice->stream) {
        *err = ice_errf("ice: %s", "cannot add a stream");
        ice_free(ice);
        return NULL;
    }
    ice->turn = p->n_turn > 0 ? calloc((size_t)p->n_turn, sizeof *ice->turn) : NULL;
    for (int i = 0; i < p->n_turn; i++) {
        const struct ice_server *t = &p->turn[i];
        if (!nice_agent_set_relay_info(ice->agent, ice->stream, ICE_COMPONENT, t->ip, t->port,
                                       t->user ? t->user : "", t->password ? t->password : "",
                                       NICE_RELAY_TYPE_TURN_UDP)) {
            log_warn(ICE_MOD, "TURN server %s:%u refused by libnice", t->ip, t->port);
            continue;
        }
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(t->port) };
        if (ice->turn && inet_pton(AF_INET, t->ip, &a.sin_addr) == 1)
            ice->turn[ice->n_turn++] = a;
    }
    nice_agent_attach_recv(ice->agent, ice->stream, ICE_COMPONENT, g_main_context_default(),
                           ice_on_recv, ice);
    if (!nice_agent_get_local_credentials(ice->agent, ice->stream, &ice->ufrag, &ice->pwd)) {
        *err = ice_errf("ice: %s", "no local credentials");
        ice_free(ice);
        return NULL;
    }
    return ice;
}

bool ice_gather(struct ice *ice, char **err)
{
    if (!nice_agent_gather_candidates(ice->agent, ice->stream)) {
        *err = ice_errf("ice: %s", "cannot start gathering (no usable local address?)");
        return false;
    }
    return true;
}

void ice_free(struct ice *ice)
{
    if (!ice)
        return;
    if (ice->agent) {
        g_signal_handlers_disconnect_by_data(ice->agent, ice);
        if (ice->stream)
            nice_agent_attach_recv(ice->agent, ice->stream, ICE_COMPONENT,
                                   g_main_context_default(), NULL, NULL);
        /* releases TURN allocations; the agent lives until that is done */
        nice_agent_close_async(ice->agent, NULL, NULL);
        g_object_unref(ice->agent);
    }
    g_slist_free_full(ice->pending, (GDestroyNotify)nice_candidate_free);
    g_free(ice->ufrag);
    if (ice->pwd)
        explicit_bzero(ice->pwd, strlen(ice->pwd));
    g_free(ice->pwd);
    free(ice->remote_ufrag);
    if (ice->remote_pwd)
        explicit_bzero(ice->remote_pwd, strlen(ice->remote_pwd));
    free(ice->remote_pwd);
    free(ice->turn);
    free(ice);
}

const char *ice_local_ufrag(const struct ice *ice) { return ice->ufrag; }
const char *ice_local_pwd(const struct ice *ice) { return ice->pwd; }
enum ice_state ice_get_state(const struct ice *ice) { return ice->state; }

/* ---- remote side ----------------------------------------------------- */

/* ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 5.4) */
static bool ice_chars_valid(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '+' || c == '/'))
            return false;
    }
    return true;
}

static void ice_apply_pending(struct ice *ice)
{
    if (!ice->pending)
        return;
    ice->pending = g_slist_reverse(ice->pending);
    int n = nice_agent_set_remote_candidates(ice->agent, ice->stream, ICE_COMPONENT,
                                             ice->pending);
    if (n < 0)
        log_warn(ICE_MOD, "libnice refused the remote candidates");
    g_slist_free_full(ice->pending, (GDestroyNotify)nice_candidate_free);
    ice->pending = NULL;
}

bool ice_set_remote_credentials(struct ice *ice, const char *ufrag, const char *pwd, char **err)
{
    if (!ice_chars_valid(ufrag, CTL_UFRAG_MIN, CTL_ICE_MAX)) {
        *err = ice_errf("ufrag: expected 4..256 ice-chars, got \"%.64s\"", ufrag);
        return false;
    }
    if (!ice_chars_valid(pwd, CTL_PWD_MIN, CTL_ICE_MAX)) {
        *err = ice_errf("pwd: expected 22..256 ice-chars%s", "");
        return false;
    }
    if (ice->remote_ufrag) {
        if (strcmp(ice->remote_ufrag, ufrag) || strcmp(ice->remote_pwd, pwd)) {
            *err = ice_errf("ufrag: already set to \"%s\" (ICE restart is not supported)",
                            ice->remote_ufrag);
            return false;
        }
        return true;
    }
    if (!nice_agent_set_remote_credentials(ice->agent, ice->stream, ufrag, pwd)) {
        *err = ice_errf("ufrag: %s", "libnice refused the credentials");
        return false;
    }
    ice->remote_ufrag = strdup(ufrag);
    ice->remote_pwd = strdup(pwd);
    if (!ice->remote_ufrag || !ice->remote_pwd) {
        *err = ice_errf("ice: %s", "out of memory");
        return false;
    }
    ice_apply_pending(ice);
    return true;
}

bool ice_add_remote_candidate(struct ice *ice, const char *sdp, char **err)
{
    char line[ICE_MAX_SDP + 3];
    size_t n = strlen(sdp);
    if (n == 0 || n > ICE_MAX_SDP || strpbrk(sdp, "\r\n")) {
        *err = ice_errf("expected one SDP candidate line of at most 512 bytes%s",
                        "");
        return false;
    }
    if (ice->n_remote >= ICE_MAX_REMOTE_CANDIDATES) {
        *err = ice_errf("more than %s remote candidates", "64");
        return false;
    }
    snprintf(line, sizeof line, "%s%s", strncmp(sdp, "a=", 2) ? "a=" : "", sdp);
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(ice->agent, ice->stream, line);
    if (!c) {
        *err = ice_errf("not an SDP candidate: \"%.80s\"", sdp);
        return false;
    }
    if (c->component_id != ICE_COMPONENT || c->transport != NICE_CANDIDATE_TRANSPORT_UDP
        || !nice_address_is_valid(&c->addr) || nice_address_get_port(&c->addr) == 0) {
        nice_candidate_free(c);
        *err = ice_errf("expected a UDP candidate of component 1: \"%.80s\"", sdp);
        return false;
    }
    ice->n_remote++;
    log_debug(ICE_MOD, "remote candidate %s", line);
    ice->pending = g_slist_prepend(ice->pending, c);
    if (ice->remote_ufrag)
        ice_apply_pending(ice);
    return true;
}

bool ice_recheck(struct ice *ice)
{
    if (!ice->remote_ufrag)
        return false;
    /* libnice never checks a failed pair again, and a restart is the one way
     * to make it: its restart keeps the selected pair carrying data while
     * the checks run, and drops the remote candidates, which go back in as
     * they were. Keeping both sides' credentials needs nothing from the peer:
     * our checks on pairs it has given up on make it check them again
     * (triggered checks, RFC 8445 7.3.1.4). */
    GSList *remote = nice_agent_get_remote_candidates(ice->agent, ice->stream, ICE_COMPONENT);
    bool ok = nice_agent_restart_stream(ice->agent, ice->stream)
              && nice_agent_set_local_credentials(ice->agent, ice->stream, ice->ufrag, ice->pwd)
              && nice_agent_set_remote_credentials(ice->agent, ice->stream, ice->remote_ufrag,
                                                   ice->remote_pwd)
              && (!remote || nice_agent_set_remote_candidates(ice->agent, ice->stream,
                                                              ICE_COMPONENT, remote) >= 0);
    g_slist_free_full(remote, (GDestroyNotify)nice_candidate_free);
    if (!ok)
        log_warn(ICE_MOD, "libnice refused to check the pairs again");
    return ok;
}

void ice_remote_gathering_done(struct ice *ice)
{
    nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream);
}

bool ice_send(struct ice *ice, const uint8_t *data, size_t len)
{
    /* no state check: libnice refuses while no pair is selected, and the
     * controlled side may have one before its state says so */
    return nice_agent_send(ice->agent, ice->stream, ICE_COMPONENT, (guint)len,
                           (const gchar *)data) == (gint)len;
}

/* The selected pair's local candidate, and the peer's address in *REMOTE,
 * if the pair is UDP over IPv4 and its local candidate is (RELAYED) or is
 * not (!RELAYED) a TURN relay. */
static bool ice_selected_udp4(const struct ice *ice, bool relayed, NiceCandidate **local,
                              struct sockaddr_in *remote)
{
    NiceCandidate *l = NULL, *r = NULL;
    if (!nice_agent_get_selected_pair(ice->agent, ice->stream, ICE_COMPONENT, &l, &r) || !l || !r
        || (l->type == NICE_CANDIDATE_TYPE_RELAYED) != relayed
        || l->transport != NICE_CANDIDATE_TRANSPORT_UDP
        || nice_address_ip_version(&r->addr) != 4)
        return false;
    *local = l;
    memset(remote, 0, sizeof *remote);
    nice_address_copy_to_sockaddr(&r->addr, (struct sockaddr *)remote);
    return true;
}

int ice_selected_direct(const struct ice *ice, struct sockaddr_in *remote)
{
    NiceCandidate *l;
    if (!ice_selected_udp4(ice, false, &l, remote))
        return -1;
    GSocket *gs = nice_agent_get_selected_socket(ice->agent, ice->stream, ICE_COMPONENT);
    if (!gs)
        return -1;
    int fd = g_socket_get_fd(gs);
    g_object_unref(gs);   /* the agent keeps its own reference */
    return fd;
}

/* The process's unconnected UDP socket bound to A, or -1 */
static int ice_fd_bound_to(const struct sockaddr_in *a)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    for (struct dirent *e; found < 0 && (e = readdir(d));) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd < 0 || fd == dirfd(d))
            continue;
        struct sockaddr_in b, p;
        socklen_t blen = sizeof b, plen = sizeof p;
        int type = 0;
        socklen_t tlen = sizeof type;
        if (getsockname((int)fd, (struct sockaddr *)&b, &blen) == 0 && blen == sizeof b
            && b.sin_family == AF_INET && b.sin_addr.s_addr == a->sin_addr.s_addr
            && b.sin_port == a->sin_port
            && getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_DGRAM
            && getpeername((int)fd, (struct sockaddr *)&p, &plen) < 0 && errno == ENOTCONN)
            found = (int)fd;
    }
    closedir(d);
    return found;
}

bool ice_is_turn_server(const struct ice *ice, const struct sockaddr_in *a)
{
    for (int i = 0; i < ice->n_turn; i++)
        if (a->sin_family == AF_INET && ice->turn[i].sin_addr.s_addr == a->sin_addr.s_addr
            && ice->turn[i].sin_port == a->sin_port)
            return true;
    return false;
}

int ice_selected_relayed(const struct ice *ice, struct sockaddr_in *peer)
{
    NiceCandidate *l;
    if (!ice_selected_udp4(ice, true, &l, peer) || nice_address_ip_version(&l->base_addr) != 4)
        return -1;
    /* libnice has no GSocket for a TURN pair (its TURN layer wraps the host
     * socket it reaches the server from), but the relayed candidate's base
     * address is that socket's: the one unconnected UDP socket bound to it
     * (the direct fast paths' own sockets are connected) */
    struct sockaddr_in base;
    memset(&base, 0, sizeof base);
    nice_address_copy_to_sockaddr(&l->base_addr, (struct sockaddr *)&base);
    return ice_fd_bound_to(&base);
}

bool ice_selected_pair(const struct ice *ice, struct ice_pair *p)
{
    /* asked afresh each time: a peer-reflexive remote candidate becomes a
     * host one once the peer's trickled candidate for it arrives */
    NiceCandidate *l = NULL, *r = NULL;
    if (!nice_agent_get_selected_pair(ice->agent, ice->stream, ICE_COMPONENT, &l, &r) || !l || !r)
        return false;
    snprintf(p->local_type, sizeof p->local_type, "%s", ice_type_name(l->type));
    snprintf(p->remote_type, sizeof p->remote_type, "%s", ice_type_name(r->type));
    ice_addr_format(&l->addr, p->local_addr, sizeof p->local_addr);
    ice_addr_format(&r->addr, p->remote_addr, sizeof p->remote_addr);
    return true;
}
