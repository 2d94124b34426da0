import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** Loopback and private networks: where the gateway, a scraper and the services' own proxies sit. */
export const INTERNAL_NETWORKS = 'loopback, linklocal, uniquelocal';

/**
 * Which peers' `X-Forwarded-For` to believe, in Express's `trust proxy` words (`loopback`, `10.0.0.0/8`, an
 * address, a comma-separated list). A client that may reach the service directly must not be in it: it could
 * then be any address it likes, one per request, and the rate limits per address would count nothing.
 */
export interface ProxyTrust {
  /** The setting, as given. */
  readonly setting: string;
  /** Express's `trust proxy` function. */
  readonly trusts: (address: string, hop: number) => boolean;
  /** The client's address: the peer's, or the one a trusted proxy in front of it says it forwarded for. */
  addressOf(request: IncomingMessage): string;
}

/** Compiles a `trust proxy` setting; throws on a malformed one (an address or network that does not parse). */
export function proxyTrust(setting: string): ProxyTrust {
  const trusts = proxyaddr.compile(setting.split(',').map((part) => part.trim()).filter(Boolean));
  return { setting, trusts, addressOf: (request) => proxyaddr(request, trusts) };
}

const internal = proxyTrust(INTERNAL_NETWORKS).trusts;

/** True for a peer on loopback or a private network (for `/metrics`, whatever proxies are trusted). */
export function isInternalAddress(address: string | undefined): boolean {
  return address !== undefined && internal(address, 0);
}
