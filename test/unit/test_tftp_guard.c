/* test_tftp_guard.c - TFTP requests judged against a real root (files, a
 * directory, symlinks in and out, a FIFO) with openat2 and without, the
 * ERROR replies, and fuzzed requests. */
#include <arpa/inet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmnetd/tftp_guard.h"

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x15 };
static const uint8_t gw_mac[6] = { 0x52, 0x55, 10, 0, 2, 2 };
static struct tftp_guard guard;
static char *tmp, *root_path;

static void make_root(void)
{
	tmp = g_dir_make_tmp("tftp_guard-XXXXXX", NULL);
	g_assert_nonnull(tmp);
	root_path = g_build_filename(tmp, "root", NULL);
	g_assert_cmpint(chdir(tmp), ==, 0);
	g_assert_true(g_file_set_contents("outside.txt", "secret", -1, NULL));
	g_assert_cmpint(g_mkdir("root", 0755), ==, 0);
	g_assert_cmpint(g_mkdir("root/pxelinux.cfg", 0755), ==, 0);
	g_assert_true(g_file_set_contents("root/boot.bin", "boot", -1, NULL));
	g_assert_true(g_file_set_contents("root/pxelinux.cfg/default", "x", -1, NULL));
	g_assert_cmpint(symlink("../outside.txt", "root/escape"), ==, 0);
	g_assert_cmpint(symlink("/etc", "root/etc"), ==, 0);
	g_assert_cmpint(symlink("boot.bin", "root/inside"), ==, 0);
	g_assert_cmpint(mkfifo("root/fifo", 0644), ==, 0);
	guard.root = root_path;
	inet_pton(AF_INET, "10.0.2.2", &guard.server4);
	inet_pton(AF_INET6, "fec0::2", &guard.server6);
}

static void remove_root(void)
{
	const char *files[] = { "root/pxelinux.cfg/default", "root/boot.bin", "root/escape",
				"root/etc", "root/inside", "root/fifo", "outside.txt",
				"root/pxelinux.cfg", "root" };

	for (size_t i = 0; i < G_N_ELEMENTS(files); i++)
		g_assert_cmpint(g_remove(files[i]), ==, 0);
	g_assert_cmpint(chdir("/"), ==, 0);
	g_assert_cmpint(g_rmdir(tmp), ==, 0);
	g_free(root_path);
	g_free(tmp);
}

/* A TFTP datagram with payload @p from 10.0.2.15:2000 to @dst:@dport. */
static size_t udp4(uint8_t *buf, const char *dst, uint16_t dport, const void *p, size_t n)
{
	struct frame_addrs a;

	memcpy(a.src_mac, guest_mac, 6);
	memcpy(a.dst_mac, gw_mac, 6);
	inet_pton(AF_INET, "10.0.2.15", &a.src);
	inet_pton(AF_INET, dst, &a.dst);
	return frame_build_udp4(buf, 1600, &a, 2000, dport, p, n);
}

/* The same over IPv6, from fec0::15 to @dst. */
static size_t udp6(uint8_t *buf, const char *dst, uint16_t dport, const void *p, size_t n)
{
	uint8_t *ip6 = buf + ETH_HLEN, *udp = ip6 + 40;

	memset(buf, 0, ETH_HLEN + 48);
	memcpy(buf, gw_mac, 6);
	memcpy(buf + 6, guest_mac, 6);
	put_be16(buf + 12, ETH_P_IPV6);
	ip6[0] = 0x60;
	put_be16(ip6 + 4, 8 + n);
	ip6[6] = IPPROTO_UDP_;
	ip6[7] = 64;
	inet_pton(AF_INET6, "fec0::15", ip6 + 8);
	inet_pton(AF_INET6, dst, ip6 + 24);
	put_be16(udp, 2000);
	put_be16(udp + 2, dport);
	put_be16(udp + 4, 8 + n);
	memcpy(udp + 8, p, n);
	return ETH_HLEN + 48 + n;
}

/* An RRQ (or @op) payload for @name in @mode. */
static size_t rrq(uint8_t *p, uint16_t op, const char *name, const char *mode)
{
	size_t n = 2;

	put_be16(p, op);
	memcpy(p + n, name, strlen(name) + 1);
	n += strlen(name) + 1;
	memcpy(p + n, mode, strlen(mode) + 1);
	return n + strlen(mode) + 1;
}

