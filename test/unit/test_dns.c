/* test_dns.c - the host-only DNS responder: answers, refusals, and malformed queries. */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "vmnetd/dns.h"

/* The responder's constants, restated from RFC 1035 so the test checks them. */
#define HDR		12
#define QR		0x80
#define AA		0x04
#define TC		0x02
#define RD		0x01
#define NOERROR		0
#define FORMERR		1
#define SERVFAIL	2
#define NXDOMAIN	3
#define NOTIMP		4
#define REFUSED		5
#define T_A		1
#define T_PTR		12
#define T_AAAA		28
#define T_ANY		255
#define C_IN		1
#define C_CH		3
#define TTL		600
#define ID		0xbeef

static const struct {
	const char *name, *ip;
} hosts[] = {
	{ "vm1", "10.0.2.15" },
	{ "Router", "10.0.2.2" },
	{ "bad.dotted", "10.0.2.98" },
	{ "a-name-longer-than-sixty-three-bytes-which-no-dns-label-can-hold-at-all", "10.0.2.99" },
};

static bool by_name(void *opaque, const char *name, struct in_addr *out)
{
	(void)opaque;
	for (size_t i = 0; i < G_N_ELEMENTS(hosts); i++)
		if (!g_ascii_strcasecmp(hosts[i].name, name))
			return inet_pton(AF_INET, hosts[i].ip, out) == 1;
	return false;
}

static bool by_addr(void *opaque, struct in_addr addr, char *buf, size_t size)
{
	char ip[INET_ADDRSTRLEN];

	(void)opaque;
	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	for (size_t i = 0; i < G_N_ELEMENTS(hosts); i++)
		if (!strcmp(hosts[i].ip, ip)) {
			g_strlcpy(buf, hosts[i].name, size);
			return true;
		}
	return false;
}

static struct dns_names names_for(const char *domain)
{
	struct dns_names n = {
		.by_name = by_name, .by_addr = by_addr, .domain = domain, .ttl = TTL,
	};

	inet_pton(AF_INET, "10.0.2.0", &n.net);
	inet_pton(AF_INET, "255.255.255.0", &n.mask);
	return n;
}

/* Encodes a dotted name ("" is the root) into wire form; returns its length. */
static size_t put_name(uint8_t *p, const char *name)
{
	size_t n = 0;
	gchar **labels = g_strsplit(name, ".", -1);

	for (gchar **l = labels; *name && *l; l++) {
		size_t len = strlen(*l);

		p[n++] = len;
		memcpy(p + n, *l, len);
		n += len;
	}
	p[n++] = 0;
	g_strfreev(labels);
	return n;
}

static size_t query_class(uint8_t *q, const char *name, uint16_t type, uint16_t class)
{
	size_t n = HDR;

	memset(q, 0, HDR);
	q[0] = ID >> 8;
	q[1] = ID & 0xff;
	q[2] = RD;
	q[5] = 1;
	n += put_name(q + n, name);
	q[n++] = type >> 8;
	q[n++] = type & 0xff;
	q[n++] = class >> 8;
	q[n++] = class & 0xff;
	return n;
}

static size_t query(uint8_t *q, const char *name, uint16_t type)
{
	return query_class(q, name, type, C_IN);
}

/* Appends an EDNS OPT record (RFC 6891) with a 4096-byte payload size. */
static size_t add_opt(uint8_t *q, size_t n)
{
	static const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 };

	memcpy(q + n, opt, sizeof(opt));
	q[11] = 1;
	return n + sizeof(opt);
}

/* Runs the responder on exact-size copies, so ASan sees any read or write
 * past either end. */
static size_t ask_max(const struct dns_names *n, const uint8_t *q, size_t qlen,
		      uint8_t *reply, size_t max)
{
	uint8_t *qc = g_malloc(qlen ? qlen : 1), *rc = g_malloc(max ? max : 1);
	size_t len;

	memcpy(qc, q, qlen);
	len = dns_answer(n, qc, qlen, rc, max);
	g_assert_cmpuint(len, <=, max);
	memcpy(reply, rc, len);
	g_free(qc);
	g_free(rc);
	return len;
}

static size_t ask(const struct dns_names *n, const uint8_t *q, size_t qlen, uint8_t *reply)
{
	return ask_max(n, q, qlen, reply, DNS_UDP_MAX);
}

static uint16_t be16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

