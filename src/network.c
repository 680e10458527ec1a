/* network.c - one virtual network built from its configuration: learning
 * switch, the uplink its mode asks for, the lease table, the sockets VMs
 * attach through, and the switch's housekeeping (MAC ageing, waking
 * senders that waited). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmnetd/capture.h"
#include "vmnetd/error.h"
#include "vmnetd/listener.h"
#include "vmnetd/mac.h"
#include "vmnetd/network.h"
#include "vmnetd/netns.h"
#include "vmnetd/port_dgram.h"
#include "vmnetd/port_vhost.h"
#include "vmnetd/port_stream.h"
#include "vmnetd/port_tap.h"
#include "vmnetd/portsec.h"
#include "vmnetd/selfports.h"
#include "vmnetd/supervise.h"
#include "vmnetd/uplink_bridged.h"
#include "vmnetd/uplink_hostonly.h"
#include "vmnetd/uplink_nat.h"

/* How often a waiting sender re-checks a destination that may have stalled. */
#define RECHECK_MS 10

struct network {
	char *name;
	struct loop *loop;
	struct vswitch *sw;
	struct port_set *ports;
	struct lease_table *leases;
	struct loop_timer *ageing;
	struct loop_hook *resume_hook;
	GPtrArray *listeners;
	GPtrArray *connectors;
	GPtrArray *dgram_servers;	/* struct dgram_server: -netdev dgram peers */
	GPtrArray *selfports;	/* GArray of struct endpoint_addr per TCP listener */
	unsigned port_macs;
	unsigned max_ports;	/* VM ports at once */
	uint64_t ports_refused;
	struct portsec *portsec;	/* NULL with port-security=off */
	enum net_mode mode;
	unsigned mtu;
	struct forwards *forwards;	/* NULL: the uplink has none */
	struct port *bridged;		/* the bridged uplink, whose device has the MTU */
	struct in_addr net4, mask4, gw4;	/* its IPv4 subnet and uplink address
						 * (all zero when bridged: the LAN's) */
	GPtrArray *netns_watches;	/* struct exit_watch: --netns processes */
	GPtrArray *netns_ports;		/* struct netns_port, owned */
	bool freeing;			/* network_free() runs: its ports close */
	struct capture *capture;	/* NULL: not capturing */
	unsigned capture_port;		/* 0: every port */
};

static void on_ageing(void *opaque)
{
	struct network *net = opaque;
	int64_t now = loop_now(net->loop);
	int64_t next = switch_age(net->sw, now);

	/* An empty table still gets a check one ageing time from now: an
	 * entry learned meanwhile cannot expire before that. */
	loop_timer_arm(net->ageing, next == INT64_MAX ? now + SWITCH_AGEING_NS : next);
}

static int resume_waiting(void *opaque, struct loop *l)
{
	struct network *net = opaque;

	return switch_resume_waiting(net->sw, loop_now(l)) ? RECHECK_MS : -1;
}

/* A VM port's MAC and, once leased, its address and host name. */
static char *describe_port(void *opaque, const struct port *p)
{
	struct network *net = opaque;
	const struct lease *l;
	g_autofree char *where = NULL;

	if (!p->has_mac || p->uplink)	/* uplinks say who they are by name */
		return NULL;
	l = lease_table_by_mac(net->leases, p->mac, time(NULL));
	if (!l)
		return g_strdup_printf(MAC_FMT, MAC_ARGS(p->mac));
	where = lease_where(l);
	return g_strdup_printf(MAC_FMT " %s", MAC_ARGS(p->mac), where);
}

static bool portsec_filter(void *opaque, struct vswitch *sw, struct port *in,
			   const uint8_t *frame, size_t len, int64_t now_ns)
{
	return portsec_allow(opaque, sw, in, frame, len, now_ns);
}

static void portsec_gone(void *opaque, const struct port *p)
{
	portsec_forget(opaque, p);
}

