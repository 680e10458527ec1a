/* port_stream.h - a VM attached through QEMU's -netdev stream (unix or TCP socket). */
#ifndef VMNETD_PORT_STREAM_H
#define VMNETD_PORT_STREAM_H

#include "vmnetd/port.h"

/* Output queue: a backlog above the high mark makes senders wait; at the
 * ring's size frames are dropped. 2 MiB holds a whole read batch (256 KiB)
 * on top of the high mark, and 1 MiB is ~2 ms at 4 Gbit/s. */
#define STREAM_TXRING_SIZE	(2 * 1024 * 1024)
#define STREAM_BACKLOG_HIGH	(1024 * 1024)
#define ETH_MIN_FRAME		60	/* peers pad shorter frames to this */

/* A stream port on @fd (non-blocking, connected; taken) named @name (taken),
 * in @set. NULL, with @fd closed, if it cannot be watched. */
struct port *port_stream_new(struct port_set *set, int fd, char *name);

#endif
