// @ts-check
// ESLint 9 flat config: @eslint/js and typescript-eslint's type-aware recommended rules over
// every source file (src, test, bench, ui, examples, bin, the tool configs). Formatting is
// Prettier's job (.prettierrc.json), so no stylistic rules here.
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'docs/screenshots/**', '.baton/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        // the server, agent, CLI, tests and benchmarks (tsconfig.json) and the web UI (ui/tsconfig.json)
        project: ['./tsconfig.json', './ui/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // an async function that does not await is how this code implements promise-returning
      // interfaces (drivers, store backends, route handlers): a throw inside still becomes a rejection
      '@typescript-eslint/require-await': 'off',
      // `_name` marks a parameter or binding kept on purpose; `{ dropped, ...rest }` omits keys
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // `let x; const server = createServer(() => x...); x = ...`: a closure reads it before its one assignment
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // passing on a rejection as it came (an abort signal's reason, a caught error) is deliberate
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'src/**/*.fixture.ts'],
    rules: {
      // tests read parsed JSON and private state as `any` on purpose; their assertions check the shapes
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // `describe.each(storeDialects())(..., ({ fresh }) => ...)` destructures plain functions, not methods
      '@typescript-eslint/unbound-method': 'off',
      // tests match terminal escapes and control characters in output on purpose
      'no-control-regex': 'off',
    },
  },
  {
    files: ['ui/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
      // React ignores what an event handler returns; the async handlers catch their own errors
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
    },
  },
  {
    // plain JavaScript entry points outside both tsconfigs: syntax rules only
    files: ['bin/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // CommonJS preloads for benchmarks (node --require): require() is how they load
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
