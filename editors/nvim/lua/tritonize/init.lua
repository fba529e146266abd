-- tritonize for Neovim: starts `tritonize serve` for Python buffers and adds
--   :TritonizeConvert  convert the nn.Module under the cursor (code action, applied when ready)
--   :TritonizeCancel   cancel the conversion in flight
--   :TritonizeReport   show the last report for the module under the cursor
--   :TritonizeVerify {file}  verify a hand-written kernel file (defining ModelNew) against the
--                      module class under the cursor (or the file's `Model` / only class)
--   :TritonizeAccept / :TritonizeReject  apply or drop the edit shown as a diff (preview = true)
--
-- Edits are applied only to the buffer version they were computed for (versioned edits are
-- advertised, and an edit for another version is refused: the server then finds the class again
-- and sends a new one). :checkhealth tritonize checks the server, its version and the device.
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
  -- Passed to the client as-is (e.g. { debounce_text_changes = 150 }).
  flags = nil,
  -- Show a conversion's edit as a diff in a split and apply it only when accepted.
  preview = false,
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

-- ---- preview: a diff to accept or reject ---------------------------------------------------

-- the edit on show: { edit, offset_encoding, bufnr, scratch, windows }
M.preview = nil

local function close_preview()
  local p = M.preview
  M.preview = nil
  if not p then
    return
  end
  for _, win in ipairs({ p.source_win, p.win }) do
    if vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_call(win, function()
        vim.cmd("diffoff")
      end)
    end
  end
  if vim.api.nvim_win_is_valid(p.win) and #vim.api.nvim_list_wins() > 1 then
    vim.api.nvim_win_close(p.win, true)
  end
  if vim.api.nvim_buf_is_valid(p.scratch) then
    vim.api.nvim_buf_delete(p.scratch, { force = true })
  end
end

--- Show `edit` (one buffer's text edits) as a diff in a split: the buffer beside its text with
--- the edit applied. :TritonizeAccept (or `ga` in the split) applies it, :TritonizeReject (`gr`)
--- drops it. Returns true, nil once shown.
function M.preview_edit(edit, offset_encoding)
  local uri, edits
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and change.edits then
      uri, edits = change.textDocument.uri, change.edits
    end
  end
  if not uri then
    uri, edits = next(edit.changes or {})
  end
  if not uri then
    return false, "nothing to preview"
  end
  close_preview()
  local bufnr = vim.uri_to_bufnr(uri)
  vim.fn.bufload(bufnr)
  local scratch = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(scratch, 0, -1, false, vim.api.nvim_buf_get_lines(bufnr, 0, -1, false))
  vim.lsp.util.apply_text_edits(edits, scratch, offset_encoding)
  vim.bo[scratch].filetype = vim.bo[bufnr].filetype
  vim.bo[scratch].modifiable = false
  vim.bo[scratch].bufhidden = "wipe"
  local source_win = vim.fn.bufwinid(bufnr)
  if source_win == -1 then
    vim.cmd("buffer " .. bufnr)
    source_win = vim.api.nvim_get_current_win()
  end
  vim.api.nvim_set_current_win(source_win)
  vim.cmd("diffthis")
  vim.cmd("vertical rightbelow split")
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, scratch)
  vim.cmd("diffthis")
  pcall(vim.api.nvim_buf_set_name, scratch, "tritonize://preview/" .. vim.fn.fnamemodify(vim.uri_to_fname(uri), ":t"))
  for key, fn in pairs({ ga = M.accept, gr = M.reject }) do
    vim.api.nvim_buf_set_keymap(scratch, "n", key, "", { callback = fn, noremap = true, desc = "tritonize preview" })
  end
  M.preview = { edit = edit, offset_encoding = offset_encoding, bufnr = bufnr, scratch = scratch, win = win, source_win = source_win }
  notify("preview: :TritonizeAccept (ga) applies the kernel, :TritonizeReject (gr) drops it")
  return true, nil
end

--- Apply the previewed edit (unless the buffer changed since it was computed). Returns applied.
function M.accept()
  local p = M.preview
  if not p then
    notify("no preview to accept")
    return false
  end
  local reason = M.stale_reason(p.edit)
  close_preview()
  if reason then
    notify("not applied: " .. reason .. "; convert again", vim.log.levels.WARN)
    return false
  end
  vim.lsp.util.apply_workspace_edit(p.edit, p.offset_encoding)
  return true
end

function M.reject()
  if not M.preview then
    notify("no preview to reject")
    return false
  end
  close_preview()
  return true
end

-- One message per verdict: the plugin shows a verification's result itself, so the progress
-- bar's closing line for it is not echoed too.
local function shows_own_result(entry)
  local job = M.pending
  return entry.done and job ~= nil and job.shows_result and entry.client_id == job.client_id
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
  if M.config.progress == "echo" and not shows_own_result(entry) then
    vim.api.nvim_echo({ { M.format_progress(entry), entry.done and "None" or "MoreMsg" } }, false, {})
  end
  pcall(vim.api.nvim_exec_autocmds, "User", { pattern = "TritonizeProgress", modeline = false })
end

-- ---- starting the server -------------------------------------------------------------------

-- ---- edits that land where they were meant to ---------------------------------------------

-- The LSP version of a buffer: what Neovim last told the server (its changedtick).
local function buffer_version(bufnr)
  local versions = vim.lsp.util.buf_versions
  local v = versions and versions[bufnr]
  if type(v) == "number" then
    return v
  end
  return vim.api.nvim_buf_get_changedtick(bufnr)
end

--- Why `edit` must not be applied now (a string), or nil. An edit pinned to a version applies
--- only to that version of its buffer; an unpinned edit for the buffer of the conversion in flight
--- applies only while the buffer is as it was when the conversion started.
function M.stale_reason(edit)
  if type(edit) ~= "table" then
    return nil
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    local doc = change.textDocument
    if type(doc) == "table" and type(doc.version) == "number" then
      local bufnr = vim.uri_to_bufnr(doc.uri)
      if vim.api.nvim_buf_is_loaded(bufnr) and buffer_version(bufnr) ~= doc.version then
        return string.format("the buffer changed after the edit was computed (version %d, buffer at %d)",
          doc.version, buffer_version(bufnr))
      end
    end
  end
  local job = M.pending
  if job and job.bufnr and job.tick and type(edit.changes) == "table" then
    for uri, _ in pairs(edit.changes) do
      local bufnr = vim.uri_to_bufnr(uri)
      if bufnr == job.bufnr and buffer_version(bufnr) ~= job.tick then
        local reason = string.format("the buffer changed during the conversion (version %d, buffer at %d)",
          job.tick, buffer_version(bufnr))
        -- The server re-sends once it has heard of this change: an edit made after it is for now.
        job.tick = buffer_version(bufnr)
        return reason
      end
    end
  end
  return nil
end

--- Apply a WorkspaceEdit unless it is stale. Returns applied, reason. With `preview`, the edit
--- is shown as a diff to accept or reject instead (see M.preview_edit).
function M.apply_edit(edit, offset_encoding, preview)
  local reason = M.stale_reason(edit)
  if reason then
    return false, reason
  end
  if preview then
    return M.preview_edit(edit, offset_encoding)
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, edit, offset_encoding)
  return ok, (not ok) and tostring(err) or nil
