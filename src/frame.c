/* frame.c - header parsing and checksums for the few frames vmnetd looks into. */
#include "vmnetd/frame.h"

bool frame_udp4(uint8_t *frame, size_t len, struct udp4_view *v)
{
	uint8_t *eth = frame_ptr(frame, len, 0, ETH_HLEN);
	uint8_t *ip, *udp;
	size_t ihl, ip_len, udp_len;

	if (!eth || get_be16(eth + 12) != ETH_P_IPV4)
		return false;
	ip = frame_ptr(frame, len, ETH_HLEN, 20);
	if (!ip || ip[0] >> 4 != 4 || ip[9] != IPPROTO_UDP_)
		return false;
	if (get_be16(ip + 6) & 0x3fff)		/* MF or an offset: a fragment */
		return false;
	ihl = (ip[0] & 0xf) * 4;
	ip_len = get_be16(ip + 2);
	if (ihl < 20 || ip_len < ihl + 8 || !frame_ptr(frame, len, ETH_HLEN, ip_len))
		return false;
	udp = ip + ihl;
	udp_len = get_be16(udp + 4);
	if (udp_len < 8 || udp_len > ip_len - ihl)
		return false;
	*v = (struct udp4_view){ .ip = ip, .udp = udp, .payload = udp + 8,
				 .payload_len = udp_len - 8 };
	return true;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (; n > 1; p += 2, n -= 2)
		sum += get_be16(p);
	if (n)
		sum += p[0] << 8;
	return sum;
}

void udp4_update_checksum(struct udp4_view *v)
{
	size_t udp_len = v->payload_len + 8;
	uint32_t sum;
	uint16_t csum;

	if (!get_be16(v->udp + 6))
		return;
	put_be16(v->udp + 6, 0);
	sum = sum16(v->ip + 12, 8, 0);		/* source and destination */
	sum += IPPROTO_UDP_ + udp_len;
	sum = sum16(v->udp, udp_len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	csum = ~sum & 0xffff;
	put_be16(v->udp + 6, csum ? csum : 0xffff);
}
