/* txring.h - a port's bounded output queue, kept in wire format (length + frame)
 * so that a whole backlog leaves in one writev of at most two pieces. */
#ifndef VMNETD_TXRING_H
#define VMNETD_TXRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

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

/* Queue a 4-byte big-endian length and the frame, padded with zeros to
 * @min_len. False, and nothing queued, when it does not fit. */
bool txring_push_frame(struct txring *r, const uint8_t *frame, size_t len, size_t min_len);

/* Describe the queued bytes in at most two iovecs; returns how many. */
int txring_peek(const struct txring *r, struct iovec iov[2]);
void txring_consume(struct txring *r, size_t n);

#endif
