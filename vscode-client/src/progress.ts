// The server's work-done progress ($/progress) for conversions: one status-bar item while any
// conversion runs, and the values of a conversion the user started from our command forwarded to
// that command's notification instead of the language client's own window progress.

export type ProgressToken = string | number;

/** WorkDoneProgressBegin | Report | End, the fields used here. */
export interface ProgressValue {
  kind: "begin" | "report" | "end";
  title?: string;
  message?: string;
  percentage?: number;
  cancellable?: boolean;
}

export interface Conversion {
  token: ProgressToken;
  title: string;
  message?: string;
  percentage?: number;
  cancellable: boolean;
}

/** Where the summary goes (a status-bar item in the extension, a recorder in tests). */
export interface StatusSink {
  show(text: string, tooltip: string): void;
  hide(): void;
}

export type ForegroundListener = (token: ProgressToken, value: ProgressValue) => void;

export class ConversionProgress {
  private readonly running = new Map<ProgressToken, Conversion>();
  private foreground: ForegroundListener | undefined;

  constructor(private readonly sink: StatusSink) {}

  /**
   * Middleware hook for every work-done progress value of the client. `next` hands the value to
   * the language client's default UI; begin/report are kept from it while our own notification
   * shows them or the status item does, and `end` always goes through so it can clean up.
   */
  handle(token: ProgressToken, value: ProgressValue, next: () => void): void {
    this.update(token, value);
    if (this.foreground) {
      this.foreground(token, value);
    }
    if (value.kind === "end") {
      next();
    }
  }

  /** While attached, every progress value also goes to `listener` (the command's notification). */
  attach(listener: ForegroundListener): { dispose(): void } {
    this.foreground = listener;
    return {
      dispose: () => {
        if (this.foreground === listener) {
          this.foreground = undefined;
        }
      },
    };
  }

  conversions(): Conversion[] {
    return [...this.running.values()];
  }

  /** Tokens of running conversions that the server said may be cancelled. */
  cancellableTokens(): ProgressToken[] {
    return this.conversions()
      .filter((c) => c.cancellable)
      .map((c) => c.token);
  }

  /** The status-bar text, e.g. "$(sync~spin) Tritonize FusedGeluScale: verify 2/4 (50%)". */
  text(): string {
    const all = this.conversions();
    if (all.length === 0) {
      return "";
    }
    const newest = all[all.length - 1];
    const more = all.length > 1 ? ` (+${all.length - 1})` : "";
    return `$(sync~spin) ${describe(newest)}${more}`;
  }

  /** Forget everything (the server stopped). */
  clear(): void {
    this.running.clear();
    this.render();
  }

  private update(token: ProgressToken, value: ProgressValue): void {
    if (value.kind === "begin") {
      this.running.set(token, {
        token,
        title: value.title ?? "Tritonize",
        message: value.message,
        percentage: value.percentage,
        cancellable: value.cancellable === true,
      });
    } else if (value.kind === "report") {
      const c = this.running.get(token);
      if (c) {
        c.message = value.message ?? c.message;
        c.percentage = value.percentage ?? c.percentage;
        c.cancellable = value.cancellable ?? c.cancellable;
      }
    } else {
      this.running.delete(token);
    }
    this.render();
  }

  private render(): void {
    const text = this.text();
    if (text === "") {
      this.sink.hide();
      return;
    }
    const tip = this.conversions()
      .map(describe)
      .join("\n");
    const cancel = this.cancellableTokens().length > 0 ? "\nClick to cancel." : "";
    this.sink.show(text, tip + cancel);
  }
}

/** "Tritonize X: verify 2/4 (50%)" */
export function describe(c: Pick<Conversion, "title" | "message" | "percentage">): string {
  let line = c.title;
  if (c.message) {
    line += `: ${c.message}`;
  }
  if (c.percentage !== undefined) {
    line += ` (${Math.round(c.percentage)}%)`;
  }
  return line;
}

/** The increments VS Code's Progress.report expects from absolute LSP percentages. */
export class IncrementTracker {
  private reported = 0;

  increment(percentage: number | undefined): number | undefined {
    if (percentage === undefined) {
      return undefined;
    }
    const clamped = Math.max(0, Math.min(100, percentage));
    const delta = Math.max(0, clamped - this.reported);
    this.reported += delta;
    return delta;
  }
}
