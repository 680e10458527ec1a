/* test_api.c - the control API: api_handle_request() on its own (request
 * checks, every command's reply shape, over no network and over a real NAT
 * network), then api_server over a unix socket in a temporary directory
 * (framing, limits, backpressure, passed descriptors, peer credentials). */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "nat_net.h"
#include "vmnetd/api.h"
#include "vmnetd/api_commands.h"
#include "vmnetd/forwards.h"
#include "vmnetd/network.h"

#define MS 1000000LL
#define SEC (1000 * MS)

static const struct api_peer same_peer = { .uid = 0, .gid = 0, .pid = 1, .same_uid = true };
static const struct api_peer other_peer = { .uid = 65534, .gid = 65534, .pid = 2,
					    .same_uid = false };

/* ---- calling the handler ---- */

/* The reply to @req: always one line of JSON, an object with exactly one
 * of "return" and "error". */
static char *call_fd(struct api_ctx *ctx, const char *req, int *fd, const struct api_peer *peer)
{
	char *reply = api_handle_request(ctx, req, strlen(req), fd, peer);
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *o;

	g_assert_nonnull(reply);
	g_assert_null(strchr(reply, '\n'));
	root = json_from_string(reply, &err);
	if (!root)
		g_error("reply to %s is not JSON (%s): %s", req, err->message, reply);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
	o = json_node_get_object(root);
	g_assert_cmpuint(json_object_get_size(o), ==, 1);
	g_assert_true(json_object_has_member(o, "return") || json_object_has_member(o, "error"));
	return reply;
}

static char *call(struct api_ctx *ctx, const char *req)
{
	int fd = -1;
	char *reply = call_fd(ctx, req, &fd, &same_peer);

	g_assert_cmpint(fd, ==, -1);
	return reply;
}

/* The reply is exactly @want. */
static void expect(struct api_ctx *ctx, const char *req, const char *want)
{
	g_autofree char *reply = call(ctx, req);

	if (strcmp(reply, want))
		g_error("%s\n  got  %s\n  want %s", req, reply, want);
}

/* The error's description, or NULL for a "return". */
static char *error_desc(const char *reply)
{
	g_autoptr(JsonNode) root = json_from_string(reply, NULL);
	JsonObject *o = json_node_get_object(root);
	JsonObject *e;

	if (!json_object_has_member(o, "error"))
		return NULL;
	e = json_object_get_object_member(o, "error");
	g_assert_nonnull(e);
	g_assert_cmpuint(json_object_get_size(e), ==, 1);
	return g_strdup(json_object_get_string_member(e, "desc"));
}

/* An error whose description is @want exactly (or starts with it, for @prefix). */
static void expect_error_fd(struct api_ctx *ctx, const char *req, int *fd,
			    const struct api_peer *peer, const char *want, bool prefix)
{
	g_autofree char *reply = call_fd(ctx, req, fd, peer);
	g_autofree char *desc = error_desc(reply);

	if (!desc)
		g_error("%s: no error: %s", req, reply);
	if (prefix ? !g_str_has_prefix(desc, want) : strcmp(desc, want))
		g_error("%s\n  got  %s\n  want %s%s", req, desc, want, prefix ? "..." : "");
}

static void expect_error(struct api_ctx *ctx, const char *req, const char *want)
{
	int fd = -1;

	expect_error_fd(ctx, req, &fd, &same_peer, want, false);
}

static void expect_error_prefix(struct api_ctx *ctx, const char *req, const char *want)
{
	int fd = -1;

	expect_error_fd(ctx, req, &fd, &same_peer, want, true);
}

/* The "return" value of a reply that must succeed. */
static JsonNode *returned(struct api_ctx *ctx, const char *req)
{
	g_autofree char *reply = call(ctx, req);
	g_autoptr(JsonNode) root = json_from_string(reply, NULL);
	JsonObject *o = json_node_get_object(root);

	if (!json_object_has_member(o, "return"))
		g_error("%s: %s", req, reply);
	return json_node_copy(json_object_get_member(o, "return"));
}

/* The members of @o are @names, in that order. */
static void check_members(JsonObject *o, const char *const *names)
{
	g_autoptr(GList) members = json_object_get_members(o);
	GList *it = members;
	size_t i = 0;

	for (; it && names[i]; it = it->next, i++)
		if (strcmp(it->data, names[i]))
			g_error("member %zu is %s, not %s", i, (const char *)it->data, names[i]);
	if (it || names[i])
		g_error("%s member: %s", it ? "an extra" : "a missing",
			it ? (const char *)it->data : names[i]);
}

/* ---- requests that no network is needed for ---- */

static void test_request_checks(void)
{
	g_autoptr(GPtrArray) nets = g_ptr_array_new();
	struct loop *l = loop_new();
	struct api_ctx ctx = { .loop = l, .nets = nets };
	g_autofree char *deep = NULL, *deep_ok = NULL, *deep_args = NULL, *in_string = NULL;

	/* Not JSON. */
	expect_error_prefix(&ctx, "xyz", "cannot parse JSON: ");
	expect_error_prefix(&ctx, "{\"execute\":", "cannot parse JSON: ");
	expect_error_prefix(&ctx, "{\"execute\":\"list_hostfwd\"", "cannot parse JSON: ");
	expect_error_prefix(&ctx, "{\"execute\":\"list_fdb\",}", "cannot parse JSON: ");
	expect_error_prefix(&ctx, "{execute:\"list_fdb\"}", "cannot parse JSON: ");
	expect_error_prefix(&ctx, "{\"execute\":\"shutdown\"} x", "cannot parse JSON: ");
	expect_error_prefix(&ctx, "\xff\xfe", "cannot parse JSON: ");
	/* Not an object with a string "execute". */
	expect_error(&ctx, "[]", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "[{\"execute\":\"list_networks\"}]",
		     "a request is an object with a string \"execute\"");
	expect_error(&ctx, "\"list_networks\"", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "42", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "null", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "{}", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "{\"arguments\":{}}", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "{\"execute\":1}", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "{\"execute\":null}", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "{\"execute\":true}", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "{\"execute\":[\"shutdown\"]}",
		     "a request is an object with a string \"execute\"");
	expect_error(&ctx, "{\"execute\":{}}", "a request is an object with a string \"execute\"");
	expect_error(&ctx, "{\"Execute\":\"list_networks\"}",
		     "a request is an object with a string \"execute\"");
	/* "arguments" not an object. */
	expect_error(&ctx, "{\"execute\":\"list_networks\",\"arguments\":[]}",
		     "\"arguments\" must be an object");
	expect_error(&ctx, "{\"execute\":\"list_networks\",\"arguments\":\"x\"}",
		     "\"arguments\" must be an object");
	expect_error(&ctx, "{\"execute\":\"list_networks\",\"arguments\":null}",
		     "\"arguments\" must be an object");
	expect_error(&ctx, "{\"execute\":\"list_networks\",\"arguments\":7}",
		     "\"arguments\" must be an object");
	/* Unknown commands, by name. */
	expect_error(&ctx, "{\"execute\":\"frobnicate\"}", "unknown command frobnicate");
	expect_error(&ctx, "{\"execute\":\"\"}", "unknown command ");
	expect_error(&ctx, "{\"execute\":\"LIST_NETWORKS\"}", "unknown command LIST_NETWORKS");
	/* A name with a newline: the reply is still one line (call() checks). */
	expect_error(&ctx, "{\"execute\":\"a\\nb\\\"c\"}", "unknown command a\nb\"c");
	/* Unknown arguments are named. */
	expect_error(&ctx, "{\"execute\":\"list_networks\",\"arguments\":{\"verbose\":true}}",
		     "list_networks: unknown argument verbose");
	expect_error(&ctx, "{\"execute\":\"shutdown\",\"arguments\":{\"now\":1}}",
		     "shutdown: unknown argument now");
	/* Wrong types. */
	expect_error(&ctx, "{\"execute\":\"list_networks\",\"arguments\":{\"network\":5}}",
		     "list_networks: network must be a string");
	expect_error(&ctx, "{\"execute\":\"list_ports\",\"arguments\":{\"network\":null}}",
		     "list_ports: network must be a string");
	/* Commands that act on one network, with none. */
	expect_error(&ctx, "{\"execute\":\"list_hostfwd\"}", "list_hostfwd: no networks");
	expect_error(&ctx, "{\"execute\":\"capture_stop\"}", "capture_stop: no networks");
	expect_error(&ctx, "{\"execute\":\"list_networks\",\"arguments\":{\"network\":\"x\"}}",
		     "list_networks: no network x");
	/* Listings of no networks are empty. */
	expect(&ctx, "{\"execute\":\"list_networks\"}", "{\"return\":{\"networks\":[]}}");
	expect(&ctx, " {\"execute\" : \"list_ports\", \"arguments\" : {}} ",
	       "{\"return\":{\"ports\":[]}}");
	expect(&ctx, "{\"execute\":\"list_leases\"}", "{\"return\":{\"leases\":[]}}");
	expect(&ctx, "{\"execute\":\"list_fdb\"}", "{\"return\":{\"fdb\":[]}}");
	expect(&ctx, "{\"execute\":\"stats\"}", "{\"return\":{\"networks\":[]}}");
	/* Members other than execute and arguments are ignored. */
	expect(&ctx, "{\"id\":3,\"execute\":\"list_fdb\"}", "{\"return\":{\"fdb\":[]}}");

	/* Nesting: 100 '[' never reach the parser; 32 levels do. */
	deep = g_strnfill(100, '[');
	expect_error(&ctx, deep, "cannot parse JSON: nested too deep");
	g_free(deep);
	deep = g_strnfill(API_REQUEST_MAX, '{');
	expect_error(&ctx, deep, "cannot parse JSON: nested too deep");
	deep_args = g_strdup_printf("{\"execute\":\"list_fdb\",\"arguments\":{\"x\":%s}}", deep + 64000);
	expect_error(&ctx, deep_args, "cannot parse JSON: nested too deep");
	{
		g_autofree char *open = g_strnfill(30, '[');
		g_autofree char *close = g_strnfill(30, ']');

		/* Depth 32: the object, its arguments, then 30 arrays. */
		deep_ok = g_strdup_printf("{\"execute\":\"list_fdb\",\"arguments\":{\"x\":%s%s}}",
					  open, close);
		expect_error(&ctx, deep_ok, "list_fdb: unknown argument x");
	}
	/* Brackets inside strings count too: whatever json-glib takes for a
	 * string or a comment, no reading of the text hides a level. */
	{
		g_autofree char *brackets = g_strnfill(200, '[');

		in_string = g_strdup_printf("{\"execute\":\"x\\\"%s\"}", brackets);
		expect_error(&ctx, in_string, "cannot parse JSON: nested too deep");
	}
	loop_free(l);
}

