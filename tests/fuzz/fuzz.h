/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c): an invariant check that
 * aborts with a message (libFuzzer and the replay driver both report an
 * abort as a failure), and a reader that takes typed values off the front
 * of the input, giving zeros once it runs dry. See doc/fuzzing.md.
 *
 * Take one value per statement: two fz_* calls in one expression (function
 * arguments, an initializer list, both sides of an operator) are evaluated
 * in an order gcc and clang choose differently, and the gcc replay would
 * then run another script than the one libFuzzer saved. */
#ifndef EVIO_FUZZ_H
#define EVIO_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond, ...) do {                                            \
    if (!(cond)) {                                                             \
        fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__,   \
                #cond);                                                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        abort();                                                               \
    }                                                                          \
} while (0)

struct fz {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
    if (!f->n)
        return 0;
    f->n--;
    return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
    uint16_t hi = fz_u8(f);
    return (uint16_t)(hi << 8 | fz_u8(f));
}

static inline uint32_t fz_u32(struct fz *f)
{
    uint32_t hi = fz_u16(f);
    return hi << 16 | fz_u16(f);
}

static inline bool fz_bool(struct fz *f) { return fz_u8(f) & 1; }

/* Up to N bytes from the input (fewer when it runs dry): *GOT says how many. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t n, size_t *got)
{
    const uint8_t *p = f->p;
    if (n > f->n)
        n = f->n;
    f->p += n;
    f->n -= n;
    *got = n;
    return p;
}

#endif
