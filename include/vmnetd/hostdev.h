/* hostdev.h - host network devices for bridged networks: an existing TAP, a
 * new TAP on a Linux bridge (within the bridge ACL), a macvtap on a NIC. */
#ifndef VMNETD_HOSTDEV_H
#define VMNETD_HOSTDEV_H

#include <stdbool.h>

#include <glib.h>

/* May bridge= use @bridge? @file holds lines "allow NAME", "deny NAME",
 * "allow all", "deny all", "include FILE" and # comments, as QEMU's bridge
 * helper reads /etc/qemu/bridge.conf: a bridge is allowed when an allow line
 * names it (or allows all) and no deny line names it; "deny all" refuses
 * what no allow line names. False with @err naming the file or the refusal. */
bool hostdev_bridge_allowed(const char *file, const char *bridge, GError **err);

/* Opens the existing TAP @name (as a persistent TAP's owner needs no root).
 * -1 with @err: no such device, not a TAP, busy (open elsewhere), no
 * permission. */
int hostdev_open_tap(const char *name, GError **err);

/* Creates a TAP (named *@name on return, to free), gives it @bridge's MTU
 * (*@mtu), puts it on @bridge and brings it up. It goes away when the
 * descriptor closes. -1 with @err: no such bridge, not a bridge, not
 * allowed by ACL file @acl, no permission (CAP_NET_ADMIN). */
int hostdev_tap_on_bridge(const char *bridge, const char *acl, char **name, unsigned *mtu,
			  GError **err);

/* Whether TAP @tap still sits on @bridge (both exist, one on the other). */
bool hostdev_on_bridge(const char *tap, const char *bridge);

/* Creates a macvtap (passthru mode: it takes the NIC over) on NIC @lower, named *@name on return,
 * opens its character device without the virtio-net header and brings it
 * up; *@mtu is its MTU. -1 with @err. */
int hostdev_macvtap_new(const char *lower, char **name, unsigned *mtu, GError **err);

/* Removes the macvtap @name (it outlives its descriptor). */
void hostdev_macvtap_delete(const char *name);

/* @name's MTU, or 0 when there is no such device. */
unsigned hostdev_mtu(const char *name);

#endif
