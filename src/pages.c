/* pages.c - page-backed buffers for port rings, returned to the kernel on free. */
#include <errno.h>
#include <sys/mman.h>

#include <glib.h>

#include "vmnetd/pages.h"

void *pages_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		g_error("mmap(%zu): %s", size, g_strerror(errno));
	return p;
}

void pages_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}
