/* framecheck: an Ethernet-level checker for evio-tincan's datapath, used by
 * tests/integration/tincan_fastpath.sh. One process opens AF_PACKET sockets
 * in several network namespaces (setns, create, setns back: a socket stays
 * in the namespace it was made in) and sends, receives, replays or tampers
 * frames there. Run "framecheck --help" for the subcommands.
 *
 * Our frames carry EtherType 0x88B5 (local experimental) and this payload:
 *   magic "EVFC" | marker u32 | seq u32 | frame length u16 | pattern(seq, len)
 * all big-endian; the pattern fills the frame to its length, so any change
 * to any byte, truncation or padding shows up as "corrupt".
 * Exit status: 0 ok, 1 check failed or runtime error, 2 bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FC_ETHERTYPE  0x88B5
#define FC_MAGIC      0x45564643u      /* "EVFC" */
#define FC_HDR_LEN    (14 + 14)        /* Ethernet + magic, marker, seq, len */
#define FC_MIN_LEN    60
#define FC_MAX_LEN    65535
#define FC_BUF        65536

static const char fc_usage[] =
    "usage: framecheck COMMAND OPTIONS   (NS:IF names interface IF in the network\n"
    "       namespace /var/run/netns/NS; an empty NS or \"-\" means the current one)\n"
    "\n"
    "  seq --tx NS:IF --rx NS:IF [--min 60] [--max 1514] [--rounds 1] [--window 32]\n"
    "      [--timeout-ms 1000] [--retries 10] [--deadline-ms 60000]\n"
    "      Send frames of every length min..max (whole frame without FCS) for\n"
    "      each round, at most WINDOW in flight; check on rx that each is intact\n"
    "      and that sequence numbers only grow. A frame not seen within TIMEOUT\n"
    "      is lost and its length re-sent (at most RETRIES times). Prints\n"
    "      {\"sent\",\"received\",\"lost\",\"late\",\"corrupt\",\"reordered\",\"duplicate\",\n"
    "      \"lengths_missing\",\"seconds\"}; exits 0 iff corrupt, reordered,\n"
    "      duplicate and lengths_missing are all 0.\n"
    "  send --tx NS:IF --len L [--count 1] [--marker X]\n"
    "      Send COUNT frames of length L carrying MARKER.\n"
    "  count --rx NS:IF --marker X --ms T [--ready FILE]\n"
    "      Count intact frames with MARKER seen on rx for T ms; print the count.\n"
    "  replay --ns NS --if IF --src-port P --dst-port Q --min-len L\n"
    "      --mode replay|tamper [--ttl N] [--timeout-ms 10000] [--ready FILE]\n"
    "      Capture the next outgoing IPv4/UDP packet P -> Q with at least L bytes\n"
    "      of UDP payload and send the same frame again (replay) or with one\n"
    "      payload byte near the end flipped (tamper); the UDP checksum is\n"
    "      recomputed. --ttl sets the copy's IPv4 TTL, so a firewall can tell it\n"
    "      from the original. Prints what it captured and sent as JSON.\n"
    "\n"
    "  --ready FILE is created once the receiving socket is open.\n";

/* ---- small helpers --------------------------------------------------- */

static void fc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fc_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("framecheck: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void fc_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fc_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("framecheck: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see framecheck --help)\n", stderr);
    va_end(ap);
    exit(2);
}

static int64_t fc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fc_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t fc_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void fc_touch(const char *path)
{
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fc_die("--ready: cannot create %s: %s", path, strerror(errno));
    close(fd);
}

/* ---- options --------------------------------------------------------- */

struct fc_opts {
    const char *tx, *rx, *ns, *ifname, *mode, *ready;
    const char *min, *max, *rounds, *window, *timeout_ms, *retries, *deadline_ms;
    const char *len, *count, *marker, *ms, *src_port, *dst_port, *min_len, *ttl;
};

struct fc_optdef {
    const char *name;
    size_t off;
};