end

-- workspace/applyEdit from the tritonize server: refused (applied = false, with the reason) when
-- the buffer moved on; the server then finds the class again and sends a new edit.
local function apply_edit_handler(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local applied, reason = M.apply_edit(params and params.edit, client and client.offset_encoding or "utf-16")
  if not applied and client then
    -- Send the changes Neovim is still holding back (its didChange debounce) before this answer,
    -- so the server can find the class in the current text right away.
    pcall(call, client, "notify", "tritonize/sync", {})
  end
  return { applied = applied, failureReason = reason }
end

--- The server command, or nil and what to do when its program is missing (instead of Neovim's
--- generic "spawn failed").
function M.check_cmd(cmd)
  local program = type(cmd) == "table" and cmd[1] or nil
  if type(program) ~= "string" then
    return cmd -- a function (0.10+ RPC) or something only Neovim understands
  end
  if vim.fn.executable(program) == 1 then
    return cmd
  end
  return nil, string.format(
    "cannot start the language server: `%s` is not on PATH. Install it into the Python you use "
      .. "(`python -m pip install tritonize`, or `pip install -e .` in a checkout) or point the plugin "
      .. "at that Python: require(\"tritonize\").setup({ cmd = { \"/path/to/python\", \"-m\", "
      .. "\"tritonize.cli.main\", \"serve\" } }). :checkhealth tritonize says more.",
    program)
end

local function client_config(bufnr)
  local cfg = M.config
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  -- Neovim applies versioned edits (documentChanges) since 0.5 but 0.7 does not say so: say it,
  -- so every edit from the server is pinned to the buffer version it was computed for.
  capabilities.workspace = capabilities.workspace or {}
  capabilities.workspace.workspaceEdit = capabilities.workspace.workspaceEdit or {}
  capabilities.workspace.workspaceEdit.documentChanges = true
  if cfg.preview then
    -- The plugin resolves actions itself so it can show their edit before applying it.
    capabilities.textDocument.codeAction.resolveSupport = { properties = { "edit" } }
    capabilities.textDocument.codeAction.dataSupport = true
  end
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
    flags = cfg.flags,
    capabilities = capabilities,
    handlers = { ["$/progress"] = progress_handler, ["workspace/applyEdit"] = apply_edit_handler },
    on_attach = cfg.on_attach,
  }
