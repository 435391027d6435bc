/* Cutting a TCP segment that is too long for a link into ones that fit.
 *
 * Open vSwitch's userspace datapath with userspace-tso-enable (3.1, as in
 * Debian 12) hands a TSO packet to a port without TSO as segments of
 * (port MTU - 54) payload bytes: it counts a 20-byte TCP header, so a
 * segment that carries options (timestamps 12 bytes, SACK blocks up to 28
 * more) comes out up to 26 bytes longer than the port's MTU allows. A host
 * that has data in flight both ways (an echo, a proxy, anything with SACK)
 * sends such segments all the time, and dropping them stalls its
 * connection. Cutting them again, the way the kernel's own GSO does, keeps
 * the stream going at the link's MTU.
 *
 * Pure: frames in, frames out, no I/O. IPv4 (no fragments) and IPv6 (TCP
 * as the first header), behind up to two 802.1Q/802.1ad tags. */
#ifndef TINCAN_TCPSEG_H
#define TINCAN_TCPSEG_H

#include <stddef.h>
#include <stdint.h>

/* The most segments one frame is cut into; a frame that would need more is
 * not cut (tcpseg_split returns 0). */
#define TCPSEG_MAX_OUT 8

/* Cuts Ethernet frame FRAME of LEN bytes, a TCP segment, into segments of
 * at most MAX bytes each (Ethernet header included), written one after the
 * other into OUT (OUT_SIZE bytes), their lengths in OUT_LEN. Sequence
 * numbers, IPv4 IDs and lengths follow on; FIN and PSH stay on the last,
 * CWR on the first; the IPv4 and TCP checksums are computed anew. Returns
 * the number of segments, or 0 when the frame is not a TCP segment this
 * can cut (not IPv4/IPv6 TCP, an IPv4 fragment, IPv6 extension headers,
 * URG set, lengths that disagree, headers that leave no room under MAX, or
 * more than TCPSEG_MAX_OUT pieces or OUT_SIZE bytes). */
int tcpseg_split(const uint8_t *frame, size_t len, size_t max, uint8_t *out, size_t out_size,
                 size_t out_len[TCPSEG_MAX_OUT]);

#endif