#define FC_OPT(name, field) { name, offsetof(struct fc_opts, field) }
static const struct fc_optdef fc_optdefs[] = {
    FC_OPT("--tx", tx), FC_OPT("--rx", rx), FC_OPT("--ns", ns), FC_OPT("--if", ifname),
    FC_OPT("--mode", mode), FC_OPT("--ready", ready), FC_OPT("--min", min),
    FC_OPT("--max", max), FC_OPT("--rounds", rounds), FC_OPT("--window", window),
    FC_OPT("--timeout-ms", timeout_ms), FC_OPT("--retries", retries),
    FC_OPT("--deadline-ms", deadline_ms), FC_OPT("--len", len), FC_OPT("--count", count),
    FC_OPT("--marker", marker), FC_OPT("--ms", ms), FC_OPT("--src-port", src_port),
    FC_OPT("--dst-port", dst_port), FC_OPT("--min-len", min_len), FC_OPT("--ttl", ttl),
};

/* Fills O from "--name value" pairs; ALLOWED lists the names CMD accepts,
 * space-separated. */
static void fc_parse_opts(const char *cmd, const char *allowed, int argc, char **argv,
                          struct fc_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *name = argv[i];
        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            fputs(fc_usage, stdout);
            exit(0);
        }
        const struct fc_optdef *d = NULL;
        for (size_t k = 0; k < sizeof fc_optdefs / sizeof fc_optdefs[0]; k++)
            if (!strcmp(fc_optdefs[k].name, name))
                d = &fc_optdefs[k];
        size_t n = strlen(name);
        const char *hit = d ? strstr(allowed, name) : NULL;
        if (!hit || (hit[n] != ' ' && hit[n] != '\0'))
            fc_usage_error("%s: unknown option %s", cmd, name);
        if (i + 1 >= argc)
            fc_usage_error("%s: expected a value", name);
        *(const char **)((char *)o + d->off) = argv[++i];
    }
}

/* The number in S (decimal or 0x-hex) within LO..HI, or DEF when S is NULL. */
static unsigned long fc_num(const char *opt, const char *s, unsigned long lo, unsigned long hi,
                            unsigned long def)
{
    if (!s)
        return def;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi)
        fc_usage_error("%s: expected %lu..%lu, got \"%s\"", opt, lo, hi, s);
    return v;
}

static void fc_need(const char *opt, const char *s)
{
    if (!s)
        fc_usage_error("%s is required", opt);
}

/* ---- endpoints: a packet socket on IF in namespace NS ----------------- */

struct fc_end {
    char ns[256];
    char ifname[IFNAMSIZ];
    int fd;
    int ifindex;
    uint8_t mac[6];
};

/* Splits "NS:IF" (the last colon separates) into E. */
static void fc_end_parse(const char *opt, const char *spec, struct fc_end *e)
{
    memset(e, 0, sizeof *e);
    e->fd = -1;
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1] || strlen(colon + 1) >= IFNAMSIZ
        || (size_t)(colon - spec) >= sizeof e->ns)
        fc_usage_error("%s: expected NS:IF, got \"%s\"", opt, spec);
    memcpy(e->ns, spec, (size_t)(colon - spec));
    snprintf(e->ifname, sizeof e->ifname, "%s", colon + 1);
}

