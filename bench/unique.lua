-- wrk script of bench/external.sh and bench/instructions.sh: one
-- notification per request, with a body no other request has (thread,
-- counter), sent with the agent key in ORKHUB_BENCH_KEY.
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  wrk.method = "POST"
  wrk.path = "/api/v1/notifications"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("ORKHUB_BENCH_KEY")
end
function request()
  n = n + 1
  local body = '{"to":"ceo","urgency":"info","kind":"bench","text":"external sample ' .. tid .. '-' .. n .. '"}'
  return wrk.format(nil, nil, nil, body)
end
