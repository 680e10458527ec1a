/* fuzz_dhcp_server.c - vmnetd's DHCP server and the NAT's DHCP snooping, fed client conversations. */
#include <arpa/inet.h>

#include "fuzz.h"

#include "vmnetd/dhcp_options.h"
#include "vmnetd/dhcp_server.h"
#include "vmnetd/frame.h"

/* A host-only network with a pool of four addresses (one reserved, one a
 * static lease's), so a few made-up clients exhaust it. */
static struct dhcp_static_lease statics[2] = {
	{ { 0x52, 0x54, 0, 0, 0, 0x10 }, { 0 }, (char *)"web" },
	{ { 0x52, 0x54, 0, 0, 0, 0x11 }, { 0 }, (char *)"db" },
};
static struct in_addr reserved[1];
static const char *const search[] = { "lab.example", "example.com", NULL };
static struct dhcp_server_config cfg = {
	.lease_time_s = 3600,
	.mtu = 1500,
	.domain = "lab.example",
	.search = search,
	.statics = statics,
	.n_statics = 2,
	.reserved = reserved,
	.n_reserved = 1,
	.name = "fuzz",
};

static struct in_addr addr(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	cfg.server_id = addr("192.168.56.1");
	cfg.netmask = addr("255.255.255.0");
	cfg.pool_start = addr("192.168.56.101");
	cfg.pool_end = addr("192.168.56.104");
	cfg.router = cfg.server_id;
	cfg.dns = cfg.server_id;
	statics[0].ip = addr("192.168.56.10");
	statics[1].ip = addr("192.168.56.103");
	reserved[0] = addr("192.168.56.102");
	return 0;
}

