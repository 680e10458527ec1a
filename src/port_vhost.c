/* port_vhost.c - the port of a VM attached through vhost-user.
 *
 * Transmit: the guest kicks queue 1; each chain is copied once, out of
 * guest memory into our own buffer, and handed to the switch. The copy is
 * what makes the frame ours: the guest may rewrite its buffers while the
 * switch, port security and libslirp look at the frame. Receive: a frame
 * for the VM is written straight into the buffers the guest posted on
 * queue 0 (with MRG_RXBUF, as many as it needs); when there are none, it
 * waits in the port's queue until the guest kicks queue 0 with more. The
 * used index is published, and the guest interrupted, once per loop
 * iteration, not per frame. A ring the guest broke closes this port alone.
 */
#include <errno.h>
#include <unistd.h>

#include "vmnetd/frame.h"
#include "vmnetd/port_vhost.h"
#include "vmnetd/vhost_user.h"

struct rx_used {
	uint16_t head;
	uint32_t len;
};

struct port_vhost {
	struct port port;		/* first: the port layer sees only this */
	struct vhost_user_dev dev;
	bool publish[VHOST_USER_QUEUES];	/* pushed, not yet published */
	const char *broken;		/* a ring the guest broke: closed at publish */
	struct vring_chain first, chain;	/* receive: the frame's first buffer, the next */
	struct vring_chain tx_chain;	/* transmit: apart, since a frame sent may be
					 * answered into the receive ring at once */
	struct rx_used used[VHOST_RX_BUFS_MAX];
	uint8_t frame[VHOST_FRAME_MAX];	/* a transmitted frame, ours */
};

static struct port_vhost *of(struct port *p)
{
	return (struct port_vhost *)p;
}

/* Can frames for the VM go into its receive queue now? */
static bool rx_live(const struct port_vhost *pv)
{
	return vhost_user_live(&pv->dev, VHOST_USER_RXQ);
}

/* Close the port once the iteration's deliveries are over (a deliver op
 * may close no port). */
static void ring_broken(struct port_vhost *pv, const char *which)
{
	if (!pv->broken)
		pv->broken = which;
	port_mark_dirty(&pv->port);
}

static void need_publish(struct port_vhost *pv, unsigned q)
{
	pv->publish[q] = true;
	port_mark_dirty(&pv->port);
}

static void publish_queue(struct port_vhost *pv, unsigned q)
{
	if (!pv->publish[q] || !pv->dev.q[q].mapped)
		return;
	pv->publish[q] = false;
	if (vring_publish(&pv->dev.q[q].vr))
		vhost_user_notify(&pv->dev, q);
}

/* Come back to queue @q next iteration, through its own kick eventfd
 * (level-triggered): the guest may not kick again for what is there. */
static void self_kick(struct port_vhost *pv, unsigned q)
{
	uint64_t one = 1;

	if (pv->dev.q[q].kick_fd >= 0 && write(pv->dev.q[q].kick_fd, &one, sizeof(one)) < 0)
		g_debug("%s: kick eventfd: %s", pv->port.name, g_strerror(errno));
}

/* Bytes [@off, @off + @len) of the frame in @src (@n pieces) into @c at @at. */
static void copy_frame(const struct vring_chain *c, size_t at, const struct iovec *src, int n,
		       size_t off, size_t len)
{
	for (int i = 0; i < n && len; i++) {
		size_t seg = src[i].iov_len, k;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		k = MIN(seg - off, len);
		vring_chain_write(c, at, (const uint8_t *)src[i].iov_base + off, k);
		at += k;
		len -= k;
		off = 0;
	}
}

/* Fill chain @c with bytes [@done, @done + @w) of @hdr + frame. */
static void fill_chain(const struct port_vhost *pv, const struct vring_chain *c, size_t done,
		       size_t w, const uint8_t *vnet_hdr, const struct iovec *src, int n)
{
	size_t hdr = vhost_user_hdr_len(&pv->dev), at = 0;

	if (done < hdr) {
		at = MIN(hdr - done, w);
		vring_chain_write(c, 0, vnet_hdr + done, at);
	}
	copy_frame(c, at, src, n, done + at - hdr, w - at);
}

/* The header a received frame gets: with GUEST_CSUM, DATA_VALID when we
 * checked its TCP/UDP checksum (at host speed, so the emulated guest need
 * not); a frame split in the port's queue is left to the guest. */
static void rx_header(const struct port_vhost *pv, const struct iovec *src, int n,
		      uint8_t hdr[VIRTIO_NET_HDR_LEN])
{
	memset(hdr, 0, VIRTIO_NET_HDR_LEN);
	if ((pv->dev.features & (1ull << VIRTIO_NET_F_GUEST_CSUM)) && n == 1 &&
	    frame_l4_checksum_ok(src[0].iov_base, src[0].iov_len))
		hdr[0] = VIRTIO_NET_HDR_F_DATA_VALID;
}

