/* test_leases.c - the lease table: replacement by MAC or address, expiry, address order. */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "vmnetd/leases.h"

static struct lease mk(uint8_t mac_last, const char *ip, const char *name, int64_t expires)
{
	struct lease l = { .mac = { 0x52, 0x54, 0, 0, 0, mac_last }, .expires = expires };

	g_assert_cmpint(inet_pton(AF_INET, ip, &l.ip), ==, 1);
	g_strlcpy(l.hostname, name, sizeof(l.hostname));
	return l;
}

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	g_assert_cmpint(inet_pton(AF_INET, s, &a), ==, 1);
	return a;
}

static void test_set_lookup(void)
{
	struct lease_table *t = lease_table_new();
	struct lease a = mk(1, "10.0.0.101", "alpha", 1000), b = mk(2, "10.0.0.102", "Beta", 1000);
	const struct lease *l;

	lease_table_set(t, &a);
	lease_table_set(t, &b);
	g_assert_cmpuint(lease_table_size(t), ==, 2);
	l = lease_table_by_mac(t, a.mac, 0);
	g_assert_nonnull(l);
	g_assert_cmpuint(l->ip.s_addr, ==, a.ip.s_addr);
	l = lease_table_by_ip(t, ip4("10.0.0.102"), 0);
	g_assert_nonnull(l);
	g_assert_cmpmem(l->mac, 6, b.mac, 6);
	g_assert_true(lease_table_by_name(t, "BETA", 0) == l);
	g_assert_true(lease_table_by_name(t, "beta", 0) == l);
	g_assert_null(lease_table_by_name(t, "gamma", 0));
	g_assert_null(lease_table_by_ip(t, ip4("10.0.0.103"), 0));
	g_assert_null(lease_table_by_ip(t, ip4("10.0.0.1"), 0));
	lease_table_free(t);
}

static void test_replace_mac(void)
{
	struct lease_table *t = lease_table_new();
	struct lease a = mk(1, "10.0.0.101", "alpha", 1000), a2 = mk(1, "10.0.0.150", "alpha2", 2000);

	lease_table_set(t, &a);
	lease_table_set(t, &a2);
	g_assert_cmpuint(lease_table_size(t), ==, 1);
	g_assert_null(lease_table_by_ip(t, a.ip, 0));
	g_assert_cmpstr(lease_table_by_mac(t, a.mac, 0)->hostname, ==, "alpha2");
	lease_table_free(t);
}

static void test_replace_ip(void)
{
	struct lease_table *t = lease_table_new();
	struct lease a = mk(1, "10.0.0.101", "", 1000), b = mk(2, "10.0.0.101", "", 1000);
	struct lease c = mk(3, "10.0.0.102", "", 1000), bc = mk(2, "10.0.0.102", "", 1000);

	lease_table_set(t, &a);
	lease_table_set(t, &b);
	g_assert_cmpuint(lease_table_size(t), ==, 1);
	g_assert_null(lease_table_by_mac(t, a.mac, 0));
	g_assert_nonnull(lease_table_by_mac(t, b.mac, 0));
	/* One set can displace two leases: b's old one (same MAC) and c's (same address). */
	lease_table_set(t, &c);
	lease_table_set(t, &bc);
	g_assert_cmpuint(lease_table_size(t), ==, 1);
	g_assert_null(lease_table_by_mac(t, c.mac, 0));
	g_assert_cmpuint(lease_table_by_mac(t, b.mac, 0)->ip.s_addr, ==, bc.ip.s_addr);
	lease_table_free(t);
}

static void test_expiry(void)
{
	struct lease_table *t = lease_table_new();
	struct lease d = mk(1, "10.0.0.101", "dyn", 100), s = mk(2, "10.0.0.5", "stat", 0);

	s.is_static = true;
	lease_table_set(t, &d);
	lease_table_set(t, &s);
	g_assert_nonnull(lease_table_by_mac(t, d.mac, 99));
	g_assert_null(lease_table_by_mac(t, d.mac, 100));
	g_assert_null(lease_table_by_ip(t, d.ip, 100));
	g_assert_null(lease_table_by_name(t, "dyn", 100));
	g_assert_nonnull(lease_table_by_name(t, "stat", 1000000));
	g_assert_nonnull(lease_table_by_ip(t, s.ip, INT64_MAX));
	/* Expired leases are still stored until they are expired away. */
	g_assert_cmpuint(lease_table_size(t), ==, 2);
	lease_table_expire(t, 99);
	g_assert_cmpuint(lease_table_size(t), ==, 2);
	lease_table_expire(t, 100);
	g_assert_cmpuint(lease_table_size(t), ==, 1);
	g_assert_nonnull(lease_table_by_mac(t, s.mac, 100));
	lease_table_free(t);
}

static void test_remove_mac(void)
{
	struct lease_table *t = lease_table_new();
	struct lease d = mk(1, "10.0.0.101", "", 1000), s = mk(2, "10.0.0.5", "", INT64_MAX);

	s.is_static = true;
	lease_table_set(t, &d);
	lease_table_set(t, &s);
	lease_table_remove_mac(t, d.mac);
	lease_table_remove_mac(t, s.mac);
	lease_table_remove_mac(t, d.mac);		/* twice: harmless */
	g_assert_null(lease_table_by_mac(t, d.mac, 0));
	g_assert_nonnull(lease_table_by_mac(t, s.mac, 0));
	g_assert_cmpuint(lease_table_size(t), ==, 1);
	lease_table_free(t);
}

static void collect(const struct lease *l, void *opaque)
{
	g_array_append_val((GArray *)opaque, l->ip);
}