static void test_shutdown_no_network(void)
{
	g_autoptr(GPtrArray) nets = g_ptr_array_new();
	struct loop *l = loop_new();
	struct api_ctx ctx = { .loop = l, .nets = nets };

	/* Outside loop_run it only marks the loop; the real test is below. */
	expect(&ctx, "{\"execute\":\"shutdown\"}", "{\"return\":{}}");
	loop_free(l);
}

/* ---- over one NAT network ---- */

struct fx {
	struct loop *l;
	struct network *net;
	GPtrArray *nets;
	struct api_ctx ctx;
	char *dir, *sock_path, *api_path;
	struct loop_timer *stop, *guard;
	unsigned uplink_id;
};

static void quit_loop(void *opaque)
{
	loop_quit(opaque);
}

static void on_guard(void *opaque)
{
	(void)opaque;
	g_error("the loop did not get there in time");
}

static void find_uplink(struct port *p, void *opaque)
{
	if (p->uplink)
		*(unsigned *)opaque = p->id;
}

static void fx_init(struct fx *x)
{
	struct net_config nc;
	struct endpoint ep = { .type = ENDPOINT_UNIX };
	g_autoptr(GError) err = NULL;

	memset(x, 0, sizeof(*x));
	test_nat_net(&nc, "t", NULL);
	nc.port_macs = NET_PORT_MACS_DEFAULT;
	nc.max_ports = NET_MAX_PORTS_DEFAULT;
	x->l = loop_new();
	x->net = network_new(x->l, &nc, "network t", "vmnetd", &err);
	g_assert_no_error(err);
	nat_config_clear(&nc.nat);
	x->dir = g_dir_make_tmp("vmnetd-api-XXXXXX", NULL);
	g_assert_nonnull(x->dir);
	x->sock_path = g_build_filename(x->dir, "t.sock", NULL);
	x->api_path = g_build_filename(x->dir, "t.api", NULL);
	ep.path = x->sock_path;
	g_assert_true(network_listen(x->net, &ep, &(struct socket_perms){ 0600, (gid_t)-1 }, &err));
	g_assert_no_error(err);
	x->nets = g_ptr_array_new();
	g_ptr_array_add(x->nets, x->net);
	x->ctx = (struct api_ctx){ .loop = x->l, .nets = x->nets };
	x->stop = loop_timer_new(x->l, quit_loop, x->l);
	x->guard = loop_timer_new(x->l, on_guard, x);
	network_foreach_port(x->net, find_uplink, &x->uplink_id);
	g_assert_cmpuint(x->uplink_id, >, 0);
}

static void rm_rf(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(dir, name, NULL);

		g_unlink(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(dir);
}

static void fx_clear(struct fx *x)
{
	network_free(x->net);
	loop_timer_free(x->stop);
	loop_timer_free(x->guard);
	loop_free(x->l);
	g_ptr_array_free(x->nets, TRUE);
	rm_rf(x->dir);
	g_free(x->dir);
	g_free(x->sock_path);
	g_free(x->api_path);
}

static void spin(struct fx *x, int ms)
{
	loop_timer_arm(x->stop, clock_now_ns() + ms * MS);
	loop_run(x->l);
	loop_timer_disarm(x->stop);
}

static uint16_t free_tcp_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &len), ==, 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void test_hostfwd(void)
{
	struct fx x;
	uint16_t port, port2;
	g_autofree char *add = NULL, *add_udp6 = NULL, *want = NULL, *want2 = NULL, *req = NULL;

	fx_init(&x);
	port = free_tcp_port();
	do
		port2 = free_tcp_port();
	while (port2 == port);

	expect(&x.ctx, "{\"execute\":\"list_hostfwd\"}", "{\"return\":{\"entries\":[]}}");
	expect(&x.ctx, "{\"execute\":\"list_hostfwd\",\"arguments\":{\"network\":\"t\"}}",
	       "{\"return\":{\"entries\":[]}}");

	add = g_strdup_printf("{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
			      "\"host_addr\":\"127.0.0.1\",\"host_port\":%u,\"guest_port\":22}}",
			      port);
	expect(&x.ctx, add, "{\"return\":{\"id\":1}}");
	want = g_strdup_printf("{\"return\":{\"entries\":[{\"id\":1,\"proto\":\"tcp\","
			       "\"host_addr\":\"127.0.0.1\",\"host_port\":%u,"
			       "\"guest_addr\":\"10.0.2.15\",\"guest_port\":22}]}}", port);
	expect(&x.ctx, "{\"execute\":\"list_hostfwd\"}", want);

	/* The same port again: an error, and the list is as it was. */
	expect_error_prefix(&x.ctx, add, "add_hostfwd: network t forward 2: cannot listen on "
			    "host 127.0.0.1 port");
	expect(&x.ctx, "{\"execute\":\"list_hostfwd\"}", want);

	/* udp6 on ::1 to an IPv6 guest, the arguments in another order:
	 * listed as "udp" (slirp4netns's names). */
	add_udp6 = g_strdup_printf("{\"execute\":\"add_hostfwd\",\"arguments\":{\"guest_port\":53,"
				   "\"guest_addr\":\"fec0::100\",\"host_port\":%u,"
				   "\"host_addr\":\"::1\",\"proto\":\"udp6\",\"network\":\"t\"}}",
				   port2);
	{
		g_autofree char *reply = call(&x.ctx, add_udp6);

		if (strcmp(reply, "{\"return\":{\"id\":2}}")) {
			g_test_message("no IPv6 loopback? %s", reply);
		} else {
			want2 = g_strdup_printf("{\"return\":{\"entries\":[{\"id\":1,\"proto\":\"tcp\","
						"\"host_addr\":\"127.0.0.1\",\"host_port\":%u,"
						"\"guest_addr\":\"10.0.2.15\",\"guest_port\":22},"
						"{\"id\":2,\"proto\":\"udp\",\"host_addr\":\"::1\","
						"\"host_port\":%u,\"guest_addr\":\"fec0::100\","
						"\"guest_port\":53}]}}", port, port2);
			expect(&x.ctx, "{\"execute\":\"list_hostfwd\"}", want2);
			expect(&x.ctx, "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":2}}",
			       "{\"return\":{}}");
		}
	}

	/* Argument checks. */
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"host_port\":1,"
		     "\"guest_port\":1}}", "add_hostfwd: missing argument proto");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"guest_port\":1}}", "add_hostfwd: missing argument host_port");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":1}}", "add_hostfwd: missing argument guest_port");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":6,"
		     "\"host_port\":1,\"guest_port\":1}}", "add_hostfwd: proto must be a string");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":\"8080\",\"guest_port\":1}}",
		     "add_hostfwd: host_port must be an integer");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":8080.5,\"guest_port\":1}}",
		     "add_hostfwd: host_port must be an integer");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":true,\"guest_port\":1}}",
		     "add_hostfwd: host_port must be an integer");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":8080,\"guest_port\":null}}",
		     "add_hostfwd: guest_port must be an integer");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_addr\":127,\"host_port\":8080,\"guest_port\":1}}",
		     "add_hostfwd: host_addr must be a string");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":0,\"guest_port\":1}}", "add_hostfwd: host_port must be 1 to 65535");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":99999999999999999,\"guest_port\":1}}",
		     "add_hostfwd: host_port must be 1 to 65535");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":8080,\"guest_port\":-22}}",
		     "add_hostfwd: guest_port must be 1 to 65535");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"icmp\","
		     "\"host_port\":8080,\"guest_port\":1}}",
		     "add_hostfwd: proto must be tcp or udp (or tcp4, udp4, tcp6, udp6)");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp4\","
		     "\"host_addr\":\"::1\",\"host_port\":8080,\"guest_port\":1}}",
		     "add_hostfwd: host_addr '::1' is not an IPv4 address");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_port\":8080,\"guest_addr\":\"vm\",\"guest_port\":1}}",
		     "add_hostfwd: guest_addr 'vm' is not an IPv4 address: host and guest sides "
		     "of a forward are of one family");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"host_addr\":\"::1\",\"host_port\":8080,\"guest_addr\":\"10.0.2.15\","
		     "\"guest_port\":1}}",
		     "add_hostfwd: guest_addr '10.0.2.15' is not an IPv6 address: host and guest "
		     "sides of a forward are of one family");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp6\","
		     "\"host_port\":8080,\"guest_port\":1}}",
		     "add_hostfwd: an IPv6 forward needs guest_addr, the guest's IPv6 address");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
		     "\"hostport\":8080,\"guest_port\":1}}", "add_hostfwd: unknown argument hostport");
	expect_error(&x.ctx, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"network\":\"u\","
		     "\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":1}}",
		     "add_hostfwd: no network u");
	expect_error(&x.ctx, "{\"execute\":\"list_hostfwd\",\"arguments\":{\"id\":1}}",
		     "list_hostfwd: unknown argument id");
	/* None of those added anything. */
	expect(&x.ctx, "{\"execute\":\"list_hostfwd\"}", want);

	/* Remove. */
	expect_error(&x.ctx, "{\"execute\":\"remove_hostfwd\"}", "remove_hostfwd: missing argument id");
	expect_error(&x.ctx, "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":\"1\"}}",
		     "remove_hostfwd: id must be an integer");
	expect_error(&x.ctx, "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":-1}}",
		     "remove_hostfwd: id must be 0 to 4294967295");
	expect_error(&x.ctx, "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":4294967296}}",
		     "remove_hostfwd: id must be 0 to 4294967295");
	expect_error(&x.ctx, "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":7}}",
		     "remove_hostfwd: no forward 7");
	expect(&x.ctx, "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":1}}", "{\"return\":{}}");
	expect_error(&x.ctx, "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":1}}",
		     "remove_hostfwd: no forward 1");
	expect(&x.ctx, "{\"execute\":\"list_hostfwd\"}", "{\"return\":{\"entries\":[]}}");

	/* Ids go on from where they were. */
	req = g_strdup_printf("{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
			      "\"host_addr\":\"127.0.0.1\",\"host_port\":%u,\"guest_port\":22}}", port);
	{
		g_autofree char *reply = call(&x.ctx, req);

		g_assert_true(!strcmp(reply, "{\"return\":{\"id\":3}}") ||
			      !strcmp(reply, "{\"return\":{\"id\":2}}"));	/* no IPv6: 2 */
	}
	fx_clear(&x);
}

