/* vmnetctl.c - the command-line client of vmnetd's control API (doc/api.md):
 * builds one JSON request a command, sends it over the API socket (with the
 * capture file's descriptor for `capture start`) and prints the reply as a
 * table for people or as JSON for scripts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "config.h"
#include "vmnetd/paths.h"

#define EXIT_USAGE		2
#define DEFAULT_TIMEOUT_S	10
#define MAX_REPLY		(64u << 20)	/* a runaway peer, not a daemon */
#define MAX_SNAPLEN		262144		/* pcap's own limit */

enum { CTL_ERR_USAGE, CTL_ERR_FAILED };
#define CTL_ERROR (ctl_error_quark())
static GQuark ctl_error_quark(void);
G_DEFINE_QUARK(vmnetctl-error-quark, ctl_error)

#define usage_error(err, ...) g_set_error((err), CTL_ERROR, CTL_ERR_USAGE, __VA_ARGS__)
#define fail_error(err, ...) g_set_error((err), CTL_ERROR, CTL_ERR_FAILED, __VA_ARGS__)

struct ctl {
	char *socket, *network, *port, *snaplen, *timeout;
	gboolean json, version;
	guint64 timeout_s;
	int fd;			/* the API connection; -1 until the first request */
	GString *in;		/* bytes read and not yet taken as a reply */
};

struct command;
typedef bool (*run_fn)(struct ctl *ctl, const struct command *cmd, char **args,
		       GError **err);

/* A table column: @format turns a row's @field into the cell's text. */
struct column {
	const char *title, *field;
	char *(*format)(JsonObject *row, const char *field);
	bool right;		/* numbers line up on the right */
};

/* A listing command: the array @member of the reply, one row an element. */
struct listing {
	const char *execute, *member;
	const struct column *cols;
	guint ncols;
};

struct command {
	const char *word, *sub;		/* sub: NULL for one-word commands */
	const char *args;		/* what follows the words, for usage errors */
	int nargs;
	run_fn run;
	const struct listing *listing;
};

/* ---- JSON values ---- */

static bool obj_int(JsonObject *o, const char *field, gint64 *v)
{
	JsonNode *n = o ? json_object_get_member(o, field) : NULL;

	if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
		return false;
	*v = json_node_get_int(n);
	return true;
}

static const char *obj_str(JsonObject *o, const char *field)
{
	JsonNode *n = o ? json_object_get_member(o, field) : NULL;

	if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

static JsonObject *node_object(JsonNode *n)
{
	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static JsonArray *obj_array(JsonObject *o, const char *field)
{
	JsonNode *n = o ? json_object_get_member(o, field) : NULL;

	return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

/* Names and peers come from guests: a hostname may hold escape sequences
 * meant for the terminal of whoever lists the leases. */
static char *printable(const char *s)
{
	char *valid = g_utf8_make_valid(s, -1);
	GString *out = g_string_sized_new(strlen(valid));

	for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (g_unichar_iscntrl(c))
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
	}
	g_free(valid);
	return g_string_free(out, FALSE);
}

/* One line, as the daemon sent it: a script may read one reply a line. */
static void print_json(JsonNode *n)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autofree char *text = NULL;

	json_generator_set_root(gen, n);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
}

/* ---- cells ---- */

static char *node_text(JsonNode *n);

static char *array_text(JsonArray *a)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < json_array_get_length(a); i++) {
		g_autofree char *t = node_text(json_array_get_element(a, i));

		g_string_append_printf(s, "%s%s", i ? "," : "", t);
	}
	if (!s->len)
		g_string_append_c(s, '-');
	return g_string_free(s, FALSE);
}

static char *value_text(JsonNode *n)
{
	const char *s;
	char buf[G_ASCII_DTOSTR_BUF_SIZE];

	switch (json_node_get_value_type(n)) {
	case G_TYPE_STRING:
		s = json_node_get_string(n);
		return g_strdup(*s ? s : "-");
	case G_TYPE_BOOLEAN:
		return g_strdup(json_node_get_boolean(n) ? "yes" : "no");
	case G_TYPE_INT64:
		return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
	case G_TYPE_DOUBLE:
		return g_strdup(g_ascii_formatd(buf, sizeof(buf), "%g", json_node_get_double(n)));
	}
	return g_strdup("-");
}

/* Any JSON value as one cell: lists joined by commas, "-" for nothing. */
static char *node_text(JsonNode *n)
{
	if (n && JSON_NODE_HOLDS_ARRAY(n))
		return array_text(json_node_get_array(n));
	if (n && JSON_NODE_HOLDS_VALUE(n))
		return value_text(n);
	return g_strdup("-");
}

static char *cell_value(JsonObject *row, const char *field)
{
	return node_text(json_object_get_member(row, field));
}

static char *duration_text(gint64 s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		return g_strdup_printf("%ds", (int)s);
	if (s < 3600)
		return g_strdup_printf("%dm%02ds", (int)(s / 60), (int)(s % 60));
	if (s < 86400)
		return g_strdup_printf("%dh%02dm", (int)(s / 3600), (int)(s / 60 % 60));
	return g_strdup_printf("%" G_GINT64_FORMAT "d%02dh", s / 86400, (int)(s / 3600 % 24));
}

