/* uplink_bridged.h - the bridged uplink: VMs on the LAN through a TAP on a
 * Linux bridge, an existing TAP, or a macvtap. */
#ifndef VMNETD_UPLINK_BRIDGED_H
#define VMNETD_UPLINK_BRIDGED_H

#include "vmnetd/netconf.h"
#include "vmnetd/port.h"

/* How often the link is checked: a vanished bridge is noticed, a device
 * that can be made again is, within a second. */
#define BRIDGED_CHECK_NS	(1000 * 1000 * 1000LL)
/* Attempts to make a device again back off to this: a minute costs a
 * returning bridge little, and a device that cannot be made cheap churn. */
#define BRIDGED_RETRY_MAX_NS	(60 * 1000 * 1000 * 1000LL)

/* The bridged port of network @cfg, in @set: its device opened or made
 * now, so every error (no such bridge, not allowed by the ACL, no
 * permission, TAP busy) is said at start. @what names the network. */
struct port *uplink_bridged_new(struct port_set *set, const struct net_config *cfg,
				const char *what, GError **err);
/* The device's MTU, as last opened. */
unsigned uplink_bridged_mtu(const struct port *p);

#endif
