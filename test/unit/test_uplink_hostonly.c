/* test_uplink_hostonly.c - the host-only uplink with no network: it answers
 * ARP for the host address only, DHCP and DNS itself, refuses packets
 * beyond the host at once, and never answers broadcasts or frames meant for
 * another VM. */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "vmnetd/frame.h"
#include "vmnetd/netconf.h"
#include "vmnetd/switch.h"
#include "vmnetd/uplink_hostonly.h"

#include "fake_vm.h"


static const uint8_t vm_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x11 };
static const uint8_t host_mac[6] = { 0x52, 0x55, 192, 168, 56, 1 };
static const uint8_t other_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x22 };

struct rig {
	struct loop *l;
	struct vswitch *sw;
	struct port_set *set;
	struct lease_table *leases;
	struct vmnetd_config cfg;
	struct port *up;
	struct fake_vm *vm;
	GByteArray *last;
};

static void rig_up(struct rig *r)
{
	char *nets[] = { "lab,mode=hostonly", NULL };
	struct config_args a = { .networks = nets, .socket_dir = "/nonexistent" };

	r->l = loop_new();
	r->sw = switch_new(SWITCH_AGEING_NS);
	r->set = port_set_new(r->l, r->sw);
	r->leases = lease_table_new();
	vmnetd_config_init(&r->cfg);
	g_assert_true(vmnetd_config_load(&r->cfg, &a, NULL));
	r->up = uplink_hostonly_new(r->set, g_ptr_array_index(r->cfg.networks, 0), r->leases,
				    "network lab", NULL);
	g_assert_nonnull(r->up);
	r->last = g_byte_array_new();
	r->vm = fake_vm_attach(r->set, "fake-vm", r->last);	/* freed by the port layer */
}

static void rig_down(struct rig *r)
{
	port_set_free(r->set);
	loop_free(r->l);
	switch_free(r->sw);
	lease_table_free(r->leases);
	vmnetd_config_clear(&r->cfg);
	g_byte_array_unref(r->last);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	g_assert_cmpint(inet_pton(AF_INET, s, &a), ==, 1);
	return a.s_addr;
}

static size_t arp_request(uint8_t *f, const char *target)
{
	uint32_t sip = ip4("192.168.56.101"), tip = ip4(target);

	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, vm_mac, 6);
	put_be16(f + 12, ETH_P_ARP);
	memcpy(f + 14, (uint8_t[]){ 0, 1, 8, 0, 6, 4, 0, 1 }, 8);
	memcpy(f + 22, vm_mac, 6);
	memcpy(f + 28, &sip, 4);
	memcpy(f + 38, &tip, 4);
	return 60;
}

/* UDP or TCP from the VM at .101 to @dst through @dst_mac. */
static size_t packet(uint8_t *f, const uint8_t dst_mac[6], const char *dst, uint8_t proto,
		     uint16_t dport, const uint8_t *payload, size_t plen)
{
	struct frame_addrs a = { .src = { ip4("192.168.56.101") }, .dst = { ip4(dst) } };
	size_t n;

	memcpy(a.src_mac, vm_mac, 6);
	memcpy(a.dst_mac, dst_mac, 6);
	n = frame_build_udp4(f, 1500, &a, 40000, dport, payload, plen);
	if (proto == IPPROTO_TCP_) {		/* the same bytes made a bare SYN */
		uint8_t *ip = f + ETH_HLEN, *tcp = ip + IP4_HLEN;

		ip[9] = IPPROTO_TCP_;
		put_be16(ip + 2, IP4_HLEN + 20);
		memset(tcp + 4, 0, 16);
		tcp[12] = 5 << 4;
		tcp[13] = 0x02;
		n = ETH_HLEN + IP4_HLEN + 20;
	}
	return n;
}

static void test_arp_host_only(void)
{
	struct rig r;
	uint8_t f[64];

	rig_up(&r);
	port_input(&r.vm->port, f, arp_request(f, "192.168.56.1"));
	g_assert_cmpuint(r.vm->frames, ==, 1);
	g_assert_cmpmem(r.last->data + 22, 6, host_mac, 6);		/* sender: the host */
	port_input(&r.vm->port, f, arp_request(f, "192.168.56.0"));
	port_input(&r.vm->port, f, arp_request(f, "192.168.56.7"));
	g_assert_cmpuint(r.vm->frames, ==, 1);				/* no one else */
	rig_down(&r);
}

