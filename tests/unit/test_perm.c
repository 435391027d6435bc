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

/* Forks a child that connects to PATH as uid 65534 and asks "echo"; it
 * exits 0 if answered, 1 if the connection was closed first. */
static pid_t echo_as_nobody(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        if (setgid(65534) || setuid(65534))
            _exit(3);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa))
            _exit(4);
        const char *req = "{\"id\":1,\"cmd\":\"echo\",\"args\":{}}\n";
        if (write(fd, req, strlen(req)) < 0)
            _exit(1);                       /* closed before it could ask */
        char buf[256];
        ssize_t n = read(fd, buf, sizeof buf);
        _exit(n > 0 ? 0 : 1);
    }
    return pid;
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
    pid_t pid = echo_as_nobody(sock);
    int status = -1;
    for (int i = 0; i < 200; i++) {
        struct pollfd p = { ctl_server_fd(srv), POLLIN, 0 };
        poll(&p, 1, 10);
        ctl_server_run(srv);
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
    }
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 1))
        fprintf(stderr, "nobody's client: status 0x%x\n", status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);   /* closed without an answer */
    json_t *res = NULL;
    char *err = NULL;
    pid = fork();
    if (pid == 0) {
        /* root is answered */
        int rc = ctl_call(sock, "echo", NULL, 2000, &res, &err);
        _exit(rc ? 1 : 0);
    }
    status = -1;
    for (int i = 0; i < 300; i++) {
        struct pollfd p = { ctl_server_fd(srv), POLLIN, 0 };
        poll(&p, 1, 10);
        ctl_server_run(srv);
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
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
