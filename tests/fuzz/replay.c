/* Replays fuzz inputs through one target without libFuzzer, so make check
 * catches regressions with gcc alone (doc/fuzzing.md). Linked with one
 * tests/fuzz/fuzz_NAME.c; arguments are files or directories (every regular
 * file in them, in name order); with none, the target's committed corpus,
 * FUZZ_CORPUS (set by the Makefile). An input that breaks an invariant
 * aborts, a sanitizer reports its own findings; an empty or missing corpus
 * is a failure too, so a lost corpus cannot pass silently. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#ifndef FUZZ_CORPUS
#define FUZZ_CORPUS "."
#endif

static int replay_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "replay: %s: out of memory\n", path);
            fclose(f);
            return 1;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        uint8_t *more = realloc(buf, cap * 2);
        if (!more)
            free(buf);
        buf = more;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        return 1;
    }
    /* an exact-size copy, as libFuzzer passes it, so an overread shows */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*n)++;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_path(const char *path, size_t *n)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, n);
    struct dirent **names;
    int k = scandir(path, &names, NULL, by_name);
    if (k < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < k; i++) {
        char *file;
        if (names[i]->d_name[0] != '.' && asprintf(&file, "%s/%s", path, names[i]->d_name) >= 0) {
            if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
                rc |= replay_file(file, n);
            free(file);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    static const char *const fallback[] = { FUZZ_CORPUS };
    const char *const *paths = argc > 1 ? (const char *const *)argv + 1 : fallback;
    int n_paths = argc > 1 ? argc - 1 : 1;
    int rc = 0;

    for (int i = 0; i < n_paths; i++) {
        size_t n = 0;
        rc |= replay_path(paths[i], &n);
        printf("%s: %zu inputs replayed\n", paths[i], n);
        if (n == 0) {
            fprintf(stderr, "replay: %s: no inputs\n", paths[i]);
            rc = 1;
        }
    }
    return rc;
}