/* Is TCP and UDP @port on 127.0.0.1 free for us to bind now? */
static bool loopback_port_free(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = true;

	for (int type = SOCK_STREAM; ok && type <= SOCK_DGRAM; type++) {
		int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

		g_assert_cmpint(fd, >=, 0);
		ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
	}
	return ok;
}

/* A free port below 1024 on 127.0.0.1 (we run as root), or 0. */
static uint16_t free_low_port(void)
{
	if (geteuid() != 0)
		return 0;
	for (uint16_t port = 1023; port >= 600; port--)
		if (loopback_port_free(port))
			return port;
	return 0;
}

static char *hostfwd_req(const char *proto, const char *host_addr, unsigned port)
{
	g_autofree char *addr = host_addr ? g_strdup_printf("\"host_addr\":\"%s\",", host_addr)
					  : g_strdup("");

	return g_strdup_printf("{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"%s\",%s"
			       "\"host_port\":%u,\"guest_port\":22}}", proto, addr, port);
}

/* The id a request that must succeed got. */
static unsigned added_id(struct api_ctx *ctx, const char *req, const struct api_peer *peer)
{
	int fd = -1;
	g_autofree char *reply = call_fd(ctx, req, &fd, peer);
	g_autoptr(JsonNode) root = json_from_string(reply, NULL);
	JsonObject *o = json_node_get_object(root);

	if (!json_object_has_member(o, "return"))
		g_error("%s: %s", req, reply);
	return json_object_get_int_member(json_object_get_object_member(o, "return"), "id");
}

/* A client of another uid (a --socket-group member) may not have a root
 * daemon bind a host port below 1024: refused, nothing bound, nothing
 * listed; 1024 and up are its to ask for, and the daemon's own user may
 * ask for any. */
static void test_hostfwd_privileged_ports(void)
{
	static const char want[] = "add_hostfwd: host ports below 1024 are for the daemon's "
				   "own user";
	struct fx x;
	uint16_t low = free_low_port(), high = free_tcp_port();
	unsigned id;

	fx_init(&x);
	/* Below 1024, from another uid: whatever the protocol or address. */
	{
		static const char *const protos[] = { "tcp", "udp", "tcp4", "udp4" };
		unsigned ports[] = { low ? low : 1023, 1023, 1, 80 };

		for (size_t i = 0; i < G_N_ELEMENTS(ports); i++)
			for (size_t k = 0; k < G_N_ELEMENTS(protos); k++) {
				g_autofree char *req = hostfwd_req(protos[k], "127.0.0.1", ports[i]);
				g_autofree char *any = hostfwd_req(protos[k], NULL, ports[i]);
				int fd = -1;

				expect_error_fd(&x.ctx, req, &fd, &other_peer, want, false);
				expect_error_fd(&x.ctx, any, &fd, &other_peer, want, false);
			}
	}
	expect(&x.ctx, "{\"execute\":\"list_hostfwd\"}", "{\"return\":{\"entries\":[]}}");
	if (low)	/* refused before anything was bound */
		g_assert_true(loopback_port_free(low));

	/* 1024 and up, from another uid: taken. */
	{
		g_autofree char *req = hostfwd_req("tcp", "127.0.0.1", high);
		unsigned next = forwards_next_id();

		id = added_id(&x.ctx, req, &other_peer);
		g_assert_cmpuint(id, ==, next);
		g_assert_false(loopback_port_free(high));	/* listening */
	}
	if (loopback_port_free(1024)) {
		g_autofree char *req = hostfwd_req("udp", "127.0.0.1", 1024);

		g_assert_cmpuint(added_id(&x.ctx, req, &other_peer), >, id);
	} else {
		g_test_message("port 1024 is in use here: not tried");
	}

	/* Below 1024, from the daemon's own user: taken. */
	if (low) {
		g_autofree char *req = hostfwd_req("tcp", "127.0.0.1", low);

		g_assert_cmpuint(added_id(&x.ctx, req, &same_peer), >, id);
		g_assert_false(loopback_port_free(low));
	} else {
		g_test_message("not root, or no free port below 1024: own user's low port not tried");
	}
	fx_clear(&x);
}

static const uint8_t vm_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x42 };

/* An ARP who-has 10.0.2.2 from the VM, 60 bytes, in QEMU's stream framing. */
static void send_arp(int fd)
{
	uint8_t msg[4 + 60] = { 0, 0, 0, 60 };
	uint8_t *f = msg + 4;

	memset(f, 0xff, 6);
	memcpy(f + 6, vm_mac, 6);
	f[12] = 0x08; f[13] = 0x06;			/* ARP */
	f[14] = 0; f[15] = 1; f[16] = 0x08; f[17] = 0; f[18] = 6; f[19] = 4;
	f[20] = 0; f[21] = 1;				/* request */
	memcpy(f + 22, vm_mac, 6);
	f[28] = 10; f[29] = 0; f[30] = 2; f[31] = 15;
	f[38] = 10; f[39] = 0; f[40] = 2; f[41] = 2;
	g_assert_cmpint(write(fd, msg, sizeof(msg)), ==, sizeof(msg));
}

struct vm_seen {
	unsigned id;
	uint64_t rx;
};

static void find_vm(struct port *p, void *opaque)
{
	struct vm_seen *s = opaque;

	if (!p->uplink) {
		s->id = p->id;
		s->rx = p->stats.rx_frames;
	}
}

static struct vm_seen vm_port(struct fx *x)
{
	struct vm_seen s = { 0 };

	network_foreach_port(x->net, find_vm, &s);
	return s;
}

static int wait_vm_frame(void *opaque, struct loop *l)
{
	struct fx *x = opaque;

	if (vm_port(x).rx >= 1)
		loop_quit(l);
	return 5;
}

