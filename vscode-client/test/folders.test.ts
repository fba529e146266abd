import * as assert from "assert";
import { COMMANDS, registerCommands } from "../src/commands";
import { ConvertHost, LspCommand } from "../src/convert";
import {
  DEFAULT_KEY,
  FolderLike,
  FolderServerLike,
  Servers,
  UriLike,
  WindowState,
  folderSelector,
  outermost,
  outsideOnly,
  owningFolder,
  statusSummary,
} from "../src/folders";
import { ConversionProgress } from "../src/progress";
import { ServerStatus } from "../src/status";
import * as vscode from "./vscode-double";

const file = (fsPath: string): UriLike => ({ scheme: "file", fsPath, toString: () => `file://${fsPath}` });
const untitled: UriLike = { scheme: "untitled", fsPath: "Untitled-1", toString: () => "untitled:Untitled-1" };
const folder = (fsPath: string): FolderLike => ({ uri: file(fsPath), name: fsPath.split("/").pop() ?? fsPath });

const A = folder("/work/a");
const B = folder("/work/b");
const NESTED = folder("/work/a/sub");

/** A folder's server as the router sees it: records what reached it. */
class FakeFolderServer implements FolderServerLike {
  log: string[] = [];
  status: ServerStatus = { state: "stopped" };
  constructor(readonly folder: FolderLike | undefined) {}
  get name(): string {
    return this.folder?.name ?? DEFAULT_KEY;
  }
  async start() {
    this.log.push("start");
    this.status = { state: "running", version: "0.1.0", device: this.folder ? `gpu of ${this.folder.name}` : undefined };
  }
  async stop() {
    this.log.push("stop");
    this.status = { state: "stopped" };
  }
  serverStatus() {
    return this.status;
  }
  async refreshDevice() {}
  convertHost(): ConvertHost<never> {
    this.log.push("convertHost");
    return {
      codeActions: async () => [{ title: "Show conversion report for Gelu", command: { title: "r", command: "tritonize.showReport", arguments: [{ class: "Gelu" }] } }],
      canResolve: () => true,
      resolve: async (a) => a as never,
      executeCommand: async () => undefined,
      applyEdit: async () => true,
    };
  }
  moduleClasses() {
    return Promise.resolve({ all: ["Gelu"] });
  }
  appendOutput() {}
  executeCommand(command: LspCommand) {
    this.log.push(`execute ${command.command}`);
    return Promise.resolve({ markdown: `report from ${this.name}` });
  }
  cancelProgress(token: string | number) {
    this.log.push(`cancel ${token}`);
  }
  async restart() {
    this.log.push("restart");
  }
  showLog() {}
  async installIntoInterpreter() {}
}

function setup(folders: FolderLike[], documents: { languageId: string; uri: UriLike }[] = []) {
  const made: FakeFolderServer[] = [];
  const shown: { text: string; tooltip: string }[] = [];
  const state = { folders, active: undefined as UriLike | undefined, documents };
  const window: WindowState = {
    folders: () => state.folders,
    activeUri: () => state.active,
    documents: () => state.documents,
    show: (text, tooltip) => shown.push({ text, tooltip }),
  };
  const servers = new Servers((f) => {
    const s = new FakeFolderServer(f);
    made.push(s);
    return s;
  }, window);
  const byName = (name: string) => made.find((s) => s.name === name && s.status.state !== "stopped")!;
  return { servers, made, shown, state, byName };
}

