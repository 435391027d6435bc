/* The underlay as evio-tincan's ICE agents see it (see underlay.h). */
#include "underlay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "evio/config.h"
#include "evio/log.h"
#include "evio/rtnl.h"

#define UNDERLAY_MOD "ice"
#define UNDERLAY_LOGGED_MAX 64      /* interfaces whose skipping was said at info */

const char *underlay_skip_name(enum underlay_skip s)
{
#define UNDERLAY_NAME(name, text) case UNDERLAY_##name: return text;
    switch (s) {
    UNDERLAY_SKIPS(UNDERLAY_NAME)
    }
#undef UNDERLAY_NAME
    return "?";
}

/* The rules that look at a name alone: OVS's datapath ports, overlay
 * bridges, our TAPs, ignored names and patterns. */
static enum underlay_skip underlay_name_skip(const struct underlay_filter *f, const char *ifname,
                                             const char **what)
{
    *what = NULL;
    if (!strcmp(ifname, "ovs-netdev") || !strcmp(ifname, "ovs-system"))
        return UNDERLAY_OVS;
    const struct config *cfg = f->cfg;
    if (cfg) {
        for (int i = 0; i < cfg->n_overlays; i++)
            if (cfg->overlays[i].bridge_name && !strcmp(cfg->overlays[i].bridge_name, ifname)) {
                *what = cfg->overlays[i].bridge_name;
                return UNDERLAY_BRIDGE;
            }
    }
    for (int i = 0; i < f->n_extra; i++)
        if (f->extra[i] && !strcmp(f->extra[i], ifname)) {
            *what = f->extra[i];
            return UNDERLAY_TAP;
        }
    if (cfg) {
        for (int i = 0; i < cfg->n_ignore; i++)
            if (cfg->ignore_interfaces[i] && !fnmatch(cfg->ignore_interfaces[i], ifname, 0)) {
                *what = cfg->ignore_interfaces[i];
                return UNDERLAY_IGNORED;
            }
    }
    return UNDERLAY_OK;
}

static const struct underlay_link *underlay_find_name(const struct underlay_filter *f,
                                                      const char *name)
{
    for (int i = 0; i < f->n_links; i++)
        if (!strcmp(f->links[i].name, name))
            return &f->links[i];
    return NULL;
}

static const struct underlay_link *underlay_find_index(const struct underlay_filter *f, int index)
{
    for (int i = 0; i < f->n_links; i++)
        if (f->links[i].index == index)
            return &f->links[i];
    return NULL;
}

bool underlay_iface_ok(const struct underlay_filter *f, const char *ifname, unsigned flags,
                       struct underlay_verdict *why)
{
    struct underlay_verdict v = { .skip = UNDERLAY_OK };

    if (!ifname || !(flags & IFF_UP))
        v.skip = UNDERLAY_DOWN;
    else if (flags & IFF_LOOPBACK)
        v.skip = UNDERLAY_LOOPBACK;
    else
        v.skip = underlay_name_skip(f, ifname, &v.what);

    /* Down the chain of lower devices in this namespace: a vxlan created
     * with "dev evbr0" (flannel.1) carries its packets over the overlay. A
     * veth's IFLA_LINK is its peer's index in the peer's namespace, which
     * here may name anything: IFLA_LINK_NETNSID marks it and ends the walk. */
    const struct underlay_link *l = v.skip == UNDERLAY_OK ? underlay_find_name(f, ifname) : NULL;
    for (int depth = 0; l && depth < UNDERLAY_MAX_DEPTH; depth++) {
        if (l->lower <= 0 || l->lower == l->index || l->lower_elsewhere)
            break;
        const struct underlay_link *lower = underlay_find_index(f, l->lower);
        if (!lower)
            break;
        const char *what;
        enum underlay_skip s = underlay_name_skip(f, lower->name, &what);
        if (s != UNDERLAY_OK) {
            v.skip = UNDERLAY_RIDES_ON;
            v.what = lower->name;
            v.by = underlay_skip_name(s);
            break;
        }
        l = lower;
    }
    if (why)
        *why = v;
    return v.skip == UNDERLAY_OK;
}

/* ---- adapters: the kernel's lists ------------------------------------- */

/* A vxlan's lower device (ip link add ... type vxlan ... dev evbr0) is no
 * IFLA_LINK: it is IFLA_VXLAN_LINK inside IFLA_LINKINFO's IFLA_INFO_DATA.
 * Returns its index, or 0 for anything else. */
static int underlay_vxlan_lower(const struct rtattr *linkinfo)
{
    bool vxlan = false;
    const struct rtattr *data = NULL;
    int len = (int)RTA_PAYLOAD(linkinfo);
    for (const struct rtattr *a = RTA_DATA(linkinfo); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_INFO_KIND)
            vxlan = RTA_PAYLOAD(a) >= 5 && !memcmp(RTA_DATA(a), "vxlan", 5)
                    && (RTA_PAYLOAD(a) == 5 || ((const char *)RTA_DATA(a))[5] == '\0');
        else if (a->rta_type == IFLA_INFO_DATA)
            data = a;
    }
    if (!vxlan || !data)
        return 0;
    len = (int)RTA_PAYLOAD(data);
    for (const struct rtattr *a = RTA_DATA(data); RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == IFLA_VXLAN_LINK && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
            uint32_t index;
            memcpy(&index, RTA_DATA(a), sizeof index);
            return index <= INT32_MAX ? (int)index : 0;
        }
    return 0;
}

