/* netopts.c - parse NAT option strings in QEMU's -netdev user syntax.
 *
 * "key=value,key=value", with ",," standing for a literal comma as in QEMU.
 * Defaults and derivations follow QEMU: net 10.0.2.0/24, and host, DNS and
 * the first DHCP address placed at .2, .3 and .15 of whatever net= says.
 * Every message starts with @what, the place the value came from ("--nat",
 * "network lab"), so one parser serves the command line and the key file;
 * the value parsers are shared with host-only networks (netconf.c).
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <string.h>

#include "vmnetd/error.h"
#include "vmnetd/netopts.h"

#define OPT_ERR(err, what, key, val, fmt, ...) \
	vmnetd_set_error(err, "%s %s=%s: " fmt, what, key, val, ##__VA_ARGS__)

void netopt_hostfwd_clear(void *p)
{
	g_free(((struct hostfwd *)p)->spec);
}

static void guestfwd_clear(void *p)
{
	struct guestfwd *g = p;

	endpoint_clear(&g->target);
	g_free(g->spec);
}

void nat_config_init(struct nat_config *c)
{
	*c = (struct nat_config){ .ipv4 = true, .ipv6 = true, .mtu = NAT_MTU_DEFAULT,
				  .host_loopback = true, .dns_forward = true };
	inet_pton(AF_INET, "10.0.2.0", &c->net);
	inet_pton(AF_INET, "255.255.255.0", &c->mask);
	inet_pton(AF_INET6, "fec0::", &c->ip6_prefix);
	c->ip6_prefix_len = 64;
	c->dnssearch = g_ptr_array_new_with_free_func(g_free);
	c->hostfwds = g_array_new(FALSE, TRUE, sizeof(struct hostfwd));
	g_array_set_clear_func(c->hostfwds, netopt_hostfwd_clear);
	c->guestfwds = g_array_new(FALSE, TRUE, sizeof(struct guestfwd));
	g_array_set_clear_func(c->guestfwds, guestfwd_clear);
}

void nat_config_clear(struct nat_config *c)
{
	g_free(c->hostname);
	g_free(c->domainname);
	g_free(c->tftp);
	g_free(c->bootfile);
	if (c->dnssearch)
		g_ptr_array_free(c->dnssearch, TRUE);
	if (c->hostfwds)
		g_array_free(c->hostfwds, TRUE);
	if (c->guestfwds)
		g_array_free(c->guestfwds, TRUE);
	*c = (struct nat_config){ 0 };
}

bool netopt_parse_bool(const char *what, const char *key, const char *val, bool *out,
		       GError **err)
{
	static const char *const yes[] = { "on", "yes", "true", "y", NULL };
	static const char *const no[] = { "off", "no", "false", "n", NULL };

	if (g_strv_contains(yes, val)) {
		*out = true;
		return true;
	}
	if (g_strv_contains(no, val)) {
		*out = false;
		return true;
	}
	OPT_ERR(err, what, key, val, "expected on or off");
	return false;
}

bool netopt_parse_ip4(const char *what, const char *key, const char *val, struct in_addr *out,
		      GError **err)
{
	if (inet_pton(AF_INET, val, out) == 1)
		return true;
	OPT_ERR(err, what, key, val, "not an IPv4 address");
	return false;
}

static bool parse_ip6(const char *what, const char *key, const char *val, struct in6_addr *out,
		      GError **err)
{
	if (inet_pton(AF_INET6, val, out) == 1)
		return true;
	OPT_ERR(err, what, key, val, "not an IPv6 address");
	return false;
}

bool netopt_parse_uint(const char *s, guint64 min, guint64 max, guint64 *out)
{
	return g_ascii_string_to_unsigned(s, 10, min, max, out, NULL);
}

/* The classful mask QEMU picks when net= has no /mask. */
static uint32_t classful_mask(uint32_t addr)
{
	if (!(addr & 0x80000000))
		return 0xff000000;
	if ((addr & 0xfff00000) == 0xac100000)
		return 0xfff00000;
	if ((addr & 0xc0000000) == 0x80000000)
		return 0xffff0000;
	if ((addr & 0xffff0000) == 0xc0a80000)
		return 0xffff0000;
	return 0xffffff00;
}

