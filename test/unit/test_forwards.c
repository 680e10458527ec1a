/* test_forwards.c - fwd_rule_parse(), and run-time forwards over a real
 * libslirp (a NAT network's): ids, refusals that change nothing, reloads
 * that keep the API's forwards, and host sockets that come and go. */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>

#include "nat_net.h"
#include "vmnetd/forwards.h"
#include "vmnetd/network.h"

#define MS 1000000LL
#define SEC (1000 * MS)

static struct in_addr dflt_guest(void)
{
	struct in_addr a;

	inet_pton(AF_INET, "10.0.2.15", &a);
	return a;
}

static const char *addr_str(const struct sockaddr_storage *ss)
{
	static char buf[4][INET6_ADDRSTRLEN];
	static int n;

	return endpoint_host_string(ss, buf[n++ & 3]);
}

/* ---- fwd_rule_parse ---- */

static void test_parse_ok(void)
{
	struct fwd_rule r;
	g_autoptr(GError) err = NULL;

	g_assert_true(fwd_rule_parse(&r, "tcp", "127.0.0.1", 2280, "10.0.2.100", 22,
				     dflt_guest(), &err));
	g_assert_no_error(err);
	g_assert_false(r.udp);
	g_assert_cmpint(r.host.ss_family, ==, AF_INET);
	g_assert_cmpstr(addr_str(&r.host), ==, "127.0.0.1");
	g_assert_cmpuint(endpoint_port(&r.host), ==, 2280);
	g_assert_cmpint(r.guest.ss_family, ==, AF_INET);
	g_assert_cmpstr(addr_str(&r.guest), ==, "10.0.2.100");
	g_assert_cmpuint(endpoint_port(&r.guest), ==, 22);

	/* udp, no addresses: all IPv4 addresses, the default guest. */
	g_assert_true(fwd_rule_parse(&r, "udp", NULL, 5353, NULL, 53, dflt_guest(), &err));
	g_assert_true(r.udp);
	g_assert_cmpint(r.host.ss_family, ==, AF_INET);
	g_assert_cmpstr(addr_str(&r.host), ==, "0.0.0.0");
	g_assert_cmpuint(endpoint_port(&r.host), ==, 5353);
	g_assert_cmpstr(addr_str(&r.guest), ==, "10.0.2.15");
	g_assert_cmpuint(endpoint_port(&r.guest), ==, 53);

	/* tcp4: IPv4, default 0.0.0.0. */
	g_assert_true(fwd_rule_parse(&r, "tcp4", NULL, 1, NULL, 65535, dflt_guest(), &err));
	g_assert_false(r.udp);
	g_assert_cmpint(r.host.ss_family, ==, AF_INET);
	g_assert_cmpstr(addr_str(&r.host), ==, "0.0.0.0");
	g_assert_cmpuint(endpoint_port(&r.host), ==, 1);
	g_assert_cmpuint(endpoint_port(&r.guest), ==, 65535);

	/* udp4 with an address. */
	g_assert_true(fwd_rule_parse(&r, "udp4", "127.0.0.2", 9000, NULL, 9000, dflt_guest(), &err));
	g_assert_true(r.udp);
	g_assert_cmpstr(addr_str(&r.host), ==, "127.0.0.2");

	/* tcp6: default host "::"; an IPv6 forward names its IPv6 guest. */
	g_assert_true(fwd_rule_parse(&r, "tcp6", NULL, 8080, "fec0::15", 80, dflt_guest(), &err));
	g_assert_false(r.udp);
	g_assert_cmpint(r.host.ss_family, ==, AF_INET6);
	g_assert_cmpstr(addr_str(&r.host), ==, "::");
	g_assert_cmpuint(endpoint_port(&r.host), ==, 8080);
	g_assert_cmpint(r.guest.ss_family, ==, AF_INET6);
	g_assert_cmpstr(addr_str(&r.guest), ==, "fec0::15");
	g_assert_cmpuint(endpoint_port(&r.guest), ==, 80);

	/* udp6 with an address and an IPv6 guest. */
	g_assert_true(fwd_rule_parse(&r, "udp6", "::1", 5000, "fec0::15", 5001, dflt_guest(), &err));
	g_assert_true(r.udp);
	g_assert_cmpint(r.host.ss_family, ==, AF_INET6);
	g_assert_cmpstr(addr_str(&r.host), ==, "::1");
	g_assert_cmpuint(endpoint_port(&r.host), ==, 5000);
	g_assert_cmpint(r.guest.ss_family, ==, AF_INET6);
	g_assert_cmpstr(addr_str(&r.guest), ==, "fec0::15");
	g_assert_cmpuint(endpoint_port(&r.guest), ==, 5001);

	/* Plain tcp with an IPv6 host address: an IPv6 forward. */
	g_assert_true(fwd_rule_parse(&r, "tcp", "::1", 2222, "fec0::20", 22, dflt_guest(), &err));
	g_assert_cmpint(r.host.ss_family, ==, AF_INET6);
	g_assert_cmpstr(addr_str(&r.host), ==, "::1");
	g_assert_cmpint(r.guest.ss_family, ==, AF_INET6);
	g_assert_cmpstr(addr_str(&r.guest), ==, "fec0::20");

	/* The default guest is the one given, not a constant. */
	{
		struct in_addr other;

		inet_pton(AF_INET, "192.168.76.9", &other);
		g_assert_true(fwd_rule_parse(&r, "tcp", NULL, 80, NULL, 80, other, &err));
		g_assert_cmpstr(addr_str(&r.guest), ==, "192.168.76.9");
	}
	g_assert_no_error(err);
}

