/* test_network.c - a network built from its configuration, listed, and torn
 * down from inside the loop's own callbacks (run under ASan to prove it). */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <netinet/in.h>

#include "nat_net.h"
#include "vmnetd/listener.h"
#include "vmnetd/network.h"
#include "vmnetd/port_stream.h"

#define SEC 1000000000LL

struct ctx {
	struct loop *l;
	struct network *net;
	struct loop_timer *guard;
	struct loop_hook *hook;
	unsigned hook_runs;
	bool closed;
};

static void on_guard(void *opaque)
{
	struct ctx *c = opaque;

	loop_quit(c->l);
	g_assert_not_reached();
}

static void count_port(struct port *p, void *opaque)
{
	(void)p;
	(*(unsigned *)opaque)++;
}

static unsigned port_count(struct network *net)
{
	unsigned n = 0;

	network_foreach_port(net, count_port, &n);
	return n;
}

static const uint8_t vm_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x42 };

struct fdb_seen {
	bool vm;		/* vm_mac, learned on a stream port */
	unsigned statics;	/* the NAT's own MACs */
};

static void note_entry(const uint8_t mac[6], struct port *p, bool is_static, int64_t age,
		       void *opaque)
{
	struct fdb_seen *seen = opaque;

	(void)age;
	if (!memcmp(mac, vm_mac, 6) && !strcmp(p->ops->kind, "stream") && !is_static)
		seen->vm = true;
	seen->statics += is_static;
}

/* Quits the loop once the VM's port has attached and its MAC is listed. */
static int wait_for_port(void *opaque, struct loop *l)
{
	struct ctx *c = opaque;
	struct fdb_seen seen = { 0 };

	c->hook_runs++;
	if (c->net)
		network_foreach_fdb(c->net, note_entry, &seen);
	if (c->net && port_count(c->net) == 2 && seen.vm) {
		loop_del_hook(l, c->hook);	/* a hook deleting itself */
		loop_quit(l);
	}
	return 10;
}

/* The VM port's close callback tears the whole network down. */
static void free_net_on_close(void *opaque, struct port *p)
{
	struct ctx *c = opaque;

	(void)p;
	network_free(c->net);
	c->net = NULL;
	c->closed = true;
	loop_quit(c->l);
}

static void attach_first(struct port *p, void *opaque)
{
	if (!strcmp(p->ops->kind, "stream")) {
		g_assert_cmpuint(p->stats.rx_frames, ==, 1);	/* counters are live */
		g_assert_true(p->has_mac);
		port_on_close(p, free_net_on_close, opaque);
	}
}

static void test_free_from_callback(void)
{
	g_autofree char *dir = g_dir_make_tmp("vmnetd-net-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "t.sock", NULL);
	struct endpoint ep = { .type = ENDPOINT_UNIX, .path = path };
	struct net_config nc;
	struct ctx c = { 0 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	test_nat_net(&nc, "t", NULL);
	c.l = loop_new();
	c.net = network_new(c.l, &nc, "--nat", "vmnetd", NULL);
	g_assert_nonnull(c.net);
	g_assert_cmpuint(port_count(c.net), ==, 1);		/* the uplink */
	g_assert_true(network_listen(c.net, &ep, &(struct socket_perms){ 0600, (gid_t)-1 }, NULL));
	c.guard = loop_timer_new(c.l, on_guard, &c);
	loop_timer_arm(c.guard, clock_now_ns() + 10 * SEC);

	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	{
		/* One broadcast frame in QEMU's stream framing. */
		uint8_t msg[4 + 60] = { 0, 0, 0, 60 };

		memset(msg + 4, 0xff, 6);
		memcpy(msg + 10, vm_mac, 6);
		msg[16] = 0x08;
		msg[17] = 0x06;
		g_assert_cmpint(write(fd, msg, sizeof(msg)), ==, sizeof(msg));
	}
	c.hook = loop_add_hook(c.l, wait_for_port, &c);
	loop_run(c.l);
	g_assert_cmpuint(port_count(c.net), ==, 2);
	{
		struct fdb_seen seen = { 0 };

		network_foreach_fdb(c.net, note_entry, &seen);
		g_assert_cmpuint(seen.statics, >=, 2);	/* gateway and DNS, at least */
	}
	network_foreach_port(c.net, attach_first, &c);

	close(fd);			/* the VM leaves: its close frees the network */
	loop_run(c.l);
	g_assert_true(c.closed);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));	/* socket file removed */

	loop_timer_free(c.guard);
	loop_free(c.l);
	nat_config_clear(&nc.nat);
	g_rmdir(dir);
}

/* A TCP listener on loopback whose accept queue is full: further SYNs get
 * no answer, so a connect to it stays in progress (a stand-in for an
 * unreachable host that sends nothing to any other address). */
