/* test_vring.c - the split virtqueue walker against a hostile guest: rings
 * built by hand in three memory regions (A and B adjacent in guest physical
 * and QEMU addresses but apart in ours, C after a gap, each with its own
 * gpa/uva/host mapping), then setup checks, well-formed chains direct and
 * indirect, every way a chain is refused, index wrap-around, the used ring
 * and notifications. Each region is its own allocation, so a range let
 * across a region's end is an out-of-bounds access ASan reports. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "vmnetd/vring.h"

#define A_GPA	0x100000ull
#define A_SIZE	0x100000ull		/* 1 MiB: room for a 32768-entry queue */
#define A_UVA	0x7f0000100000ull
#define B_GPA	(A_GPA + A_SIZE)	/* right after A, for guest and QEMU */
#define B_SIZE	0x10000ull
#define B_UVA	(A_UVA + A_SIZE)
#define C_GPA	0x800000ull		/* after a gap */
#define C_SIZE	0x10000ull
#define C_UVA	0x7f2000000000ull
#define GAP_GPA	0x400000ull		/* in no region */

/* Where the parts go in A, for any num up to VRING_NUM_MAX. */
#define DESC_OFF	0x00000ull	/* 16 * 32768 = 0x80000 */
#define AVAIL_OFF	0x80000ull	/* 6 + 2 * 32768 < 0x20000 */
#define USED_OFF	0xa0000ull	/* 6 + 8 * 32768 < 0x48000 */
#define ITABLE_OFF	0xe8000ull	/* indirect tables */
#define DATA_OFF	0xf0000ull	/* 64 KiB of buffers */

#define A_DATA	(A_GPA + DATA_OFF)
#define ITABLE	(A_GPA + ITABLE_OFF)

struct h {
	struct vhost_mem m;
	uint8_t *host[3];
	struct vring vr;
	unsigned num;
};

static void h_mem(struct h *h)
{
	static const uint64_t gpa[3] = { A_GPA, B_GPA, C_GPA };
	static const uint64_t uva[3] = { A_UVA, B_UVA, C_UVA };
	static const uint64_t size[3] = { A_SIZE, B_SIZE, C_SIZE };

	memset(h, 0, sizeof(*h));
	h->m.n = 3;
	for (unsigned i = 0; i < 3; i++) {
		void *p = NULL;

		g_assert_cmpint(posix_memalign(&p, 4096, size[i]), ==, 0);
		memset(p, 0, size[i]);
		h->host[i] = p;
		h->m.r[i] = (struct vhost_mem_region){
			.gpa = gpa[i], .size = size[i], .uva = uva[i], .host = p
		};
	}
}

static void h_fini(struct h *h)
{
	for (unsigned i = 0; i < 3; i++)
		free(h->host[i]);
}

/* Our pointer to guest physical @gpa, found independently of vring.c. */
static uint8_t *hp(struct h *h, uint64_t gpa)
{
	for (unsigned i = 0; i < h->m.n; i++)
		if (gpa >= h->m.r[i].gpa && gpa < h->m.r[i].gpa + h->m.r[i].size)
			return h->host[i] + (gpa - h->m.r[i].gpa);
	g_assert_not_reached();
}

static uint64_t a_uva(uint64_t off)
{
	return A_UVA + off;
}

/* Memory and a queue of @num at the usual places. */
static void h_init(struct h *h, unsigned num)
{
	h_mem(h);
	h->num = num;
	g_assert_true(vring_setup(&h->vr, &h->m, num, a_uva(DESC_OFF), a_uva(AVAIL_OFF),
				  a_uva(USED_OFF)));
}

static void set_desc_at(struct h *h, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(hp(h, table + 16ull * i), &d, sizeof(d));
}

static void set_desc(struct h *h, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	set_desc_at(h, A_GPA + DESC_OFF, i, addr, len, flags, next);
}

static uint16_t *avail(struct h *h)
{
	return (uint16_t *)hp(h, A_GPA + AVAIL_OFF);
}

static uint8_t *used(struct h *h)
{
	return hp(h, A_GPA + USED_OFF);
}

static uint16_t used_u16(struct h *h, unsigned off)
{
	uint16_t v;

	memcpy(&v, used(h) + off, 2);
	return v;
}

static void set_used_u16(struct h *h, unsigned off, uint16_t v)
{
	memcpy(used(h) + off, &v, 2);
}

static void used_elem(struct h *h, unsigned i, uint32_t *id, uint32_t *len)
{
	memcpy(id, used(h) + 4 + 8 * i, 4);
	memcpy(len, used(h) + 4 + 8 * i + 4, 4);
}

/* Make chain @head available, as the driver does. */
static void make_avail(struct h *h, uint16_t head)
{
	uint16_t *a = avail(h);

	a[2 + (a[1] & (h->num - 1))] = head;
	a[1]++;
}

/* Pop and check what a refusal must leave: the same last_avail. */
static int pop(struct h *h, bool write, struct vring_chain *c)
{
	uint16_t before = h->vr.last_avail;
	int r = vring_pop(&h->vr, &h->m, write, c);

	if (r == 1)
		g_assert_cmpuint(h->vr.last_avail, ==, (uint16_t)(before + 1));
	else
		g_assert_cmpuint(h->vr.last_avail, ==, before);
	return r;
}

/* ---- vring_setup ---- */

static void test_setup_num(void)
{
	static const unsigned bad[] = { 0, 3, 6, 12, 100, 32767, 32769, 65536, 1u << 20, ~0u };
	static const unsigned good[] = { 1, 2, 4, 256, 1024, 32768 };
	struct h h;

	h_mem(&h);
	for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_false(vring_setup(&h.vr, &h.m, bad[i], a_uva(DESC_OFF), a_uva(AVAIL_OFF),
					   a_uva(USED_OFF)));
	for (unsigned i = 0; i < G_N_ELEMENTS(good); i++) {
		g_assert_true(vring_setup(&h.vr, &h.m, good[i], a_uva(DESC_OFF),
					  a_uva(AVAIL_OFF), a_uva(USED_OFF)));
		g_assert_cmpuint(h.vr.num, ==, good[i]);
		g_assert_true(h.vr.desc == (struct vring_desc *)hp(&h, A_GPA + DESC_OFF));
		g_assert_true(h.vr.avail == (uint16_t *)hp(&h, A_GPA + AVAIL_OFF));
		g_assert_true(h.vr.used == hp(&h, A_GPA + USED_OFF));
		g_assert_cmpuint(h.vr.last_avail, ==, 0);
	}
	h_fini(&h);
}