/* Each refusal sets an error that names what was wrong. */
static void refused(const char *proto, const char *host, gint64 hport, const char *guest,
		    gint64 gport, const char *needle)
{
	struct fwd_rule r;
	g_autoptr(GError) err = NULL;

	if (fwd_rule_parse(&r, proto, host, hport, guest, gport, dflt_guest(), &err))
		g_error("accepted: proto %s host %s:%" G_GINT64_FORMAT " guest %s:%" G_GINT64_FORMAT,
			proto ? proto : "(null)", host ? host : "(null)", hport,
			guest ? guest : "(null)", gport);
	g_assert_nonnull(err);
	if (!strstr(err->message, needle))
		g_error("'%s' does not say '%s'", err->message, needle);
}

static void test_parse_refused(void)
{
	/* Protocols. */
	refused("sctp", NULL, 80, NULL, 80, "proto");
	refused("", NULL, 80, NULL, 80, "proto");
	refused(NULL, NULL, 80, NULL, 80, "proto");
	refused("tcp7", NULL, 80, NULL, 80, "proto");
	refused("tcp ", NULL, 80, NULL, 80, "proto");
	/* Ports. */
	refused("tcp", NULL, 0, NULL, 80, "host_port");
	refused("tcp", NULL, 65536, NULL, 80, "host_port");
	refused("tcp", NULL, -1, NULL, 80, "host_port");
	refused("tcp", NULL, G_MAXINT64, NULL, 80, "host_port");
	refused("tcp", NULL, (gint64)1 << 32 | 80, NULL, 80, "host_port");
	refused("udp", NULL, 80, NULL, 0, "guest_port");
	refused("udp", NULL, 80, NULL, 65536, "guest_port");
	refused("udp", NULL, 80, NULL, G_MININT64, "guest_port");
	/* Host addresses. */
	refused("tcp", "localhost", 80, NULL, 80, "host_addr");
	refused("tcp", "", 80, NULL, 80, "host_addr");
	refused("tcp", "1.2.3", 80, NULL, 80, "host_addr");
	refused("tcp", "256.0.0.1", 80, NULL, 80, "host_addr");
	refused("tcp", "127.0.0.1 ", 80, NULL, 80, "host_addr");
	refused("tcp", "10.0.0.0/8", 80, NULL, 80, "host_addr");
	refused("tcp", "::g", 80, NULL, 80, "host_addr");
	refused("tcp", "fe80::1%lo", 80, NULL, 80, "host_addr");
	refused("tcp", "[::1]", 80, NULL, 80, "host_addr");
	/* A family the protocol does not allow. */
	refused("tcp4", "::1", 80, NULL, 80, "IPv4");
	refused("udp4", "::", 80, NULL, 80, "IPv4");
	refused("tcp4", "::ffff:127.0.0.1", 80, NULL, 80, "IPv4");
	refused("tcp6", "127.0.0.1", 80, NULL, 80, "IPv6");
	refused("udp6", "0.0.0.0", 80, NULL, 80, "IPv6");
	/* Host and guest of two families (libslirp 4.7 cannot forward across). */
	refused("tcp", "::1", 80, "10.0.2.15", 80, "guest_addr '10.0.2.15' is not an IPv6 address");
	refused("tcp6", NULL, 80, "10.0.2.15", 80, "is not an IPv6 address");
	refused("tcp", "127.0.0.1", 80, "fec0::15", 80, "guest_addr 'fec0::15' is not an IPv4");
	refused("udp", NULL, 80, "::ffff:10.0.2.15", 80, "is not an IPv4 address");
	/* An IPv6 forward has no default guest. */
	refused("tcp6", NULL, 80, NULL, 80, "an IPv6 forward needs guest_addr");
	refused("udp", "::1", 80, NULL, 80, "an IPv6 forward needs guest_addr");
	/* Guest addresses. */
	refused("tcp", NULL, 80, "", 80, "guest_addr");
	refused("tcp", NULL, 80, "guest", 80, "guest_addr");
	refused("tcp", NULL, 80, "10.0.2", 80, "guest_addr");
	refused("tcp", NULL, 80, "10.0.2.15:22", 80, "guest_addr");
}

