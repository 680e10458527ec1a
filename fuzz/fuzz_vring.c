/* fuzz_vring.c - the split virtqueue walker (vring.c) over guest memory the input writes.
 *
 * The input is a 16-byte header, then the guest's memory: one or two
 * regions of REGION_SIZE bytes, each its own allocation of exactly that
 * size (so ASan sees any byte read or written past a region), filled from
 * the input and zero after it. The descriptor table, the rings, indirect
 * tables and buffers are all wherever the input put them in that memory.
 *
 *   0      bit 0: two regions; bit 1: region 1 right after region 0 in
 *          both address spaces (else after a gap); bit 2: event_idx
 *          (VIRTIO_RING_F_EVENT_IDX negotiated);
 *          bit 3: the guest makes one more entry available whenever
 *          nothing is
 *   1      num: 1 << (b & 15), or b & 0x7f itself when bit 7 is set
 *   2..7   the descriptor table, available and used rings: little-endian
 *          16-bit offsets from region 0's QEMU address (UVA0)
 *   8..9   last_avail to start from
 *   10     pops: (b & 63) + 1
 *   11     publish after pop i when bit (i % 8) is set; want kicks on
 *          after pop i when bit ((i + 4) % 8)
 *   12..15 direction of pop i (write = receive queue): bit i % 32
 *
 * Region 0 is guest physical GPA0, region 1 GPA0 + REGION_SIZE (adjacent)
 * or GPA1_GAP. Every vring_pop() is checked against a walker written here
 * from the rules vring.h states (ref_pop): same result, same buffers; and
 * every buffer must lie inside one region. vring_setup() is checked
 * against the same rules, vring_publish() and vring_want_kicks() against
 * virtio 1.x 2.7.7 and 2.7.10, with and without EVENT_IDX. Work is
 * bounded: at most 64 pops, each chain at most num + 256 descriptors.
 */
#include "fuzz.h"

#include "vmnetd/vring.h"

#define REGION_SIZE	4096u
#define HDR_LEN		16
#define GPA0		0x10000ull
#define GPA1_GAP	0x18000ull
#define UVA0		0x7f0000000000ull
#define UVA1_GAP	(UVA0 + 0x8000)

struct mem {
	struct vhost_mem m;
	uint8_t *host[2];
};

/* Guest range [@addr, @addr + @len) in one region, by @uva or gpa,
 * computed without vring.c's arithmetic: 128 bits, no wrap. */
static uint8_t *ref_translate(const struct vhost_mem *m, uint64_t addr, uint64_t len, bool uva)
{
	for (unsigned i = 0; i < m->n; i++) {
		unsigned __int128 base = uva ? m->r[i].uva : m->r[i].gpa;

		if (addr >= base && (unsigned __int128)addr + len <= base + m->r[i].size)
			return m->r[i].host + (uint64_t)(addr - base);
	}
	return NULL;
}

/* [@p, @p + @len) inside one region of our memory. */
static bool inside(const struct mem *mem, const void *p, size_t len)
{
	for (unsigned i = 0; i < mem->m.n; i++) {
		uintptr_t b = (uintptr_t)mem->host[i], q = (uintptr_t)p;

		if (q >= b && q - b <= REGION_SIZE && len <= REGION_SIZE - (q - b))
			return true;
	}
	return false;
}

static uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* What vring_pop() should do, from vring.h's rules: a chain of at most
 * VRING_CHAIN_MAX non-empty buffers, all of the asked direction (the
 * direction of a zero-length one counts too; an indirect descriptor's
 * does not), each whole in one region; no more descriptors visited in a
 * table than it has, nor VRING_VISIT_MAX in all; one indirect table at most, without NEXT beside it,
 * of 1 to VRING_NUM_MAX whole descriptors. */
static int ref_pop(const struct vring *vr, const struct vhost_mem *m, bool write,
		   struct vring_chain *c)
{
	uint16_t avail_idx = vr->avail[1], head;
	const uint8_t *table = (const uint8_t *)vr->desc;
	unsigned tnum = vr->num, idx, visited = 0, total = 0;
	bool indirect = false;

