/* test_uplink_nat.c - libslirp behind the switch, with no network: a fake VM port
 * sends DHCP DISCOVER and must get an OFFER for 10.0.2.15 that carries MTU 65520. */
#include <glib.h>
#include <glib/gstdio.h>
#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nat_net.h"
#include "vmnetd/dhcp_mtu.h"
#include "vmnetd/fraglimit.h"
#include "vmnetd/frame.h"
#include "vmnetd/loop.h"
#include "vmnetd/netconf.h"
#include "vmnetd/netsvc.h"
#include "vmnetd/selfports.h"
#include "vmnetd/netopts.h"
#include "vmnetd/slirp_stack.h"
#include "vmnetd/switch.h"
#include "vmnetd/uplink_nat.h"

#include "fake_vm.h"


static const uint8_t vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static uint16_t ip_checksum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i += 2)
		s += get_be16(p + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

/* Ethernet + IPv4 + UDP 68->67 + BOOTP request with option 53 = DISCOVER. */
static size_t build_discover(uint8_t *f)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *bootp = udp + 8;
	size_t bootp_len = 236 + 4 + 3 + 1 + 56;	/* padded to the 300-byte minimum */

	memset(f, 0, 14 + 20 + 8 + bootp_len);
	memset(f, 0xff, 6);
	memcpy(f + 6, vm_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	put_be16(ip + 2, 20 + 8 + bootp_len);
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	put_be16(ip + 10, ip_checksum(ip, 20));
	put_be16(udp, 68);
	put_be16(udp + 2, 67);
	put_be16(udp + 4, 8 + bootp_len);
	bootp[0] = 1;			/* BOOTREQUEST */
	bootp[1] = 1;			/* Ethernet */
	bootp[2] = 6;
	bootp[4] = 0xab;		/* xid */
	memcpy(bootp + 28, vm_mac, 6);
	memcpy(bootp + 236, (uint8_t[]){ 99, 130, 83, 99, 53, 1, 1, 255 }, 8);
	return 14 + 20 + 8 + bootp_len;
}

/* The DISCOVER turned into a REQUEST for 10.0.2.15 from server 10.0.2.2, named "vm1". */
static size_t build_request(uint8_t *f)
{
	size_t len = build_discover(f);
	uint8_t *bootp = f + 14 + 20 + 8;
	static const uint8_t opts[] = { 99, 130, 83, 99, 53, 1, 3, 50, 4, 10, 0, 2, 15,
					54, 4, 10, 0, 2, 2, 12, 3, 'v', 'm', '1', 255 };

	memcpy(bootp + 236, opts, sizeof(opts));
	return len;
}

/* The value of DHCP option @code in a reply, or NULL. */
static const uint8_t *find_option(const uint8_t *opts, size_t len, uint8_t code)
{
	for (size_t i = 4; i + 1 < len && opts[i] != 255;) {
		if (opts[i] == 0) {
			i++;
			continue;
		}
		if (opts[i] == code)
			return opts + i + 2;
		i += 2 + opts[i + 1];
	}
	return NULL;
}

/* A NAT network's settings as `vmnetd` with no options gives them. */
struct rig {
	struct loop *l;
	struct vswitch *sw;
	struct port_set *set;
	struct lease_table *leases;
	struct net_config nc;
	struct port *nat;
	struct fake_vm *vm;
	GByteArray *last;
};

static void rig_up_with(struct rig *r, bool dhcp_vmnetd, const char *opts)
{
	r->l = loop_new();
	r->sw = switch_new(SWITCH_AGEING_NS);
	r->set = port_set_new(r->l, r->sw);
	r->leases = lease_table_new();
	test_nat_net(&r->nc, "default", opts);
	r->nc.dhcp_vmnetd = dhcp_vmnetd;
	r->nat = uplink_nat_new(r->set, &r->nc, r->leases, "vmnetd", "--nat", NULL);
	g_assert_nonnull(r->nat);
	r->last = g_byte_array_new();
	r->vm = fake_vm_attach(r->set, "fake-vm", r->last);	/* freed by the port layer */
}

static void rig_up(struct rig *r, bool dhcp_vmnetd)
{
	rig_up_with(r, dhcp_vmnetd, NULL);
}

static void rig_down(struct rig *r)
{
	port_set_free(r->set);		/* closes the VM and the NAT port */
	loop_free(r->l);		/* runs the deferred frees */
	switch_free(r->sw);
	lease_table_free(r->leases);
	nat_config_clear(&r->nc.nat);
	g_byte_array_unref(r->last);
}

/* The reply the VM got: an OFFER for 10.0.2.15 with MTU 65520 and router 10.0.2.2. */
static void check_offer(struct fake_vm *vm)
{
	struct udp4_view v;
	const uint8_t *opt;

	g_assert_cmpuint(vm->frames, >=, 1);
	g_assert_true(dhcp_is_reply(vm->last->data, vm->last->len));
	g_assert_true(frame_udp4(vm->last->data, vm->last->len, &v));
	g_assert_cmpmem(v.payload + 16, 4, "\x0a\x00\x02\x0f", 4);	/* yiaddr 10.0.2.15 */
	opt = find_option(v.payload + 236, v.payload_len - 236, 53);
	g_assert_nonnull(opt);
	g_assert_cmpuint(opt[0], ==, 2);				/* OFFER */
	opt = find_option(v.payload + 236, v.payload_len - 236, 26);
	g_assert_nonnull(opt);
	g_assert_cmpuint(get_be16(opt), ==, 65520);
	opt = find_option(v.payload + 236, v.payload_len - 236, 3);
	g_assert_nonnull(opt);
	g_assert_cmpmem(opt, 4, "\x0a\x00\x02\x02", 4);		/* router 10.0.2.2 */
}

static void test_dhcp_offer_with_mtu(void)
{
	struct rig r;
	uint8_t discover[600];
	size_t len = build_discover(discover);
	uint8_t gw_mac[6] = { 0x52, 0x55, 10, 0, 2, 2 };

	rig_up(&r, false);
	port_input(&r.vm->port, discover, len);
	check_offer(r.vm);
	g_assert_cmpmem(r.vm->last->data, 6, "\xff\xff\xff\xff\xff\xff", 6);
	/* The NAT port learned the VM's MAC from the DISCOVER. */
	g_assert_true(switch_lookup(r.sw, vm_mac, loop_now(r.l)) == &r.vm->port);
	/* The gateway's MAC is the NAT port's for good. */
	g_assert_true(switch_lookup(r.sw, gw_mac, INT64_MAX / 2) == r.nat);
	rig_down(&r);
}

/* libslirp's ACK crossing the switch puts the lease, with the name the
 * client asked with, into the network's lease table. */
static void test_lease_learned(void)
{
	struct rig r;
	uint8_t f[600];
	size_t len = build_discover(f);
	const struct lease *l;

	rig_up(&r, false);
	port_input(&r.vm->port, f, len);
	g_assert_cmpuint(lease_table_size(r.leases), ==, 0);	/* an OFFER is no lease */
	len = build_request(f);
	port_input(&r.vm->port, f, len);
	l = lease_table_by_mac(r.leases, vm_mac, time(NULL));
	g_assert_nonnull(l);
	g_assert_cmpuint(ntohl(l->ip.s_addr), ==, 0x0a00020f);
	g_assert_cmpstr(l->hostname, ==, "vm1");
	g_assert_cmpint(l->expires, >, time(NULL) + 3600);
	g_assert_true(lease_table_by_name(r.leases, "VM1", time(NULL)) == l);
	rig_down(&r);
}

/* dhcp=vmnetd: the same lease from vmnetd's own server, noted in the table. */
static void test_dhcp_vmnetd(void)
{
	struct rig r;
	uint8_t discover[600];
	size_t len = build_discover(discover);

	rig_up(&r, true);
	port_input(&r.vm->port, discover, len);
	check_offer(r.vm);
	rig_down(&r);
}

/* A DISCOVER from @mac (frame source and chaddr). */
static size_t build_discover_from(uint8_t *f, const uint8_t mac[6])
{
	size_t len = build_discover(f);

	memcpy(f + 6, mac, 6);
	memcpy(f + 14 + 20 + 8 + 28, mac, 6);
	return len;
}

/* One VM inventing MACs gets at most NETSVC_LEASES_PER_PORT offers; the pool
 * stays open to the next VM. */
static void test_dhcp_vmnetd_per_port_cap(void)
{
	struct rig r;
	struct fake_vm *vm2;
	GByteArray *last2 = g_byte_array_new();
	uint8_t f[600], mac[6] = { 0x52, 0x54, 0, 0, 0x66, 0 };
	size_t len;

	rig_up(&r, true);
	for (int i = 0; i < 20; i++) {
		mac[5] = i;
		len = build_discover_from(f, mac);
		port_input(&r.vm->port, f, len);
	}
	g_assert_cmpuint(r.vm->frames, ==, NETSVC_LEASES_PER_PORT);
	vm2 = fake_vm_attach(r.set, "fake-vm2", last2);
	mac[4] = 0x77;
	len = build_discover_from(f, mac);
	port_input(&vm2->port, f, len);
	g_assert_cmpuint(vm2->frames, ==, 1);
	rig_down(&r);
	g_byte_array_unref(last2);
}

/* dhcp=vmnetd never leases what libslirp answers for itself (a guestfwd
 * address inside the pool). */
static void test_dhcp_vmnetd_reserved(void)
{
	struct rig r;
	uint8_t f[600];
	size_t len = build_request(f);
	uint8_t *opts = f + 14 + 20 + 8 + 236;
	struct udp4_view v;
	const uint8_t *opt;

	opts[12] = 100;			/* asks for 10.0.2.100, the guestfwd address */
	rig_up_with(&r, true, "guestfwd=tcp:10.0.2.100:8000-unix:/nonexistent");
	port_input(&r.vm->port, f, len);
	g_assert_cmpuint(r.vm->frames, ==, 1);
	g_assert_true(frame_udp4(r.last->data, r.last->len, &v));
	opt = find_option(v.payload + 236, v.payload_len - 236, 53);
	g_assert_nonnull(opt);
	g_assert_cmpuint(opt[0], ==, 6);	/* NAK */
	rig_down(&r);
}

/* A SYN from the VM (10.0.2.15) to @dst:@dport through the gateway's MAC. */
static size_t syn_to(uint8_t *f, uint32_t dst, uint16_t dport)
{
	struct frame_addrs a = { .src = { htonl(0x0a00020f) }, .dst = { htonl(dst) },
				 .dst_mac = { 0x52, 0x55, 10, 0, 2, 2 } };
	uint8_t *ip = f + ETH_HLEN, *tcp = ip + IP4_HLEN;
	size_t n;

	memcpy(a.src_mac, vm_mac, 6);
	n = frame_build_udp4(f, 128, &a, 40000, dport, (const uint8_t[12]){ 0 }, 12);
	g_assert_cmpuint(n, >, 0);
	ip[9] = IPPROTO_TCP_;		/* the same bytes made a bare SYN */
	memset(tcp + 4, 0, 16);
	tcp[12] = 5 << 4;
	tcp[13] = 0x02;
	return n;
}

/* A guest cannot reach the daemon's own TCP listener through the gateway
 * (10.0.2.2 leads to the host's loopback): its SYN is reset at once. */
static void test_selfport_refused(void)
{
	struct rig r;
	uint8_t f[128];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(5555),
				   .sin_addr = { htonl(INADDR_LOOPBACK) } };

	selfports_add((struct sockaddr *)&sin, IPPROTO_TCP);
	g_assert_true(selfports_blocks(IPPROTO_TCP, (struct in_addr){ htonl(0x0a000202) }, 5555,
				       (struct in_addr){ htonl(0x0a000202) }));
	g_assert_false(selfports_blocks(IPPROTO_TCP, (struct in_addr){ htonl(0xcb00710a) }, 5555,
					(struct in_addr){ htonl(0x0a000202) }));
	g_assert_false(selfports_blocks(IPPROTO_UDP, (struct in_addr){ htonl(0x0a000202) }, 5555,
					(struct in_addr){ htonl(0x0a000202) }));
	rig_up(&r, false);
	port_input(&r.vm->port, f, syn_to(f, 0x0a000202, 5555));
	g_assert_cmpuint(r.vm->frames, ==, 1);
	g_assert_cmpuint(r.last->data[ETH_HLEN + 9], ==, IPPROTO_TCP_);
	g_assert_cmpuint(r.last->data[ETH_HLEN + IP4_HLEN + 13] & 0x04, ==, 0x04);	/* RST */
	rig_down(&r);
	selfports_del((struct sockaddr *)&sin, IPPROTO_TCP);
	g_assert_false(selfports_blocks(IPPROTO_TCP, (struct in_addr){ htonl(0x0a000202) }, 5555,
					(struct in_addr){ htonl(0x0a000202) }));
}

