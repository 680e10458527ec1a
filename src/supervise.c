/* supervise.c - what supervisors ask of a daemon: readiness, a pid file,
 * an exit descriptor, and sockets handed over by systemd. systemd's side
 * goes through libsystemd (sd_notify, sd_listen_fds_with_names) when the
 * build has it (-Dsystemd). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "config.h"
#include "vmnetd/error.h"
#include "vmnetd/supervise.h"

#if VMNETD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static void notify(const char *state)
{
#if VMNETD_HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

void supervise_passed_socket_clear(void *p)
{
	struct passed_socket *ps = p;

	if (ps->fd >= 0)
		close(ps->fd);
	g_free(ps->name);
}

GArray *supervise_passed_sockets(void)
{
	GArray *out = g_array_new(FALSE, TRUE, sizeof(struct passed_socket));

	g_array_set_clear_func(out, supervise_passed_socket_clear);
#if VMNETD_HAVE_SYSTEMD
	char **names = NULL;
	/* Unset the variables: a guestfwd relay we start must not take them. */
	int n = sd_listen_fds_with_names(1, &names);

	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct passed_socket ps = { fd, g_strdup(names && names[i] ? names[i]
								      : "unknown") };

		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		g_array_append_val(out, ps);
	}
	g_strfreev(names);
#else
	if (g_getenv("LISTEN_FDS"))
		g_warning("LISTEN_FDS set, but this vmnetd was built without systemd support: "
			  "the passed sockets are not used");
#endif
	return out;
}

bool supervise_write_pid_file(const char *path, GError **err)
{
	g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());

	if (!g_file_set_contents(path, pid, -1, err)) {
		g_prefix_error(err, "--pid-file: ");
		return false;
	}
	return true;
}

void supervise_remove_pid_file(const char *path)
{
	g_autofree char *text = NULL;

	if (path && g_file_get_contents(path, &text, NULL, NULL) &&
	    atoi(text) == (int)getpid())
		unlink(path);
}

void supervise_ready(int ready_fd)
{
	if (ready_fd >= 0) {
		/* As slirp4netns: one byte "1", then the descriptor closes. */
		if (write(ready_fd, "1", 1) != 1)
			g_warning("--ready-fd %d: %s", ready_fd, g_strerror(errno));
		close(ready_fd);
	}
	notify("READY=1");
}

void supervise_reloading(bool reloading)
{
	notify(reloading ? "RELOADING=1" : "READY=1");
}

void supervise_stopping(void)
{
	notify("STOPPING=1");
}

struct exit_watch {
	struct loop *loop;
	struct loop_watch watch;
	int fd;
	void (*fn)(void *opaque);
	void *opaque;
};

static void on_exit_fd(void *opaque, uint32_t events)
{
	struct exit_watch *w = opaque;
	char buf[64];
	ssize_t n = read(w->fd, buf, sizeof(buf));

	/* Only the end counts: what the parent writes is not ours to read. A
	 * pidfd cannot be read at all: readable, it has ended. */
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		if (!(events & (EPOLLHUP | EPOLLERR)))
			return;
	loop_watch_del(w->loop, &w->watch);
	w->fn(w->opaque);
}

struct exit_watch *supervise_watch_end(struct loop *l, int fd, void (*fn)(void *opaque),
				       void *opaque, GError **err)
{
	struct exit_watch *w = g_new0(struct exit_watch, 1);

	*w = (struct exit_watch){ .loop = l, .fd = fd, .fn = fn, .opaque = opaque };
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (!loop_watch_add(l, &w->watch, fd, EPOLLIN, on_exit_fd, w, err)) {
		close(fd);
		g_free(w);
		return NULL;
	}
	return w;
}

void supervise_exit_watch_free(struct exit_watch *w)
{
	if (!w)
		return;
	loop_watch_del(w->loop, &w->watch);
	close(w->fd);
	g_free(w);
}
