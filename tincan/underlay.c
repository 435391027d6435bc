/* The underlay as evio-tincan's ICE agents see it (see underlay.h). */
#include "underlay.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "evio/config.h"
#include "evio/log.h"

#define UNDERLAY_MOD "ice"

bool underlay_iface_ok(const struct underlay_filter *f, const char *ifname, unsigned flags)
{
    if (!ifname || (flags & IFF_LOOPBACK) || !(flags & IFF_UP))
        return false;
    /* Open vSwitch's internal datapath ports */
    if (!strcmp(ifname, "ovs-netdev") || !strcmp(ifname, "ovs-system"))
        return false;
    const struct config *cfg = f->cfg;
    if (cfg) {
        for (int i = 0; i < cfg->n_ignore; i++)
            if (cfg->ignore_interfaces[i] && !strcmp(cfg->ignore_interfaces[i], ifname))
                return false;
        for (int i = 0; i < cfg->n_overlays; i++)
            if (cfg->overlays[i].bridge_name && !strcmp(cfg->overlays[i].bridge_name, ifname))
                return false;
    }
    for (int i = 0; i < f->n_extra; i++)
        if (f->extra[i] && !strcmp(f->extra[i], ifname))
            return false;
    return true;
}

int underlay_addrs(const struct underlay_filter *f, char out[][INET_ADDRSTRLEN], int max)
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0) {
        log_warn(UNDERLAY_MOD, "getifaddrs: %m");
        return 0;
    }
    int n = 0;
    for (struct ifaddrs *i = ifs; i && n < max; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        if (!underlay_iface_ok(f, i->ifa_name, i->ifa_flags))
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
        if (!inet_ntop(AF_INET, &sin->sin_addr, out[n], INET_ADDRSTRLEN))
            continue;
        log_debug(UNDERLAY_MOD, "gathering on %s (%s)", out[n], i->ifa_name);
        n++;
    }
    freeifaddrs(ifs);
    if (n == 0)
        log_warn(UNDERLAY_MOD, "no underlay IPv4 address to gather on");
    return n;
}
