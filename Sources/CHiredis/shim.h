// Debian's libhiredis-dev (0.14): RESP encoding (redisFormatCommandArgv) and parsing (redisReader).
#include <hiredis/hiredis.h>
