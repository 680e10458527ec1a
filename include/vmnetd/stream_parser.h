/* stream_parser.h - splits QEMU's stream protocol (4-byte big-endian length, then
 * an Ethernet frame) out of a byte stream, in place, with no copy per frame. */
#ifndef VMNETD_STREAM_PARSER_H
#define VMNETD_STREAM_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define STREAM_FRAME_MIN 14		/* an Ethernet header */
#define STREAM_FRAME_MAX 65535		/* QEMU drops the link past this */
/* Room for one whole maximal frame plus a large read's worth of small ones:
 * one read() then yields many frames at MTU 1500. */
#define STREAM_RXBUF_SIZE (256 * 1024)

enum stream_result {
	STREAM_FRAME,		/* frame and len describe the next frame */
	STREAM_NEED_MORE,	/* read more bytes */
	STREAM_BAD_LENGTH,	/* the announced length is unacceptable */
};

struct stream_parser {
	uint8_t *buf;
	size_t fill;		/* bytes read into buf */
	size_t pos;		/* start of the first unparsed frame */
	uint32_t bad_length;	/* the length behind STREAM_BAD_LENGTH */
};

void stream_parser_init(struct stream_parser *sp);
void stream_parser_fini(struct stream_parser *sp);

/* Where the next read() goes and how much fits; compacts first. */
uint8_t *stream_parser_space(struct stream_parser *sp, size_t *room);
void stream_parser_commit(struct stream_parser *sp, size_t n);

/* The next complete frame; the pointer stays valid until the next
 * stream_parser_space(). */
enum stream_result stream_parser_next(struct stream_parser *sp, const uint8_t **frame,
				      size_t *len);

#endif
