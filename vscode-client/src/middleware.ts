// Language-client middleware: settings answered from our own settings reader, and the server's
// work-done progress routed through ConversionProgress (status bar + command notification).

import type { Middleware } from "vscode-languageclient";
import { ConversionProgress, ProgressValue } from "./progress";
import { SECTION } from "./settings";

/** Settings for a scope (a document or folder URI as the server sent it; undefined: the window). */
export type SettingsFor = (scopeUri: string | undefined) => Record<string, unknown>;

export function makeMiddleware(progress: ConversionProgress, settingsFor: SettingsFor): Middleware {
  return {
    handleWorkDoneProgress(token, params, next) {
      progress.handle(token, params as ProgressValue, () => next(token, params));
    },
    workspace: {
      async configuration(params, token, next) {
        const result = await next(params, token);
        if (!Array.isArray(result)) {
          return result;
        }
        return params.items.map((item, i) => (item.section === SECTION ? settingsFor(item.scopeUri) : result[i]));
      },
    },
  };
}
