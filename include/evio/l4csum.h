/* Completing partial TCP/UDP checksums in Ethernet frames, for the places
 * where a frame leaves the kernel's checksum offload behind (switchctl's
 * OVS packet-ins). Pure: bytes in, bytes out. */
#ifndef EVIO_L4CSUM_H
#define EVIO_L4CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A sender with checksum offload (a veth's default, a tap with
 * TUNSETOFFLOAD) leaves the TCP/UDP checksum "partial": the field holds the
 * folded pseudo-header sum, not complemented, for the device to finish. A
 * copy of the bytes that loses the offload state (AF_PACKET without a
 * virtio-net header, an OpenFlow packet-in) carries that value on, and the
 * receiver drops the segment. A full checksum equal to the pseudo-header sum
 * is also taken for partial; completing it rewrites the same value.
 *
 * Understood: Ethernet with up to two 802.1Q/802.1ad tags, IPv4 (options,
 * not fragments) or IPv6 (no extension headers), TCP or UDP; the lengths
 * come from the IP header and must fit in the frame (Ethernet padding is
 * left out). Anything else is left as it is. */
enum l4csum_result {
    L4CSUM_UNPARSED,    /* not such a frame, or cut short: untouched */
    L4CSUM_FULL,        /* the field is no partial sum (or UDP/IPv4 without one) */
    L4CSUM_COMPLETED,   /* it was partial and now holds the full checksum */
};

/* Where a frame's TCP or UDP segment lies, as this module reads it. */
struct l4csum_segment {
    size_t l3;          /* offset of the IP header */
    size_t l4;          /* offset of the TCP/UDP header */
    size_t end;         /* end of the IP packet (Ethernet padding left out) */
    bool ip4;           /* else IPv6 */
    bool udp;           /* else TCP */
};

/* Finds the TCP or UDP segment of FRAME (LEN bytes), a frame of the kinds
 * above; false if it is none. */
bool l4csum_segment(const uint8_t *frame, size_t len, struct l4csum_segment *out);

/* True if l4csum_complete() would complete FRAME (LEN bytes). */
bool l4csum_is_partial(const uint8_t *frame, size_t len);

/* Completes the checksum of FRAME (LEN bytes) in place if it is partial. */
enum l4csum_result l4csum_complete(uint8_t *frame, size_t len);

/* Computes FRAME's TCP/UDP checksum anew and writes it, whatever the field
 * held (for a segment whose bytes or lengths were changed: tincan/tcpseg.h).
 * False, and FRAME untouched, if it is not a frame this module understands. */
bool l4csum_refresh(uint8_t *frame, size_t len);

/* Computes the checksum of the IPv4 header at IP (its length from its IHL
 * field, which the caller has checked) anew and writes it. */
void l4csum_ip4_refresh(uint8_t *ip);

#endif
