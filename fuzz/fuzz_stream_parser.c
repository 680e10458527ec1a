/* fuzz_stream_parser.c - QEMU stream framing against a reference model of the same byte stream. */
#include "fuzz.h"

#include "vmnetd/stream_parser.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Each record is one read(): its first byte repeats the rest 1 to 256
 * times, so a small input can fill the 256 KiB buffer and reach the
 * compaction and maximal-frame paths. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size };
	struct stream_parser sp;
	GByteArray *all = g_byte_array_new();	/* every byte read so far */
	size_t model = 0;			/* where the model's next frame starts */
	bool closed = false;
	uint8_t *rec;
	size_t rec_len;

	stream_parser_init(&sp);
	while (!closed && (rec = fuzz_record(&r, &rec_len))) {
		unsigned repeat = rec_len ? rec[0] + 1u : 0;

		for (unsigned i = 0; i < repeat && !closed; i++) {
			size_t room, n = rec_len - 1;
			uint8_t *space = stream_parser_space(&sp, &room);
			const uint8_t *frame;
			size_t len;
			enum stream_result res;

			FUZZ_CHECK(room > 0);
			if (n > room)
				n = room;
			memcpy(space, rec + 1, n);
			stream_parser_commit(&sp, n);
			g_byte_array_append(all, rec + 1, n);
			/* As port_stream.c: every whole frame, then stop at a bad length. */
			while ((res = stream_parser_next(&sp, &frame, &len)) == STREAM_FRAME) {
				FUZZ_CHECK(all->len - model >= 4);
				FUZZ_CHECK(len == be32(all->data + model));
				FUZZ_CHECK(len >= STREAM_FRAME_MIN && len <= STREAM_FRAME_MAX);
				FUZZ_CHECK(all->len - model - 4 >= len);
				FUZZ_CHECK(!memcmp(frame, all->data + model + 4, len));
				model += 4 + len;
			}
			if (res == STREAM_BAD_LENGTH) {
				uint32_t want;

				FUZZ_CHECK(all->len - model >= 4);
				want = be32(all->data + model);
				FUZZ_CHECK(want == sp.bad_length);
				FUZZ_CHECK(want < STREAM_FRAME_MIN || want > STREAM_FRAME_MAX);
				closed = true;
			} else {
				FUZZ_CHECK(all->len - model < 4 ||
					   all->len - model - 4 < be32(all->data + model));
			}
		}
		g_free(rec);
	}
	stream_parser_fini(&sp);
	g_byte_array_unref(all);
	return 0;
}
