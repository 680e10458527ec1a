/* test_switch.c - learning, flooding, ageing, no hairpin, port removal, limits, backpressure. */
#include <glib.h>
#include <string.h>

#include "vmnetd/switch.h"

#define SEC 1000000000LL

struct fake_port {
	struct port port;
	unsigned delivered;
	size_t last_len;
};

static enum port_verdict fake_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct fake_port *fp = (struct fake_port *)p;

	(void)frame;
	fp->delivered++;
	fp->last_len = len;
	return PORT_QUEUED;
}

static const struct port_ops fake_ops = { "fake", fake_deliver };

static void fake_init(struct fake_port *fp, const char *name)
{
	memset(fp, 0, sizeof(*fp));
	port_init(&fp->port, &fake_ops, g_strdup(name));
	fp->port.backlog_high = 1000;
}

static void make_frame(uint8_t f[60], uint8_t dst_last, uint8_t src_last)
{
	memset(f, 0, 60);
	f[0] = 0x52; f[1] = 0x54; f[5] = dst_last;
	f[6] = 0x52; f[7] = 0x54; f[11] = src_last;
	f[12] = 0x08;
}

static void reset(struct fake_port *ports, int n)
{
	for (int i = 0; i < n; i++)
		ports[i].delivered = 0;
}

struct fixture {
	struct vswitch *sw;
	struct fake_port p[3];
};

static void setup(struct fixture *fx, gconstpointer data)
{
	(void)data;
	fx->sw = switch_new(300 * SEC);
	for (int i = 0; i < 3; i++) {
		char name[8];

		g_snprintf(name, sizeof(name), "p%d", i);
		fake_init(&fx->p[i], name);
		fx->p[i].port.may_pause = true;
		switch_add_port(fx->sw, &fx->p[i].port);
	}
}

static void teardown(struct fixture *fx, gconstpointer data)
{
	(void)data;
	for (int i = 0; i < 3; i++) {
		if (fx->p[i].port.sw)
			switch_del_port(fx->sw, &fx->p[i].port);
		port_fini(&fx->p[i].port);
	}
	switch_free(fx->sw);
}

static void test_flood_then_learn(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 2, 1);			/* 1 -> 2, nobody known yet */
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	g_assert_cmpuint(fx->p[0].delivered, ==, 0);	/* never back to ingress */
	g_assert_cmpuint(fx->p[1].delivered, ==, 1);
	g_assert_cmpuint(fx->p[2].delivered, ==, 1);

	reset(fx->p, 3);
	make_frame(f, 1, 2);			/* 2 answers from p1: 1 is known on p0 */
	switch_input(fx->sw, &fx->p[1].port, f, 60, SEC);
	g_assert_cmpuint(fx->p[0].delivered, ==, 1);
	g_assert_cmpuint(fx->p[2].delivered, ==, 0);

	reset(fx->p, 3);
	make_frame(f, 2, 1);			/* now 2 is known on p1 */
	switch_input(fx->sw, &fx->p[0].port, f, 60, 2 * SEC);
	g_assert_cmpuint(fx->p[1].delivered, ==, 1);
	g_assert_cmpuint(fx->p[2].delivered, ==, 0);
	g_assert_true(switch_lookup(fx->sw, f + 6, 0) == &fx->p[0].port);
}

static void test_broadcast(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 0, 1);
	memset(f, 0xff, 6);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 0);
	g_assert_cmpuint(fx->p[0].delivered, ==, 1);
	g_assert_cmpuint(fx->p[1].delivered, ==, 0);
	g_assert_cmpuint(fx->p[2].delivered, ==, 1);
	/* A group address is never learned as a source. */
	make_frame(f, 1, 0);
	f[6] = 0x01;
	switch_input(fx->sw, &fx->p[2].port, f, 60, 0);
	g_assert_null(switch_lookup(fx->sw, f + 6, 0));
}

static void test_no_hairpin(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 9, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	make_frame(f, 8, 9);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);	/* 9 learned on p0 too */
	reset(fx->p, 3);
	make_frame(f, 9, 1);			/* both behind p0: dropped */
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	g_assert_cmpuint(fx->p[0].delivered + fx->p[1].delivered + fx->p[2].delivered, ==, 0);
	g_assert_cmpuint(switch_get_stats(fx->sw)->hairpin_drops, ==, 1);
}

