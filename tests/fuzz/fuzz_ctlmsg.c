/* Fuzz target: the control contract's decoders (lib/ctlmsg.c over
 * lib/jfield.c). The first byte picks the message, the rest is its JSON.
 * Invariants: a refusal is one line "KEY: ..." with the struct zeroed and no
 * password in it; an accepted message holds only values its rules allow,
 * and encodes to JSON that decodes to the same message (encode(decode(x))
 * is a fixed point). */
#include "fuzz.h"

#include <jansson.h>

#include "evio/ctlmsg.h"

static bool zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* A refusal: one printable line naming a key, never a password. */
static void check_err(const char *err, const json_t *j)
{
    FUZZ_ASSERT(*err && !strchr(err, '\n'), "error \"%s\"", err);
    for (const char *p = err; *p; p++)
        FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f, "unprintable error \"%s\"", err);
    const char *pwd = json_string_value(json_object_get(j, "pwd"));
    if (pwd && strlen(pwd) >= 8 && !strncmp(err, "pwd:", 4))
        FUZZ_ASSERT(!strstr(err, pwd), "the password shows in \"%s\"", err);
}

static void no_free(void *p)
{
    (void)p;
}

/* encode(M) decodes again, and that encodes to the same JSON; FREE releases
 * what the second decode holds. */
#define ROUND_TRIP(name, m, free_fn) do {                                          json_t *e1 = ctl_##name##_encode(m);                                           FUZZ_ASSERT(e1, #name ": encode failed");                                      static struct ctl_##name again;                                                char *err2 = ctl_##name##_decode(e1, &again);                                  FUZZ_ASSERT(!err2, #name ": its own encoding refused: %s", err2);              json_t *e2 = ctl_##name##_encode(&again);                                      FUZZ_ASSERT(json_equal(e1, e2), #name ": encoding is not a fixed point");      free_fn(&again);                                                               json_decref(e1);                                                               json_decref(e2);                                                           } while (0)

