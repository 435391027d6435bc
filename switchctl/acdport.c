/* Address conflict detection on a bridge's internal port: see acdport.h.
 * The adapter owns an AF_PACKET socket (ETH_P_ARP) on the interface, the
 * state file and the clock; the decisions are lib/acd.c's. */
#include <config.h>
#include "acdport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "openvswitch/util.h"
#include "openvswitch/poll-loop.h"

#include "evio/acd.h"
#include "evio/log.h"
#include "evio/nodeid.h"

#define MOD "acd"
#define ACDPORT_RETRY_MS 1000       /* socket not open yet: try again */
#define ARP_FRAME_LEN    42         /* Ethernet 14 + ARP for IPv4 28 */

struct acdport {
    char *overlay;
    char *ifname;
    char *state_path;
    uint32_t pool;
    int prefix_len;
    int fd;
    unsigned ifindex;
    uint8_t mac[6];
    bool started;                   /* the engine runs */
    struct acd acd;
    uint32_t bound;                 /* the address configured, 0: none */
    long long retry_ms;
    int last_err;
};

static uint32_t acdport_parse_ip(const char *s)
{
    struct in_addr a;
    return s && inet_pton(AF_INET, s, &a) == 1 ? ntohl(a.s_addr) : 0;
}

static void acdport_ipstr(uint32_t ip, char out[INET_ADDRSTRLEN])
{
    struct in_addr a = { .s_addr = htonl(ip) };
    inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

struct acdport *acdport_create(const char *overlay, const char *ifname, uint32_t pool,
                               int prefix_len, const char *state_dir)
{
    struct acdport *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->fd = -1;
    p->pool = pool;
    p->prefix_len = prefix_len;
    p->overlay = strdup(overlay);
    p->ifname = strdup(ifname);
    if (!p->overlay || !p->ifname
        || asprintf(&p->state_path, "%s/address.%s", state_dir, overlay) < 0) {
        p->state_path = NULL;
        acdport_destroy(p);
        return NULL;
    }
    return p;
}

void acdport_destroy(struct acdport *p)
{
    if (!p)
        return;
    if (p->fd >= 0)
        close(p->fd);
    free(p->overlay);
    free(p->ifname);
    free(p->state_path);
    free(p);
}

/* The stored address (one line "a.b.c.d"), or 0 */
static uint32_t acdport_load(const struct acdport *p)
{
    char buf[64] = "";
    FILE *f = fopen(p->state_path, "re");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return acdport_parse_ip(buf);
}

static void acdport_store(const struct acdport *p, uint32_t ip)
{
    char tmp[4096], s[INET_ADDRSTRLEN];
    snprintf(tmp, sizeof tmp, "%s.tmp", p->state_path);
    acdport_ipstr(ip, s);
    FILE *f = fopen(tmp, "we");
    if (!f || fprintf(f, "%s\n", s) < 0 || fclose(f) != 0 || rename(tmp, p->state_path) < 0) {
        log_warn(MOD, "%s: cannot keep the address in %s: %s", p->overlay, p->state_path,
                 strerror(errno));
        unlink(tmp);
    }
}

/* Opens the ARP socket on the interface; 0 or a positive errno. */
static int acdport_open(struct acdport *p)
{
    unsigned idx = if_nametoindex(p->ifname);
    if (!idx)
        return ENODEV;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (fd < 0)
        return errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", p->ifname);
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
                               .sll_ifindex = (int)idx };
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        int err = errno;
        close(fd);
        return err;
    }
    if (p->fd >= 0)
        close(p->fd);
    p->fd = fd;
    p->ifindex = idx;
    memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

/* An ARP request from the interface: a probe (sender IP 0) or an
 * announcement (sender and target IP the address) */
static void acdport_send(struct acdport *p, uint32_t spa, uint32_t tpa)
{
    uint8_t f[ARP_FRAME_LEN] = { 0 };
    memset(f, 0xff, 6);
    memcpy(f + 6, p->mac, 6);
    f[12] = 0x08, f[13] = 0x06;
    uint8_t *a = f + 14;
    a[1] = 1;                               /* Ethernet */
    a[2] = 0x08;                            /* IPv4 */
    a[4] = 6, a[5] = 4;
    a[7] = 1;                               /* request */
    memcpy(a + 8, p->mac, 6);
    uint32_t s = htonl(spa), t = htonl(tpa);
    memcpy(a + 14, &s, 4);
    memcpy(a + 24, &t, 4);
    struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
                              .sll_ifindex = (int)p->ifindex, .sll_halen = 6 };
    memset(to.sll_addr, 0xff, 6);
    if (sendto(p->fd, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) < 0)
        log_debug(MOD, "%s: ARP not sent: %s", p->ifname, strerror(errno));
}

/* Does what the engine asked; returns true when the address changed. */
static bool acdport_act(struct acdport *p, const struct acd_out *o, uint32_t *ip4)
{
    char s[INET_ADDRSTRLEN];
    bool changed = false;
    if (o->release) {
        acdport_ipstr(o->released, s);
        log_warn(MOD, "%s: %s is claimed by another node with a lower hardware address:"
                 " giving it up", p->overlay, s);
        p->bound = 0;
        *ip4 = 0;
        changed = true;
    }
    if (o->probe)
        acdport_send(p, 0, o->ip);
    if (o->bind) {
        acdport_ipstr(o->ip, s);
        log_info(MOD, "%s: %s/%d is ours (no conflict after %d probes)", p->overlay, s,
                 p->prefix_len, ACD_PROBE_NUM);
        p->bound = o->ip;
        *ip4 = o->ip;
        changed = true;
        acdport_store(p, o->ip);
    }
    if (o->announce) {
        acdport_ipstr(o->ip, s);
        log_debug(MOD, "%s: announcing %s", p->overlay, s);
        acdport_send(p, o->ip, o->ip);
    }
    return changed;
}