static void fc_setns(const char *ns)
{
    char path[300];
    if (ns[0] == '/')
        snprintf(path, sizeof path, "%s", ns);
    else
        snprintf(path, sizeof path, "/var/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fc_die("namespace %s: %s", path, strerror(errno));
    if (setns(fd, CLONE_NEWNET) < 0)
        fc_die("setns %s: %s", path, strerror(errno));
    close(fd);
}

static void fc_if_lookup(struct fc_end *e)
{
    e->ifindex = (int)if_nametoindex(e->ifname);
    if (!e->ifindex)
        fc_die("no interface %s in namespace %s", e->ifname, *e->ns ? e->ns : "(current)");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", e->ifname);
    if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
        fc_die("%s: cannot read the MAC address: %s", e->ifname, strerror(errno));
    memcpy(e->mac, ifr.ifr_hwaddr.sa_data, 6);
    close(s);
}

/* Opens E's socket for PROTO (host order; 0 = send only) inside E's
 * namespace, then returns to the namespace we started in. */
static void fc_end_open(struct fc_end *e, uint16_t proto)
{
    bool move = e->ns[0] && strcmp(e->ns, "-");
    int home = move ? open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC) : -1;
    if (move && home < 0)
        fc_die("/proc/self/ns/net: %s", strerror(errno));
    if (move)
        fc_setns(e->ns);
    fc_if_lookup(e);
    e->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(proto));
    if (e->fd < 0)
        fc_die("AF_PACKET socket: %s", strerror(errno));
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = e->ifindex,
    };
    if (bind(e->fd, (struct sockaddr *)&sll, sizeof sll) < 0)
        fc_die("bind to %s: %s", e->ifname, strerror(errno));
    int big = 8 << 20;
    /* as root the FORCE variant lifts rmem_max; plain one as a fallback */
    if (setsockopt(e->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(e->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (move && setns(home, CLONE_NEWNET) < 0)
        fc_die("setns back: %s", strerror(errno));
    if (home >= 0)
        close(home);
}

/* Sends one L2 frame on E; returns 0 or an errno (EAGAIN/ENOBUFS: retry). */
static int fc_end_send(const struct fc_end *e, const uint8_t *frame, size_t len)
{
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_protocol = htons((uint16_t)(frame[12] << 8 | frame[13])),
        .sll_ifindex = e->ifindex, .sll_halen = 6,
    };
    memcpy(sll.sll_addr, frame, 6);
    ssize_t n = sendto(e->fd, frame, len, 0, (struct sockaddr *)&sll, sizeof sll);
    if (n == (ssize_t)len)
        return 0;
    return n < 0 ? errno : EIO;
}

/* Receives one frame that E's host did not send itself; returns its length,
 * 0 when nothing is queued, or exits on error. */
static size_t fc_end_recv(const struct fc_end *e, uint8_t *buf, size_t size, bool want_outgoing)
{
    for (;;) {
        struct sockaddr_ll from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(e->fd, buf, size, MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            fc_die("receive on %s: %s", e->ifname, strerror(errno));
        }
        if ((from.sll_pkttype == PACKET_OUTGOING) != want_outgoing)
            continue;
        if ((size_t)n > size)
            fc_die("a %zd-byte frame on %s does not fit the buffer", n, e->ifname);
        return (size_t)n;
    }
}

static void fc_wait_readable(const struct fc_end *e, int ms)
{
    struct pollfd p = { .fd = e->fd, .events = POLLIN };
    if (poll(&p, 1, ms) < 0 && errno != EINTR)
        fc_die("poll: %s", strerror(errno));
}

/* ---- our frames ------------------------------------------------------ */

static uint32_t fc_pattern_seed(uint32_t seq, size_t len)
{
    uint32_t x = seq * 0x9E3779B1u ^ (uint32_t)len * 0x85EBCA77u ^ 0x5bd1e995u;
    return x ? x : 1;
}

/* xorshift32 bytes from the seed: cheap, and differs for every seq */
static void fc_pattern(uint8_t *p, size_t n, uint32_t seq, size_t len)
{
    uint32_t x = fc_pattern_seed(seq, len);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        p[i] = (uint8_t)(x >> 24);
    }
}

static void fc_frame_build(uint8_t *f, size_t len, const uint8_t dst[6], const uint8_t src[6],
                           uint32_t marker, uint32_t seq)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = FC_ETHERTYPE >> 8;
    f[13] = FC_ETHERTYPE & 0xff;
    fc_put32(f + 14, FC_MAGIC);
    fc_put32(f + 18, marker);
    fc_put32(f + 22, seq);
    f[26] = (uint8_t)(len >> 8);
    f[27] = (uint8_t)len;
    fc_pattern(f + FC_HDR_LEN, len - FC_HDR_LEN, seq, len);
}

enum fc_verdict { FC_NOT_OURS, FC_FOREIGN, FC_CORRUPT, FC_OK };

/* Classifies a received frame: ours with MARKER and intact (FC_OK, *SEQ
 * set), ours but from another run (FC_FOREIGN), damaged, or not ours. */
