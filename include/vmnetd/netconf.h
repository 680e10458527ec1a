/* netconf.h - the networks a daemon serves, as the user declares them: on the
 * command line (--network, --nat, --listen, --connect) and in a key file
 * (--config). Everything is parsed and checked here, before anything is built;
 * network.c builds from the result. */
#ifndef VMNETD_NETCONF_H
#define VMNETD_NETCONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "vmnetd/dhcp_server.h"
#include "vmnetd/endpoint.h"
#include "vmnetd/netopts.h"

#define NET_DEFAULT_NAME	"default"
#define NET_PORT_MACS_DEFAULT	32	/* MACs one port may own; a VM needs one, containers behind it a few */
#define NET_MAX_PORTS_DEFAULT	64	/* VMs on one network: each may cost ~2.3 MiB of queues */
/* MACs the ports of one network may own together: the switch's 4,096 less
 * room for the uplink's own, so a full table never keeps a newcomer out. */
#define NET_FDB_BUDGET		4032
#define HOSTONLY_LEASE_TIME_DEFAULT 3600	/* seconds, as VMware's vmnet DHCP */
/* A UDP datagram over IPv4 carries 65507 bytes, a frame's Ethernet header
 * takes 14: the MTU of a network QEMU joins with dgram:udp. */
#define NET_DGRAM_UDP_MTU_MAX	(65507 - 14)

enum net_mode { NET_MODE_NAT, NET_MODE_HOSTONLY, NET_MODE_BRIDGED };

/* Which bridges bridge= may use, as QEMU's bridge helper has it. */
#define BRIDGE_ACL_DEFAULT	"/etc/vmnetd/bridge.conf"

/* "nat", "hostonly": as mode= takes it. */
const char *net_mode_name(enum net_mode mode);

/* Host-only: VMs and the host, nothing else (VirtualBox: 192.168.56.0/24). */
struct hostonly_config {
	struct in_addr net, mask;
	struct in_addr host;		/* the host's address (.1); also DHCP server and DNS */
	struct in_addr pool_start, pool_end;	/* .101 to .254 */
	uint32_t lease_time_s;
	GArray *statics;		/* struct dhcp_static_lease */
	char *domain;			/* DNS zone for the VMs' names; NULL: bare names only */
	char *host_name;		/* the host's name in DNS, default "host" */
	char *host_iface;		/* host-iface=: a TAP carrying the host address; NULL: none */
	bool router;			/* router=on: leases name the host as router (default off) */
	GArray *hostfwds;		/* struct hostfwd, as for NAT */

	/* Which were given; the rest derive from net= when the network is checked. */
	bool host_given, pool_start_given, pool_end_given;
};

/* --netns: a TAP in another network namespace, as a port of a network. */
struct netns_config {
	char *target;			/* a pid, or a path with is_path */
	bool is_path;
	char *userns;			/* --userns PATH; NULL: the target's when not root */
	char *ifname;			/* --ifname, "tap0" */
	bool configure;			/* --configure: lo, address, MTU, route set up */
	uint8_t mac[6];			/* --macaddress */
	bool mac_given;
	bool exit_with;			/* the daemon ends when this namespace does */
};

/* GArray clear function for struct netns_config. */
void netns_config_clear(void *p);

/* Bridged: VMs on the LAN through one host device; nothing served. */
struct bridged_config {
	char *tap;			/* tap=: an existing TAP to open */
	char *bridge;			/* bridge=: a Linux bridge to put a new TAP on */
	char *macvtap;			/* macvtap=: a NIC to put a new macvtap on */
	char *acl;			/* bridge-acl=: BRIDGE_ACL_DEFAULT unless given */
};

struct net_config {
	char *name;
	enum net_mode mode;
	unsigned mtu;			/* both modes; NAT's copy lives in nat.mtu too */
	unsigned port_macs;		/* port-macs=: MACs one port may own */
	unsigned max_ports;		/* max-ports=: VM ports at once */
	bool port_security;		/* port-security=: a VM may use only its own addresses */
	unsigned flow_budget;		/* host sockets its guests may open; 0: this process's share */
	bool dhcp_vmnetd;		/* NAT dhcp=vmnetd: vmnetd's DHCP server, not libslirp's */
	char *lease_file;		/* lease-file=: DHCP state file; NULL: memory only */
	struct nat_config nat;		/* mode NAT: libslirp's settings */
	struct hostonly_config ho;	/* mode host-only */
	struct bridged_config br;	/* mode bridged */
	GArray *listen;			/* struct endpoint: sockets bound to this network */
	GArray *connect;		/* struct endpoint */
	GArray *fds;			/* int: --fd, connected stream sockets handed over */
	GArray *netns;			/* struct netns_config: --netns */
	bool default_socket;		/* listen[0] is the default socket, in a directory we may create */
	GString *fingerprint;		/* every setting but hostfwd=, as given: equal
					 * fingerprints, same network (reload) */
};

/* What the command line gave, each array NULL-terminated or NULL. */
struct config_args {
	char **networks;		/* --network NAME,mode=...,KEY=VALUE */
	char **nat;			/* --nat OPTS: the default network */
	char **listen;			/* --listen ADDR[,network=NAME] */
	char **connect;			/* --connect ADDR[,network=NAME] */
	const char *config_file;	/* --config FILE, or NULL */
	const char *socket_dir;		/* where default sockets go: DIR/NAME.sock; required */
	char **passed;			/* networks given a socket by systemd: no default one */
	char **fds;			/* --fd N[,network=NAME] */
	char **netns;			/* --netns TARGET[,network=NAME] */
	const char *netns_type;		/* --netns-type pid|path */
	const char *userns;		/* --userns PATH */
	const char *ifname;		/* --ifname NAME */
	const char *macaddress;		/* --macaddress MAC */
	bool netns_configure;		/* --configure */
	bool netns_exit;		/* the daemon ends with its namespaces (slirp4netns) */
};

struct vmnetd_config {
	GPtrArray *networks;		/* struct net_config *, in declaration order */
};

void vmnetd_config_init(struct vmnetd_config *c);
/* Frees one network's settings (a GDestroyNotify). */
void net_config_free(void *p);
void vmnetd_config_clear(struct vmnetd_config *c);

/* Parses and checks everything. With no network declared there is one NAT
 * network "default" (shaped by --nat); a network with no --listen or
 * --connect gets the default socket SOCKET_DIR/NAME.sock. On error, one
 * message naming the network (or option) and the key, and @c left with no
 * networks. */
bool vmnetd_config_load(struct vmnetd_config *c, const struct config_args *a, GError **err);

/* The network called @name, or NULL. */
struct net_config *vmnetd_config_find(const struct vmnetd_config *c, const char *name);

#endif