static void test_setup_bounds(void)
{
	const unsigned num = 256;
	const uint64_t d = a_uva(DESC_OFF), a = a_uva(AVAIL_OFF), u = a_uva(USED_OFF);
	/* Each part ends exactly where B starts in QEMU's addresses: accepted. */
	const uint64_t d_end = B_UVA - 16ull * num, a_end = B_UVA - (6 + 2ull * num),
		       u_end = B_UVA - (6 + 8ull * num);
	struct h h;

	h_mem(&h);
	g_assert_true(vring_setup(&h.vr, &h.m, num, d_end, a, u));
	g_assert_true(vring_setup(&h.vr, &h.m, num, d, a_end, u));
	g_assert_true(vring_setup(&h.vr, &h.m, num, d, a, u_end & ~3ull));
	/* Whole parts in B and in C are fine too. */
	g_assert_true(vring_setup(&h.vr, &h.m, num, B_UVA, C_UVA + 0x8000, C_UVA));

	/* Straddling A and B (contiguous for QEMU, not for us). */
	g_assert_false(vring_setup(&h.vr, &h.m, num, d_end + 16, a, u));
	g_assert_false(vring_setup(&h.vr, &h.m, num, d, a_end + 2, u));
	g_assert_false(vring_setup(&h.vr, &h.m, num, d, a, (u_end & ~3ull) + 4));
	g_assert_false(vring_setup(&h.vr, &h.m, num, B_UVA - 16, a, u));
	/* Outside memory: past C, below A, a guest physical address where a
	 * QEMU address belongs, the top of the address space. */
	g_assert_false(vring_setup(&h.vr, &h.m, num, C_UVA + C_SIZE, a, u));
	g_assert_false(vring_setup(&h.vr, &h.m, num, d, C_UVA + C_SIZE - 8, u));
	g_assert_false(vring_setup(&h.vr, &h.m, num, d, a, A_UVA - 0x1000));
	g_assert_false(vring_setup(&h.vr, &h.m, num, A_GPA, a, u));
	g_assert_false(vring_setup(&h.vr, &h.m, num, d, A_GPA + AVAIL_OFF, u));
	g_assert_false(vring_setup(&h.vr, &h.m, num, d, a, A_GPA + USED_OFF));
	g_assert_false(vring_setup(&h.vr, &h.m, num, ~0ull - 15, a, u));
	g_assert_false(vring_setup(&h.vr, &h.m, num, d, ~0ull - 1, u));
	g_assert_false(vring_setup(&h.vr, &h.m, num, d, a, ~0ull & ~3ull));
	/* A refused setup leaves no pointers behind. */
	g_assert_null(h.vr.desc);
	g_assert_null(h.vr.used);
	/* A size that fits only because it wraps: 32768 entries from near the top. */
	g_assert_false(vring_setup(&h.vr, &h.m, VRING_NUM_MAX, ~0ull - 0x1000, a, u));
	h_fini(&h);
}

static void test_setup_align(void)
{
	const uint64_t d = a_uva(DESC_OFF), a = a_uva(AVAIL_OFF), u = a_uva(USED_OFF);
	struct h h;

	h_mem(&h);
	g_assert_false(vring_setup(&h.vr, &h.m, 8, d, a + 1, u));
	g_assert_false(vring_setup(&h.vr, &h.m, 8, d, a + 3, u));
	g_assert_true(vring_setup(&h.vr, &h.m, 8, d, a + 2, u));
	g_assert_false(vring_setup(&h.vr, &h.m, 8, d, a, u + 1));
	g_assert_false(vring_setup(&h.vr, &h.m, 8, d, a, u + 2));
	g_assert_false(vring_setup(&h.vr, &h.m, 8, d, a, u + 3));
	g_assert_true(vring_setup(&h.vr, &h.m, 8, d, a, u + 4));
	h_fini(&h);
}

static void test_setup_used_idx(void)
{
	struct h h;

	h_mem(&h);
	set_used_u16(&h, 2, 1234);
	h.num = 8;
	g_assert_true(vring_setup(&h.vr, &h.m, 8, a_uva(DESC_OFF), a_uva(AVAIL_OFF),
				  a_uva(USED_OFF)));
	g_assert_cmpuint(h.vr.used_idx, ==, 1234);
	g_assert_false(vring_publish(&h.vr));	/* nothing pushed since */
	vring_push(&h.vr, 5, 60);
	/* Entry 1234 % 8 = 2. */
	{
		uint32_t id, len;

		used_elem(&h, 2, &id, &len);
		g_assert_cmpuint(id, ==, 5);
		g_assert_cmpuint(len, ==, 60);
	}
	g_assert_cmpuint(used_u16(&h, 2), ==, 1234);
	g_assert_true(vring_publish(&h.vr));
	g_assert_cmpuint(used_u16(&h, 2), ==, 1235);
	h_fini(&h);
}

/* ---- vring_pop: chains that are fine ---- */

static void test_pop_read_chain(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 8);
	/* Header (12 bytes) in A, payload (100 bytes) in B, head 3 -> 6. */
	set_desc(&h, 3, A_DATA + 0x100, 12, VRING_DESC_F_NEXT, 6);
	set_desc(&h, 6, B_GPA + 0x20, 100, 0, 0);
	make_avail(&h, 3);
	g_assert_cmpuint(vring_pending(&h.vr), ==, 1);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 3);
	g_assert_cmpuint(c.n, ==, 2);
	g_assert_cmpuint(c.len, ==, 112);
	g_assert_true(c.iov[0].iov_base == hp(&h, A_DATA + 0x100));
	g_assert_cmpuint(c.iov[0].iov_len, ==, 12);
	g_assert_true(c.iov[1].iov_base == h.host[1] + 0x20);
	g_assert_cmpuint(c.iov[1].iov_len, ==, 100);
	g_assert_cmpuint(vring_pending(&h.vr), ==, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 0);
	h_fini(&h);
}

