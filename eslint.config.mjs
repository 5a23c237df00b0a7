import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'test-output/', 'bench-results/', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Formatting is Prettier's (npm run lint checks it); ESLint keeps to correctness.
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through config.ts (parseEnv).' },
      ],
    },
  },
  {
    // Entry points and test setup are where the environment is read.
    files: ['**/config.ts', '**/main.ts', 'scripts/**', '**/scripts/**', 'test/**', '**/test/**', 'bench/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