/* ---- over a real libslirp ---- */

/* Ids count for the whole process: each fixture's first is base + 1. */
static unsigned base;
#define ID(n) (base + (n))

struct fx {
	struct loop *l;
	struct network *net;
	struct forwards *f;
	struct loop_timer *stop;
};

static void quit_loop(void *opaque)
{
	loop_quit(opaque);
}

static void fx_init(struct fx *x)
{
	struct net_config nc;
	g_autoptr(GError) err = NULL;

	test_nat_net(&nc, "t", NULL);
	x->l = loop_new();
	x->net = network_new(x->l, &nc, "--nat", "vmnetd", &err);
	g_assert_no_error(err);
	g_assert_nonnull(x->net);
	nat_config_clear(&nc.nat);
	x->f = network_forwards(x->net);
	g_assert_nonnull(x->f);
	base = forwards_next_id() - 1;
	x->stop = loop_timer_new(x->l, quit_loop, x->l);
}

static void fx_clear(struct fx *x)
{
	network_free(x->net);
	loop_timer_free(x->stop);
	loop_free(x->l);
}

/* Run the loop (libslirp's sockets with it) for @ms. */
static void spin(struct fx *x, int ms)
{
	loop_timer_arm(x->stop, clock_now_ns() + ms * MS);
	loop_run(x->l);
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static socklen_t ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void loopback(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons(port);
	}
}

/* @n different ports free on loopback for @type (each bound to port 0 at
 * once, then all closed). */
