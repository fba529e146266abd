-- tritonize for Neovim: starts `tritonize serve` for Python buffers and adds
--   :TritonizeConvert  convert the nn.Module under the cursor (code action, applied when ready)
--   :TritonizeCancel   cancel the conversion in flight
--   :TritonizeReport   show the last report for the module under the cursor
--   :TritonizeVerify {file}  verify a hand-written kernel file (defining ModelNew) against the
--                      module class under the cursor (or the file's `Model` / only class)
--
-- Works on Neovim 0.7 (vim.lsp.start_client) through 0.11+ (vim.lsp.start). Hover and
-- diagnostics are plain LSP and need nothing from this file.
--
--   require("tritonize").setup({
--     cmd = { "python3", "-m", "tritonize.cli.main", "serve" },
--     init_options = { generators = { "template", "inductor" }, n = 2 },
--   })

local M = {}

local NAME = "tritonize"
local CONVERT_KIND = "refactor.rewrite"

local defaults = {
  cmd = { "tritonize", "serve" },
  filetypes = { "python" },
  -- Files that mark a project root; the server runs once per root.
  root_markers = { "pyproject.toml", "setup.py", "setup.cfg", ".git" },
  -- Sent as initializationOptions and answered for workspace/configuration (section "tritonize").
  init_options = {},
  -- Extra client capabilities merged over Neovim's defaults.
  capabilities = nil,
  -- "echo": one line in the command area per $/progress update; false: silent (use the
  -- `User TritonizeProgress` autocmd or require("tritonize").status() in a statusline instead).
  progress = "echo",
  on_attach = nil,
}

M.config = vim.deepcopy(defaults)

-- token -> { client_id, title, message, percentage, cancellable, done }
M.progress = {}
-- the request (codeAction/resolve or workspace/executeCommand) of the conversion in flight
M.pending = nil
-- client ids started by this plugin on Neovim 0.7, keyed by root directory
local clients_by_root = {}

local has_011 = vim.fn.has("nvim-0.11") == 1

-- Client methods are called with ':' from 0.11 on (the '.' form is deprecated there).
local function call(client, method, ...)
  if has_011 then
    return client[method](client, ...)
  end
  return client[method](...)
end

local function notify(msg, level)
  vim.notify("tritonize: " .. msg, level or vim.log.levels.INFO)
end

--- The running tritonize client attached to `bufnr` (or nil).
function M.client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local found
  if vim.lsp.get_clients then
    found = vim.lsp.get_clients({ bufnr = bufnr, name = NAME })
  else
    found = {}
    for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
      if c.name == NAME then
        table.insert(found, c)
      end
    end
  end
  return found[1]
end

local function find_root(path, markers)
  local dir = vim.fn.fnamemodify(path, ":p:h")
  local probe = dir
  while probe and probe ~= "" do
    for _, marker in ipairs(markers) do
      if vim.loop.fs_stat(probe .. "/" .. marker) then
        return probe
      end
    end
    local parent = vim.fn.fnamemodify(probe, ":h")
    if parent == probe then
      break
    end
    probe = parent
  end
  return dir
end

-- ---- progress ------------------------------------------------------------------------------

--- One line describing a progress entry, e.g. "Tritonize FusedGeluScale: verify 2/4 (50%)".
function M.format_progress(p)
  local line = p.title or "Tritonize"
  if p.message and p.message ~= "" then
    line = line .. ": " .. p.message
  end
  if p.percentage and not p.done then
    line = line .. string.format(" (%d%%)", p.percentage)
  end
  if p.done then
    line = line .. " — done"
  end
  return line
end

--- The newest unfinished conversion's progress line, for statuslines ("" when idle).
function M.status()
  for _, p in pairs(M.progress) do
    if not p.done then
      return M.format_progress(p)
    end
  end
  return ""
end

local function record_progress(result, ctx)
  local value = result.value
  if type(value) ~= "table" or not value.kind then
    return nil
  end
  local token = result.token
  local entry = M.progress[token] or { client_id = ctx.client_id }
  if value.kind == "begin" then
    entry.title = value.title
    entry.cancellable = value.cancellable
    entry.done = false
  elseif value.kind == "end" then
    entry.done = true
  end
  if value.message then
    entry.message = value.message
  end
  if value.percentage then
    entry.percentage = value.percentage
  end
  if value.cancellable ~= nil then
    entry.cancellable = value.cancellable
  end
  M.progress[token] = entry
  M.last_token = token
  return entry
end

local function progress_handler(err, result, ctx, config)
  local entry = result and record_progress(result, ctx)
  -- Keep Neovim's own bookkeeping (LspProgressUpdate on 0.7–0.9, LspProgress on 0.10+) so
  -- statusline plugins such as fidget.nvim keep working.
  local default = vim.lsp.handlers["$/progress"]
  if default then
    pcall(default, err, result, ctx, config)
  end
  if not entry then
    return
  end
  if M.config.progress == "echo" then
    vim.api.nvim_echo({ { M.format_progress(entry), entry.done and "None" or "MoreMsg" } }, false, {})
  end
  pcall(vim.api.nvim_exec_autocmds, "User", { pattern = "TritonizeProgress", modeline = false })
end

-- ---- starting the server -------------------------------------------------------------------

local function client_config(bufnr)
  local cfg = M.config
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  if cfg.capabilities then
    capabilities = vim.tbl_deep_extend("force", capabilities, cfg.capabilities)
  end
  local path = vim.api.nvim_buf_get_name(bufnr)
  local root = find_root(path ~= "" and path or vim.fn.getcwd() .. "/x", cfg.root_markers)
  return {
    name = NAME,
    cmd = cfg.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = cfg.init_options,
    settings = { tritonize = cfg.init_options },
    capabilities = capabilities,
    handlers = { ["$/progress"] = progress_handler },
    on_attach = cfg.on_attach,
  }
end

--- Start (or reuse) the server for `bufnr` and attach it. Returns the client id.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local config = client_config(bufnr)
  if vim.lsp.start then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  -- Neovim 0.7: one client per root, started by hand.
  local id = clients_by_root[config.root_dir]
  if not id or not vim.lsp.get_client_by_id(id) then
    id = vim.lsp.start_client(config)
    clients_by_root[config.root_dir] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

-- ---- conversion ----------------------------------------------------------------------------

--- The "Convert <Name> to Triton kernel" action among a codeAction response (or nil).
function M.pick_action(actions)
  for _, action in ipairs(actions or {}) do
    local command = type(action.command) == "table" and action.command.command or action.command
    local title = action.title or ""
    -- "Convert X to Triton kernel", or "Re-run conversion of X to Triton" once X has a kernel
    local is_convert = (action.kind == CONVERT_KIND and (title:match("^Convert ") or title:match("^Re%-run ")))
      or command == "tritonize.convert"
    if is_convert then
      return action
    end
  end
  return nil
end

-- A conversion in flight. Neovim drops the response of a request it cancelled (RequestCancelled
-- is muted in its RPC layer), so :TritonizeCancel finishes the job itself, and a late answer for
-- a cancelled job is ignored rather than applied.
local function new_job(client, on_done)
  return { client_id = client.id, on_done = on_done, cancelled = false, finished = false }
end

local function finish(job, err, result)
  if job.finished then
    return
  end
  job.finished = true
  if M.pending == job then
    M.pending = nil
  end
  if job.on_done then
    job.on_done(err, result)
  elseif err then
    notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
  end
end

-- Send a request that belongs to `job`; its handler runs only while the job is live.
local function job_request(job, client, bufnr, method, params, handler)
  local ok, id = call(client, "request", method, params, function(err, result)
    if not job.cancelled then
      handler(err, result)
    end
  end, bufnr)
  if not ok then
    return finish(job, { message = "the tritonize server is not running" }, nil)
  end
  job.request_id = id
  M.pending = job
end

local function execute_command(job, client, bufnr, command)
  local params = { command = command.command, arguments = command.arguments }
  job_request(job, client, bufnr, "workspace/executeCommand", params, function(err, result)
    finish(job, err, result)
  end)
end

--- Apply a resolved action: its edit, then its command (the server applies its own edit then).
local function apply_action(job, client, bufnr, action)
  if action.edit then
    vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
  end
  if type(action.command) == "table" then
    return execute_command(job, client, bufnr, action.command)
  end
  finish(job, nil, action)
end

--- Run one code action from the server: a bare Command, a CodeAction with an edit or a
--- command, or a CodeAction carrying only `data` that codeAction/resolve turns into an edit.
--- `on_done(err, result)` runs once, when the server answered or the job was cancelled.
function M.run_action(client, bufnr, action, on_done)
  local job = new_job(client, on_done)
  if type(action.command) == "string" then
    execute_command(job, client, bufnr, action)
    return job
  end
  local provider = client.server_capabilities and client.server_capabilities.codeActionProvider
  local can_resolve = type(provider) == "table" and provider.resolveProvider
  if not action.edit and not action.command and action.data ~= nil and can_resolve then
    job_request(job, client, bufnr, "codeAction/resolve", action, function(err, resolved)
      if err then
        return finish(job, err, nil)
      end
      apply_action(job, client, bufnr, resolved or action)
    end)
    return job
  end
  apply_action(job, client, bufnr, action)
  return job
end

local function request_actions(client, bufnr, only, callback)
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {}, only = only }
  call(client, "request", "textDocument/codeAction", params, callback, bufnr)
