// Debian's libcrypt-dev (libxcrypt): crypt_rn verifies bcrypt ($2b$) password hashes.
#include <crypt.h>
