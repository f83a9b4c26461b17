-- SPDX-License-Identifier: MIT
-- wrk script: POST /execute with a synchronous job that writes one storage key
-- (a blind write: every job commits, none conflicts), so each job's end
-- carries a write set (docs/cluster.md "A job's end").
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SEALRUN_TOKEN")
wrk.body = '{"script":"function main(input){ storage.set(\\"k\\", String(input)); return {n: input + 1}; }","input":41}'

local non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
