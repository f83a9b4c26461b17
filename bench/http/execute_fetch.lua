-- SPDX-License-Identifier: MIT
-- wrk script: POST /execute with a job that makes one HTTP request to the
-- local server of bench/http/run.sh (SEALRUN_TARGET: its URL).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SEALRUN_TOKEN")
local target = os.getenv("SEALRUN_TARGET")
local hostport = target:match("^http://([^/]+)")
wrk.body = '{"script":"async function main(i){ const r = await fetch(i.url); ' ..
  'return {s: r.status, n: (await r.text()).length}; }","input":{"url":"' .. target ..
  '"},"http":{"allow":["' .. hostport .. '"]}}'

local bad = 0
response = function(status, headers, body)
  if status ~= 200 or not body:find('"completed"', 1, true) then bad = bad + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
