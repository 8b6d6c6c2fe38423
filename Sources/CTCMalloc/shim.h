// gperftools' tcmalloc (Debian's libgoogle-perftools-dev; at run time libtcmalloc-minimal4): the process's malloc.
// Linking the library puts its malloc, free and friends ahead of glibc's for the whole process, the Swift runtime's
// allocations included; the C API below reads its statistics.
#include <gperftools/malloc_extension_c.h>
// malloc_usable_size, whichever allocator serves malloc (Allocator's check hands its block to it).
#include <malloc.h>
