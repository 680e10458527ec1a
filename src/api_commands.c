/* api_commands.c - the control API's commands (doc/api.md).
 *
 * Every request is parsed with json-glib, checked against the command's
 * argument list, and answered with one reply built by a JsonBuilder. The
 * forward commands keep slirp4netns's names, fields and reply shapes, so
 * its clients work unchanged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "vmnetd/api_commands.h"
#include "vmnetd/error.h"
#include "vmnetd/mac.h"
#include "vmnetd/network.h"

/* More arrays and objects than any request has (a forward: 2); json-glib's
 * parser recurses, so a request of 64 KiB of '[' must not reach it. */
#define API_MAX_DEPTH 64

struct request {
	struct api_ctx *ctx;
	const char *command;
	JsonObject *args;		/* empty when none were given */
	int *fd;			/* a descriptor sent along, or -1 */
	const struct api_peer *peer;
	JsonBuilder *b;			/* the handler builds its "return" value here */
};

typedef bool (*command_fn)(struct request *rq, GError **err);

struct command {
	const char *name;
	command_fn fn;
	const char *const *args;	/* the arguments it takes, NULL-terminated */
};

/* ---- arguments ---- */

static JsonNode *arg_node(struct request *rq, const char *name)
{
	return json_object_get_member(rq->args, name);
}

/* A string argument, or NULL when absent. */
static bool arg_string(struct request *rq, const char *name, const char **out, GError **err)
{
	JsonNode *n = arg_node(rq, name);

	*out = NULL;
	if (!n)
		return true;
	if (json_node_get_value_type(n) != G_TYPE_STRING) {
		vmnetd_set_error(err, "%s must be a string", name);
		return false;
	}
	*out = json_node_get_string(n);
	return true;
}

static bool arg_required_string(struct request *rq, const char *name, const char **out,
				GError **err)
{
	if (!arg_string(rq, name, out, err))
		return false;
	if (!*out)
		vmnetd_set_error(err, "missing argument %s", name);
	return *out != NULL;
}

/* An integer argument; *@out is left as it is when absent and not @required. */
static bool arg_int(struct request *rq, const char *name, bool required, gint64 *out,
		    GError **err)
{
	JsonNode *n = arg_node(rq, name);

	if (!n) {
		if (required)
			vmnetd_set_error(err, "missing argument %s", name);
		return !required;
	}
	if (json_node_get_value_type(n) != G_TYPE_INT64) {
		vmnetd_set_error(err, "%s must be an integer", name);
		return false;
	}
	*out = json_node_get_int(n);
	return true;
}

