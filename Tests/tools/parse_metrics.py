#!/usr/bin/env python3
"""Validate a Prometheus / OpenMetrics exposition with a real, independent parser.

Requires: prometheus-client==0.26.0 (pip install prometheus-client), Python 3.11.
Exit status: 0 parsed, 1 parse error, 2 bad command line.

The Swift tests scrape Meridian's /metrics endpoint, pipe the body into this
script and decode its JSON output, so the renderer is checked by the reference
Python client library rather than by our own parsing code:

    parse_metrics.py --format text|openmetrics < body

  text        prometheus_client.parser (Prometheus text format 0.0.4, lenient;
              this script additionally rejects exemplars, and typed
              families whose samples are not contiguous)
  openmetrics prometheus_client.openmetrics.parser (OpenMetrics 1.0, strict:
              needs the final "# EOF", checks exemplars, bucket order, suffixes)

On success prints one JSON document and exits 0:

    {"families": {name: {"type": t, "help": h, "unit": u,
                         "samples": [{"name": n, "labels": {...}, "value": v,
                                      "timestamp": ts or null,
                                      "exemplar": null or {"labels": {...}, "value": v,
                                                           "timestamp": ts or null}}]}}}

Counter families are named without "_total" (the parser does this in both
modes); their samples keep it. Non-finite values are emitted as the strings
"NaN", "+Inf", "-Inf" so the output stays strict JSON. Timestamps are float
seconds. On any parse error the error goes to stderr and the exit status is 1.
"""
import argparse
import json
import math
import re
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text


def number(v):
    if v is None or isinstance(v, (int, bool)) or math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")


def timestamp(ts):
    if ts is None:
        return None
    if hasattr(ts, "sec"):  # prometheus_client.samples.Timestamp
        return ts.sec + ts.nsec / 1e9
    return float(ts)


def sample_json(s):
    ex = s.exemplar
    return {
        "name": s.name,
        "labels": dict(s.labels or {}),
        "value": number(s.value),
        "timestamp": timestamp(s.timestamp),
        "exemplar": None if ex is None else {
            "labels": dict(ex.labels), "value": number(ex.value), "timestamp": timestamp(ex.timestamp)},
    }


def reject_text_exemplars(text):
    """prometheus_client's 0.0.4 parser silently misreads `v # {..} x ts` as value+timestamp;
    the Prometheus text format has no exemplars, so refuse them explicitly."""
    for line in text.splitlines():
        unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
        if not line.lstrip().startswith("#") and " # " in unquoted:
            raise ValueError("exemplars are not allowed in the Prometheus text format: " + line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", choices=["text", "openmetrics"], required=True)
    args = ap.parse_args()
    body = sys.stdin.buffer.read()
    try:
        text = body.decode("utf-8")
        if args.format == "text":
            reject_text_exemplars(text)
        parse = parse_openmetrics if args.format == "openmetrics" else parse_text
        families = {}
        for fam in parse(text):  # a generator: errors (e.g. missing # EOF) surface while iterating
            samples = [sample_json(s) for s in fam.samples]
            if fam.name in families:
                # The text parser yields a new family when a name reappears (e.g. untyped
                # series split by another family); merge only when the types agree.
                if families[fam.name]["type"] != fam.type:
                    raise ValueError(f"family {fam.name!r} appears twice with types "
                                     f"{families[fam.name]['type']!r} and {fam.type!r}")
                families[fam.name]["samples"] += samples
                continue
            families[fam.name] = {"type": fam.type, "help": fam.documentation,
                                  "unit": fam.unit, "samples": samples}
    except Exception as e:  # the parsers raise bare ValueError, sometimes without a message
        print(f"parse error ({args.format}): {type(e).__name__}: {e!r}", file=sys.stderr)
        return 1
    json.dump({"families": families}, sys.stdout, allow_nan=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
