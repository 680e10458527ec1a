/* vring.h - virtio split virtqueues in a guest's shared memory, walked by a
 * device that trusts nothing the guest wrote: every address and length is
 * checked against the memory table, chains are bounded, a bad ring is an
 * error for its owner to act on (vhost-user disconnects that port). */
#ifndef VMNETD_VRING_H
#define VMNETD_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Regions QEMU sends at most in SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS). */
#define VHOST_MEM_MAX_REGIONS	8
/* The largest queue virtio allows. */
#define VRING_NUM_MAX		32768
/* Descriptors one chain may have: a frame of 64 KiB in 4 KiB pieces plus a
 * header needs 18; more is a guest at play, and the chain is refused. */
#define VRING_CHAIN_MAX		64
/* Descriptors one chain may visit, empty and indirect ones included: twice
 * the buffers it may have. Bounds the work a guest can ask per chain (a
 * table of 32768 empty descriptors would otherwise be walked whole). */
#define VRING_VISIT_MAX		(2 * VRING_CHAIN_MAX)

#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_USED_F_NO_NOTIFY	1
#define VRING_AVAIL_F_NO_INTERRUPT 1

/* One region of guest memory, mapped into this process. */
struct vhost_mem_region {
	uint64_t gpa;		/* guest physical address */
	uint64_t size;
	uint64_t uva;		/* where QEMU has it (vring addresses are these) */
	uint8_t *host;		/* where we have it */
};

struct vhost_mem {
	unsigned n;
	struct vhost_mem_region r[VHOST_MEM_MAX_REGIONS];
};

/* Our pointer to guest physical [@gpa, @gpa + @len), all in one region;
 * NULL if any byte is outside (or the range wraps). */
uint8_t *vhost_mem_gpa(const struct vhost_mem *m, uint64_t gpa, uint64_t len);
/* The same for a QEMU virtual address (SET_VRING_ADDR's). */
uint8_t *vhost_mem_uva(const struct vhost_mem *m, uint64_t uva, uint64_t len);

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring {
	unsigned num;			/* entries, a power of two */
	struct vring_desc *desc;	/* our pointers, checked at vring_setup() */
	uint16_t *avail;		/* flags, idx, ring[num], used_event */
	uint8_t *used;			/* flags, idx, {id, len}[num], avail_event */
	uint16_t last_avail;		/* the next available entry we take */
	uint16_t used_idx;		/* ours; published to the guest by vring_publish() */
	uint16_t signalled_used;	/* used index at the last interrupt (EVENT_IDX) */
	bool event_idx;			/* VIRTIO_RING_F_EVENT_IDX negotiated */
};

/* A chain taken from the ring: its buffers in our memory. */
struct vring_chain {
	uint16_t head;			/* what goes back in the used ring */
	unsigned n;
	struct iovec iov[VRING_CHAIN_MAX];
	size_t len;			/* bytes in all of iov */
};

/* Point @vr at a queue of @num entries whose parts QEMU placed at @desc,
 * @avail, @used (its own addresses, as SET_VRING_ADDR gives them); false if
 * @num is no power of two up to VRING_NUM_MAX, or a part is outside memory
 * or misaligned. It starts at avail index 0 without EVENT_IDX: a caller
 * sets last_avail (SET_VRING_BASE) and event_idx afterwards. */
bool vring_setup(struct vring *vr, const struct vhost_mem *m, unsigned num, uint64_t desc,
		 uint64_t avail, uint64_t used);

/* Take the next available chain, all its buffers device-writable (@write,
 * the guest's receive queue) or all device-readable (the transmit queue).
 * 1 taken, 0 none available, -1 the guest broke the ring (an index out of
 * range, a loop, a buffer outside memory, a chain too long, nested indirect
 * tables, a buffer of the wrong direction). */
int vring_pop(struct vring *vr, const struct vhost_mem *m, bool write, struct vring_chain *c);
/* Give chain @head back with @len bytes written (0 for a transmit chain);
 * seen by the guest at vring_publish(). */
void vring_push(struct vring *vr, uint16_t head, uint32_t len);
/* Publish what was pushed; true if the guest wants an interrupt for it. */
bool vring_publish(struct vring *vr);
/* Ask the guest for kicks (@on) or not, while we poll the ring anyway;
 * with EVENT_IDX, for the next entry it makes available after those
 * available now. */
void vring_want_kicks(struct vring *vr, bool on);
/* Entries available now, without taking them. */
unsigned vring_pending(const struct vring *vr);

/* Copy @len bytes of @c from byte @off into @dst; bytes copied. */
size_t vring_chain_read(const struct vring_chain *c, size_t off, void *dst, size_t len);
/* Copy @len bytes into @c at byte @off; bytes copied (less if it is short). */
size_t vring_chain_write(const struct vring_chain *c, size_t off, const void *src, size_t len);

#endif
