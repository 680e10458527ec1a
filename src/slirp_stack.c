/* slirp_stack.c - libslirp driven by the daemon's loop.
 *
 * libslirp's descriptors join the loop's poll() each iteration and its
 * timeout is honoured exactly as it asks (its delayed ACKs are short, and
 * with no window scaling its round trip is its throughput). While the
 * owning port waits on a congested VM, libslirp's sockets are not polled for
 * input: host traffic then waits in the kernel instead of being dropped.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "vmnetd/error.h"
#include "vmnetd/flowcap.h"
#include "vmnetd/forwards.h"
#include "vmnetd/fraglimit.h"
#include "vmnetd/frame.h"
#include "vmnetd/slirp_stack.h"
#include "vmnetd/switch.h"

struct slirp_stack {
	struct loop *loop;
	Slirp *slirp;
	const struct port *owner;
	slirp_frame_fn out;
	void *opaque;
	struct loop_poller_reg *poller;
	struct fraglimit *frags;
	struct flowcap *flows;
	struct forwards *forwards;	/* NULL until slirp_stack_add_hostfwds() */
};

struct stack_timer {
	struct slirp_stack *s;
	struct loop_timer *timer;
	SlirpTimerId id;
	SlirpTimerCb cb;	/* set for libslirp's older timer_new() */
	void *cb_opaque;
};

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_stack *s = opaque;

	s->out(s->opaque, buf, len);
	return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	g_debug("slirp: guest error: %s", msg);
}

static int64_t clock_get_ns(void *opaque)
{
	(void)opaque;
	return clock_now_ns();
}

static void timer_fire(void *opaque)
{
	struct stack_timer *t = opaque;

	if (t->cb)
		t->cb(t->cb_opaque);
	else
		slirp_handle_timer(t->s->slirp, t->id, t->cb_opaque);
}

static struct stack_timer *stack_timer_new(struct slirp_stack *s, SlirpTimerId id,
					   SlirpTimerCb cb, void *cb_opaque)
{
	struct stack_timer *t = g_new(struct stack_timer, 1);

	*t = (struct stack_timer){ .s = s, .id = id, .cb = cb, .cb_opaque = cb_opaque };
	t->timer = loop_timer_new(s->loop, timer_fire, t);
	return t;
}

static void *timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	return stack_timer_new(opaque, id, NULL, cb_opaque);
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	return stack_timer_new(opaque, SLIRP_TIMER_NUM, cb, cb_opaque);
}

static void timer_free(void *timer, void *opaque)
{
	struct stack_timer *t = timer;

	(void)opaque;
	loop_timer_free(t->timer);
	g_free(t);
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct stack_timer *t = timer;

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
	struct slirp_stack *s = opaque;
	bool paused = s->owner->blocked_on != NULL;
	short ev = 0;

	if ((events & SLIRP_POLL_IN) && !paused)
		ev |= POLLIN;
	if ((events & SLIRP_POLL_PRI) && !paused)
		ev |= POLLPRI;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	return loop_poll_add(s->loop, fd, ev);
}

static int get_revents(int idx, void *opaque)
{
	struct slirp_stack *s = opaque;
	short rev = loop_poll_revents(s->loop, idx);
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

static void stack_fill(void *opaque, struct loop *l, int *timeout_ms)
{
	struct slirp_stack *s = opaque;
	uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;

	(void)l;
	slirp_pollfds_fill(s->slirp, &t, add_poll, s);
	*timeout_ms = t == UINT32_MAX ? -1 : (int)MIN(t, (uint32_t)INT32_MAX);
}

static void stack_dispatch(void *opaque, struct loop *l, bool poll_failed)
{
	struct slirp_stack *s = opaque;

	(void)l;
	slirp_pollfds_poll(s->slirp, poll_failed, get_revents, s);
}

struct slirp_stack *slirp_stack_new(struct loop *l, const SlirpConfig *sc,
				    const struct port *owner, unsigned max_flows,
				    slirp_frame_fn out, void *opaque, GError **err)
{
	struct slirp_stack *s = g_new0(struct slirp_stack, 1);
	struct loop_poller poller = { stack_fill, stack_dispatch, s };

	*s = (struct slirp_stack){ .loop = l, .owner = owner, .out = out, .opaque = opaque };
	s->slirp = slirp_new(sc, &slirp_callbacks, s);
	if (!s->slirp) {
		vmnetd_set_error(err, "libslirp refused the configuration");
		g_free(s);
		return NULL;
	}
	s->poller = loop_add_poller(l, &poller);
	s->frags = fraglimit_new(FRAGLIMIT_MAX_BYTES, FRAGLIMIT_MAX_COUNT, FRAGLIMIT_TIMEOUT_NS);
	s->flows = flowcap_new(max_flows ? max_flows : flowcap_budget(1));
	return s;
}

static void stack_destroy(void *ptr)
{
	struct slirp_stack *s = ptr;

	fraglimit_free(s->frags);
	flowcap_free(s->flows);
	g_free(s);
}

void slirp_stack_free(struct slirp_stack *s)
{
	if (!s)
		return;
	loop_del_poller(s->loop, s->poller);
	forwards_free(s->forwards);
	slirp_cleanup(s->slirp);
	s->slirp = NULL;
	/* The poller may still be in this iteration's list. */
	loop_defer_free(s->loop, stack_destroy, s);
}

/* Which port sent @frame: a key that no later port reuses (port ids are
 * never given twice), so nothing needs forgetting when a port goes. */
static const void *sender_key(const struct slirp_stack *s, const uint8_t *frame, int64_t now_ns)
{
	struct port *p = switch_lookup(s->owner->sw, frame + 6, now_ns);

	return (const void *)(uintptr_t)(p ? p->id : 0);
}

static const void *flow_sender(void *opaque, const uint8_t *frame, size_t len)
{
	struct slirp_stack *s = opaque;

	(void)len;
	return sender_key(s, frame, loop_now(s->loop));
}

bool slirp_stack_input(struct slirp_stack *s, const uint8_t *frame, size_t len)
{
	if (frame_is_ip4_fragment(frame, len)) {
		int64_t now = loop_now(s->loop);

		if (!fraglimit_admit(s->frags, sender_key(s, frame, now), frame, len, now))
			return false;
	}
	if (!flowcap_admit(s->flows, frame, len, loop_now(s->loop), flow_sender, s))
		return false;
	slirp_input(s->slirp, frame, (int)len);
	return true;
}

Slirp *slirp_stack_slirp(struct slirp_stack *s)
{
	return s->slirp;
}

bool slirp_stack_add_hostfwds(struct slirp_stack *s, const GArray *hostfwds,
			      struct in_addr default_guest, const char *what, GError **err)
{
	s->forwards = forwards_new(s->slirp, default_guest, what);
	return forwards_add_config(s->forwards, hostfwds, err);
}

struct forwards *slirp_stack_forwards(struct slirp_stack *s)
{
	return s->forwards;
}

void slirp_mac4(struct in_addr a, uint8_t mac[6])
{
	mac[0] = 0x52;
	mac[1] = 0x55;
	memcpy(mac + 2, &a.s_addr, 4);
}

void slirp_mac6(const struct in6_addr *a, uint8_t mac[6])
{
	mac[0] = 0x52;
	mac[1] = 0x56;
	memcpy(mac + 2, a->s6_addr + 12, 4);
}