/* A host name as one DNS label: letters, digits, inner hyphens. */
static bool is_label(const char *s)
{
	size_t n = strlen(s);

	if (n > LEASE_HOSTNAME_MAX || (n && (s[0] == '-' || s[n - 1] == '-')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

struct table_check {
	int64_t now;
	GPtrArray *seen;	/* const struct lease *, live ones */
};

static void check_lease(const struct lease *l, void *opaque)
{
	struct table_check *c = opaque;
	uint32_t ip = ntohl(l->ip.s_addr);

	FUZZ_CHECK(is_label(l->hostname));
	if (l->expires <= c->now)
		return;
	if (l->is_static) {
		FUZZ_CHECK((!memcmp(l->mac, statics[0].mac, 6) && l->ip.s_addr == statics[0].ip.s_addr) ||
			   (!memcmp(l->mac, statics[1].mac, 6) && l->ip.s_addr == statics[1].ip.s_addr));
	} else {
		/* A dynamic lease: a pool address that is no one else's. */
		FUZZ_CHECK(ip >= ntohl(cfg.pool_start.s_addr) && ip <= ntohl(cfg.pool_end.s_addr));
		FUZZ_CHECK(l->ip.s_addr != reserved[0].s_addr);
		FUZZ_CHECK(l->ip.s_addr != statics[1].ip.s_addr);
	}
	for (guint i = 0; i < c->seen->len; i++) {
		const struct lease *o = g_ptr_array_index(c->seen, i);

		FUZZ_CHECK(memcmp(o->mac, l->mac, 6) != 0);
		FUZZ_CHECK(o->ip.s_addr != l->ip.s_addr);
		/* No VM takes the DNS name another holds. */
		FUZZ_CHECK(!*l->hostname || g_ascii_strcasecmp(o->hostname, l->hostname) != 0);
	}
	g_ptr_array_add(c->seen, (gpointer)l);
}

/* The reply is a well-formed BOOTP reply to @msg; an ACK with an address is
 * one the NAT's snooping reads back as that lease. */
static void check_reply(const uint8_t *msg, const struct dhcp_reply *r, int64_t now)
{
	const uint8_t *area;
	size_t area_len, n;
	uint8_t type = 0;
	uint8_t frame[ETH_HLEN + IP4_HLEN + UDP_HLEN + DHCP_REPLY_MAX];
	struct frame_addrs a = { .src = cfg.server_id, .dst = r->dst_ip };
	struct lease l;

	FUZZ_CHECK(r->len <= DHCP_REPLY_MAX);
	FUZZ_CHECK(dhcp_msg_options(r->msg, r->len, &area, &area_len));
	FUZZ_CHECK(dhcp_opts_valid(area, area_len));
	FUZZ_CHECK(dhcp_opt_get_u8(area, area_len, DHCP_OPT_MSG_TYPE, &type));
	FUZZ_CHECK(type == DHCPOFFER || type == DHCPACK || type == DHCPNAK);
	FUZZ_CHECK(r->msg[BOOTP_OP] == BOOTREPLY);
	FUZZ_CHECK(!memcmp(r->msg + BOOTP_XID, msg + BOOTP_XID, 4));
	FUZZ_CHECK(!memcmp(r->msg + BOOTP_CHADDR, msg + BOOTP_CHADDR, 6));
	memcpy(a.dst_mac, r->dst_mac, 6);
	memcpy(a.src_mac, (uint8_t[]){ 0x52, 0x55, 192, 168, 56, 1 }, 6);
	n = frame_build_udp4(frame, sizeof(frame), &a, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, r->msg,
			     r->len);
	FUZZ_CHECK(n);
	if (type == DHCPACK && memcmp(r->msg + BOOTP_YIADDR, "\0\0\0\0", 4)) {
		FUZZ_CHECK(dhcp_snoop_ack(frame, n, now, &l));
		FUZZ_CHECK(!memcmp(l.mac, msg + BOOTP_CHADDR, 6));
		FUZZ_CHECK(!memcmp(&l.ip.s_addr, r->msg + BOOTP_YIADDR, 4));
	}
}

/* The NAT side: the same bytes as a UDP payload both ways, and as a frame. */
static void snoop(const uint8_t *rec, size_t len, int64_t now)
{
	struct frame_addrs a = { .src = addr("10.0.2.2"), .dst = addr("10.0.2.15") };
	size_t cap = ETH_HLEN + IP4_HLEN + UDP_HLEN + len;
	uint8_t *frame = g_malloc(cap);
	char *hostname = g_malloc(LEASE_HOSTNAME_MAX + 1);
	uint8_t mac[6];
	struct lease l;
	size_t n;

	if (dhcp_snoop_ack(rec, len, now, &l))
		FUZZ_CHECK(is_label(l.hostname));
	if (dhcp_snoop_request(rec, len, mac, hostname, LEASE_HOSTNAME_MAX + 1))
		FUZZ_CHECK(is_label(hostname));
	n = frame_build_udp4(frame, cap, &a, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, rec, len);
	if (n && dhcp_snoop_ack(frame, n, now, &l))
		FUZZ_CHECK(is_label(l.hostname));
	n = frame_build_udp4(frame, cap, &a, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, rec, len);
	if (n && dhcp_snoop_request(frame, n, mac, hostname, LEASE_HOSTNAME_MAX + 1)) {
		FUZZ_CHECK(is_label(hostname));
		FUZZ_CHECK(!memcmp(mac, rec + BOOTP_CHADDR, 6));
	}
	/* A small buffer: the name is cut, never overrun. */
	if (n && dhcp_snoop_request(frame, n, mac, hostname, 4))
		FUZZ_CHECK(strlen(hostname) < 4);
	g_free(hostname);
	g_free(frame);
}

/* Each record: one control byte, then a client's BOOTP message.
 *   bits 0-2  time passing first: 0, 1 s, 10 s, 1 min, 10 min, 1 h, 1 d, 30 d
 *   bit 3     lease_table_expire() first */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t steps[8] = { 0, 1, 10, 60, 600, 3600, 86400, 30 * 86400 };
	struct fuzz_reader r = { data, size };
	struct lease_table *leases = lease_table_new();
	int64_t now = 1700000000;
	struct dhcp_server *s = dhcp_server_new(&cfg, leases, now, NULL);
	struct dhcp_reply *reply = g_new(struct dhcp_reply, 1);
	uint8_t *rec;
	size_t len;

	FUZZ_CHECK(s);
	while ((rec = fuzz_record(&r, &len))) {
		uint8_t ctl = len ? rec[0] : 0;
		const uint8_t *msg = rec + 1;
		size_t mlen = len ? len - 1 : 0;
		struct table_check c = { .seen = g_ptr_array_new() };

		now += steps[ctl & 7];
		if (ctl & 8)
			lease_table_expire(leases, now);
		/* The message ends where its heap copy does: ASan sees a read past it. */
		if (dhcp_server_input(s, msg, mlen, now, reply))
			check_reply(msg, reply, now);
		snoop(msg, mlen, now);
		c.now = now;
		lease_table_foreach(leases, check_lease, &c);
		g_ptr_array_unref(c.seen);
		g_free(rec);
	}
	g_free(reply);
	dhcp_server_free(s);
	lease_table_free(leases);
	return 0;
}