	if (avail_idx == vr->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vr->last_avail) > vr->num)
		return -1;
	head = vr->avail[2 + vr->last_avail % vr->num];
	if (head >= vr->num)
		return -1;
	memset(c, 0, sizeof(*c));
	c->head = head;
	for (idx = head;;) {
		struct vring_desc d;

		if (++visited > tnum || ++total > VRING_VISIT_MAX)
			return -1;
		memcpy(&d, table + 16ull * idx, sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (d.flags & VRING_DESC_F_NEXT) || !d.len || d.len % 16 ||
			    d.len / 16 > VRING_NUM_MAX)
				return -1;
			if (!(table = ref_translate(m, d.addr, d.len, false)))
				return -1;
			tnum = d.len / 16;
			indirect = true;
			idx = visited = 0;
			continue;
		}
		if (!!(d.flags & VRING_DESC_F_WRITE) != write)
			return -1;
		if (d.len) {
			uint8_t *p;

			if (c->n == VRING_CHAIN_MAX || !(p = ref_translate(m, d.addr, d.len, false)))
				return -1;
			c->iov[c->n].iov_base = p;
			c->iov[c->n++].iov_len = d.len;
			c->len += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 1;
		if (d.next >= tnum)
			return -1;
		idx = d.next;
	}
}

static bool ref_setup(const struct vhost_mem *m, unsigned num, uint64_t desc, uint64_t avail,
		      uint64_t used)
{
	uint8_t *d, *a, *u;

	if (!num || num > VRING_NUM_MAX || (num & (num - 1)))
		return false;
	d = ref_translate(m, desc, 16ull * num, true);
	a = ref_translate(m, avail, 6 + 2ull * num, true);
	u = ref_translate(m, used, 6 + 8ull * num, true);
	/* Aligned as virtio asks: descriptors 16, avail 2, used 4. */
	return d && a && u && !((uintptr_t)d & 15) && !((uintptr_t)a & 1) &&
	       !((uintptr_t)u & 3);
}

/* One chain, as a device uses it: read all of it (and again from an
 * offset, which must agree), fill a receive chain; ASan watches. */
