import * as assert from "assert";
import { ActionOrCommand, ConvertHost, LspCodeAction, LspCommand, pickConvertAction, reportText, runConvert } from "../src/convert";

const data = { uri: "file:///m.py", version: 3, class: "Gelu", rerun: false };
const resolveAction: LspCodeAction = { title: "Convert Gelu to Triton kernel", kind: "refactor.rewrite", data };
const commandAction: LspCodeAction = {
  title: "Convert Gelu to Triton kernel",
  kind: "refactor.rewrite",
  command: { title: "Convert Gelu to Triton kernel", command: "tritonize.convert", arguments: [data] },
};
const reportAction: LspCodeAction = {
  title: "Show conversion report for Gelu",
  kind: "",
  command: { title: "Show conversion report for Gelu", command: "tritonize.showReport", arguments: [{ uri: "file:///m.py", class: "Gelu" }] },
};
const edit = { changes: { "file:///m.py": [{ range: { start: { line: 9, character: 0 }, end: { line: 9, character: 0 } }, newText: "class GeluTriton" }] } };

class FakeHost implements ConvertHost<string> {
  calls: string[] = [];
  constructor(
    private readonly actions: ActionOrCommand[] | null,
    private readonly opts: { canResolve?: boolean; resolved?: LspCodeAction; applies?: boolean } = {},
  ) {}
  async codeActions(only?: string[]) {
    this.calls.push(`codeActions ${JSON.stringify(only)}`);
    return this.actions;
  }
  canResolve() {
    return this.opts.canResolve ?? true;
  }
  async resolve(action: LspCodeAction, token: string) {
    this.calls.push(`resolve ${action.title} ${token}`);
    return this.opts.resolved ?? { ...action, edit };
  }
  async executeCommand(command: LspCommand, token: string) {
    this.calls.push(`execute ${command.command} ${token}`);
    return { applied: true };
  }
  async applyEdit(e: unknown) {
    this.calls.push(`apply ${JSON.stringify(e) === JSON.stringify(edit) ? "edit" : "other"}`);
    return this.opts.applies ?? true;
  }
}

describe("convert at cursor", () => {
  it("picks the convert action among others", () => {
    assert.strictEqual(pickConvertAction([reportAction, resolveAction]), resolveAction);
    const rerun = { ...resolveAction, title: "Re-run conversion of Gelu to Triton" };
    assert.strictEqual(pickConvertAction([rerun]), rerun);
    const bare: LspCommand = { title: "Convert Gelu to Triton kernel", command: "tritonize.convert", arguments: [data] };
    assert.strictEqual(pickConvertAction([bare]), bare);
    assert.strictEqual(pickConvertAction([reportAction]), undefined);
    assert.strictEqual(pickConvertAction(null), undefined);
  });

  it("resolves a data-only action and applies its edit", async () => {
    const host = new FakeHost([resolveAction]);
    const outcome = await runConvert(host, "tok");
    assert.deepStrictEqual(host.calls, ['codeActions ["refactor.rewrite"]', "resolve Convert Gelu to Triton kernel tok", "apply edit"]);
    assert.strictEqual(outcome.status, "applied");
  });

  it("runs the tritonize.convert command (the server applies the edit) with the cancel token", async () => {
    const host = new FakeHost([commandAction]);
    const outcome = await runConvert(host, "tok");
    assert.deepStrictEqual(host.calls.slice(1), ["execute tritonize.convert tok"]);
    assert.deepStrictEqual(outcome, { status: "applied", title: "Convert Gelu to Triton kernel", result: { applied: true } });
  });

  it("reports a resolve that came back without an edit (every candidate failed)", async () => {
    const host = new FakeHost([resolveAction], { resolved: resolveAction });
    assert.deepStrictEqual(await runConvert(host, "tok"), {
      status: "not-applied",
      title: "Convert Gelu to Triton kernel",
      reason: "the server returned no edit",
    });
  });

  it("reports an edit the editor refused (the document changed meanwhile)", async () => {
    const host = new FakeHost([resolveAction], { applies: false });
    const outcome = await runConvert(host, "tok");
    assert.strictEqual(outcome.status, "not-applied");
  });

  it("does not resolve when the server cannot", async () => {
    const host = new FakeHost([resolveAction], { canResolve: false });
    const outcome = await runConvert(host, "tok");
    assert.ok(!host.calls.some((c) => c.startsWith("resolve")));
    assert.strictEqual(outcome.status, "not-applied");
  });

  it("says when there is nothing to convert, and shows a disabled reason", async () => {
    assert.deepStrictEqual(await runConvert(new FakeHost([]), "t"), { status: "no-action" });
    const disabled = { ...resolveAction, disabled: { reason: "no input recipe" } };
    assert.deepStrictEqual(await runConvert(new FakeHost([disabled]), "t"), {
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
    await assert.rejects(runConvert(host, "tok"), /cancelled/);
  });

  it("reads the report text from the showReport result", () => {
    assert.strictEqual(reportText({ markdown: "| a |", text: "a" }), "| a |");
    assert.strictEqual(reportText({ text: "a" }), "a");
    assert.strictEqual(reportText("plain"), "plain");
    assert.strictEqual(reportText(null), undefined);
  });
});