/* Seconds: the field is already a duration (an FDB entry's age). */
static char *cell_duration(JsonObject *row, const char *field)
{
	gint64 v;

	return obj_int(row, field, &v) ? duration_text(v) : g_strdup("-");
}

/* Unix seconds in the past, shown as how long ago (a port's "since"). */
static char *cell_ago(JsonObject *row, const char *field)
{
	gint64 v;

	if (!obj_int(row, field, &v))
		return g_strdup("-");
	return duration_text(g_get_real_time() / G_USEC_PER_SEC - v);
}

/* Unix seconds shown as local time; 0 is a lease that never expires. */
static char *cell_time(JsonObject *row, const char *field)
{
	g_autoptr(GDateTime) t = NULL;
	gint64 v;

	if (!obj_int(row, field, &v))
		return g_strdup("-");
	if (v == 0)
		return g_strdup("never");
	t = g_date_time_new_from_unix_local(v);
	return t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S") : g_strdup("-");
}

static char *cell_size(JsonObject *row, const char *field)
{
	gint64 v;

	if (!obj_int(row, field, &v) || v < 0)
		return g_strdup("-");
	return g_format_size_full(v, G_FORMAT_SIZE_IEC_UNITS);
}

/* FIELD_addr and FIELD_port as ADDR:PORT, an IPv6 address in brackets. */
static char *cell_endpoint(JsonObject *row, const char *field)
{
	g_autofree char *af = g_strconcat(field, "_addr", NULL);
	g_autofree char *pf = g_strconcat(field, "_port", NULL);
	const char *addr = obj_str(row, af);
	gint64 port;

	if (!addr || !obj_int(row, pf, &port))
		return g_strdup("-");
	if (strchr(addr, ':'))
		return g_strdup_printf("[%s]:%" G_GINT64_FORMAT, addr, port);
	return g_strdup_printf("%s:%" G_GINT64_FORMAT, addr, port);
}

/* ---- tables ---- */

struct table {
	const struct column *cols;
	guint ncols, nrows;	/* nrows counts the title row */
	char **cells;		/* nrows * ncols, row by row */
	gsize *width;		/* in characters, not bytes */
};

static void table_fill(struct table *t, JsonArray *rows)
{
	for (guint r = 0; r < t->nrows; r++) {
		JsonObject *o = r ? node_object(json_array_get_element(rows, r - 1)) : NULL;

		for (guint c = 0; c < t->ncols; c++) {
			const struct column *col = &t->cols[c];
			g_autofree char *raw = !r ? g_strdup(col->title) :
					       o ? col->format(o, col->field) : g_strdup("-");
			char *cell = printable(raw);

			t->cells[r * t->ncols + c] = cell;
			t->width[c] = MAX(t->width[c], (gsize)g_utf8_strlen(cell, -1));
		}
	}
}

static void put_cell(const char *s, gsize width, bool right, bool last)
{
	gsize pad = width - g_utf8_strlen(s, -1);

	if (right)
		printf("%*s", (int)pad, "");
	fputs(s, stdout);
	if (!right && !last)	/* no trailing blanks at the end of a line */
		printf("%*s", (int)pad, "");
	fputs(last ? "\n" : "  ", stdout);
}

/* Print @rows (objects) under @cols, each column as wide as its widest cell. */
static void print_table(const struct column *cols, guint ncols, JsonArray *rows)
{
	struct table t = { .cols = cols, .ncols = ncols };

	t.nrows = (rows ? json_array_get_length(rows) : 0) + 1;
	t.cells = g_new0(char *, (gsize)t.nrows * ncols);
	t.width = g_new0(gsize, ncols);
	table_fill(&t, rows);
	for (guint i = 0; i < t.nrows * ncols; i++) {
		guint c = i % ncols;

		put_cell(t.cells[i], t.width[c], cols[c].right, c == ncols - 1);
		g_free(t.cells[i]);
	}
	g_free(t.cells);
	g_free(t.width);
}

/* ---- the connection ---- */

static char *default_socket(void)
{
	const char *env = g_getenv("VMNETD_API_SOCKET");
	g_autofree char *dir = NULL;

	if (env && *env)
		return g_strdup(env);
	dir = vmnetd_socket_dir();
	return g_build_filename(dir, "default.api", NULL);
}

