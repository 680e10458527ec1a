/* netopts.h - the NAT network's settings, parsed from QEMU's -netdev user syntax. */
#ifndef VMNETD_NETOPTS_H
#define VMNETD_NETOPTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "vmnetd/endpoint.h"

#define NAT_MTU_DEFAULT	65520
#define NAT_MTU_MIN	68
#define NAT_MTU_MAX	65521	/* libslirp's IF_MTU_MAX; a frame then fits QEMU's 65535 */
#define NAT_MTU_MIN_IPV6 1280

struct hostfwd {
	bool udp;
	struct in_addr host_addr;	/* INADDR_ANY when empty, as in QEMU */
	uint16_t host_port;
	struct in_addr guest_addr;	/* the first DHCP address when empty */
	bool guest_addr_given;
	uint16_t guest_port;
	char *spec;			/* as written, for messages */
};

struct guestfwd {
	struct in_addr addr;		/* the virtual address the guest connects to */
	uint16_t port;
	struct endpoint target;		/* where each connection is relayed */
	char *spec;
};

struct nat_config {
	bool ipv4, ipv6, restricted;
	struct in_addr net, mask, host, dhcp_start, dns;
	struct in6_addr ip6_prefix, ip6_host, ip6_dns;
	uint8_t ip6_prefix_len;
	unsigned mtu;
	char *hostname, *domainname, *tftp, *bootfile;
	GPtrArray *dnssearch;		/* char *, NULL-terminated once finished */
	GArray *hostfwds;		/* struct hostfwd */
	GArray *guestfwds;		/* struct guestfwd */

	/* Which addresses were given, so the rest derive from net= as in QEMU. */
	bool host_given, dhcp_given, dns_given, ip6_host_given, ip6_dns_given;
};

void nat_config_init(struct nat_config *c);
void nat_config_clear(struct nat_config *c);
/* Parse one --nat string ("net=10.0.2.0/24,hostfwd=tcp::2280-:22"); may be
 * called several times. Errors name the option and what is wrong. */
bool nat_config_parse(struct nat_config *c, const char *opts, GError **err);
/* Derive what was not given and check that everything fits together. */
bool nat_config_finish(struct nat_config *c, GError **err);

#endif
