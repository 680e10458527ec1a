/* fuzz_uplink_hostonly.c - the host-only uplink's deliver path (ARP filter, refusals, DHCP and DNS through netsvc.c, libslirp for the host), frames from two fake VMs. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz.h"

#include "vmnetd/netconf.h"
#include "vmnetd/switch.h"
#include "vmnetd/uplink_hostonly.h"

/* libslirp opens a host socket for each connection or datagram a guest
 * sends to the host address. Here none may be made: the fuzzer would reach
 * real services on this machine's loopback and run out of descriptors. This
 * definition takes the place of libc's for libslirp too, so libslirp takes
 * its "cannot connect" paths (a RST, a dropped datagram). */
int socket(int domain, int type, int protocol)
{
	/* FUZZ_REAL_SOCKETS=1: real ones, to tell whether a crash needs the refusal. */
	static int real = -1;

	if (real < 0)
		real = g_strcmp0(g_getenv("FUZZ_REAL_SOCKETS"), "1") == 0;
	if (!real && (domain == AF_INET || domain == AF_INET6)) {
		errno = EACCES;
		return -1;
	}
	return (int)syscall(SYS_socket, domain, type, protocol);
}

static const uint8_t host_mac[6] = { 0x52, 0x55, 192, 168, 56, 1 };

struct fake_vm {
	struct port port;
	bool sending;		/* its frame is the one being handled */
};

static enum port_verdict vm_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct fake_vm *vm = (struct fake_vm *)p;

	FUZZ_CHECK(len >= 14);
	/* The switch never hairpins, so what reaches the sender is an answer
	 * from the host: ARP, DHCP, DNS, a refusal, libslirp's RST. */
	if (vm->sending)
		FUZZ_CHECK(!memcmp(frame + 6, host_mac, 6));
	return PORT_QUEUED;
}

static const struct port_ops vm_ops = { .kind = "fake-vm", .deliver = vm_deliver };

static struct vmnetd_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* A small pool, a static lease and a zone, so DHCP and DNS have
	 * something to find and to run out of. */
	char *nets[] = { "lab,mode=hostonly,router=on,domainname=lab.example,"
			 "dhcpstart=192.168.56.101,dhcpend=192.168.56.104,"
			 "static=52:54:00:00:00:10=192.168.56.10=web", NULL };
	struct config_args a = { .networks = nets, .socket_dir = "/nonexistent" };
	GError *err = NULL;

	(void)argc;
	(void)argv;
	fuzz_init();
	vmnetd_config_init(&cfg);
	if (!vmnetd_config_load(&cfg, &a, &err)) {
		fprintf(stderr, "fuzz_uplink_hostonly: %s\n", err->message);
		abort();
	}
	return 0;
}

/* Each record: one control byte (bit 0: which VM sends), then the frame.
 * A fresh network per input, so every crash replays from its input alone. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size };
	struct loop *l = loop_new();
	struct vswitch *sw = switch_new(SWITCH_AGEING_NS);
	struct port_set *set = port_set_new(l, sw);
	struct lease_table *leases = lease_table_new();
	struct port *up = uplink_hostonly_new(set, g_ptr_array_index(cfg.networks, 0), leases,
					      "network lab", NULL);
	struct fake_vm *vms[2];
	uint8_t *rec;
	size_t len;

	FUZZ_CHECK(up);
	for (int i = 0; i < 2; i++) {
		vms[i] = g_new0(struct fake_vm, 1);	/* freed by the port layer */
		port_init(&vms[i]->port, &vm_ops, g_strdup_printf("vm%d", i));
		FUZZ_CHECK(port_attach(set, &vms[i]->port, -1, 0, NULL));
	}
	while ((rec = fuzz_record(&r, &len))) {
		struct fake_vm *vm = vms[len ? rec[0] & 1 : 0];

		vm->sending = true;
		port_input(&vm->port, len ? rec + 1 : rec, len ? len - 1 : 0);
		vm->sending = false;
		g_free(rec);
	}
	port_set_free(set);
	loop_free(l);
	switch_free(sw);
	lease_table_free(leases);
	return 0;
}
