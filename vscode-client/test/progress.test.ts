import * as assert from "assert";
import { ConversionProgress, IncrementTracker, ProgressValue } from "../src/progress";

class Sink {
  text = "";
  tooltip = "";
  visible = false;
  show(text: string, tooltip: string) {
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
    const progress = new ConversionProgress(sink);
    const passedOn: string[] = [];
    const send = (token: string, value: ProgressValue) => progress.handle(token, value, () => passedOn.push(value.kind));

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
    const progress = new ConversionProgress(sink);
    progress.handle("a", { kind: "begin", title: "Tritonize A", cancellable: true }, () => undefined);
    progress.handle("b", { kind: "begin", title: "Tritonize B", cancellable: false }, () => undefined);
    assert.strictEqual(sink.text, "$(sync~spin) Tritonize B (+1)");
    assert.deepStrictEqual(progress.cancellableTokens(), ["a"]);
    progress.clear();
    assert.ok(!sink.visible);
  });

  it("forwards values to an attached listener until it is disposed", () => {
    const progress = new ConversionProgress(new Sink());
    const seen: string[] = [];
    const sub = progress.attach((token, value) => seen.push(`${token}:${value.kind}`));
    progress.handle(1, { kind: "begin", title: "T" }, () => undefined);
    sub.dispose();
    progress.handle(1, { kind: "end" }, () => undefined);
    assert.deepStrictEqual(seen, ["1:begin"]);
  });

  it("turns absolute percentages into the increments VS Code expects", () => {
    const inc = new IncrementTracker();
    assert.deepStrictEqual([inc.increment(10), inc.increment(undefined), inc.increment(40), inc.increment(30), inc.increment(150)], [10, undefined, 30, 0, 60]);
  });
});
