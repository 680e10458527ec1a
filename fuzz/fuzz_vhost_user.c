/* fuzz_vhost_user.c - the vhost-user back-end (vhost_user.c) and its port
 * (port_vhost.c) against a front-end and a guest that the input plays.
 *
 * Each input gets a fresh loop, switch and port set: the vhost-user port on
 * one end of a socketpair, and a plain port that stands for the rest of the
 * network. The input is a 2-byte little-endian guest RAM size in 256-byte
 * units (a memfd of that size, sealed as QEMU's memory-backend-memfd seals
 * it), then records (fuzz.h), each one action of the front-end or guest:
 *
 *   control & 3 == 0  send the rest as is on the socket (a header and a
 *                     payload; the size it claims need not agree), with
 *                     descriptors by SCM_RIGHTS as control bits 2-3 say:
 *                     0 none; 1 (bits 4-7) copies of the RAM memfd, up to
 *                     15, more than any request carries; 2 eventfd number
 *                     (bits 4-5); 3 a pipe's read end
 *   control & 3 == 1  write guest RAM: a 3-byte little-endian offset, then
 *                     the bytes (cut at the RAM's end)
 *   control & 3 == 2  the guest kicks: eventfd number (bits 2-3) is written
 *   control & 3 == 3  the other port sends the rest into the switch
 *
 * The four eventfds are the guest's: fuzz/make_corpus.py's seeds use 0 and
 * 1 as queue 0's and 1's kick, 2 and 3 as their call. After each action the
 * loop runs one iteration (it never waits) and the daemon's replies are
 * read and checked for shape. At the end the front-end hangs up: the port
 * must close, and every descriptor and mapping it was given must be gone
 * (LeakSanitizer sees the heap). The daemon's mappings of guest RAM are
 * placed, through the linker's --wrap of mmap and munmap (fuzz/meson.build),
 * between PROT_NONE guard pages, so a touch past a mapping's last page is a
 * crash, not a silent write into whatever lay next to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

#include "vmnetd/port_vhost.h"
#include "vmnetd/switch.h"

#define RAM_UNIT	256u
#define NEVENTFDS	4
#define FDS_MAX		15
#define NET_MTU		65520	/* the NAT default: every frame size is fair */
#define REPLY_MAX	(12 + 12 + 256)	/* GET_CONFIG's, the longest */
/* Iterations a hung-up port may take to close: it reads what is buffered
 * first, 64 messages a wakeup; more than any input's messages need. */
#define HANGUP_ITERATIONS 10000

/* ---- guard pages around the daemon's mappings of guest RAM ---- */

/* With _FILE_OFFSET_BITS=64 (meson's default) the calls are to mmap64,
 * without to mmap: both are wrapped. */
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

typedef void *(*mmap_fn)(void *addr, size_t len, int prot, int flags, int fd, off_t off);

struct guarded {
	uint8_t *map;		/* what the caller got */
	uint8_t *reserve;	/* guard page, map, guard page */
	size_t total;
};

/* The daemon maps at most 8 regions at a time; a table replaced is unmapped first. */
static struct guarded guarded[32];
static unsigned guarded_made;	/* ever: proof that the wrapping works */

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* A shared file mapping goes between two PROT_NONE pages; any other
 * mapping (the port queues' anonymous ones) as asked. */
static void *guarded_mmap(mmap_fn real, void *addr, size_t len, int prot, int flags, int fd,
			  off_t off)
{
	size_t pg = page_size(), total;
	uint8_t *reserve, *map;
	struct guarded *g = NULL;

	if (fd < 0 || addr || !(flags & MAP_SHARED) || !len)
		return real(addr, len, prot, flags, fd, off);
	for (unsigned i = 0; i < G_N_ELEMENTS(guarded) && !g; i++)
		if (!guarded[i].map)
			g = &guarded[i];
	FUZZ_CHECK(g);		/* more mappings alive than the daemon may hold */
	total = (len + pg - 1) / pg * pg + 2 * pg;
	reserve = real(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (reserve == MAP_FAILED)
		return MAP_FAILED;
	map = real(reserve + pg, len, prot, flags | MAP_FIXED, fd, off);
	if (map == MAP_FAILED) {
		__real_munmap(reserve, total);
		return MAP_FAILED;
	}
	*g = (struct guarded){ map, reserve, total };
	guarded_made++;
	return map;
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return guarded_mmap(__real_mmap, addr, len, prot, flags, fd, off);
}

void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return guarded_mmap(__real_mmap64, addr, len, prot, flags, fd, off);
}

int __wrap_munmap(void *addr, size_t len)
{
	for (unsigned i = 0; i < G_N_ELEMENTS(guarded); i++)
		if (guarded[i].map && guarded[i].map == addr) {
			int r = __real_munmap(guarded[i].reserve, guarded[i].total);

			guarded[i].map = NULL;
			return r;
		}
	return __real_munmap(addr, len);
}

static unsigned guarded_live(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < G_N_ELEMENTS(guarded); i++)
		n += guarded[i].map != NULL;
	return n;
}

