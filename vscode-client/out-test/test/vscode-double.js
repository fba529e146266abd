"use strict";
// A small stand-in for the `vscode` module: just the API the extension's commands use, recording
// what was shown so tests can assert on what a user would see.
Object.defineProperty(exports, "__esModule", { value: true });
exports.commands = exports.workspace = exports.window = exports.recorded = exports.StatusBarItemDouble = exports.CancellationTokenSource = exports.Disposable = exports.ViewColumn = exports.StatusBarAlignment = exports.ProgressLocation = void 0;
exports.resetDouble = resetDouble;
var ProgressLocation;
(function (ProgressLocation) {
    ProgressLocation[ProgressLocation["SourceControl"] = 1] = "SourceControl";
    ProgressLocation[ProgressLocation["Window"] = 10] = "Window";
    ProgressLocation[ProgressLocation["Notification"] = 15] = "Notification";
})(ProgressLocation || (exports.ProgressLocation = ProgressLocation = {}));
var StatusBarAlignment;
(function (StatusBarAlignment) {
    StatusBarAlignment[StatusBarAlignment["Left"] = 1] = "Left";
    StatusBarAlignment[StatusBarAlignment["Right"] = 2] = "Right";
})(StatusBarAlignment || (exports.StatusBarAlignment = StatusBarAlignment = {}));
var ViewColumn;
(function (ViewColumn) {
    ViewColumn[ViewColumn["Active"] = -1] = "Active";
    ViewColumn[ViewColumn["Beside"] = -2] = "Beside";
    ViewColumn[ViewColumn["One"] = 1] = "One";
})(ViewColumn || (exports.ViewColumn = ViewColumn = {}));
class Disposable {
    fn;
    constructor(fn = () => undefined) {
        this.fn = fn;
    }
    dispose() {
        this.fn();
    }
}
exports.Disposable = Disposable;
class CancellationTokenSource {
    listeners = [];
    token = {
        isCancellationRequested: false,
        onCancellationRequested: (listener) => {
            this.listeners.push(listener);
            return new Disposable();
        },
    };
    cancel() {
        if (!this.token.isCancellationRequested) {
            this.token.isCancellationRequested = true;
            this.listeners.forEach((l) => l());
        }
    }
    dispose() { }
}
exports.CancellationTokenSource = CancellationTokenSource;
class StatusBarItemDouble {
    text = "";
    tooltip;
    command;
    name;
    visible = false;
    show() {
        this.visible = true;
    }
    hide() {
        this.visible = false;
    }
    dispose() {
        this.visible = false;
    }
}
exports.StatusBarItemDouble = StatusBarItemDouble;
exports.recorded = {
    messages: [],
    progress: [],
    documents: [],
    shownDocuments: [],
    statusItems: [],
    /** Called with the progress run right after withProgress starts its task (e.g. to cancel). */
    onProgressStart: undefined,
};
function resetDouble() {
    exports.recorded.messages = [];
    exports.recorded.progress = [];
    exports.recorded.documents = [];
    exports.recorded.shownDocuments = [];
    exports.recorded.statusItems = [];
    exports.recorded.onProgressStart = undefined;
    exports.window.activeTextEditor = undefined;
    registry.clear();
}
function show(level) {
    return async (message) => {
        exports.recorded.messages.push({ level, message });
        return undefined;
    };
}
exports.window = {
    activeTextEditor: undefined,
    showInformationMessage: show("info"),
    showWarningMessage: show("warning"),
    showErrorMessage: show("error"),
    async withProgress(options, task) {
        const source = new CancellationTokenSource();
        const run = { options, reports: [], cancel: () => source.cancel() };
        exports.recorded.progress.push(run);
        const result = task({ report: (v) => run.reports.push(v) }, source.token);
        exports.recorded.onProgressStart?.(run);
        return result;
    },
    createStatusBarItem() {
        const item = new StatusBarItemDouble();
        exports.recorded.statusItems.push(item);
        return item;
    },
    async showTextDocument(doc) {
        exports.recorded.shownDocuments.push(doc);
        return doc;
    },
};
exports.workspace = {
    async openTextDocument(options) {
        exports.recorded.documents.push(options);
        return { ...options, uri: "untitled:report" };
    },
};
const registry = new Map();
exports.commands = {
    registerCommand(id, fn) {
        if (registry.has(id)) {
            throw new Error(`command '${id}' already exists`);
        }
        registry.set(id, fn);
        return new Disposable(() => registry.delete(id));
    },
    async executeCommand(id, ...args) {
        const fn = registry.get(id);
        if (!fn) {
            throw new Error(`command '${id}' not found`);
        }
        return fn(...args);
    },
    registered() {
        return [...registry.keys()];
    },
};
//# sourceMappingURL=vscode-double.js.map