"use strict";
// Settings → what the server receives (initializationOptions, workspace/configuration).
//
// Only values the user actually set are sent: the server owns the defaults (server/tritonize/
// settings.py), so a default changed there is never shadowed by a stale copy in package.json.
// Client-only keys (interpreter, trace) never reach the server, which would report them as
// unknown settings.
Object.defineProperty(exports, "__esModule", { value: true });
exports.CLIENT_ONLY_KEYS = exports.SECTION = void 0;
exports.explicitValue = explicitValue;
exports.serverSettings = serverSettings;
exports.settingKeys = settingKeys;
exports.needsRestart = needsRestart;
exports.SECTION = "tritonize";
/** Keys of the `tritonize` section that only the extension reads. */
exports.CLIENT_ONLY_KEYS = new Set(["interpreter", "trace.server"]);
/** The user's value for a key, most specific scope first, or undefined when left at the default. */
function explicitValue(info) {
    if (info === undefined) {
        return undefined;
    }
    const scopes = [
        info.workspaceFolderLanguageValue,
        info.workspaceLanguageValue,
        info.globalLanguageValue,
        info.workspaceFolderValue,
        info.workspaceValue,
        info.globalValue,
    ];
    return scopes.find((v) => v !== undefined);
}
/**
 * The server's settings object: nested by dots (`model.topP` → `{model: {topP}}`), keys as in
 * package.json (camelCase; the server accepts camelCase and snake_case).
 *
 * @param keys the setting names below the section, e.g. `["n", "model.topP", "interpreter"]`
 */
function serverSettings(keys, inspect) {
    const out = {};
    for (const key of keys) {
        if (exports.CLIENT_ONLY_KEYS.has(key)) {
            continue;
        }
        const value = explicitValue(inspect(key));
        if (value === undefined) {
            continue;
        }
        setPath(out, key.split("."), value);
    }
    return out;
}
function setPath(target, path, value) {
    let node = target;
    for (const part of path.slice(0, -1)) {
        const child = node[part];
        if (typeof child !== "object" || child === null || Array.isArray(child)) {
            node[part] = {};
        }
        node = node[part];
    }
    node[path[path.length - 1]] = value;
}
/** Setting names below the section from the extension manifest's `contributes.configuration`. */
function settingKeys(packageJson) {
    const props = packageJson
        ?.contributes?.configuration?.properties;
    const prefix = `${exports.SECTION}.`;
    return Object.keys(props ?? {})
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length));
}
/** Whether a configuration change needs the server restarted (a different interpreter). */
function needsRestart(affects) {
    return affects(`${exports.SECTION}.interpreter`);
}
//# sourceMappingURL=settings.js.map