/* Reads every ARP packet waiting; true when the address changed. */
static bool acdport_read(struct acdport *p, long long now, uint32_t *ip4)
{
    bool changed = false;
    for (int n = 0; n < 64; n++) {
        uint8_t f[128];
        struct sockaddr_ll from;
        socklen_t fl = sizeof from;
        ssize_t len = recvfrom(p->fd, f, sizeof f, 0, (struct sockaddr *)&from, &fl);
        if (len < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                log_debug(MOD, "%s: ARP socket: %s: reopening", p->ifname, strerror(errno));
                close(p->fd);
                p->fd = -1;
            }
            break;
        }
        /* what this host sent (the kernel's ARP) is not news */
        if (from.sll_pkttype == PACKET_OUTGOING || len < ARP_FRAME_LEN)
            continue;
        const uint8_t *a = f + 14;
        if (f[12] != 0x08 || f[13] != 0x06 || a[0] != 0 || a[1] != 1 || a[2] != 0x08
            || a[3] != 0 || a[4] != 6 || a[5] != 4)
            continue;
        struct acd_arp arp = { .op = (uint16_t)(a[6] << 8 | a[7]) };
        uint32_t spa, tpa;
        memcpy(arp.sha, a + 8, 6);
        memcpy(&spa, a + 14, 4);
        memcpy(&tpa, a + 24, 4);
        arp.spa = ntohl(spa);
        arp.tpa = ntohl(tpa);
        struct acd_out o;
        if (acd_input(&p->acd, &arp, now, &o)) {
            char s[INET_ADDRSTRLEN], m[18];
            acdport_ipstr(arp.spa ? arp.spa : arp.tpa, s);
            snprintf(m, sizeof m, "%02x:%02x:%02x:%02x:%02x:%02x", arp.sha[0], arp.sha[1],
                     arp.sha[2], arp.sha[3], arp.sha[4], arp.sha[5]);
            log_info(MOD, "%s: conflict on %s with %s (%s, state %s)", p->overlay, s, m,
                     arp.spa ? "its address" : "its probe", acd_state_name(p->acd.state));
        }
        changed |= acdport_act(p, &o, ip4);
    }
    return changed;
}

bool acdport_run(struct acdport *p, const struct nodeid *self, long long now, uint32_t *ip4)
{
    bool changed = false;
    if (p->fd < 0 || if_nametoindex(p->ifname) != p->ifindex) {
        if (now < p->retry_ms)
            return false;
        int err = acdport_open(p);
        if (err) {
            if (err != ENODEV && err != p->last_err)
                log_warn(MOD, "%s: no ARP socket on %s: %s", p->overlay, p->ifname,
                         strerror(err));
            p->last_err = err;
            p->retry_ms = now + ACDPORT_RETRY_MS;
            return false;
        }
        p->last_err = 0;
        if (p->started && p->bound) {
            /* a new interface (ovs-vswitchd made it again): the address
             * goes back on it, announced */
            *ip4 = p->bound;
            changed = true;
            acd_reannounce(&p->acd, now);
        }
    }
    if (!p->started) {
        uint32_t first = acdport_parse_ip(getenv("EVIO_TEST_ACD_FIRST"));
        const char *why = "forced by EVIO_TEST_ACD_FIRST";
        if (!first) {
            first = acdport_load(p);
            why = "kept from the last run";
        }
        uint64_t seed = (uint64_t)now * 0x9e3779b97f4a7c15ull;
        for (int i = 0; i < 6; i++)
            seed ^= (uint64_t)p->mac[i] << (8 * i);
        acd_init(&p->acd, self->b, p->mac, p->pool, p->prefix_len, first, seed, now);
        p->started = true;
        char s[INET_ADDRSTRLEN];
        acdport_ipstr(p->acd.ip, s);
        log_info(MOD, "%s: probing %s (%s)", p->overlay, s,
                 p->acd.ip == first ? why : "derived from the node ID");
    }
    changed |= acdport_read(p, now, ip4);
    while (p->acd.next_ms <= now) {
        struct acd_out o;
        acd_tick(&p->acd, now, &o);
        changed |= acdport_act(p, &o, ip4);
    }
    return changed;
}

void acdport_wait(struct acdport *p)
{
    if (p->fd >= 0)
        poll_fd_wait(p->fd, POLLIN);
    else
        poll_timer_wait_until(p->retry_ms);
    if (p->started && p->acd.next_ms != INT64_MAX)
        poll_timer_wait_until(p->acd.next_ms);
}

void acdport_reannounce(struct acdport *p, long long now)
{
    if (p->started)
        acd_reannounce(&p->acd, now);
}

const char *acdport_state(const struct acdport *p, uint32_t *ip4, unsigned long *conflicts,
                          unsigned long *defended)
{
    *ip4 = p->started ? p->acd.ip : 0;
    *conflicts = p->started ? (unsigned long)p->acd.n_conflicts : 0;
    *defended = p->started ? (unsigned long)p->acd.n_defended : 0;
    return p->started ? acd_state_name(p->acd.state) : "waiting for the bridge";
}
