/* Fuzz target: the control protocol's line framing and codec
 * (lib/ctl_proto.c), fed as the byte stream a control client sends.
 *
 * Input: one byte choosing the form (bit 0: ctl_linebuf_feed, else
 * ctl_linebuf_append) and the longest line (1..1017), two bytes seeding
 * the chunk sizes, then the stream, given in random chunks and checked
 * against a naive splitter. Append fails exactly when a line (complete or
 * not) is over the limit; feed never fails, returns an over-long line as
 * its head marked overlong, and stays within its memory bound; both return
 * lines whole, in order, NUL-terminated. Each line is decoded; whatever
 * decodes is encoded with the matching ctl_encode_* and must decode to the
 * same message, and ctl_peek_id agrees with the decoder (also on heads). */
#include "fuzz.h"

#include "evio/ctl.h"

/* The part of the unconsumed bytes before the first '\n' (all of them when
 * there is none) and every later line: is any longer than MAX? */
static bool model_over(const uint8_t *p, size_t n, size_t max)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (run > max)
                return true;
            run = 0;
        } else {
            run++;
        }
    }
    return run > max;
}

/* The next chunk size: mostly short, sometimes all that is left. */
static size_t next_chunk(uint32_t *rng, size_t left)
{
    *rng = *rng * 1103515245u + 12345u;
    size_t chunk = 1 + (*rng >> 16) % 97;
    if ((*rng >> 8 & 7) == 0 || chunk > left)
        chunk = left;
    return chunk;
}

static bool same_body(json_t *a, json_t *b, bool null_is_empty_object)
{
    if (!a && null_is_empty_object)
        return json_is_object(b) && json_object_size(b) == 0;
    if (!a || !b)
        return a == b;
    return json_equal(a, b);
}

static void check_line(const char *line, size_t len)
{
    struct ctl_msg m, back;
    char *err = ctl_decode(line, len, &m);
    if (err) {
        /* clients log it: one line of printable ASCII */
        FUZZ_ASSERT(*err, "empty error");
        for (const char *p = err; *p; p++)
            FUZZ_ASSERT(*p >= 0x20 && *p <= 0x7e, "error \"%s\" has byte 0x%02x", err,
                        (unsigned char)*p);
        FUZZ_ASSERT(!m.root && !m.name && !m.body && !m.error, "rejected message kept parts");
        free(err);
        return;
    }
    FUZZ_ASSERT(m.root, "decoded without a root");
    int64_t peeked;
    if (m.kind != CTL_MSG_EVENT && ctl_peek_id(line, len, &peeked))
        FUZZ_ASSERT(peeked == m.id, "peeked id %lld, decoded %lld", (long long)peeked,
                    (long long)m.id);
    char *text = NULL;
    bool null_is_empty = false;
    switch (m.kind) {
    case CTL_MSG_REQUEST:
        FUZZ_ASSERT(m.name && *m.name, "request without a command");
        FUZZ_ASSERT(!m.body || json_is_object(m.body), "args not an object");
        text = ctl_encode_request(m.id, m.name, m.body);
        null_is_empty = true;   /* absent args go out as {} */
        break;
    case CTL_MSG_RESPONSE:
        FUZZ_ASSERT(m.ok ? !m.error : m.error != NULL, "ok=%d error=%p", m.ok, (void *)m.error);
        text = m.ok ? ctl_encode_ok(m.id, m.body) : ctl_encode_error(m.id, m.error);
        break;
    case CTL_MSG_EVENT:
        FUZZ_ASSERT(m.name && *m.name, "event without a name");
        text = ctl_encode_event(m.name, m.body);
        break;
    default:
        FUZZ_ASSERT(0, "kind %d", (int)m.kind);
    }
    FUZZ_ASSERT(text, "encoding failed");
    size_t tlen = strlen(text);
    FUZZ_ASSERT(tlen && text[tlen - 1] == '\n' && !memchr(text, '\n', tlen - 1),
                "encoded message is not one line: %s", text);
    err = ctl_decode(text, tlen - 1, &back);
    FUZZ_ASSERT(!err, "re-decoding %s: %s", text, err);
    FUZZ_ASSERT(back.kind == m.kind, "kind %d became %d", (int)m.kind, (int)back.kind);
    if (m.kind != CTL_MSG_EVENT)
        FUZZ_ASSERT(back.id == m.id, "id %lld became %lld", (long long)m.id, (long long)back.id);
    if (m.kind != CTL_MSG_RESPONSE)
        FUZZ_ASSERT(!strcmp(back.name, m.name), "name %s became %s", m.name, back.name);
    else
        FUZZ_ASSERT(back.ok == m.ok && (m.ok || !strcmp(back.error, m.error)),
                    "response changed: %s", text);
    FUZZ_ASSERT(same_body(m.body, back.body, null_is_empty), "body changed: %s", text);
    ctl_msg_clear(&back);
    ctl_msg_clear(&m);
    FUZZ_ASSERT(!m.root, "ctl_msg_clear left the root");
    free(text);
}