static bool ctl_connect(struct ctl *ctl, GError **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int e;

	if (strlen(ctl->socket) >= sizeof(sa.sun_path)) {
		fail_error(err, "cannot connect to %s: the path is too long for a unix socket",
			   ctl->socket);
		return false;
	}
	strcpy(sa.sun_path, ctl->socket);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->fd >= 0 && connect(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return true;
	e = errno;
	if (ctl->fd >= 0)
		close(ctl->fd);
	ctl->fd = -1;
	fail_error(err, "cannot connect to %s: %s\n"
		   "Is vmnetd running? Name its API socket with --socket PATH "
		   "or VMNETD_API_SOCKET.", ctl->socket, g_strerror(e));
	return false;
}

/* The descriptor rides on the request's first bytes (SCM_RIGHTS). */
static void attach_fd(struct msghdr *m, void *space, size_t size, int fd)
{
	struct cmsghdr *c;

	memset(space, 0, size);		/* CMSG_SPACE's padding goes out too */
	m->msg_control = space;
	m->msg_controllen = size;
	c = CMSG_FIRSTHDR(m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
}

static bool send_all(struct ctl *ctl, const char *buf, gsize len, int fd, GError **err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;

	while (len) {
		struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (fd >= 0)
			attach_fd(&m, cm.buf, sizeof(cm.buf), fd);
		n = sendmsg(ctl->fd, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail_error(err, "cannot send to %s: %s", ctl->socket, g_strerror(errno));
			return false;
		}
		fd = -1;
		buf += n;
		len -= n;
	}
	return true;
}

static bool wait_readable(struct ctl *ctl, gint64 deadline, GError **err)
{
	struct pollfd p = { .fd = ctl->fd, .events = POLLIN };
	gint64 left;
	int n;

	do {
		left = deadline - g_get_monotonic_time();
		if (left <= 0) {
			fail_error(err, "no reply from %s within %" G_GUINT64_FORMAT " s",
				   ctl->socket, ctl->timeout_s);
			return false;
		}
		n = poll(&p, 1, (int)((left + 999) / 1000));
	} while (n == 0 || (n < 0 && errno == EINTR));
	if (n < 0)
		fail_error(err, "poll: %s", g_strerror(errno));
	return n > 0;
}

/* Read into ctl->in: 1 when bytes came, 0 at the end of the stream, -1
 * on an error (in *err). */
static int read_more(struct ctl *ctl, gint64 deadline, GError **err)
{
	char buf[65536];
	ssize_t n;

	if (ctl->in->len > MAX_REPLY) {
		fail_error(err, "the reply from %s is too long", ctl->socket);
		return -1;
	}
	if (!wait_readable(ctl, deadline, err))
		return -1;
	do
		n = recv(ctl->fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		fail_error(err, "cannot read from %s: %s", ctl->socket, g_strerror(errno));
		return -1;
	}
	g_string_append_len(ctl->in, buf, n);
	return n > 0;
}

/* One reply line, without its "\n". A daemon that closes the connection
 * after a last line without "\n" has still said it all. */
static char *read_reply(struct ctl *ctl, gint64 deadline, GError **err)
{
	char *nl, *line;
	int got;

	while (!(nl = memchr(ctl->in->str, '\n', ctl->in->len))) {
		got = read_more(ctl, deadline, err);
		if (got < 0)
			return NULL;
		if (got > 0)
			continue;
		if (ctl->in->len)
			break;
		fail_error(err, "%s closed the connection without a reply", ctl->socket);
		return NULL;
	}
	line = g_strndup(ctl->in->str, nl ? (gsize)(nl - ctl->in->str) : ctl->in->len);
	g_string_erase(ctl->in, 0, nl ? nl - ctl->in->str + 1 : -1);
	return line;
}

static void daemon_error(JsonNode *e, GError **err)
{
	const char *desc = obj_str(node_object(e), "desc");
	g_autofree char *text = printable(desc ? desc : "the daemon refused (no description)");

	fail_error(err, "%s", text);
}

/* The "return" value of a reply, or the daemon's "error" in *err. */
static JsonNode *parse_reply(const char *line, GError **err)
{
	g_autoptr(JsonParser) p = json_parser_new();
	g_autoptr(GError) perr = NULL;
	JsonObject *o;
	JsonNode *n;

	if (!json_parser_load_from_data(p, line, -1, &perr)) {
		fail_error(err, "the daemon's reply is not JSON: %s", perr->message);
		return NULL;
	}
	o = node_object(json_parser_get_root(p));
	if (o && (n = json_object_get_member(o, "error"))) {
		daemon_error(n, err);
		return NULL;
	}
	n = o ? json_object_get_member(o, "return") : NULL;
	if (!n) {
		fail_error(err, "the daemon's reply has neither \"return\" nor \"error\"");
		return NULL;
	}
	return json_node_copy(n);
}

static char *request_text(const char *execute, JsonNode *args)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree char *text = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "execute");
	json_builder_add_string_value(b, execute);
	if (args) {
		json_builder_set_member_name(b, "arguments");
		json_builder_add_value(b, args);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	return g_strconcat(text, "\n", NULL);
}

/* A request's arguments object, open for the command's members. */
static JsonBuilder *args_new(void)
{
	JsonBuilder *b = json_builder_new();

	json_builder_begin_object(b);
	return b;
}

static void add_int(JsonBuilder *b, const char *name, gint64 v)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, v);
}

static void add_str(JsonBuilder *b, const char *name, const char *v)
{
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, v);
}

/* Close @args, which it takes, adding --network; or make them when only
 * --network needs them. */