static enum fc_verdict fc_frame_check(const uint8_t *f, size_t len, uint32_t marker,
                                      uint32_t *seq)
{
    static uint8_t want[FC_BUF];
    if (len < 14 || (f[12] << 8 | f[13]) != FC_ETHERTYPE)
        return FC_NOT_OURS;
    if (len < FC_HDR_LEN || fc_get32(f + 14) != FC_MAGIC)
        return FC_CORRUPT;
    if (fc_get32(f + 18) != marker)
        return FC_FOREIGN;
    *seq = fc_get32(f + 22);
    if ((size_t)(f[26] << 8 | f[27]) != len)
        return FC_CORRUPT;
    fc_pattern(want, len - FC_HDR_LEN, *seq, len);
    return memcmp(want, f + FC_HDR_LEN, len - FC_HDR_LEN) ? FC_CORRUPT : FC_OK;
}

static uint32_t fc_random_marker(void)
{
    uint32_t m = 0;
    if (getrandom(&m, sizeof m, 0) != sizeof m)
        m = (uint32_t)fc_now_ns();
    return m;
}

/* ---- seq ------------------------------------------------------------- */

enum fc_slot_state { FC_INFLIGHT, FC_GOT, FC_LOST, FC_LATE };

struct fc_slot {          /* one sequence number sent */
    int64_t sent_ns;
    uint32_t job;
    uint8_t state;
};

struct fc_job {           /* one length of one round, until it arrives */
    uint16_t len;
    uint8_t tries;
    bool done;
};

struct fc_seq {
    struct fc_end tx, rx;
    uint32_t marker;
    unsigned window, retries;
    int64_t timeout_ns, deadline_ns;

    struct fc_job *jobs;
    size_t n_jobs;
    uint32_t *queue;      /* job indices still to send, FIFO */
    size_t q_head, q_tail, q_cap;
    struct fc_slot *slots;   /* indexed by seq */
    size_t n_slots, s_cap, s_head;   /* s_head: oldest slot maybe in flight */
    unsigned inflight;
    int64_t max_seen;

    uint64_t sent, received, lost, late, corrupt, reordered, duplicate, foreign;
    uint8_t buf[FC_BUF];
};

static void *fc_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 1024;
    while (n < need)
        n *= 2;
    p = realloc(p, n * elem);
    if (!p)
        fc_die("out of memory");
    *cap = n;
    return p;
}

static void fc_seq_enqueue(struct fc_seq *s, uint32_t job)
{
    s->queue = fc_grow(s->queue, &s->q_cap, s->q_tail + 1, sizeof *s->queue);
    s->queue[s->q_tail++] = job;
}

static void fc_seq_jobs(struct fc_seq *s, unsigned min, unsigned max, unsigned rounds)
{
    s->n_jobs = (size_t)(max - min + 1) * rounds;
    s->jobs = calloc(s->n_jobs, sizeof *s->jobs);
    if (!s->jobs)
        fc_die("out of memory");
    size_t j = 0;
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned len = min; len <= max; len++) {
            s->jobs[j].len = (uint16_t)len;
            fc_seq_enqueue(s, (uint32_t)j++);
        }
}

/* Sends queued jobs while the window has room; false if the kernel pushed
 * back (try again shortly). */
static bool fc_seq_send(struct fc_seq *s, int64_t now)
{
    while (s->inflight < s->window && s->q_head < s->q_tail) {
        uint32_t job = s->queue[s->q_head];
        if (s->jobs[job].done) {   /* a late copy of an earlier try arrived */
            s->q_head++;
            continue;
        }
        size_t len = s->jobs[job].len;
        uint32_t seq = (uint32_t)s->n_slots;
        fc_frame_build(s->buf, len, s->rx.mac, s->tx.mac, s->marker, seq);
        int e = fc_end_send(&s->tx, s->buf, len);
        if (e == EAGAIN || e == ENOBUFS)
            return false;
        if (e)
            fc_die("send of %zu bytes on %s: %s", len, s->tx.ifname, strerror(e));
        s->slots = fc_grow(s->slots, &s->s_cap, s->n_slots + 1, sizeof *s->slots);
        s->slots[s->n_slots++] = (struct fc_slot){ .sent_ns = now, .job = job,
                                                   .state = FC_INFLIGHT };
        s->jobs[job].tries++;
        s->q_head++;
        s->inflight++;
        s->sent++;
    }
    return true;
}

