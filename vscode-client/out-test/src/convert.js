"use strict";
// "Tritonize: Convert Module Under Cursor": find the server's convert action at the cursor and run
// it. The server offers either a cheap CodeAction with `data` (resolved when chosen, which runs
// the pipeline) or, for clients without resolve, one whose command is `tritonize.convert` (the
// server then applies the edit itself through workspace/applyEdit).
Object.defineProperty(exports, "__esModule", { value: true });
exports.REPORT_COMMAND = exports.CONVERT_COMMAND = exports.CONVERT_KIND = void 0;
exports.isCommand = isCommand;
exports.pickConvertAction = pickConvertAction;
exports.runConvert = runConvert;
exports.reportText = reportText;
exports.CONVERT_KIND = "refactor.rewrite";
exports.CONVERT_COMMAND = "tritonize.convert";
exports.REPORT_COMMAND = "tritonize.showReport";
function isCommand(item) {
    return typeof item.command === "string";
}
/** The "Convert <Name> to Triton kernel" entry of a codeAction response. */
function pickConvertAction(items) {
    for (const item of items ?? []) {
        if (isCommand(item)) {
            if (item.command === exports.CONVERT_COMMAND) {
                return item;
            }
            continue;
        }
        // "Convert X to Triton kernel", or "Re-run conversion of X to Triton" once X has a kernel
        const byKind = item.kind === exports.CONVERT_KIND && /^(Convert|Re-run) /.test(item.title);
        if (byKind || item.command?.command === exports.CONVERT_COMMAND) {
            return item;
        }
    }
    return undefined;
}
/** Find and run the convert action. Errors (including cancellation) propagate to the caller. */
async function runConvert(host, token) {
    const action = pickConvertAction(await host.codeActions([exports.CONVERT_KIND]));
    if (!action) {
        return { status: "no-action" };
    }
    if (isCommand(action)) {
        const result = await host.executeCommand(action, token);
        return { status: "applied", title: action.title, result };
    }
    if (action.disabled) {
        return { status: "disabled", title: action.title, reason: action.disabled.reason };
    }
    let resolved = action;
    if (action.edit === undefined && action.command === undefined && action.data !== undefined && host.canResolve()) {
        resolved = await host.resolve(action, token);
    }
    if (resolved.edit !== undefined) {
        const applied = await host.applyEdit(resolved.edit);
        if (!applied) {
            return { status: "not-applied", title: action.title, reason: "the editor refused the edit (the file changed?)" };
        }
    }
    let result;
    if (resolved.command !== undefined) {
        result = await host.executeCommand(resolved.command, token);
    }
    if (resolved.edit === undefined && resolved.command === undefined) {
        return { status: "not-applied", title: action.title, reason: "the server returned no edit" };
    }
    return { status: "applied", title: action.title, result };
}
/** The text `tritonize.showReport` returned (a string or `{markdown}`/`{text}`), or undefined. */
function reportText(result) {
    if (typeof result === "string") {
        return result;
    }
    if (typeof result === "object" && result !== null) {
        const r = result;
        if (typeof r.markdown === "string") {
            return r.markdown;
        }
        if (typeof r.text === "string") {
            return r.text;
        }
    }
    return undefined;
}
//# sourceMappingURL=convert.js.map