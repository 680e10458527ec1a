/* uplink_nat.c - NAT uplink: libslirp as a switch port.
 *
 * Frames the switch delivers go into libslirp; frames libslirp emits go into
 * the switch. DHCP is libslirp's, with the MTU added to its replies on the
 * way out (dhcp_mtu.c) and its leases noted in the network's lease table;
 * or, with dhcp=vmnetd, vmnetd's own server (netsvc.c). The MACs libslirp
 * answers with are static entries of the switch: no VM can take them.
 */
#include <arpa/inet.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmnetd/dhcp_mtu.h"
#include "vmnetd/error.h"
#include "vmnetd/mac.h"
#include "vmnetd/frame.h"
#include "vmnetd/netsvc.h"
#include "vmnetd/selfports.h"
#include "vmnetd/slirp_stack.h"
#include "vmnetd/switch.h"
#include "vmnetd/tftp_guard.h"
#include "vmnetd/uplink_nat.h"

#define DHCP_FRAME_MAX 2048	/* libslirp's replies are ~590 bytes */

struct uplink_nat {
	struct port port;	/* first: the port layer sees only this */
	struct slirp_stack *stack;
	struct netsvc *svc;	/* dhcp=vmnetd only */
	struct lease_table *leases;
	GHashTable *hostnames;	/* MAC key -> the name a client asked with */
	char *net_name;
	uint16_t mtu;
	struct in_addr server;	/* libslirp's DHCP server: the gateway address */
	struct in6_addr server6;	/* the IPv6 gateway (leads to the host's ::1) */
	bool ipv6;
	struct tftp_guard tftp;	/* root NULL: libslirp serves no TFTP */
};

/* Note the host name a client sends, for the lease its ACK will carry. */
static void snoop_request(struct uplink_nat *nat, const uint8_t *frame, size_t len)
{
	uint8_t mac[6];
	char name[LEASE_HOSTNAME_MAX + 1];
	gint64 *key;

	if (!dhcp_snoop_request(frame, len, mac, name, sizeof(name)) || !name[0])
		return;
	if (g_hash_table_size(nat->hostnames) >= 4096)	/* one per VM; a flood gets no more */
		g_hash_table_remove_all(nat->hostnames);
	key = g_new(gint64, 1);
	*key = mac_key(mac);
	g_hash_table_replace(nat->hostnames, key, g_strdup(name));
}

static void snoop_ack(struct uplink_nat *nat, const uint8_t *frame, size_t len)
{
	struct lease l;
	const char *name;
	g_autofree char *where = NULL;
	gint64 key;

	if (!dhcp_snoop_ack(frame, len, time(NULL), &l))
		return;
	key = mac_key(l.mac);
	name = g_hash_table_lookup(nat->hostnames, &key);
	if (!l.hostname[0] && name)
		g_strlcpy(l.hostname, name, sizeof(l.hostname));
	if (lease_table_name_taken(nat->leases, l.hostname, l.mac, time(NULL)))
		l.hostname[0] = '\0';	/* another VM's name is not taken over */
	lease_table_set(nat->leases, &l);
	where = lease_where(&l);
	g_message("%s: " MAC_FMT " is %s", nat->net_name, MAC_ARGS(l.mac), where);
}

/* A guest's connection or datagram to one of the daemon's own sockets
 * (10.0.2.2 leads to the host's loopback): refused (TCP reset, ICMP), so
 * no guest attaches itself more ports. */
static bool refuse_selfport(struct uplink_nat *nat, const uint8_t *frame, size_t len)
{
	uint8_t reply[FRAME_REJECT_MAX], mac[6];
	struct in_addr dst;
	struct in6_addr dst6;
	uint16_t dport;
	uint8_t proto;
	size_t n;

	if (frame_l4_dst6(frame, len, &proto, &dst6, &dport))
		/* Dropped: an IPv6 refusal is not worth building for a guest
		 * that tries this. */
		return nat->ipv6 && selfports_blocks6(proto, &dst6, dport, &nat->server6);
	if (!frame_l4_dst4(frame, len, &proto, &dst, &dport) ||
	    !selfports_blocks(proto, dst, dport, nat->server))
		return false;
	slirp_mac4(nat->server, mac);
	n = frame_build_reject4(reply, frame, len, mac);
	if (n)
		port_input(&nat->port, reply, n);
	return true;
}

