// One language server per workspace folder (the multi-root pattern of vscode-languageclient): each
// folder's client sees only that folder's Python files (a `pattern` in its document selector), is
// started when the folder is added and stopped when it is removed; a nested folder's files belong
// to the outermost folder around it. Python files outside every folder, and untitled ones, go to a
// default client, started with the first such document. Commands act on the client of the active
// editor's file. Plain logic over small interfaces, so the tests drive it without VS Code.

import type * as vscode from "vscode";
import type { Middleware } from "vscode-languageclient";
import type { ServerAccess } from "./commands";
import type { LspCommand } from "./convert";
import { ServerStatus, statusText } from "./status";

export interface FolderLike {
  uri: { toString(): string; fsPath: string };
  name: string;
}

export interface UriLike {
  scheme: string;
  fsPath: string;
  toString(): string;
}

/** What the manager needs from one client (FolderServer in extension.ts). */
export interface ManagedClient {
  start(): Promise<void>;
  stop(): Promise<void>;
  serverStatus(): ServerStatus;
}

export const DEFAULT_KEY = "<outside any folder>";

function normalised(fsPath: string): string {
  return fsPath.replace(/\\/g, "/").replace(/\/+$/, "");
}

/** Is `fsPath` the folder `folderPath` or inside it? */
export function isInside(fsPath: string, folderPath: string): boolean {
  const file = normalised(fsPath);
  const folder = normalised(folderPath);
  return file === folder || file.startsWith(folder + "/");
}

/** The folders that get a server of their own: none that is inside another folder. */
export function outermost<F extends FolderLike>(folders: readonly F[]): F[] {
  return folders.filter((f) => !folders.some((g) => g !== f && g.uri.fsPath !== f.uri.fsPath && isInside(f.uri.fsPath, g.uri.fsPath)));
}

/** The folder whose server handles `uri`: the outermost folder around it (undefined: the default client). */
export function owningFolder<F extends FolderLike>(uri: UriLike, folders: readonly F[]): F | undefined {
  if (uri.scheme !== "file") {
    return undefined;
  }
  return outermost(folders).find((f) => isInside(uri.fsPath, f.uri.fsPath));
}

/** The document selector of a folder's client: Python files under that folder only. */
export function folderSelector(folder: FolderLike): { scheme: string; language: string; pattern: string }[] {
  const root = normalised(folder.uri.fsPath).replace(/[[\]{}*?]/g, "?"); // glob characters in a path match themselves (roughly)
  return [{ scheme: "file", language: "python", pattern: `${root}/**/*` }];
}

/** The default client's selector: every Python file (those inside a folder are filtered out by `outsideOnly`) and untitled ones. */
export const DEFAULT_SELECTOR = [
  { scheme: "file", language: "python" },
  { scheme: "untitled", language: "python" },
];

type Doc = { uri: UriLike };

/**
 * Middleware for the default client: documents a folder's client handles are neither sent to the
 * default server nor asked about, so no file gets two servers' actions, lenses or diagnostics.
 */
export function outsideOnly(inFolder: (uri: UriLike) => boolean): Middleware {
  const skip = (doc: Doc | UriLike) => inFolder("uri" in doc && typeof doc.uri === "object" ? doc.uri : (doc as UriLike));
  return {
    didOpen: (doc, next) => (skip(doc as never) ? Promise.resolve() : next(doc)),
    didChange: (event, next) => (skip(event.document as never) ? Promise.resolve() : next(event)),
    didClose: (doc, next) => (skip(doc as never) ? Promise.resolve() : next(doc)),
    didSave: (doc, next) => (skip(doc as never) ? Promise.resolve() : next(doc)),
    provideCodeActions: (doc, range, context, token, next) => (skip(doc as never) ? [] : next(doc, range, context, token)),
    provideCodeLenses: (doc, token, next) => (skip(doc as never) ? [] : next(doc, token)),
    provideHover: (doc, position, token, next) => (skip(doc as never) ? undefined : next(doc, position, token)),
    provideDiagnostics: (doc, previous, token, next) =>
      skip(doc as never) ? { kind: "full", items: [] } as never : next(doc, previous, token),
  };
}

