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
const convert_1 = require("../src/convert");
const data = { uri: "file:///m.py", version: 3, class: "Gelu", rerun: false };
const resolveAction = { title: "Convert Gelu to Triton kernel", kind: "refactor.rewrite", data };
const commandAction = {
    title: "Convert Gelu to Triton kernel",
    kind: "refactor.rewrite",
    command: { title: "Convert Gelu to Triton kernel", command: "tritonize.convert", arguments: [data] },
};
const reportAction = {
    title: "Show conversion report for Gelu",
    kind: "",
    command: { title: "Show conversion report for Gelu", command: "tritonize.showReport", arguments: [{ uri: "file:///m.py", class: "Gelu" }] },
};
const edit = { changes: { "file:///m.py": [{ range: { start: { line: 9, character: 0 }, end: { line: 9, character: 0 } }, newText: "class GeluTriton" }] } };
class FakeHost {
    actions;
    opts;
    calls = [];
    constructor(actions, opts = {}) {
        this.actions = actions;
        this.opts = opts;
    }
    async codeActions(only) {
        this.calls.push(`codeActions ${JSON.stringify(only)}`);
        return this.actions;
    }
    canResolve() {
        return this.opts.canResolve ?? true;
    }
    async resolve(action, token) {
        this.calls.push(`resolve ${action.title} ${token}`);
        return this.opts.resolved ?? { ...action, edit };
    }
    async executeCommand(command, token) {
        this.calls.push(`execute ${command.command} ${token}`);
        return { applied: true };
    }
    async applyEdit(e) {
        this.calls.push(`apply ${JSON.stringify(e) === JSON.stringify(edit) ? "edit" : "other"}`);
        return this.opts.applies ?? true;
    }
}
describe("convert at cursor", () => {
    it("picks the convert action among others", () => {
        assert.strictEqual((0, convert_1.pickConvertAction)([reportAction, resolveAction]), resolveAction);
        const rerun = { ...resolveAction, title: "Re-run conversion of Gelu to Triton" };
        assert.strictEqual((0, convert_1.pickConvertAction)([rerun]), rerun);
        const bare = { title: "Convert Gelu to Triton kernel", command: "tritonize.convert", arguments: [data] };
        assert.strictEqual((0, convert_1.pickConvertAction)([bare]), bare);
        assert.strictEqual((0, convert_1.pickConvertAction)([reportAction]), undefined);
        assert.strictEqual((0, convert_1.pickConvertAction)(null), undefined);
    });
    it("resolves a data-only action and applies its edit", async () => {
        const host = new FakeHost([resolveAction]);
        const outcome = await (0, convert_1.runConvert)(host, "tok");
        assert.deepStrictEqual(host.calls, ['codeActions ["refactor.rewrite"]', "resolve Convert Gelu to Triton kernel tok", "apply edit"]);
        assert.strictEqual(outcome.status, "applied");
    });
    it("runs the tritonize.convert command (the server applies the edit) with the cancel token", async () => {
        const host = new FakeHost([commandAction]);
        const outcome = await (0, convert_1.runConvert)(host, "tok");
        assert.deepStrictEqual(host.calls.slice(1), ["execute tritonize.convert tok"]);
        assert.deepStrictEqual(outcome, { status: "applied", title: "Convert Gelu to Triton kernel", result: { applied: true } });
    });
    it("reports a resolve that came back without an edit (every candidate failed)", async () => {
        const host = new FakeHost([resolveAction], { resolved: resolveAction });
        assert.deepStrictEqual(await (0, convert_1.runConvert)(host, "tok"), {
            status: "not-applied",
            title: "Convert Gelu to Triton kernel",
            reason: "the server returned no edit",
        });
    });
    it("reports an edit the editor refused (the document changed meanwhile)", async () => {
        const host = new FakeHost([resolveAction], { applies: false });
        const outcome = await (0, convert_1.runConvert)(host, "tok");
        assert.strictEqual(outcome.status, "not-applied");
    });
    it("does not resolve when the server cannot", async () => {
        const host = new FakeHost([resolveAction], { canResolve: false });
        const outcome = await (0, convert_1.runConvert)(host, "tok");
        assert.ok(!host.calls.some((c) => c.startsWith("resolve")));
        assert.strictEqual(outcome.status, "not-applied");
    });
    it("says when there is nothing to convert, and shows a disabled reason", async () => {
        assert.deepStrictEqual(await (0, convert_1.runConvert)(new FakeHost([]), "t"), { status: "no-action" });
        const disabled = { ...resolveAction, disabled: { reason: "no input recipe" } };
        assert.deepStrictEqual(await (0, convert_1.runConvert)(new FakeHost([disabled]), "t"), {
            status: "disabled",
            title: disabled.title,
            reason: "no input recipe",
        });
    });
    it("passes a cancellation on as the request's rejection", async () => {
        const host = new FakeHost([resolveAction]);
        host.resolve = async () => {
            throw Object.assign(new Error("Request cancelled"), { code: -32800 });
        };
        await assert.rejects((0, convert_1.runConvert)(host, "tok"), /cancelled/);
    });
    it("reads the report text from the showReport result", () => {
        assert.strictEqual((0, convert_1.reportText)({ markdown: "| a |", text: "a" }), "| a |");
        assert.strictEqual((0, convert_1.reportText)({ text: "a" }), "a");
        assert.strictEqual((0, convert_1.reportText)("plain"), "plain");
        assert.strictEqual((0, convert_1.reportText)(null), undefined);
    });
});
//# sourceMappingURL=convert.test.js.map