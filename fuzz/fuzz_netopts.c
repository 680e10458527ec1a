/* fuzz_netopts.c - a NAT network's options in -netdev user syntax (netopts.c), one --nat string per input, and its value parsers alone. */
#include "fuzz.h"

#include "vmnetd/netopts.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = g_strndup(size ? (const char *)data : "", size);	/* up to a NUL, as argv */
	struct nat_config c;
	struct in_addr net, mask, ip;
	struct hostfwd fwd = { 0 };
	GPtrArray *items;
	guint64 u;
	unsigned mtu;
	bool b;
	GError *err = NULL;

	nat_config_init(&c);
	if (nat_config_parse(&c, "--nat", s, &err) && nat_config_finish(&c, "--nat", &err)) {
		FUZZ_CHECK(c.mtu >= NAT_MTU_MIN && c.mtu <= NAT_MTU_MAX);
		FUZZ_CHECK((c.net.s_addr & ~c.mask.s_addr) == 0);
	} else {
		FUZZ_CHECK(err && err->message && !strncmp(err->message, "--nat", 5));
		g_clear_error(&err);
	}
	nat_config_clear(&c);

	/* Every item of the split, as a caller with keys of its own sees it. */
	items = netopt_split(s);
	for (guint i = 0; i < items->len; i++) {
		const char *item = g_ptr_array_index(items, i);
		char *key = NULL;
		const char *val;

		if (netopt_split_item("--nat", s, item, &key, &val, &err)) {
			FUZZ_CHECK(val >= item && val <= item + strlen(item));
			g_free(key);
		} else {
			g_clear_error(&err);
		}
	}
	g_ptr_array_unref(items);

	/* The whole string as each kind of value. */
	if (!netopt_parse_net("--nat", s, &net, &mask, &err))
		g_clear_error(&err);
	else
		FUZZ_CHECK((net.s_addr & ~mask.s_addr) == 0);
	if (!netopt_parse_ip4("--nat", "host", s, &ip, &err))
		g_clear_error(&err);
	if (!netopt_parse_bool("--nat", "ipv4", s, &b, &err))
		g_clear_error(&err);
	if (!netopt_parse_mtu("--nat", s, &mtu, &err))
		g_clear_error(&err);
	else
		FUZZ_CHECK(mtu >= NAT_MTU_MIN && mtu <= NAT_MTU_MAX);
	if (netopt_parse_uint(s, 5, 70000, &u))
		FUZZ_CHECK(u >= 5 && u <= 70000);
	if (netopt_parse_hostfwd("--nat", s, &fwd, &err))
		netopt_hostfwd_clear(&fwd);
	else
		g_clear_error(&err);
	g_free(s);
	return 0;
}
