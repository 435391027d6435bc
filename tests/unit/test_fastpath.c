/* Unit tests for tincan/fastpath.c: GSO runs and GRO splits (pure), then
 * two real fast paths on loopback: a socket beside each "ICE" socket takes
 * the peer's datagrams from it, a batch crosses intact and in order, fewer
 * sends than datagrams, STUN is counted and not delivered. Then TURN:
 * ChannelData headers parsed by hand-made cases, and a fast path through a
 * "server" socket that checks each datagram's framing. */
#include "check.h"
#include "../../tincan/fastpath.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_run(void)
{
    uint16_t a[] = { 100, 100, 100, 40, 100 };
    CHECK(fastpath_run(a, 5) == 4);           /* the shorter one closes it */
    CHECK(fastpath_run(a + 3, 2) == 1);       /* a longer one never joins */
    uint16_t b[] = { 7 };
    CHECK(fastpath_run(b, 1) == 1);
    CHECK(fastpath_run(b, 0) == 0);
    uint16_t c[] = { 50, 50, 60 };
    CHECK(fastpath_run(c, 3) == 2);
}

struct got {
    int n;
    size_t len[128];
    uint8_t first[128];
};

static void collect(void *aux, const uint8_t *d, size_t len)
{
    struct got *g = aux;
    if (g->n < 128) {
        g->len[g->n] = len;
        g->first[g->n] = d[0];
    }
    g->n++;
}

static void test_split(void)
{
    uint8_t buf[250];
    for (int i = 0; i < 250; i++)
        buf[i] = (uint8_t)(i / 100);
    struct got g = { 0 };
    CHECK(fastpath_split(buf, 250, 100, collect, &g) == 3);
    CHECK(g.n == 3 && g.len[0] == 100 && g.len[1] == 100 && g.len[2] == 50);
    CHECK(g.first[0] == 0 && g.first[1] == 1 && g.first[2] == 2);
    memset(&g, 0, sizeof g);
    CHECK(fastpath_split(buf, 250, 0, collect, &g) == 1 && g.len[0] == 250);
    memset(&g, 0, sizeof g);
    CHECK(fastpath_split(buf, 0, 100, collect, &g) == 0 && g.n == 0);
}

/* an unconnected UDP socket on 127.0.0.1, as libnice's would be */
static int base_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof *addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof *addr) < 0
        || getsockname(fd, (struct sockaddr *)addr, &n) < 0)
        return -1;
    return fd;
}

struct rx {
    int n, bad;
    uint32_t next;
};

/* each test datagram is 0x17, a 32-bit sequence number, then filler */
static void check_rx(void *aux, const uint8_t *d, size_t len)
{
    struct rx *r = aux;
    uint32_t seq;
    memcpy(&seq, d + 1, 4);
    if (d[0] != 0x17 || seq != r->next || d[len - 1] != (uint8_t)seq)
        r->bad++;
    r->next = seq + 1;
    r->n++;
}

static void test_sockets(void)
{
    struct sockaddr_in aa, ba;
    int a = base_socket(&aa), b = base_socket(&ba);
    CHECK(a >= 0 && b >= 0);
    struct fastpath *fa = calloc(1, sizeof *fa), *fb = calloc(1, sizeof *fb);
    struct fastpath_counters ca = { 0 }, cb = { 0 };
    char *err = NULL;
    CHECK(fastpath_open(fa, a, &ba, &ca, &err));
    CHECK(fastpath_open(fb, b, &aa, &cb, &err));
    CHECK(err == NULL);
    if (!fastpath_active(fa) || !fastpath_active(fb))
        return;
    CHECK(fa->local.sin_port == aa.sin_port);

    /* 40 records of 1200 bytes and a short one, then STUN */
    uint8_t d[1200];
    for (uint32_t i = 0; i < 41; i++) {
        size_t len = i == 40 ? 300 : sizeof d;
        memset(d, (uint8_t)i, sizeof d);
        d[0] = 0x17;
        memcpy(d + 1, &i, 4);
        fastpath_queue(fa, d, len);
    }
    fastpath_flush(fa);
    uint8_t stun[20] = { 0x00, 0x01 };
    fastpath_queue(fa, stun, sizeof stun);
    fastpath_flush(fa);
    CHECK(ca.tx_datagrams == 42 && ca.tx_dropped == 0);
    /* more than one batch holds is refused and counted, nothing sent */
    static uint8_t huge[FASTPATH_BATCH_BYTES + 1];
    fastpath_queue(fa, huge, sizeof huge);
    fastpath_flush(fa);
    CHECK(ca.tx_dropped == 1 && ca.tx_datagrams == 42);
    if (fa->gso)
        CHECK(ca.tx_sends < 10);

    struct rx r = { 0 };
    for (int tries = 0; tries < 50 && r.n + (int)cb.rx_stun < 42; tries++) {
        struct pollfd p = { .fd = fb->fd, .events = POLLIN };
        poll(&p, 1, 100);
        CHECK(fastpath_receive(fb, 8, check_rx, &r) >= 0);
    }
    CHECK(r.n == 41 && r.bad == 0);
    CHECK(cb.rx_stun == 1);
    /* the connected socket took them all: nothing reached the base socket */
    uint8_t sink[2048];
    CHECK(recv(b, sink, sizeof sink, MSG_DONTWAIT) < 0);

    fastpath_close(fa);
    fastpath_close(fb);
    CHECK(!fastpath_active(fa));
    fastpath_close(fa);   /* twice is fine */
    free(fa);
    free(fb);
    close(a);
    close(b);
}

