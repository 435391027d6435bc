/* "mtu": "auto": the bridge MTU from the underlay route (see evio/mtu.h). */
#include "evio/mtu.h"
#include "evio/config.h"
#include "evio/log.h"
#include "evio/rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int mtu_for_route(int route_mtu, const char **note)
{
    int mtu = route_mtu - MTU_OVERHEAD;
    const char *why = NULL;
    if (mtu < MTU_MIN) {
        mtu = MTU_MIN;
        why = "clamped up to 576: the underlay fragments larger frames";
    } else if (mtu > MTU_MAX) {
        mtu = MTU_MAX;
        why = "clamped down to 9000";
    } else if (mtu < MTU_IPV6_MIN) {
        why = "below 1280: no IPv6 on the bridge";
    }
    if (note)
        *note = why;
    return mtu;
}

/* ---- the kernel's route ------------------------------------------------ */

static int mtu_device(int index, struct mtu_route *out)
{
    if (!if_indextoname((unsigned)index, out->dev))
        return errno;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", out->dev);
    int error = ioctl(fd, SIOCGIFMTU, &ifr) ? errno : 0;
    close(fd);
    if (!error)
        out->mtu = ifr.ifr_mtu;
    return error;
}

/* The output device, mtu metric and priority of one RTM_NEWROUTE. */
static void mtu_route_attrs(const struct nlmsghdr *nh, int *oif, int *metric_mtu, uint32_t *prio)
{
    const struct rtmsg *rt = NLMSG_DATA(nh);
    int alen = (int)RTM_PAYLOAD(nh);
    *oif = *metric_mtu = 0;
    *prio = 0;
    for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int)) {
            memcpy(oif, RTA_DATA(a), sizeof *oif);
        } else if (a->rta_type == RTA_PRIORITY && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
            memcpy(prio, RTA_DATA(a), sizeof *prio);
        } else if (a->rta_type == RTA_METRICS) {
            int mlen = (int)RTA_PAYLOAD(a);
            for (const struct rtattr *m = RTA_DATA(a); RTA_OK(m, mlen); m = RTA_NEXT(m, mlen))
                if (m->rta_type == RTAX_MTU && RTA_PAYLOAD(m) >= sizeof(uint32_t)) {
                    uint32_t v;
                    memcpy(&v, RTA_DATA(m), sizeof v);
                    *metric_mtu = v <= 65535 ? (int)v : 0;
                }
        }
    }
}

/* Fills OUT from a route's device OIF and mtu metric METRIC_MTU (0: none). */
static int mtu_route_fill(int oif, int metric_mtu, struct mtu_route *out)
{
    if (oif <= 0)
        return ENETUNREACH;
    int error = mtu_device(oif, out);
    if (error)
        return error;
    if (!strcmp(out->dev, "lo"))
        return EADDRNOTAVAIL;
    if (metric_mtu > 0 && metric_mtu < out->mtu) {
        out->mtu = metric_mtu;
        out->from_metric = true;
    }
    return 0;
}

struct mtu_lookup {
    struct mtu_route *out;
    int result;                 /* 0 found, else a positive errno */
    uint32_t best_prio;         /* the default route's */
    int oif, metric_mtu;
};

/* The answer to RTM_GETROUTE for one address: one RTM_NEWROUTE. */
static int mtu_on_route(const struct nlmsghdr *nh, void *aux)
{
    struct mtu_lookup *l = aux;
    if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
        return 0;
    const struct rtmsg *rt = NLMSG_DATA(nh);
    uint32_t prio;
    mtu_route_attrs(nh, &l->oif, &l->metric_mtu, &prio);
    l->result = rt->rtm_type == RTN_LOCAL ? EADDRNOTAVAIL
                : rt->rtm_type != RTN_UNICAST ? ENETUNREACH
                : mtu_route_fill(l->oif, l->metric_mtu, l->out);
    return -1;      /* that was the answer */
}

/* One route of a dump: kept when it is a default route of the main table
 * through one device, with a lower priority than the one kept so far. */
static int mtu_on_default(const struct nlmsghdr *nh, void *aux)
{
    struct mtu_lookup *l = aux;
    if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
        return 0;
    const struct rtmsg *rt = NLMSG_DATA(nh);
    int oif, metric_mtu;
    uint32_t prio;
    mtu_route_attrs(nh, &oif, &metric_mtu, &prio);
    if (rt->rtm_dst_len != 0 || rt->rtm_table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST
        || oif <= 0 || (l->oif > 0 && prio >= l->best_prio))
        return 0;
    l->oif = oif;
    l->metric_mtu = metric_mtu;
    l->best_prio = prio;
    return 0;
}

int mtu_route_get(uint32_t dst, struct mtu_route *out)
{
    memset(out, 0, sizeof *out);
    struct {
        struct nlmsghdr nh;
        struct rtmsg rt;
        char attrs[RTA_SPACE(sizeof(uint32_t))];
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_type = RTM_GETROUTE;
    req.nh.nlmsg_seq = 1;
    req.rt.rtm_family = AF_INET;
    struct mtu_lookup l = { .out = out, .result = ENETUNREACH };
    int error;
    if (dst) {
        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.rt) + RTA_SPACE(sizeof dst);
        req.nh.nlmsg_flags = NLM_F_REQUEST;
        req.rt.rtm_dst_len = 32;
        struct rtattr *a = (struct rtattr *)req.attrs;
        a->rta_type = RTA_DST;
        a->rta_len = RTA_LENGTH(sizeof dst);
        memcpy(RTA_DATA(a), &dst, sizeof dst);
        error = rtnl_request(&req, req.nh.nlmsg_len, mtu_on_route, &l);
    } else {
        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.rt);
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        error = rtnl_request(&req, req.nh.nlmsg_len, mtu_on_default, &l);
        if (!error)
            l.result = mtu_route_fill(l.oif, l.metric_mtu, out);
    }
    return error ? error : l.result;
}

