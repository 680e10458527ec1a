/* uplink_bridged.c - the bridged uplink: VMs on the real LAN through one
 * host device, frames passed unchanged both ways.
 *
 * The device is an existing TAP (tap=), a TAP this daemon puts on a Linux
 * bridge (bridge=, within the bridge ACL) or a macvtap on a NIC (macvtap=).
 * Nothing is served: the LAN's DHCP and DNS answer the VMs. The TAP is read
 * only while no VM it sends to is congested (may_pause), so LAN traffic for
 * a slow VM waits in the kernel, within that VM's hold budget.
 *
 * Should the device or its bridge vanish, the link is down: VMs stay
 * attached, frames for the LAN are dropped (counted), and the device is
 * made again once its bridge or NIC is back.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <unistd.h>

#include "vmnetd/error.h"
#include "vmnetd/hostdev.h"
#include "vmnetd/port_tap.h"
#include "vmnetd/uplink_bridged.h"

/* An 802.1Q tag: tagged frames of the full MTU pass too. */
#define VLAN_TAG_LEN	4

enum bridged_kind { KIND_TAP, KIND_BRIDGE, KIND_MACVTAP };

struct uplink_bridged {
	struct port port;	/* first: the port layer sees only this */
	enum bridged_kind kind;
	char *master;		/* the TAP (tap=), the bridge, or the macvtap's NIC */
	char *dev;		/* the device read and written; ours to remove for macvtap */
	char *acl;		/* bridge=: the ACL file, read each time a TAP is made */
	char *net_name;
	unsigned mtu;
	bool down;
	int64_t retry_ns;	/* the wait before the next attempt to come up */
	struct loop_timer *check;
};

static enum port_verdict bridged_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct uplink_bridged *br = (struct uplink_bridged *)p;

	if (br->down)
		return PORT_DROPPED;
	return port_queue(p, frame, len);
}

static void go_down(struct uplink_bridged *br, const char *why)
{
	if (br->down)
		return;
	br->down = true;
	br->retry_ns = BRIDGED_CHECK_NS;
	port_fd_detach(&br->port);
	if (br->kind == KIND_MACVTAP)
		hostdev_macvtap_delete(br->dev);
	g_warning("%s: link down: %s; its VMs stay attached, and the device is made again "
		  "when %s is back", br->net_name, why, br->master);
}

/* A device that vanished reads and writes as an error: the link is down,
 * the port stays. */
static void bridged_read(struct port *p)
{
	int e = tap_read_batch(p);

	if (e)
		go_down((struct uplink_bridged *)p, g_strerror(e));
}

static bool bridged_flush(struct port *p)
{
	if (!tap_flush(p))
		go_down((struct uplink_bridged *)p, g_strerror(errno));
	return true;
}

/* The device, opened (or made) anew; -1 with @err. */
static int open_device(struct uplink_bridged *br, GError **err)
{
	char *name = NULL;
	int fd;

	switch (br->kind) {
	case KIND_TAP:
		fd = hostdev_open_tap(br->master, err);
		br->mtu = fd >= 0 ? hostdev_mtu(br->master) : br->mtu;
		return fd;
	case KIND_BRIDGE:
		fd = hostdev_tap_on_bridge(br->master, br->acl, &name, &br->mtu, err);
		break;
	default:
		fd = hostdev_macvtap_new(br->master, &name, &br->mtu, err);
		break;
	}
	if (fd >= 0) {
		g_free(br->dev);
		br->dev = name;
	}
	return fd;
}

/* A bridge=: the TAP must still be on the bridge; a TAP that vanished
 * reads errors (see bridged_read). */
static bool link_intact(struct uplink_bridged *br)
{
	return br->kind != KIND_BRIDGE || hostdev_on_bridge(br->dev, br->master);
}

