/* evio-switchctl's kernel interface settings for a bridge's internal port:
 * the overlay IPv4 address, the MTU and the up flag, through ioctls on the
 * device ovs-vswitchd created (no `ip` commands). */
#ifndef SWITCHCTL_NETIF_H
#define SWITCHCTL_NETIF_H

#include <stdbool.h>
#include <stdint.h>

/* Makes IFNAME up, with MTU (if > 0) and IP4/PREFIX_LEN (host order; skipped
 * when IP4 is 0) as its primary address. Does nothing that is already so.
 * Returns 0, ENODEV while the device does not exist yet, or another positive
 * errno. *CHANGED tells whether anything was set. */
int netif_configure(const char *ifname, uint32_t ip4, int prefix_len, int mtu, bool *changed);
/* Removes IFNAME's primary IPv4 address (one given up after a conflict).
 * Returns 0 or a positive errno (0 when it had none). */
int netif_clear_ipv4(const char *ifname);

#endif