static enum tftp_verdict check(const uint8_t *f, size_t len, enum tftp_error *code)
{
	char why[128];
	enum tftp_verdict v = tftp_guard_check(&guard, f, len, code, why, sizeof(why));

	if (v == TFTP_REFUSE)
		g_test_message("refused: %s", why);
	return v;
}

static void expect_name(const char *name, enum tftp_verdict want, enum tftp_error want_code)
{
	uint8_t p[600], f[1600];
	size_t n = rrq(p, 1, name, "octet");
	enum tftp_error code;

	g_test_message("name \"%s\"", name);
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, n), &code), ==, want);
	g_assert_cmpint(code, ==, want_code);
	g_assert_cmpint(check(f, udp6(f, "fec0::2", 69, p, n), &code), ==, want);
	g_assert_cmpint(code, ==, want_code);
}

static void names(void)
{
	expect_name("boot.bin", TFTP_PASS, TFTP_ERR_NONE);
	expect_name("/boot.bin", TFTP_PASS, TFTP_ERR_NONE);
	expect_name("pxelinux.cfg/default", TFTP_PASS, TFTP_ERR_NONE);
	expect_name("inside", TFTP_PASS, TFTP_ERR_NONE);
	expect_name("pxelinux.cfg", TFTP_REFUSE, TFTP_ERR_NOT_FOUND);	/* libslirp's UAF */
	expect_name("pxelinux.cfg/..", TFTP_REFUSE, TFTP_ERR_NOT_FOUND);
	expect_name(".", TFTP_REFUSE, TFTP_ERR_NOT_FOUND);
	expect_name("missing", TFTP_REFUSE, TFTP_ERR_NOT_FOUND);
	expect_name("boot.bin/x", TFTP_REFUSE, TFTP_ERR_NOT_FOUND);
	expect_name("pxelinux.cfg/", TFTP_REFUSE, TFTP_ERR_ACCESS);
	expect_name("escape", TFTP_REFUSE, TFTP_ERR_ACCESS);		/* symlink out */
	expect_name("etc/passwd", TFTP_REFUSE, TFTP_ERR_ACCESS);	/* absolute symlink */
	expect_name("../outside.txt", TFTP_REFUSE, TFTP_ERR_ACCESS);
	expect_name("..", TFTP_REFUSE, TFTP_ERR_ACCESS);
	expect_name("fifo", TFTP_REFUSE, TFTP_ERR_ACCESS);
	expect_name("", TFTP_REFUSE, TFTP_ERR_ACCESS);
}

static void test_names_openat2(void)
{
	tftp_guard_force_fallback(false);
	names();
}

static void test_names_realpath(void)
{
	tftp_guard_force_fallback(true);
	names();
	tftp_guard_force_fallback(false);
}

/* Only RRQs to the server's port 69 are judged; WRQs and malformed ones are refused. */
static void test_requests(void)
{
	uint8_t p[600], f[1600];
	enum tftp_error code;
	size_t n;

	n = rrq(p, 1, "missing", "octet");
	g_assert_cmpint(check(f, udp4(f, "192.0.2.9", 69, p, n), &code), ==, TFTP_PASS);
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 53, p, n), &code), ==, TFTP_PASS);
	g_assert_cmpint(check(f, udp6(f, "2001:db8::9", 69, p, n), &code), ==, TFTP_PASS);
	udp4(f, "10.0.2.2", 69, p, n);
	f[ETH_HLEN + 9] = IPPROTO_TCP_;
	g_assert_cmpint(check(f, 60, &code), ==, TFTP_PASS);
	n = rrq(p, 2, "boot.bin", "octet");
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, n), &code), ==, TFTP_REFUSE);
	g_assert_cmpint(code, ==, TFTP_ERR_ACCESS);
	put_be16(p, 4);						/* an ACK */
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, 4), &code), ==, TFTP_PASS);
	n = rrq(p, 1, "boot.bin", "netascii");
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, n), &code), ==, TFTP_REFUSE);
	n = rrq(p, 1, "boot.bin", "octet");
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, n - 6), &code), ==, TFTP_REFUSE);
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, n - 1), &code), ==, TFTP_REFUSE);
	g_assert_cmpint(code, ==, TFTP_ERR_ACCESS);
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, 1), &code), ==, TFTP_REFUSE);
	g_assert_cmpint(code, ==, TFTP_ERR_NONE);
	memcpy(p + n, "tsize\0" "0\0", 8);			/* options pass */
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, n + 8), &code), ==, TFTP_PASS);
	guard.root = NULL;
	g_assert_cmpint(check(f, udp4(f, "10.0.2.2", 69, p, n), &code), ==, TFTP_REFUSE);
	g_assert_cmpint(code, ==, TFTP_ERR_ACCESS);
	guard.root = root_path;
}

