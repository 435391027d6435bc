/* 128-bit node IDs: parsing, formatting, ordering, and the persistent ID kept
 * in the state directory. */
#include "evio/nodeid.h"

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

int nodeid_load_or_create(const char *state_dir, struct nodeid *id, char **err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/node_id", state_dir);

    FILE *f = fopen(path, "r");
    if (f) {
        char buf[64] = "";
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!nodeid_parse(buf, id)) {
            if (asprintf(err, "%s: not a node id (expected 32 lowercase hex digits)", path) < 0)
                *err = NULL;
            return EINVAL;
        }
        return 0;
    }
    if (errno != ENOENT) {
        int e = errno;
        if (asprintf(err, "%s: %s", path, strerror(e)) < 0)
            *err = NULL;
        return e;
    }

    if (!nodeid_random(id)) {
        if (asprintf(err, "getrandom: %s", strerror(errno)) < 0)
            *err = NULL;
        return EIO;
    }
    /* write a temporary file and rename it, so a crash never leaves half an ID */
    char tmp[4200], hex[NODEID_HEX_LEN + 1];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    nodeid_format(id, hex);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dprintf(fd, "%s\n", hex) < 0 || fsync(fd) < 0 || close(fd) < 0
        || rename(tmp, path) < 0) {
        int e = errno;
        if (asprintf(err, "%s: %s", path, strerror(e)) < 0)
            *err = NULL;
        return e;
    }
    return 0;
}