/* Checks the header of a reply to a query built by query(). */
static void check_header(const uint8_t *r, size_t len, int rcode, bool aa, int qd, int an)
{
	g_assert_cmpuint(len, >=, HDR);
	g_assert_cmpuint(be16(r), ==, ID);
	g_assert_cmpuint(r[2] & QR, ==, QR);
	g_assert_cmpuint(r[2] & 0x78, ==, 0);
	g_assert_cmpuint(r[2] & AA, ==, aa ? AA : 0);
	g_assert_cmpuint(r[2] & TC, ==, 0);
	g_assert_cmpuint(r[2] & RD, ==, RD);
	g_assert_cmpuint(r[3] & 0x80, ==, 0);	/* RA: it never recurses */
	g_assert_cmpuint(r[3] & 0x0f, ==, rcode);
	g_assert_cmpuint(be16(r + 4), ==, qd);
	g_assert_cmpuint(be16(r + 6), ==, an);
	g_assert_cmpuint(be16(r + 8), ==, 0);
	g_assert_cmpuint(be16(r + 10), ==, 0);
}

/* Asks @name/@type and checks a reply with @rcode, AA as given, the question
 * echoed and no answer. */
static void expect_empty(const struct dns_names *n, const char *name, uint16_t type,
			 int rcode, bool aa)
{
	uint8_t q[600], r[DNS_UDP_MAX];
	size_t qlen = query(q, name, type), len = ask(n, q, qlen, r);

	check_header(r, len, rcode, aa, 1, 0);
	g_assert_cmpuint(len, ==, qlen);
	g_assert_cmpmem(r + HDR, qlen - HDR, q + HDR, qlen - HDR);
}

/* Asks and checks one answer of @type with @rdata, pointing at the question. */
static void expect_answer(const struct dns_names *n, const char *name, uint16_t qtype,
			  uint16_t type, const uint8_t *rdata, size_t rdlen)
{
	uint8_t q[600], r[DNS_UDP_MAX];
	size_t qlen = query(q, name, qtype), len = ask(n, q, qlen, r);
	const uint8_t *rr = r + qlen;

	check_header(r, len, NOERROR, true, 1, 1);
	g_assert_cmpmem(r + HDR, qlen - HDR, q + HDR, qlen - HDR);
	g_assert_cmpuint(len, ==, qlen + 12 + rdlen);
	g_assert_cmpuint(be16(rr), ==, 0xc00c);
	g_assert_cmpuint(be16(rr + 2), ==, type);
	g_assert_cmpuint(be16(rr + 4), ==, C_IN);
	g_assert_cmpuint((uint32_t)be16(rr + 6) << 16 | be16(rr + 8), ==, TTL);
	g_assert_cmpuint(be16(rr + 10), ==, rdlen);
	g_assert_cmpmem(rr + 12, rdlen, rdata, rdlen);
}

static const uint8_t vm1_ip[] = { 10, 0, 2, 15 };
static const uint8_t router_ip[] = { 10, 0, 2, 2 };

static void test_a_known(void)
{
	struct dns_names n = names_for("vm.lan");

	expect_answer(&n, "vm1", T_A, T_A, vm1_ip, 4);
	expect_answer(&n, "vm1.vm.lan", T_A, T_A, vm1_ip, 4);
	expect_answer(&n, "router.vm.lan", T_A, T_A, router_ip, 4);
	expect_answer(&n, "vm1", T_ANY, T_A, vm1_ip, 4);
}

static void test_a_case(void)
{
	struct dns_names n = names_for("Vm.LAN");

	/* The question comes back as asked: resolvers check the 0x20 bits. */
	expect_answer(&n, "VM1", T_A, T_A, vm1_ip, 4);
	expect_answer(&n, "vM1.vM.lAn", T_A, T_A, vm1_ip, 4);
	expect_answer(&n, "ROUTER.VM.LAN", T_A, T_A, router_ip, 4);
}

static void test_a_no_domain(void)
{
	struct dns_names n = names_for(NULL);

	expect_answer(&n, "vm1", T_A, T_A, vm1_ip, 4);
	expect_empty(&n, "vm1.vm.lan", T_A, REFUSED, false);
	n.domain = "";
	expect_answer(&n, "vm1", T_A, T_A, vm1_ip, 4);
	expect_empty(&n, "vm1.vm.lan", T_A, REFUSED, false);
}