describe("one language server per workspace folder", () => {
  beforeEach(() => vscode.resetDouble());

  it("gives each file the server of the outermost folder around it, else the default one", () => {
    assert.deepStrictEqual(outermost([A, NESTED, B]).map((f) => f.name), ["a", "b"]);
    assert.strictEqual(owningFolder(file("/work/a/m.py"), [A, B]), A);
    assert.strictEqual(owningFolder(file("/work/a/sub/m.py"), [NESTED, A, B]), A);
    assert.strictEqual(owningFolder(file("/work/b/deep/m.py"), [A, B]), B);
    assert.strictEqual(owningFolder(file("/work/ab/m.py"), [A, B]), undefined); // a prefix is not a folder
    assert.strictEqual(owningFolder(file("/tmp/m.py"), [A, B]), undefined);
    assert.strictEqual(owningFolder(untitled, [A, B]), undefined);
    assert.deepStrictEqual(folderSelector(A), [{ scheme: "file", language: "python", pattern: "/work/a/**/*" }]);
  });

  it("starts a server when a folder is added and stops it when the folder is removed", async () => {
    const { servers, made, state } = setup([A]);
    await servers.sync();
    assert.deepStrictEqual(made.map((s) => [s.name, s.log]), [["a", ["start"]]]);
    state.folders = [A, B, NESTED]; // B added, and a folder nested in A (A's server keeps its files)
    await servers.sync();
    assert.deepStrictEqual(made.map((s) => [s.name, s.log]), [["a", ["start"]], ["b", ["start"]]]);
    state.folders = [B, NESTED]; // A removed: its nested folder now gets a server of its own
    await servers.sync();
    assert.deepStrictEqual(made.map((s) => [s.name, s.log]), [["a", ["start", "stop"]], ["b", ["start"]], ["sub", ["start"]]]);
    await servers.stop();
    assert.ok(made.every((s) => s.log[s.log.length - 1] === "stop"));
  });

  it("starts the default server for Python files outside every folder (and with no folder at all), once", async () => {
    const { servers, made } = setup([A]);
    await servers.sync();
    await servers.documentOpened({ languageId: "python", uri: file("/work/a/m.py") });
    await servers.documentOpened({ languageId: "markdown", uri: file("/tmp/notes.md") });
    assert.deepStrictEqual(made.map((s) => s.name), ["a"]);
    await servers.documentOpened({ languageId: "python", uri: file("/tmp/m.py") });
    await servers.documentOpened({ languageId: "python", uri: untitled });
    assert.deepStrictEqual(made.map((s) => [s.name, s.log]), [["a", ["start"]], [DEFAULT_KEY, ["start"]]]);
    const none = setup([]);
    await none.servers.sync();
    assert.deepStrictEqual(none.made.map((s) => s.name), [DEFAULT_KEY]);
  });

  it("commands act on the server of the active editor's folder", async () => {
    const { servers, state, byName } = setup([A, B]);
    await servers.sync();
    await servers.documentOpened({ languageId: "python", uri: file("/tmp/m.py") });
    registerCommands(servers, new ConversionProgress({ show() {}, hide() {} }));
    for (const [path, name] of [["/work/b/m.py", "b"], ["/work/a/x/m.py", "a"], ["/tmp/m.py", DEFAULT_KEY]] as const) {
      state.active = file(path);
      vscode.window.activeTextEditor = { document: { languageId: "python", uri: state.active }, selection: {} };
      await vscode.commands.executeCommand(COMMANDS.report);
      assert.deepStrictEqual(byName(name).log.slice(-2), ["convertHost", "execute tritonize.showReport"], name);
      assert.deepStrictEqual(vscode.recorded.documents.pop(), { language: "markdown", content: `report from ${name}` });
      await vscode.commands.executeCommand(COMMANDS.restart);
      assert.strictEqual(byName(name).log[byName(name).log.length - 1], "restart");
    }
    assert.deepStrictEqual(byName("a").log.filter((l) => l === "restart"), ["restart"]); // only its own restart
    // a progress token is cancelled wherever it came from
    servers.cancelProgress("tz-1");
    assert.ok(["a", "b", DEFAULT_KEY].every((n) => byName(n).log.includes("cancel tz-1")));
  });

  it("the status item shows the active file's server and lists every folder's", async () => {
    const { servers, state, shown } = setup([A, B]);
    await servers.sync();
    state.active = file("/work/b/m.py");
    servers.renderStatus();
    const last = shown[shown.length - 1];
    assert.strictEqual(last.text, "$(zap) Tritonize 0.1.0 (b)");
    assert.match(last.tooltip, /Tritonize language servers \(2\)/);
    assert.match(last.tooltip, /\n {2}a: running 0\.1\.0 · gpu of a/);
    assert.match(last.tooltip, /\n▸ b: running 0\.1\.0 · gpu of b/);
    assert.strictEqual(servers.serverStatus().device, "gpu of b");
    // one server: exactly the single-server item
    assert.deepStrictEqual(statusSummary([{ name: "a", status: { state: "failed", error: "boom" } }]).text, "$(error) Tritonize");
  });

  it("the default server is kept out of files a folder's server handles", async () => {
    const inFolder = (uri: UriLike) => owningFolder(uri, [A]) !== undefined;
    const mw = outsideOnly(inFolder as never);
    const sent: string[] = [];
    const next = async (doc: { uri: UriLike }) => {
      sent.push(doc.uri.fsPath);
    };
    await mw.didOpen!({ uri: file("/work/a/m.py") } as never, next as never);
    await mw.didOpen!({ uri: file("/tmp/m.py") } as never, next as never);
    await mw.didChange!({ document: { uri: file("/work/a/m.py") } } as never, (async () => sent.push("change")) as never);
    assert.deepStrictEqual(sent, ["/tmp/m.py"]);
    const actions = await mw.provideCodeActions!({ uri: file("/work/a/m.py") } as never, {} as never, {} as never, {} as never,
      (async () => ["from the default server"]) as never);
    assert.deepStrictEqual(actions, []);
    const outside = await mw.provideCodeActions!({ uri: file("/tmp/m.py") } as never, {} as never, {} as never, {} as never,
      (async () => ["from the default server"]) as never);
    assert.deepStrictEqual(outside, ["from the default server"]);
  });
});
