/* test_frame.c - the frames vmnetd writes itself: UDP replies and refusals
 * (TCP RST, ICMP prohibited), with their checksums, and bounds on bad input. */
#include <glib.h>
#include <string.h>

#include "vmnetd/frame.h"

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x11 };
static const uint8_t our_mac[6] = { 0x52, 0x55, 192, 168, 56, 1 };

/* The ones' complement sum over @n bytes folds to 0xffff when a checksum in them is right. */
static uint16_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += get_be16(p);
	if (n)
		s += p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static bool l4_ok(const uint8_t *ip, uint8_t proto)
{
	size_t ihl = (ip[0] & 0xf) * 4, n = get_be16(ip + 2) - ihl;

	return sum(ip + ihl, n, sum(ip + 12, 8, 0) + proto + n) == 0xffff;
}

/* A guest's IPv4 packet from 192.168.56.101 to 203.0.113.10. */
static size_t guest_packet(uint8_t *f, uint8_t proto, size_t l4_len)
{
	uint8_t *ip = f + ETH_HLEN;

	memset(f, 0, ETH_HLEN + IP4_HLEN + l4_len);
	memcpy(f, our_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put_be16(f + 12, ETH_P_IPV4);
	ip[0] = 0x45;
	put_be16(ip + 2, IP4_HLEN + l4_len);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, (uint8_t[]){ 192, 168, 56, 101 }, 4);
	memcpy(ip + 16, (uint8_t[]){ 203, 0, 113, 10 }, 4);
	return ETH_HLEN + IP4_HLEN + l4_len;
}

static void test_rst_for_syn(void)
{
	uint8_t f[128], out[FRAME_REJECT_MAX];
	size_t len = guest_packet(f, IPPROTO_TCP_, 20);
	uint8_t *tcp = f + ETH_HLEN + IP4_HLEN, *rip, *rtcp;
	size_t n;

	put_be16(tcp, 40000);
	put_be16(tcp + 2, 80);
	put_be16(tcp + 4, 0x1234);		/* seq 0x12345678 */
	put_be16(tcp + 6, 0x5678);
	tcp[12] = 5 << 4;
	tcp[13] = 0x02;				/* SYN */
	n = frame_build_reject4(out, f, len, our_mac);
	g_assert_cmpuint(n, ==, ETH_HLEN + IP4_HLEN + 20);
	rip = out + ETH_HLEN;
	rtcp = rip + IP4_HLEN;
	g_assert_cmpmem(out, 6, guest_mac, 6);
	g_assert_cmpmem(out + 6, 6, our_mac, 6);
	g_assert_cmpmem(rip + 12, 4, f + ETH_HLEN + 16, 4);	/* from where it was going */
	g_assert_cmpmem(rip + 16, 4, f + ETH_HLEN + 12, 4);
	g_assert_cmpuint(get_be16(rtcp), ==, 80);
	g_assert_cmpuint(get_be16(rtcp + 2), ==, 40000);
	g_assert_cmpuint(rtcp[13], ==, 0x14);			/* RST+ACK */
	g_assert_cmpuint(get_be16(rtcp + 10), ==, 0x5679);	/* acks the SYN */
	g_assert_cmpuint(sum(rip, IP4_HLEN, 0), ==, 0xffff);
	g_assert_true(l4_ok(rip, IPPROTO_TCP_));

	tcp[13] = 0x04;				/* never answer a RST */
	g_assert_cmpuint(frame_build_reject4(out, f, len, our_mac), ==, 0);
}

static void test_icmp_for_udp(void)
{
	uint8_t f[128], out[FRAME_REJECT_MAX];
	size_t len = guest_packet(f, IPPROTO_UDP_, 8 + 30);
	size_t n = frame_build_reject4(out, f, len, our_mac);
	uint8_t *rip = out + ETH_HLEN, *icmp = rip + IP4_HLEN;

	g_assert_cmpuint(n, ==, ETH_HLEN + IP4_HLEN + 8 + IP4_HLEN + 8);
	g_assert_cmpuint(rip[9], ==, IPPROTO_ICMP_);
	g_assert_cmpuint(icmp[0], ==, 3);
	g_assert_cmpuint(icmp[1], ==, 13);
	g_assert_cmpmem(icmp + 8, IP4_HLEN + 8, f + ETH_HLEN, IP4_HLEN + 8);	/* quoted */
	g_assert_cmpuint(sum(icmp, n - ETH_HLEN - IP4_HLEN, 0), ==, 0xffff);

	/* An ICMP error is never answered; an echo request is. */
	len = guest_packet(f, IPPROTO_ICMP_, 8);
	f[ETH_HLEN + IP4_HLEN] = 3;
	g_assert_cmpuint(frame_build_reject4(out, f, len, our_mac), ==, 0);
	f[ETH_HLEN + IP4_HLEN] = 8;
	g_assert_cmpuint(frame_build_reject4(out, f, len, our_mac), >, 0);
}

