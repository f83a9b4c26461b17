-- SPDX-License-Identifier: MIT
-- wrk script: POST /execute with a trivial WASM job (module uploaded first).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SEALRUN_TOKEN")
wrk.body = '{"runtime":"wasm","module_hash":"' .. os.getenv("SEALRUN_MODULE") .. '"}'

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
