/* tftp_guard.c - TFTP requests judged, and refused with an ERROR, before libslirp's server sees them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include <glib.h>

#include "vmnetd/mac.h"
#include "vmnetd/tftp_guard.h"

#define TFTP_RRQ	1
#define TFTP_WRQ	2
#define TFTP_ERROR	5
/* libslirp refuses a name of 512 bytes or more itself (TFTP_FILENAME_MAX). */
#define TFTP_NAME_MAX	511
#define SHOWN_MAX	64	/* guest text quoted in a log line */

static bool force_fallback;

/* The UDP payload of a request to the server's port 69. */
struct tftp_req {
	const uint8_t *payload;
	size_t len;
};

enum tftp_find { NOT_TFTP, TFTP_MALFORMED, TFTP_REQUEST };

/* IPv4 UDP to the server's port 69. A fragment with offset 0 is judged by
 * its ports alone: libslirp takes the reassembled ports from an offset-0
 * fragment, so refusing those is enough to keep a fragmented request out. */
static enum tftp_find find4(const struct tftp_guard *g, uint8_t *frame, size_t len,
			    struct tftp_req *r)
{
	uint8_t *ip = frame_ip4(frame, len), *udp;
	struct udp4_view v;
	size_t ihl, ip_len;
	uint16_t off;

	if (!ip || ip[9] != IPPROTO_UDP_ || memcmp(ip + 16, &g->server4, 4))
		return NOT_TFTP;
	off = get_be16(ip + 6);
	if (off & 0x1fff)
		return NOT_TFTP;		/* no ports in it */
	ihl = (ip[0] & 0xf) * 4;
	ip_len = get_be16(ip + 2);
	udp = frame_ptr(frame, len, ETH_HLEN + ihl, 4);
	if (!udp || ip_len < ihl + 4 || ip_len > len - ETH_HLEN)
		return TFTP_MALFORMED;		/* its ports are not what libslirp would read */
	if (get_be16(udp + 2) != TFTP_PORT)
		return NOT_TFTP;
	if ((off & 0x2000) || !frame_udp4(frame, len, &v))
		return TFTP_MALFORMED;		/* a request is never judged in pieces */
	*r = (struct tftp_req){ v.payload, v.payload_len };
	return TFTP_REQUEST;
}

/* IPv6 UDP (no extension headers: libslirp takes none) to the server's port 69. */
static enum tftp_find find6(const struct tftp_guard *g, uint8_t *frame, size_t len,
			    struct tftp_req *r)
{
	uint8_t *eth = frame_ptr(frame, len, 0, ETH_HLEN);
	uint8_t *ip6 = frame_ptr(frame, len, ETH_HLEN, IP6_HLEN), *udp;
	size_t plen, ulen;

	if (!eth || get_be16(eth + 12) != ETH_P_IPV6 || !ip6 || ip6[0] >> 4 != 6 ||
	    ip6[6] != IPPROTO_UDP_ || memcmp(ip6 + 24, &g->server6, 16))
		return NOT_TFTP;
	plen = get_be16(ip6 + 4);
	udp = frame_ptr(frame, len, ETH_HLEN + IP6_HLEN, 4);
	if (!udp || plen < 4 || !frame_ptr(frame, len, ETH_HLEN + IP6_HLEN, plen))
		return TFTP_MALFORMED;
	if (get_be16(udp + 2) != TFTP_PORT)
		return NOT_TFTP;
	ulen = plen >= UDP_HLEN ? get_be16(udp + 4) : 0;
	if (ulen < UDP_HLEN || ulen > plen)
		return TFTP_MALFORMED;
	*r = (struct tftp_req){ udp + UDP_HLEN, ulen - UDP_HLEN };
	return TFTP_REQUEST;
}

