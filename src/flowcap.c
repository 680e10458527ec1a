/* flowcap.c - counts the host sockets each guest makes libslirp open and
 * refuses new flows past the caps (see flowcap.h). */
#include <string.h>
#include <sys/resource.h>

#include <glib.h>

#include "vmnetd/flowcap.h"
#include "vmnetd/frame.h"

#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_ACK		0x10

/* A flow as libslirp keys its sockets: the guest's address and port (the
 * ICMP echo id stands in for a port). */
struct flow_key {
	uint8_t addr[16];	/* IPv4 in the first 4 bytes */
	uint16_t port;
	uint8_t proto;
	uint8_t v6;
};

struct flow {
	struct flow_key key;
	const void *source;	/* the port that opened it */
	int64_t last_ns;
};

/* What one sending port holds: counted per port, not per address, since a
 * port may send from any address nobody leased. */
struct guest {
	const void *source;
	unsigned flows;
};

struct flowcap {
	GHashTable *flows;	/* struct flow_key * -> struct flow * */
	GHashTable *guests;	/* source -> struct guest * */
	unsigned max_flows;
	uint64_t refused;
};

static guint key_hash(gconstpointer p)
{
	const struct flow_key *k = p;
	guint h = k->port * 31u + k->proto * 7u + k->v6;

	for (int i = 0; i < 16; i++)
		h = h * 33u + k->addr[i];
	return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	const struct flow_key *x = a, *y = b;

	return x->port == y->port && x->proto == y->proto && x->v6 == y->v6 &&
	       !memcmp(x->addr, y->addr, 16);
}

struct flowcap *flowcap_new(unsigned max_flows)
{
	struct flowcap *fc = g_new0(struct flowcap, 1);

	fc->flows = g_hash_table_new_full(key_hash, key_equal, NULL, g_free);
	fc->guests = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	fc->max_flows = MAX(max_flows, FLOWCAP_GUEST_SHARE);
	return fc;
}

void flowcap_free(struct flowcap *fc)
{
	if (!fc)
		return;
	g_hash_table_destroy(fc->flows);
	g_hash_table_destroy(fc->guests);
	g_free(fc);
}

unsigned flowcap_budget(unsigned networks)
{
	struct rlimit rl;
	rlim_t n = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n = rl.rlim_cur;
	return (unsigned)MIN(n / 2 / MAX(networks, 1u), 1u << 20);
}

/* What kind of event @frame is for libslirp's sockets. */
enum flow_event { FLOW_NONE, FLOW_USE, FLOW_OPEN, FLOW_CLOSE };

static enum flow_event tcp_event(const uint8_t *tcp)
{
	uint8_t flags = tcp[13];

	if (flags & (TCP_FIN | TCP_RST))
		return FLOW_CLOSE;
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		return FLOW_OPEN;
	return FLOW_NONE;	/* data of a flow already counted, or a host's */
}

/* The flow of @frame and what it does to it. */
static enum flow_event classify(const uint8_t *frame, size_t len, struct flow_key *k)
{
	uint16_t type = len >= ETH_HLEN ? get_be16(frame + 12) : 0;
	const uint8_t *l4;
	size_t hlen;
	uint8_t proto;

	memset(k, 0, sizeof(*k));
	if (type == ETH_P_IPV4) {
		const uint8_t *ip = frame_ip4((uint8_t *)frame, len);

		if (!ip || (get_be16(ip + 6) & 0x1fff))
			return FLOW_NONE;	/* later fragments carry no ports */
		memcpy(k->addr, ip + 12, 4);
		proto = ip[9];
		hlen = (ip[0] & 0xf) * 4;
	} else if (type == ETH_P_IPV6) {
		const uint8_t *ip6 = frame_ptr((uint8_t *)frame, len, ETH_HLEN, IP6_HLEN);

		if (!ip6)
			return FLOW_NONE;
		memcpy(k->addr, ip6 + 8, 16);
		k->v6 = 1;
		proto = ip6[6];		/* extension headers: not a flow we count */
		hlen = IP6_HLEN;
	} else {
		return FLOW_NONE;
	}
	/* Enough for the TCP flags; ports and echo ids come before them. */
	l4 = frame_ptr((uint8_t *)frame, len, ETH_HLEN + hlen, proto == IPPROTO_TCP_ ? 14 : 6);
	if (!l4)
		return FLOW_NONE;
	k->proto = proto;
	if (proto == IPPROTO_TCP_) {
		k->port = get_be16(l4);
		return tcp_event(l4);
	}
	if (proto == IPPROTO_UDP_) {
		k->port = get_be16(l4);
		return FLOW_USE;
	}
	if ((proto == IPPROTO_ICMP_ && l4[0] == 8) || (proto == IPPROTO_ICMPV6_ && l4[0] == 128)) {
		k->port = get_be16(l4 + 4);	/* the echo id */
		return FLOW_USE;
	}
	return FLOW_NONE;
}

