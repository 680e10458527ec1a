/* netconf.c - parse and check the networks a daemon serves (--network, --nat,
 * --listen, --connect, --config) before anything is built.
 *
 * Every message starts with where the value came from: "network lab",
 * "FILE: network lab", "--nat", "--listen ADDR". NAT keys go to netopts.c;
 * host-only keys reuse its value parsers so both modes word errors alike.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>

#include "vmnetd/dns.h"
#include "vmnetd/error.h"
#include "vmnetd/mac.h"
#include "vmnetd/netconf.h"

/* A name becomes a socket file name and may name an interface: IFNAMSIZ - 1. */
#define NET_NAME_MAX		15
#define IFACE_NAME_MAX		15	/* IFNAMSIZ - 1 */
/* A port is one VM (one MAC) or a nested bridge; more than this is a MAC flood. */
#define PORT_MACS_MAX		4096
/* Below a minute clients renew every half minute (T1 is half the lease). */
#define LEASE_TIME_MIN		60
/* A year: longer means "forever", which outlives any VM's address. */
#define LEASE_TIME_MAX		31536000
#define DNS_NAME_MAX		253	/* RFC 1035 2.3.4, without the final dot */

/* Host-only defaults are VirtualBox's: 192.168.56.0/24, host .1, pool .101-.254. */
#define HOSTONLY_NET		0xc0a83800u
#define HOSTONLY_MASK		0xffffff00u
#define HOSTONLY_HOST_PART	1
#define HOSTONLY_POOL_START	101
#define HOSTONLY_POOL_END	254
#define HOSTONLY_HOST_NAME	"host"

/* While loading: each network's message prefix, and who owns each socket. */
struct loader {
	struct vmnetd_config *c;
	GPtrArray *whats;	/* char *, parallel to c->networks */
	GHashTable *bound;	/* "listen tcp:127.0.0.1:1" -> owning network's name */
};

static void endpoint_clear_cb(void *p)
{
	endpoint_clear(p);
}

static void static_lease_clear(void *p)
{
	g_free(((struct dhcp_static_lease *)p)->hostname);
}

static void hostonly_init(struct hostonly_config *ho)
{
	*ho = (struct hostonly_config){ .lease_time_s = HOSTONLY_LEASE_TIME_DEFAULT };
	ho->net.s_addr = htonl(HOSTONLY_NET);
	ho->mask.s_addr = htonl(HOSTONLY_MASK);
	ho->host_name = g_strdup(HOSTONLY_HOST_NAME);
	ho->statics = g_array_new(FALSE, TRUE, sizeof(struct dhcp_static_lease));
	g_array_set_clear_func(ho->statics, static_lease_clear);
	ho->hostfwds = g_array_new(FALSE, TRUE, sizeof(struct hostfwd));
	g_array_set_clear_func(ho->hostfwds, netopt_hostfwd_clear);
}

static void hostonly_clear(struct hostonly_config *ho)
{
	g_array_free(ho->statics, TRUE);
	g_array_free(ho->hostfwds, TRUE);
	g_free(ho->domain);
	g_free(ho->host_name);
	g_free(ho->host_iface);
}

static struct net_config *net_config_new(const char *name, enum net_mode mode)
{
	struct net_config *n = g_new0(struct net_config, 1);

	n->name = g_strdup(name);
	n->mode = mode;
	n->mtu = NAT_MTU_DEFAULT;
	n->port_macs = NET_PORT_MACS_DEFAULT;
	n->max_ports = NET_MAX_PORTS_DEFAULT;
	n->port_security = true;
	/* vmnetd's DHCP: leases capped per port, expiring, released, with the
	 * MTU; libslirp's (dhcp=libslirp) has 16 leases that never expire. */
	n->dhcp_vmnetd = mode == NET_MODE_NAT;
	nat_config_init(&n->nat);
	hostonly_init(&n->ho);
	n->listen = g_array_new(FALSE, TRUE, sizeof(struct endpoint));
	g_array_set_clear_func(n->listen, endpoint_clear_cb);
	n->connect = g_array_new(FALSE, TRUE, sizeof(struct endpoint));
	g_array_set_clear_func(n->connect, endpoint_clear_cb);
	n->fds = g_array_new(FALSE, FALSE, sizeof(int));
	n->netns = g_array_new(FALSE, TRUE, sizeof(struct netns_config));
	g_array_set_clear_func(n->netns, netns_config_clear);
	n->fingerprint = g_string_new(net_mode_name(mode));
	return n;
}

void netns_config_clear(void *p)
{
	struct netns_config *nc = p;

	g_free(nc->target);
	g_free(nc->userns);
	g_free(nc->ifname);
}

void net_config_free(void *p)
{
	struct net_config *n = p;

	g_string_free(n->fingerprint, TRUE);
	g_free(n->br.tap);
	g_free(n->br.bridge);
	g_free(n->br.macvtap);
	g_free(n->br.acl);
	g_array_free(n->fds, TRUE);
	g_array_free(n->netns, TRUE);
	g_free(n->name);
	g_free(n->lease_file);
	nat_config_clear(&n->nat);
	hostonly_clear(&n->ho);
	g_array_free(n->listen, TRUE);
	g_array_free(n->connect, TRUE);
	g_free(n);
}

void vmnetd_config_init(struct vmnetd_config *c)
{
	c->networks = g_ptr_array_new_with_free_func(net_config_free);
}

void vmnetd_config_clear(struct vmnetd_config *c)
{
	if (c->networks)
		g_ptr_array_free(c->networks, TRUE);
	c->networks = NULL;
}

