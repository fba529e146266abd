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
const progress_1 = require("../src/progress");
class Sink {
    text = "";
    tooltip = "";
    visible = false;
    show(text, tooltip) {
        this.text = text;
        this.tooltip = tooltip;
        this.visible = true;
    }
    hide() {
        this.visible = false;
    }
}
describe("conversion progress → status bar", () => {
    it("shows the running conversion and hides it when it ends", () => {
        const sink = new Sink();
        const progress = new progress_1.ConversionProgress(sink);
        const passedOn = [];
        const send = (token, value) => progress.handle(token, value, () => passedOn.push(value.kind));
        send("t1", { kind: "begin", title: "Tritonize FusedGeluScale", message: "starting", percentage: 0, cancellable: true });
        assert.ok(sink.visible);
        assert.strictEqual(sink.text, "$(sync~spin) Tritonize FusedGeluScale: starting (0%)");
        assert.match(sink.tooltip, /Click to cancel/);
        send("t1", { kind: "report", message: "verify: 2/4", percentage: 65 });
        assert.strictEqual(sink.text, "$(sync~spin) Tritonize FusedGeluScale: verify: 2/4 (65%)");
        assert.deepStrictEqual(progress.cancellableTokens(), ["t1"]);
        send("t1", { kind: "end", message: "1 of 4 passed" });
        assert.ok(!sink.visible);
        assert.deepStrictEqual(progress.conversions(), []);
        // begin/report stay out of the client's default window progress; end reaches it to clean up
        assert.deepStrictEqual(passedOn, ["end"]);
    });
    it("counts concurrent conversions and only offers cancellable ones", () => {
        const sink = new Sink();
        const progress = new progress_1.ConversionProgress(sink);
        progress.handle("a", { kind: "begin", title: "Tritonize A", cancellable: true }, () => undefined);
        progress.handle("b", { kind: "begin", title: "Tritonize B", cancellable: false }, () => undefined);
        assert.strictEqual(sink.text, "$(sync~spin) Tritonize B (+1)");
        assert.deepStrictEqual(progress.cancellableTokens(), ["a"]);
        progress.clear();
        assert.ok(!sink.visible);
    });
    it("forwards values to an attached listener until it is disposed", () => {
        const progress = new progress_1.ConversionProgress(new Sink());
        const seen = [];
        const sub = progress.attach((token, value) => seen.push(`${token}:${value.kind}`));
        progress.handle(1, { kind: "begin", title: "T" }, () => undefined);
        sub.dispose();
        progress.handle(1, { kind: "end" }, () => undefined);
        assert.deepStrictEqual(seen, ["1:begin"]);
    });
    it("turns absolute percentages into the increments VS Code expects", () => {
        const inc = new progress_1.IncrementTracker();
        assert.deepStrictEqual([inc.increment(10), inc.increment(undefined), inc.increment(40), inc.increment(30), inc.increment(150)], [10, undefined, 30, 0, 60]);
    });
});
//# sourceMappingURL=progress.test.js.map