/* frame.c - header parsing and checksums for the few frames vmnetd looks into. */
#include <string.h>

#include <glib.h>

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

/* Folds a 64-bit ones' complement sum to 16 bits (not inverted). */
static uint32_t fold64(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

uint32_t frame_sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	uint64_t s = 0;
	uint32_t w, le;

	/* 32-bit words in host order: the ones' complement sum does not care
	 * where the carries go round, only that byte pairs stay pairs, so a
	 * byte swap of the folded result gives the big-endian sum (RFC 1071
	 * 2(B)). Hot for vhost-user checksum offload: 64 KiB per frame. */
	for (; n >= 4; p += 4, n -= 4) {
		memcpy(&w, p, 4);
		s += w;
	}
	if (n >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		s += h;
		p += 2;
		n -= 2;
	}
	le = fold64(s);
	if (G_BYTE_ORDER == G_LITTLE_ENDIAN)
		le = GUINT16_SWAP_LE_BE((uint16_t)le);
	sum += le;
	if (n)
		sum += p[0] << 8;
	return sum;
}

bool frame_is_ip4_fragment(const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame_ip4((uint8_t *)frame, len);

	return ip && (get_be16(ip + 6) & 0x3fff);
}

bool frame_l4_dst4(const uint8_t *frame, size_t len, uint8_t *proto, struct in_addr *dst,
		   uint16_t *dport)
{
	uint8_t *ip = frame_ip4((uint8_t *)frame, len);
	const uint8_t *l4;

	if (!ip || (ip[9] != IPPROTO_TCP_ && ip[9] != IPPROTO_UDP_) ||
	    (get_be16(ip + 6) & 0x1fff))
		return false;
	l4 = frame_ptr((uint8_t *)frame, len, ETH_HLEN + (ip[0] & 0xf) * 4, 4);
	if (!l4)
		return false;
	*proto = ip[9];
	memcpy(&dst->s_addr, ip + 16, 4);
	*dport = get_be16(l4 + 2);
	return true;
}

bool frame_l4_dst6(const uint8_t *frame, size_t len, uint8_t *proto, struct in6_addr *dst,
		   uint16_t *dport)
{
	const uint8_t *ip = frame_ptr((uint8_t *)frame, len, ETH_HLEN, IP6_HLEN);
	const uint8_t *l4;

	if (!ip || get_be16(frame + 12) != ETH_P_IPV6 || (ip[6] != IPPROTO_TCP_ &&
							   ip[6] != IPPROTO_UDP_))
		return false;
	l4 = frame_ptr((uint8_t *)frame, len, ETH_HLEN + IP6_HLEN, 4);
	if (!l4)
		return false;
	*proto = ip[6];
	memcpy(dst, ip + 24, 16);
	*dport = get_be16(l4 + 2);
	return true;
}

/* The ones' complement of the folded ones' complement sum. */
static uint16_t fold(uint32_t sum)
{
	return ~fold64(sum) & 0xffff;
}

uint16_t frame_checksum(const uint8_t *p, size_t n, uint32_t sum)
{
	return fold(frame_sum16(p, n, sum));
}

/* The pseudo-header sum and where the TCP/UDP packet lies, for a frame
 * frame_l4_checksum_ok() can judge. */
static bool l4_of(const uint8_t *frame, size_t len, uint32_t *sum, size_t *off, size_t *l4_len,
		  uint8_t *proto)
{
	const uint8_t *ip = frame_ptr((uint8_t *)frame, len, ETH_HLEN, IP4_HLEN);
	uint16_t type = len >= ETH_HLEN ? get_be16(frame + 12) : 0;

	if (type == ETH_P_IPV4 && ip && ip[0] >> 4 == 4) {
		size_t ihl = (ip[0] & 0xf) * 4u, tot = get_be16(ip + 2);

		if (ihl < IP4_HLEN || tot < ihl || ETH_HLEN + tot > len || (get_be16(ip + 6) & 0x3fff))
			return false;
		*proto = ip[9];
		*off = ETH_HLEN + ihl;
		*l4_len = tot - ihl;
		*sum = frame_sum16(ip + 12, 8, 0);
	} else if (type == ETH_P_IPV6 && (ip = frame_ptr((uint8_t *)frame, len, ETH_HLEN, IP6_HLEN))) {
		*proto = ip[6];
		*off = ETH_HLEN + IP6_HLEN;
		*l4_len = get_be16(ip + 4);
		if (*off + *l4_len > len)
			return false;
		*sum = frame_sum16(ip + 8, 32, 0);
	} else {
		return false;
	}
	*sum += *proto + (uint32_t)*l4_len;
	return *proto == IPPROTO_TCP_ || *proto == IPPROTO_UDP_;
}

