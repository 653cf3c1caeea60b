-- The simulated users of `manage.py loadtest` (scale/loadtest.py), a wrk script.
--
--   wrk --threads T --connections USERS --latency --script scale/loadtest.lua URL -- URLS COOKIES T
--
-- URLS has one "<kind> <path>" line per page; COOKIES one "sessionid=<key>" line per user. Each
-- connection is one user; each thread walks the URL list from its own offset, so the threads do not
-- ask for the same page at the same moment, and spreads its requests over its own share of the
-- sessions. Every request says X-Forwarded-Proto: https, as production's TLS proxy does.
--
-- done() prints one line, "LOADTEST_RESULT {json}": requests, errors by cause (responses other than
-- 2xx, socket errors, timeouts), latency percentiles in microseconds, responses by status and
-- requests sent by kind.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- Per thread (each has its own Lua state). Globals, so that done() can read them with thread:get().
kinds, paths, cookies = {}, {}, {}
position, cookie_position, thread_count = 0, 0, 1
sent, statuses, non_2xx = {}, {}, 0

local function read_lines(file)
   local lines = {}
   for line in io.lines(file) do
      if line ~= "" then
         lines[#lines + 1] = line
      end
   end
   return lines
end

function init(args)
   for _, line in ipairs(read_lines(args[1])) do
      local kind, path = line:match("^(%S+)%s+(%S+)$")
      kinds[#kinds + 1] = kind
      paths[#paths + 1] = path
   end
   cookies = read_lines(args[2])
   thread_count = tonumber(args[3])
   position = math.floor(id * #paths / thread_count)
   cookie_position = id
end

function request()
   local i = position % #paths + 1
   position = position + 1
   local kind = kinds[i]
   sent[kind] = (sent[kind] or 0) + 1
   local cookie = cookies[cookie_position % #cookies + 1]
   cookie_position = cookie_position + thread_count
   return wrk.format("GET", paths[i], {
      ["Host"] = wrk.headers["Host"],
      ["Cookie"] = cookie,
      ["X-Forwarded-Proto"] = "https",
      ["User-Agent"] = "baatracker-loadtest",
      ["Accept"] = "text/html",
   })
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status < 200 or status > 299 then
      non_2xx = non_2xx + 1
   end
end

local function json_counts(counts)
   local items = {}
   for key, n in pairs(counts) do
      items[#items + 1] = string.format('"%s":%d', tostring(key), n)
   end
   table.sort(items)
   return "{" .. table.concat(items, ",") .. "}"
end

local function add(total, counts)
   for key, n in pairs(counts) do
      total[key] = (total[key] or 0) + n
   end
end

function done(summary, latency, requests)
   local all_sent, all_statuses, all_non_2xx = {}, {}, 0
   for _, thread in ipairs(threads) do
      add(all_sent, thread:get("sent"))
      add(all_statuses, thread:get("statuses"))
      all_non_2xx = all_non_2xx + thread:get("non_2xx")
   end
   local errors = summary.errors
   io.write("LOADTEST_RESULT ", string.format(
      '{"requests":%d,"duration_us":%d,"non_2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,'
         .. '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"statuses":%s,"sent":%s}',
      summary.requests, summary.duration, all_non_2xx, errors.connect, errors.read, errors.write, errors.timeout,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
      json_counts(all_statuses), json_counts(all_sent)
   ), "\n")
end