/* ---- the network side: a port that checks what it is given ---- */

struct sink {
	struct port port;
	unsigned frames;
};

static enum port_verdict sink_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct sink *s = (struct sink *)p;
	volatile uint8_t x = 0;

	/* A transmitted frame is whole Ethernet and ours: every byte readable. */
	FUZZ_CHECK(len >= 14 && len <= VHOST_FRAME_MAX);
	for (size_t i = 0; i < len; i++)
		x ^= frame[i];
	(void)x;
	s->frames++;
	return PORT_QUEUED;
}

static const struct port_ops sink_ops = { .kind = "sink", .deliver = sink_deliver };

/* ---- one input's world ---- */

struct world {
	struct loop *l;
	struct vswitch *sw;
	struct port_set *set;
	struct sink *sink;
	struct port *vhost;		/* until its close callback */
	bool closed;
	int sock;			/* the front-end's end */
	int mem_fd;
	uint8_t *ram;			/* our own mapping, NULL if size 0 */
	size_t ram_size;
	int efd[NEVENTFDS];
	int pipe[2];
	GByteArray *replies;		/* bytes read, not yet a whole reply */
};

static unsigned count_fds(void)
{
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
	unsigned n = 0;

	FUZZ_CHECK(d);
	while (g_dir_read_name(d))
		n++;
	g_dir_close(d);
	return n;
}

static void on_closed(void *opaque, struct port *p)
{
	struct world *w = opaque;

	FUZZ_CHECK(p == w->vhost);
	w->closed = true;
	w->vhost = NULL;
}

