/* switch.c - Ethernet learning switch: MAC table (FDB) with ageing, forwarding, flooding.
 *
 * Rules: a source MAC is learned on the port it came from (never a group or
 * zero address, and within SWITCH_FDB_MAX and the port's fdb_max so no VM can
 * fill the table); static entries (the MACs an uplink or service owns) never
 * age and never move, whatever a VM sends; known unicast goes to one port; broadcast, multicast and
 * unknown unicast go to every port but the ingress one; nothing goes back
 * out of the port it came in on.
 */
#include <string.h>

#include <glib.h>

#include "vmnetd/mac.h"
#include "vmnetd/switch.h"

struct fdb_entry {
	gint64 key;		/* MAC as an integer: the hash key points here */
	struct port *port;
	int64_t last_seen_ns;
	bool is_static;		/* owned by an uplink or service: never ages, never moves */
};

struct vswitch {
	GPtrArray *ports;
	GHashTable *fdb;	/* &entry->key -> entry */
	int64_t ageing_ns;
	struct switch_stats stats;
	switch_filter_fn filter;
	switch_port_gone_fn port_gone;
	void *filter_opaque;
};

struct vswitch *switch_new(int64_t ageing_ns)
{
	struct vswitch *sw = g_new0(struct vswitch, 1);

	sw->ports = g_ptr_array_new();
	sw->fdb = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	sw->ageing_ns = ageing_ns;
	return sw;
}

void switch_free(struct vswitch *sw)
{
	if (!sw)
		return;
	g_hash_table_destroy(sw->fdb);
	g_ptr_array_free(sw->ports, TRUE);
	g_free(sw);
}

void switch_set_filter(struct vswitch *sw, switch_filter_fn fn, switch_port_gone_fn gone,
		       void *opaque)
{
	sw->filter = fn;
	sw->port_gone = gone;
	sw->filter_opaque = opaque;
}

void switch_add_port(struct vswitch *sw, struct port *p)
{
	p->sw = sw;
	g_ptr_array_add(sw->ports, p);
}

static gboolean entry_is_on_port(gpointer key, gpointer value, gpointer port)
{
	(void)key;
	return ((struct fdb_entry *)value)->port == port;
}

void switch_del_port(struct vswitch *sw, struct port *p)
{
	g_hash_table_foreach_remove(sw->fdb, entry_is_on_port, p);
	p->fdb_entries = 0;
	if (sw->port_gone)
		sw->port_gone(sw->filter_opaque, p);
	g_ptr_array_remove(sw->ports, p);
	p->sw = NULL;
	p->blocked_on = NULL;

	for (guint i = 0; i < sw->ports->len; i++) {
		struct port *other = g_ptr_array_index(sw->ports, i);

		if (other->blocked_on == p)
			other->blocked_on = NULL;
	}
}

/* The table is full: make room for @in by forgetting the oldest MAC of the
 * port that holds the most, so a newcomer is learned and the port that
 * filled the table pays. False when no other port holds more than @in. */
static bool evict_for(struct vswitch *sw, struct port *in)
{
	struct port *big = NULL;
	struct fdb_entry *oldest = NULL;
	GHashTableIter it;
	gpointer value;

	for (guint i = 0; i < sw->ports->len; i++) {
		struct port *p = g_ptr_array_index(sw->ports, i);

		if (!big || p->fdb_entries > big->fdb_entries)
			big = p;
	}
	if (!big || big == in || big->fdb_entries <= in->fdb_entries + 1)
		return false;
	g_hash_table_iter_init(&it, sw->fdb);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct fdb_entry *e = value;

		if (e->port == big && !e->is_static &&
		    (!oldest || e->last_seen_ns < oldest->last_seen_ns))
			oldest = e;
	}
	if (!oldest)
		return false;
	big->fdb_entries--;
	g_hash_table_remove(sw->fdb, &oldest->key);
	return true;
}

