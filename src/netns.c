/* netns.c - a TAP inside another network namespace, and a watch on the
 * process that keeps it alive.
 *
 * The daemon itself never changes namespace: its NAT sockets must stay in
 * its own. A forked child enters the target's user namespace (when the
 * caller is unprivileged, as slirp4netns does) and network namespace,
 * creates and configures the TAP, and sends the descriptor back over a
 * socket pair with SCM_RIGHTS; the descriptor keeps working in the daemon.
 * It also keeps the namespace alive, so the end is noticed through the
 * target process (a pidfd), or --exit-fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmnetd/error.h"
#include "vmnetd/netns.h"
#include "vmnetd/port_tap.h"

/* What the child sends back: the TAP with a status, or an error. */
struct child_reply {
	int ok;
	char message[240];
};

static char *ns_path(const struct netns_target *t, const char *kind)
{
	return g_strdup_printf("/proc/%s/ns/%s", t->target, kind);
}

static bool same_ns(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino &&
	       sa.st_dev == sb.st_dev;
}

/* The user namespace to enter: the one given, or the target's when we are
 * not root and it is not ours (a rootless container's). */
static char *userns_path(const struct netns_target *t)
{
	g_autofree char *theirs = NULL;

	if (t->userns)
		return g_strdup(t->userns);
	if (t->is_path || geteuid() == 0)
		return NULL;
	theirs = ns_path(t, "user");
	if (same_ns(theirs, "/proc/self/ns/user"))
		return NULL;
	return g_steal_pointer(&theirs);
}

static bool open_ns(const struct netns_target *t, const char *path, int *fd, GError **err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd >= 0)
		return true;
	vmnetd_set_error(err, "--netns %s: %s: %s%s", t->target, path,
			 errno == ENOENT ? "no such process or namespace" : g_strerror(errno),
			 errno == EACCES || errno == EPERM ? " (the process is another user's: run "
			 "as its user, or as root)" : "");
	return false;
}

static bool add_default_route(int s, struct in_addr gateway, GError **err)
{
	struct rtentry rt = { .rt_flags = RTF_UP | RTF_GATEWAY };
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
	struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
	struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;

	dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
	gw->sin_addr = gateway;
	if (ioctl(s, SIOCADDRT, &rt) == 0 || errno == EEXIST)
		return true;
	vmnetd_set_error(err, "default route: %s", g_strerror(errno));
	return false;
}

/* In the namespace: lo up, then the TAP as slirp4netns --configure has it. */
static bool configure(const struct netns_target *t, GError **err)
{
	int s = netdev_socket(err);
	bool ok;

	if (s < 0)
		return false;
	ok = netdev_up(s, "lo", err) &&
	     tap_configure(t->ifname, t->mac, t->mtu, t->addr, t->mask, err) &&
	     add_default_route(s, t->gateway, err);
	close(s);
	return ok;
}

static int child_open(const struct netns_target *t, int userns, int netns, GError **err)
{
	int fd;

	if (userns >= 0 && setns(userns, CLONE_NEWUSER) < 0) {
		vmnetd_set_error(err, "cannot enter the user namespace: %s", g_strerror(errno));
		return -1;
	}
	if (setns(netns, CLONE_NEWNET) < 0) {
		vmnetd_set_error(err, "cannot enter the network namespace: %s%s", g_strerror(errno),
				 errno == EPERM ? " (not root: give --userns, or run as the "
				 "namespace's owner)" : "");
		return -1;
	}
	fd = tap_open(t->ifname, err);
	if (fd >= 0 && t->configure && !configure(t, err)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void child_send(int sock, int fd, const GError *err)
{
	struct child_reply r = { .ok = fd >= 0 };
	struct iovec iov = { &r, sizeof(r) };
	union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(int))]; } ctl;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&ctl, 0, sizeof(ctl));
	if (err)
		g_strlcpy(r.message, err->message, sizeof(r.message));
	if (fd >= 0) {
		struct cmsghdr *cm;

		msg.msg_control = ctl.b;
		msg.msg_controllen = sizeof(ctl.b);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		_exit(2);
}

static int receive_tap(int sock, pid_t child, const struct netns_target *t, GError **err)
{
	struct child_reply r = { 0 };
	struct iovec iov = { &r, sizeof(r) };
	union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(int))]; } ctl;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct pollfd pfd = { sock, POLLIN, 0 };
	struct cmsghdr *cm;
	int fd = -1;

	if (poll(&pfd, 1, NETNS_CHILD_TIMEOUT_MS) <= 0 ||
	    recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(r)) {
		kill(child, SIGKILL);	/* stuck entering: not waited for forever */
		vmnetd_set_error(err, "--netns %s: the helper process gave no answer", t->target);
		return -1;
	}
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (!r.ok || fd < 0) {
		r.message[sizeof(r.message) - 1] = 0;
		vmnetd_set_error(err, "--netns %s: %s", t->target, r.message);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static bool valid_target(const struct netns_target *t, GError **err)
{
	guint64 pid;

	if (t->is_path || g_ascii_string_to_unsigned(t->target, 10, 1, G_MAXINT32, &pid, NULL))
		return true;
	vmnetd_set_error(err, "--netns %s: not a process id (give a path with --netns-type=path)",
			 t->target);
	return false;
}

/* The process @pidfd names is still there: then the namespaces opened by
 * its pid since are its own, not those of a process that took the pid over. */
static bool still_there(const struct netns_target *t, int pidfd, GError **err)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	if (pidfd < 0 || poll(&p, 1, 0) == 0)
		return true;
	vmnetd_set_error(err, "--netns %s: the process exited", t->target);
	return false;
}

int netns_open_tap(const struct netns_target *t, int pidfd, GError **err)
{
	g_autofree char *user = userns_path(t);
	g_autofree char *net = t->is_path ? g_strdup(t->target) : ns_path(t, "net");
	int userns = -1, netns = -1, sv[2], fd = -1;
	pid_t child;

	if (!valid_target(t, err) || (user && !open_ns(t, user, &userns, err)) ||
	    !open_ns(t, net, &netns, err) || !still_there(t, pidfd, err))
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		vmnetd_set_error(err, "socketpair: %s", g_strerror(errno));
		goto out;
	}
	child = fork();
	if (child == 0) {
		g_autoptr(GError) e = NULL;
		int tap = child_open(t, userns, netns, &e);

		child_send(sv[1], tap, e);
		_exit(0);
	}
	close(sv[1]);
	if (child < 0)
		vmnetd_set_error(err, "fork: %s", g_strerror(errno));
	else
		fd = receive_tap(sv[0], child, t, err);
	close(sv[0]);
	if (child > 0)
		waitpid(child, NULL, 0);
out:
	if (userns >= 0)
		close(userns);
	if (netns >= 0)
		close(netns);
	return fd;
}

int netns_pidfd(const char *target, GError **err)
{
	guint64 pid;
	int fd;

	if (!g_ascii_string_to_unsigned(target, 10, 1, G_MAXINT32, &pid, NULL)) {
		vmnetd_set_error(err, "--netns %s: not a process id", target);
		return -1;
	}
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd < 0)
		vmnetd_set_error(err, "--netns %s: cannot watch the process: %s", target,
				 g_strerror(errno));
	return fd;
}