static void test_listings(void)
{
	struct fx x;
	int sv[2];
	struct port *vm;
	g_autofree char *want = NULL;
	struct loop_hook *h;

	fx_init(&x);
	want = g_strdup_printf("{\"return\":{\"networks\":[{\"name\":\"t\",\"mode\":\"nat\","
			       "\"mtu\":65520,\"subnet\":\"10.0.2.0/24\",\"gateway\":\"10.0.2.2\","
			       "\"sockets\":[\"unix:%s\"],\"ports\":0}]}}", x.sock_path);
	expect(&x.ctx, "{\"execute\":\"list_networks\"}", want);
	expect(&x.ctx, "{\"execute\":\"list_networks\",\"arguments\":{\"network\":\"t\"}}", want);
	expect_error(&x.ctx, "{\"execute\":\"list_networks\",\"arguments\":{\"network\":\"T\"}}",
		     "list_networks: no network T");
	expect(&x.ctx, "{\"execute\":\"list_leases\"}", "{\"return\":{\"leases\":[]}}");

	/* A VM attaches and speaks once. */
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	vm = network_attach_stream(x.net, sv[0], g_strdup("t: vm1"));
	g_assert_nonnull(vm);
	send_arp(sv[1]);
	h = loop_add_hook(x.l, wait_vm_frame, &x);
	loop_timer_arm(x.guard, clock_now_ns() + 10 * SEC);
	loop_run(x.l);
	loop_timer_disarm(x.guard);
	loop_del_hook(x.l, h);

	g_free(want);
	want = g_strdup_printf("{\"return\":{\"networks\":[{\"name\":\"t\",\"mode\":\"nat\","
			       "\"mtu\":65520,\"subnet\":\"10.0.2.0/24\",\"gateway\":\"10.0.2.2\","
			       "\"sockets\":[\"unix:%s\"],\"ports\":1}]}}", x.sock_path);
	expect(&x.ctx, "{\"execute\":\"list_networks\"}", want);

	/* list_ports: every port, the fields in the documented order. */
	{
		static const char *const fields[] = {
			"id", "kind", "network", "peer", "uplink", "macs", "addresses",
			"rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "rx_drops", "tx_drops",
			"since", NULL };
		g_autoptr(JsonNode) r = returned(&x.ctx, "{\"execute\":\"list_ports\"}");
		JsonArray *ports = json_object_get_array_member(json_node_get_object(r), "ports");
		bool saw_vm = false, saw_uplink = false;

		check_members(json_node_get_object(r), (const char *const[]){ "ports", NULL });
		g_assert_cmpuint(json_array_get_length(ports), ==, 2);
		for (guint i = 0; i < 2; i++) {
			JsonObject *p = json_array_get_object_element(ports, i);
			JsonArray *macs = json_object_get_array_member(p, "macs");

			check_members(p, fields);
			g_assert_cmpstr(json_object_get_string_member(p, "network"), ==, "t");
			g_assert_cmpint(json_object_get_int_member(p, "since"), >, 1600000000);
			if (json_object_get_boolean_member(p, "uplink")) {
				saw_uplink = true;
				g_assert_cmpint(json_object_get_int_member(p, "id"), ==, x.uplink_id);
				g_assert_cmpstr(json_object_get_string_member(p, "kind"), ==, "nat");
				continue;
			}
			saw_vm = true;
			g_assert_cmpint(json_object_get_int_member(p, "id"), ==, vm->id);
			g_assert_cmpstr(json_object_get_string_member(p, "kind"), ==, "stream");
			g_assert_cmpstr(json_object_get_string_member(p, "peer"), ==, "vm1");
			g_assert_cmpuint(json_array_get_length(macs), ==, 1);
			g_assert_cmpstr(json_array_get_string_element(macs, 0), ==,
					"52:54:00:00:00:42");
			g_assert_cmpuint(json_array_get_length(json_object_get_array_member(p,
						"addresses")), ==, 0);
			g_assert_cmpint(json_object_get_int_member(p, "rx_frames"), ==, 1);
			g_assert_cmpint(json_object_get_int_member(p, "rx_bytes"), ==, 60);
		}
		g_assert_true(saw_vm && saw_uplink);
	}

	/* list_fdb: the VM's MAC on its port, and the NAT's own, static. */
	{
		g_autoptr(JsonNode) r = returned(&x.ctx, "{\"execute\":\"list_fdb\"}");
		JsonArray *fdb = json_object_get_array_member(json_node_get_object(r), "fdb");
		bool saw_vm = false;
		guint statics = 0;

		for (guint i = 0; i < json_array_get_length(fdb); i++) {
			JsonObject *e = json_array_get_object_element(fdb, i);

			check_members(e, (const char *const[]){ "network", "mac", "port", "static",
								"age", NULL });
			g_assert_cmpstr(json_object_get_string_member(e, "network"), ==, "t");
			statics += json_object_get_boolean_member(e, "static");
			if (!strcmp(json_object_get_string_member(e, "mac"), "52:54:00:00:00:42")) {
				saw_vm = true;
				g_assert_cmpint(json_object_get_int_member(e, "port"), ==, vm->id);
				g_assert_false(json_object_get_boolean_member(e, "static"));
				g_assert_cmpint(json_object_get_int_member(e, "age"), <=, 1);
			}
		}
		g_assert_true(saw_vm);
		g_assert_cmpuint(statics, >=, 1);
	}

	/* stats: per port, totals, the switch. */
	{
		g_autoptr(JsonNode) r = returned(&x.ctx, "{\"execute\":\"stats\"}");
		JsonArray *nets = json_object_get_array_member(json_node_get_object(r), "networks");
		JsonObject *n, *totals, *sw;
		JsonArray *ports;

		g_assert_cmpuint(json_array_get_length(nets), ==, 1);
		n = json_array_get_object_element(nets, 0);
		check_members(n, (const char *const[]){ "name", "ports", "totals", "switch", NULL });
		g_assert_cmpstr(json_object_get_string_member(n, "name"), ==, "t");
		ports = json_object_get_array_member(n, "ports");
		g_assert_cmpuint(json_array_get_length(ports), ==, 2);
		for (guint i = 0; i < 2; i++)
			check_members(json_array_get_object_element(ports, i),
				      (const char *const[]){ "id", "kind", "rx_frames", "rx_bytes",
							     "tx_frames", "tx_bytes", "rx_drops",
							     "tx_drops", "since", NULL });
		totals = json_object_get_object_member(n, "totals");
		check_members(totals, (const char *const[]){ "rx_frames", "rx_bytes", "tx_frames",
							     "tx_bytes", "rx_drops", "tx_drops",
							     NULL });
		g_assert_cmpint(json_object_get_int_member(totals, "rx_frames"), >=, 1);
		sw = json_object_get_object_member(n, "switch");
		check_members(sw, (const char *const[]){ "flooded", "hairpin_drops", "learn_refused",
							 "runts", "filtered", "mac_conflicts",
							 "fdb_entries", NULL });
		g_assert_cmpint(json_object_get_int_member(sw, "fdb_entries"), >=, 2);
	}

	/* disconnect_port: the VM yes, the uplink and unknown ids no. */
	{
		g_autofree char *req = g_strdup_printf("{\"execute\":\"disconnect_port\","
						       "\"arguments\":{\"id\":%u}}", x.uplink_id);
		g_autofree char *desc = g_strdup_printf("disconnect_port: port %u is network t's "
							"uplink: it cannot be disconnected",
							x.uplink_id);
		g_autofree char *req_vm = g_strdup_printf("{\"execute\":\"disconnect_port\","
							  "\"arguments\":{\"id\":%u}}", vm->id);
		unsigned vm_id = vm->id;
		uint8_t buf[256];
		ssize_t n;

		expect_error(&x.ctx, req, desc);
		expect_error(&x.ctx, "{\"execute\":\"disconnect_port\",\"arguments\":{\"id\":999}}",
			     "disconnect_port: no port 999 on network t");
		expect_error(&x.ctx, "{\"execute\":\"disconnect_port\"}",
			     "disconnect_port: missing argument id");
		expect_error(&x.ctx, "{\"execute\":\"disconnect_port\",\"arguments\":{\"port\":1}}",
			     "disconnect_port: unknown argument port");
		expect(&x.ctx, req_vm, "{\"return\":{}}");
		vm = NULL;				/* gone after this iteration */
		spin(&x, 20);
		/* The VM sees its socket close (after what was queued for it). */
		do
			n = read(sv[1], buf, sizeof(buf));
		while (n > 0);
		g_assert_cmpint(n, ==, 0);
		close(sv[1]);
		g_free(desc);
		desc = g_strdup_printf("disconnect_port: no port %u on network t", vm_id);
		expect_error(&x.ctx, req_vm, desc);
		g_free(want);
		want = g_strdup_printf("{\"return\":{\"networks\":[{\"name\":\"t\",\"mode\":\"nat\","
				       "\"mtu\":65520,\"subnet\":\"10.0.2.0/24\",\"gateway\":"
				       "\"10.0.2.2\",\"sockets\":[\"unix:%s\"],\"ports\":0}]}}",
				       x.sock_path);
		expect(&x.ctx, "{\"execute\":\"list_networks\"}", want);
	}
	fx_clear(&x);
}

/* The depth check runs before json-glib, whose parser recurses; it must
 * see every bracket json-glib will see. json-glib also takes comments and
 * single-quoted strings: a '"' inside one of those must not make the
 * check skip what follows as if it were inside a string. */
static void test_nesting_not_hidden(void)
{
	static const char *const openers[] = {
		"/* \" */ {\"execute\":\"list_fdb\",\"arguments\":{\"a\":",	/* comment */
		"{'a\"':",							/* 'string' */
	};
	g_autoptr(GPtrArray) nets = g_ptr_array_new();
	struct loop *l = loop_new();
	struct api_ctx ctx = { .loop = l, .nets = nets };
	g_autofree char *brackets = g_strnfill(1000, '[');

	for (size_t i = 0; i < G_N_ELEMENTS(openers); i++) {
		g_autofree char *req = g_strconcat(openers[i], brackets, NULL);
		g_autofree char *reply = call(&ctx, req);
		g_autofree char *desc = error_desc(reply);

		if (g_strcmp0(desc, "cannot parse JSON: nested too deep"))
			g_error("%.60s + 1000 '[' reached json-glib: %s", openers[i], desc);
	}
	loop_free(l);
}

/* ---- shutdown ---- */

struct shutdown_call {
	struct fx *x;
	char *reply;
};

static void call_shutdown(void *opaque)
{
	struct shutdown_call *s = opaque;

	s->reply = call(&s->x->ctx, "{\"execute\":\"shutdown\"}");
}