/* ---- IPv6: the daemon's own [::1] and [::] sockets ---- */

static const struct in6_addr guest6 = { .s6_addr = { 0xfe, 0xc0, [15] = 0x15 } };

/* A TCP SYN (@tcp) or a UDP datagram with 4 bytes of payload from the VM
 * (fec0::15) to [@dst]:@dport, through @dst's MAC as libslirp gives it;
 * checksums right, so libslirp takes it. */
static size_t l4_to6(uint8_t *f, const struct in6_addr *dst, uint16_t dport, bool tcp)
{
	uint8_t *ip = f + ETH_HLEN, *l4 = ip + IP6_HLEN;
	size_t l4_len = tcp ? 20 : UDP_HLEN + 4;
	uint32_t sum;
	uint16_t csum;

	memset(f, 0, ETH_HLEN + IP6_HLEN + l4_len);
	slirp_mac6(dst, f);
	memcpy(f + 6, vm_mac, 6);
	put_be16(f + 12, ETH_P_IPV6);
	ip[0] = 0x60;
	put_be16(ip + 4, l4_len);
	ip[6] = tcp ? IPPROTO_TCP_ : IPPROTO_UDP_;
	ip[7] = 64;
	memcpy(ip + 8, &guest6, 16);
	memcpy(ip + 24, dst, 16);
	put_be16(l4, 40000);
	put_be16(l4 + 2, dport);
	if (tcp) {
		put_be16(l4 + 4, 0x1234);	/* seq */
		l4[12] = 5 << 4;
		l4[13] = 0x02;			/* SYN */
		put_be16(l4 + 14, 65535);	/* window */
	} else {
		put_be16(l4 + 4, l4_len);
		memcpy(l4 + UDP_HLEN, "ping", 4);
	}
	sum = frame_sum16(ip + 8, 32, 0) + (uint32_t)l4_len + ip[6];
	csum = frame_checksum(l4, l4_len, sum);
	put_be16(l4 + (tcp ? 16 : 6), csum || tcp ? csum : 0xffff);	/* UDP: 0 is none */
	return ETH_HLEN + IP6_HLEN + l4_len;
}

