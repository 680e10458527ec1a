/* privs.c - after set-up: drop to --user/--group with libcap-ng, then an optional libseccomp allow-list. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "config.h"
#include "vmnetd/error.h"
#include "vmnetd/privs.h"

struct ids {
	uid_t uid;
	gid_t gid;
};

/* A name first, as chown(1) does; then a plain number. */
static bool parse_id(const char *s, guint64 *id)
{
	/* (uid_t)-1 means "unchanged" to setresuid(): never a real id. */
	return g_ascii_string_to_unsigned(s, 10, 0, UINT32_MAX - 1, id, NULL);
}

static bool lookup_user(const char *user, struct ids *ids, bool *has_gid, GError **err)
{
	struct passwd *pw;
	guint64 id;

	errno = 0;
	pw = getpwnam(user);
	if (pw) {
		ids->uid = pw->pw_uid;
		ids->gid = pw->pw_gid;
		*has_gid = true;
		return true;
	}
	if (!parse_id(user, &id)) {
		vmnetd_set_error(err, "--user %s: no such user%s%s", user, errno ? ": " : "",
				 errno ? g_strerror(errno) : "");
		return false;
	}
	pw = getpwuid(id);
	ids->uid = id;
	ids->gid = pw ? pw->pw_gid : 0;
	*has_gid = pw != NULL;
	return true;
}

static bool lookup_group(const char *group, gid_t *gid, GError **err)
{
	return privs_group_id("--group", group, gid, err);
}

bool privs_group_id(const char *what, const char *group, gid_t *gid, GError **err)
{
	struct group *gr;
	guint64 id;

	errno = 0;
	gr = getgrnam(group);
	if (gr) {
		*gid = gr->gr_gid;
		return true;
	}
	if (!parse_id(group, &id)) {
		vmnetd_set_error(err, "%s %s: no such group%s%s", what, group, errno ? ": " : "",
				 errno ? g_strerror(errno) : "");
		return false;
	}
	*gid = id;
	return true;
}

static bool resolve(const char *user, const char *group, struct ids *ids, GError **err)
{
	bool has_gid = false;

	if (!user) {
		vmnetd_set_error(err, "--group %s needs --user", group);
		return false;
	}
	if (!lookup_user(user, ids, &has_gid, err))
		return false;
	if (group)
		return lookup_group(group, &ids->gid, err);
	if (!has_gid) {
		vmnetd_set_error(err, "--user %s: not in the password database, so give --group",
				 user);
		return false;
	}
	return true;
}

bool privs_check(const char *user, const char *group, GError **err)
{
	struct ids ids;

	if (!user && !group)
		return true;
	if (!resolve(user, group, &ids, err))
		return false;
	if (geteuid() != 0) {
		vmnetd_set_error(err, "--user %s: only a daemon started as root can switch users "
				 "(this one runs as uid %u)", user, (unsigned)geteuid());
		return false;
	}
	return true;
}

/* What capng_change_id() promised, read back from the kernel. */
static bool verify_ids(const struct ids *ids, GError **err)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 || r != ids->uid ||
	    e != ids->uid || s != ids->uid || rg != ids->gid || eg != ids->gid ||
	    sg != ids->gid || getgroups(0, NULL) != 0) {
		vmnetd_set_error(err, "--user: the switch to uid %u gid %u did not take",
				 (unsigned)ids->uid, (unsigned)ids->gid);
		return false;
	}
	return true;
}