static void world_init(struct world *w, size_t ram_size)
{
	int sv[2];

	memset(w, 0, sizeof(*w));
	w->l = loop_new();
	w->sw = switch_new(SWITCH_AGEING_NS);
	w->set = port_set_new(w->l, w->sw);
	w->sink = g_new0(struct sink, 1);
	port_init(&w->sink->port, &sink_ops, g_strdup("sink"));
	port_attach(w->set, &w->sink->port, -1, 0, NULL);

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	w->sock = sv[0];
	w->mem_fd = memfd_create("fuzz-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	FUZZ_CHECK(w->mem_fd >= 0);
	FUZZ_CHECK(ftruncate(w->mem_fd, (off_t)ram_size) == 0);
	FUZZ_CHECK(fcntl(w->mem_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	w->ram_size = ram_size;
	if (ram_size) {
		w->ram = __real_mmap64(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				       w->mem_fd, 0);
		FUZZ_CHECK(w->ram != MAP_FAILED);
	}
	for (unsigned i = 0; i < NEVENTFDS; i++)
		FUZZ_CHECK((w->efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	FUZZ_CHECK(pipe2(w->pipe, O_NONBLOCK | O_CLOEXEC) == 0);
	w->replies = g_byte_array_new();

	w->vhost = port_vhost_new(w->set, sv[1], g_strdup("vhost"), NET_MTU);
	FUZZ_CHECK(w->vhost);
	port_on_close(w->vhost, on_closed, w);
}

/* The front-end hangs up; the port must go, and with it everything it held. */
static void world_fini(struct world *w)
{
	close(w->sock);
	for (unsigned i = 0; i < HANGUP_ITERATIONS && !w->closed; i++)
		loop_run_once(w->l);
	FUZZ_CHECK(w->closed);
	port_set_free(w->set);
	switch_free(w->sw);
	loop_free(w->l);
	if (w->ram)
		__real_munmap(w->ram, w->ram_size);
	close(w->mem_fd);
	for (unsigned i = 0; i < NEVENTFDS; i++)
		close(w->efd[i]);
	close(w->pipe[0]);
	close(w->pipe[1]);
	g_byte_array_unref(w->replies);
}

/* Every reply is whole and well formed: version 1 with the reply bit, and
 * no longer than the longest the protocol has. */
static void read_replies(struct world *w)
{
	uint8_t buf[4096];
	ssize_t n;

	while ((n = recv(w->sock, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		g_byte_array_append(w->replies, buf, (guint)n);
	while (w->replies->len >= 12) {
		uint32_t flags, size;

		memcpy(&flags, w->replies->data + 4, 4);
		memcpy(&size, w->replies->data + 8, 4);
		FUZZ_CHECK(flags == (1u | 1u << 2));
		FUZZ_CHECK(size <= REPLY_MAX - 12);
		if (w->replies->len < 12 + size)
			break;
		g_byte_array_remove_range(w->replies, 0, 12 + size);
	}
}

static void send_message(struct world *w, uint8_t ctl, const uint8_t *msg, size_t len)
{
	int fds[FDS_MAX];
	unsigned nfds = 0;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
	} cbuf;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	switch (ctl >> 2 & 3) {
	case 1:
		nfds = ctl >> 4;
		for (unsigned i = 0; i < nfds; i++)
			fds[i] = w->mem_fd;
		break;
	case 2:
		fds[nfds++] = w->efd[ctl >> 4 & 3];
		break;
	case 3:
		fds[nfds++] = w->pipe[0];
		break;
	}
	if (!len)
		return;		/* descriptors ride on data */
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
	/* The daemon may have hung up, or stopped reading: never wait. */
	(void)sendmsg(w->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void write_ram(struct world *w, const uint8_t *data, size_t len)
{
	size_t off;

	if (len < 3 || !w->ram)
		return;
	off = data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16;
	if (off >= w->ram_size)
		return;
	memcpy(w->ram + off, data + 3, MIN(len - 3, w->ram_size - off));
}

static void kick(struct world *w, uint8_t ctl)
{
	uint64_t one = 1;

	FUZZ_CHECK(write(w->efd[ctl >> 2 & 3], &one, sizeof(one)) == sizeof(one) ||
		   errno == EAGAIN);
}

static void act(struct world *w, const uint8_t *rec, size_t len)
{
	uint8_t ctl = rec[0];

	switch (ctl & 3) {
	case 0:
		send_message(w, ctl, rec + 1, len - 1);
		break;
	case 1:
		write_ram(w, rec + 1, len - 1);
		break;
	case 2:
		kick(w, ctl);
		break;
	case 3:
		port_input(&w->sink->port, rec + 1, len - 1);
		break;
	}
}

/* Without the link's --wrap every guard would be missing, silently: try it. */
static void check_wrapped(void)
{
	int fd = memfd_create("fuzz-wrap-check", MFD_CLOEXEC);
	void *p;

	FUZZ_CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	FUZZ_CHECK(p != MAP_FAILED && guarded_made == 1 && guarded_live() == 1);
	FUZZ_CHECK(munmap(p, 4096) == 0 && guarded_live() == 0);
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	check_wrapped();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size };
	unsigned fds_before = count_fds();
	size_t ram_size = fuzz_u8(&r);
	struct world w;
	uint8_t *rec;
	size_t len;

	ram_size = (ram_size | (size_t)fuzz_u8(&r) << 8) * RAM_UNIT;
	world_init(&w, ram_size);
	while ((rec = fuzz_record(&r, &len))) {
		if (len)
			act(&w, rec, len);
		g_free(rec);
		loop_run_once(w.l);
		read_replies(&w);
		if (w.vhost)
			FUZZ_CHECK(w.vhost->backlog <= VHOST_QUEUE_SIZE);
	}
	world_fini(&w);
	FUZZ_CHECK(guarded_live() == 0);
	FUZZ_CHECK(count_fds() == fds_before);
	return 0;
}
