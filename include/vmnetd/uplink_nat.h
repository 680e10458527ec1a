/* uplink_nat.h - the NAT uplink: a switch port backed by libslirp. */
#ifndef VMNETD_UPLINK_NAT_H
#define VMNETD_UPLINK_NAT_H

#include "vmnetd/forwards.h"
#include "vmnetd/leases.h"
#include "vmnetd/netconf.h"
#include "vmnetd/port.h"

#define NAT_LEASE_TIME_S 86400	/* what libslirp's DHCP hands out, kept for dhcp=vmnetd */

/* The NAT port of network @cfg, in @set. Leases it hands out or sees go to
 * @leases. @relay_exe is run (with --guestfwd-relay) for each guestfwd
 * connection to a TCP target. @what names the network in messages. */
struct port *uplink_nat_new(struct port_set *set, const struct net_config *cfg,
			    struct lease_table *leases, const char *relay_exe, const char *what,
			    GError **err);
/* The NAT port's forwards (forwards.h). */
struct forwards *uplink_nat_forwards(struct port *p);

#endif
