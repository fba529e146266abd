// Entry point: starts `<python> -m tritonize.cli.main serve` through vscode-languageclient, one
// server per workspace folder (folders.ts), and wires the commands, the status-bar item and the
// settings. Logic lives in the plain modules next to this file; what is here only connects them to
// VS Code.

import * as os from "os";
import * as vscode from "vscode";
import {
  CodeActionRequest,
  CodeActionResolveRequest,
  CodeActionTriggerKind,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  MessageType,
  ServerOptions,
  ShowMessageNotification,
  WorkDoneProgressCancelNotification,
  WorkspaceEdit,
} from "vscode-languageclient/node";
import { COMMANDS, ServerAccess, registerCommands, statusBarSink } from "./commands";
import { DEFAULT_SELECTOR, Servers, folderSelector, mergeMiddleware, outsideOnly, owningFolder } from "./folders";
import { ActionOrCommand, ConvertHost, LspCodeAction, LspCommand } from "./convert";
import { PythonExtensionApi, SERVER_ARGS, ServerCommand, chooseServerCommand } from "./interpreter";
import { makeMiddleware } from "./middleware";
import { ConversionProgress } from "./progress";
import { SECTION, needsRestart, serverSettings, settingKeys } from "./settings";
import { ServerStatus, installCommand, isTritonizeCheckout, shellLine } from "./status";
import { ServerMessageFilter, classNamesFromActions } from "./verify";

const PYTHON_EXTENSION = "ms-python.python";

