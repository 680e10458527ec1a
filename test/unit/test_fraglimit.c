/* test_fraglimit.c - the fragment budget: completion, timeout, per-source and
 * per-network caps, refusal of what libslirp would drop, and fuzzed frames. */
#include <glib.h>
#include <string.h>

#include "vmnetd/fraglimit.h"
#include "vmnetd/frame.h"

#define SEC 1000000000LL

static const int vm_a, vm_b, vm_c, vm_d, vm_e;	/* sources: only their addresses count */

static void fix_sum(uint8_t *f)
{
	uint8_t *ip = f + ETH_HLEN;
	uint32_t sum = 0;

	put_be16(ip + 10, 0);
	for (int i = 0; i < IP4_HLEN; i += 2)
		sum += get_be16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_be16(ip + 10, ~sum & 0xffff);
}

/* An IPv4 fragment from 10.0.2.@host: payload [@off8 * 8, + @plen), MF if @more. */
static size_t fragment(uint8_t *f, uint8_t host, uint16_t id, uint16_t off8, bool more,
		       size_t plen)
{
	uint8_t *ip = f + ETH_HLEN;

	memset(f, 0, ETH_HLEN + IP4_HLEN + plen);
	memset(f, 0x52, 12);
	put_be16(f + 12, ETH_P_IPV4);
	ip[0] = 0x45;
	put_be16(ip + 2, IP4_HLEN + plen);
	put_be16(ip + 4, id);
	put_be16(ip + 6, (more ? 0x2000 : 0) | off8);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP_;
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 2, host }, 4);
	memcpy(ip + 16, (uint8_t[]){ 203, 0, 113, 7 }, 4);
	fix_sum(f);
	return ETH_HLEN + IP4_HLEN + plen;
}

static struct fraglimit_stats stats(const struct fraglimit *f)
{
	struct fraglimit_stats s;

	fraglimit_get_stats(f, &s);
	return s;
}

static bool send_frag(struct fraglimit *f, const void *src, uint8_t host, uint16_t id,
		      uint16_t off8, bool more, size_t plen, int64_t now)
{
	uint8_t buf[1600];
	size_t len = fragment(buf, host, id, off8, more, plen);

	return fraglimit_admit(f, src, buf, len, now);
}

static void test_not_fragments(void)
{
	struct fraglimit *f = fraglimit_new(FRAGLIMIT_MAX_BYTES, FRAGLIMIT_MAX_COUNT,
					    FRAGLIMIT_TIMEOUT_NS);
	uint8_t buf[1600];
	size_t len = fragment(buf, 15, 1, 0, false, 100);

	g_assert_true(fraglimit_admit(f, &vm_a, buf, len, 0));		/* whole datagram */
	put_be16(buf + ETH_HLEN + 6, 0x4000);				/* DF */
	g_assert_true(fraglimit_admit(f, &vm_a, buf, len, 0));
	put_be16(buf + 12, ETH_P_IPV6);
	g_assert_true(fraglimit_admit(f, &vm_a, buf, len, 0));
	g_assert_true(fraglimit_admit(f, &vm_a, buf, 5, 0));		/* runt */
	g_assert_cmpuint(stats(f).admitted + stats(f).dropped, ==, 0);
	fraglimit_free(f);
}

static void test_in_order_completes(void)
{
	struct fraglimit *f = fraglimit_new(FRAGLIMIT_MAX_BYTES, FRAGLIMIT_MAX_COUNT,
					    FRAGLIMIT_TIMEOUT_NS);

	g_assert_true(send_frag(f, &vm_a, 15, 7, 0, true, 1480, 0));
	g_assert_true(send_frag(f, &vm_a, 15, 7, 185, true, 1480, 0));
	g_assert_cmpuint(stats(f).count, ==, 1);
	g_assert_cmpuint(stats(f).bytes, >=, 3 * FRAGLIMIT_FRAG_COST);
	g_assert_true(send_frag(f, &vm_a, 15, 7, 370, false, 100, 0));
	g_assert_cmpuint(stats(f).count, ==, 0);
	g_assert_cmpuint(stats(f).bytes, ==, 0);
	g_assert_cmpuint(stats(f).admitted, ==, 3);
	fraglimit_free(f);
}

/* A datagram starts with its first fragment: a later one alone crashes
 * libslirp 4.7 (fuzz_uplink_hostonly's find), so it never gets there. After
 * the first, the rest may come in any order. */