static void free_ports(int family, int type, uint16_t *ports, int n)
{
	int fds[16];

	g_assert_cmpint(n, <=, 16);
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		loopback(family, 0, &ss);
		fds[i] = socket(family, type, 0);
		g_assert_cmpint(fds[i], >=, 0);
		g_assert_cmpint(bind(fds[i], (struct sockaddr *)&ss, ss_len(&ss)), ==, 0);
		g_assert_cmpint(getsockname(fds[i], (struct sockaddr *)&ss, &len), ==, 0);
		ports[i] = endpoint_port(&ss);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Whether something holds @port on loopback for @type: a bind there fails. */
static bool port_taken(int family, int type, uint16_t port)
{
	struct sockaddr_storage ss;
	int fd = socket(family, type, 0);
	int one = 1, r, e;

	loopback(family, port, &ss);
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* As a daemon rebinding would: TIME_WAIT leftovers do not count. Not
	 * for UDP, where two SO_REUSEADDR sockets may share a port. */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	r = bind(fd, (struct sockaddr *)&ss, ss_len(&ss));
	e = errno;
	close(fd);
	if (r < 0)
		g_assert_cmpint(e, ==, EADDRINUSE);
	return r < 0;
}

/* A rule to the default guest, or to fec0::15 for an IPv6 host address. */
static void parse(struct fwd_rule *r, const char *proto, const char *host, uint16_t hport,
		  uint16_t gport)
{
	g_autoptr(GError) err = NULL;
	bool v6 = (host && strchr(host, ':')) || (proto && strchr(proto, '6'));

	g_assert_true(fwd_rule_parse(r, proto, host, hport, v6 ? "fec0::15" : NULL, gport,
				     dflt_guest(), &err));
	g_assert_no_error(err);
}

struct seen {
	unsigned n;
	unsigned ids[16];
	bool configured[16];
	uint16_t host_ports[16];
};

static void note(const struct fwd_entry *e, void *opaque)
{
	struct seen *s = opaque;

	g_assert_cmpuint(s->n, <, 16);
	s->ids[s->n] = e->id;
	s->configured[s->n] = e->config_spec != NULL;
	s->host_ports[s->n] = endpoint_port(&e->rule.host);
	s->n++;
}

static struct seen list(struct forwards *f)
{
	struct seen s = { 0 };

	forwards_foreach(f, note, &s);
	return s;
}

static void test_ids(void)
{
	struct fx x = { 0 };
	struct fwd_rule r1, r2, r3;
	uint16_t tp[2], up[1];
	unsigned id = 0;
	struct seen s;
	g_autoptr(GError) err = NULL;

	fx_init(&x);
	free_ports(AF_INET, SOCK_STREAM, tp, 2);
	free_ports(AF_INET, SOCK_DGRAM, up, 1);
	g_assert_cmpuint(list(x.f).n, ==, 0);
	g_assert_cmpuint(forwards_default_guest(x.f).s_addr, ==, dflt_guest().s_addr);

	parse(&r1, "tcp", "127.0.0.1", tp[0], 22);
	parse(&r2, "udp", "127.0.0.1", up[0], 53);
	parse(&r3, "tcp", "127.0.0.1", tp[1], 80);
	g_assert_true(forwards_add(x.f, &r1, &id, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(id, ==, ID(1));
	g_assert_true(forwards_add(x.f, &r2, &id, &err));
	g_assert_cmpuint(id, ==, ID(2));
	g_assert_true(port_taken(AF_INET, SOCK_STREAM, tp[0]));
	g_assert_true(port_taken(AF_INET, SOCK_DGRAM, up[0]));

	/* The same host port again: refused, nothing changes, no id spent. */
	id = 77;
	g_assert_false(forwards_add(x.f, &r1, &id, &err));
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err->message, "cannot listen"));
	g_clear_error(&err);
	g_assert_cmpuint(id, ==, 77);
	g_assert_false(forwards_add(x.f, &r2, NULL, &err));
	g_clear_error(&err);
	s = list(x.f);
	g_assert_cmpuint(s.n, ==, 2);
	g_assert_cmpuint(s.ids[0], ==, ID(1));
	g_assert_cmpuint(s.ids[1], ==, ID(2));
	g_assert_false(s.configured[0]);
	g_assert_cmpuint(s.host_ports[0], ==, tp[0]);
	g_assert_cmpuint(s.host_ports[1], ==, up[0]);

	g_assert_true(forwards_add(x.f, &r3, &id, &err));
	g_assert_cmpuint(id, ==, ID(3));		/* the refusals spent no id */

	/* Remove: by id, once; unknown ids are errors. */
	g_assert_true(forwards_remove(x.f, ID(1), &err));
	g_assert_no_error(err);
	g_assert_false(port_taken(AF_INET, SOCK_STREAM, tp[0]));
	g_assert_false(forwards_remove(x.f, ID(1), &err));
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err->message, "no forward 1"));
	g_clear_error(&err);
	g_assert_false(forwards_remove(x.f, 0, &err));
	g_clear_error(&err);
	g_assert_false(forwards_remove(x.f, ID(99), &err));
	g_clear_error(&err);
	g_assert_false(forwards_remove(x.f, G_MAXUINT, NULL));
	s = list(x.f);
	g_assert_cmpuint(s.n, ==, 2);
	g_assert_cmpuint(s.ids[0], ==, ID(2));
	g_assert_cmpuint(s.ids[1], ==, ID(3));

	/* Re-adding the first: a new id, never 1 again; the list stays in id order. */
	g_assert_true(forwards_add(x.f, &r1, &id, &err));
	g_assert_cmpuint(id, ==, ID(4));
	g_assert_true(forwards_remove(x.f, ID(2), &err));
	g_assert_false(port_taken(AF_INET, SOCK_DGRAM, up[0]));
	g_assert_true(forwards_add(x.f, &r2, &id, &err));
	g_assert_cmpuint(id, ==, ID(5));
	s = list(x.f);
	g_assert_cmpuint(s.n, ==, 3);
	g_assert_cmpuint(s.ids[0], ==, ID(3));
	g_assert_cmpuint(s.ids[1], ==, ID(4));
	g_assert_cmpuint(s.ids[2], ==, ID(5));
	g_assert_no_error(err);

	/* Everything removed: every port free again. */
	for (unsigned i = 3; i <= 5; i++)
		g_assert_true(forwards_remove(x.f, i, NULL));
	g_assert_cmpuint(list(x.f).n, ==, 0);
	g_assert_false(port_taken(AF_INET, SOCK_STREAM, tp[0]));
	g_assert_false(port_taken(AF_INET, SOCK_STREAM, tp[1]));
	g_assert_false(port_taken(AF_INET, SOCK_DGRAM, up[0]));
	fx_clear(&x);
}

