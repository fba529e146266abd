"use strict";
// Which Python runs the server: the `tritonize.interpreter` setting, else the interpreter the
// Python extension has selected for the workspace, else `python3` from PATH.
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_PYTHON = exports.SERVER_ARGS = void 0;
exports.expandPath = expandPath;
exports.configuredInterpreter = configuredInterpreter;
exports.pythonExtensionInterpreter = pythonExtensionInterpreter;
exports.chooseServerCommand = chooseServerCommand;
exports.SERVER_ARGS = ["-m", "tritonize.cli", "serve"];
exports.DEFAULT_PYTHON = "python3";
/** `${workspaceFolder}`, `${userHome}` and a leading `~` in a configured interpreter path. */
function expandPath(value, env) {
    let out = value;
    if (env.userHome) {
        out = out.replace(/^~(?=$|[\\/])/, env.userHome).replace(/\$\{userHome\}/g, env.userHome);
    }
    if (env.workspaceFolder) {
        out = out.replace(/\$\{workspaceFolder\}/g, env.workspaceFolder);
    }
    return out;
}
/** The configured interpreter as a command line (a string or a list; empty means unset). */
function configuredInterpreter(value, env) {
    const parts = typeof value === "string" ? [value] : Array.isArray(value) ? value : [];
    const cleaned = parts
        .filter((p) => typeof p === "string" && p.trim() !== "")
        .map((p) => expandPath(p.trim(), env));
    return cleaned.length > 0 ? cleaned : undefined;
}
/** The interpreter selected in the Python extension, or undefined when it has none. */
async function pythonExtensionInterpreter(api, resource) {
    if (!api) {
        return undefined;
    }
    const active = api.environments?.getActiveEnvironmentPath(resource);
    if (active?.path) {
        const resolved = await api.environments?.resolveEnvironment?.(active).catch(() => undefined);
        const exe = resolved?.executable?.uri?.fsPath;
        return [exe ?? active.path];
    }
    const exec = api.settings?.getExecutionDetails?.(resource)?.execCommand;
    return exec && exec.length > 0 ? exec : undefined;
}
/** The command line that starts the server. */
async function chooseServerCommand(configured, env, pythonApi, resource) {
    const fromSetting = configuredInterpreter(configured, env);
    if (fromSetting) {
        return { command: fromSetting[0], args: [...fromSetting.slice(1), ...exports.SERVER_ARGS], source: "setting" };
    }
    const fromExtension = await pythonExtensionInterpreter(await pythonApi().catch(() => undefined), resource);
    if (fromExtension) {
        return { command: fromExtension[0], args: [...fromExtension.slice(1), ...exports.SERVER_ARGS], source: "python-extension" };
    }
    return { command: exports.DEFAULT_PYTHON, args: [...exports.SERVER_ARGS], source: "default" };
}
//# sourceMappingURL=interpreter.js.map