/* daemon.c - the running daemon: networks built from the configuration,
 * systemd's sockets given to them, the control socket, and reloads.
 *
 * Each network keeps the settings it was built from (parts of them are
 * referenced while it runs), so the daemon owns both, side by side.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "vmnetd/api.h"
#include "vmnetd/api_commands.h"
#include "vmnetd/daemon.h"
#include "vmnetd/error.h"
#include "vmnetd/flowcap.h"
#include "vmnetd/forwards.h"
#include "vmnetd/network.h"
#include "vmnetd/supervise.h"

struct daemon {
	struct loop *loop;
	struct daemon_settings set;
	char *api_path;			/* owned copy of set.api_path */
	char *socket_dir;
	GArray *passed;			/* struct passed_socket; kept to rebuild a network */
	GPtrArray *nets;		/* struct network *; the API lists these */
	GPtrArray *cfgs;		/* struct net_config *, owned; cfgs[i] built nets[i] */
	struct api_ctx api_ctx;
	struct api_server *api;
};

struct daemon *daemon_new(struct loop *l, const struct daemon_settings *set, GArray *passed)
{
	struct daemon *d = g_new0(struct daemon, 1);

	d->loop = l;
	d->set = *set;
	d->api_path = g_strdup(set->api_path);
	d->socket_dir = g_strdup(set->socket_dir);
	d->set.api_path = d->api_path;
	d->set.socket_dir = d->socket_dir;
	d->passed = passed ? g_array_ref(passed) : NULL;
	d->nets = g_ptr_array_new();
	d->cfgs = g_ptr_array_new_with_free_func(net_config_free);
	d->api_ctx = (struct api_ctx){ .loop = l, .nets = d->nets };
	return d;
}

/* Which network a passed socket's name binds it to. */
static const char *passed_network(const struct passed_socket *ps)
{
	return strcmp(ps->name, "unknown") ? ps->name : NET_DEFAULT_NAME;
}

/* A copy of systemd's socket @ps for one listener, so that a network (or
 * the control socket) built again still has the original; -1 with @err. */
