/* portsec.c - port security: ARP, IPv4 and IPv6 from a VM port may claim only
 * that port's own addresses (see portsec.h). */
#include <string.h>
#include <time.h>

#include <glib.h>

#include "vmnetd/frame.h"
#include "vmnetd/mac.h"
#include "vmnetd/portsec.h"
#include "vmnetd/switch.h"

#define ICMPV6_NEIGHBOR_ADVERT	136

struct v6_binding {
	struct in6_addr addr;
	const struct port *port;
	uint64_t seq;		/* when bound: the oldest of a port goes first */
};

struct portsec {
	struct lease_table *leases;
	GArray *own4;		/* struct in_addr */
	GArray *own6;		/* struct in6_addr */
	GHashTable *v6;		/* struct in6_addr * -> struct v6_binding * */
	uint64_t seq;
};

static guint in6_hash(gconstpointer p)
{
	uint32_t w[4];

	/* A lookup's key points into a frame, at any alignment. */
	memcpy(w, p, sizeof(w));
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

static gboolean in6_equal(gconstpointer a, gconstpointer b)
{
	return !memcmp(a, b, sizeof(struct in6_addr));
}

struct portsec *portsec_new(struct lease_table *leases, const struct in_addr *own4, size_t n4,
			    const struct in6_addr *own6, size_t n6)
{
	struct portsec *ps = g_new0(struct portsec, 1);

	ps->leases = leases;
	ps->own4 = g_array_new(FALSE, FALSE, sizeof(struct in_addr));
	g_array_append_vals(ps->own4, own4, n4);
	ps->own6 = g_array_new(FALSE, FALSE, sizeof(struct in6_addr));
	g_array_append_vals(ps->own6, own6, n6);
	ps->v6 = g_hash_table_new_full(in6_hash, in6_equal, NULL, g_free);
	return ps;
}

void portsec_free(struct portsec *ps)
{
	if (!ps)
		return;
	g_array_free(ps->own4, TRUE);
	g_array_free(ps->own6, TRUE);
	g_hash_table_destroy(ps->v6);
	g_free(ps);
}

static bool is_own4(const struct portsec *ps, const uint8_t *a)
{
	for (guint i = 0; i < ps->own4->len; i++)
		if (!memcmp(a, &g_array_index(ps->own4, struct in_addr, i), 4))
			return true;
	return false;
}

static bool is_own6(const struct portsec *ps, const uint8_t *a)
{
	for (guint i = 0; i < ps->own6->len; i++)
		if (!memcmp(a, &g_array_index(ps->own6, struct in6_addr, i), 16))
			return true;
	return false;
}

/* The port a MAC is behind now, if its entry is fresh. */
static struct port *port_of(struct vswitch *sw, const uint8_t mac[6], int64_t now_ns)
{
	return switch_lookup(sw, mac, now_ns);
}

/* May @in claim IPv4 address @a, sending as @src_mac? */
static bool may_claim4(struct portsec *ps, struct vswitch *sw, struct port *in,
		       const uint8_t *src_mac, const uint8_t *a, int64_t now_ns)
{
	struct in_addr ip;
	const struct lease *l;

	memcpy(&ip.s_addr, a, 4);
	if (!ip.s_addr)
		return true;		/* 0.0.0.0: a DHCP client or an ARP probe */
	if (is_own4(ps, a))
		return false;
	l = lease_table_by_ip(ps->leases, ip, time(NULL));
	if (!l || !memcmp(l->mac, src_mac, 6))
		return true;
	return port_of(sw, l->mac, now_ns) == in;	/* another MAC of the same VM port */
}

/* A leased VM's MAC stays on its port while its entry is fresh. */
static bool may_use_mac(struct portsec *ps, struct vswitch *sw, struct port *in,
			const uint8_t *mac, int64_t now_ns)
{
	struct port *owner;

	if (mac_is_group(mac))
		return false;		/* never a source */
	owner = port_of(sw, mac, now_ns);
	if (!owner || owner == in)
		return true;
	if (!lease_table_by_mac(ps->leases, mac, time(NULL)))
		return true;
	if (!owner->uplink)
		switch_mac_conflict(sw, mac, owner, in);
	return false;
}

static bool check_arp(struct portsec *ps, struct vswitch *sw, struct port *in,
		      const uint8_t *frame, size_t len, int64_t now_ns)
{
	const uint8_t *arp = frame_ptr((uint8_t *)frame, len, ETH_HLEN, 28);

	/* Only IPv4 over Ethernet: libslirp does not check the types, and Linux
	 * takes hardware type 6 (IEEE 802) too, so any other is a way around. */
	if (!arp || get_be16(arp) != 1 || get_be16(arp + 2) != ETH_P_IPV4 || arp[4] != 6 ||
	    arp[5] != 4)
		return false;
	/* The sender's MAC is its frame's: no answering for someone else. */
	return !memcmp(arp + 8, frame + 6, 6) &&
	       may_claim4(ps, sw, in, frame + 6, arp + 14, now_ns);
}

static bool check_ip4(struct portsec *ps, struct vswitch *sw, struct port *in,
		      const uint8_t *frame, size_t len, int64_t now_ns)
{
	const uint8_t *ip = frame_ip4((uint8_t *)frame, len);

	return !ip || may_claim4(ps, sw, in, frame + 6, ip + 12, now_ns);
}

static void forget_oldest6(struct portsec *ps, const struct port *p)
{
	GHashTableIter it;
	gpointer value;
	struct v6_binding *oldest = NULL;

	g_hash_table_iter_init(&it, ps->v6);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct v6_binding *b = value;

		if (b->port == p && (!oldest || b->seq < oldest->seq))
			oldest = b;
	}
	if (oldest)
		g_hash_table_remove(ps->v6, &oldest->addr);
}

