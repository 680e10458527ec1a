/* fraglimit.c - per-network and per-source budgets for IPv4 fragments on their way into libslirp. */
#include <string.h>

#include <glib.h>

#include "vmnetd/fraglimit.h"
#include "vmnetd/frame.h"

/* Disjoint payload ranges followed per datagram: senders that fragment in
 * order need one; past four, only the timeout frees the datagram. */
#define FRAG_RANGES	4
#define IP_MF		0x2000
#define IP_OFFMASK	0x1fff
#define IP_MAX		65535

struct frag_key {
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint8_t zero;		/* keys are compared as bytes */
};

/* One fragment, as libslirp's reassembly will see it. */
struct frag {
	struct frag_key key;
	uint32_t start, end;	/* payload bytes [start, end) */
	bool more;		/* MF */
};

struct frag_source {
	const void *id;
	size_t bytes;
	unsigned count;
};

struct frag_dgram {
	struct frag_key key;
	struct frag_source *src;	/* NULL once its source is forgotten */
	int64_t born_ns;		/* its first fragment: libslirp's timer starts there */
	size_t bytes;			/* charged */
	GList age;			/* link in fraglimit.by_age, oldest first */
	uint32_t range[FRAG_RANGES][2];	/* admitted payload, sorted, merged */
	unsigned nranges;
	uint32_t total;			/* payload length once MF=0 was seen, else 0 */
	bool refused;			/* a fragment did not fit: the rest cannot complete it */
	bool untracked;			/* overlaps or scattered: only the timeout frees it */
	struct frag_dgram *next_free;
};

struct fraglimit {
	size_t max_bytes, src_max_bytes, bytes;
	unsigned max_count, src_max_count, count;
	int64_t timeout_ns;
	uint64_t admitted, dropped;
	GHashTable *dgrams;		/* struct frag_key * -> struct frag_dgram * */
	GHashTable *sources;		/* source pointer -> struct frag_source * */
	GQueue by_age;
	struct frag_dgram *pool, *free;	/* max_count entries: no allocation per datagram */
};

enum frag_kind { NOT_FRAGMENT, FRAGMENT, BAD_FRAGMENT };

static guint key_hash(gconstpointer p)
{
	const struct frag_key *k = p;

	return k->src * 2654435761u ^ k->dst * 40503u ^ ((guint)k->id << 8 | k->proto);
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	return !memcmp(a, b, sizeof(struct frag_key));
}

/* The IPv4 header checksum is right: libslirp drops the packet otherwise. */
static bool header_sum_ok(const uint8_t *ip, size_t ihl)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < ihl; i += 2)
		sum += get_be16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* Whether @frame is an IPv4 fragment, and one libslirp would queue. */
static enum frag_kind parse(const uint8_t *frame, size_t len, struct frag *fr)
{
	uint8_t *ip = frame_ip4((uint8_t *)frame, len);
	size_t ihl, ip_len;
	uint16_t off;

	if (!ip)
		return NOT_FRAGMENT;	/* not IPv4, or a header libslirp drops */
	off = get_be16(ip + 6);
	if (!(off & (IP_MF | IP_OFFMASK)))
		return NOT_FRAGMENT;
	ihl = (ip[0] & 0xf) * 4;
	ip_len = get_be16(ip + 2);
	if (!header_sum_ok(ip, ihl) || ip[8] == 0 || ip_len <= ihl || ip_len > len - ETH_HLEN)
		return BAD_FRAGMENT;	/* libslirp drops it; counting it could fake completion */
	*fr = (struct frag){ .start = (off & IP_OFFMASK) * 8u, .more = off & IP_MF };
	fr->end = fr->start + (uint32_t)(ip_len - ihl);
	if ((fr->more && (fr->end - fr->start) % 8) || ihl + fr->end > IP_MAX)
		return BAD_FRAGMENT;	/* no sender makes these */
	memcpy(&fr->key.src, ip + 12, 4);
	memcpy(&fr->key.dst, ip + 16, 4);
	fr->key.id = get_be16(ip + 4);
	fr->key.proto = ip[9];
	return FRAGMENT;
}