static void test_channel_data(void)
{
    uint16_t ch = 0;
    size_t n = 0;
    uint8_t m[8] = { 0x40, 0x00, 0x00, 0x04, 0x2e, 1, 2, 3 };
    CHECK(fastpath_channel_data(m, 8, &ch, &n) && ch == 0x4000 && n == 4);
    m[0] = 0x4f, m[1] = 0xff;
    CHECK(fastpath_channel_data(m, 8, &ch, &n) && ch == 0x4fff);
    CHECK(fastpath_channel_data(m, 11, &ch, &n) && n == 4);   /* padded to 4 bytes */
    m[0] = 0x3f;                                               /* below the range */
    CHECK(!fastpath_channel_data(m, 8, &ch, &n));
    m[0] = 0x50, m[1] = 0x00;                                  /* above it */
    CHECK(!fastpath_channel_data(m, 8, &ch, &n));
    m[0] = 0x40;
    CHECK(!fastpath_channel_data(m, 7, &ch, &n));              /* cut short */
    CHECK(!fastpath_channel_data(m, 3, &ch, &n));              /* no header */
    m[2] = 0xff;                                               /* length past the end */
    CHECK(!fastpath_channel_data(m, 8, &ch, &n));
    uint8_t stun[4] = { 0x00, 0x01, 0x00, 0x00 };              /* a Binding request */
    CHECK(!fastpath_channel_data(stun, 4, &ch, &n));
    uint8_t rec[4] = { 0x2e, 0, 0, 0 };                        /* a bare record */
    CHECK(!fastpath_channel_data(rec, 4, &ch, &n));
    uint8_t empty[4] = { 0x40, 0x01, 0x00, 0x00 };             /* empty payload: valid */
    CHECK(fastpath_channel_data(empty, 4, &ch, &n) && ch == 0x4001 && n == 0);
}

static void test_turn(void)
{
    struct sockaddr_in ca_addr, sa;
    int base = base_socket(&ca_addr), server = base_socket(&sa);
    CHECK(base >= 0 && server >= 0);
    struct fastpath fp;
    struct fastpath_counters c = { 0 };
    char *err = NULL;
    CHECK(!fastpath_open_turn(&fp, base, &sa, 0x3fff, &c, &err) && err);   /* not a channel */
    free(err);
    err = NULL;
    CHECK(fastpath_open_turn(&fp, base, &sa, 0x4123, &c, &err) && !err);
    CHECK(fastpath_active(&fp) && fp.fd == base && fastpath_turn(&fp));

    /* 20 records of 1000 bytes and a short one: 21 ChannelData messages */
    uint8_t d[1000];
    for (uint32_t i = 0; i < 21; i++) {
        memset(d, (uint8_t)i, sizeof d);
        d[0] = 0x17;
        memcpy(d + 1, &i, 4);
        fastpath_queue(&fp, d, i == 20 ? 77 : sizeof d);
    }
    fastpath_flush(&fp);
    CHECK(c.tx_datagrams == 21 && c.tx_dropped == 0);
    if (fp.gso)
        CHECK(c.tx_sends < 5);

    int got = 0, bad = 0;
    for (int tries = 0; tries < 50 && got < 21; tries++) {
        struct pollfd p = { .fd = server, .events = POLLIN };
        poll(&p, 1, 100);
        uint8_t m[2048];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n;
        while ((n = recvfrom(server, m, sizeof m, MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) > 0) {
            uint16_t ch;
            size_t plen;
            uint32_t seq;
            size_t want = got == 20 ? 77 : sizeof d;
            memcpy(&seq, m + 5, 4);
            /* from the base socket's own address, one record each, framed */
            if (from.sin_port != ca_addr.sin_port || !fastpath_channel_data(m, (size_t)n, &ch, &plen)
                || ch != 0x4123 || plen != want || (size_t)n != plen + FASTPATH_CHANNEL_HDR
                || m[4] != 0x17 || seq != (uint32_t)got || m[n - 1] != (uint8_t)got)
                bad++;
            got++;
            fl = sizeof from;
        }
    }
    CHECK(got == 21 && bad == 0);

    /* a new channel (libnice re-bound the peer): queued records go first,
     * on the old one */
    CHECK(!fastpath_turn_retarget(&fp, &sa, 0x4123));   /* the same: no change */
    CHECK(!fastpath_turn_retarget(&fp, &sa, 0x5000));   /* not a channel */
    uint8_t one[10] = { 0x17 };
    fastpath_queue(&fp, one, sizeof one);
    CHECK(fastpath_turn_retarget(&fp, &sa, 0x4007));
    fastpath_queue(&fp, one, sizeof one);
    fastpath_flush(&fp);
    uint16_t seen[2] = { 0, 0 };
    for (int k = 0, tries = 0; k < 2 && tries < 50; tries++) {
        struct pollfd p = { .fd = server, .events = POLLIN };
        poll(&p, 1, 100);
        uint8_t m[64];
        ssize_t n;
        size_t plen;
        while (k < 2 && (n = recv(server, m, sizeof m, MSG_DONTWAIT)) > 0)
            if (fastpath_channel_data(m, (size_t)n, &seen[k], &plen) && plen == sizeof one)
                k++;
    }
    CHECK(seen[0] == 0x4123 && seen[1] == 0x4007);
    fastpath_close(&fp);
    CHECK(!fastpath_active(&fp));
    /* the socket is libnice's: closing the fast path leaves it open */
    CHECK(sendto(base, "x", 1, 0, (struct sockaddr *)&sa, sizeof sa) == 1);
    close(base);
    close(server);
}

int main(void)
{
    test_run();
    test_split();
    test_sockets();
    test_channel_data();
    test_turn();
    return check_report("test_fastpath");
}
