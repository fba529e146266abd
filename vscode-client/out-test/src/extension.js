"use strict";
// Entry point: starts `<python> -m tritonize.cli serve` through vscode-languageclient and wires
// the commands, the status-bar item and the settings. Logic lives in the plain modules next to
// this file; what is here only connects them to VS Code.
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
exports.activate = activate;
exports.deactivate = deactivate;
const os = __importStar(require("os"));
const vscode = __importStar(require("vscode"));
const node_1 = require("vscode-languageclient/node");
const commands_1 = require("./commands");
const interpreter_1 = require("./interpreter");
const middleware_1 = require("./middleware");
const progress_1 = require("./progress");
const settings_1 = require("./settings");
const PYTHON_EXTENSION = "ms-python.python";
class TritonizeServer {
    context;
    output;
    progress;
    client;
    command;
    starting;
    constructor(context, output, progress) {
        this.context = context;
        this.output = output;
        this.progress = progress;
    }
    get interpreterSource() {
        return this.command?.source;
    }
    settings(scope) {
        const config = vscode.workspace.getConfiguration(settings_1.SECTION, scope);
        return (0, settings_1.serverSettings)((0, settings_1.settingKeys)(this.context.extension.packageJSON), (key) => config.inspect(key));
    }
    async start() {
        const folder = vscode.workspace.workspaceFolders?.[0];
        const configured = vscode.workspace.getConfiguration(settings_1.SECTION, folder?.uri).get("interpreter");
        this.command = await (0, interpreter_1.chooseServerCommand)(configured, { workspaceFolder: folder?.uri.fsPath, userHome: os.homedir() }, () => pythonExtensionApi(), folder?.uri);
        this.output.info(`starting: ${[this.command.command, ...this.command.args].join(" ")} (interpreter from ${this.command.source})`);
        const serverOptions = {
            command: this.command.command,
            args: this.command.args,
            options: { cwd: folder?.uri.fsPath, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
        };
        const clientOptions = {
            documentSelector: [
                { scheme: "file", language: "python" },
                { scheme: "untitled", language: "python" },
            ],
            outputChannel: this.output,
            initializationOptions: () => this.settings(folder?.uri),
            middleware: (0, middleware_1.makeMiddleware)(this.progress, (scopeUri) => this.settings(scopeUri ? vscode.Uri.parse(scopeUri) : folder?.uri)),
        };
        const client = new node_1.LanguageClient(settings_1.SECTION, "Tritonize", serverOptions, clientOptions);
        this.client = client;
        try {
            await client.start();
        }
        catch (err) {
            this.output.error(`the server did not start: ${String(err)}`);
            void vscode.window
                .showErrorMessage(`Tritonize: the language server did not start with ${this.command.command}. ` +
                "Install tritonize into that interpreter (pip install tritonize) or set tritonize.interpreter.", "Show Log")
                .then((choice) => choice && this.showLog());
        }
    }
    async stop() {
        const client = this.client;
        this.client = undefined;
        this.progress.clear();
        if (client) {
            await client.stop().catch((err) => this.output.warn(`stopping the server: ${String(err)}`));
            await client.dispose().catch(() => undefined);
        }
    }
    async restart() {
        // Serialise restarts: a settings change and the command can arrive together.
        const previous = this.starting ?? Promise.resolve();
        this.starting = previous.then(async () => {
            await this.stop();
            await this.start();
        });
        return this.starting;
    }
    running() {
        return this.client?.isRunning() ? this.client : undefined;
    }
    convertHost(editor) {
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
                    context: { diagnostics: [], only, triggerKind: node_1.CodeActionTriggerKind.Invoked },
                };
                return (await client.sendRequest(node_1.CodeActionRequest.type, params));
            },
            canResolve: () => {
                const provider = client.initializeResult?.capabilities.codeActionProvider;
                return typeof provider === "object" && provider.resolveProvider === true;
            },
            resolve: async (action, token) => (await client.sendRequest(node_1.CodeActionResolveRequest.type, action, token)),
            executeCommand: (command, token) => client.sendRequest(node_1.ExecuteCommandRequest.type, { command: command.command, arguments: command.arguments }, token),
            applyEdit: async (edit) => vscode.workspace.applyEdit(await p2c.asWorkspaceEdit(edit)),
        };
    }
    executeCommand(command, token) {
        const client = this.running();
        const params = { command: command.command, arguments: command.arguments };
        return client && (token ? client.sendRequest(node_1.ExecuteCommandRequest.type, params, token) : client.sendRequest(node_1.ExecuteCommandRequest.type, params));
    }
    cancelProgress(token) {
        void this.running()?.sendNotification(node_1.WorkDoneProgressCancelNotification.type, { token });
    }
    showLog() {
        this.output.show(true);
    }
}
async function pythonExtensionApi() {
    const ext = vscode.extensions.getExtension(PYTHON_EXTENSION);
    if (!ext) {
        return undefined;
    }
    return ext.isActive ? ext.exports : ext.activate();
}
let server;
async function activate(context) {
    const output = vscode.window.createOutputChannel("Tritonize", { log: true });
    const status = (0, commands_1.statusBarSink)();
    const progress = new progress_1.ConversionProgress(status.sink);
    server = new TritonizeServer(context, output, progress);
    context.subscriptions.push(output, status.item, ...(0, commands_1.registerCommands)(server, progress));
    context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((event) => {
        if ((0, settings_1.needsRestart)((key) => event.affectsConfiguration(key))) {
            output.info("tritonize.interpreter changed: restarting the server");
            void server?.restart();
        }
    }));
    // Follow the Python extension's interpreter when that is where ours came from.
    const python = await pythonExtensionApi().catch(() => undefined);
    const onChange = python
        ?.environments?.onDidChangeActiveEnvironmentPath;
    if (onChange) {
        context.subscriptions.push(onChange(() => {
            if (server?.interpreterSource === "python-extension") {
                output.info("the Python extension's interpreter changed: restarting the server");
                void server.restart();
            }
        }));
    }
    await server.start();
    output.info(`ready; commands: ${Object.values(commands_1.COMMANDS).join(", ")}`);
}
async function deactivate() {
    await server?.stop();
    server = undefined;
}
//# sourceMappingURL=extension.js.map