static JsonNode *args_finish(struct ctl *ctl, JsonBuilder *args)
{
	g_autoptr(JsonBuilder) b = args;

	if (!b && !ctl->network)
		return NULL;
	if (!b)
		b = args_new();
	if (ctl->network)
		add_str(b, "network", ctl->network);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

/* Send one request (@args taken; @fd attached when >= 0) and wait for its
 * reply. Connects on first use, so that usage errors come before any socket. */
static JsonNode *call(struct ctl *ctl, const char *execute, JsonBuilder *args, int fd,
		      GError **err)
{
	g_autofree char *req = request_text(execute, args_finish(ctl, args));
	g_autofree char *line = NULL;
	gint64 deadline;

	if (ctl->fd < 0 && !ctl_connect(ctl, err))
		return NULL;
	deadline = g_get_monotonic_time() + ctl->timeout_s * G_USEC_PER_SEC;
	if (!send_all(ctl, req, strlen(req), fd, err))
		return NULL;
	line = read_reply(ctl, deadline, err);
	return line ? parse_reply(line, err) : NULL;
}

/* ---- arguments ---- */

static bool parse_number(const char *what, const char *s, guint64 min, guint64 max,
			 guint64 *v, GError **err)
{
	if (g_ascii_string_to_unsigned(s, 10, min, max, v, NULL))
		return true;
	usage_error(err, "%s '%s': expected a number from %" G_GUINT64_FORMAT " to %"
		    G_GUINT64_FORMAT, what, s, min, max);
	return false;
}

static bool parse_id(const char *what, const char *s, guint64 *v, GError **err)
{
	g_autofree char *label = g_strdup_printf("%s id", what);

	return parse_number(label, s, 1, G_MAXINT64, v, err);
}

/* Pieces of a SPEC, pointing into the array split_spec() made. */
struct forward_spec {
	const char *spec;
	char *proto, *host_addr, *host_port, *guest_addr, *guest_port;
};

/* Split at the colons outside brackets, so "[::1]" stays one piece. */
static GPtrArray *split_spec(const char *spec)
{
	GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
	const char *start = spec;
	bool bracket = false;

	for (const char *p = spec;; p++) {
		if (*p == '[' || *p == ']')
			bracket = *p == '[';
		if (*p && (*p != ':' || bracket))
			continue;
		g_ptr_array_add(parts, g_strndup(start, p - start));
		if (!*p)
			return parts;
		start = p + 1;
	}
}

static bool is_port(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* Which piece is which: PROTO:[HOST_ADDR:]HOST_PORT:[GUEST_ADDR:]GUEST_PORT.
 * With four pieces the second is the host port when it is a number (an
 * address never is), else the host address. */
static bool assign_parts(struct forward_spec *f, GPtrArray *parts, GError **err)
{
	char **p = (char **)parts->pdata;

	f->proto = p[0];
	if (parts->len == 3) {
		f->host_port = p[1];
		f->guest_port = p[2];
	} else if (parts->len == 4 && is_port(p[1])) {
		f->host_port = p[1];
		f->guest_addr = p[2];
		f->guest_port = p[3];
	} else if (parts->len == 4) {
		f->host_addr = p[1];
		f->host_port = p[2];
		f->guest_port = p[3];
	} else if (parts->len == 5) {
		f->host_addr = p[1];
		f->host_port = p[2];
		f->guest_addr = p[3];
		f->guest_port = p[4];
	} else {
		usage_error(err, "forward spec '%s': expected "
			    "PROTO:[HOST_ADDR:]HOST_PORT:[GUEST_ADDR:]GUEST_PORT", f->spec);
		return false;
	}
	return true;
}

static bool check_proto(const struct forward_spec *f, GError **err)
{
	static const char *const protos[] = { "tcp", "udp", "tcp4", "udp4", "tcp6", "udp6" };

	for (guint i = 0; i < G_N_ELEMENTS(protos); i++)
		if (!strcmp(f->proto, protos[i]))
			return true;
	usage_error(err, "forward spec '%s': protocol '%s' is not tcp, udp, tcp4, udp4, "
		    "tcp6 or udp6", f->spec, f->proto);
	return false;
}

/* An address piece: "" for the daemon's default, IPv4, or [IPv6]. Strips
 * the brackets in place. */
static bool check_addr(const struct forward_spec *f, char **addr, GError **err)
{
	char *a = *addr, buf[sizeof(struct in6_addr)];
	gsize len = a ? strlen(a) : 0;
	bool v6 = len > 1 && a[0] == '[' && a[len - 1] == ']';

	if (!len) {
		*addr = NULL;
		return true;
	}
	if (v6) {
		a[len - 1] = '\0';
		a++;
	}
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a, buf) == 1) {
		*addr = a;
		return true;
	}
	usage_error(err, "forward spec '%s': '%s%s%s' is not an IPv4 address or an IPv6 "
		    "address in brackets", f->spec, v6 ? "[" : "", a, v6 ? "]" : "");
	return false;
}

/* Add the spec's members to @b in the order of doc/api.md. */
static bool add_forward_args(const struct forward_spec *f, JsonBuilder *b, GError **err)
{
	guint64 hport, gport;

	if (!parse_number("host port", f->host_port, 1, 65535, &hport, err) ||
	    !parse_number("guest port", f->guest_port, 1, 65535, &gport, err))
		return false;
	add_str(b, "proto", f->proto);
	if (f->host_addr)
		add_str(b, "host_addr", f->host_addr);
	add_int(b, "host_port", hport);
	if (f->guest_addr)
		add_str(b, "guest_addr", f->guest_addr);
	add_int(b, "guest_port", gport);
	return true;
}