/* Write one frame into receive buffers: 1 written, 0 not enough buffers
 * (none taken), -1 the guest broke the ring, -2 no buffers the guest
 * offers could ever hold it (dropped, none taken). */
static int rx_put(struct port_vhost *pv, const struct iovec *src, int n, size_t len)
{
	struct vring *vr = &pv->dev.q[VHOST_USER_RXQ].vr;
	bool mrg = pv->dev.features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	size_t total = vhost_user_hdr_len(&pv->dev) + len, done = 0;
	uint16_t start = vr->last_avail;
	uint8_t vnet_hdr[VIRTIO_NET_HDR_LEN];
	unsigned bufs = 0;

	rx_header(pv, src, n, vnet_hdr);

	while (done < total) {
		struct vring_chain *c = bufs ? &pv->chain : &pv->first;
		size_t w;
		int r;

		if (bufs == (mrg ? VHOST_RX_BUFS_MAX : 1)) {
			vr->last_avail = start;
			return -2;
		}
		r = vring_pop(vr, &pv->dev.mem, true, c);
		if (r > 0 && (!c->len || (!bufs && c->len < vhost_user_hdr_len(&pv->dev))))
			r = -1;		/* no room for the header: no valid driver posts it */
		if (r == 0 && (uint16_t)(vr->last_avail - start) >= vr->num)
			r = -2;		/* the whole ring is too small: never fits */
		if (r <= 0) {
			vr->last_avail = start;
			return r;
		}
		w = MIN(c->len, total - done);
		fill_chain(pv, c, done, w, vnet_hdr, src, n);
		pv->used[bufs++] = (struct rx_used){ c->head, w };
		done += w;
	}
	if (vhost_user_hdr_len(&pv->dev) == VIRTIO_NET_HDR_LEN) {
		uint16_t num_buffers = bufs;

		vring_chain_write(&pv->first, VIRTIO_NET_HDR_LEN - 2, &num_buffers, 2);
	}
	for (unsigned i = 0; i < bufs; i++)
		vring_push(vr, pv->used[i].head, pv->used[i].len);
	need_publish(pv, VHOST_USER_RXQ);
	return 1;
}

/* Move what waits in the port's queue into the guest's receive buffers;
 * ask for a kick on queue 0 only while some still waits. */
static bool vhost_flush(struct port *p)
{
	struct port_vhost *pv = of(p);
	struct vring *vr = &pv->dev.q[VHOST_USER_RXQ].vr;
	struct iovec iov[2];
	int n;

	if (!rx_live(pv) || pv->broken)
		return true;
	/* A second pass for buffers added while kicks were off; more than
	 * that waits for the next iteration, so a guest that keeps moving
	 * its index cannot hold the loop here. */
	for (int pass = 0;; pass++) {
		unsigned short_of = 0;	/* buffers there were when a frame did not fit */

		while ((n = txring_peek_frame(&p->tx, iov)) > 0) {
			int r = rx_put(pv, iov, n, iov[0].iov_len + (n > 1 ? iov[1].iov_len : 0));

			if (r == 0) {
				short_of = vring_pending(vr);
				break;
			}
			if (r == -1) {
				ring_broken(pv, "the guest broke its receive ring");
				return true;
			}
			p->stats.tx_drops += r == -2;
			txring_pop_frame(&p->tx);
		}
		vring_want_kicks(vr, n > 0);
		/* Buffers added since the last look would bring no kick. */
		if (n == 0 || vring_pending(vr) == short_of)
			return true;
		if (pass == 1) {
			self_kick(pv, VHOST_USER_RXQ);
			return true;
		}
	}
}

static enum port_verdict vhost_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct port_vhost *pv = of(p);
	struct iovec iov = { (void *)frame, len };

	/* A guest whose driver is not running (or QEMU stopped) is a NIC
	 * with its link down: frames for it are dropped, nobody waits. */
	if (!rx_live(pv) || pv->broken || len > p->max_frame)
		return PORT_DROPPED;
	if (txring_used(&p->tx))	/* keep the order */
		return port_queue(p, frame, len);
	switch (rx_put(pv, &iov, 1, len)) {
	case 1:
		return PORT_QUEUED;
	case 0:
		return port_queue(p, frame, len);
	case -1:
		ring_broken(pv, "the guest broke its receive ring");
		return PORT_DROPPED;
	default:
		return PORT_DROPPED;
	}
}

/* The header's checksum request, applied to our copy of the frame: a NIC
 * with checksum offload (CSUM) sums from csum_start to the end. No GSO
 * was offered, so a segmentation request is a guest at play. */
