// A small stand-in for the `vscode` module: just the API the extension's commands use, recording
// what was shown so tests can assert on what a user would see.

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
}

export class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  dispose(): void {
    this.fn();
  }
}

type Listener = () => void;

export class CancellationTokenSource {
  private listeners: Listener[] = [];
  readonly token = {
    isCancellationRequested: false,
    onCancellationRequested: (listener: Listener) => {
      this.listeners.push(listener);
      return new Disposable();
    },
  };
  cancel(): void {
    if (!this.token.isCancellationRequested) {
      this.token.isCancellationRequested = true;
      this.listeners.forEach((l) => l());
    }
  }
  dispose(): void {}
}

export interface Shown {
  level: "info" | "warning" | "error";
  message: string;
  /** The buttons offered with the message, when there are any. */
  items?: string[];
}

export interface ProgressRun {
  options: { location: ProgressLocation; title?: string; cancellable?: boolean };
  reports: { message?: string; increment?: number }[];
  cancel: () => void;
}

export class StatusBarItemDouble {
  text = "";
  tooltip: string | undefined;
  command: string | undefined;
  name: string | undefined;
  visible = false;
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.visible = false;
  }
}

export const recorded = {
  messages: [] as Shown[],
  progress: [] as ProgressRun[],
  documents: [] as { language?: string; content?: string }[],
  shownDocuments: [] as unknown[],
  statusItems: [] as StatusBarItemDouble[],
  openDialogs: [] as unknown[],
  quickPicks: [] as { items: string[]; options?: unknown }[],
  /** What showOpenDialog answers (undefined: the user closed it). */
  openDialogAnswer: undefined as { fsPath: string }[] | undefined,
  /** What showQuickPick answers, from the items it was given (undefined: the user pressed Escape). */
  quickPickAnswer: undefined as ((items: string[]) => string | undefined) | undefined,
  /** The button a message "clicks" (undefined: dismissed). */
  messageChoice: undefined as string | undefined,
  /** Called with the progress run right after withProgress starts its task (e.g. to cancel). */
  onProgressStart: undefined as ((run: ProgressRun) => void) | undefined,
};

export function resetDouble(): void {
  recorded.messages = [];
  recorded.progress = [];
  recorded.documents = [];
  recorded.shownDocuments = [];
  recorded.statusItems = [];
  recorded.openDialogs = [];
  recorded.quickPicks = [];
  recorded.openDialogAnswer = undefined;
  recorded.quickPickAnswer = undefined;
  recorded.messageChoice = undefined;
  recorded.onProgressStart = undefined;
  workspace.textDocuments = [];
  window.activeTextEditor = undefined;
  registry.clear();
}

function show(level: Shown["level"]) {
  return async (message: string, ...items: string[]): Promise<string | undefined> => {
    recorded.messages.push(items.length > 0 ? { level, message, items } : { level, message });
    return items.includes(recorded.messageChoice ?? "") ? recorded.messageChoice : undefined;
  };
}

export const window = {
  activeTextEditor: undefined as unknown,
  showInformationMessage: show("info"),
  showWarningMessage: show("warning"),
  showErrorMessage: show("error"),
  async withProgress<T>(
    options: ProgressRun["options"],
    task: (progress: { report(v: { message?: string; increment?: number }): void }, token: CancellationTokenSource["token"]) => Promise<T>,
  ): Promise<T> {
    const source = new CancellationTokenSource();
    const run: ProgressRun = { options, reports: [], cancel: () => source.cancel() };
    recorded.progress.push(run);
    const result = task({ report: (v) => run.reports.push(v) }, source.token);
    recorded.onProgressStart?.(run);
    return result;
  },
  async showOpenDialog(options: unknown): Promise<{ fsPath: string }[] | undefined> {
    recorded.openDialogs.push(options);
    return recorded.openDialogAnswer;
  },
  async showQuickPick(items: string[], options?: unknown): Promise<string | undefined> {
    recorded.quickPicks.push({ items, options });
    return recorded.quickPickAnswer?.(items);
  },
  createStatusBarItem(): StatusBarItemDouble {
    const item = new StatusBarItemDouble();
    recorded.statusItems.push(item);
    return item;
  },
  async showTextDocument(doc: unknown): Promise<unknown> {
    recorded.shownDocuments.push(doc);
    return doc;
  },
};

export const workspace = {
  textDocuments: [] as { uri: { fsPath: string }; isDirty: boolean; getText(): string }[],
  async openTextDocument(options: { language?: string; content?: string }): Promise<unknown> {
    recorded.documents.push(options);
    return { ...options, uri: "untitled:report" };
  },
};

const registry = new Map<string, (...args: unknown[]) => unknown>();

export const commands = {
  registerCommand(id: string, fn: (...args: unknown[]) => unknown): Disposable {
    if (registry.has(id)) {
      throw new Error(`command '${id}' already exists`);
    }
    registry.set(id, fn);
    return new Disposable(() => registry.delete(id));
  },
  async executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    const fn = registry.get(id);
    if (!fn) {
      throw new Error(`command '${id}' not found`);
    }
    return fn(...args);
  },
  registered(): string[] {
    return [...registry.keys()];
  },
};
