/* netopts.c - parse --nat option strings in QEMU's -netdev user syntax.
 *
 * "key=value,key=value", with ",," standing for a literal comma as in QEMU.
 * Defaults and derivations follow QEMU: net 10.0.2.0/24, and host, DNS and
 * the first DHCP address placed at .2, .3 and .15 of whatever net= says.
 */
#include <arpa/inet.h>
#include <string.h>

#include "vmnetd/error.h"
#include "vmnetd/netopts.h"

#define OPT_ERR(err, key, val, fmt, ...) \
	vmnetd_set_error(err, "--nat %s=%s: " fmt, key, val, ##__VA_ARGS__)

static void hostfwd_clear(void *p)
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
	*c = (struct nat_config){ .ipv4 = true, .ipv6 = true, .mtu = NAT_MTU_DEFAULT };
	inet_pton(AF_INET, "10.0.2.0", &c->net);
	inet_pton(AF_INET, "255.255.255.0", &c->mask);
	inet_pton(AF_INET6, "fec0::", &c->ip6_prefix);
	c->ip6_prefix_len = 64;
	c->dnssearch = g_ptr_array_new_with_free_func(g_free);
	c->hostfwds = g_array_new(FALSE, TRUE, sizeof(struct hostfwd));
	g_array_set_clear_func(c->hostfwds, hostfwd_clear);
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

static bool parse_bool(const char *key, const char *val, bool *out, GError **err)
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
	OPT_ERR(err, key, val, "expected on or off");
	return false;
}

static bool parse_ip4(const char *key, const char *val, struct in_addr *out, GError **err)
{
	if (inet_pton(AF_INET, val, out) == 1)
		return true;
	OPT_ERR(err, key, val, "not an IPv4 address");
	return false;
}

static bool parse_ip6(const char *key, const char *val, struct in6_addr *out, GError **err)
{
	if (inet_pton(AF_INET6, val, out) == 1)
		return true;
	OPT_ERR(err, key, val, "not an IPv6 address");
	return false;
}

static bool parse_uint(const char *s, guint64 min, guint64 max, guint64 *out)
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

static bool parse_net(struct nat_config *c, const char *val, GError **err)
{
	g_auto(GStrv) parts = g_strsplit(val, "/", 2);
	struct in_addr addr;
	uint32_t mask;

	if (inet_pton(AF_INET, parts[0], &addr) != 1) {
		OPT_ERR(err, "net", val, "not an IPv4 address");
		return false;
	}
	if (!parts[1]) {
		mask = classful_mask(ntohl(addr.s_addr));
	} else if (strchr(parts[1], '.')) {
		struct in_addr m;
		uint32_t h;

		if (inet_pton(AF_INET, parts[1], &m) != 1) {
			OPT_ERR(err, "net", val, "bad netmask");
			return false;
		}
		h = ntohl(m.s_addr);
		if (h == 0 || (~h & (~h + 1)) != 0) {	/* ones, then only zeros */
			OPT_ERR(err, "net", val, "netmask is not contiguous");
			return false;
		}
		mask = h;
	} else {
		guint64 len;

		if (!parse_uint(parts[1], 1, 30, &len)) {
			OPT_ERR(err, "net", val, "prefix length must be 1 to 30");
			return false;
		}
		mask = 0xffffffffu << (32 - len);
	}
	c->mask.s_addr = htonl(mask);
	c->net.s_addr = addr.s_addr & c->mask.s_addr;
	return true;
}

static bool parse_ip6_net(struct nat_config *c, const char *val, GError **err)
{
	g_auto(GStrv) parts = g_strsplit(val, "/", 2);
	guint64 len = 64;

	if (!parse_ip6("ipv6-net", parts[0], &c->ip6_prefix, err))
		return false;
	if (parts[1] && !parse_uint(parts[1], 1, 126, &len)) {
		OPT_ERR(err, "ipv6-net", val, "prefix length must be 1 to 126");
		return false;
	}
	c->ip6_prefix_len = len;
	return true;
}

/* "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport" */
static bool parse_hostfwd(struct nat_config *c, const char *val, GError **err)
{
	g_auto(GStrv) sides = g_strsplit(val, "-", 2);
	g_auto(GStrv) h = NULL, g = NULL;
	struct hostfwd fwd = { 0 };
	guint64 port;

	if (!sides[1])
		goto syntax;
	h = g_strsplit(sides[0], ":", 0);
	g = g_strsplit(sides[1], ":", 0);
	if (g_strv_length(h) != 3 || g_strv_length(g) != 2)
		goto syntax;
	if (!strcmp(h[0], "udp")) {
		fwd.udp = true;
	} else if (h[0][0] && strcmp(h[0], "tcp")) {
		OPT_ERR(err, "hostfwd", val, "protocol must be tcp or udp");
		return false;
	}
	if (h[1][0] && inet_pton(AF_INET, h[1], &fwd.host_addr) != 1) {
		OPT_ERR(err, "hostfwd", val, "host address '%s' is not an IPv4 address", h[1]);
		return false;
	}
	if (!parse_uint(h[2], 1, 65535, &port)) {
		OPT_ERR(err, "hostfwd", val, "host port must be 1 to 65535");
		return false;
	}
	fwd.host_port = port;
	if (g[0][0]) {
		if (inet_pton(AF_INET, g[0], &fwd.guest_addr) != 1) {
			OPT_ERR(err, "hostfwd", val, "guest address '%s' is not an IPv4 address", g[0]);
			return false;
		}
		fwd.guest_addr_given = true;
	}
	if (!parse_uint(g[1], 1, 65535, &port)) {
		OPT_ERR(err, "hostfwd", val, "guest port must be 1 to 65535");
		return false;
	}
	fwd.guest_port = port;
	fwd.spec = g_strdup(val);
	g_array_append_val(c->hostfwds, fwd);
	return true;
syntax:
	OPT_ERR(err, "hostfwd", val,
		"expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport");
	return false;
}