/** The language server of one workspace folder (or, with no folder, of the files outside them). */
class FolderServer implements ServerAccess {
  private client: LanguageClient | undefined;
  private command: ServerCommand | undefined;
  private starting: Promise<void> | undefined;
  private status: ServerStatus = { state: "stopped" };

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly progress: ConversionProgress,
    private readonly messages: ServerMessageFilter,
    private readonly onStatus: () => void,
    private readonly folder: vscode.WorkspaceFolder | undefined,
  ) {}

  private get label(): string {
    return this.folder ? this.folder.name : "files outside the workspace folders";
  }

  serverStatus(): ServerStatus {
    return this.status;
  }

  private setStatus(change: Partial<ServerStatus>): void {
    this.status = { ...this.status, ...change };
    this.onStatus();
  }

  /** Ask the server where its workers run (known once a worker said hello). */
  async refreshDevice(): Promise<void> {
    const client = this.running();
    if (!client) {
      return;
    }
    const info = (await client.sendRequest("tritonize/debugInfo", {}).catch(() => undefined)) as { device?: string | null } | undefined;
    if (info?.device) {
      this.setStatus({ device: info.device });
    }
  }

  async installIntoInterpreter(): Promise<void> {
    const interpreter = this.command ? [this.command.command, ...this.command.args.slice(0, -SERVER_ARGS.length)] : undefined;
    if (!interpreter?.length) {
      void vscode.window.showWarningMessage("Tritonize: no interpreter to install into; set tritonize.interpreter.");
      return;
    }
    // Every workspace folder is looked at (this one first): one of them may be a tritonize checkout.
    let checkout: string | undefined;
    const folders = [...(this.folder ? [this.folder] : []), ...(vscode.workspace.workspaceFolders ?? [])];
    for (const folder of folders) {
      const pyproject = await vscode.workspace.fs
        .readFile(vscode.Uri.joinPath(folder.uri, "pyproject.toml"))
        .then((bytes) => Buffer.from(bytes).toString("utf8"), () => undefined);
      if (isTritonizeCheckout(pyproject)) {
        checkout = folder.uri.fsPath;
        break;
      }
    }
    const terminal = vscode.window.createTerminal({ name: "Tritonize: install" });
    terminal.show();
    terminal.sendText(shellLine(installCommand(interpreter, checkout)));
    void vscode.window
      .showInformationMessage("Tritonize: installing into the interpreter in a terminal; restart the server when it is done.", "Restart Server")
      .then((choice) => choice && this.restart());
  }

  get interpreterSource(): ServerCommand["source"] | undefined {
    return this.command?.source;
  }

  /** The folder whose settings this server reads (undefined: the window's). */
  get scope(): vscode.Uri | undefined {
    return this.folder?.uri;
  }

  get name(): string {
    return this.label;
  }

  private settings(scope?: vscode.Uri): Record<string, unknown> {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    return serverSettings(settingKeys(this.context.extension.packageJSON), (key) => config.inspect(key));
  }

  async start(): Promise<void> {
    this.setStatus({ state: "starting", error: undefined, device: undefined });
    const folder = this.folder;
    const configured = vscode.workspace.getConfiguration(SECTION, folder?.uri).get("interpreter");
    this.command = await chooseServerCommand(
      configured,
      { workspaceFolder: folder?.uri.fsPath, userHome: os.homedir() },
      () => pythonExtensionApi(),
      folder?.uri,
    );
    this.output.info(`starting the server for ${this.label}: ${[this.command.command, ...this.command.args].join(" ")} (interpreter from ${this.command.source})`);
    this.setStatus({ interpreter: [this.command.command, ...this.command.args.slice(0, -SERVER_ARGS.length)] });
    const serverOptions: ServerOptions = {
      command: this.command.command,
      args: this.command.args,
      options: { cwd: folder?.uri.fsPath, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
    };
    const middleware = makeMiddleware(this.progress, (scopeUri) => this.settings(scopeUri ? vscode.Uri.parse(scopeUri) : folder?.uri));
    // A folder's client sees that folder's files; the default one every other Python file.
    const inFolder = (uri: vscode.Uri) => owningFolder(uri, vscode.workspace.workspaceFolders ?? []) !== undefined;
    const clientOptions: LanguageClientOptions = {
      documentSelector: folder ? folderSelector(folder) : DEFAULT_SELECTOR,
      workspaceFolder: folder,
      outputChannel: this.output,
      initializationOptions: () => this.settings(folder?.uri),
      middleware: folder ? middleware : mergeMiddleware(middleware, outsideOnly((uri) => inFolder(uri as vscode.Uri))),
      diagnosticPullOptions: folder ? undefined : { filter: (document) => inFolder(document.uri) },
    };
    const client = new LanguageClient(SECTION, folder ? `Tritonize (${folder.name})` : "Tritonize", serverOptions, clientOptions);
    this.client = client;
    try {
      await client.start();
      this.setStatus({ state: "running", version: client.initializeResult?.serverInfo?.version });
      void this.refreshDevice();
      // The default window/showMessage handler, with the verify command's duplicates left out.
      client.onNotification(ShowMessageNotification.type, ({ type, message }) => {
        if (!this.messages.shouldShow(message)) {
          this.output.info(`server message: ${message}`);
          return;
        }
        const show = type === MessageType.Error ? vscode.window.showErrorMessage : type === MessageType.Warning ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
        void show(message);
      });
    } catch (err) {
      this.setStatus({ state: "failed", error: String(err) });
      this.output.error(`the server for ${this.label} did not start: ${String(err)}`);
      void vscode.window
        .showErrorMessage(
          `Tritonize: the language server did not start with ${this.command.command}. ` +
            "Install tritonize into that interpreter from a checkout (pip install -e /path/to/tritonize) or a built " +
            "wheel (pip install /path/to/tritonize-*.whl), or set tritonize.interpreter.",
          "Show Log",
        )
        .then((choice) => choice && this.showLog());
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.progress.clear();
    this.setStatus({ state: "stopped" });
    if (client) {
      await client.stop().catch((err) => this.output.warn(`stopping the server: ${String(err)}`));
      await client.dispose().catch(() => undefined);
    }
  }

  async restart(): Promise<void> {
    // Serialise restarts: a settings change and the command can arrive together.
    const previous = this.starting ?? Promise.resolve();
    this.starting = previous.then(async () => {
      await this.stop();
      await this.start();
    });
    return this.starting;
  }

  private running(): LanguageClient | undefined {
    return this.client?.isRunning() ? this.client : undefined;
  }

  convertHost(editor: vscode.TextEditor): ConvertHost<vscode.CancellationToken> | undefined {
    const client = this.running();
    if (!client) {
      return undefined;
    }
    const c2p = client.code2ProtocolConverter;
    const p2c = client.protocol2CodeConverter;
    return {
      codeActions: async (only) => {
        const params = {
          textDocument: { uri: c2p.asUri(editor.document.uri) },
          range: c2p.asRange(editor.selection),
          context: { diagnostics: [], only, triggerKind: CodeActionTriggerKind.Invoked },
        };
        return (await client.sendRequest(CodeActionRequest.type, params)) as ActionOrCommand[] | null;
      },
      canResolve: () => {
        const provider = client.initializeResult?.capabilities.codeActionProvider;
        return typeof provider === "object" && provider.resolveProvider === true;
      },
      resolve: async (action, token) =>
        (await client.sendRequest(CodeActionResolveRequest.type, action as never, token)) as LspCodeAction,
      executeCommand: (command, token) =>
        client.sendRequest(ExecuteCommandRequest.type, { command: command.command, arguments: command.arguments }, token),
      applyEdit: async (edit) => vscode.workspace.applyEdit(await p2c.asWorkspaceEdit(edit as WorkspaceEdit)),
    };
  }

  moduleClasses(editor: vscode.TextEditor): Promise<{ all: string[]; atCursor?: string }> | undefined {
    const client = this.running();
    if (!client) {
      return undefined;
    }
    const c2p = client.code2ProtocolConverter;
    const document = editor.document;
    const ask = async (range: vscode.Range) => {
      const params = {
        textDocument: { uri: c2p.asUri(document.uri) },
        range: c2p.asRange(range),
        context: { diagnostics: [], only: ["refactor.rewrite"], triggerKind: CodeActionTriggerKind.Invoked },
      };
      return classNamesFromActions((await client.sendRequest(CodeActionRequest.type, params)) as ActionOrCommand[] | null);
    };
    // A selection over the whole file gets one action per module class; the cursor, its class.
    const whole = new vscode.Range(new vscode.Position(0, 0), document.lineAt(Math.max(0, document.lineCount - 1)).range.end);
    return Promise.all([ask(whole), ask(editor.selection)]).then(([all, here]) => ({ all, atCursor: here[0] }));
  }

  appendOutput(text: string): void {
    this.output.info(`verify:\n${text}`);
  }

  executeCommand(command: LspCommand, token?: vscode.CancellationToken): Promise<unknown> | undefined {
    const client = this.running();
    const params = { command: command.command, arguments: command.arguments };
    return client && (token ? client.sendRequest(ExecuteCommandRequest.type, params, token) : client.sendRequest(ExecuteCommandRequest.type, params));
  }

  cancelProgress(token: string | number): void {
    void this.running()?.sendNotification(WorkDoneProgressCancelNotification.type, { token });
  }

  showLog(): void {
    this.output.show(true);
  }
}

async function pythonExtensionApi(): Promise<PythonExtensionApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION);
  if (!ext) {
    return undefined;
  }
  return ext.isActive ? ext.exports : ext.activate();
}