static bool parse_forward(const char *spec, JsonBuilder *b, GError **err)
{
	g_autoptr(GPtrArray) parts = split_spec(spec);
	struct forward_spec f = { .spec = spec };

	return assign_parts(&f, parts, err) && check_proto(&f, err) &&
	       check_addr(&f, &f.host_addr, err) &&
	       check_addr(&f, &f.guest_addr, err) &&
	       add_forward_args(&f, b, err);
}

/* ---- commands ---- */

#define TEXT(title, field) { title, field, cell_value, false }
#define NUMBER(title, field) { title, field, cell_value, true }

static const struct column forward_cols[] = {
	NUMBER("ID", "id"),
	TEXT("PROTO", "proto"),
	{ "HOST", "host", cell_endpoint, false },
	{ "GUEST", "guest", cell_endpoint, false },
};

static const struct column network_cols[] = {
	TEXT("NAME", "name"),
	TEXT("MODE", "mode"),
	NUMBER("MTU", "mtu"),
	TEXT("SUBNET", "subnet"),
	TEXT("GATEWAY", "gateway"),
	NUMBER("PORTS", "ports"),
	TEXT("SOCKETS", "sockets"),
};

static const struct column lease_cols[] = {
	TEXT("NETWORK", "network"),
	TEXT("IP", "ip"),
	TEXT("MAC", "mac"),
	TEXT("HOSTNAME", "hostname"),
	TEXT("STATIC", "static"),
	{ "EXPIRES", "expires", cell_time, false },
};

static const struct column port_cols[] = {
	TEXT("NETWORK", "network"),
	NUMBER("ID", "id"),
	TEXT("KIND", "kind"),
	TEXT("PEER", "peer"),
	TEXT("MACS", "macs"),
	TEXT("ADDRESSES", "addresses"),
	{ "RX", "rx_bytes", cell_size, true },
	{ "TX", "tx_bytes", cell_size, true },
	{ "UP", "since", cell_ago, true },
};

static const struct column fdb_cols[] = {
	TEXT("NETWORK", "network"),
	TEXT("MAC", "mac"),
	NUMBER("PORT", "port"),
	TEXT("STATIC", "static"),
	{ "AGE", "age", cell_duration, true },
};

/* stats: exact counters, a "total" row closing each network's ports. */
static const struct column counter_cols[] = {
	TEXT("NETWORK", "network"),
	NUMBER("PORT", "id"),
	NUMBER("RX_FRAMES", "rx_frames"),
	NUMBER("RX_BYTES", "rx_bytes"),
	NUMBER("TX_FRAMES", "tx_frames"),
	NUMBER("TX_BYTES", "tx_bytes"),
	NUMBER("RX_DROPS", "rx_drops"),
	NUMBER("TX_DROPS", "tx_drops"),
};

static const struct column switch_cols[] = {
	TEXT("NETWORK", "network"),
	NUMBER("FLOODED", "flooded"),
	NUMBER("HAIRPIN_DROPS", "hairpin_drops"),
	NUMBER("LEARN_REFUSED", "learn_refused"),
	NUMBER("RUNTS", "runts"),
	NUMBER("FILTERED", "filtered"),
	NUMBER("FDB_ENTRIES", "fdb_entries"),
};

#define LISTING(exe, member, cols) { exe, member, cols, G_N_ELEMENTS(cols) }
static const struct listing list_forwards = LISTING("list_hostfwd", "entries", forward_cols);
static const struct listing list_networks = LISTING("list_networks", "networks", network_cols);
static const struct listing list_leases = LISTING("list_leases", "leases", lease_cols);
static const struct listing list_ports = LISTING("list_ports", "ports", port_cols);
static const struct listing list_fdb = LISTING("list_fdb", "fdb", fdb_cols);

/* The reply's array @member, or an error naming what the daemon left out. */
static JsonArray *reply_array(JsonNode *ret, const char *member, GError **err)
{
	JsonArray *a = obj_array(node_object(ret), member);

	if (!a)
		fail_error(err, "the daemon's reply has no \"%s\" list", member);
	return a;
}

/* With --json, print the return value as it came, for scripts; true when
 * the caller is to render it for people instead. */
static bool for_people(struct ctl *ctl, JsonNode *ret)
{
	if (ret && ctl->json)
		print_json(ret);
	return ret && !ctl->json;
}

static bool run_listing(struct ctl *ctl, const struct command *cmd, char **args,
			GError **err)
{
	const struct listing *l = cmd->listing;
	g_autoptr(JsonNode) ret = call(ctl, l->execute, NULL, -1, err);
	JsonArray *rows;

	(void)args;
	if (!for_people(ctl, ret))
		return ret != NULL;
	rows = reply_array(ret, l->member, err);
	if (rows)
		print_table(l->cols, l->ncols, rows);
	return rows != NULL;
}

