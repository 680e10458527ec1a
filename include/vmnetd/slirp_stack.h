/* slirp_stack.h - one libslirp instance driven by the daemon's loop: its
 * descriptors, timers and timeout, the frames it emits, port forwards. */
#ifndef VMNETD_SLIRP_STACK_H
#define VMNETD_SLIRP_STACK_H

#include <slirp/libslirp.h>

#include "vmnetd/loop.h"
#include "vmnetd/netopts.h"
#include "vmnetd/port.h"

struct slirp_stack;

/* Receives every frame libslirp sends towards the guests. */
typedef void (*slirp_frame_fn)(void *opaque, const uint8_t *frame, size_t len);

/* A libslirp instance for @sc; its frames go to @out; its guests may have
 * it open at most @max_flows host sockets (flowcap.h; 0: this process's
 * share for one network). While @owner waits on a congested destination
 * (owner->blocked_on), its sockets are not read, so host traffic waits in
 * the kernel. NULL, with @err, if libslirp refuses. */
struct slirp_stack *slirp_stack_new(struct loop *l, const SlirpConfig *sc,
				    const struct port *owner, unsigned max_flows,
				    slirp_frame_fn out, void *opaque, GError **err);
void slirp_stack_free(struct slirp_stack *s);

/* Give libslirp one frame from the guests. IPv4 fragments pass only within
 * the reassembly budget (fraglimit.h), per network and per sending port
 * (the owner's switch says which), and new flows only within the flow
 * budget (flowcap.h): false when one was refused. */
bool slirp_stack_input(struct slirp_stack *s, const uint8_t *frame, size_t len);
/* Start the forwards table (forwards.h) with the configured @hostfwds;
 * a forward added later without a guest address goes to @default_guest.
 * @what prefixes messages ("network lab"). */
bool slirp_stack_add_hostfwds(struct slirp_stack *s, const GArray *hostfwds,
			      struct in_addr default_guest, const char *what, GError **err);
/* The forwards table, or NULL before slirp_stack_add_hostfwds(). */
struct forwards *slirp_stack_forwards(struct slirp_stack *s);
Slirp *slirp_stack_slirp(struct slirp_stack *s);

/* The MAC libslirp uses for its IPv4 address @a: 52:55 and the address. */
void slirp_mac4(struct in_addr a, uint8_t mac[6]);
/* The MAC libslirp uses for its IPv6 address @a: 52:56 and its last 4 bytes. */
void slirp_mac6(const struct in6_addr *a, uint8_t mac[6]);

#endif
