/* vhost_user.c - the vhost-user protocol, back-end side, for one net device.
 *
 * QEMU (the front-end) sends requests on a unix socket, each a 12-byte
 * header and a payload, descriptors riding along by SCM_RIGHTS. We read one
 * message at a time, so the descriptors that arrive belong to the message
 * being read. The front-end is the user's own QEMU, but nothing it sends is
 * taken on trust either: sizes, indices and memory regions are checked, and
 * a message we cannot make sense of ends this connection alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "vmnetd/error.h"
#include "vmnetd/vhost_user.h"

enum {
	REQ_GET_FEATURES = 1,
	REQ_SET_FEATURES = 2,
	REQ_SET_OWNER = 3,
	REQ_RESET_OWNER = 4,
	REQ_SET_MEM_TABLE = 5,
	REQ_SET_VRING_NUM = 8,
	REQ_SET_VRING_ADDR = 9,
	REQ_SET_VRING_BASE = 10,
	REQ_GET_VRING_BASE = 11,
	REQ_SET_VRING_KICK = 12,
	REQ_SET_VRING_CALL = 13,
	REQ_SET_VRING_ERR = 14,
	REQ_GET_PROTOCOL_FEATURES = 15,
	REQ_SET_PROTOCOL_FEATURES = 16,
	REQ_GET_QUEUE_NUM = 17,
	REQ_SET_VRING_ENABLE = 18,
	REQ_NET_SET_MTU = 20,
	REQ_GET_CONFIG = 24,
	REQ_SET_CONFIG = 25,
	REQ_RESET_DEVICE = 34,
};

#define HDR_LEN			12
#define FLAG_VERSION		1u
#define FLAG_VERSION_MASK	3u
#define FLAG_REPLY		(1u << 2)
#define FLAG_NEED_REPLY		(1u << 3)

/* Protocol features: acks for every request (REPLY_ACK), the MTU QEMU's
 * host_mtu= sets (NET_MTU; without it QEMU refuses host_mtu), our config
 * space (CONFIG; QEMU 7.2 keeps its own for net, other front-ends ask). */
#define PROTOCOL_F_REPLY_ACK	3
#define PROTOCOL_F_NET_MTU	4
#define PROTOCOL_F_CONFIG	9
#define PROTOCOL_F_RESET_DEVICE	13
#define PROTOCOL_OFFERED ((1ull << PROTOCOL_F_REPLY_ACK) | (1ull << PROTOCOL_F_NET_MTU) | \
			  (1ull << PROTOCOL_F_RESET_DEVICE))

/* SET_VRING_KICK/CALL/ERR's u64: the queue in bits 0-7, bit 8 "no fd". */
#define VRING_IDX_MASK		0xffull
#define VRING_NOFD		(1ull << 8)

/* virtio-net config space: mac[6], status, max_virtqueue_pairs, mtu. */
#define NET_CONFIG_LEN		12
#define NET_CONFIG_MAX		256
#define VIRTIO_NET_S_LINK_UP	1
/* Smallest MTU a guest may ask for: IPv4's 68 (RFC 791). */
#define GUEST_MTU_MIN		68

/* What a request's handler did. */
enum outcome {
	DONE,		/* acked with 0 when the front-end asks */
	REFUSED,	/* acked with 1; the connection goes on */
	REPLIED,	/* it sent its own reply */
	BROKEN,		/* the connection ends (d->why says why) */
};

struct vring_state {
	uint32_t index, num;
};

struct vring_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
};

struct mem_region_msg {
	uint64_t gpa, size, uva, mmap_offset;
};

struct mem_table_msg {
	uint32_t nregions, padding;
	struct mem_region_msg r[VHOST_MEM_MAX_REGIONS];
};

struct config_msg {
	uint32_t offset, size, flags;
	uint8_t region[NET_CONFIG_MAX];
};

/* A handler's view of the message. */
struct request {
	uint32_t code, flags, size;
	const uint8_t *payload;
};