/* Where the new forward really goes: the daemon fills in the defaults. */
static void print_added(struct ctl *ctl, gint64 id)
{
	g_autoptr(JsonNode) ret = call(ctl, "list_hostfwd", NULL, -1, NULL);
	JsonArray *a = obj_array(node_object(ret), "entries");

	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *o = node_object(json_array_get_element(a, i));
		g_autofree char *host = NULL, *guest = NULL, *proto = NULL;
		gint64 v;

		if (!obj_int(o, "id", &v) || v != id)
			continue;
		host = cell_endpoint(o, "host");
		guest = cell_endpoint(o, "guest");
		proto = printable(obj_str(o, "proto") ? obj_str(o, "proto") : "?");
		printf("forward %" G_GINT64_FORMAT " added: %s %s -> %s\n", id, proto, host, guest);
		return;
	}
	printf("forward %" G_GINT64_FORMAT " added\n", id);
}

static bool run_forward_add(struct ctl *ctl, const struct command *cmd, char **args,
			    GError **err)
{
	g_autoptr(JsonBuilder) b = args_new();
	g_autoptr(JsonNode) ret = NULL;
	gint64 id;

	(void)cmd;
	if (!parse_forward(args[0], b, err))
		return false;
	ret = call(ctl, "add_hostfwd", g_steal_pointer(&b), -1, err);
	if (!for_people(ctl, ret))
		return ret != NULL;
	if (!obj_int(node_object(ret), "id", &id)) {
		fail_error(err, "the daemon's reply has no forward \"id\"");
		return false;
	}
	print_added(ctl, id);
	return true;
}

/* A request whose only argument is an id, and a line saying it is done. */
static bool id_action(struct ctl *ctl, const char *execute, const char *what,
		      const char *arg, const char *done, GError **err)
{
	g_autoptr(JsonBuilder) b = args_new();
	g_autoptr(JsonNode) ret = NULL;
	guint64 id;

	if (!parse_id(what, arg, &id, err))
		return false;
	add_int(b, "id", id);
	ret = call(ctl, execute, g_steal_pointer(&b), -1, err);
	if (for_people(ctl, ret))
		printf("%s %" G_GUINT64_FORMAT " %s\n", what, id, done);
	return ret != NULL;
}

static bool run_forward_rm(struct ctl *ctl, const struct command *cmd, char **args,
			   GError **err)
{
	(void)cmd;
	return id_action(ctl, "remove_hostfwd", "forward", args[0], "removed", err);
}

static bool run_disconnect(struct ctl *ctl, const struct command *cmd, char **args,
			   GError **err)
{
	(void)cmd;
	return id_action(ctl, "disconnect_port", "port", args[0], "disconnected", err);
}

static bool run_shutdown(struct ctl *ctl, const struct command *cmd, char **args,
			 GError **err)
{
	g_autoptr(JsonNode) ret = call(ctl, "shutdown", NULL, -1, err);

	(void)cmd;
	(void)args;
	if (for_people(ctl, ret))
		printf("vmnetd is shutting down\n");
	return ret != NULL;
}

/* Each network's port counters, then its totals as a row of their own. */
static const char *net_name(JsonObject *net)
{
	return obj_str(net, "name") ? obj_str(net, "name") : "-";
}

static void add_counter_rows(JsonArray *out, JsonObject *net)
{
	const char *name = net_name(net);
	JsonArray *ports = obj_array(net, "ports");
	JsonNode *totals = json_object_get_member(net, "totals");

	for (guint i = 0; ports && i < json_array_get_length(ports); i++) {
		JsonObject *p = node_object(json_array_get_element(ports, i));

		if (!p)
			continue;
		json_object_set_string_member(p, "network", name);
		json_array_add_object_element(out, json_object_ref(p));
	}
	if (!node_object(totals))
		return;
	json_object_set_string_member(node_object(totals), "network", name);
	json_object_set_string_member(node_object(totals), "id", "total");
	json_array_add_object_element(out, json_object_ref(node_object(totals)));
}

static void add_switch_row(JsonArray *out, JsonObject *net)
{
	JsonObject *sw = node_object(json_object_get_member(net, "switch"));

	if (!sw)
		return;
	json_object_set_string_member(sw, "network", net_name(net));
	json_array_add_object_element(out, json_object_ref(sw));
}

static void print_stats(JsonArray *nets)
{
	g_autoptr(JsonArray) counters = json_array_new();
	g_autoptr(JsonArray) switches = json_array_new();

	for (guint i = 0; i < json_array_get_length(nets); i++) {
		JsonObject *net = node_object(json_array_get_element(nets, i));

		if (!net)
			continue;
		add_counter_rows(counters, net);
		add_switch_row(switches, net);
	}
	print_table(counter_cols, G_N_ELEMENTS(counter_cols), counters);
	printf("\n");
	print_table(switch_cols, G_N_ELEMENTS(switch_cols), switches);
}

static bool run_stats(struct ctl *ctl, const struct command *cmd, char **args, GError **err)
{
	g_autoptr(JsonNode) ret = call(ctl, "stats", NULL, -1, err);
	JsonArray *nets;

	(void)cmd;
	(void)args;
	if (!for_people(ctl, ret))
		return ret != NULL;
	nets = reply_array(ret, "networks", err);
	if (nets)
		print_stats(nets);
	return nets != NULL;
}

/* Opened here, with the caller's rights, as tcpdump -w does: created or
 * truncated, 0600 as the traffic of every VM may be in it. @created says
 * whether to remove it again when the daemon refuses. */
