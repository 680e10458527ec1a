/* fuzz_dns.c - the host-only DNS responder, one query per input, with roomy and tight reply buffers. */
#include <arpa/inet.h>

#include "fuzz.h"

#include "vmnetd/dns.h"

static const struct {
	const char *name;
	const char *ip;
} names[] = { { "host", "192.168.56.1" }, { "web", "192.168.56.10" }, { "db", "192.168.56.101" } };

static bool by_name(void *opaque, const char *name, struct in_addr *out)
{
	(void)opaque;
	/* dns.c hands over one label; a dot or a NUL inside it would be a bug. */
	FUZZ_CHECK(!strchr(name, '.'));
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		if (!g_ascii_strcasecmp(name, names[i].name))
			return inet_pton(AF_INET, names[i].ip, out) == 1;
	return false;
}

static bool by_addr(void *opaque, struct in_addr a, char *buf, size_t size)
{
	(void)opaque;
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		struct in_addr b;

		inet_pton(AF_INET, names[i].ip, &b);
		if (a.s_addr == b.s_addr) {
			g_strlcpy(buf, names[i].name, size);
			return true;
		}
	}
	return false;
}

static void answer(const struct dns_names *zone, const uint8_t *q, size_t qlen, size_t max)
{
	/* Exactly @max bytes on the heap: ASan sees a write past them. */
	uint8_t *reply = g_malloc(max ? max : 1);
	size_t n = dns_answer(zone, q, qlen, reply, max);

	FUZZ_CHECK(n <= max);
	if (n) {
		FUZZ_CHECK(n >= 12 && qlen >= 2);
		FUZZ_CHECK(reply[0] == q[0] && reply[1] == q[1]);	/* its ID */
		FUZZ_CHECK(reply[2] & 0x80);				/* a response */
	}
	g_free(reply);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_names zone = { .by_name = by_name, .by_addr = by_addr, .domain = "lab.example",
				  .ttl = 60 };
	/* libFuzzer's buffer ends with the query: ASan sees a read past it. */
	const uint8_t *q = data;

	inet_pton(AF_INET, "192.168.56.0", &zone.net);
	inet_pton(AF_INET, "255.255.255.0", &zone.mask);
	answer(&zone, q, size, DNS_UDP_MAX);		/* as netsvc.c calls it */
	answer(&zone, q, size, size);			/* a reply no longer than the query */
	answer(&zone, q, size, 12);			/* room for a header only */
	zone.domain = NULL;				/* bare names only */
	answer(&zone, q, size, DNS_UDP_MAX);
	zone.domain = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.example";
	answer(&zone, q, size, DNS_UDP_MAX);
	return 0;
}