static unsigned count6(struct portsec *ps, const struct port *p)
{
	GHashTableIter it;
	gpointer value;
	unsigned n = 0;

	g_hash_table_iter_init(&it, ps->v6);
	while (g_hash_table_iter_next(&it, NULL, &value))
		n += ((struct v6_binding *)value)->port == p;
	return n;
}

/* May @in use IPv6 address @a? The first port seen with it keeps it. */
static bool may_claim6(struct portsec *ps, struct port *in, const uint8_t *a)
{
	static const uint8_t unspecified[16];
	struct v6_binding *b;

	if (!memcmp(a, unspecified, 16))
		return true;		/* duplicate address detection */
	if (is_own6(ps, a))
		return false;
	b = g_hash_table_lookup(ps->v6, a);
	if (b)
		return b->port == in;
	if (count6(ps, in) >= PORTSEC_V6_PER_PORT)
		forget_oldest6(ps, in);
	b = g_new0(struct v6_binding, 1);
	memcpy(&b->addr, a, 16);
	b->port = in;
	b->seq = ++ps->seq;
	g_hash_table_insert(ps->v6, &b->addr, b);
	return true;
}

/* The ICMPv6 header of an IPv6 packet (24 bytes of it at least), past any
 * hop-by-hop, routing or destination options headers; NULL if there is none
 * (a fragment header too: neighbour discovery is never fragmented). */
static const uint8_t *icmpv6_of(const uint8_t *frame, size_t len, const uint8_t *ip6)
{
	size_t off = ETH_HLEN + IP6_HLEN;
	uint8_t next = ip6[6];

	for (int i = 0; i < 8; i++) {
		const uint8_t *ext;

		if (next == IPPROTO_ICMPV6_)
			return frame_ptr((uint8_t *)frame, len, off, 24);
		if (next != 0 && next != 43 && next != 60)	/* hop-by-hop, routing, dest opts */
			return NULL;
		ext = frame_ptr((uint8_t *)frame, len, off, 2);
		if (!ext)
			return NULL;
		next = ext[0];
		off += (ext[1] + 1) * 8;
	}
	return NULL;
}

static bool check_ip6(struct portsec *ps, struct port *in, const uint8_t *frame, size_t len)
{
	const uint8_t *ip6 = frame_ptr((uint8_t *)frame, len, ETH_HLEN, IP6_HLEN);
	const uint8_t *icmp;

	if (!ip6 || ip6[0] >> 4 != 6)
		return true;
	if (!may_claim6(ps, in, ip6 + 8))
		return false;
	/* A neighbour advertisement says "this address is at my MAC". */
	icmp = icmpv6_of(frame, len, ip6);
	if (icmp && icmp[0] == ICMPV6_NEIGHBOR_ADVERT)
		return may_claim6(ps, in, icmp + 8);
	return true;
}

bool portsec_allow(struct portsec *ps, struct vswitch *sw, struct port *in,
		   const uint8_t *frame, size_t len, int64_t now_ns)
{
	uint16_t type;

	if (len < ETH_HLEN || !may_use_mac(ps, sw, in, frame + 6, now_ns))
		return false;
	type = get_be16(frame + 12);
	if (type == ETH_P_ARP)
		return check_arp(ps, sw, in, frame, len, now_ns);
	if (type == ETH_P_IPV4)
		return check_ip4(ps, sw, in, frame, len, now_ns);
	if (type == ETH_P_IPV6)
		return check_ip6(ps, in, frame, len);
	return true;
}

static gboolean bound_to(gpointer key, gpointer value, gpointer port)
{
	(void)key;
	return ((struct v6_binding *)value)->port == port;
}

void portsec_forget(struct portsec *ps, const struct port *p)
{
	g_hash_table_foreach_remove(ps->v6, bound_to, (gpointer)p);
}