/* Each family and protocol: add takes the host port, remove gives it back. */
static void test_families(void)
{
	static const struct { const char *proto, *host; int family, type; } cases[] = {
		{ "tcp", "127.0.0.1", AF_INET, SOCK_STREAM },
		{ "udp", "127.0.0.1", AF_INET, SOCK_DGRAM },
		{ "tcp4", "127.0.0.1", AF_INET, SOCK_STREAM },
		{ "udp4", "127.0.0.1", AF_INET, SOCK_DGRAM },
		{ "tcp6", "::1", AF_INET6, SOCK_STREAM },
		{ "udp6", "::1", AF_INET6, SOCK_DGRAM },
		{ "tcp", "::1", AF_INET6, SOCK_STREAM },
		{ "udp", "::1", AF_INET6, SOCK_DGRAM },
	};
	struct fx x = { 0 };
	bool v6 = have_ipv6_loopback();

	fx_init(&x);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct fwd_rule r;
		uint16_t port;
		unsigned id;
		g_autoptr(GError) err = NULL;

		if (cases[i].family == AF_INET6 && !v6) {
			g_test_message("no IPv6 loopback: %s %s skipped", cases[i].proto,
				       cases[i].host);
			continue;
		}
		free_ports(cases[i].family, cases[i].type, &port, 1);
		parse(&r, cases[i].proto, cases[i].host, port, 7);
		if (!forwards_add(x.f, &r, &id, &err))
			g_error("%s %s port %u: %s", cases[i].proto, cases[i].host, port,
				err->message);
		g_assert_cmpuint(id, ==, ID(i + 1));
		g_assert_true(port_taken(cases[i].family, cases[i].type, port));
		g_assert_true(forwards_remove(x.f, id, &err));
		g_assert_no_error(err);
		if (port_taken(cases[i].family, cases[i].type, port))
			g_error("%s %s port %u: still bound after remove", cases[i].proto,
				cases[i].host, port);
	}
	fx_clear(&x);
}

static int tcp_connect_family(int family, uint16_t port, int *err)
{
	struct sockaddr_storage ss;
	int fd = socket(family, SOCK_STREAM, 0);

	loopback(family, port, &ss);
	if (connect(fd, (struct sockaddr *)&ss, ss_len(&ss)) == 0) {
		*err = 0;
		return fd;
	}
	*err = errno;
	close(fd);
	return -1;
}

