import type WebSocket from 'ws';
import { DirectSubscription, serializeResult } from './direct-subscription';

/** Just what DirectSubscription uses of a ws socket. */
function fakeSocket(bufferedAmount = 0) {
  const frames: string[] = [];
  const socket = { readyState: 1, bufferedAmount, send: (frame: string) => frames.push(frame) };
  return { socket: socket as unknown as WebSocket, frames, state: socket };
}

it('writes a graphql-ws next message with the subscription id around a payload serialized once', () => {
  const { socket, frames } = fakeSocket();
  const subscription = new DirectSubscription(socket, 'a"1', () => undefined);
  const payload = serializeResult({ data: { patientCreated: { id: 'p1' } } });
  subscription.sendSerialized(payload);
  expect(frames.map((frame) => JSON.parse(frame))).toEqual([{ id: 'a"1', type: 'next', payload: { data: { patientCreated: { id: 'p1' } } } }]);
});

it('sends nothing once ended, nor to a socket that is not open', () => {
  const { socket, frames, state } = fakeSocket();
  const subscription = new DirectSubscription(socket, '1', () => undefined);
  state.readyState = 3;
  subscription.sendSerialized('{}');
  state.readyState = 1;
  subscription.complete();
  subscription.sendSerialized('{}');
  expect(frames).toEqual([]);
});

it('ends with an error, and releases itself, when the client leaves too much unread', async () => {
  const { socket, frames } = fakeSocket(5 * 1024 * 1024);
  const released = jest.fn();
  const subscription = new DirectSubscription(socket, '1', released);
  const pending = subscription.next();
  subscription.sendSerialized('{}');
  await expect(pending).rejects.toThrow(/fast enough/);
  expect(released).toHaveBeenCalledTimes(1);
  expect(frames).toEqual([]);
});

it('yields nothing, completes when completed, and releases once on return', async () => {
  const released = jest.fn();
  const subscription = new DirectSubscription(fakeSocket().socket, '1', released);
  const pending = subscription.next();
  subscription.complete();
  await expect(pending).resolves.toEqual({ value: undefined, done: true });
  await subscription.return();
  await subscription.return();
  expect(released).toHaveBeenCalledTimes(1);
});

it('rejects a later read with the failure when it failed before anyone read', async () => {
  const subscription = new DirectSubscription(fakeSocket().socket, '1', () => undefined);
  subscription.fail(new Error('upstream ended'));
  await expect(subscription.next()).rejects.toThrow('upstream ended');
  await expect(subscription.next()).resolves.toEqual({ value: undefined, done: true });
});
