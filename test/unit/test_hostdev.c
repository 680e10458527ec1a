/* test_hostdev.c - the bridge ACL, read as QEMU's bridge helper reads its file. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "vmnetd/hostdev.h"

static char *write_file(const char *dir, const char *name, const char *text)
{
	char *path = g_build_filename(dir, name, NULL);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	return path;
}

static bool allowed(const char *file, const char *bridge, GError **err)
{
	return hostdev_bridge_allowed(file, bridge, err);
}

static void test_acl_rules(void)
{
	g_autofree char *dir = g_dir_make_tmp("vmnetd-acl-XXXXXX", NULL);
	g_autofree char *inc = write_file(dir, "more.conf", "allow br2\n");
	g_autofree char *text = g_strdup_printf("# lab bridges\nallow br0\n\n  allow\tbr1  \n"
						"deny br1\ninclude %s\ndeny all\n", inc);
	g_autofree char *acl = write_file(dir, "bridge.conf", text);
	g_autofree char *open_acl = write_file(dir, "open.conf", "allow all\ndeny br9\n");
	g_autoptr(GError) err = NULL;

	g_assert_true(allowed(acl, "br0", NULL));
	g_assert_true(allowed(acl, "br2", NULL));		/* through include */
	g_assert_false(allowed(acl, "br1", NULL));		/* a deny wins over an allow */
	g_assert_false(allowed(acl, "virbr0", &err));		/* deny all */
	g_assert_nonnull(strstr(err->message, "bridge virbr0 is not allowed by the bridge ACL"));
	g_assert_nonnull(strstr(err->message, "allow virbr0"));
	g_assert_true(allowed(open_acl, "anything", NULL));
	g_assert_false(allowed(open_acl, "br9", NULL));
	g_unlink(inc);
	g_unlink(acl);
	g_unlink(open_acl);
	g_rmdir(dir);
}

static void test_acl_errors(void)
{
	g_autofree char *dir = g_dir_make_tmp("vmnetd-acl-XXXXXX", NULL);
	g_autofree char *bad = write_file(dir, "bad.conf", "permit br0\n");
	g_autofree char *half = write_file(dir, "half.conf", "allow\n");
	g_autofree char *self = g_build_filename(dir, "self.conf", NULL);
	g_autofree char *self_text = g_strdup_printf("include %s\n", self);
	g_autofree char *missing = g_build_filename(dir, "none.conf", NULL);
	GError *err = NULL;

	g_free(write_file(dir, "self.conf", self_text));
	g_assert_false(allowed(bad, "br0", &err));
	g_assert_nonnull(strstr(err->message, "expected allow, deny or include"));
	g_clear_error(&err);
	g_assert_false(allowed(half, "br0", &err));
	g_assert_nonnull(strstr(err->message, "and a name"));
	g_clear_error(&err);
	g_assert_false(allowed(self, "br0", &err));		/* includes itself: ends */
	g_assert_nonnull(strstr(err->message, "nest deeper"));
	g_clear_error(&err);
	g_assert_false(allowed(missing, "br0", &err));
	g_assert_nonnull(strstr(err->message, "needs a line 'allow br0'"));
	g_clear_error(&err);
	g_unlink(bad);
	g_unlink(half);
	g_unlink(self);
	g_rmdir(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hostdev/acl-rules", test_acl_rules);
	g_test_add_func("/hostdev/acl-errors", test_acl_errors);
	return g_test_run();
}
