/* hostile_peer: a hostile member of an overlay's XMPP room, for the
 * integration tests (tests/integration/hostile_member.sh). It logs in with
 * libstrophe as a given account, joins the overlay room the way a node does
 * (nickname = a 32-hex node id, <evio session=""/> in the join presence) and
 * runs one scripted attack against a victim node id, then prints what it sent
 * and what came back. It never creates a link: it only talks. Each occupant
 * has an identity of its own as a node would: a fresh P-256 key, whose
 * fingerprint (SHA-256 of the SubjectPublicKeyInfo) it signals, and whose
 * first 128 bits are its node id and nickname; so its requests are not
 * refused as an impostor's, and the victim's budgets are what is tested.
 *
 * Usage: hostile_peer [options] ATTACK [ARGS]
 *   --server IP --port N --jid USER@DOMAIN --password PW [--ca FILE]
 *   [--tls required|direct|none] [--muc DOMAIN] --overlay NAME --victim ID
 *   [--below-victim] every identity's id sorts below the victim's (keys are
 *                    made until one fits), so our requests win every
 *                    collision with the victim's own (the lower id wins)
 *   [--around ID]    with --below-victim: half the occupants' ids above ID
 *                    and half below it (ID the victim's ring neighbour: they
 *                    then take the place of each of the two as the other's
 *                    nearest neighbours on the ring, both ways round)
 *   [--impersonate ID] the (first) occupant takes node ID's nickname and
 *                    id but signals its own key's fingerprint: an impostor
 *   [--edge-type T]  successor (default), long_distance, static, on_demand
 *   [--cand-ip IP]   address in the candidates we send (default 127.0.0.1)
 *   [--hold S]       stay in the room S seconds after the attack (default 3)
 *   [-v]             one line per message received
 * ATTACK:
 *   malformed [ROUNDS]          garbage, oversized (> 8 KiB), wrong version,
 *                               type, overlay, recipient, sender... ROUNDS times
 *   edge_req_flood N SECONDS    N edge_req, each a fresh edge id, over SECONDS
 *   cand_flood N [SECONDS]      one edge_req, then N link_cand (16 candidates
 *                               each) for that edge over SECONDS (default 10)
 *   cand_then_creds [N]         edge_req, N (default 40) link_cand of 16 long
 *                               candidates (~7.5 KB each), then link_creds
 *   nicknames K                 K occupants (K connections, one resource each,
 *                               an identity each), one edge_req from each
 *
 * stdout: "joined NICK", "victim present", with -v "recv NICK TYPE [...]",
 * and last one line "result {JSON}" with the counts:
 *   {"attack":..,"occupants":K,"sent":{"edge_req":N,...,"total":N},
 *    "recv":{"edge_resp_accepted":N,"edge_resp_refused":{"full":N,...},
 *            "link_cand":N,...,"bounced":N,"undecodable":N},"disconnects":N}
 * Exit: 0 the attack was sent, 1 could not connect or join (or the victim is
 * not in the room), 2 bad usage. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <strophe.h>
#include <sys/random.h>
#include <time.h>

#include "../../overlay/sigmsg.h"
#include "../../overlay/signaling.h"
#include "evio/nodeid.h"

#define HP_NS_MUC      "http://jabber.org/protocol/muc"
#define HP_NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define HP_NS_HINTS    "urn:xmpp:hints"
#define HP_JOIN_MS     20000
#define HP_RESP_WAIT_MS 5000
#define HP_MAX_CONNS   500

enum hp_attack { HP_MALFORMED, HP_EDGE_REQ_FLOOD, HP_CAND_FLOOD, HP_CAND_THEN_CREDS, HP_NICKNAMES };
static const char *const hp_attack_names[] = { "malformed", "edge_req_flood", "cand_flood",
                                               "cand_then_creds", "nicknames" };

struct hostile;

/* One XMPP connection: one room occupant under one nickname. */
struct hp_conn {
    struct hostile *h;
    xmpp_conn_t *conn;
    char jid[800];
    char nick[NODEID_HEX_LEN + 1];
    struct nodeid id;
    char fpr[SIGMSG_FPR_LEN + 1];          /* our key's, in every edge_req */
    char session[SIGMSG_HEX16_LEN + 1];
    char edge_id[SIGMSG_HEX16_LEN + 1];   /* the last edge we asked for */
    bool online, joined, gone;
    bool resp_seen;                        /* an edge_resp for edge_id came */
};

/* One message of the script: sent at AT ms after the attack starts. */
struct hp_action {
    int conn;
    int64_t at_ms;
    char *payload;          /* NULL: an empty <evio/> element */
    const char *label;      /* counted under this name in "sent" */
    bool wait_resp;         /* first wait (up to 5 s) for conn's edge_resp */
};