static int full_listener(uint16_t *port, int *filler)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	g_assert_cmpint(listen(fd, 0), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &len), ==, 0);
	*port = ntohs(sin.sin_port);
	*filler = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(connect(*filler, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	return fd;
}

static struct port *never_attach(void *opaque, int fd, char *name)
{
	(void)opaque;
	(void)fd;
	(void)name;
	g_assert_not_reached();
	return NULL;
}

struct ticks {
	struct loop *l;
	struct loop_timer *t;
	int64_t start;
	unsigned n;
};

static void on_tick(void *opaque)
{
	struct ticks *k = opaque;

	if (++k->n == 20)
		loop_quit(k->l);
	else
		loop_timer_arm(k->t, loop_now(k->l) + 10 * 1000000LL);
}

/* A connect that hangs holds neither connector_new() nor the loop. */
static void test_connect_never_blocks(void)
{
	struct loop *l = loop_new();
	uint16_t port;
	int filler, lfd = full_listener(&port, &filler);
	struct endpoint ep = { .type = ENDPOINT_TCP, .host = "127.0.0.1", .port = port };
	struct ticks k = { .l = l };
	struct connector *co;
	int64_t t0 = clock_now_ns();

	co = connector_new(l, &ep, never_attach, NULL, NULL);
	g_assert_nonnull(co);
	g_assert_cmpint(clock_now_ns() - t0, <, SEC / 2);
	k.t = loop_timer_new(l, on_tick, &k);
	loop_timer_arm(k.t, clock_now_ns());
	loop_run(l);			/* 20 ticks, 10 ms apart */
	g_assert_cmpint(clock_now_ns() - t0, <, 2 * SEC);
	connector_free(co);		/* mid-connect */
	loop_timer_free(k.t);
	loop_free(l);
	close(filler);
	close(lfd);
}

static struct port *count_attach(void *opaque, int fd, char *name)
{
	(*(unsigned *)opaque)++;
	close(fd);
	g_free(name);
	return NULL;
}

static int count_iterations(void *opaque, struct loop *l)
{
	(void)l;
	(*(unsigned *)opaque)++;
	return -1;
}

static void quit_loop(void *opaque)
{
	loop_quit(opaque);
}

/* Out of descriptors, a listener rests instead of spinning the loop on a
 * connection it cannot accept, and accepts it once descriptors are back. */
static void test_listener_out_of_fds(void)
{
	g_autofree char *dir = g_dir_make_tmp("vmnetd-fds-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "t.sock", NULL);
	struct endpoint ep = { .type = ENDPOINT_UNIX, .path = path };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct loop *l = loop_new();
	unsigned accepted = 0, iterations = 0;
	struct listener *li = listener_new(l, &ep, &(struct socket_perms){ 0600, (gid_t)-1 }, count_attach, &accepted, NULL);
	struct loop_timer *stop = loop_timer_new(l, quit_loop, l);
	struct rlimit saved, low;
	int fd, spare;

	g_assert_nonnull(li);
	loop_add_hook(l, count_iterations, &iterations);
	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	/* No descriptor left for accept4(). */
	getrlimit(RLIMIT_NOFILE, &saved);
	spare = dup(0);
	low = saved;
	low.rlim_cur = spare;
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	loop_timer_arm(stop, clock_now_ns() + 300 * 1000000LL);
	loop_run(l);
	g_assert_cmpuint(accepted, ==, 0);
	g_assert_cmpuint(iterations, <, 50);	/* resting, not spinning */
	setrlimit(RLIMIT_NOFILE, &saved);
	loop_timer_arm(stop, clock_now_ns() + 500 * 1000000LL);
	loop_run(l);
	g_assert_cmpuint(accepted, ==, 1);
	close(spare);
	close(fd);
	listener_free(li);
	loop_timer_free(stop);
	loop_free(l);
	g_rmdir(dir);
}

/* The queues of one network hold together at most what its set allows
 * beyond each port's own: VMs that do not read cannot add up to more,
 * whatever floods them, and cannot take another port's own share. */
static void test_queued_bound(void)
{
	struct loop *l = loop_new();
	struct vswitch *sw = switch_new(SWITCH_AGEING_NS);
	struct port_set *set = port_set_new(l, sw);
	struct port *ports[8];
	int peers[8];
	uint8_t f[1500] = { 0 };

	port_set_limit_queued(set, 1 << 20);
	for (int i = 0; i < 8; i++) {
		int sv[2];

		g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), ==, 0);
		peers[i] = sv[1];		/* never read */
		ports[i] = port_stream_new(set, sv[0], g_strdup_printf("vm%d", i));
		g_assert_nonnull(ports[i]);
	}
	memset(f, 0xff, 6);			/* broadcast, from vm0 */
	memcpy(f + 6, vm_mac, 6);
	f[12] = 0x08;
	for (int i = 0; i < 2000; i++)
		port_input(ports[0], f, sizeof(f));	/* no iteration ran: nothing flushed */
	g_assert_cmpuint(port_set_queued(set), <=, 1 << 20);
	g_assert_cmpuint(port_set_queued(set), >, (1 << 20) - 2 * sizeof(f));
	g_assert_cmpuint(ports[1]->stats.tx_drops + ports[7]->stats.tx_drops, >, 0);
	/* The pool is gone, yet a port with an empty queue still takes frames. */
	{
		uint64_t before = ports[0]->stats.tx_frames;

		memcpy(f + 6, (uint8_t[6]){ 0x52, 0x54, 0, 0, 0, 0x77 }, 6);
		port_input(ports[1], f, sizeof(f));
		g_assert_cmpuint(ports[0]->stats.tx_frames, ==, before + 1);
	}
	port_set_free(set);			/* closing gives it all back */
	loop_free(l);
	switch_free(sw);
	for (int i = 0; i < 8; i++)
		close(peers[i]);
}

