/* dhcp_server.c - vmnetd's DHCP server: pool and static addresses, kept in the network's lease table.
 *
 * Rules: a static lease is its MAC's, always, and nobody else's; a MAC gets
 * back the address it had (its lease, even expired, then a pool address
 * picked from a hash of the MAC, so even a forgotten lease tends to come
 * back the same); the client's requested address is honoured when free and
 * in the pool. The server is authoritative for its subnet: a request it
 * cannot grant gets a NAK, so a client moved here restarts at once.
 * Leases are keyed by chaddr, not by client identifier: on a VM network the
 * NIC's MAC is the machine's identity, and the switch and DNS know it so.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "vmnetd/dhcp_options.h"
#include "vmnetd/dhcp_server.h"
#include "vmnetd/mac.h"
#include "vmnetd/error.h"
#include "vmnetd/frame.h"

/* An offer reserves its address this long: clients request within seconds,
 * and one that went away should not pin an address for a whole lease. */
#define OFFER_HOLD_S		60
/* Used when the configuration says 0, which would expire every lease at once. */
#define LEASE_TIME_FALLBACK_S	3600
/* RFC 2131 3.3: all ones in option 51 mean a lease that never ends. */
#define LEASE_INFINITE		0xffffffffu
/* RFC 1542 2.1: some clients drop BOOTP messages shorter than RFC 951's 300 bytes. */
#define BOOTP_MIN_LEN		300
/* RFC 2131 2: every client takes a 576-byte IP datagram, i.e. 548 bytes of BOOTP. */
#define DHCP_MIN_MSG		576
#define IP_UDP_HLEN		28	/* option 57 counts the IPv4 and UDP headers too */
/* Lookups at the earliest time see expired leases too: a MAC's last address. */
#define ANY_TIME		INT64_MIN

struct declined {
	struct in_addr ip;
	int64_t until;
};

struct dhcp_server {
	struct dhcp_server_config cfg;	/* its strings and statics are our own copies */
	char *name;			/* for the log: "NETWORK: dhcp" */
	struct dhcp_static_lease *statics;
	uint32_t lease_time;
	uint8_t search[DHCP_REPLY_MAX];	/* option 119, encoded once (RFC 3397) */
	size_t search_len;
	struct in_addr *reserved;	/* cfg.reserved, our copy */
	GArray *declined;		/* struct declined: addresses a client found in use */
	struct lease_table *leases;	/* the network's; not ours */
	bool unsaved;			/* the last write failed: the next request retries it */
};

/* A client message, checked; pointers into the caller's buffer. */
struct dhcp_msg {
	const uint8_t *bootp;
	const uint8_t *opts;
	size_t opts_len;
	uint8_t type;
	const uint8_t *mac;		/* chaddr, 6 bytes */
	struct in_addr ciaddr, yiaddr;
	char hostname[LEASE_HOSTNAME_MAX + 1];	/* option 12 as one DNS label, "" if none */
};


static uint32_t host(struct in_addr a)
{
	return ntohl(a.s_addr);
}

static struct in_addr inaddr(uint32_t host_order)
{
	return (struct in_addr){ .s_addr = htonl(host_order) };
}

