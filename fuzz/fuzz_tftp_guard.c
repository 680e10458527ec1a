/* fuzz_tftp_guard.c - the TFTP guard in front of libslirp's server, one frame per input, against a root with a file, a directory and escaping symlinks. */
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#include "vmnetd/tftp_guard.h"

static struct tftp_guard guard;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *root;

	(void)argc;
	(void)argv;
	fuzz_init();
	/* What a TFTP root holds, and what a guest would like it to hold. */
	root = g_dir_make_tmp("vmnetd-fuzz-tftp-XXXXXX", NULL);
	FUZZ_CHECK(root);
	g_autofree char *file = g_build_filename(root, "pxelinux.0", NULL);
	g_autofree char *dir = g_build_filename(root, "boot", NULL);
	g_autofree char *inner = g_build_filename(root, "boot", "kernel", NULL);
	g_autofree char *out = g_build_filename(root, "etc", NULL);
	g_autofree char *self = g_build_filename(root, "loop", NULL);
	FUZZ_CHECK(g_file_set_contents(file, "boot", -1, NULL));
	FUZZ_CHECK(mkdir(dir, 0755) == 0);
	FUZZ_CHECK(g_file_set_contents(inner, "kernel", -1, NULL));
	FUZZ_CHECK(symlink("/etc", out) == 0);
	FUZZ_CHECK(symlink("loop", self) == 0);
	guard.root = root;	/* kept for the process's life; /tmp keeps what is left */
	inet_pton(AF_INET, "10.0.2.2", &guard.server4);
	inet_pton(AF_INET6, "fec0::2", &guard.server6);
	return 0;
}

static void check(const uint8_t *frame, size_t len, size_t why_size)
{
	static const uint8_t gw_mac[6] = { 0x52, 0x55, 10, 0, 2, 2 };
	char *why = g_malloc(why_size);
	uint8_t *reply = g_malloc(TFTP_ERROR_FRAME_MAX);
	enum tftp_error code = TFTP_ERR_NONE;
	size_t n;

	memset(why, 'x', why_size);
	if (tftp_guard_check(&guard, frame, len, &code, why, why_size) == TFTP_PASS)
		goto out;
	FUZZ_CHECK(memchr(why, '\0', why_size));	/* a line for the log, cut to fit */
	FUZZ_CHECK(code == TFTP_ERR_NONE || code == TFTP_ERR_NOT_FOUND || code == TFTP_ERR_ACCESS);
	n = tftp_guard_error_frame(reply, TFTP_ERROR_FRAME_MAX, frame, len, gw_mac, code);
	FUZZ_CHECK(n <= TFTP_ERROR_FRAME_MAX);
	if (n && get_be16(reply + 12) == ETH_P_IPV4) {
		struct udp4_view v;

		FUZZ_CHECK(frame_udp4(reply, n, &v));
		FUZZ_CHECK(get_be16(v.udp) == TFTP_PORT);
		FUZZ_CHECK(v.payload_len >= 4 && get_be16(v.payload) == 5);	/* ERROR */
	}
	/* Too small a buffer: nothing written past it. */
	n = tftp_guard_error_frame(reply, 20, frame, len, gw_mac, code);
	FUZZ_CHECK(n == 0);
out:
	g_free(reply);
	g_free(why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 256);
	check(data, size, 1);
	return 0;
}
