import * as assert from "assert";
import { COMMANDS, ServerAccess, cancelConversions, convertAtCursor, openReport, registerCommands, statusBarSink } from "../src/commands";
import { ConvertHost, LspCodeAction, LspCommand } from "../src/convert";
import { ConversionProgress } from "../src/progress";
import { STATUS_ACTIONS, ServerStatus } from "../src/status";
import { packageJson } from "./helpers";
import * as vscode from "./vscode-double";

type Token = { isCancellationRequested: boolean; onCancellationRequested(l: () => void): unknown };

const editor = { document: { languageId: "python", uri: "file:///m.py" }, selection: {} };
const convertAction: LspCodeAction = { title: "Convert Gelu to Triton kernel", kind: "refactor.rewrite", data: { class: "Gelu" } };

class FakeServer implements ServerAccess {
  cancelled: (string | number)[] = [];
  executed: string[] = [];
  restarts = 0;
  logShown = 0;
  host: ConvertHost<Token> | undefined;
  reportResult: unknown = { markdown: "| variant | status |", text: "report" };

  convertHost() {
    return this.host as never;
  }
  moduleClasses() {
    return Promise.resolve({ all: ["Gelu"] });
  }
  appendOutput() {}
  executeCommand(command: LspCommand) {
    this.executed.push(command.command);
    return Promise.resolve(this.reportResult);
  }
  cancelProgress(token: string | number) {
    this.cancelled.push(token);
  }
  async restart() {
    this.restarts++;
  }
  showLog() {
    this.logShown++;
  }
  status: ServerStatus = { state: "running", version: "0.1.0" };
  installs = 0;
  serverStatus() {
    return this.status;
  }
  async installIntoInterpreter() {
    this.installs++;
  }
}

