// "Tritonize: Verify Kernel File Against Module…": judge a hand-written candidate (a Python file
// defining `ModelNew`) against a module class of the active file with the server's
// `tritonize.verifyCandidate` command, and show the verdict. The pure parts (arguments, class
// names, result → message) are exported for the tests; `verifyKernelFile` wires them to the UI.

import * as vscode from "vscode";
import { ActionOrCommand, LspCommand, isCommand } from "./convert";
import { IncrementTracker, ProgressValue, describe } from "./progress";

export const VERIFY_COMMAND = "tritonize.verifyCandidate";

/** The single argument object of `tritonize.verifyCandidate` (see docs/LSP.md). */
export interface VerifyArgs {
  uri: string;
  candidatePath: string;
  className?: string;
  /** An unsaved candidate buffer's text; the server prefers it over reading candidatePath. */
  candidate?: string;
}

export function buildVerifyArgs(uri: string, candidatePath: string, className?: string, candidateText?: string): VerifyArgs {
  const args: VerifyArgs = { uri, candidatePath };
  if (className !== undefined) {
    args.className = className;
  }
  if (candidateText !== undefined) {
    args.candidate = candidateText;
  }
  return args;
}

export function verifyCommand(args: VerifyArgs): LspCommand {
  return { title: "Verify kernel", command: VERIFY_COMMAND, arguments: [args] };
}

/**
 * Module classes named by the server's code actions (`data.class` of a convert/re-run action,
 * or `arguments[0].class` of its command), in order and without repeats. Asked over the whole
 * document, the server offers one entry per nn.Module class (a generated `XTriton` maps to `X`).
 */
export function classNamesFromActions(items: readonly ActionOrCommand[] | null | undefined): string[] {
  const names: string[] = [];
  for (const item of items ?? []) {
    const command = isCommand(item) ? item : item.command;
    const payload = (isCommand(item) ? undefined : item.data) ?? command?.arguments?.[0];
    const name = typeof payload === "object" && payload !== null ? (payload as { class?: unknown }).class : undefined;
    if (typeof name === "string" && !names.includes(name)) {
      names.push(name);
    }
  }
  return names;
}

export type Verdict =
  | { status: "passed" | "failed"; line: string; text: string; kind?: string; message: string }
  | { status: "error"; kind: string; message: string }
  | { status: "cancelled" }
  | { status: "no-answer"; message: string };

/** What the server's answer means. A request cancelled through its token may answer nothing. */
export function interpretResult(result: unknown, cancelled = false): Verdict {
  if (cancelled || (isObject(result) && result.cancelled === true)) {
    return { status: "cancelled" };
  }
  if (!isObject(result)) {
    return { status: "no-answer", message: "the server gave no answer (is it running? see the Tritonize output)" };
  }
  if (isObject(result.error)) {
    const kind = typeof result.error.kind === "string" ? result.error.kind : "error";
    return { status: "error", kind, message: String(result.error.message ?? kind) };
  }
  if (typeof result.passed !== "boolean") {
    return { status: "no-answer", message: "the server's answer has no verdict" };
  }
  const text = typeof result.text === "string" ? result.text : "";
  const message = typeof result.message === "string" ? result.message : "";
  const kind = typeof result.kind === "string" ? result.kind : undefined;
  // The text's first line is the verdict as `tritonize verify` prints it:
  // "PASS  kernel.py vs problem.py::Model  [cpu (TRITON_INTERPRET=1)]"
  const first = text.split("\n")[0].replace(/\s+/g, " ").trim();
  const fallback = result.passed ? `PASS ${String(result.candidate_id ?? "candidate")}` : `FAIL (${kind ?? "fail"}) ${String(result.candidate_id ?? "candidate")}`;
  return { status: result.passed ? "passed" : "failed", line: first || fallback, text, kind, message };
}

export interface ShownMessage {
  level: "info" | "warning" | "error";
  message: string;
}

/** The notification for a verdict: info for a pass, error for a failed candidate, warning when
 * the server could not verify at all (bad class, unreadable file, no recipe, …). */
export function verdictMessage(verdict: Verdict): ShownMessage {
  switch (verdict.status) {
    case "passed":
      return { level: "info", message: `Tritonize: ${verdict.line}` };
    case "failed":
      return { level: "error", message: `Tritonize: ${verdict.line}${verdict.message ? `: ${verdict.message}` : ""}` };
    case "error":
      return { level: "warning", message: `Tritonize: cannot verify (${verdict.kind}): ${verdict.message}` };
    case "cancelled":
      return { level: "info", message: "Tritonize: verification cancelled." };
    case "no-answer":
      return { level: "warning", message: `Tritonize: ${verdict.message}` };
  }
}

/**
 * The server also announces verdicts and verify errors with window/showMessage
 * ("tritonize: PASS …", "tritonize: FAIL …", "tritonize: verify: …"). While our command shows
 * its own, those are kept out of the way so the user sees one notification, not two.
 */
export class ServerMessageFilter {
  private active = 0;