/* Add [start, end) to @d's ranges; false when it overlaps one (libslirp
 * would trim, we stop following) or there is no room for another. */
static bool add_range(struct frag_dgram *d, uint32_t start, uint32_t end)
{
	unsigned i, n = d->nranges;
	bool join_prev, join_next;

	for (i = 0; i < n; i++)
		if (start < d->range[i][1] && d->range[i][0] < end)
			return false;
	for (i = 0; i < n && d->range[i][0] < end; i++)
		;
	join_prev = i > 0 && d->range[i - 1][1] == start;
	join_next = i < n && d->range[i][0] == end;
	if (join_prev && join_next) {
		d->range[i - 1][1] = d->range[i][1];
		memmove(d->range[i], d->range[i + 1], (n - i - 1) * sizeof(d->range[0]));
		d->nranges--;
	} else if (join_prev) {
		d->range[i - 1][1] = end;
	} else if (join_next) {
		d->range[i][0] = start;
	} else {
		if (n == FRAG_RANGES)
			return false;
		memmove(d->range[i + 1], d->range[i], (n - i) * sizeof(d->range[0]));
		d->range[i][0] = start;
		d->range[i][1] = end;
		d->nranges++;
	}
	return true;
}

/* Follow what libslirp's queue for @d now holds. */
static void note(struct frag_dgram *d, const struct frag *fr)
{
	if (d->untracked)
		return;
	if (!fr->more) {
		if (d->total && d->total != fr->end)
			d->untracked = true;
		d->total = fr->end;
	}
	if (!add_range(d, fr->start, fr->end) ||
	    (d->total && d->range[d->nranges - 1][1] > d->total))
		d->untracked = true;	/* libslirp's last fragment would not be the MF=0 one */
}

/* libslirp has reassembled @d (and freed its queue). */
static bool complete(const struct frag_dgram *d)
{
	return !d->untracked && d->total && d->nranges == 1 && d->range[0][0] == 0 &&
	       d->range[0][1] == d->total;
}

/* @cost more bytes and @dgrams more datagrams fit the network's and @s's budgets. */
static bool fits(const struct fraglimit *f, const struct frag_source *s, size_t cost,
		 unsigned dgrams)
{
	if (f->bytes + cost > f->max_bytes || f->count + dgrams > f->max_count)
		return false;
	if (!s)
		return cost <= f->src_max_bytes && dgrams <= f->src_max_count;
	return s->bytes + cost <= f->src_max_bytes && s->count + dgrams <= f->src_max_count;
}

static void charge(struct fraglimit *f, struct frag_dgram *d, size_t cost)
{
	d->bytes += cost;
	f->bytes += cost;
	if (d->src)
		d->src->bytes += cost;
}

/* libslirp no longer holds @d: its charges come back. */
static void release(struct fraglimit *f, struct frag_dgram *d)
{
	struct frag_source *s = d->src;

	f->bytes -= d->bytes;
	f->count--;
	if (s) {
		s->bytes -= d->bytes;
		if (--s->count == 0)
			g_hash_table_remove(f->sources, s->id);	/* frees it */
	}
	g_queue_unlink(&f->by_age, &d->age);
	g_hash_table_remove(f->dgrams, &d->key);
	d->next_free = f->free;
	f->free = d;
}

static void expire(struct fraglimit *f, int64_t now_ns)
{
	struct frag_dgram *d;

	while (f->by_age.head) {
		d = f->by_age.head->data;
		if (now_ns - d->born_ns < f->timeout_ns)
			break;
		release(f, d);
	}
}

/* libslirp copies each frame into an mbuf of its own. */
static size_t frag_cost(size_t len)
{
	return MAX(len, (size_t)FRAGLIMIT_FRAG_COST);
}

