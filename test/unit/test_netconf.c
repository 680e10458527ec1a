/* test_netconf.c - networks as declared by --network, --nat, --listen, --connect and
 * --config: defaults of each mode, sockets, the key file, and every refusal's message. */
#include <arpa/inet.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vmnetd/netconf.h"

#define SOCKET_DIR "/run/test"

/* Room for the longest row of the error table; the rest stay NULL. */
#define MAX_ARGS 4

struct args {
	const char *network[MAX_ARGS];
	const char *nat[MAX_ARGS];
	const char *listen[MAX_ARGS];
	const char *connect[MAX_ARGS];
	const char *config_file;
};

static char *ip4(struct in_addr a)
{
	static char buf[INET_ADDRSTRLEN];

	return (char *)inet_ntop(AF_INET, &a, buf, sizeof(buf));
}

/* An empty list is what GOption gives for an option never used: NULL. */
static char **strv(const char *const *v)
{
	return v[0] ? (char **)v : NULL;
}

/* Load; returns the error message or NULL. @c must be cleared either way. */
static char *try_load(struct vmnetd_config *c, const struct args *in)
{
	struct config_args a = {
		.networks = strv(in->network),
		.nat = strv(in->nat),
		.listen = strv(in->listen),
		.connect = strv(in->connect),
		.config_file = in->config_file,
		.socket_dir = SOCKET_DIR,
	};
	GError *err = NULL;
	char *msg = NULL;

	vmnetd_config_init(c);
	if (!vmnetd_config_load(c, &a, &err)) {
		msg = g_strdup(err->message);
		g_error_free(err);
		g_assert_cmpuint(c->networks->len, ==, 0);
	}
	return msg;
}

static void load_ok(struct vmnetd_config *c, const struct args *in)
{
	g_autofree char *msg = try_load(c, in);

	if (msg)
		g_error("refused: %s", msg);
}

static void assert_refused(const struct args *in, const char *want)
{
	struct vmnetd_config c;
	g_autofree char *msg = try_load(&c, in);

	vmnetd_config_clear(&c);
	if (!msg)
		g_error("accepted; want '%s'", want);
	if (strcmp(msg, want))
		g_error("got  '%s'\nwant '%s'", msg, want);
}

static struct net_config *nth(const struct vmnetd_config *c, guint i)
{
	return g_ptr_array_index(c->networks, i);
}

static struct endpoint *listen_at(const struct net_config *n, guint i)
{
	return &g_array_index(n->listen, struct endpoint, i);
}

static const struct dhcp_static_lease *static_at(const struct net_config *n, guint i)
{
	return &g_array_index(n->ho.statics, struct dhcp_static_lease, i);
}

static char *tmp_dir;

/* A key file in this run's temporary directory; the path is the caller's. */
static char *write_file(const char *name, const char *text)
{
	char *path = g_build_filename(tmp_dir, name, NULL);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	return path;
}

static void test_default_network(void)
{
	struct vmnetd_config c;
	struct net_config *n;

	load_ok(&c, &(struct args){ 0 });
	g_assert_cmpuint(c.networks->len, ==, 1);
	n = nth(&c, 0);
	g_assert_cmpstr(n->name, ==, NET_DEFAULT_NAME);
	g_assert_cmpint(n->mode, ==, NET_MODE_NAT);
	g_assert_cmpuint(n->mtu, ==, NAT_MTU_DEFAULT);
	g_assert_cmpuint(n->nat.mtu, ==, NAT_MTU_DEFAULT);
	g_assert_cmpuint(n->port_macs, ==, NET_PORT_MACS_DEFAULT);
	g_assert_true(n->dhcp_vmnetd);		/* vmnetd's DHCP by default */
	g_assert_null(n->lease_file);
	g_assert_cmpstr(ip4(n->nat.net), ==, "10.0.2.0");
	g_assert_cmpstr(ip4(n->nat.dhcp_start), ==, "10.0.2.15");
	/* Today's path, so existing QEMU command lines keep working. */
	g_assert_true(n->default_socket);
	g_assert_cmpuint(n->listen->len, ==, 1);
	g_assert_cmpuint(n->connect->len, ==, 0);
	g_assert_cmpint(listen_at(n, 0)->type, ==, ENDPOINT_UNIX);
	g_assert_cmpstr(listen_at(n, 0)->path, ==, SOCKET_DIR "/default.sock");
	g_assert_true(vmnetd_config_find(&c, "default") == n);
	g_assert_null(vmnetd_config_find(&c, "lab"));
	vmnetd_config_clear(&c);
}

