/* service_notify.h: tell a service manager (systemd, Type=notify) where the gateway is in its
 * life: ready once it listens, reloading around SIGHUP, stopping when it drains. Built with
 * libsystemd (meson -Dsystemd=enabled/auto) each call is one sd_notify(3) datagram to
 * $NOTIFY_SOCKET; without $NOTIFY_SOCKET, or built without libsystemd, each does nothing. */
#ifndef NGR_SERVICE_NOTIFY_H
#define NGR_SERVICE_NOTIFY_H

/* READY=1, with status (borrowed; may be NULL) as STATUS=, the line systemctl status shows.
 * Sent once the listeners are bound, and again after a reload. */
void service_notify_ready(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC=, which newer systemd asks for): a SIGHUP re-read begins;
 * service_notify_ready ends it. */
void service_notify_reloading(void);
/* STOPPING=1: the gateway drains and then exits. */
void service_notify_stopping(void);

/* 1 when the build has libsystemd (so the calls above can reach a manager), else 0. */
int service_notify_built_in(void);

#endif
