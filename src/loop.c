/* loop.c - the event loop: one thread owns all state and sleeps in one poll().
 *
 * Our descriptors live in an epoll set, so the set is not rebuilt per
 * iteration; the poll() array holds that epoll descriptor plus whatever
 * libslirp asks for (its API hands descriptors over anew each time). Timers
 * are few (libslirp's and the switch's ageing), so a plain array serves.
 */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "vmnetd/error.h"
#include "vmnetd/loop.h"

#define LOOP_EVENTS_MAX 64

struct loop_timer {
	struct loop *l;
	void (*fn)(void *opaque);	/* NULL once freed */
	void *opaque;
	int64_t expire_ns;		/* INT64_MAX when disarmed */
};

struct loop_hook {
	loop_hook_fn fn;	/* NULL once deleted */
	void *opaque;
};

struct loop_poller_reg {
	struct loop_poller p;
	bool deleted;
};

struct deferred {
	GDestroyNotify fn;
	void *ptr;
};

struct loop {
	int epfd;
	bool quit;
	int64_t now_ns;
	GArray *pollfds;	/* struct pollfd; [0] is epfd */
	GPtrArray *pollers;	/* struct loop_poller_reg * */
	GPtrArray *hooks;	/* struct loop_hook * */
	GPtrArray *timers;	/* struct loop_timer * */
	GArray *deferred;	/* struct deferred */
	int hook_sleep_ms;	/* what the hooks allowed last time */
};

int64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t loop_now(const struct loop *l)
{
	return l->now_ns;
}

struct loop *loop_new(void)
{
	struct loop *l = g_new0(struct loop, 1);

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		g_error("epoll_create1: %s", g_strerror(errno));
	l->pollfds = g_array_new(FALSE, FALSE, sizeof(struct pollfd));
	l->pollers = g_ptr_array_new_with_free_func(g_free);
	l->hooks = g_ptr_array_new_with_free_func(g_free);
	l->timers = g_ptr_array_new_with_free_func(g_free);
	l->deferred = g_array_new(FALSE, FALSE, sizeof(struct deferred));
	l->now_ns = clock_now_ns();
	l->hook_sleep_ms = -1;
	return l;
}

/* Drop hooks and pollers deleted during the iteration. */
static void compact(struct loop *l)
{
	for (guint i = l->hooks->len; i-- > 0;)
		if (!((struct loop_hook *)g_ptr_array_index(l->hooks, i))->fn)
			g_ptr_array_remove_index(l->hooks, i);
	for (guint i = l->pollers->len; i-- > 0;)
		if (((struct loop_poller_reg *)g_ptr_array_index(l->pollers, i))->deleted)
			g_ptr_array_remove_index(l->pollers, i);
}

static void run_deferred(struct loop *l)
{
	/* A deferred free may defer more: take them in order until none is left. */
	for (guint i = 0; i < l->deferred->len; i++) {
		struct deferred d = g_array_index(l->deferred, struct deferred, i);

		d.fn(d.ptr);
	}
	g_array_set_size(l->deferred, 0);
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	run_deferred(l);
	compact(l);
	close(l->epfd);
	g_array_free(l->pollfds, TRUE);
	g_ptr_array_free(l->pollers, TRUE);
	g_ptr_array_free(l->hooks, TRUE);
	g_ptr_array_free(l->timers, TRUE);
	g_array_free(l->deferred, TRUE);
	g_free(l);
}

void loop_quit(struct loop *l)
{
	l->quit = true;
}

bool loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events,
		    loop_fd_fn fn, void *opaque, GError **err)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	*w = (struct loop_watch){ .fd = fd, .events = events, .fn = fn, .opaque = opaque };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		vmnetd_set_error(err, "epoll_ctl(%d): %s", fd, g_strerror(errno));
		w->fd = -1;
		return false;
	}
	return true;
}

void loop_watch_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (w->fd < 0 || w->events == events)
		return;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		g_error("epoll_ctl(MOD, %d): %s", w->fd, g_strerror(errno));
	w->events = events;
}

