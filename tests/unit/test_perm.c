/* Unit tests of the startup checks (lib/perm.c) on real files and
 * directories, of how a config's secrets are traced to their files
 * (lib/config.c), and of the control socket's peer check (lib/ctl.c): a
 * process of another user is refused even when the socket's mode lets it
 * connect. Needs root for the last part (it runs as nobody in a child). */
#include "check.h"
#include "evio/config.h"
#include "evio/ctl.h"
#include "evio/perm.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static char *path_in(const char *name)
{
    static char buf[8][160];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_files(void)
{
    char *f = path_in("secret");
    write_file(f, "pw\n", 0600);
    CHECK(perm_check_secret_file(f, "password_file") == NULL);
    chmod(f, 0640);
    char *e = perm_check_secret_file(f, "password_file");
    CHECK(e && strstr(e, "readable by others (mode 0640)") && strstr(e, "chmod 600"));
    free(e);
    chmod(f, 0602);
    e = perm_check_secret_file(f, "password_file");
    CHECK(e && strstr(e, "writable by others"));
    free(e);
    chown(f, 65534, 65534);
    chmod(f, 0600);
    e = perm_check_secret_file(f, "password_file");
    CHECK(e && strstr(e, "owned by uid 65534"));
    free(e);
    e = perm_check_secret_file(path_in("missing"), "password_file");
    CHECK(e && strstr(e, "No such file"));
    free(e);

    char *d = path_in("state");
    mkdir(d, 0700);
    CHECK(perm_check_dir(d, "state_dir") == NULL);
    chmod(d, 0755);
    CHECK(perm_check_dir(d, "state_dir") == NULL);      /* readable is fine */
    chmod(d, 0775);
    e = perm_check_dir(d, "state_dir");
    CHECK(e && strstr(e, "writable by others (mode 0775)") && strstr(e, "chmod go-w"));
    free(e);
    CHECK(perm_check_dir(path_in("not-yet"), "run_dir") == NULL);
    e = perm_check_dir(f, "run_dir");
    CHECK(e && strstr(e, "not a directory"));
    free(e);
}

static int n_reported;
static void count(void *aux, const char *problem)
{
    n_reported++;
    if (aux)
        CHECK(strstr(problem, (const char *)aux) != NULL);
}

static void test_config(void)
{
    char *pwf = path_in("xmpp.pw");
    write_file(pwf, "secret\n", 0644);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"node\": {\"state_dir\": \"%s\", \"run_dir\": \"%s\"},"
             " \"xmpp\": {\"host\": \"x.test\", \"user\": \"a@x.test\", \"password_file\": \"%s\"},"
             " \"overlays\": {\"lab\": {\"bridge\": {\"name\": \"evbr0\", \"ip\": \"10.1.0.1/24\"}}}}",
             path_in("state"), path_in("run"), pwf);
    char *cf = path_in("a.json");
    write_file(cf, text, 0644);             /* no inline secret: may be readable */
    struct config cfg;
    char *err = NULL;
    CHECK(config_load(cf, &cfg, &err) == 0);
    free(err);
    CHECK(cfg.strict_modes && !cfg.inline_secrets && cfg.n_secret_files == 1);
    n_reported = 0;
    CHECK(perm_check_config(&cfg, false, count, "password_file") == 1 && n_reported == 1);
    chmod(pwf, 0600);
    CHECK(perm_check_config(&cfg, true, count, NULL) == 1);   /* state_dir is 0775 */
    chmod(path_in("state"), 0700);
    CHECK(perm_check_config(&cfg, true, count, NULL) == 0);
    config_free(&cfg);

    /* an inline password makes the config itself a secret */
    snprintf(text, sizeof text,
             "{\"node\": {\"state_dir\": \"%s\", \"run_dir\": \"%s\", \"strict_modes\": false},"
             " \"xmpp\": {\"host\": \"x.test\", \"user\": \"a@x.test\", \"password\": \"pw\"},"
             " \"overlays\": {\"lab\": {\"bridge\": {\"name\": \"evbr0\", \"ip\": \"10.1.0.1/24\"}}}}",
             path_in("state"), path_in("run"));
    write_file(cf, text, 0644);
    CHECK(config_load(cf, &cfg, &err) == 0);
    CHECK(!cfg.strict_modes && cfg.inline_secrets);
    CHECK(perm_check_config(&cfg, false, count, "holds passwords") == 1);
    chmod(cf, 0600);
    CHECK(perm_check_config(&cfg, false, count, NULL) == 0);
    config_free(&cfg);
}

/* Connects to PATH as effective uid EUID (the kernel records the peer's
 * credentials at connect(): no child process is needed, so the test also
 * runs under qemu-user), asks "echo", serves SRV meanwhile, and returns
 * whether an answer came back before the server closed the connection. */
static bool echo_as(struct ctl_server *srv, const char *path, uid_t euid)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (euid && seteuid(euid)) {
        CHECK(!"seteuid");
        close(fd);
        return false;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (euid && seteuid(0))
        CHECK(!"seteuid back");
    CHECK(rc == 0);
    const char *req = "{\"id\":1,\"cmd\":\"echo\",\"args\":{}}\n";
    bool answered = false, closed = false;
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
        closed = true;
    for (int i = 0; i < 200 && !answered && !closed; i++) {
        struct pollfd p[2] = { { ctl_server_fd(srv), POLLIN, 0 }, { fd, POLLIN, 0 } };
        poll(p, 2, 10);
        ctl_server_run(srv);
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0)
            answered = memmem(buf, (size_t)n, "\"ok\":true", 9) != NULL;
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            closed = true;
    }
    close(fd);
    return answered;
}

static void test_socket(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_perm: the socket test needs root\n");
        CHECK(!"run as root");
        return;
    }
    chmod(dir, 0755);
    char *sock = path_in("ctl.sock");
    struct ctl_server *srv = NULL;
    CHECK(ctl_server_open(sock, &srv) == 0);
    chmod(sock, 0666);                      /* the file mode would let anyone in */
    CHECK(!echo_as(srv, sock, 65534));      /* another user: closed without an answer */
    CHECK(echo_as(srv, sock, 0));           /* root: answered */
    ctl_server_close(srv);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/evio-test-perm.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_files();
    test_config();
    test_socket();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_report("test_perm");
}
