/* Time for the agent's own loop: a monotonic millisecond clock, and the one
 * retry schedule for things that fail and are tried again (edges, the XMPP
 * session). */
#ifndef EVIO_TIMING_H
#define EVIO_TIMING_H

#include <stdint.h>

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

/* CLOCK_MONOTONIC in milliseconds. */
int64_t monotonic_ms(void);

/* Delay before retry number FAILURES (1, 2, ...): doubling from
 * BACKOFF_MIN_MS to a BACKOFF_MAX_MS ceiling, with jitter in [d/2, d) taken from R so that peers that
 * failed together do not retry together. */
int64_t backoff_ms(int failures, uint32_t r);

#endif