void loop_watch_del(struct loop *l, struct loop_watch *w)
{
	if (w->fd < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->fd = -1;
}

struct loop_timer *loop_timer_new(struct loop *l, void (*fn)(void *opaque), void *opaque)
{
	struct loop_timer *t = g_new(struct loop_timer, 1);

	*t = (struct loop_timer){ .l = l, .fn = fn, .opaque = opaque, .expire_ns = INT64_MAX };
	g_ptr_array_add(l->timers, t);
	return t;
}

void loop_timer_arm(struct loop_timer *t, int64_t expire_ns)
{
	t->expire_ns = expire_ns;
}

void loop_timer_disarm(struct loop_timer *t)
{
	t->expire_ns = INT64_MAX;
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	/* Removed from the array after the iteration: a timer may be freed
	 * from inside another timer's callback. */
	t->fn = NULL;
	t->expire_ns = INT64_MAX;
}

struct loop_poller_reg *loop_add_poller(struct loop *l, const struct loop_poller *p)
{
	struct loop_poller_reg *r = g_new0(struct loop_poller_reg, 1);

	r->p = *p;
	g_ptr_array_add(l->pollers, r);
	return r;
}

void loop_del_poller(struct loop *l, struct loop_poller_reg *r)
{
	(void)l;
	if (r)
		r->deleted = true;	/* removed after the iteration */
}

int loop_poll_add(struct loop *l, int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	g_array_append_val(l->pollfds, pfd);
	return l->pollfds->len - 1;
}

short loop_poll_revents(const struct loop *l, int idx)
{
	if (idx < 1 || (guint)idx >= l->pollfds->len)
		return 0;
	return g_array_index(l->pollfds, struct pollfd, idx).revents;
}

struct loop_hook *loop_add_hook(struct loop *l, loop_hook_fn fn, void *opaque)
{
	struct loop_hook *h = g_new0(struct loop_hook, 1);

	*h = (struct loop_hook){ fn, opaque };
	g_ptr_array_add(l->hooks, h);
	return h;
}

void loop_del_hook(struct loop *l, struct loop_hook *h)
{
	(void)l;
	if (h)
		h->fn = NULL;	/* removed after the iteration */
}


void loop_defer_free(struct loop *l, GDestroyNotify fn, void *ptr)
{
	struct deferred d = { fn, ptr };

	g_array_append_val(l->deferred, d);
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return MIN(a, b);
}

/* Milliseconds until the first timer, rounded up so it has expired on wake. */
static int timers_timeout(struct loop *l)
{
	int64_t first = INT64_MAX;

	for (guint i = 0; i < l->timers->len; i++) {
		struct loop_timer *t = g_ptr_array_index(l->timers, i);

		first = MIN(first, t->expire_ns);
	}
	if (first == INT64_MAX)
		return -1;
	if (first <= l->now_ns)
		return 0;
	return (int)MIN((first - l->now_ns + 999999) / 1000000, INT32_MAX);
}

static void run_timers(struct loop *l)
{
	for (guint i = 0; i < l->timers->len; i++) {
		struct loop_timer *t = g_ptr_array_index(l->timers, i);

		if (t->fn && t->expire_ns <= l->now_ns) {
			t->expire_ns = INT64_MAX;
			t->fn(t->opaque);
		}
	}
	for (guint i = l->timers->len; i-- > 0;) {
		struct loop_timer *t = g_ptr_array_index(l->timers, i);

		if (!t->fn)
			g_ptr_array_remove_index_fast(l->timers, i);
	}
}

static void dispatch_epoll(struct loop *l)
{
	struct epoll_event evs[LOOP_EVENTS_MAX];
	int n = epoll_wait(l->epfd, evs, LOOP_EVENTS_MAX, 0);

	for (int i = 0; i < n; i++) {
		struct loop_watch *w = evs[i].data.ptr;

		if (w->fd >= 0)
			w->fn(w->opaque, evs[i].events);
	}
}

static void run_hooks(struct loop *l)
{
	int sleep_ms = -1;

	for (guint i = 0; i < l->hooks->len; i++) {
		struct loop_hook *h = g_ptr_array_index(l->hooks, i);

		if (h->fn)
			sleep_ms = min_timeout(sleep_ms, h->fn(h->opaque, l));
	}
	l->hook_sleep_ms = sleep_ms;
}

static void iterate(struct loop *l)
{
	struct pollfd epfd = { .fd = l->epfd, .events = POLLIN };
	int timeout = min_timeout(timers_timeout(l), l->hook_sleep_ms);
	guint n_pollers = l->pollers->len;
	int n;

	g_array_set_size(l->pollfds, 0);
	g_array_append_val(l->pollfds, epfd);
	for (guint i = 0; i < l->pollers->len; i++) {
		struct loop_poller_reg *r = g_ptr_array_index(l->pollers, i);

		if (!r->deleted)
			r->p.fill(r->p.opaque, l, &timeout);
	}

	n = poll((struct pollfd *)l->pollfds->data, l->pollfds->len, timeout);
	if (n < 0 && errno != EINTR)
		g_error("poll: %s", g_strerror(errno));
	l->now_ns = clock_now_ns();

	/* Hooks (the output flush) run after each phase, not once at the end:
	 * frames that answer a VM's ACK leave before libslirp reads its host
	 * sockets. Slirp TCP has 64 KiB windows, so round-trip time is
	 * throughput. */
	if (n > 0 && g_array_index(l->pollfds, struct pollfd, 0).revents) {
		dispatch_epoll(l);
		run_hooks(l);
	}
	/* A poller added during this iteration filled nothing: skip it. */
	for (guint i = 0; i < n_pollers && i < l->pollers->len; i++) {
		struct loop_poller_reg *r = g_ptr_array_index(l->pollers, i);

		if (!r->deleted)
			r->p.dispatch(r->p.opaque, l, n < 0);
	}
	run_timers(l);
	run_hooks(l);
	run_deferred(l);
	compact(l);
}

void loop_run(struct loop *l)
{
	l->quit = false;
	while (!l->quit)
		iterate(l);
}

static void quit_now(void *opaque)
{
	loop_quit(opaque);
}

void loop_run_once(struct loop *l)
{
	/* A timer due already makes the poll not wait, and quits. */
	struct loop_timer *t = loop_timer_new(l, quit_now, l);

	loop_timer_arm(t, loop_now(l));
	loop_run(l);
	loop_timer_free(t);
}