static bool add_fragment(struct fraglimit *f, struct frag_dgram *d, const struct frag *fr,
			 size_t len)
{
	size_t cost = frag_cost(len);

	if (d->refused || !fits(f, d->src, cost, 0)) {
		d->refused = true;
		return false;
	}
	charge(f, d, cost);
	note(d, fr);
	if (complete(d))
		release(f, d);
	return true;
}

static bool new_dgram(struct fraglimit *f, const void *source, const struct frag *fr,
		      size_t len, int64_t now_ns)
{
	size_t cost = FRAGLIMIT_FRAG_COST + frag_cost(len);	/* + libslirp's queue header */
	struct frag_source *s = g_hash_table_lookup(f->sources, source);
	struct frag_dgram *d;

	if (!fits(f, s, cost, 1))
		return false;
	if (!s) {
		s = g_new0(struct frag_source, 1);
		s->id = source;
		g_hash_table_insert(f->sources, (gpointer)source, s);
	}
	d = f->free;
	f->free = d->next_free;
	*d = (struct frag_dgram){ .key = fr->key, .src = s, .born_ns = now_ns };
	d->age.data = d;
	s->count++;
	f->count++;
	g_queue_push_tail_link(&f->by_age, &d->age);
	g_hash_table_insert(f->dgrams, &d->key, d);
	charge(f, d, cost);
	note(d, fr);
	return true;
}

struct fraglimit *fraglimit_new(size_t max_bytes, unsigned max_count, int64_t timeout_ns)
{
	struct fraglimit *f = g_new0(struct fraglimit, 1);

	f->max_bytes = max_bytes;
	f->max_count = MAX(max_count, 1u);
	f->src_max_bytes = max_bytes / FRAGLIMIT_SOURCE_SHARE;
	f->src_max_count = MAX(f->max_count / FRAGLIMIT_SOURCE_SHARE, 1u);
	f->timeout_ns = timeout_ns;
	f->dgrams = g_hash_table_new(key_hash, key_equal);
	f->sources = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	g_queue_init(&f->by_age);
	f->pool = g_new0(struct frag_dgram, f->max_count);
	for (unsigned i = 0; i < f->max_count; i++) {
		f->pool[i].next_free = f->free;
		f->free = &f->pool[i];
	}
	return f;
}

void fraglimit_free(struct fraglimit *f)
{
	if (!f)
		return;
	g_hash_table_destroy(f->dgrams);
	g_hash_table_destroy(f->sources);
	g_free(f->pool);
	g_free(f);
}

bool fraglimit_admit(struct fraglimit *f, const void *source, const uint8_t *frame, size_t len,
		     int64_t now_ns)
{
	struct frag fr;
	struct frag_dgram *d;
	bool ok;

	switch (parse(frame, len, &fr)) {
	case NOT_FRAGMENT:
		return true;
	case BAD_FRAGMENT:
		f->dropped++;
		return false;
	case FRAGMENT:
		break;
	}
	expire(f, now_ns);
	d = g_hash_table_lookup(f->dgrams, &fr.key);
	/* A datagram starts with its first fragment: libslirp 4.7 crashes on a
	 * later one that comes alone (fuzz_uplink_hostonly), and senders send
	 * fragments in order. */
	ok = d ? add_fragment(f, d, &fr, len)
	       : fr.start == 0 && new_dgram(f, source, &fr, len, now_ns);
	if (ok)
		f->admitted++;
	else
		f->dropped++;
	return ok;
}

void fraglimit_forget_source(struct fraglimit *f, const void *source)
{
	struct frag_source *s = g_hash_table_lookup(f->sources, source);

	if (!s)
		return;
	for (GList *l = f->by_age.head; l; l = l->next) {
		struct frag_dgram *d = l->data;

		if (d->src == s)
			d->src = NULL;
	}
	g_hash_table_remove(f->sources, source);
}

void fraglimit_get_stats(const struct fraglimit *f, struct fraglimit_stats *s)
{
	*s = (struct fraglimit_stats){ .admitted = f->admitted, .dropped = f->dropped,
				       .bytes = f->bytes, .count = f->count };
}
