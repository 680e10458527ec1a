/* test_portsec.c - port security: one VM port cannot claim another's leased
 * address, the gateway's, or its MAC; IPv6 addresses stay with the port that
 * used them first; a port's own traffic passes. */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>
#include <time.h>

#include "vmnetd/frame.h"
#include "vmnetd/portsec.h"
#include "vmnetd/switch.h"

struct fake_port {
	struct port port;
	unsigned delivered;
};

static enum port_verdict fake_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	(void)frame;
	(void)len;
	((struct fake_port *)p)->delivered++;
	return PORT_QUEUED;
}

static const struct port_ops fake_ops = { .kind = "fake", .deliver = fake_deliver };

static const uint8_t mac_a[6] = { 0x52, 0x54, 0, 0, 0, 0xaa };	/* the victim, on p1 */
static const uint8_t mac_b[6] = { 0x52, 0x54, 0, 0, 0, 0xbb };	/* the attacker, on p2 */

struct fixture {
	struct vswitch *sw;
	struct lease_table *leases;
	struct portsec *ps;
	struct fake_port p[3];		/* p[0] plays the uplink */
};

static bool filter(void *opaque, struct vswitch *sw, struct port *in, const uint8_t *frame,
		   size_t len, int64_t now_ns)
{
	return portsec_allow(opaque, sw, in, frame, len, now_ns);
}

static void gone(void *opaque, const struct port *p)
{
	portsec_forget(opaque, p);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	g_assert_cmpint(inet_pton(AF_INET, s, &a), ==, 1);
	return a.s_addr;
}

static void setup(struct fixture *fx, gconstpointer data)
{
	struct in_addr own4[] = { { ip4("10.0.2.2") }, { ip4("10.0.2.3") } };
	struct in6_addr own6;
	struct lease l = { .mac = { 0x52, 0x54, 0, 0, 0, 0xaa }, .ip = { ip4("10.0.2.15") },
			   .expires = INT64_MAX };

	(void)data;
	inet_pton(AF_INET6, "fec0::2", &own6);
	fx->sw = switch_new(SWITCH_AGEING_NS);
	fx->leases = lease_table_new();
	lease_table_set(fx->leases, &l);
	fx->ps = portsec_new(fx->leases, own4, 2, &own6, 1);
	switch_set_filter(fx->sw, filter, gone, fx->ps);
	for (int i = 0; i < 3; i++) {
		memset(&fx->p[i], 0, sizeof(fx->p[i]));
		port_init(&fx->p[i].port, &fake_ops, g_strdup_printf("p%d", i));
		switch_add_port(fx->sw, &fx->p[i].port);
	}
	fx->p[0].port.uplink = true;
}

static void teardown(struct fixture *fx, gconstpointer data)
{
	(void)data;
	for (int i = 0; i < 3; i++) {
		if (fx->p[i].port.sw)
			switch_del_port(fx->sw, &fx->p[i].port);
		port_fini(&fx->p[i].port);
	}
	switch_free(fx->sw);
	portsec_free(fx->ps);
	lease_table_free(fx->leases);
}

/* An ARP reply from @sha saying "@spa is at @sha", sent from @src. */
static size_t arp(uint8_t *f, const uint8_t src[6], const uint8_t sha[6], const char *spa)
{
	uint32_t a = ip4(spa), t = ip4("10.0.2.2");

	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	put_be16(f + 12, ETH_P_ARP);
	memcpy(f + 14, (uint8_t[]){ 0, 1, 8, 0, 6, 4, 0, 2 }, 8);
	memcpy(f + 22, sha, 6);
	memcpy(f + 28, &a, 4);
	memcpy(f + 38, &t, 4);
	return 60;
}

static size_t ip_from(uint8_t *f, const uint8_t src[6], const char *saddr)
{
	struct frame_addrs a = { .src = { ip4(saddr) }, .dst = { ip4("10.0.2.2") },
				 .dst_mac = { 0x52, 0x55, 10, 0, 2, 2 } };

	memcpy(a.src_mac, src, 6);
	return frame_build_udp4(f, 128, &a, 1000, 2000, (const uint8_t *)"x", 1);
}

/* Sends, and says whether the switch let it through. */
static bool sent(struct fixture *fx, int port, const uint8_t *f, size_t len)
{
	uint64_t before = switch_get_stats(fx->sw)->filtered;

	switch_input(fx->sw, &fx->p[port].port, f, len, 1000);
	return switch_get_stats(fx->sw)->filtered == before;
}