struct net_config *vmnetd_config_find(const struct vmnetd_config *c, const char *name)
{
	for (guint i = 0; i < c->networks->len; i++) {
		struct net_config *n = g_ptr_array_index(c->networks, i);

		if (!strcmp(n->name, name))
			return n;
	}
	return NULL;
}

/* ---- Names ---- */

static bool check_name(const char *what, const char *name, GError **err)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	size_t len = strlen(name);

	if (len < 1 || len > NET_NAME_MAX || strspn(name, ok) != len) {
		vmnetd_set_error(err, "%s: a network name is 1 to %d characters from "
				 "A-Z a-z 0-9 _ -", what, NET_NAME_MAX);
		return false;
	}
	return true;
}

/* Letters, digits and inner hyphens (RFC 1123 2.1). */
static bool is_dns_label(const char *s, size_t len)
{
	if (len < 1 || len > DNS_LABEL_MAX || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool is_dns_name(const char *s)
{
	size_t len = strlen(s);

	if (len > DNS_NAME_MAX)
		return false;
	for (const char *dot; (dot = strchr(s, '.')); s = dot + 1)
		if (!is_dns_label(s, dot - s))
			return false;
	return is_dns_label(s, strlen(s));
}

/* Linux's rule (dev_valid_name): short, not . or .., no / : or space. */
static bool is_iface_name(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > IFACE_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' || g_ascii_isspace(s[i]))
			return false;
	return true;
}

static bool parse_mode(const char *what, const char *val, enum net_mode *mode, GError **err)
{
	if (!strcmp(val, "nat")) {
		*mode = NET_MODE_NAT;
		return true;
	}
	if (!strcmp(val, "hostonly")) {
		*mode = NET_MODE_HOSTONLY;
		return true;
	}
	if (!strcmp(val, "bridged")) {
		*mode = NET_MODE_BRIDGED;
		return true;
	}
	vmnetd_set_error(err, "%s mode=%s: expected nat, hostonly or bridged", what, val);
	return false;
}

const char *net_mode_name(enum net_mode mode)
{
	static const char *const names[] = { "nat", "hostonly", "bridged" };

	return names[mode];
}

/* ---- Sockets: each address belongs to exactly one network ---- */

/* Takes @ep. @label names it in messages ("--listen unix:/x"). */
static bool add_endpoint(struct loader *ld, struct net_config *n, bool listen,
			 const char *label, struct endpoint *ep, GError **err)
{
	g_autofree char *addr = endpoint_to_string(ep);
	char *key = g_strdup_printf("%s %s", listen ? "listen" : "connect", addr);
	const char *owner = g_hash_table_lookup(ld->bound, key);

	if (owner) {
		if (!strcmp(owner, n->name))
			vmnetd_set_error(err, "%s: given twice for network %s", label, owner);
		else
			vmnetd_set_error(err, "%s: bound to two networks (%s and %s)", label,
					 owner, n->name);
		g_free(key);
		endpoint_clear(ep);
		return false;
	}
	g_string_append_printf(n->fingerprint, "\n%s", key);
	g_hash_table_insert(ld->bound, key, g_strdup(n->name));
	g_array_append_val(listen ? n->listen : n->connect, *ep);
	return true;
}

/* A dgram address is one to listen on: QEMU's dgram netdev sends first. */
static bool dgram_listens(struct endpoint *ep, const char *opt, const char *addr, GError **err)
{
	if (!ep->dgram || strstr(opt, "listen"))
		return true;
	vmnetd_set_error(err, "%s %s: a dgram address is for --listen (QEMU sends to it)", opt,
			 addr);
	endpoint_clear(ep);
	return false;
}

/* listen= or connect= of a network. */
static bool key_endpoint(struct loader *ld, struct net_config *n, const char *what,
			 const char *key, const char *val, GError **err)
{
	g_autofree char *opt = g_strdup_printf("%s %s", what, key);
	g_autofree char *label = g_strdup_printf("%s %s", opt, val);
	struct endpoint ep;

	if (!endpoint_parse(val, opt, &ep, err) || !dgram_listens(&ep, opt, val, err))
		return false;
	return add_endpoint(ld, n, !strcmp(key, "listen"), label, &ep, err);
}

/* "VALUE[,network=NAME]": the network an attachment names, or the only
 * one; *@value is VALUE (allocated). NULL with @err. */
static struct net_config *bound_network(struct loader *ld, const char *opt, const char *arg,
					char **value, GError **err)
{
	const char *tail = g_strrstr(arg, ",network=");
	GPtrArray *nets = ld->c->networks;
	struct net_config *n = NULL;

	*value = tail ? g_strndup(arg, tail - arg) : g_strdup(arg);
	if (tail && !(n = vmnetd_config_find(ld->c, tail + strlen(",network="))))
		vmnetd_set_error(err, "%s %s: no network named '%s'", opt, *value,
				 tail + strlen(",network="));
	else if (!tail && nets->len == 1)
		n = g_ptr_array_index(nets, 0);
	else if (!tail)
		vmnetd_set_error(err, "%s %s: bound to no network; add ,network=NAME", opt,
				 *value);
	return n;
}

/* --listen ADDR[,network=NAME] or --connect ADDR[,network=NAME]. */
static bool bind_arg(struct loader *ld, const char *opt, const char *arg, GError **err)
{
	g_autofree char *addr = NULL;
	struct net_config *n = bound_network(ld, opt, arg, &addr, err);
	g_autofree char *label = g_strdup_printf("%s %s", opt, addr);
	struct endpoint ep;

	if (!n || !endpoint_parse(addr, opt, &ep, err) || !dgram_listens(&ep, opt, addr, err))
		return false;
	return add_endpoint(ld, n, !strcmp(opt, "--listen"), label, &ep, err);
}

/* --fd N[,network=NAME]: a connected stream socket a parent handed over. */
static bool fd_arg(struct loader *ld, const char *arg, GError **err)
{
	g_autofree char *num = NULL;
	struct net_config *n = bound_network(ld, "--fd", arg, &num, err);
	guint64 fd;

	if (!n)
		return false;
	if (!g_ascii_string_to_unsigned(num, 10, 3, G_MAXINT, &fd, NULL) ||
	    fcntl((int)fd, F_GETFD) < 0) {
		vmnetd_set_error(err, "--fd %s: not an open descriptor (3 or more)", num);
		return false;
	}
	for (guint i = 0; i < n->fds->len; i++)
		if (g_array_index(n->fds, int, i) == (int)fd) {
			vmnetd_set_error(err, "--fd %s: given twice", num);
			return false;
		}
	g_array_append_vals(n->fds, &(int){ (int)fd }, 1);
	return true;
}

/* --netns TARGET[,network=NAME], shaped by --netns-type, --userns,
 * --ifname, --configure, --macaddress. */
static bool netns_arg(struct loader *ld, const struct config_args *a, const char *arg,
		      GError **err)
{
	struct netns_config nc = { .ifname = g_strdup(a->ifname ? a->ifname : "tap0"),
				   .configure = a->netns_configure,
				   .exit_with = a->netns_exit };
	struct net_config *n = bound_network(ld, "--netns", arg, &nc.target, err);

	if (n && a->netns_type && strcmp(a->netns_type, "pid") && strcmp(a->netns_type, "path"))
		vmnetd_set_error(err, "--netns-type %s: expected pid or path", a->netns_type);
	else if (n && strlen(nc.ifname) >= IFNAMSIZ)
		vmnetd_set_error(err, "--ifname %s: longer than %d bytes", nc.ifname, IFNAMSIZ - 1);
	else if (n && a->macaddress && !mac_parse(a->macaddress, nc.mac))
		vmnetd_set_error(err, "--macaddress %s: not a MAC address", a->macaddress);
	else if (n) {
		nc.is_path = a->netns_type && !strcmp(a->netns_type, "path");
		nc.userns = g_strdup(a->userns);
		nc.mac_given = a->macaddress != NULL;
		g_array_append_val(n->netns, nc);
		return true;
	}
	netns_config_clear(&nc);
	return false;
}

/* A network nobody attaches to otherwise listens on SOCKET_DIR/NAME.sock. */
static bool add_default_socket(struct loader *ld, struct net_config *n, const char *dir,
			       GError **err)
{
	g_autofree char *file = g_strdup_printf("%s.sock", n->name);
	g_autofree char *path = g_build_filename(dir, file, NULL);
	g_autofree char *addr = g_strdup_printf("unix:%s", path);
	g_autofree char *opt = g_strdup_printf("network %s default socket", n->name);
	g_autofree char *label = g_strdup_printf("%s %s", opt, addr);
	struct endpoint ep;

	if (!endpoint_parse(addr, opt, &ep, err) || !add_endpoint(ld, n, true, label, &ep, err))
		return false;
	n->default_socket = true;
	return true;
}

/* ---- Host-only keys ---- */

/* static=MAC=IP[=HOSTNAME]; where IP sits in the net is checked once net= is final. */
static bool key_static(struct hostonly_config *ho, const char *what, const char *key,
		       const char *val, GError **err)
{
	g_auto(GStrv) f = g_strsplit(val, "=", 3);
	struct dhcp_static_lease s = { 0 };

	if (g_strv_length(f) < 2) {
		vmnetd_set_error(err, "%s %s=%s: expected MAC=IP[=HOSTNAME]", what, key, val);
		return false;
	}
	if (!mac_parse(f[0], s.mac) || mac_is_group(s.mac) || mac_is_zero(s.mac)) {
		vmnetd_set_error(err, "%s %s=%s: '%s' is not a unicast MAC such as "
				 "52:54:00:12:34:56", what, key, val, f[0]);
		return false;
	}
	if (inet_pton(AF_INET, f[1], &s.ip) != 1) {
		vmnetd_set_error(err, "%s %s=%s: '%s' is not an IPv4 address", what, key, val,
				 f[1]);
		return false;
	}
	if (f[2] && !is_dns_label(f[2], strlen(f[2]))) {
		vmnetd_set_error(err, "%s %s=%s: '%s' is not a host name (letters, digits "
				 "and inner -, at most %d)", what, key, val, f[2], DNS_LABEL_MAX);
		return false;
	}
	s.hostname = g_strdup(f[2]);
	g_array_append_val(ho->statics, s);
	return true;
}

static bool key_lease_time(struct hostonly_config *ho, const char *what, const char *key,
			   const char *val, GError **err)
{
	guint64 v;

	if (!netopt_parse_uint(val, LEASE_TIME_MIN, LEASE_TIME_MAX, &v)) {
		vmnetd_set_error(err, "%s %s=%s: must be a number of seconds from %d to %d",
				 what, key, val, LEASE_TIME_MIN, LEASE_TIME_MAX);
		return false;
	}
	ho->lease_time_s = v;
	return true;
}

static bool key_ho_net(struct hostonly_config *ho, const char *what, const char *key,
		       const char *val, GError **err)
{
	(void)key;
	return netopt_parse_net(what, val, &ho->net, &ho->mask, err);
}

static bool key_ho_host(struct hostonly_config *ho, const char *what, const char *key,
			const char *val, GError **err)
{
	return netopt_parse_ip4(what, key, val, &ho->host, err) && (ho->host_given = true);
}

static bool key_dhcpstart(struct hostonly_config *ho, const char *what, const char *key,
			  const char *val, GError **err)
{
	return netopt_parse_ip4(what, key, val, &ho->pool_start, err) &&
	       (ho->pool_start_given = true);
}

static bool key_dhcpend(struct hostonly_config *ho, const char *what, const char *key,
			const char *val, GError **err)
{
	return netopt_parse_ip4(what, key, val, &ho->pool_end, err) &&
	       (ho->pool_end_given = true);
}

static bool key_domainname(struct hostonly_config *ho, const char *what, const char *key,
			   const char *val, GError **err)
{
	if (!is_dns_name(val)) {
		vmnetd_set_error(err, "%s %s=%s: not a DNS name such as vm.internal", what, key,
				 val);
		return false;
	}
	return netopt_set_string(what, key, val, &ho->domain, err);
}

static bool key_host_name(struct hostonly_config *ho, const char *what, const char *key,
			  const char *val, GError **err)
{
	if (!is_dns_label(val, strlen(val))) {
		vmnetd_set_error(err, "%s %s=%s: not a host name (letters, digits and inner -, "
				 "at most %d)", what, key, val, DNS_LABEL_MAX);
		return false;
	}
	return netopt_set_string(what, key, val, &ho->host_name, err);
}

static bool key_host_iface(struct hostonly_config *ho, const char *what, const char *key,
			   const char *val, GError **err)
{
	if (!is_iface_name(val)) {
		vmnetd_set_error(err, "%s %s=%s: an interface name is 1 to %d characters, "
				 "without / : or spaces", what, key, val, IFACE_NAME_MAX);
		return false;
	}
	return netopt_set_string(what, key, val, &ho->host_iface, err);
}

static bool key_router(struct hostonly_config *ho, const char *what, const char *key,
		       const char *val, GError **err)
{
	return netopt_parse_bool(what, key, val, &ho->router, err);
}

static bool key_ho_hostfwd(struct hostonly_config *ho, const char *what, const char *key,
			   const char *val, GError **err)
{
	struct hostfwd fwd;

	(void)key;
	if (!netopt_parse_hostfwd(what, val, &fwd, err))
		return false;
	g_array_append_val(ho->hostfwds, fwd);
	return true;
}

/* Accepted so one key file can say ipv6=off everywhere; there is no IPv6 to turn on. */
static bool key_ho_ipv6(struct hostonly_config *ho, const char *what, const char *key,
			const char *val, GError **err)
{
	bool on;

	(void)ho;
	if (!netopt_parse_bool(what, key, val, &on, err))
		return false;
	if (on) {
		vmnetd_set_error(err, "%s %s=%s: host-only networks are IPv4 only", what, key, val);
		return false;
	}
	return true;
}

typedef bool hostonly_key_fn(struct hostonly_config *ho, const char *what, const char *key,
			     const char *val, GError **err);

static const struct {
	const char *name;
	hostonly_key_fn *parse;
} hostonly_keys[] = {
	{ "net", key_ho_net },
	{ "host", key_ho_host },
	{ "dhcpstart", key_dhcpstart },
	{ "dhcpend", key_dhcpend },
	{ "lease-time", key_lease_time },
	{ "static", key_static },
	{ "domainname", key_domainname },
	{ "host-name", key_host_name },
	{ "host-iface", key_host_iface },
	{ "router", key_router },
	{ "hostfwd", key_ho_hostfwd },
	{ "ipv6", key_ho_ipv6 },
};

static hostonly_key_fn *find_hostonly_key(const char *key)
{
	for (size_t i = 0; i < G_N_ELEMENTS(hostonly_keys); i++)
		if (!strcmp(hostonly_keys[i].name, key))
			return hostonly_keys[i].parse;
	return NULL;
}

/* ---- Keys of every network ---- */

static bool key_port_macs(struct net_config *n, const char *what, const char *key,
			  const char *val, GError **err)
{
	guint64 v;

	if (!netopt_parse_uint(val, 1, PORT_MACS_MAX, &v)) {
		vmnetd_set_error(err, "%s %s=%s: must be a number from 1 to %d", what, key, val,
				 PORT_MACS_MAX);
		return false;
	}
	n->port_macs = v;
	return true;
}

static bool key_max_ports(struct net_config *n, const char *what, const char *key,
			  const char *val, GError **err)
{
	guint64 v;

	if (!netopt_parse_uint(val, 1, NET_FDB_BUDGET, &v)) {
		vmnetd_set_error(err, "%s %s=%s: must be a number from 1 to %d", what, key, val,
				 NET_FDB_BUDGET);
		return false;
	}
	n->max_ports = v;
	return true;
}

static bool key_dhcp(struct net_config *n, const char *what, const char *key, const char *val,
		     GError **err)
{
	if (strcmp(val, "libslirp") && strcmp(val, "vmnetd")) {
		vmnetd_set_error(err, "%s %s=%s: expected libslirp or vmnetd", what, key, val);
		return false;
	}
	n->dhcp_vmnetd = !strcmp(val, "vmnetd");
	return true;
}

/* The key of one mode only; NETOPT_KEY_UNKNOWN when that mode has no such key. */
/* tap=, bridge=, macvtap=, bridge-acl= of a bridged network. */
static enum netopt_key bridged_key(struct bridged_config *br, const char *what, const char *key,
				   const char *val, GError **err)
{
	char **field = !strcmp(key, "tap") ? &br->tap : !strcmp(key, "bridge") ? &br->bridge :
		       !strcmp(key, "macvtap") ? &br->macvtap :
		       !strcmp(key, "bridge-acl") ? &br->acl : NULL;

	if (!field)
		return NETOPT_KEY_UNKNOWN;
	if (strcmp(key, "bridge-acl") && !is_iface_name(val)) {
		vmnetd_set_error(err, "%s %s=%s: not an interface name", what, key, val);
		return NETOPT_KEY_BAD;
	}
	return netopt_set_string(what, key, val, field, err) ? NETOPT_KEY_OK : NETOPT_KEY_BAD;
}

static enum netopt_key mode_key(struct net_config *n, const char *what, const char *key,
				const char *val, GError **err)
{
	hostonly_key_fn *parse;

	if (n->mode == NET_MODE_BRIDGED)
		return bridged_key(&n->br, what, key, val, err);
	if (n->mode == NET_MODE_NAT) {
		if (!strcmp(key, "dhcp"))
			return key_dhcp(n, what, key, val, err) ? NETOPT_KEY_OK : NETOPT_KEY_BAD;
		return nat_config_parse_key(&n->nat, what, key, val, err);
	}
	parse = find_hostonly_key(key);
	if (!parse)
		return NETOPT_KEY_UNKNOWN;
	return parse(&n->ho, what, key, val, err) ? NETOPT_KEY_OK : NETOPT_KEY_BAD;
}

static bool bridged_has(const char *key)
{
	static const char *const keys[] = { "tap", "bridge", "macvtap", "bridge-acl", NULL };

	return g_strv_contains(keys, key);
}

static bool other_mode_has(enum net_mode mode, const char *key)
{
	bool nat = nat_config_has_key(key) || !strcmp(key, "dhcp");
	bool ho = find_hostonly_key(key) != NULL;

	return (mode != NET_MODE_NAT && nat) || (mode != NET_MODE_HOSTONLY && ho) ||
	       (mode != NET_MODE_BRIDGED && bridged_has(key));
}

static bool apply_key(struct loader *ld, struct net_config *n, const char *what,
		      const char *key, const char *val, GError **err)
{
	/* Forwards change on a running network: the rest rebuilds it. */
	if (strcmp(key, "hostfwd"))
		g_string_append_printf(n->fingerprint, "\n%s=%s", key, val);
	if (!strcmp(key, "mode"))	/* read first: it decides what the rest mean */
		return true;
	if (!strcmp(key, "mtu"))
		return netopt_parse_mtu(what, val, &n->mtu, err);
	if (!strcmp(key, "port-macs"))
		return key_port_macs(n, what, key, val, err);
	if (!strcmp(key, "max-ports"))
		return key_max_ports(n, what, key, val, err);
	if (!strcmp(key, "port-security"))
		return netopt_parse_bool(what, key, val, &n->port_security, err);
	if (!strcmp(key, "listen") || !strcmp(key, "connect"))
		return key_endpoint(ld, n, what, key, val, err);
	if (!strcmp(key, "lease-file"))
		return netopt_set_string(what, key, val, &n->lease_file, err);
	switch (mode_key(n, what, key, val, err)) {
	case NETOPT_KEY_OK:
		return true;
	case NETOPT_KEY_BAD:
		return false;
	case NETOPT_KEY_UNKNOWN:
		break;
	}
	if (other_mode_has(n->mode, key))
		vmnetd_set_error(err, "%s: key '%s' is not for mode %s", what, key,
				 net_mode_name(n->mode));
	else
		vmnetd_set_error(err, "%s: unknown key '%s'", what, key);
	return false;
}

/* ---- Declaring networks ---- */

static struct net_config *add_network(struct loader *ld, const char *what, const char *name,
				      enum net_mode mode, GError **err)
{
	struct net_config *n;

	if (vmnetd_config_find(ld->c, name)) {
		vmnetd_set_error(err, "%s: declared twice", what);
		return NULL;
	}
	n = net_config_new(name, mode);
	g_ptr_array_add(ld->c->networks, n);
	g_ptr_array_add(ld->whats, g_strdup(what));
	return n;
}

/* The items after NAME; the last mode= wins, as any repeated single key. */
static bool find_mode(const char *what, const char *arg, GPtrArray *items, enum net_mode *mode,
		      GError **err)
{
	for (guint i = 1; i < items->len; i++) {
		const char *item = g_ptr_array_index(items, i);
		g_autofree char *key = NULL;
		const char *val;

		if (!item[0]) {
			vmnetd_set_error(err, "--network %s: empty option", arg);
			return false;
		}
		if (!netopt_split_item(what, arg, item, &key, &val, err))
			return false;
		if (!strcmp(key, "mode") && !parse_mode(what, val, mode, err))
			return false;
	}
	return true;
}

/* --network NAME,mode=nat|hostonly,KEY=VALUE,... */
static bool parse_network_arg(struct loader *ld, const char *arg, GError **err)
{
	g_autoptr(GPtrArray) items = netopt_split(arg);
	const char *name = g_ptr_array_index(items, 0);
	g_autofree char *opt = g_strdup_printf("--network %s", name);
	g_autofree char *what = g_strdup_printf("network %s", name);
	enum net_mode mode = NET_MODE_NAT;
	struct net_config *n;

	if (strchr(name, '=')) {
		vmnetd_set_error(err, "--network %s: the name comes first: --network NAME,mode=...",
				 arg);
		return false;
	}
	if (!check_name(opt, name, err) || !find_mode(what, arg, items, &mode, err) ||
	    !(n = add_network(ld, what, name, mode, err)))
		return false;
	for (guint i = 1; i < items->len; i++) {
		g_autofree char *key = NULL;
		const char *val;

		netopt_split_item(what, arg, g_ptr_array_index(items, i), &key, &val, NULL);
		if (!apply_key(ld, n, what, key, val, err))
			return false;
	}
	return true;
}

/* The default network from --nat strings, worded as before networks had names. */
static bool add_nat_default(struct loader *ld, char **nat, GError **err)
{
	struct net_config *n = add_network(ld, "--nat", NET_DEFAULT_NAME, NET_MODE_NAT, err);

	for (char **s = nat; s && *s; s++) {
		g_string_append_printf(n->fingerprint, "\n--nat %s", *s);
		if (!nat_config_parse(&n->nat, "--nat", *s, err))
			return false;
	}
	n->mtu = n->nat.mtu;
	return true;
}

/* ---- The key file ---- */

/* Keys that may repeat; in a key file they are lists separated by ';'. */
static bool is_list_key(const char *key)
{
	static const char *const lists[] = { "listen", "connect", "hostfwd", "guestfwd",
					     "static", "dnssearch", NULL };

	return g_strv_contains(lists, key);
}

/* One key's values: a list key gives each element; an empty list still gives
 * one empty value, so it is refused as on the command line. */
static char **file_values(GKeyFile *kf, const char *group, const char *key, const char *what,
			  GError **err)
{
	g_autoptr(GError) e = NULL;
	char **vals;

	if (is_list_key(key)) {
		vals = g_key_file_get_string_list(kf, group, key, NULL, &e);
		if (vals && !vals[0]) {
			g_strfreev(vals);
			vals = g_new0(char *, 2);
			vals[0] = g_strdup("");
		}
	} else {
		char *v = g_key_file_get_string(kf, group, key, &e);

		vals = v ? g_new0(char *, 2) : NULL;
		if (vals)
			vals[0] = v;
	}
	if (!vals)
		vmnetd_set_error(err, "%s: key '%s': %s", what, key, e->message);
	return vals;
}

static bool file_mode(GKeyFile *kf, const char *group, const char *what, enum net_mode *mode,
		      GError **err)
{
	g_auto(GStrv) vals = NULL;

	if (!g_key_file_has_key(kf, group, "mode", NULL))
		return true;
	vals = file_values(kf, group, "mode", what, err);
	return vals && parse_mode(what, vals[0], mode, err);
}

/* One [NAME] group: one network. */
static bool load_group(struct loader *ld, GKeyFile *kf, const char *file, const char *group,
		       GError **err)
{
	g_autofree char *what = g_strdup_printf("%s: network %s", file, group);
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
	enum net_mode mode = NET_MODE_NAT;
	struct net_config *n;

	if (!check_name(what, group, err) || !file_mode(kf, group, what, &mode, err) ||
	    !(n = add_network(ld, what, group, mode, err)))
		return false;
	for (char **k = keys; k && *k; k++) {
		g_auto(GStrv) vals = file_values(kf, group, *k, what, err);

		if (!vals)
			return false;
		for (char **v = vals; *v; v++)
			if (!apply_key(ld, n, what, *k, *v, err))
				return false;
	}
	return true;
}

static bool load_file(struct loader *ld, const char *file, GError **err)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) e = NULL;
	g_auto(GStrv) groups = NULL;

	if (!g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, &e)) {
		vmnetd_set_error(err, "--config %s: %s", file, e->message);
		return false;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++)
		if (!load_group(ld, kf, file, *g, err))
			return false;
	return true;
}