struct hostile {
    xmpp_ctx_t *ctx;
    const char *server, *jid, *password, *ca, *overlay, *muc, *cand_ip;
    unsigned short port;
    long tls_flag;
    char room[400];
    struct nodeid victim;
    char victim_hex[NODEID_HEX_LEN + 1];
    enum sigmsg_edge_type edge_type;
    int hold_s;
    bool verbose, victim_present;

    struct hp_conn *conns;
    int n_conns;
    struct hp_action *acts;
    size_t n_acts, cap_acts;

    json_t *sent;           /* label -> count */
    json_t *recv;           /* type -> count; refusals by reason */
    int disconnects;
};

static volatile sig_atomic_t hp_stop;
static void hp_on_signal(int sig) { hp_stop = 1; }

static int64_t hp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hp_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hostile_peer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void hp_count(json_t *obj, const char *key, int by)
{
    json_t *v = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer((v ? json_integer_value(v) : 0) + by));
}

static void hp_random_id(struct nodeid *id, char hex[NODEID_HEX_LEN + 1])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw)
        hp_die("no randomness");
    for (int i = 0; i < 16; i++)
        sprintf(hex + 2 * i, "%02x", raw[i]);
    if (!nodeid_parse(hex, id))
        hp_die("cannot parse a random node id");
}

/* A node's identity: a fresh P-256 key; its fingerprint is SHA-256 over the
 * DER SubjectPublicKeyInfo (as evio's lib/cert.c), its id the first 16
 * bytes. Keys are made until the id sorts below *BELOW, above *ABOVE and
 * below *UNDER (each if given). */
static void hp_identity(struct hp_conn *c, const struct nodeid *below, const struct nodeid *above,
                        const struct nodeid *under)
{
    for (long tries = 0;; tries++) {
        if (tries > 4000000)
            hp_die("no key with an id below the victim's in %ld tries", tries);
        EVP_PKEY *key = EVP_EC_gen("P-256");
        unsigned char *der = NULL, fp[32];
        int len = key ? i2d_PUBKEY(key, &der) : -1;
        unsigned int n = 0;
        if (len <= 0 || !EVP_Digest(der, (size_t)len, fp, &n, EVP_sha256(), NULL) || n != 32)
            hp_die("cannot make a key");
        OPENSSL_free(der);
        EVP_PKEY_free(key);
        for (int i = 0; i < 16; i++)
            sprintf(c->nick + 2 * i, "%02x", fp[i]);
        if (!nodeid_parse(c->nick, &c->id))
            hp_die("cannot parse our own id %s", c->nick);
        if ((below && nodeid_cmp(&c->id, below) >= 0) || (above && nodeid_cmp(&c->id, above) <= 0)
            || (under && nodeid_cmp(&c->id, under) >= 0))
            continue;
        for (int i = 0; i < 32; i++)
            sprintf(c->fpr + 3 * i, i < 31 ? "%02X:" : "%02X", fp[i]);
        return;
    }
}

/* ---- messages --------------------------------------------------------- */

static void hp_msg_init(struct hostile *h, struct hp_conn *c, struct sigmsg *m,
                        enum sigmsg_type type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    snprintf(m->overlay, sizeof m->overlay, "%s", h->overlay);
    m->from = c->id;
    m->to = h->victim;
    memcpy(m->session, c->session, sizeof m->session);
    memcpy(m->edge_id, c->edge_id, sizeof m->edge_id);
}

static char *hp_encode(const struct sigmsg *m)
{
    char *err = NULL, *text = sigmsg_encode(m, &err);
    if (!text)
        hp_die("cannot encode a %s: %s", sigmsg_type_name(m->type), err ? err : "out of memory");
    return text;
}

static void hp_add(struct hostile *h, int conn, int64_t at_ms, char *payload, const char *label,
                   bool wait_resp)
{
    if (h->n_acts == h->cap_acts) {
        h->cap_acts = h->cap_acts ? 2 * h->cap_acts : 256;
        h->acts = realloc(h->acts, h->cap_acts * sizeof *h->acts);
        if (!h->acts)
            hp_die("out of memory");
    }
    h->acts[h->n_acts++] = (struct hp_action){ conn, at_ms, payload, label, wait_resp };
}

/* An edge_req from CONN with a fresh edge id (remembered as the conn's). */
static char *hp_edge_req(struct hostile *h, struct hp_conn *c)
{
    struct sigmsg m;
    if (!sigmsg_random_hex16(c->edge_id))
        hp_die("no randomness");
    hp_msg_init(h, c, &m, SIGMSG_EDGE_REQ);
    m.edge_type = h->edge_type;
    snprintf(m.creds.fingerprint, sizeof m.creds.fingerprint, "%s", c->fpr);
    return hp_encode(&m);
}

