/* test_dhcp_mtu.c - option 26 added to DHCP replies, and frames it must leave alone. */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "vmnetd/dhcp_mtu.h"
#include "vmnetd/frame.h"

#define VEND_LEN 312
#define UDP_PAYLOAD (236 + VEND_LEN)
#define FRAME_LEN (14 + 20 + 8 + UDP_PAYLOAD)

static uint32_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static uint32_t sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += get_be16(p + i);
	if (n & 1)
		s += p[n - 1] << 8;
	return s;
}

/* A valid checksum sums, with the pseudo-header, to 0xffff. */
static bool udp_checksum_ok(uint8_t *f)
{
	size_t udp_len = 8 + UDP_PAYLOAD;
	uint32_t s = sum(f + 14 + 12, 8) + 17 + udp_len + sum(f + 34, udp_len);

	return fold(s) == 0xffff;
}

static void build_reply(uint8_t *f, const uint8_t *opts, size_t opts_len)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *bootp = udp + 8;

	memset(f, 0, FRAME_LEN);
	memset(f, 0xff, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	put_be16(ip + 2, 20 + 8 + UDP_PAYLOAD);
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 10; ip[13] = 0; ip[14] = 2; ip[15] = 2;
	memset(ip + 16, 0xff, 4);
	put_be16(udp, 67);
	put_be16(udp + 2, 68);
	put_be16(udp + 4, 8 + UDP_PAYLOAD);
	bootp[0] = 2;
	bootp[236] = 99; bootp[237] = 130; bootp[238] = 83; bootp[239] = 99;
	memcpy(bootp + 240, opts, opts_len);
	put_be16(udp + 6, 1);		/* nonzero: a checksum is in use */
	struct udp4_view v;

	g_assert_true(frame_udp4(f, FRAME_LEN, &v));
	udp4_update_checksum(&v);
}

static const uint8_t typical[] = { 53, 1, 2, 54, 4, 10, 0, 2, 2, 1, 4, 255, 255, 255, 0,
				   3, 4, 10, 0, 2, 2, 255 };

static void test_adds_option(void)
{
	uint8_t f[FRAME_LEN];
	const uint8_t *o = f + 14 + 20 + 8 + 240;

	build_reply(f, typical, sizeof(typical));
	g_assert_true(udp_checksum_ok(f));
	g_assert_true(dhcp_is_reply(f, FRAME_LEN));
	g_assert_true(dhcp_add_mtu(f, FRAME_LEN, 65520));
	g_assert_cmpuint(o[sizeof(typical) - 1], ==, 26);
	g_assert_cmpuint(o[sizeof(typical)], ==, 2);
	g_assert_cmpuint(get_be16(o + sizeof(typical) + 1), ==, 65520);
	g_assert_cmpuint(o[sizeof(typical) + 3], ==, 255);
	g_assert_true(udp_checksum_ok(f));
	/* Only once. */
	g_assert_false(dhcp_add_mtu(f, FRAME_LEN, 1500));
}

static void test_no_room(void)
{
	uint8_t opts[VEND_LEN - 4];
	uint8_t f[FRAME_LEN], before[FRAME_LEN];

	memset(opts, 0, sizeof(opts));		/* pads right up to the end option */
	opts[sizeof(opts) - 1] = 255;
	build_reply(f, opts, sizeof(opts));
	memcpy(before, f, FRAME_LEN);
	g_assert_false(dhcp_add_mtu(f, FRAME_LEN, 65520));
	g_assert_cmpmem(f, FRAME_LEN, before, FRAME_LEN);
}

static void test_leaves_others(void)
{
	uint8_t f[FRAME_LEN];

	build_reply(f, typical, sizeof(typical));
	put_be16(f + 34, 53);			/* DNS, not DHCP */
	g_assert_false(dhcp_is_reply(f, FRAME_LEN));

	/* A UDP 67 -> 68 datagram from a host outside is not libslirp's reply. */
	build_reply(f, typical, sizeof(typical));
	g_assert_true(dhcp_is_reply_from(f, FRAME_LEN, (struct in_addr){ htonl(0x0a000202) }));
	f[14 + 12] = 203;
	f[14 + 13] = 0;
	f[14 + 14] = 113;
	f[14 + 15] = 10;
	g_assert_false(dhcp_is_reply_from(f, FRAME_LEN, (struct in_addr){ htonl(0x0a000202) }));

	build_reply(f, typical, sizeof(typical));
	f[14 + 20 + 8] = 1;			/* a request, not a reply */
	g_assert_false(dhcp_add_mtu(f, FRAME_LEN, 65520));

	build_reply(f, typical, sizeof(typical));
	put_be16(f + 14 + 6, 0x2000);		/* a fragment */
	g_assert_false(dhcp_add_mtu(f, FRAME_LEN, 65520));
}

/* Headers that claim more than the frame holds are refused, never read past. */
static void test_truncated(void)
{
	uint8_t f[FRAME_LEN];

	build_reply(f, typical, sizeof(typical));
	for (size_t len = 0; len < FRAME_LEN; len += 7) {
		/* An exact-size copy, so a sanitizer sees any read past its end. */
		uint8_t *copy = g_memdup2(f, MAX(len, 1));

		g_assert_false(dhcp_add_mtu(copy, len, 65520));
		g_free(copy);
	}

	uint8_t opts[VEND_LEN - 4] = { 0 };	/* last option's length runs past the end */

	opts[sizeof(opts) - 2] = 53;
	opts[sizeof(opts) - 1] = 200;
	build_reply(f, opts, sizeof(opts));
	g_assert_false(dhcp_add_mtu(f, FRAME_LEN, 65520));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dhcp-mtu/adds-option", test_adds_option);
	g_test_add_func("/dhcp-mtu/no-room", test_no_room);
	g_test_add_func("/dhcp-mtu/leaves-others", test_leaves_others);
	g_test_add_func("/dhcp-mtu/truncated", test_truncated);
	return g_test_run();
}
