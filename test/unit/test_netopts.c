/* test_netopts.c - --nat and address parsing: every option, and each kind of bad input. */
#include <glib.h>
#include <arpa/inet.h>
#include <string.h>

#include "vmnetd/endpoint.h"
#include "vmnetd/netopts.h"

static char *ip4(struct in_addr a)
{
	static char buf[INET_ADDRSTRLEN];

	return (char *)inet_ntop(AF_INET, &a, buf, sizeof(buf));
}

static char *ip6(const struct in6_addr *a)
{
	static char buf[INET6_ADDRSTRLEN];

	return (char *)inet_ntop(AF_INET6, a, buf, sizeof(buf));
}

/* Parse and finish; returns the error message or NULL. */
static char *try_nat(struct nat_config *c, const char *opts)
{
	GError *err = NULL;
	char *msg = NULL;

	nat_config_init(c);
	if (!nat_config_parse(c, "--nat", opts, &err) || !nat_config_finish(c, "--nat", &err)) {
		msg = g_strdup(err->message);
		g_error_free(err);
	}
	return msg;
}

static void test_defaults(void)
{
	struct nat_config c;

	g_assert_null(try_nat(&c, ""));
	g_assert_cmpstr(ip4(c.net), ==, "10.0.2.0");
	g_assert_cmpstr(ip4(c.mask), ==, "255.255.255.0");
	g_assert_cmpstr(ip4(c.host), ==, "10.0.2.2");
	g_assert_cmpstr(ip4(c.dns), ==, "10.0.2.3");
	g_assert_cmpstr(ip4(c.dhcp_start), ==, "10.0.2.15");
	g_assert_cmpstr(ip6(&c.ip6_prefix), ==, "fec0::");
	g_assert_cmpstr(ip6(&c.ip6_host), ==, "fec0::2");
	g_assert_cmpstr(ip6(&c.ip6_dns), ==, "fec0::3");
	g_assert_cmpuint(c.mtu, ==, 65520);
	g_assert_true(c.ipv4 && c.ipv6 && !c.restricted);
	nat_config_clear(&c);
}

static void test_every_option(void)
{
	struct nat_config c;
	struct hostfwd *h;
	struct guestfwd *g;

	g_assert_null(try_nat(&c,
		"net=192.168.76.0/24,host=192.168.76.1,dhcpstart=192.168.76.100,dns=192.168.76.53,"
		"dnssearch=example.com,dnssearch=example.org,domainname=vm.example,hostname=guest,"
		"restrict=off,ipv4=on,ipv6=on,ipv6-net=fd00:1::/64,ipv6-host=fd00:1::1,"
		"ipv6-dns=fd00:1::53,tftp=/srv/tftp,bootfile=pxelinux.0,"
		"hostfwd=tcp::2280-:22,hostfwd=udp:127.0.0.1:5353-192.168.76.9:53,"
		"guestfwd=tcp:192.168.76.200:80-tcp:127.0.0.1:8080,"
		"guestfwd=tcp:192.168.76.201:90-unix:/run/x.sock,mtu=9000"));
	g_assert_cmpstr(ip4(c.host), ==, "192.168.76.1");
	g_assert_cmpstr(ip4(c.dhcp_start), ==, "192.168.76.100");
	g_assert_cmpstr(ip4(c.dns), ==, "192.168.76.53");
	g_assert_cmpuint(c.dnssearch->len, ==, 3);	/* two and the NULL end */
	g_assert_cmpstr(g_ptr_array_index(c.dnssearch, 1), ==, "example.org");
	g_assert_null(g_ptr_array_index(c.dnssearch, 2));
	g_assert_cmpstr(c.domainname, ==, "vm.example");
	g_assert_cmpstr(c.hostname, ==, "guest");
	g_assert_cmpstr(c.tftp, ==, "/srv/tftp");
	g_assert_cmpstr(c.bootfile, ==, "pxelinux.0");
	g_assert_cmpstr(ip6(&c.ip6_prefix), ==, "fd00:1::");
	g_assert_cmpstr(ip6(&c.ip6_host), ==, "fd00:1::1");
	g_assert_cmpstr(ip6(&c.ip6_dns), ==, "fd00:1::53");
	g_assert_cmpuint(c.mtu, ==, 9000);

	g_assert_cmpuint(c.hostfwds->len, ==, 2);
	h = &g_array_index(c.hostfwds, struct hostfwd, 0);
	g_assert_false(h->udp);
	g_assert_cmpuint(h->host_addr.s_addr, ==, INADDR_ANY);
	g_assert_cmpuint(h->host_port, ==, 2280);
	g_assert_cmpstr(ip4(h->guest_addr), ==, "192.168.76.100");	/* dhcpstart */
	g_assert_cmpuint(h->guest_port, ==, 22);
	h = &g_array_index(c.hostfwds, struct hostfwd, 1);
	g_assert_true(h->udp);
	g_assert_cmpstr(ip4(h->host_addr), ==, "127.0.0.1");
	g_assert_cmpstr(ip4(h->guest_addr), ==, "192.168.76.9");

	g_assert_cmpuint(c.guestfwds->len, ==, 2);
	g = &g_array_index(c.guestfwds, struct guestfwd, 0);
	g_assert_cmpstr(ip4(g->addr), ==, "192.168.76.200");
	g_assert_cmpuint(g->port, ==, 80);
	g_assert_cmpint(g->target.type, ==, ENDPOINT_TCP);
	g_assert_cmpuint(g->target.port, ==, 8080);
	g = &g_array_index(c.guestfwds, struct guestfwd, 1);
	g_assert_cmpint(g->target.type, ==, ENDPOINT_UNIX);
	g_assert_cmpstr(g->target.path, ==, "/run/x.sock");
	nat_config_clear(&c);
}

