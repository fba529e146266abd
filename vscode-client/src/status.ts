// The server's status-bar item: state, version and device, and what can be done from it
// (restart, show the log, and when the server cannot start, install tritonize into the
// interpreter that was tried). Plain functions over a small state record, so tests drive it.

import * as path from "path";

export type ServerState = "starting" | "running" | "stopped" | "failed";

export interface ServerStatus {
  state: ServerState;
  /** serverInfo.version from `initialize` */
  version?: string;
  /** where verify workers run ("NVIDIA H100 80GB HBM3", "cpu (TRITON_INTERPRET=1)"); unknown until the first job */
  device?: string;
  /** the interpreter command the server was (or would be) started with */
  interpreter?: string[];
  error?: string;
}

export const STATUS_ACTIONS = {
  restart: "Restart Server",
  log: "Show Server Log",
  install: "Install tritonize into this interpreter",
} as const;

export function statusText(status: ServerStatus): { text: string; tooltip: string } {
  const version = status.version ? ` ${status.version}` : "";
  const icon = { starting: "$(sync~spin)", running: "$(zap)", stopped: "$(circle-slash)", failed: "$(error)" }[status.state];
  const lines = [`Tritonize language server: ${status.state}${version}`];
  if (status.device) {
    lines.push(`device: ${status.device}`);
  } else if (status.state === "running") {
    lines.push("device: known after the first conversion");
  }
  if (status.interpreter?.length) {
    lines.push(`interpreter: ${status.interpreter.join(" ")}`);
  }
  if (status.error) {
    lines.push(`error: ${status.error}`);
  }
  lines.push("Click for actions");
  return { text: `${icon} Tritonize${version}`, tooltip: lines.join("\n") };
}

/** What the status item offers: always restart and the log; installing when the server failed to start. */
export function statusActions(status: ServerStatus): string[] {
  const actions: string[] = [STATUS_ACTIONS.restart, STATUS_ACTIONS.log];
  if (status.state === "failed" && status.interpreter?.length) {
    actions.unshift(STATUS_ACTIONS.install);
  }
  return actions;
}

/**
 * The pip command that installs tritonize into `interpreter`: from a workspace folder that is a
 * tritonize checkout (its pyproject.toml names the project `tritonize`) as an editable install,
 * else from the package index.
 */
export function installCommand(interpreter: string[], checkout?: string): string[] {
  const target = checkout ? ["-e", checkout] : ["tritonize"];
  return [...interpreter, "-m", "pip", "install", ...target];
}

/** Is `pyprojectText` (a folder's pyproject.toml) the tritonize project itself? */
export function isTritonizeCheckout(pyprojectText: string | undefined): boolean {
  return pyprojectText !== undefined && /^\s*name\s*=\s*"tritonize"\s*$/m.test(pyprojectText);
}

/** A command line for a terminal, each word quoted for POSIX shells. */
export function shellLine(words: string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(" ");
}

export function folderName(fsPath: string): string {
  return path.basename(fsPath);
}
