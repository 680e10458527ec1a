/* fuzz_frame.c - the frame parsers and builders (frame.c) and the DHCP MTU rewrite (dhcp_mtu.c), one frame per input. */
#include <arpa/inet.h>

#include "fuzz.h"

#include "vmnetd/dhcp_mtu.h"
#include "vmnetd/frame.h"

static const uint8_t our_mac[6] = { 0x52, 0x55, 192, 168, 56, 1 };

/* The ones' complement sum, folded: 0xffff over data that carries its checksum. */
static uint16_t csum_fold(const uint8_t *p, size_t n, uint32_t sum)
{
	for (; n > 1; p += 2, n -= 2)
		sum += get_be16(p);
	if (n)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* A refusal is a whole, checksummed packet back to the sender. */
static void check_reject(const uint8_t *frame, size_t len)
{
	uint8_t *out = g_malloc(FRAME_REJECT_MAX);
	size_t n = frame_build_reject4(out, frame, len, our_mac);
	const uint8_t *in_ip = frame_ip4((uint8_t *)frame, len);
	uint8_t *ip;
	size_t l4_len;

	FUZZ_CHECK(n <= FRAME_REJECT_MAX);
	if (!n)
		goto out;
	FUZZ_CHECK(in_ip);
	ip = frame_ip4(out, n);
	FUZZ_CHECK(ip);
	FUZZ_CHECK(get_be16(ip + 2) == n - ETH_HLEN);
	FUZZ_CHECK(csum_fold(ip, IP4_HLEN, 0) == 0xffff);
	FUZZ_CHECK(!memcmp(out, frame + 6, 6) && !memcmp(out + 6, our_mac, 6));
	FUZZ_CHECK(!memcmp(ip + 12, in_ip + 16, 4) && !memcmp(ip + 16, in_ip + 12, 4));
	l4_len = n - ETH_HLEN - IP4_HLEN;
	if (ip[9] == IPPROTO_TCP_) {
		uint32_t pseudo = get_be16(ip + 12) + get_be16(ip + 14) + get_be16(ip + 16) +
				  get_be16(ip + 18) + IPPROTO_TCP_ + l4_len;

		FUZZ_CHECK(in_ip[9] == IPPROTO_TCP_);
		FUZZ_CHECK(ip[IP4_HLEN + 13] & 0x04);		/* a RST */
		FUZZ_CHECK(csum_fold(ip + IP4_HLEN, l4_len, pseudo) == 0xffff);
	} else {
		FUZZ_CHECK(ip[9] == IPPROTO_ICMP_);
		FUZZ_CHECK(ip[IP4_HLEN] == 3 && ip[IP4_HLEN + 1] == 13);
		FUZZ_CHECK(csum_fold(ip + IP4_HLEN, l4_len, 0) == 0xffff);
	}
out:
	g_free(out);
}

static void check_udp4(uint8_t *frame, size_t len)
{
	struct udp4_view v;

	if (!frame_udp4(frame, len, &v))
		return;
	FUZZ_CHECK(v.ip == frame + ETH_HLEN);
	FUZZ_CHECK(v.udp >= v.ip + IP4_HLEN);
	FUZZ_CHECK(v.payload == v.udp + UDP_HLEN);
	FUZZ_CHECK(v.payload + v.payload_len <= frame + len);
	udp4_update_checksum(&v);
}

/* Option 26 goes in once, in place, and the result is still a DHCP reply. */
static void check_mtu(uint8_t *frame, size_t len)
{
	struct in_addr gw;
	bool reply = dhcp_is_reply(frame, len);

	inet_pton(AF_INET, "10.0.2.2", &gw);
	if (dhcp_is_reply_from(frame, len, gw))
		FUZZ_CHECK(reply);
	if (!dhcp_add_mtu(frame, len, 1500))
		return;
	FUZZ_CHECK(reply);
	FUZZ_CHECK(dhcp_is_reply(frame, len));
	FUZZ_CHECK(!dhcp_add_mtu(frame, len, 9000));		/* already there */
}

/* The input as a payload: the frame built around it parses back to it. */
static void check_build(const uint8_t *data, size_t size)
{
	struct frame_addrs a = { .src_mac = { 2, 0, 0, 0, 0, 1 }, .dst_mac = { 2, 0, 0, 0, 0, 2 } };
	size_t cap = ETH_HLEN + IP4_HLEN + UDP_HLEN + size;
	uint8_t *buf = g_malloc(cap);
	struct udp4_view v;
	size_t n;

	inet_pton(AF_INET, "10.0.2.15", &a.src);
	inet_pton(AF_INET, "10.0.2.2", &a.dst);
	FUZZ_CHECK(frame_build_udp4(buf, cap - 1, &a, 1, 2, data, size) == 0);	/* no room */
	n = frame_build_udp4(buf, cap, &a, 40000, 53, data, size);
	if (size > 65535 - IP4_HLEN - UDP_HLEN) {
		FUZZ_CHECK(n == 0);
		goto out;
	}
	FUZZ_CHECK(n == cap);
	FUZZ_CHECK(frame_udp4(buf, n, &v));
	FUZZ_CHECK(v.payload_len == size && !memcmp(v.payload, data, size));
	FUZZ_CHECK(get_be16(v.udp) == 40000 && get_be16(v.udp + 2) == 53);
	FUZZ_CHECK(csum_fold(v.ip, IP4_HLEN, 0) == 0xffff);
out:
	g_free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A writable copy of exactly the frame: the rewrites work in place. */
	uint8_t *frame = g_malloc(size ? size : 1);

	memcpy(frame, data, size);
	check_reject(data, size);
	check_udp4(frame, size);
	memcpy(frame, data, size);
	check_mtu(frame, size);
	check_build(data, size);
	g_free(frame);
	return 0;
}
