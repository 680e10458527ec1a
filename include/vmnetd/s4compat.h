/* s4compat.h - slirp4netns's command line, taken as a drop-in: the same
 * arguments become vmnetd's own (one NAT network, a --netns port). */
#ifndef VMNETD_S4COMPAT_H
#define VMNETD_S4COMPAT_H

#include <stdbool.h>

#include <glib.h>

/* slirp4netns's defaults where they differ from vmnetd's. */
#define S4_MTU_DEFAULT	1500
#define S4_CIDR_DEFAULT	"10.0.2.0/24"
#define S4_IPV6_NET	"fd00::/64"

/* Whether this run is slirp4netns's: the program is called slirp4netns, or
 * the first argument is "slirp4netns". */
bool s4compat_wanted(int argc, char **argv);

/* vmnetd's arguments (argv[0] first, NULL-terminated) for slirp4netns's
 * @argv; NULL with @err for a bad or unsupported option, which is named.
 * --help and --version set *@done and print as slirp4netns would. */
char **s4compat_translate(int argc, char **argv, bool *done, GError **err);

#endif
