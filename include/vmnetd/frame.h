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

#define ETH_HLEN	14
#define ETH_P_IPV4	0x0800
#define IPPROTO_UDP_	17

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
/* Recompute the UDP checksum after the payload changed (0 stays 0: none). */
void udp4_update_checksum(struct udp4_view *v);

#endif
