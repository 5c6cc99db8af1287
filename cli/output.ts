/** How the CLI speaks: plain lines for people, one JSON document (or JSON lines) with --json. */

/** An error the CLI reports as one line with its name; exit code 1 unless said otherwise. */
export class CliError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Output {
  json: boolean;
  /** The command's result: a JSON document with --json, the text otherwise. */
  result: (data: unknown, text: string) => void;
  /** Progress for people, on stderr; silent with --json so stdout stays machine-readable. */
  progress: (message: string) => void;
  /** One JSON line per event with --json (for `up`), else a text line. */
  event: (data: Record<string, unknown>, text: string) => void;
  /**
   * Something the operator must not miss even in scripts (a new state directory was created):
   * on stderr always, as a JSON line `{"notice": …}` with --json.
   */
  notice: (message: string) => void;
  /** Progress as data: a JSON line on stderr with --json, else the text line (on stderr). */
  progressEvent: (data: Record<string, unknown>, text: string) => void;
}

export const createOutput = (json: boolean): Output => ({
  json,
  result: (data, text) => process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${text}\n`),
  progress: (message) => {
    if (!json) process.stderr.write(`${message}\n`);
  },
  event: (data, text) => process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${text}\n`),
  notice: (message) => process.stderr.write(json ? `${JSON.stringify({ notice: message })}\n` : `${message}\n`),
  progressEvent: (data, text) => process.stderr.write(json ? `${JSON.stringify(data)}\n` : `${text}\n`),
});

/** The one line (or JSON object) an error becomes: its name and message, never a stack trace. */
export const reportError = (error: unknown, json: boolean): number => {
  const failure = error instanceof Error ? error : new Error(String(error));
  const name = failure.name && failure.name !== 'Error' ? failure.name : 'UnexpectedError';
  if (json) process.stdout.write(`${JSON.stringify({ error: { name, message: failure.message } })}\n`);
  else process.stderr.write(`error: ${name}: ${failure.message}\n`);
  return failure instanceof CliError ? failure.exitCode : 1;
};

export const table = (rows: string[][]): string => {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};