static const char *ip_str(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* Host name bytes as one DNS label: up to the first dot (or NUL, which some
 * clients send), [A-Za-z0-9-] with anything else turned into '-', no
 * leading or trailing '-', at most 63 characters and @size - 1. */
static void sanitise_label(const uint8_t *in, size_t n, char *out, size_t size)
{
	size_t o = 0;

	if (!size)
		return;
	for (size_t i = 0; i < n && o + 1 < size && o < LEASE_HOSTNAME_MAX; i++) {
		char c = (char)in[i];

		if (c == '.' || c == '\0')
			break;
		if (!g_ascii_isalnum(c))
			c = '-';
		if (c == '-' && o == 0)
			continue;
		out[o++] = c;
	}
	while (o && out[o - 1] == '-')
		o--;
	out[o] = '\0';
}

/* Checks the fixed header and the options of a BOOTP message with @op from
 * an Ethernet client and fills @m. Any length that does not add up: false. */
static bool parse_msg(const uint8_t *msg, size_t len, uint8_t op, struct dhcp_msg *m)
{
	struct dhcp_opt o;

	*m = (struct dhcp_msg){ .bootp = msg };
	if (!dhcp_msg_options(msg, len, &m->opts, &m->opts_len))
		return false;
	if (msg[BOOTP_OP] != op || msg[BOOTP_HTYPE] != BOOTP_HTYPE_ETHER || msg[BOOTP_HLEN] != 6)
		return false;
	if (!dhcp_opts_valid(m->opts, m->opts_len))
		return false;
	if (!dhcp_opt_get_u8(m->opts, m->opts_len, DHCP_OPT_MSG_TYPE, &m->type))
		return false;		/* plain BOOTP: not served */
	m->mac = msg + BOOTP_CHADDR;
	memcpy(&m->ciaddr, msg + BOOTP_CIADDR, 4);
	memcpy(&m->yiaddr, msg + BOOTP_YIADDR, 4);
	if (dhcp_opt_find(m->opts, m->opts_len, DHCP_OPT_HOSTNAME, &o))
		sanitise_label(o.data, o.len, m->hostname, sizeof(m->hostname));
	return true;
}

/* Addresses and the pool */

static bool in_subnet(const struct dhcp_server *s, struct in_addr ip)
{
	return ((ip.s_addr ^ s->cfg.server_id.s_addr) & s->cfg.netmask.s_addr) == 0;
}

static bool is_reserved(const struct dhcp_server *s, struct in_addr ip)
{
	for (size_t i = 0; i < s->cfg.n_reserved; i++)
		if (s->reserved[i].s_addr == ip.s_addr)
			return true;
	return false;
}

/* Could any client hold @ip: on our subnet, neither its network nor its
 * broadcast address, nor an address the network's own services use. */
static bool assignable(const struct dhcp_server *s, struct in_addr ip)
{
	uint32_t hostpart = host(ip) & ~host(s->cfg.netmask);

	if (!in_subnet(s, ip) || hostpart == 0 || hostpart == ~host(s->cfg.netmask))
		return false;
	return ip.s_addr != s->cfg.server_id.s_addr && ip.s_addr != s->cfg.router.s_addr &&
	       ip.s_addr != s->cfg.dns.s_addr && !is_reserved(s, ip);
}

static bool in_pool(const struct dhcp_server *s, struct in_addr ip)
{
	return host(ip) >= host(s->cfg.pool_start) && host(ip) <= host(s->cfg.pool_end) &&
	       assignable(s, ip);
}

static const struct dhcp_static_lease *static_by_mac(const struct dhcp_server *s, const uint8_t mac[6])
{
	for (size_t i = 0; i < s->cfg.n_statics; i++)
		if (memcmp(s->statics[i].mac, mac, 6) == 0)
			return &s->statics[i];
	return NULL;
}

static const struct dhcp_static_lease *static_by_ip(const struct dhcp_server *s, struct in_addr ip)
{
	for (size_t i = 0; i < s->cfg.n_statics; i++)
		if (s->statics[i].ip.s_addr == ip.s_addr)
			return &s->statics[i];
	return NULL;
}

static bool is_declined(struct dhcp_server *s, struct in_addr ip, int64_t now)
{
	for (guint i = s->declined->len; i-- > 0;) {
		const struct declined *d = &g_array_index(s->declined, struct declined, i);

		if (d->until <= now)
			g_array_remove_index_fast(s->declined, i);
		else if (d->ip.s_addr == ip.s_addr)
			return true;
	}
	return false;
}

/* May @mac be given @ip now? Its static address only, if it has one;
 * otherwise a pool address that no other MAC holds and no client declined. */
static bool may_hold(struct dhcp_server *s, const uint8_t mac[6], struct in_addr ip, int64_t now)
{
	const struct dhcp_static_lease *st = static_by_mac(s, mac);
	const struct lease *l;

	if (st)
		return st->ip.s_addr == ip.s_addr;
	if (!in_pool(s, ip) || static_by_ip(s, ip) || is_declined(s, ip, now))
		return false;
	l = lease_table_by_ip(s->leases, ip, now);
	return !l || memcmp(l->mac, mac, 6) == 0;
}

/* The address to offer @m's client, or INADDR_ANY when the pool is full. */
static struct in_addr choose_address(struct dhcp_server *s, const struct dhcp_msg *m, int64_t now)
{
	const struct dhcp_static_lease *st = static_by_mac(s, m->mac);
	const struct lease *mine = lease_table_by_mac(s->leases, m->mac, ANY_TIME);
	struct in_addr want;
	uint32_t first = host(s->cfg.pool_start), last = host(s->cfg.pool_end);
	uint64_t size = (uint64_t)last - first + 1;

	if (st)
		return st->ip;
	if (mine && may_hold(s, m->mac, mine->ip, now))
		return mine->ip;
	if (dhcp_opt_get_addr(m->opts, m->opts_len, DHCP_OPT_REQUESTED_IP, &want) &&
	    may_hold(s, m->mac, want, now))
		return want;
	if (last < first)
		return inaddr(0);
	/* Lowest free address first, as libslirp, VirtualBox and VMware hand
	 * them out: the first VM is .101, the next .102. */
	for (uint64_t i = 0; i < size; i++) {
		struct in_addr ip = inaddr(first + (uint32_t)i);

		if (may_hold(s, m->mac, ip, now))
			return ip;
	}
	return inaddr(0);
}

/* The state file: one line per acknowledged dynamic lease,
 * "MAC IP EXPIRES [HOSTNAME]", EXPIRES in wall-clock seconds.
 *
 * It is written when the set of leases changes, not when one is renewed:
 * a rewrite is fsync'd, and a client repeating REQUEST would otherwise make
 * every VM on the daemon's one loop wait on the disk. So EXPIRES is only
 * what the lease had at the last write, and a VM that kept renewing may be
 * far past it. On loading, each line is therefore its MAC's for one lease
 * time from then (or until EXPIRES, if later): long enough for a VM that is
 * still up to renew, after which a lease nobody renewed expires as usual
 * and leaves the file at its next write. */

#define STATE_HEADER "# vmnetd DHCP leases: MAC IP EXPIRES [HOSTNAME]\n"

struct state_writer {
	GString *text;
	int64_t now;
};

/* Does @l belong in the file: statics come from the configuration, offers are not promises. */
static bool on_disk(const struct lease *l, int64_t now)
{
	return !l->is_static && !l->offered && l->expires > now;
}

static void state_line(const struct lease *l, void *opaque)
{
	struct state_writer *w = opaque;
	char ip[INET_ADDRSTRLEN];

	if (!on_disk(l, w->now))
		return;
	g_string_append_printf(w->text, MAC_FMT " %s %" G_GINT64_FORMAT "%s%s\n", MAC_ARGS(l->mac),
			       ip_str(l->ip, ip), l->expires, *l->hostname ? " " : "", l->hostname);
}

static void save_state(struct dhcp_server *s, int64_t now)
{
	struct state_writer w = { .text = g_string_new(STATE_HEADER), .now = now };
	GError *err = NULL;

	if (!s->cfg.state_file)
		goto out;
	lease_table_foreach(s->leases, state_line, &w);
	/* Atomic (a new file renamed over the old): a crash leaves one or the other. */
	s->unsaved = !g_file_set_contents(s->cfg.state_file, w.text->str, (gssize)w.text->len, &err);
	if (s->unsaved) {
		g_warning("lease-file %s: %s", s->cfg.state_file, err->message);
		g_error_free(err);
	}
out:
	g_string_free(w.text, TRUE);
}

/* One line of the state file into @l; false for anything that does not parse. */
static bool parse_state_line(const char *line, struct lease *l)
{
	g_auto(GStrv) tok = g_strsplit(line, " ", 0);
	guint n = g_strv_length(tok);
	gint64 expires;

	*l = (struct lease){ 0 };
	if (n < 3 || n > 4 || !mac_parse(tok[0], l->mac) || inet_pton(AF_INET, tok[1], &l->ip) != 1)
		return false;
	if (!g_ascii_string_to_signed(tok[2], 10, G_MININT64, G_MAXINT64, &expires, NULL))
		return false;
	l->expires = expires;
	if (n == 4)
		sanitise_label((const uint8_t *)tok[3], strlen(tok[3]), l->hostname, sizeof(l->hostname));
	return true;
}

static int64_t lease_expiry(const struct dhcp_server *s, int64_t now)
{
	return s->lease_time == LEASE_INFINITE ? INT64_MAX : now + s->lease_time;
}

/* Takes back the leases of @text that are in the pool and clash with no
 * static lease nor with an earlier line, whatever their recorded expiry
 * (see above); a host name another MAC already holds is left out. */
static void restore_leases(struct dhcp_server *s, const char *text, int64_t now)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", 0);
	unsigned skipped = 0;

	for (char **p = lines; *p; p++) {
		struct lease l;

		g_strstrip(*p);
		if (!**p || **p == '#')
			continue;
		if (!parse_state_line(*p, &l) || static_by_mac(s, l.mac) || !may_hold(s, l.mac, l.ip, now) ||
		    lease_table_by_mac(s->leases, l.mac, now)) {
			skipped++;
			continue;
		}
		l.expires = MAX(l.expires, lease_expiry(s, now));
		if (lease_table_name_taken(s->leases, l.hostname, l.mac, now))
			l.hostname[0] = '\0';
		lease_table_set(s->leases, &l);
	}
	if (skipped)
		g_debug("lease-file %s: %u lines skipped", s->cfg.state_file, skipped);
}

