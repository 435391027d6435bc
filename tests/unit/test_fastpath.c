/* Unit tests for tincan/fastpath.c: GSO runs and GRO splits (pure), then
 * two real fast paths on loopback: a socket beside each "ICE" socket takes
 * the peer's datagrams from it, a batch crosses intact and in order, fewer
 * sends than datagrams, STUN is counted and not delivered. */
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

int main(void)
{
    test_run();
    test_split();
    test_sockets();
    return check_report("test_fastpath");
}