/* The mask after the '/' of net=, as a prefix length or a dotted mask. */
static bool parse_mask(const char *what, const char *val, const char *s, uint32_t *mask,
		       GError **err)
{
	guint64 len;

	if (strchr(s, '.')) {
		struct in_addr m;
		uint32_t h;

		if (inet_pton(AF_INET, s, &m) != 1) {
			OPT_ERR(err, what, "net", val, "bad netmask");
			return false;
		}
		h = ntohl(m.s_addr);
		if (h == 0 || (~h & (~h + 1)) != 0) {	/* ones, then only zeros */
			OPT_ERR(err, what, "net", val, "netmask is not contiguous");
			return false;
		}
		*mask = h;
		return true;
	}
	/* /31 and /32 leave no room for a host and a guest. */
	if (!netopt_parse_uint(s, 1, 30, &len)) {
		OPT_ERR(err, what, "net", val, "prefix length must be 1 to 30");
		return false;
	}
	*mask = 0xffffffffu << (32 - len);
	return true;
}

bool netopt_parse_net(const char *what, const char *val, struct in_addr *net,
		      struct in_addr *mask, GError **err)
{
	g_auto(GStrv) parts = g_strsplit(val, "/", 2);
	struct in_addr addr;
	uint32_t m;

	/* An empty value splits into no parts at all. */
	if (!parts[0] || inet_pton(AF_INET, parts[0], &addr) != 1) {
		OPT_ERR(err, what, "net", val, "not an IPv4 address");
		return false;
	}
	if (!parts[1])
		m = classful_mask(ntohl(addr.s_addr));
	else if (!parse_mask(what, val, parts[1], &m, err))
		return false;
	mask->s_addr = htonl(m);
	net->s_addr = addr.s_addr & mask->s_addr;
	return true;
}

char *netopt_net_to_string(struct in_addr net, struct in_addr mask)
{
	char buf[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &net, buf, sizeof(buf));
	return g_strdup_printf("%s/%d", buf, 32 - __builtin_ctz(ntohl(mask.s_addr)));
}

static bool parse_ip6_net(struct nat_config *c, const char *what, const char *val, GError **err)
{
	g_auto(GStrv) parts = g_strsplit(val, "/", 2);
	guint64 len = 64;

	/* An empty value splits into no parts at all. */
	if (!parse_ip6(what, "ipv6-net", parts[0] ? parts[0] : "", &c->ip6_prefix, err))
		return false;
	if (parts[1] && !netopt_parse_uint(parts[1], 1, 126, &len)) {
		OPT_ERR(err, what, "ipv6-net", val, "prefix length must be 1 to 126");
		return false;
	}
	c->ip6_prefix_len = len;
	return true;
}

/* The guest side of a hostfwd: "[guestaddr]:guestport". */
static bool parse_hostfwd_guest(const char *what, const char *val, char **g,
				struct hostfwd *fwd, GError **err)
{
	guint64 port;

	if (g[0][0]) {
		if (inet_pton(AF_INET, g[0], &fwd->guest_addr) != 1) {
			OPT_ERR(err, what, "hostfwd", val,
				"guest address '%s' is not an IPv4 address", g[0]);
			return false;
		}
		fwd->guest_addr_given = true;
	}
	if (!netopt_parse_uint(g[1], 1, 65535, &port)) {
		OPT_ERR(err, what, "hostfwd", val, "guest port must be 1 to 65535");
		return false;
	}
	fwd->guest_port = port;
	return true;
}

/* "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport" */
bool netopt_parse_hostfwd(const char *what, const char *val, struct hostfwd *out,
			  GError **err)
{
	g_auto(GStrv) sides = g_strsplit(val, "-", 2);
	g_auto(GStrv) h = NULL, g = NULL;
	struct hostfwd fwd = { 0 };
	guint64 port;

	if (!sides[0] || !sides[1])	/* an empty value splits into no parts at all */
		goto syntax;
	h = g_strsplit(sides[0], ":", 0);
	g = g_strsplit(sides[1], ":", 0);
	if (g_strv_length(h) != 3 || g_strv_length(g) != 2)
		goto syntax;
	if (!strcmp(h[0], "udp")) {
		fwd.udp = true;
	} else if (h[0][0] && strcmp(h[0], "tcp")) {
		OPT_ERR(err, what, "hostfwd", val, "protocol must be tcp or udp");
		return false;
	}
	if (h[1][0] && inet_pton(AF_INET, h[1], &fwd.host_addr) != 1) {
		OPT_ERR(err, what, "hostfwd", val, "host address '%s' is not an IPv4 address",
			h[1]);
		return false;
	}
	if (!netopt_parse_uint(h[2], 1, 65535, &port)) {
		OPT_ERR(err, what, "hostfwd", val, "host port must be 1 to 65535");
		return false;
	}
	fwd.host_port = port;
	if (!parse_hostfwd_guest(what, val, g, &fwd, err))
		return false;
	fwd.spec = g_strdup(val);
	*out = fwd;
	return true;
syntax:
	OPT_ERR(err, what, "hostfwd", val,
		"expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport");
	return false;
}

