import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, Response } from 'express';

/** Where the gateway's build (`gateway/live/build.mjs`) writes the live page. */
export const LIVE_PAGE_DIR = join(__dirname, '..', 'live', 'dist');

const FILES: Record<string, { file: string; type: string }> = {
  '/live': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/live/live.js': { file: 'live.js', type: 'text/javascript; charset=utf-8' },
  '/live/live.css': { file: 'live.css', type: 'text/css; charset=utf-8' },
};

/**
 * Only this origin's script, style and connections (HTTP and WebSocket); no framing, no inline code. The
 * page builds its rows with `textContent`, so user input is never markup.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * `GET /live` and its script and style, as static files built into `gateway/live/dist`. A gateway started from
 * a tree where the page was not built answers 503 with what to run.
 */
export function liveRoutes(dir: string = LIVE_PAGE_DIR): Record<string, (req: Request, res: Response) => void> {
  const routes: Record<string, (req: Request, res: Response) => void> = {};
  for (const [path, { file, type }] of Object.entries(FILES)) {
    routes[path] = (_req, res) => {
      const full = join(dir, file);
      if (!existsSync(full)) {
        res.status(503).type('text/plain').send('The live page is not built: run `npm run build` (it bundles gateway/live into gateway/live/dist).\n');
        return;
      }
      res.set({
        'content-type': type,
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        // Always revalidated: a new build shows at the next load (ETag keeps it cheap).
        'cache-control': 'no-cache',
      });
      res.sendFile(full);
    };
  }
  routes['/live/'] = (_req, res) => res.redirect(301, '/live');
  return routes;
}
