/* test_vhost_user.c - the vhost-user back-end (vhost_user.c) and its port
 * (port_vhost.c), driven the way QEMU and a guest drive them.
 *
 * The test plays both: a fake QEMU front-end on a socketpair sends its
 * messages as QEMU 7.2 does (12-byte header, payload, descriptors by
 * SCM_RIGHTS in the same sendmsg), guest RAM is a sealed memfd that both
 * sides map (two regions of it, below and above 4 GiB, as a pc machine's
 * RAM), and the guest's virtio-net driver is played on the rings in that
 * memory, with eventfds for kicks and interrupts. The guest honours the
 * device's notification suppression as Linux does, so a kick the daemon
 * forgets to ask for is a frame that never arrives. The daemon side is a
 * real loop, switch and port set, with a fake VM (fake_vm.h) as the other
 * port. Each case checks what a guest or a user would see: frames byte for
 * byte, used rings, interrupts, replies and acks, closed connections, log
 * lines; and every case ends with no descriptor and no mapping of guest
 * RAM left behind in the process.
 *
 * The constants of the protocol are written here from QEMU's
 * docs/interop/vhost-user.rst and the virtio 1.2 spec, not taken from the
 * code under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_vm.h"
#include "vmnetd/frame.h"
#include "vmnetd/port_vhost.h"
#include "vmnetd/switch.h"

/* ---- the protocol, as the front-end speaks it ---- */

enum {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_SET_VRING_ENABLE = 18,
	VU_NET_SET_MTU = 20,
	VU_GET_CONFIG = 24,
};

#define VU_HDR		12
#define VU_VERSION	1u
#define VU_REPLY	(1u << 2)
#define VU_NEED_REPLY	(1u << 3)
#define VU_NOFD		(1ull << 8)	/* SET_VRING_KICK/CALL: no descriptor */
#define VU_PAYLOAD_MAX	512		/* the daemon's documented bound */

#define BIT(n)		(1ull << (n))
/* Protocol features. */
#define PF_REPLY_ACK	3
#define PF_NET_MTU	4
/* Feature bits (virtio 1.2 5.1.3, 6; vhost-user.rst). */
#define F_CSUM		0
#define F_GUEST_CSUM	1
#define F_MTU		3
#define F_GUEST_TSO4	7
#define F_HOST_UFO	14
#define F_MRG_RXBUF	15
#define F_STATUS	16
#define F_CTRL_VQ	17
#define F_MQ		22
#define F_LOG_ALL	26
#define F_INDIRECT	28
#define F_EVENT_IDX	29
#define F_PROTOCOL	30
#define F_VERSION_1	32
#define F_RING_PACKED	34

/* What QEMU 7.2's virtio-net acks for a Linux guest with host_mtu=. */
#define QEMU_FEATURES	(BIT(F_VERSION_1) | BIT(F_MRG_RXBUF) | BIT(F_MTU) | BIT(F_STATUS) | \
			 BIT(F_INDIRECT) | BIT(F_EVENT_IDX) | BIT(F_PROTOCOL))
#define NO_EVENT_IDX	(QEMU_FEATURES & ~BIT(F_EVENT_IDX))
#define NO_MRG_RXBUF	(QEMU_FEATURES & ~BIT(F_MRG_RXBUF))
/* Neither VERSION_1 nor MRG_RXBUF: the 10-byte legacy header. */
#define LEGACY_FEATURES	(BIT(F_STATUS) | BIT(F_EVENT_IDX) | BIT(F_PROTOCOL))

struct vu_state {
	uint32_t index, num;
};

struct vu_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
};

struct vu_region {
	uint64_t gpa, size, uva, mmap_offset;
};

struct vu_mem {
	uint32_t nregions, padding;
	struct vu_region r[9];		/* one more than allowed, to send too many */
};

struct vu_config {
	uint32_t offset, size, flags;
	uint8_t region[256];
};

/* ---- the guest: its RAM and its rings ---- */

#define NUM		256		/* QEMU's default queue size */
#define NET_MTU		1500		/* the network's */
#define RAM_SIZE	(1u << 20)	/* the memfd */
#define R0_SIZE		(RAM_SIZE / 2)	/* region 0: guest physical 0 */
#define R1_GPA		0x100000000ull	/* region 1: the rest, above 4 GiB */
#define R1_SIZE		(RAM_SIZE - R0_SIZE)
#define UVA		0x7f3a00000000ull	/* where "QEMU" has the RAM */
#define GAP_GPA		0x40000000ull	/* in neither region */

/* Queue q's parts, in region 0: descriptors, avail and used rings. */
#define QBASE(q)	(0x10000ull * (q))
#define AVAIL_OFF	0x1000
#define USED_OFF	0x2000
/* Descriptor i's buffer: transmit in region 0 (and, for pieces placed
 * high, region 1's top), receive in region 1. */
#define TX_BUF(i)	(0x20000ull + 0x600ull * (i))
#define TX_BUF_MAX	0x600
#define TX_HI(i)	(R1_GPA + 0x60000ull + 0x200ull * (i))
#define TX_HI_MAX	0x200
#define RX_BUF(i)	(R1_GPA + 0x600ull * (i))
#define RX_BUF_MAX	0x600
#define RX_FILL		0xa5		/* what a posted buffer holds before the device writes */

#define RXQ	0
#define TXQ	1

#define SPIN_MAX	64		/* loop iterations any expected event may take */

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t nobody[6] = { 0x52, 0x54, 0, 0, 0, 0x99 };	/* unknown: flooded */
#define PEER_MAC_LAST	0x01
#define A_MAC_LAST	0x0a
#define B_MAC_LAST	0x0b

struct fx;

/* One virtqueue as the guest's driver keeps it. */
struct gq {
	uint16_t avail_idx;		/* the next entry it makes available */
	uint16_t kicked_idx;		/* avail_idx at its last notification check */
	uint16_t used_seen;		/* used entries taken back */
	uint16_t next_desc;		/* descriptors are handed out round the table */
	uint32_t buf_len[NUM];		/* each receive descriptor's buffer */
	int kick, call;			/* our ends of the eventfds */
};

/* A fake QEMU with its guest. */
struct fe {
	struct fx *fx;
	const char *name;		/* the port's, and the memfd's after "vu-ram-" */
	int sock;
	int mem_fd;
	uint8_t *ram;
	uint64_t features;
	size_t hdr_len;
	struct gq q[2];
	struct port *port;		/* the daemon's, until it closes */
	unsigned port_id;
	bool open;			/* made by fe_open(), not yet released */
	bool closed;			/* the port's close callback ran */
};

struct fx {
	struct loop *l;
	struct vswitch *sw;
	struct port_set *set;
	struct fake_vm *peer;
	GByteArray *peer_last;
	GPtrArray *peer_frames;		/* every frame delivered to the peer, in order */
	struct fe fe[2];
	unsigned fds_before;
};

/* ---- the log, as the user reads it ---- */

static GPtrArray *log_lines;

static GLogWriterOutput capture_log(GLogLevelFlags level, const GLogField *fields, gsize n,
				    gpointer user_data)
{
	(void)user_data;
	if (level & G_LOG_LEVEL_DEBUG)	/* a line per request: only when asked */
		return g_test_verbose() ? g_log_writer_default(level, fields, n, NULL)
					: G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n; i++)
		if (!strcmp(fields[i].key, "MESSAGE") && fields[i].length < 0)
			g_ptr_array_add(log_lines, g_strdup(fields[i].value));
	return g_log_writer_default(level, fields, n, NULL);
}

/* Was a line matching @pattern (g_pattern_match_simple) logged in this case? */
static bool logged(const char *pattern)
{
	for (guint i = 0; i < log_lines->len; i++)
		if (g_pattern_match_simple(pattern, g_ptr_array_index(log_lines, i)))
			return true;
	return false;
}

/* ---- the daemon's loop ---- */

/* Iterate until @cond holds (at most SPIN_MAX times), then insist on it. */
#define spin_until(fx, cond)							\
	do {									\
		for (unsigned spin_ = 0; spin_ < SPIN_MAX && !(cond); spin_++)	\
			loop_run_once((fx)->l);					\
		g_assert_true(cond);						\
	} while (0)

/* Give the daemon a few iterations in which nothing should happen. */
static void spin(struct fx *fx, unsigned n)
{
	while (n--)
		loop_run_once(fx->l);
}

static unsigned count_fds(void)
{
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
	unsigned n = 0;

	g_assert_nonnull(d);
	while (g_dir_read_name(d))
		n++;
	g_dir_close(d);
	return n;
}

