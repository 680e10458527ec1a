/* netns.h - a TAP inside another network namespace (a container's or a
 * sandbox's), opened there by a short-lived child and handed back, and a
 * pidfd of the process that keeps that namespace alive. */
#ifndef VMNETD_NETNS_H
#define VMNETD_NETNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "vmnetd/loop.h"

/* How long the child may take to enter the namespace and make the TAP. */
#define NETNS_CHILD_TIMEOUT_MS	5000

struct netns_target {
	const char *target;		/* a pid, or a path (/run/netns/x) with is_path */
	bool is_path;
	const char *userns;		/* a user namespace to enter first; NULL: see netns.c */
	const char *ifname;		/* the TAP's name inside, "tap0" */
	bool configure;			/* lo and the TAP up, address, MTU, default route */
	unsigned mtu;
	struct in_addr addr, mask, gateway;
	uint8_t mac[6];			/* the TAP's MAC (set with configure) */
};

/* Opens (creates) the TAP inside @t's namespace and, with t->configure,
 * sets it up as slirp4netns --configure does. @pidfd (or -1 for a path) is
 * the target process's, opened first: its namespaces are taken only while
 * it still runs, never a later process's with the same pid. Returns the
 * TAP's descriptor (non-blocking) or -1 with @err: no such process or
 * namespace, no permission, TAP unavailable or busy. */
int netns_open_tap(const struct netns_target *t, int pidfd, GError **err);

/* A pidfd of process @target (a pid), readable once it has exited, for
 * supervise_watch_end(); -1 with @err. */
int netns_pidfd(const char *target, GError **err);

#endif
