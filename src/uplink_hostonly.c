/* uplink_hostonly.c - host-only uplink: VMs reach the host, and nothing else.
 *
 * The port owns the host address and its MAC. DHCP and DNS are answered by
 * netsvc.c. Other frames for the host go to its backend: libslirp (without
 * host-iface; connections to the host address reach the daemon host's
 * loopback, as NAT's gateway does) or a TAP carrying the host address
 * (host-iface; the host's own stack answers). An IPv4 packet addressed to
 * our MAC but to any other address is refused at once (TCP RST, ICMP
 * prohibited): no route leads anywhere from here. IPv6 is not served.
 */
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "vmnetd/error.h"
#include "vmnetd/frame.h"
#include "vmnetd/netsvc.h"
#include "vmnetd/port_tap.h"
#include "vmnetd/selfports.h"
#include "vmnetd/slirp_stack.h"
#include "vmnetd/switch.h"
#include "vmnetd/uplink_hostonly.h"

struct uplink_hostonly {
	struct port port;	/* first: the port layer sees only this */
	struct slirp_stack *stack;	/* NULL with host-iface */
	struct netsvc *svc;
	uint8_t mac[6];
	struct in_addr host;
	struct in_addr bcast;	/* the subnet's broadcast address */
	uint64_t refused;	/* packets to addresses beyond the host */
};

/* Into the backend: libslirp, or the TAP's queue (which may be full). */
static enum port_verdict to_host(struct uplink_hostonly *ho, const uint8_t *frame, size_t len)
{
	if (!ho->stack)
		return port_queue(&ho->port, frame, len);
	return slirp_stack_input(ho->stack, frame, len) ? PORT_QUEUED : PORT_DROPPED;
}

/* ARP for the host address, and answers to the host's own questions:
 * libslirp answers "who has" for other addresses too (its DNS address). */
static bool arp_for_host(const struct uplink_hostonly *ho, const uint8_t *frame, size_t len)
{
	const uint8_t *arp = frame_ptr((uint8_t *)frame, len, ETH_HLEN, 28);

	return arp && (get_be16(arp + 6) != 1 /* request */ ||
		       !memcmp(arp + 24, &ho->host.s_addr, 4));
}

/* RFC 1122 3.2.2: no error answers a broadcast or multicast, nor a
 * packet whose addresses could not be a source. */
static bool unicast4(const uint8_t *addr, struct in_addr bcast)
{
	uint32_t a;

	memcpy(&a, addr, 4);
	if (a == bcast.s_addr)
		return false;
	a = ntohl(a);
	return a >> 24 != 0 && a >> 24 != 127 && a < 0xe0000000;
}

static bool may_refuse(const uint8_t *frame, const uint8_t *ip, struct in_addr bcast)
{
	return !(frame[6] & 1) && unicast4(ip + 12, bcast) && unicast4(ip + 16, bcast);
}

static void refuse(struct uplink_hostonly *ho, const uint8_t *frame, size_t len,
		   const uint8_t *ip)
{
	uint8_t reply[FRAME_REJECT_MAX];
	size_t n = may_refuse(frame, ip, ho->bcast) ? frame_build_reject4(reply, frame, len, ho->mac)
						    : 0;

	if (ho->refused++ % 1000 == 0)
		g_debug("%s: refused a packet beyond the host (%" G_GUINT64_FORMAT " so far)",
			ho->port.name, ho->refused);
	if (n)
		port_input(&ho->port, reply, n);
}

/* TCP to port 53: the host address's DNS is vmnetd's own, over UDP; over
 * TCP libslirp would reach whatever resolver the host runs on its loopback,
 * and that one may ask the outside. TCP or UDP to the daemon's own
 * sockets: a guest must not attach itself more ports. */
static bool refused_at_host(const struct uplink_hostonly *ho, const uint8_t *frame, size_t len)
{
	struct in_addr dst;
	uint16_t dport;
	uint8_t proto;

	if (!frame_l4_dst4(frame, len, &proto, &dst, &dport))
		return false;
	return (proto == IPPROTO_TCP_ && dport == DNS_PORT) ||
	       selfports_blocks(proto, dst, dport, ho->host);
}

static enum port_verdict ho_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct uplink_hostonly *ho = (struct uplink_hostonly *)p;
	bool for_us = len >= ETH_HLEN && !memcmp(frame, ho->mac, 6);
	uint16_t type = len >= ETH_HLEN ? get_be16(frame + 12) : 0;
	const uint8_t *ip;

	if (netsvc_handle(ho->svc, frame, len))
		return PORT_QUEUED;
	if (type == ETH_P_ARP)
		return arp_for_host(ho, frame, len) ? to_host(ho, frame, len) : PORT_QUEUED;
	/* Frames flooded past us (for another VM, broadcast) are not ours to answer. */
	if (type != ETH_P_IPV4 || !for_us)
		return PORT_QUEUED;
	ip = frame_ip4((uint8_t *)frame, len);
	if (!ip)
		return PORT_QUEUED;
	if (!memcmp(ip + 16, &ho->host.s_addr, 4) && !refused_at_host(ho, frame, len))
		return to_host(ho, frame, len);
	refuse(ho, frame, len, ip);
	return PORT_QUEUED;
}

/* libslirp's sockets and forwards go now, not an iteration later. */
static void ho_close(struct port *p)
{
	struct uplink_hostonly *ho = (struct uplink_hostonly *)p;

	slirp_stack_free(ho->stack);
	ho->stack = NULL;
}

static void ho_destroy(struct port *p)
{
	struct uplink_hostonly *ho = (struct uplink_hostonly *)p;

	ho_close(p);
	netsvc_free(ho->svc);
}