/* A link_cand of 16 candidates of about LEN characters for CONN's edge;
 * SEQ makes every candidate distinct (port and foundation). */
static char *hp_link_cand(struct hostile *h, struct hp_conn *c, int seq, int len)
{
    struct sigmsg m;
    hp_msg_init(h, c, &m, SIGMSG_LINK_CAND);
    m.n_cands = SIGMSG_MAX_CANDS;
    for (int i = 0; i < m.n_cands; i++) {
        int k = seq * SIGMSG_MAX_CANDS + i;
        int n = snprintf(m.cands[i], sizeof m.cands[i],
                         "%d 1 UDP %u %s %d typ host generation 0 network-id 1",
                         k + 1, 2130706431u - (unsigned)k, h->cand_ip, 20000 + k % 40000);
        if (len > n && len <= SIGMSG_CAND_MAX) {
            memcpy(m.cands[i] + n, " pad ", 5);
            memset(m.cands[i] + n + 5, 'x', (size_t)(len - n - 5));
            m.cands[i][len] = '\0';
        }
    }
    return hp_encode(&m);
}

static char *hp_link_creds(struct hostile *h, struct hp_conn *c, const char *fingerprint)
{
    struct sigmsg m;
    unsigned char raw[5];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw)
        hp_die("no randomness");
    hp_msg_init(h, c, &m, SIGMSG_LINK_CREDS);
    snprintf(m.creds.mac, sizeof m.creds.mac, "02:%02x:%02x:%02x:%02x:%02x", raw[0], raw[1],
             raw[2], raw[3], raw[4]);
    snprintf(m.creds.fingerprint, sizeof m.creds.fingerprint, "%s", fingerprint);
    snprintf(m.creds.ufrag, sizeof m.creds.ufrag, "hostile%02x", raw[0]);
    snprintf(m.creds.pwd, sizeof m.creds.pwd, "hostilepassword0123456789%02x", raw[1]);
    return hp_encode(&m);
}

static char *hp_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        hp_die("out of memory");
    va_end(ap);
    return s;
}

/* A string of N copies of C. */
static char *hp_fill(size_t n, char c)
{
    char *s = malloc(n + 1);
    if (!s)
        hp_die("out of memory");
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Every kind of bad payload the agent must drop and count, each once. */
static void hp_script_malformed(struct hostile *h, int rounds)
{
    struct hp_conn *c = &h->conns[0];
    char other[NODEID_HEX_LEN + 1];
    struct nodeid other_id;
    int64_t t = 0;
    hp_random_id(&other_id, other);
    char edge[SIGMSG_HEX16_LEN + 1];
    sigmsg_random_hex16(edge);
    const char *ov = h->overlay, *me = c->nick, *v = h->victim_hex, *s = c->session;
#define HP_HEAD "\"overlay\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"session\":\"%s\",\"edge_id\":\"%s\""
    for (int r = 0; r < rounds; r++) {
        hp_add(h, 0, t++, hp_printf("this is not JSON {{{"), "malformed", false);
        hp_add(h, 0, t++, hp_printf("[1,2,3]"), "malformed", false);
        hp_add(h, 0, t++, hp_printf("{}"), "malformed", false);
        hp_add(h, 0, t++, hp_printf("\"just a string\""), "malformed", false);
        hp_add(h, 0, t++, NULL, "malformed", false);   /* empty <evio/> */
        hp_add(h, 0, t++, hp_printf("{\"v\":2,\"type\":\"edge_req\"," HP_HEAD
                                    ",\"edge_type\":\"successor\"}", ov, me, v, s, edge),
               "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":\"1\",\"type\":\"edge_req\"," HP_HEAD
                                    ",\"edge_type\":\"successor\"}", ov, me, v, s, edge),
               "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1e400,\"type\":\"edge_req\"," HP_HEAD "}",
                                    ov, me, v, s, edge), "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"edge_teleport\"," HP_HEAD "}",
                                    ov, me, v, s, edge), "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":42," HP_HEAD "}", ov, me, v, s, edge),
               "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"edge_req\"," HP_HEAD
                                    ",\"edge_type\":\"teleport\"}", ov, me, v, s, edge),
               "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"edge_req\"," HP_HEAD
                                    ",\"edge_type\":\"successor\"}", "someother", me, v, s, edge),
               "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"edge_req\"," HP_HEAD
                                    ",\"edge_type\":\"successor\"}", ov, me, other, s, edge),
               "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"edge_req\"," HP_HEAD
                                    ",\"edge_type\":\"successor\"}", ov, other, v, s, edge),
               "malformed", false);   /* "from" is not our nickname */
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"edge_req\",\"v\":1," HP_HEAD
                                    ",\"edge_type\":\"successor\"}", ov, me, v, s, edge),
               "malformed", false);   /* duplicate key */
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"link_creds\"," HP_HEAD
                                    ",\"mac\":\"zz:zz\",\"fingerprint\":\"AB\",\"ufrag\":\"a\","
                                    "\"pwd\":\"b\"}", ov, me, v, s, edge), "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"edge_resp\"," HP_HEAD
                                    ",\"accepted\":false,\"reason\":\"ok\"}", ov, me, v, s, edge),
               "malformed", false);
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"link_cand\"," HP_HEAD
                                    ",\"candidates\":[\"a\\u0001b\"],\"done\":false}",
                                    ov, me, v, s, edge), "malformed", false);
        /* 17 candidates */
        char *many = hp_printf("{\"v\":1,\"type\":\"link_cand\"," HP_HEAD ",\"candidates\":["
                               "\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\","
                               "\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"],\"done\":false}",
                               ov, me, v, s, edge);
        hp_add(h, 0, t++, many, "malformed", false);
        /* deep nesting within the size limit */
        char *open = hp_fill(3000, '['), *close = hp_fill(3000, ']');
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"x\":%s%s}", open, close), "malformed", false);
        free(open);
        free(close);
        /* oversized: just over the limit, well over it, and 100 KiB */
        char *pad = hp_fill(9000, 'a');
        hp_add(h, 0, t++, hp_printf("{\"v\":1,\"type\":\"edge_req\"," HP_HEAD
                                    ",\"edge_type\":\"successor\",\"pad\":\"%s\"}",
                                    ov, me, v, s, edge, pad), "oversized", false);
        free(pad);
        hp_add(h, 0, t++, hp_fill(8193, ' '), "oversized", false);
        hp_add(h, 0, t++, hp_fill(100 * 1024, 'A'), "oversized", false);
    }