/** Two middlewares as one (handlers of `extra` win where both define one; none overlap here). */
export function mergeMiddleware(base: Middleware, extra: Middleware): Middleware {
  return { ...base, ...extra };
}

export class FolderClients<C extends ManagedClient> {
  private readonly clients = new Map<string, { folder?: FolderLike; client: C }>();
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly make: (folder: FolderLike | undefined) => C) {}

  /** Start a client for each outermost folder that has none, stop those whose folder went away. */
  sync(folders: readonly FolderLike[]): Promise<void> {
    return this.serially(async () => {
      const wanted = new Map(outermost(folders).map((f) => [f.uri.toString(), f] as const));
      const stops: Promise<void>[] = [];
      for (const [key, entry] of this.clients) {
        if (key !== DEFAULT_KEY && !wanted.has(key)) {
          this.clients.delete(key);
          stops.push(entry.client.stop());
        }
      }
      const starts: Promise<void>[] = [];
      for (const [key, folder] of wanted) {
        if (!this.clients.has(key)) {
          const client = this.make(folder);
          this.clients.set(key, { folder, client });
          starts.push(client.start());
        }
      }
      await Promise.all([...stops, ...starts]);
    });
  }

  /** Start the default client (a Python document outside every folder was opened), once. */
  ensureDefault(): Promise<void> {
    return this.serially(async () => {
      if (!this.clients.has(DEFAULT_KEY)) {
        const client = this.make(undefined);
        this.clients.set(DEFAULT_KEY, { client });
        await client.start();
      }
    });
  }

  /** The client for a document: its folder's, else the default one (undefined until started). */
  forUri(uri: UriLike | undefined, folders: readonly FolderLike[]): C | undefined {
    if (!uri) {
      return undefined;
    }
    const folder = owningFolder(uri, folders);
    return this.clients.get(folder ? folder.uri.toString() : DEFAULT_KEY)?.client;
  }

  all(): C[] {
    return [...this.clients.values()].map((e) => e.client);
  }

  entries(): { name: string; client: C }[] {
    return [...this.clients.entries()].map(([key, e]) => ({ name: e.folder?.name ?? key, client: e.client }));
  }

  stopAll(): Promise<void> {
    return this.serially(async () => {
      const all = this.all();
      this.clients.clear();
      await Promise.all(all.map((c) => c.stop()));
    });
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.work.then(task, task);
    this.work = run.catch(() => undefined);
    return run;
  }
}

/**
 * The server status-bar item over several servers: the text is the active file's server (or the
 * only one); the tooltip lists every folder's server.
 */
export function statusSummary(servers: { name: string; status: ServerStatus }[], active?: string): { text: string; tooltip: string } {
  if (servers.length === 0) {
    return statusText({ state: "stopped" });
  }
  const shown = servers.find((s) => s.name === active) ?? servers[0];
  const own = statusText(shown.status);
  if (servers.length === 1) {
    return own;
  }
  const lines = servers.map(({ name, status }) => {
    const version = status.version ? ` ${status.version}` : "";
    const device = status.device ? ` · ${status.device}` : "";
    return `${name === shown.name ? "▸ " : "  "}${name}: ${status.state}${version}${device}${status.error ? ` · ${status.error}` : ""}`;
  });
  const text = `${own.text} (${shown.name})`;
  return { text, tooltip: [`Tritonize language servers (${servers.length}):`, ...lines, "Click for actions on the active file's server"].join("\n") };
}

/** One folder's server as the router uses it (FolderServer in extension.ts). */
export interface FolderServerLike extends ServerAccess, ManagedClient {
  refreshDevice(): Promise<void>;
}

