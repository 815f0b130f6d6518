-- wrk script for scripts/bench's ingest part: POST /events with one event of the size `bench load`
-- sends (~230 bytes), and a JSON summary line at the end (done()) that scripts/bench parses.
--
--   wrk -t2 -c64 -d15s -s bench/wrk/ingest.lua http://127.0.0.1:8080/events            one fixed body
--   WRK_UNIQUE=1 wrk … -s bench/wrk/ingest.lua URL -- <run-id>                             a new event per request
--
-- The fixed body is wrk at its fastest (the request is built once); it suits a server that does not
-- parse (bench bare-server). The durable service would store one row of it, so against the service
-- WRK_UNIQUE=1 builds each request in Lua with a new idempotency key, user and the current time,
-- which costs wrk some CPU per request (measured and reported next to it).

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local template = '{"event_name":"add_to_cart","channel":"mobile_app","campaign_id":"cmp_035","user_id":"user_%d",'
  .. '"timestamp":%d,"tags":["sale","electronics"],"metadata":{"price":92.38,"currency":"EUR"},"idempotency_key":"%s%d"}'

wrk.body = string.format(template, 30848, os.time(), "wrk-static-0000000000-", 1234567)

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

if os.getenv("WRK_UNIQUE") == "1" then
  local counter = 0
  local prefix = "wrk"
  function init(args)
    prefix = (args[1] or "wrk") .. "-" .. tostring(thread_number) .. "-"
  end
  function request()
    counter = counter + 1
    return wrk.format(nil, nil, nil, string.format(template, counter % 100000, os.time(), prefix, counter))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p99_9":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
