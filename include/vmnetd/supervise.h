/* supervise.h - living under a supervisor: readiness (--ready-fd as
 * slirp4netns, sd_notify under systemd), a pid file, --exit-fd, and
 * listening sockets handed over by systemd (socket activation). */
#ifndef VMNETD_SUPERVISE_H
#define VMNETD_SUPERVISE_H

#include <stdbool.h>

#include <glib.h>

#include "vmnetd/loop.h"

/* A listening socket systemd passed, and its FileDescriptorName=. */
struct passed_socket {
	int fd;
	char *name;		/* "unknown" when the unit names none (systemd's default) */
};

/* Every socket passed to this process (LISTEN_FDS for our pid), each made
 * close-on-exec and non-blocking; an empty array when none. */
GArray *supervise_passed_sockets(void);
/* GArray clear function for struct passed_socket: closes it unless taken (fd -1). */
void supervise_passed_socket_clear(void *p);

/* Writes our pid to @path (replacing the file) for supervisors that want one. */
bool supervise_write_pid_file(const char *path, GError **err);
/* Removes it if it still holds our pid. */
void supervise_remove_pid_file(const char *path);

/* Everything listens: write "1" to @ready_fd and close it (>= 0), and tell
 * systemd READY=1 (under Type=notify). */
void supervise_ready(int ready_fd);
/* Tells systemd a reload runs (true) or is done (false). */
void supervise_reloading(bool reloading);
/* Tells systemd we are stopping. */
void supervise_stopping(void);

struct exit_watch;
/* Calls @fn once @fd ends: the other end of a pipe or socket closes
 * (--exit-fd), a pidfd's process exits (--netns). @fd is taken, even on
 * failure. */
struct exit_watch *supervise_watch_end(struct loop *l, int fd, void (*fn)(void *opaque),
				       void *opaque, GError **err);
void supervise_exit_watch_free(struct exit_watch *w);

#endif
