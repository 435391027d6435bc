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
/* Turns IFNAME's transmit checksum offload off (and with it TSO, which
 * needs it), unless it is off already; *CHANGED tells whether it was on.
 *
 * For the internal port of a bridge on OVS's userspace datapath: the host's
 * stack then finishes every checksum before OVS reads the frame. With it on,
 * the kernel hands over partial checksums in a virtio-net header, and OVS
 * 3.1 keeps only "finish the checksum of the outer TCP/UDP header": a
 * tunnel over the bridge (Flannel's flannel.1 VXLAN, any UDP encapsulation
 * the kernel offloads) sends its inner TCP/UDP checksum unfinished, and the
 * far pod drops every segment (ping works, TCP and UDP do not). It also
 * spares the bridge's own TCP OVS's TSO cut with the wrong segment size
 * (tincan/tcpseg.h). Returns 0 or a positive errno. */
int netif_tx_csum_off(const char *ifname, bool *changed);
/* Removes IFNAME's primary IPv4 address (one given up after a conflict).
 * Returns 0 or a positive errno (0 when it had none). */
int netif_clear_ipv4(const char *ifname);

#endif
