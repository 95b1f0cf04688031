/** `baton run -n NS`: the namespace written into the user's job text. */
import { isMap, parseAllDocuments } from 'yaml';
import { CliError } from './output.js';

/**
 * Put `namespace` into the job text without moving any existing line, so
 * errors the server reports still point at the right line of the user's file.
 * Text the CLI cannot read as one mapping is returned unchanged: the server
 * parses it anyway and says what is wrong, with lines.
 */
export function withNamespace(text: string, namespace: string, file = 'the job file'): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length !== 1) return text;
  const doc = docs[0];
  if (doc.errors.length > 0 || !isMap(doc.contents)) return text;
  const existing = doc.get('namespace');
  if (existing !== undefined && existing !== null) {
    const given = typeof existing === 'string' ? existing : JSON.stringify(existing);
    if (given === namespace) return text;
    throw new CliError(`${file} sets namespace "${given}" but -n asks for "${namespace}"; drop one of them`);
  }
  const value = JSON.stringify(namespace);
  let patched: string;
  if (doc.contents.flow) {
    // JSON or a YAML flow map: insert right after the opening brace, on the same line
    const brace = text.indexOf('{');
    const sep = doc.contents.items.length > 0 ? ', ' : '';
    patched = `${text.slice(0, brace + 1)}"namespace": ${value}${sep}${text.slice(brace + 1)}`;
  } else {
    patched = `${text}${text.endsWith('\n') || text.length === 0 ? '' : '\n'}namespace: ${value}\n`;
  }
  const check = parseAllDocuments(patched);
  if (!Array.isArray(check) || check.length !== 1 || check[0].errors.length > 0 || check[0].get('namespace') !== namespace) {
    throw new CliError(`cannot add the namespace to ${file}; write \`namespace: ${namespace}\` in it instead of using -n`);
  }
  return patched;
}