static void test_a_trailing_dot_domain(void)
{
	struct dns_names n = names_for("vm.lan.");

	expect_answer(&n, "vm1.vm.lan", T_A, T_A, vm1_ip, 4);
}

static void test_nodata(void)
{
	struct dns_names n = names_for("vm.lan");

	expect_empty(&n, "vm1", T_AAAA, NOERROR, true);
	expect_empty(&n, "vm1.vm.lan", T_AAAA, NOERROR, true);
	expect_empty(&n, "vm1.vm.lan", 16 /* TXT */, NOERROR, true);
	expect_empty(&n, "vm1", T_PTR, NOERROR, true);
	/* The apex: names live below it, so it exists (RFC 8020). */
	expect_empty(&n, "vm.lan", T_A, NOERROR, true);
	expect_empty(&n, "15.2.0.10.in-addr.arpa", T_A, NOERROR, true);
	/* The network's reverse range exists too. */
	expect_empty(&n, "2.0.10.in-addr.arpa", T_PTR, NOERROR, true);
}

static void test_nxdomain(void)
{
	struct dns_names n = names_for("vm.lan");

	expect_empty(&n, "nosuch", T_A, NXDOMAIN, true);
	expect_empty(&n, "nosuch.vm.lan", T_A, NXDOMAIN, true);
	expect_empty(&n, "NoSuch.VM.lan", T_AAAA, NXDOMAIN, true);
	expect_empty(&n, "deeper.vm1.vm.lan", T_A, NXDOMAIN, true);
	expect_empty(&n, "16.2.0.10.in-addr.arpa", T_PTR, NXDOMAIN, true);
	expect_empty(&n, "x.15.2.0.10.in-addr.arpa", T_PTR, NXDOMAIN, true);
	expect_empty(&n, "x.2.0.10.in-addr.arpa", T_PTR, NXDOMAIN, true);
	expect_empty(&n, "015.2.0.10.in-addr.arpa", T_PTR, NXDOMAIN, true);
	expect_empty(&n, "256.2.0.10.in-addr.arpa", T_PTR, NXDOMAIN, true);
	n.domain = NULL;
	expect_empty(&n, "nosuch", T_A, NXDOMAIN, true);
}

static void test_nxdomain_odd_label(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[64], r[DNS_UDP_MAX];
	size_t qlen = query(q, "vm1", T_A), len;

	/* A label with a NUL or a dot inside can name no host. */
	q[HDR + 2] = '\0';
	len = ask(&n, q, qlen, r);
	check_header(r, len, NXDOMAIN, true, 1, 0);
	q[HDR + 2] = '.';
	len = ask(&n, q, qlen, r);
	check_header(r, len, NXDOMAIN, true, 1, 0);
}

static void test_ptr_known(void)
{
	struct dns_names n = names_for("vm.lan");
	static const uint8_t vm1_full[] = "\3vm1\2vm\3lan";
	static const uint8_t router_bare[] = "\6Router";

	expect_answer(&n, "15.2.0.10.in-addr.arpa", T_PTR, T_PTR, vm1_full, sizeof(vm1_full));
	expect_answer(&n, "15.2.0.10.IN-ADDR.Arpa", T_PTR, T_PTR, vm1_full, sizeof(vm1_full));
	expect_answer(&n, "15.2.0.10.in-addr.arpa", T_ANY, T_PTR, vm1_full, sizeof(vm1_full));
	n.domain = NULL;
	expect_answer(&n, "2.2.0.10.in-addr.arpa", T_PTR, T_PTR, router_bare, sizeof(router_bare));
}

static void test_ptr_wider_network(void)
{
	struct dns_names n = names_for("vm.lan");
	static const uint8_t vm1_full[] = "\3vm1\2vm\3lan";

	inet_pton(AF_INET, "10.0.0.0", &n.net);
	inet_pton(AF_INET, "255.255.240.0", &n.mask);
	expect_answer(&n, "15.2.0.10.in-addr.arpa", T_PTR, T_PTR, vm1_full, sizeof(vm1_full));
	expect_empty(&n, "15.0.10.in-addr.arpa", T_PTR, NOERROR, true);
	expect_empty(&n, "1.16.0.10.in-addr.arpa", T_PTR, REFUSED, false);
	expect_empty(&n, "0.10.in-addr.arpa", T_PTR, REFUSED, false);
}

