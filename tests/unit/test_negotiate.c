/* Unit tests of the negotiation engine (overlay/negotiate.c): engines wired
 * back to back through their action lists (negsim.h), with the real
 * signalling codec between them. Simultaneous requests, a restarted peer,
 * refusals, timeouts, release versus reset, one-sided ICE failure without a
 * storm, every budget a hostile room member could try to exhaust, and
 * randomized delays, losses, joins and restarts against the invariants
 * (negsim.h) and the agreement of both ends. */
#include "check.h"
#include "negsim.h"

/* Two nodes, joined and started; A has the lower ID. */
static void two(struct sim *s, uint64_t seed)
{
    sim_init(s, seed);
    sim_add(s, 0x10, NULL);
    sim_add(s, 0x80, NULL);
    sim_start(s, 0);
    sim_start(s, 1);
    sim_join(s, 0);
    sim_join(s, 1);
}

/* A message from node FROM's identity to node TO, envelope filled. */
static struct sigmsg msg_from(const struct sim *s, const struct nodeid *from,
                              const char *session, int to, enum sigmsg_type type,
                              const char *edge_id)
{
    struct sigmsg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    snprintf(m.overlay, sizeof m.overlay, "sim");
    m.from = *from;
    m.to = s->nodes[to].id;
    snprintf(m.session, sizeof m.session, "%s", session);
    snprintf(m.edge_id, sizeof m.edge_id, "%s", edge_id);
    sim_fpr(from, m.creds.fingerprint);     /* the sender's own key */
    return m;
}

/* Counts node I's pending actions of TYPE (and, for SEND, of message MTYPE). */
static int count_acts(const struct sim *s, enum neg_act_type type, int mtype)
{
    int k = 0;
    for (size_t i = 0; i < s->acts.n; i++)
        k += s->acts.v[i].type == type
             && (type != NEG_ACT_SEND || mtype < 0 || (int)s->acts.v[i].msg->type == mtype);
    return k;
}

static void test_simultaneous(void)
{
    struct sim s;
    two(&s, 1);
    /* both plan in the same tick: both ask, the lower ID's request wins */
    sim_run(&s, 5000, 10);
    CHECK(s.errors == 0);
    CHECK(sim_connected(&s, 0, 1));
    CHECK(sim_edge(&s, 0, 1)->initiator);
    CHECK(!sim_edge(&s, 1, 0)->initiator);
    CHECK(neg_counters(s.nodes[0].neg)->collisions == 1);
    CHECK(neg_links(s.nodes[0].neg) == 1 && neg_links(s.nodes[1].neg) == 1);
    if (s.errors)
        fprintf(stderr, "  %s\n", s.last_error);
    sim_free(&s);
}

static void test_restarted_peer(void)
{
    struct sim s;
    two(&s, 2);
    sim_run(&s, 5000, 10);
    CHECK(sim_connected(&s, 0, 1));
    sim_restart(&s, 1, NULL);
    sim_run(&s, 8000, 10);
    CHECK(s.errors == 0);
    CHECK(sim_connected(&s, 0, 1));
    /* A's link of the old edge removed exactly once, one link now */
    CHECK(s.nodes[0].created == 2 && s.nodes[0].removed == 1);
    CHECK(sim_edge(&s, 0, 1)->failures == 0);
    if (s.errors)
        fprintf(stderr, "  %s\n", s.last_error);
    sim_free(&s);
}

