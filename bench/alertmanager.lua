-- wrk script of `bench/external.sh alertmanager`: one new alert per
-- request to Alertmanager's v2 API, its labels unique (thread, counter)
-- so that each is a new alert held in memory, as each of the hub's
-- requests is a new notification; the summary is the hub's text.
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  wrk.method = "POST"
  wrk.path = "/api/v2/alerts"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  local id = tid .. '-' .. n
  local body = '[{"labels":{"alertname":"bench","severity":"info","instance":"' .. id .. '"},"annotations":{"summary":"external sample ' .. id .. '"}}]'
  return wrk.format(nil, nil, nil, body)
end
