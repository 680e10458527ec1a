/* vring.c - the split virtqueue walker, against a guest that may lie.
 *
 * Every descriptor is copied out of guest memory once and judged from the
 * copy (the guest can change it under us); addresses are translated only
 * through the memory table, whole range at once; a chain may not be longer
 * than its table (so no loop goes round twice) nor than VRING_CHAIN_MAX
 * buffers, nor visit more than VRING_VISIT_MAX descriptors (empty ones
 * too); an indirect table may hold no indirect descriptor. Indices the
 * guest publishes are read with acquire and ours written with release
 * ordering, as virtio's memory model asks.
 */
#include <string.h>

#include <glib.h>

#include "vmnetd/vring.h"

static uint8_t *translate(const struct vhost_mem *m, uint64_t addr, uint64_t len, bool by_uva)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vhost_mem_region *r = &m->r[i];
		uint64_t base = by_uva ? r->uva : r->gpa;

		if (addr < base || addr - base > r->size || len > r->size - (addr - base))
			continue;
		return r->host + (addr - base);
	}
	return NULL;
}

uint8_t *vhost_mem_gpa(const struct vhost_mem *m, uint64_t gpa, uint64_t len)
{
	return translate(m, gpa, len, false);
}

uint8_t *vhost_mem_uva(const struct vhost_mem *m, uint64_t uva, uint64_t len)
{
	return translate(m, uva, len, true);
}

static uint16_t load16_acquire(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint16_t *used_idx_ptr(const struct vring *vr)
{
	return (uint16_t *)(vr->used + 2);
}

static uint16_t *used_flags_ptr(const struct vring *vr)
{
	return (uint16_t *)vr->used;
}

bool vring_setup(struct vring *vr, const struct vhost_mem *m, unsigned num, uint64_t desc,
		 uint64_t avail, uint64_t used)
{
	if (!num || num > VRING_NUM_MAX || (num & (num - 1)))
		return false;
	*vr = (struct vring){ .num = num };
	vr->desc = (struct vring_desc *)vhost_mem_uva(m, desc, 16ull * num);
	vr->avail = (uint16_t *)vhost_mem_uva(m, avail, 6ull + 2ull * num);
	vr->used = vhost_mem_uva(m, used, 6ull + 8ull * num);
	/* Indices are read and written whole, descriptors as structs: each
	 * part aligned as virtio asks (16, 2, 4). */
	if (!vr->desc || !vr->avail || !vr->used || ((uintptr_t)vr->desc & 15) ||
	    ((uintptr_t)vr->avail & 1) || ((uintptr_t)vr->used & 3)) {
		*vr = (struct vring){ 0 };
		return false;
	}
	vr->used_idx = load16(used_idx_ptr(vr));
	vr->signalled_used = vr->used_idx;
	return true;
}

unsigned vring_pending(const struct vring *vr)
{
	return (uint16_t)(load16_acquire(&vr->avail[1]) - vr->last_avail);
}

/* One step of a chain: the descriptor at @idx of @table, judged. */
static int take_desc(const struct vring_desc *table, unsigned idx, const struct vhost_mem *m,
		     bool write, struct vring_chain *c, struct vring_desc *d)
{
	memcpy(d, &table[idx], sizeof(*d));	/* one read: the guest may change it */
	if (d->flags & VRING_DESC_F_INDIRECT)
		return 0;
	if (!!(d->flags & VRING_DESC_F_WRITE) != write)
		return -1;
	if (!d->len)
		return 0;
	if (c->n == VRING_CHAIN_MAX)
		return -1;
	c->iov[c->n].iov_base = vhost_mem_gpa(m, d->addr, d->len);
	if (!c->iov[c->n].iov_base)
		return -1;
	c->iov[c->n++].iov_len = d->len;
	c->len += d->len;
	return 0;
}

/* An indirect descriptor: its table replaces the ring's for the chain. */
static const struct vring_desc *indirect_table(const struct vhost_mem *m,
					       const struct vring_desc *d, unsigned *num)
{
	if (d->flags & VRING_DESC_F_NEXT || !d->len || d->len % sizeof(*d) ||
	    d->len / sizeof(*d) > VRING_NUM_MAX)
		return NULL;
	*num = d->len / sizeof(*d);
	return (const struct vring_desc *)vhost_mem_gpa(m, d->addr, d->len);
}

static int walk(struct vring *vr, const struct vhost_mem *m, bool write, uint16_t head,
		struct vring_chain *c)
{
	const struct vring_desc *table = vr->desc;
	unsigned num = vr->num, idx = head, steps = 0, visits = 0;
	bool indirect = false;
	struct vring_desc d;

	for (;;) {
		if (++visits > VRING_VISIT_MAX || take_desc(table, idx, m, write, c, &d) < 0)
			return -1;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect || !(table = indirect_table(m, &d, &num)))
				return -1;
			indirect = true;
			idx = steps = 0;
			continue;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 1;
		/* A chain longer than its table has gone round a loop. */
		if (d.next >= num || ++steps >= num)
			return -1;
		idx = d.next;
	}
}