/* A request in fragments is refused by its first fragment; later ones carry no ports. */
static void test_fragments(void)
{
	uint8_t p[600], f[1600];
	enum tftp_error code;
	size_t n = rrq(p, 1, "pxelinux.cfg", "octet"), len = udp4(f, "10.0.2.2", 69, p, n);
	uint8_t *ip = f + ETH_HLEN;

	put_be16(ip + 6, 0x2000);				/* MF, offset 0 */
	g_assert_cmpint(check(f, len, &code), ==, TFTP_REFUSE);
	g_assert_cmpint(code, ==, TFTP_ERR_NONE);
	put_be16(ip + 6, 1);					/* offset 8 */
	g_assert_cmpint(check(f, len, &code), ==, TFTP_PASS);
	len = udp4(f, "10.0.2.2", 53, p, n);
	put_be16(ip + 6, 0x2000);
	g_assert_cmpint(check(f, len, &code), ==, TFTP_PASS);
	len = udp4(f, "10.0.2.2", 69, p, n);
	put_be16(ip + 2, IP4_HLEN + 2);				/* ports cut short */
	put_be16(ip + 6, 0x2000);
	g_assert_cmpint(check(f, len, &code), ==, TFTP_REFUSE);
}

static uint16_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += get_be16(p);
	if (n)
		s += p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void test_error_frame4(void)
{
	uint8_t p[600], f[1600], out[TFTP_ERROR_FRAME_MAX];
	size_t n = rrq(p, 1, "pxelinux.cfg", "octet"), len = udp4(f, "10.0.2.2", 69, p, n);
	size_t r = tftp_guard_error_frame(out, sizeof(out), f, len, gw_mac, TFTP_ERR_NOT_FOUND);
	uint8_t *ip = out + ETH_HLEN, *udp = ip + IP4_HLEN;

	g_assert_cmpuint(r, ==, ETH_HLEN + IP4_HLEN + UDP_HLEN + 4 + 15);
	g_assert_cmpmem(out, 6, guest_mac, 6);
	g_assert_cmpmem(out + 6, 6, gw_mac, 6);
	g_assert_cmpmem(ip + 12, 4, f + ETH_HLEN + 16, 4);	/* from the server */
	g_assert_cmpmem(ip + 16, 4, f + ETH_HLEN + 12, 4);
	g_assert_cmpuint(get_be16(udp), ==, 69);
	g_assert_cmpuint(get_be16(udp + 2), ==, 2000);
	g_assert_cmpuint(get_be16(udp + 8), ==, 5);
	g_assert_cmpuint(get_be16(udp + 10), ==, 1);
	g_assert_cmpstr((char *)udp + 12, ==, "File not found");
	g_assert_cmpuint(sum(ip, IP4_HLEN, 0), ==, 0xffff);
	g_assert_cmpuint(sum(udp, r - ETH_HLEN - IP4_HLEN,
			     sum(ip + 12, 8, 0) + IPPROTO_UDP_ + r - ETH_HLEN - IP4_HLEN), ==, 0xffff);
	g_assert_cmpuint(tftp_guard_error_frame(out, r - 1, f, len, gw_mac, TFTP_ERR_ACCESS), ==, 0);
	g_assert_cmpuint(tftp_guard_error_frame(out, sizeof(out), f, len, gw_mac, TFTP_ERR_NONE),
			 ==, 0);
	f[6] |= 1;						/* from a group MAC */
	g_assert_cmpuint(tftp_guard_error_frame(out, sizeof(out), f, len, gw_mac, TFTP_ERR_ACCESS),
			 ==, 0);
}

