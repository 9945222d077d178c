-- wrk script: every request is the same RFC 8693 token exchange (`POST /token`), so after the
-- first one it is a cache hit at Tessera and at the peer. The subject token comes from the
-- environment (BENCH_SUBJECT_TOKEN) so it is never written to disk; BENCH_SCOPE is the scope.
-- At the end one line `BENCH_JSON {...}` carries the numbers tessera-bench reads (latencies in µs).

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local token = os.getenv("BENCH_SUBJECT_TOKEN") or error("BENCH_SUBJECT_TOKEN is not set")
local scope = os.getenv("BENCH_SCOPE") or error("BENCH_SCOPE is not set")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=" .. urlencode("urn:ietf:params:oauth:grant-type:token-exchange")
  .. "&subject_token_type=" .. urlencode("urn:ietf:params:oauth:token-type:access_token")
  .. "&subject_token=" .. urlencode(token)
  .. "&scope=" .. urlencode(scope)

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,'
      .. '"write_errors":%d,"timeouts":%d,"non_2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout,
    e.status, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