static void test_nat_compat(void)
{
	struct vmnetd_config c;
	struct net_config *n;

	load_ok(&c, &(struct args){ .nat = { "net=192.168.76.0/24,mtu=9000",
					     "hostfwd=tcp::2280-:22" },
				    .listen = { "tcp:5555" } });
	n = nth(&c, 0);
	g_assert_cmpstr(n->name, ==, "default");
	g_assert_cmpuint(n->mtu, ==, 9000);
	g_assert_cmpuint(n->nat.mtu, ==, 9000);
	g_assert_cmpstr(ip4(n->nat.host), ==, "192.168.76.2");
	g_assert_cmpuint(n->nat.hostfwds->len, ==, 1);
	g_assert_false(n->default_socket);
	g_assert_cmpuint(n->listen->len, ==, 1);
	g_assert_cmpuint(listen_at(n, 0)->port, ==, 5555);
	vmnetd_config_clear(&c);

	/* The messages test_cli.py checks, byte for byte. */
	assert_refused(&(struct args){ .nat = { "mtu=70000" } },
		       "--nat mtu=70000: must be a number from 68 to 65521");
	assert_refused(&(struct args){ .nat = { "hostfwd=tcp::x-:22" } },
		       "--nat hostfwd=tcp::x-:22: host port must be 1 to 65535");
	assert_refused(&(struct args){ .nat = { "frobnicate=1" } },
		       "--nat: unknown option 'frobnicate'");
	assert_refused(&(struct args){ .nat = { "mtu=1000" } },
		       "--nat mtu=1000: IPv6 needs at least 1280 (or add ipv6=off)");
	assert_refused(&(struct args){ .nat = { "dhcp=vmnetd" } },
		       "--nat: unknown option 'dhcp'");
	assert_refused(&(struct args){ .nat = { "mtu=1500" }, .network = { "lab" } },
		       "--nat: networks are declared; give NAT options in "
		       "--network NAME,mode=nat,...");
}

static void test_nat_network(void)
{
	struct vmnetd_config c;
	struct net_config *n;
	struct hostfwd *h;

	load_ok(&c, &(struct args){ .network = {
		"lab,mode=nat,net=10.1.0.0/24,dhcp=vmnetd,lease-file=/var/lib/lab.leases,"
		"mtu=1500,port-macs=4,hostfwd=tcp::2222-:22,dnssearch=a.test,domainname=a,,b,"
		"tftp=/srv/tftp,listen=tcp:5600,connect=unix:/run/q.sock" } });
	n = nth(&c, 0);
	g_assert_cmpstr(n->name, ==, "lab");
	g_assert_cmpint(n->mode, ==, NET_MODE_NAT);
	g_assert_true(n->dhcp_vmnetd);
	g_assert_cmpstr(n->lease_file, ==, "/var/lib/lab.leases");
	g_assert_cmpuint(n->mtu, ==, 1500);
	g_assert_cmpuint(n->nat.mtu, ==, 1500);
	g_assert_cmpuint(n->port_macs, ==, 4);
	g_assert_cmpstr(ip4(n->nat.host), ==, "10.1.0.2");
	g_assert_cmpstr(n->nat.domainname, ==, "a,b");
	g_assert_cmpstr(n->nat.tftp, ==, "/srv/tftp");
	g_assert_cmpstr(g_ptr_array_index(n->nat.dnssearch, 0), ==, "a.test");
	h = &g_array_index(n->nat.hostfwds, struct hostfwd, 0);
	g_assert_cmpstr(ip4(h->guest_addr), ==, "10.1.0.15");
	g_assert_cmpuint(n->listen->len, ==, 1);
	g_assert_cmpuint(listen_at(n, 0)->port, ==, 5600);
	g_assert_cmpuint(n->connect->len, ==, 1);
	g_assert_cmpstr(g_array_index(n->connect, struct endpoint, 0).path, ==, "/run/q.sock");
	g_assert_false(n->default_socket);
	vmnetd_config_clear(&c);

	/* No mode= is NAT; mode= may come after the keys it decides. */
	load_ok(&c, &(struct args){ .network = { "a,tftp=/srv",
						 "b,dhcpend=192.168.9.199,mode=hostonly,"
						 "net=192.168.9.0/24" } });
	g_assert_cmpint(nth(&c, 0)->mode, ==, NET_MODE_NAT);
	g_assert_cmpint(nth(&c, 1)->mode, ==, NET_MODE_HOSTONLY);
	g_assert_cmpstr(ip4(nth(&c, 1)->ho.pool_end), ==, "192.168.9.199");
	vmnetd_config_clear(&c);
}

