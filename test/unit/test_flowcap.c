/* test_flowcap.c - the flow caps: a guest opens at most its share of host
 * sockets, other guests keep theirs, flows end with FIN/RST or idleness. */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "vmnetd/flowcap.h"
#include "vmnetd/frame.h"

#define SEC 1000000000LL

/* The sending port is the guest's address's last byte here, unless a test
 * says every frame comes from one port. */
static const void *one_port;

static const void *sender(void *opaque, const uint8_t *frame, size_t len)
{
	(void)opaque;
	if (one_port)
		return one_port;
	return len > ETH_HLEN + 15 ? GUINT_TO_POINTER(frame[ETH_HLEN + 15] + 1) : NULL;
}

static bool admit(struct flowcap *fc, const uint8_t *f, size_t len, int64_t now)
{
	return flowcap_admit(fc, f, len, now, sender, NULL);
}

static size_t udp_from(uint8_t *f, uint32_t guest, uint16_t sport)
{
	struct frame_addrs a = { .src = { htonl(guest) }, .dst = { htonl(0xcb00710a) } };

	return frame_build_udp4(f, 128, &a, sport, 7, (const uint8_t *)"x", 1);
}

/* A TCP segment with @flags from 10.0.2.15:@sport. */
static size_t tcp_from(uint8_t *f, uint16_t sport, uint8_t flags)
{
	size_t n = udp_from(f, 0x0a00020f, sport);
	uint8_t *ip = f + ETH_HLEN, *tcp = ip + IP4_HLEN;

	(void)n;
	ip[9] = IPPROTO_TCP_;
	put_be16(ip + 2, IP4_HLEN + 20);
	memset(tcp + 4, 0, 16);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	return ETH_HLEN + IP4_HLEN + 20;
}

static void test_udp_share(void)
{
	struct flowcap *fc = flowcap_new(80);		/* a guest may hold 10 */
	struct flowcap_stats st;
	uint8_t f[128];

	for (int i = 0; i < 10; i++)
		g_assert_true(admit(fc, f, udp_from(f, 0x0a00020f, 1000 + i), 0));
	g_assert_false(admit(fc, f, udp_from(f, 0x0a00020f, 2000), 0));
	g_assert_true(admit(fc, f, udp_from(f, 0x0a00020f, 1000), SEC));	/* open one */
	g_assert_true(admit(fc, f, udp_from(f, 0x0a000210, 2000), SEC));	/* another VM */
	/* Idle past libslirp's expiry: the slots come back. */
	g_assert_true(admit(fc, f, udp_from(f, 0x0a00020f, 2000),
				    2 * SEC + FLOWCAP_UDP_IDLE_NS));
	flowcap_get_stats(fc, &st);
	g_assert_cmpuint(st.refused, ==, 1);
	flowcap_free(fc);
}

static void test_tcp_open_close(void)
{
	struct flowcap *fc = flowcap_new(80);
	uint8_t f[128];

	for (int i = 0; i < 10; i++)
		g_assert_true(admit(fc, f, tcp_from(f, 3000 + i, 0x02), 0));	/* SYN */
	g_assert_false(admit(fc, f, tcp_from(f, 4000, 0x02), 0));
	g_assert_true(admit(fc, f, tcp_from(f, 3000, 0x10), 0));	/* data passes */
	g_assert_true(admit(fc, f, tcp_from(f, 3000, 0x11), 0));	/* FIN: one ends */
	g_assert_true(admit(fc, f, tcp_from(f, 4000, 0x02), 0));
	g_assert_true(admit(fc, f, tcp_from(f, 4000, 0x04), 0));	/* RST */
	g_assert_true(admit(fc, f, tcp_from(f, 4001, 0x02), 0));
	flowcap_free(fc);
}

/* The network's total binds too: many guests, each within its share. */
static void test_network_cap(void)
{
	struct flowcap *fc = flowcap_new(16);		/* 2 per guest, 16 in all */
	uint8_t f[128];
	unsigned ok = 0;

	for (uint32_t g = 0; g < 20; g++)
		for (int i = 0; i < 2; i++)
			ok += admit(fc, f, udp_from(f, 0x0a000220 + g, 1000 + i), 0);
	g_assert_cmpuint(ok, ==, 16);
	flowcap_free(fc);
}

/* A port that sends from many addresses nobody leased still holds only its
 * one share (the review's 21,000 flows from 20 addresses). */
static void test_per_port_not_per_address(void)
{
	struct flowcap *fc = flowcap_new(80);
	uint8_t f[128];
	unsigned ok = 0;

	one_port = GUINT_TO_POINTER(7);
	for (uint32_t a = 0; a < 20; a++)
		for (int i = 0; i < 10; i++)
			ok += admit(fc, f, udp_from(f, 0x0a000264 + a, 1000 + i), 0);
	one_port = NULL;
	g_assert_cmpuint(ok, ==, 10);
	g_assert_true(admit(fc, f, udp_from(f, 0x0a00020f, 5000), 0));	/* another VM */
	flowcap_free(fc);
}

static void test_garbage(void)
{
	struct flowcap *fc = flowcap_new(64);
	uint8_t f[128];
	size_t full = udp_from(f, 0x0a00020f, 1000);

	for (int i = 0; i < 50000; i++) {
		size_t len = g_test_rand_int_range(0, full + 1);
		uint8_t *copy = g_memdup2(f, full);

		copy[g_test_rand_int_range(0, full)] = g_test_rand_int_range(0, 256);
		admit(fc, copy, len, i);
		g_free(copy);
	}
	flowcap_free(fc);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/flowcap/udp-share", test_udp_share);
	g_test_add_func("/flowcap/tcp-open-close", test_tcp_open_close);
	g_test_add_func("/flowcap/network-cap", test_network_cap);
	g_test_add_func("/flowcap/per-port-not-per-address", test_per_port_not_per_address);
	g_test_add_func("/flowcap/garbage", test_garbage);
	return g_test_run();
}
