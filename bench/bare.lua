-- wrk script for the bare view: counts statuses and prints "BENCH_RESULT {json}" as settlements.lua does.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   s2xx, s4xx, s5xx, sother = 0, 0, 0, 0
end

function response(status, headers, body)
   if status >= 200 and status < 300 then s2xx = s2xx + 1
   elseif status >= 400 and status < 500 then s4xx = s4xx + 1
   elseif status >= 500 then s5xx = s5xx + 1
   else sother = sother + 1 end
end

function done(summary, latency, requests)
   local counts = {s2xx = 0, s4xx = 0, s5xx = 0, sother = 0}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(counts) do counts[name] = counts[name] + thread:get(name) end
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
      '"s2xx": %d, "s4xx": %d, "s5xx": %d, "sother": %d, "socket_errors": %d}\n',
      summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
      latency.max / 1e3, counts.s2xx, counts.s4xx, counts.s5xx, counts.sother,
      errors.connect + errors.read + errors.write + errors.timeout))
end
