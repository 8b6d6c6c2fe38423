// Debian's libargon2-dev: argon2id password hashes (argon2_verify, argon2id_hash_encoded).
#include <argon2.h>