#undef HP_HEAD
}

static void hp_script(struct hostile *h, enum hp_attack attack, int n, int seconds)
{
    struct hp_conn *c = &h->conns[0];
    switch (attack) {
    case HP_MALFORMED:
        hp_script_malformed(h, n);
        break;
    case HP_EDGE_REQ_FLOOD:
        for (int i = 0; i < n; i++)
            hp_add(h, 0, (int64_t)i * seconds * 1000 / n, hp_edge_req(h, c), "edge_req", false);
        break;
    case HP_CAND_FLOOD:
        hp_add(h, 0, 0, hp_edge_req(h, c), "edge_req", false);
        for (int i = 0; i < n; i++)
            hp_add(h, 0, 1 + (int64_t)i * seconds * 1000 / n, hp_link_cand(h, c, i, 100),
                   "link_cand", false);
        break;
    case HP_CAND_THEN_CREDS:
        /* link_creds carries the edge_req's fingerprint, or it is refused as
         * "fingerprint changed" before it feeds anything */
        hp_add(h, 0, 0, hp_edge_req(h, c), "edge_req", false);
        for (int i = 0; i < n; i++)
            hp_add(h, 0, 10 + i * 10, hp_link_cand(h, c, i, 440), "link_cand", false);
        hp_add(h, 0, 10 + n * 10, hp_link_creds(h, c, c->fpr), "link_creds", true);
        break;
    case HP_NICKNAMES:
        for (int k = 0; k < h->n_conns; k++)
            hp_add(h, k, (int64_t)k * 20, hp_edge_req(h, &h->conns[k]), "edge_req", false);
        break;
    }
}

/* ---- XMPP ------------------------------------------------------------- */

static xmpp_stanza_t *hp_child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
                               const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_new(ctx);
    if (!c || xmpp_stanza_set_name(c, name) != XMPP_EOK
        || (ns && xmpp_stanza_set_ns(c, ns) != XMPP_EOK)
        || xmpp_stanza_add_child(parent, c) != XMPP_EOK)
        hp_die("out of memory building a stanza");
    xmpp_stanza_release(c);
    return c;
}

/* The join presence a node sends: no history, and our agent session. */
static void hp_join(struct hp_conn *c)
{
    struct hostile *h = c->h;
    char to[900];
    xmpp_stanza_t *avail = xmpp_presence_new(h->ctx);
    xmpp_send(c->conn, avail);
    xmpp_stanza_release(avail);

    snprintf(to, sizeof to, "%s/%s", h->room, c->nick);
    xmpp_stanza_t *p = xmpp_presence_new(h->ctx);
    xmpp_stanza_set_to(p, to);
    xmpp_stanza_t *x = hp_child(h->ctx, p, "x", HP_NS_MUC);
    xmpp_stanza_t *hist = hp_child(h->ctx, x, "history", NULL);
    xmpp_stanza_set_attribute(hist, "maxstanzas", "0");
    xmpp_stanza_t *ev = hp_child(h->ctx, p, "evio", SIG_NS);
    xmpp_stanza_set_attribute(ev, "session", c->session);
    xmpp_send(c->conn, p);
    xmpp_stanza_release(p);
}

