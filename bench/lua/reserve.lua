-- wrk script for bench/reservations.py: each request reserves 1 unit of a random lot for a random trader.
-- The Python side writes `bench_tokens` and `bench_lots` (Lua tables) into a file loaded first
-- (BENCH_PLAN, read with dofile), counts every answer's status per thread, and prints the totals as JSON.
dofile(os.getenv("BENCH_PLAN"))

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  math.randomseed(1000 + id)
  body = '{"quantity": 1}'
end

function request()
  local token = bench_tokens[math.random(#bench_tokens)]
  local lot = bench_lots[math.random(#bench_lots)]
  return wrk.format("POST", "/api/v1/lots/" .. lot .. "/reservations",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  io.write(string.format('BENCH_RESULT {"statuses": {%s}, "requests": %d, "seconds": %.6f, ' ..
                         '"socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
                         table.concat(parts, ", "), summary.requests, summary.duration / 1e6,
                         summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
                         latency:percentile(50), latency:percentile(99)))
end