static void test_pop_write_chain(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 8);
	set_desc(&h, 0, C_GPA + 0x1000, 12, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, A_DATA, 1514, VRING_DESC_F_WRITE, 0);
	make_avail(&h, 0);
	g_assert_cmpint(pop(&h, true, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 0);
	g_assert_cmpuint(c.n, ==, 2);
	g_assert_cmpuint(c.len, ==, 1526);
	g_assert_true(c.iov[0].iov_base == h.host[2] + 0x1000);
	g_assert_true(c.iov[1].iov_base == h.host[0] + DATA_OFF);
	h_fini(&h);
}

static void test_pop_zero_len(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 0, VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, A_DATA + 16, 10, VRING_DESC_F_NEXT, 2);
	set_desc(&h, 2, B_GPA, 0, VRING_DESC_F_NEXT, 3);
	set_desc(&h, 3, C_GPA, 20, VRING_DESC_F_NEXT, 4);
	set_desc(&h, 4, C_GPA + 100, 0, 0, 0);
	make_avail(&h, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.n, ==, 2);
	g_assert_cmpuint(c.len, ==, 30);
	g_assert_true(c.iov[0].iov_base == hp(&h, A_DATA + 16));
	g_assert_true(c.iov[1].iov_base == h.host[2]);
	h_fini(&h);
}

/* Buffers that end exactly at a region's end are whole. */
static void test_pop_region_ends(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 8);
	set_desc(&h, 0, B_GPA + B_SIZE - 7, 7, VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, A_GPA + A_SIZE - 1, 1, VRING_DESC_F_NEXT, 2);
	set_desc(&h, 2, C_GPA, (uint32_t)C_SIZE, 0, 0);
	make_avail(&h, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.n, ==, 3);
	g_assert_true(c.iov[0].iov_base == h.host[1] + B_SIZE - 7);
	g_assert_true(c.iov[1].iov_base == h.host[0] + A_SIZE - 1);
	g_assert_true(c.iov[2].iov_base == h.host[2]);
	g_assert_cmpuint(c.len, ==, 8 + C_SIZE);
	h_fini(&h);
}

/* A chain as long as the ring is no loop. */
static void test_pop_full_ring_chain(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 16);
	for (unsigned i = 0; i < 16; i++)
		set_desc(&h, i, A_DATA + i, 1, i < 15 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	make_avail(&h, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.n, ==, 16);
	h_fini(&h);
}

static void test_pop_chain_max(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 128);
	for (unsigned i = 0; i < VRING_CHAIN_MAX; i++)
		set_desc(&h, i, A_DATA + 2 * i, 2, i < VRING_CHAIN_MAX - 1 ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	make_avail(&h, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.n, ==, VRING_CHAIN_MAX);
	g_assert_cmpuint(c.len, ==, 2 * VRING_CHAIN_MAX);
	h_fini(&h);
}