/* "[tcp]:IP:PORT-tcp:HOST:PORT" or "[tcp]:IP:PORT-unix:PATH" */
static bool parse_guestfwd(struct nat_config *c, const char *what, const char *val,
			   GError **err)
{
	const char *dash = strchr(val, '-');
	g_autofree char *left = dash ? g_strndup(val, dash - val) : NULL;
	g_auto(GStrv) l = NULL;
	struct guestfwd fwd = { 0 };
	g_autofree char *target = g_strdup_printf("%s guestfwd=%s: target", what, val);
	guint64 port;

	if (!dash)
		goto syntax;
	l = g_strsplit(left, ":", 0);
	if (g_strv_length(l) != 3 || (l[0][0] && strcmp(l[0], "tcp")))
		goto syntax;
	if (inet_pton(AF_INET, l[1], &fwd.addr) != 1) {
		OPT_ERR(err, what, "guestfwd", val, "'%s' is not an IPv4 address", l[1]);
		return false;
	}
	if (!netopt_parse_uint(l[2], 1, 65535, &port)) {
		OPT_ERR(err, what, "guestfwd", val, "port must be 1 to 65535");
		return false;
	}
	fwd.port = port;
	if (!endpoint_parse(dash + 1, target, &fwd.target, err))
		return false;
	if (fwd.target.dgram || fwd.target.vhost) {
		endpoint_clear(&fwd.target);
		goto syntax;
	}
	fwd.spec = g_strdup(val);
	g_array_append_val(c->guestfwds, fwd);
	return true;
syntax:
	OPT_ERR(err, what, "guestfwd", val,
		"expected tcp:IP:PORT-tcp:HOST:PORT or tcp:IP:PORT-unix:PATH");
	return false;
}

bool netopt_set_string(const char *what, const char *key, const char *val, char **field,
		       GError **err)
{
	if (!val[0]) {
		OPT_ERR(err, what, key, val, "must not be empty");
		return false;
	}
	g_free(*field);
	*field = g_strdup(val);
	return true;
}

bool netopt_parse_mtu(const char *what, const char *val, unsigned *mtu, GError **err)
{
	guint64 v;

	if (!netopt_parse_uint(val, NAT_MTU_MIN, NAT_MTU_MAX, &v)) {
		OPT_ERR(err, what, "mtu", val, "must be a number from %d to %d",
			NAT_MTU_MIN, NAT_MTU_MAX);
		return false;
	}
	*mtu = v;
	return true;
}

/* One parser per key, all of one shape, so the key table below is the
 * single list of what --nat accepts. */
typedef bool nat_key_fn(struct nat_config *c, const char *what, const char *key,
			const char *val, GError **err);

static bool key_net(struct nat_config *c, const char *what, const char *key, const char *val,
		    GError **err)
{
	(void)key;
	return netopt_parse_net(what, val, &c->net, &c->mask, err);
}

static bool key_host(struct nat_config *c, const char *what, const char *key, const char *val,
		     GError **err)
{
	return netopt_parse_ip4(what, key, val, &c->host, err) && (c->host_given = true);
}

static bool key_dhcpstart(struct nat_config *c, const char *what, const char *key,
			  const char *val, GError **err)
{
	return netopt_parse_ip4(what, key, val, &c->dhcp_start, err) && (c->dhcp_given = true);
}

static bool key_dns(struct nat_config *c, const char *what, const char *key, const char *val,
		    GError **err)
{
	return netopt_parse_ip4(what, key, val, &c->dns, err) && (c->dns_given = true);
}

static bool key_dnssearch(struct nat_config *c, const char *what, const char *key,
			  const char *val, GError **err)
{
	if (!val[0]) {
		OPT_ERR(err, what, key, val, "must not be empty");
		return false;
	}
	g_ptr_array_add(c->dnssearch, g_strdup(val));
	return true;
}

