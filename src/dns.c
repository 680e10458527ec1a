/* dns.c - the DNS responder of a host-only network: RFC 1035 queries over UDP.
 *
 * It is authoritative for the VMs' names (bare, and under the network's
 * domain) and for the network's in-addr.arpa range, and answers REFUSED to
 * the rest because it never forwards. The whole query is read before the
 * reply is written. Past the fixed 12-byte header, which is checked present
 * first, nothing is read except through at(), bounded by the query's length.
 */
#include <arpa/inet.h>
#include <string.h>

#include "vmnetd/dns.h"
#include "vmnetd/frame.h"

#define DNS_HDR_LEN	12	/* RFC 1035 4.1.1: ID, flags, four counts */
#define DNS_NAME_MAX	255	/* RFC 1035 2.3.4: wire length, root's zero byte included */
#define DNS_LABELS_MAX	128	/* a 255-byte name holds at most 127 one-byte labels */
/* Room for "NAME." ahead of the domain, so every NAME.<domain> is a legal name. */
#define DNS_DOMAIN_MAX	(DNS_NAME_MAX - 1 - DNS_LABEL_MAX)
#define DNS_RR_MIN	11	/* root name, type, class, TTL, rdlength: an EDNS OPT */
#define DNS_ANSWER_FIXED 12	/* pointer to the name, type, class, TTL, rdlength */
#define DNS_QNAME_PTR	0xc00c	/* compression pointer to the question's name, right after the header */
#define DNS_IPV4_OCTETS	4

/* Flags, byte 2 of the header. */
#define FLAG_QR		0x80
#define FLAG_OPCODE	0x78	/* 0: standard query */
#define FLAG_AA		0x04
#define FLAG_TC		0x02
#define FLAG_RD		0x01

enum { RCODE_NOERROR, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_NOTIMP, RCODE_REFUSED };

#define TYPE_A		1
#define TYPE_PTR	12
#define TYPE_ANY	255
#define CLASS_IN	1

struct label {
	const uint8_t *p;
	size_t len;
};

/* The question of a query; its labels point into the query. */
struct question {
	struct label label[DNS_LABELS_MAX];
	size_t labels;
	size_t len;		/* name, type and class, as sent */
	uint16_t type, class;
};

/* The network's domain, split into labels that point into names->domain. */
struct zone {
	struct label label[DNS_LABELS_MAX];
	size_t labels;
};

/* What the reply says: an rcode and at most one answer. */
struct result {
	uint8_t rcode;
	bool aa;
	uint16_t type;		/* of the answer; 0: no answer */
	uint32_t ttl;
	uint8_t rdata[DNS_NAME_MAX];
	size_t rdlen;
};

/* The bytes [off, off + n) of the query, or NULL when they run past its end. */
static const uint8_t *at(const uint8_t *q, size_t qlen, size_t off, size_t n)
{
	return off <= qlen && n <= qlen - off ? q + off : NULL;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v & 0xffff);
}

/* DNS compares names in ASCII only (RFC 4343). */
static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool label_eq(struct label a, struct label b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (ascii_lower(a.p[i]) != ascii_lower(b.p[i]))
			return false;
	return true;
}

static bool label_is(struct label a, const char *s)
{
	return label_eq(a, (struct label){ (const uint8_t *)s, strlen(s) });
}

/* Parses the question after the header. A compression pointer is refused,
 * not followed: a query has nothing earlier to point to, and never following
 * one means no loop can be built. The 255-byte limit bounds the labels. */
static bool parse_question(const uint8_t *q, size_t qlen, struct question *qn)
{
	size_t off = DNS_HDR_LEN, name_len = 0;
	const uint8_t *p;

	qn->labels = 0;
	for (;;) {
		if (!(p = at(q, qlen, off, 1)))
			return false;
		size_t len = p[0];

		if (len > DNS_LABEL_MAX)	/* a pointer, or a reserved label type */
			return false;
		name_len += 1 + len;
		if (name_len > DNS_NAME_MAX)
			return false;
		off++;
		if (len == 0)
			break;
		if (!(p = at(q, qlen, off, len)))
			return false;
		qn->label[qn->labels++] = (struct label){ p, len };
		off += len;
	}
	if (!(p = at(q, qlen, off, 4)))
		return false;
	qn->type = get_be16(p);
	qn->class = get_be16(p + 2);
	qn->len = off + 4 - DNS_HDR_LEN;
	return true;
}

/* A query carries no answers or authority; additional records (EDNS) are
 * skipped unread, but their count must be one the message can hold. */
static bool counts_ok(const uint8_t *q, size_t qlen, const struct question *qn)
{
	size_t rest = qlen - DNS_HDR_LEN - qn->len;

	return get_be16(q + 6) == 0 && get_be16(q + 8) == 0 &&
	       get_be16(q + 10) <= rest / DNS_RR_MIN;
}

static bool printable(char c)
{
	return c > ' ' && c < 0x7f;
}