static int tcp_connect(uint16_t port, int *err)
{
	return tcp_connect_family(AF_INET, port, err);
}

/* A forward accepts host connections; removed, it refuses new ones, while
 * one already made through it stays up. */
static void test_connect(void)
{
	struct fx x = { 0 };
	struct fwd_rule r;
	uint16_t port;
	unsigned id;
	int fd, e;
	g_autoptr(GError) err = NULL;

	fx_init(&x);
	free_ports(AF_INET, SOCK_STREAM, &port, 1);
	fd = tcp_connect(port, &e);
	g_assert_cmpint(fd, <, 0);
	g_assert_cmpint(e, ==, ECONNREFUSED);		/* nobody there yet */

	parse(&r, "tcp", "127.0.0.1", port, 22);
	g_assert_true(forwards_add(x.f, &r, &id, &err));
	g_assert_no_error(err);
	fd = tcp_connect(port, &e);
	if (fd < 0)
		g_error("connect to a forward: %s", g_strerror(e));
	spin(&x, 100);					/* libslirp accepts it */

	g_assert_true(forwards_remove(x.f, id, &err));
	spin(&x, 50);
	{
		int fd2 = tcp_connect(port, &e);

		if (fd2 >= 0)
			g_error("a connection to a removed forward was accepted");
		g_assert_cmpint(e, ==, ECONNREFUSED);
	}
	/* The connection made before is not closed by the removal. */
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };

		g_assert_cmpint(poll(&p, 1, 0), ==, 0);
	}
	close(fd);

	/* And the port can be forwarded again. */
	g_assert_true(forwards_add(x.f, &r, &id, &err));
	g_assert_cmpuint(id, ==, ID(2));
	fd = tcp_connect(port, &e);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	spin(&x, 20);
	fx_clear(&x);
}

/* "0.0.0.0" and "::" on one port are two forwards (the IPv6 one takes
 * IPv6 only); removing one leaves the other listening. */
static void test_wildcards(void)
{
	struct fx x = { 0 };
	struct fwd_rule r4, r6;
	uint16_t port;
	unsigned id4, id6;
	int fd, e;
	g_autoptr(GError) err = NULL;

	if (!have_ipv6_loopback()) {
		g_test_skip("no IPv6 loopback");
		return;
	}
	fx_init(&x);
	free_ports(AF_INET, SOCK_STREAM, &port, 1);
	parse(&r4, "tcp", NULL, port, 22);
	parse(&r6, "tcp6", NULL, port, 22);
	g_test_expect_message(NULL, G_LOG_LEVEL_MESSAGE, "*forwarding host tcp*");
	g_test_expect_message(NULL, G_LOG_LEVEL_WARNING, "*listening on all addresses*");
	g_assert_true(forwards_add(x.f, &r4, &id4, &err));
	g_test_assert_expected_messages();
	g_test_expect_message(NULL, G_LOG_LEVEL_MESSAGE, "*forwarding host tcp*");
	g_test_expect_message(NULL, G_LOG_LEVEL_WARNING, "*listening on all addresses*");
	if (!forwards_add(x.f, &r6, &id6, &err))
		g_error("tcp 0.0.0.0 and tcp6 :: on one port: %s", err->message);
	g_test_assert_expected_messages();
	fd = tcp_connect_family(AF_INET, port, &e);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	fd = tcp_connect_family(AF_INET6, port, &e);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	spin(&x, 20);

	g_assert_true(forwards_remove(x.f, id4, &err));
	fd = tcp_connect_family(AF_INET, port, &e);
	g_assert_cmpint(fd, <, 0);
	g_assert_cmpint(e, ==, ECONNREFUSED);
	fd = tcp_connect_family(AF_INET6, port, &e);
	if (fd < 0)
		g_error("removing tcp 0.0.0.0 also stopped tcp6 ::: %s", g_strerror(e));
	close(fd);
	g_assert_true(forwards_remove(x.f, id6, &err));
	fd = tcp_connect_family(AF_INET6, port, &e);
	g_assert_cmpint(fd, <, 0);
	g_assert_no_error(err);
	spin(&x, 20);
	fx_clear(&x);
}

