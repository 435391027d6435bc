/* evio-switchctl's address conflict detection for an overlay with
 * "ip": "auto": the pure engine (evio/acd.h) wired to the bridge's internal
 * port. ARP goes out and comes in through an AF_PACKET socket on that
 * interface, so the probes and announcements enter the bridge exactly as
 * the kernel's own ARP does and the switch floods them to every node; the
 * claimed address is kept in STATE_DIR/address.OVERLAY and tried first at
 * the next start. */
#ifndef SWITCHCTL_ACDPORT_H
#define SWITCHCTL_ACDPORT_H

#include <stdbool.h>
#include <stdint.h>

struct acdport;
struct nodeid;

/* For overlay OVERLAY on bridge IFNAME, addresses in POOL/PREFIX_LEN. The
 * environment variable EVIO_TEST_ACD_FIRST=a.b.c.d (for tests) replaces the
 * stored address as the first candidate. */
struct acdport *acdport_create(const char *overlay, const char *ifname, uint32_t pool,
                               int prefix_len, const char *state_dir);
void acdport_destroy(struct acdport *);

/* Runs the engine once the node's ID is known and the interface exists
 * (IFNAME up): opens the socket, reads what came, sends what is due. When
 * the claimed address changes, returns true with *IP4 the address to
 * configure (0: remove the one configured). */
bool acdport_run(struct acdport *, const struct nodeid *self, long long now_ms, uint32_t *ip4);
/* poll-loop registration: the socket and the next timer */
void acdport_wait(struct acdport *);
/* Announce the claimed address again (the node's links changed). */
void acdport_reannounce(struct acdport *, long long now_ms);

/* For status: the engine's state name, the address in hand, conflicts
 * seen and defences sent. */
const char *acdport_state(const struct acdport *, uint32_t *ip4, unsigned long *conflicts,
                          unsigned long *defended);

#endif
