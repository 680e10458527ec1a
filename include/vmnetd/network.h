/* network.h - one virtual network: a switch, its uplink (NAT or host-only),
 * its lease table, and the sockets VMs attach through. */
#ifndef VMNETD_NETWORK_H
#define VMNETD_NETWORK_H

#include "vmnetd/capture.h"
#include "vmnetd/endpoint.h"
#include "vmnetd/forwards.h"
#include "vmnetd/leases.h"
#include "vmnetd/loop.h"
#include "vmnetd/netconf.h"
#include "vmnetd/switch.h"

struct network;

/* Builds network @cfg: switch, the uplink its mode asks for, services.
 * @what names it in messages ("network lab", or "--nat" for the default). */
struct network *network_new(struct loop *l, const struct net_config *cfg, const char *what,
			    const char *relay_exe, GError **err);
/* Accept VMs on @ep; each connection becomes a port of this network. */
bool network_listen(struct network *net, const struct endpoint *ep,
		    const struct socket_perms *perms, GError **err);
/* Accept VMs on @fd, a listening socket handed over by systemd (taken). */
bool network_listen_fd(struct network *net, int fd, GError **err);
/* Make a port of TAP @fd (taken, as is @name): a container's TAP. */
struct port *network_attach_tap(struct network *net, int fd, char *name);
/* Open a TAP in the namespace @nc names (netns.h) and make it a port; with
 * nc->configure its address (.100 of the subnet) is reserved as a static
 * lease. The port goes when the namespace's process exits. */
bool network_attach_netns(struct network *net, const struct netns_config *nc, GError **err);
/* Connect to a QEMU stream server at @ep, and again whenever it goes. */
bool network_connect(struct network *net, const struct endpoint *ep, GError **err);
/* Make a port of a connected stream socket (taken, as is @name). */
struct port *network_attach_stream(struct network *net, int fd, char *name);
/* Closes every port, listener and connector and the uplink, removing the
 * socket files; safe from inside any callback (memory goes after the
 * iteration). */
void network_free(struct network *net);

const char *network_name(const struct network *net);
/* How many VM ports (not uplinks) are attached. */
unsigned network_vm_ports(struct network *net);
/* Calls @fn for every attached port (VMs and uplink). */
void network_foreach_port(struct network *net, void (*fn)(struct port *p, void *opaque),
			  void *opaque);
/* Calls @fn for every live MAC table entry. */
void network_foreach_fdb(struct network *net, switch_fdb_fn fn, void *opaque);
const struct switch_stats *network_switch_stats(const struct network *net);
/* The network's leases: its DHCP server's, or those seen crossing it. */
struct lease_table *network_leases(struct network *net);

enum net_mode network_mode(const struct network *net);
unsigned network_mtu(const struct network *net);
/* "10.0.2.0/24" ("" when bridged), to free. */
char *network_subnet(const struct network *net);
/* The uplink's address: NAT's gateway, or the host in host-only mode ("" when
 * bridged), to free. */
char *network_gateway(const struct network *net);
/* Calls @fn with each listening socket's name ("unix:/run/vmnetd/default.sock"). */
void network_foreach_listener(struct network *net, void (*fn)(const char *name, void *opaque),
			      void *opaque);
/* Its port forwards, or NULL when its uplink has none (host-iface=). */
struct forwards *network_forwards(struct network *net);
/* The open port numbered @id, or NULL. */
struct port *network_find_port(struct network *net, unsigned id);
/* Capture the frames of port @port_id (0: every frame entering the switch)
 * into pcap file @fd (taken, even on failure); one capture at a time. */
bool network_capture_start(struct network *net, int fd, unsigned port_id, uint32_t snaplen,
			   GError **err);
/* Ends the capture, with its counts in *@st (may be NULL); false if none runs. */
bool network_capture_stop(struct network *net, struct capture_stats *st, GError **err);

#endif
