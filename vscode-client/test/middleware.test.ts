import * as assert from "assert";
import { makeMiddleware } from "../src/middleware";
import { ConversionProgress } from "../src/progress";

describe("language-client middleware", () => {
  it("answers workspace/configuration for the tritonize section with our settings", async () => {
    const scopes: (string | undefined)[] = [];
    const mw = makeMiddleware(new ConversionProgress({ show() {}, hide() {} }), (scope) => {
      scopes.push(scope);
      return { n: 2 };
    });
    const params = { items: [{ section: "tritonize", scopeUri: "file:///w/m.py" }, { section: "python" }] };
    const next = async () => [{ n: 4, interpreter: ["/x"] }, { analysis: {} }];
    const result = await mw.workspace!.configuration!(params, {} as never, next as never);
    assert.deepStrictEqual(result, [{ n: 2 }, { analysis: {} }]);
    assert.deepStrictEqual(scopes, ["file:///w/m.py"]);
  });

  it("routes work-done progress to the status bar and hands `end` to the client", () => {
    const shown: string[] = [];
    const progress = new ConversionProgress({ show: (t) => shown.push(t), hide: () => shown.push("hidden") });
    const mw = makeMiddleware(progress, () => ({}));
    const forwarded: unknown[] = [];
    const next = (token: unknown, value: unknown) => forwarded.push([token, value]);
    mw.handleWorkDoneProgress!("t", { kind: "begin", title: "Tritonize X" }, next);
    mw.handleWorkDoneProgress!("t", { kind: "end" }, next);
    assert.deepStrictEqual(shown, ["$(sync~spin) Tritonize X", "hidden"]);
    assert.deepStrictEqual(forwarded, [["t", { kind: "end" }]]);
  });
});
