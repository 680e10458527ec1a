/* dhcp_mtu.c - add DHCP option 26 (interface MTU) to libslirp's DHCP replies.
 *
 * libslirp 4.7's DHCP server never sends an MTU, so guests would stay at 1500
 * while the NAT runs at 65520. Its replies carry a fixed 312-byte options
 * area padded with zeros after the end option; the option fits there, so the
 * frame keeps its length and only the UDP checksum changes.
 */
#include "vmnetd/dhcp_mtu.h"
#include "vmnetd/frame.h"

#define BOOTP_OPTIONS_OFF	236	/* fixed BOOTP header, then the magic cookie */
#define DHCP_OPT_PAD		0
#define DHCP_OPT_MTU		26
#define DHCP_OPT_END		255

static bool dhcp_reply_view(uint8_t *frame, size_t len, struct udp4_view *v)
{
	static const uint8_t cookie[4] = { 99, 130, 83, 99 };

	if (!frame_udp4(frame, len, v))
		return false;
	if (get_be16(v->udp) != 67 || get_be16(v->udp + 2) != 68)
		return false;
	if (v->payload_len < BOOTP_OPTIONS_OFF + 4 || v->payload[0] != 2 /* BOOTREPLY */)
		return false;
	for (int i = 0; i < 4; i++)
		if (v->payload[BOOTP_OPTIONS_OFF + i] != cookie[i])
			return false;
	return true;
}

bool dhcp_is_reply(const uint8_t *frame, size_t len)
{
	struct udp4_view v;

	/* The view's pointers are writable, but nothing writes through them here. */
	return dhcp_reply_view((uint8_t *)frame, len, &v);
}

/* Offset of the end option, or 0 when absent or option 26 is already there. */
static size_t find_end(const uint8_t *opt, size_t len)
{
	size_t i = BOOTP_OPTIONS_OFF + 4;

	while (i < len) {
		uint8_t code = opt[i];

		if (code == DHCP_OPT_END)
			return i;
		if (code == DHCP_OPT_MTU)
			return 0;
		if (code == DHCP_OPT_PAD) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return 0;
		i += 2 + opt[i + 1];
	}
	return 0;
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