end

--- Convert the module under the cursor. `on_done(err, result)` runs when the server is done
--- (default: errors are reported with vim.notify).
function M.convert(opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  local function fail(message, level)
    if opts.on_done then
      return opts.on_done({ message = message }, nil)
    end
    notify(message, level or vim.log.levels.WARN)
  end
  if not client then
    return fail("no tritonize server attached to this buffer")
  end
  if M.pending then
    return fail("a conversion is already running (:TritonizeCancel stops it)")
  end
  request_actions(client, bufnr, { CONVERT_KIND }, function(err, actions)
    if err then
      return fail(err.message or vim.inspect(err), vim.log.levels.ERROR)
    end
    local action = M.pick_action(actions)
    if not action then
      return fail("the cursor is not on an nn.Module class")
    end
    M.run_action(client, bufnr, action, opts.on_done)
  end)
end

--- Cancel the conversion in flight: `window/workDoneProgress/cancel` for its progress token(s)
--- and `$/cancelRequest` for the pending request. Returns whether anything was cancelled.
function M.cancel()
  local cancelled = false
  for token, p in pairs(M.progress) do
    local client = vim.lsp.get_client_by_id(p.client_id)
    if client and not p.done and p.cancellable ~= false then
      call(client, "notify", "window/workDoneProgress/cancel", { token = token })
      cancelled = true
    end
  end
  local job = M.pending
  if job then
    job.cancelled = true
    local client = vim.lsp.get_client_by_id(job.client_id)
    if client and job.request_id then
      call(client, "cancel_request", job.request_id)
    end
    finish(job, { code = -32800, message = "cancelled" }, nil)
    cancelled = true
  end
  if not cancelled then
    notify("nothing to cancel")
  end
  return cancelled
end

local function show_text(text)
  local lines = vim.split(text, "\n", { plain = true })
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].filetype = "markdown"
  vim.bo[buf].modifiable = false
  return buf