/* The addresses the uplink and its services answer for: no VM may claim them. */
static void start_portsec(struct network *net, const struct net_config *cfg)
{
	g_autoptr(GArray) own4 = g_array_new(FALSE, FALSE, sizeof(struct in_addr));
	g_autoptr(GArray) own6 = g_array_new(FALSE, FALSE, sizeof(struct in6_addr));

	if (!cfg->port_security)
		return;
	if (cfg->mode == NET_MODE_HOSTONLY) {
		g_array_append_val(own4, cfg->ho.host);
	} else {
		const struct nat_config *c = &cfg->nat;

		if (c->ipv4) {
			g_array_append_val(own4, c->host);
			g_array_append_val(own4, c->dns);
			for (guint i = 0; i < c->guestfwds->len; i++)
				g_array_append_val(own4,
						   g_array_index(c->guestfwds, struct guestfwd, i).addr);
		}
		if (c->ipv6) {
			g_array_append_val(own6, c->ip6_host);
			g_array_append_val(own6, c->ip6_dns);
		}
	}
	net->portsec = portsec_new(net->leases, (struct in_addr *)own4->data, own4->len,
				   (struct in6_addr *)own6->data, own6->len);
	switch_set_filter(net->sw, portsec_filter, portsec_gone, net->portsec);
}

static bool add_uplink(struct network *net, const struct net_config *cfg, const char *what,
		       const char *relay_exe, GError **err)
{
	struct port *up;

	if (cfg->mode == NET_MODE_BRIDGED) {
		up = uplink_bridged_new(net->ports, cfg, what, err);
		net->bridged = up;
	} else if (cfg->mode == NET_MODE_HOSTONLY) {
		up = uplink_hostonly_new(net->ports, cfg, net->leases, what, err);
		net->forwards = up ? uplink_hostonly_forwards(up) : NULL;
	} else {
		up = uplink_nat_new(net->ports, cfg, net->leases, relay_exe, what, err);
		net->forwards = up ? uplink_nat_forwards(up) : NULL;
	}
	return up != NULL;
}

static void note_addresses(struct network *net, const struct net_config *cfg)
{
	bool ho = cfg->mode == NET_MODE_HOSTONLY;

	if (cfg->mode == NET_MODE_BRIDGED)	/* the LAN's addresses, not ours */
		return;
	net->net4 = ho ? cfg->ho.net : cfg->nat.net;
	net->mask4 = ho ? cfg->ho.mask : cfg->nat.mask;
	net->gw4 = ho ? cfg->ho.host : cfg->nat.host;
}

struct network *network_new(struct loop *l, const struct net_config *cfg, const char *what,
			    const char *relay_exe, GError **err)
{
	struct network *net = g_new0(struct network, 1);

	net->name = g_strdup(cfg->name);
	net->loop = l;
	net->mode = cfg->mode;
	net->mtu = cfg->mtu;
	note_addresses(net, cfg);
	net->port_macs = cfg->port_macs ? cfg->port_macs : PORT_FDB_MAX_DEFAULT;
	net->max_ports = cfg->max_ports ? cfg->max_ports : NET_MAX_PORTS_DEFAULT;
	net->sw = switch_new(SWITCH_AGEING_NS);
	net->ports = port_set_new(l, net->sw);
	port_set_describe(net->ports, describe_port, net);
	net->leases = lease_table_new();
	net->listeners = g_ptr_array_new_with_free_func((GDestroyNotify)listener_free);
	net->connectors = g_ptr_array_new_with_free_func((GDestroyNotify)connector_free);
	net->dgram_servers = g_ptr_array_new_with_free_func((GDestroyNotify)dgram_server_free);
	net->selfports = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
	net->netns_watches = g_ptr_array_new_with_free_func(
		(GDestroyNotify)supervise_exit_watch_free);
	net->netns_ports = g_ptr_array_new_with_free_func(g_free);
	net->ageing = loop_timer_new(l, on_ageing, net);
	loop_timer_arm(net->ageing, loop_now(l) + SWITCH_AGEING_NS);
	net->resume_hook = loop_add_hook(l, resume_waiting, net);
	start_portsec(net, cfg);
	if (!add_uplink(net, cfg, what, relay_exe, err)) {
		network_free(net);
		return NULL;
	}
	return net;
}

static void count_vm_port(struct port *p, void *opaque)
{
	*(unsigned *)opaque += !p->uplink;
}

unsigned network_vm_ports(struct network *net)
{
	unsigned n = 0;

	network_foreach_port(net, count_vm_port, &n);
	return n;
}

/* max-ports= keeps one network's memory bounded: past it, newcomers wait
 * outside (their socket is closed), said once per thousand. */
static bool room_for_port(struct network *net, const char *name)
{
	if (network_vm_ports(net) < net->max_ports)
		return true;
	if (net->ports_refused++ % 1000 == 0)
		g_message("%s: %s refused: the network has its %u ports (max-ports=)", net->name,
			  name, net->max_ports);
	return false;
}

