/* test_dhcp_server.c - the DHCP server's exchanges, its state file, snooping, and the option walker's bounds. */
#include <arpa/inet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "vmnetd/dhcp_options.h"
#include "vmnetd/dhcp_server.h"
#include "vmnetd/frame.h"

#define T0		1700000000	/* wall clock at the start of each test */
#define LEASE_S		3600
#define MSG_MAX		548		/* what a client sends at most, here */
#define STATIC_MAC	0xaa

static const char *const search[] = { "vm.test", "example.org", NULL };

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	g_assert_cmpint(inet_pton(AF_INET, s, &a), ==, 1);
	return a;
}

static void mac_of(uint8_t last, uint8_t mac[6])
{
	const uint8_t m[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, last };

	memcpy(mac, m, 6);
}

/* The network of these tests: 10.0.0.0/24, pool .100 to .110, one static host. */
struct fixture {
	struct dhcp_static_lease st;
	struct dhcp_server_config cfg;
	struct lease_table *leases;
	struct dhcp_server *s;
	char *dir;
};

static void fixture_config(struct fixture *f)
{
	mac_of(STATIC_MAC, f->st.mac);
	f->st.ip = ip4("10.0.0.50");
	f->st.hostname = "fixed";
	f->cfg = (struct dhcp_server_config){
		.server_id = ip4("10.0.0.1"),
		.netmask = ip4("255.255.255.0"),
		.pool_start = ip4("10.0.0.100"),
		.pool_end = ip4("10.0.0.110"),
		.router = ip4("10.0.0.1"),
		.dns = ip4("10.0.0.1"),
		.lease_time_s = LEASE_S,
		.mtu = 1400,
		.domain = "vm.test",
		.search = search,
		.statics = &f->st,
		.n_statics = 1,
	};
}

static void fixture_start(struct fixture *f, int64_t now)
{
	GError *err = NULL;

	f->leases = lease_table_new();
	f->s = dhcp_server_new(&f->cfg, f->leases, now, &err);
	g_assert_no_error(err);
	g_assert_nonnull(f->s);
}

static void fixture_stop(struct fixture *f)
{
	dhcp_server_free(f->s);
	lease_table_free(f->leases);
	f->s = NULL;
	f->leases = NULL;
}

static void setup(struct fixture *f, gconstpointer data)
{
	(void)data;
	memset(f, 0, sizeof(*f));
	fixture_config(f);
	fixture_start(f, T0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
	(void)data;
	fixture_stop(f);
	if (f->dir) {
		g_autofree char *state = g_build_filename(f->dir, "leases", NULL);

		g_remove(state);
		g_rmdir(f->dir);
		g_free(f->dir);
	}
}

/* A client message as the tests want it. */
struct req {
	uint8_t type;
	uint8_t mac;			/* last byte of 52:54:00:12:34:xx */
	const char *ciaddr, *requested, *server_id, *hostname;
	bool broadcast;
	uint16_t max_size;		/* option 57; 0: none */
};

static size_t build(uint8_t *b, const struct req *r)
{
	static const uint8_t cookie[4] = { 99, 130, 83, 99 };
	static const uint8_t prl[] = { 1, 3, 6, 12, 15, 26, 28, 119 };
	struct dhcp_opt_writer w;

	memset(b, 0, MSG_MAX);
	b[BOOTP_OP] = BOOTREQUEST;
	b[BOOTP_HTYPE] = 1;
	b[BOOTP_HLEN] = 6;
	memcpy(b + BOOTP_XID, "\x12\x34\x56\x78", 4);
	if (r->broadcast)
		put_be16(b + BOOTP_FLAGS, BOOTP_FLAG_BROADCAST);
	if (r->ciaddr) {
		struct in_addr c = ip4(r->ciaddr);

		memcpy(b + BOOTP_CIADDR, &c, 4);
	}
	mac_of(r->mac, b + BOOTP_CHADDR);
	memcpy(b + BOOTP_COOKIE, cookie, 4);
	dhcp_opt_writer_init(&w, b + BOOTP_OPTIONS, MSG_MAX - BOOTP_OPTIONS);
	g_assert_true(dhcp_opt_put_u8(&w, DHCP_OPT_MSG_TYPE, r->type));
	if (r->requested)
		g_assert_true(dhcp_opt_put_addr(&w, DHCP_OPT_REQUESTED_IP, ip4(r->requested)));
	if (r->server_id)
		g_assert_true(dhcp_opt_put_addr(&w, DHCP_OPT_SERVER_ID, ip4(r->server_id)));
	if (r->hostname)
		g_assert_true(dhcp_opt_put(&w, DHCP_OPT_HOSTNAME, r->hostname, strlen(r->hostname)));
	if (r->max_size)
		g_assert_true(dhcp_opt_put_u16(&w, DHCP_OPT_MAX_MSG_SIZE, r->max_size));
	g_assert_true(dhcp_opt_put(&w, DHCP_OPT_PARAM_REQUEST, prl, sizeof(prl)));
	return BOOTP_OPTIONS + dhcp_opt_finish(&w);
}

/* Sends @r; returns the reply's message type, 0 when there is none. */
static uint8_t send_req(struct fixture *f, const struct req *r, int64_t now, struct dhcp_reply *rep)
{
	uint8_t b[MSG_MAX];
	size_t len = build(b, r);
	const uint8_t *opts;
	size_t opts_len;
	uint8_t type = 0;

	memset(rep, 0, sizeof(*rep));
	if (!dhcp_server_input(f->s, b, len, now, rep))
		return 0;
	g_assert_cmpuint(rep->len, >=, 300);
	g_assert_cmpuint(rep->len, <=, DHCP_REPLY_MAX);
	g_assert_cmpuint(rep->msg[BOOTP_OP], ==, BOOTREPLY);
	g_assert_cmpmem(rep->msg + BOOTP_XID, 4, b + BOOTP_XID, 4);
	g_assert_cmpmem(rep->msg + BOOTP_CHADDR, 6, b + BOOTP_CHADDR, 6);
	g_assert_true(dhcp_msg_options(rep->msg, rep->len, &opts, &opts_len));
	g_assert_true(dhcp_opts_valid(opts, opts_len));
	g_assert_true(dhcp_opt_get_u8(opts, opts_len, DHCP_OPT_MSG_TYPE, &type));
	return type;
}

static struct in_addr yiaddr(const struct dhcp_reply *rep)
{
	struct in_addr a;

	memcpy(&a, rep->msg + BOOTP_YIADDR, 4);
	return a;
}

static bool reply_opt(const struct dhcp_reply *rep, uint8_t code, struct dhcp_opt *o)
{
	return dhcp_opt_find(rep->msg + BOOTP_OPTIONS, rep->len - BOOTP_OPTIONS, code, o);
}

static uint32_t reply_u32(const struct dhcp_reply *rep, uint8_t code)
{
	uint32_t v = 0;

	g_assert_true(dhcp_opt_get_u32(rep->msg + BOOTP_OPTIONS, rep->len - BOOTP_OPTIONS, code, &v));
	return v;
}

static const char *ip_str(struct in_addr a)
{
	static char buf[INET_ADDRSTRLEN];

	return inet_ntop(AF_INET, &a, buf, sizeof(buf));
}

static const struct lease *lease_of(struct fixture *f, uint8_t last, int64_t now)
{
	uint8_t mac[6];

	mac_of(last, mac);
	return lease_table_by_mac(f->leases, mac, now);
}

/* DISCOVER then REQUEST (SELECTING) from @mac; returns the acknowledged address. */
static struct in_addr get_lease(struct fixture *f, uint8_t mac, const char *want, int64_t now)
{
	struct dhcp_reply rep;
	char offered[INET_ADDRSTRLEN];

	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = mac, .requested = want }, now,
				  &rep), ==, DHCPOFFER);
	g_strlcpy(offered, ip_str(yiaddr(&rep)), sizeof(offered));
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = mac, .requested = offered,
						   .server_id = "10.0.0.1", .hostname = "vm" },
				  now, &rep), ==, DHCPACK);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), ==, offered);
	return yiaddr(&rep);
}

