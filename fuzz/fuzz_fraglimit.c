/* fuzz_fraglimit.c - the IPv4 fragment budget in front of libslirp, fed frames from four sources over time. */
#include "fuzz.h"

#include "vmnetd/fraglimit.h"
#include "vmnetd/frame.h"

#define SEC 1000000000LL

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

/* Each record: one control byte, then a frame.
 *   bits 0-1  the source (a port)
 *   bits 2-4  time passing first: 0, 1 ms, 100 ms, 1 s, 10 s, 39 s, 41 s, 1 h
 *   bit 5     the source goes first (fraglimit_forget_source)
 * Budgets are small (8 datagrams, 16 fragments' worth) so they fill. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t steps[8] = { 0, SEC / 1000, SEC / 10, SEC, 10 * SEC, 39 * SEC,
					  41 * SEC, 3600 * SEC };
	static const char sources[4];
	const size_t max_bytes = 16 * FRAGLIMIT_FRAG_COST;
	const unsigned max_count = 8;
	struct fuzz_reader r = { data, size };
	struct fraglimit *f = fraglimit_new(max_bytes, max_count, FRAGLIMIT_TIMEOUT_NS);
	int64_t now = 1000 * SEC;
	uint8_t *rec;
	size_t len;

	while ((rec = fuzz_record(&r, &len))) {
		uint8_t ctl = len ? rec[0] : 0;
		const void *src = &sources[ctl & 3];
		uint8_t *frame = rec + 1;
		size_t flen = len ? len - 1 : 0;
		uint8_t *ip = frame_ip4(frame, flen);
		struct fraglimit_stats st;
		bool ok;

		now += steps[(ctl >> 2) & 7];
		if (ctl & 0x20)
			fraglimit_forget_source(f, src);
		ok = fraglimit_admit(f, src, frame, flen, now);
		/* Anything but an IPv4 fragment always passes. */
		if (!ip || !(get_be16(ip + 6) & 0x3fff))
			FUZZ_CHECK(ok);
		fraglimit_get_stats(f, &st);
		FUZZ_CHECK(st.bytes <= max_bytes);
		FUZZ_CHECK(st.count <= max_count);
		FUZZ_CHECK(!st.count == !st.bytes);
		g_free(rec);
	}
	fraglimit_free(f);
	return 0;
}
