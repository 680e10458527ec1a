/* port_dgram.c - QEMU -netdev dgram peers.
 *
 * One bound datagram socket serves them all: each datagram is one frame,
 * and each address that sends becomes a port, so the switch tells VMs apart
 * as it does stream clients. A port sends at once; a full socket buffer
 * drops the frame (counted), as a datagram link does.
 *
 * A unix peer's path is resolved once, when it first sends: it must be a
 * socket (no symlink) owned by the sender (SO_PASSCRED), and a socket of
 * the port's own is connected to that very inode. A path resolved again
 * for each frame could be swapped for a link to another socket, which the
 * daemon would then write to with its own rights.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmnetd/error.h"
#include "vmnetd/port_dgram.h"

#define DGRAM_FRAME_MAX		65535	/* what QEMU's dgram netdev sends at most */
#define DGRAM_MIN_FRAME		60	/* padded towards QEMU, as on the stream */
#define DGRAM_IDLE_CHECK_NS	(60 * 1000 * 1000 * 1000LL)

struct dgram_server {
	struct loop *loop;
	struct endpoint ep;
	struct endpoint_file file;
	char *name;
	int fd;
	struct loop_watch watch;
	struct loop_timer *idle;
	struct loop_timer *reap;	/* closes the peers found gone */
	GHashTable *peers;		/* GBytes (the address) -> struct dgram_port * */
	unsigned next_peer;
	dgram_attach_fn attach;
	void *opaque;
};

struct dgram_port {
	struct port port;		/* first: the port layer sees only this */
	struct dgram_server *srv;	/* NULL once the server is gone */
	GBytes *key;
	struct sockaddr_storage addr;
	socklen_t len;
	int peer_fd;			/* unix: connected to the peer's socket; -1 for UDP */
	int64_t last_rx;
	bool gone;			/* its socket is gone: closed by the reaper */
};

static enum port_verdict dgram_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct dgram_port *dp = (struct dgram_port *)p;
	uint8_t padded[DGRAM_MIN_FRAME];

	if (!dp->srv || dp->gone)
		return PORT_DROPPED;
	if (len < DGRAM_MIN_FRAME) {
		memset(padded, 0, sizeof(padded));
		memcpy(padded, frame, len);
		frame = padded;
		len = sizeof(padded);
	}
	if ((dp->peer_fd >= 0 ? send(dp->peer_fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL)
			      : sendto(dp->srv->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL,
				       (struct sockaddr *)&dp->addr, dp->len)) >= 0)
		return PORT_QUEUED;
	/* A unix peer whose socket is gone will not come back at that path;
	 * closed after this iteration, as a deliver op closes nothing. */
	if (errno == ECONNREFUSED || errno == ENOENT || errno == ENOTCONN) {
		dp->gone = true;
		loop_timer_arm(dp->srv->reap, loop_now(dp->srv->loop));
	}
	return PORT_DROPPED;
}

static void dgram_close(struct port *p)
{
	struct dgram_port *dp = (struct dgram_port *)p;

	if (dp->srv)
		g_hash_table_remove(dp->srv->peers, dp->key);
	dp->srv = NULL;
}

static void dgram_destroy(struct port *p)
{
	struct dgram_port *dp = (struct dgram_port *)p;

	if (dp->peer_fd >= 0)
		close(dp->peer_fd);
	g_bytes_unref(dp->key);
}

static const struct port_ops dgram_ops = {
	.kind = "dgram",
	.deliver = dgram_deliver,
	.close = dgram_close,
	.destroy = dgram_destroy,
};