static void test_pop_indirect(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 8);
	/* A transmit chain: header and two pieces of payload, in a table in C. */
	set_desc_at(&h, C_GPA + 0x8000, 0, A_DATA, 12, VRING_DESC_F_NEXT, 2);
	set_desc_at(&h, C_GPA + 0x8000, 2, B_GPA + 0x100, 200, VRING_DESC_F_NEXT, 1);
	set_desc_at(&h, C_GPA + 0x8000, 1, C_GPA + 0x10, 300, 0, 0);
	set_desc(&h, 5, C_GPA + 0x8000, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(&h, 5);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 5);
	g_assert_cmpuint(c.n, ==, 3);
	g_assert_cmpuint(c.len, ==, 512);
	g_assert_true(c.iov[0].iov_base == h.host[0] + DATA_OFF);
	g_assert_true(c.iov[1].iov_base == h.host[1] + 0x100);
	g_assert_true(c.iov[2].iov_base == h.host[2] + 0x10);

	/* A receive chain through a table; the WRITE flag on the indirect
	 * descriptor itself means nothing (virtio 1.x 2.7.5.3.2) either way. */
	set_desc_at(&h, ITABLE, 0, A_DATA, 12, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc_at(&h, ITABLE, 1, A_DATA + 0x1000, 4096, VRING_DESC_F_WRITE, 0);
	set_desc(&h, 1, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
	set_desc(&h, 2, ITABLE, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	make_avail(&h, 1);
	make_avail(&h, 2);
	g_assert_cmpint(pop(&h, true, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 1);
	g_assert_cmpuint(c.len, ==, 4108);
	g_assert_cmpint(pop(&h, true, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 2);
	g_assert_cmpuint(c.n, ==, 2);
	g_assert_true(c.iov[1].iov_base == hp(&h, A_DATA + 0x1000));
	h_fini(&h);
}

/* An indirect table as long as VRING_CHAIN_MAX, in a ring smaller than it. */
static void test_pop_indirect_chain_max(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 4);
	for (unsigned i = 0; i < VRING_CHAIN_MAX; i++)
		set_desc_at(&h, ITABLE, i, A_DATA + i, 1,
			    i < VRING_CHAIN_MAX - 1 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	set_desc(&h, 0, ITABLE, 16 * VRING_CHAIN_MAX, VRING_DESC_F_INDIRECT, 0);
	make_avail(&h, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.n, ==, VRING_CHAIN_MAX);
	h_fini(&h);
}

/* ---- vring_chain_read / vring_chain_write ---- */

static void test_chain_copy(void)
{
	static const uint8_t pattern[] = "ABCDEFGHIJKLMNO";
	uint8_t buf[32];
	struct vring_chain c;
	struct h h;

	h_init(&h, 8);
	/* Pieces of 3, 5 and 7 bytes, each with a guard byte either side. */
	memset(hp(&h, A_DATA), 0xee, 16);
	memset(h.host[1], 0xee, 16);
	memset(h.host[2] + 0x200, 0xee, 16);
	set_desc(&h, 0, A_DATA + 1, 3, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, B_GPA + 1, 5, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(&h, 2, C_GPA + 0x201, 7, VRING_DESC_F_WRITE, 0);
	make_avail(&h, 0);
	g_assert_cmpint(pop(&h, true, &c), ==, 1);
	g_assert_cmpuint(c.len, ==, 15);

	g_assert_cmpuint(vring_chain_write(&c, 0, pattern, 15), ==, 15);
	g_assert_cmpmem(hp(&h, A_DATA + 1), 3, "ABC", 3);
	g_assert_cmpmem(h.host[1] + 1, 5, "DEFGH", 5);
	g_assert_cmpmem(h.host[2] + 0x201, 7, "IJKLMNO", 7);
	g_assert_cmpuint(*hp(&h, A_DATA), ==, 0xee);
	g_assert_cmpuint(*hp(&h, A_DATA + 4), ==, 0xee);
	g_assert_cmpuint(h.host[1][0], ==, 0xee);
	g_assert_cmpuint(h.host[1][6], ==, 0xee);
	g_assert_cmpuint(h.host[2][0x200], ==, 0xee);
	g_assert_cmpuint(h.host[2][0x208], ==, 0xee);

	/* Reads from offsets inside each piece, across both joins. */
	for (size_t off = 0; off <= 15; off++)
		for (size_t len = 0; len <= 20; len++) {
			size_t want = MIN(len, 15 - off);

			memset(buf, 0, sizeof(buf));
			g_assert_cmpuint(vring_chain_read(&c, off, buf, len), ==, want);
			g_assert_cmpmem(buf, want, pattern + off, want);
			g_assert_cmpuint(buf[want], ==, 0);
		}
	g_assert_cmpuint(vring_chain_read(&c, 100, buf, 10), ==, 0);
	g_assert_cmpuint(vring_chain_read(&c, SIZE_MAX, buf, 10), ==, 0);

	/* Writes at offsets, short at the end, never past a piece. */
	g_assert_cmpuint(vring_chain_write(&c, 2, "xyz", 3), ==, 3);
	g_assert_cmpmem(hp(&h, A_DATA + 1), 3, "ABx", 3);
	g_assert_cmpmem(h.host[1] + 1, 5, "yzFGH", 5);
	g_assert_cmpuint(vring_chain_write(&c, 7, "0123456789abcdef", 16), ==, 8);
	g_assert_cmpmem(h.host[1] + 1, 5, "yzFG0", 5);
	g_assert_cmpmem(h.host[2] + 0x201, 7, "1234567", 7);
	g_assert_cmpuint(h.host[2][0x208], ==, 0xee);
	g_assert_cmpuint(vring_chain_write(&c, 15, "z", 1), ==, 0);
	g_assert_cmpuint(vring_chain_write(&c, 3, "q", 0), ==, 0);
	g_assert_cmpuint(h.host[1][1], ==, 'y');
	h_fini(&h);
}

/* A chain with zero-length and many pieces: offsets go by bytes, not pieces. */
static void test_chain_copy_many(void)
{
	uint8_t in[VRING_CHAIN_MAX * 3], out[sizeof(in)];
	struct vring_chain c;
	struct h h;

	h_init(&h, 128);
	for (unsigned i = 0; i < VRING_CHAIN_MAX; i++)
		/* Pieces of 1, 2, 3, 1, 2, 3... bytes, spread out, backwards in memory. */
		set_desc(&h, i, A_DATA + 0x4000 - 8 * i, i % 3 + 1,
			 VRING_DESC_F_WRITE | (i < VRING_CHAIN_MAX - 1 ? VRING_DESC_F_NEXT : 0),
			 (uint16_t)(i + 1));
	make_avail(&h, 0);
	g_assert_cmpint(pop(&h, true, &c), ==, 1);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	g_assert_cmpuint(vring_chain_write(&c, 0, in, sizeof(in)), ==, c.len);
	memset(out, 0, sizeof(out));
	g_assert_cmpuint(vring_chain_read(&c, 0, out, sizeof(out)), ==, c.len);
	g_assert_cmpmem(out, c.len, in, c.len);
	/* Piece 1 (2 bytes, at A_DATA + 0x4000 - 8) holds bytes 1 and 2. */
	g_assert_cmpuint(*hp(&h, A_DATA + 0x4000 - 8), ==, in[1]);
	g_assert_cmpuint(*hp(&h, A_DATA + 0x4000 - 7), ==, in[2]);
	g_assert_cmpuint(*hp(&h, A_DATA + 0x4000 - 6), ==, 0);
	h_fini(&h);
}

/* ---- vring_pop: what a guest may not do ---- */

/* One refused chain, popped from a fresh queue of 8 in both directions
 * where the direction is not the point. */
static void expect_refused(struct h *h, bool write)
{
	struct vring_chain c;

	g_assert_cmpint(pop(h, write, &c), ==, -1);
	/* Still refused the second time: a broken ring stays broken. */
	g_assert_cmpint(pop(h, write, &c), ==, -1);
}

static void test_bad_head(void)
{
	struct h h;

	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 10, 0, 0);
	make_avail(&h, 8);
	expect_refused(&h, false);
	h_fini(&h);

	h_init(&h, 8);
	make_avail(&h, 0xffff);
	expect_refused(&h, false);
	h_fini(&h);
}

static void test_bad_next(void)
{
	struct h h;

	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 10, VRING_DESC_F_NEXT, 8);
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);

	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 10, VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, A_DATA, 10, VRING_DESC_F_NEXT, 0xffff);
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);
}

static void test_loops(void)
{
	struct h h;

	/* a -> b -> a */
	h_init(&h, 8);
	set_desc(&h, 2, A_DATA, 10, VRING_DESC_F_NEXT, 5);
	set_desc(&h, 5, A_DATA, 10, VRING_DESC_F_NEXT, 2);
	make_avail(&h, 2);
	expect_refused(&h, false);
	h_fini(&h);

	/* a -> a */
	h_init(&h, 8);
	set_desc(&h, 4, A_DATA, 10, VRING_DESC_F_NEXT, 4);
	make_avail(&h, 4);
	expect_refused(&h, false);
	h_fini(&h);

	/* A loop of zero-length descriptors, which put nothing in the chain. */
	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 0, VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, A_DATA, 0, VRING_DESC_F_NEXT, 0);
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);

	/* A loop in the biggest ring, of writable zero-length descriptors. */
	h_init(&h, VRING_NUM_MAX);
	for (unsigned i = 0; i < VRING_NUM_MAX; i++)
		set_desc(&h, i, A_DATA, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
			 (uint16_t)((i + 1) % VRING_NUM_MAX));
	make_avail(&h, 0);
	expect_refused(&h, true);
	h_fini(&h);
}

