/* txring.c - the ring of frame records behind every port's output queue. */
#include <string.h>

#include <glib.h>

#include "vmnetd/pages.h"
#include "vmnetd/txring.h"

void txring_init(struct txring *r, size_t size)
{
	g_assert(size && !(size & (size - 1)));
	*r = (struct txring){ .buf = pages_alloc(size), .size = size };
}

void txring_fini(struct txring *r)
{
	pages_free(r->buf, r->size);
	r->buf = NULL;
}

/* Copy @n bytes in at the tail, wrapping at the end of the buffer. */
static void ring_put(struct txring *r, const void *src, size_t n)
{
	size_t off = r->tail & (r->size - 1);
	size_t first = MIN(n, r->size - off);

	memcpy(r->buf + off, src, first);
	memcpy(r->buf, (const uint8_t *)src + first, n - first);
	r->tail += n;
}

static void ring_zero(struct txring *r, size_t n)
{
	size_t off = r->tail & (r->size - 1);
	size_t first = MIN(n, r->size - off);

	memset(r->buf + off, 0, first);
	memset(r->buf, 0, n - first);
	r->tail += n;
}

bool txring_push_frame(struct txring *r, const uint8_t *frame, size_t len, size_t min_len)
{
	size_t padded = MAX(len, min_len);
	uint8_t hdr[4] = { padded >> 24, padded >> 16, padded >> 8, padded };

	if (padded > UINT32_MAX || 4 + padded > r->size - txring_used(r))
		return false;
	ring_put(r, hdr, 4);
	ring_put(r, frame, len);
	ring_zero(r, padded - len);
	return true;
}

int txring_peek(const struct txring *r, struct iovec iov[2])
{
	size_t used = txring_used(r);
	size_t off = r->head & (r->size - 1);
	size_t first = MIN(used, r->size - off);

	if (!used)
		return 0;
	iov[0] = (struct iovec){ r->buf + off, first };
	if (first == used)
		return 1;
	iov[1] = (struct iovec){ r->buf, used - first };
	return 2;
}

void txring_consume(struct txring *r, size_t n)
{
	g_assert(n <= txring_used(r));
	r->head += n;
}

/* Copy @n bytes out from ring offset @pos, wrapping. */
static void ring_get(const struct txring *r, uint64_t pos, void *dst, size_t n)
{
	size_t off = pos & (r->size - 1);
	size_t first = MIN(n, r->size - off);

	memcpy(dst, r->buf + off, first);
	memcpy((uint8_t *)dst + first, r->buf, n - first);
}

static size_t first_frame_len(const struct txring *r)
{
	uint8_t hdr[TXRING_REC_HDR];

	ring_get(r, r->head, hdr, sizeof(hdr));
	return (size_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
}

int txring_peek_frame(const struct txring *r, struct iovec iov[2])
{
	uint64_t start = r->head + TXRING_REC_HDR;
	size_t len, off, first;

	if (txring_used(r) < TXRING_REC_HDR)
		return 0;
	len = first_frame_len(r);
	off = start & (r->size - 1);
	first = MIN(len, r->size - off);
	iov[0] = (struct iovec){ r->buf + off, first };
	if (first == len)
		return 1;
	iov[1] = (struct iovec){ r->buf, len - first };
	return 2;
}

void txring_pop_frame(struct txring *r)
{
	txring_consume(r, TXRING_REC_HDR + first_frame_len(r));
}
