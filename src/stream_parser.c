/* stream_parser.c - QEMU stream framing: length-prefixed Ethernet frames out of a byte stream.
 *
 * The caller reads straight into the parser's buffer, then takes frames out
 * as pointers into it. Only a trailing partial frame is ever moved (to the
 * start of the buffer, before the next read), so frames cost no copy here.
 */
#include <string.h>

#include <glib.h>

#include "vmnetd/pages.h"
#include "vmnetd/stream_parser.h"

G_STATIC_ASSERT(STREAM_RXBUF_SIZE >= 4 + STREAM_FRAME_MAX);

void stream_parser_init(struct stream_parser *sp)
{
	*sp = (struct stream_parser){ .buf = pages_alloc(STREAM_RXBUF_SIZE) };
}

void stream_parser_fini(struct stream_parser *sp)
{
	pages_free(sp->buf, STREAM_RXBUF_SIZE);
	sp->buf = NULL;
}

uint8_t *stream_parser_space(struct stream_parser *sp, size_t *room)
{
	if (sp->pos) {
		memmove(sp->buf, sp->buf + sp->pos, sp->fill - sp->pos);
		sp->fill -= sp->pos;
		sp->pos = 0;
	}
	*room = STREAM_RXBUF_SIZE - sp->fill;
	return sp->buf + sp->fill;
}

void stream_parser_commit(struct stream_parser *sp, size_t n)
{
	g_assert(n <= STREAM_RXBUF_SIZE - sp->fill);
	sp->fill += n;
}

enum stream_result stream_parser_next(struct stream_parser *sp, const uint8_t **frame,
				      size_t *len)
{
	size_t avail = sp->fill - sp->pos;
	const uint8_t *p = sp->buf + sp->pos;
	uint32_t n;

	if (avail < 4)
		return STREAM_NEED_MORE;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (n < STREAM_FRAME_MIN || n > STREAM_FRAME_MAX) {
		sp->bad_length = n;
		return STREAM_BAD_LENGTH;
	}
	if (avail - 4 < n)
		return STREAM_NEED_MORE;
	*frame = p + 4;
	*len = n;
	sp->pos += 4 + n;
	return STREAM_FRAME;
}