/* Empty descriptors count too: a guest may not make one chain cost the
 * daemon more than VRING_VISIT_MAX descriptors, looping or not. */
static void test_chain_too_many_visits(void)
{
	struct h h;

	h_init(&h, 256);
	for (unsigned i = 0; i <= VRING_VISIT_MAX; i++)
		set_desc(&h, i, A_DATA, 0, i < VRING_VISIT_MAX ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);

	/* A huge indirect table of empty descriptors. */
	h_init(&h, 8);
	for (unsigned i = 0; i < 1024; i++)
		set_desc_at(&h, ITABLE, i, A_DATA, 0, i < 1023 ? VRING_DESC_F_NEXT : 0,
			    (uint16_t)(i + 1));
	set_desc(&h, 0, ITABLE, 16 * 1024, VRING_DESC_F_INDIRECT, 0);
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);
}

static void test_chain_too_long(void)
{
	struct h h;

	h_init(&h, 128);
	for (unsigned i = 0; i <= VRING_CHAIN_MAX; i++)
		set_desc(&h, i, A_DATA + 2 * i, 2, i < VRING_CHAIN_MAX ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);

	/* The same in an indirect table. */
	h_init(&h, 8);
	for (unsigned i = 0; i <= VRING_CHAIN_MAX; i++)
		set_desc_at(&h, ITABLE, i, A_DATA + i, 1,
			    i < VRING_CHAIN_MAX ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	set_desc(&h, 0, ITABLE, 16 * (VRING_CHAIN_MAX + 1), VRING_DESC_F_INDIRECT, 0);
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);
}

/* One descriptor at @addr, @len: refused. */
static void expect_bad_buffer(uint64_t addr, uint32_t len)
{
	struct h h;

	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 10, VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, addr, len, 0, 0);
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);
	/* Alone, as the head, and writable. */
	h_init(&h, 8);
	set_desc(&h, 3, addr, len, VRING_DESC_F_WRITE, 0);
	make_avail(&h, 3);
	expect_refused(&h, true);
	h_fini(&h);
}

static void test_bad_buffers(void)
{
	/* In the gap, below all memory, past C. */
	expect_bad_buffer(GAP_GPA, 1);
	expect_bad_buffer(0, 64);
	expect_bad_buffer(C_GPA + C_SIZE, 1);
	/* One byte past the end of C and of B; starting one before C. */
	expect_bad_buffer(C_GPA + C_SIZE - 10, 11);
	expect_bad_buffer(B_GPA + B_SIZE - 1, 2);
	expect_bad_buffer(C_GPA - 1, 2);
	/* Longer than any region. */
	expect_bad_buffer(C_GPA, 0xffffffffu);
	/* Wrapping around 2^64. */
	expect_bad_buffer(~0ull - 15, 32);
	expect_bad_buffer(~0ull, 2);
	expect_bad_buffer(~0ull - 0xffff, 0xffffffffu);
	/* Straddling A and B: contiguous for the guest, not for us. */
	expect_bad_buffer(A_GPA + A_SIZE - 8, 16);
	expect_bad_buffer(A_GPA + A_SIZE - 1, 2);
	/* A QEMU address where a guest physical one belongs. */
	expect_bad_buffer(A_UVA + DATA_OFF, 10);
}