/* A @type socket bound to [@addr]:0 (a port of the kernel's choosing),
 * listening if TCP; its address in @sin6. -1 when the host has no IPv6. */
static int bound6(const char *addr, int type, struct sockaddr_in6 *sin6)
{
	socklen_t len = sizeof(*sin6);
	int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	*sin6 = (struct sockaddr_in6){ .sin6_family = AF_INET6 };
	g_assert_cmpint(inet_pton(AF_INET6, addr, &sin6->sin6_addr), ==, 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)sin6, sizeof(*sin6)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 8) < 0)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)sin6, &len), ==, 0);
	return fd;
}

static void quit_loop(void *opaque)
{
	loop_quit(opaque);
}

/* Did libslirp reach @fd (a connection to accept, a datagram to read)
 * within @ms? The loop runs meanwhile, for libslirp's part. */
static bool reached(struct rig *r, int fd, int type, int ms)
{
	int64_t until = clock_now_ns() + ms * 1000000LL;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct loop_timer *t = loop_timer_new(r->l, quit_loop, r->l);
	bool got = false;

	while (!got && clock_now_ns() < until) {
		loop_timer_arm(t, clock_now_ns() + 10 * 1000000LL);
		loop_run(r->l);
		if (poll(&pfd, 1, 0) == 1) {
			if (type == SOCK_STREAM) {
				int c = accept(fd, NULL, NULL);

				g_assert_cmpint(c, >=, 0);
				close(c);
			} else {
				char buf[64];

				g_assert_cmpint(recv(fd, buf, sizeof(buf), 0), ==, 4);
				g_assert_cmpmem(buf, 4, "ping", 4);
			}
			got = true;
		}
	}
	loop_timer_free(t);
	return got;
}

