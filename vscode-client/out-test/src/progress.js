"use strict";
// The server's work-done progress ($/progress) for conversions: one status-bar item while any
// conversion runs, and the values of a conversion the user started from our command forwarded to
// that command's notification instead of the language client's own window progress.
Object.defineProperty(exports, "__esModule", { value: true });
exports.IncrementTracker = exports.ConversionProgress = void 0;
exports.describe = describe;
class ConversionProgress {
    sink;
    running = new Map();
    foreground;
    constructor(sink) {
        this.sink = sink;
    }
    /**
     * Middleware hook for every work-done progress value of the client. `next` hands the value to
     * the language client's default UI; begin/report are kept from it while our own notification
     * shows them or the status item does, and `end` always goes through so it can clean up.
     */
    handle(token, value, next) {
        this.update(token, value);
        if (this.foreground) {
            this.foreground(token, value);
        }
        if (value.kind === "end") {
            next();
        }
    }
    /** While attached, every progress value also goes to `listener` (the command's notification). */
    attach(listener) {
        this.foreground = listener;
        return {
            dispose: () => {
                if (this.foreground === listener) {
                    this.foreground = undefined;
                }
            },
        };
    }
    conversions() {
        return [...this.running.values()];
    }
    /** Tokens of running conversions that the server said may be cancelled. */
    cancellableTokens() {
        return this.conversions()
            .filter((c) => c.cancellable)
            .map((c) => c.token);
    }
    /** The status-bar text, e.g. "$(sync~spin) Tritonize FusedGeluScale: verify 2/4 (50%)". */
    text() {
        const all = this.conversions();
        if (all.length === 0) {
            return "";
        }
        const newest = all[all.length - 1];
        const more = all.length > 1 ? ` (+${all.length - 1})` : "";
        return `$(sync~spin) ${describe(newest)}${more}`;
    }
    /** Forget everything (the server stopped). */
    clear() {
        this.running.clear();
        this.render();
    }
    update(token, value) {
        if (value.kind === "begin") {
            this.running.set(token, {
                token,
                title: value.title ?? "Tritonize",
                message: value.message,
                percentage: value.percentage,
                cancellable: value.cancellable === true,
            });
        }
        else if (value.kind === "report") {
            const c = this.running.get(token);
            if (c) {
                c.message = value.message ?? c.message;
                c.percentage = value.percentage ?? c.percentage;
                c.cancellable = value.cancellable ?? c.cancellable;
            }
        }
        else {
            this.running.delete(token);
        }
        this.render();
    }
    render() {
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
exports.ConversionProgress = ConversionProgress;
/** "Tritonize X: verify 2/4 (50%)" */
function describe(c) {
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
class IncrementTracker {
    reported = 0;
    increment(percentage) {
        if (percentage === undefined) {
            return undefined;
        }
        const clamped = Math.max(0, Math.min(100, percentage));
        const delta = Math.max(0, clamped - this.reported);
        this.reported += delta;
        return delta;
    }
}
exports.IncrementTracker = IncrementTracker;
//# sourceMappingURL=progress.js.map