static void test_discover_offer(struct fixture *f, gconstpointer data)
{
	static const uint8_t search_enc[] = { 2, 'v', 'm', 4, 't', 'e', 's', 't', 0,
					      7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0 };
	struct dhcp_reply rep;
	struct dhcp_opt o;
	const struct lease *l;
	uint8_t mac[6];

	(void)data;
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }, T0, &rep), ==, DHCPOFFER);
	g_assert_cmpuint(ntohl(yiaddr(&rep).s_addr), >=, ntohl(ip4("10.0.0.100").s_addr));
	g_assert_cmpuint(ntohl(yiaddr(&rep).s_addr), <=, ntohl(ip4("10.0.0.110").s_addr));
	/* No broadcast flag: unicast to the offered address at chaddr. */
	g_assert_cmpuint(rep.dst_ip.s_addr, ==, yiaddr(&rep).s_addr);
	mac_of(1, mac);
	g_assert_cmpmem(rep.dst_mac, 6, mac, 6);
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_SERVER_ID), ==, ntohl(ip4("10.0.0.1").s_addr));
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_LEASE_TIME), ==, LEASE_S);
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_T1), ==, LEASE_S / 2);
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_T2), ==, LEASE_S * 7 / 8);
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_NETMASK), ==, 0xffffff00);
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_BROADCAST), ==, ntohl(ip4("10.0.0.255").s_addr));
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_ROUTER), ==, ntohl(ip4("10.0.0.1").s_addr));
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_DNS), ==, ntohl(ip4("10.0.0.1").s_addr));
	g_assert_true(reply_opt(&rep, DHCP_OPT_DOMAIN, &o));
	g_assert_cmpmem(o.data, o.len, "vm.test", 7);
	g_assert_true(reply_opt(&rep, DHCP_OPT_SEARCH, &o));
	g_assert_cmpmem(o.data, o.len, search_enc, sizeof(search_enc));
	g_assert_true(reply_opt(&rep, DHCP_OPT_MTU, &o));
	g_assert_cmpuint(o.len, ==, 2);
	g_assert_cmpuint(get_be16(o.data), ==, 1400);
	g_assert_false(reply_opt(&rep, DHCP_OPT_HOSTNAME, &o));
	g_assert_cmpmem(rep.msg + BOOTP_CIADDR, 4, "\0\0\0\0", 4);
	/* The offer holds the address, unacknowledged. */
	l = lease_of(f, 1, T0);
	g_assert_nonnull(l);
	g_assert_true(l->offered);
	g_assert_cmpuint(l->ip.s_addr, ==, yiaddr(&rep).s_addr);

	/* Broadcast flag: the offer is broadcast. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 2, .broadcast = true }, T0,
				  &rep), ==, DHCPOFFER);
	g_assert_cmpuint(rep.dst_ip.s_addr, ==, htonl(INADDR_BROADCAST));
	g_assert_cmpmem(rep.dst_mac, 6, "\xff\xff\xff\xff\xff\xff", 6);
	g_assert_cmpuint(get_be16(rep.msg + BOOTP_FLAGS), ==, BOOTP_FLAG_BROADCAST);
}

static void test_request_ack(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a;
	const struct lease *l;

	(void)data;
	a = get_lease(f, 1, NULL, T0);
	l = lease_of(f, 1, T0);
	g_assert_nonnull(l);
	g_assert_false(l->offered);
	g_assert_false(l->is_static);
	g_assert_cmpuint(l->ip.s_addr, ==, a.s_addr);
	g_assert_cmpint(l->expires, ==, T0 + LEASE_S);
	g_assert_cmpstr(l->hostname, ==, "vm");
	g_assert_true(lease_table_by_name(f->leases, "VM", T0) == l);

	/* The acknowledged lease stays what it is across another DISCOVER. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }, T0 + 10, &rep), ==,
			 DHCPOFFER);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, a.s_addr);
	l = lease_of(f, 1, T0);
	g_assert_false(l->offered);
	g_assert_cmpint(l->expires, ==, T0 + LEASE_S);
}

static void test_same_address(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a, b;

	(void)data;
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 7 }, T0, &rep), ==, DHCPOFFER);
	a = yiaddr(&rep);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 7 }, T0 + 1, &rep), ==,
			 DHCPOFFER);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, a.s_addr);
	b = get_lease(f, 7, NULL, T0 + 2);
	g_assert_cmpuint(b.s_addr, ==, a.s_addr);
	/* Long after the lease expired, it still comes back. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 7 }, T0 + 10 * LEASE_S, &rep),
			 ==, DHCPOFFER);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, a.s_addr);
	/* Even forgotten, the MAC's pool position brings the same address. */
	lease_table_expire(f->leases, T0 + 20 * LEASE_S);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 7 }, T0 + 20 * LEASE_S, &rep),
			 ==, DHCPOFFER);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, a.s_addr);
}

static void test_requested(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;

	(void)data;
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1, .requested = "10.0.0.105" },
				  T0, &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), ==, "10.0.0.105");
	/* Held by an offer to another MAC: not given twice. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 2, .requested = "10.0.0.105" },
				  T0, &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), !=, "10.0.0.105");
	/* Outside the pool, the server's own, or the static host's: another address instead. */
	for (const char *const *ip = (const char *const[]){ "10.0.0.20", "10.0.0.1", "10.0.0.50", "10.0.0.255",
							    "192.168.1.5", NULL }; *ip; ip++) {
		g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 3, .requested = *ip },
					  T0, &rep), ==, DHCPOFFER);
		g_assert_cmpstr(ip_str(yiaddr(&rep)), !=, *ip);
		g_assert_cmpuint(ntohl(yiaddr(&rep).s_addr), >=, ntohl(ip4("10.0.0.100").s_addr));
	}
}

