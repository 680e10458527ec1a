/* privs.h - least privilege after set-up: another user, few capabilities, a system-call allow-list. */
#ifndef VMNETD_PRIVS_H
#define VMNETD_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

#include <glib.h>

/* Checks --user/--group before anything is built: the names (or numeric ids)
 * exist and the daemon runs as root when either is given. */
bool privs_check(const char *user, const char *group, GError **err);

/* The id of group @group (a name, or a number); @what names the option. */
bool privs_group_id(const char *what, const char *group, gid_t *gid, GError **err);

/* Switches a root daemon to @user and @group (default: @user's primary group)
 * with no supplementary groups, no capabilities but CAP_NET_ADMIN when
 * @keep_net_admin, an empty bounding set and no_new_privs. Without @user and
 * @group: nothing (root stays root). */
bool privs_drop(const char *user, const char *group, bool keep_net_admin, GError **err);

/* Installs the allow-list of the calls the loop makes after set-up; any other
 * call kills the process (SIGSYS). @allow_exec adds what libslirp needs to
 * fork and exec a guestfwd relay, and what the relay itself calls. Refused in
 * a sanitizer build, whose run-time makes calls the list does not have. */
bool seccomp_install(bool allow_exec, GError **err);

/* Makes a call no allow-list has (personality): for tests of seccomp_install. */
void seccomp_selftest(void);

#endif