static void test_derived_from_net(void)
{
	struct nat_config c;

	g_assert_null(try_nat(&c, "net=10.0.0.0/8"));
	/* QEMU's rule: .2.2, .2.3 and .2.15 inside whatever net= is. */
	g_assert_cmpstr(ip4(c.host), ==, "10.0.2.2");
	g_assert_cmpstr(ip4(c.dhcp_start), ==, "10.0.2.15");
	nat_config_clear(&c);
	g_assert_null(try_nat(&c, "net=192.168.5.0/255.255.255.0,restrict=yes,ipv6=off,mtu=1500"));
	g_assert_cmpstr(ip4(c.host), ==, "192.168.5.2");
	g_assert_true(c.restricted);
	g_assert_false(c.ipv6);
	nat_config_clear(&c);
	g_assert_null(try_nat(&c, "net=172.20.0.0"));	/* classful: /12 */
	g_assert_cmpstr(ip4(c.mask), ==, "255.240.0.0");
	nat_config_clear(&c);
	g_assert_null(try_nat(&c, "domainname=a,,b"));	/* ,, is a literal comma */
	g_assert_cmpstr(c.domainname, ==, "a,b");
	nat_config_clear(&c);
}

static const struct {
	const char *opts;
	const char *message;
} bad[] = {
	{ "bogus=1", "--nat: unknown option 'bogus'" },
	{ "net", "--nat net: expected key=value" },
	{ "net=10.0.2.0/24,,", "prefix length must be 1 to 30" },	/* ",," is part of the value */
	{ "net=10.0.2.0/24,", "empty option" },
	{ "net=10.0.2", "--nat net=10.0.2: not an IPv4 address" },
	{ "net=", "--nat net=: not an IPv4 address" },	/* fuzz_netopts: was a NULL dereference */
	{ "net=10.0.2.0/33", "--nat net=10.0.2.0/33: prefix length must be 1 to 30" },
	{ "net=10.0.2.0/255.0.255.0", "netmask is not contiguous" },
	{ "host=10.0.3.2", "--nat host=10.0.3.2: not inside net=10.0.2.0/24" },
	{ "host=10.0.2.255", "--nat host=10.0.2.255: the network or broadcast address" },
	{ "dns=10.0.2.2", "must differ" },
	{ "dhcpstart=nope", "--nat dhcpstart=nope: not an IPv4 address" },
	{ "restrict=maybe", "--nat restrict=maybe: expected on or off" },
	{ "ipv4=off,ipv6=off", "leave nothing to serve" },
	{ "ipv6-net=fec0::/200", "prefix length must be 1 to 126" },
	{ "ipv6-host=10.0.2.2", "--nat ipv6-host=10.0.2.2: not an IPv6 address" },
	{ "mtu=67", "--nat mtu=67: must be a number from 68 to 65521" },
	{ "mtu=65522", "must be a number from 68 to 65521" },
	{ "mtu=abc", "must be a number" },
	{ "mtu=1000", "--nat mtu=1000: IPv6 needs at least 1280" },
	{ "hostname=", "--nat hostname=: must not be empty" },
	{ "hostfwd=tcp::2280", "expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport" },
	{ "hostfwd=", "expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport" },	/* fuzz_netopts */
	{ "ipv6-net=", "--nat ipv6-net=: not an IPv6 address" },	/* fuzz_netopts */
	{ "hostfwd=sctp::1-:2", "protocol must be tcp or udp" },
	{ "hostfwd=tcp::0-:22", "host port must be 1 to 65535" },
	{ "hostfwd=tcp::70000-:22", "host port must be 1 to 65535" },
	{ "hostfwd=tcp:1.2.3:22-:22", "host address '1.2.3' is not an IPv4 address" },
	{ "hostfwd=tcp::22-10.0.2.15:x", "guest port must be 1 to 65535" },
	{ "hostfwd=tcp::22-10.9.9.9:22", "guest address not inside net=" },
	{ "guestfwd=tcp:10.0.2.100:80", "expected tcp:IP:PORT-tcp:HOST:PORT" },
	{ "guestfwd=tcp:10.0.2.100:80-file:/x",
	  "expected unix:PATH, tcp:[HOST:]PORT, dgram:unix:PATH, dgram:udp:[HOST:]PORT or vhost-user:PATH" },
	{ "guestfwd=tcp:10.0.9.100:80-tcp:127.0.0.1:80", "address not inside net=" },
	{ "guestfwd=tcp:10.0.2.2:80-tcp:127.0.0.1:80", "not the host or DNS address" },
	{ "guestfwd=tcp:10.0.2.100:0-tcp:127.0.0.1:80", "port must be 1 to 65535" },
};

