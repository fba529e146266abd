import * as assert from "assert";
import { LspCommand } from "../src/convert";
import { ConversionProgress } from "../src/progress";
import {
  ServerMessageFilter,
  VerifyServer,
  buildVerifyArgs,
  classNamesFromActions,
  interpretResult,
  verdictMessage,
  verifyKernelFile,
} from "../src/verify";
import * as vscode from "./vscode-double";

type Token = { isCancellationRequested: boolean; onCancellationRequested(l: () => void): unknown };

const editor = { document: { languageId: "python", uri: { toString: () => "file:///w/problem.py" } }, selection: {} };

// What the server answers (shapes from server/tritonize/lsp/verify_command.py).
const PASS = {
  candidate_id: "my_relu.py",
  origin: "user",
  passed: true,
  kind: null,
  message: "",
  seeds: 3,
  device: "cpu (TRITON_INTERPRET=1)",
  text: "PASS  my_relu.py vs problem.py::Model  [cpu (TRITON_INTERPRET=1)]\n  checked on 3 seed(s) at atol=0.0001 rtol=0.0001 (float32)",
};
const FAIL = {
  ...PASS,
  passed: false,
  kind: "mismatch",
  message: "max |Δ| 0.31 at out[0, 12]",
  text: "FAIL (mismatch)  my_relu.py vs problem.py::Model  [cpu (TRITON_INTERPRET=1)]\n  max |Δ| 0.31 at out[0, 12]",
};

class FakeServer implements VerifyServer {
  sent: LspCommand[] = [];
  output: string[] = [];
  logShown = 0;
  classes = { all: ["Model"], atCursor: undefined as string | undefined };
  answer: (token: Token) => Promise<unknown> = async () => PASS;
  running = true;

  moduleClasses() {
    return this.running ? Promise.resolve(this.classes) : undefined;
  }
  executeCommand(command: LspCommand, token?: Token) {
    this.sent.push(command);
    return this.answer(token as Token);
  }
  appendOutput(text: string) {
    this.output.push(text);
  }
  showLog() {
    this.logShown++;
  }
}

function start(server: FakeServer, candidate = "/w/my_relu.py") {
  vscode.window.activeTextEditor = editor;
  vscode.recorded.openDialogAnswer = [{ fsPath: candidate }];
  return server;
}

