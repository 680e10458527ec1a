/* network.h - one virtual network: a switch, its uplink, and the sockets VMs attach to. */
#ifndef VMNETD_NETWORK_H
#define VMNETD_NETWORK_H

#include "vmnetd/endpoint.h"
#include "vmnetd/loop.h"
#include "vmnetd/netopts.h"

struct network;

struct network *network_new_nat(struct loop *l, const struct nat_config *cfg,
				const char *relay_exe, GError **err);
bool network_listen(struct network *net, const struct endpoint *ep, unsigned socket_mode,
		    GError **err);
void network_connect(struct network *net, const struct endpoint *ep);
/* Closes every VM port and listener, removing the socket files. */
void network_free(struct network *net);

#endif
