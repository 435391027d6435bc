/* TAP devices for evio-tincan's links (see tap.h): the kernel side of the
 * frame pump. Reading and writing frames is done by link.c on the fd. */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evio/log.h"

#define TAP_MOD "tap"

int tap_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c >= 127 || c == '/' || c == ':' || c == '%')
            return 0;
    }
    return 1;
}

static char *tap_errf(const char *name, const char *what, int e)
{
    char *s = NULL;
    if (asprintf(&s, "tap %s: %s: %s", name, what, strerror(e)) < 0)
        s = NULL;
    return s;
}

/* Runs one SIOC* ioctl on NAME through a throwaway socket. */
static int tap_ifreq(const char *name, unsigned long req, struct ifreq *ifr)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return errno;
    snprintf(ifr->ifr_name, IFNAMSIZ, "%s", name);
    int rc = ioctl(s, req, ifr) < 0 ? errno : 0;
    close(s);
    return rc;
}

int tap_open(struct tap *t, const char *name, int mtu, char **err)
{
    memset(t, 0, sizeof *t);
    t->fd = -1;
    *err = NULL;
    if (!tap_name_valid(name)) {
        *err = tap_errf(name, "invalid interface name", EINVAL);
        return EINVAL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        *err = tap_errf(name, "open /dev/net/tun", e);
        return e;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        /* EBUSY: a TAP of that name is in use; EINVAL: a non-TAP device */
        *err = tap_errf(name, e == EBUSY || e == EINVAL ? "name already in use" : "TUNSETIFF", e);
        close(fd);
        return e;
    }
    t->fd = fd;
    snprintf(t->name, sizeof t->name, "%s", ifr.ifr_name);

    /* 02:xx:xx:xx:xx:xx: locally administered, unicast, random below */
    if (getrandom(t->mac, sizeof t->mac, 0) != sizeof t->mac) {
        int e = errno ? errno : EIO;
        *err = tap_errf(name, "getrandom", e);
        tap_close(t);
        return e;
    }
    t->mac[0] = 0x02;

    int e;
    const char *what;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, t->mac, sizeof t->mac);
    if ((e = tap_ifreq(t->name, SIOCSIFHWADDR, &ifr))) {
        what = "set MAC";
        goto fail;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = mtu;
    if ((e = tap_ifreq(t->name, SIOCSIFMTU, &ifr))) {
        what = "set MTU";
        goto fail;
    }
    memset(&ifr, 0, sizeof ifr);
    if ((e = tap_ifreq(t->name, SIOCGIFFLAGS, &ifr))) {
        what = "get flags";
        goto fail;
    }
    ifr.ifr_flags |= IFF_UP;
    if ((e = tap_ifreq(t->name, SIOCSIFFLAGS, &ifr))) {
        what = "bring up";
        goto fail;
    }
    char mac[18];
    tap_mac_format(t->mac, mac);
    log_info(TAP_MOD, "%s: created, mac %s, mtu %d", t->name, mac, mtu);
    return 0;

fail:
    *err = tap_errf(name, what, e);
    tap_close(t);
    return e;
}

void tap_close(struct tap *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        log_info(TAP_MOD, "%s: deleted", t->name);
    }
    t->fd = -1;
}

void tap_mac_format(const uint8_t m[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}
