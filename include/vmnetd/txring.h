/* txring.h - a port's bounded output queue of frames.
 *
 * Each frame is stored once, as a record: a 4-byte big-endian length, then
 * the frame padded to the port's minimum. That record is QEMU's stream
 * framing, so a stream port writes its whole backlog as it stands, in one
 * writev of at most two pieces (the figures in the README come from that);
 * a port that writes one frame at a time (TAP, datagram) takes the records
 * one by one with txring_peek_frame()/txring_pop_frame(). A port uses one
 * of the two ways, never both.
 */
#ifndef VMNETD_TXRING_H
#define VMNETD_TXRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define TXRING_REC_HDR 4	/* the length before each frame */

struct txring {
	uint8_t *buf;
	size_t size;		/* a power of two */
	uint64_t head, tail;	/* bytes ever consumed / ever queued */
};

void txring_init(struct txring *r, size_t size);
void txring_fini(struct txring *r);

static inline size_t txring_used(const struct txring *r)
{
	return (size_t)(r->tail - r->head);
}

/* Queue one frame, padded with zeros to @min_len. False, and nothing
 * queued, when it does not fit. */
bool txring_push_frame(struct txring *r, const uint8_t *frame, size_t len, size_t min_len);

/* Byte access: describe the queued bytes in at most two iovecs; returns how many. */
int txring_peek(const struct txring *r, struct iovec iov[2]);
void txring_consume(struct txring *r, size_t n);

/* Frame access: the first frame (without its length) in at most two
 * iovecs; returns how many, 0 when the queue is empty. */
int txring_peek_frame(const struct txring *r, struct iovec iov[2]);
/* Drop the first frame. */
void txring_pop_frame(struct txring *r);

#endif
