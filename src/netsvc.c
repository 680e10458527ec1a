/* netsvc.c - DHCP and DNS answered by vmnetd itself, for host-only networks
 * (and NAT networks with dhcp=vmnetd): frames in, frames out, no sockets. */
#include <string.h>
#include <time.h>

#include "vmnetd/frame.h"
#include "vmnetd/netsvc.h"
#include "vmnetd/switch.h"

#define DNS_TTL 60	/* VMs come and go; short, as dnsmasq's local names */

struct netsvc {
	char *net_name;
	struct in_addr addr;
	uint8_t mac[6];
	struct dhcp_server *dhcp;
	bool dns_on;
	struct dns_names dns;
	char *host_name, *domain;
	struct lease_table *leases;
	netsvc_send_fn send;
	void *opaque;
	const struct port *uplink;
};

static bool name_lookup(void *opaque, const char *name, struct in_addr *out)
{
	struct netsvc *s = opaque;
	const struct lease *l;

	if (!g_ascii_strcasecmp(name, s->host_name)) {
		*out = s->addr;
		return true;
	}
	l = lease_table_by_name(s->leases, name, time(NULL));
	if (!l)
		return false;
	*out = l->ip;
	return true;
}

static bool addr_lookup(void *opaque, struct in_addr addr, char *buf, size_t size)
{
	struct netsvc *s = opaque;
	const struct lease *l;

	if (addr.s_addr == s->addr.s_addr) {
		g_strlcpy(buf, s->host_name, size);
		return true;
	}
	l = lease_table_by_ip(s->leases, addr, time(NULL));
	if (!l || !l->hostname[0])
		return false;
	g_strlcpy(buf, l->hostname, size);
	return true;
}

struct netsvc *netsvc_new(const struct netsvc_config *c, struct lease_table *leases,
			  netsvc_send_fn send, void *opaque, GError **err)
{
	struct netsvc *s = g_new0(struct netsvc, 1);

	s->net_name = g_strdup(c->net_name);
	s->addr = c->addr;
	memcpy(s->mac, c->mac, 6);
	s->leases = leases;
	s->send = send;
	s->opaque = opaque;
	s->uplink = c->uplink;
	s->dns_on = c->dns;
	s->host_name = g_strdup(c->host_name ? c->host_name : "host");
	s->domain = g_strdup(c->domain);
	s->dns = (struct dns_names){ .by_name = name_lookup, .by_addr = addr_lookup, .opaque = s,
				     .domain = s->domain, .net = c->net, .mask = c->mask,
				     .ttl = DNS_TTL };
	if (c->dhcp) {
		s->dhcp = dhcp_server_new(c->dhcp, leases, time(NULL), err);
		if (!s->dhcp) {
			netsvc_free(s);
			return NULL;
		}
	}
	return s;
}

void netsvc_free(struct netsvc *s)
{
	if (!s)
		return;
	dhcp_server_free(s->dhcp);
	g_free(s->net_name);
	g_free(s->host_name);
	g_free(s->domain);
	g_free(s);
}

static void answer_dhcp(struct netsvc *s, struct udp4_view *v)
{
	struct dhcp_reply r;
	uint8_t frame[ETH_HLEN + IP4_HLEN + UDP_HLEN + DHCP_REPLY_MAX];
	struct frame_addrs a;
	size_t n;

	if (!dhcp_server_input(s->dhcp, v->payload, v->payload_len, time(NULL), &r))
		return;
	memcpy(a.src_mac, s->mac, 6);
	memcpy(a.dst_mac, r.dst_mac, 6);
	a.src = s->addr;
	a.dst = r.dst_ip;
	n = frame_build_udp4(frame, sizeof(frame), &a, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, r.msg,
			     r.len);
	if (n)
		s->send(s->opaque, frame, n);
}

static void answer_dns(struct netsvc *s, const uint8_t *frame, struct udp4_view *v)
{
	uint8_t reply[DNS_UDP_MAX];
	uint8_t out[ETH_HLEN + IP4_HLEN + UDP_HLEN + DNS_UDP_MAX];
	struct frame_addrs a;
	size_t n = dns_answer(&s->dns, v->payload, v->payload_len, reply, sizeof(reply));

	if (!n)
		return;
	memcpy(a.src_mac, s->mac, 6);
	memcpy(a.dst_mac, frame + 6, 6);
	a.src = s->addr;
	memcpy(&a.dst.s_addr, v->ip + 12, 4);
	n = frame_build_udp4(out, sizeof(out), &a, DNS_PORT, get_be16(v->udp), reply, n);
	if (n)
		s->send(s->opaque, out, n);
}

struct port_leases {
	struct vswitch *sw;
	struct port *port;
	int64_t now_ns;
	unsigned n;
};

static void count_port_lease(const struct lease *l, void *opaque)
{
	struct port_leases *c = opaque;

	if (switch_lookup(c->sw, l->mac, c->now_ns) == c->port)
		c->n++;
}

/* Whether @mac may ask for a lease: it is learned on some port (not past its
 * port's MAC limit), and holds one already or its port is under
 * NETSVC_LEASES_PER_PORT. */
static bool may_ask(struct netsvc *s, const uint8_t mac[6])
{
	struct port_leases c = { .sw = s->uplink->sw };

	c.now_ns = loop_now(port_set_loop(s->uplink->set));
	c.port = switch_lookup(c.sw, mac, c.now_ns);
	if (!c.port)
		return false;
	if (lease_table_by_mac(s->leases, mac, time(NULL)))
		return true;
	lease_table_foreach(s->leases, count_port_lease, &c);
	return c.n < NETSVC_LEASES_PER_PORT;
}

bool netsvc_handle(struct netsvc *s, const uint8_t *frame, size_t len)
{
	struct udp4_view v;
	uint16_t dport;

	if (!frame_udp4((uint8_t *)frame, len, &v))
		return false;
	dport = get_be16(v.udp + 2);
	if (dport == DHCP_SERVER_PORT && s->dhcp) {
		/* A VM asks for itself only: a chaddr other than the frame's
		 * source would let one VM drain the pool with made-up MACs. */
		if (v.payload_len >= 34 && !memcmp(v.payload + 28, frame + 6, 6) &&
		    may_ask(s, frame + 6))
			answer_dhcp(s, &v);
		return true;
	}
	if (dport == DNS_PORT && s->dns_on && !memcmp(v.ip + 16, &s->addr.s_addr, 4)) {
		answer_dns(s, frame, &v);
		return true;
	}
	return false;
}