/* "[tcp]:IP:PORT-tcp:HOST:PORT" or "[tcp]:IP:PORT-unix:PATH" */
static bool parse_guestfwd(struct nat_config *c, const char *val, GError **err)
{
	const char *dash = strchr(val, '-');
	g_autofree char *left = dash ? g_strndup(val, dash - val) : NULL;
	g_auto(GStrv) l = NULL;
	struct guestfwd fwd = { 0 };
	g_autofree char *what = g_strdup_printf("--nat guestfwd=%s: target", val);
	guint64 port;

	if (!dash)
		goto syntax;
	l = g_strsplit(left, ":", 0);
	if (g_strv_length(l) != 3 || (l[0][0] && strcmp(l[0], "tcp")))
		goto syntax;
	if (inet_pton(AF_INET, l[1], &fwd.addr) != 1) {
		OPT_ERR(err, "guestfwd", val, "'%s' is not an IPv4 address", l[1]);
		return false;
	}
	if (!parse_uint(l[2], 1, 65535, &port)) {
		OPT_ERR(err, "guestfwd", val, "port must be 1 to 65535");
		return false;
	}
	fwd.port = port;
	if (!endpoint_parse(dash + 1, what, &fwd.target, err))
		return false;
	fwd.spec = g_strdup(val);
	g_array_append_val(c->guestfwds, fwd);
	return true;
syntax:
	OPT_ERR(err, "guestfwd", val, "expected tcp:IP:PORT-tcp:HOST:PORT or tcp:IP:PORT-unix:PATH");
	return false;
}

static bool set_string(char **field, const char *key, const char *val, GError **err)
{
	if (!val[0]) {
		OPT_ERR(err, key, val, "must not be empty");
		return false;
	}
	g_free(*field);
	*field = g_strdup(val);
	return true;
}

static bool parse_mtu(struct nat_config *c, const char *val, GError **err)
{
	guint64 mtu;

	if (!parse_uint(val, NAT_MTU_MIN, NAT_MTU_MAX, &mtu)) {
		OPT_ERR(err, "mtu", val, "must be a number from %d to %d",
			NAT_MTU_MIN, NAT_MTU_MAX);
		return false;
	}
	c->mtu = mtu;
	return true;
}

static bool parse_one(struct nat_config *c, const char *key, const char *val, GError **err)
{
	if (!strcmp(key, "net"))
		return parse_net(c, val, err);
	if (!strcmp(key, "host"))
		return parse_ip4(key, val, &c->host, err) && (c->host_given = true);
	if (!strcmp(key, "dhcpstart"))
		return parse_ip4(key, val, &c->dhcp_start, err) && (c->dhcp_given = true);
	if (!strcmp(key, "dns"))
		return parse_ip4(key, val, &c->dns, err) && (c->dns_given = true);
	if (!strcmp(key, "dnssearch")) {
		if (!val[0]) {
			OPT_ERR(err, key, val, "must not be empty");
			return false;
		}
		g_ptr_array_add(c->dnssearch, g_strdup(val));
		return true;
	}
	if (!strcmp(key, "domainname"))
		return set_string(&c->domainname, key, val, err);
	if (!strcmp(key, "hostname"))
		return set_string(&c->hostname, key, val, err);
	if (!strcmp(key, "tftp"))
		return set_string(&c->tftp, key, val, err);
	if (!strcmp(key, "bootfile"))
		return set_string(&c->bootfile, key, val, err);
	if (!strcmp(key, "restrict"))
		return parse_bool(key, val, &c->restricted, err);
	if (!strcmp(key, "ipv4"))
		return parse_bool(key, val, &c->ipv4, err);
	if (!strcmp(key, "ipv6"))
		return parse_bool(key, val, &c->ipv6, err);
	if (!strcmp(key, "ipv6-net"))
		return parse_ip6_net(c, val, err);
	if (!strcmp(key, "ipv6-host"))
		return parse_ip6(key, val, &c->ip6_host, err) && (c->ip6_host_given = true);
	if (!strcmp(key, "ipv6-dns"))
		return parse_ip6(key, val, &c->ip6_dns, err) && (c->ip6_dns_given = true);
	if (!strcmp(key, "hostfwd"))
		return parse_hostfwd(c, val, err);
	if (!strcmp(key, "guestfwd"))
		return parse_guestfwd(c, val, err);
	if (!strcmp(key, "mtu"))
		return parse_mtu(c, val, err);
	vmnetd_set_error(err, "--nat: unknown option '%s'", key);
	return false;
}