/* ---- reloads ---- */

static void hostfwd_append(GArray *a, bool udp, uint16_t hport, uint16_t gport)
{
	struct hostfwd h = { .udp = udp, .host_port = hport, .guest_port = gport,
			     .guest_addr = dflt_guest() };

	h.host_addr.s_addr = htonl(INADDR_LOOPBACK);
	h.spec = g_strdup_printf("%s:127.0.0.1:%u-:%u", udp ? "udp" : "tcp", hport, gport);
	g_array_append_val(a, h);
}

static GArray *hostfwds_new(void)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(struct hostfwd));

	g_array_set_clear_func(a, netopt_hostfwd_clear);
	return a;
}

static void test_sync_config(void)
{
	struct fx x = { 0 };
	struct fwd_rule r;
	uint16_t p[5];
	unsigned api_id;
	struct seen s;
	g_autoptr(GError) err = NULL;
	g_autoptr(GArray) c1 = hostfwds_new();
	g_autoptr(GArray) c2 = hostfwds_new();
	g_autoptr(GArray) c3 = hostfwds_new();
	g_autofree char *spec_a = NULL, *spec_b = NULL, *spec_c = NULL;
	const struct fwd_entry *e;

	fx_init(&x);
	free_ports(AF_INET, SOCK_STREAM, p, 5);

	/* One forward from the API. */
	parse(&r, "tcp", "127.0.0.1", p[0], 22);
	g_assert_true(forwards_add(x.f, &r, &api_id, &err));
	g_assert_cmpuint(api_id, ==, ID(1));

	/* A configuration with A and B: both start, after the API's. */
	hostfwd_append(c1, false, p[1], 80);		/* A */
	hostfwd_append(c1, false, p[2], 443);		/* B */
	spec_a = g_strdup(g_array_index(c1, struct hostfwd, 0).spec);
	spec_b = g_strdup(g_array_index(c1, struct hostfwd, 1).spec);
	g_assert_true(forwards_sync_config(x.f, c1, &err));
	g_assert_no_error(err);
	s = list(x.f);
	g_assert_cmpuint(s.n, ==, 3);
	g_assert_cmpuint(s.ids[0], ==, ID(1));
	g_assert_false(s.configured[0]);
	g_assert_cmpuint(s.ids[1], ==, ID(2));
	g_assert_true(s.configured[1]);
	g_assert_cmpuint(s.host_ports[1], ==, p[1]);
	g_assert_cmpuint(s.ids[2], ==, ID(3));
	g_assert_cmpuint(s.host_ports[2], ==, p[2]);
	e = forwards_find_config(x.f, spec_a);
	g_assert_nonnull(e);
	g_assert_cmpuint(e->id, ==, ID(2));
	g_assert_cmpstr(addr_str(&e->rule.guest), ==, "10.0.2.15");
	g_assert_cmpuint(endpoint_port(&e->rule.guest), ==, 80);
	g_assert_true(port_taken(AF_INET, SOCK_STREAM, p[1]));

	/* The same configuration again: nothing moves. */
	g_assert_true(forwards_sync_config(x.f, c1, &err));
	s = list(x.f);
	g_assert_cmpuint(s.n, ==, 3);
	g_assert_cmpuint(s.ids[2], ==, ID(3));

	/* B and C: A stops, B keeps its id, C starts; the API's stays. */
	hostfwd_append(c2, false, p[2], 443);		/* B */
	hostfwd_append(c2, true, p[3], 53);		/* C, udp */
	spec_c = g_strdup(g_array_index(c2, struct hostfwd, 1).spec);
	g_assert_true(forwards_sync_config(x.f, c2, &err));
	g_assert_no_error(err);
	s = list(x.f);
	g_assert_cmpuint(s.n, ==, 3);
	g_assert_cmpuint(s.ids[0], ==, api_id);
	g_assert_cmpuint(s.ids[1], ==, ID(3));
	g_assert_cmpuint(s.ids[2], ==, ID(4));
	g_assert_null(forwards_find_config(x.f, spec_a));
	g_assert_cmpuint(forwards_find_config(x.f, spec_b)->id, ==, ID(3));
	g_assert_cmpuint(forwards_find_config(x.f, spec_c)->id, ==, ID(4));
	g_assert_true(forwards_find_config(x.f, spec_c)->rule.udp);
	g_assert_false(port_taken(AF_INET, SOCK_STREAM, p[1]));	/* A's port given back */
	g_assert_true(port_taken(AF_INET, SOCK_STREAM, p[0]));		/* the API's still there */

	/* One that cannot start (its port is held): false with an error. */
	{
		struct sockaddr_storage ss;
		int holder = socket(AF_INET, SOCK_STREAM, 0);

		loopback(AF_INET, p[4], &ss);
		g_assert_cmpint(bind(holder, (struct sockaddr *)&ss, ss_len(&ss)), ==, 0);
		g_assert_cmpint(listen(holder, 1), ==, 0);
		hostfwd_append(c3, false, p[2], 443);		/* B */
		hostfwd_append(c3, false, p[4], 8080);		/* D: port in use */
		g_assert_false(forwards_sync_config(x.f, c3, &err));
		g_assert_nonnull(err);
		g_assert_nonnull(strstr(err->message, "hostfwd="));
		g_clear_error(&err);
		close(holder);
		g_assert_null(forwards_find_config(x.f, g_array_index(c3, struct hostfwd, 1).spec));
		g_assert_nonnull(forwards_find_config(x.f, spec_b));
	}

	/* No configured forwards at all: only the API's is left. */
	g_assert_true(forwards_sync_config(x.f, NULL, &err));
	g_assert_no_error(err);
	s = list(x.f);
	g_assert_cmpuint(s.n, ==, 1);
	g_assert_cmpuint(s.ids[0], ==, api_id);
	g_assert_false(port_taken(AF_INET, SOCK_STREAM, p[2]));
	g_assert_false(port_taken(AF_INET, SOCK_DGRAM, p[3]));

	/* Configured ones come back with fresh ids. */
	g_assert_true(forwards_sync_config(x.f, c1, &err));
	g_assert_cmpuint(forwards_find_config(x.f, spec_a)->id, ==, ID(5));
	g_assert_cmpuint(forwards_find_config(x.f, spec_b)->id, ==, ID(6));
	fx_clear(&x);
}