let server: Servers<FolderServer> | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("Tritonize", { log: true });
  const status = statusBarSink();
  const progress = new ConversionProgress(status.sink);
  const messages = new ServerMessageFilter();
  const serverItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  serverItem.name = "Tritonize server";
  serverItem.command = COMMANDS.serverActions;
  const servers: Servers<FolderServer> = new Servers(
    (folder) => new FolderServer(context, output, progress, messages, () => servers.renderStatus(), folder as vscode.WorkspaceFolder | undefined),
    {
      folders: () => vscode.workspace.workspaceFolders ?? [],
      activeUri: () => vscode.window.activeTextEditor?.document.uri,
      documents: () => vscode.workspace.textDocuments,
      show: (text, tooltip) => {
        serverItem.text = text;
        serverItem.tooltip = tooltip;
        serverItem.show();
      },
    },
  );
  server = servers;
  context.subscriptions.push(output, status.item, serverItem, ...registerCommands(servers, progress, messages));
  context.subscriptions.push(
    vscode.workspace.onDidChangeWorkspaceFolders(() => void servers.sync()),
    vscode.workspace.onDidOpenTextDocument((document) => void servers.documentOpened(document)),
    vscode.window.onDidChangeActiveTextEditor(() => servers.renderStatus()),
  );
  // The device is known once the first conversion started a worker: ask when a progress bar ends.
  context.subscriptions.push(progress.attach((_token, value) => {
    if (value.kind === "end") {
      void server?.refreshDevice();
    }
  }));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      void servers.restartWhere((s) => {
        const scope = s.scope;
        if (!needsRestart((key) => (scope ? event.affectsConfiguration(key, scope) : event.affectsConfiguration(key)))) {
          return false;
        }
        output.info(`tritonize.interpreter changed: restarting the server for ${s.name}`);
        return true;
      });
    }),
  );
  // Follow the Python extension's interpreter when that is where ours came from.
  const python = await pythonExtensionApi().catch(() => undefined);
  const onChange = (python as { environments?: { onDidChangeActiveEnvironmentPath?: vscode.Event<unknown> } } | undefined)
    ?.environments?.onDidChangeActiveEnvironmentPath;
  if (onChange) {
    context.subscriptions.push(
      onChange(() => {
        void servers.restartWhere((s) => {
          if (s.interpreterSource !== "python-extension") {
            return false;
          }
          output.info(`the Python extension's interpreter changed: restarting the server for ${s.name}`);
          return true;
        });
      }),
    );
  }
  await servers.sync();
  output.info(`ready; commands: ${Object.values(COMMANDS).join(", ")}`);
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
