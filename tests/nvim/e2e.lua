-- Headless end-to-end run of the tritonize Neovim plugin against the real server.
--
-- Driven by tests/e2e/test_nvim.py: the JSON in $TRITONIZE_NVIM_TEST says which files to open, how
-- to start the server and where to write the results. Every step records what it saw; the
-- pytest side asserts on the JSON, so a failing step shows up with its context.

local cfg = vim.fn.json_decode(os.getenv("TRITONIZE_NVIM_TEST"))
local out = { steps = {}, progress = {} }
local timeout = cfg.timeout_ms or 120000

local function write_results()
  local f = assert(io.open(cfg.results, "w"))
  f:write(vim.fn.json_encode(out))
  f:close()
end

local function step(name, value)
  out.steps[name] = value
  write_results() -- keep partial results if a later step hangs
end

local function buf_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
end

-- Cursor on the class name of `class <name>` (0-based column for LSP, 1-based row for Vim).
local function cursor_on_class(bufnr, name)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    local col = line:find("class " .. name .. "%f[^%w_]")
    if col then
      vim.api.nvim_win_set_cursor(0, { i, col - 1 + #"class " })
      return true
    end
  end
  return false
end

local function hover_text(result)
  if type(result) ~= "table" then
    return ""
  end
  local contents = result.contents
  if type(contents) == "string" then
    return contents
  end
  if type(contents) == "table" and contents.value then
    return contents.value
  end
  local parts = {}
  for _, c in ipairs(contents or {}) do
    table.insert(parts, type(c) == "table" and (c.value or "") or tostring(c))
  end
  return table.concat(parts, "\n")
end

local function err_text(err)
  if err == nil or err == vim.NIL then
    return nil
  end
  return type(err) == "table" and (err.message or vim.inspect(err)) or tostring(err)
end

-- Run one conversion through the plugin and wait for the server's answer.
local function run_convert(tz, start)
  local done, err
  local t0 = vim.loop.hrtime()
  start(function(e, _)
    done, err = true, err_text(e)
  end)
  local finished = vim.wait(timeout, function()
    return done
  end, 50)
  return { finished = finished, error = err, seconds = (vim.loop.hrtime() - t0) / 1e9, pending = tz.pending ~= nil }
end

local function main()
  vim.opt.runtimepath:prepend(cfg.plugin_dir)
  vim.cmd("filetype on")
  local tz = require("tritonize")

  -- The race step arms this: a line typed at the top of the buffer during the verify step.
  local race = { armed = false, bufnr = nil, typed_at = nil }
  vim.api.nvim_create_autocmd("User", {
    pattern = "TritonizeProgress",
    callback = function()
      local p = tz.progress[tz.last_token]
      local line = tz.format_progress(p)
      table.insert(out.progress, { token = tostring(tz.last_token), line = line, done = p.done == true })
      if race.armed and line:find("verify", 1, true) and not p.done then
        race.armed = false
        race.typed_at = line
        vim.api.nvim_buf_set_lines(race.bufnr, 0, 0, false, { "# typed during the last step" })
      end
    end,
  })
  out.notified = {}
  local notify = vim.notify
  vim.notify = function(msg, level, opts)
    table.insert(out.notified, tostring(msg))
    return notify(msg, level, opts)
  end
  tz.setup({ cmd = cfg.cmd, init_options = cfg.init_options, capabilities = cfg.capabilities })

  -- 1. open the module; the FileType autocmd starts the server
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.convert_file))
  local bufnr = vim.api.nvim_get_current_buf()
  local attached = vim.wait(30000, function()
    local c = tz.client(bufnr)
    return c ~= nil and c.server_capabilities ~= nil and c.server_capabilities.codeActionProvider ~= nil
  end, 50)
  local client = tz.client(bufnr)
  step("attach", {
    ok = attached,
    filetype = vim.bo[bufnr].filetype,
    resolve = attached and type(client.server_capabilities.codeActionProvider) == "table"
      and client.server_capabilities.codeActionProvider.resolveProvider == true,
  })
  if not attached then
    return
  end

  -- 2. code actions at the class name
  assert(cursor_on_class(bufnr, cfg.convert_class), "class not found in " .. cfg.convert_file)
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {} }
  local responses = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", params, 10000) or {}
  local actions = (responses[client.id] or {}).result or {}
  local titles = {}
  for _, a in ipairs(actions) do
    table.insert(titles, a.title)
  end
  local action = tz.pick_action(actions)
  step("code_actions", {
    titles = titles,
    picked = action and action.title or nil,
    picked_has_edit = action ~= nil and action.edit ~= nil,
    picked_command = action and (type(action.command) == "table" and action.command.command or action.command) or nil,
  })
  if not action then
    return
  end

  -- 3. run it (resolve or workspace/executeCommand → workspace/applyEdit) and see the edit
  local before = buf_text(bufnr)
  local conv = run_convert(tz, function(cb)
    tz.run_action(client, bufnr, action, cb)
  end)
  vim.wait(5000, function()
    return buf_text(bufnr):find("class " .. cfg.convert_class .. "Triton", 1, true) ~= nil
  end, 50)
  local after = buf_text(bufnr)
  conv.changed = after ~= before
  conv.has_triton_class = after:find("class " .. cfg.convert_class .. "Triton", 1, true) ~= nil
  conv.has_triton_jit = after:find("@triton.jit", 1, true) ~= nil
  conv.original_kept = after:find("class " .. cfg.convert_class .. "(", 1, true) ~= nil
  conv.progress = {}
  for _, p in ipairs(out.progress) do
    table.insert(conv.progress, p.line)
  end
  step("convert", conv)

  -- 4. hover on the original class: the report table from the store
  cursor_on_class(bufnr, cfg.convert_class)
  local hover_params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local hovers = vim.lsp.buf_request_sync(bufnr, "textDocument/hover", hover_params, 10000) or {}
  step("hover", { text = hover_text((hovers[client.id] or {}).result) })

  -- 5. :TritonizeReport's request
  local report_done, report_err, report_result
  tz.report({
    on_done = function(e, r)
      report_done, report_err, report_result = true, err_text(e), r
    end,
  })
  vim.wait(10000, function()
    return report_done
  end, 50)
  local report_text = type(report_result) == "table" and (report_result.markdown or report_result.text) or report_result
  step("report", { finished = report_done == true, error = report_err, text = type(report_text) == "string" and report_text or vim.inspect(report_result) })

  -- 5b. :TritonizeVerify: a hand-written kernel file against the class under the cursor (the
  -- buffer now also holds ScaledReLUTriton, so the class comes from the cursor, not the server)
  cursor_on_class(bufnr, cfg.convert_class)
  local verify_done, verify_err, verify_result
  local v0 = vim.loop.hrtime()
  tz.verify(cfg.verify_candidate, {
    on_done = function(e, r)
      verify_done, verify_err, verify_result = true, err_text(e), r
    end,
  })
  vim.wait(timeout, function()
    return verify_done
  end, 50)
  local verdict = type(verify_result) == "table" and tz.verdict_line(verify_result) or nil
  step("verify", {
    finished = verify_done == true,
    error = verify_err,
    verdict = verdict,
    passed = type(verify_result) == "table" and verify_result.passed or nil,
    text = type(verify_result) == "table" and verify_result.text or vim.inspect(verify_result),
    seconds = (vim.loop.hrtime() - v0) / 1e9,
    command = vim.fn.exists(":TritonizeVerify") == 2,
    completes_files = vim.fn.getcompletion("TritonizeVerify " .. vim.fn.fnamemodify(cfg.verify_candidate, ":h") .. "/scale_relu_k", "cmdline"),
  })
  -- the command itself: the verdict's full text opens in a scratch split
  local windows = #vim.api.nvim_list_wins()
  local notified_before = #out.notified
  local messages_before = #vim.split(vim.fn.execute("messages"), "\n")
  vim.cmd("TritonizeVerify " .. vim.fn.fnameescape(cfg.verify_candidate))
  vim.wait(timeout, function()
    return #vim.api.nvim_list_wins() > windows
  end, 50)
  vim.wait(300, function()
    return false
  end) -- a late duplicate (showMessage, a progress line) would show up by now
  local split = vim.api.nvim_get_current_buf()
  local new_messages = {}
  for i, line in ipairs(vim.split(vim.fn.execute("messages"), "\n")) do
    if i > messages_before and line:find("PASS", 1, true) then
      table.insert(new_messages, line)
    end
  end
  local new_notified = {}
  for i = notified_before + 1, #out.notified do
    table.insert(new_notified, out.notified[i])
  end
  step("verify_command", {
    split_opened = #vim.api.nvim_list_wins() > windows,
    first_line = vim.api.nvim_buf_get_lines(split, 0, 1, false)[1],
    buftype = vim.bo[split].buftype,
    verdict_messages = new_messages,
    notified = new_notified,
  })
  if split ~= bufnr then
    vim.cmd("close")
  end

  -- 6. a module without an input recipe: the conversion fails with a diagnostic
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.fail_file))
  local fail_buf = vim.api.nvim_get_current_buf()
  vim.wait(10000, function()
    return tz.client(fail_buf) ~= nil
  end, 50)
  assert(cursor_on_class(fail_buf, cfg.fail_class), "class not found in " .. cfg.fail_file)
  local fail = run_convert(tz, function(cb)
    tz.convert({ on_done = cb })
  end)
  vim.wait(10000, function()
    return #vim.diagnostic.get(fail_buf) > 0
  end, 50)
  fail.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(fail_buf)) do
    table.insert(fail.diagnostics, { source = d.source, message = d.message, lnum = d.lnum })
  end
  fail.changed = buf_text(fail_buf):find("NoRecipeTriton", 1, true) ~= nil
  step("fail", fail)

  -- 7. cancel a conversion once it reports progress (the cache is off in the test settings)
  vim.cmd("buffer " .. bufnr)
  cursor_on_class(bufnr, cfg.convert_class)
  local rerun_params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  rerun_params.context = { diagnostics = {} }
  local rerun = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", rerun_params, 10000) or {}
  local rerun_action = tz.pick_action((rerun[client.id] or {}).result)
  out.progress = {}
  local cancel_sent = false
  local cancelled = run_convert(tz, function(cb)
    tz.convert({ on_done = cb })
    vim.wait(timeout, function()
      return #out.progress > 0
    end, 20)
    cancel_sent = tz.cancel()
  end)
  cancelled.action = rerun_action and rerun_action.title or nil
  cancelled.cancel_sent = cancel_sent
  cancelled.progress_ended = vim.wait(30000, function()
    for _, p in pairs(tz.progress) do
      if not p.done then
        return false
      end
    end
    return true
  end, 50)
  cancelled.progress = {}
  for _, p in ipairs(out.progress) do
    table.insert(cancelled.progress, p.line)
  end
  local _, count = buf_text(bufnr):gsub("class " .. cfg.convert_class .. "Triton%(", "")
  cancelled.triton_classes = count
  step("cancel", cancelled)

  -- 8. the race: a line typed at the top while the conversion verifies, and Neovim holding the
  -- change back (its didChange debounce, made long here so the server surely computes the edit
  -- for the old text). The kernel must still land after the class, not one line too high.
  client.config.flags = client.config.flags or {}
  client.config.flags.debounce_text_changes = 3000 -- read when a buffer attaches
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.race_file))
  local race_buf = vim.api.nvim_get_current_buf()
  vim.wait(10000, function()
    return tz.client(race_buf) ~= nil
  end, 50)
  assert(cursor_on_class(race_buf, cfg.convert_class), "class not found in " .. cfg.race_file)
  race.bufnr, race.armed = race_buf, true
  local raced = run_convert(tz, function(cb)
    tz.convert({ on_done = cb })
  end)
  vim.wait(5000, function()
    return buf_text(race_buf):find("Triton(", 1, true) ~= nil
  end, 50)
  raced.typed_at = race.typed_at
  raced.text = buf_text(race_buf)
  step("race", raced)
end

local ok, err = pcall(main)
out.ok = ok
out.error = ok and nil or tostring(err)
out.messages = vim.fn.execute("messages")
write_results()
vim.cmd("qall!")