static void test_bad_input(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct nat_config c;
		g_autofree char *msg = try_nat(&c, bad[i].opts);

		if (!bad[i].message) {
			g_assert_null(msg);
		} else {
			if (!msg)
				g_error("'%s' was accepted", bad[i].opts);
			if (!strstr(msg, bad[i].message))
				g_error("'%s': got '%s', want '%s'", bad[i].opts, msg, bad[i].message);
		}
		nat_config_clear(&c);
	}
}

static void test_endpoints(void)
{
	struct endpoint ep;
	GError *err = NULL;
	g_autofree char *s = NULL;
	g_autofree char *args = NULL;

	g_assert_true(endpoint_parse("unix:/run/a.sock", "--listen", &ep, NULL));
	g_assert_cmpint(ep.type, ==, ENDPOINT_UNIX);
	args = endpoint_qemu_args(&ep, "n0", 65520);
	g_assert_cmpstr(args, ==, "-netdev stream,id=n0,server=off,addr.type=unix,"
		"addr.path=/run/a.sock -device virtio-net-pci,netdev=n0");
	endpoint_clear(&ep);

	g_assert_true(endpoint_parse("vhost-user:/run/v.sock", "--listen", &ep, NULL));
	g_assert_true(ep.vhost);
	g_clear_pointer(&args, g_free);
	args = endpoint_qemu_args(&ep, "n1", 1500);
	g_assert_cmpstr(args, ==, "-m 1G -object memory-backend-memfd,id=n1-mem,size=1G,share=on "
		"-machine memory-backend=n1-mem -chardev socket,id=n1-chr,path=/run/v.sock,"
		"reconnect=1 -netdev vhost-user,id=n1,chardev=n1-chr "
		"-device virtio-net-pci,netdev=n1,host_mtu=1500,vectors=0");
	g_clear_pointer(&s, g_free);
	s = endpoint_to_string(&ep);
	g_assert_cmpstr(s, ==, "vhost-user:/run/v.sock");
	g_clear_pointer(&s, g_free);
	endpoint_clear(&ep);

	g_assert_true(endpoint_parse("tcp:5555", "--listen", &ep, NULL));
	g_assert_cmpstr(ep.host, ==, "127.0.0.1");
	g_assert_cmpuint(ep.port, ==, 5555);
	endpoint_clear(&ep);
	g_assert_true(endpoint_parse("tcp::5555", "--listen", &ep, NULL));
	g_assert_cmpstr(ep.host, ==, "127.0.0.1");
	endpoint_clear(&ep);
	g_assert_true(endpoint_parse("tcp:[::1]:5555", "--listen", &ep, NULL));
	g_assert_cmpstr(ep.host, ==, "::1");
	s = endpoint_to_string(&ep);
	g_assert_cmpstr(s, ==, "tcp:[::1]:5555");
	endpoint_clear(&ep);

	g_assert_false(endpoint_parse("tcp:localhost:99999", "--listen", &ep, &err));
	g_assert_cmpstr(err->message, ==,
			"--listen tcp:localhost:99999: port must be a number from 1 to 65535");
	g_clear_error(&err);
	g_assert_false(endpoint_parse("udp:1", "--connect", &ep, &err));
	g_assert_cmpstr(err->message, ==,
			"--connect udp:1: expected unix:PATH, tcp:[HOST:]PORT, "
			"dgram:unix:PATH, dgram:udp:[HOST:]PORT or vhost-user:PATH");
	g_clear_error(&err);
	g_assert_false(endpoint_parse("unix:", "--listen", &ep, &err));
	g_assert_cmpstr(err->message, ==, "--listen unix:: the socket path is empty");
	g_clear_error(&err);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/netopts/defaults", test_defaults);
	g_test_add_func("/netopts/every-option", test_every_option);
	g_test_add_func("/netopts/derived-from-net", test_derived_from_net);
	g_test_add_func("/netopts/bad-input", test_bad_input);
	g_test_add_func("/netopts/endpoints", test_endpoints);
	return g_test_run();
}
