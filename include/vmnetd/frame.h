/* frame.h - bounds-checked access to Ethernet/IPv4/UDP headers inside a frame.
 *
 * Nothing reads frame bytes except through frame_ptr(): it returns NULL
 * unless [off, off + n) lies inside the frame.
 */
#ifndef VMNETD_FRAME_H
#define VMNETD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#define ETH_HLEN	14
#define ETH_P_IPV4	0x0800
#define ETH_P_ARP	0x0806
#define ETH_P_IPV6	0x86dd
#define IPPROTO_ICMP_	1
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17
#define IP4_HLEN	20
#define IP6_HLEN	40
#define IPPROTO_ICMPV6_	58
#define UDP_HLEN	8

static inline uint8_t *frame_ptr(uint8_t *frame, size_t len, size_t off, size_t n)
{
	return off <= len && n <= len - off ? frame + off : NULL;
}

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* An IPv4 UDP datagram found in a frame; payload bounded by the UDP and IP lengths. */
struct udp4_view {
	uint8_t *ip;		/* IPv4 header */
	uint8_t *udp;		/* UDP header */
	uint8_t *payload;
	size_t payload_len;
};

/* Fills @v when @frame holds an unfragmented IPv4 UDP datagram. */
bool frame_udp4(uint8_t *frame, size_t len, struct udp4_view *v);
/* The ones' complement sum of @n bytes at @p, added to @sum (not folded). */
uint32_t frame_sum16(const uint8_t *p, size_t n, uint32_t sum);
/* The Internet checksum of @n bytes at @p on top of @sum (a pseudo-header's). */
uint16_t frame_checksum(const uint8_t *p, size_t n, uint32_t sum);

/* Does @frame hold an IPv4 (unfragmented) or IPv6 (no extension header)
 * TCP or UDP packet, whole, whose checksum is right? False for anything
 * else, including frames it cannot judge. */
bool frame_l4_checksum_ok(const uint8_t *frame, size_t len);
/* Completes a partial checksum as a NIC with checksum offload does (virtio's
 * NEEDS_CSUM): the sum from @start to the end, stored at @start + @offset.
 * False, the frame untouched, when that lies outside it. */
bool frame_complete_checksum(uint8_t *frame, size_t len, size_t start, size_t offset);

/* Recompute the UDP checksum after the payload changed (0 stays 0: none). */
void udp4_update_checksum(struct udp4_view *v);

/* The IPv4 header of @frame (an IPv4 packet, whole header inside), or NULL. */
uint8_t *frame_ip4(uint8_t *frame, size_t len);

/* Is @frame an IPv4 fragment (MF set or an offset)? */
bool frame_is_ip4_fragment(const uint8_t *frame, size_t len);

/* Where an IPv4 TCP segment or UDP datagram in @frame goes, and which of
 * the two it is (IPPROTO_TCP_ or IPPROTO_UDP_; first fragments and whole
 * datagrams only). False for anything else. */
bool frame_l4_dst4(const uint8_t *frame, size_t len, uint8_t *proto, struct in_addr *dst,
		   uint16_t *dport);
/* The same for IPv6, TCP or UDP right after the fixed header (libslirp
 * takes no extension headers before them). */
bool frame_l4_dst6(const uint8_t *frame, size_t len, uint8_t *proto, struct in6_addr *dst,
		   uint16_t *dport);

/* Who a built frame is from and to. */
struct frame_addrs {
	uint8_t src_mac[6], dst_mac[6];
	struct in_addr src, dst;
};

/* Write an Ethernet/IPv4/UDP frame carrying @payload into @buf; returns its
 * length, 0 if it does not fit in @size. */
size_t frame_build_udp4(uint8_t *buf, size_t size, const struct frame_addrs *a, uint16_t sport,
			uint16_t dport, const uint8_t *payload, size_t plen);
/* Room for any refusal frame_build_reject4() writes. */
#define FRAME_REJECT_MAX (ETH_HLEN + IP4_HLEN + 8 + 60 + 8)
/* Write the refusal of @frame, an IPv4 packet a guest sent to a destination
 * that is not served: a TCP RST for TCP (nothing for a RST), else ICMP
 * "communication administratively prohibited" (nothing for ICMP errors), so
 * the guest fails at once instead of waiting. It comes from the packet's
 * destination address and @our_mac. Returns its length or 0 for none. */
size_t frame_build_reject4(uint8_t *buf, const uint8_t *frame, size_t len,
			   const uint8_t our_mac[6]);

#endif