static void test_shutdown(void)
{
	struct fx x;
	struct shutdown_call s = { &x, NULL };
	struct loop_timer *t;
	int64_t t0;

	fx_init(&x);
	t = loop_timer_new(x.l, call_shutdown, &s);
	loop_timer_arm(t, clock_now_ns());
	loop_timer_arm(x.guard, clock_now_ns() + 10 * SEC);
	t0 = clock_now_ns();
	loop_run(x.l);				/* returns: shutdown quit it */
	g_assert_cmpint(clock_now_ns() - t0, <, 5 * SEC);
	loop_timer_disarm(x.guard);
	g_assert_cmpstr(s.reply, ==, "{\"return\":{}}");
	g_free(s.reply);
	/* The loop still runs afterwards (quitting is not tearing down). */
	spin(&x, 1);
	loop_timer_free(t);
	fx_clear(&x);
}

/* ---- capture ---- */

static bool read_exactly(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* A capture's target, read back as it is written: a regular file (the
 * daemon takes no pipe) opened twice. */
static int capture_pipe(int p[2])
{
	g_autofree char *name = NULL;

	p[1] = g_file_open_tmp("vmnetd-cap-XXXXXX", &name, NULL);
	g_assert_cmpint(p[1], >=, 0);
	p[0] = open(name, O_RDONLY);
	g_assert_cmpint(p[0], >=, 0);
	unlink(name);
	return 0;
}

static void test_capture(void)
{
	struct fx x;
	int p[2], sv[2], fd;
	uint32_t hdr[6], rec[4];
	uint8_t frame[60];
	g_autofree char *reply = NULL, *path = NULL, *req = NULL;
	struct loop_hook *h;

	fx_init(&x);
	g_assert_cmpint(capture_pipe(p), ==, 0);

	/* A passed descriptor, from a peer of another uid: taken. */
	fd = p[1];
	reply = call_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"t.pcap\","
			"\"snaplen\":100}}", &fd, &other_peer);
	g_assert_cmpstr(reply, ==, "{\"return\":{}}");
	g_assert_cmpint(fd, ==, -1);
	g_assert_true(read_exactly(p[0], hdr, sizeof(hdr)));
	g_assert_cmphex(hdr[0], ==, 0xa1b2c3d4);
	g_assert_cmpuint(hdr[4], ==, 100);		/* snaplen */
	g_assert_cmpuint(hdr[5], ==, 1);		/* Ethernet */

	/* A second one: refused, and its descriptor is closed all the same. */
	{
		int q[2];
		char c;

		g_assert_cmpint(capture_pipe(q), ==, 0);
		fd = q[1];
		expect_error_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":"
				"{\"file\":\"u.pcap\"}}", &fd, &other_peer,
				"capture_start: network t is already being captured", false);
		g_assert_cmpint(fd, ==, -1);
		g_assert_cmpint(read(q[0], &c, 1), ==, 0);	/* EOF: closed */
		close(q[0]);
	}

	/* A VM frame is recorded. */
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	g_assert_nonnull(network_attach_stream(x.net, sv[0], g_strdup("t: vm1")));
	send_arp(sv[1]);
	h = loop_add_hook(x.l, wait_vm_frame, &x);
	loop_timer_arm(x.guard, clock_now_ns() + 10 * SEC);
	loop_run(x.l);
	loop_timer_disarm(x.guard);
	loop_del_hook(x.l, h);
	spin(&x, 20);					/* the flush hook has run */
	g_assert_true(read_exactly(p[0], rec, sizeof(rec)));
	g_assert_cmpuint(rec[2], ==, 60);
	g_assert_cmpuint(rec[3], ==, 60);
	g_assert_true(read_exactly(p[0], frame, sizeof(frame)));
	g_assert_cmpmem(frame + 6, 6, vm_mac, 6);

	/* capture_stop: the counts, and the file closed. */
	{
		g_autoptr(JsonNode) r = returned(&x.ctx, "{\"execute\":\"capture_stop\"}");
		JsonObject *o = json_node_get_object(r);
		uint8_t buf[4096];
		ssize_t n;

		check_members(o, (const char *const[]){ "frames", "bytes", "dropped", NULL });
		g_assert_cmpint(json_object_get_int_member(o, "frames"), >=, 1);
		g_assert_cmpint(json_object_get_int_member(o, "bytes"), >=, 60);
		g_assert_cmpint(json_object_get_int_member(o, "dropped"), ==, 0);
		do
			n = read(p[0], buf, sizeof(buf));
		while (n > 0);
		g_assert_cmpint(n, ==, 0);
		close(p[0]);
	}
	expect_error(&x.ctx, "{\"execute\":\"capture_stop\"}",
		     "capture_stop: network t is not being captured");

	/* No descriptor, another uid: refused, and no file is made. */
	path = g_build_filename(x.dir, "other.pcap", NULL);
	req = g_strdup_printf("{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"%s\"}}", path);
	fd = -1;
	expect_error_fd(&x.ctx, req, &fd, &other_peer,
			"capture_start: pass the capture file as a descriptor (vmnetctl does): "
			"the daemon opens files only for its own user", false);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

	/* No descriptor, our own uid: the daemon makes the file, mode 0600. */
	{
		struct stat st;
		g_autofree char *data = NULL;
		gsize len;

		expect(&x.ctx, req, "{\"return\":{}}");
		g_assert_cmpint(stat(path, &st), ==, 0);
		g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
		expect(&x.ctx, "{\"execute\":\"capture_stop\"}",
		       "{\"return\":{\"frames\":0,\"bytes\":0,\"dropped\":0}}");
		g_assert_true(g_file_get_contents(path, &data, &len, NULL));
		g_assert_cmpuint(len, ==, 24);
		/* Never over an existing file. */
		g_clear_pointer(&data, g_free);
		expect_error_prefix(&x.ctx, req, "capture_start: ");
		g_assert_true(g_file_get_contents(path, &data, &len, NULL) && len == 24);
	}

	/* Argument checks; a passed descriptor that is not taken stays the caller's. */
	{
		int q[2];

		g_assert_cmpint(pipe(q), ==, 0);
		fd = q[1];
		expect_error_fd(&x.ctx, "{\"execute\":\"capture_start\"}", &fd, &other_peer,
				"capture_start: missing argument file", false);
		g_assert_cmpint(fd, ==, q[1]);
		expect_error_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":1}}",
				&fd, &other_peer, "capture_start: file must be a string", false);
		expect_error_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"x\","
				"\"snaplen\":262145}}", &fd, &other_peer,
				"capture_start: snaplen must be 1 to 262144", false);
		expect_error_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"x\","
				"\"port\":-1}}", &fd, &other_peer,
				"capture_start: port must be 0 to 4294967295", false);
		expect_error_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"x\","
				"\"snap\":1}}", &fd, &other_peer,
				"capture_start: unknown argument snap", false);
		/* No such port: refused before the descriptor is looked at. */
		expect_error_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"x\","
				"\"port\":999}}", &fd, &other_peer,
				"capture_start: network t has no port 999", false);
		g_assert_cmpint(fd, ==, q[1]);
		/* Taken, and not a regular file (a pipe): refused and closed. */
		expect_error_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"x\"}}",
				&fd, &other_peer, "capture_start: the capture file must be a regular "
				"file (not a pipe, socket or device)", false);
		g_assert_cmpint(fd, ==, -1);
		g_assert_cmpint(fcntl(q[1], F_GETFD), <, 0);
		close(q[0]);
	}
	close(sv[1]);
	fx_clear(&x);
}

/* Has the other end of @fd (a pipe's read end, a socket) gone: EOF now? */
static bool peer_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

/* A capture goes to a regular file only. A pipe or socket the client
 * shares could be made blocking again by the client (O_NONBLOCK belongs to
 * the open file, which both hold) and then freeze the daemon's loop on a
 * full pipe; so any pipe, socket or device is refused whatever its flags,
 * from any client, and closed; no capture runs after. A regular file is
 * taken, blocking or not. */