static void come_up(struct uplink_bridged *br)
{
	g_autoptr(GError) err = NULL;
	int fd = open_device(br, &err);

	if (fd < 0) {
		g_debug("%s: still down: %s", br->net_name, err->message);
		/* Each attempt may make and remove a device: fewer of them while
		 * it keeps failing (a macvtap we may make but not open). */
		br->retry_ns = MIN(br->retry_ns * 2, BRIDGED_RETRY_MAX_NS);
		return;
	}
	br->retry_ns = BRIDGED_CHECK_NS;
	br->port.max_frame = ETH_HLEN + VLAN_TAG_LEN + br->mtu;
	if (!port_fd_attach(&br->port, fd, &err)) {
		g_warning("%s: %s", br->net_name, err->message);
		return;
	}
	br->down = false;
	g_message("%s: link up again: %s (MTU %u)", br->net_name, br->dev, br->mtu);
}

static void on_check(void *opaque)
{
	struct uplink_bridged *br = opaque;

	if (br->down)
		come_up(br);
	else if (!link_intact(br))
		go_down(br, "the bridge or the TAP's place on it is gone");
	loop_timer_arm(br->check, loop_now(port_set_loop(br->port.set)) +
		       (br->down ? br->retry_ns : BRIDGED_CHECK_NS));
}

static void bridged_close(struct port *p)
{
	struct uplink_bridged *br = (struct uplink_bridged *)p;

	loop_timer_free(br->check);
	br->check = NULL;
	if (br->kind == KIND_MACVTAP && !br->down && br->dev)
		hostdev_macvtap_delete(br->dev);
}

static void bridged_destroy(struct port *p)
{
	struct uplink_bridged *br = (struct uplink_bridged *)p;

	g_free(br->master);
	g_free(br->dev);
	g_free(br->acl);
	g_free(br->net_name);
}

static const struct port_ops bridged_ops = {
	.kind = "bridged",
	.deliver = bridged_deliver,
	.read = bridged_read,
	.flush = bridged_flush,
	.close = bridged_close,
	.destroy = bridged_destroy,
};

static void configure(struct uplink_bridged *br, const struct bridged_config *c)
{
	br->kind = c->tap ? KIND_TAP : c->bridge ? KIND_BRIDGE : KIND_MACVTAP;
	br->master = g_strdup(c->tap ? c->tap : c->bridge ? c->bridge : c->macvtap);
	br->acl = g_strdup(c->acl);
	if (br->kind == KIND_TAP)
		br->dev = g_strdup(c->tap);
}

struct port *uplink_bridged_new(struct port_set *set, const struct net_config *cfg,
				const char *what, GError **err)
{
	struct uplink_bridged *br = g_new0(struct uplink_bridged, 1);
	int fd = -1;

	port_init(&br->port, &bridged_ops, g_strdup_printf("%s: bridged", cfg->name));
	br->port.uplink = true;
	br->port.may_pause = true;	/* the LAN waits in the kernel for a slow VM */
	br->port.backlog_high = TAP_QUEUE_SIZE / 2;
	br->net_name = g_strdup(cfg->name);
	br->retry_ns = BRIDGED_CHECK_NS;
	configure(br, &cfg->br);
	if ((fd = open_device(br, err)) < 0) {
		g_prefix_error(err, "%s: ", what);
		bridged_destroy(&br->port);
		port_fini(&br->port);
		g_free(br);
		return NULL;
	}
	br->port.max_frame = ETH_HLEN + VLAN_TAG_LEN + br->mtu;
	if (!port_attach(set, &br->port, fd, TAP_QUEUE_SIZE, err))
		return NULL;
	br->check = loop_timer_new(port_set_loop(set), on_check, br);
	loop_timer_arm(br->check, loop_now(port_set_loop(set)) + BRIDGED_CHECK_NS);
	g_message("%s: bridged through %s%s%s (MTU %u)", what, br->dev,
		  br->kind == KIND_TAP ? "" : " on ", br->kind == KIND_TAP ? "" : br->master,
		  br->mtu);
	return &br->port;
}

unsigned uplink_bridged_mtu(const struct port *p)
{
	return ((const struct uplink_bridged *)p)->mtu;
}
