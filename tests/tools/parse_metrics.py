"""Parses a Prometheus text exposition (standard input) with the Prometheus project's own
Python client, and prints its samples as JSON: [{"name", "labels", "value"}, ...].

A line the parser cannot read makes it fail (exit 1), so the test learns that /metrics is
not valid Prometheus text."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append({"family": family.name, "type": family.type, "name": sample.name,
                        "labels": sample.labels, "value": sample.value})
print(json.dumps(samples))
