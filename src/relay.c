/* relay.c - guestfwd helper process: one guest connection, relayed to its target.
 *
 * libslirp starts "vmnetd --guestfwd-relay TARGET" for each connection the
 * guest opens to a guestfwd address, with the guest's socket on stdin and
 * stdout. Each direction is copied until its end, then half-closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmnetd/endpoint.h"
#include "vmnetd/relay.h"

struct pipe_dir {
	int from, to;
	bool done;
};

/* Copy what is there; false once the source ended or either side failed. */
static bool pump(struct pipe_dir *d)
{
	char buf[65536];
	ssize_t n = read(d->from, buf, sizeof(buf));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(d->to, buf + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			if (errno != EAGAIN)
				return false;
			struct pollfd p = { .fd = d->to, .events = POLLOUT };

			poll(&p, 1, -1);
			continue;
		}
		off += w;
	}
	return true;
}

/* Take one of RELAY_SLOTS slots by binding its abstract unix socket name:
 * the kernel frees it when this process ends, however it ends, and nothing
 * is left on disk. -1 when every slot is taken. */
static int take_slot(const char *key)
{
	for (int i = 0; i < RELAY_SLOTS; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int n = g_snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
				   "vmnetd-relay-%s-%d", key, i);

		if (fd < 0)
			return -1;
		if (bind(fd, (struct sockaddr *)&sun,
			 offsetof(struct sockaddr_un, sun_path) + 1 + n) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

/* libslirp hands the relay the guest's socket as stderr too: what it would
 * say there would reach the guest, never the operator. */
static void quiet_stderr(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

int relay_run(const char *target, const char *slot_key)
{
	struct endpoint ep;
	GError *err = NULL;
	int fd;

	quiet_stderr();
	if (slot_key && take_slot(slot_key) < 0)
		return 1;	/* RELAY_SLOTS relays run already: the guest sees a close */

	if (!endpoint_parse(target, "--guestfwd-relay", &ep, &err) ||
	    (fd = endpoint_connect(&ep, &err)) < 0) {
		g_printerr("vmnetd relay: %s\n", err->message);
		g_error_free(err);
		endpoint_clear(&ep);
		return 1;
	}
	endpoint_clear(&ep);

	struct pipe_dir dirs[2] = { { STDIN_FILENO, fd, false }, { fd, STDOUT_FILENO, false } };

	while (!dirs[0].done || !dirs[1].done) {
		struct pollfd p[2];

		for (int i = 0; i < 2; i++)
			p[i] = (struct pollfd){ .fd = dirs[i].done ? -1 : dirs[i].from,
						.events = POLLIN };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (dirs[i].done || !p[i].revents)
				continue;
			if (!pump(&dirs[i])) {
				dirs[i].done = true;
				shutdown(dirs[i].to, SHUT_WR);
			}
		}
	}
	close(fd);
	return 0;
}