/* ---- Finishing and checking one network ---- */

static struct in_addr ho_plus(const struct hostonly_config *ho, uint32_t host_part)
{
	struct in_addr a = { ho->net.s_addr | (htonl(host_part) & ~ho->mask.s_addr) };

	return a;
}

/* .101-.254 as VirtualBox; a net too small for that gets its upper half,
 * which the host's .1 never reaches. */
static void hostonly_defaults(struct hostonly_config *ho)
{
	uint32_t last = ntohl(~ho->mask.s_addr) - 1;	/* the last host address */
	uint32_t end = MIN(last, HOSTONLY_POOL_END);

	if (!ho->host_given)
		ho->host = ho_plus(ho, HOSTONLY_HOST_PART);
	if (!ho->pool_end_given)
		ho->pool_end = ho_plus(ho, end);
	if (!ho->pool_start_given)
		ho->pool_start = ho_plus(ho, HOSTONLY_POOL_START <= end ? HOSTONLY_POOL_START
								: (last + 2) / 2);
}

static char *ip4_str(struct in_addr a)
{
	char buf[INET_ADDRSTRLEN];

	return g_strdup(inet_ntop(AF_INET, &a, buf, sizeof(buf)));
}

static bool check_pool(const struct hostonly_config *ho, const char *what, GError **err)
{
	g_autofree char *host = ip4_str(ho->host);
	g_autofree char *start = ip4_str(ho->pool_start);
	g_autofree char *end = ip4_str(ho->pool_end);
	uint32_t h = ntohl(ho->host.s_addr);

	if (ntohl(ho->pool_start.s_addr) > ntohl(ho->pool_end.s_addr)) {
		vmnetd_set_error(err, "%s: dhcpstart=%s is after dhcpend=%s", what, start, end);
		return false;
	}
	if (h >= ntohl(ho->pool_start.s_addr) && h <= ntohl(ho->pool_end.s_addr)) {
		vmnetd_set_error(err, "%s host=%s: inside the DHCP pool %s-%s", what, host, start,
				 end);
		return false;
	}
	return true;
}

