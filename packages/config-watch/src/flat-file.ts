import { CoordError, ErrorCodes } from '@coordkit/core';

/**
 * Parses the flat config file format: one `path=value` per line, split at the first unescaped `=`.
 * Blank lines and lines starting with `#` are skipped. Backslash escapes, in paths and values:
 * `\\` backslash, `\n` newline, `\r` carriage return, `\t` tab, `\=` equals sign, `\#` number sign,
 * `\uXXXX` any UTF-16 code unit. Nothing is trimmed: the value is everything after the `=`. Values are
 * stored text (`5`, `true`, `hello`, `{"a":1}`), exactly what {@link exportConfig} returns.
 * Throws `INVALID_ARGUMENT` naming the line for a line without `=`, a bad escape or a repeated path.
 */
export function parseFlatFile(text: string): Record<string, string> {
  const entries = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const where = `flat file line ${index + 1}`;
    const split = findSeparator(line);
    if (split === -1) throw invalidFile(where, 'expected path=value');
    const path = unescapeText(line.slice(0, split), where);
    if (path === '') throw invalidFile(where, 'empty path');
    if (entries.has(path)) throw invalidFile(where, `path "${path}" repeated`);
    entries.set(path, unescapeText(line.slice(split + 1), where));
  });
  return Object.fromEntries(entries);
}

/**
 * Formats `path → stored text` as the flat file format of {@link parseFlatFile}, one line per path in
 * sorted order, escaping what must be escaped, so that parsing the result gives back `record` exactly.
 */
export function formatFlatFile(record: Readonly<Record<string, string>>): string {
  const paths = Object.keys(record).sort();
  return paths
    .map((path) => {
      const escapedPath = escapeText(path, PATH_SPECIALS).replace(/^#/, '\\#');
      return `${escapedPath}=${escapeText(String(record[path]), VALUE_SPECIALS)}\n`;
    })
    .join('');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be escaped.
const PATH_SPECIALS = /[\\=\u0000-\u001f\u007f]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be escaped.
const VALUE_SPECIALS = /[\\\u0000-\u001f\u007f]/g;
const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  n: '\n',
  r: '\r',
  t: '\t',
  '=': '=',
  '#': '#',
};
const ESCAPE_OF: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '=': '\\=',
};

function escapeText(text: string, special: RegExp): string {
  return text.replace(
    special,
    (char) => ESCAPE_OF[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Index of the first `=` not preceded by an escaping backslash, or -1. */
function findSeparator(line: string): number {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === '=') return i;
  }
  return -1;
}

function unescapeText(text: string, where: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char !== '\\') {
      out += char;
      continue;
    }
    const next = text[i + 1];
    if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
      out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
      i += 5;
    } else if (next !== undefined && NAMED_ESCAPES[next] !== undefined) {
      out += NAMED_ESCAPES[next];
      i++;
    } else {
      throw invalidFile(where, `bad escape "\\${next ?? ''}"`);
    }
  }
  return out;
}

function invalidFile(where: string, problem: string): CoordError {
  return new CoordError(ErrorCodes.INVALID_ARGUMENT, `invalid ${where}: ${problem}`);
}