/* Adds the interface of one RTM_NEWLINK message to *LINKS. */
static int underlay_nl_link(const struct nlmsghdr *nh, struct underlay_link **links, int *n,
                            int *cap)
{
    const struct ifinfomsg *ifi = NLMSG_DATA(nh);
    if (nh->nlmsg_len < NLMSG_LENGTH(sizeof *ifi))
        return 0;
    struct underlay_link l = { .index = ifi->ifi_index };
    int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof *ifi);
    for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        size_t plen = RTA_PAYLOAD(a);
        if (a->rta_type == IFLA_IFNAME && plen > 0) {
            size_t k = strnlen(RTA_DATA(a), plen);
            if (k >= sizeof l.name)
                k = sizeof l.name - 1;
            memcpy(l.name, RTA_DATA(a), k);
        } else if (a->rta_type == IFLA_LINK && plen >= sizeof(int)) {
            memcpy(&l.lower, RTA_DATA(a), sizeof(int));
        } else if (a->rta_type == IFLA_LINK_NETNSID) {
            l.lower_elsewhere = true;
        } else if (a->rta_type == IFLA_LINKINFO) {
            int vx = underlay_vxlan_lower(a);
            if (vx > 0)
                l.lower = vx;
        }
    }
    if (!l.name[0])
        return 0;
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 64;
        struct underlay_link *nl = realloc(*links, (size_t)ncap * sizeof *nl);
        if (!nl)
            return ENOMEM;
        *links = nl;
        *cap = ncap;
    }
    (*links)[(*n)++] = l;
    return 0;
}

struct underlay_read {
    struct underlay_link *links;
    int n, cap;
};

static int underlay_on_link(const struct nlmsghdr *nh, void *aux)
{
    struct underlay_read *r = aux;
    return nh->nlmsg_type == RTM_NEWLINK ? underlay_nl_link(nh, &r->links, &r->n, &r->cap) : 0;
}

int underlay_links_read(struct underlay_link **out)
{
    struct {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
    } req = {
        .nh = { .nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
        .ifi = { .ifi_family = AF_UNSPEC },
    };
    struct underlay_read r = { 0 };
    int error = rtnl_request(&req, sizeof req, underlay_on_link, &r);
    *out = NULL;
    if (error) {
        free(r.links);
        return -error;
    }
    *out = r.links;
    return r.n;
}

/* Says at info, once per interface and process, why IFNAME is not gathered
 * on (evio's own bridges and TAPs go without saying). */
static void underlay_say_skipped(const char *ifname, const char *addr,
                                 const struct underlay_verdict *v)
{
    static char logged[UNDERLAY_LOGGED_MAX][IF_NAMESIZE];
    static int n_logged;

    if (v->skip == UNDERLAY_BRIDGE || v->skip == UNDERLAY_TAP || v->skip == UNDERLAY_OVS) {
        log_debug(UNDERLAY_MOD, "not gathering on %s (%s): %s", ifname, addr,
                  underlay_skip_name(v->skip));
        return;
    }
    for (int i = 0; i < n_logged; i++)
        if (!strncmp(logged[i], ifname, IF_NAMESIZE))
            return;
    if (n_logged < UNDERLAY_LOGGED_MAX)
        snprintf(logged[n_logged++], IF_NAMESIZE, "%s", ifname);
    if (v->skip == UNDERLAY_RIDES_ON)
        log_info(UNDERLAY_MOD, "not gathering on %s (%s): it rides on %s, %s", ifname, addr,
                 v->what, v->by);
    else
        log_info(UNDERLAY_MOD, "not gathering on %s (%s): %s \"%s\"", ifname, addr,
                 underlay_skip_name(v->skip), v->what ? v->what : "");
}

int underlay_addrs(const struct underlay_filter *f, char out[][INET_ADDRSTRLEN], int max)
{
    struct underlay_filter with_links = *f;
    struct underlay_link *links = NULL;
    if (!f->links) {
        int n_links = underlay_links_read(&links);
        if (n_links < 0)
            log_warn(UNDERLAY_MOD, "listing interfaces: %s: lower links not checked",
                     strerror(-n_links));
        with_links.links = links;
        with_links.n_links = n_links > 0 ? n_links : 0;
    }
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0) {
        log_warn(UNDERLAY_MOD, "getifaddrs: %m");
        free(links);
        return 0;
    }
    int n = 0;
    for (struct ifaddrs *i = ifs; i && n < max; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
        if (!inet_ntop(AF_INET, &sin->sin_addr, out[n], INET_ADDRSTRLEN))
            continue;
        struct underlay_verdict v;
        if (!underlay_iface_ok(&with_links, i->ifa_name, i->ifa_flags, &v)) {
            if (v.skip != UNDERLAY_DOWN && v.skip != UNDERLAY_LOOPBACK)
                underlay_say_skipped(i->ifa_name, out[n], &v);
            continue;
        }
        log_debug(UNDERLAY_MOD, "gathering on %s (%s)", out[n], i->ifa_name);
        n++;
    }
    freeifaddrs(ifs);
    free(links);
    if (n == 0)
        log_warn(UNDERLAY_MOD, "no underlay IPv4 address to gather on");
    return n;
}