static void test_hostonly_defaults(void)
{
	struct vmnetd_config c;
	struct net_config *n;

	load_ok(&c, &(struct args){ .network = { "ho,mode=hostonly" } });
	n = nth(&c, 0);
	g_assert_cmpint(n->mode, ==, NET_MODE_HOSTONLY);
	g_assert_cmpstr(ip4(n->ho.net), ==, "192.168.56.0");
	g_assert_cmpstr(ip4(n->ho.mask), ==, "255.255.255.0");
	g_assert_cmpstr(ip4(n->ho.host), ==, "192.168.56.1");
	g_assert_cmpstr(ip4(n->ho.pool_start), ==, "192.168.56.101");
	g_assert_cmpstr(ip4(n->ho.pool_end), ==, "192.168.56.254");
	g_assert_cmpuint(n->ho.lease_time_s, ==, HOSTONLY_LEASE_TIME_DEFAULT);
	g_assert_cmpstr(n->ho.host_name, ==, "host");
	g_assert_null(n->ho.domain);
	g_assert_null(n->ho.host_iface);
	g_assert_false(n->ho.router);
	g_assert_cmpuint(n->ho.statics->len, ==, 0);
	g_assert_cmpuint(n->ho.hostfwds->len, ==, 0);
	g_assert_cmpuint(n->mtu, ==, NAT_MTU_DEFAULT);
	g_assert_cmpuint(n->port_macs, ==, NET_PORT_MACS_DEFAULT);
	g_assert_true(n->default_socket);
	g_assert_cmpstr(listen_at(n, 0)->path, ==, SOCKET_DIR "/ho.sock");
	vmnetd_config_clear(&c);
}

static void test_hostonly_keys(void)
{
	struct vmnetd_config c;
	struct net_config *n;
	struct hostfwd *h;

	load_ok(&c, &(struct args){ .network = {
		"lab,mode=hostonly,net=10.20.0.0/16,host=10.20.0.254,dhcpstart=10.20.1.1,"
		"dhcpend=10.20.1.200,lease-time=600,static=52:54:00:00:00:10=10.20.0.10=web,"
		"static=52:54:00:AB:cd:11=10.20.0.11,domainname=lab.test,host-name=gw,"
		"router=on,hostfwd=tcp::8080-:80,"
		"hostfwd=udp:127.0.0.1:5353-10.20.0.10:53,ipv6=off,mtu=9000,lease-file=/x" } });
	n = nth(&c, 0);
	g_assert_cmpstr(ip4(n->ho.mask), ==, "255.255.0.0");
	g_assert_cmpstr(ip4(n->ho.host), ==, "10.20.0.254");
	g_assert_cmpstr(ip4(n->ho.pool_start), ==, "10.20.1.1");
	g_assert_cmpstr(ip4(n->ho.pool_end), ==, "10.20.1.200");
	g_assert_cmpuint(n->ho.lease_time_s, ==, 600);
	g_assert_cmpuint(n->ho.statics->len, ==, 2);
	g_assert_cmpmem(static_at(n, 0)->mac, 6, ((uint8_t[]){ 0x52, 0x54, 0, 0, 0, 0x10 }), 6);
	g_assert_cmpstr(ip4(static_at(n, 0)->ip), ==, "10.20.0.10");
	g_assert_cmpstr(static_at(n, 0)->hostname, ==, "web");
	g_assert_cmpmem(static_at(n, 1)->mac, 6, ((uint8_t[]){ 0x52, 0x54, 0, 0xab, 0xcd, 0x11 }),
			6);
	g_assert_null(static_at(n, 1)->hostname);
	g_assert_cmpstr(n->ho.domain, ==, "lab.test");
	g_assert_cmpstr(n->ho.host_name, ==, "gw");
	g_assert_true(n->ho.router);
	g_assert_cmpuint(n->mtu, ==, 9000);
	g_assert_cmpstr(n->lease_file, ==, "/x");
	g_assert_cmpuint(n->ho.hostfwds->len, ==, 2);
	h = &g_array_index(n->ho.hostfwds, struct hostfwd, 0);
	g_assert_cmpstr(ip4(h->guest_addr), ==, "10.20.1.1");	/* dhcpstart */
	g_assert_cmpuint(h->host_port, ==, 8080);
	h = &g_array_index(n->ho.hostfwds, struct hostfwd, 1);
	g_assert_true(h->udp);
	g_assert_cmpstr(ip4(h->guest_addr), ==, "10.20.0.10");
	vmnetd_config_clear(&c);
}