/* The IPv6 side of selfports: a "::" socket is reached at any address,
 * "::1" only through the gateway, and an IPv4 socket never over IPv6. */
static void test_selfports_blocks6(void)
{
	struct in6_addr gw, other, dns;
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_port = htons(6001),
				     .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6, .sin6_port = htons(6002),
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_port = htons(6003),
				    .sin_addr = { htonl(INADDR_ANY) } };
	struct sockaddr_in lo4 = { .sin_family = AF_INET, .sin_port = htons(6004),
				   .sin_addr = { htonl(INADDR_LOOPBACK) } };

	g_assert_cmpint(inet_pton(AF_INET6, "fec0::2", &gw), ==, 1);
	g_assert_cmpint(inet_pton(AF_INET6, "2001:db8::7", &other), ==, 1);
	g_assert_cmpint(inet_pton(AF_INET6, "fec0::3", &dns), ==, 1);

	selfports_add((struct sockaddr *)&any6, IPPROTO_TCP);
	selfports_add((struct sockaddr *)&lo6, IPPROTO_TCP);
	selfports_add((struct sockaddr *)&any4, IPPROTO_TCP);
	selfports_add((struct sockaddr *)&lo4, IPPROTO_UDP);

	/* "::": whatever the guest names, the port is the daemon's. */
	g_assert_true(selfports_blocks6(IPPROTO_TCP, &gw, 6001, &gw));
	g_assert_true(selfports_blocks6(IPPROTO_TCP, &other, 6001, &gw));
	g_assert_true(selfports_blocks6(IPPROTO_TCP, &dns, 6001, &gw));
	g_assert_false(selfports_blocks6(IPPROTO_UDP, &gw, 6001, &gw));	/* a TCP socket */
	g_assert_false(selfports_blocks6(IPPROTO_TCP, &other, 6005, &gw));	/* no socket */
	/* "::1": only the gateway leads there. */
	g_assert_true(selfports_blocks6(IPPROTO_TCP, &gw, 6002, &gw));
	g_assert_false(selfports_blocks6(IPPROTO_TCP, &other, 6002, &gw));
	g_assert_false(selfports_blocks6(IPPROTO_TCP, &dns, 6002, &gw));
	/* IPv4 sockets: no IPv6 packet reaches them, wildcard or loopback. */
	g_assert_false(selfports_blocks6(IPPROTO_TCP, &gw, 6003, &gw));
	g_assert_false(selfports_blocks6(IPPROTO_TCP, &other, 6003, &gw));
	g_assert_false(selfports_blocks6(IPPROTO_UDP, &gw, 6004, &gw));

	selfports_del((struct sockaddr *)&lo4, IPPROTO_UDP);
	selfports_del((struct sockaddr *)&any4, IPPROTO_TCP);
	selfports_del((struct sockaddr *)&lo6, IPPROTO_TCP);
	selfports_del((struct sockaddr *)&any6, IPPROTO_TCP);
	g_assert_false(selfports_blocks6(IPPROTO_TCP, &gw, 6001, &gw));
	g_assert_false(selfports_blocks6(IPPROTO_TCP, &gw, 6002, &gw));
}

