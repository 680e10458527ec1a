/* port_tap.c - the framing of a TAP device: a frame per read and per write. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmnetd/error.h"
#include "vmnetd/port_tap.h"

int tap_open(const char *ifname, GError **err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		vmnetd_set_error(err, "/dev/net/tun: %s", g_strerror(errno));
		return -1;
	}
	g_strlcpy(ifr.ifr_name, ifname, IFNAMSIZ);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		vmnetd_set_error(err, "TAP %s: %s", ifname, g_strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static bool ifreq_ioctl(int s, unsigned long req, struct ifreq *ifr, const char *what,
			GError **err)
{
	if (ioctl(s, req, ifr) == 0)
		return true;
	vmnetd_set_error(err, "%s: %s: %s", ifr->ifr_name, what, g_strerror(errno));
	return false;
}

static void set_sin(struct sockaddr *sa, struct in_addr a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a };

	memcpy(sa, &sin, sizeof(sin));
}

int netdev_socket(GError **err)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		vmnetd_set_error(err, "socket: %s", g_strerror(errno));
	return s;
}

bool netdev_up(int s, const char *ifname, GError **err)
{
	struct ifreq ifr = { 0 };

	g_strlcpy(ifr.ifr_name, ifname, IFNAMSIZ);
	if (!ifreq_ioctl(s, SIOCGIFFLAGS, &ifr, "get flags", err))
		return false;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(s, SIOCSIFFLAGS, &ifr, "bring up", err);
}

bool tap_configure(const char *ifname, const uint8_t mac[6], unsigned mtu, struct in_addr addr,
		   struct in_addr mask, GError **err)
{
	int s = netdev_socket(err);
	struct ifreq ifr = { 0 };
	bool ok;

	if (s < 0)
		return false;
	g_strlcpy(ifr.ifr_name, ifname, IFNAMSIZ);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	ok = ifreq_ioctl(s, SIOCSIFHWADDR, &ifr, "set MAC", err);
	ifr.ifr_mtu = mtu;
	ok = ok && ifreq_ioctl(s, SIOCSIFMTU, &ifr, "set MTU", err);
	set_sin(&ifr.ifr_addr, addr);
	ok = ok && ifreq_ioctl(s, SIOCSIFADDR, &ifr, "set address", err);
	set_sin(&ifr.ifr_netmask, mask);
	ok = ok && ifreq_ioctl(s, SIOCSIFNETMASK, &ifr, "set netmask", err);
	ok = ok && netdev_up(s, ifname, err);
	close(s);
	return ok;
}

int tap_read_batch(struct port *p)
{
	static uint8_t buf[TAP_FRAME_MAX];	/* one thread; consumed before the next read */

	/* A port that may pause stops as soon as a destination is congested. */
	for (int i = 0; i < TAP_READ_BATCH && !p->closed && !p->blocked_on; i++) {
		ssize_t n = read(p->fd, buf, sizeof(buf));

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : errno;
		port_input(p, buf, n);
	}
	return 0;
}

void tap_read(struct port *p)
{
	int e = tap_read_batch(p);

	if (e)
		port_close(p, g_strerror(e));
}

bool tap_flush(struct port *p)
{
	struct iovec iov[2];
	int n;

	while ((n = txring_peek_frame(&p->tx, iov)) > 0) {
		if (writev(p->fd, iov, n) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			/* A frame the device refuses (too big, link down) is
			 * dropped, not the device. */
			if (errno != EINVAL && errno != EIO && errno != EMSGSIZE)
				return false;
			p->stats.tx_drops++;
		}
		txring_pop_frame(&p->tx);
	}
	return true;
}

static const struct port_ops tap_ops = {
	.kind = "tap",
	.read = tap_read,
	.flush = tap_flush,
};

struct port *port_tap_new(struct port_set *set, int fd, char *name, unsigned mtu)
{
	struct port *p = g_new0(struct port, 1);
	g_autoptr(GError) err = NULL;

	port_init(p, &tap_ops, name);
	p->backlog_high = TAP_QUEUE_SIZE / 2;
	p->max_frame = ETH_HLEN + mtu;
	if (!port_attach(set, p, fd, TAP_QUEUE_SIZE, &err))
		return NULL;
	g_message("%s: connected", name);
	return p;
}
