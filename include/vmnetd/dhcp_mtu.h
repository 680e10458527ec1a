/* dhcp_mtu.h - add the interface MTU (DHCP option 26) to DHCP replies. */
#ifndef VMNETD_DHCP_MTU_H
#define VMNETD_DHCP_MTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Is this frame a DHCP/BOOTP reply (UDP 67 -> 68)? Only reads the frame. */
bool dhcp_is_reply(const uint8_t *frame, size_t len);
/* A DHCP reply sent from @server (libslirp's own DHCP server, not a host
 * outside answering on UDP 67 through the NAT)? Only reads the frame. */
bool dhcp_is_reply_from(const uint8_t *frame, size_t len, struct in_addr server);
/* Write option 26 = @mtu into a DHCP reply, in the padding after its end
 * option. False when the frame is no DHCP reply, already carries option 26,
 * or has no room; the frame is then unchanged. */
bool dhcp_add_mtu(uint8_t *frame, size_t len, uint16_t mtu);

#endif