static void hp_send(struct hp_conn *c, const char *payload)
{
    struct hostile *h = c->h;
    char to[900];
    snprintf(to, sizeof to, "%s/%s", h->room, h->victim_hex);
    xmpp_stanza_t *msg = xmpp_message_new(h->ctx, "chat", to, NULL);
    xmpp_stanza_t *ev = hp_child(h->ctx, msg, "evio", SIG_NS);
    if (payload) {
        xmpp_stanza_t *text = xmpp_stanza_new(h->ctx);
        if (!text || xmpp_stanza_set_text(text, payload) != XMPP_EOK
            || xmpp_stanza_add_child(ev, text) != XMPP_EOK)
            hp_die("out of memory building a message");
        xmpp_stanza_release(text);
    }
    hp_child(h->ctx, msg, "no-store", HP_NS_HINTS);
    xmpp_send(c->conn, msg);
    xmpp_stanza_release(msg);
}

static bool hp_has_status(xmpp_stanza_t *x, const char *code)
{
    for (xmpp_stanza_t *c = x ? xmpp_stanza_get_children(x) : NULL; c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c), *v = xmpp_stanza_get_attribute(c, "code");
        if (name && v && !strcmp(name, "status") && !strcmp(v, code))
            return true;
    }
    return false;
}

/* The nickname of FROM if it is an occupant of our room, else NULL. */
static const char *hp_nick_of(struct hostile *h, const char *from)
{
    size_t n = strlen(h->room);
    if (!from || strncmp(from, h->room, n) || from[n] != '/')
        return NULL;
    return from + n + 1;
}

static int hp_on_presence(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    struct hp_conn *c = userdata;
    struct hostile *h = c->h;
    const char *nick = hp_nick_of(h, xmpp_stanza_get_from(stanza));
    const char *type = xmpp_stanza_get_type(stanza);
    if (!nick)
        return 1;
    if (type && !strcmp(type, "error")) {
        fprintf(stderr, "hostile_peer: %s: join refused by the room\n", c->nick);
        c->gone = true;
        return 1;
    }
    bool away = type && !strcmp(type, "unavailable");
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_name_and_ns(stanza, "x", HP_NS_MUC_USER);
    if (hp_has_status(x, "110") && !strcmp(nick, c->nick)) {
        if (!away && !c->joined) {
            c->joined = true;
            printf("joined %s\n", c->nick);
        }
        return 1;
    }
    if (!strcmp(nick, h->victim_hex) && c == &h->conns[0]) {
        if (!away && !h->victim_present)
            printf("victim present\n");
        else if (away && h->victim_present)
            printf("victim left\n");
        h->victim_present = !away;
    }
    return 1;
}

static int hp_on_message(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    struct hp_conn *c = userdata;
    struct hostile *h = c->h;
    xmpp_stanza_t *ev = xmpp_stanza_get_child_by_name_and_ns(stanza, "evio", SIG_NS);
    const char *type = xmpp_stanza_get_type(stanza);
    if (!ev)
        return 1;
    if (type && !strcmp(type, "error")) {
        hp_count(h->recv, "bounced", 1);
        return 1;
    }
    const char *from = hp_nick_of(h, xmpp_stanza_get_from(stanza));
    char *text = xmpp_stanza_get_text(ev);
    struct sigmsg m;
    char *err = text ? sigmsg_decode(text, strlen(text), h->overlay, &c->id, &m) : strdup("empty");
    if (err) {
        hp_count(h->recv, "undecodable", 1);
        if (h->verbose)
            printf("recv %s undecodable from %.12s: %s\n", c->nick, from ? from : "?", err);
    } else if (m.type == SIGMSG_EDGE_RESP) {
        json_t *by = json_object_get(h->recv, "edge_resp_refused");
        if (m.accepted)
            hp_count(h->recv, "edge_resp_accepted", 1);
        else
            hp_count(by, sigmsg_resp_reason_name(m.resp_reason), 1);
        if (!strcmp(m.edge_id, c->edge_id))
            c->resp_seen = true;
        if (h->verbose)
            printf("recv %s edge_resp from %.12s %s\n", c->nick, from ? from : "?",
                   m.accepted ? "accepted" : sigmsg_resp_reason_name(m.resp_reason));
    } else {
        hp_count(h->recv, sigmsg_type_name(m.type), 1);
        if (h->verbose)
            printf("recv %s %s from %.12s\n", c->nick, sigmsg_type_name(m.type),
                   from ? from : "?");
    }
    free(err);
    if (text)
        xmpp_free(h->ctx, text);
    fflush(stdout);
    return 1;
}