static void test_nak(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a;
	char held[INET_ADDRSTRLEN];

	(void)data;
	a = get_lease(f, 1, NULL, T0);
	g_strlcpy(held, ip_str(a), sizeof(held));
	/* Someone else's address: NAK, broadcast, no address. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 2, .requested = held,
						   .server_id = "10.0.0.1" }, T0, &rep), ==, DHCPNAK);
	g_assert_cmpuint(rep.dst_ip.s_addr, ==, htonl(INADDR_BROADCAST));
	g_assert_cmpmem(rep.dst_mac, 6, "\xff\xff\xff\xff\xff\xff", 6);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, 0);
	g_assert_cmpuint(lease_of(f, 1, T0)->ip.s_addr, ==, a.s_addr);
	/* INIT-REBOOT from another network. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 3, .requested = "192.168.1.5" },
				  T0, &rep), ==, DHCPNAK);
	/* INIT-REBOOT to an address of ours that is not in the pool. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 3, .requested = "10.0.0.20" },
				  T0, &rep), ==, DHCPNAK);
	/* RENEWING from a foreign address, even with the broadcast flag: NAK broadcast. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 3, .ciaddr = "172.16.0.9" },
				  T0, &rep), ==, DHCPNAK);
	g_assert_cmpuint(rep.dst_ip.s_addr, ==, htonl(INADDR_BROADCAST));
	g_assert_null(lease_of(f, 3, T0));
	/* A REQUEST naming nothing is malformed: no answer. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 3 }, T0, &rep), ==, 0);
}

static void test_other_server(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	char offered[INET_ADDRSTRLEN];

	(void)data;
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }, T0, &rep), ==, DHCPOFFER);
	g_strlcpy(offered, ip_str(yiaddr(&rep)), sizeof(offered));
	/* The client took another server's offer: silence, and ours is withdrawn. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.7",
						   .server_id = "10.0.0.2" }, T0, &rep), ==, 0);
	g_assert_null(lease_of(f, 1, T0));
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 2, .requested = offered },
				  T0, &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), ==, offered);
}

static void test_init_reboot(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a;
	char mine[INET_ADDRSTRLEN];

	(void)data;
	a = get_lease(f, 1, "10.0.0.101", T0);
	g_strlcpy(mine, ip_str(a), sizeof(mine));
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = mine }, T0 + 100,
				  &rep), ==, DHCPACK);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, a.s_addr);
	g_assert_cmpint(lease_of(f, 1, T0)->expires, ==, T0 + 100 + LEASE_S);
	/* A client we never saw asking for a free pool address: ours to give, so granted. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 9, .requested = "10.0.0.109" },
				  T0, &rep), ==, DHCPACK);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), ==, "10.0.0.109");
}

static void test_renew(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a;
	char mine[INET_ADDRSTRLEN];
	uint8_t mac[6];

	(void)data;
	a = get_lease(f, 1, NULL, T0);
	g_strlcpy(mine, ip_str(a), sizeof(mine));
	mac_of(1, mac);
	/* RENEWING: unicast from ciaddr, answered to ciaddr, which the ACK echoes. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .ciaddr = mine }, T0 + 1800,
				  &rep), ==, DHCPACK);
	g_assert_cmpuint(rep.dst_ip.s_addr, ==, a.s_addr);
	g_assert_cmpmem(rep.dst_mac, 6, mac, 6);
	g_assert_cmpmem(rep.msg + BOOTP_CIADDR, 4, &a, 4);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, a.s_addr);
	g_assert_cmpint(lease_of(f, 1, T0)->expires, ==, T0 + 1800 + LEASE_S);
	g_assert_cmpstr(lease_of(f, 1, T0)->hostname, ==, "vm");	/* kept: not sent this time */
	/* REBINDING: broadcast with the flag, still answered to ciaddr. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .ciaddr = mine,
						   .broadcast = true }, T0 + 3200, &rep), ==, DHCPACK);
	g_assert_cmpuint(rep.dst_ip.s_addr, ==, a.s_addr);
	/* Renewing someone else's address: NAK. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 2, .ciaddr = mine }, T0 + 3200,
				  &rep), ==, DHCPNAK);
}

static void test_release(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a;
	char mine[INET_ADDRSTRLEN];

	(void)data;
	a = get_lease(f, 1, "10.0.0.104", T0);
	g_strlcpy(mine, ip_str(a), sizeof(mine));
	g_assert_cmpstr(mine, ==, "10.0.0.104");
	/* Another MAC cannot release it, nor the owner with a wrong address or server. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPRELEASE, .mac = 2, .ciaddr = mine,
						   .server_id = "10.0.0.1" }, T0, &rep), ==, 0);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPRELEASE, .mac = 1, .ciaddr = "10.0.0.105",
						   .server_id = "10.0.0.1" }, T0, &rep), ==, 0);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPRELEASE, .mac = 1, .ciaddr = mine,
						   .server_id = "10.0.0.9" }, T0, &rep), ==, 0);
	g_assert_nonnull(lease_of(f, 1, T0));
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPRELEASE, .mac = 1, .ciaddr = mine,
						   .server_id = "10.0.0.1" }, T0, &rep), ==, 0);
	g_assert_null(lease_of(f, 1, T0));
	a = get_lease(f, 2, "10.0.0.104", T0 + 1);
	g_assert_cmpstr(ip_str(a), ==, "10.0.0.104");
}

static void test_decline(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a;
	char bad[INET_ADDRSTRLEN];

	(void)data;
	a = get_lease(f, 1, NULL, T0);
	g_strlcpy(bad, ip_str(a), sizeof(bad));
	/* Nobody can decline another's address. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDECLINE, .mac = 2, .requested = bad,
						   .server_id = "10.0.0.1" }, T0, &rep), ==, 0);
	g_assert_nonnull(lease_of(f, 1, T0));
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDECLINE, .mac = 1, .requested = bad,
						   .server_id = "10.0.0.1" }, T0, &rep), ==, 0);
	g_assert_null(lease_of(f, 1, T0));
	/* The client starts over and gets another address; nobody gets this one for a while. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }, T0 + 1, &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), !=, bad);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 2, .requested = bad }, T0 + 1,
				  &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), !=, bad);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 3, .requested = bad }, T0 + 1,
				  &rep), ==, DHCPNAK);
	/* After a lease time, it is back in the pool. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 3, .requested = bad },
				  T0 + LEASE_S + 1, &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), ==, bad);
}

static void test_inform(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct dhcp_opt o;

	(void)data;
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPINFORM, .mac = 4, .ciaddr = "10.0.0.30" }, T0,
				  &rep), ==, DHCPACK);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, 0);
	g_assert_cmpuint(rep.dst_ip.s_addr, ==, ip4("10.0.0.30").s_addr);
	g_assert_false(reply_opt(&rep, DHCP_OPT_LEASE_TIME, &o));
	g_assert_false(reply_opt(&rep, DHCP_OPT_T1, &o));
	g_assert_false(reply_opt(&rep, DHCP_OPT_T2, &o));
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_NETMASK), ==, 0xffffff00);
	g_assert_cmpuint(reply_u32(&rep, DHCP_OPT_DNS), ==, ntohl(ip4("10.0.0.1").s_addr));
	g_assert_null(lease_of(f, 4, T0));
}

static void test_static(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct dhcp_opt o;
	const struct lease *l;

	(void)data;
	l = lease_of(f, STATIC_MAC, T0);
	g_assert_nonnull(l);
	g_assert_true(l->is_static);
	g_assert_cmpstr(l->hostname, ==, "fixed");
	/* Its address even when it asks for another. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = STATIC_MAC,
						   .requested = "10.0.0.101" }, T0, &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), ==, "10.0.0.50");
	g_assert_true(reply_opt(&rep, DHCP_OPT_HOSTNAME, &o));
	g_assert_cmpmem(o.data, o.len, "fixed", 5);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = STATIC_MAC, .requested = "10.0.0.50",
						   .server_id = "10.0.0.1", .hostname = "other" }, T0, &rep), ==,
			 DHCPACK);
	l = lease_of(f, STATIC_MAC, T0 + 100 * LEASE_S);
	g_assert_true(l->is_static);
	g_assert_cmpstr(l->hostname, ==, "fixed");	/* the configured name wins */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = STATIC_MAC,
						   .requested = "10.0.0.101" }, T0, &rep), ==, DHCPNAK);
	/* Never anyone else's. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.50" }, T0,
				  &rep), ==, DHCPNAK);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1, .requested = "10.0.0.50" }, T0,
				  &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), !=, "10.0.0.50");
	g_assert_false(reply_opt(&rep, DHCP_OPT_HOSTNAME, &o));
	/* Releasing or declining it keeps it. */
	send_req(f, &(struct req){ .type = DHCPRELEASE, .mac = STATIC_MAC, .ciaddr = "10.0.0.50" }, T0, &rep);
	send_req(f, &(struct req){ .type = DHCPDECLINE, .mac = STATIC_MAC, .requested = "10.0.0.50" }, T0, &rep);
	g_assert_nonnull(lease_of(f, STATIC_MAC, T0));
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = STATIC_MAC }, T0, &rep), ==,
			 DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), ==, "10.0.0.50");
}