static void test_first_fragment_first(void)
{
	struct fraglimit *f = fraglimit_new(FRAGLIMIT_MAX_BYTES, FRAGLIMIT_MAX_COUNT,
					    FRAGLIMIT_TIMEOUT_NS);

	g_assert_false(send_frag(f, &vm_a, 15, 9, 370, false, 100, 0));	/* last first */
	g_assert_false(send_frag(f, &vm_a, 15, 9, 185, true, 1480, 0));	/* middle first */
	g_assert_cmpuint(stats(f).count, ==, 0);
	g_assert_true(send_frag(f, &vm_a, 15, 9, 0, true, 1480, 0));
	g_assert_true(send_frag(f, &vm_a, 15, 9, 370, false, 100, 0));
	g_assert_cmpuint(stats(f).count, ==, 1);
	g_assert_true(send_frag(f, &vm_a, 15, 9, 185, true, 1480, 0));
	g_assert_cmpuint(stats(f).count, ==, 0);
	fraglimit_free(f);
}

/* The last fragment without the middle leaves libslirp holding the rest:
 * it stays charged until the timeout. */
static void test_last_without_middle_held(void)
{
	struct fraglimit *f = fraglimit_new(FRAGLIMIT_MAX_BYTES, FRAGLIMIT_MAX_COUNT, 30 * SEC);

	g_assert_true(send_frag(f, &vm_a, 15, 3, 0, true, 1480, 0));
	g_assert_true(send_frag(f, &vm_a, 15, 3, 370, false, 100, 0));
	g_assert_cmpuint(stats(f).count, ==, 1);
	g_assert_true(send_frag(f, &vm_a, 15, 4, 0, true, 8, 30 * SEC - 1));
	g_assert_cmpuint(stats(f).count, ==, 2);
	g_assert_true(send_frag(f, &vm_a, 15, 5, 0, true, 8, 30 * SEC));	/* id 3 expires */
	g_assert_cmpuint(stats(f).count, ==, 2);
	fraglimit_free(f);
}

/* Overlaps (libslirp trims them) and a covered MF=0 fragment never count as
 * completion. */
static void test_overlap_not_complete(void)
{
	struct fraglimit *f = fraglimit_new(FRAGLIMIT_MAX_BYTES, FRAGLIMIT_MAX_COUNT,
					    FRAGLIMIT_TIMEOUT_NS);

	g_assert_true(send_frag(f, &vm_a, 15, 1, 0, true, 1560, 0));	/* [0, 1560) */
	g_assert_true(send_frag(f, &vm_a, 15, 1, 100, false, 400, 0));	/* inside it */
	g_assert_cmpuint(stats(f).count, ==, 1);
	g_assert_true(send_frag(f, &vm_a, 15, 2, 0, true, 800, 0));
	g_assert_true(send_frag(f, &vm_a, 15, 2, 0, true, 800, 0));	/* same again */
	g_assert_true(send_frag(f, &vm_a, 15, 2, 100, false, 400, 0));	/* [800, 1200) */
	g_assert_cmpuint(stats(f).count, ==, 2);
	/* MF=0 says 1200 bytes, then a fragment past it: libslirp's last one has MF */
	g_assert_true(send_frag(f, &vm_a, 15, 6, 0, true, 1200, 0));
	g_assert_true(send_frag(f, &vm_a, 15, 6, 200, true, 800, 0));
	g_assert_true(send_frag(f, &vm_a, 15, 6, 150, false, 400, 0));
	g_assert_cmpuint(stats(f).count, ==, 3);
	fraglimit_free(f);
}

/* The review's flood: 100,000 first fragments from one VM. It keeps a
 * quarter of the budget; another VM's datagrams still go through. */
static void test_flood_one_source(void)
{
	struct fraglimit *f = fraglimit_new(FRAGLIMIT_MAX_BYTES, FRAGLIMIT_MAX_COUNT,
					    FRAGLIMIT_TIMEOUT_NS);
	unsigned admitted = 0;

	for (unsigned i = 0; i < 100000; i++)
		admitted += send_frag(f, &vm_a, 100 + (i >> 16), i & 0xffff, 0, true, 48, i * 1000LL);
	g_assert_cmpuint(admitted, ==, FRAGLIMIT_MAX_COUNT / FRAGLIMIT_SOURCE_SHARE);
	g_assert_cmpuint(stats(f).count, ==, FRAGLIMIT_MAX_COUNT / FRAGLIMIT_SOURCE_SHARE);
	g_assert_cmpuint(stats(f).dropped, ==, 100000 - admitted);
	for (uint16_t id = 0; id < 20; id++) {
		g_assert_true(send_frag(f, &vm_b, 15, id, 0, true, 1480, SEC));
		g_assert_true(send_frag(f, &vm_b, 15, id, 185, false, 1000, SEC));
	}
	g_assert_cmpuint(stats(f).count, ==, FRAGLIMIT_MAX_COUNT / FRAGLIMIT_SOURCE_SHARE);
	/* the flood's datagrams time out; the flooder gets its quarter again */
	g_assert_true(send_frag(f, &vm_a, 66, 1, 0, true, 48, FRAGLIMIT_TIMEOUT_NS + SEC));
	g_assert_cmpuint(stats(f).count, ==, 1);
	fraglimit_free(f);
}

