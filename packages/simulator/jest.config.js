import { createDefaultEsmPreset } from 'ts-jest';

/** Native ESM jest (client-node is ESM only): see TOOLCHAIN notes in CLAUDE.md. */
export default {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 30000,
};