static int open_capture(const char *path, bool *created, GError **err)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY;
	int fd = open(path, flags | O_EXCL, 0600);

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, flags | O_TRUNC, 0600);
	if (fd < 0)
		fail_error(err, "cannot open %s: %s", path, g_strerror(errno));
	return fd;
}

static bool capture_args(struct ctl *ctl, const char *path, JsonBuilder *b, GError **err)
{
	g_autofree char *abs = g_canonicalize_filename(path, NULL);
	guint64 v;

	add_str(b, "file", abs);	/* only its name: the daemon writes to our fd */
	if (ctl->port) {
		if (!parse_number("--port", ctl->port, 1, G_MAXINT64, &v, err))
			return false;
		add_int(b, "port", v);
	}
	if (ctl->snaplen) {
		if (!parse_number("--snaplen", ctl->snaplen, 1, MAX_SNAPLEN, &v, err))
			return false;
		add_int(b, "snaplen", v);
	}
	return true;
}

static bool run_capture_start(struct ctl *ctl, const struct command *cmd, char **args,
			      GError **err)
{
	g_autoptr(JsonBuilder) b = args_new();
	g_autoptr(JsonNode) ret = NULL;
	bool created;
	int fd;

	(void)cmd;
	if (!capture_args(ctl, args[0], b, err))
		return false;
	fd = open_capture(args[0], &created, err);
	if (fd < 0)
		return false;
	ret = call(ctl, "capture_start", g_steal_pointer(&b), fd, err);
	close(fd);
	if (!ret && created)
		unlink(args[0]);
	if (for_people(ctl, ret))
		printf("capturing to %s (stop with: vmnetctl capture stop)\n", args[0]);
	return ret != NULL;
}

static bool run_capture_stop(struct ctl *ctl, const struct command *cmd, char **args,
			     GError **err)
{
	g_autoptr(JsonNode) ret = call(ctl, "capture_stop", NULL, -1, err);
	JsonObject *o = node_object(ret);
	gint64 frames = 0, bytes = 0, dropped = 0;

	(void)cmd;
	(void)args;
	if (!for_people(ctl, ret))
		return ret != NULL;
	obj_int(o, "frames", &frames);
	obj_int(o, "bytes", &bytes);
	obj_int(o, "dropped", &dropped);
	printf("capture stopped: %" G_GINT64_FORMAT " frames, %" G_GINT64_FORMAT " bytes, %"
	       G_GINT64_FORMAT " dropped\n", frames, bytes, dropped);
	return true;
}

static const struct command commands[] = {
	{ "forward", "add", "SPEC", 1, run_forward_add, NULL },
	{ "forward", "ls", "", 0, run_listing, &list_forwards },
	{ "forward", "rm", "ID", 1, run_forward_rm, NULL },
	{ "networks", NULL, "", 0, run_listing, &list_networks },
	{ "leases", NULL, "", 0, run_listing, &list_leases },
	{ "ports", NULL, "", 0, run_listing, &list_ports },
	{ "fdb", NULL, "", 0, run_listing, &list_fdb },
	{ "stats", NULL, "", 0, run_stats, NULL },
	{ "capture", "start", "FILE [--port ID] [--snaplen N]", 1, run_capture_start, NULL },
	{ "capture", "stop", "", 0, run_capture_stop, NULL },
	{ "disconnect", NULL, "PORT_ID", 1, run_disconnect, NULL },
	{ "shutdown", NULL, "", 0, run_shutdown, NULL },
};

static void subcommands_error(const char *word, GError **err)
{
	g_autoptr(GString) subs = g_string_new(NULL);

	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		if (!strcmp(commands[i].word, word))
			g_string_append_printf(subs, "%s%s", subs->len ? ", " : "",
					       commands[i].sub);
	usage_error(err, "'%s' wants one of: %s", word, subs->str);
}

static const struct command *find_command(int argc, char **argv, GError **err)
{
	bool known = false;

	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		const struct command *c = &commands[i];

		if (strcmp(c->word, argv[0]))
			continue;
		known = true;
		if (!c->sub || (argc > 1 && !strcmp(c->sub, argv[1])))
			return c;
	}
	if (known)
		subcommands_error(argv[0], err);
	else
		usage_error(err, "unknown command '%s'", argv[0]);
	return NULL;
}

/* The words after the command, and the options that go with capture start. */
static bool check_usage(const struct ctl *ctl, const struct command *c, int nargs,
			GError **err)
{
	if (nargs != c->nargs) {
		usage_error(err, "usage: vmnetctl [OPTION…] %s%s%s%s%s", c->word,
			    c->sub ? " " : "", c->sub ? c->sub : "", *c->args ? " " : "", c->args);
		return false;
	}
	if ((ctl->port || ctl->snaplen) && c->run != run_capture_start) {
		usage_error(err, "--port and --snaplen go with 'capture start'");
		return false;
	}
	return true;
}

static bool dispatch(struct ctl *ctl, int argc, char **argv, GError **err)
{
	const struct command *c;
	int words;

	if (argc < 1) {
		usage_error(err, "no command given");
		return false;
	}
	c = find_command(argc, argv, err);
	if (!c)
		return false;
	words = c->sub ? 2 : 1;
	if (!check_usage(ctl, c, argc - words, err))
		return false;
	return c->run(ctl, c, argv + words, err);
}