static bool key_domainname(struct nat_config *c, const char *what, const char *key,
			   const char *val, GError **err)
{
	return netopt_set_string(what, key, val, &c->domainname, err);
}

static bool key_hostname(struct nat_config *c, const char *what, const char *key,
			 const char *val, GError **err)
{
	return netopt_set_string(what, key, val, &c->hostname, err);
}

static bool key_tftp(struct nat_config *c, const char *what, const char *key, const char *val,
		     GError **err)
{
	return netopt_set_string(what, key, val, &c->tftp, err);
}

static bool key_bootfile(struct nat_config *c, const char *what, const char *key,
			 const char *val, GError **err)
{
	return netopt_set_string(what, key, val, &c->bootfile, err);
}

static bool key_restrict(struct nat_config *c, const char *what, const char *key,
			 const char *val, GError **err)
{
	return netopt_parse_bool(what, key, val, &c->restricted, err);
}

static bool key_ipv4(struct nat_config *c, const char *what, const char *key, const char *val,
		     GError **err)
{
	return netopt_parse_bool(what, key, val, &c->ipv4, err);
}

static bool key_ipv6(struct nat_config *c, const char *what, const char *key, const char *val,
		     GError **err)
{
	return netopt_parse_bool(what, key, val, &c->ipv6, err);
}

static bool key_ipv6_net(struct nat_config *c, const char *what, const char *key,
			 const char *val, GError **err)
{
	(void)key;
	return parse_ip6_net(c, what, val, err);
}

static bool key_ipv6_host(struct nat_config *c, const char *what, const char *key,
			  const char *val, GError **err)
{
	return parse_ip6(what, key, val, &c->ip6_host, err) && (c->ip6_host_given = true);
}

static bool key_ipv6_dns(struct nat_config *c, const char *what, const char *key,
			 const char *val, GError **err)
{
	return parse_ip6(what, key, val, &c->ip6_dns, err) && (c->ip6_dns_given = true);
}

static bool key_hostfwd(struct nat_config *c, const char *what, const char *key,
			const char *val, GError **err)
{
	struct hostfwd fwd;

	(void)key;
	if (!netopt_parse_hostfwd(what, val, &fwd, err))
		return false;
	g_array_append_val(c->hostfwds, fwd);
	return true;
}

static bool key_guestfwd(struct nat_config *c, const char *what, const char *key,
			 const char *val, GError **err)
{
	(void)key;
	return parse_guestfwd(c, what, val, err);
}

static bool key_host_loopback(struct nat_config *c, const char *what, const char *key,
			      const char *val, GError **err)
{
	return netopt_parse_bool(what, key, val, &c->host_loopback, err);
}

static bool key_dns_forward(struct nat_config *c, const char *what, const char *key,
			    const char *val, GError **err)
{
	return netopt_parse_bool(what, key, val, &c->dns_forward, err);
}

/* An address of interface @name of @family, as slirp4netns takes one. */
static bool iface_addr(const char *name, int family, void *out)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs) < 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family || strcmp(i->ifa_name, name))
			continue;
		memcpy(out, i->ifa_addr, family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6));
		found = true;
	}
	freeifaddrs(ifs);
	return found;
}

/* outbound-addr=IPv4|IFACE, outbound-addr6=IPv6|IFACE. */
static bool key_outbound(struct nat_config *c, const char *what, const char *key,
			 const char *val, GError **err)
{
	bool v6 = !strcmp(key, "outbound-addr6");
	struct sockaddr_in *sin = &c->outbound;
	struct sockaddr_in6 *sin6 = &c->outbound6;
	bool ok = v6 ? inet_pton(AF_INET6, val, &sin6->sin6_addr) == 1
		     : inet_pton(AF_INET, val, &sin->sin_addr) == 1;

	if (!ok)
		ok = iface_addr(val, v6 ? AF_INET6 : AF_INET, v6 ? (void *)sin6 : (void *)sin);
	if (!ok) {
		OPT_ERR(err, what, key, val, "neither an %s address nor an interface with one",
			v6 ? "IPv6" : "IPv4");
		return false;
	}
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = 0;
		c->outbound6_given = true;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = 0;
		c->outbound_given = true;
	}
	return true;
}

static bool key_mtu(struct nat_config *c, const char *what, const char *key, const char *val,
		    GError **err)
{
	(void)key;
	return netopt_parse_mtu(what, val, &c->mtu, err);
}

