/* no_ssh.c: keeps libcurl's SSH support from loading OpenSSL at startup.
 *
 * The client only ever speaks HTTP and HTTPS to its local service (every handle is limited to
 * http:// and https:// in replay.c). Debian's libcurl is built with libssh2, and curl_global_init() calls
 * libssh2_init(), which initialises OpenSSL's engines and reads its configuration: about
 * 1.5 MiB of libcrypto pages resident in every client, for scp:// and sftp:// we never use.
 *
 * Defining libssh2_init here makes the dynamic linker bind libcurl's call to this no-op
 * (the executable comes first in symbol lookup). Nothing is lost: libssh2 initialises itself
 * on first use (libssh2_session_init), and libssh2_exit does nothing when it was never
 * initialised. Measured in docs/performance.md ("Client memory"). */

int libssh2_init(int flags);

int
libssh2_init(int flags)
{
    (void)flags;
    return 0;
}
