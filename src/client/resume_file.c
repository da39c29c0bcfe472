/* resume_file.c: the client's kept reconnect secret; see resume_file.h. */
#include "resume_file.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "readfile.h"
#include "state_dir.h"

/* A secret is hex, a name a DNS label or digits: nothing else is taken from the file. */
static int
resume_file_word_ok(const char *s, size_t len, int hex_only)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
              (!hex_only && ((c >= 'g' && c <= 'z') || c == '-'))))
            return 0;
    }
    return len > 0;
}

static void
resume_file_read(struct resume_file *f)
{
    char *text = NULL, *sp;
    size_t len, nlen;
    struct ngr_err err;

    if (readfile(f->path, 256, &text, &len, &err) != 0)
        return;
    text[strcspn(text, "\n")] = '\0';
    sp = strchr(text, ' ');
    if (sp != NULL && sp - text == NGR_SECRET_LEN &&
        resume_file_word_ok(text, NGR_SECRET_LEN, 1)) {
        nlen = strlen(sp + 1);
        if (nlen < sizeof(f->name) && resume_file_word_ok(sp + 1, nlen, 0)) {
            memcpy(f->secret, text, NGR_SECRET_LEN);
            f->secret[NGR_SECRET_LEN] = '\0';
            memcpy(f->name, sp + 1, nlen + 1);
        }
    }
    free(text);
}

int
resume_file_open(struct resume_file *f, const char *gateway, const char *proto,
                 const char *target, struct ngr_err *err)
{
    char dir[NGR_STATE_PATH_LEN - 64], id[3 * NGR_ADDR_LEN + 16];
    uint8_t d[32];
    size_t n;

    memset(f, 0, sizeof(*f));
    f->lock_fd = -1;
    if (state_dir_default(0, dir, sizeof(dir) - 8, err) != 0)
        return NGR_ESYS;
    n = strlen(dir);
    memcpy(dir + n, "/client", 8);
    if (state_dir_make(dir, err) != 0)
        return NGR_ESYS;
    snprintf(id, sizeof(id), "%s %s %s", gateway, proto, target);
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, id, strlen(id), d) != 0)
        return err_set(err, NGR_ESYS, "no SHA-256");
    snprintf(f->path, sizeof(f->path), "%s/%02x%02x%02x%02x%02x%02x%02x%02x.lock", dir, d[0],
             d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
    f->lock_fd = open(f->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f->lock_fd < 0 || flock(f->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = f->lock_fd >= 0 && errno == EWOULDBLOCK;
        err_set(err, busy ? NGR_EEXIST : NGR_ESYS, "%s: %s", f->path,
                busy ? "another ngrnotok for this gateway and local service holds it"
                     : strerror(errno));
        if (f->lock_fd >= 0)
            close(f->lock_fd);
        f->lock_fd = -1;
        f->path[0] = '\0';
        return busy ? NGR_EEXIST : NGR_ESYS;
    }
    n = strlen(f->path);
    memcpy(f->path + n - 5, ".resume", 8);
    resume_file_read(f);
    return 0;
}

int
resume_file_save(const struct resume_file *f, struct ngr_err *err)
{
    char tmp[NGR_STATE_PATH_LEN + 8], line[NGR_SECRET_LEN + NGR_MAX_SUBDOMAIN + 4];
    int fd, n, ok;

    if (f->path[0] == '\0' || f->secret[0] == '\0')
        return 0;
    n = snprintf(line, sizeof(line), "%s %s\n", f->secret, f->name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(err, NGR_ESYS, "%s: %s", tmp, strerror(errno));
    ok = write(fd, line, (size_t)n) == n;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, f->path) != 0) {
        unlink(tmp);
        return err_set(err, NGR_ESYS, "%s: %s", f->path, strerror(errno));
    }
    return 0;
}

void
resume_file_forget(struct resume_file *f)
{
    if (f->path[0] != '\0')
        unlink(f->path);
    f->secret[0] = '\0';
    f->name[0] = '\0';
}