static void test_wrong_direction(void)
{
	struct h h;

	/* A writable buffer in a transmit chain: head, then later. */
	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 10, VRING_DESC_F_WRITE, 0);
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);
	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 10, VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, A_DATA + 10, 10, VRING_DESC_F_WRITE, 0);
	make_avail(&h, 0);
	expect_refused(&h, false);
	h_fini(&h);

	/* A readable buffer in a receive chain: head, then later. */
	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 10, 0, 0);
	make_avail(&h, 0);
	expect_refused(&h, true);
	h_fini(&h);
	h_init(&h, 8);
	set_desc(&h, 0, A_DATA, 10, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(&h, 1, A_DATA + 10, 10, 0, 0);
	make_avail(&h, 0);
	expect_refused(&h, true);
	h_fini(&h);

	/* Inside an indirect table too. */
	h_init(&h, 8);
	set_desc_at(&h, ITABLE, 0, A_DATA, 10, VRING_DESC_F_NEXT, 1);
	set_desc_at(&h, ITABLE, 1, A_DATA, 10, VRING_DESC_F_WRITE, 0);
	set_desc(&h, 0, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(&h, 0);
	expect_refused(&h, false);
	expect_refused(&h, true);
	h_fini(&h);
}

/* A ring whose head 0 is an indirect descriptor @addr, @len, @flags, the
 * table at ITABLE holding two good entries (0 -> 1) unless changed after. */
static void indirect_init(struct h *h, uint64_t addr, uint32_t len, uint16_t flags)
{
	h_init(h, 8);
	set_desc_at(h, ITABLE, 0, A_DATA, 10, VRING_DESC_F_NEXT, 1);
	set_desc_at(h, ITABLE, 1, A_DATA + 10, 10, 0, 0);
	set_desc(h, 0, addr, len, VRING_DESC_F_INDIRECT | flags, 0);
	make_avail(h, 0);
}

static void test_bad_indirect(void)
{
	struct vring_chain c;
	struct h h;

	/* The good case first, that the others differ from by one thing. */
	indirect_init(&h, ITABLE, 32, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.n, ==, 2);
	h_fini(&h);

	indirect_init(&h, ITABLE, 0, 0);
	expect_refused(&h, false);
	h_fini(&h);
	for (uint32_t len = 1; len < 48; len++) {
		if (len % 16 == 0)
			continue;
		indirect_init(&h, ITABLE, len, 0);
		expect_refused(&h, false);
		h_fini(&h);
	}
	/* The table outside memory, straddling A and B, wrapping. */
	indirect_init(&h, GAP_GPA, 32, 0);
	expect_refused(&h, false);
	h_fini(&h);
	indirect_init(&h, A_GPA + A_SIZE - 16, 32, 0);
	expect_refused(&h, false);
	h_fini(&h);
	indirect_init(&h, ~0ull - 15, 32, 0);
	expect_refused(&h, false);
	h_fini(&h);
	/* A huge table: more than any region, more than VRING_NUM_MAX entries. */
	indirect_init(&h, ITABLE, 0xfffffff0u, 0);
	expect_refused(&h, false);
	h_fini(&h);

	/* INDIRECT with NEXT. */
	indirect_init(&h, ITABLE, 32, VRING_DESC_F_NEXT);
	set_desc(&h, 1, A_DATA, 10, 0, 0);
	expect_refused(&h, false);
	h_fini(&h);

	/* Nested: an indirect descriptor in the table, first or last. */
	indirect_init(&h, ITABLE, 32, 0);
	set_desc_at(&h, ITABLE, 1, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
	expect_refused(&h, false);
	h_fini(&h);
	indirect_init(&h, ITABLE, 32, 0);
	set_desc_at(&h, ITABLE, 0, ITABLE + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc_at(&h, ITABLE + 0x100, 0, A_DATA, 10, 0, 0);
	expect_refused(&h, false);
	h_fini(&h);

	/* A loop in the table: 0 -> 1 -> 0, and 1 -> 1. */
	indirect_init(&h, ITABLE, 32, 0);
	set_desc_at(&h, ITABLE, 1, A_DATA, 10, VRING_DESC_F_NEXT, 0);
	expect_refused(&h, false);
	h_fini(&h);
	indirect_init(&h, ITABLE, 32, 0);
	set_desc_at(&h, ITABLE, 1, A_DATA, 10, VRING_DESC_F_NEXT, 1);
	expect_refused(&h, false);
	h_fini(&h);
	/* A loop of zero-length entries in a big table. */
	indirect_init(&h, ITABLE, 16 * 256, 0);
	for (unsigned i = 0; i < 256; i++)
		set_desc_at(&h, ITABLE, i, A_DATA, 0, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 256));
	expect_refused(&h, false);
	h_fini(&h);

	/* next past the table's end (though inside the ring's size). */
	indirect_init(&h, ITABLE, 32, 0);
	set_desc_at(&h, ITABLE, 1, A_DATA, 10, VRING_DESC_F_NEXT, 2);
	expect_refused(&h, false);
	h_fini(&h);

	/* A buffer in the table outside memory. */
	indirect_init(&h, ITABLE, 32, 0);
	set_desc_at(&h, ITABLE, 1, A_GPA + A_SIZE - 4, 10, 0, 0);
	expect_refused(&h, false);
	h_fini(&h);
}

static void test_avail_too_far(void)
{
	struct vring_chain c;
	struct h h;

	/* num + 1 ahead, then exactly num ahead. */
	h_init(&h, 8);
	for (unsigned i = 0; i < 8; i++)
		set_desc(&h, i, A_DATA + i, 1, 0, 0);
	for (unsigned i = 0; i < 8; i++)
		make_avail(&h, (uint16_t)i);
	avail(&h)[1] = 9;
	expect_refused(&h, false);
	avail(&h)[1] = 8;
	for (unsigned i = 0; i < 8; i++) {
		g_assert_cmpuint(vring_pending(&h.vr), ==, 8 - i);
		g_assert_cmpint(pop(&h, false, &c), ==, 1);
		g_assert_cmpuint(c.head, ==, i);
	}
	g_assert_cmpint(pop(&h, false, &c), ==, 0);
	/* The index going backwards is 65535 ahead. */
	avail(&h)[1] = 7;
	expect_refused(&h, false);
	avail(&h)[1] = (uint16_t)(8 + 0x8000);
	expect_refused(&h, false);
	h_fini(&h);
}

/* ---- indices ---- */

static void test_wrap(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 4);
	for (unsigned i = 0; i < 4; i++)
		set_desc(&h, i, A_DATA + 0x10 * i, 0x10, 0, 0);
	h.vr.last_avail = 65534;
	avail(&h)[1] = 65534;
	g_assert_cmpuint(vring_pending(&h.vr), ==, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 0);
	make_avail(&h, 3);	/* slot 2 */
	make_avail(&h, 1);	/* slot 3 */
	make_avail(&h, 0);	/* slot 0 */
	make_avail(&h, 2);	/* slot 1 */
	g_assert_cmpuint(avail(&h)[1], ==, 2);
	g_assert_cmpuint(avail(&h)[2 + 2], ==, 3);
	g_assert_cmpuint(vring_pending(&h.vr), ==, 4);

	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 3);
	g_assert_cmpuint(h.vr.last_avail, ==, 65535);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 1);
	g_assert_cmpuint(h.vr.last_avail, ==, 0);
	g_assert_cmpuint(vring_pending(&h.vr), ==, 2);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 0);
	g_assert_true(c.iov[0].iov_base == hp(&h, A_DATA));
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(c.head, ==, 2);
	g_assert_cmpuint(h.vr.last_avail, ==, 2);
	g_assert_cmpuint(vring_pending(&h.vr), ==, 0);
	g_assert_cmpint(pop(&h, false, &c), ==, 0);
	h_fini(&h);
}

static void test_pending(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 8);
	g_assert_cmpuint(vring_pending(&h.vr), ==, 0);
	for (unsigned i = 0; i < 3; i++) {
		set_desc(&h, i, A_DATA, 4, 0, 0);
		make_avail(&h, (uint16_t)i);
	}
	g_assert_cmpuint(vring_pending(&h.vr), ==, 3);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(vring_pending(&h.vr), ==, 2);
	/* Pending does not take. */
	g_assert_cmpuint(vring_pending(&h.vr), ==, 2);
	g_assert_cmpuint(h.vr.last_avail, ==, 1);
	h_fini(&h);
}

/* ---- the used ring ---- */

