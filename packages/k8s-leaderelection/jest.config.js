import { createDefaultEsmPreset } from 'ts-jest';

/** LEASEKIT_CLIENT_NODE (a client-node package directory) runs the tests on that copy: .ci/client-node-2.sh. */
const clientNode = process.env.LEASEKIT_CLIENT_NODE ? { '^@kubernetes/client-node$': process.env.LEASEKIT_CLIENT_NODE } : {};

/** Native ESM jest (client-node is ESM only): see TOOLCHAIN notes in CLAUDE.md. */
export default {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', ...clientNode },
  testTimeout: 30000,
};