/* Address order is numeric, not the byte order of s_addr nor insertion order. */
static void test_foreach_order(void)
{
	static const char *const ips[] = { "10.0.1.1", "10.0.0.10", "192.168.0.1", "10.0.0.2",
					   "10.0.0.255", "9.255.255.255" };
	static const char *const sorted[] = { "9.255.255.255", "10.0.0.2", "10.0.0.10", "10.0.0.255",
					      "10.0.1.1", "192.168.0.1" };
	struct lease_table *t = lease_table_new();
	GArray *seen = g_array_new(FALSE, FALSE, sizeof(struct in_addr));

	for (unsigned i = 0; i < G_N_ELEMENTS(ips); i++) {
		struct lease l = mk((uint8_t)i, ips[i], "", 1000);

		lease_table_set(t, &l);
	}
	lease_table_foreach(t, collect, seen);
	g_assert_cmpuint(seen->len, ==, G_N_ELEMENTS(sorted));
	for (unsigned i = 0; i < G_N_ELEMENTS(sorted); i++)
		g_assert_cmpuint(g_array_index(seen, struct in_addr, i).s_addr, ==, ip4(sorted[i]).s_addr);
	g_array_free(seen, TRUE);
	lease_table_free(t);
}

static void test_names(void)
{
	struct lease_table *t = lease_table_new();
	struct lease a = mk(1, "10.0.0.101", "", 1000), b = mk(2, "10.0.0.102", "x", 1000);

	lease_table_set(t, &a);
	lease_table_set(t, &b);
	/* An unknown name ("") names nobody. */
	g_assert_null(lease_table_by_name(t, "", 0));
	g_assert_null(lease_table_by_name(t, NULL, 0));
	/* A name that fills the field is still terminated. */
	memset(a.hostname, 'a', sizeof(a.hostname));
	lease_table_set(t, &a);
	g_assert_cmpuint(strlen(lease_table_by_mac(t, a.mac, 0)->hostname), ==, LEASE_HOSTNAME_MAX);
	lease_table_free(t);
	lease_table_free(NULL);
}

/* A name is taken when another MAC's live lease holds it, in any case. */
static void test_name_taken(void)
{
	struct lease_table *t = lease_table_new();
	struct lease d = mk(1, "10.0.0.101", "web", 100), s = mk(2, "10.0.0.50", "db", 0);
	const uint8_t other[6] = { 0x52, 0x54, 0, 0, 0, 3 };

	s.is_static = true;
	lease_table_set(t, &d);
	lease_table_set(t, &s);
	g_assert_true(lease_table_name_taken(t, "DB", d.mac, 0));
	g_assert_true(lease_table_name_taken(t, "db", other, INT64_MAX));	/* statics never expire */
	g_assert_false(lease_table_name_taken(t, "db", s.mac, 0));		/* its own */
	g_assert_true(lease_table_name_taken(t, "Web", other, 99));
	g_assert_false(lease_table_name_taken(t, "web", other, 100));	/* expired: free again */
	g_assert_false(lease_table_name_taken(t, "web", d.mac, 99));
	g_assert_false(lease_table_name_taken(t, "mail", other, 0));
	g_assert_false(lease_table_name_taken(t, "", other, 0));		/* "" names nobody */
	g_assert_false(lease_table_name_taken(t, NULL, other, 0));
	lease_table_free(t);
}

/* A static lease's name wins over a dynamic one, even at a lower address. */
static void test_name_static_wins(void)
{
	struct lease_table *t = lease_table_new();
	struct lease d = mk(1, "10.0.0.2", "db", 1000), s = mk(2, "10.0.0.50", "DB", 0);

	s.is_static = true;
	lease_table_set(t, &d);
	lease_table_set(t, &s);
	g_assert_true(lease_table_by_name(t, "db", 0)->is_static);
	lease_table_free(t);
}

/* Many random sets keep one lease per MAC and per address, in order. */
static void test_random(void)
{
	struct lease_table *t = lease_table_new();
	GArray *seen = g_array_new(FALSE, FALSE, sizeof(struct in_addr));

	for (int i = 0; i < 2000; i++) {
		char ip[32];
		struct lease l;

		g_snprintf(ip, sizeof(ip), "10.0.0.%d", g_test_rand_int_range(1, 40));
		l = mk((uint8_t)g_test_rand_int_range(0, 30), ip, "", 1000);
		lease_table_set(t, &l);
		if (g_test_rand_bit())
			lease_table_remove_mac(t, l.mac);
	}
	lease_table_foreach(t, collect, seen);
	for (guint i = 1; i < seen->len; i++)
		g_assert_cmpuint(ntohl(g_array_index(seen, struct in_addr, i - 1).s_addr), <,
				 ntohl(g_array_index(seen, struct in_addr, i).s_addr));
	g_assert_cmpuint(seen->len, ==, lease_table_size(t));
	g_assert_cmpuint(seen->len, <=, 30);
	g_array_free(seen, TRUE);
	lease_table_free(t);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/leases/set-lookup", test_set_lookup);
	g_test_add_func("/leases/replace/same-mac", test_replace_mac);
	g_test_add_func("/leases/replace/same-ip", test_replace_ip);
	g_test_add_func("/leases/expiry", test_expiry);
	g_test_add_func("/leases/remove-mac", test_remove_mac);
	g_test_add_func("/leases/foreach-order", test_foreach_order);
	g_test_add_func("/leases/names", test_names);
	g_test_add_func("/leases/name-taken", test_name_taken);
	g_test_add_func("/leases/name-static-wins", test_name_static_wins);
	g_test_add_func("/leases/random", test_random);
	return g_test_run();
}
