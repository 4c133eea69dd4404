// A scripted TCP server on 127.0.0.1 for client-side tests: `behave` decides what each connection gets.
import { createServer, type Socket } from 'node:net';

export interface ScriptedPeer {
  port: number;
  /** Destroys the open connections and stops listening. */
  close(): Promise<void>;
}

export async function scriptedPeer(behave: (socket: Socket) => void): Promise<ScriptedPeer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    behave(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
