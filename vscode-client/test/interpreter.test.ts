import * as assert from "assert";
import { PythonExtensionApi, SERVER_ARGS, chooseServerCommand, configuredInterpreter, expandPath } from "../src/interpreter";

const env = { workspaceFolder: "/work/proj", userHome: "/home/me" };
const noPython = async () => undefined;

describe("interpreter choice", () => {
  it("uses tritonize.interpreter first, with its extra arguments", async () => {
    const api: PythonExtensionApi = { environments: { getActiveEnvironmentPath: () => ({ path: "/other/python" }) } };
    const cmd = await chooseServerCommand(["${workspaceFolder}/.venv/bin/python", "-X", "utf8"], env, async () => api);
    assert.deepStrictEqual(cmd, { command: "/work/proj/.venv/bin/python", args: ["-X", "utf8", ...SERVER_ARGS], source: "setting" });
  });

  it("accepts a plain string and expands ~", async () => {
    const cmd = await chooseServerCommand("~/py/bin/python3", env, noPython);
    assert.strictEqual(cmd.command, "/home/me/py/bin/python3");
    assert.deepStrictEqual(cmd.args, SERVER_ARGS);
  });

  it("falls back to the Python extension's active environment (resolved executable)", async () => {
    const api: PythonExtensionApi = {
      environments: {
        getActiveEnvironmentPath: () => ({ path: "/envs/torch" }),
        resolveEnvironment: async () => ({ executable: { uri: { fsPath: "/envs/torch/bin/python" } } }),
      },
    };
    const cmd = await chooseServerCommand([], env, async () => api);
    assert.deepStrictEqual(cmd, { command: "/envs/torch/bin/python", args: SERVER_ARGS, source: "python-extension" });
  });

  it("uses the old getExecutionDetails API when that is all there is", async () => {
    const api: PythonExtensionApi = { settings: { getExecutionDetails: () => ({ execCommand: ["conda", "run", "-n", "t", "python"] }) } };
    const cmd = await chooseServerCommand(undefined, env, async () => api);
    assert.deepStrictEqual(cmd, { command: "conda", args: ["run", "-n", "t", "python", ...SERVER_ARGS], source: "python-extension" });
  });

  it("falls back to python3 without a setting or Python extension, or when the extension fails", async () => {
    assert.deepStrictEqual(await chooseServerCommand([], env, noPython), { command: "python3", args: SERVER_ARGS, source: "default" });
    const failing = async (): Promise<PythonExtensionApi> => {
      throw new Error("activation failed");
    };
    assert.strictEqual((await chooseServerCommand([""], env, failing)).source, "default");
  });

  it("treats blank entries as unset and expands only known variables", () => {
    assert.strictEqual(configuredInterpreter(["  "], env), undefined);
    assert.strictEqual(expandPath("${userHome}/a/${unknown}", env), "/home/me/a/${unknown}");
    assert.strictEqual(expandPath("~user/x", env), "~user/x");
  });
});