/** A host whose resolve waits for the cancel token (like a long pipeline run) or resolves on `finish`. */
function slowHost(progress: ConversionProgress): { host: ConvertHost<Token>; finish: () => void } {
  let finish = () => undefined as void;
  const host: ConvertHost<Token> = {
    codeActions: async () => [convertAction],
    canResolve: () => true,
    resolve: (action, token) =>
      new Promise((resolve, reject) => {
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
    const disposables = registerCommands(server, new ConversionProgress({ show() {}, hide() {} }));
    const contributed = packageJson.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepStrictEqual(vscode.commands.registered().sort(), contributed);
    assert.deepStrictEqual(Object.values(COMMANDS).sort(), contributed);
    // the server's own commands are registered by the language client: no clash with ours
    assert.ok(!contributed.includes("tritonize.convert") && !contributed.includes("tritonize.showReport"));
    disposables.forEach((d) => d.dispose());
    assert.deepStrictEqual(vscode.commands.registered(), []);
  });

  it("restart and show-log commands reach the server", async () => {
    const server = new FakeServer();
    registerCommands(server, new ConversionProgress({ show() {}, hide() {} }));
    await vscode.commands.executeCommand(COMMANDS.restart);
    await vscode.commands.executeCommand(COMMANDS.showLog);
    assert.deepStrictEqual([server.restarts, server.logShown], [1, 1]);
  });

  it("asks for a Python editor first", async () => {
    const server = new FakeServer();
    vscode.window.activeTextEditor = { document: { languageId: "markdown" } };
    await convertAtCursor(server, new ConversionProgress({ show() {}, hide() {} }));
    assert.match(vscode.recorded.messages[0].message, /open a Python file/);
  });

  it("converts with a cancellable notification that shows the server's progress", async () => {
    const server = new FakeServer();
    const progress = new ConversionProgress({ show() {}, hide() {} });
    const { host, finish } = slowHost(progress);
    server.host = host;
    vscode.window.activeTextEditor = editor;
    vscode.recorded.onProgressStart = () => setTimeout(finish, 10);
    const outcome = await convertAtCursor(server, progress);
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
    const progress = new ConversionProgress({ show() {}, hide() {} });
    server.host = slowHost(progress).host;
    vscode.window.activeTextEditor = editor;
    vscode.recorded.onProgressStart = (run) => setTimeout(run.cancel, 10);
    const outcome = await convertAtCursor(server, progress);
    assert.strictEqual(outcome, undefined);
    assert.deepStrictEqual(vscode.recorded.messages, [{ level: "info", message: "Tritonize: conversion cancelled." }]);
  });

  it("shows a server error", async () => {
    const server = new FakeServer();
    server.host = { ...slowHost(new ConversionProgress({ show() {}, hide() {} })).host, codeActions: async () => Promise.reject(new Error("boom")) };
    vscode.window.activeTextEditor = editor;
    await convertAtCursor(server, new ConversionProgress({ show() {}, hide() {} }));
    assert.deepStrictEqual(vscode.recorded.messages, [{ level: "error", message: "Tritonize: boom" }]);
  });

  it("opens the report from the server's showReport action as markdown", async () => {
    const server = new FakeServer();
    const report: LspCommand = { title: "Show conversion report for Gelu", command: "tritonize.showReport", arguments: [{ class: "Gelu" }] };
    server.host = { ...slowHost(new ConversionProgress({ show() {}, hide() {} })).host, codeActions: async () => [convertAction, { title: report.title, command: report }] };
    vscode.window.activeTextEditor = editor;
    const text = await openReport(server);
    assert.strictEqual(text, "| variant | status |");
    assert.deepStrictEqual(server.executed, ["tritonize.showReport"]);
    assert.deepStrictEqual(vscode.recorded.documents, [{ language: "markdown", content: "| variant | status |" }]);
  });

  it("opens the report as a markdown preview and asks the server not to open its text file", async () => {
    const server = new FakeServer();
    const args: unknown[] = [];
    server.executeCommand = (command: LspCommand) => {
      args.push(...(command.arguments ?? []));
      return Promise.resolve({ markdown: "**tritonize: Gelu**\n\n| variant | status |", text: "report" });
    };
    const previews: unknown[] = [];
    const preview = vscode.commands.registerCommand("markdown.showPreviewToSide", (uri: unknown) => previews.push(uri));
    server.host = {
      ...slowHost(new ConversionProgress({ show() {}, hide() {} })).host,
      codeActions: async () => [{ title: "Show conversion report for Gelu", command: { title: "r", command: "tritonize.showReport", arguments: [{ uri: "file:///m.py", class: "Gelu" }] } }],
    };
    vscode.window.activeTextEditor = editor;
    await openReport(server);
    preview.dispose();
    assert.deepStrictEqual(args, [{ uri: "file:///m.py", class: "Gelu", show: false }]);
    assert.deepStrictEqual(previews, ["untitled:report"]);
    assert.deepStrictEqual(vscode.recorded.shownDocuments, []); // the preview, not the markdown source
  });

  it("the server status item offers install when the server failed, and runs the choice", async () => {
    const server = new FakeServer();
    registerCommands(server, new ConversionProgress({ show() {}, hide() {} }));
    server.status = { state: "failed", interpreter: ["/venv/bin/python"], error: "No module named tritonize" };
    vscode.recorded.quickPickAnswer = (items) => items[0];
    assert.strictEqual(await vscode.commands.executeCommand(COMMANDS.serverActions), STATUS_ACTIONS.install);
    assert.deepStrictEqual(vscode.recorded.quickPicks[0].items, [STATUS_ACTIONS.install, STATUS_ACTIONS.restart, STATUS_ACTIONS.log]);
    assert.strictEqual(server.installs, 1);
    server.status = { state: "running" };
    vscode.recorded.quickPickAnswer = (items) => items.find((i) => i === STATUS_ACTIONS.restart);
    await vscode.commands.executeCommand(COMMANDS.serverActions);
    assert.strictEqual(server.restarts, 1);
    assert.deepStrictEqual(vscode.recorded.quickPicks[1].items, [STATUS_ACTIONS.restart, STATUS_ACTIONS.log]);
  });

  it("says when there is no report yet", async () => {
    const server = new FakeServer();
    server.host = { ...slowHost(new ConversionProgress({ show() {}, hide() {} })).host, codeActions: async () => [convertAction] };
    vscode.window.activeTextEditor = editor;
    assert.strictEqual(await openReport(server), undefined);
    assert.match(vscode.recorded.messages[0].message, /no report yet/);
  });

  it("the status-bar item follows progress and its click cancels through the server", async () => {
    const server = new FakeServer();
    const status = statusBarSink();
    const progress = new ConversionProgress(status.sink);
    registerCommands(server, progress);
    assert.strictEqual(status.item.command, COMMANDS.cancel);
    progress.handle("tz-9", { kind: "begin", title: "Tritonize Gelu", message: "generate: 1/4", cancellable: true }, () => undefined);
    const item = vscode.recorded.statusItems[0];
    assert.ok(item.visible);
    assert.strictEqual(item.text, "$(sync~spin) Tritonize Gelu: generate: 1/4");
    await vscode.commands.executeCommand(COMMANDS.cancel);
    assert.deepStrictEqual(server.cancelled, ["tz-9"]);
    progress.handle("tz-9", { kind: "end", message: "cancelled" }, () => undefined);
    assert.ok(!item.visible);
    assert.strictEqual(cancelConversions(server, progress), 0);
    assert.match(vscode.recorded.messages[0].message, /no conversion is running/);
  });
});
