/* evio-tincan's control commands (node/info, link/create, link/remote,
 * link/local, link/remove, link/stats) on its control socket, and the table
 * of links they act on. Documented in doc/tincan-control.md. */
#ifndef TINCAN_CONTROL_H
#define TINCAN_CONTROL_H

#include <stdint.h>

#include "link.h"


struct cert;
struct config;
struct ctl_server;
struct dtls_ctx;
struct servers;

struct control {
    struct ctl_server *srv;
    const struct cert *cert;
    struct link_env env;
    struct servers *servers;
    struct link **links;
    int n_links, cap_links;
    uint64_t rejected;       /* control requests refused with an error */
};

/* Registers the commands on SRV. Everything passed must outlive C;
 * SERVERS may be NULL. */
void control_init(struct control *c, struct ctl_server *srv, const struct config *cfg,
                  const struct cert *cert, struct dtls_ctx *dtls, struct servers *servers);
/* Removes every link (TAPs deleted, peers told) and frees the table. */
void control_destroy(struct control *c);

#endif