static bool load_state(struct dhcp_server *s, int64_t now, GError **err)
{
	g_autofree char *text = NULL;
	GError *e = NULL;

	if (!s->cfg.state_file)
		return true;
	if (!g_file_get_contents(s->cfg.state_file, &text, NULL, &e)) {
		bool missing = g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT);

		if (!missing)
			vmnetd_set_error(err, "lease-file %s: %s", s->cfg.state_file, e->message);
		g_error_free(e);
		return missing;		/* a first start has no file yet */
	}
	restore_leases(s, text, now);
	return true;
}

/* Replies */

/* How long a reply to @m may be: what every client takes, or more if the
 * client says so (option 57), never above DHCP_REPLY_MAX. */
static size_t reply_limit(const struct dhcp_msg *m)
{
	struct dhcp_opt o;
	size_t max = DHCP_MIN_MSG;

	if (dhcp_opt_find(m->opts, m->opts_len, DHCP_OPT_MAX_MSG_SIZE, &o) && o.len == 2 &&
	    get_be16(o.data) > max)
		max = get_be16(o.data);
	return MIN(max - IP_UDP_HLEN, DHCP_REPLY_MAX);
}

/* RFC 2131 4.1 with giaddr zero: a NAK is broadcast; else to ciaddr when
 * the client has one; else broadcast if it asked, else to yiaddr at chaddr. */