/** What the router reads from the window (VS Code in the extension, plain values in tests). */
export interface WindowState {
  folders(): readonly FolderLike[];
  activeUri(): UriLike | undefined;
  documents(): readonly { languageId: string; uri: UriLike }[];
  /** The server status-bar item's text and tooltip. */
  show(text: string, tooltip: string): void;
}

/**
 * The commands' ServerAccess over every folder's server: each call goes to the server of the
 * active editor's file (its folder's, else the default one; the only server when there is one).
 */
export class Servers<C extends FolderServerLike> implements ServerAccess {
  readonly clients: FolderClients<C>;

  constructor(make: (folder: FolderLike | undefined) => C, private readonly window: WindowState) {
    this.clients = new FolderClients(make);
  }

  /** The active editor's server; with no editor (or none for it), the only server, if there is one. */
  active(): C | undefined {
    const found = this.clients.forUri(this.window.activeUri(), this.window.folders());
    const all = this.clients.all();
    return found ?? (all.length === 1 ? all[0] : undefined);
  }

  private forEditor(editor: vscode.TextEditor): C | undefined {
    return this.clients.forUri(editor.document.uri, this.window.folders());
  }

  renderStatus(): void {
    const active = this.active();
    const entries = this.clients.entries().map(({ name, client }) => ({ name, status: client.serverStatus(), client }));
    const { text, tooltip } = statusSummary(entries, entries.find((e) => e.client === active)?.name);
    this.window.show(text, tooltip);
  }

  /** Start and stop folder servers to match the workspace; the default one when a document needs it. */
  async sync(): Promise<void> {
    await this.clients.sync(this.window.folders());
    if (this.window.folders().length === 0 || this.window.documents().some((d) => this.needsDefault(d))) {
      await this.clients.ensureDefault();
    }
    this.renderStatus();
  }

  needsDefault(document: { languageId: string; uri: UriLike }): boolean {
    return document.languageId === "python" && (document.uri.scheme === "untitled" || document.uri.scheme === "file")
      && owningFolder(document.uri, this.window.folders()) === undefined;
  }

  async documentOpened(document: { languageId: string; uri: UriLike }): Promise<void> {
    if (this.needsDefault(document)) {
      await this.clients.ensureDefault();
      this.renderStatus();
    }
  }

  serverStatus(): ServerStatus {
    return this.active()?.serverStatus() ?? { state: "stopped" };
  }

  convertHost(editor: vscode.TextEditor) {
    return this.forEditor(editor)?.convertHost(editor);
  }

  moduleClasses(editor: vscode.TextEditor) {
    return this.forEditor(editor)?.moduleClasses(editor);
  }

  appendOutput(text: string): void {
    (this.active() ?? this.clients.all()[0])?.appendOutput(text);
  }

  executeCommand(command: LspCommand, token?: vscode.CancellationToken) {
    return this.active()?.executeCommand(command, token);
  }

  cancelProgress(token: string | number): void {
    // Progress tokens are unique: a server that did not make this one ignores it.
    for (const server of this.clients.all()) {
      server.cancelProgress(token);
    }
  }

  async restart(): Promise<void> {
    const active = this.active();
    await Promise.all((active ? [active] : this.clients.all()).map((s) => s.restart()));
  }

  /** Restart every server for which `affected` says so (a setting of its folder changed). */
  async restartWhere(affected: (server: C) => boolean): Promise<void> {
    await Promise.all(this.clients.all().filter(affected).map((s) => s.restart()));
  }

  showLog(): void {
    (this.active() ?? this.clients.all()[0])?.showLog();
  }

  async installIntoInterpreter(): Promise<void> {
    await (this.active() ?? this.clients.all()[0])?.installIntoInterpreter();
  }

  async refreshDevice(): Promise<void> {
    await Promise.all(this.clients.all().map((s) => s.refreshDevice()));
  }

  stop(): Promise<void> {
    return this.clients.stopAll();
  }
}
