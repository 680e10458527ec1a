/* test_txring.c - the output ring: wire format, padding, wrap-around, bound. */
#include <glib.h>
#include <string.h>

#include "vmnetd/txring.h"

/* Drain the ring into one flat buffer. */
static size_t drain(struct txring *r, uint8_t *out)
{
	struct iovec iov[2];
	int n = txring_peek(r, iov);
	size_t total = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + total, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	txring_consume(r, total);
	return total;
}

static void test_format_and_pad(void)
{
	struct txring r;
	uint8_t frame[42], out[128];

	memset(frame, 0xab, sizeof(frame));
	txring_init(&r, 1024);
	g_assert_true(txring_push_frame(&r, frame, sizeof(frame), 60));
	g_assert_cmpuint(drain(&r, out), ==, 64);
	g_assert_cmpuint(out[2] << 8 | out[3], ==, 60);
	g_assert_cmpuint(out[4 + 41], ==, 0xab);
	g_assert_cmpuint(out[4 + 42], ==, 0);
	g_assert_cmpuint(out[63], ==, 0);
	txring_fini(&r);
}

static void test_wrap(void)
{
	struct txring r;
	uint8_t frame[100], out[256];
	struct iovec iov[2];

	txring_init(&r, 256);
	for (int round = 0; round < 50; round++) {
		memset(frame, round, sizeof(frame));
		g_assert_true(txring_push_frame(&r, frame, sizeof(frame), 60));
		g_assert_true(txring_push_frame(&r, frame, sizeof(frame), 60));
		g_assert_false(txring_push_frame(&r, frame, sizeof(frame), 60));
		g_assert_cmpuint(txring_peek(&r, iov), >=, 1);
		g_assert_cmpuint(drain(&r, out), ==, 208);
		g_assert_cmpuint(out[4], ==, round);
		g_assert_cmpuint(out[104 + 4 + 99], ==, round);
	}
	txring_fini(&r);
}

static void test_partial_consume(void)
{
	struct txring r;
	uint8_t frame[60] = { 1 };

	txring_init(&r, 128);
	g_assert_true(txring_push_frame(&r, frame, sizeof(frame), 60));
	txring_consume(&r, 10);
	g_assert_cmpuint(txring_used(&r), ==, 54);
	g_assert_true(txring_push_frame(&r, frame, sizeof(frame), 60));
	g_assert_cmpuint(txring_used(&r), ==, 118);
	txring_fini(&r);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/txring/format-and-pad", test_format_and_pad);
	g_test_add_func("/txring/wrap", test_wrap);
	g_test_add_func("/txring/partial-consume", test_partial_consume);
	return g_test_run();
}