/* libslirp 4.7 connects an IPv6 guest to whatever address it names: ::1
 * and ::ffff:127.0.0.1 are the host's loopback, past host-loopback= and the
 * daemon's own sockets. Such packets go no further. */
static bool to_host_loopback6(const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame_ptr((uint8_t *)frame, len, ETH_HLEN, IP6_HLEN);
	struct in6_addr dst;

	if (!ip || get_be16(frame + 12) != ETH_P_IPV6)
		return false;
	memcpy(&dst, ip + 24, sizeof(dst));
	return IN6_IS_ADDR_LOOPBACK(&dst) || IN6_IS_ADDR_UNSPECIFIED(&dst) ||
	       (IN6_IS_ADDR_V4MAPPED(&dst) && dst.s6_addr[12] == 127);
}

/* libslirp 4.7 frees a buffer before it uses it when a TFTP request names a
 * directory, and follows symlinks out of its root: such requests never
 * reach it; the guest gets a TFTP error at once. */
static bool refuse_tftp(struct uplink_nat *nat, const uint8_t *frame, size_t len)
{
	uint8_t reply[TFTP_ERROR_FRAME_MAX], mac[6];
	enum tftp_error code;
	char why[128];
	size_t n;

	if (!nat->tftp.root ||
	    tftp_guard_check(&nat->tftp, frame, len, &code, why, sizeof(why)) == TFTP_PASS)
		return false;
	g_debug("%s: TFTP request refused: %s", nat->port.name, why);
	slirp_mac4(nat->server, mac);
	n = tftp_guard_error_frame(reply, sizeof(reply), frame, len, mac, code);
	if (n)
		port_input(&nat->port, reply, n);
	return true;
}

static enum port_verdict nat_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct uplink_nat *nat = (struct uplink_nat *)p;

	if (nat->svc && netsvc_handle(nat->svc, frame, len))
		return PORT_QUEUED;
	if (refuse_selfport(nat, frame, len) || to_host_loopback6(frame, len) || refuse_tftp(nat, frame, len))
		return PORT_QUEUED;
	if (!nat->svc && len >= 42 && frame[12] == 0x08 && frame[13] == 0x00 &&
	    (frame[0] & 1))		/* DHCP requests are broadcast */
		snoop_request(nat, frame, len);
	return slirp_stack_input(nat->stack, frame, len) ? PORT_QUEUED : PORT_DROPPED;
}

/* libslirp's sockets and forwards go now, not an iteration later. */
static void nat_close(struct port *p)
{
	struct uplink_nat *nat = (struct uplink_nat *)p;

	slirp_stack_free(nat->stack);
	nat->stack = NULL;
}

static void nat_destroy(struct port *p)
{
	struct uplink_nat *nat = (struct uplink_nat *)p;

	nat_close(p);
	netsvc_free(nat->svc);
	g_hash_table_destroy(nat->hostnames);
	g_free(nat->net_name);
}

static const struct port_ops nat_ops = {
	.kind = "nat",
	.deliver = nat_deliver,	/* blocked_on is read by slirp_stack each iteration */
	.close = nat_close,
	.destroy = nat_destroy,
};

/* Frames from libslirp: DHCP replies get the MTU and are noted, then all
 * go into the switch. Only DHCP replies are copied. */
static void from_slirp(void *opaque, const uint8_t *frame, size_t len)
{
	struct uplink_nat *nat = opaque;
	uint8_t copy[DHCP_FRAME_MAX];

	/* Only libslirp's own server: a host outside may answer on UDP 67 too. */
	if (!nat->svc && len <= sizeof(copy) && dhcp_is_reply_from(frame, len, nat->server)) {
		memcpy(copy, frame, len);
		if (dhcp_add_mtu(copy, len, nat->mtu))
			frame = copy;
		snoop_ack(nat, frame, len);
	}
	port_input(&nat->port, frame, len);
}