/* ---- options ---- */

static const char help_text[] =
	"Commands:\n"
	"  forward add SPEC         forward a host port to a guest\n"
	"  forward ls               list the forwards\n"
	"  forward rm ID            remove a forward\n"
	"  networks                 list the networks\n"
	"  leases                   list the DHCP leases\n"
	"  ports                    list the switch ports (VMs and uplinks)\n"
	"  fdb                      list the MAC addresses the switches learned\n"
	"  stats                    port and switch counters\n"
	"  capture start FILE [--port ID] [--snaplen N]\n"
	"                           write a network's frames to FILE (pcap)\n"
	"  capture stop             stop the capture, print its counts\n"
	"  disconnect PORT_ID       close a VM's port\n"
	"  shutdown                 stop the daemon\n"
	"\n"
	"SPEC is PROTO:[HOST_ADDR:]HOST_PORT:[GUEST_ADDR:]GUEST_PORT, PROTO one of\n"
	"tcp, udp (tcp4, udp4, tcp6, udp6 choose the host address family); an IPv6\n"
	"address goes in brackets. The guest address defaults to the network's first\n"
	"DHCP address, the host address to all addresses.\n"
	"\n"
	"Examples:\n"
	"  vmnetctl forward add tcp:127.0.0.1:2280:22\n"
	"  vmnetctl forward add tcp:[::1]:2280:[fd00::15]:22\n"
	"  vmnetctl --network lan leases\n"
	"  vmnetctl --json ports\n"
	"  vmnetctl capture start vm.pcap --port 3 && sleep 10 && vmnetctl capture stop\n"
	"\n"
	"The API socket: --socket, else $VMNETD_API_SOCKET, else\n"
	"/run/vmnetd/default.api for root, $XDG_RUNTIME_DIR/vmnetd/default.api otherwise.\n"
	"\n"
	"Exit status: 0 done; 1 the daemon refused the request, or could not be\n"
	"reached or did not answer; 2 a usage error.";

static bool parse_options(int *argc, char ***argv, struct ctl *ctl, GError **err)
{
	GOptionEntry entries[] = {
		{ "socket", 's', 0, G_OPTION_ARG_FILENAME, &ctl->socket,
		  "The daemon's API socket", "PATH" },
		{ "network", 'n', 0, G_OPTION_ARG_STRING, &ctl->network,
		  "Act on this network (listings: show only it)", "NAME" },
		{ "json", 'j', 0, G_OPTION_ARG_NONE, &ctl->json,
		  "Print the daemon's reply as JSON, for scripts", NULL },
		{ "port", 'p', 0, G_OPTION_ARG_STRING, &ctl->port,
		  "capture start: capture only this port", "ID" },
		{ "snaplen", 0, 0, G_OPTION_ARG_STRING, &ctl->snaplen,
		  "capture start: keep at most N bytes a frame", "N" },
		{ "timeout", 't', 0, G_OPTION_ARG_STRING, &ctl->timeout,
		  "Wait at most this long for the reply (default 10)", "SECONDS" },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &ctl->version,
		  "Print the version and exit", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) oc = g_option_context_new("COMMAND [ARGUMENT…]");

	g_option_context_set_summary(oc, "Control a running vmnetd through its API socket.");
	g_option_context_set_description(oc, help_text);
	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, argc, argv, err))
		return false;
	ctl->timeout_s = DEFAULT_TIMEOUT_S;
	if (ctl->timeout && !parse_number("--timeout", ctl->timeout, 1, 3600,
					  &ctl->timeout_s, err))
		return false;
	if (!ctl->socket)
		ctl->socket = default_socket();
	return true;
}

static void ctl_clear(struct ctl *ctl)
{
	if (ctl->fd >= 0)
		close(ctl->fd);
	g_string_free(ctl->in, TRUE);
	g_free(ctl->socket);
	g_free(ctl->network);
	g_free(ctl->port);
	g_free(ctl->snaplen);
	g_free(ctl->timeout);
}

static int report(const GError *err)
{
	bool usage = err->domain != CTL_ERROR || err->code == CTL_ERR_USAGE;

	g_printerr("vmnetctl: %s\n", err->message);
	if (usage)
		g_printerr("Try 'vmnetctl --help'.\n");
	return usage ? EXIT_USAGE : EXIT_FAILURE;
}

static bool finish_output(GError **err)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return true;
	fail_error(err, "cannot write the output: %s", g_strerror(errno));
	return false;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .fd = -1, .in = g_string_new(NULL) };
	g_autoptr(GError) err = NULL;
	bool ok;

	setlocale(LC_ALL, "");
	ok = parse_options(&argc, &argv, &ctl, &err);
	if (ok && ctl.version)
		printf("vmnetctl %s\n", VMNETD_VERSION);
	else if (ok)
		ok = dispatch(&ctl, argc - 1, argv + 1, &err);
	ok = ok && finish_output(&err);
	ctl_clear(&ctl);
	return ok ? EXIT_SUCCESS : report(err);
}
