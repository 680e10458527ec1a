/* loop.h - the daemon's single event loop: epoll for our own descriptors, one
 * poll() that also carries libslirp's descriptors, timers, and end-of-iteration hooks. */
#ifndef VMNETD_LOOP_H
#define VMNETD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

struct loop;

typedef void (*loop_fd_fn)(void *opaque, uint32_t events);

/* Embedded in its owner; registered with epoll (level-triggered). */
struct loop_watch {
	int fd;			/* -1 once removed */
	uint32_t events;
	loop_fd_fn fn;
	void *opaque;
};

/* A source of descriptors that are handed over anew every iteration (libslirp). */
struct loop_poller {
	/* Add descriptors with loop_poll_add(); may lower *timeout_ms. */
	void (*fill)(void *opaque, struct loop *l, int *timeout_ms);
	void (*dispatch)(void *opaque, struct loop *l, bool poll_failed);
	void *opaque;
};

/* Runs after each iteration's events; returns the longest the loop may
 * sleep before it must run again (-1: no limit). */
typedef int (*loop_hook_fn)(void *opaque, struct loop *l);

struct loop *loop_new(void);
void loop_free(struct loop *l);
void loop_run(struct loop *l);
/* One iteration that does not sleep (tests and fuzz targets drive the
 * loop step by step with it). */
void loop_run_once(struct loop *l);
void loop_quit(struct loop *l);

int64_t clock_now_ns(void);
/* The time the current iteration woke up: one clock read per iteration. */
int64_t loop_now(const struct loop *l);

bool loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events,
		    loop_fd_fn fn, void *opaque, GError **err);
void loop_watch_mod(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_watch_del(struct loop *l, struct loop_watch *w);

struct loop_timer;
struct loop_timer *loop_timer_new(struct loop *l, void (*fn)(void *opaque), void *opaque);
void loop_timer_arm(struct loop_timer *t, int64_t expire_ns);	/* absolute, clock_now_ns() */
void loop_timer_disarm(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

struct loop_poller_reg;
/* Registers a poller until loop_del_poller(). */
struct loop_poller_reg *loop_add_poller(struct loop *l, const struct loop_poller *p);
/* Unregisters; safe from inside any callback (it is not called again). */
void loop_del_poller(struct loop *l, struct loop_poller_reg *r);
int loop_poll_add(struct loop *l, int fd, short events);
short loop_poll_revents(const struct loop *l, int idx);

struct loop_hook;
/* Registers a hook until loop_del_hook(). */
struct loop_hook *loop_add_hook(struct loop *l, loop_hook_fn fn, void *opaque);
/* Unregisters; safe from inside any callback (it is not called again). */
void loop_del_hook(struct loop *l, struct loop_hook *h);

/* Free @ptr with @fn once the current iteration is over, so that events
 * already fetched for it in this iteration find it still there. */
void loop_defer_free(struct loop *l, GDestroyNotify fn, void *ptr);

#endif
