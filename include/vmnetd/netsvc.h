/* netsvc.h - a network's own services, answered on behalf of its uplink:
 * vmnetd's DHCP server and the DNS responder for the VMs' names. */
#ifndef VMNETD_NETSVC_H
#define VMNETD_NETSVC_H

#include "vmnetd/dhcp_server.h"
#include "vmnetd/dns.h"
#include "vmnetd/leases.h"
#include "vmnetd/port.h"

/* Leases the VMs behind one port may hold: a VM needs one per NIC, and
 * every NIC is a port; a few more for containers behind it. More would let
 * one VM drain the pool with made-up MACs. */
#define NETSVC_LEASES_PER_PORT 8

struct netsvc_config {
	const char *net_name;		/* for the log */
	struct in_addr addr;		/* the services' address (the gateway or host) */
	uint8_t mac[6];			/* and its MAC */
	const struct dhcp_server_config *dhcp;	/* NULL: no DHCP */
	bool dns;			/* answer DNS on addr:53 */
	const char *host_name;		/* the name addr answers to in DNS */
	const char *domain;		/* DNS zone; NULL: bare names */
	struct in_addr net, mask;
	const struct port *uplink;	/* whose switch tells which port a MAC is behind */
};

typedef void (*netsvc_send_fn)(void *opaque, const uint8_t *frame, size_t len);

struct netsvc;

/* Services for one network, keeping leases in @leases. */
struct netsvc *netsvc_new(const struct netsvc_config *c, struct lease_table *leases,
			  netsvc_send_fn send, void *opaque, GError **err);
void netsvc_free(struct netsvc *s);

/* If @frame asks one of the services (DHCP to port 67, DNS to addr:53),
 * answer it through the send function and return true: it is consumed. */
bool netsvc_handle(struct netsvc *s, const uint8_t *frame, size_t len);

#endif