static uint32_t use_chain(const struct vring_chain *c, bool write, uint8_t salt)
{
	size_t off = c->len / 3, n;
	uint8_t *all = g_malloc(c->len + 1), *part = g_malloc(c->len - off + 1);

	FUZZ_CHECK(vring_chain_read(c, 0, all, c->len + 1) == c->len);
	n = vring_chain_read(c, off, part, c->len);
	FUZZ_CHECK(n == c->len - off);
	FUZZ_CHECK(!memcmp(all + off, part, n));
	FUZZ_CHECK(vring_chain_read(c, c->len, all, 1) == 0);
	if (write) {
		memset(all, salt, c->len);
		FUZZ_CHECK(vring_chain_write(c, off, all, c->len) == c->len - off);
		FUZZ_CHECK(vring_chain_write(c, 0, all, c->len + 1) == c->len);
	}
	g_free(all);
	g_free(part);
	return write ? (uint32_t)c->len : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_LEN] = { 0 };
	struct mem mem = { 0 };
	struct vring vr;
	struct vring_chain *c = g_new(struct vring_chain, 1), *ref = g_new(struct vring_chain, 1);
	unsigned num, pops, nregions;
	uint64_t desc, avail, used;
	uint32_t dirs;
	bool adjacent;
	size_t left;

	memcpy(hdr, data, MIN(size, sizeof(hdr)));
	data += MIN(size, sizeof(hdr));
	left = size - MIN(size, sizeof(hdr));
	nregions = hdr[0] & 1 ? 2 : 1;
	adjacent = hdr[0] & 2;
	num = hdr[1] & 0x80 ? hdr[1] & 0x7fu : 1u << (hdr[1] & 15);
	desc = UVA0 + ld16(hdr + 2);
	avail = UVA0 + ld16(hdr + 4);
	used = UVA0 + ld16(hdr + 6);
	pops = (hdr[10] & 63) + 1;
	memcpy(&dirs, hdr + 12, 4);

	mem.m.n = nregions;
	for (unsigned i = 0; i < nregions; i++) {
		size_t n = MIN(left, REGION_SIZE);

		mem.host[i] = g_malloc0(REGION_SIZE);
		memcpy(mem.host[i], data, n);
		data += n;
		left -= n;
		mem.m.r[i] = (struct vhost_mem_region){
			.gpa = i == 0 ? GPA0 : adjacent ? GPA0 + REGION_SIZE : GPA1_GAP,
			.uva = i == 0 ? UVA0 : adjacent ? UVA0 + REGION_SIZE : UVA1_GAP,
			.size = REGION_SIZE,
			.host = mem.host[i],
		};
	}

	if (!vring_setup(&vr, &mem.m, num, desc, avail, used)) {
		FUZZ_CHECK(!ref_setup(&mem.m, num, desc, avail, used));
		goto out;
	}
	FUZZ_CHECK(ref_setup(&mem.m, num, desc, avail, used));
	FUZZ_CHECK(vr.num == num);
	FUZZ_CHECK(inside(&mem, vr.desc, 16ull * num));
	FUZZ_CHECK(inside(&mem, vr.avail, 6 + 2ull * num));
	FUZZ_CHECK(inside(&mem, vr.used, 6 + 8ull * num));
	vr.last_avail = ld16(hdr + 8);
	vr.event_idx = hdr[0] & 4;

	for (unsigned i = 0; i < pops; i++) {
		bool write = dirs >> (i % 32) & 1;
		uint16_t before = vr.last_avail, used_before = vr.used_idx;
		unsigned pending = vring_pending(&vr);
		int want = ref_pop(&vr, &mem.m, write, ref);
		int r = vring_pop(&vr, &mem.m, write, c);
		size_t total = 0;
		uint32_t len;

		FUZZ_CHECK(r == want);
		if (r <= 0) {
			FUZZ_CHECK(vr.last_avail == before);
			FUZZ_CHECK(r < 0 || pending == 0);
			if (r < 0)
				break;	/* the port would be disconnected */
			if (hdr[0] & 8)
				vr.avail[1]++;
			continue;
		}
		FUZZ_CHECK(pending >= 1);
		FUZZ_CHECK(vr.last_avail == (uint16_t)(before + 1));
		FUZZ_CHECK(c->head == ref->head && c->head < num);
		FUZZ_CHECK(c->n == ref->n && c->n <= VRING_CHAIN_MAX);
		for (unsigned k = 0; k < c->n; k++) {
			FUZZ_CHECK(c->iov[k].iov_base == ref->iov[k].iov_base);
			FUZZ_CHECK(c->iov[k].iov_len == ref->iov[k].iov_len);
			FUZZ_CHECK(c->iov[k].iov_len > 0);
			FUZZ_CHECK(inside(&mem, c->iov[k].iov_base, c->iov[k].iov_len));
			total += c->iov[k].iov_len;
		}
		FUZZ_CHECK(total == c->len);

		len = use_chain(c, write, (uint8_t)i);
		vring_push(&vr, c->head, len);
		FUZZ_CHECK(vr.used_idx == (uint16_t)(used_before + 1));
		{
			const uint8_t *e = vr.used + 4 + 8 * (used_before % num);
			uint32_t id, l;

			memcpy(&id, e, 4);
			memcpy(&l, e + 4, 4);
			FUZZ_CHECK(id == c->head && l == len);
		}
		if (hdr[11] >> (i % 8) & 1) {
			uint16_t old = vr.signalled_used;
			bool irq = vring_publish(&vr);
			/* Read after: the used index may overlap what the
			 * guest asks with (the guest may overlap anything). */
			bool quiet = vr.avail[0] & VRING_AVAIL_F_NO_INTERRUPT;
			uint16_t event = vr.avail[2 + num];

			FUZZ_CHECK(ld16(vr.used + 2) == vr.used_idx);
			FUZZ_CHECK(vr.signalled_used == vr.used_idx);
			if (vr.event_idx)	/* virtio 1.x 2.7.10: vring_need_event() */
				FUZZ_CHECK(irq == ((uint16_t)(vr.used_idx - event - 1) <
						   (uint16_t)(vr.used_idx - old)));
			else
				FUZZ_CHECK(irq == !quiet);
		}
		{
			bool on = hdr[11] >> ((i + 4) % 8) & 1;

			vring_want_kicks(&vr, on);
			if (vr.event_idx && on)
				FUZZ_CHECK(ld16(vr.used + 4 + 8 * num) == ld16((uint8_t *)vr.avail + 2));
			else if (!vr.event_idx)
				FUZZ_CHECK((ld16(vr.used) & VRING_USED_F_NO_NOTIFY) == !on);
		}
	}
	vring_publish(&vr);
	FUZZ_CHECK(!vring_publish(&vr));
out:
	for (unsigned i = 0; i < nregions; i++)
		g_free(mem.host[i]);
	g_free(c);
	g_free(ref);
	return 0;
}
