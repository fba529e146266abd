"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
const assert = __importStar(require("assert"));
const interpreter_1 = require("../src/interpreter");
const env = { workspaceFolder: "/work/proj", userHome: "/home/me" };
const noPython = async () => undefined;
describe("interpreter choice", () => {
    it("uses tritonize.interpreter first, with its extra arguments", async () => {
        const api = { environments: { getActiveEnvironmentPath: () => ({ path: "/other/python" }) } };
        const cmd = await (0, interpreter_1.chooseServerCommand)(["${workspaceFolder}/.venv/bin/python", "-X", "utf8"], env, async () => api);
        assert.deepStrictEqual(cmd, { command: "/work/proj/.venv/bin/python", args: ["-X", "utf8", ...interpreter_1.SERVER_ARGS], source: "setting" });
    });
    it("accepts a plain string and expands ~", async () => {
        const cmd = await (0, interpreter_1.chooseServerCommand)("~/py/bin/python3", env, noPython);
        assert.strictEqual(cmd.command, "/home/me/py/bin/python3");
        assert.deepStrictEqual(cmd.args, interpreter_1.SERVER_ARGS);
    });
    it("falls back to the Python extension's active environment (resolved executable)", async () => {
        const api = {
            environments: {
                getActiveEnvironmentPath: () => ({ path: "/envs/torch" }),
                resolveEnvironment: async () => ({ executable: { uri: { fsPath: "/envs/torch/bin/python" } } }),
            },
        };
        const cmd = await (0, interpreter_1.chooseServerCommand)([], env, async () => api);
        assert.deepStrictEqual(cmd, { command: "/envs/torch/bin/python", args: interpreter_1.SERVER_ARGS, source: "python-extension" });
    });
    it("uses the old getExecutionDetails API when that is all there is", async () => {
        const api = { settings: { getExecutionDetails: () => ({ execCommand: ["conda", "run", "-n", "t", "python"] }) } };
        const cmd = await (0, interpreter_1.chooseServerCommand)(undefined, env, async () => api);
        assert.deepStrictEqual(cmd, { command: "conda", args: ["run", "-n", "t", "python", ...interpreter_1.SERVER_ARGS], source: "python-extension" });
    });
    it("falls back to python3 without a setting or Python extension, or when the extension fails", async () => {
        assert.deepStrictEqual(await (0, interpreter_1.chooseServerCommand)([], env, noPython), { command: "python3", args: interpreter_1.SERVER_ARGS, source: "default" });
        const failing = async () => {
            throw new Error("activation failed");
        };
        assert.strictEqual((await (0, interpreter_1.chooseServerCommand)([""], env, failing)).source, "default");
    });
    it("treats blank entries as unset and expands only known variables", () => {
        assert.strictEqual((0, interpreter_1.configuredInterpreter)(["  "], env), undefined);
        assert.strictEqual((0, interpreter_1.expandPath)("${userHome}/a/${unknown}", env), "/home/me/a/${unknown}");
        assert.strictEqual((0, interpreter_1.expandPath)("~user/x", env), "~user/x");
    });
});
//# sourceMappingURL=interpreter.test.js.map