static void set_destination(struct dhcp_reply *r, const struct dhcp_msg *m, uint8_t type,
			    struct in_addr yiaddr)
{
	uint16_t flags = get_be16(m->bootp + BOOTP_FLAGS);

	if (type != DHCPNAK && m->ciaddr.s_addr) {
		r->dst_ip = m->ciaddr;
	} else if (type == DHCPNAK || (flags & BOOTP_FLAG_BROADCAST) || !yiaddr.s_addr) {
		r->dst_ip.s_addr = htonl(INADDR_BROADCAST);
		memset(r->dst_mac, 0xff, 6);
		return;
	} else {
		r->dst_ip = yiaddr;
	}
	memcpy(r->dst_mac, m->mac, 6);
}

/* Fills the BOOTP header of a reply to @m and starts its options with
 * type and server identifier. ciaddr is echoed in ACKs only (RFC 2131 table 3). */
static void reply_begin(const struct dhcp_server *s, const struct dhcp_msg *m, uint8_t type,
			struct in_addr yiaddr, struct dhcp_reply *r, struct dhcp_opt_writer *w)
{
	static const uint8_t cookie[4] = { 99, 130, 83, 99 };
	uint8_t *b = r->msg;

	memset(r, 0, sizeof(*r));
	b[BOOTP_OP] = BOOTREPLY;
	b[BOOTP_HTYPE] = BOOTP_HTYPE_ETHER;
	b[BOOTP_HLEN] = 6;
	memcpy(b + BOOTP_XID, m->bootp + BOOTP_XID, 4);
	memcpy(b + BOOTP_FLAGS, m->bootp + BOOTP_FLAGS, 2);
	if (type == DHCPACK)
		memcpy(b + BOOTP_CIADDR, &m->ciaddr, 4);
	memcpy(b + BOOTP_YIADDR, &yiaddr, 4);
	memcpy(b + BOOTP_CHADDR, m->mac, 6);
	memcpy(b + BOOTP_COOKIE, cookie, sizeof(cookie));
	dhcp_opt_writer_init(w, b + BOOTP_OPTIONS, reply_limit(m) - BOOTP_OPTIONS);
	dhcp_opt_put_u8(w, DHCP_OPT_MSG_TYPE, type);
	dhcp_opt_put_addr(w, DHCP_OPT_SERVER_ID, s->cfg.server_id);
	set_destination(r, m, type, yiaddr);
}

static void reply_end(struct dhcp_reply *r, struct dhcp_opt_writer *w)
{
	/* The buffer was zeroed: padding up to the minimum is already there. */
	r->len = MAX(BOOTP_OPTIONS + dhcp_opt_finish(w), BOOTP_MIN_LEN);
}

/* Network boot: the file to fetch (BOOTP's file field) and from whom. */
static void put_boot(const struct dhcp_server *s, struct dhcp_reply *r)
{
	if (!s->cfg.bootfile)
		return;
	memcpy(r->msg + BOOTP_SIADDR, &s->cfg.server_id.s_addr, 4);
	strncpy((char *)r->msg + BOOTP_FILE, s->cfg.bootfile, BOOTP_FILE_LEN - 1);
}