static void test_refusals(void)
{
    struct sim s;
    sim_init(&s, 3);
    for (int i = 0; i < 12; i++)
        sim_add(&s, (uint8_t)(0x10 + 0x10 * i), NULL);
    for (int i = 0; i < 12; i++)
        sim_start(&s, i);
    for (int i = 0; i < 12; i++)
        sim_join(&s, i);
    sim_run(&s, 20000, 20);
    CHECK(s.errors == 0);
    /* a newcomer just clockwise of node 10 is node 10's farthest
     * predecessor: its successor request is refused */
    struct nodeid far = s.nodes[10].id;
    far.b[15] ^= 1;
    far.b[1] = 0xff;
    neg_peer_joined(s.nodes[10].neg, &far, "00000000000000cc", s.now, &s.acts);
    neg_actions_clear(&s.acts);
    struct sigmsg m = msg_from(&s, &far, "00000000000000cc", 10, SIGMSG_EDGE_REQ,
                               "00000000000000aa");
    m.edge_type = SIGMSG_EDGE_SUCCESSOR;
    neg_on_message(s.nodes[10].neg, &m, s.now, &s.acts);
    CHECK(count_acts(&s, NEG_ACT_LINK_CREATE, -1) == 0);
    CHECK(s.acts.n == 1 && s.acts.v[0].type == NEG_ACT_SEND
          && !s.acts.v[0].msg->accepted
          && s.acts.v[0].msg->resp_reason == SIGMSG_RESP_REFUSED);
    CHECK(neg_counters(s.nodes[10].neg)->refused_not_neighbour == 1);
    neg_actions_clear(&s.acts);
    /* the same as long-distance is accepted */
    snprintf(m.edge_id, sizeof m.edge_id, "00000000000000ab");
    m.edge_type = SIGMSG_EDGE_LONG_DISTANCE;
    neg_on_message(s.nodes[10].neg, &m, s.now, &s.acts);
    CHECK(count_acts(&s, NEG_ACT_LINK_CREATE, -1) == 1);
    neg_actions_clear(&s.acts);
    /* a static request from a peer not configured as static is judged as
     * long-distance; a datapath-less node answers busy */
    sim_free(&s);

    two(&s, 4);
    struct neg *fresh = neg_new(&(struct neg_config){ .overlay = "sim", .self = s.nodes[1].id,
                                                      .session = "00000000000000bb",
                                                      .min_successors = 2,
                                                      .max_concurrent = 8 }, 9);
    m = msg_from(&s, &s.nodes[0].id, s.nodes[0].session, 1, SIGMSG_EDGE_REQ, "00000000000000ab");
    neg_on_message(fresh, &m, s.now, &s.acts);
    CHECK(s.acts.n == 1 && s.acts.v[0].msg->resp_reason == SIGMSG_RESP_BUSY);
    CHECK(neg_counters(fresh)->refused_busy == 1);
    neg_actions_clear(&s.acts);
    neg_free(fresh);
    sim_free(&s);
}

static void test_timeout_to_backoff(void)
{
    struct sim s;
    two(&s, 5);
    s.drop_pct = 100;               /* nothing arrives */
    sim_run(&s, NEG_REQUEST_TIMEOUT_MS + 500, 10);
    const struct edge *a = sim_edge(&s, 0, 1), *b = sim_edge(&s, 1, 0);
    CHECK(a->state == EDGE_BACKOFF && a->failures == 1);
    CHECK(b->state == EDGE_BACKOFF && b->failures == 1);
    CHECK(strstr(a->last_error, "timed out") != NULL);
    CHECK(!a->link_asked && !b->link_asked);
    /* the network heals: they connect after the backoff */
    s.drop_pct = 0;
    sim_run(&s, 10000, 10);
    CHECK(sim_connected(&s, 0, 1));
    CHECK(s.errors == 0);
    sim_free(&s);
}