static void test_ptr_bad_data(void)
{
	struct dns_names n = names_for("vm.lan");

	/* The callback's names are wrong, not the query. */
	expect_empty(&n, "98.2.0.10.in-addr.arpa", T_PTR, SERVFAIL, false);
	expect_empty(&n, "99.2.0.10.in-addr.arpa", T_PTR, SERVFAIL, false);
}

static void test_refused(void)
{
	struct dns_names n = names_for("vm.lan");

	expect_empty(&n, "example.com", T_A, REFUSED, false);
	expect_empty(&n, "www.example.com", T_AAAA, REFUSED, false);
	expect_empty(&n, "vm1.other.lan", T_A, REFUSED, false);
	expect_empty(&n, "vm1.lan", T_A, REFUSED, false);
	expect_empty(&n, "", T_A, REFUSED, false);
	expect_empty(&n, "8.8.8.8.in-addr.arpa", T_PTR, REFUSED, false);
	expect_empty(&n, "15.2.0.11.in-addr.arpa", T_PTR, REFUSED, false);
	expect_empty(&n, "0.10.in-addr.arpa", T_PTR, REFUSED, false);
	expect_empty(&n, "in-addr.arpa", T_PTR, REFUSED, false);
	expect_empty(&n, "15.2.0.10.ip6.arpa", T_PTR, REFUSED, false);
}

static void test_refused_class(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[64], r[DNS_UDP_MAX];
	size_t qlen = query_class(q, "version.bind", 16, C_CH), len = ask(&n, q, qlen, r);

	check_header(r, len, REFUSED, false, 1, 0);
	qlen = query_class(q, "vm1", T_A, C_CH);
	len = ask(&n, q, qlen, r);
	check_header(r, len, REFUSED, false, 1, 0);
}

static void test_no_network(void)
{
	struct dns_names n = names_for("vm.lan");

	n.net.s_addr = n.mask.s_addr = 0;
	expect_empty(&n, "15.2.0.10.in-addr.arpa", T_PTR, REFUSED, false);
	n.by_name = NULL;
	n.by_addr = NULL;
	expect_empty(&n, "vm1", T_A, NXDOMAIN, true);
}

static void test_rd_clear(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[64], r[DNS_UDP_MAX];
	size_t qlen = query(q, "vm1", T_A), len;

	q[2] = 0;
	len = ask(&n, q, qlen, r);
	g_assert_cmpuint(len, ==, qlen + 16);
	g_assert_cmpuint(r[2], ==, QR | AA);
}

/* A reply written over its own query (how a caller may answer in place). */
static void test_in_place(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t *buf = g_malloc(DNS_UDP_MAX), q[64];
	size_t qlen = add_opt(q, query(q, "15.2.0.10.in-addr.arpa", T_PTR)), len, rlen;
	uint8_t expect[DNS_UDP_MAX];

	rlen = ask(&n, q, qlen, expect);
	memcpy(buf, q, qlen);
	len = dns_answer(&n, buf, qlen, buf, DNS_UDP_MAX);
	g_assert_cmpmem(buf, len, expect, rlen);
	g_free(buf);
}

static void test_edns(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[64], r[DNS_UDP_MAX];
	size_t qlen = query(q, "vm1", T_A), len;

	qlen = add_opt(q, qlen);
	len = ask(&n, q, qlen, r);
	/* Answered, without EDNS: arcount 0 and no OPT. */
	check_header(r, len, NOERROR, true, 1, 1);
	g_assert_cmpuint(len, ==, qlen - 11 + 16);
}

static void test_ignored(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[64], r[DNS_UDP_MAX];
	size_t qlen = query(q, "vm1", T_A);

	for (size_t i = 0; i < HDR; i++)
		g_assert_cmpuint(ask(&n, q, i, r), ==, 0);
	q[2] |= QR;	/* a response: answering it could start a loop */
	g_assert_cmpuint(ask(&n, q, qlen, r), ==, 0);
}

static void test_notimp(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[64], r[DNS_UDP_MAX];
	size_t qlen = query(q, "vm1", T_A), len;

	for (int opcode = 1; opcode < 16; opcode++) {
		q[2] = opcode << 3 | RD;
		len = ask(&n, q, qlen, r);
		g_assert_cmpuint(len, ==, HDR);
		g_assert_cmpuint(be16(r), ==, ID);
		g_assert_cmpuint(r[2], ==, QR | opcode << 3 | RD);
		g_assert_cmpuint(r[3], ==, NOTIMP);
		g_assert_cmpuint(be16(r + 4), ==, 0);
	}
}