static G_GNUC_PRINTF(5, 6) enum tftp_verdict refuse(enum tftp_error *code, enum tftp_error c,
						      char *why, size_t why_size, const char *fmt,
						      ...)
{
	va_list ap;

	*code = c;
	if (why_size) {
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return TFTP_REFUSE;
}

/* @s for a log line: printable ASCII only, at most SHOWN_MAX - 1 bytes. */
static const char *shown(char out[SHOWN_MAX], const char *s)
{
	size_t i = 0;

	for (; *s && i + 1 < SHOWN_MAX; s++)
		out[i++] = g_ascii_isprint(*s) ? *s : '?';
	out[i] = '\0';
	return out;
}

/* openat2() keeps the whole walk under @dfd and away from /proc magic links;
 * -ENOSYS before Linux 5.6. */
static int open_beneath2(int dfd, const char *rel)
{
#ifdef SYS_openat2
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	long fd = force_fallback ? (errno = ENOSYS, -1) :
		  syscall(SYS_openat2, dfd, rel, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
#else
	(void)dfd;
	(void)rel;
	return -ENOSYS;
#endif
}

/* Without openat2: resolve everything, check the result is under the
 * resolved root, then open it without following a link swapped in since. */
static int open_beneath_realpath(const char *root, const char *rel)
{
	char *rroot = realpath(root, NULL), *path, *res = NULL;
	size_t n;
	int fd;

	if (!rroot)
		return -errno;
	path = g_strconcat(rroot, "/", rel, NULL);
	res = realpath(path, NULL);
	n = strlen(rroot);
	if (!res)
		fd = -errno;
	else if (strncmp(res, rroot, n) || (n > 1 && res[n] && res[n] != '/'))
		fd = -EXDEV;
	else if ((fd = open(res, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		fd = -errno;
	free(rroot);
	free(res);
	g_free(path);
	return fd;
}

/* An O_PATH descriptor (no open side effects, a FIFO does not block) of
 * root + "/" + @rel, the file libslirp would open; -errno on failure. */
static int open_beneath(const char *root, const char *rel)
{
	int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

	if (dfd < 0)
		return -errno;
	fd = open_beneath2(dfd, rel);
	close(dfd);
	if (fd == -ENOSYS)
		fd = open_beneath_realpath(root, rel);
	return fd;
}

static enum tftp_verdict judge_file(const struct tftp_guard *g, const char *name,
				    enum tftp_error *code, char *why, size_t why_size)
{
	const char *rel = name;
	char s[SHOWN_MAX];
	struct stat st;
	int fd, err;

	while (*rel == '/')
		rel++;			/* libslirp opens root + "/" + name: still under root */
	fd = open_beneath(g->root, rel);
	if (fd < 0) {
		err = -fd;
		if (err == ENOENT || err == ENOTDIR)
			return refuse(code, TFTP_ERR_NOT_FOUND, why, why_size,
				      "TFTP read request for \"%s\": no such file", shown(s, name));
		return refuse(code, TFTP_ERR_ACCESS, why, why_size, "TFTP read request for \"%s\": %s",
			      shown(s, name), err == EXDEV || err == ELOOP ? "outside the TFTP root" :
			      g_strerror(err));
	}
	err = fstat(fd, &st) ? errno : 0;
	close(fd);
	if (err)
		return refuse(code, TFTP_ERR_ACCESS, why, why_size, "TFTP read request for \"%s\": %s",
			      shown(s, name), g_strerror(err));
	if (S_ISDIR(st.st_mode))	/* libslirp 4.7.0 would use a freed mbuf */
		return refuse(code, TFTP_ERR_NOT_FOUND, why, why_size,
			      "TFTP read request for \"%s\": a directory", shown(s, name));
	if (!S_ISREG(st.st_mode))
		return refuse(code, TFTP_ERR_ACCESS, why, why_size,
			      "TFTP read request for \"%s\": not a regular file", shown(s, name));
	return TFTP_PASS;
}

/* An RRQ is opcode, name, NUL, mode, NUL[, option, NUL, value, NUL...]:
 * libslirp wants the mode "octet" and the datagram's last byte NUL. */
static enum tftp_verdict judge(const struct tftp_guard *g, const struct tftp_req *r,
			       enum tftp_error *code, char *why, size_t why_size)
{
	const uint8_t *p = r->payload;
	const char *name = (const char *)p + 2, *mode;
	size_t name_len;
	char s[SHOWN_MAX];

	if (r->len < 2)
		return refuse(code, TFTP_ERR_NONE, why, why_size, "TFTP datagram without an opcode");
	if (get_be16(p) == TFTP_WRQ)
		return refuse(code, TFTP_ERR_ACCESS, why, why_size, "TFTP write request");
	if (get_be16(p) != TFTP_RRQ)
		return TFTP_PASS;	/* ACK, ERROR: libslirp's sessions; the rest it ignores */
	name_len = strnlen(name, r->len - 2);
	if (p[r->len - 1] || 3 + name_len >= r->len)
		return refuse(code, TFTP_ERR_ACCESS, why, why_size, "malformed TFTP read request");
	mode = name + name_len + 1;	/* NUL-terminated: the last byte is NUL */
	if (strcasecmp(mode, "octet"))
		return refuse(code, TFTP_ERR_ACCESS, why, why_size,
			      "TFTP read request in mode \"%s\"", shown(s, mode));
	if (!name_len || name_len > TFTP_NAME_MAX || name[name_len - 1] == '/')
		return refuse(code, TFTP_ERR_ACCESS, why, why_size,
			      "TFTP read request for \"%s\": not a file name", shown(s, name));
	if (!g->root)
		return refuse(code, TFTP_ERR_ACCESS, why, why_size, "TFTP read request: TFTP is off");
	return judge_file(g, name, code, why, why_size);
}

enum tftp_verdict tftp_guard_check(const struct tftp_guard *g, const uint8_t *frame, size_t len,
				   enum tftp_error *code, char *why, size_t why_size)
{
	struct tftp_req r;
	enum tftp_find f = find4(g, (uint8_t *)frame, len, &r);

	if (f == NOT_TFTP)
		f = find6(g, (uint8_t *)frame, len, &r);
	*code = TFTP_ERR_NONE;
	if (why_size)
		why[0] = '\0';
	if (f == NOT_TFTP)
		return TFTP_PASS;
	if (f == TFTP_MALFORMED)
		return refuse(code, TFTP_ERR_NONE, why, why_size,
			      "malformed or fragmented datagram to the TFTP server");
	return judge(g, &r, code, why, why_size);
}

static size_t reply4(uint8_t *buf, size_t size, const uint8_t *request, struct udp4_view *v,
		     const uint8_t src_mac[6], const uint8_t *payload, size_t plen)
{
	struct frame_addrs a;
	uint32_t client;

	memcpy(a.dst_mac, request + 6, 6);
	memcpy(a.src_mac, src_mac, 6);
	memcpy(&a.src.s_addr, v->ip + 16, 4);
	memcpy(&a.dst.s_addr, v->ip + 12, 4);
	client = ntohl(a.dst.s_addr);
	if (!client || client == INADDR_BROADCAST || IN_MULTICAST(client))
		return 0;
	return frame_build_udp4(buf, size, &a, get_be16(v->udp + 2), get_be16(v->udp), payload,
				plen);
}

static size_t reply6(uint8_t *buf, size_t size, const uint8_t *request, size_t len,
		     const uint8_t src_mac[6], const uint8_t *payload, size_t plen)
{
	const uint8_t *rip = frame_ptr((uint8_t *)request, len, ETH_HLEN, IP6_HLEN);
	const uint8_t *rudp = frame_ptr((uint8_t *)request, len, ETH_HLEN + IP6_HLEN, UDP_HLEN);
	static const uint8_t unspecified[16];
	size_t total = ETH_HLEN + IP6_HLEN + UDP_HLEN + plen;
	uint8_t *ip6 = buf + ETH_HLEN, *udp = ip6 + IP6_HLEN;
	uint16_t csum;

	if (!rip || !rudp || get_be16(request + 12) != ETH_P_IPV6 || rip[0] >> 4 != 6 ||
	    rip[6] != IPPROTO_UDP_ || rip[8] == 0xff || !memcmp(rip + 8, unspecified, 16) ||
	    total > size)
		return 0;
	memcpy(buf, request + 6, 6);
	memcpy(buf + 6, src_mac, 6);
	put_be16(buf + 12, ETH_P_IPV6);
	memset(ip6, 0, IP6_HLEN);
	ip6[0] = 0x60;
	put_be16(ip6 + 4, UDP_HLEN + plen);
	ip6[6] = IPPROTO_UDP_;
	ip6[7] = 64;
	memcpy(ip6 + 8, rip + 24, 16);
	memcpy(ip6 + 24, rip + 8, 16);
	put_be16(udp, get_be16(rudp + 2));
	put_be16(udp + 2, get_be16(rudp));
	put_be16(udp + 4, UDP_HLEN + plen);
	put_be16(udp + 6, 0);
	memcpy(udp + UDP_HLEN, payload, plen);
	csum = frame_checksum(udp, UDP_HLEN + plen,
			      frame_sum16(ip6 + 8, 32, IPPROTO_UDP_ + UDP_HLEN + plen));
	put_be16(udp + 6, csum ? csum : 0xffff);	/* IPv6 UDP needs one */
	return total;
}

size_t tftp_guard_error_frame(uint8_t *buf, size_t size, const uint8_t *request, size_t len,
			      const uint8_t src_mac[6], enum tftp_error code)
{
	const char *text = code == TFTP_ERR_NOT_FOUND ? "File not found" :
			   code == TFTP_ERR_ACCESS ? "Access violation" : NULL;
	const uint8_t *eth = frame_ptr((uint8_t *)request, len, 0, ETH_HLEN);
	uint8_t payload[4 + 32];
	struct udp4_view v;
	size_t plen;

	if (!text || !eth || mac_is_group(eth + 6))
		return 0;
	put_be16(payload, TFTP_ERROR);
	put_be16(payload + 2, code);
	plen = 4 + strlen(text) + 1;
	memcpy(payload + 4, text, plen - 4);
	if (frame_udp4((uint8_t *)request, len, &v))
		return reply4(buf, size, request, &v, src_mac, payload, plen);
	return reply6(buf, size, request, len, src_mac, payload, plen);
}

void tftp_guard_force_fallback(bool on)
{
	force_fallback = on;
}
