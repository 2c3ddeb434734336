-- wrk script: POST /api/v1/settlements with a fresh Idempotency-Key per request.
--   wrk -s bench/settlements.lua <url> -- <token> <patients file> <run id>
-- The patients file has one ID number per line; each request picks one at random (the card is "C" + ID).
-- done() prints one line "BENCH_RESULT {json}" that bench/run.py reads.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   token, patients_file, run_id = args[1], args[2], args[3]
   patients = {}
   for line in io.lines(patients_file) do
      if #line > 0 then table.insert(patients, line) end
   end
   math.randomseed(os.time() + id * 7919)
   s2xx, s4xx, s5xx, sother = 0, 0, 0, 0
end

function request()
   counter = counter + 1
   local patient = patients[math.random(#patients)]
   local cents = math.random(1, 100)
   local body = string.format(
      '{"patient_id_number":"%s","card_number":"C%s","amount":"%d.%02d","category":"pharmacy","reference":"B-%d-%d"}',
      patient, patient, math.floor(cents / 100), cents % 100, id, counter)
   local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Idempotency-Key"] = string.format("%s-%d-%d", run_id, id, counter),
      ["Content-Type"] = "application/json",
   }
   return wrk.format("POST", "/api/v1/settlements", headers, body)
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
