/* The lean data path of one link (see fastpath.h). */
#include "fastpath.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evio/log.h"

#define FP_MOD "tincan"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* The one send batch: datagrams of OWNER back to back, and their lengths */
static struct {
    struct fastpath *owner;
    size_t used;
    int n;
    uint16_t len[FASTPATH_BATCH_SEGS];
    uint8_t tx[FASTPATH_BATCH_BYTES];
} fp_batch;

static uint8_t fp_rx[FASTPATH_RX_BUF];   /* one receive, split before the next */

/* ---- pure parts ------------------------------------------------------- */

int fastpath_run(const uint16_t *len, int n)
{
    if (n <= 0)
        return 0;
    int k = 1;
    while (k < n && len[k] == len[0])
        k++;
    /* a shorter datagram may close the run */
    if (k < n && len[k] < len[0])
        k++;
    return k;
}

int fastpath_split(const uint8_t *buf, size_t len, size_t seg, fastpath_deliver_fn deliver,
                   void *aux)
{
    if (seg == 0 || seg >= len) {
        if (len)
            deliver(aux, buf, len);
        return len ? 1 : 0;
    }
    int n = 0;
    for (size_t off = 0; off < len; off += seg, n++)
        deliver(aux, buf + off, len - off < seg ? len - off : seg);
    return n;
}

bool fastpath_channel_data(const uint8_t *buf, size_t len, uint16_t *channel, size_t *payload_len)
{
    if (len < FASTPATH_CHANNEL_HDR || buf[0] < 0x40 || buf[0] > 0x4f)
        return false;
    size_t n = (size_t)buf[2] << 8 | buf[3];
    /* over UDP the message may be padded to 4 bytes, never cut short */
    if (n > len - FASTPATH_CHANNEL_HDR)
        return false;
    *channel = (uint16_t)(buf[0] << 8 | buf[1]);
    *payload_len = n;
    return true;
}

/* ---- the socket ------------------------------------------------------- */