/* Marks frames in flight for longer than the timeout lost and queues their
 * length again (up to --retries times). */
static void fc_seq_expire(struct fc_seq *s, int64_t now, bool all)
{
    for (; s->s_head < s->n_slots; s->s_head++) {
        struct fc_slot *sl = &s->slots[s->s_head];
        if (sl->state != FC_INFLIGHT)
            continue;
        if (!all && now - sl->sent_ns < s->timeout_ns)
            break;
        sl->state = FC_LOST;
        s->lost++;
        s->inflight--;
        struct fc_job *j = &s->jobs[sl->job];
        if (!j->done && j->tries <= s->retries)
            fc_seq_enqueue(s, sl->job);
    }
}

static void fc_seq_receive(struct fc_seq *s, const uint8_t *f, size_t len)
{
    uint32_t seq = 0;
    switch (fc_frame_check(f, len, s->marker, &seq)) {
    case FC_NOT_OURS:
        return;
    case FC_FOREIGN:
        s->foreign++;
        return;
    case FC_CORRUPT:
        s->corrupt++;
        return;
    case FC_OK:
        break;
    }
    if (seq >= s->n_slots || s->jobs[s->slots[seq].job].len != len) {
        s->corrupt++;   /* a sequence number we never sent with that length */
        return;
    }
    struct fc_slot *sl = &s->slots[seq];
    if (sl->state == FC_GOT || sl->state == FC_LATE) {
        s->duplicate++;
        return;
    }
    if ((int64_t)seq < s->max_seen)
        s->reordered++;
    else
        s->max_seen = seq;
    if (sl->state == FC_INFLIGHT)
        s->inflight--;
    else
        s->late++;   /* counted lost at its timeout, then arrived after all */
    sl->state = sl->state == FC_INFLIGHT ? FC_GOT : FC_LATE;
    s->jobs[sl->job].done = true;
    s->received++;
}

static void fc_seq_drain(struct fc_seq *s)
{
    size_t n;
    while ((n = fc_end_recv(&s->rx, s->buf, sizeof s->buf, false)) > 0)
        fc_seq_receive(s, s->buf, n);
}

/* How long to wait for the receiver before the next thing to do. */
static int fc_seq_poll_ms(const struct fc_seq *s, int64_t now, bool pushed_back)
{
    if (pushed_back)
        return 1;
    if (s->inflight < s->window && s->q_head < s->q_tail)
        return 0;
    int64_t next = s->deadline_ns;
    for (size_t i = s->s_head; i < s->n_slots; i++)
        if (s->slots[i].state == FC_INFLIGHT) {
            next = s->slots[i].sent_ns + s->timeout_ns;
            break;
        }
    int64_t ms = (next - now) / 1000000 + 1;
    return ms < 1 ? 1 : ms > 100 ? 100 : (int)ms;
}

static void fc_seq_run(struct fc_seq *s)
{
    int64_t start = fc_now_ns();
    int64_t end = start + s->deadline_ns;
    for (;;) {
        int64_t now = fc_now_ns();
        if (now >= end)
            break;
        fc_seq_expire(s, now, false);
        bool ok = fc_seq_send(s, now);
        if (s->inflight == 0 && s->q_head == s->q_tail)
            break;
        int ms = fc_seq_poll_ms(s, now, !ok);
        if (ms > 0)
            fc_wait_readable(&s->rx, ms);
        fc_seq_drain(s);
    }
    fc_seq_expire(s, fc_now_ns(), true);   /* past the deadline: all in flight are lost */
    size_t missing = 0;
    for (size_t j = 0; j < s->n_jobs; j++)
        missing += !s->jobs[j].done;
    double secs = (double)(fc_now_ns() - start) / 1e9;
    /* "lost" counts frames that never arrived; late ones did, after their timeout */
    printf("{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"late\":%" PRIu64 ",\"corrupt\":%" PRIu64 ",\"reordered\":%" PRIu64
           ",\"duplicate\":%" PRIu64 ",\"lengths_missing\":%zu,\"foreign\":%" PRIu64
           ",\"seconds\":%.3f}\n",
           s->sent, s->received, s->lost - s->late, s->late, s->corrupt, s->reordered,
           s->duplicate, missing, s->foreign, secs);
    fflush(stdout);
    exit(s->corrupt || s->reordered || s->duplicate || missing ? 1 : 0);
}

