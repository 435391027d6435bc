/* Fuzz target: the signalling payload codec (overlay/sigmsg.c), fed as the
 * XMPP message body a room member sends. Invariants: a rejection names its
 * reason in one line of printable ASCII (it is logged) and leaves the
 * message zeroed; whatever decodes
 * encodes again, the encoding decodes to the same struct, and encoding is
 * canonical (the same text twice). */
#include "fuzz.h"

#include "../../overlay/sigmsg.h"

#define FUZZ_OVERLAY "lab"
#define FUZZ_TO      "fedcba9876543210fedcba9876543210"

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nodeid to;
    nodeid_parse(FUZZ_TO, &to);

    static struct sigmsg m, back;   /* 8 KiB of candidates: not on the stack */
    char *err = sigmsg_decode((const char *)data, size, FUZZ_OVERLAY, &to, &m);
    if (err) {
        /* errors are logged: one line of printable ASCII, whatever came in */
        FUZZ_ASSERT(*err, "empty error");
        for (const char *p = err; *p; p++)
            FUZZ_ASSERT(*p >= 0x20 && *p <= 0x7e, "error \"%s\" has byte 0x%02x", err,
                        (unsigned char)*p);
        FUZZ_ASSERT(all_zero(&m, sizeof m), "rejected message left fields set (%s)", err);
        free(err);
        return 0;
    }

    FUZZ_ASSERT(size <= SIGMSG_MAX_LEN, "accepted %zu bytes", size);
    FUZZ_ASSERT(!strcmp(m.overlay, FUZZ_OVERLAY), "overlay %s", m.overlay);
    FUZZ_ASSERT(!nodeid_cmp(&m.to, &to), "accepted a message for someone else");
    FUZZ_ASSERT(strlen(m.session) == SIGMSG_HEX16_LEN && strlen(m.edge_id) == SIGMSG_HEX16_LEN,
                "session %s edge_id %s", m.session, m.edge_id);
    FUZZ_ASSERT(m.n_cands >= 0 && m.n_cands <= SIGMSG_MAX_CANDS, "n_cands %d", m.n_cands);
    for (int i = 0; i < m.n_cands; i++)
        FUZZ_ASSERT(strlen(m.cands[i]) >= 1, "empty candidate %d", i);

    char *eerr = NULL;
    char *text = sigmsg_encode(&m, &eerr);
    FUZZ_ASSERT(text, "a decoded %s does not encode: %s", sigmsg_type_name(m.type),
                eerr ? eerr : "out of memory");
    FUZZ_ASSERT(strlen(text) <= SIGMSG_MAX_LEN, "encoded %zu bytes", strlen(text));

    err = sigmsg_decode(text, strlen(text), FUZZ_OVERLAY, &to, &back);
    FUZZ_ASSERT(!err, "re-decoding %s: %s", text, err);
    FUZZ_ASSERT(!memcmp(&m, &back, sizeof m), "round trip changed the message: %s", text);

    char *again = sigmsg_encode(&back, NULL);
    FUZZ_ASSERT(again && !strcmp(again, text), "encoding not canonical: %s vs %s", text,
                again ? again : "(null)");
    free(again);
    free(text);
    return 0;
}
