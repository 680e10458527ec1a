/* dhcp_mtu.c - add DHCP option 26 (interface MTU) to libslirp's DHCP replies.
 *
 * libslirp 4.7's DHCP server never sends an MTU, so guests would stay at 1500
 * while the NAT runs at 65520. Its replies carry a fixed 312-byte options
 * area padded with zeros after the end option; the option fits there, so the
 * frame keeps its length and only the UDP checksum changes.
 */
#include <string.h>

#include "vmnetd/dhcp_mtu.h"
#include "vmnetd/dhcp_options.h"
#include "vmnetd/frame.h"

static bool dhcp_reply_view(uint8_t *frame, size_t len, struct udp4_view *v)
{
	const uint8_t *area;
	size_t area_len;

	if (!frame_udp4(frame, len, v))
		return false;
	if (get_be16(v->udp) != 67 || get_be16(v->udp + 2) != 68)
		return false;
	if (!dhcp_msg_options(v->payload, v->payload_len, &area, &area_len))
		return false;
	return v->payload[BOOTP_OP] == BOOTREPLY;
}

bool dhcp_is_reply(const uint8_t *frame, size_t len)
{
	struct udp4_view v;

	/* The view's pointers are writable, but nothing writes through them here. */
	return dhcp_reply_view((uint8_t *)frame, len, &v);
}

bool dhcp_is_reply_from(const uint8_t *frame, size_t len, struct in_addr server)
{
	struct udp4_view v;

	return dhcp_reply_view((uint8_t *)frame, len, &v) &&
	       !memcmp(v.ip + 12, &server.s_addr, 4);
}

/* Offset in the payload of the end option, or 0 when absent, when an option
 * overruns the payload, or when option 26 is already there. */
static size_t find_end(const uint8_t *payload, size_t len)
{
	struct dhcp_opt_walk w;
	struct dhcp_opt o;

	dhcp_opt_walk_init(&w, payload + BOOTP_OPTIONS, len - BOOTP_OPTIONS);
	while (dhcp_opt_next(&w, &o))
		if (o.code == DHCP_OPT_MTU)
			return 0;
	return w.stop == DHCP_OPT_AT_END ? BOOTP_OPTIONS + w.off : 0;
}

bool dhcp_add_mtu(uint8_t *frame, size_t len, uint16_t mtu)
{
	struct udp4_view v;
	size_t end;

	if (!dhcp_reply_view(frame, len, &v))
		return false;
	end = find_end(v.payload, v.payload_len);
	if (!end || end + 5 > v.payload_len)
		return false;
	for (size_t i = end + 1; i < end + 5; i++)
		if (v.payload[i] != DHCP_OPT_PAD)
			return false;
	v.payload[end] = DHCP_OPT_MTU;
	v.payload[end + 1] = 2;
	put_be16(v.payload + end + 2, mtu);
	v.payload[end + 4] = DHCP_OPT_END;
	udp4_update_checksum(&v);
	return true;
}