/* A FORMERR reply: header echoed, the question only if @with_question. */
static void expect_formerr(const uint8_t *q, size_t qlen, bool with_question, size_t qsection)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t r[DNS_UDP_MAX];
	size_t len = ask(&n, q, qlen, r);

	check_header(r, len, FORMERR, false, with_question, 0);
	g_assert_cmpuint(len, ==, HDR + (with_question ? qsection : 0));
	if (with_question)
		g_assert_cmpmem(r + HDR, qsection, q + HDR, qsection);
}

static void test_malformed_qdcount(void)
{
	uint8_t q[64];
	size_t qlen = query(q, "vm1", T_A);
	static const uint16_t counts[] = { 0, 2, 255, 256, 65535 };

	for (size_t i = 0; i < G_N_ELEMENTS(counts); i++) {
		q[4] = counts[i] >> 8;
		q[5] = counts[i] & 0xff;
		expect_formerr(q, qlen, false, 0);
	}
}

static void test_malformed_counts(void)
{
	uint8_t q[128];
	size_t qlen = query(q, "vm1", T_A), qs = qlen - HDR;

	/* Answer or authority records in a query: garbage follows. */
	q[7] = 1;
	memset(q + qlen, 0xa5, 20);
	expect_formerr(q, qlen + 20, true, qs);
	q[7] = 0;
	q[9] = 1;
	expect_formerr(q, qlen + 20, true, qs);
	q[9] = 0;
	/* More additional records than the message can hold. */
	q[10] = q[11] = 0xff;
	expect_formerr(q, qlen + 20, true, qs);
	qlen = add_opt(q, qlen);
	q[10] = 0;
	q[11] = 2;	/* two, but room for one */
	expect_formerr(q, qlen, true, qs);
}

static void test_malformed_pointer(void)
{
	uint8_t q[64];
	size_t qlen;

	/* The question's name is a pointer to itself. */
	qlen = query(q, "", T_A);
	memmove(q + HDR + 2, q + HDR + 1, 4);
	q[HDR] = 0xc0;
	q[HDR + 1] = HDR;
	expect_formerr(q, qlen + 1, false, 0);
	/* A label, then a pointer back to the label. */
	qlen = query(q, "vm1", T_A);
	q[HDR + 4] = 0xc0;
	memmove(q + HDR + 6, q + HDR + 5, 4);
	q[HDR + 5] = HDR;
	expect_formerr(q, qlen + 1, false, 0);
	/* A pointer to the header. */
	q[HDR] = 0xc0;
	q[HDR + 1] = 0;
	expect_formerr(q, qlen, false, 0);
}

static void test_malformed_label(void)
{
	uint8_t q[600];
	size_t qlen = query(q, "vm1", T_A);

	/* 0x40 and 0x80 are the reserved label types; 0x40 also reads as 64. */
	q[HDR] = 0x40;
	expect_formerr(q, qlen, false, 0);
	q[HDR] = 0x80;
	expect_formerr(q, qlen, false, 0);
	q[HDR] = 0xff;
	expect_formerr(q, qlen, false, 0);
}