static void learn(struct vswitch *sw, struct port *in, const uint8_t mac[6], int64_t now_ns)
{
	gint64 key = mac_key(mac);
	struct fdb_entry *e = g_hash_table_lookup(sw->fdb, &key);

	if (e) {
		/* Fast path: a known MAC only refreshes, or moves if the VM moved. */
		if (e->is_static) {
			if (e->port != in)
				sw->stats.learn_refused++;
			return;
		}
		if (e->port != in && in->fdb_entries >= in->fdb_max) {
			sw->stats.learn_refused++;	/* a full port takes no more, moved or new */
			return;
		}
		if (e->port != in && !e->port->uplink &&
		    now_ns - e->last_seen_ns < SWITCH_CONFLICT_NS)
			switch_mac_conflict(sw, mac, e->port, in);
		e->last_seen_ns = now_ns;
		if (e->port != in) {
			g_debug("%s: " MAC_FMT " moved here from %s", in->name, MAC_ARGS(mac),
				e->port->name);
			e->port->fdb_entries--;
			e->port = in;
			in->fdb_entries++;
		}
		return;
	}
	if (in->fdb_entries >= in->fdb_max ||
	    (g_hash_table_size(sw->fdb) >= SWITCH_FDB_MAX && !evict_for(sw, in))) {
		sw->stats.learn_refused++;
		return;
	}
	g_debug("%s: learned " MAC_FMT, in->name, MAC_ARGS(mac));
	e = g_new0(struct fdb_entry, 1);
	e->key = key;
	e->port = in;
	e->last_seen_ns = now_ns;
	in->fdb_entries++;
	if (!in->has_mac) {
		memcpy(in->mac, mac, 6);
		in->has_mac = true;
	}
	g_hash_table_insert(sw->fdb, &e->key, e);
}

static void flood(struct vswitch *sw, struct port *in, const uint8_t *frame, size_t len)
{
	guint n = sw->ports->len;

	sw->stats.flooded++;
	for (guint i = 0; i < n && i < sw->ports->len; i++) {
		struct port *out = g_ptr_array_index(sw->ports, i);

		/* Deliver ops close nothing (port.h); should one, its
		 * neighbours would shift and one of them miss this frame,
		 * never a freed port be used. */
		if (out != in)
			port_deliver(out, frame, len);
	}
}

/* The entry for @mac, unless it has aged out. */
static struct fdb_entry *fresh_entry(struct vswitch *sw, const uint8_t mac[6], int64_t now_ns)
{
	gint64 key = mac_key(mac);
	struct fdb_entry *e = g_hash_table_lookup(sw->fdb, &key);

	if (!e || (!e->is_static && now_ns - e->last_seen_ns > sw->ageing_ns))
		return NULL;
	return e;
}

/* @e may not outlive a delivery (a port that closes takes its entries);
 * @out does, until the iteration ends. */
static void deliver_unicast(struct port *in, struct port *out, const uint8_t *frame,
			    size_t len, int64_t now_ns)
{
	port_deliver(out, frame, len);
	if (in->may_pause && !out->closed && port_is_congested(out, now_ns)) {
		in->blocked_on = out;
		out->holding = true;
		if (in->fd >= 0)	/* a TAP: its input waits in the kernel */
			port_refresh_events(in);
	}
}

void switch_input(struct vswitch *sw, struct port *in, const uint8_t *frame, size_t len,
		  int64_t now_ns)
{
	const uint8_t *dst = frame, *src = frame + 6;

	if (len < 14) {
		sw->stats.runts++;
		return;
	}
	if (sw->filter && !in->uplink &&
	    !sw->filter(sw->filter_opaque, sw, in, frame, len, now_ns)) {
		sw->stats.filtered++;
		in->stats.rx_drops++;
		return;
	}
	in->stats.rx_frames++;
	in->stats.rx_bytes += len;

	if (!mac_is_group(src) && !mac_is_zero(src))
		learn(sw, in, src, now_ns);

	if (mac_is_group(dst)) {
		flood(sw, in, frame, len);
		return;
	}

	struct fdb_entry *e = fresh_entry(sw, dst, now_ns);

	if (!e) {
		flood(sw, in, frame, len);
		return;
	}
	if (e->port == in) {
		sw->stats.hairpin_drops++;
		return;
	}
	deliver_unicast(in, e->port, frame, len, now_ns);
}