static void test_ageing(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 2, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	g_assert_cmpuint(switch_fdb_size(fx->sw), ==, 1);
	g_assert_cmpint(switch_age(fx->sw, 100 * SEC), ==, 300 * SEC);
	g_assert_cmpuint(switch_fdb_size(fx->sw), ==, 1);

	/* Past the ageing time an entry no longer steers traffic... */
	reset(fx->p, 3);
	make_frame(f, 1, 2);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 301 * SEC);
	g_assert_cmpuint(fx->p[0].delivered, ==, 1);
	g_assert_cmpuint(fx->p[2].delivered, ==, 1);	/* flooded */
	/* ...and the sweep removes it. */
	g_assert_cmpint(switch_age(fx->sw, 302 * SEC), ==, 601 * SEC);
	g_assert_cmpuint(switch_fdb_size(fx->sw), ==, 1);
	g_assert_null(switch_lookup(fx->sw, (uint8_t[]){ 0x52, 0x54, 0, 0, 0, 1 }, 302 * SEC));
	g_assert_cmpuint(fx->p[0].port.fdb_entries, ==, 0);
}

/* Two VM ports sending with one MAC within seconds of each other are two
 * VMs with one mac=: counted; a MAC quiet that long has moved. */
static void test_mac_conflict(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 9, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 1 * SEC);
	g_assert_cmpuint(switch_get_stats(fx->sw)->mac_conflicts, ==, 1);
	g_assert_cmpuint(fx->p[1].port.mac_conflicts, ==, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 2 * SEC);
	g_assert_cmpuint(fx->p[0].port.mac_conflicts, ==, 1);

	/* Quiet for longer than SWITCH_CONFLICT_NS: a move, not a conflict. */
	switch_input(fx->sw, &fx->p[2].port, f, 60, 2 * SEC + SWITCH_CONFLICT_NS);
	g_assert_cmpuint(switch_get_stats(fx->sw)->mac_conflicts, ==, 2);
	g_assert_true(switch_lookup(fx->sw, f + 6, 13 * SEC) == &fx->p[2].port);
}

static void test_port_removal(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 2, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	make_frame(f, 1, 2);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 0);
	g_assert_cmpuint(switch_fdb_size(fx->sw), ==, 2);
	switch_del_port(fx->sw, &fx->p[0].port);
	g_assert_cmpuint(switch_fdb_size(fx->sw), ==, 1);
	reset(fx->p, 3);
	make_frame(f, 1, 2);			/* 1 is gone: flood, not to p0 */
	switch_input(fx->sw, &fx->p[1].port, f, 60, 0);
	g_assert_cmpuint(fx->p[0].delivered, ==, 0);
	g_assert_cmpuint(fx->p[2].delivered, ==, 1);
}

static void test_learn_limit(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	for (unsigned i = 0; i < PORT_FDB_MAX_DEFAULT + 50; i++) {
		make_frame(f, 0xee, 0);
		f[9] = i >> 8;
		f[10] = i & 0xff;
		switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	}
	g_assert_cmpuint(switch_fdb_size(fx->sw), ==, PORT_FDB_MAX_DEFAULT);
	g_assert_cmpuint(switch_get_stats(fx->sw)->learn_refused, ==, 50);
	/* Another port still learns. */
	make_frame(f, 0xee, 7);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 0);
	g_assert_true(switch_lookup(fx->sw, f + 6, 0) == &fx->p[1].port);
}

/* A VM that sends with the gateway's MAC does not take it over, not even
 * after the gateway has been silent for longer than the ageing time. */
static void test_static_entries(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];
	int64_t later = 1000 * SEC;		/* > 300 s of silence */

	(void)data;
	make_frame(f, 0xee, 2);
	switch_add_static(fx->sw, &fx->p[0].port, f + 6);	/* p0 plays the NAT uplink */
	g_assert_cmpuint(switch_age(fx->sw, later), ==, INT64_MAX);	/* never ages */
	g_assert_true(switch_lookup(fx->sw, f + 6, later) == &fx->p[0].port);
	switch_input(fx->sw, &fx->p[1].port, f, 60, later);	/* p1 spoofs it */
	g_assert_true(switch_lookup(fx->sw, f + 6, later) == &fx->p[0].port);
	g_assert_cmpuint(switch_get_stats(fx->sw)->learn_refused, ==, 1);
	g_assert_cmpuint(fx->p[1].port.fdb_entries, ==, 0);
	reset(fx->p, 3);
	make_frame(f, 2, 9);			/* traffic for it still goes to p0 */
	switch_input(fx->sw, &fx->p[2].port, f, 60, later);
	g_assert_cmpuint(fx->p[0].delivered, ==, 1);
	g_assert_cmpuint(fx->p[1].delivered, ==, 0);
	/* It goes with its port. */
	switch_del_port(fx->sw, &fx->p[0].port);
	g_assert_null(switch_lookup(fx->sw, f, later));
}

