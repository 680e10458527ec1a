/* port_stream.h - a VM attached through QEMU's -netdev stream (unix or TCP socket). */
#ifndef VMNETD_PORT_STREAM_H
#define VMNETD_PORT_STREAM_H

#include "vmnetd/loop.h"
#include "vmnetd/switch.h"

/* Output queue: a backlog above the high mark makes senders wait; at the
 * ring's size frames are dropped. 2 MiB holds a whole read batch (256 KiB)
 * on top of the high mark, and 1 MiB is ~2 ms at 4 Gbit/s. */
#define STREAM_TXRING_SIZE	(2 * 1024 * 1024)
#define STREAM_BACKLOG_HIGH	(1024 * 1024)
#define ETH_MIN_FRAME		60	/* peers pad shorter frames to this */

struct port_stream;
struct stream_set;

typedef void (*stream_closed_fn)(void *opaque, struct port_stream *ps);

/* All stream ports of one network: they share a loop, a switch, and one
 * end-of-iteration flush that writes every port's backlog. */
struct stream_set *stream_set_new(struct loop *l, struct vswitch *sw);
void stream_set_free(struct stream_set *set);	/* closes every port */

/* Takes @fd (non-blocking, connected) and @name. @closed runs when the port
 * goes, for whatever reason. */
struct port_stream *port_stream_new(struct stream_set *set, int fd, char *name,
				    stream_closed_fn closed, void *opaque);
void port_stream_close(struct port_stream *ps, const char *why);

#endif
