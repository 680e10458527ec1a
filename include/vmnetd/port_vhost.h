/* port_vhost.h - a VM attached through vhost-user: its two virtqueues in
 * shared guest memory are the port; frames move between them and the
 * switch without QEMU in the path. */
#ifndef VMNETD_PORT_VHOST_H
#define VMNETD_PORT_VHOST_H

#include "vmnetd/port.h"

/* Frames are at most this long: no offloads are offered, and QEMU's
 * virtio-net takes at most a 65535-byte MTU; the stream's bound too. */
#define VHOST_FRAME_MAX		65535
/* Receive buffers one frame may fill with MRG_RXBUF: a 64 KiB frame in
 * the smallest buffers Linux posts (1518 bytes) takes 44. */
#define VHOST_RX_BUFS_MAX	128
/* Transmitted frames taken per wakeup: a default ring (256) at most, then
 * the other ports get their turn. */
#define VHOST_TX_BATCH		256
/* Frames waiting for receive buffers, and where senders are held: as a
 * stream VM's (port_stream.h). */
#define VHOST_QUEUE_SIZE	(2 * 1024 * 1024)
#define VHOST_BACKLOG_HIGH	(1024 * 1024)

/* The port for vhost-user front-end connection @fd (taken), named @name
 * (taken), on a network of MTU @mtu; NULL if it cannot be watched. */
struct port *port_vhost_new(struct port_set *set, int fd, char *name, unsigned mtu);

#endif