/* Split at single commas; ",," is a literal comma. */
static GPtrArray *split_items(const char *opts)
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

bool nat_config_parse(struct nat_config *c, const char *opts, GError **err)
{
	g_autoptr(GPtrArray) items = NULL;

	if (!opts[0])		/* --nat "" asks for the defaults */
		return true;
	items = split_items(opts);
	for (guint i = 0; i < items->len; i++) {
		const char *item = g_ptr_array_index(items, i);
		const char *eq = strchr(item, '=');
		g_autofree char *key = NULL;

		if (!item[0]) {
			vmnetd_set_error(err, "--nat %s: empty option", opts);
			return false;
		}
		if (!eq) {
			vmnetd_set_error(err, "--nat %s: expected key=value", item);
			return false;
		}
		key = g_strndup(item, eq - item);
		if (!parse_one(c, key, eq + 1, err))
			return false;
	}
	return true;
}

static bool in_net(const struct nat_config *c, struct in_addr a)
{
	return (a.s_addr & c->mask.s_addr) == c->net.s_addr;
}

static struct in_addr net_plus(const struct nat_config *c, uint32_t host_part)
{
	struct in_addr a = { c->net.s_addr | (htonl(host_part) & ~c->mask.s_addr) };

	return a;
}

static bool check_addr(const struct nat_config *c, const char *key, struct in_addr a,
		       GError **err)
{
	char buf[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
	uint32_t host_part = ntohl(a.s_addr & ~c->mask.s_addr);

	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	inet_ntop(AF_INET, &c->net, net, sizeof(net));
	if (!in_net(c, a)) {
		vmnetd_set_error(err, "--nat %s=%s: not inside net=%s/%d", key, buf, net,
				 32 - __builtin_ctz(ntohl(c->mask.s_addr)));
		return false;
	}
	if (host_part == 0 || host_part == ntohl(~c->mask.s_addr)) {
		vmnetd_set_error(err, "--nat %s=%s: the network or broadcast address", key, buf);
		return false;
	}
	return true;
}

static bool finish_ipv4(struct nat_config *c, GError **err)
{
	if (!c->host_given)
		c->host = net_plus(c, 0x0202);
	if (!c->dhcp_given)
		c->dhcp_start = net_plus(c, 0x020f);
	if (!c->dns_given)
		c->dns = net_plus(c, 0x0203);
	if (!check_addr(c, "host", c->host, err) || !check_addr(c, "dhcpstart", c->dhcp_start, err) ||
	    !check_addr(c, "dns", c->dns, err))
		return false;
	if (c->dhcp_start.s_addr == c->host.s_addr || c->dns.s_addr == c->host.s_addr) {
		vmnetd_set_error(err, "--nat: host=, dns= and dhcpstart= must differ");
		return false;
	}
	for (guint i = 0; i < c->hostfwds->len; i++) {
		struct hostfwd *f = &g_array_index(c->hostfwds, struct hostfwd, i);

		if (!f->guest_addr_given)
			f->guest_addr = c->dhcp_start;
		else if (!in_net(c, f->guest_addr)) {
			vmnetd_set_error(err, "--nat hostfwd=%s: guest address not inside net=",
					 f->spec);
			return false;
		}
	}
	for (guint i = 0; i < c->guestfwds->len; i++) {
		struct guestfwd *f = &g_array_index(c->guestfwds, struct guestfwd, i);

		if (!in_net(c, f->addr)) {
			vmnetd_set_error(err, "--nat guestfwd=%s: address not inside net=", f->spec);
			return false;
		}
		/* libslirp answers those addresses itself and never forwards them. */
		if (f->addr.s_addr == c->host.s_addr || f->addr.s_addr == c->dns.s_addr) {
			vmnetd_set_error(err, "--nat guestfwd=%s: use an address that is "
					 "not the host or DNS address", f->spec);
			return false;
		}
	}
	return true;
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

bool nat_config_finish(struct nat_config *c, GError **err)
{
	if (!c->ipv4 && !c->ipv6) {
		vmnetd_set_error(err, "--nat: ipv4=off and ipv6=off leave nothing to serve");
		return false;
	}
	if (c->ipv6 && c->mtu < NAT_MTU_MIN_IPV6) {
		vmnetd_set_error(err, "--nat mtu=%u: IPv6 needs at least %d (or add ipv6=off)",
				 c->mtu, NAT_MTU_MIN_IPV6);
		return false;
	}
	if (!c->ipv4 && (c->hostfwds->len || c->guestfwds->len)) {
		vmnetd_set_error(err, "--nat: hostfwd and guestfwd need ipv4=on");
		return false;
	}
	if (c->ipv4 && !finish_ipv4(c, err))
		return false;
	if (c->ipv6)
		finish_ipv6(c);
	if (!c->dnssearch->len || g_ptr_array_index(c->dnssearch, c->dnssearch->len - 1))
		g_ptr_array_add(c->dnssearch, NULL);
	return true;
}