static void hp_on_conn(xmpp_conn_t *conn, xmpp_conn_event_t status, int error,
                       xmpp_stream_error_t *stream_error, void *userdata)
{
    struct hp_conn *c = userdata;
    if (status == XMPP_CONN_CONNECT) {
        c->online = true;
        hp_join(c);
        return;
    }
    if (c->online || !c->gone)
        fprintf(stderr, "hostile_peer: %s: %s (error %d%s%s)\n", c->nick,
                c->online ? "disconnected" : "cannot connect", error,
                stream_error ? ", stream error " : "",
                stream_error && stream_error->text ? stream_error->text : "");
    if (c->online)
        c->h->disconnects++;
    c->online = false;
    c->gone = true;
}

static void hp_connect(struct hostile *h, struct hp_conn *c, int index)
{
    c->h = h;
    if (h->n_conns > 1) {
        unsigned r = 0;
        getrandom(&r, sizeof r, 0);
        snprintf(c->jid, sizeof c->jid, "%s/hp%d-%08x", h->jid, index, r);
    } else {
        snprintf(c->jid, sizeof c->jid, "%s/evio-%s", h->jid, c->nick);
    }
    if (!sigmsg_random_hex16(c->session))
        hp_die("no randomness");
    c->conn = xmpp_conn_new(h->ctx);
    if (!c->conn || xmpp_conn_set_flags(c->conn, XMPP_CONN_FLAG_DISABLE_SM | h->tls_flag))
        hp_die("cannot create an XMPP connection");
    xmpp_conn_set_jid(c->conn, c->jid);
    xmpp_conn_set_pass(c->conn, h->password);
    if (h->ca)
        xmpp_conn_set_cafile(c->conn, h->ca);
    xmpp_handler_add(c->conn, hp_on_presence, NULL, "presence", NULL, c);
    xmpp_handler_add(c->conn, hp_on_message, NULL, "message", NULL, c);
    if (xmpp_connect_client(c->conn, h->server, h->port, hp_on_conn, c) != XMPP_EOK) {
        fprintf(stderr, "hostile_peer: %s: cannot start connecting\n", c->nick);
        c->gone = true;
    }
}

/* ---- main ------------------------------------------------------------- */

static void hp_usage(void)
{
    fprintf(stderr, "usage: hostile_peer --server IP [--port N] --jid USER@DOMAIN --password PW "
            "[--ca FILE] [--tls required|direct|none] [--muc DOMAIN] --overlay NAME --victim ID "
            "[--below-victim [--around ID]] [--impersonate ID] [--edge-type T] [--cand-ip IP] [--hold S] [-v] ATTACK [ARGS]\n"
            "ATTACK: malformed [ROUNDS] | edge_req_flood N SECONDS | cand_flood N [SECONDS] | "
            "cand_then_creds [N] | nicknames K\n");
    exit(2);
}

static int hp_int_arg(const char *s, int lo, int hi, const char *what)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || v < lo || v > hi)
        hp_die("%s: expected %d..%d, got \"%s\"", what, lo, hi, s ? s : "");
    return (int)v;
}

/* Runs libstrophe until DONE(h) or LIMIT ms pass; false on timeout. */
static bool hp_run_until(struct hostile *h, bool (*done)(struct hostile *), int64_t limit)
{
    int64_t end = hp_now_ms() + limit;
    while (!done(h) && !hp_stop) {
        if (hp_now_ms() >= end)
            return false;
        xmpp_run_once(h->ctx, 20);
    }
    return done(h);
}

/* Every occupant joined (or failed) and the victim is there; or every
 * connection failed, which no waiting mends. */
static bool hp_all_joined(struct hostile *h)
{
    bool any = false;
    for (int k = 0; k < h->n_conns; k++) {
        if (!h->conns[k].joined && !h->conns[k].gone)
            return false;
        any |= !h->conns[k].gone;
    }
    return h->victim_present || !any;
}

static bool hp_queues_empty(struct hostile *h)
{
    for (int k = 0; k < h->n_conns; k++)
        if (h->conns[k].online && xmpp_conn_send_queue_len(h->conns[k].conn) > 0)
            return false;
    return true;
}

static bool hp_all_gone(struct hostile *h)
{
    for (int k = 0; k < h->n_conns; k++)
        if (h->conns[k].online)
            return false;
    return true;
}

static bool hp_never(struct hostile *h) { return false; }

