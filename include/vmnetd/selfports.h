/* selfports.h - the daemon's own TCP listening sockets, as guests must never
 * reach them: through the NAT gateway (which leads to the host's loopback)
 * a guest could otherwise attach itself more ports, or talk to the API. */
#ifndef VMNETD_SELFPORTS_H
#define VMNETD_SELFPORTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Note a listening socket bound to @sa (AF_INET or AF_INET6). */
void selfports_add(const struct sockaddr *sa);
/* Forget one noted by selfports_add() with the same address. */
void selfports_del(const struct sockaddr *sa);
/* Would a guest's TCP connection to @dst:@dport reach one of them? @gateway
 * is the address that leads to the host's loopback. */
bool selfports_blocks(struct in_addr dst, uint16_t dport, struct in_addr gateway);

#endif