static void test_release_and_reset(void)
{
    struct sim s;
    two(&s, 6);
    sim_run(&s, 5000, 10);
    CHECK(sim_connected(&s, 0, 1));
    const struct edge *a = sim_edge(&s, 0, 1);
    char id[EDGE_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", a->edge_id);

    /* reset from the peer: backoff, one failure, the link removed */
    struct sigmsg m = msg_from(&s, &s.nodes[1].id, s.nodes[1].session, 0, SIGMSG_EDGE_CLOSE, id);
    snprintf(m.close_reason, sizeof m.close_reason, "reset");
    neg_on_message(s.nodes[0].neg, &m, s.now, &s.acts);
    CHECK(count_acts(&s, NEG_ACT_LINK_REMOVE, -1) == 1);
    CHECK(count_acts(&s, NEG_ACT_SEND, -1) == 0);     /* it told us: no answer */
    sim_apply(&s, 0);
    CHECK(a->state == EDGE_BACKOFF && a->failures == 1);

    sim_run(&s, 20000, 10);
    CHECK(sim_connected(&s, 0, 1));
    snprintf(id, sizeof id, "%s", a->edge_id);
    /* release from the peer: idle, no failure, free to be asked again */
    m = msg_from(&s, &s.nodes[1].id, s.nodes[1].session, 0, SIGMSG_EDGE_CLOSE, id);
    snprintf(m.close_reason, sizeof m.close_reason, "unneeded");
    neg_on_message(s.nodes[0].neg, &m, s.now, &s.acts);
    CHECK(count_acts(&s, NEG_ACT_LINK_REMOVE, -1) == 1);
    sim_apply(&s, 0);
    CHECK(a->state == EDGE_IDLE && a->failures == 0);
    /* a close for another edge is stale */
    uint64_t stale = neg_counters(s.nodes[0].neg)->stale;
    m = msg_from(&s, &s.nodes[1].id, s.nodes[1].session, 0, SIGMSG_EDGE_CLOSE, "1234123412341234");
    neg_on_message(s.nodes[0].neg, &m, s.now, &s.acts);
    CHECK(s.acts.n == 0 && neg_counters(s.nodes[0].neg)->stale == stale + 1);
    CHECK(s.errors == 0);
    sim_free(&s);
}

/* One end's ICE fails at once, again and again: both back off, signalling
 * stays a trickle, and the link comes up once the path is there. */
static void test_one_sided_failure(void)
{
    struct sim s;
    two(&s, 7);
    s.nodes[1].ice_fails = true;
    sim_run(&s, 60000, 10);
    uint64_t a = s.nodes[0].sent, b = s.nodes[1].sent;
    printf("one-sided ICE failure: %llu and %llu messages in 60 s\n", (unsigned long long)a,
           (unsigned long long)b);
    CHECK(a < 60 && b < 60);            /* under one a second; 5 a second is the ceiling */
    CHECK(neg_counters(s.nodes[0].neg)->failures >= 2);
    s.nodes[1].ice_fails = false;
    sim_run(&s, 70000, 10);
    CHECK(sim_connected(&s, 0, 1));
    CHECK(s.errors == 0);
    sim_free(&s);
}

/* What one room member can make a node hold or do. */
static void test_budgets(void)
{
    struct sim s;
    two(&s, 8);
    struct neg *victim = s.nodes[1].neg;
    const struct nodeid *evil = &s.nodes[0].id;      /* present in the room */

    /* 1000 edge_req with fresh ids in 10 s */
    for (int i = 0; i < 1000; i++) {
        char id[17];
        snprintf(id, sizeof id, "%016x", 0x1000 + i);
        struct sigmsg m = msg_from(&s, evil, s.nodes[0].session, 1, SIGMSG_EDGE_REQ, id);
        m.edge_type = SIGMSG_EDGE_LONG_DISTANCE;
        s.now += 10;
        neg_on_message(victim, &m, s.now, &s.acts);
        /* the datapath answers every create */
        for (size_t k = 0; k < s.acts.n; k++)
            if (s.acts.v[k].type == NEG_ACT_LINK_CREATE)
                sim_push(&s, s.now, 1, SIM_CREATED, s.acts.v[k].link_id, NULL);
        sim_apply(&s, 1);
    }
    const struct neg_counters *c = neg_counters(victim);
    printf("edge_req flood: %llu links created, %llu rate-limited\n",
           (unsigned long long)c->links_created, (unsigned long long)c->rate_limited);
    CHECK(c->links_created <= NEG_REQ_BURST + 10000 / NEG_REQ_PERIOD_MS + 1);
    CHECK(c->rate_limited >= 990);
    CHECK(neg_links(victim) <= 1);
    CHECK(s.nodes[1].created - s.nodes[1].removed == (uint64_t)neg_links(victim));

    /* 1000 link_cand of 16 candidates for the edge in hand, then creds */
    const struct edge *e = sim_edge(&s, 1, 0);
    char eid[17];
    snprintf(eid, sizeof eid, "%s", e->edge_id);
    sim_run(&s, 10, 10);            /* link/create's reply: connecting */
    CHECK(e->state == EDGE_CONNECTING);
    int cands = 0, batches_ok = 1;
    for (int i = 0; i < 1000; i++) {
        struct sigmsg m = msg_from(&s, evil, s.nodes[0].session, 1, SIGMSG_LINK_CAND, eid);
        m.n_cands = SIGMSG_MAX_CANDS;
        for (int k = 0; k < m.n_cands; k++)
            snprintf(m.cands[k], sizeof m.cands[k], "candidate:%d 1 UDP 1 10.0.%d.%d 4000 typ host",
                     k, i / 250, i % 250);
        s.now += 10;
        neg_on_message(victim, &m, s.now, &s.acts);
        sim_apply(&s, 1);
    }
    s.now += 1000;                  /* a token for the credentials */
    struct sigmsg m = msg_from(&s, evil, s.nodes[0].session, 1, SIGMSG_LINK_CREDS, eid);
    snprintf(m.creds.ufrag, sizeof m.creds.ufrag, "abcd");
    snprintf(m.creds.pwd, sizeof m.creds.pwd, "abcdefghijklmnopqrstuvwxyz");
    snprintf(m.creds.mac, sizeof m.creds.mac, "02:00:00:00:00:09");
    neg_on_message(victim, &m, s.now, &s.acts);
    for (size_t k = 0; k < s.acts.n; k++) {
        if (s.acts.v[k].type == NEG_ACT_LINK_CANDS) {
            cands += s.acts.v[k].n_cands;
            batches_ok &= s.acts.v[k].n_cands <= NEG_CAND_BATCH;
        }
    }
    sim_apply(&s, 1);
    struct sim_link *l = sim_link(&s.nodes[1], sim_edge(&s, 1, 0)->link_id);
    printf("candidate flood: %d candidates reached the datapath, %llu dropped, %llu messages rate-limited\n",
           l ? l->n_cands : -1, (unsigned long long)c->cands_dropped,
           (unsigned long long)c->rate_limited);
    CHECK(l && l->n_cands == EDGE_REMOTE_CANDS && cands == EDGE_REMOTE_CANDS);
    CHECK(batches_ok);
    CHECK(c->cands_dropped > 0);
    CHECK(s.errors == 0);
    if (s.errors)
        fprintf(stderr, "  %s\n", s.last_error);
    sim_free(&s);

    /* many nicknames: on-demand and long-distance requests from 200 peers */
    sim_init(&s, 9);
    sim_add(&s, 0x80, &(struct neg_config){ .max_on_demand = 4, .max_long_distance = -1,
                                            .min_successors = 2, .max_concurrent = 8,
                                            .max_peers = 64 });
    sim_start(&s, 0);
    s.nodes[0].present = true;
    for (int i = 0; i < 200; i++) {
        struct nodeid id = s.nodes[0].id;
        id.b[0] = (uint8_t)i;
        id.b[15] ^= 0x5a;
        neg_peer_joined(s.nodes[0].neg, &id, "0000000000000001", s.now, &s.acts);
        struct sigmsg rq = msg_from(&s, &id, "0000000000000001", 0, SIGMSG_EDGE_REQ,
                                    "00000000000000f1");
        rq.edge_type = i % 3 == 0 ? SIGMSG_EDGE_ON_DEMAND
                     : i % 3 == 1 ? SIGMSG_EDGE_LONG_DISTANCE : SIGMSG_EDGE_STATIC;
        neg_on_message(s.nodes[0].neg, &rq, s.now, &s.acts);
        sim_apply(&s, 0);
    }
    c = neg_counters(s.nodes[0].neg);
    printf("200 nicknames: %d links held, %llu refused full, %llu peers refused\n",
           neg_links(s.nodes[0].neg), (unsigned long long)c->refused_full,
           (unsigned long long)c->peers_refused);
    CHECK(neg_peers(s.nodes[0].neg)->n <= 64);
    CHECK(c->peers_refused == 2 * (200 - 64));      /* presence and request */
    CHECK(neg_links(s.nodes[0].neg) <= 4 + 2 * 6 + 2);
    CHECK(c->refused_full > 0);
    CHECK(s.errors == 0);
    if (s.errors)
        fprintf(stderr, "  %s\n", s.last_error);
    sim_free(&s);

    /* the total link budget */
    sim_init(&s, 10);
    sim_add(&s, 0x80, &(struct neg_config){ .max_on_demand = 64, .max_long_distance = -1,
                                            .min_successors = 2, .max_concurrent = 8,
                                            .max_links = 8 });
    sim_start(&s, 0);
    for (int i = 0; i < 30; i++) {
        struct nodeid id = s.nodes[0].id;
        id.b[0] = (uint8_t)(i + 1);
        neg_peer_joined(s.nodes[0].neg, &id, "0000000000000001", s.now, &s.acts);
        struct sigmsg rq = msg_from(&s, &id, "0000000000000001", 0, SIGMSG_EDGE_REQ,
                                    "00000000000000f2");
        rq.edge_type = SIGMSG_EDGE_ON_DEMAND;
        neg_on_message(s.nodes[0].neg, &rq, s.now, &s.acts);
        sim_apply(&s, 0);
    }
    CHECK(neg_links(s.nodes[0].neg) == 8);
    CHECK(neg_counters(s.nodes[0].neg)->refused_links == 22);
    CHECK(s.errors == 0);
    sim_free(&s);

    /* absent idle peers are forgotten */
    two(&s, 11);
    sim_run(&s, 5000, 10);
    sim_leave(&s, 1);
    s.nodes[1].present = false;
    /* and it is gone: its link stops answering */
    sim_push(&s, s.now + 5000, 0, SIM_FAILED, sim_edge(&s, 0, 1)->link_id, NULL);
    sim_run(&s, NEG_EVICT_MS + 60000, 100);
    CHECK(peer_table_find(neg_peers(s.nodes[0].neg), &s.nodes[1].id) == NULL);
    CHECK(neg_counters(s.nodes[0].neg)->peers_evicted == 1);
    CHECK(neg_links(s.nodes[0].neg) == 0);
    CHECK(s.errors == 0);
    sim_free(&s);
}

/* An occupant that takes a node's nickname cannot link under it: its key
 * is not that node's. */
static void test_impostor(void)
{
    struct sim s;
    two(&s, 13);
    struct sigmsg m = msg_from(&s, &s.nodes[0].id, "00000000000000dd", 1, SIGMSG_EDGE_REQ,
                               "00000000000000de");
    m.edge_type = SIGMSG_EDGE_SUCCESSOR;
    struct nodeid other = s.nodes[0].id;
    other.b[3] ^= 0x40;
    sim_fpr(&other, m.creds.fingerprint);   /* its own key, not node 0's */
    neg_on_message(s.nodes[1].neg, &m, s.now, &s.acts);
    CHECK(count_acts(&s, NEG_ACT_LINK_CREATE, -1) == 0);
    CHECK(s.acts.n == 1 && s.acts.v[0].msg && !s.acts.v[0].msg->accepted);
    CHECK(neg_counters(s.nodes[1].neg)->impostor == 1);
    neg_actions_clear(&s.acts);

    /* and answering our request with a foreign key fails the edge */
    sim_run(&s, 5, 5);                      /* node 1 asks node 0 */
    const struct edge *e = sim_edge(&s, 1, 0);
    if (e->state == EDGE_REQUESTED) {
        struct sigmsg r = msg_from(&s, &s.nodes[0].id, "00000000000000dd", 1, SIGMSG_EDGE_RESP,
                                   e->edge_id);
        r.accepted = true;
        r.resp_reason = SIGMSG_RESP_OK;
        sim_fpr(&other, r.creds.fingerprint);
        snprintf(r.creds.mac, sizeof r.creds.mac, "02:00:00:00:00:01");
        snprintf(r.creds.ufrag, sizeof r.creds.ufrag, "abcd");
        snprintf(r.creds.pwd, sizeof r.creds.pwd, "abcdefghijklmnopqrstuvwxyz");
        neg_on_message(s.nodes[1].neg, &r, s.now, &s.acts);
        CHECK(count_acts(&s, NEG_ACT_LINK_CREATE, -1) == 0);
        CHECK(e->state == EDGE_BACKOFF);
        CHECK(neg_counters(s.nodes[1].neg)->impostor == 2);
        neg_actions_clear(&s.acts);
    }
    CHECK(e->state == EDGE_BACKOFF);
    sim_free(&s);
}

/* Room members that take places between two nodes on the ring and never
 * complete a link do not cut the two apart: a connected edge stays until
 * the successors that replace it are up (make before break). */
static void test_make_before_break(void)
{
    struct sim s;
    two(&s, 14);
    sim_run(&s, 5000, 10);
    CHECK(sim_connected(&s, 0, 1));
    for (int k = 0; k < 6; k++) {
        struct nodeid ghost = s.nodes[k % 2].id;     /* just after A, or just after B */
        ghost.b[15] ^= (uint8_t)(1 + k);
        ghost.b[14] = 0xff;
        for (int i = 0; i < 2; i++) {
            neg_peer_joined(s.nodes[i].neg, &ghost, "0000000000000abc", s.now, &s.acts);
            sim_apply(&s, i);
        }
    }
    sim_run(&s, 120000, 20);                /* the ghosts' edges fail and back off */
    CHECK(sim_connected(&s, 0, 1));
    CHECK(s.nodes[0].removed == 0 && s.nodes[1].removed == 0);
    CHECK(neg_counters(s.nodes[0].neg)->kept_until_successors > 0);
    CHECK(s.errors == 0);
    sim_free(&s);
}

/* An overlay with a member list links with its members only. */
static void test_members(void)
{
    struct sim s;
    sim_init(&s, 12);
    sim_add(&s, 0x10, NULL);
    sim_add(&s, 0x80, NULL);
    sim_add(&s, 0x40, NULL);                    /* in the room, not a member */
    struct neg_config c = { .min_successors = 2, .max_concurrent = 8, .max_long_distance = -1,
                            .members_only = true, .members = &s.nodes[1].id, .n_members = 1 };
    neg_free(s.nodes[0].neg);
    c.overlay = "sim";
    c.self = s.nodes[0].id;
    c.session = s.nodes[0].session;
    s.nodes[0].neg = neg_new(&c, 77);
    for (int i = 0; i < 3; i++)
        sim_start(&s, i);
    for (int i = 0; i < 3; i++)
        sim_join(&s, i);
    sim_run(&s, 20000, 10);
    CHECK(sim_connected(&s, 0, 1));
    CHECK(peer_table_find(neg_peers(s.nodes[0].neg), &s.nodes[2].id) == NULL);
    CHECK(!sim_connected(&s, 0, 2));
    CHECK(neg_counters(s.nodes[0].neg)->not_member >= 2);   /* its presence, its requests */
    CHECK(neg_links(s.nodes[0].neg) == 1);
    CHECK(s.errors == 0);
    sim_free(&s);
}

/* Random worlds: delays up to 400 ms, losses, joins at random times and
 * restarts; all invariants hold throughout, and once things settle every
 * pair agrees and every node has its successors. */
static void test_random(void)
{
    int bad = 0, unsettled = 0;
    for (uint64_t seed = 100; seed < 140; seed++) {
        struct sim s;
        sim_init(&s, seed);
        int n = 3 + (int)(sim_rand(&s) % 5);
        for (int i = 0; i < n; i++)
            sim_add(&s, (uint8_t)(sim_rand(&s) & 0xff), NULL);
        s.delay_max = 20 + (int)(sim_rand(&s) % 400);
        s.drop_pct = seed % 3 == 0 ? 5 : 0;
        for (int i = 0; i < n; i++) {
            sim_start(&s, i);
            sim_join(&s, i);
            sim_run(&s, (int64_t)(sim_rand(&s) % 3000), 10);
        }
        for (int r = 0; r < 2; r++) {
            sim_run(&s, 5000 + (int64_t)(sim_rand(&s) % 10000), 10);
            sim_restart(&s, (int)(sim_rand(&s) % (uint64_t)n), NULL);
        }
        /* settle: no loss, long enough for the longest backoff */
        s.drop_pct = 0;
        sim_run(&s, 150000, 20);
        bool agree = true, succ = true;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i == j)
                    continue;
                const struct edge *e = sim_edge(&s, i, j);
                bool busy = e && (e->state == EDGE_REQUESTED || e->state == EDGE_CREATING
                                  || e->state == EDGE_CONNECTING);
                if (!busy && !sim_agree(&s, i, j))
                    agree = false;
            }
            const struct topology_plan *p = neg_plan(s.nodes[i].neg);
            for (size_t k = 0; k < p->n_want; k++) {
                if (p->want[k].type != EDGE_SUCCESSOR)
                    continue;
                int j = sim_node_of(&s, &p->want[k].peer);
                if (j < 0 || !sim_connected(&s, i, j))
                    succ = false;
            }
        }
        if (s.errors || !agree) {
            bad++;
            fprintf(stderr, "seed %llu: %d errors (%s), agree %d\n", (unsigned long long)seed,
                    s.errors, s.last_error, agree);
        }
        unsettled += !succ;
        sim_free(&s);
    }
    printf("random worlds: 40 runs, %d broke an invariant or disagreed, %d lacked a successor\n",
           bad, unsettled);
    CHECK(bad == 0);
    CHECK(unsettled == 0);
}

int main(void)
{
    test_simultaneous();
    test_restarted_peer();
    test_refusals();
    test_timeout_to_backoff();
    test_release_and_reset();
    test_one_sided_failure();
    test_budgets();
    test_members();
    test_impostor();
    test_make_before_break();
    test_random();
    return check_report("test_negotiate");
}
