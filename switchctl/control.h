/* evio-switchctl's control-socket commands (bridge/status, port/add,
 * port/remove, port/sync, fdb/show, flows/show) and its event
 * (shortcut/hint), documented in doc/switchctl-control.md. */
#ifndef SWITCHCTL_CONTROL_H
#define SWITCHCTL_CONTROL_H

#include <stddef.h>

struct bridge_db;
struct ctl_server;
struct l2switch;

struct control_ctx {
    struct bridge_db *db;
    struct l2switch **switches;     /* one per overlay */
    size_t n_switches;
    unsigned long bad_requests;     /* rejected arguments */
    struct ctl_server *srv;         /* for events; set by control_register */
};

/* Registers the commands on SRV; CTX must outlive it. */
void control_register(struct ctl_server *srv, struct control_ctx *ctx);

#endif