/* Four full sources fill the network: a fifth is refused until room comes back. */
static void test_network_full(void)
{
	const int *srcs[] = { &vm_a, &vm_b, &vm_c, &vm_d };
	struct fraglimit *f = fraglimit_new(1 << 20, 16, 10 * SEC);

	for (unsigned s = 0; s < 4; s++)
		for (uint16_t id = 0; id < 5; id++)
			send_frag(f, srcs[s], 20 + s, id, 0, true, 8, s * SEC);
	g_assert_cmpuint(stats(f).count, ==, 16);
	g_assert_false(send_frag(f, &vm_e, 30, 1, 0, true, 8, 5 * SEC));
	g_assert_true(send_frag(f, &vm_e, 30, 1, 0, true, 8, 10 * SEC));	/* vm_a's expired */
	g_assert_cmpuint(stats(f).count, ==, 13);
	fraglimit_free(f);
}

/* A datagram whose fragment did not fit refuses the rest; its bytes stay
 * charged until the timeout (libslirp keeps them). */
static void test_bytes_refuse_rest(void)
{
	struct fraglimit *f = fraglimit_new(8 * FRAGLIMIT_FRAG_COST * FRAGLIMIT_SOURCE_SHARE,
					    FRAGLIMIT_MAX_COUNT, 10 * SEC);
	uint16_t off8 = 0;
	unsigned ok = 0;

	for (int i = 0; i < 10; i++, off8 += 1)
		ok += send_frag(f, &vm_a, 15, 42, off8, true, 8, 0);
	g_assert_cmpuint(ok, ==, 7);			/* 7 fragments + the queue header */
	g_assert_false(send_frag(f, &vm_a, 15, 42, 10, false, 8, 0));
	g_assert_cmpuint(stats(f).bytes, ==, 8 * FRAGLIMIT_FRAG_COST);
	g_assert_true(send_frag(f, &vm_b, 16, 42, 0, true, 8, SEC));	/* another source */
	g_assert_true(send_frag(f, &vm_a, 15, 43, 0, true, 8, 10 * SEC));
	g_assert_cmpuint(stats(f).count, ==, 2);
	fraglimit_free(f);
}

/* What libslirp drops unread is refused, so it cannot fake a completion. */
static void test_bad_fragments(void)
{
	struct fraglimit *f = fraglimit_new(FRAGLIMIT_MAX_BYTES, FRAGLIMIT_MAX_COUNT,
					    FRAGLIMIT_TIMEOUT_NS);
	uint8_t buf[1600];
	size_t len;

	len = fragment(buf, 15, 1, 0, true, 800);
	buf[ETH_HLEN + 10] ^= 1;					/* checksum */
	g_assert_false(fraglimit_admit(f, &vm_a, buf, len, 0));
	len = fragment(buf, 15, 1, 0, true, 800);
	g_assert_false(fraglimit_admit(f, &vm_a, buf, len - 1, 0));	/* IP length lies */
	g_assert_false(send_frag(f, &vm_a, 15, 1, 0, true, 801, 0));	/* MF, not 8n */
	g_assert_false(send_frag(f, &vm_a, 15, 1, 8, true, 0, 0));	/* empty */
	g_assert_false(send_frag(f, &vm_a, 15, 1, 8190, false, 100, 0));	/* past 65535 */
	len = fragment(buf, 15, 1, 0, true, 800);
	buf[ETH_HLEN + 8] = 0;						/* TTL 0 */
	fix_sum(buf);
	g_assert_false(fraglimit_admit(f, &vm_a, buf, len, 0));
	g_assert_cmpuint(stats(f).dropped, ==, 6);
	g_assert_cmpuint(stats(f).count, ==, 0);
	fraglimit_free(f);
}

/* A closed port's datagrams stay charged to the network, not to a new port
 * that reuses its key. */