/* Where the services answer from: sent back into the switch. */
static void from_svc(void *opaque, const uint8_t *frame, size_t len)
{
	port_input(opaque, frame, len);
}

static void fill_slirp_config(SlirpConfig *sc, const struct net_config *nc)
{
	const struct nat_config *c = &nc->nat;

	*sc = (SlirpConfig){
		.version = 4,
		.restricted = c->restricted,
		.in_enabled = c->ipv4,
		.vnetwork = c->net,
		.vnetmask = c->mask,
		.vhost = c->host,
		.in6_enabled = c->ipv6,
		.vprefix_addr6 = c->ip6_prefix,
		.vprefix_len = c->ip6_prefix_len,
		.vhost6 = c->ip6_host,
		.vhostname = c->hostname,
		.tftp_path = c->tftp,
		.bootfile = c->bootfile,
		.vdhcp_start = c->dhcp_start,
		.vnameserver = c->dns,
		.vnameserver6 = c->ip6_dns,
		.vdnssearch = c->dnssearch->len > 1 ? (const char **)c->dnssearch->pdata : NULL,
		.vdomainname = c->domainname,
		.if_mtu = c->mtu,
		.if_mru = c->mtu,
		.disable_host_loopback = !c->host_loopback,
		.disable_dns = !c->dns_forward,
		.outbound_addr = c->outbound_given ? (struct sockaddr_in *)&c->outbound : NULL,
		.outbound_addr6 = c->outbound6_given ? (struct sockaddr_in6 *)&c->outbound6 : NULL,
		.enable_emu = false,	/* tcp_emu has had CVEs; nothing needs it */
		.disable_dhcp = nc->dhcp_vmnetd,
	};
}

static bool add_guestfwds(struct uplink_nat *nat, const struct nat_config *c,
			  const char *relay_exe, const char *what, GError **err)
{
	Slirp *slirp = slirp_stack_slirp(nat->stack);

	for (guint i = 0; i < c->guestfwds->len; i++) {
		const struct guestfwd *f = &g_array_index(c->guestfwds, struct guestfwd, i);
		struct in_addr addr = f->addr;
		int rc;

		if (f->target.type == ENDPOINT_UNIX) {
			rc = slirp_add_unix(slirp, f->target.path, &addr, f->port);
		} else {
			/* libslirp runs this per connection with the guest's
			 * socket as stdin/stdout; vmnetd itself relays it. */
			g_autofree char *target = endpoint_to_string(&f->target);
			g_autofree char *q_exe = g_shell_quote(relay_exe);
			g_autofree char *q_target = g_shell_quote(target);
			/* The daemon's pid keys its relays' slots (relay.c). */
			g_autofree char *cmd = g_strdup_printf("%s --relay-slots %d --guestfwd-relay %s",
							       q_exe, (int)getpid(), q_target);

			rc = slirp_add_exec(slirp, cmd, &addr, f->port);
		}
		if (rc < 0) {
			vmnetd_set_error(err, "%s guestfwd=%s: already forwarded", what, f->spec);
			return false;
		}
	}
	return true;
}

/* libslirp's own MACs: its addresses' 52:55 (IPv4) and 52:56 (IPv6) forms. */
static void add_static_macs(struct uplink_nat *nat, const struct nat_config *c)
{
	struct vswitch *sw = nat->port.sw;
	uint8_t mac[6];

	if (c->ipv4) {
		slirp_mac4(c->host, mac);
		switch_add_static(sw, &nat->port, mac);
		slirp_mac4(c->dns, mac);
		switch_add_static(sw, &nat->port, mac);
		for (guint i = 0; i < c->guestfwds->len; i++) {
			slirp_mac4(g_array_index(c->guestfwds, struct guestfwd, i).addr, mac);
			switch_add_static(sw, &nat->port, mac);
		}
	}
	if (c->ipv6) {
		slirp_mac6(&c->ip6_host, mac);
		switch_add_static(sw, &nat->port, mac);
		slirp_mac6(&c->ip6_dns, mac);
		switch_add_static(sw, &nat->port, mac);
	}
}