static bool tx_offload(struct port_vhost *pv, const uint8_t *vnet_hdr, size_t len)
{
	uint16_t start, offset;

	if (vnet_hdr[1] != VIRTIO_NET_HDR_GSO_NONE)
		return false;
	if (!(vnet_hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return true;
	if (!(pv->dev.features & (1ull << VIRTIO_NET_F_CSUM)))
		return false;
	memcpy(&start, vnet_hdr + 6, 2);
	memcpy(&offset, vnet_hdr + 8, 2);
	return frame_complete_checksum(pv->frame, len, GUINT16_FROM_LE(start),
				       GUINT16_FROM_LE(offset));
}

/* One transmitted chain: virtio-net header, then the frame. */
static void tx_one(struct port_vhost *pv, const struct vring_chain *c)
{
	size_t hdr = vhost_user_hdr_len(&pv->dev), len;
	uint8_t vnet_hdr[VIRTIO_NET_HDR_LEN];

	if (c->len < hdr + ETH_HLEN || c->len - hdr > VHOST_FRAME_MAX) {
		pv->port.stats.rx_drops++;
		return;
	}
	vring_chain_read(c, 0, vnet_hdr, hdr);
	len = vring_chain_read(c, hdr, pv->frame, c->len - hdr);
	if (!tx_offload(pv, vnet_hdr, len)) {
		pv->port.stats.rx_drops++;
		return;
	}
	port_input(&pv->port, pv->frame, len);
}

/* Take what the guest transmitted, a batch at a time; kicks stay off
 * while we look anyway. After two looks, or a full batch, the rest waits
 * for the next iteration (a guest moving its index back and forth cannot
 * hold the loop). */
static void tx_drain(struct port_vhost *pv)
{
	struct vhost_user_queue *q = &pv->dev.q[VHOST_USER_TXQ];
	unsigned taken = 0;
	int r = 0;

	vring_want_kicks(&q->vr, false);
	for (int pass = 0;; pass++) {
		while (taken < VHOST_TX_BATCH && !pv->port.closed &&
		       (r = vring_pop(&q->vr, &pv->dev.mem, false, &pv->tx_chain)) > 0) {
			tx_one(pv, &pv->tx_chain);
			vring_push(&q->vr, pv->tx_chain.head, 0);
			taken++;
		}
		if (taken)
			need_publish(pv, VHOST_USER_TXQ);
		if (r < 0) {
			ring_broken(pv, "the guest broke its transmit ring");
			return;
		}
		if (taken == VHOST_TX_BATCH || pass == 1) {
			self_kick(pv, VHOST_USER_TXQ);	/* more waits: after the others */
			return;
		}
		vring_want_kicks(&q->vr, true);
		if (!vring_pending(&q->vr))
			return;
		vring_want_kicks(&q->vr, false);
	}
}

static void on_kick(void *opaque, unsigned q)
{
	struct port_vhost *pv = opaque;

	if (pv->broken)
		return;
	if (q == VHOST_USER_TXQ)
		tx_drain(pv);
	else
		port_mark_dirty(&pv->port);	/* new receive buffers: flush */
}

static void on_sync(void *opaque, unsigned q)
{
	publish_queue(opaque, q);
}

/* A queue started or stopped. Work posted before the start is looked at
 * at once (a kick of our own): the guest may not kick again. */
static void on_changed(void *opaque)
{
	struct port_vhost *pv = opaque;

	if (!rx_live(pv))
		port_drop_queue(&pv->port);
	else
		port_mark_dirty(&pv->port);
	if (vhost_user_live(&pv->dev, VHOST_USER_TXQ))
		self_kick(pv, VHOST_USER_TXQ);
}

static void on_broken(void *opaque, const char *why)
{
	struct port_vhost *pv = opaque;

	port_close(&pv->port, why);
}

static const struct vhost_user_ops dev_ops = {
	.kick = on_kick,
	.sync = on_sync,
	.changed = on_changed,
	.broken = on_broken,
};

static void vhost_publish(struct port *p)
{
	struct port_vhost *pv = of(p);

	if (pv->broken) {
		port_close(p, pv->broken);
		return;
	}
	publish_queue(pv, VHOST_USER_RXQ);
	publish_queue(pv, VHOST_USER_TXQ);
}

static void vhost_close(struct port *p)
{
	vhost_user_fini(&of(p)->dev);
}

static const struct port_ops vhost_ops = {
	.kind = "vhost-user",
	.deliver = vhost_deliver,
	.flush = vhost_flush,
	.publish = vhost_publish,
	.close = vhost_close,
};

struct port *port_vhost_new(struct port_set *set, int fd, char *name, unsigned mtu)
{
	struct port_vhost *pv = g_new0(struct port_vhost, 1);
	g_autoptr(GError) err = NULL;

	port_init(&pv->port, &vhost_ops, name);
	pv->port.backlog_high = VHOST_BACKLOG_HIGH;
	pv->port.max_frame = VHOST_FRAME_MAX;
	port_attach(set, &pv->port, -1, VHOST_QUEUE_SIZE, NULL);	/* no descriptor: cannot fail */
	if (!vhost_user_init(&pv->dev, port_set_loop(set), fd, mtu, pv->port.name, &dev_ops, pv,
			     &err)) {
		port_close(&pv->port, err->message);
		return NULL;
	}
	g_message("%s: connected (vhost-user)", name);
	return &pv->port;
}