/* A VM's port of descriptor @fd made by @make, if the network has room;
 * @fd and @name are taken either way. */
static struct port *attach_vm(struct network *net, int fd, char *name,
			      struct port *(*make)(struct network *net, int fd, char *name))
{
	struct port *p;

	if (!room_for_port(net, name)) {
		close(fd);
		g_free(name);
		return NULL;
	}
	p = make(net, fd, name);
	if (p)
		p->fdb_max = net->port_macs;
	return p;
}

static struct port *make_stream(struct network *net, int fd, char *name)
{
	return port_stream_new(net->ports, fd, name);
}

static struct port *make_vhost(struct network *net, int fd, char *name)
{
	return port_vhost_new(net->ports, fd, name, net->mtu);
}

static struct port *make_tap(struct network *net, int fd, char *name)
{
	return port_tap_new(net->ports, fd, name, net->mtu);
}

struct port *network_attach_stream(struct network *net, int fd, char *name)
{
	return attach_vm(net, fd, name, make_stream);
}

struct port *network_attach_tap(struct network *net, int fd, char *name)
{
	return attach_vm(net, fd, name, make_tap);
}

/* A namespace's TAP: its process gone, the port goes (and, for a daemon
 * started just for it, the daemon). */
struct netns_port {
	struct network *net;
	struct port *port;
	bool exit_with;
};

static void netns_port_closed(void *opaque, struct port *p)
{
	struct netns_port *np = opaque;

	(void)p;
	np->port = NULL;
	if (np->exit_with && !np->net->freeing) {
		g_message("%s: its namespace's TAP is gone: shutting down", np->net->name);
		loop_quit(np->net->loop);
	}
}

static void netns_process_gone(void *opaque)
{
	struct netns_port *np = opaque;

	if (np->port)
		port_close(np->port, "the namespace's process exited");
}

/* .100 of the subnet, as slirp4netns --configure gives (10.0.2.100). */
static struct in_addr netns_address(const struct network *net)
{
	return (struct in_addr){ htonl(ntohl(net->net4.s_addr) + 100) };
}

static void netns_target_of(const struct network *net, const struct netns_config *nc,
			    struct netns_target *t)
{
	*t = (struct netns_target){ .target = nc->target, .is_path = nc->is_path,
				    .userns = nc->userns, .ifname = nc->ifname,
				    .configure = nc->configure, .mtu = net->mtu,
				    .addr = netns_address(net), .mask = net->mask4,
				    .gateway = net->gw4 };
	if (nc->mac_given)
		memcpy(t->mac, nc->mac, 6);
	else
		mac_random_local(t->mac);
}

/* The configured address is the namespace's for good: a static lease
 * keeps DHCP from giving it to a VM and lets port security accept it. */
static void reserve_address(struct network *net, const struct netns_target *t)
{
	struct lease l = { .ip = t->addr, .expires = INT64_MAX, .is_static = true };

	memcpy(l.mac, t->mac, 6);
	lease_table_set(net->leases, &l);
}

bool network_attach_netns(struct network *net, const struct netns_config *nc, GError **err)
{
	struct netns_target t;
	struct netns_port *np;
	struct exit_watch *w = NULL;
	int pidfd = -1, fd;

	if (nc->configure && net->mode == NET_MODE_BRIDGED) {
		vmnetd_set_error(err, "--netns %s --configure: network %s is bridged: its "
				 "addresses are the LAN's (leave --configure out)", nc->target,
				 net->name);
		return false;
	}
	/* The process first: its namespaces are then surely its own. */
	if (!nc->is_path && (pidfd = netns_pidfd(nc->target, err)) < 0)
		return false;
	netns_target_of(net, nc, &t);
	fd = netns_open_tap(&t, pidfd, err);
	np = g_new0(struct netns_port, 1);
	*np = (struct netns_port){ .net = net, .exit_with = nc->exit_with };
	if (fd < 0 || (pidfd >= 0 && !(w = supervise_watch_end(net->loop, pidfd,
							       netns_process_gone, np, err)))) {
		if (fd >= 0)
			close(fd);
		else if (pidfd >= 0)
			close(pidfd);
		g_free(np);
		return false;
	}
	np->port = network_attach_tap(net, fd, g_strdup_printf("%s: netns %s %s", net->name,
								 nc->target, nc->ifname));
	if (!np->port) {
		vmnetd_set_error(err, "--netns %s: no room for its port", nc->target);
		supervise_exit_watch_free(w);
		g_free(np);
		return false;
	}
	if (w)
		g_ptr_array_add(net->netns_watches, w);
	port_on_close(np->port, netns_port_closed, np);
	if (nc->configure)
		reserve_address(net, &t);
	/* np lives as long as the network: its watch may outlive the port. */
	g_ptr_array_add(net->netns_ports, np);
	return true;
}