static char *static_str(const struct dhcp_static_lease *s)
{
	g_autofree char *ip = ip4_str(s->ip);

	return g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x=%s%s%s", s->mac[0], s->mac[1],
			       s->mac[2], s->mac[3], s->mac[4], s->mac[5], ip,
			       s->hostname ? "=" : "", s->hostname ? s->hostname : "");
}

/* Does static lease @s clash with one before it? Returns what they share, or NULL. */
static const char *static_clash(GArray *statics, guint i)
{
	const struct dhcp_static_lease *s = &g_array_index(statics, struct dhcp_static_lease, i);

	for (guint j = 0; j < i; j++) {
		const struct dhcp_static_lease *o =
			&g_array_index(statics, struct dhcp_static_lease, j);

		if (!memcmp(s->mac, o->mac, 6))
			return "MAC";
		if (s->ip.s_addr == o->ip.s_addr)
			return "address";
		if (s->hostname && o->hostname && !g_ascii_strcasecmp(s->hostname, o->hostname))
			return "host name";
	}
	return NULL;
}

/* Inside the net, not its network or broadcast address, not the host's. */
static const char *static_misplaced(const struct hostonly_config *ho, struct in_addr ip)
{
	uint32_t host_part = ntohl(ip.s_addr & ~ho->mask.s_addr);

	if ((ip.s_addr & ho->mask.s_addr) != ho->net.s_addr)
		return "address not inside net=";
	if (host_part == 0 || host_part == ntohl(~ho->mask.s_addr))
		return "the network or broadcast address";
	if (ip.s_addr == ho->host.s_addr)
		return "the host's address";
	return NULL;
}