/* The strict form: ctl_linebuf_append. */
static void run_append(const uint8_t *s, size_t n, size_t max, uint32_t rng)
{
    struct ctl_linebuf lb;
    ctl_linebuf_init(&lb, max);
    size_t fed = 0, consumed = 0;   /* stream offsets: appended, returned as lines */
    while (fed < n) {
        size_t chunk = next_chunk(&rng, n - fed);
        bool ok = ctl_linebuf_append(&lb, s + fed, chunk);
        fed += chunk;
        bool over = model_over(s + consumed, fed - consumed, max);
        FUZZ_ASSERT(ok == !over, "append said %d, a line over %zu: %d", ok, max, over);
        if (!ok)
            break;   /* the connection would be closed */
        size_t len;
        char *line;
        while ((line = ctl_linebuf_next(&lb, &len))) {
            const uint8_t *nl = memchr(s + consumed, '\n', fed - consumed);
            FUZZ_ASSERT(nl, "a line before its newline arrived");
            size_t want = (size_t)(nl - (s + consumed));
            FUZZ_ASSERT(len == want && !memcmp(line, s + consumed, len) && line[len] == '\0',
                        "line of %zu bytes, expected %zu", len, want);
            consumed += want + 1;
            check_line(line, len);
        }
        FUZZ_ASSERT(!memchr(s + consumed, '\n', fed - consumed), "a complete line was held back");
    }
    ctl_linebuf_free(&lb);
}

/* The forgiving form: ctl_linebuf_feed, used as its comment says (feed,
 * take every line, feed the rest). Every line comes out in order: whole
 * when it fits, else as its first min(MAX, CTL_LINE_HEAD) bytes marked
 * overlong; the buffer never holds more than MAX plus one chunk. */
static void run_feed(const uint8_t *s, size_t n, size_t max, uint32_t rng)
{
    struct ctl_linebuf lb;
    ctl_linebuf_init(&lb, max);
    size_t head = max < CTL_LINE_HEAD ? max : CTL_LINE_HEAD;
    size_t fed = 0, consumed = 0;   /* stream offsets: taken by feed, returned as lines */
    while (fed < n) {
        size_t chunk = next_chunk(&rng, n - fed), off = 0;
        int stalls = 0;
        while (off < chunk) {
            size_t used = (size_t)-1;
            FUZZ_ASSERT(ctl_linebuf_feed(&lb, s + fed + off, chunk - off, &used), "feed failed");
            FUZZ_ASSERT(used <= chunk - off, "used %zu of %zu", used, chunk - off);
            FUZZ_ASSERT(lb.len - lb.start <= max + chunk + 1, "holds %zu bytes, limit %zu",
                        lb.len - lb.start, max);
            stalls = used ? 0 : stalls + 1;
            FUZZ_ASSERT(stalls < 3, "feed takes nothing even after the lines were taken");
            off += used;
            size_t len;
            char *line;
            while ((line = ctl_linebuf_next(&lb, &len))) {
                const uint8_t *nl = memchr(s + consumed, '\n', fed + off - consumed);
                FUZZ_ASSERT(nl, "a line before its newline was taken");
                size_t full = (size_t)(nl - (s + consumed));
                bool cut = full > max;
                FUZZ_ASSERT(ctl_linebuf_overlong(&lb) == cut, "line of %zu (max %zu): overlong %d",
                            full, max, ctl_linebuf_overlong(&lb));
                size_t want = cut ? head : full;
                FUZZ_ASSERT(len == want && !memcmp(line, s + consumed, len) && line[len] == '\0',
                            "line of %zu bytes, expected %zu of %zu", len, want, full);
                int64_t id_head, id_full;
                if (ctl_peek_id(line, len, &id_head))
                    FUZZ_ASSERT(ctl_peek_id((const char *)s + consumed, full, &id_full)
                                && id_full == id_head, "the id of a line's head is not its id");
                consumed += full + 1;
                if (!cut)
                    check_line(line, len);
            }
        }
        fed += chunk;
        FUZZ_ASSERT(!memchr(s + consumed, '\n', fed - consumed), "a complete line was held back");
    }
    ctl_linebuf_free(&lb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t mode = fz_u8(&f);
    size_t max = 1 + (size_t)(mode >> 1) * 8;
    uint32_t rng = fz_u16(&f) * 2654435761u + 1;
    if (mode & 1)
        run_feed(f.p, f.n, max, rng);
    else
        run_append(f.p, f.n, max, rng);
    return 0;
}