static void test_exhaustion(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	GHashTable *given = g_hash_table_new(NULL, NULL);

	(void)data;
	for (uint8_t m = 1; m <= 11; m++) {
		struct in_addr a = get_lease(f, m, NULL, T0);

		g_assert_false(g_hash_table_contains(given, GUINT_TO_POINTER(a.s_addr)));
		g_hash_table_add(given, GUINT_TO_POINTER(a.s_addr));
	}
	g_hash_table_destroy(given);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 12 }, T0, &rep), ==, 0);
	/* A freed address goes to the waiting client. */
	send_req(f, &(struct req){ .type = DHCPRELEASE, .mac = 5, .ciaddr = ip_str(lease_of(f, 5, T0)->ip) }, T0,
		 &rep);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 12 }, T0, &rep), ==, DHCPOFFER);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 13 }, T0, &rep), ==, 0);
	/* Offers that are never taken up give their addresses back; so do expired leases. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 13 }, T0 + LEASE_S, &rep), ==,
			 DHCPOFFER);
}

static void test_hostname(struct fixture *f, gconstpointer data)
{
	static const struct {
		const char *sent, *kept;
	} cases[] = {
		{ "...", "" },		/* first: an empty name keeps an earlier one */
		{ "my_vm.example.com", "my-vm" }, { "-abc-", "abc" }, { "a b\tc", "a-b-c" },
		{ "UPPER-lower-09", "UPPER-lower-09" },
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
		{ "caf\xc3\xa9", "caf" },
	};
	struct dhcp_reply rep;

	(void)data;
	for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.101",
							   .hostname = cases[i].sent }, T0, &rep), ==, DHCPACK);
		g_assert_cmpstr(lease_of(f, 1, T0)->hostname, ==, cases[i].kept);
	}
	/* A NUL inside the option ends the name. */
	uint8_t b[MSG_MAX];
	size_t len = build(b, &(struct req){ .type = DHCPREQUEST, .mac = 2, .requested = "10.0.0.102",
					     .hostname = "abXdef" });
	uint8_t *x = memchr(b + BOOTP_OPTIONS, 'X', len - BOOTP_OPTIONS);

	*x = 0;
	g_assert_true(dhcp_server_input(f->s, b, len, T0, &rep));
	g_assert_cmpstr(lease_of(f, 2, T0)->hostname, ==, "ab");
}

/* Messages that are not DHCP requests for us get no answer and change nothing. */
static void test_ignored(struct fixture *f, gconstpointer data)
{
	uint8_t b[MSG_MAX];
	struct dhcp_reply rep;
	size_t len;
	const struct req discover = { .type = DHCPDISCOVER, .mac = 1 };

	(void)data;
	len = build(b, &discover);
	b[BOOTP_OP] = BOOTREPLY;
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	len = build(b, &discover);
	b[BOOTP_HLEN] = 16;
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	len = build(b, &discover);
	b[BOOTP_HTYPE] = 6;
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	len = build(b, &discover);
	b[BOOTP_COOKIE] = 0;
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	len = build(b, &discover);
	b[BOOTP_GIADDR] = 10;			/* relayed */
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	len = build(b, &discover);
	b[BOOTP_CHADDR] = 0x01;			/* a group MAC */
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	len = build(b, &discover);
	memset(b + BOOTP_CHADDR, 0, 6);
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	/* Plain BOOTP: no message type. */
	len = build(b, &discover);
	b[BOOTP_OPTIONS] = DHCP_OPT_PAD;
	b[BOOTP_OPTIONS + 1] = DHCP_OPT_PAD;
	b[BOOTP_OPTIONS + 2] = DHCP_OPT_PAD;
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	/* Message type with a wrong length. */
	len = build(b, &discover);
	b[BOOTP_OPTIONS + 1] = 0;
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	for (unsigned t = 0; t < 256; t++) {
		if (t == DHCPDISCOVER || t == DHCPREQUEST || t == DHCPINFORM)
			continue;
		len = build(b, &(struct req){ .type = (uint8_t)t, .mac = 1, .ciaddr = "10.0.0.100",
					      .requested = "10.0.0.100", .server_id = "10.0.0.1" });
		g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	}
	g_assert_null(lease_of(f, 1, T0));
	g_assert_cmpuint(lease_table_size(f->leases), ==, 1);	/* the static lease alone */
}

/* Options that claim more bytes than the message has make it malformed;
 * a repeated option counts once, the first time. */
static void test_overrun(struct fixture *f, gconstpointer data)
{
	uint8_t b[MSG_MAX];
	struct dhcp_reply rep;
	size_t len;

	(void)data;
	len = build(b, &(struct req){ .type = DHCPDISCOVER, .mac = 1 });
	b[len - 1] = DHCP_OPT_HOSTNAME;		/* the end option becomes a name with no length */
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	len = build(b, &(struct req){ .type = DHCPDISCOVER, .mac = 1 });
	b[len - 1] = DHCP_OPT_HOSTNAME;
	b[len++] = 50;				/* 50 bytes of name, none there */
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
	/* No end option, but nothing overruns: accepted. */
	len = build(b, &(struct req){ .type = DHCPDISCOVER, .mac = 1 });
	g_assert_true(dhcp_server_input(f->s, b, len - 1, T0, &rep));
	/* Duplicated message type: the first one counts. */
	len = build(b, &(struct req){ .type = DHCPDISCOVER, .mac = 2 });
	memcpy(b + len - 1, (const uint8_t[]){ DHCP_OPT_MSG_TYPE, 1, DHCPRELEASE, DHCP_OPT_END }, 4);
	len += 3;
	g_assert_true(dhcp_server_input(f->s, b, len, T0, &rep));
	g_assert_cmpuint(rep.msg[BOOTP_OPTIONS + 2], ==, DHCPOFFER);
	/* A requested address of the wrong length is no request. */
	len = build(b, &(struct req){ .type = DHCPREQUEST, .mac = 3, .requested = "10.0.0.106" });
	b[BOOTP_OPTIONS + 4] = 3;		/* option 50's length: 4 -> 3, the 4th byte a pad-like stray */
	b[BOOTP_OPTIONS + 8] = DHCP_OPT_PAD;
	g_assert_false(dhcp_server_input(f->s, b, len, T0, &rep));
}

/* Every prefix of a valid message, each in an exact-size copy so a sanitizer
 * sees any read past its end. */
static void test_truncated(struct fixture *f, gconstpointer data)
{
	uint8_t b[MSG_MAX];
	struct dhcp_reply rep;
	const struct req reqs[] = {
		{ .type = DHCPDISCOVER, .mac = 1, .hostname = "vm", .requested = "10.0.0.103" },
		{ .type = DHCPREQUEST, .mac = 2, .requested = "10.0.0.104", .server_id = "10.0.0.1", .max_size = 1500 },
	};

	(void)data;
	for (unsigned r = 0; r < G_N_ELEMENTS(reqs); r++) {
		size_t full = build(b, &reqs[r]);

		for (size_t len = 0; len <= full; len++) {
			uint8_t *copy = g_memdup2(b, MAX(len, 1));
			bool answered = dhcp_server_input(f->s, copy, len, T0, &rep);

			/* Without the message type option (its 3 bytes after the cookie) nothing is answered. */
			if (len < BOOTP_OPTIONS + 3)
				g_assert_false(answered);
			if (answered)
				g_assert_cmpuint(rep.len, <=, DHCP_REPLY_MAX);
			g_free(copy);
		}
	}
}

/* Random damage to valid messages: nothing may crash or read out of bounds. */
static void test_fuzz(struct fixture *f, gconstpointer data)
{
	uint8_t b[MSG_MAX];
	struct dhcp_reply rep;
	const struct req reqs[] = {
		{ .type = DHCPDISCOVER, .mac = 1, .hostname = "fuzz", .requested = "10.0.0.103" },
		{ .type = DHCPREQUEST, .mac = 2, .requested = "10.0.0.104", .server_id = "10.0.0.1" },
		{ .type = DHCPREQUEST, .mac = 3, .ciaddr = "10.0.0.105", .max_size = 1500 },
		{ .type = DHCPINFORM, .mac = 4, .ciaddr = "10.0.0.30" },
		{ .type = DHCPDECLINE, .mac = 5, .requested = "10.0.0.106", .server_id = "10.0.0.1" },
	};
	unsigned answered = 0;

	(void)data;
	for (int i = 0; i < 20000; i++) {
		size_t len = build(b, &reqs[g_test_rand_int_range(0, G_N_ELEMENTS(reqs))]);
		int flips = g_test_rand_int_range(0, 8);
		uint8_t *copy;

		for (int k = 0; k < flips; k++) {
			/* Mostly the options and the header fields that steer the server. */
			size_t at = g_test_rand_bit() ? (size_t)g_test_rand_int_range(BOOTP_OPTIONS, (gint32)len)
						      : (size_t)g_test_rand_int_range(0, 44);

			b[at] = (uint8_t)g_test_rand_int_range(0, 256);
		}
		if (g_test_rand_bit())
			len = (size_t)g_test_rand_int_range(0, (gint32)len + 1);
		copy = g_memdup2(b, MAX(len, 1));
		if (dhcp_server_input(f->s, copy, len, T0 + i / 100, &rep)) {
			g_assert_cmpuint(rep.len, >=, 300);
			g_assert_cmpuint(rep.len, <=, DHCP_REPLY_MAX);
			answered++;
		}
		g_free(copy);
	}
	g_test_message("%u of 20000 damaged messages answered", answered);
	g_assert_cmpuint(answered, >, 0);
}