static struct guest *guest_of(struct flowcap *fc, const void *source, bool create)
{
	struct guest *g = g_hash_table_lookup(fc->guests, source);

	if (!g && create) {
		g = g_new0(struct guest, 1);
		g->source = source;
		g_hash_table_insert(fc->guests, (gpointer)source, g);
	}
	return g;
}

static void drop_flow(struct flowcap *fc, struct flow *f)
{
	struct guest *g = guest_of(fc, f->source, false);

	if (g && --g->flows == 0)
		g_hash_table_remove(fc->guests, f->source);
	g_hash_table_remove(fc->flows, &f->key);
}

static int64_t idle_limit(const struct flow *f)
{
	if (f->key.proto == IPPROTO_UDP_)
		return FLOWCAP_UDP_IDLE_NS;
	if (f->key.proto == IPPROTO_TCP_)
		return FLOWCAP_TCP_IDLE_NS;	/* FIN or RST end it sooner */
	return FLOWCAP_ICMP_IDLE_NS;
}

/* Forget flows libslirp has surely closed by now; only when a cap is
 * reached, so the walk is paid by whoever fills the table. */
static void expire(struct flowcap *fc, int64_t now_ns)
{
	GHashTableIter it;
	gpointer value;
	GPtrArray *old = g_ptr_array_new();

	g_hash_table_iter_init(&it, fc->flows);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct flow *f = value;

		if (now_ns - f->last_ns > idle_limit(f))
			g_ptr_array_add(old, f);
	}
	for (guint i = 0; i < old->len; i++)
		drop_flow(fc, g_ptr_array_index(old, i));
	g_ptr_array_free(old, TRUE);
}

static bool room_for(struct flowcap *fc, const void *source)
{
	struct guest *g = guest_of(fc, source, false);

	return g_hash_table_size(fc->flows) < fc->max_flows &&
	       (!g || g->flows < fc->max_flows / FLOWCAP_GUEST_SHARE);
}

static bool open_flow(struct flowcap *fc, const struct flow_key *k, const void *source,
		      int64_t now_ns)
{
	struct flow *f;

	if (!room_for(fc, source)) {
		expire(fc, now_ns);
		if (!room_for(fc, source)) {
			if (fc->refused++ % 1000 == 0)
				g_message("new guest flows refused: a VM holds its share of host "
					  "sockets (%" G_GUINT64_FORMAT " so far)", fc->refused);
			return false;
		}
	}
	f = g_new0(struct flow, 1);
	f->key = *k;
	f->source = source;
	f->last_ns = now_ns;
	g_hash_table_insert(fc->flows, &f->key, f);
	guest_of(fc, source, true)->flows++;
	return true;
}

bool flowcap_admit(struct flowcap *fc, const uint8_t *frame, size_t len, int64_t now_ns,
		   flowcap_source_fn source_of, void *opaque)
{
	struct flow_key k;
	enum flow_event ev = classify(frame, len, &k);
	struct flow *f;

	if (ev == FLOW_NONE)
		return true;
	f = g_hash_table_lookup(fc->flows, &k);
	if (ev == FLOW_CLOSE) {
		if (f)
			drop_flow(fc, f);
		return true;
	}
	if (f) {
		f->last_ns = now_ns;
		return true;
	}
	return open_flow(fc, &k, source_of(opaque, frame, len), now_ns);
}

void flowcap_get_stats(const struct flowcap *fc, struct flowcap_stats *s)
{
	s->refused = fc->refused;
	s->flows = g_hash_table_size(fc->flows);
}