static void test_ipv4(struct fixture *fx, gconstpointer data)
{
	uint8_t f[128];

	(void)data;
	g_assert_true(sent(fx, 1, f, arp(f, mac_a, mac_a, "10.0.2.15")));	/* its own */
	g_assert_true(sent(fx, 1, f, ip_from(f, mac_a, "10.0.2.15")));
	/* Another port claiming the lease, the gateway, DNS: dropped, counted. */
	g_assert_false(sent(fx, 2, f, arp(f, mac_b, mac_b, "10.0.2.15")));
	g_assert_false(sent(fx, 2, f, arp(f, mac_b, mac_b, "10.0.2.2")));
	g_assert_false(sent(fx, 2, f, arp(f, mac_b, mac_b, "10.0.2.3")));
	g_assert_false(sent(fx, 2, f, ip_from(f, mac_b, "10.0.2.15")));
	g_assert_false(sent(fx, 2, f, ip_from(f, mac_b, "10.0.2.2")));
	/* ...or a MAC other than its frame's in the ARP (ff:ff:.. sniffing). */
	g_assert_false(sent(fx, 2, f, arp(f, mac_b, (uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
					   "10.0.2.60")));
	/* ...or an ARP of another hardware type, which libslirp and Linux take too. */
	arp(f, mac_b, mac_b, "10.0.2.60");
	f[14 + 1] = 6;
	g_assert_false(sent(fx, 2, f, 60));
	/* ...or the victim's MAC itself. */
	g_assert_false(sent(fx, 2, f, ip_from(f, mac_a, "10.0.2.60")));
	g_assert_true(switch_lookup(fx->sw, mac_a, 1000) == &fx->p[1].port);
	g_assert_cmpuint(fx->p[2].port.stats.rx_drops, ==, 8);
	/* An address nobody holds, and DHCP's 0.0.0.0, pass. */
	g_assert_true(sent(fx, 2, f, ip_from(f, mac_b, "10.0.2.60")));
	g_assert_true(sent(fx, 2, f, ip_from(f, mac_b, "0.0.0.0")));
	/* The uplink is not filtered. */
	g_assert_true(sent(fx, 0, f, arp(f, (uint8_t[6]){ 0x52, 0x55, 10, 0, 2, 2 },
				      (uint8_t[6]){ 0x52, 0x55, 10, 0, 2, 2 }, "10.0.2.2")));
}

/* Source @saddr; with @na_target, a neighbour advertisement for it. */
static size_t ip6_from(uint8_t *f, const uint8_t src[6], const char *saddr, const char *na_target)
{
	uint8_t *ip6 = f + ETH_HLEN, *icmp = ip6 + 40;

	memset(f, 0, ETH_HLEN + 40 + 24);
	memcpy(f, (uint8_t[6]){ 0x33, 0x33, 0, 0, 0, 1 }, 6);
	memcpy(f + 6, src, 6);
	put_be16(f + 12, ETH_P_IPV6);
	ip6[0] = 0x60;
	put_be16(ip6 + 4, 24);
	ip6[6] = na_target ? 58 : 17;
	ip6[7] = 255;
	inet_pton(AF_INET6, saddr, ip6 + 8);
	inet_pton(AF_INET6, "ff02::1", ip6 + 24);
	if (na_target) {
		icmp[0] = 136;
		inet_pton(AF_INET6, na_target, icmp + 8);
	}
	return ETH_HLEN + 40 + 24;
}

static void test_ipv6(struct fixture *fx, gconstpointer data)
{
	uint8_t f[128];

	(void)data;
	g_assert_true(sent(fx, 1, f, ip6_from(f, mac_a, "fe80::a", NULL)));	/* first: p1's */
	g_assert_true(sent(fx, 1, f, ip6_from(f, mac_a, "fe80::a", "fe80::a")));
	g_assert_false(sent(fx, 2, f, ip6_from(f, mac_b, "fe80::a", NULL)));
	g_assert_false(sent(fx, 2, f, ip6_from(f, mac_b, "fe80::b", "fe80::a")));	/* NA lie */
	g_assert_false(sent(fx, 2, f, ip6_from(f, mac_b, "fec0::2", NULL)));	/* the gateway */
	g_assert_true(sent(fx, 2, f, ip6_from(f, mac_b, "::", NULL)));		/* DAD */
	/* A lie behind a hop-by-hop options header is still a lie. */
	{
		size_t n = ip6_from(f, mac_b, "fe80::b", "fe80::a");
		uint8_t *ip6 = f + ETH_HLEN;

		memmove(ip6 + 48, ip6 + 40, 24);
		memset(ip6 + 40, 0, 8);
		ip6[40] = 58;			/* next: ICMPv6; length 0: 8 bytes */
		ip6[6] = 0;			/* hop-by-hop */
		put_be16(ip6 + 4, 32);
		g_assert_false(sent(fx, 2, f, n + 8));
	}
	/* Once p1 is gone its addresses are free again. */
	switch_del_port(fx->sw, &fx->p[1].port);
	g_assert_true(sent(fx, 2, f, ip6_from(f, mac_b, "fe80::a", NULL)));
}

/* A port keeps at most PORTSEC_V6_PER_PORT addresses: the oldest go. */
static void test_ipv6_cap(struct fixture *fx, gconstpointer data)
{
	uint8_t f[128];
	char a[64];

	(void)data;
	for (int i = 0; i < PORTSEC_V6_PER_PORT + 1; i++) {
		g_snprintf(a, sizeof(a), "fe80::%x", i + 1);
		g_assert_true(sent(fx, 1, f, ip6_from(f, mac_a, a, NULL)));
	}
	g_assert_true(sent(fx, 2, f, ip6_from(f, mac_b, "fe80::1", NULL)));	/* evicted */
	g_assert_false(sent(fx, 2, f, ip6_from(f, mac_b, "fe80::2", NULL)));
}

/* A frame's addresses sit at any alignment (frames follow one another in the
 * stream buffer): fuzz_portsec found the IPv6 hash loading words from them. */
static void test_ipv6_unaligned(struct fixture *fx, gconstpointer data)
{
	uint8_t buf[129];
	uint8_t *f = buf + 1;

	(void)data;
	g_assert_true(sent(fx, 1, f, ip6_from(f, mac_a, "fe80::a", NULL)));
	g_assert_false(sent(fx, 2, f, ip6_from(f, mac_b, "fe80::a", NULL)));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
	ADD("/portsec/ipv4", test_ipv4);
	ADD("/portsec/ipv6", test_ipv6);
	ADD("/portsec/ipv6-cap", test_ipv6_cap);
	ADD("/portsec/ipv6-unaligned", test_ipv6_unaligned);
	return g_test_run();
}
