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
const commands_1 = require("../src/commands");
const progress_1 = require("../src/progress");
const helpers_1 = require("./helpers");
const vscode = __importStar(require("./vscode-double"));
const editor = { document: { languageId: "python", uri: "file:///m.py" }, selection: {} };
const convertAction = { title: "Convert Gelu to Triton kernel", kind: "refactor.rewrite", data: { class: "Gelu" } };
class FakeServer {
    cancelled = [];
    executed = [];
    restarts = 0;
    logShown = 0;
    host;
    reportResult = { markdown: "| variant | status |", text: "report" };
    convertHost() {
        return this.host;
    }
    executeCommand(command) {
        this.executed.push(command.command);
        return Promise.resolve(this.reportResult);
    }
    cancelProgress(token) {
        this.cancelled.push(token);
    }
    async restart() {
        this.restarts++;
    }
    showLog() {
        this.logShown++;
    }
}
/** A host whose resolve waits for the cancel token (like a long pipeline run) or resolves on `finish`. */
function slowHost(progress) {
    let finish = () => undefined;
    const host = {
        codeActions: async () => [convertAction],
        canResolve: () => true,
        resolve: (action, token) => new Promise((resolve, reject) => {
            // the server's $/progress while it works
            progress.handle("tz-1", { kind: "begin", title: "Tritonize Gelu", message: "starting", percentage: 0, cancellable: true }, () => undefined);
            progress.handle("tz-1", { kind: "report", message: "verify: 1/2", percentage: 60 }, () => undefined);
            token.onCancellationRequested(() => reject(Object.assign(new Error("cancelled"), { code: -32800 })));
            finish = () => resolve({ ...action, edit: { changes: {} } });
        }),
        executeCommand: async () => undefined,
        applyEdit: async () => true,
    };
    return { host, finish: () => finish() };
}
describe("commands (with the vscode test double)", () => {
    beforeEach(() => vscode.resetDouble());
    it("registers every command package.json contributes, and only those", () => {
        const server = new FakeServer();
        const disposables = (0, commands_1.registerCommands)(server, new progress_1.ConversionProgress({ show() { }, hide() { } }));
        const contributed = helpers_1.packageJson.contributes.commands.map((c) => c.command).sort();
        assert.deepStrictEqual(vscode.commands.registered().sort(), contributed);
        assert.deepStrictEqual(Object.values(commands_1.COMMANDS).sort(), contributed);
        // the server's own commands are registered by the language client: no clash with ours
        assert.ok(!contributed.includes("tritonize.convert") && !contributed.includes("tritonize.showReport"));
        disposables.forEach((d) => d.dispose());
        assert.deepStrictEqual(vscode.commands.registered(), []);
    });
    it("restart and show-log commands reach the server", async () => {
        const server = new FakeServer();
        (0, commands_1.registerCommands)(server, new progress_1.ConversionProgress({ show() { }, hide() { } }));
        await vscode.commands.executeCommand(commands_1.COMMANDS.restart);
        await vscode.commands.executeCommand(commands_1.COMMANDS.showLog);
        assert.deepStrictEqual([server.restarts, server.logShown], [1, 1]);
    });
    it("asks for a Python editor first", async () => {
        const server = new FakeServer();
        vscode.window.activeTextEditor = { document: { languageId: "markdown" } };
        await (0, commands_1.convertAtCursor)(server, new progress_1.ConversionProgress({ show() { }, hide() { } }));
        assert.match(vscode.recorded.messages[0].message, /open a Python file/);
    });
    it("converts with a cancellable notification that shows the server's progress", async () => {
        const server = new FakeServer();
        const progress = new progress_1.ConversionProgress({ show() { }, hide() { } });
        const { host, finish } = slowHost(progress);
        server.host = host;
        vscode.window.activeTextEditor = editor;
        vscode.recorded.onProgressStart = () => setTimeout(finish, 10);
        const outcome = await (0, commands_1.convertAtCursor)(server, progress);
        assert.strictEqual(outcome?.status, "applied");
        const run = vscode.recorded.progress[0];
        assert.deepStrictEqual(run.options, { location: vscode.ProgressLocation.Notification, title: "Tritonize", cancellable: true });
        assert.deepStrictEqual(run.reports, [
            { message: "Tritonize Gelu: starting", increment: 0 },
            { message: "verify: 1/2", increment: 60 },
        ]);
        assert.deepStrictEqual(vscode.recorded.messages, []);
    });
    it("cancelling the notification cancels the request and says so", async () => {
        const server = new FakeServer();
        const progress = new progress_1.ConversionProgress({ show() { }, hide() { } });
        server.host = slowHost(progress).host;
        vscode.window.activeTextEditor = editor;
        vscode.recorded.onProgressStart = (run) => setTimeout(run.cancel, 10);
        const outcome = await (0, commands_1.convertAtCursor)(server, progress);
        assert.strictEqual(outcome, undefined);
        assert.deepStrictEqual(vscode.recorded.messages, [{ level: "info", message: "Tritonize: conversion cancelled." }]);
    });
    it("shows a server error", async () => {
        const server = new FakeServer();
        server.host = { ...slowHost(new progress_1.ConversionProgress({ show() { }, hide() { } })).host, codeActions: async () => Promise.reject(new Error("boom")) };
        vscode.window.activeTextEditor = editor;
        await (0, commands_1.convertAtCursor)(server, new progress_1.ConversionProgress({ show() { }, hide() { } }));
        assert.deepStrictEqual(vscode.recorded.messages, [{ level: "error", message: "Tritonize: boom" }]);
    });
    it("opens the report from the server's showReport action as markdown", async () => {
        const server = new FakeServer();
        const report = { title: "Show conversion report for Gelu", command: "tritonize.showReport", arguments: [{ class: "Gelu" }] };
        server.host = { ...slowHost(new progress_1.ConversionProgress({ show() { }, hide() { } })).host, codeActions: async () => [convertAction, { title: report.title, command: report }] };
        vscode.window.activeTextEditor = editor;
        const text = await (0, commands_1.openReport)(server);
        assert.strictEqual(text, "| variant | status |");
        assert.deepStrictEqual(server.executed, ["tritonize.showReport"]);
        assert.deepStrictEqual(vscode.recorded.documents, [{ language: "markdown", content: "| variant | status |" }]);
    });
    it("says when there is no report yet", async () => {
        const server = new FakeServer();
        server.host = { ...slowHost(new progress_1.ConversionProgress({ show() { }, hide() { } })).host, codeActions: async () => [convertAction] };
        vscode.window.activeTextEditor = editor;
        assert.strictEqual(await (0, commands_1.openReport)(server), undefined);
        assert.match(vscode.recorded.messages[0].message, /no report yet/);
    });
    it("the status-bar item follows progress and its click cancels through the server", async () => {
        const server = new FakeServer();
        const status = (0, commands_1.statusBarSink)();
        const progress = new progress_1.ConversionProgress(status.sink);
        (0, commands_1.registerCommands)(server, progress);
        assert.strictEqual(status.item.command, commands_1.COMMANDS.cancel);
        progress.handle("tz-9", { kind: "begin", title: "Tritonize Gelu", message: "generate: 1/4", cancellable: true }, () => undefined);
        const item = vscode.recorded.statusItems[0];
        assert.ok(item.visible);
        assert.strictEqual(item.text, "$(sync~spin) Tritonize Gelu: generate: 1/4");
        await vscode.commands.executeCommand(commands_1.COMMANDS.cancel);
        assert.deepStrictEqual(server.cancelled, ["tz-9"]);
        progress.handle("tz-9", { kind: "end", message: "cancelled" }, () => undefined);
        assert.ok(!item.visible);
        assert.strictEqual((0, commands_1.cancelConversions)(server, progress), 0);
        assert.match(vscode.recorded.messages[0].message, /no conversion is running/);
    });
});
//# sourceMappingURL=commands.test.js.map