// glibc's <malloc.h>: mallopt, for the server's allocator settings at start (the Glibc module does not export it).
#include <malloc.h>
