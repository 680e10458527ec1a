/* uplink_hostonly.h - the host-only uplink: the host's address on the
 * network, with vmnetd's own DHCP and DNS, and nothing beyond. */
#ifndef VMNETD_UPLINK_HOSTONLY_H
#define VMNETD_UPLINK_HOSTONLY_H

#include "vmnetd/forwards.h"
#include "vmnetd/leases.h"
#include "vmnetd/netconf.h"
#include "vmnetd/port.h"

/* The host-only port of network @cfg, in @set. Without host-iface the host
 * is reached through libslirp (its loopback, rootless); with host-iface a
 * TAP of that name carries the host address (root or CAP_NET_ADMIN). */
struct port *uplink_hostonly_new(struct port_set *set, const struct net_config *cfg,
				 struct lease_table *leases, const char *what, GError **err);
/* Its forwards (forwards.h); NULL with host-iface=, where the host's own
 * stack answers and no forward applies. */
struct forwards *uplink_hostonly_forwards(struct port *p);

#endif