int vring_pop(struct vring *vr, const struct vhost_mem *m, bool write, struct vring_chain *c)
{
	uint16_t avail_idx = load16_acquire(&vr->avail[1]);
	uint16_t head;

	if (avail_idx == vr->last_avail)
		return 0;
	/* The guest cannot have made more entries available than there are. */
	if ((uint16_t)(avail_idx - vr->last_avail) > vr->num)
		return -1;
	head = load16(&vr->avail[2 + (vr->last_avail & (vr->num - 1))]);
	if (head >= vr->num)
		return -1;
	*c = (struct vring_chain){ .head = head };
	if (walk(vr, m, write, head, c) < 0)
		return -1;
	vr->last_avail++;
	return 1;
}

void vring_push(struct vring *vr, uint16_t head, uint32_t len)
{
	uint8_t *e = vr->used + 4 + 8 * (vr->used_idx & (vr->num - 1));
	uint32_t id = head;

	memcpy(e, &id, 4);
	memcpy(e + 4, &len, 4);
	vr->used_idx++;
}

bool vring_publish(struct vring *vr)
{
	uint16_t old = vr->signalled_used;

	if (vr->used_idx == old)
		return false;
	__atomic_store_n(used_idx_ptr(vr), vr->used_idx, __ATOMIC_RELEASE);
	vr->signalled_used = vr->used_idx;
	/* Our index must be visible before we read whether it wants to know. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vr->event_idx) {
		/* virtio 1.x 2.7.10: only when used_event lies in what we just
		 * made used, [old, new). */
		uint16_t event = load16(&vr->avail[2 + vr->num]);

		return (uint16_t)(vr->used_idx - event - 1) < (uint16_t)(vr->used_idx - old);
	}
	return !(load16(&vr->avail[0]) & VRING_AVAIL_F_NO_INTERRUPT);
}

void vring_want_kicks(struct vring *vr, bool on)
{
	/* With EVENT_IDX the guest kicks once it makes avail_event available:
	 * the entry after those available now, which may be more than we
	 * took (a receive queue short of buffers for a whole frame);
	 * without, unless NO_NOTIFY. Turned off under EVENT_IDX, avail_event
	 * simply stays behind. */
	if (vr->event_idx && on)
		__atomic_store_n((uint16_t *)(vr->used + 4 + 8 * vr->num),
				 load16_acquire(&vr->avail[1]), __ATOMIC_RELAXED);
	else if (!vr->event_idx)
		__atomic_store_n(used_flags_ptr(vr), on ? 0 : VRING_USED_F_NO_NOTIFY,
				 __ATOMIC_RELAXED);
	/* Turned back on: the flag before the next look at the ring, or a
	 * buffer made available in between is missed. */
	if (on)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static size_t chain_copy(const struct vring_chain *c, size_t off, void *buf, size_t len,
			 bool to_chain)
{
	size_t done = 0;

	for (unsigned i = 0; i < c->n && done < len; i++) {
		size_t seg = c->iov[i].iov_len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = MIN(seg - off, len - done);
		if (to_chain)
			memcpy((uint8_t *)c->iov[i].iov_base + off, (const uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, (const uint8_t *)c->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vring_chain_read(const struct vring_chain *c, size_t off, void *dst, size_t len)
{
	return chain_copy(c, off, dst, len, false);
}

size_t vring_chain_write(const struct vring_chain *c, size_t off, const void *src, size_t len)
{
	return chain_copy(c, off, (void *)src, len, true);
}