static void test_push_publish(void)
{
	uint32_t id, len;
	struct h h;

	h_init(&h, 4);
	g_assert_false(vring_publish(&h.vr));
	vring_push(&h.vr, 3, 100);
	vring_push(&h.vr, 1, 0);
	/* Not visible before publishing. */
	g_assert_cmpuint(used_u16(&h, 2), ==, 0);
	used_elem(&h, 0, &id, &len);
	g_assert_cmpuint(id, ==, 3);
	g_assert_cmpuint(len, ==, 100);
	used_elem(&h, 1, &id, &len);
	g_assert_cmpuint(id, ==, 1);
	g_assert_cmpuint(len, ==, 0);
	g_assert_true(vring_publish(&h.vr));
	g_assert_cmpuint(used_u16(&h, 2), ==, 2);
	g_assert_false(vring_publish(&h.vr));
	g_assert_cmpuint(used_u16(&h, 2), ==, 2);

	/* The guest wants no interrupt: published all the same, no interrupt. */
	avail(&h)[0] = VRING_AVAIL_F_NO_INTERRUPT;
	vring_push(&h.vr, 2, 0xffffffffu);
	g_assert_false(vring_publish(&h.vr));
	g_assert_cmpuint(used_u16(&h, 2), ==, 3);
	used_elem(&h, 2, &id, &len);
	g_assert_cmpuint(id, ==, 2);
	g_assert_cmpuint(len, ==, 0xffffffffu);
	avail(&h)[0] = 0;
	g_assert_false(vring_publish(&h.vr));	/* nothing new */
	vring_push(&h.vr, 0, 7);
	g_assert_true(vring_publish(&h.vr));
	g_assert_cmpuint(used_u16(&h, 2), ==, 4);
	used_elem(&h, 3, &id, &len);
	g_assert_cmpuint(id, ==, 0);
	/* Wrapped round to entry 0; the 4 bytes after the ring untouched. */
	vring_push(&h.vr, 1, 9);
	used_elem(&h, 0, &id, &len);
	g_assert_cmpuint(id, ==, 1);
	g_assert_cmpuint(len, ==, 9);
	g_assert_cmpuint(used_u16(&h, 4 + 8 * 4), ==, 0);
	g_assert_true(vring_publish(&h.vr));
	g_assert_cmpuint(used_u16(&h, 2), ==, 5);
	h_fini(&h);
}

static void test_used_wrap(void)
{
	uint32_t id, len;
	struct h h;

	h_mem(&h);
	h.num = 8;
	set_used_u16(&h, 2, 65535);
	g_assert_true(vring_setup(&h.vr, &h.m, 8, a_uva(DESC_OFF), a_uva(AVAIL_OFF),
				  a_uva(USED_OFF)));
	vring_push(&h.vr, 4, 40);
	vring_push(&h.vr, 6, 60);
	used_elem(&h, 7, &id, &len);
	g_assert_cmpuint(id, ==, 4);
	g_assert_cmpuint(len, ==, 40);
	used_elem(&h, 0, &id, &len);
	g_assert_cmpuint(id, ==, 6);
	g_assert_cmpuint(len, ==, 60);
	g_assert_true(vring_publish(&h.vr));
	g_assert_cmpuint(used_u16(&h, 2), ==, 1);
	g_assert_cmpuint(h.vr.used_idx, ==, 1);
	h_fini(&h);
}

/* The whole round a transmit queue makes: pop, read, push, publish. */
static void test_round_trip(void)
{
	uint8_t frame[64];
	struct vring_chain c;
	uint32_t id, len;
	struct h h;

	h_init(&h, 8);
	memcpy(hp(&h, C_GPA + 0x40), "hello, ", 7);
	memcpy(hp(&h, B_GPA + 0x80), "world", 5);
	set_desc(&h, 7, C_GPA + 0x40, 7, VRING_DESC_F_NEXT, 2);
	set_desc(&h, 2, B_GPA + 0x80, 5, 0, 0);
	make_avail(&h, 7);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	g_assert_cmpuint(vring_chain_read(&c, 0, frame, sizeof(frame)), ==, 12);
	g_assert_cmpmem(frame, 12, "hello, world", 12);
	vring_push(&h.vr, c.head, 0);
	g_assert_true(vring_publish(&h.vr));
	used_elem(&h, 0, &id, &len);
	g_assert_cmpuint(id, ==, 7);
	g_assert_cmpuint(len, ==, 0);
	g_assert_cmpuint(used_u16(&h, 2), ==, 1);
	h_fini(&h);
}

static void test_want_kicks(void)
{
	struct h h;

	h_init(&h, 8);
	g_assert_cmpuint(used_u16(&h, 0), ==, 0);
	vring_want_kicks(&h.vr, false);
	g_assert_cmpuint(used_u16(&h, 0) & VRING_USED_F_NO_NOTIFY, ==, VRING_USED_F_NO_NOTIFY);
	vring_want_kicks(&h.vr, false);
	g_assert_cmpuint(used_u16(&h, 0) & VRING_USED_F_NO_NOTIFY, ==, VRING_USED_F_NO_NOTIFY);
	vring_want_kicks(&h.vr, true);
	g_assert_cmpuint(used_u16(&h, 0) & VRING_USED_F_NO_NOTIFY, ==, 0);
	/* The used index is not touched. */
	g_assert_cmpuint(used_u16(&h, 2), ==, 0);
	h_fini(&h);
}

/* ---- EVENT_IDX (virtio 1.x 2.7.7, 2.7.10): used_event at the end of the
 * available ring, avail_event at the end of the used ring; the flags of
 * both rings mean nothing then. ---- */

/* vring_need_event() of the spec: interrupt if used_event is in [old, new). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

static void test_event_idx_publish(void)
{
	struct h h;
	uint16_t *used_event;

	h_init(&h, 8);
	h.vr.event_idx = true;
	used_event = &avail(&h)[2 + 8];
	/* The guest wants to hear when entry 3 is used, not before or after. */
	*used_event = 3;
	for (uint16_t i = 0; i < 6; i++) {
		vring_push(&h.vr, i, 0);
		g_assert_cmpint(vring_publish(&h.vr), ==, need_event(3, i + 1, i));
		g_assert_false(vring_publish(&h.vr));	/* nothing new */
		g_assert_cmpuint(used_u16(&h, 2), ==, i + 1);
	}
	/* The flag means nothing (2.7.10: the device MUST ignore it). */
	avail(&h)[0] = VRING_AVAIL_F_NO_INTERRUPT;
	*used_event = 6;
	vring_push(&h.vr, 0, 0);
	g_assert_true(vring_publish(&h.vr));
	avail(&h)[0] = 0;
	/* Three published at once: 7 -> 10 with used_event 10 (not yet),
	 * 10 -> 13 with 11 (among them), 13 -> 16 with 6 (long past). */
	for (unsigned k = 0; k < 3; k++)
		vring_push(&h.vr, 0, 0);
	*used_event = 10;
	g_assert_false(vring_publish(&h.vr));
	for (unsigned k = 0; k < 3; k++)
		vring_push(&h.vr, 0, 0);
	*used_event = 11;
	g_assert_true(vring_publish(&h.vr));
	for (unsigned k = 0; k < 3; k++)
		vring_push(&h.vr, 0, 0);
	*used_event = 6;
	g_assert_false(vring_publish(&h.vr));
	/* Nothing new: nothing, whatever used_event says. */
	*used_event = 16;
	g_assert_false(vring_publish(&h.vr));
	h_fini(&h);
}