bool switch_resume_waiting(struct vswitch *sw, int64_t now_ns)
{
	bool waiting = false;
	guint n = sw->ports->len;

	for (guint i = 0; i < n; i++) {
		struct port *p = g_ptr_array_index(sw->ports, i);

		if (p->blocked_on && !port_is_congested(p->blocked_on, now_ns)) {
			p->blocked_on = NULL;
			port_refresh_events(p);
		}
	}
	/* Who holds whom, afresh: a port spends its hold budget only while
	 * some source still waits on it. */
	for (guint i = 0; i < n; i++)
		((struct port *)g_ptr_array_index(sw->ports, i))->holding = false;
	for (guint i = 0; i < n; i++) {
		struct port *p = g_ptr_array_index(sw->ports, i);

		if (p->blocked_on) {
			p->blocked_on->holding = true;
			waiting = true;
		}
	}
	return waiting;
}

int64_t switch_age(struct vswitch *sw, int64_t now_ns)
{
	GHashTableIter it;
	gpointer value;
	int64_t next = INT64_MAX;

	g_hash_table_iter_init(&it, sw->fdb);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct fdb_entry *e = value;
		int64_t expires = e->last_seen_ns + sw->ageing_ns;

		if (e->is_static)
			continue;
		if (expires <= now_ns) {
			e->port->fdb_entries--;
			g_hash_table_iter_remove(&it);
		} else if (expires < next) {
			next = expires;
		}
	}
	return next;
}

struct port *switch_lookup(struct vswitch *sw, const uint8_t mac[6], int64_t now_ns)
{
	struct fdb_entry *e = fresh_entry(sw, mac, now_ns);

	return e ? e->port : NULL;
}

void switch_add_static(struct vswitch *sw, struct port *p, const uint8_t mac[6])
{
	struct fdb_entry *e = g_new0(struct fdb_entry, 1);

	e->key = mac_key(mac);
	e->port = p;
	e->is_static = true;
	/* Replaces whatever was learned for it (and uncounts that). */
	struct fdb_entry *old = g_hash_table_lookup(sw->fdb, &e->key);

	if (old && !old->is_static)
		old->port->fdb_entries--;
	g_hash_table_replace(sw->fdb, &e->key, e);
}

void switch_foreach_fdb(struct vswitch *sw, int64_t now_ns, switch_fdb_fn fn, void *opaque)
{
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, sw->fdb);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct fdb_entry *e = value;
		uint8_t mac[6];

		if (!e->is_static && now_ns - e->last_seen_ns > sw->ageing_ns)
			continue;
		for (int i = 0; i < 6; i++)
			mac[i] = e->key >> (8 * (5 - i));
		fn(mac, e->port, e->is_static,
		   e->is_static ? -1 : (now_ns - e->last_seen_ns) / 1000000000LL, opaque);
	}
}

unsigned switch_fdb_size(const struct vswitch *sw)
{
	return g_hash_table_size(sw->fdb);
}

const struct switch_stats *switch_get_stats(const struct vswitch *sw)
{
	return &sw->stats;
}

void switch_mac_conflict(struct vswitch *sw, const uint8_t mac[6], const struct port *owner,
			 struct port *in)
{
	sw->stats.mac_conflicts++;
	if (in->mac_conflicts++ % 1000 == 0)
		g_message("%s: sends as " MAC_FMT ", which %s uses: two VMs with one MAC? "
			  "Give each VM its own mac= (%" G_GUINT64_FORMAT " such frames)", in->name,
			  MAC_ARGS(mac), owner->name, in->mac_conflicts);
}