static bool check_statics(const struct hostonly_config *ho, const char *what, GError **err)
{
	for (guint i = 0; i < ho->statics->len; i++) {
		const struct dhcp_static_lease *s =
			&g_array_index(ho->statics, struct dhcp_static_lease, i);
		g_autofree char *spec = static_str(s);
		g_autofree char *net = netopt_net_to_string(ho->net, ho->mask);
		const char *why = static_misplaced(ho, s->ip);
		const char *clash = static_clash(ho->statics, i);

		if (why) {
			vmnetd_set_error(err, "%s static=%s: %s%s", what, spec, why,
					 g_str_has_suffix(why, "=") ? net : "");
			return false;
		}
		if (clash) {
			vmnetd_set_error(err, "%s static=%s: another static lease has that %s",
					 what, spec, clash);
			return false;
		}
	}
	return true;
}

static bool finish_hostonly(struct hostonly_config *ho, const char *what, GError **err)
{
	hostonly_defaults(ho);
	if (ho->host_iface && ho->hostfwds && ho->hostfwds->len) {
		vmnetd_set_error(err, "%s: hostfwd= and host-iface= do not mix: the host reaches "
				 "the VMs directly through %s", what, ho->host_iface);
		return false;
	}
	return netopt_check_addr(what, "host", ho->net, ho->mask, ho->host, err) &&
	       netopt_check_addr(what, "dhcpstart", ho->net, ho->mask, ho->pool_start, err) &&
	       netopt_check_addr(what, "dhcpend", ho->net, ho->mask, ho->pool_end, err) &&
	       check_pool(ho, what, err) && check_statics(ho, what, err) &&
	       netopt_finish_hostfwds(what, ho->hostfwds, ho->net, ho->mask, ho->pool_start, err);
}

