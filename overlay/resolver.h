/* Host name resolution off the agent's loop: getaddrinfo() blocks for as
 * long as the resolver takes (about 10 s when it does not answer), so each
 * lookup runs in a thread of its own and the loop asks whether it is done. */
#ifndef EVIO_RESOLVER_H
#define EVIO_RESOLVER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct resolver;

struct resolver_result {
    struct sockaddr_storage addr;   /* the first address, with PORT */
    socklen_t len;
    char text[64];                  /* "ip" of addr, for logs and libstrophe */
};

/* Starts looking HOST up (a name or a numeric address; PORT is put into the
 * result). A numeric HOST is answered at once, without a thread. Returns
 * NULL when out of memory or no thread could start (errno set). */
struct resolver *resolver_start(const char *host, uint16_t port);

/* Non-blocking. False while the lookup runs. Once done: true, and either
 * *OUT filled and *ERR NULL, or *ERR a static text ("name not resolved: ...")
 * naming what failed. */
bool resolver_poll(struct resolver *, struct resolver_result *out, const char **err);

/* Lets go of the lookup; a thread still blocked in getaddrinfo() frees what
 * it shares when it returns. Accepts NULL. */
void resolver_free(struct resolver *);

#endif