/* Splits @domain ("a.b", "a.b.", or NULL/""/"." for none) into labels of
 * 1-63 printable ASCII characters; false when it cannot be the zone. */
static bool split_domain(const char *domain, struct zone *z)
{
	size_t wire = 1;	/* the root */

	z->labels = 0;
	if (!domain || !strcmp(domain, "") || !strcmp(domain, "."))
		return true;
	while (*domain) {
		size_t len = strcspn(domain, ".");

		if (len == 0 || len > DNS_LABEL_MAX)
			return false;
		for (size_t i = 0; i < len; i++)
			if (!printable(domain[i]))
				return false;
		wire += 1 + len;
		if (wire > DNS_DOMAIN_MAX)
			return false;
		z->label[z->labels++] = (struct label){ (const uint8_t *)domain, len };
		domain += len;
		if (*domain == '.')
			domain++;
	}
	return true;
}

bool dns_domain_valid(const char *domain)
{
	struct zone z;

	return split_domain(domain, &z);
}

static bool wants(const struct question *qn, uint16_t type)
{
	return qn->type == type || qn->type == TYPE_ANY;
}

/* @l as a C string for the callbacks; false when it cannot be one host name. */
static bool label_to_host(struct label l, char out[DNS_LABEL_MAX + 1])
{
	if (memchr(l.p, '\0', l.len) || memchr(l.p, '.', l.len))
		return false;
	memcpy(out, l.p, l.len);
	out[l.len] = '\0';
	return true;
}

/* The A record of host label @host, which lies in our zone. */
static void answer_host(const struct dns_names *names, const struct question *qn,
			struct label host, struct result *r)
{
	char name[DNS_LABEL_MAX + 1];
	struct in_addr addr;

	r->aa = true;
	if (!label_to_host(host, name) || !names->by_name ||
	    !names->by_name(names->opaque, name, &addr)) {
		r->rcode = RCODE_NXDOMAIN;
		return;
	}
	r->rcode = RCODE_NOERROR;
	if (wants(qn, TYPE_A)) {
		r->type = TYPE_A;
		memcpy(r->rdata, &addr.s_addr, 4);
		r->rdlen = 4;
	}
}

static bool in_zone(const struct question *qn, const struct zone *z)
{
	size_t skip;

	if (!z->labels || qn->labels < z->labels)
		return false;
	skip = qn->labels - z->labels;
	for (size_t i = 0; i < z->labels; i++)
		if (!label_eq(qn->label[skip + i], z->label[i]))
			return false;
	return true;
}

/* The octet a reverse-name label spells ("0" to "255", no leading zero), or -1. */
static int parse_octet(struct label l)
{
	int v = 0;

	if (l.len < 1 || l.len > 3 || (l.len > 1 && l.p[0] == '0'))
		return -1;
	for (size_t i = 0; i < l.len; i++) {
		if (l.p[i] < '0' || l.p[i] > '9')
			return -1;
		v = v * 10 + (l.p[i] - '0');
	}
	return v <= 255 ? v : -1;
}

/* Writes @host then the zone as a wire-format name; DNS_DOMAIN_MAX keeps it
 * within DNS_NAME_MAX for any host label. */
static size_t encode_host_name(uint8_t *out, const char *host, size_t host_len, const struct zone *z)
{
	size_t n = 0;

	out[n++] = host_len;
	memcpy(out + n, host, host_len);
	n += host_len;
	for (size_t i = 0; i < z->labels; i++) {
		out[n++] = z->label[i].len;
		memcpy(out + n, z->label[i].p, z->label[i].len);
		n += z->label[i].len;
	}
	out[n++] = 0;
	return n;
}

/* The PTR record of @addr (host order), which lies in our network. */
static void answer_addr(const struct dns_names *names, const struct zone *z,
			const struct question *qn, uint32_t addr, struct result *r)
{
	/* Larger than a label so that a callback's overlong name shows, instead
	 * of arriving cut to 63 bytes. */
	char host[DNS_NAME_MAX + 1] = "";
	struct in_addr a = { .s_addr = htonl(addr) };
	size_t len;

	if (!names->by_addr || !names->by_addr(names->opaque, a, host, sizeof(host))) {
		r->rcode = RCODE_NXDOMAIN;
		return;
	}
	len = strnlen(host, sizeof(host));
	if (len == 0 || len > DNS_LABEL_MAX || memchr(host, '.', len)) {
		r->rcode = RCODE_SERVFAIL;	/* our data, not the query, is wrong */
		r->aa = false;
		return;
	}
	if (wants(qn, TYPE_PTR)) {
		r->type = TYPE_PTR;
		r->rdlen = encode_host_name(r->rdata, host, len, z);
	}
}

/* A name under in-addr.arpa: ours when the addresses it covers lie inside
 * the network, which then holds names only at whole addresses. */