/* An IPv6 guest cannot reach the daemon's own [::1] TCP and UDP sockets
 * through the IPv6 gateway (fec0::2 leads to the host's ::1): the SYN and
 * the datagram are dropped before libslirp, which then makes no connection
 * and sends nothing. The same packets to a port that is not the daemon's
 * go through (that is how "reached" is seen). */
static void test_selfport6_dropped(void)
{
	struct rig r;
	uint8_t f[256];
	struct sockaddr_in6 own_tcp, own_udp, other_tcp, other_udp;
	int own_t = bound6("::1", SOCK_STREAM, &own_tcp);
	int own_u = bound6("::1", SOCK_DGRAM, &own_udp);
	int other_t = bound6("::1", SOCK_STREAM, &other_tcp);
	int other_u = bound6("::1", SOCK_DGRAM, &other_udp);
	const struct in6_addr *gw;
	char gw_text[INET6_ADDRSTRLEN];
	uint64_t to_nat;

	if (own_t < 0 || own_u < 0 || other_t < 0 || other_u < 0) {
		g_test_skip("no IPv6 loopback here");
		return;
	}
	selfports_add((struct sockaddr *)&own_tcp, IPPROTO_TCP);
	selfports_add((struct sockaddr *)&own_udp, IPPROTO_UDP);
	rig_up(&r, false);
	g_assert_true(r.nc.nat.ipv6);
	gw = &r.nc.nat.ip6_host;
	g_assert_nonnull(inet_ntop(AF_INET6, gw, gw_text, sizeof(gw_text)));
	g_assert_cmpstr(gw_text, ==, "fec0::2");

	/* To the daemon's own ports: nothing reaches them, nothing comes back. */
	port_input(&r.vm->port, f, l4_to6(f, gw, ntohs(own_tcp.sin6_port), true));
	port_input(&r.vm->port, f, l4_to6(f, gw, ntohs(own_udp.sin6_port), false));
	to_nat = r.nat->stats.tx_frames;
	g_assert_cmpuint(to_nat, ==, 2);		/* taken by the NAT port... */
	g_assert_false(reached(&r, own_t, SOCK_STREAM, 300));	/* ...not by libslirp */
	g_assert_false(reached(&r, own_u, SOCK_DGRAM, 50));
	g_assert_cmpuint(r.vm->frames, ==, 0);		/* dropped: no SYN-ACK, no RST */

	/* To other ports on the same ::1: libslirp connects and sends. */
	port_input(&r.vm->port, f, l4_to6(f, gw, ntohs(other_tcp.sin6_port), true));
	g_assert_true(reached(&r, other_t, SOCK_STREAM, 2000));
	port_input(&r.vm->port, f, l4_to6(f, gw, ntohs(other_udp.sin6_port), false));
	g_assert_true(reached(&r, other_u, SOCK_DGRAM, 2000));

	/* The daemon's own ports again, now that libslirp has the guest's
	 * neighbour entry and its sockets: still nothing. */
	port_input(&r.vm->port, f, l4_to6(f, gw, ntohs(own_tcp.sin6_port), true));
	port_input(&r.vm->port, f, l4_to6(f, gw, ntohs(own_udp.sin6_port), false));
	g_assert_false(reached(&r, own_t, SOCK_STREAM, 300));
	g_assert_false(reached(&r, own_u, SOCK_DGRAM, 50));

	rig_down(&r);
	selfports_del((struct sockaddr *)&own_udp, IPPROTO_UDP);
	selfports_del((struct sockaddr *)&own_tcp, IPPROTO_TCP);
	close(own_t);
	close(own_u);
	close(other_t);
	close(other_u);
}

