"""Decompresses a file with Python's own zlib or the PyPI brotli package, to stdout: the tests check
Meridian's gzip and brotli against decoders that share no code with it.
Usage: decompress.py gzip|br FILE"""
import sys
import zlib

coding, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
if coding == "gzip":
    out = zlib.decompress(data, wbits=16 + zlib.MAX_WBITS)
elif coding == "br":
    import brotli  # PyPI's, in the test venv

    out = brotli.decompress(data)
else:
    sys.exit(f"unknown coding {coding}")
sys.stdout.buffer.write(out)
