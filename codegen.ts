import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen`: typed resolvers for each subgraph from its SDL in schema/. Entities are the mappers,
 * so resolvers receive and return the MikroORM entities. CI reruns this and fails on any difference.
 */
const resolvers = (mappers: Record<string, string>) => ({
  plugins: ['typescript', 'typescript-resolvers'],
  config: {
    federation: true,
    useIndexSignature: true,
    contextType: '../context#Context',
    mappers,
    scalars: { DateTime: { input: 'Date', output: 'Date | string' } },
    enumsAsTypes: true,
    useTypeImports: true,
    avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
  },
});

const config: CodegenConfig = {
  overwrite: true,
  hooks: {},
  generates: {
    'subgraphs/identity/src/generated/graphql.ts': {
      schema: 'schema/identity.graphql',
      ...resolvers({ User: '../users/user.entity#User as UserModel' }),
    },
    'subgraphs/patients/src/generated/graphql.ts': {
      schema: 'schema/patients.graphql',
      ...resolvers({
        Patient: '../patients/patient.entity#Patient as PatientModel',
        PatientConnection: '../patients/patient.service#PatientPage as PatientPageModel',
        User: '{ id: string }',
      }),
    },
  },
};

export default config;