/* [old, new) across 65535 -> 0. */
static void test_event_idx_publish_wrap(void)
{
	struct h h;
	uint16_t *used_event;

	h_mem(&h);
	h.num = 8;
	set_used_u16(&h, 2, 65534);
	g_assert_true(vring_setup(&h.vr, &h.m, 8, a_uva(DESC_OFF), a_uva(AVAIL_OFF),
				  a_uva(USED_OFF)));
	h.vr.event_idx = true;
	used_event = &avail(&h)[2 + 8];
	*used_event = 65535;
	for (unsigned k = 0; k < 3; k++)
		vring_push(&h.vr, 0, 0);
	g_assert_true(vring_publish(&h.vr));	/* 65534 -> 1 */
	g_assert_cmpuint(used_u16(&h, 2), ==, 1);
	*used_event = 0;
	vring_push(&h.vr, 0, 0);
	g_assert_false(vring_publish(&h.vr));	/* 1 -> 2: 0 is past */
	*used_event = 65533;
	vring_push(&h.vr, 0, 0);
	g_assert_false(vring_publish(&h.vr));
	h_fini(&h);
}

static void test_event_idx_want_kicks(void)
{
	struct vring_chain c;
	struct h h;

	h_init(&h, 8);
	h.vr.event_idx = true;
	for (unsigned i = 0; i < 3; i++) {
		set_desc(&h, i, A_DATA, 4, 0, 0);
		make_avail(&h, (uint16_t)i);
		g_assert_cmpint(pop(&h, false, &c), ==, 1);
	}
	/* A kick for the next entry the guest makes available: avail_event =
	 * the index we take next; used->flags left alone. */
	vring_want_kicks(&h.vr, true);
	g_assert_cmpuint(used_u16(&h, 4 + 8 * 8), ==, 3);
	g_assert_cmpuint(used_u16(&h, 0), ==, 0);
	/* Off: avail_event stays behind, no flag either. */
	set_desc(&h, 3, A_DATA, 4, 0, 0);
	make_avail(&h, 3);
	g_assert_cmpint(pop(&h, false, &c), ==, 1);
	vring_want_kicks(&h.vr, false);
	g_assert_cmpuint(used_u16(&h, 4 + 8 * 8), ==, 3);
	g_assert_cmpuint(used_u16(&h, 0), ==, 0);
	vring_want_kicks(&h.vr, true);
	g_assert_cmpuint(used_u16(&h, 4 + 8 * 8), ==, 4);
	/* Entries available but not taken (a receive queue short of buffers
	 * for a whole frame): the kick must come for the next new one, so
	 * avail_event is the guest's index, not ours. */
	set_desc(&h, 4, A_DATA, 4, 0, 0);
	make_avail(&h, 4);
	set_desc(&h, 5, A_DATA, 4, 0, 0);
	make_avail(&h, 5);
	vring_want_kicks(&h.vr, true);
	g_assert_cmpuint(used_u16(&h, 4 + 8 * 8), ==, 6);
	g_assert_cmpuint(vring_pending(&h.vr), ==, 2);
	/* Across the wrap. */
	h.vr.avail[1] = 65535;
	vring_want_kicks(&h.vr, true);
	g_assert_cmpuint(used_u16(&h, 4 + 8 * 8), ==, 65535);
	/* The used index and the entries are not touched. */
	g_assert_cmpuint(used_u16(&h, 2), ==, 0);
	h_fini(&h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vring/setup/num", test_setup_num);
	g_test_add_func("/vring/setup/bounds", test_setup_bounds);
	g_test_add_func("/vring/setup/align", test_setup_align);
	g_test_add_func("/vring/setup/used-idx", test_setup_used_idx);
	g_test_add_func("/vring/pop/read-chain", test_pop_read_chain);
	g_test_add_func("/vring/pop/write-chain", test_pop_write_chain);
	g_test_add_func("/vring/pop/zero-len", test_pop_zero_len);
	g_test_add_func("/vring/pop/region-ends", test_pop_region_ends);
	g_test_add_func("/vring/pop/full-ring-chain", test_pop_full_ring_chain);
	g_test_add_func("/vring/pop/chain-max", test_pop_chain_max);
	g_test_add_func("/vring/pop/indirect", test_pop_indirect);
	g_test_add_func("/vring/pop/indirect-chain-max", test_pop_indirect_chain_max);
	g_test_add_func("/vring/chain/copy", test_chain_copy);
	g_test_add_func("/vring/chain/copy-many", test_chain_copy_many);
	g_test_add_func("/vring/refuse/head", test_bad_head);
	g_test_add_func("/vring/refuse/next", test_bad_next);
	g_test_add_func("/vring/refuse/loops", test_loops);
	g_test_add_func("/vring/refuse/too-long", test_chain_too_long);
	g_test_add_func("/vring/refuse/too-long-visits", test_chain_too_many_visits);
	g_test_add_func("/vring/refuse/buffers", test_bad_buffers);
	g_test_add_func("/vring/refuse/direction", test_wrong_direction);
	g_test_add_func("/vring/refuse/indirect", test_bad_indirect);
	g_test_add_func("/vring/refuse/avail-too-far", test_avail_too_far);
	g_test_add_func("/vring/index/wrap", test_wrap);
	g_test_add_func("/vring/index/pending", test_pending);
	g_test_add_func("/vring/used/push-publish", test_push_publish);
	g_test_add_func("/vring/used/wrap", test_used_wrap);
	g_test_add_func("/vring/used/round-trip", test_round_trip);
	g_test_add_func("/vring/used/want-kicks", test_want_kicks);
	g_test_add_func("/vring/event-idx/publish", test_event_idx_publish);
	g_test_add_func("/vring/event-idx/publish-wrap", test_event_idx_publish_wrap);
	g_test_add_func("/vring/event-idx/want-kicks", test_event_idx_want_kicks);
	return g_test_run();
}
