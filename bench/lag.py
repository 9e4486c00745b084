#!/usr/bin/env python3
"""p99 of hookgate_delivery_lag_seconds for a route between two /metrics scrapes, in seconds
(the upper bound of the histogram bucket holding the 99th percentile).

Usage: lag.py <before.txt> <after.txt> <route>
"""
import re
import sys


def buckets(path, route):
    out = {}
    pattern = re.compile(r'^hookgate_delivery_lag_seconds_bucket\{route="%s",le="([^"]+)"\} (\S+)$' % re.escape(route))
    for line in open(path):
        m = pattern.match(line.strip())
        if m:
            out[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = float(m.group(2))
    return out


before, after = buckets(sys.argv[1], sys.argv[3]), buckets(sys.argv[2], sys.argv[3])
diff = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
total = diff[-1][1] if diff else 0
for le, count in diff:
    if total and count >= 0.99 * total:
        print(le)
        break
else:
    print("nan")
