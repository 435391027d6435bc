/* One request to the kernel's routing netlink (NETLINK_ROUTE) and its
 * answer, message by message: what lib/mtu.c (routes) and evio-tincan's
 * underlay filter (links) read. Blocking, with a 2 s receive timeout; for
 * start-up and link creation, never per frame. */
#ifndef EVIO_RTNL_H
#define EVIO_RTNL_H

#include <linux/netlink.h>
#include <stddef.h>

/* Sends REQ (LEN bytes, a complete nlmsghdr with its payload) on a new
 * socket and hands every message of the answer to EACH until EACH returns
 * nonzero, the answer ends (NLMSG_DONE, an ACK, or one message answering a
 * request without NLM_F_DUMP once EACH returns -1) or the kernel reports an
 * error. Returns 0, EACH's positive value, or a positive errno. */
int rtnl_request(const void *req, size_t len,
                 int (*each)(const struct nlmsghdr *, void *aux), void *aux);

#endif
