/* Host name resolution in a thread (resolver.h). The one thread in the agent:
 * getaddrinfo() has no non-blocking form that glibc makes safe to use without
 * threads (getaddrinfo_a runs a thread itself), and a resolver that does not
 * answer froze the agent's loop ~6 s per attempt. */
#include "resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shared by the loop and the lookup thread; the last of the two to let go
 * frees it (REFS). DONE is set by the thread once RESULT/ERROR are final. */
struct resolver {
    atomic_int refs;
    atomic_bool done;
    char *host;
    uint16_t port;
    struct resolver_result result;
    int gai_error;
    char error[160];
};

static void resolver_unref(struct resolver *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1) {
        free(r->host);
        free(r);
    }
}

/* Fills R from getaddrinfo(R->host) with flags FLAGS; returns its code. */
static int resolver_lookup(struct resolver *r, int flags)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = flags | AI_ADDRCONFIG };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(r->host, NULL, &hints, &res);
    if (rc == 0 && res) {
        struct resolver_result *o = &r->result;
        memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
        o->len = res->ai_addrlen;
        if (o->addr.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&o->addr;
            sin->sin_port = htons(r->port);
            inet_ntop(AF_INET, &sin->sin_addr, o->text, sizeof o->text);
        } else {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&o->addr;
            sin6->sin6_port = htons(r->port);
            inet_ntop(AF_INET6, &sin6->sin6_addr, o->text, sizeof o->text);
        }
    } else if (rc == 0) {
        rc = EAI_NONAME;
    }
    if (res)
        freeaddrinfo(res);
    r->gai_error = rc;
    if (rc)
        snprintf(r->error, sizeof r->error, "%s: name not resolved (%s)", r->host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    return rc;
}

static void *resolver_thread(void *arg)
{
    struct resolver *r = arg;
    resolver_lookup(r, 0);
    atomic_store(&r->done, true);
    resolver_unref(r);
    return NULL;
}

struct resolver *resolver_start(const char *host, uint16_t port)
{
    struct resolver *r = calloc(1, sizeof *r);
    if (!r || !(r->host = strdup(host))) {
        free(r);
        errno = ENOMEM;
        return NULL;
    }
    r->port = port;
    atomic_init(&r->refs, 1);
    atomic_init(&r->done, false);
    if (resolver_lookup(r, AI_NUMERICHOST) == 0) {
        atomic_store(&r->done, true);   /* an address: nothing to wait for */
        return r;
    }
    r->error[0] = '\0';
    atomic_fetch_add(&r->refs, 1);
    pthread_attr_t attr;
    pthread_t t;
    int e = pthread_attr_init(&attr);
    if (!e) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        e = pthread_create(&t, &attr, resolver_thread, r);
        pthread_attr_destroy(&attr);
    }
    if (e) {
        free(r->host);
        free(r);
        errno = e;
        return NULL;
    }
    return r;
}

bool resolver_poll(struct resolver *r, struct resolver_result *out, const char **err)
{
    if (!atomic_load(&r->done))
        return false;
    *err = r->gai_error ? r->error : NULL;
    if (!r->gai_error)
        *out = r->result;
    return true;
}

void resolver_free(struct resolver *r)
{
    if (r)
        resolver_unref(r);
}