static void test_malformed_name_length(void)
{
	struct dns_names n = names_for("vm.lan");
	GString *name = g_string_new(NULL);
	uint8_t q[600], r[DNS_UDP_MAX];
	size_t qlen, len;

	/* 63+1 three times, 61+1 and the root: exactly 255 bytes is fine... */
	for (int i = 0; i < 3; i++)
		g_string_append_printf(name, "%s.", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk");
	g_string_append(name, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi");
	qlen = query(q, name->str, T_A);
	g_assert_cmpuint(qlen, ==, HDR + 255 + 4);
	len = ask(&n, q, qlen, r);
	check_header(r, len, REFUSED, false, 1, 0);
	/* ...one more byte is not. */
	g_string_append(name, "j");
	qlen = query(q, name->str, T_A);
	expect_formerr(q, qlen, false, 0);
	/* Nor are many short labels. */
	g_string_truncate(name, 0);
	for (int i = 0; i < 130; i++)
		g_string_append(name, "a.");
	g_string_append(name, "b");
	qlen = query(q, name->str, T_A);
	expect_formerr(q, qlen, false, 0);
	g_string_free(name, true);
}

/* Every prefix of a valid query: nothing under 12 bytes, FORMERR without the
 * question until it is whole, FORMERR with it until the OPT is whole. */
static void test_malformed_truncated(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[64], r[DNS_UDP_MAX];
	size_t qs = query(q, "vm1.vm.lan", T_A), qlen = add_opt(q, qs);

	for (size_t i = 0; i <= qlen; i++) {
		size_t len = ask(&n, q, i, r);

		if (i < HDR)
			g_assert_cmpuint(len, ==, 0);
		else if (i < qs)
			check_header(r, len, FORMERR, false, 0, 0);
		else if (i < qlen)
			check_header(r, len, FORMERR, false, 1, 0);
		else
			check_header(r, len, NOERROR, true, 1, 1);
	}
}

/* Small reply buffers: never overrun; TC when something is left out. */
static void test_reply_max(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[64], r[DNS_UDP_MAX];
	size_t qlen = query(q, "15.2.0.10.in-addr.arpa", T_PTR);
	size_t full = ask(&n, q, qlen, r);

	for (size_t max = 0; max < full + 4; max++) {
		size_t len = ask_max(&n, q, qlen, r, max);

		if (max < HDR) {
			g_assert_cmpuint(len, ==, 0);
			continue;
		}
		g_assert_cmpuint(be16(r), ==, ID);
		g_assert_cmpuint(r[3] & 0x0f, ==, NOERROR);
		if (max >= full) {
			g_assert_cmpuint(len, ==, full);
			g_assert_cmpuint(r[2] & TC, ==, 0);
			continue;
		}
		g_assert_cmpuint(r[2] & TC, ==, TC);
		g_assert_cmpuint(be16(r + 6), ==, 0);
		g_assert_cmpuint(be16(r + 4), ==, max >= qlen);
		g_assert_cmpuint(len, ==, max >= qlen ? qlen : HDR);
	}
	/* More room than UDP allows is not used either. */
	g_assert_cmpuint(ask_max(&n, q, qlen, r, 4096) , ==, full);
}

/* The largest answers still fit in 512 bytes. */
static void test_largest(void)
{
	struct dns_names n = names_for(NULL);
	GString *name = g_string_new(NULL);
	uint8_t q[600], r[DNS_UDP_MAX];
	size_t qlen, len;

	/* The longest domain that leaves room for any host label. */
	for (int i = 0; i < 3; i++)
		g_string_append(name, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk.");
	g_string_truncate(name, 189);
	g_assert_true(dns_domain_valid(name->str));
	g_string_append_c(name, 'x');
	g_assert_false(dns_domain_valid(name->str));
	g_string_truncate(name, 189);
	n.domain = name->str;
	qlen = query(q, "2.2.0.10.in-addr.arpa", T_PTR);
	len = ask(&n, q, qlen, r);
	check_header(r, len, NOERROR, true, 1, 1);
	g_assert_cmpuint(len, ==, qlen + 12 + 1 + 6 + 190 + 1);
	g_string_free(name, true);
}

static void test_domain_valid(void)
{
	g_assert_true(dns_domain_valid(NULL));
	g_assert_true(dns_domain_valid(""));
	g_assert_true(dns_domain_valid("."));
	g_assert_true(dns_domain_valid("lan"));
	g_assert_true(dns_domain_valid("vm.lan."));
	g_assert_true(dns_domain_valid("_x.Example-1.org"));
	g_assert_false(dns_domain_valid(".lan"));
	g_assert_false(dns_domain_valid("vm..lan"));
	g_assert_false(dns_domain_valid("vm.lan.."));
	g_assert_false(dns_domain_valid("my vm.lan"));
	g_assert_false(dns_domain_valid("vm\tlan"));
	g_assert_false(dns_domain_valid(
		"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl.lan"));

	/* An invalid domain counts as none. */
	struct dns_names n = names_for("vm..lan");

	expect_answer(&n, "vm1", T_A, T_A, vm1_ip, 4);
	expect_empty(&n, "vm1.vm.lan", T_A, REFUSED, false);
}

/* Checks what any reply must be: bounded, and to the query's ID. */
static void check_any_reply(const uint8_t *q, size_t qlen, const uint8_t *r, size_t len)
{
	if (!len)
		return;
	g_assert_cmpuint(qlen, >=, HDR);
	g_assert_cmpuint(len, >=, HDR);
	g_assert_cmpmem(r, 2, q, 2);
	g_assert_cmpuint(r[2] & QR, ==, QR);
	g_assert_cmpuint(be16(r + 4), <=, 1);
	g_assert_cmpuint(be16(r + 6), <=, be16(r + 4));
}

static void test_fuzz_random(void)
{
	struct dns_names n = names_for("vm.lan");
	uint8_t q[600], r[DNS_UDP_MAX];

	for (int i = 0; i < 100000; i++) {
		size_t qlen = g_test_rand_int_range(0, sizeof(q));

		for (size_t j = 0; j < qlen; j++)
			q[j] = g_test_rand_int();
		if (qlen > 5 && g_test_rand_bit()) {	/* often a query with one question */
			q[2] &= ~QR;
			q[4] = 0;
			q[5] = 1;
		}
		size_t len = ask_max(&n, q, qlen, r, g_test_rand_int_range(0, sizeof(r) + 1));

		check_any_reply(q, qlen, r, len);
	}
}

/* Valid queries with a few bytes changed: gets deep into the parser. */
static void test_fuzz_mutate(void)
{
	static const char *const seeds[] = {
		"vm1", "vm1.vm.lan", "15.2.0.10.in-addr.arpa", "x.2.0.10.in-addr.arpa",
		"example.com", "",
	};
	struct dns_names n = names_for("vm.lan");
	uint8_t q[128], r[DNS_UDP_MAX];

	for (int i = 0; i < 100000; i++) {
		size_t qlen = query(q, seeds[g_test_rand_int_range(0, G_N_ELEMENTS(seeds))],
				    g_test_rand_int_range(0, 300));

		if (g_test_rand_bit())
			qlen = add_opt(q, qlen);
		for (int k = g_test_rand_int_range(1, 4); k > 0; k--)
			q[g_test_rand_int_range(2, qlen)] = g_test_rand_int();
		qlen = g_test_rand_int_range(qlen - 4, qlen + 1);
		size_t len = ask_max(&n, q, qlen, r, g_test_rand_int_range(0, sizeof(r) + 1));

		check_any_reply(q, qlen, r, len);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dns/a/known", test_a_known);
	g_test_add_func("/dns/a/case", test_a_case);
	g_test_add_func("/dns/a/no-domain", test_a_no_domain);
	g_test_add_func("/dns/a/trailing-dot-domain", test_a_trailing_dot_domain);
	g_test_add_func("/dns/nodata", test_nodata);
	g_test_add_func("/dns/nxdomain", test_nxdomain);
	g_test_add_func("/dns/nxdomain/odd-label", test_nxdomain_odd_label);
	g_test_add_func("/dns/ptr/known", test_ptr_known);
	g_test_add_func("/dns/ptr/wider-network", test_ptr_wider_network);
	g_test_add_func("/dns/ptr/bad-data", test_ptr_bad_data);
	g_test_add_func("/dns/refused/outside", test_refused);
	g_test_add_func("/dns/refused/class", test_refused_class);
	g_test_add_func("/dns/refused/no-network", test_no_network);
	g_test_add_func("/dns/flags/rd-clear", test_rd_clear);
	g_test_add_func("/dns/edns", test_edns);
	g_test_add_func("/dns/in-place", test_in_place);
	g_test_add_func("/dns/ignored", test_ignored);
	g_test_add_func("/dns/notimp", test_notimp);
	g_test_add_func("/dns/malformed/qdcount", test_malformed_qdcount);
	g_test_add_func("/dns/malformed/counts", test_malformed_counts);
	g_test_add_func("/dns/malformed/pointer", test_malformed_pointer);
	g_test_add_func("/dns/malformed/label", test_malformed_label);
	g_test_add_func("/dns/malformed/name-length", test_malformed_name_length);
	g_test_add_func("/dns/malformed/truncated", test_malformed_truncated);
	g_test_add_func("/dns/reply-max", test_reply_max);
	g_test_add_func("/dns/largest", test_largest);
	g_test_add_func("/dns/domain-valid", test_domain_valid);
	g_test_add_func("/dns/fuzz/random", test_fuzz_random);
	g_test_add_func("/dns/fuzz/mutate", test_fuzz_mutate);
	return g_test_run();
}
