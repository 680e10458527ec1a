/* capture.c - pcap writer for a network's frames.
 *
 * The classic pcap format (microsecond stamps, link type Ethernet), which
 * every reader takes. Frames collect in one buffer that is written once per
 * loop iteration; the file is non-blocking, so a slow reader behind a pipe
 * costs dropped capture records, never a stalled switch.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "vmnetd/capture.h"
#include "vmnetd/error.h"

#define PCAP_MAGIC_USEC		0xa1b2c3d4u
#define PCAP_LINKTYPE_ETHERNET	1

struct pcap_file_header {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_record_header {
	uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

struct capture {
	struct loop *loop;
	struct loop_hook *flush_hook;
	int fd;
	uint32_t snaplen;
	uint8_t *buf;
	size_t used;
	size_t first_rec;	/* where the first whole record starts in buf; what is
				 * before it is the rest of one partly written */
	uint32_t cut_orig_len;	/* that record's frame length */
	bool failed;
	struct capture_stats stats;
};

static struct pcap_record_header record_at(const struct capture *c, size_t at)
{
	struct pcap_record_header r;

	memcpy(&r, c->buf + at, sizeof(r));
	return r;
}

static size_t record_len(const struct capture *c, size_t at)
{
	return sizeof(struct pcap_record_header) + record_at(c, at).incl_len;
}

/* @n bytes went out: find where the first whole record now starts, and
 * note the size of one the write cut in two. */
static void advance(struct capture *c, size_t n)
{
	size_t at = c->first_rec, prev = at;
	bool crossed = false;

	while (at < n) {
		prev = at;
		at += record_len(c, at);
		crossed = true;
	}
	/* A write that ends inside a record it began: that one is cut now (a
	 * write within the one cut before leaves it as it was). */
	if (crossed && at > n)
		c->cut_orig_len = record_at(c, prev).orig_len;
	c->first_rec = at - n;
}

/* A record in the buffer at capture_free() never reached the file whole. */
static void unwritten(struct capture *c, uint32_t orig_len)
{
	c->stats.frames--;
	c->stats.bytes -= orig_len;
	c->stats.dropped++;
}

/* Write out what the buffer holds; what the file cannot take now stays. */
static void flush(struct capture *c)
{
	while (c->used && !c->failed) {
		ssize_t n = write(c->fd, c->buf, c->used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			g_warning("capture: write failed: %s; capture stopped",
				  n < 0 ? g_strerror(errno) : "no progress");
			c->failed = true;
			return;
		}
		advance(c, (size_t)n);
		memmove(c->buf, c->buf + n, c->used - (size_t)n);
		c->used -= (size_t)n;
	}
}

static int flush_hook(void *opaque, struct loop *l)
{
	(void)l;
	flush(opaque);
	return -1;
}

static void append(struct capture *c, const void *data, size_t len)
{
	memcpy(c->buf + c->used, data, len);
	c->used += len;
}

struct capture *capture_new(struct loop *l, int fd, uint32_t snaplen, GError **err)
{
	struct pcap_file_header h = {
		.magic = PCAP_MAGIC_USEC, .version_major = 2, .version_minor = 4,
		.snaplen = snaplen, .linktype = PCAP_LINKTYPE_ETHERNET,
	};
	struct capture *c;

	if (snaplen < 1 || snaplen > CAPTURE_SNAPLEN_MAX) {
		vmnetd_set_error(err, "snaplen must be 1 to %u", CAPTURE_SNAPLEN_MAX);
		close(fd);
		return NULL;
	}
	c = g_new0(struct capture, 1);
	*c = (struct capture){ .loop = l, .fd = fd, .snaplen = snaplen,
			       .buf = g_malloc(CAPTURE_BUFFER) };
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	append(c, &h, sizeof(h));
	c->first_rec = sizeof(h);	/* the file header is no record */
	flush(c);
	if (c->failed || c->used) {
		vmnetd_set_error(err, "cannot write the capture file");
		capture_free(c, NULL);
		return NULL;
	}
	c->flush_hook = loop_add_hook(l, flush_hook, c);
	return c;
}

void capture_frame(struct capture *c, const uint8_t *frame, size_t len)
{
	int64_t now = g_get_real_time();
	uint32_t incl = len < c->snaplen ? (uint32_t)len : c->snaplen;
	struct pcap_record_header r = {
		.ts_sec = (uint32_t)(now / G_USEC_PER_SEC),
		.ts_usec = (uint32_t)(now % G_USEC_PER_SEC),
		.incl_len = incl, .orig_len = (uint32_t)len,
	};

	if (c->failed)
		return;
	if (c->used + sizeof(r) + incl > CAPTURE_BUFFER)
		flush(c);
	if (c->used + sizeof(r) + incl > CAPTURE_BUFFER) {
		c->stats.dropped++;
		return;
	}
	append(c, &r, sizeof(r));
	append(c, frame, incl);
	c->stats.frames++;
	c->stats.bytes += len;
}

bool capture_failed(const struct capture *c)
{
	return c->failed;
}

void capture_free(struct capture *c, struct capture_stats *st)
{
	if (!c)
		return;
	if (c->flush_hook)
		loop_del_hook(c->loop, c->flush_hook);
	/* The last records, as far as the file takes them without waiting;
	 * those it did not take were not written after all. */
	flush(c);
	if (c->first_rec && c->used)
		unwritten(c, c->cut_orig_len);
	for (size_t at = c->first_rec; at < c->used; at += record_len(c, at))
		unwritten(c, record_at(c, at).orig_len);
	if (st)
		*st = c->stats;
	close(c->fd);
	g_free(c->buf);
	g_free(c);
}
