/* fuzz_portsec.c - port security (portsec.c) as the switch's filter: frames from three fake VM ports and an uplink. */
#include <arpa/inet.h>
#include <time.h>

#include "fuzz.h"

#include "vmnetd/frame.h"
#include "vmnetd/portsec.h"
#include "vmnetd/switch.h"

#define NPORTS	4
#define UPLINK	3
#define SEC	1000000000LL

static const uint8_t gw_mac[6] = { 0x52, 0x55, 10, 0, 2, 2 };
static const uint8_t vm_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x11 };

struct fake_port {
	struct port port;
	unsigned delivered;
};

static enum port_verdict fake_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	(void)frame;
	(void)len;
	((struct fake_port *)p)->delivered++;
	return PORT_QUEUED;
}

static const struct port_ops fake_ops = { .kind = "fake", .deliver = fake_deliver };

static bool filter(void *opaque, struct vswitch *sw, struct port *in, const uint8_t *frame,
		   size_t len, int64_t now_ns)
{
	return portsec_allow(opaque, sw, in, frame, len, now_ns);
}

static void gone(void *opaque, const struct port *p)
{
	portsec_forget(opaque, p);
}

static struct in_addr own4[2];
static struct in6_addr own6[1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	inet_pton(AF_INET, "10.0.2.2", &own4[0]);
	inet_pton(AF_INET, "10.0.2.3", &own4[1]);
	inet_pton(AF_INET6, "fec0::2", &own6[0]);
	return 0;
}

/* Does @frame, from a VM, claim one of the network's own IPv4 addresses as
 * its sender (ARP for IPv4 over Ethernet, or an IPv4 source)? */
static bool claims_own4(const uint8_t *frame, size_t len)
{
	const uint8_t *a = NULL;

	if (len >= ETH_HLEN + 28 && get_be16(frame + 12) == ETH_P_ARP &&
	    !memcmp(frame + ETH_HLEN, "\0\1\x08\0\6\4", 6))
		a = frame + ETH_HLEN + 14;
	else if (frame_ip4((uint8_t *)frame, len))
		a = frame + ETH_HLEN + 12;
	return a && (!memcmp(a, &own4[0], 4) || !memcmp(a, &own4[1], 4));
}

/* Each record: one control byte, then a frame.
 *   bits 0-1  the ingress port (3: the uplink, never filtered)
 *   bit 2     1 s passes first; bit 3: 301 s (learned MACs go stale)
 *   bit 4     the ingress port leaves the switch first and comes back */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size };
	struct lease_table *leases = lease_table_new();
	struct lease l = { .is_static = true, .expires = INT64_MAX };
	struct vswitch *sw = switch_new(SWITCH_AGEING_NS);
	struct portsec *ps;
	struct fake_port ports[NPORTS];
	int64_t now = 0;
	uint8_t *rec;
	size_t len;

	/* One VM holds 10.0.2.15; the others may not claim it. */
	memcpy(l.mac, vm_mac, 6);
	inet_pton(AF_INET, "10.0.2.15", &l.ip);
	lease_table_set(leases, &l);
	ps = portsec_new(leases, own4, 2, own6, 1);
	switch_set_filter(sw, filter, gone, ps);
	for (int i = 0; i < NPORTS; i++) {
		memset(&ports[i], 0, sizeof(ports[i]));
		port_init(&ports[i].port, &fake_ops, g_strdup_printf("p%d", i));
		ports[i].port.uplink = i == UPLINK;
		switch_add_port(sw, &ports[i].port);
	}
	switch_add_static(sw, &ports[UPLINK].port, gw_mac);

	while ((rec = fuzz_record(&r, &len))) {
		uint8_t ctl = len ? rec[0] : 0;
		struct fake_port *in = &ports[ctl & 3];
		const uint8_t *frame = rec + 1;
		size_t flen = len ? len - 1 : 0;
		unsigned total = 0;
		struct port *holder;

		if (ctl & 0x04)
			now += SEC;
		if (ctl & 0x08)
			now += SWITCH_AGEING_NS + SEC;
		if (ctl & 0x10) {
			switch_del_port(sw, &in->port);
			switch_add_port(sw, &in->port);
			if (in == &ports[UPLINK])
				switch_add_static(sw, &in->port, gw_mac);
		}
		for (int i = 0; i < NPORTS; i++)
			ports[i].delivered = 0;
		holder = switch_lookup(sw, vm_mac, now);
		switch_input(sw, &in->port, frame, flen, now);
		for (int i = 0; i < NPORTS; i++)
			total += ports[i].delivered;
		/* No VM speaks for the gateway or DNS. */
		if (in != &ports[UPLINK] && claims_own4(frame, flen))
			FUZZ_CHECK(total == 0);
		/* The leased MAC, while fresh on a port, moves to no other VM port. */
		if (holder && in != &ports[UPLINK])
			FUZZ_CHECK(switch_lookup(sw, vm_mac, now) == holder);
		g_free(rec);
	}
	for (int i = 0; i < NPORTS; i++) {
		switch_del_port(sw, &ports[i].port);
		port_fini(&ports[i].port);
	}
	switch_set_filter(sw, NULL, NULL, NULL);
	portsec_free(ps);
	switch_free(sw);
	lease_table_free(leases);
	return 0;
}