static void test_capture_refuses_pipes(void)
{
	static const char want[] = "capture_start: the capture file must be a regular file "
				   "(not a pipe, socket or device)";
	static const char start[] = "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"x\"}}";
	const struct api_peer *const peers[] = { &other_peer, &same_peer };
	struct fx x;

	fx_init(&x);
	for (size_t i = 0; i < G_N_ELEMENTS(peers); i++) {
		for (int kind = 0; kind < 6; kind++) {
			int ends[2], fd, keep = -1;
			const char *what;

			switch (kind) {
			case 0:
				what = "a pipe";
				g_assert_cmpint(pipe2(ends, O_CLOEXEC), ==, 0);
				break;
			case 1:
				what = "a non-blocking pipe";
				g_assert_cmpint(pipe2(ends, O_CLOEXEC | O_NONBLOCK), ==, 0);
				break;
			case 2:
				/* The attack itself: non-blocking when passed, the
				 * client keeps a copy to make it blocking after. */
				what = "a pipe the client keeps a copy of";
				g_assert_cmpint(pipe2(ends, O_CLOEXEC | O_NONBLOCK), ==, 0);
				keep = dup(ends[1]);
				g_assert_cmpint(keep, >=, 0);
				break;
			case 3:
				what = "a socket";
				g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
							   ends), ==, 0);
				break;
			case 4:
				what = "a non-blocking socket";
				g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
							   SOCK_NONBLOCK, 0, ends), ==, 0);
				break;
			default:
				what = "a device (/dev/null)";
				ends[1] = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NONBLOCK);
				ends[0] = -1;
				g_assert_cmpint(ends[1], >=, 0);
				break;
			}
			g_test_message("capture_start on %s, %s uid", what,
				       peers[i]->same_uid ? "the daemon's" : "another");
			fd = ends[1];
			expect_error_fd(&x.ctx, start, &fd, peers[i], want, false);
			g_assert_cmpint(fd, ==, -1);			/* taken... */
			g_assert_cmpint(fcntl(ends[1], F_GETFD), <, 0);	/* ...and closed */
			if (keep >= 0) {
				/* Blocking again, for whoever holds it: not the daemon. */
				g_assert_cmpint(fcntl(keep, F_SETFL, 0), ==, 0);
				g_assert_false(peer_closed(ends[0]));
				close(keep);
			}
			if (ends[0] >= 0) {
				g_assert_true(peer_closed(ends[0]));	/* no copy kept */
				close(ends[0]);
			}
			expect_error(&x.ctx, "{\"execute\":\"capture_stop\"}",
				     "capture_stop: network t is not being captured");
		}
	}

	/* A regular file, passed non-blocking: taken, the header written. */
	{
		int p[2], fd;
		uint32_t hdr[6];

		g_assert_cmpint(capture_pipe(p), ==, 0);
		g_assert_cmpint(fcntl(p[1], F_SETFL, O_NONBLOCK), ==, 0);
		fd = p[1];
		{
			g_autofree char *reply = call_fd(&x.ctx, start, &fd, &other_peer);

			g_assert_cmpstr(reply, ==, "{\"return\":{}}");
		}
		g_assert_cmpint(fd, ==, -1);
		g_assert_true(read_exactly(p[0], hdr, sizeof(hdr)));
		g_assert_cmphex(hdr[0], ==, 0xa1b2c3d4);
		expect(&x.ctx, "{\"execute\":\"capture_stop\"}",
		       "{\"return\":{\"frames\":0,\"bytes\":0,\"dropped\":0}}");
		close(p[0]);
	}
	fx_clear(&x);
}

/* A capture_start that fails leaves no file behind when the daemon made
 * it for the request: a retry with the same name would find it there and
 * fail with "File exists". */
/* Not an assertion: the test fails, the rest still runs and cleans up. */
static void no_file_left(const char *path, const char *why)
{
	if (!g_file_test(path, G_FILE_TEST_EXISTS))
		return;
	g_test_message("BUG: a capture_start refused (%s) left %s behind", why, path);
	g_test_fail();
	g_unlink(path);
}

static void test_capture_failed_start_leaves_no_file(void)
{
	struct fx x;
	g_autofree char *path = NULL, *busy = NULL, *snap0 = NULL, *noport = NULL;
	int p[2], fd;

	fx_init(&x);
	path = g_build_filename(x.dir, "second.pcap", NULL);

	/* One capture runs already; our own uid asks for another, by name. */
	g_assert_cmpint(capture_pipe(p), ==, 0);
	fd = p[1];
	g_free(call_fd(&x.ctx, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"a\"}}",
		       &fd, &other_peer));
	g_assert_cmpint(fd, ==, -1);
	busy = g_strdup_printf("{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"%s\"}}",
			       path);
	expect_error(&x.ctx, busy, "capture_start: network t is already being captured");
	no_file_left(path, "already being captured");
	g_free(call(&x.ctx, "{\"execute\":\"capture_stop\"}"));
	close(p[0]);

	/* snaplen 0 passes the argument check, then capture_new refuses it. */
	snap0 = g_strdup_printf("{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"%s\","
				"\"snaplen\":0}}", path);
	expect_error(&x.ctx, snap0, "capture_start: snaplen must be 1 to 262144");
	no_file_left(path, "snaplen 0");

	/* A port that is not there. */
	noport = g_strdup_printf("{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"%s\","
				 "\"port\":999}}", path);
	expect_error(&x.ctx, noport, "capture_start: network t has no port 999");
	no_file_left(path, "no such port");
	fx_clear(&x);
}

/* ---- over the socket ---- */

struct client {
	int fd;
	GByteArray *out;	/* still to send */
	bool shut_wr;		/* shutdown(SHUT_WR) once out is empty */
	bool no_read;
	GString *in;
	bool eof;
};

static struct client *client_new(const char *path)
{
	struct client *c = g_new0(struct client, 1);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	c->out = g_byte_array_new();
	c->in = g_string_new(NULL);
	return c;
}

static void client_free(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	g_byte_array_free(c->out, TRUE);
	g_string_free(c->in, TRUE);
	g_free(c);
}

static void client_send(struct client *c, const char *s, size_t len)
{
	g_byte_array_append(c->out, (const guint8 *)s, (guint)len);
}

static void client_send_str(struct client *c, const char *s)
{
	client_send(c, s, strlen(s));
}

static void client_pump(struct client *c)
{
	char buf[65536];

	while (c->out->len) {
		ssize_t n = send(c->fd, c->out->data, c->out->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				g_byte_array_set_size(c->out, 0);	/* the server closed */
			break;
		}
		g_byte_array_remove_range(c->out, 0, (guint)n);
	}
	if (!c->out->len && c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = false;
	}
	while (!c->no_read && !c->eof) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			g_string_append_len(c->in, buf, n);
		else if (n == 0 || errno != EAGAIN)
			c->eof = true;
		else
			break;
	}
}