static bool arg_uint(struct request *rq, const char *name, bool required, guint64 min,
		     guint64 max, unsigned *out, GError **err)
{
	gint64 v = *out;

	if (!arg_int(rq, name, required, &v, err))
		return false;
	if (v < (gint64)min || (guint64)v > max) {
		vmnetd_set_error(err, "%s must be %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
				 name, min, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

/* Unknown names are most often typos: say so rather than ignore them. */
static bool check_arg_names(struct request *rq, const char *const *allowed, GError **err)
{
	g_autoptr(GList) names = json_object_get_members(rq->args);

	for (GList *it = names; it; it = it->next) {
		if (!strcmp(it->data, "network") || (allowed && g_strv_contains(allowed, it->data)))
			continue;
		vmnetd_set_error(err, "unknown argument %s", (const char *)it->data);
		return false;
	}
	return true;
}

/* ---- networks ---- */

static struct network *find_network(struct api_ctx *ctx, const char *name)
{
	for (guint i = 0; i < ctx->nets->len; i++)
		if (!strcmp(network_name(g_ptr_array_index(ctx->nets, i)), name))
			return g_ptr_array_index(ctx->nets, i);
	return NULL;
}

/* The network a command acts on: the one named, or the first declared. */
static struct network *pick_network(struct request *rq, GError **err)
{
	const char *name;
	struct network *net;

	if (!arg_string(rq, "network", &name, err))
		return NULL;
	if (!name) {
		if (!rq->ctx->nets->len)
			vmnetd_set_error(err, "no networks");
		return rq->ctx->nets->len ? g_ptr_array_index(rq->ctx->nets, 0) : NULL;
	}
	net = find_network(rq->ctx, name);
	if (!net)
		vmnetd_set_error(err, "no network %s", name);
	return net;
}

/* The networks a listing covers: the one named, or all. */
static GPtrArray *pick_networks(struct request *rq, GError **err)
{
	GPtrArray *nets = g_ptr_array_new();
	struct network *net;

	if (!arg_node(rq, "network")) {
		for (guint i = 0; i < rq->ctx->nets->len; i++)
			g_ptr_array_add(nets, g_ptr_array_index(rq->ctx->nets, i));
		return nets;
	}
	net = pick_network(rq, err);
	if (!net) {
		g_ptr_array_free(nets, TRUE);
		return NULL;
	}
	g_ptr_array_add(nets, net);
	return nets;
}

/* ---- building replies ---- */

static void add_string(JsonBuilder *b, const char *key, const char *val)
{
	json_builder_set_member_name(b, key);
	json_builder_add_string_value(b, val);
}

static void add_int(JsonBuilder *b, const char *key, gint64 val)
{
	json_builder_set_member_name(b, key);
	json_builder_add_int_value(b, val);
}

static void add_bool(JsonBuilder *b, const char *key, bool val)
{
	json_builder_set_member_name(b, key);
	json_builder_add_boolean_value(b, val);
}

static void add_mac(JsonBuilder *b, const char *key, const uint8_t mac[6])
{
	char s[18];

	snprintf(s, sizeof(s), MAC_FMT, MAC_ARGS(mac));
	if (key)
		json_builder_set_member_name(b, key);
	json_builder_add_string_value(b, s);
}

static void add_counters(JsonBuilder *b, const struct port_stats *st)
{
	add_int(b, "rx_frames", (gint64)st->rx_frames);
	add_int(b, "rx_bytes", (gint64)st->rx_bytes);
	add_int(b, "tx_frames", (gint64)st->tx_frames);
	add_int(b, "tx_bytes", (gint64)st->tx_bytes);
	add_int(b, "rx_drops", (gint64)st->rx_drops);
	add_int(b, "tx_drops", (gint64)st->tx_drops);
}

static void begin_list(JsonBuilder *b, const char *key)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, key);
	json_builder_begin_array(b);
}

static void end_list(JsonBuilder *b)
{
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void empty_object(JsonBuilder *b)
{
	json_builder_begin_object(b);
	json_builder_end_object(b);
}

/* ---- forwards ---- */

static struct forwards *pick_forwards(struct request *rq, GError **err)
{
	struct network *net = pick_network(rq, err);
	struct forwards *f = net ? network_forwards(net) : NULL;

	if (net && !f)
		vmnetd_set_error(err, "network %s has no port forwards (bridged, or host-only with "
				 "host-iface=: the LAN or the host's own stack answers)",
				 network_name(net));
	return f;
}

/* Host ports below this are privileged: a root daemon could bind them for
 * anyone who may talk to it, so only its own user may ask. */
#define API_PRIVILEGED_PORTS	1024

static bool may_bind(struct request *rq, const struct fwd_rule *r, GError **err)
{
	if (rq->peer->same_uid || endpoint_port(&r->host) >= API_PRIVILEGED_PORTS)
		return true;
	vmnetd_set_error(err, "host ports below %d are for the daemon's own user",
			 API_PRIVILEGED_PORTS);
	return false;
}

static bool cmd_add_hostfwd(struct request *rq, GError **err)
{
	struct forwards *f = pick_forwards(rq, err);
	const char *proto, *host_addr, *guest_addr;
	gint64 host_port, guest_port;
	struct fwd_rule r;
	unsigned id;

	if (!f || !arg_required_string(rq, "proto", &proto, err) ||
	    !arg_string(rq, "host_addr", &host_addr, err) ||
	    !arg_int(rq, "host_port", true, &host_port, err) ||
	    !arg_string(rq, "guest_addr", &guest_addr, err) ||
	    !arg_int(rq, "guest_port", true, &guest_port, err) ||
	    !fwd_rule_parse(&r, proto, host_addr, host_port, guest_addr, guest_port,
			    forwards_default_guest(f), err) ||
	    !may_bind(rq, &r, err) || !forwards_add(f, &r, &id, err))
		return false;
	json_builder_begin_object(rq->b);
	add_int(rq->b, "id", id);
	json_builder_end_object(rq->b);
	return true;
}

static void add_forward(const struct fwd_entry *e, void *opaque)
{
	JsonBuilder *b = opaque;
	char addr[INET6_ADDRSTRLEN];

	json_builder_begin_object(b);
	add_int(b, "id", e->id);
	add_string(b, "proto", e->rule.udp ? "udp" : "tcp");
	add_string(b, "host_addr", endpoint_host_string(&e->rule.host, addr));
	add_int(b, "host_port", endpoint_port(&e->rule.host));
	add_string(b, "guest_addr", endpoint_host_string(&e->rule.guest, addr));
	add_int(b, "guest_port", endpoint_port(&e->rule.guest));
	json_builder_end_object(b);
}

static bool cmd_list_hostfwd(struct request *rq, GError **err)
{
	struct forwards *f = pick_forwards(rq, err);

	if (!f)
		return false;
	begin_list(rq->b, "entries");
	forwards_foreach(f, add_forward, rq->b);
	end_list(rq->b);
	return true;
}

static bool cmd_remove_hostfwd(struct request *rq, GError **err)
{
	struct forwards *f = pick_forwards(rq, err);
	unsigned id = 0;

	if (!f || !arg_uint(rq, "id", true, 0, G_MAXUINT, &id, err) ||
	    !forwards_remove(f, id, err))
		return false;
	empty_object(rq->b);
	return true;
}

/* ---- inspection ---- */

static void add_socket(const char *name, void *opaque)
{
	json_builder_add_string_value(opaque, name);
}

static void add_network(JsonBuilder *b, struct network *net)
{
	g_autofree char *subnet = network_subnet(net);
	g_autofree char *gateway = network_gateway(net);

	json_builder_begin_object(b);
	add_string(b, "name", network_name(net));
	add_string(b, "mode", net_mode_name(network_mode(net)));
	add_int(b, "mtu", network_mtu(net));
	add_string(b, "subnet", subnet);
	add_string(b, "gateway", gateway);
	json_builder_set_member_name(b, "sockets");
	json_builder_begin_array(b);
	network_foreach_listener(net, add_socket, b);
	json_builder_end_array(b);
	add_int(b, "ports", network_vm_ports(net));
	json_builder_end_object(b);
}

/* A listing over the networks asked for: {"KEY": [what @add gives for each]}. */
static bool list_networks_of(struct request *rq, const char *key,
			     void (*add)(JsonBuilder *b, struct network *net), GError **err)
{
	g_autoptr(GPtrArray) nets = pick_networks(rq, err);

	if (!nets)
		return false;
	begin_list(rq->b, key);
	for (guint i = 0; i < nets->len; i++)
		add(rq->b, g_ptr_array_index(nets, i));
	end_list(rq->b);
	return true;
}

static bool cmd_list_networks(struct request *rq, GError **err)
{
	return list_networks_of(rq, "networks", add_network, err);
}

/* The MACs learned on one port, gathered from the MAC table. */
struct port_macs {
	const struct port *port;
	GArray *macs;			/* uint8_t[6] each */
};

static void collect_mac(const uint8_t mac[6], struct port *p, bool is_static, int64_t age_s,
			void *opaque)
{
	struct port_macs *pm = opaque;

	(void)is_static;
	(void)age_s;
	if (p == pm->port)
		g_array_append_vals(pm->macs, mac, 1);
}

struct port_listing {
	JsonBuilder *b;
	struct network *net;
	bool detail;			/* list_ports: MACs, addresses, peer */
};

static void add_port_addresses(JsonBuilder *b, struct network *net, GArray *macs)
{
	int64_t now = time(NULL);
	char ip[INET_ADDRSTRLEN];

	json_builder_set_member_name(b, "addresses");
	json_builder_begin_array(b);
	for (guint i = 0; i < macs->len; i++) {
		const uint8_t *mac = (const uint8_t *)macs->data + 6 * i;
		const struct lease *l = lease_table_by_mac(network_leases(net), mac, now);

		if (l && !l->offered)
			json_builder_add_string_value(b, inet_ntop(AF_INET, &l->ip, ip,
								   sizeof(ip)));
	}
	json_builder_end_array(b);
}

/* A port's name without the "NETWORK: " its log lines start with. */
static const char *peer_name(const struct port *p, struct network *net)
{
	size_t n = strlen(network_name(net));

	if (!strncmp(p->name, network_name(net), n) && !strncmp(p->name + n, ": ", 2))
		return p->name + n + 2;
	return p->name;
}

static void add_port_detail(JsonBuilder *b, struct network *net, struct port *p)
{
	struct port_macs pm = { p, g_array_sized_new(FALSE, FALSE, 6, 1) };

	network_foreach_fdb(net, collect_mac, &pm);
	add_string(b, "network", network_name(net));
	add_string(b, "peer", peer_name(p, net));
	add_bool(b, "uplink", p->uplink);
	json_builder_set_member_name(b, "macs");
	json_builder_begin_array(b);
	for (guint i = 0; i < pm.macs->len; i++)
		add_mac(b, NULL, (const uint8_t *)pm.macs->data + 6 * i);
	json_builder_end_array(b);
	add_port_addresses(b, net, pm.macs);
	g_array_free(pm.macs, TRUE);
}

static void add_port(struct port *p, void *opaque)
{
	struct port_listing *pl = opaque;

	json_builder_begin_object(pl->b);
	add_int(pl->b, "id", p->id);
	add_string(pl->b, "kind", p->ops->kind);
	if (pl->detail)
		add_port_detail(pl->b, pl->net, p);
	add_counters(pl->b, &p->stats);
	add_int(pl->b, "since", p->since);
	json_builder_end_object(pl->b);
}

static void add_ports_of(JsonBuilder *b, struct network *net)
{
	struct port_listing pl = { b, net, true };

	network_foreach_port(net, add_port, &pl);
}

static bool cmd_list_ports(struct request *rq, GError **err)
{
	return list_networks_of(rq, "ports", add_ports_of, err);
}

struct lease_listing {
	JsonBuilder *b;
	const char *net;
	int64_t now;
};

static void add_lease(const struct lease *l, void *opaque)
{
	struct lease_listing *ll = opaque;
	char ip[INET_ADDRSTRLEN];

	if (l->offered || (!l->is_static && l->expires <= ll->now))
		return;
	json_builder_begin_object(ll->b);
	add_string(ll->b, "network", ll->net);
	add_string(ll->b, "ip", inet_ntop(AF_INET, &l->ip, ip, sizeof(ip)));
	add_mac(ll->b, "mac", l->mac);
	add_string(ll->b, "hostname", l->hostname);
	add_int(ll->b, "expires", l->expires == INT64_MAX ? 0 : l->expires);
	add_bool(ll->b, "static", l->is_static);
	json_builder_end_object(ll->b);
}

static void add_leases_of(JsonBuilder *b, struct network *net)
{
	struct lease_listing ll = { b, network_name(net), time(NULL) };

	lease_table_foreach(network_leases(net), add_lease, &ll);
}

static bool cmd_list_leases(struct request *rq, GError **err)
{
	return list_networks_of(rq, "leases", add_leases_of, err);
}

struct fdb_listing {
	JsonBuilder *b;
	const char *net;
};

static void add_fdb(const uint8_t mac[6], struct port *p, bool is_static, int64_t age_s,
		    void *opaque)
{
	struct fdb_listing *fl = opaque;

	json_builder_begin_object(fl->b);
	add_string(fl->b, "network", fl->net);
	add_mac(fl->b, "mac", mac);
	add_int(fl->b, "port", p->id);
	add_bool(fl->b, "static", is_static);
	add_int(fl->b, "age", age_s);
	json_builder_end_object(fl->b);
}

static void add_fdb_of(JsonBuilder *b, struct network *net)
{
	struct fdb_listing fl = { b, network_name(net) };

	network_foreach_fdb(net, add_fdb, &fl);
}

static bool cmd_list_fdb(struct request *rq, GError **err)
{
	return list_networks_of(rq, "fdb", add_fdb_of, err);
}

static void sum_port(struct port *p, void *opaque)
{
	struct port_stats *t = opaque;

	t->rx_frames += p->stats.rx_frames;
	t->rx_bytes += p->stats.rx_bytes;
	t->tx_frames += p->stats.tx_frames;
	t->tx_bytes += p->stats.tx_bytes;
	t->rx_drops += p->stats.rx_drops;
	t->tx_drops += p->stats.tx_drops;
}

static void count_fdb(const uint8_t mac[6], struct port *p, bool is_static, int64_t age_s,
		      void *opaque)
{
	(void)mac;
	(void)p;
	(void)is_static;
	(void)age_s;
	++*(gint64 *)opaque;
}

static void add_switch_stats(JsonBuilder *b, struct network *net)
{
	const struct switch_stats *st = network_switch_stats(net);
	gint64 fdb = 0;

	network_foreach_fdb(net, count_fdb, &fdb);
	json_builder_set_member_name(b, "switch");
	json_builder_begin_object(b);
	add_int(b, "flooded", (gint64)st->flooded);
	add_int(b, "hairpin_drops", (gint64)st->hairpin_drops);
	add_int(b, "learn_refused", (gint64)st->learn_refused);
	add_int(b, "runts", (gint64)st->runts);
	add_int(b, "filtered", (gint64)st->filtered);
	add_int(b, "mac_conflicts", (gint64)st->mac_conflicts);
	add_int(b, "fdb_entries", fdb);
	json_builder_end_object(b);
}

static void add_network_stats(JsonBuilder *b, struct network *net)
{
	struct port_listing pl = { b, net, false };
	struct port_stats totals = { 0 };

	json_builder_begin_object(b);
	add_string(b, "name", network_name(net));
	json_builder_set_member_name(b, "ports");
	json_builder_begin_array(b);
	network_foreach_port(net, add_port, &pl);
	json_builder_end_array(b);
	network_foreach_port(net, sum_port, &totals);
	json_builder_set_member_name(b, "totals");
	json_builder_begin_object(b);
	add_counters(b, &totals);
	json_builder_end_object(b);
	add_switch_stats(b, net);
	json_builder_end_object(b);
}

static bool cmd_stats(struct request *rq, GError **err)
{
	return list_networks_of(rq, "networks", add_network_stats, err);
}

/* ---- actions ---- */

/* The capture file: the descriptor the client passed (opened with its own
 * rights), or, for a client of the daemon's own uid, the file it names,
 * created anew and never through a symlink. */
/* Network file systems whose writes may wait on a server (or a FUSE
 * process, the client itself): the loop must never block on a write. */
static bool remote_fs(long type)
{
	static const long types[] = {
		0x65735546,	/* FUSE */
		0x6969,		/* NFS */
		0xFF534D42,	/* CIFS */
		0xFE534D42,	/* SMB2 */
		0x517B,		/* SMB */
		0x01021997,	/* 9P */
		0x00C36400,	/* CEPH */
	};

	for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
		if (type == types[i])
			return true;
	return false;
}

/* A capture goes to a regular file on a local file system only: a pipe or
 * socket the client shares could be made blocking again under us, and a
 * remote file system can stall a write; either would stop every VM. */
static bool capture_target_ok(int fd, GError **err)
{
	struct stat st;
	struct statfs sfs;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		vmnetd_set_error(err, "the capture file must be a regular file (not a pipe, "
				 "socket or device)");
		return false;
	}
	if (fstatfs(fd, &sfs) == 0 && remote_fs((long)sfs.f_type)) {
		vmnetd_set_error(err, "the capture file must be on a local file system "
				 "(a network or FUSE file system could stall the daemon)");
		return false;
	}
	return true;
}

static int capture_file(struct request *rq, const char *file, bool *created, GError **err)
{
	int fd = *rq->fd;

	*created = false;
	if (fd >= 0) {
		*rq->fd = -1;
		if (!capture_target_ok(fd, err)) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (!rq->peer->same_uid) {
		vmnetd_set_error(err, "pass the capture file as a descriptor (vmnetctl does): "
				 "the daemon opens files only for its own user");
		return -1;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		vmnetd_set_error(err, "%s: %s", file, g_strerror(errno));
		return -1;
	}
	*created = true;
	if (!capture_target_ok(fd, err)) {
		close(fd);
		unlink(file);
		*created = false;
		return -1;
	}
	return fd;
}

static bool cmd_capture_start(struct request *rq, GError **err)
{
	struct network *net = pick_network(rq, err);
	const char *file;
	unsigned port = 0, snaplen = CAPTURE_SNAPLEN_DEFAULT;
	bool created;
	int fd;

	if (!net || !arg_required_string(rq, "file", &file, err) ||
	    !arg_uint(rq, "port", false, 0, G_MAXUINT, &port, err) ||
	    !arg_uint(rq, "snaplen", false, 1, CAPTURE_SNAPLEN_MAX, &snaplen, err))
		return false;
	/* Every check that needs no file comes first: no file is made for a
	 * request that fails anyway. */
	if (port && !network_find_port(net, port)) {
		vmnetd_set_error(err, "network %s has no port %u", network_name(net), port);
		return false;
	}
	fd = capture_file(rq, file, &created, err);
	if (fd < 0)
		return false;
	if (!network_capture_start(net, fd, port, snaplen, err)) {
		if (created)	/* ours, and nothing in it: no litter */
			unlink(file);
		return false;
	}
	empty_object(rq->b);
	return true;
}

static bool cmd_capture_stop(struct request *rq, GError **err)
{
	struct network *net = pick_network(rq, err);
	struct capture_stats st;

	if (!net || !network_capture_stop(net, &st, err))
		return false;
	json_builder_begin_object(rq->b);
	add_int(rq->b, "frames", (gint64)st.frames);
	add_int(rq->b, "bytes", (gint64)st.bytes);
	add_int(rq->b, "dropped", (gint64)st.dropped);
	json_builder_end_object(rq->b);
	return true;
}

static bool cmd_disconnect_port(struct request *rq, GError **err)
{
	struct network *net = pick_network(rq, err);
	unsigned id = 0;
	struct port *p;

	if (!net || !arg_uint(rq, "id", true, 0, G_MAXUINT, &id, err))
		return false;
	p = network_find_port(net, id);
	if (!p || p->uplink) {
		vmnetd_set_error(err, p ? "port %u is network %s's uplink: it cannot be "
				 "disconnected" : "no port %u on network %s", id,
				 network_name(net));
		return false;
	}
	port_close(p, "disconnected through the control API");
	empty_object(rq->b);
	return true;
}

static bool cmd_shutdown(struct request *rq, GError **err)
{
	(void)err;
	g_message("control API: shutting down (asked by uid %u, pid %d)",
		  (unsigned)rq->peer->uid, (int)rq->peer->pid);
	loop_quit(rq->ctx->loop);
	empty_object(rq->b);
	return true;
}

/* ---- dispatch ---- */

static const char *const fwd_args[] = { "proto", "host_addr", "host_port", "guest_addr",
					"guest_port", NULL };
static const char *const id_args[] = { "id", NULL };
static const char *const capture_args[] = { "file", "port", "snaplen", NULL };

static const struct command commands[] = {
	{ "add_hostfwd", cmd_add_hostfwd, fwd_args },
	{ "list_hostfwd", cmd_list_hostfwd, NULL },
	{ "remove_hostfwd", cmd_remove_hostfwd, id_args },
	{ "list_networks", cmd_list_networks, NULL },
	{ "list_ports", cmd_list_ports, NULL },
	{ "list_leases", cmd_list_leases, NULL },
	{ "list_fdb", cmd_list_fdb, NULL },
	{ "stats", cmd_stats, NULL },
	{ "capture_start", cmd_capture_start, capture_args },
	{ "capture_stop", cmd_capture_stop, NULL },
	{ "disconnect_port", cmd_disconnect_port, id_args },
	{ "shutdown", cmd_shutdown, NULL },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Whether @s opens more than @max arrays and objects. Counting every '['
 * and '{', in strings and comments too, bounds the nesting whatever
 * json-glib accepts as a string or comment (single quotes, C comments):
 * no reading of the text can hide a level from it. */
static bool too_deep(const char *s, size_t len, unsigned max)
{
	unsigned opened = 0;

	for (size_t i = 0; i < len; i++)
		if ((s[i] == '[' || s[i] == '{') && ++opened > max)
			return true;
	return false;
}

/* The request's object, its command and arguments; NULL with @err. */
static JsonParser *parse_request(const char *req, size_t len, struct request *rq, GError **err)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	JsonNode *root, *exec, *args;
	JsonObject *obj;

	if (too_deep(req, len, API_MAX_DEPTH)) {
		vmnetd_set_error(err, "cannot parse JSON: nested too deep");
		return NULL;
	}
	if (!json_parser_load_from_data(parser, req, (gssize)len, err)) {
		g_prefix_error(err, "cannot parse JSON: ");
		return NULL;
	}
	root = json_parser_get_root(parser);
	obj = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
	exec = obj ? json_object_get_member(obj, "execute") : NULL;
	if (!exec || json_node_get_value_type(exec) != G_TYPE_STRING) {
		vmnetd_set_error(err, "a request is an object with a string \"execute\"");
		return NULL;
	}
	args = json_object_get_member(obj, "arguments");
	if (args && !JSON_NODE_HOLDS_OBJECT(args)) {
		vmnetd_set_error(err, "\"arguments\" must be an object");
		return NULL;
	}
	rq->command = json_node_get_string(exec);
	rq->args = args ? json_node_get_object(args) : NULL;
	return g_steal_pointer(&parser);
}

static char *reply_error(const char *command, const char *desc)
{
	g_autoptr(JsonBuilder) b = json_builder_new_immutable();
	g_autofree char *msg = command ? g_strdup_printf("%s: %s", command, desc)
				       : g_strdup(desc);
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "error");
	json_builder_begin_object(b);
	add_string(b, "desc", msg);
	json_builder_end_object(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return json_to_string(root, FALSE);
}

static char *reply_return(JsonBuilder *value)
{
	g_autoptr(JsonNode) val = json_builder_get_root(value);
	g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
	g_autoptr(JsonObject) obj = json_object_new();

	json_object_set_member(obj, "return", g_steal_pointer(&val));
	json_node_set_object(root, obj);
	return json_to_string(root, FALSE);
}

static char *run_command(struct request *rq)
{
	const struct command *cmd = find_command(rq->command);
	g_autoptr(JsonBuilder) b = json_builder_new_immutable();
	g_autoptr(JsonObject) none = json_object_new();
	g_autoptr(GError) err = NULL;

	if (!cmd) {
		g_autofree char *desc = g_strdup_printf("unknown command %s", rq->command);

		return reply_error(NULL, desc);
	}
	if (!rq->args)
		rq->args = none;
	rq->b = b;
	if (!check_arg_names(rq, cmd->args, &err) || !cmd->fn(rq, &err))
		return reply_error(cmd->name, err->message);
	return reply_return(b);
}

char *api_handle_request(void *opaque, const char *req, size_t len, int *fd,
			 const struct api_peer *peer)
{
	struct request rq = { .ctx = opaque, .fd = fd, .peer = peer };
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonParser) parser = parse_request(req, len, &rq, &err);

	if (!parser)
		return reply_error(NULL, err->message);
	return run_command(&rq);
}