static void fc_cmd_seq(int argc, char **argv)
{
    struct fc_opts o;
    fc_parse_opts("seq", "--tx --rx --min --max --rounds --window --timeout-ms --retries "
                  "--deadline-ms --marker", argc, argv, &o);
    fc_need("--tx", o.tx);
    fc_need("--rx", o.rx);
    static struct fc_seq s;
    unsigned min = (unsigned)fc_num("--min", o.min, FC_MIN_LEN, FC_MAX_LEN, FC_MIN_LEN);
    unsigned max = (unsigned)fc_num("--max", o.max, FC_MIN_LEN, FC_MAX_LEN, 1514);
    if (min > max)
        fc_usage_error("--min %u is above --max %u", min, max);
    unsigned rounds = (unsigned)fc_num("--rounds", o.rounds, 1, 1000, 1);
    s.window = (unsigned)fc_num("--window", o.window, 1, 100000, 32);
    s.timeout_ns = (int64_t)fc_num("--timeout-ms", o.timeout_ms, 1, 600000, 1000) * 1000000;
    s.retries = (unsigned)fc_num("--retries", o.retries, 0, 200, 10);
    s.deadline_ns = (int64_t)fc_num("--deadline-ms", o.deadline_ms, 1, 3600000, 60000) * 1000000;
    s.marker = o.marker ? (uint32_t)fc_num("--marker", o.marker, 0, UINT32_MAX, 0)
                        : fc_random_marker();
    s.max_seen = -1;
    fc_end_parse("--tx", o.tx, &s.tx);
    fc_end_parse("--rx", o.rx, &s.rx);
    fc_end_open(&s.rx, FC_ETHERTYPE);
    fc_end_open(&s.tx, 0);
    fc_seq_jobs(&s, min, max, rounds);
    fc_seq_run(&s);
}

/* ---- send, count ----------------------------------------------------- */

static void fc_cmd_send(int argc, char **argv)
{
    struct fc_opts o;
    fc_parse_opts("send", "--tx --len --count --marker", argc, argv, &o);
    fc_need("--tx", o.tx);
    fc_need("--len", o.len);
    size_t len = fc_num("--len", o.len, FC_MIN_LEN, FC_MAX_LEN, 0);
    unsigned long count = fc_num("--count", o.count, 1, 1000000, 1);
    uint32_t marker = (uint32_t)fc_num("--marker", o.marker, 0, UINT32_MAX, 0);
    struct fc_end tx;
    fc_end_parse("--tx", o.tx, &tx);
    fc_end_open(&tx, 0);
    static uint8_t f[FC_BUF];
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    for (unsigned long i = 0; i < count; i++) {
        fc_frame_build(f, len, bcast, tx.mac, marker, (uint32_t)i);
        int e;
        while ((e = fc_end_send(&tx, f, len)) == EAGAIN || e == ENOBUFS)
            poll(NULL, 0, 1);
        if (e == EMSGSIZE)
            fc_die("send of %zu bytes on %s: %s (is the MTU high enough?)", len, tx.ifname,
                   strerror(e));
        if (e)
            fc_die("send of %zu bytes on %s: %s", len, tx.ifname, strerror(e));
    }
    printf("{\"sent\":%lu,\"len\":%zu,\"marker\":%" PRIu32 "}\n", count, len, marker);
}

