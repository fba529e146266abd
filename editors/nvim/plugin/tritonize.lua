-- Creates the :Tritonize* commands when a tritonize server attaches (Neovim 0.8+ has LspAttach),
-- so they work whether the server came from vim.lsp.enable("tritonize"), setup() or elsewhere.
if vim.g.loaded_tritonize then
  return
end
vim.g.loaded_tritonize = true

if vim.fn.has("nvim-0.8") == 1 then
  vim.api.nvim_create_autocmd("LspAttach", {
    group = vim.api.nvim_create_augroup("tritonize_attach", { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == "tritonize" then
        require("tritonize").create_commands()
      end
    end,
  })
end