describe("verify kernel file (with the vscode test double)", () => {
  beforeEach(() => vscode.resetDouble());

  it("builds the verifyCandidate argument object", () => {
    assert.deepStrictEqual(buildVerifyArgs("file:///p.py", "/k.py"), { uri: "file:///p.py", candidatePath: "/k.py" });
    assert.deepStrictEqual(buildVerifyArgs("file:///p.py", "/k.py", "Gelu", "code"), {
      uri: "file:///p.py",
      candidatePath: "/k.py",
      className: "Gelu",
      candidate: "code",
    });
  });

  it("reads module class names from the server's code actions (data or command arguments)", () => {
    const names = classNamesFromActions([
      { title: "Convert Gelu to Triton kernel", kind: "refactor.rewrite", data: { uri: "u", class: "Gelu" } },
      { title: "Show conversion report for Gelu", command: { title: "r", command: "tritonize.showReport", arguments: [{ class: "Gelu" }] } },
      { title: "Re-run conversion of Norm to Triton", command: "tritonize.convert", arguments: [{ class: "Norm", rerun: true }] },
      { title: "something else", kind: "quickfix" },
    ]);
    assert.deepStrictEqual(names, ["Gelu", "Norm"]);
    assert.deepStrictEqual(classNamesFromActions(null), []);
  });

  it("maps answers to verdicts and messages", () => {
    const pass = interpretResult(PASS);
    assert.strictEqual(pass.status, "passed");
    assert.deepStrictEqual(verdictMessage(pass), {
      level: "info",
      message: "Tritonize: PASS my_relu.py vs problem.py::Model [cpu (TRITON_INTERPRET=1)]",
    });
    assert.deepStrictEqual(verdictMessage(interpretResult(FAIL)), {
      level: "error",
      message: "Tritonize: FAIL (mismatch) my_relu.py vs problem.py::Model [cpu (TRITON_INTERPRET=1)]: max |Δ| 0.31 at out[0, 12]",
    });
    const err = interpretResult({ error: { kind: "not_found", message: "no class Foo in problem.py" } });
    assert.deepStrictEqual(err, { status: "error", kind: "not_found", message: "no class Foo in problem.py" });
    assert.strictEqual(verdictMessage(err).level, "warning");
    assert.deepStrictEqual(interpretResult({ cancelled: true }), { status: "cancelled" });
    assert.deepStrictEqual(interpretResult(null, true), { status: "cancelled" });
    assert.strictEqual(interpretResult(null).status, "no-answer");
    assert.strictEqual(interpretResult({ foo: 1 }).status, "no-answer");
  });

  it("verifies the chosen file against the only class and shows the verdict and the text", async () => {
    const server = start(new FakeServer());
    vscode.recorded.messageChoice = "Show Details";
    const verdict = await verifyKernelFile(server);
    assert.strictEqual(verdict?.status, "passed");
    assert.deepStrictEqual(server.sent, [
      { title: "Verify kernel", command: "tritonize.verifyCandidate", arguments: [{ uri: "file:///w/problem.py", candidatePath: "/w/my_relu.py", className: "Model" }] },
    ]);
    assert.deepStrictEqual((vscode.recorded.openDialogs[0] as { filters: unknown }).filters, { Python: ["py"] });
    const run = vscode.recorded.progress[0];
    assert.deepStrictEqual(run.options, { location: vscode.ProgressLocation.Notification, title: "Tritonize: verifying my_relu.py against Model", cancellable: true });
    assert.deepStrictEqual(vscode.recorded.messages, [
      { level: "info", message: "Tritonize: PASS my_relu.py vs problem.py::Model [cpu (TRITON_INTERPRET=1)]", items: ["Show Details"] },
    ]);
    assert.deepStrictEqual(server.output, [PASS.text]);
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(server.logShown, 1);
  });

  it("a failing candidate is an error message with the server's reason", async () => {
    const server = start(new FakeServer());
    server.answer = async () => FAIL;
    await verifyKernelFile(server);
    assert.strictEqual(vscode.recorded.messages[0].level, "error");
    assert.match(vscode.recorded.messages[0].message, /FAIL \(mismatch\).*max \|Δ\| 0\.31/);
    assert.deepStrictEqual(server.output, [FAIL.text]);
  });

  it("sends an unsaved candidate buffer's text along with its path", async () => {
    const server = start(new FakeServer());
    vscode.workspace.textDocuments = [{ uri: { fsPath: "/w/my_relu.py" }, isDirty: true, getText: () => "class ModelNew: ..." }];
    await verifyKernelFile(server);
    assert.strictEqual((server.sent[0].arguments?.[0] as { candidate?: string }).candidate, "class ModelNew: ...");
  });

  it("asks which class when there are several, the cursor's first", async () => {
    const server = start(new FakeServer());
    server.classes = { all: ["Gelu", "Norm", "Scale"], atCursor: "Norm" };
    vscode.recorded.quickPickAnswer = (items) => items[2];
    await verifyKernelFile(server);
    assert.deepStrictEqual(vscode.recorded.quickPicks[0].items, ["Norm", "Gelu", "Scale"]);
    assert.strictEqual((server.sent[0].arguments?.[0] as { className?: string }).className, "Scale");
  });

  it("escape in the class pick or the file dialog sends nothing", async () => {
    const server = start(new FakeServer());
    server.classes = { all: ["Gelu", "Norm"], atCursor: undefined };
    assert.strictEqual(await verifyKernelFile(server), undefined);
    vscode.recorded.openDialogAnswer = undefined;
    assert.strictEqual(await verifyKernelFile(server), undefined);
    assert.deepStrictEqual([server.sent, vscode.recorded.messages], [[], []]);
  });

  it("without a known class lets the server pick, and shows its error when it cannot", async () => {
    const server = start(new FakeServer());
    server.classes = { all: [], atCursor: undefined };
    server.answer = async () => ({ error: { kind: "not_found", message: "problem.py has no nn.Module class" } });
    const verdict = await verifyKernelFile(server);
    assert.strictEqual(verdict?.status, "error");
    assert.ok(!("className" in (server.sent[0].arguments?.[0] as object)));
    assert.deepStrictEqual(vscode.recorded.messages, [
      { level: "warning", message: "Tritonize: cannot verify (not_found): problem.py has no nn.Module class" },
    ]);
  });

  it("cancelling the notification cancels the request and says so", async () => {
    const server = start(new FakeServer());
    // like vscode-languageclient: a request cancelled through its token resolves with nothing
    server.answer = (token) => new Promise((resolve) => token.onCancellationRequested(() => resolve(undefined)));
    vscode.recorded.onProgressStart = (run) => setTimeout(run.cancel, 10);
    const verdict = await verifyKernelFile(server);
    assert.deepStrictEqual(verdict, { status: "cancelled" });
    assert.deepStrictEqual(vscode.recorded.messages, [{ level: "info", message: "Tritonize: verification cancelled." }]);
    assert.deepStrictEqual(server.output, []);
  });

  it("cancelled from the server's progress bar ({cancelled: true}) and request errors", async () => {
    const server = start(new FakeServer());
    server.answer = async () => ({ cancelled: true });
    assert.deepStrictEqual(await verifyKernelFile(server), { status: "cancelled" });
    server.answer = () => Promise.reject(new Error("Internal error: boom"));
    const verdict = await verifyKernelFile(server);
    assert.deepStrictEqual(verdict, { status: "error", kind: "request", message: "Internal error: boom" });
  });

  it("shows the server's progress in the notification and keeps its duplicate messages out meanwhile", async () => {
    const server = start(new FakeServer());
    const progress = new ConversionProgress({ show() {}, hide() {} });
    const filter = new ServerMessageFilter();
    const seen: boolean[] = [];
    server.answer = async () => {
      progress.handle("v-1", { kind: "begin", title: "Verify my_relu.py against Model", message: "load: starting workers", percentage: 0, cancellable: true }, () => undefined);
      progress.handle("v-1", { kind: "report", message: "verifying my_relu.py", percentage: 50 }, () => undefined);
      seen.push(filter.shouldShow("tritonize: PASS my_relu.py vs problem.py::Model"), filter.shouldShow("tritonize: verify: cannot read /x"));
      seen.push(filter.shouldShow("tritonize: Gelu: 2 of 4 candidates passed"));
      return PASS;
    };
    await verifyKernelFile(server, { attachProgress: (l) => progress.attach(l), filter });
    assert.deepStrictEqual(vscode.recorded.progress[0].reports, [
      { message: "Verify my_relu.py against Model: load: starting workers", increment: 0 },
      { message: "verifying my_relu.py", increment: 50 },
    ]);
    assert.deepStrictEqual(seen, [false, false, true]);
    assert.ok(filter.shouldShow("tritonize: PASS my_relu.py vs problem.py::Model"), "shown again once the command is done");
  });

  it("asks for a Python editor and a running server", async () => {
    const server = new FakeServer();
    vscode.window.activeTextEditor = { document: { languageId: "markdown" } };
    await verifyKernelFile(server);
    vscode.window.activeTextEditor = editor;
    server.running = false;
    await verifyKernelFile(server);
    assert.match(vscode.recorded.messages[0].message, /open the Python file/);
    assert.match(vscode.recorded.messages[1].message, /not running/);
    assert.deepStrictEqual(vscode.recorded.openDialogs, []);
  });
});