static void fp_sockbuf(int fd, int force_opt, int opt, int bytes)
{
    /* FORCE passes rmem_max/wmem_max, which only root may; else ask */
    if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) < 0)
        (void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

static char *fp_err(const char *what)
{
    char *s = NULL;
    if (asprintf(&s, "fast path: %s: %s", what, strerror(errno)) < 0)
        s = NULL;
    return s;
}

bool fastpath_open(struct fastpath *fp, int base_fd, const struct sockaddr_in *remote,
                   struct fastpath_counters *counters, char **err)
{
    *err = NULL;
    fp->fd = -1;
    socklen_t alen = sizeof fp->local;
    if (getsockname(base_fd, (struct sockaddr *)&fp->local, &alen) < 0
        || fp->local.sin_family != AF_INET) {
        *err = fp_err("the selected socket has no IPv4 address");
        return false;
    }
    fp->remote = *remote;
    /* libnice bound its socket alone; a UDP port may be bound twice only if
     * both sockets ask for it when the second binds. SO_REUSEPORT, never
     * SO_REUSEADDR: with the latter on both, any local user could bind the
     * same address and read the link's STUN and TURN traffic, while the
     * kernel lets only a socket of the same effective UID join a
     * SO_REUSEPORT group (tests/integration/tincan_port_owner.sh). The
     * connected socket still gets the peer's datagrams and libnice's
     * everything else: a connected socket outranks the group's choice. */
    int one = 1;
    if (setsockopt(base_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        *err = fp_err("SO_REUSEPORT on the ICE socket");
        return false;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = fp_err("socket");
        return false;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0
        || bind(fd, (struct sockaddr *)&fp->local, sizeof fp->local) < 0) {
        *err = fp_err("bind beside the ICE socket");
        close(fd);
        return false;
    }
    if (connect(fd, (const struct sockaddr *)remote, sizeof *remote) < 0) {
        *err = fp_err("connect");
        close(fd);
        return false;
    }
    fp_sockbuf(fd, SO_RCVBUFFORCE, SO_RCVBUF, FASTPATH_SOCKBUF);
    fp_sockbuf(fd, SO_SNDBUFFORCE, SO_SNDBUF, FASTPATH_SOCKBUF);
    (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    fp->gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
    fp->gso = true;   /* until a send says otherwise */
    fp->fd = fd;
    fp->channel = 0;
    fp->drops_seen = 0;
    fp->c = counters;
    return true;
}

bool fastpath_open_turn(struct fastpath *fp, int base_fd, const struct sockaddr_in *server,
                        uint16_t channel, struct fastpath_counters *counters, char **err)
{
    *err = NULL;
    fp->fd = -1;
    socklen_t alen = sizeof fp->local;
    if (getsockname(base_fd, (struct sockaddr *)&fp->local, &alen) < 0
        || fp->local.sin_family != AF_INET || server->sin_family != AF_INET) {
        *err = fp_err("the relayed pair's socket has no IPv4 address");
        return false;
    }
    if (channel < 0x4000 || channel > 0x4fff) {
        errno = EINVAL;
        *err = fp_err("TURN channel out of range");
        return false;
    }
    /* a GSO batch needs more room than libnice's default send buffer */
    fp_sockbuf(base_fd, SO_SNDBUFFORCE, SO_SNDBUF, FASTPATH_SOCKBUF);
    fp->remote = *server;
    fp->fd = base_fd;
    fp->channel = channel;
    fp->gso = true;
    fp->gro = false;
    fp->drops_seen = 0;
    fp->c = counters;
    return true;
}

bool fastpath_turn_retarget(struct fastpath *fp, const struct sockaddr_in *server,
                            uint16_t channel)
{
    if (!fastpath_turn(fp) || channel < 0x4000 || channel > 0x4fff
        || (fp->channel == channel && fp->remote.sin_addr.s_addr == server->sin_addr.s_addr
            && fp->remote.sin_port == server->sin_port))
        return false;
    fastpath_flush(fp);
    fp->channel = channel;
    fp->remote = *server;
    return true;
}

void fastpath_close(struct fastpath *fp)
{
    if (fp->fd >= 0 && !fastpath_turn(fp))
        close(fp->fd);
    fp->fd = -1;
    if (fp_batch.owner == fp) {   /* unsent: lost with the socket */
        fp_batch.owner = NULL;
        fp_batch.used = 0;
        fp_batch.n = 0;
    }
}

/* ---- sending ---------------------------------------------------------- */

/* One sendmsg of COUNT datagrams starting at DATA, SEG bytes each but the
 * last (COUNT 1: a plain datagram). Returns 0 or the errno. */
static int fp_sendmsg(struct fastpath *fp, const uint8_t *data, size_t bytes, int count,
                      uint16_t seg)
{
    struct iovec iov = { .iov_base = (void *)data, .iov_len = bytes };
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fastpath_turn(fp)) {   /* libnice's socket is not connected */
        msg.msg_name = &fp->remote;
        msg.msg_namelen = sizeof fp->remote;
    }
    if (count > 1) {
        memset(&ctl, 0, sizeof ctl);
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = IPPROTO_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        memcpy(CMSG_DATA(cm), &seg, sizeof seg);
    }
    while (sendmsg(fp->fd, &msg, 0) < 0) {
        if (errno != EINTR)
            return errno;
    }
    fp->c->tx_sends++;
    fp->c->tx_datagrams += (uint64_t)count;
    return 0;
}

void fastpath_flush(struct fastpath *fp)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 3);
    if (fp_batch.owner != fp)
        return;
    const uint8_t *p = fp_batch.tx;
    const uint16_t *len = fp_batch.len;
    for (int i = 0; i < fp_batch.n;) {
        int k = fp->gso ? fastpath_run(len + i, fp_batch.n - i) : 1;
        size_t bytes = 0;
        for (int j = 0; j < k; j++)
            bytes += len[i + j];
        int e = fp_sendmsg(fp, p, bytes, k, len[i]);
        if (e && k > 1 && (e == EINVAL || e == EIO || e == EOPNOTSUPP || e == EMSGSIZE)) {
            /* this path cannot segment (datagrams above its MTU: EINVAL or
             * EMSGSIZE by kernel version, or a device without GSO): the
             * same ones again, one per call, which the kernel fragments */
            log_info(FP_MOD, "fast path: UDP GSO refused (%s); sending one datagram per call",
                     strerror(e));
            fp->gso = false;
            continue;
        }
        if (e) {
            /* ENOBUFS/EAGAIN: the socket's queue is full, a drop as a
             * NIC's; anything else is worth a word */
            fp->c->tx_dropped += (uint64_t)k;
            if (e != ENOBUFS && e != EAGAIN)
                log_warn_rl(&rl, FP_MOD, "fast path: send: %s", strerror(e));
        }
        p += bytes;
        i += k;
    }
    fp_batch.owner = NULL;
    fp_batch.used = 0;
    fp_batch.n = 0;
}