bool privs_drop(const char *user, const char *group, bool keep_net_admin, GError **err)
{
	struct ids ids;
	int rc;

	if (!user && !group)
		return true;
	if (!privs_check(user, group, err) || !resolve(user, group, &ids, err))
		return false;
	capng_clear(CAPNG_SELECT_BOTH);
	/* A host-iface= TAP is made at set-up, but may have to be made again. */
	if (keep_net_admin)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN);
	rc = capng_change_id(ids.uid, ids.gid,
			     CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT);
	if (rc < 0) {
		vmnetd_set_error(err, "--user %s: cannot switch to uid %u gid %u (libcap-ng: %d): %s",
				 user, (unsigned)ids.uid, (unsigned)ids.gid, rc, g_strerror(errno));
		return false;
	}
	/* No exec'd relay can gain privileges through a set-uid or file-capability binary. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		vmnetd_set_error(err, "PR_SET_NO_NEW_PRIVS: %s", g_strerror(errno));
		return false;
	}
	return verify_ids(&ids, err);
}

/* What the loop calls once set-up is over: what the NAT, host-only and
 * networks integration tests made the daemon call after it printed its QEMU
 * arguments, under strace -f (README, "Least privilege"), plus the calls of
 * the same paths that traffic did not happen to take (ppoll, accept4, the
 * mmsg calls, madvise, getrandom). libslirp opens a host socket per guest
 * flow (socket to shutdown), re-reads /etc/resolv.conf and serves TFTP
 * (openat, lseek, newfstatat), each request first judged by tftp_guard.c
 * (openat2; readlink for realpath() where openat2 is missing); the DHCP servers write their lease files
 * through g_file_set_contents (fallocate, fsync, rename; unlink on failure);
 * the unix listeners' sockets go at shutdown (unlink). The control socket
 * asks who a client is (getuid, geteuid against SO_PEERCRED), opens capture
 * files (openat), and a SIGHUP reload binds sockets again as at start
 * (umask, lchown or fchownat for --socket-group; prlimit64 below); the pid
 * file goes at exit
 * (getpid). A bridged network checks its bridge each second and makes its
 * device again (access, readlink in sysfs; mknodat for a macvtap's node
 * where no udev runs). A vhost-user front-end's guest RAM is checked
 * (fstat, fstatfs) and mapped (mmap), its eventfds by readlink in /proc. */
static const char *const loop_calls[] = {
	"epoll_wait", "epoll_pwait", "epoll_ctl", "poll", "ppoll",
	"read", "write", "readv", "writev", "lseek",
	"recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg",
	"socket", "connect", "bind", "listen", "accept", "accept4", "shutdown",
	"setsockopt", "getsockopt", "getsockname", "getpeername",
	"close", "fcntl", "openat", "openat2", "readlink", "fstat", "newfstatat", "fstatfs",
	"fallocate", "fsync", "rename", "unlink",
	"mmap", "munmap", "mremap", "mprotect", "brk", "madvise",
	"clock_gettime", "getrandom", "futex",
	"getuid", "geteuid", "getgid", "getegid", "getpid", "umask", "lchown", "fchownat",
	"access", "faccessat", "faccessat2", "mknodat",
	"rt_sigprocmask", "rt_sigreturn", "signalfd4",
	"exit", "exit_group",
};

/* With a guestfwd= to a TCP target libslirp runs "vmnetd --guestfwd-relay"
 * per guest connection through g_spawn: pipes and a fork, the child's
 * set-up (setsid, dup2, close_range) and exec, the reaping of glib's
 * intermediate child (wait4); then the relay's own start-up, which the
 * filter follows into: the dynamic loader, glibc's and libcap-ng's
 * initialisation (its prctl reads are in relay_prctls), and libselinux's
 * (statfs of /sys/fs/selinux; gio, under json-glib, brings it in). */
static const char *const exec_calls[] = {
	"pipe2", "clone", "wait4", "setsid", "dup2", "close_range", "execve",
	"access", "pread64", "arch_prctl", "set_tid_address", "set_robust_list", "rseq",
	"prlimit64", "rt_sigaction", "fstatfs", "statfs",
};

/* ioctls after set-up: bytes waiting on a socket (libslirp), non-blocking
 * mode, and glib's logging asking whether stderr is a terminal; and what a
 * bridged network calls to make its TAP again once its bridge is back
 * (each needs CAP_NET_ADMIN to change anything). */