/* ---- resolving the config --------------------------------------------- */

/* The value the agent handed down for overlay NAME in MTU_ENV, or 0. */
static int mtu_from_env(const char *name)
{
    const char *env = getenv(MTU_ENV);
    size_t nlen = strlen(name);
    for (const char *p = env; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, name, nlen) || p[nlen] != '=')
            continue;
        char *end;
        long v = strtol(p + nlen + 1, &end, 10);
        if ((*end == ',' || *end == '\0') && v >= MTU_MIN && v <= MTU_MAX)
            return (int)v;
    }
    return 0;
}

/* The first route of: the XMPP server, the STUN servers, the TURN servers
 * (each where given as an IPv4 address and not this host), else the
 * default route. Fills *R and describes it in SRC. Returns 0 or the error
 * of the default route's lookup. */
static int mtu_pick_route(const struct config *cfg, struct mtu_route *r, char *src, size_t size)
{
    const char *hosts[1 + 2 * CONFIG_MAX_SERVERS];
    const char *roles[1 + 2 * CONFIG_MAX_SERVERS];
    int n = 0;
    if (cfg->xmpp_host) {
        roles[n] = "xmpp server";
        hosts[n++] = cfg->xmpp_host;
    }
    for (int i = 0; i < cfg->n_stun && i < CONFIG_MAX_SERVERS; i++) {
        roles[n] = "stun server";
        hosts[n++] = cfg->stun[i].host;
    }
    for (int i = 0; i < cfg->n_turn && i < CONFIG_MAX_SERVERS; i++) {
        roles[n] = "turn server";
        hosts[n++] = cfg->turn[i].host;
    }
    for (int i = 0; i < n; i++) {
        struct in_addr a;
        if (!hosts[i] || inet_pton(AF_INET, hosts[i], &a) != 1 || mtu_route_get(a.s_addr, r))
            continue;
        snprintf(src, size, "route to %s (%s) via %s, %s mtu %d", hosts[i], roles[i], r->dev,
                 r->from_metric ? "route" : "device", r->mtu);
        return 0;
    }
    int error = mtu_route_get(0, r);
    if (!error)
        snprintf(src, size, "default route via %s, %s mtu %d", r->dev,
                 r->from_metric ? "route" : "device", r->mtu);
    return error;
}

void mtu_resolve(struct config *cfg, const char *who, bool from_env)
{
    struct mtu_route r = { .mtu = MTU_ASSUMED };
    char src[96] = "";
    int error = -1;     /* not looked up yet: once for every overlay */

    for (int i = 0; i < cfg->n_overlays; i++) {
        struct config_overlay *o = &cfg->overlays[i];
        if (!o->mtu_auto)
            continue;
        int mtu = from_env ? mtu_from_env(o->name) : 0;
        if (mtu) {
            o->mtu = mtu;
            snprintf(o->mtu_source, sizeof o->mtu_source, "auto: from evio (%s)", MTU_ENV);
            log_info(who, "overlay %s: bridge mtu %d (%s)", o->name, o->mtu, o->mtu_source);
            continue;
        }
        if (error < 0) {
            error = mtu_pick_route(cfg, &r, src, sizeof src);
            if (error) {
                log_warn(who, "mtu auto: no route to the servers nor a default route (%s): "
                         "assuming a %d-byte underlay", strerror(error), MTU_ASSUMED);
                r.mtu = MTU_ASSUMED;
                snprintf(src, sizeof src, "no route, %d assumed", MTU_ASSUMED);
            }
        }
        const char *note;
        o->mtu = mtu_for_route(r.mtu, &note);
        snprintf(o->mtu_source, sizeof o->mtu_source, "auto: %s, minus %d%s%s", src,
                 MTU_OVERHEAD, note ? "; " : "", note ? note : "");
        if (note)
            log_warn(who, "overlay %s: bridge mtu %d (%s)", o->name, o->mtu, o->mtu_source);
        else
            log_info(who, "overlay %s: bridge mtu %d (%s)", o->name, o->mtu, o->mtu_source);
    }
}

int mtu_export(const struct config *cfg)
{
    char env[CONFIG_MAX_OVERLAYS * 48] = "";
    size_t len = 0;
    for (int i = 0; i < cfg->n_overlays; i++) {
        const struct config_overlay *o = &cfg->overlays[i];
        if (!o->mtu_auto)
            continue;
        int k = snprintf(env + len, sizeof env - len, "%s%s=%d", len ? "," : "", o->name, o->mtu);
        if (k < 0 || (size_t)k >= sizeof env - len)
            return ENOBUFS;
        len += (size_t)k;
    }
    if (!len)
        return unsetenv(MTU_ENV) ? errno : 0;
    return setenv(MTU_ENV, env, 1) ? errno : 0;
}