/* A lookup honours expiry even before the ageing timer has run. */
static void test_lookup_expiry(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 0xee, 5);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	g_assert_true(switch_lookup(fx->sw, f + 6, 299 * SEC) == &fx->p[0].port);
	g_assert_null(switch_lookup(fx->sw, f + 6, 301 * SEC));
}

/* The per-port limit comes from the port (the network's port-macs=). */
static void test_port_limit(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	fx->p[0].port.fdb_max = 2;
	for (unsigned i = 0; i < 5; i++) {
		make_frame(f, 0xee, 0x10 + i);
		switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	}
	g_assert_cmpuint(fx->p[0].port.fdb_entries, ==, 2);
	g_assert_cmpuint(switch_get_stats(fx->sw)->learn_refused, ==, 3);
	/* Nor can a full port take MACs over from another. */
	make_frame(f, 0xee, 0x30);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 0);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	g_assert_true(switch_lookup(fx->sw, f + 6, 0) == &fx->p[1].port);
	g_assert_cmpuint(fx->p[0].port.fdb_entries, ==, 2);
}

/* A table filled by one port still learns a newcomer's MAC: the port that
 * filled it loses its oldest. */
static void test_full_table_evicts(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	fx->p[0].port.fdb_max = SWITCH_FDB_MAX;
	for (unsigned i = 0; i < SWITCH_FDB_MAX; i++) {
		make_frame(f, 0xee, 0);
		f[8] = 1;
		f[9] = i >> 8;
		f[10] = i & 0xff;
		switch_input(fx->sw, &fx->p[0].port, f, 60, i);
	}
	g_assert_cmpuint(switch_fdb_size(fx->sw), ==, SWITCH_FDB_MAX);
	make_frame(f, 0xee, 7);
	switch_input(fx->sw, &fx->p[1].port, f, 60, SWITCH_FDB_MAX);
	g_assert_true(switch_lookup(fx->sw, f + 6, SWITCH_FDB_MAX) == &fx->p[1].port);
	g_assert_cmpuint(switch_fdb_size(fx->sw), ==, SWITCH_FDB_MAX);
	g_assert_cmpuint(fx->p[0].port.fdb_entries, ==, SWITCH_FDB_MAX - 1);
	/* The oldest of p0's went: the one learned at time 0. */
	make_frame(f, 0xee, 0);
	f[8] = 1;
	g_assert_null(switch_lookup(fx->sw, f + 6, SWITCH_FDB_MAX));
}

static void count_entry(const uint8_t mac[6], struct port *p, bool is_static, int64_t age,
			void *opaque)
{
	(void)mac;
	(void)p;
	(void)age;
	((unsigned *)opaque)[is_static]++;
}

static void test_foreach(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];
	unsigned n[2] = { 0, 0 };

	(void)data;
	make_frame(f, 0xee, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);
	make_frame(f, 0xee, 2);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 0);
	make_frame(f, 0xee, 3);
	switch_add_static(fx->sw, &fx->p[2].port, f + 6);
	switch_foreach_fdb(fx->sw, SEC, count_entry, n);
	g_assert_cmpuint(n[0], ==, 2);
	g_assert_cmpuint(n[1], ==, 1);
}

static void test_runt(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 2, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 13, 0);
	g_assert_cmpuint(fx->p[1].delivered, ==, 0);
	g_assert_cmpuint(switch_get_stats(fx->sw)->runts, ==, 1);
}