/* A port whose device vanishes while its queue is written, as a bridged
 * uplink's does: its flush op lets go of the descriptor (port_fd_detach)
 * and reports success. */
static bool vanishing_flush(struct port *p)
{
	port_fd_detach(p);
	return true;
}

static void ignore_read(struct port *p)
{
	char buf[64];

	(void)!read(p->fd, buf, sizeof(buf));
}

static const struct port_ops vanishing_ops = {
	.kind = "vanishing", .read = ignore_read, .flush = vanishing_flush,
};

static const struct port_ops plain_ops = { .kind = "plain", .read = ignore_read };

static struct port *fd_port(struct port_set *set, const struct port_ops *ops, const char *name,
			    int *peer)
{
	struct port *p = g_new0(struct port, 1);
	int sv[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), ==,
			0);
	*peer = sv[1];
	port_init(p, ops, g_strdup(name));
	g_assert_true(port_attach(set, p, sv[0], 4u << 20, NULL));
	return p;
}

/* The pool's count follows a queue that a flush emptied by detaching the
 * device: not counted out twice (the pool once went to ~2^64 and every
 * port's frames were dropped after); the frames lost with the device are
 * counted as drops; another port still queues. */
static void test_detach_in_flush(void)
{
	struct loop *l = loop_new();
	struct vswitch *sw = switch_new(SWITCH_AGEING_NS);
	struct port_set *set = port_set_new(l, sw);
	struct loop_timer *stop = loop_timer_new(l, quit_loop, l);
	uint8_t f[1500] = { 0 };
	unsigned queued = 0;
	int peer, peer2;
	struct port *p = fd_port(set, &vanishing_ops, "bridged", &peer), *p2;

	memset(f, 0xff, 6);
	memcpy(f + 6, vm_mac, 6);
	f[12] = 0x08;
	/* Past the port's own 256 KiB, into the shared pool. */
	while (txring_used(&p->tx) < PORT_QUEUE_OWN + (64u << 10)) {
		g_assert_cmpint(port_deliver(p, f, sizeof(f)), ==, PORT_QUEUED);
		queued++;
	}
	g_assert_cmpuint(port_set_queued(set), >, 0);
	g_assert_cmpuint(port_set_queued(set), <, 1u << 20);
	g_assert_cmpuint(p->stats.tx_drops, ==, 0);

	loop_timer_arm(stop, clock_now_ns() + 20 * 1000000LL);
	loop_run(l);				/* the flush: the device goes */
	g_assert_cmpint(p->fd, ==, -1);
	g_assert_false(p->closed);		/* it keeps its place in the switch */
	g_assert_cmpuint(txring_used(&p->tx), ==, 0);
	g_assert_cmpuint(port_set_queued(set), ==, 0);
	g_assert_cmpuint(p->stats.tx_drops, ==, queued);
	g_assert_cmpuint(p->stats.tx_frames, ==, queued);

	/* A fresh port queues, in its own share and then from the pool. */
	p2 = fd_port(set, &plain_ops, "vm", &peer2);
	g_assert_cmpint(port_deliver(p2, f, sizeof(f)), ==, PORT_QUEUED);
	while (txring_used(&p2->tx) < PORT_QUEUE_OWN + (16u << 10))
		g_assert_cmpint(port_deliver(p2, f, sizeof(f)), ==, PORT_QUEUED);
	g_assert_cmpuint(port_set_queued(set), >, 0);
	g_assert_cmpuint(port_set_queued(set), <, 1u << 20);
	g_assert_cmpuint(p2->stats.tx_drops, ==, 0);

	port_set_free(set);
	loop_timer_free(stop);
	loop_free(l);
	switch_free(sw);
	close(peer);
	close(peer2);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/network/free-from-callback", test_free_from_callback);
	g_test_add_func("/network/connect-never-blocks", test_connect_never_blocks);
	g_test_add_func("/network/listener-out-of-fds", test_listener_out_of_fds);
	g_test_add_func("/network/queued-bound", test_queued_bound);
	g_test_add_func("/network/detach-in-flush", test_detach_in_flush);
	return g_test_run();
}
