// The extension's commands, written against two small interfaces (the editor's UI and the
// language client) so the wiring runs in unit tests with a test double of `vscode`.

import * as vscode from "vscode";
import { ConvertHost, ConvertOutcome, LspCommand, REPORT_COMMAND, isCommand, reportText, runConvert } from "./convert";
import { ConversionProgress, IncrementTracker, ProgressValue, describe } from "./progress";
import { STATUS_ACTIONS, ServerStatus, statusActions } from "./status";
import { ServerMessageFilter, VerifyServer, verifyKernelFile } from "./verify";

export const COMMANDS = {
  convert: "tritonize.convertAtCursor",
  report: "tritonize.openReport",
  restart: "tritonize.restartServer",
  cancel: "tritonize.cancelConversion",
  showLog: "tritonize.showLog",
  verify: "tritonize.verifyKernelFile",
  serverActions: "tritonize.serverActions",
  install: "tritonize.installServer",
} as const;

/** What the commands need from the running language client. */
export interface ServerAccess extends VerifyServer {
  /** Convert host for the editor's document and cursor; undefined while the server is down. */
  convertHost(editor: vscode.TextEditor): ConvertHost<vscode.CancellationToken> | undefined;
  /** Run a server command (workspace/executeCommand); undefined while the server is down. */
  executeCommand(command: LspCommand, token?: vscode.CancellationToken): Promise<unknown> | undefined;
  /** Send window/workDoneProgress/cancel. */
  cancelProgress(token: string | number): void;
  restart(): Promise<void>;
  showLog(): void;
  /** State, version and device of the server, for the status-bar item. */
  serverStatus(): ServerStatus;
  /** Install tritonize into the interpreter the server is started with (in a terminal). */
  installIntoInterpreter(): Promise<void>;
}

/** The status-bar item's click: restart, the log, and (when the server failed) installing. */
export async function serverActions(server: ServerAccess): Promise<string | undefined> {
  const choice = await vscode.window.showQuickPick(statusActions(server.serverStatus()), { placeHolder: "Tritonize server" });
  if (choice === STATUS_ACTIONS.restart) {
    await server.restart();
  } else if (choice === STATUS_ACTIONS.log) {
    server.showLog();
  } else if (choice === STATUS_ACTIONS.install) {
    await server.installIntoInterpreter();
  }
  return choice;
}

/** Run the convert action under the cursor with a cancellable notification. */
export async function convertAtCursor(server: ServerAccess, progress: ConversionProgress): Promise<ConvertOutcome | undefined> {
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
    const increments = new IncrementTracker();
    const listener = progress.attach((_token, value: ProgressValue) => {
      if (value.kind === "end") {
        return;
      }
      const message = value.kind === "begin" ? describe({ title: value.title ?? "", message: value.message }) : value.message;
      report.report({ message, increment: increments.increment(value.percentage) });
    });
    try {
      const outcome = await runConvert(host, token);
      showOutcome(outcome);
      return outcome;
    } catch (err) {
      if (token.isCancellationRequested) {
        void vscode.window.showInformationMessage("Tritonize: conversion cancelled.");
        return undefined;
      }
      void vscode.window.showErrorMessage(`Tritonize: ${errorText(err)}`);
      return undefined;
    } finally {
      listener.dispose();
    }
  });
}

function showOutcome(outcome: ConvertOutcome): void {
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
export async function openReport(server: ServerAccess): Promise<string | undefined> {
  const editor = vscode.window.activeTextEditor;
  const host = editor && server.convertHost(editor);
  if (!host) {
    return undefined;
  }
  const items = (await host.codeActions()) ?? [];
  const command = items
    .map((item) => (isCommand(item) ? item : item.command))
    .find((c): c is LspCommand => c !== undefined && c.command === REPORT_COMMAND);
  if (!command) {
    void vscode.window.showInformationMessage("Tritonize: no report yet for the module under the cursor — convert it first.");
    return undefined;
  }
  // `show: false`: the report opens here, as a markdown preview, not as the server's text file.
  const args = (command.arguments ?? []).map((a) => (typeof a === "object" && a !== null ? { ...a, show: false } : a));
  const text = reportText(await server.executeCommand({ ...command, arguments: args }));
  if (text === undefined) {
    return undefined; // the server showed the report itself (window/showDocument)
  }
  const doc = (await vscode.workspace.openTextDocument({ language: "markdown", content: text })) as { uri: unknown };
  try {
    await vscode.commands.executeCommand("markdown.showPreviewToSide", doc.uri);
  } catch {
    await vscode.window.showTextDocument(doc as never, { viewColumn: vscode.ViewColumn.Beside, preview: true });
  }
  return text;
}

/** Cancel every running conversion the server marked cancellable. */
export function cancelConversions(server: ServerAccess, progress: ConversionProgress): number {
  const tokens = progress.cancellableTokens();
  for (const token of tokens) {
    server.cancelProgress(token);
  }
  if (tokens.length === 0) {
    void vscode.window.showInformationMessage("Tritonize: no conversion is running.");
  }
  return tokens.length;
}

export function registerCommands(server: ServerAccess, progress: ConversionProgress, filter = new ServerMessageFilter()): vscode.Disposable[] {
  const verifyOptions = { attachProgress: (listener: Parameters<ConversionProgress["attach"]>[0]) => progress.attach(listener), filter };
  return [
    vscode.commands.registerCommand(COMMANDS.verify, () => verifyKernelFile(server, verifyOptions)),
    vscode.commands.registerCommand(COMMANDS.convert, () => convertAtCursor(server, progress)),
    vscode.commands.registerCommand(COMMANDS.report, () => openReport(server)),
    vscode.commands.registerCommand(COMMANDS.restart, () => server.restart()),
    vscode.commands.registerCommand(COMMANDS.cancel, () => cancelConversions(server, progress)),
    vscode.commands.registerCommand(COMMANDS.showLog, () => server.showLog()),
    vscode.commands.registerCommand(COMMANDS.serverActions, () => serverActions(server)),
    vscode.commands.registerCommand(COMMANDS.install, () => server.installIntoInterpreter()),
  ];
}

/** A status-bar item that shows the running conversions; clicking cancels them. */
export function statusBarSink(): { sink: { show(text: string, tooltip: string): void; hide(): void }; item: vscode.StatusBarItem } {
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  item.name = "Tritonize";
  item.command = COMMANDS.cancel;
  return {
    item,
    sink: {
      show(text: string, tooltip: string) {
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

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  if (typeof err === "object" && err !== null && "message" in err) {
    return String((err as { message: unknown }).message);
  }
  return String(err);
}