/* A dgram:udp peer's frames are datagrams of at most 65507 bytes (UDP
 * over IPv4): the network's MTU must fit, less the Ethernet header. The
 * default MTU (65520) is lowered to fit; another one that does not is an
 * error. */
static bool fit_dgram_udp(struct net_config *n, GError **err)
{
	bool udp = false;

	for (guint i = 0; i < n->listen->len; i++) {
		const struct endpoint *ep = &g_array_index(n->listen, struct endpoint, i);

		udp |= ep->dgram && ep->type == ENDPOINT_TCP;
	}
	if (!udp || n->mtu <= NET_DGRAM_UDP_MTU_MAX)
		return true;
	if (n->mtu != NAT_MTU_DEFAULT) {
		vmnetd_set_error(err, "network %s mtu=%u: a dgram:udp peer's frames are UDP "
				 "datagrams of at most 65507 bytes: mtu= may be %d at most", n->name,
				 n->mtu, NET_DGRAM_UDP_MTU_MAX);
		return false;
	}
	n->mtu = n->nat.mtu = NET_DGRAM_UDP_MTU_MAX;
	return true;
}

/* Exactly one device; the rest is found on the host at start. */
static bool finish_bridged(struct net_config *n, const char *what, GError **err)
{
	struct bridged_config *br = &n->br;
	int given = !!br->tap + !!br->bridge + !!br->macvtap;

	if (given != 1) {
		vmnetd_set_error(err, "%s: mode=bridged needs one of tap=, bridge= or macvtap=%s",
				 what, given ? " (only one)" : "");
		return false;
	}
	if (n->mtu != NAT_MTU_DEFAULT || n->lease_file) {
		vmnetd_set_error(err, "%s: %s is not for mode=bridged (the MTU is the device's; "
				 "leases are the LAN's)", what, n->lease_file ? "lease-file=" : "mtu=");
		return false;
	}
	if (!br->acl)
		br->acl = g_strdup(BRIDGE_ACL_DEFAULT);
	return true;
}

