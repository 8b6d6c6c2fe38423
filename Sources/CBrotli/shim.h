// Debian's libbrotli-dev (1.0.9): the streaming encoder (BrotliEncoderCompressStream) and decoder
// (BrotliDecoderDecompressStream).
#include <brotli/encode.h>
#include <brotli/decode.h>