struct port *port_dgram_new(struct port_set *set, struct dgram_server *srv,
			    const struct sockaddr *addr, socklen_t len, int peer_fd, char *name)
{
	struct dgram_port *dp = g_new0(struct dgram_port, 1);

	dp->peer_fd = peer_fd;
	port_init(&dp->port, &dgram_ops, name);
	dp->port.max_frame = DGRAM_FRAME_MAX;
	dp->srv = srv;
	memcpy(&dp->addr, addr, len);
	dp->len = len;
	dp->key = g_bytes_new(addr, len);
	dp->last_rx = loop_now(srv->loop);
	if (!port_attach(set, &dp->port, -1, 0, NULL))
		return NULL;
	g_hash_table_insert(srv->peers, g_bytes_ref(dp->key), dp);
	g_message("%s: connected", name);
	return &dp->port;
}

/* "dgram:udp:127.0.0.1:5557 peer 2 (127.0.0.1:40102)" */
static char *peer_name(struct dgram_server *srv, const struct sockaddr_storage *ss)
{
	g_autofree char *peer = endpoint_addr_to_string(ss);

	return g_strdup_printf("%s peer %u (%s)", srv->name, ++srv->next_peer, peer);
}

/* A socket of our own, connected to the socket file at @path if that is a
 * socket (not a link) of @uid's; -1 otherwise. */
static int pin_unix_peer(const struct sockaddr_un *sun, socklen_t len, uid_t uid)
{
	g_autofree char *path = g_strndup(sun->sun_path, len - offsetof(struct sockaddr_un,
									   sun_path));
	g_autofree char *pinned = NULL;
	struct sockaddr_un via = { .sun_family = AF_UNIX };
	struct stat st;
	int pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC), s = -1;

	if (pfd < 0 || fstat(pfd, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != uid)
		goto out;
	pinned = g_strdup_printf("/proc/self/fd/%d", pfd);
	g_strlcpy(via.sun_path, pinned, sizeof(via.sun_path));
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&via, sizeof(via)) < 0) {
		close(s);
		s = -1;
	}
out:
	if (pfd >= 0)
		close(pfd);
	return s;
}

/* The port for a datagram from @ss, made on its first one; NULL: ignored.
 * @uid is the sender's (unix peers; (uid_t)-1 unknown). */
static struct dgram_port *peer_of(struct dgram_server *srv, const struct sockaddr_storage *ss,
				  socklen_t len, uid_t uid)
{
	g_autoptr(GBytes) key = g_bytes_new(ss, len);
	struct dgram_port *dp = g_hash_table_lookup(srv->peers, key);
	int peer_fd = -1;

	if (dp)
		return dp;
	if (ss->ss_family == AF_UNIX) {
		/* An unbound sender cannot be answered; one whose path is not its
		 * own socket may not be. */
		if (len <= offsetof(struct sockaddr_un, sun_path) + 1 ||
		    (peer_fd = pin_unix_peer((const struct sockaddr_un *)ss, len, uid)) < 0)
			return NULL;
	}
	dp = (struct dgram_port *)srv->attach(srv->opaque, srv, (const struct sockaddr *)ss, len,
					      peer_fd, peer_name(srv, ss));
	if (!dp && peer_fd >= 0)
		close(peer_fd);
	return dp;
}

/* The sender's uid from SCM_CREDENTIALS (unix sockets with SO_PASSCRED). */
static uid_t sender_uid(struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		struct ucred cred;

		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			return cred.uid;
		}
	}
	return (uid_t)-1;
}

static void on_readable(void *opaque, uint32_t events)
{
	struct dgram_server *srv = opaque;
	static uint8_t buf[DGRAM_FRAME_MAX + 1];	/* one thread; used before the next read */

	(void)events;
	for (int i = 0; i < DGRAM_READ_BATCH && srv->fd >= 0; i++) {
		struct sockaddr_storage ss;
		union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(struct ucred))]; } ctl;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg = { .msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = &iov,
				      .msg_iovlen = 1, .msg_control = ctl.b,
				      .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(srv->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		struct dgram_port *dp;

		if (n < 0)
			return;
		dp = n <= DGRAM_FRAME_MAX ? peer_of(srv, &ss, msg.msg_namelen, sender_uid(&msg))
					  : NULL;
		if (!dp)
			continue;
		dp->last_rx = loop_now(srv->loop);
		port_input(&dp->port, buf, (size_t)n);
	}
}