static void test_udp4(void)
{
	uint8_t out[256];
	struct frame_addrs a = { .src = { htonl(0xc0a83801) }, .dst = { htonl(0xc0a83865) } };
	struct udp4_view v;
	size_t n;

	memcpy(a.src_mac, our_mac, 6);
	memcpy(a.dst_mac, guest_mac, 6);
	n = frame_build_udp4(out, sizeof(out), &a, 53, 33000, (const uint8_t *)"hello", 5);
	g_assert_cmpuint(n, ==, ETH_HLEN + IP4_HLEN + UDP_HLEN + 5);
	g_assert_true(frame_udp4(out, n, &v));
	g_assert_cmpmem(v.payload, v.payload_len, "hello", 5);
	g_assert_true(l4_ok(out + ETH_HLEN, IPPROTO_UDP_));
	g_assert_cmpuint(frame_build_udp4(out, 40, &a, 53, 1, (const uint8_t *)"x", 1), ==, 0);
}

/* Truncated or lying packets: no read past the frame (ASan), no answer
 * built from bytes that are not there. */
static void test_bad_input(void)
{
	uint8_t f[128], out[FRAME_REJECT_MAX];
	size_t full = guest_packet(f, IPPROTO_TCP_, 20);

	f[ETH_HLEN + IP4_HLEN + 12] = 5 << 4;
	f[ETH_HLEN + IP4_HLEN + 13] = 0x02;
	for (size_t len = 0; len <= full; len++) {
		uint8_t *copy = g_memdup2(f, len ? len : 1);

		frame_build_reject4(out, copy, len, our_mac);
		g_free(copy);
	}
	for (int i = 0; i < 20000; i++) {
		size_t len = g_test_rand_int_range(0, full + 1);
		uint8_t *copy = g_memdup2(f, full);

		copy[g_test_rand_int_range(ETH_HLEN, full)] = g_test_rand_int_range(0, 256);
		frame_build_reject4(out, copy, len, our_mac);
		g_free(copy);
	}
	f[ETH_HLEN + IP4_HLEN + 12] = 15 << 4;	/* data offset past the segment */
	g_assert_cmpuint(frame_build_reject4(out, f, full, our_mac), ==, 0);
}

/* RFC 1071's sum, two bytes at a time, folded: what frame_sum16() must
 * agree with whatever its word size. */
static uint16_t naive_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (; n > 1; p += 2, n -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t folded(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void test_sum16(void)
{
	static uint8_t buf[65536 + 8];
	GRand *r = g_rand_new_with_seed(1071);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)g_rand_int(r);
	/* Every length up to 64 at every alignment, then long ones. */
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n <= 64; n++)
			g_assert_cmphex(folded(frame_sum16(buf + off, n, 0x1234)), ==,
					naive_sum(buf + off, n, 0x1234));
	for (unsigned k = 0; k < 200; k++) {
		size_t off = g_rand_int_range(r, 0, 8), n = g_rand_int_range(r, 0, 65537);

		g_assert_cmphex(folded(frame_sum16(buf + off, n, 0)), ==, naive_sum(buf + off, n, 0));
	}
	/* All ones: the carries of 16384 words go round right. */
	memset(buf, 0xff, 65536);
	g_assert_cmphex(folded(frame_sum16(buf, 65536, 0xffff)), ==, naive_sum(buf, 65536, 0xffff));
	g_rand_free(r);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/frame/reject/rst-for-syn", test_rst_for_syn);
	g_test_add_func("/frame/reject/icmp-for-udp", test_icmp_for_udp);
	g_test_add_func("/frame/udp4", test_udp4);
	g_test_add_func("/frame/sum16", test_sum16);
	g_test_add_func("/frame/reject/bad-input", test_bad_input);
	return g_test_run();
}
