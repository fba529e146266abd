-- :checkhealth tritonize — is the server there, which version, what device and model runtimes.
-- Works with the `health` module of Neovim 0.7–0.9 and vim.health of 0.10+.

local M = {}

local function reporter()
  local h = vim.health
  if h and h.start then
    return h
  end
  local old = require("health")
  return {
    start = old.report_start,
    ok = old.report_ok,
    warn = old.report_warn,
    error = old.report_error,
    info = old.report_info,
  }
end

-- The server command with its last word ("serve") replaced by `words`.
local function sibling_command(cmd, words)
  local out = vim.deepcopy(cmd)
  if out[#out] == "serve" then
    table.remove(out)
  end
  vim.list_extend(out, words)
  return out
end

function M.check()
  local h = reporter()
  local tz = require("tritonize")
  local cmd = tz.config.cmd
  h.start("tritonize: language server")
  if type(cmd) ~= "table" then
    h.info("cmd is not a list; nothing to check")
    return
  end
  local _, problem = tz.check_cmd(cmd)
  if problem then
    h.error(problem)
    return
  end
  h.ok("server command found: " .. table.concat(cmd, " "))
  local version = vim.fn.system(sibling_command(cmd, { "--version" }))
  if vim.v.shell_error ~= 0 then
    h.error("`" .. table.concat(sibling_command(cmd, { "--version" }), " ") .. "` failed: " .. version)
    return
  end
  h.ok("version: " .. vim.trim(version))
  for _, client in ipairs(vim.lsp.get_active_clients and vim.lsp.get_active_clients() or {}) do
    if client.name == "tritonize" then
      h.ok(string.format("running (client %d, root %s)", client.id, tostring(client.config.root_dir)))
    end
  end

  h.start("tritonize: device and model runtimes (tritonize doctor)")
  local raw = vim.fn.system(sibling_command(cmd, { "doctor", "--json" }))
  local ok, doctor = pcall(vim.fn.json_decode, raw)
  if not ok or type(doctor) ~= "table" then
    h.error("`tritonize doctor --json` gave no report: " .. raw:sub(1, 300))
    return
  end
  local devices = doctor.devices
  if type(devices) == "table" and #devices > 0 then
    for _, d in ipairs(devices) do
      h.ok("device: " .. (type(d) == "table" and tostring(d.name or vim.inspect(d)) or tostring(d)))
    end
  else
    h.warn("no GPU: kernels are checked with the Triton interpreter and not timed")
  end
  for name, present in pairs(type(doctor.runtimes) == "table" and doctor.runtimes or {}) do
    if present == true then
      h.ok("model runtime: " .. name)
    else
      h.info("model runtime not installed: " .. name)
    end
  end
  for _, check in ipairs(type(doctor.checks) == "table" and doctor.checks or {}) do
    if check.status ~= "ok" then
      local text = tostring(check.name) .. ": " .. tostring(check.detail)
      local advice = check.fix ~= vim.NIL and check.fix or nil
      if check.status == "error" or check.status == "fail" then
        h.error(text, advice)
      else
        h.warn(text, advice)
      end
    end
  end
end

return M
