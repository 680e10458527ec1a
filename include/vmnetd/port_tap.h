/* port_tap.h - frames to and from a Linux TAP device: one frame per read()
 * and per write(), no header (IFF_NO_PI). */
#ifndef VMNETD_PORT_TAP_H
#define VMNETD_PORT_TAP_H

#include <netinet/in.h>

#include "vmnetd/port.h"

/* Frames a TAP read takes at most per wakeup: bounded so one busy TAP
 * cannot keep the loop from the others. */
#define TAP_READ_BATCH		64
#define TAP_QUEUE_SIZE		(2 * 1024 * 1024)
#define TAP_FRAME_MAX		65535

/* Creates (or opens) the TAP @ifname; non-blocking. It goes away when the
 * descriptor closes, unless it was made persistent beforehand. -1 with @err. */
int tap_open(const char *ifname, GError **err);
/* A socket for interface ioctls (SIOC*), or -1 with @err. */
int netdev_socket(GError **err);
/* Sets @ifname up through socket @s (needs CAP_NET_ADMIN). */
bool netdev_up(int s, const char *ifname, GError **err);
/* Gives @ifname a MAC, an MTU, an IPv4 address and brings it up
 * (needs CAP_NET_ADMIN). */
bool tap_configure(const char *ifname, const uint8_t mac[6], unsigned mtu, struct in_addr addr,
		   struct in_addr mask, GError **err);

/* A port of TAP @fd (taken; its frames up to @mtu of payload), as a VM's
 * port: a container's or sandbox's TAP (netns.h). @name is taken. NULL if
 * it cannot be watched (the descriptor is closed then). */
struct port *port_tap_new(struct port_set *set, int fd, char *name, unsigned mtu);

/* Reads up to TAP_READ_BATCH frames into the switch (fewer once the port
 * waits on a congested one); 0, or the errno of a device that failed. */
int tap_read_batch(struct port *p);
/* Port ops for a TAP-backed port: read frames into the switch (closing the
 * port if the device fails), write the queue. */
void tap_read(struct port *p);
bool tap_flush(struct port *p);

#endif
