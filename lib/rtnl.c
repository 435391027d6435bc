/* One routing-netlink request and its answer (see evio/rtnl.h). */
#include "evio/rtnl.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RTNL_BUF (1 << 16)      /* one recv of a dump: the kernel's parts are smaller */

/* NLMSG_OK without its signed/unsigned comparison */
static bool rtnl_ok(const struct nlmsghdr *nh, int left)
{
    return left >= (int)sizeof *nh && nh->nlmsg_len >= sizeof *nh
           && nh->nlmsg_len <= (unsigned)left;
}

int rtnl_request(const void *req, size_t len,
                 int (*each)(const struct nlmsghdr *, void *aux), void *aux)
{
    static char buf[RTNL_BUF] __attribute__((aligned(4)));
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return errno;
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* error: 0 go on, -1 the answer is complete, > 0 an errno or EACH's value */
    int error = sendto(fd, req, len, 0, (struct sockaddr *)&sa, sizeof sa) < 0 ? errno : 0;
    while (!error) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error = n < 0 ? errno : EIO;
            break;
        }
        int left = (int)n;
        for (const struct nlmsghdr *nh = (const struct nlmsghdr *)buf; !error && rtnl_ok(nh, left);
             nh = NLMSG_NEXT(nh, left)) {
            if (nh->nlmsg_type == NLMSG_DONE) {
                error = -1;
            } else if (nh->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(nh);
                error = nh->nlmsg_len < NLMSG_LENGTH(sizeof *e) ? EIO
                        : e->error ? -e->error : -1;
            } else {
                error = each(nh, aux);
            }
        }
    }
    close(fd);
    return error < 0 ? 0 : error;
}
