/* uplink_nat.h - the NAT uplink: a switch port backed by libslirp. */
#ifndef VMNETD_UPLINK_NAT_H
#define VMNETD_UPLINK_NAT_H

#include "vmnetd/loop.h"
#include "vmnetd/netopts.h"
#include "vmnetd/switch.h"

struct uplink_nat;

/* @relay_exe is run (with --guestfwd-relay) for each guestfwd connection to
 * a TCP target. */
struct uplink_nat *uplink_nat_new(struct loop *l, struct vswitch *sw,
				  const struct nat_config *cfg, const char *relay_exe,
				  GError **err);
void uplink_nat_free(struct uplink_nat *nat);

#endif