/* Which peers a sweep closes. */
static bool peer_gone(const struct dgram_port *dp)
{
	return dp->gone;
}

static bool peer_silent(const struct dgram_port *dp)
{
	return loop_now(dp->srv->loop) - dp->last_rx > DGRAM_UDP_IDLE_NS;
}

struct sweep {
	bool (*which)(const struct dgram_port *dp);
	GPtrArray *found;
};

static void collect(gpointer key, gpointer value, gpointer opaque)
{
	struct sweep *sw = opaque;

	(void)key;
	if (sw->which(value))
		g_ptr_array_add(sw->found, value);
}

/* Closes the peers @which picks; collected first, as closing one takes it
 * out of the table being walked. */
static void close_peers(struct dgram_server *srv, bool (*which)(const struct dgram_port *dp),
			const char *why)
{
	g_autoptr(GPtrArray) found = g_ptr_array_new();
	struct sweep sw = { which, found };

	g_hash_table_foreach(srv->peers, collect, &sw);
	for (guint i = 0; i < found->len; i++)
		port_close(g_ptr_array_index(found, i), why);
}

static void on_reap(void *opaque)
{
	close_peers(opaque, peer_gone, "its socket is gone");
}

static void on_idle_check(void *opaque)
{
	struct dgram_server *srv = opaque;

	close_peers(srv, peer_silent, "silent for 10 minutes");
	loop_timer_arm(srv->idle, loop_now(srv->loop) + DGRAM_IDLE_CHECK_NS);
}

struct dgram_server *dgram_server_new(struct loop *l, const struct endpoint *ep,
				      const struct socket_perms *perms, dgram_attach_fn attach,
				      void *opaque, GError **err)
{
	struct dgram_server *srv = g_new0(struct dgram_server, 1);

	srv->loop = l;
	endpoint_copy(&srv->ep, ep);
	srv->name = endpoint_to_string(ep);
	srv->attach = attach;
	srv->opaque = opaque;
	srv->peers = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
					   (GDestroyNotify)g_bytes_unref, NULL);
	srv->idle = loop_timer_new(l, on_idle_check, srv);
	srv->reap = loop_timer_new(l, on_reap, srv);
	srv->fd = endpoint_listen(ep, perms, &srv->file, err);
	if (srv->fd < 0 || !loop_watch_add(l, &srv->watch, srv->fd, EPOLLIN, on_readable, srv,
					   err)) {
		dgram_server_free(srv);
		return NULL;
	}
	if (ep->type == ENDPOINT_TCP)
		loop_timer_arm(srv->idle, loop_now(l) + DGRAM_IDLE_CHECK_NS);
	else
		setsockopt(srv->fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int));
	g_message("listening on %s", srv->name);
	return srv;
}

const char *dgram_server_name(const struct dgram_server *srv)
{
	return srv->name;
}

static void server_destroy(void *ptr)
{
	struct dgram_server *srv = ptr;

	g_hash_table_destroy(srv->peers);
	endpoint_clear(&srv->ep);
	g_free(srv->name);
	g_free(srv);
}

void dgram_server_free(struct dgram_server *srv)
{
	GList *ports;

	if (!srv)
		return;
	ports = g_hash_table_get_values(srv->peers);
	for (GList *it = ports; it; it = it->next)
		port_close(it->data, "its socket closed");
	g_list_free(ports);
	if (srv->fd >= 0) {
		loop_watch_del(srv->loop, &srv->watch);
		close(srv->fd);
		srv->fd = -1;
	}
	loop_timer_free(srv->idle);
	loop_timer_free(srv->reap);
	endpoint_unlink_own(&srv->ep, &srv->file);
	loop_defer_free(srv->loop, server_destroy, srv);
}
