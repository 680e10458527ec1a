/* fake_vm.h - a switch port standing in for a VM in the unit tests: it keeps
 * the last frame delivered to it and counts them. */
#ifndef VMNETD_TEST_FAKE_VM_H
#define VMNETD_TEST_FAKE_VM_H

#include <glib.h>

#include "vmnetd/port.h"

struct fake_vm {
	struct port port;
	GByteArray *last;	/* the last frame delivered */
	unsigned frames;
};

static inline enum port_verdict fake_vm_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct fake_vm *vm = (struct fake_vm *)p;

	g_byte_array_set_size(vm->last, 0);
	g_byte_array_append(vm->last, frame, len);
	vm->frames++;
	return PORT_QUEUED;
}

static const struct port_ops fake_vm_ops = { .kind = "fake-vm", .deliver = fake_vm_deliver };

/* A fake VM named @name attached to @set; the port layer frees it when it
 * closes, so @last (where its last frame goes) belongs to the caller. */
static inline struct fake_vm *fake_vm_attach(struct port_set *set, const char *name,
					     GByteArray *last)
{
	struct fake_vm *vm = g_new0(struct fake_vm, 1);

	vm->last = last;
	port_init(&vm->port, &fake_vm_ops, g_strdup(name));
	port_attach(set, &vm->port, -1, 0, NULL);
	return vm;
}

#endif