static unsigned lines(const struct client *c)
{
	unsigned n = 0;

	for (const char *p = c->in->str; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

struct run {
	struct client **cs;
	unsigned n;
	bool (*done)(struct run *r);
	unsigned want_lines;
	struct client *watch;
};

static int pump_hook(void *opaque, struct loop *l)
{
	struct run *r = opaque;

	for (unsigned i = 0; i < r->n; i++)
		client_pump(r->cs[i]);
	if (r->done(r))
		loop_quit(l);
	return 2;
}

/* Drive the loop, pumping the clients, until @done. */
static void run_until(struct fx *x, struct run *r)
{
	struct loop_hook *h = loop_add_hook(x->l, pump_hook, r);

	loop_timer_arm(x->guard, clock_now_ns() + 10 * SEC);
	for (unsigned i = 0; i < r->n; i++)
		client_pump(r->cs[i]);
	if (!r->done(r))
		loop_run(x->l);
	loop_timer_disarm(x->guard);
	loop_del_hook(x->l, h);
}

static bool have_lines(struct run *r)
{
	return lines(r->watch) >= r->want_lines || r->watch->eof;
}

static bool have_eof(struct run *r)
{
	return r->watch->eof;
}

/* Pump @c until it has @n lines (or EOF). */
static void wait_lines(struct fx *x, struct client *c, unsigned n)
{
	struct run r = { &c, 1, have_lines, n, c };

	run_until(x, &r);
}

static void wait_eof(struct fx *x, struct client *c)
{
	struct run r = { &c, 1, have_eof, 0, c };

	run_until(x, &r);
}

static struct api_server *server_new(struct fx *x, const struct socket_perms *perms)
{
	struct endpoint ep = { .type = ENDPOINT_UNIX, .path = x->api_path };
	g_autoptr(GError) err = NULL;
	struct api_server *s = api_server_new(x->l, &ep, -1, perms, api_handle_request, &x->ctx,
					      &err);

	g_assert_no_error(err);
	g_assert_nonnull(s);
	return s;
}

static const struct socket_perms own_perms = { 0600, (gid_t)-1 };

#define LIST_HOSTFWD "{\"execute\":\"list_hostfwd\"}"
#define EMPTY_FWDS "{\"return\":{\"entries\":[]}}"

static void test_socket_framing(void)
{
	struct fx x;
	struct api_server *s;
	struct client *c;
	g_autofree char *nets = NULL, *want = NULL;

	fx_init(&x);
	s = server_new(&x, &own_perms);
	{
		struct stat st;

		g_assert_cmpint(stat(x.api_path, &st), ==, 0);
		g_assert_true(S_ISSOCK(st.st_mode));
		g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
	}
	nets = call(&x.ctx, "{\"execute\":\"list_networks\"}");

	/* Two requests in one write: two replies, in order. */
	c = client_new(x.api_path);
	client_send_str(c, LIST_HOSTFWD "\n{\"execute\":\"list_networks\"}\n");
	wait_lines(&x, c, 2);
	want = g_strdup_printf(EMPTY_FWDS "\n%s\n", nets);
	g_assert_cmpstr(c->in->str, ==, want);
	g_assert_false(c->eof);

	/* Empty lines ask nothing; a request split over writes is one request;
	 * an error does not end the connection. */
	g_string_truncate(c->in, 0);
	client_send_str(c, "\n\n{\"execute\":");
	client_pump(c);
	spin(&x, 10);
	client_send_str(c, "\"list_hostfwd\"}\nbad\n" LIST_HOSTFWD "\n");
	wait_lines(&x, c, 3);
	g_assert_true(g_str_has_prefix(c->in->str, EMPTY_FWDS "\n{\"error\":{\"desc\":\"cannot parse JSON: "));
	g_assert_true(g_str_has_suffix(c->in->str, "\n" EMPTY_FWDS "\n"));
	g_assert_cmpuint(lines(c), ==, 3);
	g_assert_false(c->eof);
	client_free(c);

	/* slirp4netns's clients: one request without a newline, then SHUT_WR. */
	c = client_new(x.api_path);
	client_send_str(c, LIST_HOSTFWD);
	c->shut_wr = true;
	wait_eof(&x, c);
	g_assert_cmpstr(c->in->str, ==, EMPTY_FWDS "\n");
	client_free(c);

	/* Two requests, the second without a newline, then SHUT_WR: both answered. */
	c = client_new(x.api_path);
	client_send_str(c, LIST_HOSTFWD "\n" LIST_HOSTFWD);
	c->shut_wr = true;
	wait_eof(&x, c);
	g_assert_cmpstr(c->in->str, ==, EMPTY_FWDS "\n" EMPTY_FWDS "\n");
	client_free(c);

	/* Nothing at all, then SHUT_WR: closed without a word. */
	c = client_new(x.api_path);
	c->shut_wr = true;
	wait_eof(&x, c);
	g_assert_cmpstr(c->in->str, ==, "");
	client_free(c);

	/* A client that goes away with a request pending costs nothing. */
	c = client_new(x.api_path);
	client_send_str(c, LIST_HOSTFWD "\n");
	client_pump(c);
	client_free(c);
	spin(&x, 20);

	api_server_free(s);
	g_assert_false(g_file_test(x.api_path, G_FILE_TEST_EXISTS));	/* removed */
	fx_clear(&x);
}

/* A line of @content bytes (a list_hostfwd request padded with spaces),
 * then a newline. */
static char *padded_request(size_t content)
{
	char *s = g_malloc(content + 2);

	memset(s, ' ', content);
	memcpy(s, LIST_HOSTFWD, strlen(LIST_HOSTFWD));
	s[content] = '\n';
	s[content + 1] = 0;
	return s;
}

#define TOO_LONG "{\"error\":{\"desc\":\"request too long (the limit is 65536 bytes a line)\"}}\n"

static void test_socket_limits(void)
{
	struct fx x;
	struct api_server *s;
	struct client *c;

	fx_init(&x);
	s = server_new(&x, &own_perms);

	/* Far too long, no newline: the error, then the end. */
	{
		g_autofree char *junk = g_strnfill(200000, 'a');

		c = client_new(x.api_path);
		client_send(c, junk, 200000);
		wait_eof(&x, c);
		g_assert_cmpstr(c->in->str, ==, TOO_LONG);
		client_free(c);
	}

	/* Exactly API_REQUEST_MAX bytes and a newline: answered. */
	{
		g_autofree char *req = padded_request(API_REQUEST_MAX);

		c = client_new(x.api_path);
		client_send(c, req, API_REQUEST_MAX + 1);
		client_send_str(c, LIST_HOSTFWD "\n");
		wait_lines(&x, c, 2);
		g_assert_cmpstr(c->in->str, ==, EMPTY_FWDS "\n" EMPTY_FWDS "\n");
		g_assert_false(c->eof);
		client_free(c);
	}

	/* API_MAX_CLIENTS at once; the next is told and closed. */
	{
		struct client *cs[API_MAX_CLIENTS + 2];

		for (unsigned i = 0; i < API_MAX_CLIENTS + 1; i++)
			cs[i] = client_new(x.api_path);
		wait_eof(&x, cs[API_MAX_CLIENTS]);
		g_assert_cmpstr(cs[API_MAX_CLIENTS]->in->str, ==,
				"{\"error\":{\"desc\":\"too many clients\"}}\n");
		client_free(cs[API_MAX_CLIENTS]);
		/* The first and the last admitted are served. */
		client_send_str(cs[0], LIST_HOSTFWD "\n");
		wait_lines(&x, cs[0], 1);
		g_assert_cmpstr(cs[0]->in->str, ==, EMPTY_FWDS "\n");
		client_send_str(cs[API_MAX_CLIENTS - 1], LIST_HOSTFWD "\n");
		wait_lines(&x, cs[API_MAX_CLIENTS - 1], 1);
		g_assert_cmpstr(cs[API_MAX_CLIENTS - 1]->in->str, ==, EMPTY_FWDS "\n");
		/* One leaves: there is room for another. */
		client_free(cs[1]);
		spin(&x, 20);
		cs[1] = client_new(x.api_path);
		client_send_str(cs[1], LIST_HOSTFWD "\n");
		wait_lines(&x, cs[1], 1);
		g_assert_cmpstr(cs[1]->in->str, ==, EMPTY_FWDS "\n");
		g_assert_false(cs[1]->eof);
		/* Freeing the server with all its clients connected. */
		api_server_free(s);
		for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
			wait_eof(&x, cs[i]);
			client_free(cs[i]);
		}
	}
	fx_clear(&x);
}

/* A line longer than API_REQUEST_MAX is refused whatever its length, also
 * when its newline comes before the reads add up past the limit. */
static void test_socket_line_just_over_limit(void)
{
	struct fx x;
	struct api_server *s;
	struct client *c;
	g_autofree char *req = padded_request(API_REQUEST_MAX + 1000);

	fx_init(&x);
	s = server_new(&x, &own_perms);
	c = client_new(x.api_path);
	client_send(c, req, API_REQUEST_MAX + 1001);
	wait_lines(&x, c, 1);
	/* Not an assertion: the test fails, the rest still runs and cleans up. */
	if (strcmp(c->in->str, TOO_LONG)) {
		g_test_message("BUG: a line of %u bytes was answered: %s", API_REQUEST_MAX + 1000,
			       c->in->str);
		g_test_fail();
	}
	client_free(c);
	api_server_free(s);
	fx_clear(&x);
}

/* A client that sends many requests and reads nothing: the server stops
 * reading while its replies wait, then answers every one, in order. */
static void test_socket_backpressure(void)
{
	struct fx x;
	struct api_server *s;
	struct client *c;
	const unsigned n = 4000;
	g_autofree char *nets = NULL;
	GString *reqs = g_string_new(NULL);
	g_autoptr(GString) want = g_string_new(NULL);

	fx_init(&x);
	s = server_new(&x, &own_perms);
	nets = call(&x.ctx, "{\"execute\":\"list_networks\"}");
	for (unsigned i = 0; i < n; i++) {
		g_string_append(reqs, "{\"execute\":\"list_networks\"}\n");
		g_string_append_printf(want, "%s\n", nets);
	}
	c = client_new(x.api_path);
	c->no_read = true;
	client_send(c, reqs->str, reqs->len);
	g_string_free(reqs, TRUE);
	{
		struct run r = { &c, 1, have_eof, 0, c };
		struct loop_hook *h = loop_add_hook(x.l, pump_hook, &r);

		spin(&x, 200);
		loop_del_hook(x.l, h);
	}
	g_assert_false(c->eof);
	c->no_read = false;
	wait_lines(&x, c, n);
	g_assert_cmpuint(c->in->len, ==, want->len);
	g_assert_true(!strcmp(c->in->str, want->str));
	client_free(c);
	api_server_free(s);
	fx_clear(&x);
}

/* Send @req with @n descriptors attached (SCM_RIGHTS). */
static void send_with_fds(struct client *c, const char *req, const int *fds, unsigned n)
{
	union { struct cmsghdr align; char b[CMSG_SPACE(4 * sizeof(int))]; } ctl;
	struct iovec iov = { (void *)req, strlen(req) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	g_assert_cmpuint(n, <=, 4);
	memset(&ctl, 0, sizeof(ctl));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	g_assert_cmpint(sendmsg(c->fd, &msg, 0), ==, (ssize_t)strlen(req));
}

static void send_with_fd(struct client *c, const char *req, int fd)
{
	send_with_fds(c, req, &fd, 1);
}

static void test_socket_passed_fd(void)
{
	struct fx x;
	struct api_server *s;
	struct client *c;
	int p[2];
	uint32_t hdr[6];
	char ch;

	fx_init(&x);
	s = server_new(&x, &own_perms);
	c = client_new(x.api_path);

	/* With capture_start: the handler gets it and writes the pcap header there. */
	g_assert_cmpint(capture_pipe(p), ==, 0);
	send_with_fd(c, "{\"execute\":\"capture_start\",\"arguments\":{\"file\":\"fd\"}}\n", p[1]);
	close(p[1]);
	wait_lines(&x, c, 1);
	g_assert_cmpstr(c->in->str, ==, "{\"return\":{}}\n");
	g_assert_true(read_exactly(p[0], hdr, sizeof(hdr)));
	g_assert_cmphex(hdr[0], ==, 0xa1b2c3d4);
	g_assert_cmpuint(hdr[4], ==, CAPTURE_SNAPLEN_DEFAULT);
	g_string_truncate(c->in, 0);
	client_send_str(c, "{\"execute\":\"capture_stop\"}\n");
	wait_lines(&x, c, 1);
	g_assert_cmpstr(c->in->str, ==, "{\"return\":{\"frames\":0,\"bytes\":0,\"dropped\":0}}\n");
	g_assert_cmpint(read(p[0], &ch, 1), ==, 0);	/* the capture closed it */
	close(p[0]);

	/* With a request that does not want it: closed by the server. */
	g_assert_cmpint(pipe(p), ==, 0);
	g_string_truncate(c->in, 0);
	send_with_fd(c, LIST_HOSTFWD "\n", p[1]);
	close(p[1]);
	wait_lines(&x, c, 1);
	g_assert_cmpstr(c->in->str, ==, EMPTY_FWDS "\n");
	g_assert_cmpint(read(p[0], &ch, 1), ==, 0);
	close(p[0]);

	/* It belongs to the request it came with, not to a later one. */
	g_assert_cmpint(pipe(p), ==, 0);
	g_string_truncate(c->in, 0);
	send_with_fd(c, LIST_HOSTFWD "\n", p[1]);
	close(p[1]);
	/* Without a descriptor, our uid's capture_start opens the file it
	 * names: one that exists, so only a left-over descriptor could make
	 * it succeed. */
	{
		g_autofree char *exists = g_build_filename(x.dir, "exists.pcap", NULL);
		g_autofree char *req = g_strdup_printf("{\"execute\":\"capture_start\",\"arguments\":"
						       "{\"file\":\"%s\"}}\n", exists);
		g_autofree char *want = g_strdup_printf(EMPTY_FWDS "\n{\"error\":{\"desc\":"
							"\"capture_start: %s: File exists\"}}\n",
							exists);

		g_assert_true(g_file_set_contents(exists, "", 0, NULL));
		client_send_str(c, req);
		wait_lines(&x, c, 2);
		g_assert_cmpstr(c->in->str, ==, want);
	}
	g_assert_cmpint(read(p[0], &ch, 1), ==, 0);
	close(p[0]);

	client_free(c);
	api_server_free(s);
	fx_clear(&x);
}

/* Descriptors of this process open on the same file as @fd, other than
 * @fd, with its access mode (a pipe's two ends share one inode). */
static GArray *other_fds_on(int fd)
{
	GArray *found = g_array_new(FALSE, FALSE, sizeof(int));
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
	struct stat want, st;
	const char *name;

	g_assert_nonnull(d);
	g_assert_cmpint(fstat(fd, &want), ==, 0);
	while ((name = g_dir_read_name(d))) {
		int n = atoi(name);

		if (n != fd && fstat(n, &st) == 0 && st.st_dev == want.st_dev &&
		    st.st_ino == want.st_ino &&
		    (fcntl(n, F_GETFL) & O_ACCMODE) == (fcntl(fd, F_GETFL) & O_ACCMODE))
			g_array_append_val(found, n);
	}
	g_dir_close(d);
	return found;
}

/* A client sends two descriptors with one request. The control buffer
 * has room for two ints (CMSG_SPACE rounds up), so the kernel installs
 * both; only the first is kept (and closed after the request), the second
 * must not stay open in the daemon: one leaked per message would let a
 * client run the daemon out of descriptors. */
static void test_socket_two_fds(void)
{
	struct fx x;
	struct api_server *s;
	struct client *c;
	int p[2], q[2], fds[2];
	g_autoptr(GArray) left = NULL;

	fx_init(&x);
	s = server_new(&x, &own_perms);
	c = client_new(x.api_path);
	g_assert_cmpint(pipe(p), ==, 0);
	g_assert_cmpint(pipe(q), ==, 0);
	fds[0] = p[1];
	fds[1] = q[1];
	send_with_fds(c, LIST_HOSTFWD "\n", fds, 2);
	wait_lines(&x, c, 1);
	g_assert_cmpstr(c->in->str, ==, EMPTY_FWDS "\n");
	spin(&x, 10);
	/* The server runs in this process: what it still holds shows here. */
	left = other_fds_on(p[1]);
	g_assert_cmpuint(left->len, ==, 0);
	g_array_unref(left);
	left = other_fds_on(q[1]);
	if (left->len) {
		g_test_message("BUG: the second passed descriptor is still open in the daemon "
			       "(fd %d)", g_array_index(left, int, 0));
		g_test_fail();
		for (guint i = 0; i < left->len; i++)
			close(g_array_index(left, int, i));
	}
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	client_free(c);
	api_server_free(s);
	fx_clear(&x);
}

/* A socket handed over (systemd) instead of a path. */
static void test_socket_handed_over(void)
{
	struct fx x;
	struct api_server *s;
	struct client *c;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	g_autoptr(GError) err = NULL;
	int fd;

	fx_init(&x);
	g_strlcpy(sun.sun_path, x.api_path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	g_assert_cmpint(listen(fd, 8), ==, 0);
	s = api_server_new(x.l, NULL, fd, &own_perms, api_handle_request, &x.ctx, &err);
	g_assert_no_error(err);
	c = client_new(x.api_path);
	client_send_str(c, LIST_HOSTFWD "\n");
	wait_lines(&x, c, 1);
	g_assert_cmpstr(c->in->str, ==, EMPTY_FWDS "\n");
	client_free(c);
	api_server_free(s);
	g_assert_true(g_file_test(x.api_path, G_FILE_TEST_EXISTS));	/* systemd's file */
	g_unlink(x.api_path);

	/* A path that cannot be: an error, no server. */
	{
		struct endpoint ep = { .type = ENDPOINT_UNIX, .path = "/nonexistent/dir/t.api" };

		g_assert_null(api_server_new(x.l, &ep, -1, &own_perms, api_handle_request, &x.ctx,
					     &err));
		g_assert_nonnull(err);
	}
	fx_clear(&x);
}

/* ---- peer credentials (root only: a child changes its uid) ---- */

/* In a child of uid/gid 65534: connect, send @req, SHUT_WR, copy the
 * reply to @out. */
static pid_t as_nobody(const char *path, const char *req, int out)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		char buf[4096];
		ssize_t n;
		int fd;

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			n = snprintf(buf, sizeof(buf), "connect: %s", strerror(errno));
			if (write(out, buf, (size_t)n) < 0)
				_exit(4);
			_exit(3);
		}
		/* A refused client may find the socket closed already (EPIPE);
		 * what the server said is still there to read. */
		if (write(fd, req, strlen(req)) < 0 && errno != EPIPE)
			_exit(5);
		shutdown(fd, SHUT_WR);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) < 0)
				_exit(6);
		_exit(0);
	}
	close(out);
	return pid;
}