static void fc_cmd_count(int argc, char **argv)
{
    struct fc_opts o;
    fc_parse_opts("count", "--rx --marker --ms --ready", argc, argv, &o);
    fc_need("--rx", o.rx);
    fc_need("--marker", o.marker);
    fc_need("--ms", o.ms);
    uint32_t marker = (uint32_t)fc_num("--marker", o.marker, 0, UINT32_MAX, 0);
    int64_t end = fc_now_ns() + (int64_t)fc_num("--ms", o.ms, 1, 3600000, 0) * 1000000;
    struct fc_end rx;
    fc_end_parse("--rx", o.rx, &rx);
    fc_end_open(&rx, FC_ETHERTYPE);
    fc_touch(o.ready);
    static uint8_t f[FC_BUF];
    unsigned long count = 0, corrupt = 0;
    int64_t now;
    while ((now = fc_now_ns()) < end) {
        fc_wait_readable(&rx, (int)((end - now) / 1000000) + 1);
        size_t n;
        uint32_t seq;
        while ((n = fc_end_recv(&rx, f, sizeof f, false)) > 0) {
            enum fc_verdict v = fc_frame_check(f, n, marker, &seq);
            count += v == FC_OK;
            corrupt += v == FC_CORRUPT;
        }
    }
    if (corrupt)
        fprintf(stderr, "framecheck: %lu corrupt frames of ours on %s\n", corrupt, rx.ifname);
    printf("%lu\n", count);
}

/* ---- replay ---------------------------------------------------------- */

struct fc_udp {           /* offsets into a captured IPv4/UDP frame */
    size_t ip, udp, payload, payload_len;
};

/* Finds IPv4/UDP SPORT -> DPORT with at least MIN_LEN payload bytes in F. */
static bool fc_udp_match(const uint8_t *f, size_t len, unsigned sport, unsigned dport,
                         size_t min_len, struct fc_udp *u)
{
    if (len < 14 + 20 + 8 || (f[12] << 8 | f[13]) != 0x0800)
        return false;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    size_t tot = (size_t)(ip[2] << 8 | ip[3]);
    if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 17 || tot > len - 14 || tot < ihl + 8)
        return false;
    if ((ip[6] & 0x3f) || ip[7])   /* MF set or a fragment offset */
        return false;
    const uint8_t *udp = ip + ihl;
    size_t ulen = (size_t)(udp[4] << 8 | udp[5]);
    if ((unsigned)(udp[0] << 8 | udp[1]) != sport || (unsigned)(udp[2] << 8 | udp[3]) != dport
        || ulen < 8 || ulen > tot - ihl || ulen - 8 < min_len)
        return false;
    *u = (struct fc_udp){ .ip = 14, .udp = 14 + ihl, .payload = 14 + ihl + 8,
                          .payload_len = ulen - 8 };
    return true;
}

static uint32_t fc_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

/* Sets the IPv4 TTL and the header checksum that covers it. */
static void fc_ip_set_ttl(uint8_t *f, const struct fc_udp *u, uint8_t ttl)
{
    uint8_t *ip = f + u->ip;
    size_t ihl = u->udp - u->ip;
    ip[8] = ttl;
    ip[10] = ip[11] = 0;
    uint32_t sum = fc_csum_add(0, ip, ihl);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = (uint8_t)(~sum >> 8);
    ip[11] = (uint8_t)~sum;
}

/* Sets the UDP checksum over the pseudo-header; a captured outgoing frame
 * may carry only the partial sum the NIC would have completed. */
static void fc_udp_checksum(uint8_t *f, const struct fc_udp *u)
{
    uint8_t *udp = f + u->udp;
    size_t ulen = u->payload_len + 8;
    uint8_t pseudo[12];
    memcpy(pseudo, f + u->ip + 12, 8);   /* source and destination address */
    pseudo[8] = 0;
    pseudo[9] = 17;
    pseudo[10] = (uint8_t)(ulen >> 8);
    pseudo[11] = (uint8_t)ulen;
    udp[6] = udp[7] = 0;
    uint32_t sum = fc_csum_add(fc_csum_add(0, pseudo, sizeof pseudo), udp, ulen);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = (uint16_t)~sum;
    if (!c)
        c = 0xffff;   /* 0 would mean "no checksum" */
    udp[6] = (uint8_t)(c >> 8);
    udp[7] = (uint8_t)c;
}