static void test_refusals(void)
{
	struct rig r;
	uint8_t f[1600];

	rig_up(&r);
	/* A SYN to the outside through the host: reset at once. */
	port_input(&r.vm->port, f, packet(f, host_mac, "203.0.113.10", IPPROTO_TCP_, 80, NULL, 0));
	g_assert_cmpuint(r.vm->frames, ==, 1);
	g_assert_cmpuint(r.last->data[ETH_HLEN + 9], ==, IPPROTO_TCP_);
	g_assert_cmpuint(r.last->data[ETH_HLEN + IP4_HLEN + 13] & 0x04, ==, 0x04);
	/* UDP to the outside: ICMP prohibited. */
	port_input(&r.vm->port, f, packet(f, host_mac, "203.0.113.10", IPPROTO_UDP_, 7,
					  (const uint8_t *)"x", 1));
	g_assert_cmpuint(r.vm->frames, ==, 2);
	g_assert_cmpuint(r.last->data[ETH_HLEN + 9], ==, IPPROTO_ICMP_);
	/* TCP to the host's port 53: refused too (its DNS is vmnetd's, UDP only). */
	port_input(&r.vm->port, f, packet(f, host_mac, "192.168.56.1", IPPROTO_TCP_, 53, NULL, 0));
	g_assert_cmpuint(r.vm->frames, ==, 3);
	g_assert_cmpuint(r.last->data[ETH_HLEN + IP4_HLEN + 13] & 0x04, ==, 0x04);
	/* Never an answer to a broadcast, multicast or loopback destination... */
	port_input(&r.vm->port, f, packet(f, host_mac, "224.0.0.1", IPPROTO_UDP_, 7, NULL, 0));
	port_input(&r.vm->port, f, packet(f, host_mac, "192.168.56.255", IPPROTO_UDP_, 7, NULL, 0));
	port_input(&r.vm->port, f, packet(f, host_mac, "127.0.0.1", IPPROTO_UDP_, 7, NULL, 0));
	/* ...nor to a frame flooded past us on its way to another VM. */
	port_input(&r.vm->port, f, packet(f, other_mac, "203.0.113.10", IPPROTO_TCP_, 80, NULL, 0));
	g_assert_cmpuint(r.vm->frames, ==, 3);
	rig_down(&r);
}

/* "host" asked of 192.168.56.1: its own address, from vmnetd's DNS. */
static void test_dns(void)
{
	struct rig r;
	uint8_t f[1600];
	static const uint8_t query[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
					 4, 'h', 'o', 's', 't', 0, 0, 1, 0, 1 };
	struct udp4_view v;

	rig_up(&r);
	port_input(&r.vm->port, f, packet(f, host_mac, "192.168.56.1", IPPROTO_UDP_, 53, query,
					  sizeof(query)));
	g_assert_cmpuint(r.vm->frames, ==, 1);
	g_assert_true(frame_udp4(r.last->data, r.last->len, &v));
	g_assert_cmpuint(get_be16(v.payload + 6), ==, 1);		/* one answer */
	g_assert_cmpmem(v.payload + v.payload_len - 4, 4, "\xc0\xa8\x38\x01", 4);
	rig_down(&r);
}

/* fuzz_uplink_hostonly's find: an IPv4 fragment with an offset and no first
 * fragment before it makes libslirp 4.7 crash (SIGBUS/SIGSEGV within a second,
 * on its reassembly). It must never reach libslirp: the daemon lives on. */
static size_t lone_fragment(uint8_t *f)
{
	uint8_t *ip = f + ETH_HLEN;
	size_t n = packet(f, host_mac, "192.168.56.1", IPPROTO_UDP_, 53,
			  (const uint8_t *)"0123456789ab", 12);
	uint32_t sum = 0;

	put_be16(ip + 6, 64 / 8);		/* offset 64, MF clear: a last fragment */
	put_be16(ip + 10, 0);
	for (int k = 0; k < IP4_HLEN; k += 2)
		sum += get_be16(ip + k);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_be16(ip + 10, ~sum & 0xffff);
	return n;
}

static void quit_loop(void *opaque)
{
	loop_quit(opaque);
}

static void test_lone_fragment(void)
{
	struct rig r;
	struct loop_timer *stop;
	uint8_t f[128];

	rig_up(&r);
	port_input(&r.vm->port, f, lone_fragment(f));
	g_assert_cmpuint(r.up->stats.tx_drops, ==, 1);
	stop = loop_timer_new(r.l, quit_loop, r.l);
	loop_timer_arm(stop, clock_now_ns() + 1500 * 1000000LL);	/* past its timers */
	loop_run(r.l);
	loop_timer_free(stop);
	rig_down(&r);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/uplink-hostonly/arp-host-only", test_arp_host_only);
	g_test_add_func("/uplink-hostonly/refusals", test_refusals);
	g_test_add_func("/uplink-hostonly/dns", test_dns);
	g_test_add_func("/uplink-hostonly/lone-fragment", test_lone_fragment);
	return g_test_run();
}