/* Nets too small for .101-.254 end the pool at their last address, or take the upper half. */
static void test_hostonly_small_nets(void)
{
	static const struct {
		const char *net, *host, *start, *end;
	} nets[] = {
		{ "192.168.60.0/25", "192.168.60.1", "192.168.60.101", "192.168.60.126" },
		{ "192.168.60.0/26", "192.168.60.1", "192.168.60.32", "192.168.60.62" },
		{ "192.168.60.16/28", "192.168.60.17", "192.168.60.24", "192.168.60.30" },
		{ "192.168.60.0/30", "192.168.60.1", "192.168.60.2", "192.168.60.2" },
		{ "10.0.0.0/8", "10.0.0.1", "10.0.0.101", "10.0.0.254" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(nets); i++) {
		g_autofree char *arg = g_strdup_printf("h,mode=hostonly,net=%s", nets[i].net);
		struct vmnetd_config c;
		struct net_config *n;

		load_ok(&c, &(struct args){ .network = { arg } });
		n = nth(&c, 0);
		g_assert_cmpstr(ip4(n->ho.host), ==, nets[i].host);
		g_assert_cmpstr(ip4(n->ho.pool_start), ==, nets[i].start);
		g_assert_cmpstr(ip4(n->ho.pool_end), ==, nets[i].end);
		vmnetd_config_clear(&c);
	}
}

static void test_listen_binding(void)
{
	struct vmnetd_config c;
	struct net_config *a, *b;

	load_ok(&c, &(struct args){
		.network = { "a", "b,mode=hostonly", "idle,mode=hostonly,net=192.168.57.0/24" },
		.listen = { "unix:/run/x,y.sock,network=a", "tcp:5555,network=b" },
		.connect = { "unix:/run/q.sock,network=b" } });
	a = nth(&c, 0);
	b = nth(&c, 1);
	g_assert_cmpuint(a->listen->len, ==, 1);
	g_assert_cmpstr(listen_at(a, 0)->path, ==, "/run/x,y.sock");	/* commas stay in paths */
	g_assert_false(a->default_socket);
	g_assert_cmpuint(b->listen->len, ==, 1);
	g_assert_cmpuint(listen_at(b, 0)->port, ==, 5555);
	g_assert_cmpuint(b->connect->len, ==, 1);
	g_assert_false(b->default_socket);
	g_assert_true(nth(&c, 2)->default_socket);
	g_assert_cmpstr(listen_at(nth(&c, 2), 0)->path, ==, SOCKET_DIR "/idle.sock");
	vmnetd_config_clear(&c);

	/* One network: network= may be left out. */
	load_ok(&c, &(struct args){ .network = { "solo,mode=hostonly" },
				    .listen = { "tcp:5555" }, .connect = { "tcp:6666" } });
	g_assert_cmpuint(nth(&c, 0)->listen->len, ==, 1);
	g_assert_cmpuint(nth(&c, 0)->connect->len, ==, 1);
	g_assert_false(nth(&c, 0)->default_socket);
	vmnetd_config_clear(&c);

	/* Only --connect: no default socket either. */
	load_ok(&c, &(struct args){ .connect = { "unix:/run/q.sock" } });
	g_assert_cmpuint(nth(&c, 0)->listen->len, ==, 0);
	g_assert_false(nth(&c, 0)->default_socket);
	vmnetd_config_clear(&c);
}

static void test_default_sockets(void)
{
	struct vmnetd_config c;

	load_ok(&c, &(struct args){ .network = { "a", "b_2,mode=hostonly" } });
	for (guint i = 0; i < 2; i++) {
		g_autofree char *want = g_strdup_printf(SOCKET_DIR "/%s.sock", nth(&c, i)->name);

		g_assert_true(nth(&c, i)->default_socket);
		g_assert_cmpuint(nth(&c, i)->listen->len, ==, 1);
		g_assert_cmpstr(listen_at(nth(&c, i), 0)->path, ==, want);
	}
	vmnetd_config_clear(&c);
}

static const struct {
	struct args args;
	const char *message;
} bad[] = {
	/* Names and modes */
	{ { .network = { "a", "a,mode=hostonly" } }, "network a: declared twice" },
	{ { .network = { "a.b" } },
	  "--network a.b: a network name is 1 to 15 characters from A-Z a-z 0-9 _ -" },
	{ { .network = { "abcdefghijklmnop" } },
	  "--network abcdefghijklmnop: a network name is 1 to 15 characters from A-Z a-z 0-9 _ -" },
	{ { .network = { "" } }, "--network : a network name is 1 to 15 characters from "
				 "A-Z a-z 0-9 _ -" },
	{ { .network = { "mode=nat,net=10.0.0.0/8" } },
	  "--network mode=nat,net=10.0.0.0/8: the name comes first: --network NAME,mode=..." },
	{ { .network = { "a,mode=bridge" } },
	  "network a mode=bridge: expected nat, hostonly or bridged" },
	/* Bridged: one device, the rest is the LAN's. */
	{ { .network = { "lan,mode=bridged" } },
	  "network lan: mode=bridged needs one of tap=, bridge= or macvtap=" },
	{ { .network = { "lan,mode=bridged,tap=t0,bridge=br0" } },
	  "network lan: mode=bridged needs one of tap=, bridge= or macvtap= (only one)" },
	{ { .network = { "lan,mode=bridged,bridge=br0,mtu=9000" } },
	  "network lan: mtu= is not for mode=bridged (the MTU is the device's; leases are the "
	  "LAN's)" },
	{ { .network = { "lan,mode=bridged,bridge=br/0" } },
	  "network lan bridge=br/0: not an interface name" },
	{ { .network = { "lan,mode=bridged,bridge=br0,hostfwd=tcp::1-:2" } },
	  "network lan: key 'hostfwd' is not for mode bridged" },
	{ { .network = { "lab,mode=hostonly,bridge=br0" } },
	  "network lab: key 'bridge' is not for mode hostonly" },
	{ { .network = { "a,frob=1" } }, "network a: unknown key 'frob'" },
	{ { .network = { "a,mode=hostonly,frob=1" } }, "network a: unknown key 'frob'" },
	{ { .network = { "lab,mode=hostonly,tftp=/srv" } },
	  "network lab: key 'tftp' is not for mode hostonly" },
	{ { .network = { "lab,mode=hostonly,dhcp=vmnetd" } },
	  "network lab: key 'dhcp' is not for mode hostonly" },
	{ { .network = { "lab,dhcpend=10.0.2.200" } },
	  "network lab: key 'dhcpend' is not for mode nat" },
	{ { .network = { "lab,static=52:54:00:00:00:10=10.0.2.10" } },
	  "network lab: key 'static' is not for mode nat" },
	{ { .network = { "a,mtu" } }, "network a mtu: expected key=value" },
	{ { .network = { "a,mtu=1500," } }, "--network a,mtu=1500,: empty option" },

	/* Keys of both modes */
	{ { .network = { "a,mtu=70000" } },
	  "network a mtu=70000: must be a number from 68 to 65521" },
	{ { .network = { "a,mode=hostonly,mtu=67" } },
	  "network a mtu=67: must be a number from 68 to 65521" },
	{ { .network = { "a,mtu=1000" } },
	  "network a mtu=1000: IPv6 needs at least 1280 (or add ipv6=off)" },
	{ { .network = { "a,port-macs=0" } },
	  "network a port-macs=0: must be a number from 1 to 4096" },
	{ { .network = { "a,port-macs=4097" } },
	  "network a port-macs=4097: must be a number from 1 to 4096" },
	{ { .network = { "a,listen=udp:1" } },
	  "network a listen udp:1: expected unix:PATH, tcp:[HOST:]PORT, dgram:unix:PATH, "
	  "dgram:udp:[HOST:]PORT or vhost-user:PATH" },
	{ { .network = { "a,lease-file=" } }, "network a lease-file=: must not be empty" },

	/* NAT */
	{ { .network = { "a,dhcp=isc" } }, "network a dhcp=isc: expected libslirp or vmnetd" },
	{ { .network = { "a,dhcp=libslirp,lease-file=/x" } },
	  "network a lease-file=/x: needs dhcp=vmnetd (libslirp's DHCP server keeps no state)" },
	{ { .network = { "a,hostfwd=tcp::x-:22" } },
	  "network a hostfwd=tcp::x-:22: host port must be 1 to 65535" },
	{ { .network = { "a,host=10.0.3.2" } },
	  "network a host=10.0.3.2: not inside net=10.0.2.0/24" },
	{ { .network = { "a,ipv4=off,ipv6=off" } },
	  "network a: ipv4=off and ipv6=off leave nothing to serve" },

	/* Host-only */
	{ { .network = { "h,mode=hostonly,ipv6=on" } },
	  "network h ipv6=on: host-only networks are IPv4 only" },
	{ { .network = { "h,mode=hostonly,lease-time=59" } },
	  "network h lease-time=59: must be a number of seconds from 60 to 31536000" },
	{ { .network = { "h,mode=hostonly,net=192.168.56.0/31" } },
	  "network h net=192.168.56.0/31: prefix length must be 1 to 30" },
	{ { .network = { "h,mode=hostonly,net=" } },	/* fuzz_netconf: was a NULL dereference */
	  "network h net=: not an IPv4 address" },
	{ { .network = { "h,mode=hostonly,dhcpstart=192.168.57.10" } },
	  "network h dhcpstart=192.168.57.10: not inside net=192.168.56.0/24" },
	{ { .network = { "h,mode=hostonly,dhcpend=192.168.56.255" } },
	  "network h dhcpend=192.168.56.255: the network or broadcast address" },
	{ { .network = { "h,mode=hostonly,dhcpstart=192.168.56.200,dhcpend=192.168.56.150" } },
	  "network h: dhcpstart=192.168.56.200 is after dhcpend=192.168.56.150" },
	{ { .network = { "h,mode=hostonly,host=192.168.56.120" } },
	  "network h host=192.168.56.120: inside the DHCP pool 192.168.56.101-192.168.56.254" },
	{ { .network = { "h,mode=hostonly,host=192.168.56.0" } },
	  "network h host=192.168.56.0: the network or broadcast address" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10=192.168.57.10" } },
	  "network h static=52:54:00:00:00:10=192.168.57.10: address not inside "
	  "net=192.168.56.0/24" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10=192.168.56.1=gw" } },
	  "network h static=52:54:00:00:00:10=192.168.56.1=gw: the host's address" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10=192.168.56.255" } },
	  "network h static=52:54:00:00:00:10=192.168.56.255: the network or broadcast address" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10=192.168.56.10,"
			 "static=52:54:00:00:00:10=192.168.56.11" } },
	  "network h static=52:54:00:00:00:10=192.168.56.11: another static lease has that MAC" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10=192.168.56.10,"
			 "static=52:54:00:00:00:11=192.168.56.10" } },
	  "network h static=52:54:00:00:00:11=192.168.56.10: another static lease has that "
	  "address" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10=192.168.56.10=web,"
			 "static=52:54:00:00:00:11=192.168.56.11=WEB" } },
	  "network h static=52:54:00:00:00:11=192.168.56.11=WEB: another static lease has that "
	  "host name" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10" } },
	  "network h static=52:54:00:00:00:10: expected MAC=IP[=HOSTNAME]" },
	{ { .network = { "h,mode=hostonly,static=01:00:5e:00:00:01=192.168.56.10" } },
	  "network h static=01:00:5e:00:00:01=192.168.56.10: '01:00:5e:00:00:01' is not a "
	  "unicast MAC such as 52:54:00:12:34:56" },
	{ { .network = { "h,mode=hostonly,static=00:00:00:00:00:00=192.168.56.10" } },
	  "network h static=00:00:00:00:00:00=192.168.56.10: '00:00:00:00:00:00' is not a "
	  "unicast MAC such as 52:54:00:12:34:56" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:1=192.168.56.10" } },
	  "network h static=52:54:00:00:00:1=192.168.56.10: '52:54:00:00:00:1' is not a "
	  "unicast MAC such as 52:54:00:12:34:56" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10=192.168.56=x" } },
	  "network h static=52:54:00:00:00:10=192.168.56=x: '192.168.56' is not an IPv4 address" },
	{ { .network = { "h,mode=hostonly,static=52:54:00:00:00:10=192.168.56.10=web_1" } },
	  "network h static=52:54:00:00:00:10=192.168.56.10=web_1: 'web_1' is not a host name "
	  "(letters, digits and inner -, at most 63)" },
	{ { .network = { "h,mode=hostonly,domainname=a..b" } },
	  "network h domainname=a..b: not a DNS name such as vm.internal" },
	{ { .network = { "h,mode=hostonly,host-name=-x" } },
	  "network h host-name=-x: not a host name (letters, digits and inner -, at most 63)" },
	{ { .network = { "h,mode=hostonly,host-iface=a/b" } },
	  "network h host-iface=a/b: an interface name is 1 to 15 characters, without / : or "
	  "spaces" },
	{ { .network = { "h,mode=hostonly,host-iface=vmnet0123456789a" } },
	  "network h host-iface=vmnet0123456789a: an interface name is 1 to 15 characters, "
	  "without / : or spaces" },
	{ { .network = { "h,mode=hostonly,router=maybe" } },
	  "network h router=maybe: expected on or off" },
	{ { .network = { "h,mode=hostonly,hostfwd=tcp::2222-10.0.0.5:22" } },
	  "network h hostfwd=tcp::2222-10.0.0.5:22: guest address not inside net=" },

	/* Across networks */
	{ { .network = { "a", "b,mode=hostonly,net=10.0.2.0/24" } },
	  "network b: net=10.0.2.0/24 overlaps network a (10.0.2.0/24)" },
	{ { .network = { "a", "b" } },
	  "network b: net=10.0.2.0/24 overlaps network a (10.0.2.0/24)" },
	{ { .network = { "a,mode=hostonly,net=10.0.0.0/8", "b,net=10.5.0.0/16" } },
	  "network b: net=10.5.0.0/16 overlaps network a (10.0.0.0/8)" },
	{ { .network = { "a,net=10.5.0.0/16", "b,mode=hostonly,net=10.0.0.0/8" } },
	  "network b: net=10.0.0.0/8 overlaps network a (10.5.0.0/16)" },
	{ { .network = { "a,mode=hostonly,host-iface=vmnet1",
			 "b,mode=hostonly,net=192.168.57.0/24,host-iface=vmnet1" } },
	  "network b host-iface=vmnet1: also used by network a" },
	{ { .network = { "a,mode=hostonly,host-iface=vmnet1,hostfwd=tcp::2280-:22" } },
	  "network a: hostfwd= and host-iface= do not mix: the host reaches the VMs directly "
	  "through vmnet1" },
	{ { .network = { "a,mode=hostonly,lease-file=/x",
			 "b,mode=hostonly,net=192.168.57.0/24,lease-file=/x" } },
	  "network b lease-file=/x: also used by network a" },

	/* Sockets */
	{ { .network = { "a", "b,net=10.0.3.0/24" }, .listen = { "unix:/x" } },
	  "--listen unix:/x: bound to no network; add ,network=NAME" },
	{ { .network = { "a", "b,net=10.0.3.0/24" }, .connect = { "tcp:5555" } },
	  "--connect tcp:5555: bound to no network; add ,network=NAME" },
	{ { .listen = { "unix:/x,network=zz" } }, "--listen unix:/x: no network named 'zz'" },
	{ { .network = { "a", "b,net=10.0.3.0/24" },
	    .listen = { "unix:/x,network=a", "unix:/x,network=b" } },
	  "--listen unix:/x: bound to two networks (a and b)" },
	{ { .listen = { "unix:/x", "unix:/x,network=default" } },
	  "--listen unix:/x: given twice for network default" },
	{ { .network = { "a,listen=tcp:5555", "b,net=10.0.3.0/24" },
	    .listen = { "tcp:127.0.0.1:5555,network=b" } },
	  "--listen tcp:127.0.0.1:5555: bound to two networks (a and b)" },
	{ { .network = { "a,connect=unix:/q", "b,net=10.0.3.0/24,connect=unix:/q" } },
	  "network b connect unix:/q: bound to two networks (a and b)" },
	{ { .network = { "a", "b,net=10.0.3.0/24,listen=unix:" SOCKET_DIR "/a.sock" } },
	  "network a default socket unix:" SOCKET_DIR "/a.sock: bound to two networks (b and a)" },
	{ { .listen = { "udp:1" } }, "--listen udp:1: expected unix:PATH, tcp:[HOST:]PORT, "
	  "dgram:unix:PATH, dgram:udp:[HOST:]PORT or vhost-user:PATH" },
	{ { .listen = { "tcp:127.0.0.1:0" } },
	  "--listen tcp:127.0.0.1:0: port must be a number from 1 to 65535" },
	{ { .connect = { "tcp:host:99999" } },
	  "--connect tcp:host:99999: port must be a number from 1 to 65535" },
};