end

--- The `tritonize.showReport` command among a codeAction response (or nil).
function M.pick_report(actions)
  for _, action in ipairs(actions or {}) do
    local command = type(action.command) == "table" and action.command or action
    if command.command == "tritonize.showReport" then
      return command
    end
  end
  return nil
end

--- Show the report of the module under the cursor (the server's "Show conversion report"
--- action) in a scratch split. `opts.on_done(err, result)` replaces the split (tests).
function M.report(opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  local function done(err, result)
    if opts.on_done then
      return opts.on_done(err, result)
    end
    if err then
      return notify(err.message or vim.inspect(err), vim.log.levels.WARN)
    end
    local text = type(result) == "table" and (result.text or result.markdown) or result
    if type(text) == "string" and text ~= "" then
      show_text(text)
    end
  end
  if not client then
    return done({ message = "no tritonize server attached to this buffer" }, nil)
  end
  request_actions(client, bufnr, nil, function(err, actions)
    if err then
      return done(err, nil)
    end
    local command = M.pick_report(actions)
    if not command then
      return done({ message = "no report yet for the module under the cursor (:TritonizeConvert first)" }, nil)
    end
    local params = { command = command.command, arguments = command.arguments }
    call(client, "request", "workspace/executeCommand", params, done, bufnr)
  end)
end

-- ---- verifying a hand-written kernel --------------------------------------------------------

--- The module class a codeAction response is about (`data.class`, or its command's arguments).
function M.class_from_actions(actions)
  for _, action in ipairs(actions or {}) do
    local command = type(action.command) == "table" and action.command or action
    local payload = action.data
    if type(payload) ~= "table" and type(command.arguments) == "table" then
      payload = command.arguments[1]
    end
    if type(payload) == "table" and type(payload.class) == "string" then
      return payload.class
    end
  end
  return nil
end

--- The `tritonize.verifyCandidate` argument object for the problem buffer and a candidate file.
--- A modified buffer holding the candidate sends its text too (the server prefers it).
function M.verify_args(bufnr, candidate_path, class_name)
  local path = vim.fn.fnamemodify(vim.fn.expand(candidate_path), ":p")
  local args = { uri = vim.uri_from_bufnr(bufnr), candidatePath = path, className = class_name }
  local cand_buf = vim.fn.bufnr(path)
  if cand_buf > 0 and vim.api.nvim_buf_is_loaded(cand_buf) and vim.bo[cand_buf].modified then
    args.candidate = table.concat(vim.api.nvim_buf_get_lines(cand_buf, 0, -1, false), "\n") .. "\n"
  end
  return args
end

--- The one-line verdict of a verifyCandidate answer, and the log level to show it at.
function M.verdict_line(result)
  if type(result) ~= "table" then
    return "verify: no answer from the server", vim.log.levels.WARN
  end
  if result.cancelled then
    return "verify: cancelled", vim.log.levels.INFO
  end
  if type(result.error) == "table" then
    return string.format("verify: cannot verify (%s): %s", tostring(result.error.kind), tostring(result.error.message)),
      vim.log.levels.WARN
  end
  local first = (type(result.text) == "string" and vim.split(result.text, "\n", { plain = true })[1] or "")
    :gsub("%s+", " ")
  if first == "" then
    first = (result.passed and "PASS " or "FAIL ") .. tostring(result.candidate_id)
  end
  if result.passed then
    return first, vim.log.levels.INFO
  end
  local message = type(result.message) == "string" and result.message ~= "" and (": " .. result.message) or ""
  return first .. message, vim.log.levels.ERROR
end

--- Verify `candidate_path` (a module defining ModelNew) against the module class under the
--- cursor of the current buffer (without one, the server picks `Model` or the only class).
--- Echoes the verdict and opens the full text in a scratch split; `opts.on_done(err, result)`
--- replaces both (tests). :TritonizeCancel cancels it.
function M.verify(candidate_path, opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  local function done(err, result)
    if opts.on_done then
      return opts.on_done(err, result)
    end
    if err then
      return notify(err.message or vim.inspect(err), vim.log.levels.WARN)
    end
    local line, level = M.verdict_line(result)
    local hl = level == vim.log.levels.INFO and "MoreMsg" or (level == vim.log.levels.ERROR and "ErrorMsg" or "WarningMsg")
    if type(result) == "table" and type(result.text) == "string" and result.text ~= "" then
      show_text(result.text)
    end
    vim.api.nvim_echo({ { "tritonize: " .. line, hl } }, true, {})
  end
  if not client then
    return done({ message = "no tritonize server attached to this buffer" }, nil)
  end
  if not candidate_path or candidate_path == "" then
    return done({ message = "usage: :TritonizeVerify {kernel_file.py}" }, nil)
  end
  if M.pending then
    return done({ message = "a conversion is already running (:TritonizeCancel stops it)" }, nil)
  end
  request_actions(client, bufnr, { CONVERT_KIND }, function(err, actions)
    -- No class under the cursor (or no answer): let the server pick.
    local class_name = not err and M.class_from_actions(actions) or nil
    local job = new_job(client, done)
    local command = { command = "tritonize.verifyCandidate", arguments = { M.verify_args(bufnr, candidate_path, class_name) } }
    execute_command(job, client, bufnr, command)
  end)
end

-- ---- setup ---------------------------------------------------------------------------------

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  local group = vim.api.nvim_create_augroup("tritonize", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  vim.api.nvim_create_user_command("TritonizeConvert", function()
    M.convert()
  end, { desc = "Convert the nn.Module under the cursor to a Triton kernel" })
  vim.api.nvim_create_user_command("TritonizeCancel", function()
    M.cancel()
  end, { desc = "Cancel the running tritonize conversion" })
  vim.api.nvim_create_user_command("TritonizeReport", function()
    M.report()
  end, { desc = "Show the tritonize report for the module under the cursor" })
  vim.api.nvim_create_user_command("TritonizeVerify", function(args)
    M.verify(args.args)
  end, { nargs = 1, complete = "file", desc = "Verify a kernel file (defining ModelNew) against the module under the cursor" })
  -- Buffers that were already open when setup ran.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
      M.attach(buf)
    end
  end
end

return M
