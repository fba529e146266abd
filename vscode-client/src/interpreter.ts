// Which Python runs the server: the `tritonize.interpreter` setting, else the interpreter the
// Python extension has selected for the workspace, else `python3` from PATH.

export interface ServerCommand {
  command: string;
  args: string[];
  /** Where the interpreter came from, shown in the log. */
  source: "setting" | "python-extension" | "default";
}

/** The parts of the Python extension's exported API used here (both old and new shapes). */
export interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: unknown): { path: string } | undefined;
    resolveEnvironment?(env: { path: string } | string): Promise<{ executable?: { uri?: { fsPath: string } } } | undefined>;
  };
  settings?: {
    getExecutionDetails?(resource?: unknown): { execCommand: string[] | undefined };
  };
}

export const SERVER_ARGS = ["-m", "tritonize.cli.main", "serve"];
export const DEFAULT_PYTHON = "python3";

export interface Expansions {
  workspaceFolder?: string;
  userHome?: string;
}

/** `${workspaceFolder}`, `${userHome}` and a leading `~` in a configured interpreter path. */
export function expandPath(value: string, env: Expansions): string {
  let out = value;
  if (env.userHome) {
    out = out.replace(/^~(?=$|[\\/])/, env.userHome).replace(/\$\{userHome\}/g, env.userHome);
  }
  if (env.workspaceFolder) {
    out = out.replace(/\$\{workspaceFolder\}/g, env.workspaceFolder);
  }
  return out;
}

/** The configured interpreter as a command line (a string or a list; empty means unset). */
export function configuredInterpreter(value: unknown, env: Expansions): string[] | undefined {
  const parts = typeof value === "string" ? [value] : Array.isArray(value) ? value : [];
  const cleaned = parts
    .filter((p): p is string => typeof p === "string" && p.trim() !== "")
    .map((p) => expandPath(p.trim(), env));
  return cleaned.length > 0 ? cleaned : undefined;
}

/** The interpreter selected in the Python extension, or undefined when it has none. */
export async function pythonExtensionInterpreter(
  api: PythonExtensionApi | undefined,
  resource?: unknown,
): Promise<string[] | undefined> {
  if (!api) {
    return undefined;
  }
  const active = api.environments?.getActiveEnvironmentPath(resource);
  if (active?.path) {
    const resolved = await api.environments?.resolveEnvironment?.(active).catch(() => undefined);
    const exe = resolved?.executable?.uri?.fsPath;
    return [exe ?? active.path];
  }
  const exec = api.settings?.getExecutionDetails?.(resource)?.execCommand;
  return exec && exec.length > 0 ? exec : undefined;
}

/** The command line that starts the server. */
export async function chooseServerCommand(
  configured: unknown,
  env: Expansions,
  pythonApi: () => Promise<PythonExtensionApi | undefined>,
  resource?: unknown,
): Promise<ServerCommand> {
  const fromSetting = configuredInterpreter(configured, env);
  if (fromSetting) {
    return { command: fromSetting[0], args: [...fromSetting.slice(1), ...SERVER_ARGS], source: "setting" };
  }
  const fromExtension = await pythonExtensionInterpreter(await pythonApi().catch(() => undefined), resource);
  if (fromExtension) {
    return { command: fromExtension[0], args: [...fromExtension.slice(1), ...SERVER_ARGS], source: "python-extension" };
  }
  return { command: DEFAULT_PYTHON, args: [...SERVER_ARGS], source: "default" };
}
