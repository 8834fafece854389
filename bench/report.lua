-- wrk script: print one machine-readable line when the run ends, so run.sh can check
-- the run (errors, non-2xx/3xx, bytes read) instead of trusting the req/s figure.
-- No `response` hook on purpose: it would copy every body into Lua and make the
-- load tool, not the server, the bottleneck on multi-megabyte indexes.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
