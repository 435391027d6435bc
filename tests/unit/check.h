/* A minimal unit-test harness: CHECK records a failure and goes on; each test
 * binary ends with check_report(), which prints "N passed, N failed" and
 * returns the exit status. */
#ifndef EVIO_TEST_CHECK_H
#define EVIO_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond) do {                                                     \
    if (cond) check_passed++;                                                \
    else { check_failed++;                                                   \
           fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

/* Compares two strings, NULL-safe, and prints both when they differ. */
#define CHECK_STR(got, want) do {                                            \
    const char *g_ = (got), *w_ = (want);                                    \
    if ((!g_ && !w_) || (g_ && w_ && !strcmp(g_, w_))) check_passed++;       \
    else { check_failed++;                                                   \
           fprintf(stderr, "%s:%d: CHECK_STR failed\n  got:  %s\n  want: %s\n", \
                   __FILE__, __LINE__, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
} while (0)

static inline int check_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