/* Lease time with the renewal (T1) and rebinding (T2) times at RFC 2131
 * 4.4.5's defaults: half and seven eighths of the lease. */
static void put_lease_time(const struct dhcp_server *s, struct dhcp_opt_writer *w)
{
	dhcp_opt_put_u32(w, DHCP_OPT_LEASE_TIME, s->lease_time);
	if (s->lease_time == LEASE_INFINITE)
		return;
	dhcp_opt_put_u32(w, DHCP_OPT_T1, s->lease_time / 2);
	dhcp_opt_put_u32(w, DHCP_OPT_T2, (uint32_t)((uint64_t)s->lease_time * 7 / 8));
}

/* The network's parameters, all of them whatever the client asked: the
 * essentials first, so that what does not fit is the least needed. */
static void put_params(const struct dhcp_server *s, const struct dhcp_msg *m, struct dhcp_opt_writer *w)
{
	const struct dhcp_static_lease *st = static_by_mac(s, m->mac);
	struct in_addr bcast = { s->cfg.server_id.s_addr | ~s->cfg.netmask.s_addr };

	dhcp_opt_put_addr(w, DHCP_OPT_NETMASK, s->cfg.netmask);
	dhcp_opt_put_addr(w, DHCP_OPT_BROADCAST, bcast);
	if (s->cfg.router.s_addr)
		dhcp_opt_put_addr(w, DHCP_OPT_ROUTER, s->cfg.router);
	if (s->cfg.dns.s_addr)
		dhcp_opt_put_addr(w, DHCP_OPT_DNS, s->cfg.dns);
	if (s->cfg.mtu)
		dhcp_opt_put_u16(w, DHCP_OPT_MTU, s->cfg.mtu);
	if (st && st->hostname && *st->hostname)	/* RFC 2132 3.14: at least one byte */
		dhcp_opt_put(w, DHCP_OPT_HOSTNAME, st->hostname, strlen(st->hostname));
	else if (s->cfg.client_hostname && *s->cfg.client_hostname)
		dhcp_opt_put(w, DHCP_OPT_HOSTNAME, s->cfg.client_hostname,
			     strlen(s->cfg.client_hostname));
	if (s->cfg.domain)
		dhcp_opt_put(w, DHCP_OPT_DOMAIN, s->cfg.domain, strlen(s->cfg.domain));
	if (s->search_len)
		dhcp_opt_put(w, DHCP_OPT_SEARCH, s->search, s->search_len);
}

static bool reply_nak(const struct dhcp_server *s, const struct dhcp_msg *m, const char *why,
		      struct dhcp_reply *r)
{
	struct dhcp_opt_writer w;

	reply_begin(s, m, DHCPNAK, inaddr(0), r, &w);
	dhcp_opt_put(&w, DHCP_OPT_MESSAGE, why, strlen(why));
	reply_end(r, &w);
	g_debug("%s: NAK to " MAC_FMT ": %s", s->name, MAC_ARGS(m->mac), why);
	return true;
}

static bool reply_lease(const struct dhcp_server *s, const struct dhcp_msg *m, uint8_t type,
			struct in_addr ip, struct dhcp_reply *r)
{
	struct dhcp_opt_writer w;

	reply_begin(s, m, type, ip, r, &w);
	put_boot(s, r);
	put_lease_time(s, &w);
	put_params(s, m, &w);
	reply_end(r, &w);
	return true;
}

/* Message handlers */

/* The lease @m's client gets on @ip at @now: its static one (with the
 * configured host name, else the client's), or a dynamic one; the client's
 * host name wins over the one it gave before, but silence keeps that. A
 * name another MAC's live lease holds is not taken: the lease gets none,
 * so no VM can move a static host's or another VM's DNS name to itself. */
static struct lease make_lease(const struct dhcp_server *s, const struct dhcp_msg *m, struct in_addr ip,
			       int64_t now, int64_t expires, bool offered)
{
	const struct dhcp_static_lease *st = static_by_mac(s, m->mac);
	const struct lease *old = lease_table_by_mac(s->leases, m->mac, ANY_TIME);
	struct lease l = { .ip = ip, .expires = expires, .offered = offered };
	const char *name = *m->hostname ? m->hostname : old ? old->hostname : "";

	memcpy(l.mac, m->mac, 6);
	if (!lease_table_name_taken(s->leases, name, m->mac, now))
		g_strlcpy(l.hostname, name, sizeof(l.hostname));
	if (st) {
		l.is_static = true;
		l.expires = INT64_MAX;
		l.offered = false;
		if (st->hostname)
			sanitise_label((const uint8_t *)st->hostname, strlen(st->hostname), l.hostname,
				       sizeof(l.hostname));
	}
	return l;
}

