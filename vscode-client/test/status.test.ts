import * as assert from "assert";
import { STATUS_ACTIONS, installCommand, isTritonizeCheckout, shellLine, statusActions, statusText } from "../src/status";
import { packageJson } from "./helpers";

describe("status bar item", () => {
  it("shows state, version and device, and offers restart and the log", () => {
    const running = statusText({ state: "running", version: "0.1.0", device: "NVIDIA H100 80GB HBM3", interpreter: ["/venv/bin/python"] });
    assert.strictEqual(running.text, "$(zap) Tritonize 0.1.0");
    assert.match(running.tooltip, /running 0\.1\.0/);
    assert.match(running.tooltip, /device: NVIDIA H100 80GB HBM3/);
    assert.match(running.tooltip, /interpreter: \/venv\/bin\/python/);
    assert.deepStrictEqual(statusActions({ state: "running" }), [STATUS_ACTIONS.restart, STATUS_ACTIONS.log]);
    assert.match(statusText({ state: "running" }).tooltip, /device: known after the first conversion/);
  });

  it("offers to install tritonize into the interpreter when the server cannot start", () => {
    const failed = { state: "failed" as const, interpreter: ["/venv/bin/python"], error: "No module named tritonize" };
    assert.strictEqual(statusText(failed).text, "$(error) Tritonize");
    assert.match(statusText(failed).tooltip, /No module named tritonize/);
    assert.deepStrictEqual(statusActions(failed), [STATUS_ACTIONS.install, STATUS_ACTIONS.restart, STATUS_ACTIONS.log]);
    assert.deepStrictEqual(installCommand(["/venv/bin/python"]), ["/venv/bin/python", "-m", "pip", "install", "tritonize"]);
    assert.deepStrictEqual(installCommand(["/venv/bin/python"], "/src/tritonize"), ["/venv/bin/python", "-m", "pip", "install", "-e", "/src/tritonize"]);
    assert.strictEqual(shellLine(["/my venv/python", "-m", "pip", "install", "it's"]), "'/my venv/python' -m pip install 'it'\\''s'");
  });

  it("recognises a tritonize checkout by its pyproject.toml", () => {
    assert.ok(isTritonizeCheckout('[project]\nname = "tritonize"\nversion = "0.1.0"\n'));
    assert.ok(!isTritonizeCheckout('[project]\nname = "other"\n'));
    assert.ok(!isTritonizeCheckout(undefined));
  });
});

describe("workspace declarations", () => {
  it("limits untrusted folders: interpreter and model settings are not read from them", () => {
    const untrusted = packageJson.capabilities.untrustedWorkspaces;
    assert.strictEqual(untrusted.supported, "limited");
    for (const key of ["tritonize.interpreter", "tritonize.model.path", "tritonize.model.url", "tritonize.model.apiKeyEnv", "tritonize.cacheDir"]) {
      assert.ok(untrusted.restrictedConfigurations.includes(key), key);
      assert.ok(packageJson.contributes.configuration.properties[key], `${key} is a real setting`);
    }
  });

  it("declares that virtual workspaces are not supported (the server reads local files)", () => {
    assert.strictEqual(packageJson.capabilities.virtualWorkspaces.supported, false);
    assert.match(packageJson.capabilities.virtualWorkspaces.description, /local/);
  });
});