void fastpath_queue(struct fastpath *fp, const uint8_t *data, size_t len)
{
    size_t hdr = fp->channel ? FASTPATH_CHANNEL_HDR : 0;
    if (len + hdr > sizeof fp_batch.tx) {
        fp->c->tx_dropped++;
        return;
    }
    if (fp_batch.owner && (fp_batch.owner != fp || fp_batch.n == FASTPATH_BATCH_SEGS
                           || fp_batch.used + hdr + len > sizeof fp_batch.tx))
        fastpath_flush(fp_batch.owner);
    fp_batch.owner = fp;
    uint8_t *p = fp_batch.tx + fp_batch.used;
    if (hdr) {   /* ChannelData: channel, length; over UDP no padding */
        p[0] = (uint8_t)(fp->channel >> 8);
        p[1] = (uint8_t)fp->channel;
        p[2] = (uint8_t)(len >> 8);
        p[3] = (uint8_t)len;
    }
    memcpy(p + hdr, data, len);
    fp_batch.len[fp_batch.n++] = (uint16_t)(hdr + len);
    fp_batch.used += hdr + len;
}

/* ---- receiving -------------------------------------------------------- */

struct fp_rx_ctx {
    struct fastpath *fp;
    fastpath_deliver_fn deliver;
    void *aux;
    int delivered;
};

static void fp_rx_one(void *aux, const uint8_t *data, size_t len)
{
    struct fp_rx_ctx *x = aux;
    x->fp->c->rx_datagrams++;
    if (data[0] <= 3) {   /* STUN (RFC 7983): libnice's, not ours */
        x->fp->c->rx_stun++;
        return;
    }
    x->delivered++;
    x->deliver(x->aux, data, len);
}

int fastpath_receive(struct fastpath *fp, int max_reads, fastpath_deliver_fn deliver, void *aux)
{
    struct fp_rx_ctx x = { fp, deliver, aux, 0 };
    union {
        char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint32_t))];
        struct cmsghdr align;
    } ctl;
    for (int r = 0; r < max_reads; r++) {
        struct iovec iov = { .iov_base = fp_rx, .iov_len = sizeof fp_rx };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
        ssize_t n = recvmsg(fp->fd, &msg, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            if (errno == ECONNREFUSED)   /* an ICMP error from the peer's side */
                continue;
            return -1;
        }
        fp->c->rx_reads++;
        size_t seg = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO) {
                int s;
                memcpy(&s, CMSG_DATA(cm), sizeof s);
                seg = s > 0 ? (size_t)s : 0;
            } else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL) {
                uint32_t d;
                memcpy(&d, CMSG_DATA(cm), sizeof d);
                /* the socket's running total of datagrams it had to drop */
                fp->c->rx_kernel_drops += (uint32_t)(d - fp->drops_seen);
                fp->drops_seen = d;
            }
        }
        if (n > 0)
            fastpath_split(fp_rx, (size_t)n, seg, fp_rx_one, &x);
    }
    return x.delivered;
}
