// Settings → what the server receives (initializationOptions, workspace/configuration).
//
// Only values the user actually set are sent: the server owns the defaults (server/tritonize/
// settings.py), so a default changed there is never shadowed by a stale copy in package.json.
// Client-only keys (interpreter, trace) never reach the server, which would report them as
// unknown settings.

export const SECTION = "tritonize";

/** Keys of the `tritonize` section that only the extension reads. */
export const CLIENT_ONLY_KEYS: ReadonlySet<string> = new Set(["interpreter", "trace.server"]);

/** What `WorkspaceConfiguration.inspect` returns for one key (the parts used here). */
export interface InspectResult {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
  globalLanguageValue?: unknown;
  workspaceLanguageValue?: unknown;
  workspaceFolderLanguageValue?: unknown;
}

export type Inspect = (key: string) => InspectResult | undefined;

/** The user's value for a key, most specific scope first, or undefined when left at the default. */
export function explicitValue(info: InspectResult | undefined): unknown {
  if (info === undefined) {
    return undefined;
  }
  const scopes = [
    info.workspaceFolderLanguageValue,
    info.workspaceLanguageValue,
    info.globalLanguageValue,
    info.workspaceFolderValue,
    info.workspaceValue,
    info.globalValue,
  ];
  return scopes.find((v) => v !== undefined);
}

/**
 * The server's settings object: nested by dots (`model.topP` → `{model: {topP}}`), keys as in
 * package.json (camelCase; the server accepts camelCase and snake_case).
 *
 * @param keys the setting names below the section, e.g. `["n", "model.topP", "interpreter"]`
 */
export function serverSettings(keys: readonly string[], inspect: Inspect): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    if (CLIENT_ONLY_KEYS.has(key)) {
      continue;
    }
    const value = explicitValue(inspect(key));
    if (value === undefined) {
      continue;
    }
    setPath(out, key.split("."), value);
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    const child = node[part];
    if (typeof child !== "object" || child === null || Array.isArray(child)) {
      node[part] = {};
    }
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

/** Setting names below the section from the extension manifest's `contributes.configuration`. */
export function settingKeys(packageJson: unknown): string[] {
  const props = (packageJson as { contributes?: { configuration?: { properties?: object } } })
    ?.contributes?.configuration?.properties;
  const prefix = `${SECTION}.`;
  return Object.keys(props ?? {})
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
}

/** Whether a configuration change needs the server restarted (a different interpreter). */
export function needsRestart(affects: (key: string) => boolean): boolean {
  return affects(`${SECTION}.interpreter`);
}
