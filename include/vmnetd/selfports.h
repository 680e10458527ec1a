/* selfports.h - the daemon's own TCP listening and UDP (dgram) sockets, as
 * guests must never reach them: through the NAT gateway (which leads to the
 * host's loopback) a guest could otherwise attach itself more ports. */
#ifndef VMNETD_SELFPORTS_H
#define VMNETD_SELFPORTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Note a socket bound to @sa (AF_INET or AF_INET6) for @proto
 * (IPPROTO_TCP or IPPROTO_UDP). */
void selfports_add(const struct sockaddr *sa, uint8_t proto);
/* Forget one noted by selfports_add() with the same address and protocol. */
void selfports_del(const struct sockaddr *sa, uint8_t proto);
/* Would a guest's @proto packet to @dst:@dport reach one of them? @gateway
 * is the address that leads to the host's loopback. */
bool selfports_blocks(uint8_t proto, struct in_addr dst, uint16_t dport,
		      struct in_addr gateway);
/* Would a guest's IPv6 @proto packet to @dst:@dport reach an IPv6 one?
 * @gateway is the IPv6 address that leads to the host's loopback. */
bool selfports_blocks6(uint8_t proto, const struct in6_addr *dst, uint16_t dport,
		       const struct in6_addr *gateway);

#endif
