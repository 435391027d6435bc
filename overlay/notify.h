/* Service readiness for a supervisor: the sd_notify datagram protocol
 * (systemd's NOTIFY_SOCKET), spoken without libsystemd. Formatting and
 * address parsing are pure; notify_send() is the only function doing I/O. */
#ifndef EVIO_NOTIFY_H
#define EVIO_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Formats one notification into BUF: "STATE\n" (e.g. "READY=1"), then
 * "STATUS=TEXT\n" when TEXT is not NULL (newlines in TEXT become spaces, as
 * the protocol is one assignment per line). Returns the length without the
 * terminating NUL, or 0 if it does not fit in SIZE or STATE is empty. */
size_t notify_format(char *buf, size_t size, const char *state, const char *status);

/* Parses a NOTIFY_SOCKET value: an absolute path, or "@name" for the
 * abstract namespace (the '@' becomes a leading NUL byte). Returns 0 and
 * fills SA and LEN, or EINVAL (empty or relative) or ENAMETOOLONG. */
int notify_addr(const char *value, struct sockaddr_un *sa, socklen_t *len);

/* Sends MSG (LEN bytes) as one datagram to the socket named by VALUE (a
 * NOTIFY_SOCKET value). Never blocks. Returns 0 or a positive errno. */
int notify_send(const char *value, const char *msg, size_t len);

#endif
