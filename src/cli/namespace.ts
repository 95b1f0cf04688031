/** The namespace a command acts in when it is given none: $BATON_NAMESPACE, else "default". */
export function defaultNamespace(): string {
  return process.env.BATON_NAMESPACE || 'default';
}

export const NAMESPACE_OPTION_HELP = 'namespace (default: $BATON_NAMESPACE or "default")';
