/* The sd_notify datagram protocol without libsystemd (see notify.h): evio
 * tells its supervisor READY=1 once the overlays' bridges carry their
 * addresses, and STOPPING=1 when it shuts down. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

size_t notify_format(char *buf, size_t size, const char *state, const char *status)
{
    size_t n = 0, need = 0;
    if (!state || !*state || !size)
        return 0;
    need = strlen(state) + 1 + (status ? strlen("STATUS=") + strlen(status) + 1 : 0);
    if (need + 1 > size)
        return 0;
    for (const char *s = state; *s; s++)
        buf[n++] = *s == '\n' ? ' ' : *s;
    buf[n++] = '\n';
    if (status) {
        memcpy(buf + n, "STATUS=", 7);
        n += 7;
        for (const char *s = status; *s; s++)
            buf[n++] = *s == '\n' ? ' ' : *s;
        buf[n++] = '\n';
    }
    buf[n] = '\0';
    return n;
}

int notify_addr(const char *value, struct sockaddr_un *sa, socklen_t *len)
{
    if (!value || (value[0] != '/' && value[0] != '@') || !value[1])
        return EINVAL;
    size_t n = strlen(value);
    if (n > sizeof sa->sun_path - (value[0] == '/'))
        return ENAMETOOLONG;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, value, n);
    if (value[0] == '@')
        sa->sun_path[0] = '\0';     /* abstract: the length bounds the name */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/'));
    return 0;
}

int notify_send(const char *value, const char *msg, size_t len)
{
    struct sockaddr_un sa;
    socklen_t salen;
    int error = notify_addr(value, &sa, &salen);
    if (error)
        return error;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return errno;
    ssize_t n = sendto(fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen);
    error = n < 0 ? errno : (size_t)n != len ? EMSGSIZE : 0;
    close(fd);
    return error;
}