/* Nor by naming the host's loopback itself: libslirp (4.7) connects an
 * IPv6 guest's SYN for ::1, or for ::ffff:127.0.0.1 (an IPv4-mapped
 * address, which reaches the host's IPv4 loopback), as it is, whatever
 * host-loopback= says, so the daemon's own [::1] and 127.0.0.1 sockets
 * must be kept from those destinations too. */
static void test_selfport6_loopback_named(void)
{
	struct rig r;
	uint8_t f[256], gw_mac[6];
	struct sockaddr_in6 own6;
	struct sockaddr_in own4 = { .sin_family = AF_INET, .sin_addr = { htonl(INADDR_LOOPBACK) } };
	socklen_t len = sizeof(own4);
	int fd6 = bound6("::1", SOCK_STREAM, &own6);
	int fd4 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT, mapped;
	bool via_lo6, via_mapped;
	size_t n;

	if (fd6 < 0) {
		g_test_skip("no IPv6 loopback here");
		return;
	}
	g_assert_cmpint(bind(fd4, (struct sockaddr *)&own4, sizeof(own4)), ==, 0);
	g_assert_cmpint(listen(fd4, 8), ==, 0);
	g_assert_cmpint(getsockname(fd4, (struct sockaddr *)&own4, &len), ==, 0);
	g_assert_cmpint(inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped), ==, 1);
	selfports_add((struct sockaddr *)&own6, IPPROTO_TCP);
	selfports_add((struct sockaddr *)&own4, IPPROTO_TCP);
	rig_up(&r, false);
	slirp_mac6(&r.nc.nat.ip6_host, gw_mac);	/* routed through the gateway */

	n = l4_to6(f, &lo6, ntohs(own6.sin6_port), true);
	memcpy(f, gw_mac, 6);
	port_input(&r.vm->port, f, n);
	via_lo6 = reached(&r, fd6, SOCK_STREAM, 300);
	n = l4_to6(f, &mapped, ntohs(own4.sin_port), true);
	memcpy(f, gw_mac, 6);
	port_input(&r.vm->port, f, n);
	via_mapped = reached(&r, fd4, SOCK_STREAM, 300);
	rig_down(&r);
	selfports_del((struct sockaddr *)&own4, IPPROTO_TCP);
	selfports_del((struct sockaddr *)&own6, IPPROTO_TCP);
	close(fd6);
	close(fd4);
	if (via_lo6)
		g_test_message("BUG: a guest's SYN to [::1]:%u reached the daemon's own [::1] "
			       "socket", ntohs(own6.sin6_port));
	if (via_mapped)
		g_test_message("BUG: a guest's SYN to [::ffff:127.0.0.1]:%u reached the daemon's "
			       "own 127.0.0.1 socket", ntohs(own4.sin_port));
	if (via_lo6 || via_mapped)
		g_test_fail();		/* not an abort: the tests after it still run */
}

