"use strict";
// The extension's commands, written against two small interfaces (the editor's UI and the
// language client) so the wiring runs in unit tests with a test double of `vscode`.
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
exports.COMMANDS = void 0;
exports.convertAtCursor = convertAtCursor;
exports.openReport = openReport;
exports.cancelConversions = cancelConversions;
exports.registerCommands = registerCommands;
exports.statusBarSink = statusBarSink;
exports.errorText = errorText;
const vscode = __importStar(require("vscode"));
const convert_1 = require("./convert");
const progress_1 = require("./progress");
exports.COMMANDS = {
    convert: "tritonize.convertAtCursor",
    report: "tritonize.openReport",
    restart: "tritonize.restartServer",
    cancel: "tritonize.cancelConversion",
    showLog: "tritonize.showLog",
};
/** Run the convert action under the cursor with a cancellable notification. */
async function convertAtCursor(server, progress) {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== "python") {
        void vscode.window.showInformationMessage("Tritonize: open a Python file and put the cursor on an nn.Module class.");
        return undefined;
    }
    const host = server.convertHost(editor);
    if (!host) {
        void vscode.window.showWarningMessage("Tritonize: the language server is not running (see the Tritonize output).");
        return undefined;
    }
    const options = { location: vscode.ProgressLocation.Notification, title: "Tritonize", cancellable: true };
    return vscode.window.withProgress(options, async (report, token) => {
        // The server's own $/progress for this conversion lands in this notification.
        const increments = new progress_1.IncrementTracker();
        const listener = progress.attach((_token, value) => {
            if (value.kind === "end") {
                return;
            }
            const message = value.kind === "begin" ? (0, progress_1.describe)({ title: value.title ?? "", message: value.message }) : value.message;
            report.report({ message, increment: increments.increment(value.percentage) });
        });
        try {
            const outcome = await (0, convert_1.runConvert)(host, token);
            showOutcome(outcome);
            return outcome;
        }
        catch (err) {
            if (token.isCancellationRequested) {
                void vscode.window.showInformationMessage("Tritonize: conversion cancelled.");
                return undefined;
            }
            void vscode.window.showErrorMessage(`Tritonize: ${errorText(err)}`);
            return undefined;
        }
        finally {
            listener.dispose();
        }
    });
}
function showOutcome(outcome) {
    switch (outcome.status) {
        case "no-action":
            void vscode.window.showInformationMessage("Tritonize: the cursor is not on an nn.Module class.");
            break;
        case "disabled":
            void vscode.window.showWarningMessage(`Tritonize: ${outcome.title}: ${outcome.reason}`);
            break;
        case "not-applied":
            void vscode.window.showWarningMessage(`Tritonize: ${outcome.title}: ${outcome.reason}. See the diagnostics.`);
            break;
        case "applied":
            break;
    }
}
/** Ask the server for the report of the module under the cursor and open it beside the editor. */
async function openReport(server) {
    const editor = vscode.window.activeTextEditor;
    const host = editor && server.convertHost(editor);
    if (!host) {
        return undefined;
    }
    const items = (await host.codeActions()) ?? [];
    const command = items
        .map((item) => ((0, convert_1.isCommand)(item) ? item : item.command))
        .find((c) => c !== undefined && c.command === convert_1.REPORT_COMMAND);
    if (!command) {
        void vscode.window.showInformationMessage("Tritonize: no report yet for the module under the cursor — convert it first.");
        return undefined;
    }
    const text = (0, convert_1.reportText)(await server.executeCommand(command));
    if (text === undefined) {
        return undefined; // the server showed the report itself (window/showDocument)
    }
    const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: text });
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
    return text;
}
/** Cancel every running conversion the server marked cancellable. */
function cancelConversions(server, progress) {
    const tokens = progress.cancellableTokens();
    for (const token of tokens) {
        server.cancelProgress(token);
    }
    if (tokens.length === 0) {
        void vscode.window.showInformationMessage("Tritonize: no conversion is running.");
    }
    return tokens.length;
}
function registerCommands(server, progress) {
    return [
        vscode.commands.registerCommand(exports.COMMANDS.convert, () => convertAtCursor(server, progress)),
        vscode.commands.registerCommand(exports.COMMANDS.report, () => openReport(server)),
        vscode.commands.registerCommand(exports.COMMANDS.restart, () => server.restart()),
        vscode.commands.registerCommand(exports.COMMANDS.cancel, () => cancelConversions(server, progress)),
        vscode.commands.registerCommand(exports.COMMANDS.showLog, () => server.showLog()),
    ];
}
/** A status-bar item that shows the running conversions; clicking cancels them. */
function statusBarSink() {
    const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
    item.name = "Tritonize";
    item.command = exports.COMMANDS.cancel;
    return {
        item,
        sink: {
            show(text, tooltip) {
                item.text = text;
                item.tooltip = tooltip;
                item.show();
            },
            hide() {
                item.hide();
            },
        },
    };
}
function errorText(err) {
    if (err instanceof Error) {
        return err.message;
    }
    if (typeof err === "object" && err !== null && "message" in err) {
        return String(err.message);
    }
    return String(err);
}
//# sourceMappingURL=commands.js.map