static void test_refused(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_refused(&bad[i].args, bad[i].message);
}

static const char lab_file[] =
	"# Two networks; a third comes from the command line.\n"
	"[lab]\n"
	"mode=hostonly\n"
	"net=192.168.60.0/24\n"
	"static=52:54:00:00:00:10=192.168.60.10=web;52:54:00:00:00:11=192.168.60.11\n"
	"listen=unix:/run/lab.sock;tcp:5600\n"
	"domainname=lab.test\n"
	"\n"
	"[wan]\n"
	"mode=nat\n"
	"net=10.0.9.0/24\n"
	"hostfwd=tcp::2222-:22\n"
	"dnssearch=a.test;b.test\n"
	"dhcp=vmnetd\n"
	"lease-file=/var/lib/vmnetd/wan.leases\n";

static void test_config_file(void)
{
	g_autofree char *path = write_file("lab.conf", lab_file);
	struct vmnetd_config c;
	struct net_config *lab, *wan;

	load_ok(&c, &(struct args){ .config_file = path,
				    .network = { "third,mode=hostonly,net=192.168.61.0/24" },
				    .connect = { "tcp:7000,network=wan" } });
	g_assert_cmpuint(c.networks->len, ==, 3);
	lab = nth(&c, 0);
	wan = nth(&c, 1);
	g_assert_cmpstr(lab->name, ==, "lab");
	g_assert_cmpint(lab->mode, ==, NET_MODE_HOSTONLY);
	g_assert_cmpstr(ip4(lab->ho.host), ==, "192.168.60.1");
	g_assert_cmpuint(lab->ho.statics->len, ==, 2);
	g_assert_cmpstr(static_at(lab, 0)->hostname, ==, "web");
	g_assert_cmpstr(ip4(static_at(lab, 1)->ip), ==, "192.168.60.11");
	g_assert_cmpuint(lab->listen->len, ==, 2);
	g_assert_cmpstr(listen_at(lab, 0)->path, ==, "/run/lab.sock");
	g_assert_cmpuint(listen_at(lab, 1)->port, ==, 5600);
	g_assert_cmpstr(lab->ho.domain, ==, "lab.test");
	g_assert_cmpstr(wan->name, ==, "wan");
	g_assert_cmpint(wan->mode, ==, NET_MODE_NAT);
	g_assert_true(wan->dhcp_vmnetd);
	g_assert_cmpuint(wan->nat.hostfwds->len, ==, 1);
	g_assert_cmpuint(wan->nat.dnssearch->len, ==, 3);	/* two and the NULL end */
	g_assert_cmpstr(g_ptr_array_index(wan->nat.dnssearch, 1), ==, "b.test");
	g_assert_cmpuint(wan->connect->len, ==, 1);
	g_assert_false(wan->default_socket);
	g_assert_cmpstr(nth(&c, 2)->name, ==, "third");
	g_assert_true(nth(&c, 2)->default_socket);
	vmnetd_config_clear(&c);
}