static void answer_reverse(const struct dns_names *names, const struct zone *z,
			   const struct question *qn, struct result *r)
{
	size_t below = qn->labels - 2;	/* labels left of in-addr.arpa */
	uint32_t net = ntohl(names->net.s_addr), mask = ntohl(names->mask.s_addr);
	uint32_t addr = 0, covered = 0;
	size_t k;

	if (!mask)	/* no network set; a /0 would claim every address */
		return;
	/* The rightmost label is the address's first octet. */
	for (k = 0; k < DNS_IPV4_OCTETS && k < below; k++) {
		int octet = parse_octet(qn->label[below - 1 - k]);

		if (octet < 0)
			break;
		addr |= (uint32_t)octet << (24 - 8 * k);
		covered |= 0xffu << (24 - 8 * k);
	}
	if ((mask & ~covered) || ((addr ^ net) & mask))
		return;		/* wider than our network, or outside it */
	r->aa = true;
	r->rcode = RCODE_NOERROR;
	if (below > k)
		r->rcode = RCODE_NXDOMAIN;	/* below an address, or not a number */
	else if (k == DNS_IPV4_OCTETS)
		answer_addr(names, z, qn, addr, r);
	/* else a range inside our network: names exist below it, none at it */
}

static void resolve(const struct dns_names *names, const struct zone *z,
		    const struct question *qn, struct result *r)
{
	size_t n = qn->labels;

	r->rcode = RCODE_REFUSED;
	if (qn->class != CLASS_IN || n == 0)
		return;
	if (n == 1) {
		answer_host(names, qn, qn->label[0], r);
	} else if (in_zone(qn, z)) {
		r->aa = true;
		if (n == z->labels + 1)
			answer_host(names, qn, qn->label[0], r);
		else if (n > z->labels + 1)
			r->rcode = RCODE_NXDOMAIN;	/* nothing lives below a host */
		else
			r->rcode = RCODE_NOERROR;	/* the apex: names exist below it (RFC 8020) */
	} else if (label_is(qn->label[n - 2], "in-addr") && label_is(qn->label[n - 1], "arpa")) {
		answer_reverse(names, z, qn, r);
	}
}

/* Writes the reply to @q: its header, @qn echoed unless NULL, and @r's
 * answer. What does not fit in @max is left out and TC set. @reply may be
 * @q itself: the question moves with memmove and the ID is read first. */
static size_t write_reply(const uint8_t *q, const struct question *qn, const struct result *r,
			  uint8_t *reply, size_t max)
{
	uint8_t id[2] = { q[0], q[1] };
	uint8_t flags = FLAG_QR | (q[2] & (FLAG_OPCODE | FLAG_RD)) | (r->aa ? FLAG_AA : 0);
	size_t len = DNS_HDR_LEN;
	uint16_t qd = 0, an = 0;

	if (max > DNS_UDP_MAX)
		max = DNS_UDP_MAX;	/* no EDNS: a plain UDP reply */
	if (qn && len + qn->len <= max) {
		memmove(reply + len, q + DNS_HDR_LEN, qn->len);
		len += qn->len;
		qd = 1;
	} else if (qn) {
		flags |= FLAG_TC;
	}
	if (qd && r->type && len + DNS_ANSWER_FIXED + r->rdlen <= max) {
		uint8_t *rr = reply + len;

		put_be16(rr, DNS_QNAME_PTR);
		put_be16(rr + 2, r->type);
		put_be16(rr + 4, CLASS_IN);
		put_be32(rr + 6, r->ttl);
		put_be16(rr + 10, r->rdlen);
		memcpy(rr + DNS_ANSWER_FIXED, r->rdata, r->rdlen);
		len += DNS_ANSWER_FIXED + r->rdlen;
		an = 1;
	} else if (r->type) {
		flags |= FLAG_TC;
	}
	reply[0] = id[0];
	reply[1] = id[1];
	reply[2] = flags;
	reply[3] = r->rcode;	/* RA, Z, AD, CD all 0 */
	put_be16(reply + 4, qd);
	put_be16(reply + 6, an);
	put_be16(reply + 8, 0);
	put_be16(reply + 10, 0);
	return len;
}

size_t dns_answer(const struct dns_names *names, const uint8_t *q, size_t qlen,
		  uint8_t *reply, size_t reply_max)
{
	struct result r = { .rcode = RCODE_FORMERR };
	struct question qn;
	struct zone z;

	if (qlen < DNS_HDR_LEN || reply_max < DNS_HDR_LEN || (q[2] & FLAG_QR))
		return 0;
	if (q[2] & FLAG_OPCODE) {
		r.rcode = RCODE_NOTIMP;
		return write_reply(q, NULL, &r, reply, reply_max);
	}
	if (get_be16(q + 4) != 1 || !parse_question(q, qlen, &qn))
		return write_reply(q, NULL, &r, reply, reply_max);
	if (!counts_ok(q, qlen, &qn))
		return write_reply(q, &qn, &r, reply, reply_max);
	if (!split_domain(names->domain, &z))
		z.labels = 0;	/* as documented: an invalid domain is none */
	resolve(names, &z, &qn, &r);
	r.ttl = names->ttl;
	return write_reply(q, &qn, &r, reply, reply_max);
}
