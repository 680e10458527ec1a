/* dns.h - the DNS responder of a host-only network: it answers the names of
 * the network's VMs and host (A and PTR) and nothing else. It never asks
 * anyone: names outside its zone get REFUSED, unknown names in it NXDOMAIN. */
#ifndef VMNETD_DNS_H
#define VMNETD_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_PORT	53
#define DNS_UDP_MAX	512	/* RFC 1035 UDP message limit (no EDNS) */
#define DNS_LABEL_MAX	63	/* RFC 1035 2.3.4; also all a length byte may say (top bits 00) */

/* Where names come from: the caller's lease table and its own names. */
struct dns_names {
	/* Fill @out for a host name (one label, no domain, any case). */
	bool (*by_name)(void *opaque, const char *name, struct in_addr *out);
	/* Write the host name (one label) of @addr into @buf; false if unknown. */
	bool (*by_addr)(void *opaque, struct in_addr addr, char *buf, size_t size);
	void *opaque;
	/* The zone: "NAME" and "NAME.<domain>" are ours; NULL: only bare names. */
	const char *domain;
	/* The network, so PTR queries in its in-addr.arpa range are ours. */
	struct in_addr net, mask;
	uint32_t ttl;
};

/* Answers one query (@q: a UDP payload). Writes the reply into @reply
 * (at most @reply_max bytes) and returns its length, or 0 when nothing
 * should be sent (not a query, or too short to echo its ID). */
size_t dns_answer(const struct dns_names *names, const uint8_t *q, size_t qlen,
		  uint8_t *reply, size_t reply_max);

/* True when @domain can be the zone (NULL, "" and "." too: none); dns_answer() treats an invalid one as none. */
bool dns_domain_valid(const char *domain);

#endif
