/* test_uplink_nat.c - libslirp behind the switch, with no network: a fake VM port
 * sends DHCP DISCOVER and must get an OFFER for 10.0.2.15 that carries MTU 65520. */
#include <glib.h>
#include <string.h>

#include "vmnetd/dhcp_mtu.h"
#include "vmnetd/frame.h"
#include "vmnetd/loop.h"
#include "vmnetd/netopts.h"
#include "vmnetd/switch.h"
#include "vmnetd/uplink_nat.h"

struct fake_vm {
	struct port port;
	GByteArray *last;	/* the last frame delivered */
	unsigned frames;
};

static enum port_verdict vm_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct fake_vm *vm = (struct fake_vm *)p;

	g_byte_array_set_size(vm->last, 0);
	g_byte_array_append(vm->last, frame, len);
	vm->frames++;
	return PORT_QUEUED;
}

static const struct port_ops vm_ops = { .kind = "fake-vm", .deliver = vm_deliver };

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

static void test_dhcp_offer_with_mtu(void)
{
	struct loop *l = loop_new();
	struct vswitch *sw = switch_new(SWITCH_AGEING_NS);
	struct nat_config cfg;
	struct fake_vm vm = { .last = g_byte_array_new() };
	struct uplink_nat *nat;
	uint8_t discover[600];
	size_t len = build_discover(discover);
	struct udp4_view v;
	const uint8_t *opt;

	nat_config_init(&cfg);
	g_assert_true(nat_config_finish(&cfg, NULL));
	nat = uplink_nat_new(l, sw, &cfg, "vmnetd", NULL);
	g_assert_nonnull(nat);
	port_init(&vm.port, &vm_ops, g_strdup("fake-vm"));
	switch_add_port(sw, &vm.port);

	switch_input(sw, &vm.port, discover, len, clock_now_ns());

	g_assert_cmpuint(vm.frames, >=, 1);
	g_assert_true(dhcp_is_reply(vm.last->data, vm.last->len));
	g_assert_true(frame_udp4(vm.last->data, vm.last->len, &v));
	g_assert_cmpmem(vm.last->data, 6, "\xff\xff\xff\xff\xff\xff", 6);
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

	/* The NAT port learned the VM's MAC from the DISCOVER. */
	g_assert_true(switch_lookup(sw, vm_mac) == &vm.port);

	switch_del_port(sw, &vm.port);
	port_fini(&vm.port);
	uplink_nat_free(nat);
	switch_free(sw);
	loop_free(l);
	nat_config_clear(&cfg);
	g_byte_array_unref(vm.last);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/uplink-nat/dhcp-offer-with-mtu", test_dhcp_offer_with_mtu);
	return g_test_run();
}
