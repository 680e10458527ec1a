/* hostdev.c - host network devices for bridged networks.
 *
 * TAPs and bridges through their ioctls (tun, SIOCBRADDIF), macvtaps
 * through rtnetlink with libnl-route. The bridge ACL follows QEMU's bridge
 * helper, so an administrator writes the same file for both.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <netlink/route/link.h>
#include <netlink/route/link/macvtap.h>

#include "vmnetd/error.h"
#include "vmnetd/hostdev.h"
#include "vmnetd/port_tap.h"

/* include lines nest at most this deep: enough for any real layout, and a
 * file that includes itself ends. */
#define ACL_INCLUDE_DEPTH	8

struct acl_verdict {
	bool allow, deny, allow_all, deny_all;
};

static bool read_acl(const char *file, const char *bridge, struct acl_verdict *v, int depth,
		     GError **err);

static bool acl_line(const char *file, char *line, const char *bridge, struct acl_verdict *v,
		     int depth, GError **err)
{
	g_auto(GStrv) w = g_strsplit_set(g_strstrip(line), " \t", 2);

	if (!w[0] || !w[0][0] || w[0][0] == '#')
		return true;
	if (!w[1]) {
		vmnetd_set_error(err, "bridge ACL %s: '%s': expected allow, deny or include and "
				 "a name", file, line);
		return false;
	}
	g_strstrip(w[1]);
	if (!strcmp(w[0], "include"))
		return read_acl(w[1], bridge, v, depth + 1, err);
	if (strcmp(w[0], "allow") && strcmp(w[0], "deny")) {
		vmnetd_set_error(err, "bridge ACL %s: '%s': expected allow, deny or include", file,
				 line);
		return false;
	}
	if (!strcmp(w[0], "allow")) {
		v->allow_all |= !strcmp(w[1], "all");
		v->allow |= !strcmp(w[1], bridge);
	} else {
		v->deny_all |= !strcmp(w[1], "all");
		v->deny |= !strcmp(w[1], bridge);
	}
	return true;
}

static bool read_acl(const char *file, const char *bridge, struct acl_verdict *v, int depth,
		     GError **err)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) e = NULL;
	g_auto(GStrv) lines = NULL;

	if (depth > ACL_INCLUDE_DEPTH) {
		vmnetd_set_error(err, "bridge ACL %s: includes nest deeper than %d", file,
				 ACL_INCLUDE_DEPTH);
		return false;
	}
	if (!g_file_get_contents(file, &text, NULL, &e)) {
		vmnetd_set_error(err, "bridge ACL %s: %s (bridge= needs a line 'allow %s' there)",
				 file, e->message, bridge);
		return false;
	}
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++)
		if (!acl_line(file, *l, bridge, v, depth, err))
			return false;
	return true;
}

bool hostdev_bridge_allowed(const char *file, const char *bridge, GError **err)
{
	struct acl_verdict v = { 0 };

	if (!read_acl(file, bridge, &v, 0, err))
		return false;
	if (!v.deny && (v.allow || (v.allow_all && !v.deny_all)))
		return true;
	vmnetd_set_error(err, "bridge %s is not allowed by the bridge ACL %s (add 'allow %s')",
			 bridge, file, bridge);
	return false;
}

static bool sysfs_exists(const char *name, const char *leaf)
{
	g_autofree char *path = g_strdup_printf("/sys/class/net/%s/%s", name, leaf);

	return access(path, F_OK) == 0;
}

unsigned hostdev_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned mtu = 0;

	g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
	if (s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;
	if (s >= 0)
		close(s);
	return mtu;
}

static const char *permission_hint(int e)
{
	return e == EPERM || e == EACCES ? " (needs CAP_NET_ADMIN: run as root, or give a "
					   "persistent TAP of yours with tap=)" : "";
}

int hostdev_open_tap(const char *name, GError **err)
{
	g_autoptr(GError) e = NULL;
	int fd;

	if (!if_nametoindex(name)) {
		vmnetd_set_error(err, "tap=%s: no such device", name);
		return -1;
	}
	if (!sysfs_exists(name, "tun_flags")) {
		vmnetd_set_error(err, "tap=%s: not a TAP device", name);
		return -1;
	}
	fd = tap_open(name, &e);
	if (fd < 0)
		vmnetd_set_error(err, "tap=%s: %s%s", name,
				 errno == EBUSY ? "busy: another program has it open" : e->message,
				 errno == EBUSY ? "" : permission_hint(errno));
	return fd;
}

static bool set_mtu_up_enslave(int s, const char *tap, const char *bridge, unsigned mtu,
			       GError **err)
{
	struct ifreq ifr = { 0 };

	g_strlcpy(ifr.ifr_name, tap, IFNAMSIZ);
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		goto fail;
	ifr.ifr_ifindex = if_nametoindex(tap);
	g_strlcpy(ifr.ifr_name, bridge, IFNAMSIZ);
	if (ioctl(s, SIOCBRADDIF, &ifr) < 0)
		goto fail;
	g_strlcpy(ifr.ifr_name, tap, IFNAMSIZ);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0)
		return true;
fail:
	vmnetd_set_error(err, "bridge=%s: cannot put TAP %s on it: %s%s", bridge, tap,
			 g_strerror(errno), permission_hint(errno));
	return false;
}