static struct port *attach_stream(void *opaque, int fd, char *name)
{
	struct network *net = opaque;
	g_autofree char *full = g_strdup_printf("%s: %s", net->name, name);

	g_free(name);
	return network_attach_stream(net, fd, g_steal_pointer(&full));
}

static struct port *attach_vhost(void *opaque, int fd, char *name)
{
	struct network *net = opaque;
	g_autofree char *full = g_strdup_printf("%s: %s", net->name, name);

	g_free(name);
	return attach_vm(net, fd, g_steal_pointer(&full), make_vhost);
}

/* How a connection on @ep becomes a port. */
static attach_fn attach_for(const struct endpoint *ep)
{
	return ep->vhost ? attach_vhost : attach_stream;
}

/* Note (or forget) a TCP listener's or UDP socket's addresses as the
 * daemon's own. */
static void note_selfports(GArray *addrs, bool add)
{
	for (guint i = 0; addrs && i < addrs->len; i++) {
		const struct endpoint_addr *a = &g_array_index(addrs, struct endpoint_addr, i);
		const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
		uint8_t proto = a->dgram ? IPPROTO_UDP : IPPROTO_TCP;

		if (add)
			selfports_add(sa, proto);
		else
			selfports_del(sa, proto);
	}
}

static struct port *attach_dgram(void *opaque, struct dgram_server *srv,
				 const struct sockaddr *addr, socklen_t len, int peer_fd, char *name)
{
	struct network *net = opaque;
	g_autofree char *full = g_strdup_printf("%s: %s", net->name, name);
	struct port *p;

	g_free(name);
	if (!room_for_port(net, full))
		return NULL;
	p = port_dgram_new(net->ports, srv, addr, len, peer_fd, g_steal_pointer(&full));
	if (p)
		p->fdb_max = net->port_macs;
	return p;
}

/* A TCP listener or UDP socket is noted as the daemon's own (selfports.h). */
static void note_own_addresses(struct network *net, const struct endpoint *ep)
{
	if (ep->type == ENDPOINT_TCP) {
		GArray *addrs = endpoint_resolve(ep, NULL);

		note_selfports(addrs, true);
		if (addrs)
			g_ptr_array_add(net->selfports, addrs);
	}
}

static bool listen_dgram(struct network *net, const struct endpoint *ep,
			 const struct socket_perms *perms, GError **err)
{
	struct dgram_server *srv = dgram_server_new(net->loop, ep, perms, attach_dgram, net, err);

	if (!srv)
		return false;
	g_ptr_array_add(net->dgram_servers, srv);
	note_own_addresses(net, ep);
	return true;
}

static bool add_listener(struct network *net, struct listener *li, const struct endpoint *ep)
{
	if (!li)
		return false;
	g_ptr_array_add(net->listeners, li);
	note_own_addresses(net, ep);
	return true;
}

bool network_listen(struct network *net, const struct endpoint *ep,
		    const struct socket_perms *perms, GError **err)
{
	if (ep->dgram)
		return listen_dgram(net, ep, perms, err);
	return add_listener(net, listener_new(net->loop, ep, perms, attach_for(ep), net, err), ep);
}

bool network_listen_fd(struct network *net, int fd, GError **err)
{
	struct endpoint ep;
	bool ok;

	if (!endpoint_from_socket(fd, &ep, err)) {
		close(fd);
		return false;
	}
	ok = add_listener(net, listener_new_fd(net->loop, fd, attach_stream, net, err), &ep);
	endpoint_clear(&ep);
	return ok;
}

bool network_connect(struct network *net, const struct endpoint *ep, GError **err)
{
	struct connector *co = connector_new(net->loop, ep, attach_for(ep), net, err);

	if (co)
		g_ptr_array_add(net->connectors, co);
	return co != NULL;
}

static void network_destroy(void *ptr)
{
	struct network *net = ptr;

	g_ptr_array_free(net->netns_ports, TRUE);
	switch_free(net->sw);
	portsec_free(net->portsec);
	lease_table_free(net->leases);
	g_free(net->name);
	g_free(net);
}