static size_t fc_replay_capture(const struct fc_end *e, uint8_t *f, size_t size,
                                unsigned sport, unsigned dport, size_t min_len,
                                int64_t end, struct fc_udp *u)
{
    int64_t now;
    while ((now = fc_now_ns()) < end) {
        fc_wait_readable(e, (int)((end - now) / 1000000) + 1);
        size_t n;
        while ((n = fc_end_recv(e, f, size, true)) > 0)
            if (fc_udp_match(f, n, sport, dport, min_len, u))
                return n;
    }
    return 0;
}

static void fc_cmd_replay(int argc, char **argv)
{
    struct fc_opts o;
    fc_parse_opts("replay", "--ns --if --src-port --dst-port --min-len --mode --timeout-ms "
                  "--ready --ttl", argc, argv, &o);
    fc_need("--ns", o.ns);
    fc_need("--if", o.ifname);
    fc_need("--src-port", o.src_port);
    fc_need("--dst-port", o.dst_port);
    fc_need("--min-len", o.min_len);
    fc_need("--mode", o.mode);
    bool tamper = !strcmp(o.mode, "tamper");
    if (!tamper && strcmp(o.mode, "replay"))
        fc_usage_error("--mode: expected replay or tamper, got \"%s\"", o.mode);
    unsigned sport = (unsigned)fc_num("--src-port", o.src_port, 1, 65535, 0);
    unsigned dport = (unsigned)fc_num("--dst-port", o.dst_port, 1, 65535, 0);
    size_t min_len = fc_num("--min-len", o.min_len, 1, 65507, 0);
    int64_t timeout = (int64_t)fc_num("--timeout-ms", o.timeout_ms, 1, 600000, 10000);
    long ttl = o.ttl ? (long)fc_num("--ttl", o.ttl, 1, 255, 0) : -1;
    struct fc_end e;
    memset(&e, 0, sizeof e);
    if (strlen(o.ns) >= sizeof e.ns || strlen(o.ifname) >= IFNAMSIZ)
        fc_usage_error("--ns/--if: name too long");
    snprintf(e.ns, sizeof e.ns, "%s", o.ns);
    snprintf(e.ifname, sizeof e.ifname, "%s", o.ifname);
    fc_end_open(&e, ETH_P_ALL);
    fc_touch(o.ready);

    static uint8_t f[FC_BUF];
    struct fc_udp u;
    size_t n = fc_replay_capture(&e, f, sizeof f, sport, dport, min_len,
                                 fc_now_ns() + timeout * 1000000, &u);
    if (!n) {
        printf("{\"mode\":\"%s\",\"captured\":0}\n", o.mode);
        fc_die("no UDP %u -> %u with %zu+ payload bytes left %s within %" PRId64 " ms",
               sport, dport, min_len, e.ifname, timeout);
    }
    long flipped = -1;
    if (tamper) {
        flipped = (long)(u.payload_len >= 4 ? u.payload_len - 4 : 0);
        f[u.payload + (size_t)flipped] ^= 0x5a;
    }
    if (ttl > 0)
        fc_ip_set_ttl(f, &u, (uint8_t)ttl);
    fc_udp_checksum(f, &u);
    int err = fc_end_send(&e, f, n);
    if (err)
        fc_die("re-sending %zu bytes on %s: %s", n, e.ifname, strerror(err));
    printf("{\"mode\":\"%s\",\"captured\":%zu,\"udp_payload\":%zu,\"sent\":%zu,"
           "\"flipped_offset\":%ld,\"ttl\":%u}\n", o.mode, n, u.payload_len, n, flipped,
           f[u.ip + 8]);
}

/* ---- main ------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc < 2)
        fc_usage_error("expected a command: seq, send, count or replay");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(fc_usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "seq"))
        fc_cmd_seq(argc - 2, argv + 2);
    else if (!strcmp(cmd, "send"))
        fc_cmd_send(argc - 2, argv + 2);
    else if (!strcmp(cmd, "count"))
        fc_cmd_count(argc - 2, argv + 2);
    else if (!strcmp(cmd, "replay"))
        fc_cmd_replay(argc - 2, argv + 2);
    else
        fc_usage_error("unknown command \"%s\"", cmd);
    return 0;
}