static bool on_discover(struct dhcp_server *s, const struct dhcp_msg *m, int64_t now, struct dhcp_reply *r)
{
	struct in_addr ip = choose_address(s, m, now);
	const struct lease *held;
	struct lease l;

	if (!ip.s_addr) {
		g_debug("%s: no free address for " MAC_FMT, s->name, MAC_ARGS(m->mac));
		return false;
	}
	/* An acknowledged lease stays as it is; otherwise the offer holds the address a while. */
	held = lease_table_by_mac(s->leases, m->mac, now);
	if (!held || held->ip.s_addr != ip.s_addr || held->offered) {
		l = make_lease(s, m, ip, now, now + OFFER_HOLD_S, true);
		lease_table_set(s->leases, &l);
	}
	return reply_lease(s, m, DHCPOFFER, ip, r);
}

static bool server_id_other(const struct dhcp_server *s, const struct dhcp_msg *m, bool *present)
{
	struct in_addr id;

	*present = dhcp_opt_get_addr(m->opts, m->opts_len, DHCP_OPT_SERVER_ID, &id);
	return *present && id.s_addr != s->cfg.server_id.s_addr;
}

/* The client chose another server's offer: ours goes back to the pool. */
static void withdraw_offer(struct dhcp_server *s, const uint8_t mac[6], int64_t now)
{
	const struct lease *l = lease_table_by_mac(s->leases, mac, now);

	if (l && l->offered)
		lease_table_remove_mac(s->leases, mac);
}

/* Would recording @l in place of @old (the MAC's live lease, or NULL)
 * change the state file's leases, expiry aside? */
static bool lease_news(const struct lease *old, const struct lease *l, int64_t now)
{
	if (!on_disk(l, now))
		return old && on_disk(old, now);
	return !old || !on_disk(old, now) || old->ip.s_addr != l->ip.s_addr ||
	       strcmp(old->hostname, l->hostname) != 0;
}

/* SELECTING names us and the address in option 50; INIT-REBOOT names the
 * address only; RENEWING and REBINDING carry it in ciaddr (RFC 2131 4.3.2). */
static bool on_request(struct dhcp_server *s, const struct dhcp_msg *m, int64_t now, struct dhcp_reply *r)
{
	struct in_addr ip = m->ciaddr, opt50;
	bool has_id, has_opt50 = dhcp_opt_get_addr(m->opts, m->opts_len, DHCP_OPT_REQUESTED_IP, &opt50);
	const struct lease *old;
	struct lease l;
	bool renewal, news;
	char buf[INET_ADDRSTRLEN];

	if (server_id_other(s, m, &has_id)) {
		withdraw_offer(s, m->mac, now);
		return false;
	}
	if (has_opt50 && (has_id || !ip.s_addr))
		ip = opt50;
	if (!ip.s_addr)
		return false;		/* asks for nothing in particular: malformed */
	if (!in_subnet(s, ip))
		return reply_nak(s, m, "wrong network", r);
	if (!may_hold(s, m->mac, ip, now))
		return reply_nak(s, m, "address not available", r);
	old = lease_table_by_mac(s->leases, m->mac, now);
	renewal = old && !old->offered && old->ip.s_addr == ip.s_addr;
	l = make_lease(s, m, ip, now, lease_expiry(s, now), false);
	news = lease_news(old, &l, now);
	lease_table_set(s->leases, &l);
	if (news || s->unsaved)
		save_state(s, now);
	/* A new lease is news; a renewal, every half lease per VM, is not. */
	g_log(G_LOG_DOMAIN, renewal ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_MESSAGE, "%s: %s to " MAC_FMT "%s%s",
	      s->name, ip_str(ip, buf), MAC_ARGS(m->mac), *l.hostname ? " " : "", l.hostname);
	return reply_lease(s, m, DHCPACK, ip, r);
}

static void on_release(struct dhcp_server *s, const struct dhcp_msg *m, int64_t now)
{
	const struct lease *l = lease_table_by_mac(s->leases, m->mac, now);
	bool has_id, written;

	if (server_id_other(s, m, &has_id) || !l || l->is_static || l->ip.s_addr != m->ciaddr.s_addr)
		return;
	written = on_disk(l, now);
	lease_table_remove_mac(s->leases, m->mac);
	if (written)
		save_state(s, now);
}

/* The client found its address in use by someone else: nobody gets it for
 * a lease time, by which the squatter has likely gone, and the client asks
 * again from scratch. Only the client holding or offered the address may
 * decline it, so no VM can strike others' addresses off. */
