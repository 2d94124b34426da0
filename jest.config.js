/**
 * One jest run for unit tests (beside their code) and end-to-end suites (test/). Suites share one Redis,
 * whose PUB/SUB channels are global, so files run one at a time. Types are checked by `npm run typecheck`.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/shared/src', '<rootDir>/subgraphs/identity/src', '<rootDir>/subgraphs/patients/src', '<rootDir>/gateway/src', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json' }] },
  moduleNameMapper: {
    '^@phos/shared$': '<rootDir>/shared/src',
    '^@phos/shared/(.*)$': '<rootDir>/shared/src/$1',
    '^@phos/(identity|patients)$': '<rootDir>/subgraphs/$1/src/server',
    '^@phos/gateway$': '<rootDir>/gateway/src/server',
  },
  maxWorkers: 1,
  testTimeout: 60_000,
};