static void file_refused(const char *text, const struct args *more, const char *want_fmt)
{
	g_autofree char *path = write_file("bad.conf", text);
	g_autofree char *want = g_strdup_printf(want_fmt, path);
	struct args a = *more;

	a.config_file = path;
	assert_refused(&a, want);
}

static void test_config_file_refused(void)
{
	static const struct args none;

	file_refused("[lab]\nmode=hostonly\nfrob=1\n", &none,
		     "%s: network lab: unknown key 'frob'");
	file_refused("[lab]\nmode=hostonly\ntftp=/srv\n", &none,
		     "%s: network lab: key 'tftp' is not for mode hostonly");
	file_refused("[lab]\nmtu=70000\n", &none,
		     "%s: network lab mtu=70000: must be a number from 68 to 65521");
	file_refused("[lab]\nmode=vde\n", &none,
		     "%s: network lab mode=vde: expected nat, hostonly or bridged");
	file_refused("[lab]\nlisten=\n", &none,
		     "%s: network lab listen : expected unix:PATH, tcp:[HOST:]PORT, "
		     "dgram:unix:PATH, dgram:udp:[HOST:]PORT or vhost-user:PATH");
	file_refused("[a.b]\nmode=nat\n", &none,
		     "%s: network a.b: a network name is 1 to 15 characters from A-Z a-z 0-9 _ -");
	file_refused("[a]\n[b]\nmode=hostonly\nnet=10.0.2.128/25\n", &none,
		     "%s: network b: net=10.0.2.128/25 overlaps network a (10.0.2.0/24)");
	file_refused("[lab]\nmode=hostonly\n", &(struct args){ .network = { "lab" } },
		     "network lab: declared twice");
	file_refused("[lab]\n", &(struct args){ .nat = { "mtu=1500" } },
		     "--nat: networks are declared; give NAT options in "
		     "--network NAME,mode=nat,...");
	file_refused("[lab]\nstatic=52:54:00:00:00:10=192.168.56.10\n", &none,
		     "%s: network lab: key 'static' is not for mode nat");
}