/* A flood of first fragments reaches libslirp only within the reassembly
 * budget: the rest is dropped at the NAT port, counted. */
static void test_fragment_flood_bounded(void)
{
	struct rig r;
	uint8_t f[1600], payload[1000] = { 0 };
	struct frame_addrs a = { .src = { htonl(0x0a00020f) }, .dst = { htonl(0xcb00710a) },
				 .dst_mac = { 0x52, 0x55, 10, 0, 2, 2 } };
	size_t n;

	memcpy(a.src_mac, vm_mac, 6);
	rig_up(&r, false);
	n = frame_build_udp4(f, sizeof(f), &a, 1000, 9, payload, sizeof(payload));
	for (int i = 0; i < 2000; i++) {
		uint8_t *ip = f + ETH_HLEN;

		put_be16(ip + 4, i);		/* a new datagram each time */
		put_be16(ip + 6, 0x2000);	/* MF: its first fragment */
		put_be16(ip + 10, 0);
		{
			uint32_t sum = 0;

			for (int k = 0; k < IP4_HLEN; k += 2)
				sum += get_be16(ip + k);
			while (sum >> 16)
				sum = (sum & 0xffff) + (sum >> 16);
			put_be16(ip + 10, ~sum & 0xffff);
		}
		port_input(&r.vm->port, f, n);
	}
	g_assert_cmpuint(r.nat->stats.tx_drops, >=, 2000 - FRAGLIMIT_MAX_COUNT);
	g_assert_cmpuint(r.nat->stats.tx_frames, <=, FRAGLIMIT_MAX_COUNT);
	rig_down(&r);
}

/* A TFTP read request from the VM for @name. */
static size_t tftp_rrq(uint8_t *f, const char *name)
{
	struct frame_addrs a = { .src = { htonl(0x0a00020f) }, .dst = { htonl(0x0a000202) },
				 .dst_mac = { 0x52, 0x55, 10, 0, 2, 2 } };
	uint8_t req[128] = { 0, 1 };	/* RRQ */
	size_t n = 2;

	memcpy(a.src_mac, vm_mac, 6);
	n += g_strlcpy((char *)req + n, name, sizeof(req) - n) + 1;
	n += g_strlcpy((char *)req + n, "octet", sizeof(req) - n) + 1;
	return frame_build_udp4(f, 256, &a, 40000, 69, req, n);
}

/* "Who has 10.0.2.2? Tell 10.0.2.15", from the VM. */
static size_t arp_who_has_gateway(uint8_t *f)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, vm_mac, 6);
	put_be16(f + 12, ETH_P_ARP);
	memcpy(f + 14, (uint8_t[]){ 0, 1, 8, 0, 6, 4, 0, 1 }, 8);
	memcpy(f + 22, vm_mac, 6);
	memcpy(f + 28, (uint8_t[]){ 10, 0, 2, 15 }, 4);
	memcpy(f + 38, (uint8_t[]){ 10, 0, 2, 2 }, 4);
	return 60;
}