static void on_decline(struct dhcp_server *s, const struct dhcp_msg *m, int64_t now)
{
	struct declined d;
	const struct lease *l;
	bool has_id, written;
	char buf[INET_ADDRSTRLEN];

	if (server_id_other(s, m, &has_id) ||
	    !dhcp_opt_get_addr(m->opts, m->opts_len, DHCP_OPT_REQUESTED_IP, &d.ip))
		return;
	l = lease_table_by_ip(s->leases, d.ip, now);
	if (!l || memcmp(l->mac, m->mac, 6) != 0)
		return;
	g_message("%s: " MAC_FMT " declined %s: in use by another machine", s->name, MAC_ARGS(m->mac),
		  ip_str(d.ip, buf));
	if (l->is_static)
		return;		/* still its own: nothing else to give it */
	written = on_disk(l, now);
	lease_table_remove_mac(s->leases, m->mac);
	d.until = lease_expiry(s, now);
	g_array_append_val(s->declined, d);
	if (written)
		save_state(s, now);
}

/* The client has its address and wants only the parameters (RFC 2131 4.3.5). */
static bool on_inform(struct dhcp_server *s, const struct dhcp_msg *m, struct dhcp_reply *r)
{
	struct dhcp_opt_writer w;

	reply_begin(s, m, DHCPACK, inaddr(0), r, &w);
	put_params(s, m, &w);
	reply_end(r, &w);
	return true;
}

bool dhcp_server_input(struct dhcp_server *s, const uint8_t *msg, size_t len, int64_t now,
		       struct dhcp_reply *reply)
{
	struct dhcp_msg m;

	if (!parse_msg(msg, len, BOOTREQUEST, &m) || mac_is_group(m.mac) || mac_is_zero(m.mac))
		return false;		/* malformed, or a group or zero MAC nobody could lease to */
	if (memcmp(msg + BOOTP_GIADDR, "\0\0\0\0", 4) != 0)
		return false;		/* relayed: we serve our own segment only */
	switch (m.type) {
	case DHCPDISCOVER:
		return on_discover(s, &m, now, reply);
	case DHCPREQUEST:
		return on_request(s, &m, now, reply);
	case DHCPRELEASE:
		on_release(s, &m, now);
		return false;
	case DHCPDECLINE:
		on_decline(s, &m, now);
		return false;
	case DHCPINFORM:
		return on_inform(s, &m, reply);
	default:
		return false;
	}
}

/* Set-up */

/* Appends @name as RFC 1035 labels (uncompressed, which RFC 3397 allows)
 * to the search option; false, and nothing appended, when a label is empty
 * or too long, or the option area could never carry it. */
static bool encode_search_name(struct dhcp_server *s, const char *name)
{
	g_auto(GStrv) labels = g_strsplit(name, ".", 0);
	uint8_t enc[256];		/* RFC 1035 2.3.4: a name is at most 255 bytes */
	size_t n = 0;

	for (char **p = labels; *p; p++) {
		size_t l = strlen(*p);

		if (!l && !p[1] && p != labels)
			break;		/* a trailing dot: already absolute */
		if (!l || l > LEASE_HOSTNAME_MAX || n + 1 + l + 1 > 255)
			return false;
		enc[n++] = (uint8_t)l;
		memcpy(enc + n, *p, l);
		n += l;
	}
	enc[n++] = 0;
	if (n > sizeof(s->search) - s->search_len)
		return false;
	memcpy(s->search + s->search_len, enc, n);
	s->search_len += n;
	return true;
}

/* Our copy of @cfg's static leases, less those on reserved addresses:
 * the service using the address would answer for it whatever we say. */
static void copy_statics(struct dhcp_server *s, const struct dhcp_server_config *cfg)
{
	char buf[INET_ADDRSTRLEN];

	s->statics = g_new0(struct dhcp_static_lease, cfg->n_statics + 1);
	s->cfg.n_statics = 0;
	for (size_t i = 0; i < cfg->n_statics; i++) {
		const struct dhcp_static_lease *st = &cfg->statics[i];

		if (is_reserved(s, st->ip)) {
			g_message("%s: static lease of " MAC_FMT " left out: %s is the network's own",
				  s->name, MAC_ARGS(st->mac), ip_str(st->ip, buf));
			continue;
		}
		s->statics[s->cfg.n_statics] = *st;
		s->statics[s->cfg.n_statics++].hostname = g_strdup(st->hostname);
	}
	s->cfg.statics = s->statics;
}