int main(int argc, char **argv)
{
    struct hostile h = { .port = 5222, .tls_flag = XMPP_CONN_FLAG_MANDATORY_TLS, .hold_s = 3,
                         .cand_ip = "127.0.0.1", .edge_type = SIGMSG_EDGE_SUCCESSOR };
    const char *victim = NULL, *around_hex = NULL, *impersonate = NULL;
    bool below = false;
    struct nodeid around;
    int i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-v")) {
            h.verbose = true;
            continue;
        }
        if (!strcmp(o, "--below-victim")) {
            below = true;
            continue;
        }
        if (!v)
            hp_usage();
        i++;
        if (!strcmp(o, "--server")) h.server = v;
        else if (!strcmp(o, "--port")) h.port = (unsigned short)hp_int_arg(v, 1, 65535, "--port");
        else if (!strcmp(o, "--jid")) h.jid = v;
        else if (!strcmp(o, "--password")) h.password = v;
        else if (!strcmp(o, "--ca")) h.ca = v;
        else if (!strcmp(o, "--muc")) h.muc = v;
        else if (!strcmp(o, "--overlay")) h.overlay = v;
        else if (!strcmp(o, "--victim")) victim = v;
        else if (!strcmp(o, "--cand-ip")) h.cand_ip = v;
        else if (!strcmp(o, "--around")) around_hex = v;
        else if (!strcmp(o, "--impersonate")) impersonate = v;
        else if (!strcmp(o, "--hold")) h.hold_s = hp_int_arg(v, 0, 3600, "--hold");
        else if (!strcmp(o, "--tls")) {
            if (!strcmp(v, "required")) h.tls_flag = XMPP_CONN_FLAG_MANDATORY_TLS;
            else if (!strcmp(v, "direct")) h.tls_flag = XMPP_CONN_FLAG_LEGACY_SSL;
            else if (!strcmp(v, "none")) h.tls_flag = XMPP_CONN_FLAG_DISABLE_TLS;
            else hp_die("--tls: expected required, direct or none, got \"%s\"", v);
        } else if (!strcmp(o, "--edge-type")) {
            static const char *const t[] = { "successor", "long_distance", "static", "on_demand" };
            int k;
            for (k = 0; k < 4 && strcmp(t[k], v); k++)
                ;
            if (k == 4)
                hp_die("--edge-type: unknown edge type \"%s\"", v);
            h.edge_type = (enum sigmsg_edge_type)k;
        } else hp_usage();
    }
    if (i >= argc || !h.server || !h.jid || !h.password || !h.overlay || !victim
        || !strchr(h.jid, '@'))
        hp_usage();
    if (!nodeid_parse(victim, &h.victim))
        hp_die("--victim: expected 32 lowercase hex digits, got \"%s\"", victim);
    nodeid_format(&h.victim, h.victim_hex);
    if (around_hex && (!below || !nodeid_parse(around_hex, &around)
                       || nodeid_cmp(&around, &h.victim) >= 0))
        hp_die("--around: expected with --below-victim a node id below the victim's, got \"%s\"",
               around_hex);

    const char *name = argv[i++];
    enum hp_attack attack;
    for (attack = 0; attack < 5 && strcmp(hp_attack_names[attack], name); attack++)
        ;
    int n = 1, seconds = 10;
    h.n_conns = 1;
    switch (attack) {
    case HP_MALFORMED:
        n = i < argc ? hp_int_arg(argv[i++], 1, 1000, "ROUNDS") : 1;
        break;
    case HP_EDGE_REQ_FLOOD:
        n = hp_int_arg(i < argc ? argv[i++] : NULL, 1, 1000000, "N");
        seconds = hp_int_arg(i < argc ? argv[i++] : NULL, 0, 3600, "SECONDS");
        break;
    case HP_CAND_FLOOD:
        n = hp_int_arg(i < argc ? argv[i++] : NULL, 1, 1000000, "N");
        seconds = i < argc ? hp_int_arg(argv[i++], 0, 3600, "SECONDS") : 10;
        break;
    case HP_CAND_THEN_CREDS:
        n = i < argc ? hp_int_arg(argv[i++], 1, 10000, "N") : 40;
        break;
    case HP_NICKNAMES:
        h.n_conns = hp_int_arg(i < argc ? argv[i++] : NULL, 1, HP_MAX_CONNS, "K");
        break;
    default:
        hp_usage();
    }
    if (i != argc)
        hp_usage();

    char muc[300];
    snprintf(muc, sizeof muc, "conference.%s", strchr(h.jid, '@') + 1);
    char *slash = strchr(muc, '/');
    if (slash)
        *slash = '\0';
    snprintf(h.room, sizeof h.room, "%s@%s", h.overlay, h.muc ? h.muc : muc);

    h.sent = json_object();
    h.recv = json_object();
    json_object_set_new(h.recv, "edge_resp_accepted", json_integer(0));
    json_object_set_new(h.recv, "edge_resp_refused", json_object());
    h.conns = calloc((size_t)h.n_conns, sizeof *h.conns);
    if (!h.conns || !h.sent || !h.recv)
        hp_die("out of memory");

    struct sigaction sa = { .sa_handler = hp_on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    xmpp_initialize();
    h.ctx = xmpp_ctx_new(NULL, NULL);
    if (!h.ctx)
        hp_die("cannot create a libstrophe context");
    for (int k = 0; k < h.n_conns; k++) {
        struct hp_conn *c = &h.conns[k];
        bool up = k % 2 == 0;
        hp_identity(c, below ? &h.victim : NULL, around_hex && up ? &around : NULL,
                    around_hex && !up ? &around : NULL);
        if (impersonate && k == 0) {
            /* another node's nickname and id, over our own key: an impostor */
            if (!nodeid_parse(impersonate, &c->id))
                hp_die("--impersonate: expected a node id, got \"%s\"", impersonate);
            snprintf(c->nick, sizeof c->nick, "%s", impersonate);
        }
        if (h.verbose)
            printf("identity %s\n", c->nick);
    }
    int64_t t0 = hp_now_ms();
    for (int k = 0; k < h.n_conns; k++) {
        hp_connect(&h, &h.conns[k], k);
        xmpp_run_once(h.ctx, 1);   /* spread the handshakes a little */
    }
    bool ok = hp_run_until(&h, hp_all_joined, HP_JOIN_MS) && h.victim_present;
    int joined = 0;
    for (int k = 0; k < h.n_conns; k++)
        joined += h.conns[k].joined;
    fprintf(stderr, "hostile_peer: %d of %d occupants joined %s in %lld ms%s\n", joined,
            h.n_conns, h.room, (long long)(hp_now_ms() - t0),
            h.victim_present ? "" : "; the victim is not in the room");
    fflush(stdout);
    if (!ok || !joined) {
        printf("result {\"error\": \"%s\"}\n", !joined ? "no occupant joined"
               : !h.victim_present ? "victim not in the room" : "join timed out");
        return 1;
    }

    /* the script, sent on time; only occupants that joined send */
    hp_script(&h, attack, n, seconds);
    int64_t start = hp_now_ms(), shift = 0;
    for (size_t k = 0; k < h.n_acts && !hp_stop; k++) {
        struct hp_action *a = &h.acts[k];
        struct hp_conn *c = &h.conns[a->conn];
        while (hp_now_ms() < start + shift + a->at_ms && !hp_stop)
            xmpp_run_once(h.ctx, 1);
        if (a->wait_resp) {
            int64_t w0 = hp_now_ms(), end = w0 + HP_RESP_WAIT_MS;
            while (!c->resp_seen && hp_now_ms() < end && !hp_stop)
                xmpp_run_once(h.ctx, 10);
            shift += hp_now_ms() - w0;
        }
        if (!c->online || !c->joined)
            continue;
        hp_send(c, a->payload);
        hp_count(h.sent, a->label, 1);
        hp_count(h.sent, "total", 1);
        if (xmpp_conn_send_queue_len(c->conn) > 64)
            xmpp_run_once(h.ctx, 1);   /* keep the queue short */
    }
    hp_run_until(&h, hp_queues_empty, 30000);
    fprintf(stderr, "hostile_peer: attack %s sent in %lld ms; holding %d s\n", name,
            (long long)(hp_now_ms() - start), h.hold_s);
    hp_run_until(&h, hp_never, (int64_t)h.hold_s * 1000);

    json_t *result = json_pack("{ss si sO sO si}", "attack", name, "occupants", joined, "sent",
                               h.sent, "recv", h.recv, "disconnects", h.disconnects);
    char *text = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS);
    printf("result %s\n", text ? text : "{}");
    fflush(stdout);
    free(text);
    json_decref(result);

    for (int k = 0; k < h.n_conns; k++)
        if (h.conns[k].online)
            xmpp_disconnect(h.conns[k].conn);
    hp_run_until(&h, hp_all_gone, 3000);
    for (int k = 0; k < h.n_conns; k++)
        if (h.conns[k].conn)
            xmpp_conn_release(h.conns[k].conn);
    for (size_t k = 0; k < h.n_acts; k++)
        free(h.acts[k].payload);
    free(h.acts);
    free(h.conns);
    json_decref(h.sent);
    json_decref(h.recv);
    xmpp_ctx_free(h.ctx);
    xmpp_shutdown();
    return 0;
}
