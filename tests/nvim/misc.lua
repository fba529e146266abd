-- Headless checks of the plugin that need no conversion: a missing server program, :checkhealth
-- tritonize, and the vim.lsp.config table. Driven by tests/e2e/test_nvim.py like e2e.lua.

local cfg = vim.fn.json_decode(os.getenv("TRITONIZE_NVIM_TEST"))
local out = {}

local function main()
  vim.opt.runtimepath:prepend(cfg.plugin_dir)
  vim.cmd("filetype on")
  local tz = require("tritonize")
  local notified = {}
  local notify = vim.notify
  vim.notify = function(msg, level, opts)
    table.insert(notified, { message = tostring(msg), level = level })
    return notify(msg, level, opts)
  end

  -- 1. the default command with no tritonize on PATH: say what to install or set
  tz.setup({ cmd = { cfg.missing_program, "serve" } })
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.python_file))
  vim.wait(500, function()
    return false
  end)
  out.missing = { notified = notified, client = tz.client(0) ~= nil }

  -- 2. :checkhealth tritonize with the real server command
  tz.setup({ cmd = cfg.cmd })
  vim.cmd("checkhealth tritonize")
  out.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)

  -- 3. preview and choose: a candidate of the stored report, shown as a diff, then accepted or rejected
  tz.setup({ cmd = cfg.cmd, preview = true })
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.preview_file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.wait(20000, function()
    local c = tz.client(bufnr)
    return c ~= nil and c.server_capabilities ~= nil
  end, 50)
  local client = tz.client(bufnr)
  local original = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
  local function choose()
    for i, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
      if line:find("^class ScaledReLU%(") then
        vim.api.nvim_win_set_cursor(0, { i, 8 })
      end
    end
    local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
    params.context = { diagnostics = {}, only = { "refactor.rewrite" } }
    local responses = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", params, 10000) or {}
    local titles, chosen = {}, nil
    for _, a in ipairs((responses[client.id] or {}).result or {}) do
      table.insert(titles, a.title)
      if a.title:find(" — ", 1, true) and not chosen then
        chosen = a
      end
    end
    local done = false
    if chosen then
      tz.run_action(client, bufnr, chosen, function()
        done = true
      end)
      vim.wait(20000, function()
        return done
      end, 50)
    end
    return titles, chosen ~= nil
  end
  local windows_before = #vim.api.nvim_tabpage_list_wins(0)
  local titles, offered = choose()
  local shown = tz.preview ~= nil
  local scratch_text = shown and table.concat(vim.api.nvim_buf_get_lines(tz.preview.scratch, 0, -1, false), "\n") or ""
  local diff_windows = 0
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.wo[win].diff then
      diff_windows = diff_windows + 1
    end
  end
  local unchanged_while_shown = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") == original
  vim.cmd("TritonizeReject")
  local after_reject = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
  choose()
  vim.cmd("TritonizeAccept")
  out.preview = {
    titles = titles,
    offered = offered,
    shown = shown,
    diff_windows = diff_windows,
    scratch_has_kernel = scratch_text:find("class ScaledReLUTriton", 1, true) ~= nil,
    unchanged_while_shown = unchanged_while_shown,
    unchanged_after_reject = after_reject == original,
    windows_before = windows_before,
    windows_after = #vim.api.nvim_tabpage_list_wins(0),
    accepted_text = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n"),
  }

  -- 4. what lsp/tritonize.lua hands vim.lsp.config on 0.11+
  local lsp_cfg = dofile(cfg.plugin_dir .. "/lsp/tritonize.lua")
  out.lsp_config = {
    cmd = lsp_cfg.cmd,
    filetypes = lsp_cfg.filetypes,
    root_markers = lsp_cfg.root_markers,
    document_changes = lsp_cfg.capabilities.workspace.workspaceEdit.documentChanges,
    handlers = vim.tbl_keys(lsp_cfg.handlers),
  }
end

local ok, err = pcall(main)
out.ok = ok
out.error = ok and nil or tostring(err)
local f = assert(io.open(cfg.results, "w"))
f:write(vim.fn.json_encode(out))
f:close()
vim.cmd("qall!")