uint64_t vhost_user_offered_features(void)
{
	/* Checksum offload both ways (the port completes a guest's partial
	 * checksum and vouches for those it checked): an emulated guest
	 * spends much of its time summing. No GSO: frames stay whole, at
	 * most MTU + 14 bytes, so the switch and libslirp see ordinary
	 * Ethernet. */
	return (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
	       (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
	       (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_NET_F_STATUS) |
	       (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
	       (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
}

static char why_buf[160];

/* Note why the connection must end; returns BROKEN. */
G_GNUC_PRINTF(1, 2) static enum outcome broken(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	return BROKEN;
}

static bool has_feature(const struct vhost_user_dev *d, unsigned bit)
{
	return d->features & (1ull << bit);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The next descriptor that came with this message, or -1. */
static int take_fd(struct vhost_user_dev *d)
{
	int fd;

	if (!d->nfds)
		return -1;
	fd = d->fds[0];
	memmove(d->fds, d->fds + 1, --d->nfds * sizeof(int));
	return fd;
}

static void drop_fds(struct vhost_user_dev *d)
{
	while (d->nfds)
		close(d->fds[--d->nfds]);
	d->fds_overflow = false;
}

static bool send_reply(struct vhost_user_dev *d, const struct request *rq, const void *payload,
		       uint32_t size)
{
	uint32_t hdr[3] = { rq->code, FLAG_VERSION | FLAG_REPLY, size };
	struct iovec iov[2] = { { hdr, HDR_LEN }, { (void *)payload, size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	/* A reply is a few bytes to a peer waiting for it: a socket buffer
	 * that cannot take them means a front-end that does not read. */
	return sendmsg(d->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)(HDR_LEN + size);
}

static enum outcome reply_u64(struct vhost_user_dev *d, const struct request *rq, uint64_t v)
{
	return send_reply(d, rq, &v, sizeof(v)) ? REPLIED : broken("reply: %s", g_strerror(errno));
}

static bool payload_u64(const struct request *rq, uint64_t *v)
{
	if (rq->size < sizeof(*v))
		return false;
	memcpy(v, rq->payload, sizeof(*v));
	return true;
}

/* The queue a request names, or NULL (no MQ: only one pair exists). */
static struct vhost_user_queue *queue_at(struct vhost_user_dev *d, uint64_t index)
{
	return index < VHOST_USER_QUEUES ? &d->q[index] : NULL;
}

bool vhost_user_live(const struct vhost_user_dev *d, unsigned q)
{
	const struct vhost_user_queue *vq = &d->q[q];

	return vq->mapped && vq->started && vq->enabled;
}

void vhost_user_notify(struct vhost_user_dev *d, unsigned q)
{
	uint64_t one = 1;

	if (d->q[q].call_fd >= 0 && write(d->q[q].call_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		g_debug("%s: call eventfd: %s", d->name, g_strerror(errno));
}

/* The ring no longer points into guest memory (its addresses, size or the
 * memory table change, or it stopped); its place is kept in base. */
static void unmap_queue(struct vhost_user_queue *q)
{
	if (q->mapped)
		q->base = q->vr.last_avail;
	q->mapped = false;
}

/* Point the ring at the current memory table, at its place (base). */
static bool map_queue(struct vhost_user_dev *d, struct vhost_user_queue *q)
{
	unmap_queue(q);
	if (!q->have_addr || !q->num || !d->mem.n)
		return true;
	if (!vring_setup(&q->vr, &d->mem, q->num, q->desc, q->avail, q->used))
		return false;
	q->vr.last_avail = q->base;
	q->vr.event_idx = has_feature(d, VIRTIO_RING_F_EVENT_IDX);
	q->mapped = true;
	return true;
}

static void on_kick(void *opaque, uint32_t events)
{
	struct vhost_user_queue *q = opaque;
	uint64_t count;

	(void)events;
	/* Level-triggered: read the count, or the loop comes straight back. */
	if (read(q->kick_fd, &count, sizeof(count)) != sizeof(count) && errno != EAGAIN) {
		q->dev->ops->broken(q->dev->opaque, "kick eventfd failed");
		return;
	}
	if (vhost_user_live(q->dev, q->index))
		q->dev->ops->kick(q->dev->opaque, q->index);
}

/* Whatever was taken from the queue goes back before it stops or moves. */
static void sync_queue(struct vhost_user_dev *d, unsigned i)
{
	if (d->q[i].mapped)
		d->ops->sync(d->opaque, i);
}

static void stop_queue(struct vhost_user_dev *d, unsigned i)
{
	struct vhost_user_queue *q = &d->q[i];

	sync_queue(d, i);
	q->started = false;
	if (q->kick_fd >= 0)
		loop_watch_del(d->loop, &q->kick_watch);
	close_fd(&q->kick_fd);
}

static void unmap_memory(struct vhost_user_dev *d)
{
	for (unsigned i = 0; i < VHOST_MEM_MAX_REGIONS; i++) {
		if (d->map_base[i])
			munmap(d->map_base[i], d->map_len[i]);
		d->map_base[i] = NULL;
	}
	d->mem.n = 0;
}

/* A queue with nothing set. Its watch stays marked removed (fd -1): the
 * loop may still hold an event fetched for it in this iteration. */
static void fresh_queue(struct vhost_user_dev *d, unsigned i)
{
	d->q[i] = (struct vhost_user_queue){ .dev = d, .index = i, .kick_fd = -1, .call_fd = -1,
					     .err_fd = -1, .kick_watch = { .fd = -1 } };
}

/* Forget the queues' state and the negotiated features (RESET_OWNER,
 * RESET_DEVICE, and the connection's end). */
static void reset_device(struct vhost_user_dev *d)
{
	for (unsigned i = 0; i < VHOST_USER_QUEUES; i++) {
		struct vhost_user_queue *q = &d->q[i];

		stop_queue(d, i);
		close_fd(&q->call_fd);
		close_fd(&q->err_fd);
		fresh_queue(d, i);
	}
	d->features = 0;
}

/* Guest RAM lives in memory (tmpfs: memfd, /dev/shm; or hugetlbfs): a file
 * on a disk or network file system could block the loop in a page fault
 * for as long as its server likes. */
static bool in_memory_fs(int fd)
{
	struct statfs fs;

	return fstatfs(fd, &fs) == 0 &&
	       (fs.f_type == TMPFS_MAGIC || fs.f_type == HUGETLBFS_MAGIC);
}

/* A shared mapping of one region; its descriptor must be a file that
 * holds the whole region (a shorter one would fault when touched). */
static enum outcome map_region(const struct mem_region_msg *r, int fd, struct vhost_mem_region *out,
			       void **base, size_t *len)
{
	struct stat st;
	void *p;

	if (fd < 0)
		return broken("SET_MEM_TABLE: a region without its descriptor");
	if (!r->size || r->mmap_offset > UINT64_MAX - r->size || r->gpa > UINT64_MAX - r->size ||
	    r->uva > UINT64_MAX - r->size || r->mmap_offset + r->size > SIZE_MAX)
		return broken("SET_MEM_TABLE: region of %" G_GUINT64_FORMAT " bytes at offset %"
			      G_GUINT64_FORMAT " out of range", r->size, r->mmap_offset);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !in_memory_fs(fd))
		return broken("guest memory is not a shared file in memory (memfd, /dev/shm or "
			      "hugetlbfs): give QEMU -object memory-backend-memfd,share=on,... "
			      "-machine memory-backend=...");
	if ((uint64_t)st.st_size < r->mmap_offset + r->size)
		return broken("SET_MEM_TABLE: region ends past its file (%" G_GUINT64_FORMAT
			      " > %jd bytes)", r->mmap_offset + r->size, (intmax_t)st.st_size);
	p = mmap(NULL, r->mmap_offset + r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return broken("mapping guest memory: %s", g_strerror(errno));
	*base = p;
	*len = r->mmap_offset + r->size;
	*out = (struct vhost_mem_region){ .gpa = r->gpa, .size = r->size, .uva = r->uva,
					  .host = (uint8_t *)p + r->mmap_offset };
	return DONE;
}

static enum outcome set_mem_table(struct vhost_user_dev *d, const struct request *rq)
{
	struct mem_table_msg m = { 0 };
	enum outcome o = DONE;

	memcpy(&m, rq->payload, MIN(rq->size, sizeof(m)));
	if (rq->size < 8 || !m.nregions || m.nregions > VHOST_MEM_MAX_REGIONS ||
	    rq->size < 8 + m.nregions * sizeof(m.r[0]) || d->nfds != m.nregions)
		return broken("SET_MEM_TABLE: %u regions, %u descriptors, %u bytes", m.nregions,
			      d->nfds, rq->size);
	for (unsigned i = 0; i < VHOST_USER_QUEUES; i++) {
		sync_queue(d, i);
		unmap_queue(&d->q[i]);	/* nothing may use the old mapping now */
	}
	unmap_memory(d);
	for (unsigned i = 0; i < m.nregions && o == DONE; i++) {
		int fd = take_fd(d);

		o = map_region(&m.r[i], fd, &d->mem.r[i], &d->map_base[i], &d->map_len[i]);
		close_fd(&fd);
		d->mem.n = o == DONE ? i + 1 : i;
	}
	/* A stopped queue is mapped when it starts again. */
	for (unsigned i = 0; i < VHOST_USER_QUEUES && o == DONE; i++)
		if (d->q[i].started && !map_queue(d, &d->q[i]))
			o = broken("queue %u lies outside the new memory table", i);
	d->ops->changed(d->opaque);
	return o;
}

static enum outcome set_features(struct vhost_user_dev *d, const struct request *rq)
{
	uint64_t f;

	if (!payload_u64(rq, &f))
		return broken("SET_FEATURES: %u bytes", rq->size);
	if (f & ~vhost_user_offered_features())
		return broken("SET_FEATURES: %#" G_GINT64_MODIFIER "x were never offered",
			      f & ~vhost_user_offered_features());
	d->features = f;
	for (unsigned i = 0; i < VHOST_USER_QUEUES; i++) {
		d->q[i].vr.event_idx = has_feature(d, VIRTIO_RING_F_EVENT_IDX);
		/* Without protocol features a ring is enabled from the start. */
		if (!has_feature(d, VHOST_USER_F_PROTOCOL_FEATURES))
			d->q[i].enabled = true;
	}
	d->ops->changed(d->opaque);
	return DONE;
}

static bool payload_state(const struct request *rq, struct vring_state *s)
{
	if (rq->size < sizeof(*s))
		return false;
	memcpy(s, rq->payload, sizeof(*s));
	return true;
}

static enum outcome set_vring_num(struct vhost_user_dev *d, const struct request *rq)
{
	struct vring_state s;
	struct vhost_user_queue *q;

	if (!payload_state(rq, &s) || !(q = queue_at(d, s.index)))
		return broken("SET_VRING_NUM: no such queue");
	if (!s.num || s.num > VRING_NUM_MAX || (s.num & (s.num - 1)))
		return broken("SET_VRING_NUM: %u entries (a power of two up to %u)", s.num,
			      VRING_NUM_MAX);
	sync_queue(d, s.index);
	unmap_queue(q);		/* the addresses come again (SET_VRING_ADDR) */
	q->num = s.num;
	d->ops->changed(d->opaque);
	return DONE;
}

static enum outcome set_vring_addr(struct vhost_user_dev *d, const struct request *rq)
{
	struct vring_addr a;
	struct vhost_user_queue *q;

	if (rq->size < sizeof(a))
		return broken("SET_VRING_ADDR: %u bytes", rq->size);
	memcpy(&a, rq->payload, sizeof(a));
	if (!(q = queue_at(d, a.index)))
		return broken("SET_VRING_ADDR: no queue %u (one pair, no MQ)", a.index);
	sync_queue(d, a.index);
	q->desc = a.desc;
	q->avail = a.avail;
	q->used = a.used;
	q->have_addr = true;
	if (!map_queue(d, q))
		return broken("queue %u lies outside guest memory (is guest RAM shared? "
			      "-object memory-backend-memfd,share=on)", a.index);
	d->ops->changed(d->opaque);
	return DONE;
}

static enum outcome set_vring_base(struct vhost_user_dev *d, const struct request *rq)
{
	struct vring_state s;
	struct vhost_user_queue *q;

	if (!payload_state(rq, &s) || !(q = queue_at(d, s.index)))
		return broken("SET_VRING_BASE: no such queue");
	q->base = (uint16_t)s.num;
	if (q->mapped)
		q->vr.last_avail = q->base;
	return DONE;
}

static enum outcome get_vring_base(struct vhost_user_dev *d, const struct request *rq)
{
	struct vring_state s;
	struct vhost_user_queue *q;

	if (!payload_state(rq, &s) || !(q = queue_at(d, s.index)))
		return broken("GET_VRING_BASE: no such queue");
	stop_queue(d, s.index);
	/* Stopped: mapped again when it restarts (a new memory table
	 * meanwhile need not hold its old addresses). */
	unmap_queue(q);
	s.num = q->base;
	d->ops->changed(d->opaque);
	return send_reply(d, rq, &s, sizeof(s)) ? REPLIED : broken("reply: %s", g_strerror(errno));
}

/* Kick, call and err descriptors must be eventfds, and are made
 * non-blocking (QEMU's are already): a blocking descriptor, a pipe at EOF
 * or a socket would let a front-end hang or spin the daemon. Where /proc
 * cannot tell, O_NONBLOCK still keeps the loop from blocking. */
static bool usable_eventfd(int fd)
{
	char link[64], want[] = "anon_inode:[eventfd]";
	g_autofree char *path = g_strdup_printf("/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link));
	int flags = fcntl(fd, F_GETFL);

	if (n >= 0 && ((size_t)n != strlen(want) || memcmp(link, want, n)))
		return false;
	return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/* SET_VRING_KICK/CALL/ERR: the queue, and its descriptor (or -1). */
static struct vhost_user_queue *vring_fd_request(struct vhost_user_dev *d,
						 const struct request *rq, int *fd)
{
	uint64_t v;

	*fd = -1;
	if (!payload_u64(rq, &v) || !(v & VRING_NOFD) != !!d->nfds)
		return NULL;
	*fd = take_fd(d);
	if (*fd >= 0 && !usable_eventfd(*fd))
		return NULL;
	return queue_at(d, v & VRING_IDX_MASK);
}

static enum outcome set_vring_kick(struct vhost_user_dev *d, const struct request *rq)
{
	GError *err = NULL;
	struct vhost_user_queue *q;
	int fd;

	if (!(q = vring_fd_request(d, rq, &fd))) {
		close_fd(&fd);
		return broken("SET_VRING_KICK: no such queue, or no eventfd");
	}
	if (fd < 0)	/* polling mode: vmnetd sleeps until kicked */
		return broken("SET_VRING_KICK without a descriptor (polling) is not supported");
	stop_queue(d, q->index);
	if (!q->mapped && !map_queue(d, q)) {
		close_fd(&fd);
		return broken("queue %u lies outside guest memory", q->index);
	}
	q->kick_fd = fd;
	if (!loop_watch_add(d->loop, &q->kick_watch, fd, EPOLLIN, on_kick, q, &err)) {
		close_fd(&q->kick_fd);
		g_snprintf(why_buf, sizeof(why_buf), "kick eventfd: %s", err->message);
		g_error_free(err);
		return BROKEN;
	}
	q->started = true;
	d->ops->changed(d->opaque);
	return DONE;
}

static enum outcome set_vring_call_or_err(struct vhost_user_dev *d, const struct request *rq,
					  bool call)
{
	struct vhost_user_queue *q;
	int fd;

	if (!(q = vring_fd_request(d, rq, &fd))) {
		close_fd(&fd);
		return broken("SET_VRING_%s: no such queue, or no eventfd",
			      call ? "CALL" : "ERR");
	}
	close_fd(call ? &q->call_fd : &q->err_fd);
	*(call ? &q->call_fd : &q->err_fd) = fd;
	return DONE;
}

static enum outcome set_vring_enable(struct vhost_user_dev *d, const struct request *rq)
{
	struct vring_state s;
	struct vhost_user_queue *q;

	if (!payload_state(rq, &s) || !(q = queue_at(d, s.index)))
		return broken("SET_VRING_ENABLE: no such queue");
	if (!s.num)
		sync_queue(d, s.index);
	q->enabled = s.num != 0;
	d->ops->changed(d->opaque);
	return DONE;
}

static enum outcome set_protocol_features(struct vhost_user_dev *d, const struct request *rq)
{
	uint64_t f;

	if (!payload_u64(rq, &f) || (f & ~PROTOCOL_OFFERED))
		return broken("SET_PROTOCOL_FEATURES: not what was offered");
	d->protocol_features = f;
	return DONE;
}

static enum outcome net_set_mtu(struct vhost_user_dev *d, const struct request *rq)
{
	uint64_t mtu;

	if (!payload_u64(rq, &mtu))
		return broken("NET_SET_MTU: %u bytes", rq->size);
	if (mtu < GUEST_MTU_MIN || mtu > d->mtu) {
		g_message("%s: refused host_mtu=%" G_GUINT64_FORMAT ": the network's MTU is %u",
			  d->name, mtu, d->mtu);
		return REFUSED;
	}
	d->guest_mtu = mtu;
	return DONE;
}

/* virtio-net's config space as we would show it: link up, one queue
 * pair, the network's MTU (the MAC is the front-end's to choose). */
static enum outcome get_config(struct vhost_user_dev *d, const struct request *rq)
{
	uint8_t space[NET_CONFIG_LEN] = { 0 };
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1, mtu = MIN(d->mtu, UINT16_MAX);
	struct config_msg c = { 0 };

	memcpy(&c, rq->payload, MIN(rq->size, sizeof(c)));
	if (rq->size < 12 || c.size > NET_CONFIG_MAX || rq->size < 12 + c.size)
		return broken("GET_CONFIG: %u bytes asked in a %u-byte message", c.size, rq->size);
	memcpy(space + 6, &status, 2);
	memcpy(space + 8, &pairs, 2);
	memcpy(space + 10, &mtu, 2);
	memset(c.region, 0, sizeof(c.region));
	if (c.offset < NET_CONFIG_LEN)
		memcpy(c.region, space + c.offset, MIN(c.size, NET_CONFIG_LEN - c.offset));
	return send_reply(d, rq, &c, 12 + c.size) ? REPLIED : broken("reply: %s", g_strerror(errno));
}

static enum outcome dispatch(struct vhost_user_dev *d, const struct request *rq)
{
	switch (rq->code) {
	case REQ_GET_FEATURES:
		return reply_u64(d, rq, vhost_user_offered_features());
	case REQ_SET_FEATURES:
		return set_features(d, rq);
	case REQ_SET_OWNER:
	case REQ_SET_CONFIG:	/* nothing in a net device's config is ours to set */
		return DONE;
	case REQ_RESET_OWNER:
	case REQ_RESET_DEVICE:
		reset_device(d);
		d->ops->changed(d->opaque);
		return DONE;
	case REQ_SET_MEM_TABLE:
		return set_mem_table(d, rq);
	case REQ_SET_VRING_NUM:
		return set_vring_num(d, rq);
	case REQ_SET_VRING_ADDR:
		return set_vring_addr(d, rq);
	case REQ_SET_VRING_BASE:
		return set_vring_base(d, rq);
	case REQ_GET_VRING_BASE:
		return get_vring_base(d, rq);
	case REQ_SET_VRING_KICK:
		return set_vring_kick(d, rq);
	case REQ_SET_VRING_CALL:
		return set_vring_call_or_err(d, rq, true);
	case REQ_SET_VRING_ERR:
		return set_vring_call_or_err(d, rq, false);
	case REQ_GET_PROTOCOL_FEATURES:
		return reply_u64(d, rq, PROTOCOL_OFFERED);
	case REQ_SET_PROTOCOL_FEATURES:
		return set_protocol_features(d, rq);
	case REQ_GET_QUEUE_NUM:
		return reply_u64(d, rq, 1);
	case REQ_SET_VRING_ENABLE:
		return set_vring_enable(d, rq);
	case REQ_NET_SET_MTU:
		return net_set_mtu(d, rq);
	case REQ_GET_CONFIG:
		return get_config(d, rq);
	default:
		/* Requests for features we never offered (migration logs,
		 * MQ, IOTLB...): refused, the rest of the device goes on. */
		g_message("%s: vhost-user request %u not supported", d->name, rq->code);
		return REFUSED;
	}
}

/* Read some of the message being assembled, with its descriptors. */
static ssize_t recv_part(struct vhost_user_dev *d, size_t want)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VHOST_MEM_MAX_REGIONS)];
	} cbuf;
	struct iovec iov = { d->msg + d->msg_have, want };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n = recvmsg(d->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		unsigned count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (unsigned i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (d->nfds < VHOST_MEM_MAX_REGIONS)
				d->fds[d->nfds++] = fd;
			else {
				close(fd);
				d->fds_overflow = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		d->fds_overflow = true;
	d->msg_have += n;
	return n;
}

/* Handle the whole message now in d->msg; false once the connection ended. */
static bool handle_message(struct vhost_user_dev *d)
{
	struct request rq;
	enum outcome o;

	memcpy(&rq.code, d->msg, 4);
	memcpy(&rq.flags, d->msg + 4, 4);
	memcpy(&rq.size, d->msg + 8, 4);
	rq.payload = d->msg + HDR_LEN;
	g_debug("%s: vhost-user request %u, %u bytes, %u fds", d->name, rq.code, rq.size, d->nfds);
	o = d->fds_overflow ? broken("more descriptors than any request carries")
			    : dispatch(d, &rq);
	if ((o == DONE || o == REFUSED) && (rq.flags & FLAG_NEED_REPLY) &&
	    (d->protocol_features & (1ull << PROTOCOL_F_REPLY_ACK)))
		o = reply_u64(d, &rq, o == REFUSED);
	d->msg_have = 0;
	drop_fds(d);		/* a request that should have carried none */
	if (o == BROKEN) {
		d->ops->broken(d->opaque, why_buf);
		return false;
	}
	return true;
}

/* Messages come one at a time; a header is checked before its payload.
 * A front-end that floods requests gets this many per wakeup, then the
 * other ports get their turn (the socket stays readable). */
#define MESSAGES_PER_WAKEUP	64

static void on_socket(void *opaque, uint32_t events)
{
	struct vhost_user_dev *d = opaque;
	unsigned handled = 0;

	(void)events;
	while (handled < MESSAGES_PER_WAKEUP) {
		uint32_t flags, size;
		size_t want;
		ssize_t n;

		if (d->msg_have < HDR_LEN) {
			want = HDR_LEN - d->msg_have;
		} else {
			memcpy(&flags, d->msg + 4, 4);
			memcpy(&size, d->msg + 8, 4);
			if ((flags & FLAG_VERSION_MASK) != FLAG_VERSION || size > VHOST_USER_PAYLOAD_MAX) {
				d->ops->broken(d->opaque, "not a vhost-user message (bad version "
						"or size)");
				return;
			}
			want = HDR_LEN + size - d->msg_have;
		}
		if (want == 0) {
			if (!handle_message(d))
				return;
			handled++;
			continue;
		}
		n = recv_part(d, want);
		if (n == 0) {
			d->ops->broken(d->opaque, "front-end closed the connection");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				d->ops->broken(d->opaque, g_strerror(errno));
			return;
		}
	}
}

bool vhost_user_init(struct vhost_user_dev *d, struct loop *l, int fd, unsigned mtu,
		     const char *name, const struct vhost_user_ops *ops, void *opaque,
		     GError **err)
{
	*d = (struct vhost_user_dev){ .loop = l, .fd = fd, .ops = ops, .opaque = opaque,
				      .name = name, .mtu = mtu };
	for (unsigned i = 0; i < VHOST_USER_QUEUES; i++)
		fresh_queue(d, i);
	if (!loop_watch_add(l, &d->watch, fd, EPOLLIN, on_socket, d, err)) {
		close_fd(&d->fd);
		return false;
	}
	return true;
}

void vhost_user_fini(struct vhost_user_dev *d)
{
	if (d->fd < 0)
		return;
	loop_watch_del(d->loop, &d->watch);
	close_fd(&d->fd);
	drop_fds(d);
	reset_device(d);
	unmap_memory(d);
}
