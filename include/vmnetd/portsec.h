/* portsec.h - port security: a VM may use only its own addresses.
 *
 * Once an address is leased (or static), ARP and IP from any port but the
 * one behind the lease's MAC that claim it are dropped; so are frames that
 * claim the addresses the network's uplink and services own (gateway, DNS,
 * host), and frames that take a leased VM's MAC over from its port. IPv6
 * addresses belong to the first port seen using them. As libvirt's
 * clean-traffic filter and Open vSwitch's port security do.
 */
#ifndef VMNETD_PORTSEC_H
#define VMNETD_PORTSEC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmnetd/leases.h"
#include "vmnetd/port.h"

/* IPv6 addresses one port may hold (SLAAC, privacy, link-local): the
 * oldest go first past this. */
#define PORTSEC_V6_PER_PORT	16

struct portsec;
struct vswitch;

/* Checks against @leases; @own4/@own6 are the uplink's and services'
 * addresses (copied). */
struct portsec *portsec_new(struct lease_table *leases, const struct in_addr *own4, size_t n4,
			    const struct in6_addr *own6, size_t n6);
void portsec_free(struct portsec *ps);

/* May @in send @frame? Called before the switch learns from it. */
bool portsec_allow(struct portsec *ps, struct vswitch *sw, struct port *in,
		   const uint8_t *frame, size_t len, int64_t now_ns);
/* Forget what @p held (it is going). */
void portsec_forget(struct portsec *ps, const struct port *p);

#endif