/* A reply fits 548 bytes unless the client takes more (option 57); what
 * does not fit is left out, the least needed first. */
static void test_reply_size(void)
{
	struct fixture f = { 0 };
	const char *many[40];
	char names[40][64];
	struct dhcp_reply rep;
	struct dhcp_opt o;

	fixture_config(&f);
	for (int i = 0; i < 39; i++) {
		g_snprintf(names[i], sizeof(names[i]), "domain-number-%02d.example.org", i);
		many[i] = names[i];
	}
	many[39] = NULL;
	f.cfg.search = many;
	fixture_start(&f, T0);
	g_assert_cmpuint(send_req(&f, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }, T0, &rep), ==, DHCPOFFER);
	g_assert_cmpuint(rep.len, <=, 548);
	g_assert_false(reply_opt(&rep, DHCP_OPT_SEARCH, &o));
	g_assert_true(reply_opt(&rep, DHCP_OPT_NETMASK, &o));
	g_assert_true(reply_opt(&rep, DHCP_OPT_DOMAIN, &o));
	fixture_stop(&f);

	/* A shorter list, over 255 bytes, fits once the client takes 1500 bytes:
	 * it goes as several option 119s (RFC 3396). */
	many[12] = NULL;
	fixture_start(&f, T0);
	g_assert_cmpuint(send_req(&f, &(struct req){ .type = DHCPDISCOVER, .mac = 1, .max_size = 1500 }, T0, &rep),
			 ==, DHCPOFFER);
	g_assert_cmpuint(rep.len, >, 548);
	g_assert_cmpuint(rep.len, <=, DHCP_REPLY_MAX);
	g_assert_true(reply_opt(&rep, DHCP_OPT_SEARCH, &o));
	g_assert_cmpuint(o.len, ==, 255);
	fixture_stop(&f);
}

/* State file */

static void start_with_file(struct fixture *f)
{
	f->dir = g_dir_make_tmp("vmnetd-dhcp-XXXXXX", NULL);
	g_assert_nonnull(f->dir);
	fixture_stop(f);
	f->cfg.state_file = g_build_filename(f->dir, "leases", NULL);
	fixture_start(f, T0);
}

static void test_state_roundtrip(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a, b;
	const struct lease *l;
	g_autofree char *state = NULL;

	(void)data;
	start_with_file(f);
	state = (char *)f->cfg.state_file;
	a = get_lease(f, 1, "10.0.0.107", T0);
	b = get_lease(f, 2, NULL, T0);
	g_assert_cmpstr(ip_str(a), ==, "10.0.0.107");
	/* An offer alone is not written. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 3 }, T0, &rep), ==, DHCPOFFER);

	/* The daemon restarts: same file, a new table. */
	fixture_stop(f);
	fixture_start(f, T0 + 100);
	l = lease_of(f, 1, T0 + 100);
	g_assert_nonnull(l);
	g_assert_cmpuint(l->ip.s_addr, ==, a.s_addr);
	g_assert_cmpint(l->expires, ==, T0 + 100 + LEASE_S);	/* a lease time from the restart */
	g_assert_cmpstr(l->hostname, ==, "vm");
	g_assert_null(lease_of(f, 3, T0 + 100));
	g_assert_cmpuint(lease_table_size(f->leases), ==, 3);	/* two leases and the static one */
	/* Another MAC cannot take it; the owner gets it back. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 3, .requested = "10.0.0.107" },
				  T0 + 100, &rep), ==, DHCPNAK);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }, T0 + 100, &rep), ==,
			 DHCPOFFER);
	g_assert_cmpuint(yiaddr(&rep).s_addr, ==, a.s_addr);

	/* A release is written too. */
	send_req(f, &(struct req){ .type = DHCPRELEASE, .mac = 2, .ciaddr = ip_str(b) }, T0 + 100, &rep);
	fixture_stop(f);
	fixture_start(f, T0 + 200);
	g_assert_null(lease_of(f, 2, T0 + 200));
	g_assert_nonnull(lease_of(f, 1, T0 + 200));

	/* Past its recorded expiry when the daemon comes back: still its MAC's
	 * for a lease time, as renewals are not written. */
	fixture_stop(f);
	fixture_start(f, T0 + 5 * LEASE_S);
	g_assert_cmpuint(lease_table_size(f->leases), ==, 2);
	g_assert_cmpint(lease_of(f, 1, T0 + 5 * LEASE_S)->expires, ==, T0 + 6 * LEASE_S);
	/* Not renewed then: it leaves the file at its next write. */
	get_lease(f, 4, NULL, T0 + 7 * LEASE_S);
	fixture_stop(f);
	fixture_start(f, T0 + 7 * LEASE_S);
	g_assert_null(lease_of(f, 1, INT64_MIN));
	g_assert_nonnull(lease_of(f, 4, T0 + 7 * LEASE_S));
	g_assert_cmpuint(lease_table_size(f->leases), ==, 2);
}

#define MARK "# not rewritten\n"

/* Renewals, however many, leave the state file alone (each write is an
 * fsync on the daemon's one loop); a lease that comes back after a restart
 * long past its recorded expiry is still the renewing VM's. */