static const struct {
	const char *name;
	nat_key_fn *parse;
} nat_keys[] = {
	{ "net", key_net },
	{ "host", key_host },
	{ "dhcpstart", key_dhcpstart },
	{ "dns", key_dns },
	{ "dnssearch", key_dnssearch },
	{ "domainname", key_domainname },
	{ "hostname", key_hostname },
	{ "tftp", key_tftp },
	{ "bootfile", key_bootfile },
	{ "restrict", key_restrict },
	{ "ipv4", key_ipv4 },
	{ "ipv6", key_ipv6 },
	{ "ipv6-net", key_ipv6_net },
	{ "ipv6-host", key_ipv6_host },
	{ "ipv6-dns", key_ipv6_dns },
	{ "hostfwd", key_hostfwd },
	{ "guestfwd", key_guestfwd },
	{ "mtu", key_mtu },
	{ "host-loopback", key_host_loopback },
	{ "dns-forward", key_dns_forward },
	{ "outbound-addr", key_outbound },
	{ "outbound-addr6", key_outbound },
};

static nat_key_fn *find_key(const char *key)
{
	for (size_t i = 0; i < G_N_ELEMENTS(nat_keys); i++)
		if (!strcmp(nat_keys[i].name, key))
			return nat_keys[i].parse;
	return NULL;
}

bool nat_config_has_key(const char *key)
{
	return find_key(key) != NULL;
}

enum netopt_key nat_config_parse_key(struct nat_config *c, const char *what, const char *key,
				     const char *val, GError **err)
{
	nat_key_fn *parse = find_key(key);

	if (!parse)
		return NETOPT_KEY_UNKNOWN;
	return parse(c, what, key, val, err) ? NETOPT_KEY_OK : NETOPT_KEY_BAD;
}

GPtrArray *netopt_split(const char *opts)
{
	GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
	GString *cur = g_string_new(NULL);

	for (const char *p = opts;; p++) {
		if (*p == ',' && p[1] == ',') {
			g_string_append_c(cur, ',');
			p++;
		} else if (*p == ',' || !*p) {
			g_ptr_array_add(items, g_string_free(cur, FALSE));
			if (!*p)
				break;
			cur = g_string_new(NULL);
		} else {
			g_string_append_c(cur, *p);
		}
	}
	return items;
}

bool netopt_split_item(const char *what, const char *opts, const char *item, char **key,
		       const char **val, GError **err)
{
	const char *eq = strchr(item, '=');

	if (!item[0]) {
		vmnetd_set_error(err, "%s %s: empty option", what, opts);
		return false;
	}
	if (!eq) {
		vmnetd_set_error(err, "%s %s: expected key=value", what, item);
		return false;
	}
	*key = g_strndup(item, eq - item);
	*val = eq + 1;
	return true;
}

bool nat_config_parse(struct nat_config *c, const char *what, const char *opts, GError **err)
{
	g_autoptr(GPtrArray) items = NULL;

	if (!opts[0])		/* --nat "" asks for the defaults */
		return true;
	items = netopt_split(opts);
	for (guint i = 0; i < items->len; i++) {
		g_autofree char *key = NULL;
		const char *val;

		if (!netopt_split_item(what, opts, g_ptr_array_index(items, i), &key, &val, err))
			return false;
		switch (nat_config_parse_key(c, what, key, val, err)) {
		case NETOPT_KEY_OK:
			break;
		case NETOPT_KEY_BAD:
			return false;
		case NETOPT_KEY_UNKNOWN:
			vmnetd_set_error(err, "%s: unknown option '%s'", what, key);
			return false;
		}
	}
	return true;
}

static bool in_net(struct in_addr net, struct in_addr mask, struct in_addr a)
{
	return (a.s_addr & mask.s_addr) == net.s_addr;
}

static struct in_addr net_plus(const struct nat_config *c, uint32_t host_part)
{
	struct in_addr a = { c->net.s_addr | (htonl(host_part) & ~c->mask.s_addr) };

	return a;
}

