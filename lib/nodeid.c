/* 128-bit node IDs: parsing, formatting, ordering, and the persistent ID kept
 * in the state directory. */
#include "evio/nodeid.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool nodeid_parse(const char *hex, struct nodeid *id)
{
    if (!hex || strlen(hex) != NODEID_HEX_LEN)
        return false;
    for (int i = 0; i < 16; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        id->b[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void nodeid_format(const struct nodeid *id, char out[NODEID_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[id->b[i] >> 4];
        out[2 * i + 1] = digits[id->b[i] & 15];
    }
    out[NODEID_HEX_LEN] = '\0';
}

int nodeid_cmp(const struct nodeid *a, const struct nodeid *b)
{
    return memcmp(a->b, b->b, sizeof a->b);
}

bool nodeid_random(struct nodeid *id)
{
    return getrandom(id->b, sizeof id->b, 0) == (ssize_t)sizeof id->b;
}

bool nodeid_from_fpr(const char *fpr, struct nodeid *id)
{
    /* 32 bytes "XX" joined by ':': 95 characters */
    if (!fpr || strlen(fpr) != 95)
        return false;
    for (int i = 0; i < 32; i++) {
        const char *p = fpr + 3 * i;
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1])
            || (i < 31 && p[2] != ':'))
            return false;
        if (i < 16) {
            char hex[3] = { p[0], p[1], '\0' };
            id->b[i] = (uint8_t)strtoul(hex, NULL, 16);
        }
    }
    return true;
}