static const unsigned long loop_ioctls[] = {
	FIONREAD, FIONBIO, TCGETS,
	SIOCGIFINDEX, SIOCGIFMTU, SIOCSIFMTU, SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCBRADDIF,
	TUNSETIFF, TUNGETIFF,
};

/* A reload reads the descriptor limit (prlimit64 with no new limit) to
 * share the flow budget among the networks. */
static const unsigned long read_only[] = { 0 };

/* prctls a relay makes as it starts: libcap-ng reading its state. */
static const unsigned long relay_prctls[] = {
	PR_GET_SECUREBITS, PR_GET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAPBSET_READ,
};

static bool allow_all(scmp_filter_ctx ctx, const char *const *names, size_t n, GError **err)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		if (nr == __NR_SCMP_ERROR)	/* not a call of this architecture */
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0) {
			vmnetd_set_error(err, "--seccomp: cannot allow %s: %s", names[i],
					 g_strerror(-rc));
			return false;
		}
	}
	return true;
}

/* @call only with its first or second argument (@arg) one of @vals. */
static bool allow_args(scmp_filter_ctx ctx, int call, unsigned arg, const unsigned long *vals,
		       size_t n, GError **err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, call, 1,
					  SCMP_CMP(arg, SCMP_CMP_EQ, vals[i]));

		if (rc < 0) {
			vmnetd_set_error(err, "--seccomp: cannot allow call %d with %#lx: %s",
					 call, vals[i], g_strerror(-rc));
			return false;
		}
	}
	return true;
}

static bool allow_exec_calls(scmp_filter_ctx ctx, GError **err)
{
	/* glibc falls back to clone when clone3 says ENOSYS; allowing it
	 * would need its flags checked, which seccomp cannot (a pointer). */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0) {
		vmnetd_set_error(err, "--seccomp: cannot refuse clone3");
		return false;
	}
	return allow_all(ctx, exec_calls, G_N_ELEMENTS(exec_calls), err) &&
	       allow_args(ctx, SCMP_SYS(prctl), 0, relay_prctls, G_N_ELEMENTS(relay_prctls),
			  err);
}

static bool build_filter(scmp_filter_ctx ctx, bool allow_exec, GError **err)
{
	/* A call through another ABI (i386, x32) must not slip past the list. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0) {
		vmnetd_set_error(err, "--seccomp: cannot set the action for other ABIs");
		return false;
	}
	if (!allow_all(ctx, loop_calls, G_N_ELEMENTS(loop_calls), err) ||
	    !allow_args(ctx, SCMP_SYS(ioctl), 1, loop_ioctls, G_N_ELEMENTS(loop_ioctls), err) ||
	    !allow_args(ctx, SCMP_SYS(prlimit64), 2, read_only, G_N_ELEMENTS(read_only), err))
		return false;
	return !allow_exec || allow_exec_calls(ctx, err);
}

bool seccomp_install(bool allow_exec, GError **err)
{
	scmp_filter_ctx ctx;
	int rc;

	if (VMNETD_SANITIZED) {
		/* ASan's and LeakSanitizer's run-time (its exit-time scan
		 * ptrace()s from a thread of its own) call far more. */
		vmnetd_set_error(err, "--seccomp is for release builds: this one has sanitizers, "
				 "whose run-time needs calls the allow-list does not have");
		return false;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		vmnetd_set_error(err, "--seccomp: seccomp_init failed");
		return false;
	}
	if (!build_filter(ctx, allow_exec, err)) {
		seccomp_release(ctx);
		return false;
	}
	/* libseccomp sets no_new_privs itself, so this works without --user too. */
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		vmnetd_set_error(err, "--seccomp: cannot load the filter: %s", g_strerror(-rc));
		return false;
	}
	return true;
}

void seccomp_selftest(void)
{
	/* 0xffffffff only queries the persona: harmless if no filter stops it. */
	syscall(SYS_personality, 0xffffffffUL);
}