  begin(): { dispose(): void } {
    this.active++;
    let done = false;
    return {
      dispose: () => {
        if (!done) {
          done = true;
          this.active--;
        }
      },
    };
  }

  /** Whether a server window/showMessage should be shown. */
  shouldShow(message: string): boolean {
    return this.active === 0 || !/^tritonize: (PASS |FAIL |verify: )/.test(message);
  }
}

/** What the command needs from the running language client. */
export interface VerifyServer {
  /** Module classes of the editor's file per the server, and the one under the cursor. */
  moduleClasses(editor: vscode.TextEditor): Promise<{ all: string[]; atCursor?: string }> | undefined;
  executeCommand(command: LspCommand, token?: vscode.CancellationToken): Promise<unknown> | undefined;
  /** Append to the Tritonize output channel. */
  appendOutput(text: string): void;
  showLog(): void;
}

/** The class to verify against: the only one, else a quick pick (the cursor's first). Undefined
 * name with `ask: false` lets the server choose (`Model`, or the only class). */
export async function chooseClass(classes: { all: string[]; atCursor?: string }): Promise<{ name?: string } | undefined> {
  const { all, atCursor } = classes;
  if (all.length === 0) {
    return {}; // the server says why (no nn.Module class, …)
  }
  if (all.length === 1) {
    return { name: all[0] };
  }
  const ordered = atCursor && all.includes(atCursor) ? [atCursor, ...all.filter((n) => n !== atCursor)] : all;
  const picked = await vscode.window.showQuickPick(ordered, { placeHolder: "Verify the kernel against which module class?" });
  return picked === undefined ? undefined : { name: picked };
}

export interface VerifyOptions {
  /** The problem's progress values (the server's $/progress), forwarded to our notification. */
  attachProgress?(listener: (token: string | number, value: ProgressValue) => void): { dispose(): void };
  filter?: ServerMessageFilter;
}

/** The command: active module file → candidate file → class → verdict. */
export async function verifyKernelFile(server: VerifyServer, options: VerifyOptions = {}): Promise<Verdict | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== "python") {
    void vscode.window.showInformationMessage("Tritonize: open the Python file with the nn.Module class first.");
    return undefined;
  }
  // Asked now (while the file dialog is open); a failure just means "let the server pick".
  const classes = server.moduleClasses(editor)?.catch(() => ({ all: [] as string[] }));
  if (!classes) {
    void vscode.window.showWarningMessage("Tritonize: the language server is not running (see the Tritonize output).");
    return undefined;
  }
  const files = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel: "Verify",
    title: "Kernel file to verify (a Python module defining ModelNew)",
    filters: { Python: ["py"] },
  });
  if (!files || files.length === 0) {
    return undefined;
  }
  const candidate = files[0];
  const chosen = await chooseClass(await classes);
  if (!chosen) {
    return undefined;
  }
  const open = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === candidate.fsPath && d.isDirty);
  const args = buildVerifyArgs(editor.document.uri.toString(), candidate.fsPath, chosen.name, open?.getText());
  const title = `Tritonize: verifying ${basename(candidate.fsPath)}${chosen.name ? ` against ${chosen.name}` : ""}`;
  const progressOptions = { location: vscode.ProgressLocation.Notification, title, cancellable: true };
  const verdict = await vscode.window.withProgress(progressOptions, async (report, token) => {
    const increments = new IncrementTracker();
    const listener = options.attachProgress?.((_t, value) => {
      if (value.kind !== "end") {
        const message = value.kind === "begin" ? describe({ title: value.title ?? "", message: value.message }) : value.message;
        report.report({ message, increment: increments.increment(value.percentage) });
      }
    });
    const quiet = options.filter?.begin();
    try {
      const result = await server.executeCommand(verifyCommand(args), token);
      return interpretResult(result, token.isCancellationRequested);
    } catch (err) {
      if (token.isCancellationRequested) {
        return interpretResult(undefined, true);
      }
      return { status: "error", kind: "request", message: errorMessage(err) } as Verdict;
    } finally {
      quiet?.dispose();
      listener?.dispose();
    }
  });
  showVerdict(server, verdict);
  return verdict;
}

function showVerdict(server: VerifyServer, verdict: Verdict): void {
  if (verdict.status === "passed" || verdict.status === "failed") {
    server.appendOutput(verdict.text || verdict.line);
  } else if (verdict.status === "error") {
    server.appendOutput(`verify: ${verdict.kind}: ${verdict.message}`);
  }
  const shown = verdictMessage(verdict);
  const show =
    shown.level === "info" ? vscode.window.showInformationMessage : shown.level === "warning" ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
  if (verdict.status === "passed" || verdict.status === "failed") {
    void show(shown.message, "Show Details").then((choice) => choice && server.showLog());
  } else {
    void show(shown.message);
  }
}

function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function isObject(value: unknown): value is Record<string, unknown> & { error?: unknown } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  if (isObject(err) && "message" in err) {
    return String(err.message);
  }
  return String(err);
}