static void test_state_renewals(struct fixture *f, gconstpointer data)
{
	struct dhcp_reply rep;
	struct in_addr a;
	const struct lease *l;
	char mine[INET_ADDRSTRLEN];
	g_autofree char *state = NULL, *text = NULL, *marked = NULL;
	int64_t t = T0;

	(void)data;
	start_with_file(f);
	state = (char *)f->cfg.state_file;
	a = get_lease(f, 1, NULL, T0);
	g_strlcpy(mine, ip_str(a), sizeof(mine));
	/* A line the server never writes: it stays as long as the file is not rewritten. */
	g_assert_true(g_file_get_contents(state, &text, NULL, NULL));
	marked = g_strconcat(text, MARK, NULL);
	g_assert_true(g_file_set_contents(state, marked, -1, NULL));
	for (int i = 0; i < 100; i++) {
		t += LEASE_S / 2;
		/* RENEWING, REBINDING, INIT-REBOOT with the same name: all renewals. */
		g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1,
							   .ciaddr = i % 3 == 2 ? NULL : mine,
							   .requested = i % 3 == 2 ? mine : NULL,
							   .hostname = i % 3 ? "vm" : NULL, .broadcast = i % 3 == 1 },
					  t, &rep), ==, DHCPACK);
		/* A DISCOVER from the VM on the way: offers are not written either. */
		if (i % 10 == 0)
			g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }, t, &rep), ==,
					 DHCPOFFER);
		/* Nor are the static host's requests. */
		if (i % 10 == 5)
			g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = STATIC_MAC,
								   .requested = "10.0.0.50" }, t, &rep), ==, DHCPACK);
	}
	g_free(text);
	g_assert_true(g_file_get_contents(state, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, marked);

	/* Restarted 50 lease times after the recorded expiry: still the VM's. */
	fixture_stop(f);
	fixture_start(f, t + 10);
	l = lease_of(f, 1, t + 10);
	g_assert_nonnull(l);
	g_assert_cmpuint(l->ip.s_addr, ==, a.s_addr);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 2, .requested = mine }, t + 10,
				  &rep), ==, DHCPNAK);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 2, .requested = mine }, t + 10,
				  &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), !=, mine);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .ciaddr = mine }, t + 20, &rep),
			 ==, DHCPACK);
	g_free(text);
	g_assert_true(g_file_get_contents(state, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, marked);

	/* A new host name is news: written. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .ciaddr = mine,
						   .hostname = "renamed" }, t + 30, &rep), ==, DHCPACK);
	g_free(text);
	g_assert_true(g_file_get_contents(state, &text, NULL, NULL));
	g_assert_null(strstr(text, MARK));
	g_assert_nonnull(strstr(text, " renamed\n"));
}

static void test_state_garbage(struct fixture *f, gconstpointer data)
{
	static const char text[] =
		"# comment\n"
		"\n"
		"52:54:00:12:34:01 10.0.0.103 1800000000 good\n"
		"52:54:00:12:34:02 10.0.0.104\n"
		"52:54:00:12:34:03 10.0.0.105 notanumber\n"
		"52:54:00:12:34:04 10.0.0.300 1800000000\n"
		"52:54:00:12:34 10.0.0.106 1800000000\n"
		"52:54:00:12:34:055 10.0.0.106 1800000000\n"
		"52:54:00:12:34:06 10.0.0.107 99999999999999999999999\n"
		"52:54:00:12:34:07 10.0.0.103 1800000000 sameaddress\n"
		"52:54:00:12:34:08 10.0.0.50 1800000000 thestaticone\n"
		"52:54:00:12:34:aa 10.0.0.108 1800000000 staticmac\n"
		"52:54:00:12:34:09 10.0.0.20 1800000000 outsidepool\n"
		"52:54:00:12:34:0a 10.0.0.109 1800000000 too many fields\n"
		"52:54:00:12:34:0b  10.0.0.110 1800000000\n"
		"52:54:00:12:34:0c 10.0.0.102 1800000000 bad_name.example\n"
		"\xff\xfe garbage \x01\x02\n"
		"52:54:00:12:34:0d 10.0.0.101 1800000000";	/* no final newline: still a line */
	g_autofree char *state = NULL;
	const struct lease *l;

	(void)data;
	start_with_file(f);
	state = (char *)f->cfg.state_file;
	fixture_stop(f);
	g_assert_true(g_file_set_contents(state, text, sizeof(text) - 1, NULL));
	fixture_start(f, T0);
	g_assert_cmpuint(lease_table_size(f->leases), ==, 4);	/* static, good, 0c, 0d */
	g_assert_cmpstr(lease_of(f, 1, T0)->hostname, ==, "good");
	g_assert_cmpstr(lease_of(f, 0x0c, T0)->hostname, ==, "bad-name");
	g_assert_nonnull(lease_of(f, 0x0d, T0));
	l = lease_of(f, STATIC_MAC, T0);
	g_assert_cmpstr(ip_str(l->ip), ==, "10.0.0.50");
	fixture_stop(f);

	/* Random bytes: whatever they say, nothing crashes. */
	for (int i = 0; i < 200; i++) {
		size_t n = (size_t)g_test_rand_int_range(0, 2000);
		g_autofree char *junk = g_malloc(n + 1);

		for (size_t k = 0; k < n; k++)
			junk[k] = (char)(g_test_rand_bit() ? " :.0123456789abcdef\n"[g_test_rand_int_range(0, 20)]
							   : g_test_rand_int_range(0, 256));
		g_assert_true(g_file_set_contents(state, junk, (gssize)n, NULL));
		fixture_start(f, T0);
		fixture_stop(f);
	}
	fixture_start(f, T0);
}

static void test_state_unreadable(struct fixture *f, gconstpointer data)
{
	GError *err = NULL;
	struct lease_table *t = lease_table_new();
	g_autofree char *state = NULL;

	(void)data;
	start_with_file(f);
	state = (char *)f->cfg.state_file;
	/* A directory where the file should be: it exists, and cannot be read. */
	g_assert_cmpint(g_mkdir(state, 0700), ==, 0);
	g_assert_null(dhcp_server_new(&f->cfg, t, T0, &err));
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err->message, state));
	g_error_free(err);
	g_rmdir(state);
	lease_table_free(t);
}

/* A client's host name is recorded only when no other MAC's live lease
 * holds it: no VM can take over a static host's name or another VM's. */
static void test_name_taken(struct fixture *f, gconstpointer data)
{
	static const char text[] = "52:54:00:12:34:05 10.0.0.105 1800000000 FIXED\n"
				   "52:54:00:12:34:06 10.0.0.106 1800000000 dup\n"
				   "52:54:00:12:34:07 10.0.0.107 1800000000 Dup\n";
	struct dhcp_reply rep;
	uint8_t mac[6];
	g_autofree char *state = NULL;

	(void)data;
	/* The static host's name. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.101",
						   .hostname = "Fixed" }, T0, &rep), ==, DHCPACK);
	g_assert_cmpstr(lease_of(f, 1, T0)->hostname, ==, "");
	g_assert_true(lease_table_by_name(f->leases, "fixed", T0)->is_static);
	/* Another VM's name, acknowledged or only offered. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.101",
						   .hostname = "db" }, T0, &rep), ==, DHCPACK);
	g_assert_cmpstr(lease_of(f, 1, T0)->hostname, ==, "db");
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 2, .hostname = "DB" }, T0, &rep),
			 ==, DHCPOFFER);
	g_assert_cmpstr(lease_of(f, 2, T0)->hostname, ==, "");
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 2, .requested = "10.0.0.102",
						   .hostname = "DB" }, T0, &rep), ==, DHCPACK);
	g_assert_cmpstr(lease_of(f, 2, T0)->hostname, ==, "");
	mac_of(1, mac);
	g_assert_cmpmem(lease_table_by_name(f->leases, "db", T0)->mac, 6, mac, 6);
	/* Its own name again is no clash. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .ciaddr = "10.0.0.101",
						   .hostname = "db" }, T0 + 1, &rep), ==, DHCPACK);
	g_assert_cmpstr(lease_of(f, 1, T0 + 1)->hostname, ==, "db");
	/* Once that lease has expired, the name is free; the old holder, back
	 * silent, does not get it again. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 2, .ciaddr = "10.0.0.102",
						   .hostname = "db" }, T0 + 2 * LEASE_S, &rep), ==, DHCPACK);
	g_assert_cmpstr(lease_of(f, 2, T0 + 2 * LEASE_S)->hostname, ==, "db");
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.101" },
				  T0 + 2 * LEASE_S, &rep), ==, DHCPACK);
	g_assert_cmpstr(lease_of(f, 1, T0 + 2 * LEASE_S)->hostname, ==, "");
	/* The static host keeps its configured name whatever it sends. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = STATIC_MAC, .requested = "10.0.0.50",
						   .hostname = "db" }, T0 + 2 * LEASE_S, &rep), ==, DHCPACK);
	g_assert_cmpstr(lease_of(f, STATIC_MAC, T0)->hostname, ==, "fixed");

	/* From the state file: the static name and a name taken by an earlier line are left out. */
	start_with_file(f);
	state = (char *)f->cfg.state_file;
	fixture_stop(f);
	g_assert_true(g_file_set_contents(state, text, sizeof(text) - 1, NULL));
	fixture_start(f, T0);
	g_assert_cmpuint(lease_table_size(f->leases), ==, 4);
	g_assert_cmpstr(lease_of(f, 5, T0)->hostname, ==, "");
	g_assert_cmpstr(lease_of(f, 6, T0)->hostname, ==, "dup");
	g_assert_cmpstr(lease_of(f, 7, T0)->hostname, ==, "");
	g_assert_true(lease_table_by_name(f->leases, "fixed", T0)->is_static);
}

