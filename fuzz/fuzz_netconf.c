/* fuzz_netconf.c - the option and key-file parser (netconf.c, netopts.c, endpoint.c) as one command line per input. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#include "vmnetd/netconf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

/* One option per line; its first byte says which:
 *   n  --network   a  --nat   l  --listen   c  --connect
 *   f  --config: the rest of the input, after this line, is the key file
 * Other lines are skipped. Nothing is bound or resolved: only parsed. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GPtrArray *opt[4];
	static const char kinds[] = "nalc";
	char *text = g_strndup(size ? (const char *)data : "", size);	/* up to a NUL, as argv */
	char *line = text, *next, *file_path = NULL;
	struct config_args a = { .socket_dir = "/nonexistent/vmnetd" };
	struct vmnetd_config c;
	GError *err = NULL;
	int fd = -1;

	for (int i = 0; i < 4; i++)
		opt[i] = g_ptr_array_new();
	for (; line && *line; line = next) {
		const char *k;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == 'f' && fd < 0) {
			/* A memory file: no disk, and the path reads like any other. */
			const char *body = next ? next : "";

			fd = memfd_create("fuzz-config", MFD_CLOEXEC);
			FUZZ_CHECK(fd >= 0);
			FUZZ_CHECK(write(fd, body, strlen(body)) == (ssize_t)strlen(body));
			file_path = g_strdup_printf("/proc/self/fd/%d", fd);
			a.config_file = file_path;
			break;
		}
		k = *line ? strchr(kinds, *line) : NULL;
		if (k)
			g_ptr_array_add(opt[k - kinds], line + 1);
	}
	for (int i = 0; i < 4; i++)
		g_ptr_array_add(opt[i], NULL);
	a.networks = (char **)opt[0]->pdata;
	a.nat = (char **)opt[1]->pdata;
	a.listen = (char **)opt[2]->pdata;
	a.connect = (char **)opt[3]->pdata;

	vmnetd_config_init(&c);
	if (vmnetd_config_load(&c, &a, &err)) {
		FUZZ_CHECK(c.networks->len > 0);
		for (guint i = 0; i < c.networks->len; i++) {
			struct net_config *n = g_ptr_array_index(c.networks, i);

			FUZZ_CHECK(vmnetd_config_find(&c, n->name) == n);
			FUZZ_CHECK(n->listen->len + n->connect->len > 0);
		}
	} else {
		/* One message, and no network half-built. */
		FUZZ_CHECK(err && err->message && *err->message);
		FUZZ_CHECK(c.networks->len == 0);
		g_error_free(err);
	}
	vmnetd_config_clear(&c);
	if (fd >= 0)
		close(fd);
	g_free(file_path);
	for (int i = 0; i < 4; i++)
		g_ptr_array_free(opt[i], TRUE);
	g_free(text);
	return 0;
}
