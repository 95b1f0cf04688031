/**
 * A small RFC 4180 CSV reader for sweep files: comma separated, records end at
 * LF or CRLF, fields in double quotes may hold commas, newlines and "" (one
 * quote). Each record keeps the line it starts on, so errors can point at it.
 *
 * Unquoted fields are trimmed (hand-written `a, b` means "b", not " b");
 * quoted fields are kept exactly. Blank lines are skipped.
 */

export interface CsvRecord {
  /** 1-based line of the file where the record starts */
  line: number;
  fields: string[];
}

export class CsvError extends Error {
  constructor(
    readonly line: number,
    /** 1-based field number */
    readonly column: number,
    readonly reason: string,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = 'CsvError';
  }
}

export function parseCsv(text: string): CsvRecord[] {
  // a BOM is what spreadsheet programs put first; it is not part of the first header
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = 0;

  const endField = (): void => {
    fields.push(quoted ? field : field.trim());
    field = '';
    quoted = false;
  };
  const endRecord = (): void => {
    endField();
    const blank = fields.length === 1 && fields[0] === '';
    if (!blank) records.push({ line: recordLine, fields });
    fields = [];
  };

  while (i < src.length) {
    const c = src[i];
    if (c === '"' && field.trim() === '' && !quoted) {
      // opening quote: read up to the closing one
      quoted = true;
      field = '';
      const startLine = line;
      i++;
      for (;;) {
        if (i >= src.length) throw new CsvError(startLine, fields.length + 1, 'a quoted field is never closed (missing ")');
        const q = src[i];
        if (q === '"') {
          if (src[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      // only spaces may sit between the closing quote and the separator
      while (src[i] === ' ' || src[i] === '\t') i++;
      if (i < src.length && src[i] !== ',' && src[i] !== '\n' && src[i] !== '\r') {
        throw new CsvError(line, fields.length + 1, `unexpected text after a closing quote: ${JSON.stringify(src[i])}`);
      }
      continue;
    }
    if (c === ',') {
      endField();
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && src[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    field += c;
    i++;
  }
  if (field !== '' || quoted || fields.length > 0) endRecord();
  return records;
}
