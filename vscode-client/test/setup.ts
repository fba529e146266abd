// Mocha setup: `require("vscode")` in the extension's modules gets the test double.
import Module from "module";
import * as path from "path";

const double = path.join(__dirname, "vscode-double.js");
const mod = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const original = mod._resolveFilename;
mod._resolveFilename = function (request: string, ...rest: unknown[]): string {
  if (request === "vscode") {
    return double;
  }
  return original.call(this, request, ...rest);
};