/* Reserved addresses (the NAT's own services) are never anyone's. */
static void test_reserved(struct fixture *f, gconstpointer data)
{
	static const char text[] = "52:54:00:12:34:05 10.0.0.103 1800000000 a\n"
				   "52:54:00:12:34:06 10.0.0.104 1800000000 b\n";
	const struct in_addr reserved[] = { ip4("10.0.0.100"), ip4("10.0.0.103"), ip4("10.0.0.50") };
	struct dhcp_reply rep;
	g_autofree char *state = NULL;

	(void)data;
	fixture_stop(f);
	f->cfg.reserved = reserved;
	f->cfg.n_reserved = G_N_ELEMENTS(reserved);
	fixture_start(f, T0);
	/* The static lease on a reserved address is left out. */
	g_assert_null(lease_of(f, STATIC_MAC, T0));
	/* Asked for by INIT-REBOOT, RENEWING or SELECTING: NAK. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.100" }, T0,
				  &rep), ==, DHCPNAK);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .ciaddr = "10.0.0.103" }, T0,
				  &rep), ==, DHCPNAK);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.103",
						   .server_id = "10.0.0.1" }, T0, &rep), ==, DHCPNAK);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = STATIC_MAC,
						   .requested = "10.0.0.50" }, T0, &rep), ==, DHCPNAK);
	g_assert_null(lease_of(f, 1, T0));
	/* Asked for in a DISCOVER: another address. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1, .requested = "10.0.0.103" }, T0,
				  &rep), ==, DHCPOFFER);
	g_assert_cmpstr(ip_str(yiaddr(&rep)), ==, "10.0.0.101");
	/* The whole pool handed out (11 addresses less 2): never a reserved one. */
	for (uint8_t m = 1; m <= 9; m++) {
		const char *ip = ip_str(get_lease(f, m, NULL, T0));

		g_assert_cmpstr(ip, !=, "10.0.0.100");
		g_assert_cmpstr(ip, !=, "10.0.0.103");
	}
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 10 }, T0, &rep), ==, 0);
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = STATIC_MAC }, T0, &rep), ==, 0);

	/* Nor taken back from the state file. */
	start_with_file(f);
	state = (char *)f->cfg.state_file;
	fixture_stop(f);
	g_assert_true(g_file_set_contents(state, text, sizeof(text) - 1, NULL));
	fixture_start(f, T0);
	g_assert_null(lease_of(f, 5, T0));
	g_assert_nonnull(lease_of(f, 6, T0));
	g_assert_cmpuint(lease_table_size(f->leases), ==, 1);
}

/* Snooping */

#define FRAME_MAX (ETH_HLEN + 20 + 8 + DHCP_REPLY_MAX)

/* @payload in an Ethernet/IPv4/UDP frame from port @sport to @dport. */
static size_t wrap(uint8_t *f, const uint8_t *payload, size_t len, uint16_t sport, uint16_t dport)
{
	uint8_t *ip = f + ETH_HLEN, *udp = ip + 20;

	memset(f, 0, ETH_HLEN + 28);
	memset(f, 0xff, 6);
	put_be16(f + 12, ETH_P_IPV4);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(28 + len));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP_;
	put_be16(udp, sport);
	put_be16(udp + 2, dport);
	put_be16(udp + 4, (uint16_t)(8 + len));
	memcpy(udp + 8, payload, len);
	return ETH_HLEN + 28 + len;
}

static void test_snoop_ack(struct fixture *f, gconstpointer data)
{
	uint8_t fr[FRAME_MAX];
	struct dhcp_reply rep;
	struct lease l;
	size_t n;
	uint8_t mac[6];

	(void)data;
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = STATIC_MAC, .requested = "10.0.0.50" },
				  T0, &rep), ==, DHCPACK);
	n = wrap(fr, rep.msg, rep.len, 67, 68);
	g_assert_true(dhcp_snoop_ack(fr, n, 1000, &l));
	mac_of(STATIC_MAC, mac);
	g_assert_cmpmem(l.mac, 6, mac, 6);
	g_assert_cmpstr(ip_str(l.ip), ==, "10.0.0.50");
	g_assert_cmpint(l.expires, ==, 1000 + LEASE_S);
	g_assert_cmpstr(l.hostname, ==, "fixed");
	g_assert_false(l.is_static);
	g_assert_false(l.offered);
	/* Wrong direction, or not an ACK: nothing. */
	n = wrap(fr, rep.msg, rep.len, 68, 67);
	g_assert_false(dhcp_snoop_ack(fr, n, 1000, &l));
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }, T0, &rep), ==, DHCPOFFER);
	n = wrap(fr, rep.msg, rep.len, 67, 68);
	g_assert_false(dhcp_snoop_ack(fr, n, 1000, &l));
	/* An ACK to an INFORM carries no address. */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPINFORM, .mac = 1, .ciaddr = "10.0.0.9" }, T0, &rep),
			 ==, DHCPACK);
	n = wrap(fr, rep.msg, rep.len, 67, 68);
	g_assert_false(dhcp_snoop_ack(fr, n, 1000, &l));

	/* No lease time: never expires; no host name: "". */
	g_assert_cmpuint(send_req(f, &(struct req){ .type = DHCPREQUEST, .mac = 1, .requested = "10.0.0.101" }, T0,
				  &rep), ==, DHCPACK);
	memset(rep.msg + BOOTP_OPTIONS + 3 + 6, DHCP_OPT_PAD, 6);	/* after 53 and 54: option 51 */
	n = wrap(fr, rep.msg, rep.len, 67, 68);
	g_assert_true(dhcp_snoop_ack(fr, n, 1000, &l));
	g_assert_cmpint(l.expires, ==, INT64_MAX);
	g_assert_cmpstr(l.hostname, ==, "");
	/* Truncated frames: refused, never read past. */
	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = g_memdup2(fr, MAX(len, 1));

		dhcp_snoop_ack(copy, len, 1000, &l);
		g_free(copy);
	}
	/* A UDP length shorter than the message cuts the options too. */
	put_be16(fr + ETH_HLEN + 20 + 4, 8 + BOOTP_OPTIONS + 2);
	g_assert_false(dhcp_snoop_ack(fr, n, 1000, &l));
}

static void test_snoop_request(void)
{
	uint8_t b[MSG_MAX], fr[FRAME_MAX], mac[6], want[6];
	char name[LEASE_HOSTNAME_MAX + 1], small[4];
	size_t n;

	mac_of(9, want);
	n = wrap(fr, b, build(b, &(struct req){ .type = DHCPREQUEST, .mac = 9, .hostname = "guest.local" }), 68, 67);
	g_assert_true(dhcp_snoop_request(fr, n, mac, name, sizeof(name)));
	g_assert_cmpmem(mac, 6, want, 6);
	g_assert_cmpstr(name, ==, "guest");
	g_assert_true(dhcp_snoop_request(fr, n, mac, small, sizeof(small)));
	g_assert_cmpstr(small, ==, "gue");
	g_assert_true(dhcp_snoop_request(fr, n, mac, NULL, 0));
	n = wrap(fr, b, build(b, &(struct req){ .type = DHCPDISCOVER, .mac = 9 }), 68, 67);
	g_assert_true(dhcp_snoop_request(fr, n, mac, name, sizeof(name)));
	g_assert_cmpstr(name, ==, "");
	/* Not requests, or the wrong way round. */
	n = wrap(fr, b, build(b, &(struct req){ .type = DHCPRELEASE, .mac = 9 }), 68, 67);
	g_assert_false(dhcp_snoop_request(fr, n, mac, name, sizeof(name)));
	n = wrap(fr, b, build(b, &(struct req){ .type = DHCPDISCOVER, .mac = 9 }), 67, 68);
	g_assert_false(dhcp_snoop_request(fr, n, mac, name, sizeof(name)));
	n = wrap(fr, b, build(b, &(struct req){ .type = DHCPDISCOVER, .mac = 9, .hostname = "h" }), 68, 67);
	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = g_memdup2(fr, MAX(len, 1));

		g_assert_false(dhcp_snoop_request(copy, len, mac, name, sizeof(name)));
		g_free(copy);
	}
}

/* The option walker and writer */