void network_free(struct network *net)
{
	if (!net)
		return;
	net->freeing = true;
	network_capture_stop(net, NULL, NULL);
	g_ptr_array_free(net->listeners, TRUE);
	g_ptr_array_free(net->connectors, TRUE);
	g_ptr_array_free(net->dgram_servers, TRUE);
	for (guint i = 0; i < net->selfports->len; i++)
		note_selfports(g_ptr_array_index(net->selfports, i), false);
	g_ptr_array_free(net->selfports, TRUE);
	g_ptr_array_free(net->netns_watches, TRUE);
	port_set_free(net->ports);	/* the uplink too */
	loop_timer_free(net->ageing);
	loop_del_hook(net->loop, net->resume_hook);
	/* Ports freed after this iteration still refer to the switch. */
	loop_defer_free(net->loop, network_destroy, net);
}

const char *network_name(const struct network *net)
{
	return net->name;
}

void network_foreach_port(struct network *net, void (*fn)(struct port *p, void *opaque),
			  void *opaque)
{
	port_set_foreach(net->ports, fn, opaque);
}

void network_foreach_fdb(struct network *net, switch_fdb_fn fn, void *opaque)
{
	switch_foreach_fdb(net->sw, loop_now(net->loop), fn, opaque);
}

const struct switch_stats *network_switch_stats(const struct network *net)
{
	return switch_get_stats(net->sw);
}

struct lease_table *network_leases(struct network *net)
{
	return net->leases;
}

enum net_mode network_mode(const struct network *net)
{
	return net->mode;
}

unsigned network_mtu(const struct network *net)
{
	return net->bridged ? uplink_bridged_mtu(net->bridged) : net->mtu;
}

char *network_subnet(const struct network *net)
{
	return net->mode == NET_MODE_BRIDGED ? g_strdup("")
					     : netopt_net_to_string(net->net4, net->mask4);
}

char *network_gateway(const struct network *net)
{
	char buf[INET_ADDRSTRLEN];

	return g_strdup(net->mode == NET_MODE_BRIDGED ? ""
				: inet_ntop(AF_INET, &net->gw4, buf, sizeof(buf)));
}

void network_foreach_listener(struct network *net, void (*fn)(const char *name, void *opaque),
			      void *opaque)
{
	for (guint i = 0; i < net->listeners->len; i++)
		fn(listener_name(g_ptr_array_index(net->listeners, i)), opaque);
	for (guint i = 0; i < net->dgram_servers->len; i++)
		fn(dgram_server_name(g_ptr_array_index(net->dgram_servers, i)), opaque);
}

struct forwards *network_forwards(struct network *net)
{
	return net->forwards;
}

struct port *network_find_port(struct network *net, unsigned id)
{
	return port_set_find(net->ports, id);
}

static void capture_mirror(void *opaque, const struct port *p, bool out, const uint8_t *frame,
			   size_t len)
{
	struct network *net = opaque;

	/* Every frame enters the switch once: a capture of the whole network
	 * records inputs only, so none is written twice. */
	if (net->capture_port ? p->id == net->capture_port : !out)
		capture_frame(net->capture, frame, len);
}

bool network_capture_start(struct network *net, int fd, unsigned port_id, uint32_t snaplen,
			   GError **err)
{
	if (net->capture) {
		vmnetd_set_error(err, "network %s is already being captured", net->name);
		close(fd);
		return false;
	}
	if (port_id && !port_set_find(net->ports, port_id)) {
		vmnetd_set_error(err, "network %s has no port %u", net->name, port_id);
		close(fd);
		return false;
	}
	net->capture = capture_new(net->loop, fd, snaplen, err);
	if (!net->capture)
		return false;
	net->capture_port = port_id;
	port_set_mirror(net->ports, capture_mirror, net);
	g_message("%s: capture started (%s)", net->name, port_id ? "one port" : "every port");
	return true;
}

bool network_capture_stop(struct network *net, struct capture_stats *st, GError **err)
{
	struct capture_stats local;

	if (!net->capture) {
		vmnetd_set_error(err, "network %s is not being captured", net->name);
		return false;
	}
	port_set_mirror(net->ports, NULL, NULL);
	capture_free(net->capture, &local);
	net->capture = NULL;
	g_message("%s: capture stopped: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
		  " dropped", net->name, local.frames, local.dropped);
	if (st)
		*st = local;
	return true;
}
