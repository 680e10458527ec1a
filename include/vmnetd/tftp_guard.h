/* tftp_guard.h - keeps the TFTP requests libslirp 4.7.0 mishandles away from it.
 *
 * libslirp's TFTP server opens root + "/" + the requested name, following
 * symlinks out of the root, and when the name is a directory its read fails
 * and tftp_send_next_block() frees the reply mbuf and then reads the request
 * through it (heap-use-after-free in tftp_udp_output). The guard looks at a
 * guest's request before libslirp does and passes only a read request for a
 * regular file inside the root, resolved the way libslirp will open it.
 * Everything else addressed to libslirp's TFTP server is refused, and may be
 * answered with tftp_guard_error_frame() so the guest fails at once.
 */
#ifndef VMNETD_TFTP_GUARD_H
#define VMNETD_TFTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "vmnetd/frame.h"

#define TFTP_PORT	69
/* Room for any reply tftp_guard_error_frame() writes (IPv6 + the longest message). */
#define TFTP_ERROR_FRAME_MAX	(ETH_HLEN + IP6_HLEN + UDP_HLEN + 4 + 32)

enum tftp_verdict {
	TFTP_PASS,	/* not a request to libslirp's server, or one for a regular file in the root */
	TFTP_REFUSE,	/* drop it before libslirp sees it */
};

/* RFC 1350 error codes the refusal carries. */
enum tftp_error {
	TFTP_ERR_NONE = 0,		/* no answer: too malformed to answer */
	TFTP_ERR_NOT_FOUND = 1,		/* "File not found" */
	TFTP_ERR_ACCESS = 2,		/* "Access violation" */
};

/* libslirp's TFTP server, as configured. */
struct tftp_guard {
	const char *root;		/* SlirpConfig.tftp_path; NULL: TFTP is off */
	struct in_addr server4;		/* SlirpConfig.vhost (the gateway): only it serves TFTP */
	struct in6_addr server6;	/* SlirpConfig.vhost6; all zero when IPv6 is off */
};

/* The verdict on @frame, a guest's frame on its way into libslirp: a read
 * request (RRQ) to the server's UDP port 69, IPv4 or IPv6, passes only for a
 * regular file inside the root after resolving symlinks and ".."; a write
 * request, a directory, a missing file, an escape, a malformed or fragmented
 * request is refused. Everything else passes. On refusal *@code says what
 * to answer and @why (a NUL-terminated line for the log, guest text escaped)
 * says why. */
enum tftp_verdict tftp_guard_check(const struct tftp_guard *g, const uint8_t *frame, size_t len,
				   enum tftp_error *code, char *why, size_t why_size);
/* Write into @buf the TFTP ERROR (opcode 5, @code with its RFC 1350 text)
 * answering @request: from its destination (the server) and @src_mac, to
 * the client's address and port. Returns its length, or 0 if @code is
 * TFTP_ERR_NONE, the request is not an unfragmented UDP datagram, comes
 * from a group MAC or address, or the reply does not fit in @size. */
size_t tftp_guard_error_frame(uint8_t *buf, size_t size, const uint8_t *request, size_t len,
			      const uint8_t src_mac[6], enum tftp_error code);
/* For tests: resolve with realpath() as on kernels without openat2 (< 5.6). */
void tftp_guard_force_fallback(bool on);

#endif