static void test_forget_source(void)
{
	struct fraglimit *f = fraglimit_new(FRAGLIMIT_MAX_BYTES, 8, 10 * SEC);

	g_assert_true(send_frag(f, &vm_a, 15, 1, 0, true, 8, 0));
	g_assert_true(send_frag(f, &vm_a, 15, 2, 0, true, 8, 0));
	g_assert_false(send_frag(f, &vm_a, 15, 3, 0, true, 8, 0));
	fraglimit_forget_source(f, &vm_a);
	fraglimit_forget_source(f, &vm_b);				/* unknown: nothing */
	g_assert_true(send_frag(f, &vm_a, 15, 3, 0, true, 8, 0));
	g_assert_cmpuint(stats(f).count, ==, 3);
	g_assert_true(send_frag(f, &vm_a, 15, 1, 1, false, 8, 0));	/* completes an orphan */
	g_assert_cmpuint(stats(f).count, ==, 2);
	g_assert_true(send_frag(f, &vm_a, 15, 9, 0, true, 8, 10 * SEC));
	g_assert_cmpuint(stats(f).count, ==, 1);
	fraglimit_free(f);
}

static void check_bounds(const struct fraglimit *f, size_t max_bytes, unsigned max_count)
{
	struct fraglimit_stats s = stats(f);

	g_assert_cmpuint(s.bytes, <=, max_bytes);
	g_assert_cmpuint(s.count, <=, max_count);
	g_assert_true(s.count || !s.bytes);
}

/* Random fragments (valid headers, random offsets, lengths, flags, sources)
 * then random bytes and truncations: budgets hold, nothing reads out of
 * bounds (ASan), and everything is released after the timeout. */
static void test_fuzz(void)
{
	const int *srcs[] = { &vm_a, &vm_b, &vm_c, &vm_d, &vm_e };
	struct fraglimit *f = fraglimit_new(256 * 1024, 64, 5 * SEC);
	GRand *r = g_rand_new_with_seed(8);
	uint8_t buf[1600];
	int64_t now = 0;

	for (int i = 0; i < 200000; i++) {
		size_t plen = g_rand_int_range(r, 0, 1500), len;
		uint16_t off8 = g_rand_int_range(r, 0, 24) * 185 / 4;

		len = fragment(buf, 10 + g_rand_int_range(r, 0, 3), g_rand_int_range(r, 0, 40),
			       off8, g_rand_boolean(r), g_rand_boolean(r) ? plen & ~7u : plen);
		if (i % 3 == 0)
			buf[g_rand_int_range(r, 0, len)] = g_rand_int_range(r, 0, 256);
		if (i % 5 == 0)
			len = g_rand_int_range(r, 0, len + 1);
		fraglimit_admit(f, srcs[g_rand_int_range(r, 0, 5)], buf, len, now);
		now += g_rand_int_range(r, 0, 20000000);
		check_bounds(f, 256 * 1024, 64);
	}
	/* The fuzz got past the parser (most of its datagrams start mid-way,
	 * and those are refused whole). */
	g_assert_cmpuint(stats(f).admitted, >, 5000);
	g_assert_cmpuint(stats(f).dropped, >, 10000);
	for (int i = 0; i < 20000; i++) {
		size_t len = g_rand_int_range(r, 0, sizeof(buf));

		for (size_t j = 0; j < len; j++)
			buf[j] = g_rand_int_range(r, 0, 256);
		if (len > 14 && g_rand_boolean(r)) {
			put_be16(buf + 12, ETH_P_IPV4);
			buf[14] = 0x40 | (buf[14] & 0xf);
		}
		fraglimit_admit(f, srcs[i % 5], buf, len, now);
		check_bounds(f, 256 * 1024, 64);
	}
	send_frag(f, &vm_a, 9, 9, 0, false, 8, now + 5 * SEC);		/* not a fragment */
	fragment(buf, 9, 9, 0, true, 8);
	fraglimit_admit(f, &vm_a, buf, 42, now + 5 * SEC);
	g_assert_cmpuint(stats(f).count, ==, 1);
	g_rand_free(r);
	fraglimit_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fraglimit/not-fragments", test_not_fragments);
	g_test_add_func("/fraglimit/in-order-completes", test_in_order_completes);
	g_test_add_func("/fraglimit/first-fragment-first", test_first_fragment_first);
	g_test_add_func("/fraglimit/last-without-middle-held", test_last_without_middle_held);
	g_test_add_func("/fraglimit/overlap-not-complete", test_overlap_not_complete);
	g_test_add_func("/fraglimit/flood-one-source", test_flood_one_source);
	g_test_add_func("/fraglimit/network-full", test_network_full);
	g_test_add_func("/fraglimit/bytes-refuse-rest", test_bytes_refuse_rest);
	g_test_add_func("/fraglimit/bad-fragments", test_bad_fragments);
	g_test_add_func("/fraglimit/forget-source", test_forget_source);
	g_test_add_func("/fraglimit/fuzz", test_fuzz);
	return g_test_run();
}