bool frame_l4_checksum_ok(const uint8_t *frame, size_t len)
{
	size_t off, l4_len;
	uint32_t sum;
	uint8_t proto;

	if (!l4_of(frame, len, &sum, &off, &l4_len, &proto) || l4_len < (proto == IPPROTO_TCP_ ? 20 : 8))
		return false;
	/* A UDP checksum of 0 over IPv4 means "none": nothing to vouch for. */
	if (proto == IPPROTO_UDP_ && !get_be16(frame + off + 6))
		return false;
	return frame_checksum(frame + off, l4_len, sum) == 0;
}

bool frame_complete_checksum(uint8_t *frame, size_t len, size_t start, size_t offset)
{
	uint16_t csum;

	if (start > len || offset > len - start || len - start - offset < 2)
		return false;
	csum = frame_checksum(frame + start, len - start, 0);
	put_be16(frame + start + offset, csum ? csum : 0xffff);
	return true;
}

void udp4_update_checksum(struct udp4_view *v)
{
	size_t udp_len = v->payload_len + 8;
	uint32_t sum;
	uint16_t csum;

	if (!get_be16(v->udp + 6))
		return;
	put_be16(v->udp + 6, 0);
	sum = frame_sum16(v->ip + 12, 8, 0);		/* source and destination */
	sum += IPPROTO_UDP_ + udp_len;
	csum = fold(frame_sum16(v->udp, udp_len, sum));
	put_be16(v->udp + 6, csum ? csum : 0xffff);
}

uint8_t *frame_ip4(uint8_t *frame, size_t len)
{
	uint8_t *eth = frame_ptr(frame, len, 0, ETH_HLEN);
	uint8_t *ip;

	if (!eth || get_be16(eth + 12) != ETH_P_IPV4)
		return NULL;
	ip = frame_ptr(frame, len, ETH_HLEN, IP4_HLEN);
	if (!ip || ip[0] >> 4 != 4 || (ip[0] & 0xf) < 5 ||
	    !frame_ptr(frame, len, ETH_HLEN, (ip[0] & 0xf) * 4))
		return NULL;
	return ip;
}

/* Ethernet and IPv4 headers (no options) for @payload_len bytes of @proto. */
static void put_headers(uint8_t *buf, const struct frame_addrs *a, uint8_t proto,
			size_t payload_len)
{
	uint8_t *ip = buf + ETH_HLEN;

	memcpy(buf, a->dst_mac, 6);
	memcpy(buf + 6, a->src_mac, 6);
	put_be16(buf + 12, ETH_P_IPV4);
	memset(ip, 0, IP4_HLEN);
	ip[0] = 0x45;
	put_be16(ip + 2, IP4_HLEN + payload_len);
	put_be16(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &a->src.s_addr, 4);
	memcpy(ip + 16, &a->dst.s_addr, 4);
	put_be16(ip + 10, fold(frame_sum16(ip, IP4_HLEN, 0)));
}

/* TCP/UDP checksum over the pseudo-header and @n bytes at @l4. */
static uint16_t l4_checksum(const uint8_t *ip, const uint8_t *l4, size_t n, uint8_t proto)
{
	uint32_t sum = frame_sum16(ip + 12, 8, 0) + proto + n;

	return fold(frame_sum16(l4, n, sum));
}

size_t frame_build_udp4(uint8_t *buf, size_t size, const struct frame_addrs *a, uint16_t sport,
			uint16_t dport, const uint8_t *payload, size_t plen)
{
	size_t total = ETH_HLEN + IP4_HLEN + UDP_HLEN + plen;
	uint8_t *udp = buf + ETH_HLEN + IP4_HLEN;
	uint16_t csum;

	if (total > size || plen > 65535 - IP4_HLEN - UDP_HLEN)
		return 0;
	put_headers(buf, a, IPPROTO_UDP_, UDP_HLEN + plen);
	put_be16(udp, sport);
	put_be16(udp + 2, dport);
	put_be16(udp + 4, UDP_HLEN + plen);
	put_be16(udp + 6, 0);
	if (plen)		/* memcpy's source may not be NULL, even for 0 bytes */
		memcpy(udp + UDP_HLEN, payload, plen);
	csum = l4_checksum(buf + ETH_HLEN, udp, UDP_HLEN + plen, IPPROTO_UDP_);
	put_be16(udp + 6, csum ? csum : 0xffff);
	return total;
}