/* Mappings in this process of the guest RAM of front-end @name. */
static unsigned ram_mappings(const char *name)
{
	g_autofree char *maps = NULL;
	g_autofree char *needle = g_strdup_printf("memfd:vu-ram-%s ", name);
	unsigned n = 0;

	g_assert_true(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
	for (const char *p = maps; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* ---- the front-end's side of the socket ---- */

static void fe_send_fds(struct fe *fe, uint32_t req, uint32_t flags, const void *payload,
			uint32_t size, const int *fds, unsigned nfds)
{
	uint32_t hdr[3] = { req, flags, size };
	struct iovec iov[2] = { { hdr, VU_HDR }, { (void *)payload, size } };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} cbuf;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	g_assert_cmpuint(nfds, <=, 16);
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	g_assert_cmpint(sendmsg(fe->sock, &mh, MSG_NOSIGNAL), ==, VU_HDR + size);
}

/* A request of version 1, @flags added (VU_NEED_REPLY). */
static void fe_send(struct fe *fe, uint32_t req, uint32_t flags, const void *payload,
		    uint32_t size)
{
	fe_send_fds(fe, req, VU_VERSION | flags, payload, size, NULL, 0);
}

static void fe_send_u64(struct fe *fe, uint32_t req, uint32_t flags, uint64_t v)
{
	fe_send(fe, req, flags, &v, sizeof(v));
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* The daemon's reply to @req: its payload into @buf (at most @cap bytes,
 * which it must fit); returns its size. */
static size_t fe_reply(struct fx *fx, struct fe *fe, uint32_t req, void *buf, size_t cap)
{
	uint32_t hdr[3];

	spin_until(fx, readable(fe->sock));
	g_assert_cmpint(recv(fe->sock, hdr, sizeof(hdr), MSG_WAITALL), ==, VU_HDR);
	g_assert_cmpuint(hdr[0], ==, req);
	g_assert_cmphex(hdr[1], ==, VU_VERSION | VU_REPLY);
	g_assert_cmpuint(hdr[2], <=, cap);
	if (hdr[2])
		g_assert_cmpint(recv(fe->sock, buf, hdr[2], MSG_WAITALL), ==, hdr[2]);
	return hdr[2];
}

/* A u64 reply: a GET's value or a REPLY_ACK's status. */
static uint64_t fe_reply_u64(struct fx *fx, struct fe *fe, uint32_t req)
{
	uint64_t v;

	g_assert_cmpuint(fe_reply(fx, fe, req, &v, sizeof(v)), ==, sizeof(v));
	return v;
}

static uint64_t fe_get_u64(struct fx *fx, struct fe *fe, uint32_t req)
{
	fe_send(fe, req, 0, NULL, 0);
	return fe_reply_u64(fx, fe, req);
}

/* Did the daemon close its end? What it sent before is read and dropped.
 * Closed with our bytes unread, the socket says ECONNRESET instead. */
static bool fe_eof(struct fe *fe)
{
	uint8_t buf[256];
	ssize_t n;

	while ((n = recv(fe->sock, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void on_port_closed(void *opaque, struct port *p)
{
	struct fe *fe = opaque;

	g_assert_true(p == fe->port);
	fe->closed = true;
	fe->port = NULL;
}

/* A new connection: socketpair, guest RAM, eventfds, the daemon's port. */
static void fe_open(struct fx *fx, struct fe *fe)
{
	g_autofree char *memname = g_strdup_printf("vu-ram-%s", fe->name);
	int sv[2];

	g_assert_false(fe->open);
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
	fe->sock = sv[0];
	fe->mem_fd = memfd_create(memname, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	g_assert_cmpint(fe->mem_fd, >=, 0);
	g_assert_cmpint(ftruncate(fe->mem_fd, RAM_SIZE), ==, 0);
	/* As QEMU's memory-backend-memfd (seal=on): the size cannot change. */
	g_assert_cmpint(fcntl(fe->mem_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), ==, 0);
	fe->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fe->mem_fd, 0);
	g_assert_true(fe->ram != MAP_FAILED);
	for (unsigned q = 0; q < 2; q++) {
		fe->q[q] = (struct gq){ 0 };
		fe->q[q].kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		fe->q[q].call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		g_assert_cmpint(fe->q[q].kick, >=, 0);
		g_assert_cmpint(fe->q[q].call, >=, 0);
	}
	fe->hdr_len = 12;
	fe->closed = false;
	fe->port = port_vhost_new(fx->set, sv[1], g_strdup(fe->name), NET_MTU);
	g_assert_nonnull(fe->port);
	fe->port_id = fe->port->id;
	port_on_close(fe->port, on_port_closed, fe);
	fe->open = true;
}

/* QEMU goes away: everything of ours closed, the daemon closes the port. */
static void fe_release(struct fx *fx, struct fe *fe)
{
	if (!fe->open)
		return;
	if (fe->sock >= 0)
		close(fe->sock);
	for (unsigned q = 0; q < 2; q++) {
		close(fe->q[q].kick);
		close(fe->q[q].call);
	}
	munmap(fe->ram, RAM_SIZE);
	close(fe->mem_fd);
	spin_until(fx, fe->closed);
	fe->open = false;
}

/* The port closed, the front-end saw its connection end, the user read why. */
static void expect_closed(struct fx *fx, struct fe *fe, const char *why_pattern)
{
	g_autofree char *pattern = g_strdup_printf("%s: closed (%s)*", fe->name, why_pattern);

	spin_until(fx, fe->closed);
	g_assert_null(port_set_find(fx->set, fe->port_id));
	g_assert_true(fe_eof(fe));
	if (!logged(pattern))
		g_error("no log line matches \"%s\"", pattern);
}

static void expect_open(struct fx *fx, struct fe *fe)
{
	spin(fx, 3);
	g_assert_false(fe->closed);
	g_assert_true(port_set_find(fx->set, fe->port_id) == fe->port);
}

/* SET_MEM_TABLE as QEMU sends it for a pc machine's RAM: the two regions
 * of one memfd, each with its own copy of the descriptor. */
static void fe_set_mem_table(struct fe *fe, uint32_t flags)
{
	struct vu_mem m = { .nregions = 2 };
	int fds[2] = { fe->mem_fd, fe->mem_fd };

	m.r[0] = (struct vu_region){ 0, R0_SIZE, UVA, 0 };
	m.r[1] = (struct vu_region){ R1_GPA, R1_SIZE, UVA + R0_SIZE, R0_SIZE };
	fe_send_fds(fe, VU_SET_MEM_TABLE, VU_VERSION | flags, &m, 8 + 2 * sizeof(m.r[0]), fds, 2);
}

static void fe_vring_fd(struct fe *fe, uint32_t req, unsigned q, int fd)
{
	uint64_t idx = q;

	fe_send_fds(fe, req, VU_VERSION, &idx, sizeof(idx), &fd, 1);
}

static void fe_vring_state(struct fe *fe, uint32_t req, unsigned q, uint32_t num)
{
	struct vu_state s = { q, num };

	fe_send(fe, req, 0, &s, sizeof(s));
}

/* vhost_virtqueue_start(): NUM, BASE, ADDR (QEMU's addresses), KICK, CALL. */
static void fe_start_queue(struct fe *fe, unsigned q)
{
	struct vu_addr a = { .index = q, .desc = UVA + QBASE(q),
			     .used = UVA + QBASE(q) + USED_OFF,
			     .avail = UVA + QBASE(q) + AVAIL_OFF };

	fe_vring_state(fe, VU_SET_VRING_NUM, q, NUM);
	fe_vring_state(fe, VU_SET_VRING_BASE, q, 0);
	fe_send(fe, VU_SET_VRING_ADDR, 0, &a, sizeof(a));
	fe_vring_fd(fe, VU_SET_VRING_KICK, q, fe->q[q].kick);
	fe_vring_fd(fe, VU_SET_VRING_CALL, q, fe->q[q].call);
}

/* The messages before the guest's driver starts: features and owner. */
static void fe_init(struct fx *fx, struct fe *fe, uint64_t *offered, uint64_t *protocol)
{
	*offered = fe_get_u64(fx, fe, VU_GET_FEATURES);
	g_assert_true(*offered & BIT(F_PROTOCOL));
	*protocol = fe_get_u64(fx, fe, VU_GET_PROTOCOL_FEATURES);
	/* QEMU acks what it knows of what is offered: all of it here. */
	fe_send_u64(fe, VU_SET_PROTOCOL_FEATURES, 0, *protocol);
	fe_send(fe, VU_SET_OWNER, 0, NULL, 0);
	g_assert_cmphex(fe_get_u64(fx, fe, VU_GET_FEATURES), ==, *offered);
	/* vhost_dev_init(): each queue's call notifier, before anything else. */
	for (unsigned q = 0; q < 2; q++)
		fe_vring_fd(fe, VU_SET_VRING_CALL, q, fe->q[q].call);
}

/* vhost_dev_start() as QEMU 7.2 does it once the guest's driver starts,
 * acking @features: everything but enabling the rings. */
static void fe_start(struct fx *fx, struct fe *fe, uint64_t features, uint64_t *offered,
		     uint64_t *protocol)
{
	fe_open(fx, fe);
	fe_init(fx, fe, offered, protocol);
	g_assert_cmphex(features & ~*offered, ==, 0);
	fe->features = features;
	fe->hdr_len = features & (BIT(F_VERSION_1) | BIT(F_MRG_RXBUF)) ? 12 : 10;
	/* SET_FEATURES carries the protocol bit too. */
	fe_send_u64(fe, VU_SET_FEATURES, 0, features);
	fe_set_mem_table(fe, VU_NEED_REPLY);
	g_assert_cmpuint(fe_reply_u64(fx, fe, VU_SET_MEM_TABLE), ==, 0);
	for (unsigned q = 0; q < 2; q++)
		fe_start_queue(fe, q);
}

/* vhost_net_start(): the rings enabled, then the MTU (host_mtu=). */
static void fe_enable(struct fx *fx, struct fe *fe)
{
	for (unsigned q = 0; q < 2; q++)
		fe_vring_state(fe, VU_SET_VRING_ENABLE, q, 1);
	fe_send_u64(fe, VU_NET_SET_MTU, VU_NEED_REPLY, NET_MTU);
	g_assert_cmpuint(fe_reply_u64(fx, fe, VU_NET_SET_MTU), ==, 0);
	expect_open(fx, fe);
}

/* The whole set-up; the port is live afterwards. */
static void fe_up_with(struct fx *fx, struct fe *fe, uint64_t features, uint64_t *offered,
		       uint64_t *protocol)
{
	fe_start(fx, fe, features, offered, protocol);
	fe_enable(fx, fe);
}

static void fe_up(struct fx *fx, struct fe *fe, uint64_t features)
{
	uint64_t offered, protocol;

	fe_up_with(fx, fe, features, &offered, &protocol);
}

/* ---- the guest's driver ---- */

/* Our pointer to guest physical [@gpa, @gpa + @len). */
static uint8_t *gp(struct fe *fe, uint64_t gpa, size_t len)
{
	if (gpa + len <= R0_SIZE)
		return fe->ram + gpa;
	if (gpa >= R1_GPA && gpa - R1_GPA + len <= R1_SIZE)
		return fe->ram + R0_SIZE + (gpa - R1_GPA);
	g_assert_not_reached();
}

static uint16_t *avail_ring(struct fe *fe, unsigned q)
{
	return (uint16_t *)gp(fe, QBASE(q) + AVAIL_OFF, 6 + 2 * NUM);
}

static uint8_t *used_ring(struct fe *fe, unsigned q)
{
	return gp(fe, QBASE(q) + USED_OFF, 6 + 8 * NUM);
}

static uint16_t used_u16(struct fe *fe, unsigned q, size_t off)
{
	return __atomic_load_n((uint16_t *)(used_ring(fe, q) + off), __ATOMIC_ACQUIRE);
}

static uint16_t used_idx(struct fe *fe, unsigned q)
{
	return used_u16(fe, q, 2);
}

static void used_elem(struct fe *fe, unsigned q, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint8_t *e = used_ring(fe, q) + 4 + 8 * (i % NUM);

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

/* EVENT_IDX: interrupt me once the device uses entry @v (used_event). */
static void set_used_event(struct fe *fe, unsigned q, uint16_t v)
{
	avail_ring(fe, q)[2 + NUM] = v;
}

static void set_desc(struct fe *fe, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = gp(fe, QBASE(q) + 16ull * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static uint16_t new_desc(struct fe *fe, unsigned q)
{
	return fe->q[q].next_desc++ % NUM;
}

static void make_avail(struct fe *fe, unsigned q, uint16_t head)
{
	uint16_t *a = avail_ring(fe, q);

	a[2 + fe->q[q].avail_idx % NUM] = head;
	__atomic_store_n(&a[1], ++fe->q[q].avail_idx, __ATOMIC_RELEASE);
}

/* virtio's vring_need_event(): is @event in [@old, @new_idx)? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* Notify the device of what was made available since the last time, if
 * it asked to be (avail_event with EVENT_IDX, else unless NO_NOTIFY), as
 * Linux's virtqueue_kick_prepare() decides. Returns whether it kicked. */
static bool guest_kick(struct fe *fe, unsigned q)
{
	struct gq *g = &fe->q[q];
	uint64_t one = 1;
	bool want;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (fe->features & BIT(F_EVENT_IDX))
		want = need_event(used_u16(fe, q, 4 + 8 * NUM), g->avail_idx, g->kicked_idx);
	else
		want = !(used_u16(fe, q, 0) & 1);	/* VRING_USED_F_NO_NOTIFY */
	g->kicked_idx = g->avail_idx;
	if (want)
		g_assert_cmpint(write(g->kick, &one, sizeof(one)), ==, sizeof(one));
	return want;
}

/* A kick whatever the device asked (a guest that does not care). */
static void kick_anyway(struct fe *fe, unsigned q)
{
	uint64_t one = 1;

	fe->q[q].kicked_idx = fe->q[q].avail_idx;
	g_assert_cmpint(write(fe->q[q].kick, &one, sizeof(one)), ==, sizeof(one));
}

/* Did the device interrupt us for queue @q since the last look? */
static bool call_fired(struct fe *fe, unsigned q)
{
	uint64_t n;

	return read(fe->q[q].call, &n, sizeof(n)) == sizeof(n) && n > 0;
}

/* Put @frame on the transmit queue behind a zero header: header and frame
 * in one buffer (@pieces 0), or the header alone, then the frame in
 * @pieces buffers, the odd ones in region 1. Made available, not kicked;
 * returns the chain's head. */
static uint16_t guest_queue_tx(struct fe *fe, const uint8_t *frame, size_t len, unsigned pieces)
{
	static const uint8_t zero[12];
	uint16_t head = new_desc(fe, TXQ), cur = head;
	uint64_t addr = TX_BUF(head);
	size_t blen = fe->hdr_len, off = 0, chunk;

	memcpy(gp(fe, addr, blen), zero, blen);
	if (!pieces) {
		g_assert_cmpuint(blen + len, <=, TX_BUF_MAX);
		memcpy(gp(fe, addr + blen, len), frame, len);
		set_desc(fe, TXQ, head, addr, blen + len, 0, 0);
		make_avail(fe, TXQ, head);
		return head;
	}
	chunk = (len + pieces - 1) / pieces;
	for (unsigned k = 0; k < pieces; k++) {
		uint16_t next = new_desc(fe, TXQ);
		size_t n = MIN(chunk, len - off);

		set_desc(fe, TXQ, cur, addr, blen, 1 /* NEXT */, next);
		addr = k % 2 ? TX_HI(next) : TX_BUF(next);
		g_assert_cmpuint(n, <=, k % 2 ? TX_HI_MAX : TX_BUF_MAX);
		memcpy(gp(fe, addr, n), frame + off, n);
		off += n;
		blen = n;
		cur = next;
	}
	set_desc(fe, TXQ, cur, addr, blen, 0, 0);
	g_assert_cmpuint(off, ==, len);
	make_avail(fe, TXQ, head);
	return head;
}

/* The device gave transmit chain @head back (len 0), next in the used ring. */
static void guest_tx_done(struct fe *fe, uint16_t head)
{
	struct gq *g = &fe->q[TXQ];
	uint32_t id, len;

	g_assert_cmpuint(used_idx(fe, TXQ), !=, g->used_seen);
	used_elem(fe, TXQ, g->used_seen++, &id, &len);
	g_assert_cmpuint(id, ==, head);
	g_assert_cmpuint(len, ==, 0);
	set_used_event(fe, TXQ, g->used_seen);	/* as Linux: the next one, please */
}

/* Post @n receive buffers of @size bytes each, filled with RX_FILL. */
static void guest_post_rx(struct fe *fe, unsigned n, uint32_t size)
{
	g_assert_cmpuint(size, <=, RX_BUF_MAX);
	for (unsigned i = 0; i < n; i++) {
		uint16_t d = new_desc(fe, RXQ);

		memset(gp(fe, RX_BUF(d), RX_BUF_MAX), RX_FILL, RX_BUF_MAX);
		set_desc(fe, RXQ, d, RX_BUF(d), size, 2 /* WRITE */, 0);
		fe->q[RXQ].buf_len[d] = size;
		make_avail(fe, RXQ, d);
	}
}

/* The next frame the device wrote to the receive queue, NULL if none: its
 * buffers taken back from the used ring, the header checked (zero, but for
 * num_buffers, which counts the buffers the frame spans; all of them are
 * published together), nothing written past any buffer's end. */
static GByteArray *guest_recv(struct fe *fe, unsigned *nbufs)
{
	struct gq *g = &fe->q[RXQ];
	uint16_t num_buffers = 1;
	GByteArray *b;

	if (used_idx(fe, RXQ) == g->used_seen)
		return NULL;
	b = g_byte_array_new();
	for (unsigned i = 0; i < num_buffers; i++) {
		uint32_t id, len;
		const uint8_t *p;

		g_assert_cmpuint(used_idx(fe, RXQ), !=, g->used_seen);
		used_elem(fe, RXQ, g->used_seen++, &id, &len);
		g_assert_cmpuint(id, <, NUM);
		g_assert_cmpuint(len, <=, g->buf_len[id]);
		p = gp(fe, RX_BUF(id), RX_BUF_MAX);
		/* Past len the device may write (virtio 1.2 2.7.8.1), past
		 * the buffer never. */
		if (g->buf_len[id] < RX_BUF_MAX)
			g_assert_cmpuint(p[g->buf_len[id]], ==, RX_FILL);
		g_byte_array_append(b, p, len);
		if (i == 0) {
			g_assert_cmpuint(len, >=, fe->hdr_len);
			if (fe->hdr_len == 12)
				memcpy(&num_buffers, p + 10, 2);
			g_assert_cmpuint(num_buffers, >=, 1);
		}
	}
	set_used_event(fe, RXQ, g->used_seen);
	for (unsigned k = 0; k < MIN(fe->hdr_len, 10u); k++)
		g_assert_cmpuint(b->data[k], ==, 0);
	g_byte_array_remove_range(b, 0, (guint)fe->hdr_len);
	*nbufs = num_buffers;
	return b;
}

/* The next received frame is @frame, in @bufs buffers. */
static void expect_rx(struct fe *fe, const uint8_t *frame, size_t len, unsigned bufs)
{
	unsigned n = 0;
	g_autoptr(GByteArray) b = guest_recv(fe, &n);

	g_assert_nonnull(b);
	g_assert_cmpmem(b->data, b->len, frame, len);
	g_assert_cmpuint(n, ==, bufs);
}

/* ---- frames ---- */

/* @len bytes from 52:54:00:00:00:@src to @dst; the payload says @seq. */
static void make_frame(uint8_t *f, size_t len, const uint8_t dst[6], uint8_t src, uint32_t seq)
{
	static const uint8_t oui[6] = { 0x52, 0x54, 0, 0, 0, 0 };

	g_assert_cmpuint(len, >=, 18);
	memcpy(f, dst, 6);
	memcpy(f + 6, oui, 6);
	f[11] = src;
	f[12] = 0x88;	/* local experimental ethertype */
	f[13] = 0xb5;
	memcpy(f + 14, &seq, 4);
	for (size_t i = 18; i < len; i++)
		f[i] = (uint8_t)(seq * 31 + i * 7);
}

static uint32_t frame_seq(const uint8_t *f)
{
	uint32_t seq;

	memcpy(&seq, f + 14, 4);
	return seq;
}

static void mac_of(uint8_t mac[6], uint8_t last)
{
	static const uint8_t oui[6] = { 0x52, 0x54, 0, 0, 0, 0 };

	memcpy(mac, oui, 6);
	mac[5] = last;
}

/* The fake VM sends a frame into the switch. */
static void peer_send(struct fx *fx, const uint8_t *f, size_t len)
{
	port_input(&fx->peer->port, f, len);
}

/* The @i-th frame the fake VM received is @f. */
static void expect_at_peer(struct fx *fx, guint i, const uint8_t *f, size_t len)
{
	GByteArray *b;

	g_assert_cmpuint(fx->peer_frames->len, >, i);
	b = g_ptr_array_index(fx->peer_frames, i);
	g_assert_cmpmem(b->data, b->len, f, len);
}

static void on_mirror(void *opaque, const struct port *p, bool out, const uint8_t *frame,
		      size_t len)
{
	struct fx *fx = opaque;

	if (out && p == &fx->peer->port)
		g_ptr_array_add(fx->peer_frames, g_byte_array_append(g_byte_array_new(), frame,
								     (guint)len));
}

/* ---- fixture ---- */

static void setup(struct fx *fx, gconstpointer data)
{
	(void)data;
	memset(fx, 0, sizeof(*fx));
	g_ptr_array_set_size(log_lines, 0);
	fx->l = loop_new();
	fx->sw = switch_new(SWITCH_AGEING_NS);
	fx->set = port_set_new(fx->l, fx->sw);
	fx->peer_last = g_byte_array_new();
	fx->peer = fake_vm_attach(fx->set, "peer", fx->peer_last);
	fx->peer_frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
	port_set_mirror(fx->set, on_mirror, fx);
	fx->fe[0] = (struct fe){ .fx = fx, .name = "vhost-a", .sock = -1 };
	fx->fe[1] = (struct fe){ .fx = fx, .name = "vhost-b", .sock = -1 };
	/* Everything the daemon is given from here on must be closed again. */
	fx->fds_before = count_fds();
}

/* Whatever each case did, once the front-ends are gone the daemon holds
 * none of their descriptors and no mapping of their RAM. */
static void teardown(struct fx *fx, gconstpointer data)
{
	(void)data;
	for (unsigned i = 0; i < 2; i++)
		fe_release(fx, &fx->fe[i]);
	g_assert_cmpuint(count_fds(), ==, fx->fds_before);
	for (unsigned i = 0; i < 2; i++)
		g_assert_cmpuint(ram_mappings(fx->fe[i].name), ==, 0);
	port_set_free(fx->set);
	switch_free(fx->sw);
	loop_free(fx->l);
	g_byte_array_unref(fx->peer_last);
	g_ptr_array_unref(fx->peer_frames);
}

/* ---- set-up ---- */

static void test_handshake(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint64_t offered, protocol;
	uint8_t f[60];

	(void)data;
	fe_up_with(fx, a, QEMU_FEATURES, &offered, &protocol);
	/* What a virtio-net guest needs, with the MTU and link status. */
	g_assert_cmphex(offered & QEMU_FEATURES, ==, QEMU_FEATURES);
	/* Checksum offload both ways, but no segmentation (frames are
	 * whole), no MQ or control queue, no packed ring, no migration log:
	 * none of them is served. */
	g_assert_cmphex(offered & (BIT(F_CSUM) | BIT(F_GUEST_CSUM)), ==,
			BIT(F_CSUM) | BIT(F_GUEST_CSUM));
	for (unsigned bit = F_GUEST_TSO4; bit <= F_HOST_UFO; bit++)
		g_assert_cmphex(offered & BIT(bit), ==, 0);
	g_assert_cmphex(offered & (BIT(F_CTRL_VQ) | BIT(F_MQ) | BIT(F_LOG_ALL) |
				   BIT(F_RING_PACKED)), ==, 0);
	g_assert_cmphex(protocol & (BIT(PF_REPLY_ACK) | BIT(PF_NET_MTU)), ==,
			BIT(PF_REPLY_ACK) | BIT(PF_NET_MTU));
	g_assert_true(logged("vhost-a: connected (vhost-user)"));
	/* And the guest's first frame goes out. */
	make_frame(f, sizeof(f), bcast, A_MAC_LAST, 1);
	guest_queue_tx(a, f, sizeof(f), 1);
	g_assert_true(guest_kick(a, TXQ));
	spin_until(fx, fx->peer_frames->len == 1);
	expect_at_peer(fx, 0, f, sizeof(f));
}

/* Header and payload in separate writes, descriptors with the payload:
 * a stream socket promises no message boundaries. */
static void test_split_messages(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint32_t hdr[3] = { VU_GET_FEATURES, VU_VERSION, 0 };
	uint64_t offered, protocol, v;
	struct vu_mem m = { .nregions = 1 };
	int fd;

	(void)data;
	fe_open(fx, a);
	g_assert_cmpint(send(a->sock, hdr, 5, 0), ==, 5);
	spin(fx, 2);
	g_assert_false(readable(a->sock));
	g_assert_cmpint(send(a->sock, (uint8_t *)hdr + 5, 7, 0), ==, 7);
	offered = fe_reply_u64(fx, a, VU_GET_FEATURES);
	g_assert_cmphex(offered & QEMU_FEATURES, ==, QEMU_FEATURES);
	protocol = fe_get_u64(fx, a, VU_GET_PROTOCOL_FEATURES);
	fe_send_u64(a, VU_SET_PROTOCOL_FEATURES, 0, protocol);

	/* SET_MEM_TABLE: the header now, payload and descriptor later. */
	hdr[0] = VU_SET_MEM_TABLE;
	hdr[1] = VU_VERSION | VU_NEED_REPLY;
	hdr[2] = 8 + sizeof(m.r[0]);
	m.r[0] = (struct vu_region){ 0, R0_SIZE, UVA, 0 };
	g_assert_cmpint(send(a->sock, hdr, sizeof(hdr), 0), ==, sizeof(hdr));
	spin(fx, 2);
	g_assert_false(readable(a->sock));
	fd = a->mem_fd;
	{
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} cbuf = { 0 };
		struct iovec iov = { &m, hdr[2] };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
				     .msg_controllen = sizeof(cbuf.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		g_assert_cmpint(sendmsg(a->sock, &mh, 0), ==, hdr[2]);
	}
	v = fe_reply_u64(fx, a, VU_SET_MEM_TABLE);
	g_assert_cmpuint(v, ==, 0);
	expect_open(fx, a);
}

/* A front-end that sends many requests at once gets every answer. */
static void test_many_requests(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	const unsigned n = 200;

	(void)data;
	fe_open(fx, a);
	for (unsigned i = 0; i < n; i++)
		fe_send(a, VU_GET_FEATURES, 0, NULL, 0);
	for (unsigned i = 0; i < n; i++)
		g_assert_cmphex(fe_reply_u64(fx, a, VU_GET_FEATURES) & BIT(F_VERSION_1), !=, 0);
	expect_open(fx, a);
}

/* ---- transmit ---- */

static void test_tx(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint8_t f1[60], f2[1514], f3[700], f4[128];
	uint16_t h1, h2, h3, h4;

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	/* Header and frame in buffers of their own. */
	make_frame(f1, sizeof(f1), nobody, A_MAC_LAST, 1);
	h1 = guest_queue_tx(a, f1, sizeof(f1), 1);
	g_assert_true(guest_kick(a, TXQ));
	spin_until(fx, fx->peer_frames->len == 1);
	expect_at_peer(fx, 0, f1, sizeof(f1));
	g_assert_cmpuint(used_idx(a, TXQ), ==, 1);
	guest_tx_done(a, h1);
	g_assert_true(call_fired(a, TXQ));

	/* Three at once, one kick: header and frame in one buffer; a frame
	 * in four pieces across both regions; in two pieces. */
	make_frame(f2, sizeof(f2), nobody, A_MAC_LAST, 2);
	make_frame(f3, sizeof(f3), nobody, A_MAC_LAST, 3);
	make_frame(f4, sizeof(f4), bcast, A_MAC_LAST, 4);
	h2 = guest_queue_tx(a, f2, sizeof(f2), 0);
	h3 = guest_queue_tx(a, f3, sizeof(f3), 4);
	h4 = guest_queue_tx(a, f4, sizeof(f4), 2);
	g_assert_true(guest_kick(a, TXQ));
	spin_until(fx, fx->peer_frames->len == 4);
	expect_at_peer(fx, 1, f2, sizeof(f2));
	expect_at_peer(fx, 2, f3, sizeof(f3));
	expect_at_peer(fx, 3, f4, sizeof(f4));
	g_assert_cmpuint(used_idx(a, TXQ), ==, 4);
	guest_tx_done(a, h2);
	guest_tx_done(a, h3);
	guest_tx_done(a, h4);
	g_assert_true(call_fired(a, TXQ));
	g_assert_cmpuint(a->port->stats.rx_frames, ==, 4);
	g_assert_cmpuint(a->port->stats.rx_bytes, ==,
			 sizeof(f1) + sizeof(f2) + sizeof(f3) + sizeof(f4));
	/* Nothing more comes, nor another interrupt. */
	spin(fx, 3);
	g_assert_cmpuint(fx->peer_frames->len, ==, 4);
	g_assert_false(call_fired(a, TXQ));
}

/* Chains the guest made available (and kicked for) before the rings were
 * enabled go out once they are, with no kick more. */
static void test_tx_before_enable(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint64_t offered, protocol;
	uint8_t f[100];
	uint16_t h;

	(void)data;
	fe_start(fx, a, QEMU_FEATURES, &offered, &protocol);
	make_frame(f, sizeof(f), nobody, A_MAC_LAST, 1);
	h = guest_queue_tx(a, f, sizeof(f), 1);
	g_assert_true(guest_kick(a, TXQ));
	spin(fx, 3);	/* the kick is read, and nothing may be taken yet */
	g_assert_cmpuint(fx->peer_frames->len, ==, 0);
	g_assert_cmpuint(used_idx(a, TXQ), ==, 0);
	fe_enable(fx, a);
	spin_until(fx, fx->peer_frames->len == 1);
	expect_at_peer(fx, 0, f, sizeof(f));
	guest_tx_done(a, h);
}

/* The guest asked for no interrupt: the used ring moves, the call does not. */
static void test_tx_suppressed(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint64_t features = *(const uint64_t *)data;
	bool event_idx = features & BIT(F_EVENT_IDX);
	uint8_t f[100];
	uint16_t h;

	fe_up(fx, a, features);
	if (event_idx)
		set_used_event(a, TXQ, 100);	/* only when entry 100 is used */
	else
		avail_ring(a, TXQ)[0] = 1;	/* VRING_AVAIL_F_NO_INTERRUPT */
	for (uint32_t i = 0; i < 3; i++) {
		make_frame(f, sizeof(f), nobody, A_MAC_LAST, i);
		h = guest_queue_tx(a, f, sizeof(f), 1);
		guest_kick(a, TXQ);
		spin_until(fx, fx->peer_frames->len == i + 1);
		expect_at_peer(fx, i, f, sizeof(f));
		g_assert_cmpuint(used_idx(a, TXQ), ==, i + 1);
		guest_tx_done(a, h);
		if (event_idx)
			set_used_event(a, TXQ, 100);
		g_assert_false(call_fired(a, TXQ));
	}
	/* Asked again: interrupted again. */
	if (event_idx)
		set_used_event(a, TXQ, a->q[TXQ].used_seen);
	else
		avail_ring(a, TXQ)[0] = 0;
	make_frame(f, sizeof(f), nobody, A_MAC_LAST, 3);
	h = guest_queue_tx(a, f, sizeof(f), 0);
	guest_kick(a, TXQ);
	spin_until(fx, fx->peer_frames->len == 4);
	guest_tx_done(a, h);
	g_assert_true(call_fired(a, TXQ));
}

/* Without VERSION_1 and MRG_RXBUF the header is 10 bytes, both ways. */
static void test_legacy_header(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint8_t f[200], g[300];

	(void)data;
	fe_up(fx, a, LEGACY_FEATURES);
	g_assert_cmpuint(a->hdr_len, ==, 10);
	make_frame(f, sizeof(f), nobody, A_MAC_LAST, 1);
	guest_queue_tx(a, f, sizeof(f), 1);
	guest_kick(a, TXQ);
	spin_until(fx, fx->peer_frames->len == 1);
	expect_at_peer(fx, 0, f, sizeof(f));

	guest_post_rx(a, 2, RX_BUF_MAX);
	guest_kick(a, RXQ);
	make_frame(g, sizeof(g), bcast, PEER_MAC_LAST, 2);
	peer_send(fx, g, sizeof(g));
	spin_until(fx, used_idx(a, RXQ) == 1);
	expect_rx(a, g, sizeof(g), 1);
}

/* ---- receive ---- */

static void test_rx(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint8_t f[200], g[1514], mac[6];
	uint32_t id, len;

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	guest_post_rx(a, 4, RX_BUF_MAX);
	guest_kick(a, RXQ);
	make_frame(f, sizeof(f), bcast, PEER_MAC_LAST, 1);
	peer_send(fx, f, sizeof(f));
	spin_until(fx, used_idx(a, RXQ) == 1);
	used_elem(a, RXQ, 0, &id, &len);
	g_assert_cmpuint(len, ==, 12 + sizeof(f));
	expect_rx(a, f, sizeof(f), 1);
	g_assert_true(call_fired(a, RXQ));

	/* Once the switch knows where the guest is, unicast to it, full size. */
	make_frame(f, sizeof(f), bcast, A_MAC_LAST, 2);
	guest_queue_tx(a, f, sizeof(f), 0);
	guest_kick(a, TXQ);
	spin_until(fx, fx->peer_frames->len == 1);
	mac_of(mac, A_MAC_LAST);
	make_frame(g, sizeof(g), mac, PEER_MAC_LAST, 3);
	peer_send(fx, g, sizeof(g));
	spin_until(fx, used_idx(a, RXQ) == 2);
	expect_rx(a, g, sizeof(g), 1);
	g_assert_true(call_fired(a, RXQ));
	g_assert_cmpuint(a->port->stats.tx_frames, ==, 2);
	g_assert_cmpuint(a->port->stats.tx_drops, ==, 0);
}

/* MRG_RXBUF with small buffers: a frame takes as many as it needs. */
static void test_rx_mergeable(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint8_t f[1000], g[100], h[1514];

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	guest_post_rx(a, 8, 256);
	guest_kick(a, RXQ);
	/* 12 + 1000 bytes: 256, 256, 256, 244. */
	make_frame(f, sizeof(f), bcast, PEER_MAC_LAST, 1);
	peer_send(fx, f, sizeof(f));
	spin_until(fx, used_idx(a, RXQ) == 4);
	expect_rx(a, f, sizeof(f), 4);
	make_frame(g, sizeof(g), bcast, PEER_MAC_LAST, 2);
	peer_send(fx, g, sizeof(g));
	spin_until(fx, used_idx(a, RXQ) == 5);
	expect_rx(a, g, sizeof(g), 1);
	/* 12 + 1514 bytes need six; three are left: it waits for more, and
	 * a small frame that would fit waits behind it. */
	make_frame(h, sizeof(h), bcast, PEER_MAC_LAST, 3);
	peer_send(fx, h, sizeof(h));
	make_frame(g, sizeof(g), bcast, PEER_MAC_LAST, 4);
	peer_send(fx, g, sizeof(g));
	spin(fx, 3);
	g_assert_cmpuint(used_idx(a, RXQ), ==, 5);
	guest_post_rx(a, 4, 256);
	g_assert_true(guest_kick(a, RXQ));
	spin_until(fx, used_idx(a, RXQ) == 12);
	expect_rx(a, h, sizeof(h), 6);
	expect_rx(a, g, sizeof(g), 1);
	g_assert_cmpuint(a->port->stats.tx_drops, ==, 0);
}

/* Without MRG_RXBUF a frame needs one buffer that holds it all: one too
 * small is left for a frame it fits; the big one is dropped and counted. */
static void test_rx_too_big(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint8_t f[1000], g[100];

	(void)data;
	fe_up(fx, a, NO_MRG_RXBUF);
	guest_post_rx(a, 1, 256);
	guest_kick(a, RXQ);
	make_frame(f, sizeof(f), bcast, PEER_MAC_LAST, 1);
	peer_send(fx, f, sizeof(f));
	spin(fx, 3);
	g_assert_cmpuint(used_idx(a, RXQ), ==, 0);
	g_assert_cmpuint(a->port->stats.tx_drops, ==, 1);
	make_frame(g, sizeof(g), bcast, PEER_MAC_LAST, 2);
	peer_send(fx, g, sizeof(g));
	spin_until(fx, used_idx(a, RXQ) == 1);
	expect_rx(a, g, sizeof(g), 1);
}

/* No buffers: frames wait, the guest is asked for a kick, and they arrive
 * in order once it posts buffers. */
static void test_rx_backlog(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint64_t features = *(const uint64_t *)data;
	uint8_t f[3][300];

	fe_up(fx, a, features);
	for (uint32_t i = 0; i < 3; i++) {
		make_frame(f[i], sizeof(f[i]), bcast, PEER_MAC_LAST, i);
		peer_send(fx, f[i], sizeof(f[i]));
	}
	spin(fx, 3);
	g_assert_cmpuint(used_idx(a, RXQ), ==, 0);
	g_assert_cmpuint(a->port->backlog, >, 0);
	g_assert_cmpuint(a->port->stats.tx_drops, ==, 0);

	guest_post_rx(a, 2, RX_BUF_MAX);
	g_assert_true(guest_kick(a, RXQ));
	spin_until(fx, used_idx(a, RXQ) == 2);
	expect_rx(a, f[0], sizeof(f[0]), 1);
	expect_rx(a, f[1], sizeof(f[1]), 1);
	g_assert_true(call_fired(a, RXQ));
	/* One still waits: the guest is still asked to kick. */
	guest_post_rx(a, 2, RX_BUF_MAX);
	g_assert_true(guest_kick(a, RXQ));
	spin_until(fx, used_idx(a, RXQ) == 3);
	expect_rx(a, f[2], sizeof(f[2]), 1);
	g_assert_cmpuint(a->port->backlog, ==, 0);
	/* A frame now takes the buffer left over at once. */
	peer_send(fx, f[0], sizeof(f[0]));
	spin_until(fx, used_idx(a, RXQ) == 4);
	expect_rx(a, f[0], sizeof(f[0]), 1);
	g_assert_cmpuint(a->port->stats.tx_drops, ==, 0);
}

/* The backlog is bounded: beyond it frames are dropped and counted; what
 * was kept arrives, in order, as the guest posts buffers. */
static void test_rx_backlog_bound(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	const uint32_t sent = 2000;
	uint8_t f[1500];
	uint64_t kept;
	uint32_t next = 0;

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	for (uint32_t i = 0; i < sent; i++) {
		make_frame(f, sizeof(f), bcast, PEER_MAC_LAST, i);
		peer_send(fx, f, sizeof(f));
	}
	spin(fx, 2);
	kept = a->port->stats.tx_frames;
	g_assert_cmpuint(a->port->stats.tx_drops, >, 0);
	g_assert_cmpuint(kept + a->port->stats.tx_drops, ==, sent);
	g_assert_cmpuint(a->port->backlog, <=, VHOST_QUEUE_SIZE);
	g_assert_cmpuint(kept * sizeof(f), >=, VHOST_QUEUE_SIZE / 2);

	while (next < kept) {
		uint16_t want = (uint16_t)(used_idx(a, RXQ) + MIN(NUM, kept - next));

		guest_post_rx(a, NUM, RX_BUF_MAX);
		g_assert_true(guest_kick(a, RXQ));
		spin_until(fx, used_idx(a, RXQ) == want);
		for (;;) {
			unsigned nbufs;
			g_autoptr(GByteArray) b = guest_recv(a, &nbufs);

			if (!b)
				break;
			make_frame(f, sizeof(f), bcast, PEER_MAC_LAST, next);
			g_assert_cmpuint(frame_seq(b->data), ==, next);
			g_assert_cmpmem(b->data, b->len, f, sizeof(f));
			next++;
		}
	}
	g_assert_cmpuint(a->port->backlog, ==, 0);
}

/* ---- stopping and restarting (GET_VRING_BASE, SET_VRING_BASE) ---- */

static uint32_t fe_get_vring_base(struct fx *fx, struct fe *fe, unsigned q)
{
	struct vu_state s = { q, 0xdead };

	fe_send(fe, VU_GET_VRING_BASE, 0, &s, sizeof(s));
	g_assert_cmpuint(fe_reply(fx, fe, VU_GET_VRING_BASE, &s, sizeof(s)), ==, sizeof(s));
	g_assert_cmpuint(s.index, ==, q);
	return s.num;
}

/* SET_VRING_ADDR again on a ring that ran (other front-ends re-send it,
 * QEMU does for dirty logging): it goes on where it was, it does not go
 * back to the SET_VRING_BASE it started from and send frames twice. */
static void test_addr_again(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	struct vu_addr ad = { .index = TXQ, .desc = UVA + QBASE(TXQ),
			      .used = UVA + QBASE(TXQ) + USED_OFF,
			      .avail = UVA + QBASE(TXQ) + AVAIL_OFF };
	uint8_t f[64];

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	for (uint32_t i = 0; i < 3; i++) {
		make_frame(f, sizeof(f), nobody, A_MAC_LAST, i);
		guest_queue_tx(a, f, sizeof(f), 0);
	}
	guest_kick(a, TXQ);
	spin_until(fx, fx->peer_frames->len == 3);
	fe_send(a, VU_SET_VRING_ADDR, 0, &ad, sizeof(ad));
	kick_anyway(a, TXQ);
	spin(fx, 3);
	g_assert_cmpuint(fx->peer_frames->len, ==, 3);
	g_assert_cmpuint(used_idx(a, TXQ), ==, 3);
	g_assert_cmpuint(fe_get_vring_base(fx, a, TXQ), ==, 3);
	expect_open(fx, a);
}

/* An IPv4 UDP frame from @src_last to @dst, its checksum right. */
static void make_udp_frame(uint8_t *f, size_t len, const uint8_t dst[6], uint8_t src_last)
{
	size_t udp_len = len - ETH_HLEN - IP4_HLEN;
	uint8_t *ip = f + ETH_HLEN, *udp = ip + IP4_HLEN;
	uint32_t sum;

	make_frame(f, len, dst, src_last, 7);
	put_be16(f + 12, ETH_P_IPV4);
	memset(ip, 0, IP4_HLEN + UDP_HLEN);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(len - ETH_HLEN));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP_;
	memcpy(ip + 12, (const uint8_t[]){ 10, 0, 2, 15, 10, 0, 2, 16 }, 8);
	put_be16(ip + 10, frame_checksum(ip, IP4_HLEN, 0));
	put_be16(udp, 4000);
	put_be16(udp + 2, 5000);
	put_be16(udp + 4, (uint16_t)udp_len);
	sum = frame_sum16(ip + 12, 8, IPPROTO_UDP_ + (uint32_t)udp_len);
	put_be16(udp + 6, frame_checksum(udp, udp_len, sum));
	g_assert_true(frame_l4_checksum_ok(f, len));
}

/* Checksum offload, as a Linux guest uses it when CSUM and GUEST_CSUM are
 * acked: a frame sent with NEEDS_CSUM (the pseudo-header's sum in place)
 * leaves with its checksum complete; a frame received whose checksum we
 * checked says DATA_VALID, one whose checksum is wrong does not. */
static void test_csum_offload(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint8_t want[600], sent[600], good[300], bad[300];
	uint16_t head, start = ETH_HLEN + IP4_HLEN, offset = 6, csum_le[2];
	size_t udp_len = sizeof(sent) - start;
	uint8_t *hdr;
	uint32_t id, len;

	(void)data;
	fe_up(fx, a, QEMU_FEATURES | BIT(F_CSUM) | BIT(F_GUEST_CSUM));
	make_udp_frame(want, sizeof(want), nobody, A_MAC_LAST);
	memcpy(sent, want, sizeof(sent));
	put_be16(sent + start + offset,
		 ~frame_checksum(sent + ETH_HLEN + 12, 8, IPPROTO_UDP_ + (uint32_t)udp_len) &
			 0xffff);
	head = guest_queue_tx(a, sent, sizeof(sent), 0);
	hdr = gp(a, TX_BUF(head), 12);
	hdr[0] = 1;	/* NEEDS_CSUM */
	csum_le[0] = GUINT16_TO_LE(start);
	csum_le[1] = GUINT16_TO_LE(offset);
	memcpy(hdr + 6, csum_le, 4);
	g_assert_true(guest_kick(a, TXQ));
	spin_until(fx, fx->peer_frames->len == 1);
	expect_at_peer(fx, 0, want, sizeof(want));

	/* A checksum position outside the frame: dropped, counted. */
	head = guest_queue_tx(a, sent, sizeof(sent), 0);
	hdr = gp(a, TX_BUF(head), 12);
	hdr[0] = 1;
	csum_le[0] = GUINT16_TO_LE(sizeof(sent) - 1);
	memcpy(hdr + 6, csum_le, 4);
	kick_anyway(a, TXQ);
	spin_until(fx, used_idx(a, TXQ) == 2);
	g_assert_cmpuint(fx->peer_frames->len, ==, 1);
	g_assert_cmpuint(a->port->stats.rx_drops, ==, 1);

	guest_post_rx(a, 2, RX_BUF_MAX);
	guest_kick(a, RXQ);
	make_udp_frame(good, sizeof(good), bcast, PEER_MAC_LAST);
	memcpy(bad, good, sizeof(bad));
	bad[sizeof(bad) - 1] ^= 0x40;
	peer_send(fx, good, sizeof(good));
	peer_send(fx, bad, sizeof(bad));
	spin_until(fx, used_idx(a, RXQ) == 2);
	used_elem(a, RXQ, 0, &id, &len);
	g_assert_cmpuint(gp(a, RX_BUF(id), 1)[0], ==, 2);	/* DATA_VALID */
	g_assert_cmpmem(gp(a, RX_BUF(id), len) + 12, len - 12, good, sizeof(good));
	used_elem(a, RXQ, 1, &id, &len);
	g_assert_cmpuint(gp(a, RX_BUF(id), 1)[0], ==, 0);
	g_assert_cmpmem(gp(a, RX_BUF(id), len) + 12, len - 12, bad, sizeof(bad));
	expect_open(fx, a);
}

static void test_stop_restart(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint8_t t1[80], t2[90], t3[100], x[200], y[210], z[220], v[230];
	uint16_t h1, h2, h3;

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	/* Two transmitted, two received; then two waiting for buffers. */
	make_frame(t1, sizeof(t1), nobody, A_MAC_LAST, 1);
	make_frame(t2, sizeof(t2), nobody, A_MAC_LAST, 2);
	h1 = guest_queue_tx(a, t1, sizeof(t1), 1);
	h2 = guest_queue_tx(a, t2, sizeof(t2), 0);
	guest_kick(a, TXQ);
	spin_until(fx, fx->peer_frames->len == 2);
	guest_tx_done(a, h1);
	guest_tx_done(a, h2);
	guest_post_rx(a, 2, RX_BUF_MAX);
	guest_kick(a, RXQ);
	make_frame(x, sizeof(x), bcast, PEER_MAC_LAST, 10);
	make_frame(y, sizeof(y), bcast, PEER_MAC_LAST, 11);
	make_frame(z, sizeof(z), bcast, PEER_MAC_LAST, 12);
	make_frame(v, sizeof(v), bcast, PEER_MAC_LAST, 13);
	peer_send(fx, x, sizeof(x));
	peer_send(fx, x, sizeof(x));
	spin_until(fx, used_idx(a, RXQ) == 2);
	peer_send(fx, y, sizeof(y));
	peer_send(fx, z, sizeof(z));
	spin(fx, 2);
	g_assert_cmpuint(a->port->backlog, >, 0);

	/* QEMU stops the device: each queue's next avail index comes back. */
	g_assert_cmpuint(fe_get_vring_base(fx, a, RXQ), ==, 2);
	g_assert_cmpuint(fe_get_vring_base(fx, a, TXQ), ==, 2);
	/* What waited is dropped with the link, and so is what comes now. */
	g_assert_cmpuint(a->port->stats.tx_drops, ==, 2);
	peer_send(fx, x, sizeof(x));
	g_assert_cmpuint(a->port->stats.tx_drops, ==, 3);
	g_assert_cmpuint(a->port->backlog, ==, 0);
	/* The rings are left alone meanwhile, whatever the guest does. */
	guest_post_rx(a, 2, RX_BUF_MAX);
	kick_anyway(a, RXQ);
	make_frame(t3, sizeof(t3), nobody, A_MAC_LAST, 3);
	h3 = guest_queue_tx(a, t3, sizeof(t3), 1);
	kick_anyway(a, TXQ);
	spin(fx, 3);
	g_assert_cmpuint(used_idx(a, RXQ), ==, 2);
	g_assert_cmpuint(used_idx(a, TXQ), ==, 2);
	g_assert_cmpuint(fx->peer_frames->len, ==, 2);
	expect_open(fx, a);

	/* Started again where it stopped: what was posted meanwhile is used. */
	fe_vring_state(a, VU_SET_VRING_BASE, RXQ, 2);
	fe_vring_fd(a, VU_SET_VRING_KICK, RXQ, a->q[RXQ].kick);
	fe_vring_state(a, VU_SET_VRING_BASE, TXQ, 2);
	fe_vring_fd(a, VU_SET_VRING_KICK, TXQ, a->q[TXQ].kick);
	spin_until(fx, fx->peer_frames->len == 3);
	expect_at_peer(fx, 2, t3, sizeof(t3));
	g_assert_cmpuint(used_idx(a, TXQ), ==, 3);
	guest_tx_done(a, h3);
	peer_send(fx, v, sizeof(v));
	spin_until(fx, used_idx(a, RXQ) == 3);
	expect_rx(a, x, sizeof(x), 1);
	expect_rx(a, x, sizeof(x), 1);
	expect_rx(a, v, sizeof(v), 1);
	g_assert_cmpuint(a->port->stats.tx_drops, ==, 3);
}

/* ---- a hostile guest: its port goes, the others stay ---- */

/* @b's guest still reaches the peer and hears from it. */
static void expect_works(struct fx *fx, struct fe *b)
{
	guint before = fx->peer_frames->len;
	uint8_t f[120], g[130], mac[6];
	uint16_t h;

	make_frame(f, sizeof(f), nobody, B_MAC_LAST, 77);
	h = guest_queue_tx(b, f, sizeof(f), 1);
	guest_kick(b, TXQ);
	spin_until(fx, fx->peer_frames->len == before + 1);
	expect_at_peer(fx, before, f, sizeof(f));
	guest_tx_done(b, h);
	mac_of(mac, B_MAC_LAST);
	make_frame(g, sizeof(g), mac, PEER_MAC_LAST, 78);
	guest_post_rx(b, 1, RX_BUF_MAX);
	guest_kick(b, RXQ);
	peer_send(fx, g, sizeof(g));
	spin_until(fx, used_idx(b, RXQ) != b->q[RXQ].used_seen);
	expect_rx(b, g, sizeof(g), 1);
}

enum hostile {
	AVAIL_TOO_FAR,		/* more entries available than the ring holds */
	DESC_LOOP,		/* a chain that comes back to itself */
	DESC_OUTSIDE,		/* a transmit buffer outside the memory table */
	RX_OUTSIDE,		/* a receive buffer outside the memory table */
};

static void test_hostile_ring(struct fx *fx, gconstpointer data)
{
	enum hostile how = (enum hostile)GPOINTER_TO_INT(data);
	struct fe *a = &fx->fe[0], *b = &fx->fe[1];
	uint8_t f[100];
	uint16_t d1, d2;

	fe_up(fx, a, QEMU_FEATURES);
	fe_up(fx, b, QEMU_FEATURES);
	expect_works(fx, b);
	switch (how) {
	case AVAIL_TOO_FAR:
		__atomic_store_n(&avail_ring(a, TXQ)[1], NUM + 1, __ATOMIC_RELEASE);
		break;
	case DESC_LOOP:
		d1 = new_desc(a, TXQ);
		d2 = new_desc(a, TXQ);
		set_desc(a, TXQ, d1, TX_BUF(d1), 60, 1, d2);
		set_desc(a, TXQ, d2, TX_BUF(d2), 60, 1, d1);
		make_avail(a, TXQ, d1);
		break;
	case DESC_OUTSIDE:
		d1 = new_desc(a, TXQ);
		d2 = new_desc(a, TXQ);
		set_desc(a, TXQ, d1, TX_BUF(d1), 12, 1, d2);
		set_desc(a, TXQ, d2, GAP_GPA, 100, 0, 0);
		make_avail(a, TXQ, d1);
		break;
	case RX_OUTSIDE:
		d1 = new_desc(a, RXQ);
		set_desc(a, RXQ, d1, R1_GPA + R1_SIZE - 16, 64, 2, 0);	/* past the end */
		make_avail(a, RXQ, d1);
		kick_anyway(a, RXQ);
		guest_post_rx(b, 1, RX_BUF_MAX);
		make_frame(f, sizeof(f), bcast, PEER_MAC_LAST, 5);
		peer_send(fx, f, sizeof(f));
		expect_closed(fx, a, "the guest broke its receive ring");
		/* The broadcast still reached the other guest. */
		spin_until(fx, used_idx(b, RXQ) != b->q[RXQ].used_seen);
		expect_rx(b, f, sizeof(f), 1);
		expect_works(fx, b);
		return;
	}
	kick_anyway(a, TXQ);
	expect_closed(fx, a, "the guest broke its transmit ring");
	g_assert_cmpuint(fx->peer_frames->len, ==, 1);	/* expect_works()'s only */
	expect_works(fx, b);
}

/* ---- a front-end that breaks the protocol: its connection ends ---- */

struct refusal {
	const char *name;		/* the case: /vhost-user/refused/NAME */
	void (*send)(struct fx *fx, struct fe *fe);
	const char *why;		/* in the log line: "PORT: closed (WHY)" */
};

static void mem_table_one(struct fe *fe, struct vu_region r, int fd)
{
	struct vu_mem m = { .nregions = 1, .r = { r } };

	fe_send_fds(fe, VU_SET_MEM_TABLE, VU_VERSION | VU_NEED_REPLY, &m, 8 + sizeof(r), &fd, 1);
}

static void send_mem_past_file(struct fx *fx, struct fe *fe)
{
	(void)fx;
	mem_table_one(fe, (struct vu_region){ 0, 2 * RAM_SIZE, UVA, 0 }, fe->mem_fd);
}

static void send_mem_offset_past_file(struct fx *fx, struct fe *fe)
{
	(void)fx;
	mem_table_one(fe, (struct vu_region){ 0, R0_SIZE, UVA, RAM_SIZE - 4096 }, fe->mem_fd);
}

static void send_mem_not_a_file(struct fx *fx, struct fe *fe)
{
	(void)fx;
	mem_table_one(fe, (struct vu_region){ 0, R0_SIZE, UVA, 0 }, fe->q[0].kick);
}

static void send_mem_wrapping(struct fx *fx, struct fe *fe)
{
	(void)fx;
	mem_table_one(fe, (struct vu_region){ 0, 4096, UVA, UINT64_MAX - 100 }, fe->mem_fd);
}

/* @n regions announced, @nfds descriptors sent. */
static void mem_table_count(struct fe *fe, uint32_t n, unsigned nfds)
{
	struct vu_mem m = { .nregions = n };
	int fds[9];

	for (unsigned i = 0; i < 9; i++) {
		m.r[i] = (struct vu_region){ i * 0x10000ull, 0x10000, UVA + i * 0x10000ull,
					     i * 0x10000ull };
		fds[i] = fe->mem_fd;
	}
	fe_send_fds(fe, VU_SET_MEM_TABLE, VU_VERSION | VU_NEED_REPLY, &m,
		    8 + MIN(n, 9u) * sizeof(m.r[0]), fds, nfds);
}

static void send_regions_without_fds(struct fx *fx, struct fe *fe)
{
	(void)fx;
	mem_table_count(fe, 2, 1);
}

static void send_fds_without_regions(struct fx *fx, struct fe *fe)
{
	(void)fx;
	mem_table_count(fe, 1, 2);
}

static void send_no_regions(struct fx *fx, struct fe *fe)
{
	(void)fx;
	mem_table_count(fe, 0, 0);
}

static void send_nine_regions(struct fx *fx, struct fe *fe)
{
	(void)fx;
	mem_table_count(fe, 9, 9);
}

static void send_version(struct fe *fe, uint32_t flags)
{
	fe_send_fds(fe, VU_GET_FEATURES, flags, NULL, 0, NULL, 0);
}

static void send_version_0(struct fx *fx, struct fe *fe)
{
	(void)fx;
	send_version(fe, 0);
}

static void send_version_2(struct fx *fx, struct fe *fe)
{
	(void)fx;
	send_version(fe, 2);
}

static void send_oversize(struct fx *fx, struct fe *fe)
{
	uint32_t hdr[3] = { VU_SET_OWNER, VU_VERSION, VU_PAYLOAD_MAX + 1 };
	uint8_t junk[VU_PAYLOAD_MAX + 1] = { 0 };

	(void)fx;
	/* Whatever follows is not read as a message. */
	g_assert_cmpint(send(fe->sock, hdr, sizeof(hdr), 0), ==, sizeof(hdr));
	g_assert_cmpint(send(fe->sock, junk, sizeof(junk), 0), ==, sizeof(junk));
}

static void send_size_huge(struct fx *fx, struct fe *fe)
{
	uint32_t hdr[3] = { VU_SET_MEM_TABLE, VU_VERSION, UINT32_MAX };

	(void)fx;
	g_assert_cmpint(send(fe->sock, hdr, sizeof(hdr), 0), ==, sizeof(hdr));
}

static void send_num_queue_2(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_vring_state(fe, VU_SET_VRING_NUM, 2, NUM);
}

static void send_kick_queue_2(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_vring_fd(fe, VU_SET_VRING_KICK, 2, fe->q[0].kick);
}

static void send_call_queue_255(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_vring_fd(fe, VU_SET_VRING_CALL, 255, fe->q[0].call);
}

static void send_addr_queue_2(struct fx *fx, struct fe *fe)
{
	struct vu_addr a = { .index = 2, .desc = UVA, .used = UVA + USED_OFF,
			     .avail = UVA + AVAIL_OFF };

	(void)fx;
	fe_send(fe, VU_SET_VRING_ADDR, 0, &a, sizeof(a));
}

static void send_get_base_queue_7(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_vring_state(fe, VU_GET_VRING_BASE, 7, 0);
}

static void send_enable_queue_2(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_vring_state(fe, VU_SET_VRING_ENABLE, 2, 1);
}

/* Rings QEMU places outside the memory it gave (RAM not shared). */
static void send_addr_outside(struct fx *fx, struct fe *fe)
{
	struct vu_addr a = { .index = 1, .desc = UVA + RAM_SIZE, .used = UVA + USED_OFF,
			     .avail = UVA + AVAIL_OFF };
	uint64_t offered, protocol;

	fe_init(fx, fe, &offered, &protocol);
	fe_set_mem_table(fe, VU_NEED_REPLY);
	g_assert_cmpuint(fe_reply_u64(fx, fe, VU_SET_MEM_TABLE), ==, 0);
	fe_vring_state(fe, VU_SET_VRING_NUM, 1, NUM);
	fe_send(fe, VU_SET_VRING_ADDR, 0, &a, sizeof(a));
}

static void send_num_not_power_of_2(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_vring_state(fe, VU_SET_VRING_NUM, 0, 255);
}

static void send_unoffered_features(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_send_u64(fe, VU_SET_FEATURES, 0, QEMU_FEATURES | BIT(F_HOST_UFO));
}

static void send_kick_polling(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_send_u64(fe, VU_SET_VRING_KICK, 0, 1 | VU_NOFD);
}

/* Kick and call descriptors must be eventfds: a pipe nobody reads would
 * block the daemon's interrupt, a file would take its writes. */
static void send_call_pipe(struct fx *fx, struct fe *fe)
{
	int p[2];

	(void)fx;
	g_assert_cmpint(pipe(p), ==, 0);
	fe_vring_fd(fe, VU_SET_VRING_CALL, 1, p[1]);
	close(p[0]);
	close(p[1]);
}

static void send_kick_memfd(struct fx *fx, struct fe *fe)
{
	(void)fx;
	fe_vring_fd(fe, VU_SET_VRING_KICK, 1, fe->mem_fd);
}

static const struct refusal refusals[] = {
	{ "mem-past-file", send_mem_past_file, "SET_MEM_TABLE: region*" },
	{ "mem-offset-past-file", send_mem_offset_past_file, "SET_MEM_TABLE: region*" },
	{ "mem-not-a-file", send_mem_not_a_file, "guest memory is not a shared file*" },
	{ "mem-wrapping", send_mem_wrapping, "SET_MEM_TABLE: region*" },
	{ "regions-without-fds", send_regions_without_fds,
	  "SET_MEM_TABLE: 2 regions, 1 descriptors*" },
	{ "fds-without-regions", send_fds_without_regions,
	  "SET_MEM_TABLE: 1 regions, 2 descriptors*" },
	{ "no-regions", send_no_regions, "SET_MEM_TABLE: 0 regions*" },
	{ "nine-regions", send_nine_regions, "more descriptors than any request carries" },
	{ "version-0", send_version_0, "not a vhost-user message*" },
	{ "version-2", send_version_2, "not a vhost-user message*" },
	{ "oversize", send_oversize, "not a vhost-user message*" },
	{ "size-huge", send_size_huge, "not a vhost-user message*" },
	{ "num-queue-2", send_num_queue_2, "SET_VRING_NUM: no such queue" },
	{ "kick-queue-2", send_kick_queue_2, "SET_VRING_KICK: no such queue*" },
	{ "call-queue-255", send_call_queue_255, "SET_VRING_CALL: no such queue*" },
	{ "addr-queue-2", send_addr_queue_2, "SET_VRING_ADDR: no queue 2*" },
	{ "get-base-queue-7", send_get_base_queue_7, "GET_VRING_BASE: no such queue" },
	{ "enable-queue-2", send_enable_queue_2, "SET_VRING_ENABLE: no such queue" },
	{ "addr-outside", send_addr_outside, "queue 1 lies outside guest memory*" },
	{ "num-255", send_num_not_power_of_2, "SET_VRING_NUM: 255 entries*" },
	{ "unoffered-features", send_unoffered_features, "SET_FEATURES: *never offered" },
	{ "kick-polling", send_kick_polling, "SET_VRING_KICK without a descriptor*" },
	{ "call-pipe", send_call_pipe, "SET_VRING_CALL: *no eventfd" },
	{ "kick-memfd", send_kick_memfd, "SET_VRING_KICK: *no eventfd" },
};

static void test_refused(struct fx *fx, gconstpointer data)
{
	const struct refusal *r = data;
	struct fe *a = &fx->fe[0], *b = &fx->fe[1];

	fe_up(fx, b, QEMU_FEATURES);
	fe_open(fx, a);
	r->send(fx, a);
	expect_closed(fx, a, r->why);
	fe_release(fx, a);
	/* Whatever it mapped is unmapped (teardown counts descriptors). */
	g_assert_cmpuint(ram_mappings(a->name), ==, 0);
	expect_works(fx, b);
}

/* ---- requests refused without ending the connection ---- */

static void test_unknown_request(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint64_t offered, protocol, zero = 0;

	(void)data;
	fe_open(fx, a);
	/* Before REPLY_ACK is agreed, need_reply asks for nothing: the next
	 * reply on the socket is GET_FEATURES'. */
	fe_send(a, 99, VU_NEED_REPLY, &zero, sizeof(zero));
	fe_init(fx, a, &offered, &protocol);
	g_assert_cmphex(protocol & BIT(PF_REPLY_ACK), !=, 0);
	/* Now a nonzero ack, for an unknown request and for one not offered
	 * (SET_LOG_BASE, with its descriptor), and the device goes on. */
	fe_send(a, 99, VU_NEED_REPLY, &zero, sizeof(zero));
	g_assert_cmpuint(fe_reply_u64(fx, a, 99), !=, 0);
	fe_send_fds(a, VU_SET_LOG_BASE, VU_VERSION | VU_NEED_REPLY, &zero, sizeof(zero),
		    &a->mem_fd, 1);
	g_assert_cmpuint(fe_reply_u64(fx, a, VU_SET_LOG_BASE), !=, 0);
	g_assert_true(logged("vhost-a: vhost-user request 99 not supported"));
	/* A known request with need_reply: acked with 0. */
	fe_send(a, VU_SET_OWNER, VU_NEED_REPLY, NULL, 0);
	g_assert_cmpuint(fe_reply_u64(fx, a, VU_SET_OWNER), ==, 0);
	g_assert_cmphex(fe_get_u64(fx, a, VU_GET_FEATURES), ==, offered);
	expect_open(fx, a);
}

static void test_mtu(struct fx *fx, gconstpointer data)
{
	static const struct {
		uint64_t mtu;
		bool ok;
	} cases[] = { { 9000, false }, { NET_MTU + 1, false }, { 67, false }, { 0, false },
		      { UINT64_MAX, false }, { 68, true }, { 576, true }, { NET_MTU, true } };
	struct fe *a = &fx->fe[0];

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
		fe_send_u64(a, VU_NET_SET_MTU, VU_NEED_REPLY, cases[i].mtu);
		if (cases[i].ok)
			g_assert_cmpuint(fe_reply_u64(fx, a, VU_NET_SET_MTU), ==, 0);
		else
			g_assert_cmpuint(fe_reply_u64(fx, a, VU_NET_SET_MTU), !=, 0);
	}
	g_assert_true(logged("vhost-a: refused host_mtu=9000: the network's MTU is 1500"));
	expect_open(fx, a);
}

/* GET_CONFIG: virtio-net's config space: mac[6], status, pairs, mtu. */
static void test_get_config(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	struct vu_config c = { .offset = 0, .size = 24 };
	uint16_t status, pairs, mtu;

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	fe_send(a, VU_GET_CONFIG, 0, &c, 12 + c.size);
	memset(&c, 0xee, sizeof(c));
	g_assert_cmpuint(fe_reply(fx, a, VU_GET_CONFIG, &c, sizeof(c)), ==, 12 + 24);
	g_assert_cmpuint(c.offset, ==, 0);
	g_assert_cmpuint(c.size, ==, 24);
	memcpy(&status, c.region + 6, 2);
	memcpy(&pairs, c.region + 8, 2);
	memcpy(&mtu, c.region + 10, 2);
	g_assert_cmpuint(status, ==, 1);	/* VIRTIO_NET_S_LINK_UP */
	g_assert_cmpuint(pairs, ==, 1);
	g_assert_cmpuint(mtu, ==, NET_MTU);
	for (unsigned i = 12; i < 24; i++)
		g_assert_cmpuint(c.region[i], ==, 0);
	/* Just the status, at its offset. */
	c = (struct vu_config){ .offset = 6, .size = 2 };
	fe_send(a, VU_GET_CONFIG, 0, &c, 12 + c.size);
	g_assert_cmpuint(fe_reply(fx, a, VU_GET_CONFIG, &c, sizeof(c)), ==, 12 + 2);
	memcpy(&status, c.region, 2);
	g_assert_cmpuint(status, ==, 1);
	expect_open(fx, a);
}

/* QEMU quits: the port goes, with every descriptor and mapping it held
 * (teardown counts them); the user is told. */
static void test_front_end_closes(struct fx *fx, gconstpointer data)
{
	struct fe *a = &fx->fe[0];
	uint8_t f[64];

	(void)data;
	fe_up(fx, a, QEMU_FEATURES);
	make_frame(f, sizeof(f), nobody, A_MAC_LAST, 1);
	guest_queue_tx(a, f, sizeof(f), 0);
	guest_kick(a, TXQ);
	spin_until(fx, fx->peer_frames->len == 1);
	g_assert_cmpuint(ram_mappings(a->name), ==, 3);	/* ours, and the daemon's two */
	close(a->sock);
	a->sock = -1;
	spin_until(fx, a->closed);
	g_assert_null(port_set_find(fx->set, a->port_id));
	g_assert_true(logged("vhost-a: closed (front-end closed the connection)*"));
	g_assert_cmpuint(ram_mappings(a->name), ==, 1);	/* ours only */
	fe_release(fx, a);
}

/* QEMU goes away, or resets the device, while a kick waits in the same
 * loop iteration: the kick must find its queue stopped, not a handler
 * that is gone. The socket is made ready first, so its event comes first. */
static void test_kick_pending(struct fx *fx, gconstpointer data)
{
	bool hangup = GPOINTER_TO_INT(data);
	struct fe *a = &fx->fe[0];
	uint8_t f[64];

	fe_up(fx, a, QEMU_FEATURES);
	make_frame(f, sizeof(f), nobody, A_MAC_LAST, 1);
	guest_queue_tx(a, f, sizeof(f), 0);
	if (hangup) {
		close(a->sock);
		a->sock = -1;
	} else {
		fe_send(a, 4 /* RESET_OWNER */, 0, NULL, 0);
	}
	kick_anyway(a, TXQ);
	if (hangup) {
		spin_until(fx, a->closed);
		return;
	}
	expect_open(fx, a);
	g_assert_cmpuint(fx->peer_frames->len, ==, 0);
	g_assert_cmphex(fe_get_u64(fx, a, VU_GET_FEATURES) & BIT(F_VERSION_1), !=, 0);
}

int main(int argc, char **argv)
{
	static const uint64_t with_event_idx = QEMU_FEATURES, without_event_idx = NO_EVENT_IDX;

	g_test_init(&argc, &argv, NULL);
	log_lines = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(capture_log, NULL, NULL);
#define ADD(path, fn, data) g_test_add(path, struct fx, data, setup, fn, teardown)
	ADD("/vhost-user/handshake", test_handshake, NULL);
	ADD("/vhost-user/split-messages", test_split_messages, NULL);
	ADD("/vhost-user/many-requests", test_many_requests, NULL);
	ADD("/vhost-user/tx/frames", test_tx, NULL);
	ADD("/vhost-user/tx/before-enable", test_tx_before_enable, NULL);
	ADD("/vhost-user/tx/suppressed-event-idx", test_tx_suppressed, &with_event_idx);
	ADD("/vhost-user/tx/suppressed-flag", test_tx_suppressed, &without_event_idx);
	ADD("/vhost-user/legacy-header", test_legacy_header, NULL);
	ADD("/vhost-user/rx/frames", test_rx, NULL);
	ADD("/vhost-user/rx/mergeable", test_rx_mergeable, NULL);
	ADD("/vhost-user/rx/too-big", test_rx_too_big, NULL);
	ADD("/vhost-user/rx/backlog-event-idx", test_rx_backlog, &with_event_idx);
	ADD("/vhost-user/rx/backlog-flag", test_rx_backlog, &without_event_idx);
	ADD("/vhost-user/rx/backlog-bound", test_rx_backlog_bound, NULL);
	ADD("/vhost-user/stop-restart", test_stop_restart, NULL);
	ADD("/vhost-user/addr-again", test_addr_again, NULL);
	ADD("/vhost-user/csum-offload", test_csum_offload, NULL);
	ADD("/vhost-user/hostile/avail-too-far", test_hostile_ring,
	    GINT_TO_POINTER(AVAIL_TOO_FAR));
	ADD("/vhost-user/hostile/desc-loop", test_hostile_ring, GINT_TO_POINTER(DESC_LOOP));
	ADD("/vhost-user/hostile/desc-outside", test_hostile_ring,
	    GINT_TO_POINTER(DESC_OUTSIDE));
	ADD("/vhost-user/hostile/rx-outside", test_hostile_ring, GINT_TO_POINTER(RX_OUTSIDE));
	for (unsigned i = 0; i < G_N_ELEMENTS(refusals); i++) {
		g_autofree char *path = g_strdup_printf("/vhost-user/refused/%s",
							refusals[i].name);

		ADD(path, test_refused, &refusals[i]);
	}
	ADD("/vhost-user/unknown-request", test_unknown_request, NULL);
	ADD("/vhost-user/net-set-mtu", test_mtu, NULL);
	ADD("/vhost-user/get-config", test_get_config, NULL);
	ADD("/vhost-user/front-end-closes", test_front_end_closes, NULL);
	ADD("/vhost-user/kick-pending/hangup", test_kick_pending, GINT_TO_POINTER(1));
	ADD("/vhost-user/kick-pending/reset", test_kick_pending, GINT_TO_POINTER(0));
	return g_test_run();
}