/* Run the loop until the child's reply pipe ends; its text. */
static char *child_reply(struct fx *x, int in, pid_t pid)
{
	struct client pipe_end = { .fd = in, .out = g_byte_array_new(), .in = g_string_new(NULL) };
	struct client *pc = &pipe_end;
	struct run r = { &pc, 1, have_eof, 0, pc };
	int status;

	run_until(x, &r);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	close(in);
	g_byte_array_free(pipe_end.out, TRUE);
	return g_string_free(pipe_end.in, FALSE);
}

static void test_peer_credentials(void)
{
	struct fx x;
	struct api_server *s;
	int sv[2];
	pid_t pid;
	g_autofree char *reply = NULL, *capture = NULL, *file = NULL;

	if (geteuid() != 0) {
		g_test_skip("needs root: a child process changes its uid");
		return;
	}
	fx_init(&x);
	g_assert_cmpint(chmod(x.dir, 0711), ==, 0);	/* others may reach the socket */

	/* Another uid, the socket open to all: refused by SO_PEERCRED. */
	s = server_new(&x, &(struct socket_perms){ 0666, (gid_t)-1 });
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	pid = as_nobody(x.api_path, LIST_HOSTFWD "\n", sv[1]);
	reply = child_reply(&x, sv[0], pid);
	g_assert_cmpstr(reply, ==, "{\"error\":{\"desc\":\"permission denied\"}}\n");
	api_server_free(s);

	/* In the socket's group: served, but files are for the daemon's own uid. */
	s = server_new(&x, &(struct socket_perms){ 0660, 65534 });
	file = g_build_filename(x.dir, "nobody.pcap", NULL);
	capture = g_strdup_printf("{\"execute\":\"capture_start\",\"arguments\":{\"file\":"
				  "\"%s\"}}\n" LIST_HOSTFWD "\n", file);
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	pid = as_nobody(x.api_path, capture, sv[1]);
	g_free(reply);
	reply = child_reply(&x, sv[0], pid);
	g_assert_cmpstr(reply, ==, "{\"error\":{\"desc\":\"capture_start: pass the capture file "
			"as a descriptor (vmnetctl does): the daemon opens files only for its "
			"own user\"}}\n" EMPTY_FWDS "\n");
	g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));
	api_server_free(s);
	fx_clear(&x);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_test_add_func("/api/request-checks", test_request_checks);
	g_test_add_func("/api/shutdown-no-network", test_shutdown_no_network);
	g_test_add_func("/api/hostfwd", test_hostfwd);
	g_test_add_func("/api/hostfwd-privileged-ports", test_hostfwd_privileged_ports);
	g_test_add_func("/api/listings", test_listings);
	g_test_add_func("/api/shutdown", test_shutdown);
	g_test_add_func("/api/capture", test_capture);
	g_test_add_func("/api/capture-refuses-pipes", test_capture_refuses_pipes);
	g_test_add_func("/api/socket/framing", test_socket_framing);
	g_test_add_func("/api/socket/limits", test_socket_limits);
	g_test_add_func("/api/socket/backpressure", test_socket_backpressure);
	g_test_add_func("/api/socket/passed-fd", test_socket_passed_fd);
	g_test_add_func("/api/socket/handed-over", test_socket_handed_over);
	g_test_add_func("/api/socket/peer-credentials", test_peer_credentials);
	/* Last (a sub-suite runs after the cases and suites before it): these
	 * fail until the bugs they show are fixed; a failure stops the run,
	 * -k goes on. */
	g_test_add_func("/api/nesting-not-hidden", test_nesting_not_hidden);
	g_test_add_func("/api/socket/line-just-over-limit", test_socket_line_just_over_limit);
	g_test_add_func("/api/failed-capture-start-leaves-no-file",
			test_capture_failed_start_leaves_no_file);
	g_test_add_func("/api/socket/two-fds", test_socket_two_fds);
	return g_test_run();
}
