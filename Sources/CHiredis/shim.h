// Debian's libhiredis-dev (0.14): RESP encoding of commands (redisFormatCommandArgv). Replies are parsed in Swift
// (MeridianRedis's RESPParser): hiredis's redisReader copied every bulk string several times.
#include <hiredis/hiredis.h>