/* The refusal's addresses: back where the packet came from. */
static void reply_addrs(struct frame_addrs *a, const uint8_t *frame, const uint8_t *ip,
			const uint8_t our_mac[6])
{
	memcpy(a->dst_mac, frame + 6, 6);
	memcpy(a->src_mac, our_mac, 6);
	memcpy(&a->src.s_addr, ip + 16, 4);
	memcpy(&a->dst.s_addr, ip + 12, 4);
}

static size_t build_rst(uint8_t *buf, const struct frame_addrs *a, const uint8_t *ip,
			const uint8_t *tcp, size_t seg_len)
{
	uint8_t *out = buf + ETH_HLEN + IP4_HLEN;
	uint8_t flags = tcp[13];
	uint32_t seq = (uint32_t)get_be16(tcp + 4) << 16 | get_be16(tcp + 6);
	uint32_t ack = (uint32_t)get_be16(tcp + 8) << 16 | get_be16(tcp + 10);
	size_t data = seg_len - (tcp[12] >> 4) * 4;
	uint32_t rst_seq = 0, rst_ack = seq + data + !!(flags & 0x02) + !!(flags & 0x01);

	(void)ip;
	if (flags & 0x04)			/* never answer a RST */
		return 0;
	if (flags & 0x10)			/* RFC 793: with an ACK, RST takes its number */
		rst_seq = ack;
	memset(out, 0, 20);
	memcpy(out, tcp + 2, 2);
	memcpy(out + 2, tcp, 2);
	put_be16(out + 4, rst_seq >> 16);
	put_be16(out + 6, rst_seq & 0xffff);
	put_be16(out + 8, rst_ack >> 16);
	put_be16(out + 10, rst_ack & 0xffff);
	out[12] = 5 << 4;
	out[13] = (flags & 0x10) ? 0x04 : 0x14;	/* RST, or RST+ACK */
	put_headers(buf, a, IPPROTO_TCP_, 20);
	put_be16(out + 16, l4_checksum(buf + ETH_HLEN, out, 20, IPPROTO_TCP_));
	return ETH_HLEN + IP4_HLEN + 20;
}

static size_t build_unreach(uint8_t *buf, const struct frame_addrs *a, const uint8_t *ip,
			    size_t avail)
{
	uint8_t *icmp = buf + ETH_HLEN + IP4_HLEN;
	size_t ihl = (ip[0] & 0xf) * 4;
	size_t quote = MIN(avail, ihl + 8);	/* RFC 792: header + 64 bits */

	if (ip[9] == IPPROTO_ICMP_ && avail > ihl && ip[ihl] != 8 && ip[ihl] != 13 &&
	    ip[ihl] != 15 && ip[ihl] != 17)
		return 0;			/* only queries get an error back */
	memset(icmp, 0, 8);
	icmp[0] = 3;				/* destination unreachable */
	icmp[1] = 13;				/* communication administratively prohibited */
	memcpy(icmp + 8, ip, quote);
	put_headers(buf, a, IPPROTO_ICMP_, 8 + quote);
	put_be16(icmp + 2, fold(frame_sum16(icmp, 8 + quote, 0)));
	return ETH_HLEN + IP4_HLEN + 8 + quote;
}

size_t frame_build_reject4(uint8_t *buf, const uint8_t *frame, size_t len,
			   const uint8_t our_mac[6])
{
	uint8_t *ip = frame_ip4((uint8_t *)frame, len);
	struct frame_addrs a;
	size_t ihl, ip_len;

	if (!ip || (get_be16(ip + 6) & 0x1fff))	/* only a first fragment says who */
		return 0;
	ihl = (ip[0] & 0xf) * 4;
	ip_len = MIN((size_t)get_be16(ip + 2), len - ETH_HLEN);
	if (ip_len < ihl)
		return 0;
	reply_addrs(&a, frame, ip, our_mac);
	if (ip[9] == IPPROTO_TCP_) {
		if (ip_len < ihl + 20 || (ip[ihl + 12] >> 4) * 4 < 20 ||
		    (ip[ihl + 12] >> 4) * 4 > ip_len - ihl)
			return 0;
		return build_rst(buf, &a, ip, ip + ihl, ip_len - ihl);
	}
	return build_unreach(buf, &a, ip, ip_len);
}
