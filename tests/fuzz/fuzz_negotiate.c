/* Fuzz target: the edge negotiation engine (overlay/negotiate.c), several
 * engines wired back to back through the real signalling codec by the
 * simulator of its unit tests (tests/unit/negsim.h), plus one hostile room
 * member that is no engine. The input picks 2..6 nodes, their budgets
 * (links, on-demand edges, peer table, concurrency), message delay and
 * loss, which nodes' ICE fails, then a script: time passes, nodes join,
 * leave, restart, lose their datapath, get shortcut hints, and the hostile
 * member joins, leaves and sends any well-formed message (fresh or reused
 * edge ids, its own or a real node's identity and session, its ID's key
 * fingerprint or another, any type, candidates).
 * Invariants, after every step: negsim's (a link is created under a new
 * name and removed exactly once, never two live links to one peer, the
 * engine's links are the datapath's and within the budget), the peer
 * table within its bound, incoming on-demand edges within max_on_demand,
 * and no more links made for the hostile member's messages than its
 * edge_req rate allows; at the end, once every peer has left, every
 * link has failed and the eviction time has passed, no engine holds a link
 * or a peer, and no link is left in any datapath. */
#include "fuzz.h"

#include "../unit/negsim.h"


static const char *const cand_texts[] = {
    "candidate:1 1 UDP 2015363327 10.0.0.9 40000 typ host",
    "candidate:2 1 UDP 1677722111 198.51.100.9 3478 typ srflx raddr 10.0.0.9 rport 40000",
    "x",
};

/* Links node I created for the hostile member's own messages, and when
 * its first message came: edge_req is limited to NEG_REQ_BURST, then one
 * per NEG_REQ_PERIOD_MS, so no more links than that can follow from it. */
static uint64_t hostile_links[SIM_MAX_NODES];
static int64_t hostile_since[SIM_MAX_NODES];

/* A well-formed message from the hostile member HID (or, spoofed, from a
 * real node) to node TO, shaped by the input. */
