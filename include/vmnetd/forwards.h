/* forwards.h - a network's port forwards (host port -> guest port): numbered,
 * added and removed while the daemon runs, IPv4 and IPv6, TCP and UDP. */
#ifndef VMNETD_FORWARDS_H
#define VMNETD_FORWARDS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <glib.h>
#include <slirp/libslirp.h>

#include "vmnetd/endpoint.h"
#include "vmnetd/netopts.h"

struct fwd_rule {
	bool udp;
	struct sockaddr_storage host;	/* AF_INET or AF_INET6, port set */
	struct sockaddr_storage guest;	/* AF_INET or AF_INET6, port set */
};

struct fwd_entry {
	unsigned id;			/* the daemon's number, from 1, never reused */
	struct fwd_rule rule;
	char *config_spec;		/* hostfwd= as configured; NULL: added at run time */
};

struct forwards;

/* The forwards of one libslirp instance; a rule without a guest address
 * goes to @default_guest. @what names the network in messages. */
struct forwards *forwards_new(Slirp *slirp, struct in_addr default_guest, const char *what);
/* Forget every entry; libslirp's own listeners go with slirp_cleanup(). */
void forwards_free(struct forwards *f);

/* Listen on the host for @r. True with its id in *@id (may be NULL); false
 * with @err (port in use, privileged port...) and nothing changed. */
bool forwards_add(struct forwards *f, const struct fwd_rule *r, unsigned *id, GError **err);
/* Add the configured hostfwd= values, remembering each one's spec. */
bool forwards_add_config(struct forwards *f, const GArray *hostfwds, GError **err);
/* Make the configured forwards those of @hostfwds (a reloaded configuration):
 * those no longer there stop, new ones start; forwards added through the
 * API stay. False with @err at the first that cannot start. */
bool forwards_sync_config(struct forwards *f, const GArray *hostfwds, GError **err);
/* Stop listening for forward @id; false with @err if there is none. */
bool forwards_remove(struct forwards *f, unsigned id, GError **err);
/* The configured forward written @spec, or NULL. */
const struct fwd_entry *forwards_find_config(struct forwards *f, const char *spec);
/* Calls @fn for every forward, in id order. */
void forwards_foreach(struct forwards *f, void (*fn)(const struct fwd_entry *e, void *opaque),
		      void *opaque);
struct in_addr forwards_default_guest(const struct forwards *f);
/* The id the next forward will get, anywhere in this process (tests). */
unsigned forwards_next_id(void);

/* Builds a rule from the API's fields (slirp4netns's): @proto tcp|udp, or
 * tcp4|udp4|tcp6|udp6 for the host family; @host_addr NULL for all
 * addresses of that family; @guest_addr NULL for @default_guest (IPv4
 * only). Both sides are of one family. */
bool fwd_rule_parse(struct fwd_rule *r, const char *proto, const char *host_addr,
		    gint64 host_port, const char *guest_addr, gint64 guest_port,
		    struct in_addr default_guest, GError **err);

#endif
