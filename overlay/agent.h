/* The node agent: one process per node that joins its overlays' rooms,
 * supervises evio-tincan and evio-switchctl, and answers evioctl. agent.c is
 * the event loop and the control commands; the edges and their engines live
 * in edge.c and negotiate.c, the helpers in supervisor.c, the room in
 * signaling.c. */
#ifndef EVIO_AGENT_H
#define EVIO_AGENT_H

#include "evio/config.h"

int agent_run(struct config *, const char *tincan_exe, const char *switchctl_exe);

#endif
