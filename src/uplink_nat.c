/* uplink_nat.c - NAT uplink: libslirp as a switch port, driven by the daemon's loop.
 *
 * Frames the switch delivers go into slirp_input(); frames libslirp emits go
 * into the switch. libslirp's descriptors join the loop's poll() each
 * iteration and its timeout is honoured as it asks. While a VM that libslirp
 * sends to is congested, libslirp's sockets are not polled for input: host
 * traffic then waits in the kernel instead of being dropped here.
 * DHCP replies get the MTU option on the way out (dhcp_mtu.c).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include <slirp/libslirp.h>

#include "vmnetd/dhcp_mtu.h"
#include "vmnetd/error.h"
#include "vmnetd/uplink_nat.h"

#define DHCP_REPLY_MAX 2048	/* libslirp's replies are ~590 bytes */

struct uplink_nat {
	struct port port;	/* first: the switch sees only this */
	struct loop *loop;
	struct vswitch *sw;
	Slirp *slirp;
	uint16_t mtu;
};

struct nat_timer {
	struct uplink_nat *nat;
	struct loop_timer *timer;
	SlirpTimerId id;
	SlirpTimerCb cb;	/* set for libslirp's older timer_new() */
	void *cb_opaque;
};

static enum port_verdict nat_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct uplink_nat *nat = (struct uplink_nat *)p;

	slirp_input(nat->slirp, frame, (int)len);
	return PORT_QUEUED;
}

static const struct port_ops nat_ops = {
	.kind = "nat",
	.deliver = nat_deliver,	/* blocked_on is read by nat_fill() each iteration */
};

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	struct uplink_nat *nat = opaque;
	uint8_t copy[DHCP_REPLY_MAX];
	const uint8_t *frame = buf;

	/* Only DHCP replies are copied (to add the MTU); every other frame
	 * goes to the switch as libslirp built it. */
	if (len <= sizeof(copy) && dhcp_is_reply(buf, len)) {
		memcpy(copy, buf, len);
		if (dhcp_add_mtu(copy, len, nat->mtu))
			frame = copy;
	}
	switch_input(nat->sw, &nat->port, frame, len, loop_now(nat->loop));
	return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	g_debug("nat: guest error: %s", msg);
}

static int64_t clock_get_ns(void *opaque)
{
	(void)opaque;
	return clock_now_ns();
}

static void timer_fire(void *opaque)
{
	struct nat_timer *t = opaque;

	if (t->cb)
		t->cb(t->cb_opaque);
	else
		slirp_handle_timer(t->nat->slirp, t->id, t->cb_opaque);
}

static struct nat_timer *nat_timer_new(struct uplink_nat *nat, SlirpTimerId id, SlirpTimerCb cb,
				      void *cb_opaque)
{
	struct nat_timer *t = g_new(struct nat_timer, 1);

	*t = (struct nat_timer){ .nat = nat, .id = id, .cb = cb, .cb_opaque = cb_opaque };
	t->timer = loop_timer_new(nat->loop, timer_fire, t);
	return t;
}

static void *timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	return nat_timer_new(opaque, id, NULL, cb_opaque);
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	return nat_timer_new(opaque, SLIRP_TIMER_NUM, cb, cb_opaque);
}

static void timer_free(void *timer, void *opaque)
{
	struct nat_timer *t = timer;

	(void)opaque;
	loop_timer_free(t->timer);
	g_free(t);
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct nat_timer *t = timer;

	(void)opaque;
	loop_timer_arm(t->timer, expire_ms * 1000000);
}

