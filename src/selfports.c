/* selfports.c - which TCP and UDP ports the daemon itself listens on, for the uplinks
 * to refuse guest connections to them. One process-wide list: every network's
 * guests must be kept from every network's sockets. */
#include <string.h>

#include <glib.h>

#include "vmnetd/selfports.h"

struct selfport {
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	bool v6;		/* an IPv6 socket: IPv6 guests reach it */
	bool loopback;		/* reachable only through the gateway */
	bool wildcard;		/* bound to every address */
	struct in_addr addr;	/* IPv4 address, when neither */
	uint16_t port;
};

static GArray *ports;		/* struct selfport */

static bool to_selfport(const struct sockaddr *sa, uint8_t proto, struct selfport *p)
{
	*p = (struct selfport){ .proto = proto };
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		uint32_t a = ntohl(sin->sin_addr.s_addr);

		p->loopback = a >> 24 == 127;
		p->wildcard = a == INADDR_ANY;
		p->addr = sin->sin_addr;
		p->port = ntohs(sin->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		p->v6 = true;
		p->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		/* "::" takes IPv4 too, unless v6only; an IPv6 address is
		 * reached by no IPv4 guest but through the gateway. */
		p->wildcard = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
		p->loopback |= !p->wildcard;
		p->port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}

void selfports_add(const struct sockaddr *sa, uint8_t proto)
{
	struct selfport p;

	if (!to_selfport(sa, proto, &p))
		return;
	if (!ports)
		ports = g_array_new(FALSE, FALSE, sizeof(struct selfport));
	g_array_append_val(ports, p);
}

static bool same(const struct selfport *a, const struct selfport *b)
{
	return a->proto == b->proto && a->v6 == b->v6 && a->loopback == b->loopback &&
	       a->wildcard == b->wildcard &&
	       a->addr.s_addr == b->addr.s_addr && a->port == b->port;
}

void selfports_del(const struct sockaddr *sa, uint8_t proto)
{
	struct selfport p;

	if (!ports || !to_selfport(sa, proto, &p))
		return;
	for (guint i = 0; i < ports->len; i++)
		if (same(&g_array_index(ports, struct selfport, i), &p)) {
			g_array_remove_index_fast(ports, i);
			break;
		}
	if (!ports->len) {
		g_array_free(ports, TRUE);
		ports = NULL;
	}
}

bool selfports_blocks(uint8_t proto, struct in_addr dst, uint16_t dport,
		      struct in_addr gateway)
{
	for (guint i = 0; ports && i < ports->len; i++) {
		const struct selfport *p = &g_array_index(ports, struct selfport, i);

		if (p->port != dport || p->proto != proto)
			continue;
		/* The gateway leads to the host's loopback, and a socket
		 * bound to all addresses listens there too. */
		if (dst.s_addr == gateway.s_addr)
			return true;
		if (p->wildcard || (!p->loopback && p->addr.s_addr == dst.s_addr))
			return true;
	}
	return false;
}

bool selfports_blocks6(uint8_t proto, const struct in6_addr *dst, uint16_t dport,
		       const struct in6_addr *gateway)
{
	for (guint i = 0; ports && i < ports->len; i++) {
		const struct selfport *p = &g_array_index(ports, struct selfport, i);

		if (!p->v6 || p->port != dport || p->proto != proto)
			continue;
		/* The IPv6 gateway leads to the host's ::1; "::" listens
		 * everywhere. */
		if (p->wildcard || !memcmp(dst, gateway, sizeof(*dst)))
			return true;
	}
	return false;
}
