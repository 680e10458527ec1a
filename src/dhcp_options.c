/* dhcp_options.c - the DHCP option walker and writer: every length checked against its area. */
#include <string.h>

#include "vmnetd/dhcp_options.h"
#include "vmnetd/frame.h"

#define DHCP_OPT_DATA_MAX	255	/* one length byte */

bool dhcp_msg_options(const uint8_t *msg, size_t len, const uint8_t **area, size_t *area_len)
{
	static const uint8_t cookie[4] = { 99, 130, 83, 99 };

	if (len < BOOTP_OPTIONS || memcmp(msg + BOOTP_COOKIE, cookie, sizeof(cookie)) != 0)
		return false;
	*area = msg + BOOTP_OPTIONS;
	*area_len = len - BOOTP_OPTIONS;
	return true;
}

void dhcp_opt_walk_init(struct dhcp_opt_walk *w, const uint8_t *area, size_t len)
{
	*w = (struct dhcp_opt_walk){ .area = area, .len = len, .stop = DHCP_OPT_WALKING };
}

bool dhcp_opt_next(struct dhcp_opt_walk *w, struct dhcp_opt *o)
{
	if (w->stop != DHCP_OPT_WALKING)
		return false;
	while (w->off < w->len && w->area[w->off] == DHCP_OPT_PAD)
		w->off++;
	if (w->off >= w->len) {
		w->stop = DHCP_OPT_RAN_OUT;
		return false;
	}
	if (w->area[w->off] == DHCP_OPT_END) {
		w->stop = DHCP_OPT_AT_END;
		return false;
	}
	/* Code and length byte, then the data: each must lie inside the area. */
	if (w->len - w->off < 2 || w->len - w->off - 2 < w->area[w->off + 1]) {
		w->stop = DHCP_OPT_OVERRUN;
		return false;
	}
	o->code = w->area[w->off];
	o->len = w->area[w->off + 1];
	o->data = w->area + w->off + 2;
	w->off += 2 + (size_t)o->len;
	return true;
}

bool dhcp_opts_valid(const uint8_t *area, size_t len)
{
	struct dhcp_opt_walk w;
	struct dhcp_opt o;

	dhcp_opt_walk_init(&w, area, len);
	while (dhcp_opt_next(&w, &o))
		;
	return w.stop != DHCP_OPT_OVERRUN;
}

bool dhcp_opt_find(const uint8_t *area, size_t len, uint8_t code, struct dhcp_opt *o)
{
	struct dhcp_opt_walk w;

	dhcp_opt_walk_init(&w, area, len);
	while (dhcp_opt_next(&w, o))
		if (o->code == code)
			return true;
	return false;
}

bool dhcp_opt_get_u8(const uint8_t *area, size_t len, uint8_t code, uint8_t *v)
{
	struct dhcp_opt o;

	if (!dhcp_opt_find(area, len, code, &o) || o.len != 1)
		return false;
	*v = o.data[0];
	return true;
}

bool dhcp_opt_get_u32(const uint8_t *area, size_t len, uint8_t code, uint32_t *v)
{
	struct dhcp_opt o;

	if (!dhcp_opt_find(area, len, code, &o) || o.len != 4)
		return false;
	*v = (uint32_t)get_be16(o.data) << 16 | get_be16(o.data + 2);
	return true;
}

bool dhcp_opt_get_addr(const uint8_t *area, size_t len, uint8_t code, struct in_addr *a)
{
	struct dhcp_opt o;

	if (!dhcp_opt_find(area, len, code, &o) || o.len != 4)
		return false;
	memcpy(&a->s_addr, o.data, 4);		/* already in network order */
	return true;
}

void dhcp_opt_writer_init(struct dhcp_opt_writer *w, uint8_t *buf, size_t cap)
{
	*w = (struct dhcp_opt_writer){ .buf = buf, .cap = cap };
}

/* Bytes @len of data take as options: a code and length byte per 255-byte piece. */
static size_t opt_wire_len(size_t len)
{
	size_t pieces = len ? (len + DHCP_OPT_DATA_MAX - 1) / DHCP_OPT_DATA_MAX : 1;

	return len + 2 * pieces;
}

bool dhcp_opt_put(struct dhcp_opt_writer *w, uint8_t code, const void *data, size_t len)
{
	const uint8_t *d = data;
	size_t need = opt_wire_len(len);

	/* One byte stays free for the end option; checked so nothing wraps. */
	if (w->off >= w->cap || need > w->cap - w->off - 1)
		return false;
	do {
		size_t piece = len < DHCP_OPT_DATA_MAX ? len : DHCP_OPT_DATA_MAX;

		w->buf[w->off] = code;
		w->buf[w->off + 1] = (uint8_t)piece;
		w->off += 2;
		if (!piece)
			break;
		memcpy(w->buf + w->off, d, piece);
		w->off += piece;
		d += piece;
		len -= piece;
	} while (len);
	return true;
}

bool dhcp_opt_put_u8(struct dhcp_opt_writer *w, uint8_t code, uint8_t v)
{
	return dhcp_opt_put(w, code, &v, 1);
}

bool dhcp_opt_put_u16(struct dhcp_opt_writer *w, uint8_t code, uint16_t v)
{
	uint8_t b[2];

	put_be16(b, v);
	return dhcp_opt_put(w, code, b, sizeof(b));
}

bool dhcp_opt_put_u32(struct dhcp_opt_writer *w, uint8_t code, uint32_t v)
{
	uint8_t b[4];

	put_be16(b, v >> 16);
	put_be16(b + 2, v & 0xffff);
	return dhcp_opt_put(w, code, b, sizeof(b));
}

bool dhcp_opt_put_addr(struct dhcp_opt_writer *w, uint8_t code, struct in_addr a)
{
	return dhcp_opt_put(w, code, &a.s_addr, 4);
}

size_t dhcp_opt_finish(struct dhcp_opt_writer *w)
{
	if (w->off < w->cap)
		w->buf[w->off++] = DHCP_OPT_END;
	return w->off;
}