static bool finish_network(struct net_config *n, const char *what, GError **err)
{
	if ((guint64)n->port_macs * n->max_ports > NET_FDB_BUDGET) {
		vmnetd_set_error(err, "%s: port-macs=%u x max-ports=%u is more than the MAC table "
				 "holds for VMs (%d)", what, n->port_macs, n->max_ports,
				 NET_FDB_BUDGET);
		return false;
	}
	if (n->mode == NET_MODE_HOSTONLY)
		return finish_hostonly(&n->ho, what, err);
	if (n->mode == NET_MODE_BRIDGED)
		return finish_bridged(n, what, err);
	if (n->lease_file && !n->dhcp_vmnetd) {
		vmnetd_set_error(err, "%s lease-file=%s: needs dhcp=vmnetd (libslirp's DHCP "
				 "server keeps no state)", what, n->lease_file);
		return false;
	}
	n->nat.mtu = n->mtu;
	return nat_config_finish(&n->nat, what, err);
}

/* ---- Checks across networks ---- */

/* The IPv4 subnet a network's VMs live in; false when it has none (NAT ipv4=off). */
static bool subnet_of(const struct net_config *n, struct in_addr *net, struct in_addr *mask)
{
	/* A bridged network's addresses are the LAN's, not ours to check. */
	if ((n->mode == NET_MODE_NAT && !n->nat.ipv4) || n->mode == NET_MODE_BRIDGED)
		return false;
	*net = n->mode == NET_MODE_NAT ? n->nat.net : n->ho.net;
	*mask = n->mode == NET_MODE_NAT ? n->nat.mask : n->ho.mask;
	return true;
}

