/* service_notify.c: sd_notify(3) for the gateway's unit; see service_notify.h. A failed send
 * changes nothing for the gateway (the manager then times the start out, which says why), so
 * it is logged at debug level and not returned. */
#include "service_notify.h"
#include "log.h"

#ifdef NGR_HAVE_LIBSYSTEMD
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static void
service_notify_send(const char *state)
{
    int rc = sd_notify(0, state);

    if (rc < 0)
        log_debug("sd_notify %.*s: %s", (int)strcspn(state, "\n"), state, strerror(-rc));
}

void
service_notify_ready(const char *status)
{
    char msg[1024];

    if (status == NULL) {
        service_notify_send("READY=1");
        return;
    }
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%.*s", (int)strcspn(status, "\n"), status);
    service_notify_send(msg);
}

void
service_notify_reloading(void)
{
    struct timespec ts;
    char msg[64];

    /* MONOTONIC_USEC lets a manager that knows Type=notify-reload tell this reload from an
     * earlier one; older ones ignore it. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    service_notify_send(msg);
}

void
service_notify_stopping(void)
{
    service_notify_send("STOPPING=1");
}

int
service_notify_built_in(void)
{
    return 1;
}

#else /* no libsystemd: nothing to tell */

void
service_notify_ready(const char *status)
{
    (void)status;
}

void
service_notify_reloading(void)
{
}

void
service_notify_stopping(void)
{
}

int
service_notify_built_in(void)
{
    return 0;
}

#endif
