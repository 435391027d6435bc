/* The lean data path of one link: once ICE has selected a direct UDP pair
 * (host, server- or peer-reflexive; not a TURN relay), the link's records
 * bypass libnice. A socket of our own shares the selected local address and
 * port and is connected to the peer's, so the kernel hands it every
 * datagram from the peer (a connected socket outranks libnice's unconnected
 * one) and the NAT sees the same 5-tuple. It sends records in batches with
 * UDP GSO (UDP_SEGMENT: one syscall, one trip through the stack for a run
 * of equal-sized datagrams) and receives them coalesced with UDP_GRO; both
 * fall back to one datagram per call where the kernel refuses.
 *
 * libnice keeps its socket for anything from other addresses (a peer that
 * moved to another pair) and for its own checks; STUN from the peer that
 * lands here is counted and dropped (RFC 7983: first byte 0..3), which is
 * harmless since evio runs without consent freshness.
 *
 * Through a TURN relay the fast path only sends: records go out batched, as
 * TURN ChannelData on the channel libnice bound to the peer (RFC 8656
 * §12.4), from libnice's own socket to the server. Everything the server
 * sends back stays libnice's: it keeps the allocation, permission and
 * channel alive and hands us the peer's records as before. */
#ifndef TINCAN_FASTPATH_H
#define TINCAN_FASTPATH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FASTPATH_BATCH_BYTES 65000   /* one UDP GSO send at most */
#define FASTPATH_BATCH_SEGS  64      /* the kernel's UDP_MAX_SEGMENTS is 128 */
#define FASTPATH_RX_BUF      65536   /* one GRO'd receive at most */
#define FASTPATH_SOCKBUF     (4 << 20)

/* Owned by the caller, so they add up over the fast paths a link opens. */
struct fastpath_counters {
    uint64_t tx_sends, tx_datagrams;
    uint64_t tx_dropped;               /* datagrams the socket refused */
    uint64_t rx_reads, rx_datagrams, rx_stun, rx_kernel_drops;
};

struct fastpath {
    int fd;                            /* -1: not open */
    uint16_t channel;                  /* nonzero: TURN ChannelData on libnice's
                                        * socket (fastpath_turn), only sent on */
    bool gso, gro;                     /* what the kernel accepted */
    struct sockaddr_in local, remote;  /* remote: the peer or the TURN server */
    struct fastpath_counters *c;
    uint32_t drops_seen;               /* last SO_RXQ_OVFL value */
};

/* Every fast path of the process shares one send batch and one receive
 * buffer (all of them run on one thread), so an idle link costs no buffer
 * memory: a batch being built for one fast path is sent before another
 * queues. */

/* Called with each datagram received (borrowed for the call). */
typedef void (*fastpath_deliver_fn)(void *aux, const uint8_t *data, size_t len);

/* Opens the data socket beside BASE_FD (libnice's socket of the selected
 * pair, whose local address is shared) towards REMOTE, counting into
 * COUNTERS (which must outlive it). Returns false with *ERR (malloc'd); the
 * link then keeps sending through libnice. */
bool fastpath_open(struct fastpath *, int base_fd, const struct sockaddr_in *remote,
                   struct fastpath_counters *counters, char **err);
/* Sends through the TURN server SERVER on BASE_FD (libnice's socket of the
 * selected relayed pair, which stays libnice's to read and close), each
 * record as ChannelData on CHANNEL. */
bool fastpath_open_turn(struct fastpath *, int base_fd, const struct sockaddr_in *server,
                        uint16_t channel, struct fastpath_counters *counters, char **err);
/* Points a TURN fast path at SERVER and CHANNEL, sending what is batched
 * first; returns whether either changed. */
bool fastpath_turn_retarget(struct fastpath *, const struct sockaddr_in *server,
                            uint16_t channel);
void fastpath_close(struct fastpath *);   /* accepts a closed one */
static inline bool fastpath_active(const struct fastpath *fp) { return fp->fd >= 0; }
/* Whether it sends through a TURN server (fastpath_open_turn) */
static inline bool fastpath_turn(const struct fastpath *fp) { return fp->channel != 0; }

/* Adds one datagram to the batch, sending the batch first if it is full
 * or holds another fast path's datagrams.
 * A datagram the socket refuses is lost, as UDP's are, and counted in
 * tx_dropped. */
void fastpath_queue(struct fastpath *, const uint8_t *data, size_t len);
/* Sends what is batched for this fast path. */
void fastpath_flush(struct fastpath *);

/* Reads what is waiting, up to MAX_READS reads, handing each datagram that
 * is not STUN to DELIVER. Returns -1 on a socket error (errno set), else
 * the number of datagrams delivered. */
int fastpath_receive(struct fastpath *, int max_reads, fastpath_deliver_fn, void *aux);

/* A TURN ChannelData message's header (RFC 8656 §12.4) in its first
 * FASTPATH_CHANNEL_HDR bytes (the only ones read) of a datagram LEN bytes
 * long: the channel (0x4000..0x4fff) and the payload's length, which must
 * fit in the datagram. Returns false for anything else (STUN, a record, a
 * short or inconsistent one). Pure; for tests. */
#define FASTPATH_CHANNEL_HDR 4
bool fastpath_channel_data(const uint8_t *buf, size_t len, uint16_t *channel, size_t *payload_len);

/* Splits a GRO'd buffer of LEN bytes into datagrams of SEG bytes (the last
 * may be shorter); SEG 0 means one datagram. Pure; for tests. */
int fastpath_split(const uint8_t *buf, size_t len, size_t seg, fastpath_deliver_fn, void *aux);

/* Groups LEN[0..N-1] into GSO runs: returns how many datagrams from the
 * first one on can go in one UDP_SEGMENT send (all of the same length but
 * the last, which may be shorter). Pure; for tests. */
int fastpath_run(const uint16_t *len, int n);

#endif