/* A VM on both would not know which way an address lies. */
static bool check_overlap(const struct net_config *a, const struct net_config *b,
			  const char *b_what, GError **err)
{
	struct in_addr an, am, bn, bm;
	g_autofree char *as = NULL, *bs = NULL;

	if (!subnet_of(a, &an, &am) || !subnet_of(b, &bn, &bm))
		return true;
	if ((an.s_addr & am.s_addr & bm.s_addr) != (bn.s_addr & am.s_addr & bm.s_addr))
		return true;
	as = netopt_net_to_string(an, am);
	bs = netopt_net_to_string(bn, bm);
	vmnetd_set_error(err, "%s: net=%s overlaps network %s (%s)", b_what, bs, a->name, as);
	return false;
}

static bool check_iface(const struct net_config *a, const struct net_config *b,
			const char *b_what, GError **err)
{
	if (a->mode != NET_MODE_HOSTONLY || b->mode != NET_MODE_HOSTONLY || !a->ho.host_iface ||
	    !b->ho.host_iface || strcmp(a->ho.host_iface, b->ho.host_iface))
		return true;
	vmnetd_set_error(err, "%s host-iface=%s: also used by network %s", b_what,
			 b->ho.host_iface, a->name);
	return false;
}

/* Two DHCP servers writing one state file would undo each other's leases. */
static bool check_lease_file(const struct net_config *a, const struct net_config *b,
			     const char *b_what, GError **err)
{
	if (!a->lease_file || !b->lease_file || strcmp(a->lease_file, b->lease_file))
		return true;
	vmnetd_set_error(err, "%s lease-file=%s: also used by network %s", b_what, b->lease_file,
			 a->name);
	return false;
}

static bool check_pairs(struct loader *ld, GError **err)
{
	GPtrArray *nets = ld->c->networks;

	for (guint j = 1; j < nets->len; j++)
		for (guint i = 0; i < j; i++) {
			const struct net_config *a = g_ptr_array_index(nets, i);
			const struct net_config *b = g_ptr_array_index(nets, j);
			const char *what = g_ptr_array_index(ld->whats, j);

			if (!check_overlap(a, b, what, err) || !check_iface(a, b, what, err) ||
			    !check_lease_file(a, b, what, err))
				return false;
		}
	return true;
}

/* ---- Everything ---- */

static bool declare(struct loader *ld, const struct config_args *a, GError **err)
{
	if (a->config_file && !load_file(ld, a->config_file, err))
		return false;
	for (char **s = a->networks; s && *s; s++)
		if (!parse_network_arg(ld, *s, err))
			return false;
	if (a->nat && a->nat[0] && ld->c->networks->len) {
		vmnetd_set_error(err, "--nat: networks are declared; give NAT options in "
				 "--network NAME,mode=nat,...");
		return false;
	}
	return ld->c->networks->len || add_nat_default(ld, a->nat, err);
}

static bool load(struct loader *ld, const struct config_args *a, GError **err)
{
	GPtrArray *nets = ld->c->networks;

	if (!declare(ld, a, err))
		return false;
	for (guint i = 0; i < nets->len; i++)
		if (!finish_network(g_ptr_array_index(nets, i), g_ptr_array_index(ld->whats, i),
				    err))
			return false;
	for (char **s = a->listen; s && *s; s++)
		if (!bind_arg(ld, "--listen", *s, err))
			return false;
	for (char **s = a->connect; s && *s; s++)
		if (!bind_arg(ld, "--connect", *s, err))
			return false;
	for (char **s = a->fds; s && *s; s++)
		if (!fd_arg(ld, *s, err))
			return false;
	for (guint i = 0; i < nets->len; i++)
		if (!fit_dgram_udp(g_ptr_array_index(nets, i), err))
			return false;
	for (char **s = a->netns; s && *s; s++)
		if (!netns_arg(ld, a, *s, err))
			return false;
	for (guint i = 0; i < nets->len; i++) {
		struct net_config *n = g_ptr_array_index(nets, i);

		if (!n->listen->len && !n->connect->len && !n->fds->len && !n->netns->len &&
		    !(a->passed && g_strv_contains((const char *const *)a->passed, n->name)) &&
		    !add_default_socket(ld, n, a->socket_dir, err))
			return false;
	}
	return check_pairs(ld, err);
}

bool vmnetd_config_load(struct vmnetd_config *c, const struct config_args *a, GError **err)
{
	struct loader ld = { .c = c };
	bool ok;

	g_return_val_if_fail(a->socket_dir, false);
	ld.whats = g_ptr_array_new_with_free_func(g_free);
	ld.bound = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	ok = load(&ld, a, err);
	if (!ok)
		g_ptr_array_set_size(c->networks, 0);
	g_ptr_array_free(ld.whats, TRUE);
	g_hash_table_destroy(ld.bound);
	return ok;
}