static void test_config_file_unreadable(void)
{
	g_autofree char *path = g_build_filename(tmp_dir, "missing.conf", NULL);
	g_autofree char *garbage = write_file("garbage.conf", "not a key file\n");
	g_autofree char *want = g_strdup_printf("--config %s: ", path);
	g_autofree char *want2 = g_strdup_printf("--config %s: ", garbage);
	struct vmnetd_config c;
	g_autofree char *msg = try_load(&c, &(struct args){ .config_file = path });
	g_autofree char *msg2 = NULL;

	vmnetd_config_clear(&c);
	g_assert_nonnull(msg);
	g_assert_true(g_str_has_prefix(msg, want));
	msg2 = try_load(&c, &(struct args){ .config_file = garbage });
	vmnetd_config_clear(&c);
	g_assert_nonnull(msg2);
	g_assert_true(g_str_has_prefix(msg2, want2));
}

static void remove_tmp_dir(void)
{
	g_autoptr(GDir) d = g_dir_open(tmp_dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(tmp_dir, name, NULL);

		g_unlink(p);
	}
	g_rmdir(tmp_dir);
	g_free(tmp_dir);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmp_dir = g_dir_make_tmp("test_netconf-XXXXXX", NULL);
	g_assert_nonnull(tmp_dir);
	g_test_add_func("/netconf/nat/default-network", test_default_network);
	g_test_add_func("/netconf/nat/compat", test_nat_compat);
	g_test_add_func("/netconf/network/nat", test_nat_network);
	g_test_add_func("/netconf/network/hostonly-defaults", test_hostonly_defaults);
	g_test_add_func("/netconf/network/hostonly-keys", test_hostonly_keys);
	g_test_add_func("/netconf/network/hostonly-small-nets", test_hostonly_small_nets);
	g_test_add_func("/netconf/network/refused", test_refused);
	g_test_add_func("/netconf/sockets/binding", test_listen_binding);
	g_test_add_func("/netconf/sockets/default", test_default_sockets);
	g_test_add_func("/netconf/file/parse", test_config_file);
	g_test_add_func("/netconf/file/refused", test_config_file_refused);
	g_test_add_func("/netconf/file/unreadable", test_config_file_unreadable);
	rc = g_test_run();
	remove_tmp_dir();
	return rc;
}
