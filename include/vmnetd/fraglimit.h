/* fraglimit.h - a budget for the IPv4 fragments a network hands to libslirp.
 *
 * libslirp keeps every incomplete datagram's fragments, uncapped, for 30 s
 * (IPFRAGTTL, 60 ticks of its 500 ms timer) and walks all its queues for
 * each fragment: 100,000 first fragments grew the daemon to 815 MiB and held
 * the CPU. fraglimit stands in front of libslirp and admits a fragment only
 * while what libslirp then holds stays within budget, per network and per
 * source (a port), in bytes and datagrams.
 *
 * The rules, because libslirp cannot be told to let go of anything:
 * - A datagram is charged from its first admitted fragment until libslirp
 *   has surely freed it: when it is complete (every byte from 0 to the end
 *   of the fragment with MF clear was admitted, no overlaps) or when the
 *   timeout after its first fragment has passed. The last fragment passing
 *   is not enough: one without the middle would leave the rest queued.
 * - Each fragment costs at least FRAGLIMIT_FRAG_COST (libslirp's mbuf), and
 *   a datagram one more (its queue header), so tiny fragments are no cheaper.
 * - When a fragment does not fit, it is refused, and so are all later
 *   fragments of its datagram (they could never complete it). Nothing
 *   already admitted is "evicted": libslirp would keep it anyway, so room
 *   comes back only oldest first, as datagrams time out, or as they complete.
 * - A source holds at most 1/FRAGLIMIT_SOURCE_SHARE of each budget, so one
 *   VM cannot take the reassembly of the others.
 * - Fragments libslirp would drop unread (bad header checksum, TTL 0,
 *   lengths that lie) and ones no sender makes (empty, MF with a length not
 *   a multiple of 8, past 65535) are refused, so they cannot fake completion.
 */
#ifndef VMNETD_FRAGLIMIT_H
#define VMNETD_FRAGLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 4 MiB is ~2,000 fragments at FRAGLIMIT_FRAG_COST: libslirp's per-fragment
 * queue walk stays short, and 64 full 64 KiB datagrams fit at once. */
#define FRAGLIMIT_MAX_BYTES	(4u << 20)
/* Datagrams in reassembly per network: each is one more queue libslirp
 * searches linearly for every fragment. */
#define FRAGLIMIT_MAX_COUNT	256
/* libslirp frees a queue 60 ticks of >= 499 ms after its first fragment
 * (30 s, later when its loop is late); 40 s keeps the charge until it has. */
#define FRAGLIMIT_TIMEOUT_NS	(40 * 1000000000LL)
/* A source may hold at most 1/4 of each budget: three more must be busy
 * before the network is full. */
#define FRAGLIMIT_SOURCE_SHARE	4
/* libslirp copies each frame into an mbuf of ~1.7 KiB at MTU 1500
 * (SLIRP_MSIZE), whatever the fragment's size. */
#define FRAGLIMIT_FRAG_COST	2048

struct fraglimit;

struct fraglimit_stats {
	uint64_t admitted;	/* fragments passed to libslirp */
	uint64_t dropped;	/* fragments refused */
	size_t bytes;		/* charged now */
	unsigned count;		/* datagrams charged now */
};

/* A limiter for one network: at most @max_bytes and @max_count datagrams in
 * libslirp's reassembly, each forgotten @timeout_ns after its first fragment. */
struct fraglimit *fraglimit_new(size_t max_bytes, unsigned max_count, int64_t timeout_ns);
/* Free @f (NULL is fine). */
void fraglimit_free(struct fraglimit *f);
/* Whether @frame, arriving from @source (e.g. the ingress port) at @now_ns
 * (monotonic), may go to libslirp: always for anything but an IPv4
 * fragment; for a fragment, only within the budgets (see above). */
bool fraglimit_admit(struct fraglimit *f, const void *source, const uint8_t *frame, size_t len,
		     int64_t now_ns);
/* @source is gone: its datagrams stay charged to the network until they
 * time out, but no longer to a source a new port might reuse the key of. */
void fraglimit_forget_source(struct fraglimit *f, const void *source);
/* Counters and what is charged now. */
void fraglimit_get_stats(const struct fraglimit *f, struct fraglimit_stats *s);

#endif
