/* fuzz.h - what every libFuzzer target shares: quiet logs, fatal criticals, inputs as records. */
#ifndef VMNETD_FUZZ_H
#define VMNETD_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant: report it and crash, so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
				__LINE__, #cond);				\
			abort();						\
		}								\
	} while (0)

static GLogWriterOutput fuzz_log_writer(GLogLevelFlags level, const GLogField *fields,
					gsize n_fields, gpointer user_data)
{
	const char *domain = NULL;

	(void)user_data;
	for (gsize i = 0; i < n_fields; i++)
		if (!strcmp(fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
	/* Our code logs a critical only for a broken invariant; libslirp
	 * ("Slirp") logs them for guest packets it dislikes, which is no bug. */
	if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) &&
	    !(domain && !strcmp(domain, "Slirp"))) {
		g_log_writer_standard_streams(level, fields, n_fields, NULL);
		abort();
	}
	/* Millions of inputs: the daemon's per-packet messages would drown
	 * libFuzzer's own output and slow every run. */
	return G_LOG_WRITER_HANDLED;
}

static inline void fuzz_init(void)
{
	g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
}

/* Inputs that carry several messages (a DHCP conversation, frames from
 * several ports) are records: a 2-byte big-endian length, then that many
 * bytes, fewer at the end. fuzz/make_corpus.py writes the same shape. */
struct fuzz_reader {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_reader *r)
{
	uint8_t v = 0;

	if (r->left) {
		v = *r->p++;
		r->left--;
	}
	return v;
}

/* The next record as a heap copy of exactly its length, so ASan sees any
 * read past its end (inside the input it would not); NULL when none is
 * left. Free with g_free(). */
static inline uint8_t *fuzz_record(struct fuzz_reader *r, size_t *len)
{
	size_t n;
	uint8_t *copy;

	if (r->left < 2)
		return NULL;
	n = (size_t)r->p[0] << 8 | r->p[1];
	r->p += 2;
	r->left -= 2;
	if (n > r->left)
		n = r->left;
	copy = g_malloc(n ? n : 1);
	memcpy(copy, r->p, n);
	r->p += n;
	r->left -= n;
	*len = n;
	return copy;
}

#endif