static const struct port_ops slirp_ops = {
	.kind = "hostonly",
	.deliver = ho_deliver,
	.close = ho_close,
	.destroy = ho_destroy,
};

static const struct port_ops tap_ops = {
	.kind = "hostonly-tap",
	.deliver = ho_deliver,
	.read = tap_read,
	.flush = tap_flush,
	.destroy = ho_destroy,
};

static void from_backend(void *opaque, const uint8_t *frame, size_t len)
{
	port_input(opaque, frame, len);
}

static struct slirp_stack *start_slirp(struct uplink_hostonly *ho, struct loop *l,
				       const struct net_config *cfg, const char *what,
				       GError **err)
{
	const struct hostonly_config *c = &cfg->ho;
	SlirpConfig sc = {
		.version = 4,
		.in_enabled = true,
		.vnetwork = c->net,
		.vnetmask = c->mask,
		.vhost = c->host,
		.vdhcp_start = c->pool_start,
		/* Nothing reaches it (only the host address passes); libslirp
		 * wants one. */
		.vnameserver = c->net,
		.if_mtu = cfg->mtu,
		.if_mru = cfg->mtu,
		.disable_dns = true,
		.disable_dhcp = true,
	};
	struct slirp_stack *s = slirp_stack_new(l, &sc, &ho->port, cfg->flow_budget, from_backend,
						&ho->port, err);

	if (!s) {
		g_prefix_error(err, "%s: ", what);
		return NULL;
	}
	if (!slirp_stack_add_hostfwds(s, c->hostfwds, c->pool_start, what, err)) {
		slirp_stack_free(s);
		return NULL;
	}
	return s;
}

static int start_tap(const struct net_config *cfg, const uint8_t mac[6], const char *what,
		     GError **err)
{
	const struct hostonly_config *c = &cfg->ho;
	int fd;

	/* hostfwd= with host-iface= is refused by netconf.c. */
	fd = tap_open(c->host_iface, err);
	if (fd < 0 || !tap_configure(c->host_iface, mac, cfg->mtu, c->host, c->mask, err)) {
		if (fd >= 0)
			close(fd);
		g_prefix_error(err, "%s host-iface=%s: ", what, c->host_iface);
		return -1;
	}
	return fd;
}

static bool start_services(struct uplink_hostonly *ho, const struct net_config *cfg,
			   struct lease_table *leases, GError **err)
{
	const struct hostonly_config *c = &cfg->ho;
	struct dhcp_server_config dc = {
		.server_id = c->host, .netmask = c->mask,
		.pool_start = c->pool_start, .pool_end = c->pool_end,
		.router = c->router ? c->host : (struct in_addr){ 0 },
		.dns = c->host, .lease_time_s = c->lease_time_s, .mtu = cfg->mtu,
		.domain = c->domain,
		.statics = c->statics ? (const struct dhcp_static_lease *)c->statics->data : NULL,
		.n_statics = c->statics ? c->statics->len : 0,
		.state_file = cfg->lease_file, .name = cfg->name,
	};
	struct netsvc_config sc = {
		.net_name = cfg->name, .addr = c->host, .dhcp = &dc, .dns = true,
		.host_name = c->host_name, .domain = c->domain, .net = c->net, .mask = c->mask,
		.uplink = &ho->port,
	};

	memcpy(sc.mac, ho->mac, 6);
	ho->svc = netsvc_new(&sc, leases, from_backend, &ho->port, err);
	return ho->svc != NULL;
}

struct port *uplink_hostonly_new(struct port_set *set, const struct net_config *cfg,
				 struct lease_table *leases, const char *what, GError **err)
{
	struct uplink_hostonly *ho = g_new0(struct uplink_hostonly, 1);
	bool tap = cfg->ho.host_iface != NULL;
	int fd = -1;

	port_init(&ho->port, tap ? &tap_ops : &slirp_ops,
		  g_strdup_printf("%s: %s", cfg->name, tap ? cfg->ho.host_iface : "host"));
	ho->host = cfg->ho.host;
	ho->bcast.s_addr = cfg->ho.net.s_addr | ~cfg->ho.mask.s_addr;
	slirp_mac4(ho->host, ho->mac);
	ho->port.uplink = true;
	ho->port.may_pause = !tap;	/* libslirp's sockets can wait; a TAP cannot */
	ho->port.backlog_high = tap ? TAP_QUEUE_SIZE / 2 : SIZE_MAX;
	ho->port.max_frame = TAP_FRAME_MAX;
	if (!start_services(ho, cfg, leases, err))
		goto fail;
	if (tap)
		fd = start_tap(cfg, ho->mac, what, err);
	else
		ho->stack = start_slirp(ho, port_set_loop(set), cfg, what, err);
	if (tap ? fd < 0 : !ho->stack)
		goto fail;
	if (!port_attach(set, &ho->port, fd, fd >= 0 ? TAP_QUEUE_SIZE : 0, err))
		return NULL;
	switch_add_static(ho->port.sw, &ho->port, ho->mac);
	if (tap)
		g_message("%s: host interface %s is %s", cfg->name, cfg->ho.host_iface,
			  inet_ntoa(ho->host));
	return &ho->port;
fail:
	ho_destroy(&ho->port);
	port_fini(&ho->port);
	g_free(ho);
	return NULL;
}

struct forwards *uplink_hostonly_forwards(struct port *p)
{
	struct uplink_hostonly *ho = (struct uplink_hostonly *)p;

	return ho->stack ? slirp_stack_forwards(ho->stack) : NULL;
}