static void check_remote(const struct ctl_link_remote *m)
{
    FUZZ_ASSERT(ctl_link_id_valid(m->link_id), "link_id");
    FUZZ_ASSERT(!m->has_creds || (ctl_ufrag_valid(m->ufrag) && ctl_pwd_valid(m->pwd)), "creds");
    FUZZ_ASSERT(m->n_cands >= 0 && m->n_cands <= CTL_CANDS_MAX
                && m->n_cands + m->n_skipped == m->n_elements, "counts %d+%d/%d",
                m->n_cands, m->n_skipped, m->n_elements);
    FUZZ_ASSERT((m->n_skipped == 0) == (m->first_skipped < 0), "first_skipped");
    for (int i = 0; i < m->n_cands; i++) {
        FUZZ_ASSERT(ctl_cand_valid(m->cands[i]), "cands[%d]", i);
        FUZZ_ASSERT(i == 0 || m->cand_index[i] > m->cand_index[i - 1], "cand_index order");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    char *err = NULL;
    switch (data[0] % 12) {
    case 0: {
        struct ctl_link_create m;
        if ((err = ctl_link_create_decode(j, &m))) {
            FUZZ_ASSERT(zero(&m, sizeof m), "link/create not zeroed");
            break;
        }
        FUZZ_ASSERT(ctl_link_id_valid(m.link_id) && ctl_ifname_valid(m.tap)
                    && ctl_fpr_valid(m.peer_fingerprint) && m.mtu >= CTL_MTU_MIN
                    && m.mtu <= CTL_MTU_MAX, "link/create values");
        ROUND_TRIP(link_create, &m, no_free);
        break;
    }
    case 1: {
        struct ctl_link_created m;
        if ((err = ctl_link_created_decode(j, &m))) {
            FUZZ_ASSERT(zero(&m, sizeof m), "link/create result not zeroed");
            break;
        }
        FUZZ_ASSERT(ctl_mac_valid(m.mac) && ctl_ufrag_valid(m.ufrag) && ctl_pwd_valid(m.pwd),
                    "link/create result values");
        ROUND_TRIP(link_created, &m, no_free);
        break;
    }
    case 2: {
        static struct ctl_link_remote m;
        if ((err = ctl_link_remote_decode(j, &m))) {
            FUZZ_ASSERT(m.first_skipped == -1 && m.n_cands == 0 && !m.has_creds,
                        "link/remote not cleared");
            break;
        }
        check_remote(&m);
        json_t *e = ctl_link_remote_encode(&m);
        static struct ctl_link_remote again;
        char *e2 = ctl_link_remote_decode(e, &again);
        FUZZ_ASSERT(!e2 && again.n_skipped == 0 && again.n_cands == m.n_cands,
                    "link/remote re-decode: %s", e2 ? e2 : "counts");
        json_decref(e);
        break;
    }
    case 3: {
        struct ctl_link_ref m;
        if (!(err = ctl_link_ref_decode(j, data[0] & 0x10, &m))) {
            FUZZ_ASSERT(!m.link_id[0] || ctl_link_id_valid(m.link_id), "link_id");
            json_t *e = ctl_link_ref_encode(&m);
            struct ctl_link_ref again;
            char *e2 = ctl_link_ref_decode(e, false, &again);
            FUZZ_ASSERT(!e2 && !strcmp(again.link_id, m.link_id), "link_ref re-decode");
            json_decref(e);
        }
        break;
    }
    case 4: {
        struct ctl_link_candidate m;
        if (!(err = ctl_link_candidate_decode(j, &m))) {
            FUZZ_ASSERT(ctl_cand_valid(m.candidate), "candidate");
            ROUND_TRIP(link_candidate, &m, no_free);
        }
        break;
    }
    case 5: {
        struct ctl_link_state_ev m;
        if (!(err = ctl_link_state_ev_decode(j, &m))) {
            FUZZ_ASSERT(m.state <= CTL_LINK_FAILED && strlen(m.reason) <= CTL_REASON_MAX,
                        "link/state");
            ROUND_TRIP(link_state_ev, &m, no_free);
        }
        break;
    }
    case 6: {
        struct ctl_link_stats_reply m;
        if ((err = ctl_link_stats_reply_decode(j, &m))) {
            FUZZ_ASSERT(!m.links && !m.servers && !m.n_links, "link/stats not freed");
            break;
        }
        for (size_t i = 0; i < m.n_links; i++) {
            FUZZ_ASSERT(ctl_link_stats_find(&m, m.links[i].link_id), "find");
            json_t *e = ctl_link_stats_encode(&m.links[i]);
            struct ctl_link_stats again;
            char *e2 = ctl_link_stats_decode(e, &again);
            FUZZ_ASSERT(!e2, "link/stats re-decode: %s", e2);
            json_decref(e);
        }
        ctl_link_stats_reply_free(&m);
        break;
    }
    case 7: {
        struct ctl_link_list m;
        if ((err = ctl_link_list_decode(j, &m))) {
            FUZZ_ASSERT(!m.links && !m.n_links, "link/list not freed");
            break;
        }
        ROUND_TRIP(link_list, &m, ctl_link_list_free);
        ctl_link_list_free(&m);
        break;
    }
    case 8: {
        struct ctl_node_info m;
        if (!(err = ctl_node_info_decode(j, &m)))
            ROUND_TRIP(node_info, &m, no_free);
        break;
    }
    case 9: {
        struct ctl_port m;
        bool peer = data[0] & 0x10;
        if (!(err = ctl_port_decode(j, peer, &m))) {
            FUZZ_ASSERT(ctl_overlay_valid(m.overlay) && ctl_ifname_valid(m.port)
                        && (!peer || ctl_nodeid_valid(m.peer)), "port");
            json_t *e = ctl_port_encode(&m, peer);
            struct ctl_port again;
            char *e2 = ctl_port_decode(e, peer, &again);
            FUZZ_ASSERT(!e2 && !strcmp(again.port, m.port), "port re-decode");
            json_decref(e);
        }
        break;
    }
    case 10: {
        struct ctl_port_sync m;
        if ((err = ctl_port_sync_decode(j, &m))) {
            FUZZ_ASSERT(!m.ports && !m.n_ports, "port/sync not freed");
            break;
        }
        FUZZ_ASSERT(m.n_ports <= CTL_PORTS_MAX && ctl_overlay_valid(m.overlay), "port/sync");
        for (size_t i = 0; i < m.n_ports; i++)
            FUZZ_ASSERT(ctl_ifname_valid(m.ports[i].port) && ctl_nodeid_valid(m.ports[i].peer),
                        "ports[%zu]", i);
        ROUND_TRIP(port_sync, &m, ctl_port_sync_free);
        ctl_port_sync_free(&m);
        break;
    }
    default: {
        struct ctl_shortcut_hint m;
        if (!(err = ctl_shortcut_hint_decode(j, &m))) {
            FUZZ_ASSERT(m.kbps >= 0 && ctl_nodeid_valid(m.peer), "shortcut/hint");
            ROUND_TRIP(shortcut_hint, &m, no_free);
        }
        struct ctl_overlay_sel s;
        char *e2 = ctl_overlay_sel_decode(j, &s);
        if (e2)
            check_err(e2, j);
        free(e2);
        break;
    }
    }
    if (err)
        check_err(err, j);
    free(err);
    json_decref(j);
    return 0;
}
