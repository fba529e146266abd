-- Neovim 0.11+: the server's configuration for vim.lsp.config / vim.lsp.enable.
--
--   vim.lsp.enable("tritonize")
--   vim.lsp.config("tritonize", { init_options = { generators = { "template" } } })  -- optional
--
-- The commands (:TritonizeConvert, ...) are created when the server attaches (plugin/tritonize.lua),
-- however it was started. Neovim 0.7–0.10: use require("tritonize").setup() instead.
return require("tritonize").lsp_config()