static void test_opt_walk(void)
{
	static const uint8_t area[] = { 0, 0, 53, 1, 5, 0, 12, 3, 'a', 'b', 'c', 53, 1, 6, 255, 1, 2 };
	struct dhcp_opt_walk w;
	struct dhcp_opt o;
	uint8_t v;
	uint32_t u;

	dhcp_opt_walk_init(&w, area, sizeof(area));
	g_assert_true(dhcp_opt_next(&w, &o));
	g_assert_cmpuint(o.code, ==, 53);
	g_assert_true(o.data == area + 4);
	g_assert_true(dhcp_opt_next(&w, &o));
	g_assert_cmpuint(o.code, ==, 12);
	g_assert_cmpmem(o.data, o.len, "abc", 3);
	g_assert_true(dhcp_opt_next(&w, &o));
	g_assert_false(dhcp_opt_next(&w, &o));
	g_assert_cmpint(w.stop, ==, DHCP_OPT_AT_END);
	g_assert_cmpuint(w.off, ==, 14);
	g_assert_false(dhcp_opt_next(&w, &o));		/* stays stopped */
	/* Repeats: the first counts. */
	g_assert_true(dhcp_opt_get_u8(area, sizeof(area), 53, &v));
	g_assert_cmpuint(v, ==, 5);
	/* Wrong lengths and absent options. */
	g_assert_false(dhcp_opt_get_u32(area, sizeof(area), 12, &u));
	g_assert_false(dhcp_opt_get_u8(area, sizeof(area), 12, &v));
	g_assert_false(dhcp_opt_get_u8(area, sizeof(area), 1, &v));
	/* Beyond the end option (where 1, 2 would overrun) nothing is looked at. */
	g_assert_true(dhcp_opts_valid(area, sizeof(area)));

	/* Every cut of the area: the walk stops at the cut, never past it. */
	for (size_t len = 0; len <= sizeof(area); len++) {
		uint8_t *copy = g_memdup2(area, MAX(len, 1));

		dhcp_opt_walk_init(&w, copy, len);
		while (dhcp_opt_next(&w, &o))
			g_assert_cmpuint((size_t)(o.data - copy) + o.len, <=, len);
		g_assert_cmpint(w.stop, !=, DHCP_OPT_WALKING);
		/* Cut inside an option (code, length or data): overrun. */
		bool inside = (len >= 3 && len <= 4) || (len >= 7 && len <= 10) || (len >= 12 && len <= 13);

		g_assert_cmpint(w.stop, ==, inside ? DHCP_OPT_OVERRUN : len < 15 ? DHCP_OPT_RAN_OUT : DHCP_OPT_AT_END);
		g_free(copy);
	}
	g_assert_true(dhcp_opts_valid(area, 0));
	g_assert_false(dhcp_opts_valid(area, 4));
	/* A length byte of 255 at the end. */
	g_assert_false(dhcp_opts_valid((const uint8_t[]){ 12, 255, 'x' }, 3));
}

static void test_opt_write(void)
{
	uint8_t buf[700], big[600];
	struct dhcp_opt_writer w;
	struct dhcp_opt_walk walk;
	struct dhcp_opt o;
	size_t n = 0;

	memset(buf, 0xee, sizeof(buf));
	/* 10 bytes: an 8-byte option and the end option, exactly. */
	dhcp_opt_writer_init(&w, buf, 10);
	g_assert_false(dhcp_opt_put(&w, 12, "abcdefgh", 8));	/* 10 bytes: no room left for the end */
	g_assert_cmpuint(w.off, ==, 0);
	g_assert_true(dhcp_opt_put(&w, 12, "abcdefg", 7));
	g_assert_false(dhcp_opt_put_u8(&w, 53, 1));
	g_assert_cmpuint(dhcp_opt_finish(&w), ==, 10);
	g_assert_cmpuint(buf[9], ==, DHCP_OPT_END);
	g_assert_cmpuint(buf[10], ==, 0xee);
	/* No room at all: nothing written, not even the end. */
	dhcp_opt_writer_init(&w, buf, 0);
	g_assert_false(dhcp_opt_put(&w, 0, NULL, 0));
	g_assert_cmpuint(dhcp_opt_finish(&w), ==, 0);
	/* An empty option. */
	dhcp_opt_writer_init(&w, buf, 3);
	g_assert_true(dhcp_opt_put(&w, 80, NULL, 0));
	g_assert_cmpuint(dhcp_opt_finish(&w), ==, 3);
	g_assert_cmpmem(buf, 3, "\x50\x00\xff", 3);
	/* 600 bytes: 255 + 255 + 90, the same code each time (RFC 3396). */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	dhcp_opt_writer_init(&w, buf, sizeof(buf));
	g_assert_true(dhcp_opt_put_u32(&w, 51, 0x01020304));
	g_assert_true(dhcp_opt_put(&w, 119, big, sizeof(big)));
	g_assert_cmpuint(dhcp_opt_finish(&w), ==, 6 + 606 + 1);
	dhcp_opt_walk_init(&walk, buf, w.off);
	g_assert_true(dhcp_opt_next(&walk, &o));
	g_assert_cmpmem(o.data, o.len, "\x01\x02\x03\x04", 4);
	for (int piece = 0; piece < 3; piece++) {
		g_assert_true(dhcp_opt_next(&walk, &o));
		g_assert_cmpuint(o.code, ==, 119);
		g_assert_cmpuint(o.len, ==, piece < 2 ? 255 : 90);
		g_assert_cmpmem(o.data, o.len, big + n, o.len);
		n += o.len;
	}
	g_assert_false(dhcp_opt_next(&walk, &o));
	g_assert_cmpint(walk.stop, ==, DHCP_OPT_AT_END);
	/* One byte short for the split option: refused whole. */
	dhcp_opt_writer_init(&w, buf, 606);
	g_assert_false(dhcp_opt_put(&w, 119, big, sizeof(big)));
	g_assert_cmpuint(w.off, ==, 0);
}

static void test_msg_options(void)
{
	uint8_t b[MSG_MAX];
	const uint8_t *area;
	size_t len = build(b, &(struct req){ .type = DHCPDISCOVER, .mac = 1 }), area_len;

	g_assert_true(dhcp_msg_options(b, len, &area, &area_len));
	g_assert_true(area == b + BOOTP_OPTIONS);
	g_assert_cmpuint(area_len, ==, len - BOOTP_OPTIONS);
	g_assert_true(dhcp_msg_options(b, BOOTP_OPTIONS, &area, &area_len));
	g_assert_cmpuint(area_len, ==, 0);
	g_assert_false(dhcp_msg_options(b, BOOTP_OPTIONS - 1, &area, &area_len));
	b[BOOTP_COOKIE + 3] = 0;
	g_assert_false(dhcp_msg_options(b, len, &area, &area_len));
}

#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/dhcp/server/discover-offer", test_discover_offer);
	ADD("/dhcp/server/request-ack", test_request_ack);
	ADD("/dhcp/server/same-address", test_same_address);
	ADD("/dhcp/server/requested-address", test_requested);
	ADD("/dhcp/server/nak", test_nak);
	ADD("/dhcp/server/other-server", test_other_server);
	ADD("/dhcp/server/init-reboot", test_init_reboot);
	ADD("/dhcp/server/renew", test_renew);
	ADD("/dhcp/server/release", test_release);
	ADD("/dhcp/server/decline", test_decline);
	ADD("/dhcp/server/inform", test_inform);
	ADD("/dhcp/server/static", test_static);
	ADD("/dhcp/server/exhaustion", test_exhaustion);
	ADD("/dhcp/server/hostname", test_hostname);
	ADD("/dhcp/server/ignored", test_ignored);
	ADD("/dhcp/server/overrun", test_overrun);
	ADD("/dhcp/server/truncated", test_truncated);
	ADD("/dhcp/server/fuzz", test_fuzz);
	g_test_add_func("/dhcp/server/reply-size", test_reply_size);
	ADD("/dhcp/state/round-trip", test_state_roundtrip);
	ADD("/dhcp/state/garbage", test_state_garbage);
	ADD("/dhcp/state/unreadable", test_state_unreadable);
	ADD("/dhcp/state/renewals-not-written", test_state_renewals);
	ADD("/dhcp/server/name-taken", test_name_taken);
	ADD("/dhcp/server/reserved", test_reserved);
	ADD("/dhcp/snoop/ack", test_snoop_ack);
	g_test_add_func("/dhcp/snoop/request", test_snoop_request);
	g_test_add_func("/dhcp/options/walk", test_opt_walk);
	g_test_add_func("/dhcp/options/write", test_opt_write);
	g_test_add_func("/dhcp/options/msg", test_msg_options);
	return g_test_run();
}
