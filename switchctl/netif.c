/* evio-switchctl's internal-port address setup with SIOCSIF* ioctls: enough
 * for one primary IPv4 address, and it needs no netlink plumbing. */
#include "netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void netif_set_sin(struct sockaddr *sa, uint32_t host_order)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(host_order) };
    memcpy(sa, &sin, sizeof sin);
}

static uint32_t netif_get_sin(const struct sockaddr *sa)
{
    struct sockaddr_in sin;
    memcpy(&sin, sa, sizeof sin);
    return sin.sin_family == AF_INET ? ntohl(sin.sin_addr.s_addr) : 0;
}

static int netif_ioctl(int fd, unsigned long req, struct ifreq *ifr)
{
    return ioctl(fd, req, ifr) < 0 ? errno : 0;
}

static int netif_configure_fd(int fd, const char *ifname, uint32_t ip4, int prefix_len,
                              int mtu, bool *changed)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);

    int err;
    if (mtu > 0) {
        if ((err = netif_ioctl(fd, SIOCGIFMTU, &ifr)))
            return err;
        if (ifr.ifr_mtu != mtu) {
            ifr.ifr_mtu = mtu;
            if ((err = netif_ioctl(fd, SIOCSIFMTU, &ifr)))
                return err;
            *changed = true;
        }
    }

    if (ip4) {
        uint32_t mask = prefix_len <= 0 ? 0 : 0xffffffffu << (32 - prefix_len);
        uint32_t have_addr = 0, have_mask = 0;
        if (!netif_ioctl(fd, SIOCGIFADDR, &ifr)) {
            have_addr = netif_get_sin(&ifr.ifr_addr);
            if (!netif_ioctl(fd, SIOCGIFNETMASK, &ifr))
                have_mask = netif_get_sin(&ifr.ifr_netmask);
        }
        if (have_addr != ip4 || have_mask != mask) {
            netif_set_sin(&ifr.ifr_addr, ip4);
            if ((err = netif_ioctl(fd, SIOCSIFADDR, &ifr)))
                return err;
            netif_set_sin(&ifr.ifr_netmask, mask);
            if ((err = netif_ioctl(fd, SIOCSIFNETMASK, &ifr)))
                return err;
            /* The kernel derives the broadcast from the classful mask set
             * with the address; set the one for the real prefix. */
            if (prefix_len < 31) {
                netif_set_sin(&ifr.ifr_broadaddr, (ip4 & mask) | ~mask);
                if ((err = netif_ioctl(fd, SIOCSIFBRDADDR, &ifr)))
                    return err;
            }
            *changed = true;
        }
    }

    if ((err = netif_ioctl(fd, SIOCGIFFLAGS, &ifr)))
        return err;
    if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if ((err = netif_ioctl(fd, SIOCSIFFLAGS, &ifr)))
            return err;
        *changed = true;
    }
    return 0;
}

int netif_configure(const char *ifname, uint32_t ip4, int prefix_len, int mtu, bool *changed)
{
    *changed = false;
    if (strlen(ifname) >= IFNAMSIZ || prefix_len < 0 || prefix_len > 32)
        return EINVAL;
    if (!if_nametoindex(ifname))
        return ENODEV;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int err = netif_configure_fd(fd, ifname, ip4, prefix_len, mtu, changed);
    close(fd);
    return err;
}

int netif_tx_csum_off(const char *ifname, bool *changed)
{
    *changed = false;
    if (strlen(ifname) >= IFNAMSIZ)
        return EINVAL;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    struct ethtool_value ev = { .cmd = ETHTOOL_GTXCSUM };
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    ifr.ifr_data = (void *)&ev;
    int err = netif_ioctl(fd, SIOCETHTOOL, &ifr);
    if (!err && ev.data) {
        ev.cmd = ETHTOOL_STXCSUM;
        ev.data = 0;
        err = netif_ioctl(fd, SIOCETHTOOL, &ifr);
        *changed = !err;
    }
    close(fd);
    return err;
}

int netif_clear_ipv4(const char *ifname)
{
    if (strlen(ifname) >= IFNAMSIZ)
        return EINVAL;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    int err = netif_ioctl(fd, SIOCGIFADDR, &ifr);
    if (err == EADDRNOTAVAIL) {
        err = 0;                                /* none */
    } else if (!err) {
        /* setting 0.0.0.0 deletes the primary address */
        netif_set_sin(&ifr.ifr_addr, 0);
        err = netif_ioctl(fd, SIOCSIFADDR, &ifr);
    }
    close(fd);
    return err;
}
