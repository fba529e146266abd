// "Tritonize: Convert Module Under Cursor": find the server's convert action at the cursor and run
// it. The server offers either a cheap CodeAction with `data` (resolved when chosen, which runs
// the pipeline) or, for clients without resolve, one whose command is `tritonize.convert` (the
// server then applies the edit itself through workspace/applyEdit).

export const CONVERT_KIND = "refactor.rewrite";
export const CONVERT_COMMAND = "tritonize.convert";
export const REPORT_COMMAND = "tritonize.showReport";

export interface LspCommand {
  title: string;
  command: string;
  arguments?: unknown[];
}

export interface LspCodeAction {
  title: string;
  kind?: string;
  edit?: unknown;
  command?: LspCommand;
  data?: unknown;
  disabled?: { reason: string };
}

export type ActionOrCommand = LspCommand | LspCodeAction;

export function isCommand(item: ActionOrCommand): item is LspCommand {
  return typeof (item as LspCommand).command === "string";
}

/** The "Convert <Name> to Triton kernel" entry of a codeAction response. */
export function pickConvertAction(items: readonly ActionOrCommand[] | null | undefined): ActionOrCommand | undefined {
  for (const item of items ?? []) {
    if (isCommand(item)) {
      if (item.command === CONVERT_COMMAND) {
        return item;
      }
      continue;
    }
    // "Convert X to Triton kernel", or "Re-run conversion of X to Triton" once X has a kernel
    const byKind = item.kind === CONVERT_KIND && /^(Convert|Re-run) /.test(item.title);
    if (byKind || item.command?.command === CONVERT_COMMAND) {
      return item;
    }
  }
  return undefined;
}

/** What the command needs from the language client; `C` is the cancellation token type. */
export interface ConvertHost<C> {
  /** textDocument/codeAction at the cursor, limited to `only` kinds when given. */
  codeActions(only?: string[]): Promise<ActionOrCommand[] | null>;
  canResolve(): boolean;
  resolve(action: LspCodeAction, token: C): Promise<LspCodeAction>;
  executeCommand(command: LspCommand, token: C): Promise<unknown>;
  applyEdit(edit: unknown): Promise<boolean>;
}

export type ConvertOutcome =
  | { status: "no-action" }
  | { status: "disabled"; title: string; reason: string }
  | { status: "applied"; title: string; result?: unknown }
  | { status: "not-applied"; title: string; reason: string };

/** Find and run the convert action. Errors (including cancellation) propagate to the caller. */
export async function runConvert<C>(host: ConvertHost<C>, token: C): Promise<ConvertOutcome> {
  const action = pickConvertAction(await host.codeActions([CONVERT_KIND]));
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
  let result: unknown;
  if (resolved.command !== undefined) {
    result = await host.executeCommand(resolved.command, token);
  }
  if (resolved.edit === undefined && resolved.command === undefined) {
    return { status: "not-applied", title: action.title, reason: "the server returned no edit" };
  }
  return { status: "applied", title: action.title, result };
}

/** The text `tritonize.showReport` returned (a string or `{markdown}`/`{text}`), or undefined. */
export function reportText(result: unknown): string | undefined {
  if (typeof result === "string") {
    return result;
  }
  if (typeof result === "object" && result !== null) {
    const r = result as { markdown?: unknown; text?: unknown };
    if (typeof r.markdown === "string") {
      return r.markdown;
    }
    if (typeof r.text === "string") {
      return r.text;
    }
  }
  return undefined;
}
