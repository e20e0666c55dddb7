-- wrk script of bench/external.sh and bench/instructions.sh: one request
-- per call, with a body no other request has (thread, counter).
-- By default a notification to the hub, sent with the agent key in
-- ORKHUB_BENCH_KEY; with BENCH_TARGET=alertmanager a new alert to
-- Alertmanager's v2 API instead, its labels unique so each is a new alert
-- held in memory, and its summary the hub's text.
local n = 0
local threads = 0
local alertmanager = os.getenv("BENCH_TARGET") == "alertmanager"
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if alertmanager then
    wrk.path = "/api/v2/alerts"
  else
    wrk.path = "/api/v1/notifications"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("ORKHUB_BENCH_KEY")
  end
end
function request()
  n = n + 1
  local id = tid .. '-' .. n
  local body
  if alertmanager then
    body = '[{"labels":{"alertname":"bench","severity":"info","instance":"' .. id .. '"},"annotations":{"summary":"external sample ' .. id .. '"}}]'
  else
    body = '{"to":"ceo","urgency":"info","kind":"bench","text":"external sample ' .. id .. '"}'
  end
  return wrk.format(nil, nil, nil, body)
end