/* The TFTP opcode of the VM's last frame. */
static unsigned tftp_opcode(GByteArray *last)
{
	struct udp4_view v;

	g_assert_true(frame_udp4(last->data, last->len, &v));
	return get_be16(v.payload);
}

/* libslirp follows a symlink out of its TFTP root (and misbehaves on a
 * directory): such requests get vmnetd's TFTP error; a file gets data. */
static void test_tftp_guarded(void)
{
	g_autofree char *root = g_dir_make_tmp("vmnetd-tftp-XXXXXX", NULL);
	g_autofree char *file = g_build_filename(root, "boot.img", NULL);
	g_autofree char *dir = g_build_filename(root, "sub", NULL);
	g_autofree char *link = g_build_filename(root, "escape", NULL);
	g_autofree char *opts = g_strdup_printf("tftp=%s", root);
	struct rig r;
	uint8_t f[256];

	g_assert_true(g_file_set_contents(file, "hello", 5, NULL));
	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	g_assert_cmpint(symlink("/etc/passwd", link), ==, 0);
	rig_up_with(&r, false, opts);
	port_input(&r.vm->port, f, arp_who_has_gateway(f));	/* libslirp learns the VM */
	r.vm->frames = 0;
	port_input(&r.vm->port, f, tftp_rrq(f, "boot.img"));
	g_assert_cmpuint(r.vm->frames, ==, 1);
	g_assert_cmpuint(tftp_opcode(r.last), ==, 3);		/* DATA */
	port_input(&r.vm->port, f, tftp_rrq(f, "escape"));
	g_assert_cmpuint(r.vm->frames, ==, 2);
	g_assert_cmpuint(tftp_opcode(r.last), ==, 5);		/* ERROR, not /etc/passwd */
	port_input(&r.vm->port, f, tftp_rrq(f, "sub"));
	g_assert_cmpuint(r.vm->frames, ==, 3);
	g_assert_cmpuint(tftp_opcode(r.last), ==, 5);
	rig_down(&r);
	g_unlink(link);
	g_rmdir(dir);
	g_unlink(file);
	g_rmdir(root);
}

/* A DISCOVER for a MAC other than the sender's gets nothing: no VM drains
 * the pool with made-up addresses. */
static void test_dhcp_vmnetd_foreign_chaddr(void)
{
	struct rig r;
	uint8_t discover[600];
	size_t len = build_discover(discover);

	discover[14 + 20 + 8 + 28 + 5] ^= 0x55;	/* chaddr's last byte */
	rig_up(&r, true);
	port_input(&r.vm->port, discover, len);
	g_assert_cmpuint(r.vm->frames, ==, 0);
	rig_down(&r);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/uplink-nat/dhcp-offer-with-mtu", test_dhcp_offer_with_mtu);
	g_test_add_func("/uplink-nat/lease-learned", test_lease_learned);
	g_test_add_func("/uplink-nat/dhcp-vmnetd", test_dhcp_vmnetd);
	g_test_add_func("/uplink-nat/dhcp-vmnetd-foreign-chaddr", test_dhcp_vmnetd_foreign_chaddr);
	g_test_add_func("/uplink-nat/dhcp-vmnetd-per-port-cap", test_dhcp_vmnetd_per_port_cap);
	g_test_add_func("/uplink-nat/dhcp-vmnetd-reserved", test_dhcp_vmnetd_reserved);
	g_test_add_func("/uplink-nat/selfport-refused", test_selfport_refused);
	g_test_add_func("/uplink-nat/selfports-blocks6", test_selfports_blocks6);
	g_test_add_func("/uplink-nat/selfport6-dropped", test_selfport6_dropped);
	g_test_add_func("/uplink-nat/fragment-flood-bounded", test_fragment_flood_bounded);
	g_test_add_func("/uplink-nat/tftp-guarded", test_tftp_guarded);
	g_test_add_func("/uplink-nat/selfport6-loopback-named", test_selfport6_loopback_named);
	return g_test_run();
}