static void poll_fd_noop(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void notify_noop(void *opaque)
{
	/* The loop polls libslirp every iteration; nothing to kick. */
	(void)opaque;
}

static const SlirpCb slirp_callbacks = {
	.send_packet = send_packet,
	.guest_error = guest_error,
	.clock_get_ns = clock_get_ns,
	.timer_new = timer_new,
	.timer_free = timer_free,
	.timer_mod = timer_mod,
	.register_poll_fd = poll_fd_noop,
	.unregister_poll_fd = poll_fd_noop,
	.notify = notify_noop,
	.timer_new_opaque = timer_new_opaque,
};

static int add_poll(int fd, int events, void *opaque)
{
	struct uplink_nat *nat = opaque;
	short ev = 0;

	if ((events & SLIRP_POLL_IN) && !nat->port.blocked_on)
		ev |= POLLIN;
	if ((events & SLIRP_POLL_PRI) && !nat->port.blocked_on)
		ev |= POLLPRI;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	return loop_poll_add(nat->loop, fd, ev);
}

static int get_revents(int idx, void *opaque)
{
	struct uplink_nat *nat = opaque;
	short rev = loop_poll_revents(nat->loop, idx);
	int ev = 0;

	if (rev & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (rev & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static void nat_fill(void *opaque, struct loop *l, int *timeout_ms)
{
	struct uplink_nat *nat = opaque;
	uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;

	(void)l;
	slirp_pollfds_fill(nat->slirp, &t, add_poll, nat);
	*timeout_ms = t == UINT32_MAX ? -1 : (int)MIN(t, (uint32_t)INT32_MAX);
}

static void nat_dispatch(void *opaque, struct loop *l, bool poll_failed)
{
	struct uplink_nat *nat = opaque;

	(void)l;
	slirp_pollfds_poll(nat->slirp, poll_failed, get_revents, nat);
}

static void fill_slirp_config(SlirpConfig *sc, const struct nat_config *c)
{
	*sc = (SlirpConfig){
		.version = 4,
		.restricted = c->restricted,
		.in_enabled = c->ipv4,
		.vnetwork = c->net,
		.vnetmask = c->mask,
		.vhost = c->host,
		.in6_enabled = c->ipv6,
		.vprefix_addr6 = c->ip6_prefix,
		.vprefix_len = c->ip6_prefix_len,
		.vhost6 = c->ip6_host,
		.vhostname = c->hostname,
		.tftp_path = c->tftp,
		.bootfile = c->bootfile,
		.vdhcp_start = c->dhcp_start,
		.vnameserver = c->dns,
		.vnameserver6 = c->ip6_dns,
		.vdnssearch = c->dnssearch->len > 1 ? (const char **)c->dnssearch->pdata : NULL,
		.vdomainname = c->domainname,
		.if_mtu = c->mtu,
		.if_mru = c->mtu,
		.disable_host_loopback = false,
		.enable_emu = false,	/* tcp_emu has had CVEs; nothing needs it */
	};
}

static bool add_hostfwds(struct uplink_nat *nat, const struct nat_config *c, GError **err)
{
	for (guint i = 0; i < c->hostfwds->len; i++) {
		const struct hostfwd *f = &g_array_index(c->hostfwds, struct hostfwd, i);

		if (slirp_add_hostfwd(nat->slirp, f->udp, f->host_addr, f->host_port,
				      f->guest_addr, f->guest_port) < 0) {
			vmnetd_set_error(err, "--nat hostfwd=%s: cannot listen on host port %u: %s",
					 f->spec, f->host_port, g_strerror(errno));
			return false;
		}
		g_message("nat: forwarding host %s port %u to guest port %u", f->udp ? "udp" : "tcp",
			  f->host_port, f->guest_port);
	}
	return true;
}

static bool add_guestfwds(struct uplink_nat *nat, const struct nat_config *c,
			  const char *relay_exe, GError **err)
{
	for (guint i = 0; i < c->guestfwds->len; i++) {
		const struct guestfwd *f = &g_array_index(c->guestfwds, struct guestfwd, i);
		struct in_addr addr = f->addr;
		int rc;

		if (f->target.type == ENDPOINT_UNIX) {
			rc = slirp_add_unix(nat->slirp, f->target.path, &addr, f->port);
		} else {
			/* libslirp runs this per connection with the guest's
			 * socket as stdin/stdout; vmnetd itself relays it. */
			g_autofree char *target = endpoint_to_string(&f->target);
			g_autofree char *q_exe = g_shell_quote(relay_exe);
			g_autofree char *q_target = g_shell_quote(target);
			g_autofree char *cmd = g_strdup_printf("%s --guestfwd-relay %s", q_exe,
							       q_target);

			rc = slirp_add_exec(nat->slirp, cmd, &addr, f->port);
		}
		if (rc < 0) {
			vmnetd_set_error(err, "--nat guestfwd=%s: already forwarded", f->spec);
			return false;
		}
	}
	return true;
}

struct uplink_nat *uplink_nat_new(struct loop *l, struct vswitch *sw,
				  const struct nat_config *cfg, const char *relay_exe,
				  GError **err)
{
	struct uplink_nat *nat = g_new0(struct uplink_nat, 1);
	struct loop_poller poller = { nat_fill, nat_dispatch, nat };
	SlirpConfig sc;

	port_init(&nat->port, &nat_ops, g_strdup("nat"));
	nat->port.backlog_high = SIZE_MAX;
	nat->port.may_pause = true;
	nat->port.fixed_macs = true;
	nat->loop = l;
	nat->sw = sw;
	nat->mtu = cfg->mtu;
	fill_slirp_config(&sc, cfg);
	nat->slirp = slirp_new(&sc, &slirp_callbacks, nat);
	if (!nat->slirp) {
		vmnetd_set_error(err, "--nat: libslirp refused the configuration");
		uplink_nat_free(nat);
		return NULL;
	}
	if (!add_hostfwds(nat, cfg, err) || !add_guestfwds(nat, cfg, relay_exe, err)) {
		uplink_nat_free(nat);
		return NULL;
	}
	switch_add_port(sw, &nat->port);
	loop_add_poller(l, &poller);
	return nat;
}

void uplink_nat_free(struct uplink_nat *nat)
{
	if (!nat)
		return;
	if (nat->port.sw)
		switch_del_port(nat->sw, &nat->port);
	if (nat->slirp)
		slirp_cleanup(nat->slirp);
	port_fini(&nat->port);
	g_free(nat);
}
