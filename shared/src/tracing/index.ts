export * from './trace-context';
export * from './tracer';
export * from './tracing-plugin';
