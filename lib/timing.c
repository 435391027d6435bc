/* The monotonic clock and the retry schedule (see evio/timing.h). */
#include "evio/timing.h"

#include <time.h>

int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t backoff_ms(int failures, uint32_t r)
{
    int64_t d = BACKOFF_MIN_MS;
    for (int i = 1; i < failures && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > BACKOFF_MAX_MS)
        d = BACKOFF_MAX_MS;
    return d / 2 + (int64_t)(r % (uint32_t)(d / 2));
}
