/* fuzz_api.c - the control API's request handler (api_commands.c, and through it forwards.c, capture.c, network.c) over one NAT network, one request per input line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "fuzz.h"

#include "vmnetd/api_commands.h"
#include "vmnetd/network.h"

/* add_hostfwd makes libslirp listen on the host. Only loopback addresses
 * may be bound here, so no input opens a port other machines can reach;
 * the rest fail as an address this host does not have would. This
 * definition takes the place of libc's for libslirp too. Every forward is
 * removed again after each input. */
int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	bool loopback = false;

	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		loopback = (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	else if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		loopback = IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	else if (sa && sa->sa_family == AF_UNIX)
		loopback = true;
	if (!loopback) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	return (int)syscall(SYS_bind, fd, sa, len);
}

static struct loop *loop;
static struct network *net;
static GPtrArray *nets;
static struct api_ctx ctx;
static struct loop_timer *stop;

static void quit_loop(void *opaque)
{
	loop_quit(opaque);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct net_config nc = { .name = "default", .mode = NET_MODE_NAT, .mtu = NAT_MTU_DEFAULT };
	GError *err = NULL;

	(void)argc;
	(void)argv;
	fuzz_init();
	nat_config_init(&nc.nat);
	FUZZ_CHECK(nat_config_finish(&nc.nat, "--nat", NULL));
	loop = loop_new();
	net = network_new(loop, &nc, "--nat", "vmnetd", &err);
	if (!net) {
		fprintf(stderr, "fuzz_api: %s\n", err->message);
		abort();
	}
	nat_config_clear(&nc.nat);
	nets = g_ptr_array_new();
	g_ptr_array_add(nets, net);
	ctx = (struct api_ctx){ .loop = loop, .nets = nets };
	stop = loop_timer_new(loop, quit_loop, loop);
	return 0;
}

/* A reply is one line of JSON: an object with "return" or "error". */
static void check_reply(const char *reply)
{
	JsonNode *root;
	JsonObject *o;

	FUZZ_CHECK(reply);
	FUZZ_CHECK(!strchr(reply, '\n'));
	root = json_from_string(reply, NULL);
	if (!root) {
		fprintf(stderr, "fuzz_api: the reply is not JSON: %s\n", reply);
		abort();
	}
	FUZZ_CHECK(JSON_NODE_HOLDS_OBJECT(root));
	o = json_node_get_object(root);
	FUZZ_CHECK(json_object_get_size(o) == 1);
	FUZZ_CHECK(json_object_has_member(o, "return") || json_object_has_member(o, "error"));
	json_node_unref(root);
}

static void collect_id(const struct fwd_entry *e, void *opaque)
{
	g_array_append_val((GArray *)opaque, e->id);
}

/* Back to a network with no forwards and no capture, so every input
 * starts alike and no host port stays bound. */
static void reset(void)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(unsigned));

	forwards_foreach(network_forwards(net), collect_id, ids);
	for (guint i = 0; i < ids->len; i++)
		FUZZ_CHECK(forwards_remove(network_forwards(net), g_array_index(ids, unsigned, i),
					   NULL));
	g_array_free(ids, TRUE);
	network_capture_stop(net, NULL, NULL);
	/* One iteration: what was removed during the input is freed. */
	loop_timer_arm(stop, clock_now_ns());
	loop_run(loop);
}

/* The input is what a client sends: one request per line. A line that
 * starts with '@' comes with a descriptor (/dev/null, for capture_start),
 * the '@' not part of the request. The peer is never of the daemon's uid,
 * so no request opens a file by name. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct api_peer peer = { .uid = 65534, .gid = 65534, .pid = 1,
					      .same_uid = false };
	const uint8_t *p = data, *end = data + size;
	/* FUZZ_VERBOSE=1: each request and its reply on stderr, to read a reproducer. */
	static int verbose = -1;

	if (verbose < 0)
		verbose = g_strcmp0(g_getenv("FUZZ_VERBOSE"), "1") == 0;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		bool with_fd = len && *p == '@';
		/* A heap copy of exactly the line and its NUL, as api.c hands it. */
		char *req = g_malloc(len + 1);
		int fd = -1;
		char *reply;

		memcpy(req, p, len);
		req[len] = 0;
		if (with_fd) {
			fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			FUZZ_CHECK(fd >= 0);
		}
		reply = api_handle_request(&ctx, req + with_fd, len - with_fd, &fd, &peer);
		if (verbose)
			fprintf(stderr, "-> %s\n<- %s\n", req, reply);
		check_reply(reply);
		g_free(reply);
		if (fd >= 0)		/* not taken: api.c closes it */
			close(fd);
		g_free(req);
		p += len + 1;
	}
	reset();
	return 0;
}
