import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTracer, formatTraceparent, newSpanId, newTraceId, parseTraceparent } from '.';

describe('traceparent', () => {
  test('new ids are valid and distinct, across refills of the random pool', () => {
    const traces = Array.from({ length: 600 }, newTraceId);
    const spans = Array.from({ length: 600 }, newSpanId);
    expect(traces.every((id) => /^[0-9a-f]{32}$/.test(id))).toBe(true);
    expect(spans.every((id) => /^[0-9a-f]{16}$/.test(id))).toBe(true);
    // 600 × 24 bytes is more than three pools: a pool handed out twice would repeat ids.
    expect(new Set([...traces, ...spans]).size).toBe(1200);
    expect(parseTraceparent(formatTraceparent({ traceId: traces[0]!, spanId: spans[0]!, flags: '01' }))).toBeDefined();
  });

  test('reads valid W3C values and refuses invalid ones', () => {
    const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(parseTraceparent(valid)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: '01' });
    expect(formatTraceparent(parseTraceparent(valid)!)).toBe(valid);
    for (const invalid of [
      undefined,
      '',
      'garbage',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      `${valid}-extra`,
    ]) {
      expect(parseTraceparent(invalid)).toBeUndefined();
    }
    // A later version may carry more fields: the first four are read.
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more')?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  test('without an endpoint, spans continue the parent trace with ids only', async () => {
    const tracer = createTracer('test', {});
    const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const span = tracer.startSpan('work', { parent });
    expect(span.traceId).toBe(parent!.traceId);
    expect(span.context.spanId).not.toBe(parent!.spanId);
    expect(createTracer('test', {}).startSpan('root').traceId).toMatch(/^[0-9a-f]{32}$/);
    span.end();
    await tracer.shutdown();
  });
});

describe('OTLP export', () => {
  test('with an endpoint, spans are exported over OTLP/HTTP to <endpoint>/v1/traces', async () => {
    const received: { path: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      const tracer = createTracer('identity', { otlpEndpoint: `http://127.0.0.1:${port}` });
      const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      const span = tracer.startSpan('process UserRegistered', { parent, kind: 'consumer' });
      expect(span.traceId).toBe(parent!.traceId);
      span.end();
      await tracer.shutdown(); // flushes
      expect(received.map((r) => r.path)).toContain('/v1/traces');
      // The body is protobuf or JSON depending on the exporter: the service name is in it either way.
      expect(received.map((r) => r.body).join('')).toContain('phos-identity');
    } finally {
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});