static void test_error_frame6(void)
{
	uint8_t p[600], f[1600], out[TFTP_ERROR_FRAME_MAX];
	size_t n = rrq(p, 2, "boot.bin", "octet"), len = udp6(f, "fec0::2", 69, p, n);
	size_t r = tftp_guard_error_frame(out, sizeof(out), f, len, gw_mac, TFTP_ERR_ACCESS);
	uint8_t *ip6 = out + ETH_HLEN, *udp = ip6 + 40;
	size_t ulen = r - ETH_HLEN - 40;

	g_assert_cmpuint(r, ==, ETH_HLEN + 40 + UDP_HLEN + 4 + 17);
	g_assert_cmpuint(r, <=, TFTP_ERROR_FRAME_MAX);
	g_assert_cmpmem(ip6 + 8, 16, f + ETH_HLEN + 24, 16);
	g_assert_cmpmem(ip6 + 24, 16, f + ETH_HLEN + 8, 16);
	g_assert_cmpuint(get_be16(udp + 2), ==, 2000);
	g_assert_cmpuint(get_be16(udp + 10), ==, 2);
	g_assert_cmpstr((char *)udp + 12, ==, "Access violation");
	g_assert_cmpuint(sum(udp, ulen, sum(ip6 + 8, 32, 0) + IPPROTO_UDP_ + ulen), ==, 0xffff);
}

/* The log line quotes guest text printable only. */
static void test_why_escaped(void)
{
	uint8_t p[600], f[1600];
	size_t n = rrq(p, 1, "a\x01\x1b[2J", "octet");
	enum tftp_error code;
	char why[128];

	g_assert_cmpint(tftp_guard_check(&guard, f, udp4(f, "10.0.2.2", 69, p, n), &code, why,
					 sizeof(why)), ==, TFTP_REFUSE);
	g_assert_nonnull(strstr(why, "\"a??[2J\""));
	g_assert_cmpint(tftp_guard_check(&guard, f, udp4(f, "10.0.2.2", 69, p, n), &code, why, 0),
			==, TFTP_REFUSE);
}

/* Valid requests cut short and with random bytes, IPv4 and IPv6: nothing
 * reads out of bounds (ASan); error frames for whatever was refused. */
static void test_fuzz(void)
{
	const char *seeds[] = { "boot.bin", "pxelinux.cfg", "escape", "../outside.txt", "fifo" };
	GRand *r = g_rand_new_with_seed(69);
	uint8_t p[600], f[1600], out[TFTP_ERROR_FRAME_MAX];
	unsigned refused = 0;

	for (int i = 0; i < 30000; i++) {
		size_t n = rrq(p, g_rand_int_range(r, 0, 6), seeds[i % 5], "octet"), len;
		enum tftp_error code;

		if (i % 4 == 0)
			memcpy(p + n, "blksize\0" "1432", 13), n += 13;
		len = (i & 1) ? udp4(f, "10.0.2.2", 69, p, n) : udp6(f, "fec0::2", 69, p, n);
		for (int k = g_rand_int_range(r, 0, 4); k > 0; k--)
			f[g_rand_int_range(r, 0, len)] = g_rand_int_range(r, 0, 256);
		if (g_rand_boolean(r))
			len = g_rand_int_range(r, 0, len + 1);
		if (check(f, len, &code) == TFTP_REFUSE) {
			refused++;
			tftp_guard_error_frame(out, sizeof(out), f, len, gw_mac, code);
		}
	}
	g_assert_cmpuint(refused, >, 1000);
	g_rand_free(r);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	make_root();
	g_test_add_func("/tftp_guard/names/openat2", test_names_openat2);
	g_test_add_func("/tftp_guard/names/realpath", test_names_realpath);
	g_test_add_func("/tftp_guard/fragments", test_fragments);
	g_test_add_func("/tftp_guard/error-frame/ipv4", test_error_frame4);
	g_test_add_func("/tftp_guard/error-frame/ipv6", test_error_frame6);
	g_test_add_func("/tftp_guard/why-escaped", test_why_escaped);
	g_test_add_func("/tftp_guard/fuzz", test_fuzz);
	g_test_add_func("/tftp_guard/requests", test_requests);
	rc = g_test_run();
	remove_root();
	return rc;
}