static void test_backpressure(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 1, 2);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 0);	/* learn 2 on p1 */
	make_frame(f, 2, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);	/* learn 1 on p0 */

	fx->p[1].port.backlog = 5000;			/* p1 congested */
	fx->p[1].port.hold_stamp_ns = 10 * SEC;
	switch_input(fx->sw, &fx->p[0].port, f, 60, 10 * SEC);
	g_assert_true(fx->p[0].port.blocked_on == &fx->p[1].port);
	g_assert_true(switch_resume_waiting(fx->sw, 10 * SEC));
	g_assert_true(fx->p[0].port.blocked_on == &fx->p[1].port);	/* still waits */

	fx->p[1].port.backlog = 10;			/* drained */
	g_assert_false(switch_resume_waiting(fx->sw, 10 * SEC));
	g_assert_null(fx->p[0].port.blocked_on);

	/* A destination that has held its senders for its whole budget
	 * (slow or stalled) holds them no longer: it slows only itself. */
	fx->p[1].port.backlog = 5000;
	switch_input(fx->sw, &fx->p[0].port, f, 60, 10 * SEC);
	g_assert_nonnull(fx->p[0].port.blocked_on);
	g_assert_true(switch_resume_waiting(fx->sw, 10 * SEC + PORT_HOLD_BURST_NS / 2));
	g_assert_false(switch_resume_waiting(fx->sw, 10 * SEC + 2 * PORT_HOLD_BURST_NS));
	g_assert_null(fx->p[0].port.blocked_on);
	/* Over a long run it may hold them at most 1/PORT_HOLD_SHARE of the time. */
	{
		int64_t t = 20 * SEC, held = 0, step = 1000000;

		for (int i = 0; i < 10000; i++, t += step) {	/* 10 s */
			if (!fx->p[0].port.blocked_on)
				switch_input(fx->sw, &fx->p[0].port, f, 60, t);
			switch_resume_waiting(fx->sw, t);
			if (fx->p[0].port.blocked_on)
				held += step;
		}
		g_assert_cmpint(held, <=, 10 * SEC / PORT_HOLD_SHARE + PORT_HOLD_BURST_NS);
		g_assert_cmpint(held, >, 0);
	}
	fx->p[1].port.backlog = 10;
	switch_resume_waiting(fx->sw, 40 * SEC);
	g_assert_null(fx->p[0].port.blocked_on);

	/* A source that may not pause (a VM socket) is never held. */
	fx->p[2].port.may_pause = false;
	fx->p[1].port.backlog = 5000;
	make_frame(f, 2, 3);
	switch_input(fx->sw, &fx->p[2].port, f, 60, 50 * SEC);
	g_assert_null(fx->p[2].port.blocked_on);

	/* A destination that goes away releases its waiters. */
	switch_input(fx->sw, &fx->p[0].port, f, 60, 50 * SEC);
	g_assert_nonnull(fx->p[0].port.blocked_on);
	switch_del_port(fx->sw, &fx->p[1].port);
	g_assert_null(fx->p[0].port.blocked_on);
}

/* A deliver op that takes its port out of the switch, as port_close()
 * does (deliver ops must not since a use-after-free: port.h), while the
 * switch delivers to it. */
static enum port_verdict leaving_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	fake_deliver(p, frame, len);
	p->closed = true;
	switch_del_port(p->sw, p);		/* frees its MAC entries */
	return PORT_DROPPED;
}

static const struct port_ops leaving_ops = { "leaving", leaving_deliver };

/* The switch touches no MAC entry after a delivery (the entry goes with a
 * port that closes; run under ASan), and a source that may pause is not
 * left waiting on a port that went. */
static void test_delivery_closes_port(struct fixture *fx, gconstpointer data)
{
	uint8_t f[60];

	(void)data;
	make_frame(f, 1, 2);
	switch_input(fx->sw, &fx->p[1].port, f, 60, 0);	/* learn 2 on p1 */
	fx->p[1].port.ops = &leaving_ops;
	fx->p[1].port.backlog = 5000;			/* congested, too */
	reset(fx->p, 3);
	make_frame(f, 2, 1);
	switch_input(fx->sw, &fx->p[0].port, f, 60, 0);	/* p0 may pause */
	g_assert_cmpuint(fx->p[1].delivered, ==, 1);
	g_assert_null(fx->p[1].port.sw);
	g_assert_null(fx->p[0].port.blocked_on);
	g_assert_false(fx->p[1].port.holding);
	g_assert_null(switch_lookup(fx->sw, f, 0));	/* 2 went with p1 */
	/* Still a switch: p0 and p2 reach each other. */
	make_frame(f, 1, 3);
	switch_input(fx->sw, &fx->p[2].port, f, 60, 0);
	g_assert_cmpuint(fx->p[0].delivered, ==, 1);
	g_assert_cmpuint(fx->p[1].delivered, ==, 1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
	ADD("/switch/flood-then-learn", test_flood_then_learn);
	ADD("/switch/broadcast", test_broadcast);
	ADD("/switch/no-hairpin", test_no_hairpin);
	ADD("/switch/ageing", test_ageing);
	ADD("/switch/mac-conflict", test_mac_conflict);
	ADD("/switch/port-removal", test_port_removal);
	ADD("/switch/learn-limit", test_learn_limit);
	ADD("/switch/static-entries", test_static_entries);
	ADD("/switch/lookup-expiry", test_lookup_expiry);
	ADD("/switch/port-limit", test_port_limit);
	ADD("/switch/foreach", test_foreach);
	ADD("/switch/full-table-evicts", test_full_table_evicts);
	ADD("/switch/runt", test_runt);
	ADD("/switch/backpressure", test_backpressure);
	ADD("/switch/delivery-closes-port", test_delivery_closes_port);
	return g_test_run();
}