/* dhcp=vmnetd: the lease libslirp would give, from vmnetd's server. */
static bool start_dhcp(struct uplink_nat *nat, const struct net_config *nc, GError **err)
{
	const struct nat_config *c = &nc->nat;
	struct in_addr last = { c->net.s_addr | ~c->mask.s_addr };
	g_autoptr(GArray) reserved = g_array_new(FALSE, FALSE, sizeof(struct in_addr));
	struct dhcp_server_config dc = {
		.server_id = c->host, .netmask = c->mask, .pool_start = c->dhcp_start,
		.router = c->restricted ? (struct in_addr){ 0 } : c->host,
		.dns = c->restricted ? (struct in_addr){ 0 } : c->dns,
		.lease_time_s = NAT_LEASE_TIME_S, .mtu = c->mtu, .domain = c->domainname,
		.client_hostname = c->hostname, .bootfile = c->bootfile,
		.search = c->dnssearch->len > 1 ? (const char *const *)c->dnssearch->pdata : NULL,
		.state_file = nc->lease_file, .name = nc->name,
	};
	struct netsvc_config sc = { .net_name = nc->name, .addr = c->host, .dhcp = &dc,
				    .net = c->net, .mask = c->mask, .uplink = &nat->port };

	last.s_addr = htonl(ntohl(last.s_addr) - 1);
	dc.pool_end = last;
	/* libslirp answers for these itself, whatever the leases say. */
	g_array_append_val(reserved, c->host);
	g_array_append_val(reserved, c->dns);
	for (guint i = 0; i < c->guestfwds->len; i++)
		g_array_append_val(reserved, g_array_index(c->guestfwds, struct guestfwd, i).addr);
	dc.reserved = (const struct in_addr *)reserved->data;
	dc.n_reserved = reserved->len;
	slirp_mac4(c->host, sc.mac);
	nat->svc = netsvc_new(&sc, nat->leases, from_svc, &nat->port, err);
	return nat->svc != NULL;
}

struct port *uplink_nat_new(struct port_set *set, const struct net_config *cfg,
			    struct lease_table *leases, const char *relay_exe, const char *what,
			    GError **err)
{
	struct uplink_nat *nat = g_new0(struct uplink_nat, 1);
	SlirpConfig sc;

	port_init(&nat->port, &nat_ops, g_strdup_printf("%s: nat", cfg->name));
	nat->port.backlog_high = SIZE_MAX;
	nat->port.may_pause = true;
	nat->port.uplink = true;
	nat->leases = leases;
	nat->net_name = g_strdup(cfg->name);
	nat->mtu = cfg->nat.mtu;
	nat->server = cfg->nat.host;
	nat->server6 = cfg->nat.ip6_host;
	nat->ipv6 = cfg->nat.ipv6;
	nat->tftp = (struct tftp_guard){ .root = cfg->nat.tftp, .server4 = cfg->nat.host };
	if (cfg->nat.ipv6)
		nat->tftp.server6 = cfg->nat.ip6_host;
	nat->hostnames = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	fill_slirp_config(&sc, cfg);
	nat->stack = slirp_stack_new(port_set_loop(set), &sc, &nat->port, cfg->flow_budget,
				     from_slirp, nat, err);
	if (!nat->stack || (cfg->dhcp_vmnetd && !start_dhcp(nat, cfg, err)) ||
	    !slirp_stack_add_hostfwds(nat->stack, cfg->nat.hostfwds, cfg->nat.dhcp_start, what,
				      err) ||
	    !add_guestfwds(nat, &cfg->nat, relay_exe, what, err)) {
		if (!nat->stack)
			g_prefix_error(err, "%s: ", what);
		nat_destroy(&nat->port);
		port_fini(&nat->port);
		g_free(nat);
		return NULL;
	}
	port_attach(set, &nat->port, -1, 0, NULL);
	add_static_macs(nat, &cfg->nat);
	return &nat->port;
}

struct forwards *uplink_nat_forwards(struct port *p)
{
	return slirp_stack_forwards(((struct uplink_nat *)p)->stack);
}