bool netopt_check_addr(const char *what, const char *key, struct in_addr net,
		       struct in_addr mask, struct in_addr a, GError **err)
{
	char buf[INET_ADDRSTRLEN];
	uint32_t host_part = ntohl(a.s_addr & ~mask.s_addr);

	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	if (!in_net(net, mask, a)) {
		g_autofree char *n = netopt_net_to_string(net, mask);

		vmnetd_set_error(err, "%s %s=%s: not inside net=%s", what, key, buf, n);
		return false;
	}
	if (host_part == 0 || host_part == ntohl(~mask.s_addr)) {
		vmnetd_set_error(err, "%s %s=%s: the network or broadcast address", what, key, buf);
		return false;
	}
	return true;
}

bool netopt_finish_hostfwds(const char *what, GArray *hostfwds, struct in_addr net,
			    struct in_addr mask, struct in_addr guest, GError **err)
{
	for (guint i = 0; i < hostfwds->len; i++) {
		struct hostfwd *f = &g_array_index(hostfwds, struct hostfwd, i);

		if (!f->guest_addr_given) {
			f->guest_addr = guest;
		} else if (!in_net(net, mask, f->guest_addr)) {
			vmnetd_set_error(err, "%s hostfwd=%s: guest address not inside net=",
					 what, f->spec);
			return false;
		}
	}
	return true;
}

static bool finish_guestfwds(struct nat_config *c, const char *what, GError **err)
{
	for (guint i = 0; i < c->guestfwds->len; i++) {
		struct guestfwd *f = &g_array_index(c->guestfwds, struct guestfwd, i);

		if (!in_net(c->net, c->mask, f->addr)) {
			vmnetd_set_error(err, "%s guestfwd=%s: address not inside net=", what,
					 f->spec);
			return false;
		}
		/* libslirp answers those addresses itself and never forwards them. */
		if (f->addr.s_addr == c->host.s_addr || f->addr.s_addr == c->dns.s_addr) {
			vmnetd_set_error(err, "%s guestfwd=%s: use an address that is "
					 "not the host or DNS address", what, f->spec);
			return false;
		}
	}
	return true;
}

static bool finish_ipv4(struct nat_config *c, const char *what, GError **err)
{
	if (!c->host_given)
		c->host = net_plus(c, 0x0202);
	if (!c->dhcp_given)
		c->dhcp_start = net_plus(c, 0x020f);
	if (!c->dns_given)
		c->dns = net_plus(c, 0x0203);
	if (!netopt_check_addr(what, "host", c->net, c->mask, c->host, err) ||
	    !netopt_check_addr(what, "dhcpstart", c->net, c->mask, c->dhcp_start, err) ||
	    !netopt_check_addr(what, "dns", c->net, c->mask, c->dns, err))
		return false;
	if (c->dhcp_start.s_addr == c->host.s_addr || c->dns.s_addr == c->host.s_addr) {
		vmnetd_set_error(err, "%s: host=, dns= and dhcpstart= must differ", what);
		return false;
	}
	return netopt_finish_hostfwds(what, c->hostfwds, c->net, c->mask, c->dhcp_start, err) &&
	       finish_guestfwds(c, what, err);
}

static void finish_ipv6(struct nat_config *c)
{
	/* QEMU's ::2 and ::3 inside the prefix. */
	if (!c->ip6_host_given) {
		c->ip6_host = c->ip6_prefix;
		c->ip6_host.s6_addr[15] |= 2;
	}
	if (!c->ip6_dns_given) {
		c->ip6_dns = c->ip6_prefix;
		c->ip6_dns.s6_addr[15] |= 3;
	}
}

bool nat_config_finish(struct nat_config *c, const char *what, GError **err)
{
	if (!c->ipv4 && !c->ipv6) {
		vmnetd_set_error(err, "%s: ipv4=off and ipv6=off leave nothing to serve", what);
		return false;
	}
	if (c->ipv6 && c->mtu < NAT_MTU_MIN_IPV6) {
		vmnetd_set_error(err, "%s mtu=%u: IPv6 needs at least %d (or add ipv6=off)",
				 what, c->mtu, NAT_MTU_MIN_IPV6);
		return false;
	}
	if (!c->ipv4 && (c->hostfwds->len || c->guestfwds->len)) {
		vmnetd_set_error(err, "%s: hostfwd and guestfwd need ipv4=on", what);
		return false;
	}
	if (c->ipv4 && !finish_ipv4(c, what, err))
		return false;
	if (c->ipv6)
		finish_ipv6(c);
	if (!c->dnssearch->len || g_ptr_array_index(c->dnssearch, c->dnssearch->len - 1))
		g_ptr_array_add(c->dnssearch, NULL);
	return true;
}