static void hostile_message(struct fz *f, struct sim *s, const struct nodeid *hid,
                            const char *hsession, int to, char edge_ids[4][SIGMSG_HEX16_LEN + 1])
{
    static struct sigmsg m;
    memset(&m, 0, sizeof m);
    uint8_t how = fz_u8(f);
    m.type = (enum sigmsg_type)(how % 6);
    snprintf(m.overlay, sizeof m.overlay, "sim");
    m.from = *hid;
    snprintf(m.session, sizeof m.session, "%s", hsession);
    if (how & 0x08) {   /* spoofing a real node, with its session or not */
        int who = fz_u8(f) % s->n;
        if (who == to)
            who = (who + 1) % s->n;
        m.from = s->nodes[who].id;
        if (how & 0x10)
            snprintf(m.session, sizeof m.session, "%s", s->nodes[who].session);
    }
    m.to = s->nodes[to].id;
    uint8_t e = fz_u8(f);
    if (e & 0x80) {   /* a fresh edge id */
        unsigned long long hi = fz_u32(f);
        unsigned long long lo = fz_u16(f);
        snprintf(edge_ids[e & 3], SIGMSG_HEX16_LEN + 1, "%016llx", hi << 20 | lo);
    }
    snprintf(m.edge_id, sizeof m.edge_id, "%s", edge_ids[e & 3]);
    m.edge_type = (enum sigmsg_edge_type)(fz_u8(f) % 4);
    uint8_t impostor = fz_u8(f);
    if (impostor & 1)   /* a key that is not the sender's ID's */
        snprintf(m.creds.fingerprint, sizeof m.creds.fingerprint,
                 "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
                 "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF");
    else                /* the sender's (public) key fingerprint */
        sim_fpr(&m.from, m.creds.fingerprint);
    snprintf(m.creds.mac, sizeof m.creds.mac, "02:00:00:00:00:%02x", fz_u8(f));
    snprintf(m.creds.ufrag, sizeof m.creds.ufrag, "hUfr%u", fz_u8(f));
    snprintf(m.creds.pwd, sizeof m.creds.pwd, "hostilepassword0123456789");
    uint8_t r = fz_u8(f);
    m.accepted = r & 1;
    m.resp_reason = m.accepted ? SIGMSG_RESP_OK : (enum sigmsg_resp_reason)(1 + r / 2 % 6);
    m.want = r & 2;
    m.done = r & 4;
    m.n_cands = fz_u8(f) % (SIGMSG_MAX_CANDS + 1);
    for (int i = 0; i < m.n_cands; i++)
        snprintf(m.cands[i], sizeof m.cands[i], "%s", cand_texts[fz_u8(f) % 3]);
    snprintf(m.close_reason, sizeof m.close_reason, "%s", r & 8 ? "reset" : "topology");

    /* through the codec, as the agent would get it */
    char *text = sigmsg_encode(&m, NULL);
    if (!text)
        return;
    static struct sigmsg in;
    char *err = sigmsg_decode(text, strlen(text), "sim", &s->nodes[to].id, &in);
    free(text);
    FUZZ_ASSERT(!err, "codec: %s", err);
    neg_on_message(s->nodes[to].neg, &in, s->now, &s->acts);
    uint64_t creates = 0;
    for (size_t k = 0; k < s->acts.n; k++)
        creates += s->acts.v[k].type == NEG_ACT_LINK_CREATE && !nodeid_cmp(&s->acts.v[k].peer, hid);
    if (getenv("FUZZ_TRACE"))
        for (size_t k = 0; k < s->acts.n; k++)
            fprintf(stderr, "    action %d %s %s\n", (int)s->acts.v[k].type,
                    s->acts.v[k].msg ? sigmsg_type_name(s->acts.v[k].msg->type) : "",
                    s->acts.v[k].msg && s->acts.v[k].msg->type == SIGMSG_EDGE_RESP
                        ? sigmsg_resp_reason_name(s->acts.v[k].msg->resp_reason) : "");
    sim_apply(s, to);
    if (getenv("FUZZ_TRACE")) {
        const struct neg_counters *c = neg_counters(s->nodes[to].neg);
        fprintf(stderr, "  %s %s -> node %d: links to create %llu, rate limited %llu, "
                "refused full %llu links %llu not_neighbour %llu busy %llu, stale %llu\n", sigmsg_type_name(m.type),
                nodeid_cmp(&m.from, hid) ? "spoofed" : "hostile", to,
                (unsigned long long)creates,
                (unsigned long long)c->rate_limited, (unsigned long long)c->refused_full,
                (unsigned long long)c->refused_links, (unsigned long long)c->refused_not_neighbour, (unsigned long long)c->refused_busy, (unsigned long long)c->stale);
    }
    if (nodeid_cmp(&m.from, hid))
        return;   /* spoofed: a real node's budget */
    if (!hostile_since[to])
        hostile_since[to] = s->now;
    hostile_links[to] += creates;
    int64_t allowed = NEG_REQ_BURST + (s->now - hostile_since[to]) / NEG_REQ_PERIOD_MS + 1;
    FUZZ_ASSERT((int64_t)hostile_links[to] <= allowed,
                "node %d made %llu links for one member's messages in %lld ms", to,
                (unsigned long long)hostile_links[to], (long long)(s->now - hostile_since[to]));
}

/* What node I's engine holds, for a failure's report. */
static void dump(const struct sim *s, int i)
{
    const struct peer_table *t = neg_peers(s->nodes[i].neg);
    int live = 0;
    for (int k = 0; k < SIM_MAX_LINKS; k++)
        live += s->nodes[i].links[k].live;
    fprintf(stderr, "node %d (%02x): engine %d links, datapath %d, budget %d\n", i,
            s->nodes[i].id.b[0], neg_links(s->nodes[i].neg), live, s->nodes[i].max_links);
    for (size_t k = 0; k < t->n; k++) {
        const struct peer *p = t->peers[k];
        const struct edge *e = &p->edge;
        fprintf(stderr, "  peer %.8s present %d absent_since %lld: edge %s link %s asked %d "
                "created %d local_want %d remote_want %d deadline %lld (now %lld) %s\n",
                p->hex, p->present, (long long)p->absent_since_ms, edge_state_name(e->state),
                e->link_id, e->link_asked, e->link_created, e->local_want, e->remote_want,
                (long long)e->deadline_ms, (long long)s->now, e->last_error);
    }
}