static int dup_passed(const struct passed_socket *ps, GError **err)
{
	int fd = fcntl(ps->fd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		vmnetd_set_error(err, "socket %s from systemd: %s", ps->name, g_strerror(errno));
	return fd;
}

/* systemd's sockets for network @name: a duplicate each, so the network
 * can be built again on reload. */
static bool listen_passed(struct daemon *d, struct network *net, GError **err)
{
	for (guint i = 0; d->passed && i < d->passed->len; i++) {
		const struct passed_socket *ps = &g_array_index(d->passed, struct passed_socket, i);
		int fd;

		if (strcmp(passed_network(ps), network_name(net)))
			continue;
		fd = dup_passed(ps, err);
		if (fd < 0 || !network_listen_fd(net, fd, err))
			return false;
	}
	return true;
}

/* --fd: each descriptor serves once (the reloaded configuration has none:
 * main.c reads them only at start, as their numbers may be reused since). */
static void attach_fds(struct network *net, const struct net_config *nc)
{
	for (guint j = 0; j < nc->fds->len; j++) {
		int fd = g_array_index(nc->fds, int, j);

		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		network_attach_stream(net, fd, g_strdup_printf("%s: fd %d", network_name(net), fd));
	}
}

static struct network *build_network(struct daemon *d, const struct net_config *nc,
				     GError **err)
{
	g_autofree char *what = d->set.from_nat ? g_strdup("--nat")
						: g_strdup_printf("network %s", nc->name);
	struct network *net = network_new(d->loop, nc, what, d->set.relay_exe, err);
	bool ok = net && listen_passed(d, net, err);

	for (guint j = 0; ok && j < nc->listen->len; j++)
		ok = network_listen(net, &g_array_index(nc->listen, struct endpoint, j),
				    &d->set.perms, err);
	for (guint j = 0; ok && j < nc->connect->len; j++)
		ok = network_connect(net, &g_array_index(nc->connect, struct endpoint, j), err);
	for (guint j = 0; ok && j < nc->netns->len; j++)
		ok = network_attach_netns(net, &g_array_index(nc->netns, struct netns_config, j), err);
	if (ok)
		attach_fds(net, nc);
	if (!ok && net) {
		network_free(net);
		net = NULL;
	}
	return net;
}

/* Build @nc (taken) and add it at the end; false with @err (then freed). */
static bool add_network(struct daemon *d, struct net_config *nc, GError **err)
{
	struct network *net = build_network(d, nc, err);

	if (!net) {
		net_config_free(nc);
		return false;
	}
	g_ptr_array_add(d->nets, net);
	g_ptr_array_add(d->cfgs, nc);
	return true;
}

char *daemon_default_api_path(const struct vmnetd_config *cfg, const char *socket_dir)
{
	const struct net_config *first = g_ptr_array_index(cfg->networks, 0);
	g_autofree char *file = g_strdup_printf("%s.api", first->name);

	for (guint i = 0; i < first->listen->len; i++) {
		const struct endpoint *ep = &g_array_index(first->listen, struct endpoint, i);

		if (ep->type != ENDPOINT_UNIX)
			continue;
		if (g_str_has_suffix(ep->path, ".sock"))
			return g_strdup_printf("%.*s.api", (int)(strlen(ep->path) - 5), ep->path);
		return g_strdup_printf("%s.api", ep->path);
	}
	return g_build_filename(socket_dir, file, NULL);
}

static const struct passed_socket *passed_api(struct daemon *d)
{
	for (guint i = 0; d->passed && i < d->passed->len; i++)
		if (!strcmp(g_array_index(d->passed, struct passed_socket, i).name, "api"))
			return &g_array_index(d->passed, struct passed_socket, i);
	return NULL;
}

/* Only the daemon's user (and its --socket-group): never others, whatever
 * --socket-mode gives the data sockets. */
static struct socket_perms api_perms(const struct daemon *d)
{
	return (struct socket_perms){ d->set.perms.group != (gid_t)-1 ? 0660 : 0600,
				      d->set.perms.group };
}

static bool start_api(struct daemon *d, const struct vmnetd_config *cfg, GError **err)
{
	const struct passed_socket *ps = passed_api(d);
	struct socket_perms perms = api_perms(d);
	g_autofree char *path = d->api_path ? g_strdup(d->api_path)
					    : daemon_default_api_path(cfg, d->socket_dir);
	g_autoptr(GError) e = NULL;
	struct endpoint ep = { .type = ENDPOINT_UNIX, .path = path };

	if (d->api_path && !strcmp(d->api_path, "none"))
		return true;
	if (ps) {
		int fd = dup_passed(ps, err);

		if (fd < 0)
			return false;
		d->api = api_server_new(d->loop, NULL, fd, &perms, api_handle_request,
					&d->api_ctx, err);
		return d->api != NULL;
	}
	d->api = api_server_new(d->loop, &ep, -1, &perms, api_handle_request, &d->api_ctx, &e);
	if (d->api) {
		g_message("control socket: unix:%s", path);
		return true;
	}
	/* The default place may be taken by another daemon that shares the
	 * socket directory: this one then runs without, and says so. */
	if (!d->api_path) {
		g_warning("%s; running without a control socket (give --api-socket PATH)",
			  e->message);
		return true;
	}
	g_propagate_error(err, g_steal_pointer(&e));
	return false;
}

/* The first network's first unix socket decides the default control
 * socket, so the networks are still in @cfg when this runs. */
bool daemon_start(struct daemon *d, struct vmnetd_config *cfg, GError **err)
{
	bool ok = true;

	if (!start_api(d, cfg, err))
		return false;
	while (ok && cfg->networks->len)
		ok = add_network(d, g_ptr_array_steal_index(cfg->networks, 0), err);
	return ok;
}

static guint find_config(GPtrArray *cfgs, const char *name)
{
	for (guint i = 0; i < cfgs->len; i++)
		if (!strcmp(((struct net_config *)g_ptr_array_index(cfgs, i))->name, name))
			return i;
	return G_MAXUINT;
}

static GArray *hostfwds_of(const struct net_config *nc)
{
	if (nc->mode == NET_MODE_BRIDGED)
		return NULL;
	return nc->mode == NET_MODE_HOSTONLY ? nc->ho.hostfwds : nc->nat.hostfwds;
}

static void remove_network(struct daemon *d, guint i, const char *why)
{
	struct network *net = g_ptr_array_index(d->nets, i);

	g_message("network %s %s: closed with its VMs", network_name(net), why);
	network_free(net);
	g_ptr_array_remove_index(d->nets, i);
	g_ptr_array_remove_index(d->cfgs, i);
}

/* Unchanged @nc (taken): only its forwards may differ. */
static bool keep_network(struct daemon *d, guint i, struct net_config *nc, GError **err)
{
	struct forwards *f = network_forwards(g_ptr_array_index(d->nets, i));
	bool ok = !f || forwards_sync_config(f, hostfwds_of(nc), err);

	net_config_free(nc);
	return ok;
}

/* Networks gone or changed close first, so that a rebuilt one can take
 * its socket paths and host ports back. */
static void close_changed(struct daemon *d, GPtrArray *next)
{
	for (guint i = d->cfgs->len; i-- > 0;) {
		const struct net_config *old = g_ptr_array_index(d->cfgs, i);
		guint j = find_config(next, old->name);

		if (j == G_MAXUINT)
			remove_network(d, i, "is no longer configured");
		else if (!g_string_equal(old->fingerprint,
					 ((struct net_config *)g_ptr_array_index(next, j))->fingerprint))
			remove_network(d, i, "changed");
	}
}

/* The networks in the order the configuration declares them (a rebuilt one
 * was added at the end): "the first network" stays the first. */
static void reorder(struct daemon *d, char **order)
{
	for (guint want = 0; order[want]; want++) {
		guint i = find_config(d->cfgs, order[want]);

		if (i == G_MAXUINT || i == want || want >= d->cfgs->len)
			continue;
		g_ptr_array_insert(d->nets, want, g_ptr_array_steal_index(d->nets, i));
		g_ptr_array_insert(d->cfgs, want, g_ptr_array_steal_index(d->cfgs, i));
	}
}

bool daemon_reload(struct daemon *d, struct vmnetd_config *cfg, GError **err)
{
	g_auto(GStrv) order = g_new0(char *, cfg->networks->len + 1);
	bool ok = true;

	for (guint i = 0; i < cfg->networks->len; i++)
		order[i] = g_strdup(((struct net_config *)cfg->networks->pdata[i])->name);
	close_changed(d, cfg->networks);
	while (cfg->networks->len) {
		struct net_config *nc = g_ptr_array_steal_index(cfg->networks, 0);
		guint i = find_config(d->cfgs, nc->name);
		g_autoptr(GError) e = NULL;
		bool done = i != G_MAXUINT ? keep_network(d, i, nc, &e) : add_network(d, nc, &e);

		if (!done && ok)
			g_propagate_error(err, g_steal_pointer(&e));
		else if (!done)
			g_warning("%s", e->message);
		if (done && i == G_MAXUINT)
			g_message("network %s: started", network_name(d->nets->pdata[d->nets->len - 1]));
		ok = ok && done;
	}
	reorder(d, order);
	return ok;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	api_server_free(d->api);
	for (guint i = 0; i < d->nets->len; i++)
		network_free(g_ptr_array_index(d->nets, i));
	g_ptr_array_free(d->nets, TRUE);
	g_ptr_array_free(d->cfgs, TRUE);
	if (d->passed)
		g_array_unref(d->passed);
	g_free(d->api_path);
	g_free(d->socket_dir);
	g_free(d);
}
