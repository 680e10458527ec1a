/* pages.h - large per-port buffers taken straight from the kernel. */
#ifndef VMNETD_PAGES_H
#define VMNETD_PAGES_H

#include <stddef.h>

/* Zero-filled, touched lazily, and given back whole by pages_free(): a
 * closed port returns its memory, where malloc would keep it (its mmap
 * threshold rises after the first large free). Aborts on failure, like g_malloc. */
void *pages_alloc(size_t size);
void pages_free(void *p, size_t size);

#endif
