/* netopts.h - a NAT network's settings, parsed from QEMU's -netdev user syntax. */
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
	bool host_loopback;		/* host-loopback=: the gateway leads to the host's 127.0.0.1 */
	bool dns_forward;		/* dns-forward=: libslirp's DNS forwarder at dns= */
	struct sockaddr_in outbound;	/* outbound-addr=: the host address connections use */
	struct sockaddr_in6 outbound6;	/* outbound-addr6= */
	bool outbound_given, outbound6_given;
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
/* Parse one option string ("net=10.0.2.0/24,hostfwd=tcp::2280-:22"); may be
 * called several times. Errors start with @what ("--nat", "network lab"),
 * then name the option and what is wrong. */
bool nat_config_parse(struct nat_config *c, const char *what, const char *opts, GError **err);
/* Derive what was not given and check that everything fits together. */
bool nat_config_finish(struct nat_config *c, const char *what, GError **err);

enum netopt_key {
	NETOPT_KEY_OK,		/* parsed and stored */
	NETOPT_KEY_BAD,		/* a key of ours with a bad value; @err says why */
	NETOPT_KEY_UNKNOWN,	/* not a NAT key; nothing changed, @err untouched */
};

/* Parse one KEY=VALUE if it is a NAT key, so a caller with keys of its own
 * can try NAT's first. */
enum netopt_key nat_config_parse_key(struct nat_config *c, const char *what, const char *key,
				     const char *val, GError **err);
/* Whether @key is one nat_config_parse_key() knows. */
bool nat_config_has_key(const char *key);

/* The value parsers, shared with host-only networks. Each message reads
 * "WHAT KEY=VALUE: what is wrong". */

/* Split at single commas; ",," is a literal comma. Returns char *, owned. */
GPtrArray *netopt_split(const char *opts);
/* One item of netopt_split(): *@key is allocated, *@val points into @item. */
bool netopt_split_item(const char *what, const char *opts, const char *item, char **key,
		       const char **val, GError **err);
/* on/yes/true/y or off/no/false/n. */
bool netopt_parse_bool(const char *what, const char *key, const char *val, bool *out,
		       GError **err);
bool netopt_parse_ip4(const char *what, const char *key, const char *val, struct in_addr *out,
		      GError **err);
/* Decimal, within [@min, @max]; no message, the caller knows the range's reason. */
bool netopt_parse_uint(const char *s, guint64 min, guint64 max, guint64 *out);
/* net=ADDR[/LEN|/MASK], classful without a mask as in QEMU; host bits cleared. */
bool netopt_parse_net(const char *what, const char *val, struct in_addr *net,
		      struct in_addr *mask, GError **err);
/* "10.0.2.0/24", allocated. */
char *netopt_net_to_string(struct in_addr net, struct in_addr mask);
/* NAT_MTU_MIN to NAT_MTU_MAX. */
bool netopt_parse_mtu(const char *what, const char *val, unsigned *mtu, GError **err);
/* Non-empty; replaces *@field. */
bool netopt_set_string(const char *what, const char *key, const char *val, char **field,
		       GError **err);
/* One hostfwd= value into @out (its spec allocated; netopt_hostfwd_clear frees it). */
bool netopt_parse_hostfwd(const char *what, const char *val, struct hostfwd *out,
			  GError **err);
/* GArray clear function for struct hostfwd. */
void netopt_hostfwd_clear(void *p);
/* @a is inside net/mask and is neither its network nor its broadcast address. */
bool netopt_check_addr(const char *what, const char *key, struct in_addr net,
		       struct in_addr mask, struct in_addr a, GError **err);
/* Gives each hostfwd without a guest address @guest; checks the rest are inside the net. */
bool netopt_finish_hostfwds(const char *what, GArray *hostfwds, struct in_addr net,
			    struct in_addr mask, struct in_addr guest, GError **err);

#endif