int hostdev_tap_on_bridge(const char *bridge, const char *acl, char **name, unsigned *mtu,
			  GError **err)
{
	struct ifreq ifr = { 0 };
	int fd, s;

	if (!if_nametoindex(bridge)) {
		vmnetd_set_error(err, "bridge=%s: no such bridge", bridge);
		return -1;
	}
	if (!sysfs_exists(bridge, "bridge")) {
		vmnetd_set_error(err, "bridge=%s: not a Linux bridge", bridge);
		return -1;
	}
	if (!hostdev_bridge_allowed(acl, bridge, err))
		return -1;
	fd = tap_open("vmnet%d", err);
	if (fd < 0) {
		g_prefix_error(err, "bridge=%s: ", bridge);
		return -1;
	}
	s = netdev_socket(err);
	if (s < 0 || ioctl(fd, TUNGETIFF, &ifr) < 0 ||
	    !set_mtu_up_enslave(s, ifr.ifr_name, bridge, *mtu = hostdev_mtu(bridge), err)) {
		if (s >= 0 && err && !*err)
			vmnetd_set_error(err, "TUNGETIFF: %s", g_strerror(errno));
		if (s >= 0)
			close(s);
		close(fd);
		return -1;
	}
	close(s);
	*name = g_strdup(ifr.ifr_name);
	return fd;
}

bool hostdev_on_bridge(const char *tap, const char *bridge)
{
	g_autofree char *path = g_strdup_printf("/sys/class/net/%s/master", tap);
	g_autofree char *target = g_file_read_link(path, NULL);
	g_autofree char *base = target ? g_path_get_basename(target) : NULL;

	return base && !strcmp(base, bridge);
}

/* A name no device has: "vmvt" with our pid and a count (IFNAMSIZ-safe). */
static char *macvtap_name(void)
{
	static unsigned count;

	for (;;) {
		char *name = g_strdup_printf("vmvt%d-%u", (int)(getpid() % 100000),
					     ++count % 10000);

		if (!if_nametoindex(name))
			return name;
		g_free(name);
	}
}

/* A macvtap through rtnetlink: kind macvtap, on @lower, passthru mode:
 * it takes the NIC over (promiscuous), so frames for every VM behind the
 * switch reach it, not only those for its own MAC (bridge mode's rule). */
static bool macvtap_add(const char *lower, char **name, GError **err)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link = rtnl_link_macvtap_alloc();
	int rc = sk && link ? nl_connect(sk, NETLINK_ROUTE) : -NLE_NOMEM;

	*name = macvtap_name();
	if (!rc) {
		rtnl_link_set_link(link, (int)if_nametoindex(lower));
		rtnl_link_set_name(link, *name);
		rtnl_link_macvtap_set_mode(link, MACVLAN_MODE_PASSTHRU);
		rc = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	}
	if (rc < 0) {
		vmnetd_set_error(err, "macvtap=%s: cannot create a macvtap: %s%s", lower,
				 nl_geterror(rc), rc == -NLE_PERM ? " (needs CAP_NET_ADMIN)" : "");
		g_clear_pointer(name, g_free);
	}
	rtnl_link_put(link);
	nl_socket_free(sk);
	return rc >= 0;
}

/* /dev/tapN, or, where no udev made it, a node of our own for the moment. */
static int open_macvtap_dev(const char *name, GError **err)
{
	unsigned idx = if_nametoindex(name);
	g_autofree char *dev = g_strdup_printf("/dev/tap%u", idx);
	g_autofree char *sys = g_strdup_printf("/sys/class/net/%s/macvtap/tap%u/dev", name, idx);
	g_autofree char *nums = NULL;
	unsigned maj, min;
	int fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 || errno != ENOENT)
		goto out;
	if (!g_file_get_contents(sys, &nums, NULL, NULL) || sscanf(nums, "%u:%u", &maj, &min) != 2)
		goto out;
	g_free(dev);
	dev = g_strdup_printf("/run/vmnetd-tap%u-%d", idx, (int)getpid());
	if (mknod(dev, S_IFCHR | 0600, makedev(maj, min)) == 0) {
		fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		unlink(dev);
	}
out:
	if (fd < 0)
		vmnetd_set_error(err, "macvtap %s: %s: %s", name, dev, g_strerror(errno));
	return fd;
}

/* Plain frames: no virtio-net header before each (macvtap's default). */
static bool no_vnet_header(int fd, const char *name, GError **err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };

	if (ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNGETIFF, &ifr) == 0 &&
	    !(ifr.ifr_flags & IFF_VNET_HDR))
		return true;
	vmnetd_set_error(err, "macvtap %s: cannot turn its virtio-net header off: %s", name,
			 g_strerror(errno));
	return false;
}

static bool bring_up(const char *name, GError **err)
{
	int s = netdev_socket(err);
	bool ok = s >= 0 && netdev_up(s, name, err);

	if (s >= 0)
		close(s);
	return ok;
}

int hostdev_macvtap_new(const char *lower, char **name, unsigned *mtu, GError **err)
{
	int fd;

	if (!if_nametoindex(lower)) {
		vmnetd_set_error(err, "macvtap=%s: no such device", lower);
		return -1;
	}
	if (!macvtap_add(lower, name, err))
		return -1;
	fd = open_macvtap_dev(*name, err);
	if (fd >= 0 && (!no_vnet_header(fd, *name, err) || !bring_up(*name, err))) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		hostdev_macvtap_delete(*name);
		g_clear_pointer(name, g_free);
		return -1;
	}
	*mtu = hostdev_mtu(*name);
	return fd;
}

void hostdev_macvtap_delete(const char *name)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link = rtnl_link_alloc();

	if (sk && link && nl_connect(sk, NETLINK_ROUTE) == 0) {
		rtnl_link_set_name(link, name);
		rtnl_link_delete(sk, link);
	}
	rtnl_link_put(link);
	nl_socket_free(sk);
}
