/* network.c - one virtual network: learning switch + NAT uplink + VM sockets, and
 * the switch's housekeeping (MAC ageing, waking senders that waited). */
#include "vmnetd/listener.h"
#include "vmnetd/network.h"
#include "vmnetd/port_stream.h"
#include "vmnetd/uplink_nat.h"

/* How often a waiting sender re-checks a destination that may have stalled. */
#define RECHECK_MS 10

struct network {
	struct loop *loop;
	struct vswitch *sw;
	struct stream_set *streams;
	struct uplink_nat *nat;
	struct loop_timer *ageing;
	GPtrArray *listeners;
	GPtrArray *connectors;
};

static void on_ageing(void *opaque)
{
	struct network *net = opaque;
	int64_t now = loop_now(net->loop);
	int64_t next = switch_age(net->sw, now);

	/* An empty table still gets a check one ageing time from now: an
	 * entry learned meanwhile cannot expire before that. */
	loop_timer_arm(net->ageing, next == INT64_MAX ? now + SWITCH_AGEING_NS : next);
}

static int resume_waiting(void *opaque, struct loop *l)
{
	struct network *net = opaque;

	return switch_resume_waiting(net->sw, loop_now(l)) ? RECHECK_MS : -1;
}

struct network *network_new_nat(struct loop *l, const struct nat_config *cfg,
				const char *relay_exe, GError **err)
{
	struct network *net = g_new0(struct network, 1);

	net->loop = l;
	net->sw = switch_new(SWITCH_AGEING_NS);
	net->streams = stream_set_new(l, net->sw);
	net->listeners = g_ptr_array_new_with_free_func((GDestroyNotify)listener_free);
	net->connectors = g_ptr_array_new_with_free_func((GDestroyNotify)connector_free);
	net->ageing = loop_timer_new(l, on_ageing, net);
	loop_timer_arm(net->ageing, loop_now(l) + SWITCH_AGEING_NS);
	loop_add_hook(l, resume_waiting, net);
	net->nat = uplink_nat_new(l, net->sw, cfg, relay_exe, err);
	if (!net->nat) {
		network_free(net);
		return NULL;
	}
	return net;
}

bool network_listen(struct network *net, const struct endpoint *ep, unsigned socket_mode,
		    GError **err)
{
	struct listener *li = listener_new(net->loop, net->streams, ep, socket_mode, err);

	if (li)
		g_ptr_array_add(net->listeners, li);
	return li != NULL;
}

void network_connect(struct network *net, const struct endpoint *ep)
{
	g_ptr_array_add(net->connectors, connector_new(net->loop, net->streams, ep));
}

void network_free(struct network *net)
{
	if (!net)
		return;
	g_ptr_array_free(net->listeners, TRUE);
	g_ptr_array_free(net->connectors, TRUE);
	stream_set_free(net->streams);
	uplink_nat_free(net->nat);
	loop_timer_free(net->ageing);
	switch_free(net->sw);
	g_free(net);
}
