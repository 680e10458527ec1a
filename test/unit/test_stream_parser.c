/* test_stream_parser.c - QEMU stream framing: split, merged, zero, runt and oversize lengths. */
#include <glib.h>
#include <string.h>

#include "vmnetd/stream_parser.h"

/* Append a length-prefixed frame of @len bytes, each byte = @fill. */
static void put_frame(GByteArray *b, uint32_t len, uint8_t fill)
{
	uint8_t hdr[4] = { len >> 24, len >> 16, len >> 8, len };

	g_byte_array_append(b, hdr, 4);
	for (uint32_t i = 0; i < len; i++)
		g_byte_array_append(b, &fill, 1);
}

/* Feed @data in pieces of @chunk bytes; collect the frame lengths seen. */
static enum stream_result feed(struct stream_parser *sp, const uint8_t *data, size_t n,
			       size_t chunk, GArray *lens)
{
	enum stream_result r = STREAM_NEED_MORE;

	for (size_t off = 0; off < n;) {
		size_t room, take;
		uint8_t *space = stream_parser_space(sp, &room);
		const uint8_t *f;
		size_t len;

		take = MIN(MIN(chunk, room), n - off);
		memcpy(space, data + off, take);
		stream_parser_commit(sp, take);
		off += take;
		while ((r = stream_parser_next(sp, &f, &len)) == STREAM_FRAME) {
			for (size_t i = 0; i < len; i++)
				g_assert_cmpuint(f[i], ==, f[0]);
			g_array_append_val(lens, len);
		}
		if (r == STREAM_BAD_LENGTH)
			return r;
	}
	return r;
}

static void test_merged(void)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	g_autoptr(GArray) lens = g_array_new(FALSE, FALSE, sizeof(size_t));
	struct stream_parser sp;

	put_frame(b, 60, 1);
	put_frame(b, 1514, 2);
	put_frame(b, 14, 3);
	stream_parser_init(&sp);
	g_assert_cmpint(feed(&sp, b->data, b->len, b->len, lens), ==, STREAM_NEED_MORE);
	g_assert_cmpuint(lens->len, ==, 3);
	g_assert_cmpuint(g_array_index(lens, size_t, 0), ==, 60);
	g_assert_cmpuint(g_array_index(lens, size_t, 1), ==, 1514);
	g_assert_cmpuint(g_array_index(lens, size_t, 2), ==, 14);
	stream_parser_fini(&sp);
}

/* Every split point, including inside the length prefix. */
static void test_split(void)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct stream_parser sp;

	put_frame(b, 100, 7);
	put_frame(b, 65535, 8);
	for (size_t chunk = 1; chunk <= 7; chunk++) {
		g_autoptr(GArray) lens = g_array_new(FALSE, FALSE, sizeof(size_t));

		stream_parser_init(&sp);
		g_assert_cmpint(feed(&sp, b->data, b->len, chunk == 7 ? 4099 : chunk, lens), ==,
				STREAM_NEED_MORE);
		g_assert_cmpuint(lens->len, ==, 2);
		g_assert_cmpuint(g_array_index(lens, size_t, 1), ==, 65535);
		stream_parser_fini(&sp);
	}
}

/* Many maximal frames: the buffer compacts and never overflows. */
static void test_many_large(void)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	g_autoptr(GArray) lens = g_array_new(FALSE, FALSE, sizeof(size_t));
	struct stream_parser sp;

	for (int i = 0; i < 20; i++)
		put_frame(b, 65535 - i, i);
	stream_parser_init(&sp);
	g_assert_cmpint(feed(&sp, b->data, b->len, 100000, lens), ==, STREAM_NEED_MORE);
	g_assert_cmpuint(lens->len, ==, 20);
	stream_parser_fini(&sp);
}

static void check_bad(uint32_t len)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	g_autoptr(GArray) lens = g_array_new(FALSE, FALSE, sizeof(size_t));
	uint8_t hdr[4] = { len >> 24, len >> 16, len >> 8, len };
	struct stream_parser sp;

	put_frame(b, 60, 1);
	g_byte_array_append(b, hdr, 4);
	stream_parser_init(&sp);
	g_assert_cmpint(feed(&sp, b->data, b->len, 3, lens), ==, STREAM_BAD_LENGTH);
	g_assert_cmpuint(sp.bad_length, ==, len);
	g_assert_cmpuint(lens->len, ==, 1);	/* the good frame before it got through */
	stream_parser_fini(&sp);
}

static void test_zero(void)
{
	check_bad(0);
}

static void test_runt(void)
{
	check_bad(13);
}

static void test_oversize(void)
{
	check_bad(65536);
	check_bad(0xffffffff);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/stream-parser/merged", test_merged);
	g_test_add_func("/stream-parser/split", test_split);
	g_test_add_func("/stream-parser/many-large", test_many_large);
	g_test_add_func("/stream-parser/zero", test_zero);
	g_test_add_func("/stream-parser/runt", test_runt);
	g_test_add_func("/stream-parser/oversize", test_oversize);
	return g_test_run();
}
