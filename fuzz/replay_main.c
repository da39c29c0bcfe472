/* replay_main.c: a main() for fuzz targets built without libFuzzer. Feeds each file named on the
 * command line, or each file in a named directory, to LLVMFuzzerTestOneInput once, so seed
 * corpora and saved crashes run as ordinary tests in every build. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads path whole into an allocation of exactly its size, so a sanitizer sees any read past
 * the input's end. Returns 0, or -1 with a message printed. */
static int
replay_file(const char *path)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t size, got = 0;
    int fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "replay: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        fprintf(stderr, "replay: stat %s: %s\n", path, strerror(errno));
        goto fail;
    }
    size = (size_t)st.st_size;
    data = malloc(size > 0 ? size : 1);
    if (data == NULL) {
        fprintf(stderr, "replay: %s: out of memory for %zu bytes\n", path, size);
        goto fail;
    }
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "replay: read %s: %s\n", path, n < 0 ? strerror(errno) : "short");
            goto fail;
        }
        got += (size_t)n;
    }
    LLVMFuzzerTestOneInput(data, size);
    rc = 0;
fail:
    free(data);
    close(fd);
    return rc;
}

static int
replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file of dir, in name order; returns how many, or -1. */
static int
replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int count = 0;

    if (d == NULL) {
        fprintf(stderr, "replay: opendir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (nn == NULL)
                goto fail;
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL)
            goto fail;
        n++;
    }
    closedir(d);
    d = NULL;
    qsort(names, n, sizeof(*names), replay_cmp);
    for (i = 0; i < n && count >= 0; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (replay_file(path) < 0)
            count = -1;
        else
            count++;
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return count;
fail:
    fprintf(stderr, "replay: %s: out of memory\n", dir);
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (d != NULL)
        closedir(d);
    return -1;
}

int
main(int argc, char **argv)
{
    int i, total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        int n;

        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) == 0 ? 1 : -1);
        if (n < 0)
            return 1;
        total += n;
    }
    /* An empty corpus would make this test pass while testing nothing. */
    if (total == 0) {
        fprintf(stderr, "replay: no input files\n");
        return 1;
    }
    printf("replayed %d input%s\n", total, total == 1 ? "" : "s");
    return 0;
}
