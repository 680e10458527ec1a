/* capture.h - a packet capture of a network's frames into a pcap file
 * (Ethernet link type) that tcpdump and Wireshark read. */
#ifndef VMNETD_CAPTURE_H
#define VMNETD_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "vmnetd/loop.h"

#define CAPTURE_SNAPLEN_DEFAULT	65535	/* tcpdump's default; a 65520-MTU frame is 65534 */
#define CAPTURE_SNAPLEN_MAX	262144	/* libpcap's own upper bound */
/* Frames wait in memory this long at most: one write per loop iteration
 * keeps the file current for `tcpdump -r` while a stalled reader (a full
 * pipe) costs at most this much before frames are dropped, counted. */
#define CAPTURE_BUFFER		(1u << 20)

struct capture;

struct capture_stats {
	uint64_t frames, bytes;		/* written (bytes as on the wire) */
	uint64_t dropped;		/* frames the file could not take in time */
};

/* Starts writing to @fd (taken; made non-blocking): the pcap header now,
 * frames as capture_frame() gives them, flushed after each loop iteration.
 * Frames are cut to @snaplen (1..CAPTURE_SNAPLEN_MAX). NULL with @err if
 * the header cannot be written. */
struct capture *capture_new(struct loop *l, int fd, uint32_t snaplen, GError **err);
/* Record one frame, stamped now. */
void capture_frame(struct capture *c, const uint8_t *frame, size_t len);
/* Writes what is left, closes the file and frees; *@st (may be NULL) gets the counts. */
void capture_free(struct capture *c, struct capture_stats *st);
/* Whether a write to the file failed (disk full...): the capture then stopped. */
bool capture_failed(const struct capture *c);

#endif