/* forwards_add_config at start: each remembered with its spec, in order. */
static void test_add_config(void)
{
	struct fx x = { 0 };
	uint16_t p[2];
	g_autoptr(GArray) c = hostfwds_new();
	g_autoptr(GError) err = NULL;
	struct seen s;

	fx_init(&x);
	free_ports(AF_INET, SOCK_STREAM, p, 2);
	hostfwd_append(c, false, p[0], 22);
	hostfwd_append(c, true, p[1], 53);
	g_assert_true(forwards_add_config(x.f, c, &err));
	g_assert_no_error(err);
	s = list(x.f);
	g_assert_cmpuint(s.n, ==, 2);
	g_assert_true(s.configured[0] && s.configured[1]);
	g_assert_cmpuint(s.ids[0], ==, ID(1));
	g_assert_cmpuint(s.ids[1], ==, ID(2));
	g_assert_true(forwards_add_config(x.f, NULL, &err));
	/* A configured forward may be removed by id like any other. */
	g_assert_true(forwards_remove(x.f, ID(1), &err));
	g_assert_null(forwards_find_config(x.f, g_array_index(c, struct hostfwd, 0).spec));
	g_assert_false(port_taken(AF_INET, SOCK_STREAM, p[0]));
	fx_clear(&x);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/forwards/parse-ok", test_parse_ok);
	g_test_add_func("/forwards/parse-refused", test_parse_refused);
	g_test_add_func("/forwards/ids", test_ids);
	g_test_add_func("/forwards/families", test_families);
	g_test_add_func("/forwards/connect", test_connect);
	g_test_add_func("/forwards/wildcards", test_wildcards);
	g_test_add_func("/forwards/sync-config", test_sync_config);
	g_test_add_func("/forwards/add-config", test_add_config);
	return g_test_run();
}
