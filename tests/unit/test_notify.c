/* Unit tests of overlay/notify.c: message formatting, NOTIFY_SOCKET parsing,
 * and datagrams received on a real bound socket (path and abstract). */
#include "check.h"
#include "../../overlay/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void test_format(void)
{
    char buf[64];
    CHECK(notify_format(buf, sizeof buf, "READY=1", NULL) == 8);
    CHECK_STR(buf, "READY=1\n");
    size_t n = notify_format(buf, sizeof buf, "READY=1", "ready: bridge evbr0 10.0.0.1/24");
    CHECK(n == strlen(buf));
    CHECK_STR(buf, "READY=1\nSTATUS=ready: bridge evbr0 10.0.0.1/24\n");
    /* a newline in STATUS would start a new assignment */
    notify_format(buf, sizeof buf, "STOPPING=1", "a\nWATCHDOG=1");
    CHECK_STR(buf, "STOPPING=1\nSTATUS=a WATCHDOG=1\n");
    /* exactly fits, one byte short, empty state */
    CHECK(notify_format(buf, 9, "READY=1", NULL) == 8);
    CHECK(notify_format(buf, 8, "READY=1", NULL) == 0);
    CHECK(notify_format(buf, sizeof buf, "", NULL) == 0);
    CHECK(notify_format(buf, sizeof buf, NULL, "x") == 0);
    CHECK(notify_format(buf, 0, "READY=1", NULL) == 0);
}

static void test_addr(void)
{
    struct sockaddr_un sa;
    socklen_t len;
    CHECK(notify_addr("/run/systemd/notify", &sa, &len) == 0);
    CHECK_STR(sa.sun_path, "/run/systemd/notify");
    CHECK(len == offsetof(struct sockaddr_un, sun_path) + sizeof "/run/systemd/notify");
    CHECK(notify_addr("@evio/x", &sa, &len) == 0);
    CHECK(sa.sun_path[0] == '\0' && !memcmp(sa.sun_path + 1, "evio/x", 6));
    CHECK(len == offsetof(struct sockaddr_un, sun_path) + 7);
    CHECK(notify_addr("", &sa, &len) == EINVAL);
    CHECK(notify_addr("@", &sa, &len) == EINVAL);
    CHECK(notify_addr("relative/path", &sa, &len) == EINVAL);
    CHECK(notify_addr(NULL, &sa, &len) == EINVAL);
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    CHECK(notify_addr(longp, &sa, &len) == ENAMETOOLONG);
    longp[sizeof sa.sun_path - 1] = '\0';     /* 107 bytes and the NUL: fits */
    CHECK(notify_addr(longp, &sa, &len) == 0);
    longp[0] = '@';
    longp[sizeof sa.sun_path - 1] = 'a';
    longp[sizeof sa.sun_path] = '\0';          /* 108 bytes, abstract: fits */
    CHECK(notify_addr(longp, &sa, &len) == 0);
}

/* Binds a datagram socket at VALUE (a NOTIFY_SOCKET value), sends one
 * notification through notify_send and checks what arrives. */
static void send_and_receive(const char *value)
{
    struct sockaddr_un sa;
    socklen_t len;
    CHECK(notify_addr(value, &sa, &len) == 0);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(bind(fd, (struct sockaddr *)&sa, len) == 0);
    char msg[128];
    size_t n = notify_format(msg, sizeof msg, "READY=1", "ready");
    CHECK(notify_send(value, msg, n) == 0);
    char got[128];
    ssize_t r = recv(fd, got, sizeof got - 1, MSG_DONTWAIT);
    CHECK(r == (ssize_t)n);
    got[r > 0 ? r : 0] = '\0';
    CHECK_STR(got, "READY=1\nSTATUS=ready\n");
    close(fd);
}

static void test_send(void)
{
    char dir[] = "/tmp/evio-notify-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/notify", dir);
    send_and_receive(path);
    unlink(path);
    rmdir(dir);

    char abstract[64];
    snprintf(abstract, sizeof abstract, "@evio-test-notify-%d", (int)getpid());
    send_and_receive(abstract);

    /* nobody listening: an error, not a hang or a signal */
    CHECK(notify_send("/nonexistent/evio-notify", "READY=1\n", 8) == ENOENT);
    CHECK(notify_send("relative", "READY=1\n", 8) == EINVAL);
}

int main(void)
{
    test_format();
    test_addr();
    test_send();
    return check_report("test_notify");
}