static void copy_config(struct dhcp_server *s, const struct dhcp_server_config *cfg)
{
	s->cfg = *cfg;
	s->cfg.domain = g_strdup(cfg->domain);
	s->cfg.client_hostname = g_strdup(cfg->client_hostname);
	s->cfg.bootfile = g_strdup(cfg->bootfile);
	s->cfg.state_file = g_strdup(cfg->state_file);
	s->name = cfg->name ? g_strdup_printf("%s: dhcp", cfg->name) : g_strdup("dhcp");
	s->cfg.search = NULL;		/* encoded below, not kept */
	s->reserved = g_new0(struct in_addr, cfg->n_reserved + 1);
	if (cfg->n_reserved)
		memcpy(s->reserved, cfg->reserved, cfg->n_reserved * sizeof(*s->reserved));
	s->cfg.reserved = s->reserved;
	copy_statics(s, cfg);
	s->lease_time = cfg->lease_time_s ? cfg->lease_time_s : LEASE_TIME_FALLBACK_S;
	for (const char *const *p = cfg->search; p && *p; p++)
		if (!encode_search_name(s, *p))
			g_message("%s: search domain '%s' left out: not a valid name, or no room", s->name, *p);
}

static void add_statics(struct dhcp_server *s)
{
	for (size_t i = 0; i < s->cfg.n_statics; i++) {
		const struct dhcp_static_lease *st = &s->statics[i];
		struct lease l = { .ip = st->ip, .expires = INT64_MAX, .is_static = true };

		memcpy(l.mac, st->mac, 6);
		if (st->hostname)
			sanitise_label((const uint8_t *)st->hostname, strlen(st->hostname), l.hostname,
				       sizeof(l.hostname));
		lease_table_set(s->leases, &l);
	}
}

struct dhcp_server *dhcp_server_new(const struct dhcp_server_config *cfg,
				    struct lease_table *leases, int64_t now, GError **err)
{
	struct dhcp_server *s = g_new0(struct dhcp_server, 1);

	copy_config(s, cfg);
	s->declined = g_array_new(FALSE, FALSE, sizeof(struct declined));
	s->leases = leases;
	add_statics(s);
	if (!load_state(s, now, err)) {
		dhcp_server_free(s);
		return NULL;
	}
	return s;
}

void dhcp_server_free(struct dhcp_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cfg.n_statics; i++)
		g_free(s->statics[i].hostname);
	g_free(s->statics);
	g_free(s->reserved);
	g_free((char *)s->cfg.domain);
	g_free((char *)s->cfg.client_hostname);
	g_free((char *)s->cfg.bootfile);
	g_free((char *)s->cfg.state_file);
	g_free(s->name);
	g_array_free(s->declined, TRUE);
	g_free(s);
}

/* Snooping */

/* The DHCP message of type @type1 or @type2 in @frame's UDP datagram from
 * @sport to @dport, with BOOTP op @op. */
static bool snoop(const uint8_t *frame, size_t len, uint16_t sport, uint16_t dport, uint8_t op,
		  uint8_t type1, uint8_t type2, struct dhcp_msg *m)
{
	struct udp4_view v;

	/* The view's pointers are writable, but nothing writes through them here. */
	if (!frame_udp4((uint8_t *)frame, len, &v))
		return false;
	if (get_be16(v.udp) != sport || get_be16(v.udp + 2) != dport)
		return false;
	if (!parse_msg(v.payload, v.payload_len, op, m))
		return false;
	return m->type == type1 || m->type == type2;
}

bool dhcp_snoop_ack(const uint8_t *frame, size_t len, int64_t now, struct lease *out)
{
	struct dhcp_msg m;
	uint32_t secs;

	if (!snoop(frame, len, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, BOOTREPLY, DHCPACK, DHCPACK, &m) ||
	    !m.yiaddr.s_addr)
		return false;		/* no address: the answer to an INFORM */
	*out = (struct lease){ .ip = m.yiaddr, .expires = INT64_MAX };
	memcpy(out->mac, m.mac, 6);
	if (dhcp_opt_get_u32(m.opts, m.opts_len, DHCP_OPT_LEASE_TIME, &secs) && secs != LEASE_INFINITE)
		out->expires = now + secs;
	g_strlcpy(out->hostname, m.hostname, sizeof(out->hostname));
	return true;
}

bool dhcp_snoop_request(const uint8_t *frame, size_t len, uint8_t mac[6], char *hostname, size_t size)
{
	struct dhcp_msg m;

	if (!snoop(frame, len, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, BOOTREQUEST, DHCPDISCOVER, DHCPREQUEST,
		   &m))
		return false;
	memcpy(mac, m.mac, 6);
	if (size)
		g_strlcpy(hostname, m.hostname, size);
	return true;
}