static void check(const struct sim *s, const struct neg_config *base, const char *step)
{
    if (s->errors)
        for (int i = 0; i < s->n; i++)
            dump(s, i);
    FUZZ_ASSERT(s->errors == 0, "after %s: %s", step, s->last_error);
    size_t max_peers = base->max_peers ? base->max_peers : NEG_MAX_PEERS;
    for (int i = 0; i < s->n; i++) {
        FUZZ_ASSERT(neg_peers(s->nodes[i].neg)->n <= max_peers, "node %d: %zu peers", i,
                    neg_peers(s->nodes[i].neg)->n);
        FUZZ_ASSERT(neg_links(s->nodes[i].neg) <= s->nodes[i].max_links, "node %d: %d links",
                    i, neg_links(s->nodes[i].neg));
        /* incoming on-demand edges, counted as the engine counts them */
        const struct peer_table *t = neg_peers(s->nodes[i].neg);
        int on_demand = 0;
        for (size_t k = 0; k < t->n; k++) {
            const struct edge *e = &t->peers[k]->edge;
            on_demand += e->remote_want && e->remote_type == EDGE_ON_DEMAND && !e->local_want
                         && e->state != EDGE_IDLE && e->state != EDGE_BACKOFF;
        }
        FUZZ_ASSERT(on_demand <= base->max_on_demand, "node %d: %d on-demand edges, budget %d",
                    i, on_demand, base->max_on_demand);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    static struct sim s;
    sim_init(&s, (uint64_t)fz_u32(&f) << 8 | 1);
    memset(hostile_links, 0, sizeof hostile_links);
    memset(hostile_since, 0, sizeof hostile_since);
    int n = 2 + fz_u8(&f) % 5;
    struct neg_config base;
    memset(&base, 0, sizeof base);
    base.max_links = fz_u8(&f) % 9;                 /* 0: the default */
    base.max_on_demand = fz_u8(&f) % 3;
    base.max_long_distance = fz_u8(&f) % 3 - 1;
    base.min_successors = 1 + fz_u8(&f) % 2;
    base.max_concurrent = 1 + fz_u8(&f) % 4;
    base.max_peers = fz_u8(&f) % 4 ? 0 : 2 + fz_u8(&f) % 6;
    base.on_demand_idle_ms = 1000 + fz_u8(&f) * 100;
    s.delay_min = fz_u8(&f) % 50;
    s.delay_max = s.delay_min + fz_u8(&f) % 500;
    s.drop_pct = fz_u8(&f) % 4 ? 0 : fz_u8(&f) % 30;
    for (int i = 0; i < n; i++) {
        sim_add(&s, fz_u8(&f), &base);
        FUZZ_ASSERT(s.nodes[i].neg, "neg_new");
        s.nodes[i].ice_fails = fz_u8(&f) % 8 == 0;
    }
    if (getenv("FUZZ_TRACE"))
        fprintf(stderr, "%d nodes, max_links %d on_demand %d long %d succ %d conc %d peers %zu "
                "delay %d..%d drop %d\n", n, base.max_links, base.max_on_demand,
                base.max_long_distance, base.min_successors, base.max_concurrent, base.max_peers,
                s.delay_min, s.delay_max, s.drop_pct);
    for (int i = 0; i < n; i++)
        sim_start(&s, i);
    for (int i = 0; i < n; i++)
        sim_join(&s, i);
    check(&s, &base, "start");

    struct nodeid hid;
    for (int k = 0; k < 16; k++)
        hid.b[k] = fz_u8(&f);
    char hsession[SESSION_LEN + 1] = "00000000000000aa";
    char edge_ids[4][SIGMSG_HEX16_LEN + 1] = { "0000000000000001", "0000000000000002",
                                               "0000000000000003", "0000000000000004" };

    for (int ops = 0; f.n && ops < 64; ops++) {
        uint8_t op = fz_u8(&f);
        int i = fz_u8(&f) % n, j = fz_u8(&f) % n;
        if (getenv("FUZZ_TRACE"))
            fprintf(stderr, "t=%lld op %d i %d j %d\n", (long long)s.now, op % 10, i, j);
        switch (op % 10) {
        case 0:
        case 1: {
            int64_t ms = 1 + fz_u16(&f) % 20000;
            int64_t step = 10 + fz_u8(&f) % 200;
            sim_run(&s, ms, step);
            break;
        }
        case 2:
            if (!s.nodes[i].present)
                sim_join(&s, i);
            else
                sim_leave(&s, i);
            break;
        case 3:   /* a new process: its rate limits start afresh */
            sim_restart(&s, i, &base);
            hostile_links[i] = 0;
            hostile_since[i] = 0;
            break;
        case 4:
            s.nodes[i].ice_fails = !s.nodes[i].ice_fails;
            break;
        case 5:
            if (i != j)
                (void)neg_hint(s.nodes[i].neg, &s.nodes[j].id, s.now);
            break;
        case 6:
        case 7:
            hostile_message(&f, &s, &hid, hsession, i, edge_ids);
            break;
        case 8:
            if (fz_bool(&f)) {
                snprintf(hsession, sizeof hsession, "%016llx", (unsigned long long)fz_u32(&f));
                neg_peer_joined(s.nodes[i].neg, &hid, hsession, s.now, &s.acts);
            } else {
                neg_peer_left(s.nodes[i].neg, &hid, s.now, &s.acts);
            }
            sim_apply(&s, i);
            break;
        default:    /* node I's datapath restarts: its links are gone */
            memset(s.nodes[i].links, 0, sizeof s.nodes[i].links);
            neg_set_datapath(s.nodes[i].neg, NULL, s.now, &s.acts);
            sim_apply(&s, i);
            sim_start(&s, i);
            break;
        }
        check(&s, &base, "a step");
    }

    /* the end: messages stop, every peer leaves every node, and every link
     * fails as links to a peer that went away do (links outlive a signalling
     * outage on purpose, so a departure alone ends nothing) */
    s.drop_pct = 100;
    for (size_t k = 0; k < s.nq; k++)
        if (s.q[k].kind == SIM_MSG) {
            free(s.q[k].text);
            s.q[k].text = NULL;
        }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            if (j != i)
                neg_peer_left(s.nodes[i].neg, &s.nodes[j].id, s.now, &s.acts);
        neg_peer_left(s.nodes[i].neg, &hid, s.now, &s.acts);
        sim_apply(&s, i);
        s.nodes[i].present = true;   /* so sim_run keeps ticking it */
        s.nodes[i].ice_fails = true;
        for (int k = 0; k < SIM_MAX_LINKS; k++) {
            struct sim_link *l = &s.nodes[i].links[k];
            if (l->live && !l->failed) {
                l->failed = true;
                sim_push(&s, s.now + 1 + k, i, SIM_FAILED, l->id, NULL);
            }
        }
    }
    check(&s, &base, "everyone left");
    sim_run(&s, NEG_EVICT_MS + NEG_CONNECT_TIMEOUT_MS + 10000, 1000);
    check(&s, &base, "the end");
    for (int i = 0; i < n; i++) {
        int live = 0;
        for (int k = 0; k < SIM_MAX_LINKS; k++)
            live += s.nodes[i].links[k].live;
        if (live || neg_links(s.nodes[i].neg) || neg_peers(s.nodes[i].neg)->n)
            dump(&s, i);
        FUZZ_ASSERT(live == 0 && neg_links(s.nodes[i].neg) == 0,
                    "node %d holds %d links (engine: %d) with every peer gone", i, live,
                    neg_links(s.nodes[i].neg));
        FUZZ_ASSERT(neg_peers(s.nodes[i].neg)->n == 0, "node %d still has %zu peers", i,
                    neg_peers(s.nodes[i].neg)->n);
    }
    sim_free(&s);
    return 0;
}