end

--- Start (or reuse) the server for `bufnr` and attach it. Returns the client id.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local config = client_config(bufnr)
  local cmd, problem = M.check_cmd(config.cmd)
  if not cmd then
    if not M.cmd_problem_shown then
      M.cmd_problem_shown = true
      notify(problem, vim.log.levels.ERROR)
    end
    M.cmd_problem = problem
    return nil
  end
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
local function new_job(client, on_done, bufnr)
  return {
    client_id = client.id,
    on_done = on_done,
    cancelled = false,
    finished = false,
    bufnr = bufnr,
    tick = bufnr and buffer_version(bufnr) or nil,
  }
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

local RESOLVE_ATTEMPTS = 3
local resolve

--- Apply a resolved action: its edit, then its command (the server applies its own edit then).
--- An edit for an older version of the buffer is not applied: the action is resolved again (the
--- request first sends the pending changes, and the server finds the class where it is now).
local function apply_action(job, client, bufnr, action)
  if action.edit then
    local applied, reason = M.apply_edit(action.edit, client.offset_encoding, M.config.preview)
    if not applied then
      job.attempts = (job.attempts or 1) + 1
      if M.stale_reason(action.edit) and job.attempts <= RESOLVE_ATTEMPTS and action.data ~= nil then
        return resolve(job, client, bufnr, action)
      end
      return finish(job, { message = "the kernel was not inserted: " .. tostring(reason) }, nil)
    end
  end
  if type(action.command) == "table" then
    return execute_command(job, client, bufnr, action.command)
  end
  finish(job, nil, action)
end

resolve = function(job, client, bufnr, action)
  local request = vim.deepcopy(action)
  request.edit = nil
  job_request(job, client, bufnr, "codeAction/resolve", request, function(err, resolved)
    if err then
      return finish(job, err, nil)
    end
    apply_action(job, client, bufnr, resolved or action)
  end)
end

--- Run one code action from the server: a bare Command, a CodeAction with an edit or a
--- command, or a CodeAction carrying only `data` that codeAction/resolve turns into an edit.
--- `on_done(err, result)` runs once, when the server answered or the job was cancelled.
function M.run_action(client, bufnr, action, on_done)
  local job = new_job(client, on_done, bufnr)
  if type(action.command) == "string" then
    execute_command(job, client, bufnr, action)
    return job
  end
  local provider = client.server_capabilities and client.server_capabilities.codeActionProvider
  local can_resolve = type(provider) == "table" and provider.resolveProvider
  if not action.edit and not action.command and action.data ~= nil and can_resolve then
    resolve(job, client, bufnr, action)
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
    job.shows_result = true
    local args = M.verify_args(bufnr, candidate_path, class_name)
    args.quiet = true -- the verdict is shown here, once
    local command = { command = "tritonize.verifyCandidate", arguments = { args } }
    execute_command(job, client, bufnr, command)
  end)
end

-- ---- setup ---------------------------------------------------------------------------------

--- The :Tritonize* user commands (created once; setup() and LspAttach both call this).
function M.create_commands()
  if M.commands_created then
    return
  end
  M.commands_created = true
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
  vim.api.nvim_create_user_command("TritonizeAccept", function()
    M.accept()
  end, { desc = "Apply the previewed tritonize edit" })
  vim.api.nvim_create_user_command("TritonizeReject", function()
    M.reject()
  end, { desc = "Drop the previewed tritonize edit" })
end

--- The client configuration for vim.lsp.config (Neovim 0.11+, see lsp/tritonize.lua): the same
--- command, capabilities and handlers as setup() uses, root found by root_markers.
function M.lsp_config()
  local cfg = M.config
  local config = client_config(vim.api.nvim_get_current_buf())
  config.root_dir = nil
  config.workspace_folders = nil
  config.root_markers = cfg.root_markers
  config.filetypes = cfg.filetypes
  local _, problem = M.check_cmd(config.cmd)
  if problem then
    notify(problem, vim.log.levels.ERROR)
  end
  return config
end

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
  M.create_commands()
  -- Buffers that were already open when setup ran.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
      M.attach(buf)
    end
  end
end

return M
